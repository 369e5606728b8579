//! Transactional email, the app's half: the messages an order's changes call for, written to the `emails` table in
//! the transaction of the change itself, once per event, to the shopper's address as it is then. The worker renders
//! and sends them (`server::email`).

use sqlx::PgConnection;
use uuid::Uuid;

/// What a message is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmailKind {
    /// The order was paid.
    OrderConfirmation,
    /// A parcel of it left (the shipment's id).
    Shipment,
    /// The gateway confirmed a refund (the refund's `payments` id).
    Refund,
    /// The order was cancelled.
    Cancellation,
}

impl EmailKind {
    pub const ALL: [EmailKind; 4] =
        [EmailKind::OrderConfirmation, EmailKind::Shipment, EmailKind::Refund, EmailKind::Cancellation];

    /// The `emails.kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            EmailKind::OrderConfirmation => "order_confirmation",
            EmailKind::Shipment => "shipment",
            EmailKind::Refund => "refund",
            EmailKind::Cancellation => "cancellation",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == raw)
    }
}

/// Writes the message `kind` about `order` (and the shipment or refund `about`) for the order's shopper, inside the
/// caller's transaction; nothing when the shopper has no email address, or when it was written already.
pub async fn enqueue(
    conn: &mut PgConnection,
    order: Uuid,
    kind: EmailKind,
    about: Option<Uuid>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"
        INSERT INTO emails (kind, order_id, about_id, recipient)
        SELECT $2, o.id, $3, u.email FROM orders o JOIN users u ON u.id = o.user_id
        WHERE o.id = $1 AND u.email LIKE '_%@_%' AND length(u.email) <= 320
        ON CONFLICT DO NOTHING
        "#,
        order,
        kind.as_str(),
        about
    )
    .execute(conn)
    .await?;
    Ok(())
}
