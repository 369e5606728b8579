//! Search that forgives typing: a query word that is no word of the catalog, nor the start of one, is corrected
//! to the catalog's words (`search_lexicon`, kept by a trigger on `products`) within one edit for a word of 4 to
//! 7 letters and two for 8 or more. An edit is an insertion, a deletion, a substitution or a swap of two
//! neighbouring letters (the optimal string alignment distance: "tnet" is one edit from "tent", where plain
//! Levenshtein counts two). Shorter words are never corrected: too many words are one edit from "cup".
//!
//! The search then matches a word or any of its corrections, ranking products that match the words as typed
//! first; when nothing matches as typed, the page offers the corrected query ("Did you mean …").

/// The most query words looked at (the search reads no more).
pub const MAX_WORDS: usize = 8;

/// How many edits a word of `letters` letters may be away from what it was meant to be.
pub fn allowed_edits(letters: usize) -> usize {
    match letters {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// The optimal string alignment distance between `a` and `b` (by characters).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // Three rows of the table: two back (for a swap), one back, and this one.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let substitution = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (previous[j] + 1).min(current[j - 1] + 1).min(previous[j - 1] + substitution);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            current[j] = best;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// The query's words as the search reads them: lower case, letters and digits, at most [`MAX_WORDS`].
pub fn words(query: &str) -> Vec<String> {
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .take(MAX_WORDS)
        .map(|word| word.chars().take(32).collect::<String>().to_lowercase())
        .collect()
}

/// The most corrections a word gets.
pub const MAX_CORRECTIONS: usize = 3;

/// The catalog words `word` may have been meant as: the nearest ones only, at most [`MAX_CORRECTIONS`], those
/// that keep the first letter first (a first letter is rarely mistyped), then those of its length, then
/// alphabetically. None when the word is short, has digits, or is a catalog word or the start of one.
pub fn corrections<'a>(word: &str, lexicon: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let letters = word.chars().count();
    let allowed = allowed_edits(letters);
    if allowed == 0 || !word.chars().all(char::is_alphabetic) {
        return Vec::new();
    }
    let mut found: Vec<(usize, &str)> = Vec::new();
    for candidate in lexicon {
        if candidate.starts_with(word) {
            return Vec::new();
        }
        if candidate.chars().count().abs_diff(letters) > allowed {
            continue;
        }
        let distance = edit_distance(word, candidate);
        if distance <= allowed {
            found.push((distance, candidate));
        }
    }
    let Some(nearest) = found.iter().map(|(distance, _)| *distance).min() else { return Vec::new() };
    let first = word.chars().next();
    let mut nearest: Vec<&str> =
        found.into_iter().filter(|(distance, _)| *distance == nearest).map(|(_, candidate)| candidate).collect();
    nearest.sort_by_key(|candidate| {
        (candidate.chars().next() != first, candidate.chars().count().abs_diff(letters), *candidate)
    });
    nearest.into_iter().take(MAX_CORRECTIONS).map(str::to_string).collect()
}

/// A prefix `tsquery` for `words`, each word OR its corrections: `(tnet:* | tent:*) & 2:*`.
pub fn forgiving_tsquery(words: &[String], corrections: &[Vec<String>]) -> String {
    words
        .iter()
        .enumerate()
        .map(|(i, word)| {
            let alternatives: Vec<String> = std::iter::once(word)
                .chain(corrections.get(i).into_iter().flatten())
                .map(|word| format!("{word}:*"))
                .collect();
            if alternatives.len() == 1 {
                alternatives[0].clone()
            } else {
                format!("({})", alternatives.join(" | "))
            }
        })
        .collect::<Vec<_>>()
        .join(" & ")
}

/// The query with each corrected word replaced by its nearest correction, if any word was corrected.
pub fn corrected_query(words: &[String], corrections: &[Vec<String>]) -> Option<String> {
    if corrections.iter().all(Vec::is_empty) {
        return None;
    }
    let corrected: Vec<&str> = words
        .iter()
        .enumerate()
        .map(|(i, word)| corrections.get(i).and_then(|c| c.first()).unwrap_or(word).as_str())
        .collect();
    Some(corrected.join(" "))
}

/// A query's words, each with its corrections (none for a word that needs none): worked out once per search and
/// shared by its results and its facets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Spelled {
    pub words: Vec<String>,
    pub corrections: Vec<Vec<String>>,
}

