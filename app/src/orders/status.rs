//! The order state machine. The database enforces the same table (`order_transitions`).

use serde::{Deserialize, Serialize};

/// Where an order stands. The same words in JSON, in Rust and in the `orders.status` column: the database
/// reads and writes it directly (`status AS "status: OrderStatus"`), so an unknown word is a decode error
/// there, never a silent 404.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "text", rename_all = "snake_case"))]
pub enum OrderStatus {
    /// Being filled; the shopper's open order.
    Cart,
    /// Stock reserved, waiting for a successful payment.
    PendingPayment,
    Paid,
    Fulfilled,
    Cancelled,
    /// The reservation ran out before payment; the stock went back on sale.
    Expired,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 6] = [
        OrderStatus::Cart,
        OrderStatus::PendingPayment,
        OrderStatus::Paid,
        OrderStatus::Fulfilled,
        OrderStatus::Cancelled,
        OrderStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Cart => "cart",
            OrderStatus::PendingPayment => "pending_payment",
            OrderStatus::Paid => "paid",
            OrderStatus::Fulfilled => "fulfilled",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Expired => "expired",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == raw)
    }

    /// The webhook an order's move to this status sends, if any.
    pub fn webhook_event(self) -> Option<crate::webhooks::WebhookEvent> {
        use crate::webhooks::WebhookEvent;
        match self {
            OrderStatus::Paid => Some(WebhookEvent::OrderPaid),
            OrderStatus::Fulfilled => Some(WebhookEvent::OrderFulfilled),
            OrderStatus::Cancelled => Some(WebhookEvent::OrderCancelled),
            OrderStatus::Cart | OrderStatus::PendingPayment | OrderStatus::Expired => None,
        }
    }

    /// Words for a shopper.
    pub fn label(self) -> &'static str {
        match self {
            OrderStatus::Cart => "In cart",
            OrderStatus::PendingPayment => "Awaiting payment",
            OrderStatus::Paid => "Paid",
            OrderStatus::Fulfilled => "Shipped",
            OrderStatus::Cancelled => "Cancelled",
            OrderStatus::Expired => "Expired",
        }
    }

    /// The allowed transitions; everything else is an error.
    pub fn can_become(self, next: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, next),
            (Cart, PendingPayment)
                | (PendingPayment, Paid)
                | (PendingPayment, Expired)
                | (PendingPayment, Cancelled)
                | (Paid, Fulfilled)
                | (Paid, Cancelled)
        )
    }

    /// Whether the shopper may still cancel it.
    pub fn cancellable(self) -> bool {
        self.can_become(OrderStatus::Cancelled)
    }
}

#[cfg(test)]
mod tests {
    use super::OrderStatus::{self, *};

    #[test]
    fn the_happy_path_is_allowed() {
        assert!(Cart.can_become(PendingPayment));
        assert!(PendingPayment.can_become(Paid));
        assert!(Paid.can_become(Fulfilled));
    }

    #[test]
    fn an_order_completes_only_through_payment() {
        assert!(!Cart.can_become(Paid));
        assert!(!Cart.can_become(Fulfilled));
        assert!(!PendingPayment.can_become(Fulfilled));
        assert!(!Expired.can_become(Paid));
    }

    #[test]
    fn final_states_have_no_way_out() {
        for from in [Fulfilled, Cancelled, Expired] {
            for to in OrderStatus::ALL {
                assert!(!from.can_become(to), "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn exactly_six_transitions_exist_matching_the_migration() {
        let count = OrderStatus::ALL
            .iter()
            .flat_map(|from| OrderStatus::ALL.iter().map(move |to| (from, to)))
            .filter(|(from, to)| from.can_become(**to))
            .count();
        assert_eq!(count, 6);
        let migration = include_str!("../../../migrations/20261122000002_commerce.sql");
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                let row = format!("('{}', '{}')", from.as_str(), to.as_str());
                assert_eq!(migration.contains(&row), from.can_become(to), "{row}");
            }
        }
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(OrderStatus::parse("shipped"), None);
    }
}
