-- Bounded journeys: a visit whose journey could not be rendered or stored is closed with the error (and when), so
-- the closer never retries it in a loop; requested closes (sign-out) are found first, then the longest idle.

ALTER TABLE visits ADD COLUMN render_error text, ADD COLUMN render_failed_at timestamptz;

CREATE INDEX visits_due_idx ON visits ((close_requested_at IS NULL), close_requested_at, last_event_at)
    WHERE closed_at IS NULL;
