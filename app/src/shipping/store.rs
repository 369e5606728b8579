//! Shipping zones and methods in the database.

use super::{Method, Zone};
use crate::error::AppError;
use sqlx::{PgConnection, PgPool};

/// The active methods that deliver to `country` in `currency`: its zone's, or else those of the zone of everywhere
/// else; cheapest (by base price) first.
pub async fn methods_for(conn: &mut PgConnection, country: &str, currency: &str) -> Result<Vec<Method>, sqlx::Error> {
    sqlx::query_as!(
        Method,
        r#"
        SELECT m.id, m.zone_id, m.name, m.currency, m.price_cents, m.per_kg_cents, m.free_over_cents, m.min_days,
               m.max_days, m.active
        FROM shipping_methods m
        WHERE m.active AND m.currency = $2
          AND m.zone_id = COALESCE((SELECT zone_id FROM shipping_zone_countries WHERE country = $1),
                                   (SELECT id FROM shipping_zones WHERE everywhere_else))
        ORDER BY m.price_cents, m.min_days, m.id
        "#,
        country,
        currency
    )
    .fetch_all(conn)
    .await
}

/// The countries some active method delivers to (for the message to an address outside them all).
pub async fn destinations(conn: &mut PgConnection, currency: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"
        SELECT c.country AS "country!" FROM shipping_zone_countries c
        WHERE EXISTS (SELECT 1 FROM shipping_methods m WHERE m.zone_id = c.zone_id AND m.active AND m.currency = $1)
        ORDER BY c.country
        "#,
        currency
    )
    .fetch_all(conn)
    .await
}

/// Every zone, by name (the zone of everywhere else last), with its countries and methods.
pub async fn zones(pool: &PgPool) -> Result<Vec<Zone>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"
        SELECT z.id, z.name, z.everywhere_else,
               COALESCE((SELECT array_agg(c.country ORDER BY c.country) FROM shipping_zone_countries c
                         WHERE c.zone_id = z.id), '{}') AS "countries!"
        FROM shipping_zones z ORDER BY z.everywhere_else, z.name
        "#
    )
    .fetch_all(pool)
    .await?;
    let methods = sqlx::query_as!(
        Method,
        r#"
        SELECT id, zone_id, name, currency, price_cents, per_kg_cents, free_over_cents, min_days, max_days, active
        FROM shipping_methods ORDER BY price_cents, min_days, id
        "#
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| Zone {
            id: row.id,
            name: row.name,
            everywhere_else: row.everywhere_else,
            countries: row.countries,
            methods: methods.iter().filter(|method| method.zone_id == row.id).cloned().collect(),
        })
        .collect())
}

/// Creates (id 0) or saves a zone and its countries; returns its id. A country another zone has, a second zone of
/// everywhere else and a taken name are refused by name.
pub async fn save_zone(pool: &PgPool, zone: &Zone) -> Result<i64, AppError> {
    let mut tx = pool.begin().await?;
    let taken = sqlx::query!(
        r#"
        SELECT c.country, z.name FROM shipping_zone_countries c JOIN shipping_zones z ON z.id = c.zone_id
        WHERE c.country = ANY($1) AND c.zone_id <> $2 ORDER BY c.country
        "#,
        &zone.countries,
        zone.id
    )
    .fetch_all(&mut *tx)
    .await?;
    if !taken.is_empty() {
        let named = taken.iter().map(|row| format!("{} is in {}", row.country, row.name)).collect::<Vec<_>>();
        return Err(AppError::Invalid(format!(
            "A country can be in one zone only: {}. Take it out of that zone first.",
            named.join(", ")
        )));
    }
    let saved = if zone.id == 0 {
        sqlx::query_scalar!(
            "INSERT INTO shipping_zones (name, everywhere_else) VALUES ($1, $2) RETURNING id",
            zone.name,
            zone.everywhere_else
        )
        .fetch_optional(&mut *tx)
        .await
    } else {
        sqlx::query_scalar!(
            "UPDATE shipping_zones SET name = $2, everywhere_else = $3 WHERE id = $1 RETURNING id",
            zone.id,
            zone.name,
            zone.everywhere_else
        )
        .fetch_optional(&mut *tx)
        .await
    };
    let id = match saved {
        Ok(Some(id)) => id,
        Ok(None) => return Err(AppError::NotFound),
        Err(sqlx::Error::Database(error)) if error.constraint() == Some("shipping_zones_name_key") => {
            return Err(AppError::Invalid(format!("A zone named {} exists already.", zone.name)));
        }
        Err(sqlx::Error::Database(error)) if error.constraint() == Some("shipping_zones_one_everywhere_else") => {
            return Err(AppError::Invalid(
                "Another zone is already the zone of everywhere else; there can be one only.".into(),
            ));
        }
        Err(error) => return Err(error.into()),
    };
    sqlx::query!("DELETE FROM shipping_zone_countries WHERE zone_id = $1", id).execute(&mut *tx).await?;
    let inserted = sqlx::query!(
        "INSERT INTO shipping_zone_countries (country, zone_id) SELECT unnest($1::text[]), $2",
        &zone.countries,
        id
    )
    .execute(&mut *tx)
    .await;
    match inserted {
        Ok(_) => {}
        // Another admin put one of the countries in another zone meanwhile.
        Err(sqlx::Error::Database(error)) if error.constraint() == Some("shipping_zone_countries_pkey") => {
            return Err(AppError::Invalid("One of the countries was just put in another zone: try again.".into()));
        }
        Err(error) => return Err(error.into()),
    }
    tx.commit().await?;
    Ok(id)
}

/// Deletes a zone with its countries and methods; placed orders keep the shipping they were charged.
pub async fn delete_zone(pool: &PgPool, id: i64) -> Result<(), AppError> {
    let deleted = sqlx::query!("DELETE FROM shipping_zones WHERE id = $1", id).execute(pool).await?;
    if deleted.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// Creates (id 0) or saves a method of its zone.
pub async fn save_method(pool: &PgPool, method: &Method) -> Result<i64, AppError> {
    let saved = if method.id == 0 {
        sqlx::query_scalar!(
            r#"
            INSERT INTO shipping_methods (zone_id, name, currency, price_cents, per_kg_cents, free_over_cents,
                                          min_days, max_days, active)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            RETURNING id
            "#,
            method.zone_id,
            method.name,
            method.currency,
            method.price_cents,
            method.per_kg_cents,
            method.free_over_cents,
            method.min_days,
            method.max_days,
            method.active
        )
        .fetch_optional(pool)
        .await
    } else {
        sqlx::query_scalar!(
            r#"
            UPDATE shipping_methods
            SET name = $3, price_cents = $4, per_kg_cents = $5, free_over_cents = $6, min_days = $7, max_days = $8,
                active = $9
            WHERE id = $1 AND zone_id = $2
            RETURNING id
            "#,
            method.id,
            method.zone_id,
            method.name,
            method.price_cents,
            method.per_kg_cents,
            method.free_over_cents,
            method.min_days,
            method.max_days,
            method.active
        )
        .fetch_optional(pool)
        .await
    };
    match saved {
        Ok(Some(id)) => Ok(id),
        // No such method in that zone.
        Ok(None) => Err(AppError::NotFound),
        Err(sqlx::Error::Database(error)) if error.constraint() == Some("shipping_methods_zone_id_name_key") => {
            Err(AppError::Invalid(format!("The zone has a method named {} already.", method.name)))
        }
        Err(sqlx::Error::Database(error)) if error.constraint() == Some("shipping_methods_zone_id_fkey") => {
            Err(AppError::NotFound)
        }
        Err(error) => Err(error.into()),
    }
}
