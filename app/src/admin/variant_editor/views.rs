//! `/admin/products/:id/variants`: the option groups as text and every variant in one table, each a plain HTML
//! form posting to its server function (no script, nothing added to the back office's bundle).

use super::{admin_variants, format_options, VariantEditor};
use crate::{
    back_office::{refusal, AdminNav},
    money::{format_price, plain_amount},
    notices::FormRefusal,
    variants::variant_label,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn AdminVariantsPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|raw| raw.parse::<i64>().ok()).unwrap_or(0));
    let editor = Resource::new(move || id.get(), admin_variants);
    let saved = use_query_map().read_untracked().get("saved").map(|what| {
        let message = match what.as_str() {
            "options" => "Options saved: every combination has its variant; new ones start with no stock.",
            _ => "Variants saved. Shoppers with a restocked size or colour in their cart are told.",
        };
        view! { <p class="ok" role="status" data-testid="saved">{message}</p> }
    });
    view! {
        <Title text="Variants · Admin" />
        <AdminNav />
        <FormRefusal />
        {saved}
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match editor.await {
                    Ok(editor) => view! { <VariantsEditor editor /> }.into_any(),
                    Err(error) => refusal(error, "/admin/products"),
                }
            })}
        </Suspense>
    }
}

#[component]
fn VariantsEditor(editor: VariantEditor) -> impl IntoView {
    let product = editor.product;
    let id = product.id;
    let product_price = format_price(product.price_cents, &product.currency);
    let rows = editor
        .variants
        .into_iter()
        .enumerate()
        .map(|(i, variant)| {
            let field = |name: &str| format!("rows[{i}][{name}]");
            let label = variant_label(&variant.options);
            let label = if label.is_empty() { "(no options)".to_string() } else { label };
            let price = variant.price_cents.map(plain_amount).unwrap_or_default();
            view! {
                <tr class:archived=variant.archived data-sku=variant.sku.clone()>
                    <th scope="row">
                        {label.clone()}
                        <input type="hidden" name=field("id") value=variant.id.to_string() />
                        <input type="hidden" name=field("stock_was") value=variant.stock.to_string() />
                    </th>
                    <td><input name=field("sku") required maxlength="100" size="22" value=variant.sku.clone()
                        aria-label=format!("SKU of {label}") /></td>
                    <td><input name=field("price") inputmode="decimal" size="8" value=price placeholder=product_price.clone()
                        aria-label=format!("Price of {label} (blank: the product's)") /></td>
                    <td><input name=field("stock") type="number" required min="0" max="1000000" value=variant.stock.to_string()
                        aria-label=format!("Stock of {label}") /></td>
                    <td><input name=field("position") type="number" required min="0" max="10000" value=variant.position.to_string()
                        aria-label=format!("Position of {label}") /></td>
                    <td><input name=field("archived") type="checkbox" checked=variant.archived
                        aria-label=format!("{label} archived") /></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <h1>{format!("{}: variants", product.name)}</h1>
        <p><a href=format!("/admin/products/{id}")>"Back to the product"</a></p>
        <section>
            <h2>"Options"</h2>
            <form method="post" action="/api/admin_set_options" class="admin-form">
                <input type="hidden" name="product_id" value=id.to_string() />
                <label class="wide">"One option per line, its choices separated by commas (at most 3 options and 100 combinations; blank: no options)"
                    <textarea name="options" rows="4" placeholder="Size: S, M, L\nColour: Sand, Slate">{format_options(&editor.options)}</textarea>
                </label>
                <button type="submit">"Save options"</button>
            </form>
            <p class="hint">"Every combination gets a variant; one no longer offered is archived with its stock, and comes back if its choices do."</p>
        </section>
        <section>
            <h2>"Variants"</h2>
            <form method="post" action="/api/admin_save_variants" class="variants-form">
                <input type="hidden" name="product_id" value=id.to_string() />
                <table class="admin-table">
                    <thead><tr><th>"Variant"</th><th>"SKU"</th><th>"Price"</th><th>"Stock"</th><th>"Position"</th><th>"Archived"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
                <button type="submit">"Save all variants"</button>
            </form>
            <p class="hint">"Stock moves by what you change, so units sold while you edit stay sold. Shoppers see the variants by position."</p>
        </section>
    }
}
