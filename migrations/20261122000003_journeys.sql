-- Per-visit summaries kept by the worker, and the rendered journey PDFs.

CREATE TABLE visits (
    visit_id           uuid PRIMARY KEY,
    user_id            uuid REFERENCES users (id) ON DELETE SET NULL,
    started_at         timestamptz NOT NULL,
    last_event_at      timestamptz NOT NULL,
    events             integer NOT NULL DEFAULT 0,
    page_views         integer NOT NULL DEFAULT 0,
    clicks             integer NOT NULL DEFAULT 0,
    cart_adds          integer NOT NULL DEFAULT 0,
    checkouts          integer NOT NULL DEFAULT 0,
    paid               boolean NOT NULL DEFAULT false,
    user_agent         text,
    -- Sign-out asks for the visit to be closed without waiting for the idle timeout.
    close_requested_at timestamptz,
    closed_at          timestamptz
);
CREATE INDEX visits_open_idx ON visits (last_event_at) WHERE closed_at IS NULL;
CREATE INDEX visits_user_idx ON visits (user_id, started_at DESC);
CREATE INDEX visits_started_idx ON visits (started_at DESC);

-- Journey documents, behind the server's `JourneyStore` trait (PostgreSQL is plenty at this size).
CREATE TABLE journey_pdfs (
    visit_id    uuid PRIMARY KEY REFERENCES visits (visit_id) ON DELETE CASCADE,
    pdf         bytea NOT NULL,
    event_count integer NOT NULL,
    rendered_at timestamptz NOT NULL DEFAULT now()
);
