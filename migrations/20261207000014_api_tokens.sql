-- Personal API tokens for the GraphQL API (app::api_tokens): a signed-in shopper or admin creates one with a
-- name, a scope and an expiry, sees its secret once, and can revoke it. Only the secret's SHA-256 is stored.
CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 80),
    -- read: queries; write: the shopper's own cart, checkout, payment and orders too; admin: the back office's
    -- operations as well (only an admin can hold one, and only while an admin).
    scope        text NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    secret_hash  bytea NOT NULL UNIQUE CHECK (octet_length(secret_hash) = 32),
    -- The secret's first characters, to tell tokens apart in a list.
    hint         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id, created_at DESC);
