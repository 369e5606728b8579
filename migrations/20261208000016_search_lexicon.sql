-- Search that forgives typing (app::catalog::spelling): every word of every product's name and description, so a
-- query word that matches none of them ("tnet", "jakcet") can be corrected to the nearest ones. Kept by a trigger
-- as products are written; a word no product uses any more stays, harmlessly (a correction is only offered when
-- it finds products).
CREATE TABLE search_lexicon (
    word text PRIMARY KEY CHECK (char_length(word) BETWEEN 3 AND 32)
);
CREATE INDEX search_lexicon_length_idx ON search_lexicon (char_length(word));

CREATE FUNCTION search_words(text) RETURNS SETOF text LANGUAGE sql IMMUTABLE AS $$
    SELECT DISTINCT w FROM regexp_split_to_table(lower($1), '[^[:alpha:]]+') AS w
    WHERE char_length(w) BETWEEN 3 AND 32
$$;

CREATE FUNCTION search_lexicon_learn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_lexicon (word)
    SELECT search_words(NEW.name || ' ' || NEW.description)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER products_search_lexicon
    AFTER INSERT OR UPDATE OF name, description ON products
    FOR EACH ROW EXECUTE FUNCTION search_lexicon_learn();

INSERT INTO search_lexicon (word)
SELECT search_words(name || ' ' || description) FROM products
ON CONFLICT DO NOTHING;
