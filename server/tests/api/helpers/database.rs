//! What a test reads straight from its own database, as methods on [`TestApp`]: counts, polls until a count is
//! reached, the product, stock and order rows the shopping tests check; and the test gateway's outage switch.

use super::TestApp;
use std::time::Duration;

impl TestApp {
    /// The value of `query`, a count.
    pub async fn count(&self, query: &str) -> i64 {
        sqlx::query_scalar(query).fetch_one(&self.pool).await.expect("count query")
    }

    /// Polls `query` (a count) until it reaches `expected` or 30 s pass; returns the last count.
    pub async fn wait_for_count(&self, query: &str, expected: i64) -> i64 {
        self.wait_for_count_within(query, expected, Duration::from_secs(30)).await
    }

    /// Polls `query` (a count) until it reaches `expected` or `limit` passes; returns the last count.
    pub async fn wait_for_count_within(&self, query: &str, expected: i64, limit: Duration) -> i64 {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let count = self.count(query).await;
            if count >= expected || tokio::time::Instant::now() > deadline {
                return count;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// How many of these events (ids as the endpoint answered them) are in `clickstream_events`.
    pub async fn stored_events(&self, ids: &[String]) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM clickstream_events WHERE event_id = ANY($1::text[]::uuid[])")
            .bind(ids)
            .fetch_one(&self.pool)
            .await
            .expect("count stored events")
    }

    /// Waits up to `limit` for every accepted event to be stored, then checks that the table holds exactly
    /// them, each counted once in its visit's summary: nothing lost, nothing stored or counted twice.
    pub async fn assert_stored_exactly_once(&self, accepted: &[String], limit: Duration) {
        let total = accepted.len() as i64;
        let stored = self.wait_for_count_within("SELECT count(*) FROM clickstream_events", total, limit).await;
        assert_eq!(stored, total, "every accepted event is stored, and nothing else");
        assert_eq!(self.stored_events(accepted).await, total, "the stored events are the accepted ones");
        let summarised = self.count("SELECT coalesce(sum(events), 0)::bigint FROM visits").await;
        assert_eq!(summarised, total, "each event counted once in the visit summaries");
    }

    /// The product with this slug: (id, price in cents, stock).
    pub async fn product(&self, slug: &str) -> (i64, i64, i32) {
        sqlx::query_as("SELECT id, price_cents, stock FROM products WHERE slug = $1")
            .bind(slug)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// A product's variants, on sale first, each in the shop's order.
    pub async fn variants(&self, product: i64) -> Vec<Variant> {
        sqlx::query_as(
            "SELECT id, sku, options, stock, archived_at IS NOT NULL AS archived FROM variants WHERE product_id = $1
             ORDER BY archived_at IS NOT NULL, position, id",
        )
        .bind(product)
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    pub async fn stock(&self, id: i64) -> i32 {
        sqlx::query_scalar("SELECT stock FROM products WHERE id = $1").bind(id).fetch_one(&self.pool).await.unwrap()
    }

    /// How many refunds the order's payments record.
    pub async fn refunds(&self, order: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM payments WHERE order_id = $1::uuid AND outcome = 'refunded'")
            .bind(order)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// An order's subtotal and total, in cents (the subtotal is `None` while it is a cart).
    pub async fn order_totals(&self, order: impl std::fmt::Display) -> (Option<i64>, i64) {
        sqlx::query_as("SELECT subtotal_cents, total_cents FROM orders WHERE id = $1::uuid")
            .bind(order.to_string())
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// What an order's payment with this outcome (`succeeded`, `refunded`…) was for, in cents.
    pub async fn payment_amount(&self, order: impl std::fmt::Display, outcome: &str) -> i64 {
        sqlx::query_scalar("SELECT amount_cents FROM payments WHERE order_id = $1::uuid AND outcome = $2")
            .bind(order.to_string())
            .bind(outcome)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// An order's total, in cents.
    pub async fn order_total(&self, order: impl std::fmt::Display) -> i64 {
        self.order_totals(order).await.1
    }

    /// A user written straight to the database (for the races that call the domain code), by subject.
    pub async fn user(&self, subject: &str) -> uuid::Uuid {
        sqlx::query_scalar("INSERT INTO users (id, issuer, subject, name) VALUES ($1, 'test', $2, $2) RETURNING id")
            .bind(uuid::Uuid::new_v4())
            .bind(subject)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    pub async fn order_status(&self, order: &str) -> String {
        sqlx::query_scalar("SELECT status FROM orders WHERE id = $1::uuid")
            .bind(order)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// Switches the built-in gateway's outage (`none`, `errors`, `hangs`), as an operator would with SQL.
    pub async fn gateway_outage(&self, mode: &str) {
        sqlx::query("UPDATE test_gateway_outage SET mode = $1").bind(mode).execute(&self.pool).await.unwrap();
    }
}

/// A variant as the tests read it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Variant {
    pub id: i64,
    pub sku: String,
    pub options: Vec<String>,
    pub stock: i32,
    pub archived: bool,
}
