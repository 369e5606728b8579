//! The demo catalog: believable products in several categories, each with a generated SVG image.

use app::{
    admin::variant_editor::{generated_sku, store::write_options},
    catalog::artwork::{product_svg, slugify},
    variants::{combinations, OptionGroup},
};
use sqlx::{PgConnection, PgPool};

struct DemoProduct {
    name: &'static str,
    price_cents: i64,
    stock: i32,
    description: &'static str,
}

const fn p(name: &'static str, price_cents: i64, stock: i32, description: &'static str) -> DemoProduct {
    DemoProduct { name, price_cents, stock, description }
}

/// (slug, name, products) for each category, in display order.
const CATALOG: &[(&str, &str, &[DemoProduct])] = &[
    ("trail-camp", "Trail & Camp", &[
        p("Ridgeline 2 Tent", 28900, 7, "A two-person, three-season tent that pitches in four minutes and weighs 1.6 kg. Taped seams, two doors, two vestibules."),
        p("Summit Down Sleeping Bag", 24500, 12, "Responsibly sourced 800-fill down rated to -5 °C, with a draft collar and a two-way zip."),
        p("Trailhead 30 L Daypack", 8900, 25, "A ventilated back panel, hip-belt pockets and a hydration sleeve for long days on the trail."),
        p("Kestrel Trekking Poles", 7400, 3, "Carbon poles with cork grips and quick-lock adjustment from 105 to 135 cm."),
        p("Ember Camp Stove", 5900, 18, "A palm-sized canister stove that boils a litre of water in 3.5 minutes, with piezo ignition."),
        p("Lumen 400 Headlamp", 3900, 40, "400 lumens, red night mode and a battery that charges over USB-C in two hours."),
        p("Glacier Insulated Bottle", 2900, 60, "Double-wall stainless steel keeps drinks cold for 24 hours or hot for 12."),
        p("Pathfinder Compass", 3400, 0, "A baseplate compass with declination adjustment, a clinometer and a glow-in-the-dark bezel."),
    ]),
    ("kitchen", "Kitchen", &[
        p("Cast Iron Skillet 26 cm", 4900, 22, "Pre-seasoned cast iron that sears, bakes and goes from hob to oven to table."),
        p("Pour-Over Coffee Set", 4200, 15, "A ceramic dripper, a glass carafe and 100 filters for a clean, bright cup."),
        p("Chef's Knife 20 cm", 8900, 9, "Forged from a single piece of high-carbon steel, balanced at the bolster, with a full tang."),
        p("Oak Cutting Board", 5400, 14, "End-grain oak that is kind to knife edges, finished with food-safe oil."),
        p("Stoneware Mixing Bowls", 3900, 30, "A nesting set of three glazed stoneware bowls with pouring lips."),
        p("Burr Coffee Grinder", 11900, 4, "Conical steel burrs with 40 grind settings, from espresso to French press."),
        p("Linen Tea Towels", 1900, 80, "A set of three stonewashed linen towels that get softer with every wash."),
        p("Enamel Dutch Oven", 15900, 6, "A 5 L enamelled cast-iron pot for slow braises, soups and crusty bread."),
    ]),
    ("home", "Home & Living", &[
        p("Wool Throw Blanket", 8900, 16, "A soft merino blend throw woven in a herringbone pattern, 130 × 180 cm."),
        p("Ceramic Table Lamp", 12900, 8, "A hand-glazed ceramic base with a linen shade and a warm dimmable bulb."),
        p("Linen Duvet Cover", 13900, 11, "Pure French linen, garment-washed for a relaxed look, with coconut buttons."),
        p("Scented Soy Candle", 2400, 50, "Cedar, fig and bergamot in a hand-poured soy candle that burns for 45 hours."),
        p("Rattan Storage Basket", 3600, 20, "A hand-woven rattan basket with leather handles for blankets, toys or logs."),
        p("Terracotta Planter", 2900, 35, "A 20 cm terracotta pot with a drainage hole and a matching saucer."),
        p("Wall Clock Meridian", 6400, 2, "A silent-sweep clock with a walnut frame and a minimalist dial."),
        p("Cotton Bath Towel Set", 5900, 24, "Two bath towels and two hand towels in thick, absorbent organic cotton."),
    ]),
    ("audio", "Audio", &[
        p("Aria Wireless Headphones", 19900, 13, "Over-ear headphones with adaptive noise cancelling and a 40-hour battery."),
        p("Pocket Bluetooth Speaker", 5900, 27, "A waterproof speaker with a surprisingly deep bass and a 12-hour battery."),
        p("Studio Monitor Pair", 34900, 5, "Two-way active monitors with a flat response for mixing and listening."),
        p("Turntable Classic", 27900, 4, "A belt-drive turntable with a built-in phono preamp and a moving-magnet cartridge."),
        p("Earbuds Air Pro", 12900, 21, "True wireless earbuds with transparency mode and a pocketable charging case."),
        p("USB Condenser Microphone", 9900, 10, "A cardioid microphone with a zero-latency headphone jack, for podcasts and calls."),
        p("Headphone Stand Walnut", 3900, 19, "A solid walnut stand that keeps headphones tidy and cables out of sight."),
        p("Portable DAC Amp", 14900, 0, "A pocket DAC and headphone amplifier that drives demanding headphones from a phone."),
    ]),
    ("stationery", "Stationery", &[
        p("Dot Grid Notebook A5", 1900, 90, "192 pages of 100 g/m² paper that takes fountain pen ink without bleeding."),
        p("Brass Fountain Pen", 6900, 12, "A solid brass pen with a steel nib that develops a patina over time."),
        p("Desk Organiser Oak", 4400, 15, "A solid oak tray with compartments for pens, cards and a phone."),
        p("Weekly Planner 2027", 2400, 45, "A linen-bound planner with a week on two pages and monthly overviews."),
        p("Watercolour Travel Kit", 3900, 17, "Twelve artist-grade half pans, a water brush and a palette in a tin."),
        p("Leather Pen Case", 3200, 9, "Vegetable-tanned leather case for three pens, stitched by hand."),
        p("Archival Ink Bottle", 1600, 33, "Waterproof, fade-resistant black ink in a 50 ml glass bottle."),
        p("Kraft Envelope Set", 1200, 5, "Fifty recycled kraft envelopes with matching correspondence cards."),
    ]),
    ("apparel", "Apparel", &[
        p("Merino Base Layer", 7900, 26, "A 200 g/m² merino long-sleeve that regulates warmth and resists odour."),
        p("Packable Rain Jacket", 14900, 14, "A 2.5-layer waterproof shell that packs into its own pocket."),
        p("Canvas Field Jacket", 16900, 8, "Waxed cotton canvas with a corduroy collar and four bellows pockets."),
        p("Wool Beanie", 2900, 55, "A ribbed beanie knitted from soft lambswool, in one size."),
        p("Trail Running Shoes", 13900, 11, "Grippy lugs, a rock plate and a cushioned midsole for technical trails."),
        p("Organic Cotton Tee", 2900, 70, "A heavyweight tee in organic cotton with a relaxed fit."),
        p("Hiking Socks Three-Pack", 2400, 42, "Cushioned merino socks with a reinforced heel and toe."),
        p("Down Vest", 11900, 1, "A light 700-fill down vest for layering under a shell or wearing alone."),
    ]),
];

