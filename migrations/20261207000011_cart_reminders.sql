-- The abandoned-cart reminder: a notification of its own kind, at most one per cart (its `event_id` is the cart's
-- order id, and notifications are unique per user, event and kind).
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
    CHECK (kind IN ('price_dropped', 'back_in_stock', 'unavailable', 'catalog_change', 'cart_reminder'));

-- The visit in which a cart last changed: the reminder comes in a later one.
ALTER TABLE orders ADD COLUMN changed_in_visit uuid;
