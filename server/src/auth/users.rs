//! Accounts, keyed by (issuer, subject) — never by email alone.

use super::VerifiedIdentity;
use sqlx::PgPool;
use uuid::Uuid;

/// Creates or refreshes the account for a verified identity and returns its id.
pub async fn upsert(pool: &PgPool, identity: &VerifiedIdentity) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar!(
        r#"
        INSERT INTO users (id, issuer, subject, email, name, is_admin)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (issuer, subject) DO UPDATE
            SET email = EXCLUDED.email, name = EXCLUDED.name, is_admin = EXCLUDED.is_admin, last_login_at = now()
        RETURNING id
        "#,
        Uuid::new_v4(),
        identity.issuer,
        identity.subject,
        identity.email,
        identity.name,
        identity.is_admin,
    )
    .fetch_one(pool)
    .await
}

/// Records that a visit belongs to a user, so its journey shows up in their account.
pub async fn link_visit(pool: &PgPool, visit_id: Uuid, user_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO visit_users (visit_id, user_id) VALUES ($1, $2) ON CONFLICT (visit_id) DO NOTHING",
        visit_id,
        user_id
    )
    .execute(pool)
    .await
    .map(|_| ())
}
