-- An admin can end every session of a user: sessions signed in before this instant are refused (and flushed) at
-- their next request. NULL: none was ended.
ALTER TABLE users ADD COLUMN sessions_valid_after timestamptz;
