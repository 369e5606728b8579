-- Catalog, accounts, visits and the stored clickstream.

CREATE TABLE categories (
    slug     text PRIMARY KEY CHECK (slug ~ '^[a-z0-9-]{1,64}$'),
    name     text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    position integer NOT NULL DEFAULT 0
);

CREATE TABLE products (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug          text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9-]{1,96}$'),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    description   text NOT NULL CHECK (length(description) <= 4000),
    category_slug text NOT NULL REFERENCES categories (slug),
    price_cents   bigint NOT NULL CHECK (price_cents > 0),
    currency      text NOT NULL DEFAULT 'EUR' CHECK (currency ~ '^[A-Z]{3}$'),
    stock         integer NOT NULL CHECK (stock >= 0),
    image_svg     text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    archived_at   timestamptz,
    search        tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', name), 'A') || setweight(to_tsvector('english', description), 'B')
    ) STORED
);
CREATE INDEX products_category_idx ON products (category_slug, created_at DESC) WHERE archived_at IS NULL;
CREATE INDEX products_search_idx ON products USING gin (search);

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    issuer        text NOT NULL,
    subject       text NOT NULL,
    email         text,
    name          text NOT NULL,
    is_admin      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (issuer, subject)
);

-- A visit linked to the account that signed in during it.
CREATE TABLE visit_users (
    visit_id  uuid PRIMARY KEY,
    user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    linked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX visit_users_user_idx ON visit_users (user_id);

-- Every clickstream event the worker consumed, once.
CREATE TABLE clickstream_events (
    event_id    uuid PRIMARY KEY,
    visit_id    uuid NOT NULL,
    user_id     uuid,
    event_type  text NOT NULL,
    path        text NOT NULL,
    received_at timestamptz NOT NULL,
    client_ts   bigint,
    seq         integer NOT NULL,
    user_agent  text,
    payload     jsonb NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX clickstream_events_visit_idx ON clickstream_events (visit_id, received_at, seq);

-- Records the worker could not decode: kept with the reason, never dropped.
CREATE TABLE clickstream_rejects (
    topic           text NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset    bigint NOT NULL,
    reason          text NOT NULL,
    payload         text NOT NULL,
    stored_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, kafka_partition, kafka_offset)
);
