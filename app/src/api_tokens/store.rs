//! The tokens' rows. A secret is `cgp_` and 64 hex digits from the system's randomness (two v4 UUIDs' worth);
//! the row keeps its SHA-256.

use super::{ApiToken, CreatedToken, Scope, MAX_TOKENS, SECRET_PREFIX};
use crate::error::AppError;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

/// Who a valid token speaks for, and what it may do now (an admin token of someone no longer an admin may do
/// what a write token may).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenHolder {
    pub token: Uuid,
    pub user: Uuid,
    pub name: String,
    pub scope: Scope,
    pub is_admin: bool,
}

fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

fn new_secret() -> String {
    format!("{SECRET_PREFIX}{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Stores a new token for `user` (checked by the caller: [`super::check_request`]); refused past
/// [`MAX_TOKENS`] live ones.
pub async fn create(pool: &PgPool, user: Uuid, name: &str, scope: Scope, days: i64) -> Result<CreatedToken, AppError> {
    let (id, secret) = (Uuid::new_v4(), new_secret());
    let hint: String = secret.chars().take(SECRET_PREFIX.len() + 6).collect();
    let row = sqlx::query!(
        r#"
        INSERT INTO api_tokens (id, user_id, name, scope, secret_hash, hint, expires_at)
        SELECT $1, $2, $3, $4, $5, $6, now() + make_interval(days => $7)
        WHERE (SELECT count(*) FROM api_tokens
               WHERE user_id = $2 AND revoked_at IS NULL AND expires_at > now()) < $8
        RETURNING created_at AS "created_at: chrono::DateTime<chrono::Utc>",
                  expires_at AS "expires_at: chrono::DateTime<chrono::Utc>"
        "#,
        id,
        user,
        name,
        scope.as_str(),
        hash(&secret),
        hint,
        days as i32,
        MAX_TOKENS,
    )
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Err(AppError::Invalid(format!("You hold {MAX_TOKENS} live tokens already: revoke one first.")));
    };
    let token = ApiToken {
        id,
        name: name.to_string(),
        scope,
        hint,
        created_at: when(row.created_at),
        expires_at: when(row.expires_at),
        last_used_at: None,
        revoked: false,
    };
    Ok(CreatedToken { token, secret })
}

/// `user`'s tokens, newest first.
pub async fn list(pool: &PgPool, user: Uuid) -> Result<Vec<ApiToken>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"
        SELECT id, name, scope, hint, created_at AS "created_at: chrono::DateTime<chrono::Utc>",
               expires_at AS "expires_at: chrono::DateTime<chrono::Utc>",
               last_used_at AS "last_used_at: chrono::DateTime<chrono::Utc>",
               revoked_at IS NOT NULL OR expires_at <= now() AS "revoked!"
        FROM api_tokens WHERE user_id = $1
        ORDER BY created_at DESC, id
        "#,
        user
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| ApiToken {
            id: row.id,
            name: row.name,
            scope: Scope::parse(&row.scope).unwrap_or(Scope::Read),
            hint: row.hint,
            created_at: when(row.created_at),
            expires_at: when(row.expires_at),
            last_used_at: row.last_used_at.map(when),
            revoked: row.revoked,
        })
        .collect())
}

/// Revokes `user`'s token `id`; false when they hold no such token.
pub async fn revoke(pool: &PgPool, user: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 AND user_id = $2",
        id,
        user
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The holder of a live token with this secret, if any; notes when it was used (at most once a minute).
pub async fn authenticate(pool: &PgPool, secret: &str) -> Result<Option<TokenHolder>, sqlx::Error> {
    if !secret.starts_with(SECRET_PREFIX) || secret.len() > 128 {
        return Ok(None);
    }
    let row = sqlx::query!(
        r#"
        WITH found AS (
            SELECT t.id, t.user_id, t.scope, u.is_admin, u.name, t.last_used_at
            FROM api_tokens t JOIN users u ON u.id = t.user_id
            WHERE t.secret_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now()
        ),
        touched AS (
            UPDATE api_tokens SET last_used_at = now()
            FROM found
            WHERE api_tokens.id = found.id
              AND (found.last_used_at IS NULL OR found.last_used_at < now() - interval '1 minute')
        )
        SELECT id AS "id!", user_id AS "user_id!", scope AS "scope!", is_admin AS "is_admin!", name AS "name!"
        FROM found
        "#,
        hash(secret)
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|row| {
        let scope = Scope::parse(&row.scope).unwrap_or(Scope::Read);
        // An admin token of someone who is no longer an admin may do what a write token may.
        let scope = if scope == Scope::Admin && !row.is_admin { Scope::Write } else { scope };
        TokenHolder {
            token: row.id,
            user: row.user_id,
            name: row.name,
            scope,
            is_admin: row.is_admin && scope == Scope::Admin,
        }
    }))
}