impl Spelled {
    /// The query as typed, nothing corrected.
    pub fn as_typed(query: &str) -> Self {
        let words = words(query);
        let corrections = vec![Vec::new(); words.len()];
        Self { words, corrections }
    }

    /// The `tsquery` that matches each word or one of its corrections.
    pub fn tsquery(&self) -> String {
        forgiving_tsquery(&self.words, &self.corrections)
    }

    /// The `tsquery` that matches the words as typed.
    pub fn exact_tsquery(&self) -> String {
        forgiving_tsquery(&self.words, &[])
    }

    /// The query with its misspelt words corrected, if any was.
    pub fn corrected(&self) -> Option<String> {
        corrected_query(&self.words, &self.corrections)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_swap_is_one_edit_like_an_insertion_a_deletion_or_a_substitution() {
        assert_eq!(edit_distance("tnet", "tent"), 1);
        assert_eq!(edit_distance("jakcet", "jacket"), 1);
        assert_eq!(edit_distance("backpak", "backpack"), 1);
        assert_eq!(edit_distance("sleping", "sleeping"), 1);
        assert_eq!(edit_distance("stvoe", "stove"), 1);
        assert_eq!(edit_distance("headphnoes", "headphones"), 1);
        assert_eq!(edit_distance("watercolur", "watercolour"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("ca", "abc"), 3, "optimal string alignment: a swapped pair is not edited again");
        assert_eq!(edit_distance("même", "meme"), 1, "by characters, not bytes");
    }

    #[test]
    fn short_words_are_never_corrected_and_long_ones_may_be_two_edits_off() {
        let lexicon = ["tent", "jacket", "headphones", "sleeping", "backpack", "ten"];
        assert_eq!(corrections("tnet", lexicon), ["tent"]);
        assert_eq!(corrections("jakcet", lexicon), ["jacket"]);
        assert_eq!(corrections("hedphnoes", lexicon), ["headphones"], "two edits in ten letters");
        assert!(corrections("hdphnoes", lexicon).is_empty(), "three edits");
        assert!(corrections("jkcet", lexicon).is_empty(), "two edits in five letters");
        assert!(corrections("tet", lexicon).is_empty(), "three letters: never");
        assert!(corrections("slee", lexicon).is_empty(), "the start of a word is not a typo");
        assert!(corrections("tent", lexicon).is_empty(), "a word of the catalog is not a typo");
        assert!(corrections("t3nt", lexicon).is_empty(), "digits are model numbers, not typos");
        let nearest_first = corrections("plnater", ["planner", "planter", "plate"]);
        assert_eq!(nearest_first, ["planter"], "one swap beats two edits");
        let same_start = corrections("tnet", ["net", "tent", "text", "tenet"]);
        assert_eq!(same_start, ["tent", "tenet", "net"], "the first letter kept, then the same length");
        let many = corrections("cart", ["care", "card", "carp", "cars", "dart", "part"]);
        assert_eq!(many, ["card", "care", "carp"], "at most three");
    }

    #[test]
    fn the_tsquery_matches_a_word_or_its_corrections_and_the_offer_is_the_nearest() {
        let words = words("Tnet, 2-person!");
        assert_eq!(words, ["tnet", "2", "person"]);
        let corrections = vec![vec!["tent".to_string(), "test".to_string()], vec![], vec![]];
        assert_eq!(forgiving_tsquery(&words, &corrections), "(tnet:* | tent:* | test:*) & 2:* & person:*");
        assert_eq!(corrected_query(&words, &corrections).as_deref(), Some("tent 2 person"));
        assert_eq!(corrected_query(&words, &[vec![], vec![], vec![]]), None);
        assert_eq!(forgiving_tsquery(&words, &[]), "tnet:* & 2:* & person:*");
        // Only letters and digits survive: no tsquery syntax can be injected.
        assert_eq!(forgiving_tsquery(&super::words("Red  Tent"), &[]), "red:* & tent:*");
        assert_eq!(forgiving_tsquery(&super::words("tent' | !(drop)"), &[]), "tent:* & drop:*");
        assert_eq!(forgiving_tsquery(&super::words("  &|! "), &[]), "");
    }
}
