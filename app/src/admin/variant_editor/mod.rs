//! A product's options and variants in the back office (`/admin/products/:id/variants`): the option groups as text
//! (one per line, `Size: S, M, L`), which make a variant for every combination, and every variant's SKU, price,
//! stock, order and archived flag edited together in one form.

#[cfg(feature = "ssr")]
pub mod store;
mod views;

pub use views::AdminVariantsPage;

use super::ManagedProduct;
#[cfg(feature = "ssr")]
use crate::server_context as ctx;
use crate::{error::AppError, variants::OptionGroup};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The most option groups a product has.
pub const MAX_GROUPS: usize = 3;
/// The most choices one group offers.
pub const MAX_CHOICES: usize = 20;
/// The most combinations (variants) the groups may make.
pub const MAX_COMBINATIONS: usize = 100;

/// Everything the variants page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantEditor {
    pub product: ManagedProduct,
    pub options: Vec<OptionGroup>,
    /// Every variant, archived ones too, in the shop's order.
    pub variants: Vec<ManagedVariant>,
}

/// A variant as the back office edits it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedVariant {
    pub id: i64,
    pub sku: String,
    pub options: Vec<String>,
    /// `None`: the product's price.
    pub price_cents: Option<i64>,
    pub stock: i32,
    pub position: i32,
    pub archived: bool,
}

/// One row of the variants form as submitted: text, validated by [`VariantDraft::parse`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantEdit {
    pub id: i64,
    pub sku: String,
    /// Blank: the product's price.
    #[serde(default)]
    pub price: String,
    pub stock: String,
    /// The stock the form showed: the save applies the difference, so units sold meanwhile stay sold.
    pub stock_was: i32,
    pub position: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    pub archived: Option<String>,
}

/// A variant row once it is known to be valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VariantDraft {
    pub id: i64,
    pub sku: String,
    pub price_cents: Option<i64>,
    pub stock: i32,
    pub stock_was: i32,
    pub position: i32,
    pub archived: bool,
}

impl VariantDraft {
    /// Checks a row; the message names the row by its SKU as the admin typed it.
    pub fn parse(edit: &VariantEdit) -> Result<Self, AppError> {
        let sku = edit.sku.trim().to_uppercase();
        let mut problems = Vec::new();
        if !valid_sku(&sku) {
            problems.push("a SKU of 1 to 100 letters, digits, dots, dashes and underscores");
        }
        let price_cents = match edit.price.trim() {
            "" => Some(None),
            price => crate::money::parse_price(price).filter(|cents| (1..=100_000_000).contains(cents)).map(Some),
        };
        if price_cents.is_none() {
            problems.push("a price between 0.01 and 1,000,000.00 (or none, for the product's)");
        }
        let stock = edit.stock.trim().parse::<i32>().ok().filter(|stock| (0..=1_000_000).contains(stock));
        if stock.is_none() {
            problems.push("a stock between 0 and 1,000,000");
        }
        let position = edit.position.trim().parse::<i32>().ok().filter(|position| (0..=10_000).contains(position));
        if position.is_none() {
            problems.push("a position between 0 and 10,000");
        }
        match (price_cents, stock, position) {
            (Some(price_cents), Some(stock), Some(position)) if problems.is_empty() => Ok(Self {
                id: edit.id,
                sku,
                price_cents,
                stock,
                stock_was: edit.stock_was,
                position,
                archived: edit.archived.is_some(),
            }),
            _ => Err(AppError::Invalid(format!("Variant {}: please give {}.", edit.sku.trim(), problems.join(", ")))),
        }
    }
}

/// A SKU as the database takes it: capitals, digits, `.`, `-`, `_`, starting with a letter or digit.
pub fn valid_sku(sku: &str) -> bool {
    (1..=100).contains(&sku.len())
        && sku.starts_with(|c: char| c.is_ascii_uppercase() || c.is_ascii_digit())
        && sku.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
}

/// The SKU made for a new variant: the product's slug and the variant's choices, in capitals
/// (`merino-base-layer` in M and Sand: `MERINO-BASE-LAYER-M-SAND`).
pub fn generated_sku(slug: &str, options: &[String]) -> String {
    let mut sku = slug.to_uppercase();
    for choice in options {
        let part: String = choice
            .to_uppercase()
            .chars()
            .map(|c| if c.is_ascii_uppercase() || c.is_ascii_digit() { c } else { '-' })
            .collect();
        let part = part.split('-').filter(|piece| !piece.is_empty()).collect::<Vec<_>>().join("-");
        if !part.is_empty() {
            sku.push('-');
            sku.push_str(&part);
        }
    }
    sku.truncate(90);
    sku.trim_end_matches('-').to_string()
}