/// An option group of a demo product: its name and choices.
type DemoOption = (&'static str, &'static [&'static str]);

/// The demo products sold in sizes and colours: (slug, option groups, the choice that costs more and by how much).
const VARIANTS: &[(&str, &[DemoOption], (&str, i64))] = &[
    ("merino-base-layer", &[("Size", &["S", "M", "L", "XL"]), ("Colour", &["Sand", "Slate"])], ("XL", 500)),
    ("packable-rain-jacket", &[("Size", &["S", "M", "L"]), ("Colour", &["Moss", "Ember"])], ("", 0)),
    ("canvas-field-jacket", &[("Size", &["S", "M", "L"])], ("", 0)),
    ("trail-running-shoes", &[("Size", &["40", "41", "42", "43", "44", "45"])], ("45", 1000)),
];

/// Gives a demo product its options and a variant per combination, with believable stock (a few sold out) in
/// place of its one default variant.
async fn seed_variants(
    conn: &mut PgConnection,
    slug: &str,
    groups: &[DemoOption],
    dearer: (&str, i64),
) -> Result<(), sqlx::Error> {
    let Some((id, price)) = sqlx::query!("SELECT id, price_cents FROM products WHERE slug = $1", slug)
        .fetch_optional(&mut *conn)
        .await?
        .map(|row| (row.id, row.price_cents))
    else {
        return Ok(());
    };
    let groups: Vec<OptionGroup> = groups
        .iter()
        .map(|(name, choices)| OptionGroup {
            name: name.to_string(),
            choices: choices.iter().map(|choice| choice.to_string()).collect(),
        })
        .collect();
    write_options(conn, id, &groups).await?;
    sqlx::query!("UPDATE variants SET archived_at = now() WHERE product_id = $1", id).execute(&mut *conn).await?;
    for (position, (options, _)) in combinations(&groups, &[]).into_iter().enumerate() {
        let price_cents = options.iter().any(|choice| choice == dearer.0).then_some(price + dearer.1);
        let variant = sqlx::query_scalar!(
            "INSERT INTO variants (product_id, sku, options, price_cents, position) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            id,
            generated_sku(slug, &options),
            &options,
            price_cents,
            position as i32
        )
        .fetch_one(&mut *conn)
        .await?;
        // 3, 1, 8, 6, 4, 2, 0, 7…: every size in stock but the odd one, as a real shelf is.
        let stock = (position as i32 * 7 + 3) % 9;
        sqlx::query!("UPDATE variants SET stock = $2 WHERE id = $1", variant, stock).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Inserts the demo catalog when the catalog is empty; returns how many products it added.
pub async fn seed_demo_catalog(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // One seeder at a time, even with several server copies starting together.
    sqlx::query!("SELECT pg_advisory_xact_lock(7401)").execute(&mut *tx).await?;
    let existing = sqlx::query_scalar!(r#"SELECT count(*) AS "count!" FROM products"#).fetch_one(&mut *tx).await?;
    if existing > 0 {
        return Ok(0);
    }
    let mut added = 0;
    for (position, (category_slug, category_name, products)) in CATALOG.iter().enumerate() {
        sqlx::query!(
            "INSERT INTO categories (slug, name, position) VALUES ($1, $2, $3) ON CONFLICT (slug) DO NOTHING",
            category_slug,
            category_name,
            position as i32
        )
        .execute(&mut *tx)
        .await?;
        for product in products.iter() {
            let slug = slugify(product.name);
            sqlx::query!(
                r#"
                INSERT INTO products (slug, name, description, category_slug, price_cents, stock, image_svg)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT (slug) DO NOTHING
                "#,
                slug,
                product.name,
                product.description,
                category_slug,
                product.price_cents,
                product.stock,
                product_svg(product.name, category_slug),
            )
            .execute(&mut *tx)
            .await?;
            added += 1;
        }
    }
    for (slug, groups, dearer) in VARIANTS {
        seed_variants(&mut tx, slug, groups, *dearer).await?;
    }
    // Two codes a merchant might run (and the README names): none applies until a shopper enters it, so the demo's
    // prices are the catalog's.
    sqlx::query!(
        r#"
        INSERT INTO promotions (name, code, kind, amount, target, min_subtotal_cents, category_slugs, first_order_only,
                                per_customer_limit)
        VALUES ('Welcome: 10 % off a first order', 'WELCOME10', 'percent', 10, 'order', 0, '{}', true, 1),
               ('€5 off each kitchen item over €50', 'KITCHEN5', 'fixed', 500, 'lines', 5000, '{kitchen}', false, NULL)
        ON CONFLICT (code) DO NOTHING
        "#
    )
    .execute(&mut *tx)
    .await?;
    seed_delivery(&mut tx).await?;
    tx.commit().await?;
    Ok(added)
}

/// What each demo product weighs packed, by category, and the demo's delivery (the README's "Shipping"): Germany
/// with a free click & collect, standard delivery free from €50 and express; the rest of Europe by weight, free from
/// €150; the US and Canada by weight. Anywhere else is outside every zone (the shopper is told before paying). The
/// migration's free zone of everywhere else gives way to these.
async fn seed_delivery(conn: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"
        UPDATE products SET weight_grams = CASE category_slug
            WHEN 'trail-camp' THEN 1600 WHEN 'kitchen' THEN 900 WHEN 'home' THEN 1200 WHEN 'audio' THEN 500
            WHEN 'stationery' THEN 250 WHEN 'apparel' THEN 450 ELSE 500 END
        "#,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM shipping_zones WHERE everywhere_else AND name = 'Everywhere'").execute(&mut *conn).await?;
    sqlx::query(
        r#"
        WITH zones AS (
            INSERT INTO shipping_zones (name) VALUES ('Germany'), ('Europe'), ('North America') RETURNING id, name
        ), countries AS (
            INSERT INTO shipping_zone_countries (country, zone_id)
            SELECT c.country, z.id FROM zones z JOIN (VALUES
                ('DE', 'Germany'), ('AT', 'Europe'), ('BE', 'Europe'), ('CH', 'Europe'), ('CZ', 'Europe'),
                ('DK', 'Europe'), ('ES', 'Europe'), ('FI', 'Europe'), ('FR', 'Europe'), ('GB', 'Europe'),
                ('IE', 'Europe'), ('IT', 'Europe'), ('LU', 'Europe'), ('NL', 'Europe'), ('NO', 'Europe'),
                ('PL', 'Europe'), ('PT', 'Europe'), ('SE', 'Europe'), ('US', 'North America'), ('CA', 'North America')
            ) AS c (country, zone) ON c.zone = z.name
        )
        INSERT INTO shipping_methods (zone_id, name, price_cents, per_kg_cents, free_over_cents, min_days, max_days)
        SELECT z.id, m.name, m.price, m.per_kg, m.free_over, m.min_days, m.max_days FROM zones z JOIN (VALUES
            ('Germany', 'Click & collect in Berlin', 0::bigint, NULL::bigint, NULL::bigint, 1, 1),
            ('Germany', 'Standard delivery', 490, NULL, 5000, 2, 3),
            ('Germany', 'Express', 1290, NULL, NULL, 1, 1),
            ('Europe', 'Standard delivery', 690, 100, 15000, 3, 6),
            ('Europe', 'Express', 1990, NULL, NULL, 1, 2),
            ('North America', 'International', 1490, 300, NULL, 5, 10)
        ) AS m (zone, name, price, per_kg, free_over, min_days, max_days) ON m.zone = z.name
        "#,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_catalog_is_large_and_varied() {
        let products: usize = CATALOG.iter().map(|(_, _, p)| p.len()).sum();
        assert!(products >= 40, "{products} products");
        assert!(CATALOG.len() >= 5);
        let mut slugs: Vec<String> = CATALOG.iter().flat_map(|(_, _, p)| p.iter().map(|p| slugify(p.name))).collect();
        slugs.sort();
        slugs.dedup();
        assert_eq!(slugs.len(), products, "product slugs must be unique");
        assert!(VARIANTS.iter().all(|(slug, _, _)| slugs.binary_search(&slug.to_string()).is_ok()));
    }
}
