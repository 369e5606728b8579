//! Options and variants as every part of the shop names them: a product's option groups (Size: S, M, L), a
//! variant's choices ("M · Sand"), and the combinations a picker offers. Pure, so the catalog, the cart, orders,
//! notifications and the back office share one spelling of them.

use serde::{Deserialize, Serialize};

/// Every combination of the option groups' choices, in order, each with its variant when one is on sale: what the
/// variant picker shows (a combination without a variant is marked unavailable, not hidden).
pub fn combinations<'a>(
    options: &[OptionGroup],
    variants: &'a [VariantChoice],
) -> Vec<(Vec<String>, Option<&'a VariantChoice>)> {
    let mut combinations: Vec<Vec<String>> = vec![Vec::new()];
    for group in options {
        combinations = combinations
            .into_iter()
            .flat_map(|prefix| {
                group.choices.iter().map(move |choice| {
                    let mut next = prefix.clone();
                    next.push(choice.clone());
                    next
                })
            })
            .collect();
    }
    combinations
        .into_iter()
        .map(|options| {
            let variant = variants.iter().find(|variant| variant.options == options);
            (options, variant)
        })
        .collect()
}

/// One option group of a product, e.g. Size with S, M and L.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionGroup {
    pub name: String,
    pub choices: Vec<String>,
}

/// A variant as a shopper chooses it: its choices (one per option group), price and stock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantChoice {
    pub id: i64,
    pub sku: String,
    pub options: Vec<String>,
    pub price_cents: i64,
    pub stock: i32,
}

/// "M · Sand": a variant's choices as one label (empty for a product without options).
pub fn variant_label(options: &[String]) -> String {
    options.join(" · ")
}

/// "Merino Base Layer (M · Sand)": a product's name with its variant's label (the name alone without one).
pub fn titled(name: &str, label: &str) -> String {
    if label.is_empty() {
        name.to_string()
    } else {
        format!("{name} ({label})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variant(id: i64, options: &[&str]) -> VariantChoice {
        VariantChoice {
            id,
            sku: format!("SKU-{id}"),
            options: options.iter().map(|o| o.to_string()).collect(),
            price_cents: 100,
            stock: 1,
        }
    }

    #[test]
    fn the_picker_lists_every_combination_in_order_with_unmade_ones_marked() {
        let group = |name: &str, choices: &[&str]| OptionGroup {
            name: name.into(),
            choices: choices.iter().map(|c| c.to_string()).collect(),
        };
        let options = [group("Size", &["S", "M"]), group("Colour", &["Sand", "Slate"])];
        let variants = [variant(1, &["S", "Sand"]), variant(2, &["M", "Slate"]), variant(3, &["M", "Sand"])];
        let shown: Vec<(String, Option<i64>)> = combinations(&options, &variants)
            .into_iter()
            .map(|(choice, variant)| (variant_label(&choice), variant.map(|v| v.id)))
            .collect();
        assert_eq!(
            shown,
            [
                ("S · Sand".to_string(), Some(1)),
                ("S · Slate".to_string(), None),
                ("M · Sand".to_string(), Some(3)),
                ("M · Slate".to_string(), Some(2)),
            ]
        );
        assert_eq!(titled("Base Layer", &variant_label(&["M".into(), "Sand".into()])), "Base Layer (M · Sand)");
        assert_eq!(titled("Mug", &variant_label(&[])), "Mug");
    }
}