/// Reads the option groups from text, one group per line: `Size: S, M, L`. A blank text means no options.
pub fn parse_options(text: &str) -> Result<Vec<OptionGroup>, AppError> {
    let refuse = |message: String| Err(AppError::Invalid(message));
    let mut groups: Vec<OptionGroup> = Vec::new();
    for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
        let Some((name, choices)) = line.split_once(':') else {
            return refuse(format!("Write each option as “Name: choice, choice”; “{line}” has no colon."));
        };
        let name = name.trim().to_string();
        if name.is_empty() || name.chars().count() > 40 {
            return refuse(format!("An option's name has 1 to 40 characters (“{line}”)."));
        }
        if groups.iter().any(|group| group.name.eq_ignore_ascii_case(&name)) {
            return refuse(format!("{name} is given twice."));
        }
        let mut list: Vec<String> = Vec::new();
        for choice in choices.split(',').map(str::trim).filter(|choice| !choice.is_empty()) {
            if choice.chars().count() > 40 {
                return refuse(format!("{name}: a choice has at most 40 characters."));
            }
            if list.iter().any(|known| known.to_lowercase() == choice.to_lowercase()) {
                return refuse(format!("{name}: {choice} is given twice."));
            }
            list.push(choice.to_string());
        }
        if list.is_empty() || list.len() > MAX_CHOICES {
            return refuse(format!("{name} needs 1 to {MAX_CHOICES} choices, separated by commas."));
        }
        groups.push(OptionGroup { name, choices: list });
    }
    if groups.len() > MAX_GROUPS {
        return refuse(format!("A product has at most {MAX_GROUPS} options."));
    }
    let combinations: usize = groups.iter().map(|group| group.choices.len()).product();
    if combinations > MAX_COMBINATIONS {
        return refuse(format!("These options make {combinations} variants; at most {MAX_COMBINATIONS} are allowed."));
    }
    Ok(groups)
}

/// The option groups as the form shows them (what [`parse_options`] reads back).
pub fn format_options(groups: &[OptionGroup]) -> String {
    groups.iter().map(|group| format!("{}: {}", group.name, group.choices.join(", "))).collect::<Vec<_>>().join("\n")
}

/// A product's options and variants, for an admin.
#[server(endpoint = "admin_variants")]
pub async fn admin_variants(product_id: i64) -> Result<VariantEditor, AppError> {
    ctx::require_admin().await?;
    store::editor(&ctx::pool()?, product_id).await?.ok_or(AppError::NotFound)
}

/// Sets a product's option groups: a variant for every new combination (no stock yet, a generated SKU), the
/// variants of combinations no longer offered archived, and those offered again restored.
#[server(endpoint = "admin_set_options")]
pub async fn set_product_options(product_id: i64, options: String) -> Result<(), AppError> {
    let admin = ctx::require_admin().await?;
    let groups = parse_options(&options)?;
    crate::catalog::changed(store::set_options(&ctx::pool()?, admin.id, product_id, &groups).await)?;
    leptos_axum::redirect(&format!("/admin/products/{product_id}/variants?saved=options"));
    Ok(())
}

/// Saves every variant row of a product at once: SKUs, prices, stock (as adjustments), order and archived flags.
#[server(endpoint = "admin_save_variants")]
pub async fn save_variants(product_id: i64, rows: Vec<VariantEdit>) -> Result<(), AppError> {
    let admin = ctx::require_admin().await?;
    let drafts = rows.iter().map(VariantDraft::parse).collect::<Result<Vec<_>, _>>()?;
    crate::catalog::changed(store::save(&ctx::pool()?, admin.id, product_id, &drafts).await)?;
    leptos_axum::redirect(&format!("/admin/products/{product_id}/variants?saved=variants"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_read_one_group_per_line() {
        let groups = parse_options("Size: S, M , L\n\n Colour:Sand,Slate ").unwrap();
        assert_eq!(format_options(&groups), "Size: S, M, L\nColour: Sand, Slate");
        assert_eq!(parse_options("  ").unwrap(), vec![]);
    }

    #[test]
    fn bad_options_are_refused_with_a_reason() {
        let refused = |text: &str| parse_options(text).unwrap_err().to_string();
        assert!(refused("Size S, M").contains("no colon"));
        assert!(refused("Size: S, s").contains("given twice"));
        assert!(refused("Size: S\nsize: M").contains("given twice"));
        assert!(refused("Size:").contains("1 to 20 choices"));
        assert!(refused("A: 1\nB: 1\nC: 1\nD: 1").contains("at most 3"));
        let many = (0..11).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
        assert!(refused(&format!("A: {many}\nB: {many}")).contains("121 variants"));
    }

    #[test]
    fn skus_are_made_from_the_slug_and_the_choices() {
        let options = ["M".to_string(), "Sand / Dune".to_string()];
        assert_eq!(generated_sku("merino-base-layer", &options), "MERINO-BASE-LAYER-M-SAND-DUNE");
        assert!(valid_sku(&generated_sku(&"x".repeat(96), &options)));
        assert!(!valid_sku("-X") && !valid_sku("a b") && !valid_sku(""));
    }

    #[test]
    fn a_variant_row_names_every_problem() {
        let row = VariantEdit {
            id: 1,
            sku: "tee-m".into(),
            price: String::new(),
            stock: "4".into(),
            stock_was: 2,
            position: "1".into(),
            archived: Some("on".into()),
        };
        let draft = VariantDraft::parse(&row).unwrap();
        assert_eq!((draft.sku.as_str(), draft.price_cents, draft.stock, draft.archived), ("TEE-M", None, 4, true));
        let bad = VariantEdit { sku: "tee m".into(), price: "-1".into(), stock: "x".into(), ..row };
        let message = VariantDraft::parse(&bad).unwrap_err().to_string();
        assert!(message.contains("SKU") && message.contains("price") && message.contains("stock"), "{message}");
    }
}
