//! Discount lines as the checkout and the order pages show them, and the back office's promotions:
//! `/admin/promotions` (each with its uses) and `/admin/promotions/new` or `/:id` (one promotion's form). Plain HTML
//! forms posting to server functions: no script, nothing added to any bundle.

use super::{admin_promotion, admin_promotions, Discount, ManagedPromotion, Promotion, Reduction, Target};
use crate::{
    back_office::{refusal, AdminNav},
    money::{format_price, plain_amount},
    notices::FormRefusal,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::A,
    hooks::{use_params_map, use_query_map},
};

/// An order's discounts as rows of a three-column table (the order page).
pub fn discount_rows(discounts: &[Discount], currency: &str) -> impl IntoView {
    discounts
        .iter()
        .map(|discount| {
            let amount = format!("−{}", format_price(discount.amount_cents, currency));
            view! { <tr class="discount"><th colspan="2">{discount.title()}</th><td data-testid="discount">{amount}</td></tr> }
        })
        .collect_view()
}

/// A cart's discounts as items of the checkout's summary.
pub fn discount_items(discounts: &[Discount], currency: &str) -> impl IntoView {
    discounts
        .iter()
        .map(|discount| {
            let amount = format!("−{}", format_price(discount.amount_cents, currency));
            view! { <li class="discount">{discount.title()}<span data-testid="discount">{amount}</span></li> }
        })
        .collect_view()
}

/// Every promotion with its uses, and the way to a new one.
#[component]
pub fn AdminPromotionsPage() -> impl IntoView {
    let list = Resource::new(|| (), |_| admin_promotions());
    let saved = use_query_map()
        .read_untracked()
        .get("saved")
        .map(|_| view! { <p class="ok" role="status" data-testid="saved">"Promotion saved."</p> });
    view! {
        <Title text="Promotions · Admin" />
        <AdminNav />
        <h1>"Promotions"</h1>
        {saved}
        <p><A href="/admin/promotions/new">"New promotion"</A></p>
        <p class="hint">
            "A promotion with a code applies once a shopper enters the code (in any case); one without applies by itself. "
            "They stack: line promotions first, then order promotions, each in the order they were created and each on "
            "what is left, never below zero. A use counts when the order is paid; an order awaiting payment holds one, "
            "and a cancelled or expired one gives it back."
        </p>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(list) if list.is_empty() => view! { <p class="empty">"No promotions yet."</p> }.into_any(),
                    Ok(list) => view! { <PromotionTable list /> }.into_any(),
                    Err(error) => refusal(error, "/admin/promotions"),
                }
            })}
        </Transition>
    }
}

#[component]
fn PromotionTable(list: Vec<ManagedPromotion>) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|ManagedPromotion { promotion, used, held }| {
            let uses = match promotion.usage_limit {
                Some(limit) => format!("{used} of {limit}"),
                None => used.to_string(),
            };
            let (archived, state) = (promotion.archived, if promotion.archived { "ended" } else { "on" });
            let (what, when, dates) = (promotion.describe(), conditions(&promotion), window(&promotion));
            let href = format!("/admin/promotions/{}", promotion.id);
            let code = promotion.code.unwrap_or_default();
            let shown = if code.is_empty() { "automatic".to_string() } else { code.clone() };
            view! {
                <tr data-code=code>
                    <th scope="row"><A href=href>{promotion.name}</A></th>
                    <td>{shown}</td>
                    <td>{what}</td>
                    <td>{when}</td>
                    <td>{dates}</td>
                    <td class="num" data-testid="uses">{uses}</td>
                    <td class="num">{held}</td>
                    <td><span class="badge" class:warn=archived>{state}</span></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="admin-table" data-testid="promotions">
            <thead>
                <tr>
                    <th scope="col">"Name"</th><th scope="col">"Code"</th><th scope="col">"Takes"</th>
                    <th scope="col">"When"</th><th scope="col">"Dates"</th><th scope="col">"Used (paid)"</th>
                    <th scope="col">"Held (awaiting payment)"</th><th scope="col">"State"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

/// The conditions in words ("always" when there are none).
fn conditions(promotion: &Promotion) -> String {
    let mut parts = Vec::new();
    if promotion.min_subtotal_cents > 0 {
        parts.push(format!("subtotal ≥ {}", format_price(promotion.min_subtotal_cents, &promotion.currency)));
    }
    if !promotion.product_ids.is_empty() {
        let ids = promotion.product_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        parts.push(format!("products {ids}"));
    }
    if !promotion.category_slugs.is_empty() {
        parts.push(format!("categories {}", promotion.category_slugs.join(", ")));
    }
    if promotion.first_order_only {
        parts.push("first order".into());
    }
    if let Some(limit) = promotion.per_customer_limit {
        parts.push(format!("{limit} per customer"));
    }
    if parts.is_empty() {
        "always".into()
    } else {
        parts.join("; ")
    }
}

/// The date window as the form writes it: the first and the last day, inclusive.
fn days(promotion: &Promotion) -> (String, String) {
    let day = |moment: chrono::DateTime<chrono::Utc>| moment.format("%Y-%m-%d").to_string();
    let last = |end: chrono::DateTime<chrono::Utc>| day(end - chrono::Duration::days(1));
    (promotion.starts_at.map(day).unwrap_or_default(), promotion.ends_at.map(last).unwrap_or_default())
}

fn window(promotion: &Promotion) -> String {
    match days(promotion) {
        (start, end) if start.is_empty() && end.is_empty() => "any time".into(),
        (start, end) if end.is_empty() => format!("from {start}"),
        (start, end) if start.is_empty() => format!("until {end}"),
        (start, end) => format!("{start} to {end}"),
    }
}

/// One promotion's form (`/admin/promotions/new` for a new one).
#[component]
pub fn AdminPromotionPage() -> impl IntoView {
    let params = use_params_map();
    let promotion = Resource::new(
        move || params.read().get("id").map(|id| id.parse::<i64>().unwrap_or(-1)).unwrap_or(0),
        |id| async move {
            match id {
                -1 => Err(crate::error::AppError::NotFound),
                id => admin_promotion(id).await,
            }
        },
    );
    view! {
        <Title text="Promotion · Admin" />
        <AdminNav />
        <p><A href="/admin/promotions">"← All promotions"</A></p>
        <FormRefusal />
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match promotion.await {
                    Ok(managed) => view! { <PromotionEditor managed /> }.into_any(),
                    Err(error) => refusal(error, "/admin/promotions"),
                }
            })}
        </Suspense>
    }
}

#[component]
fn PromotionEditor(managed: Option<ManagedPromotion>) -> impl IntoView {
    let heading = managed.as_ref().map(|m| m.promotion.name.clone()).unwrap_or_else(|| "New promotion".into());
    let uses =
        managed.as_ref().map(|m| format!("Used by {} paid orders; held by {} awaiting payment.", m.used, m.held));
    let p = managed.map(|m| m.promotion);
    let field = |name: &str| format!("form[{name}]");
    let text = |value: fn(&Promotion) -> String| p.as_ref().map(value).unwrap_or_default();
    let action = p.as_ref().map(|p| match (p.reduction, p.target) {
        (Reduction::Percent(_), Target::Order) => "percent_order",
        (Reduction::Fixed(_), Target::Order) => "fixed_order",
        (Reduction::Percent(_), Target::Lines) => "percent_lines",
        (Reduction::Fixed(_), Target::Lines) => "fixed_lines",
    });
    let actions = [
        ("percent_order", "A percentage off the order"),
        ("fixed_order", "An amount off the order"),
        ("percent_lines", "A percentage off its products' lines"),
        ("fixed_lines", "An amount off each of its products"),
    ]
    .into_iter()
    .map(|(value, label)| {
        let chosen = action == Some(value);
        view! { <option value=value selected=chosen>{label}</option> }
    })
    .collect_view();
    let (starts, ends) = p.as_ref().map(days).unwrap_or_default();
    let limit = |value: Option<i32>| value.map(|v| v.to_string()).unwrap_or_default();
    let id = p.as_ref().map(|p| p.id).unwrap_or(0).to_string();
    let name = text(|p| p.name.clone());
    let code = text(|p| p.code.clone().unwrap_or_default());
    let amount = text(|p| match p.reduction {
        Reduction::Percent(percent) => percent.to_string(),
        Reduction::Fixed(cents) => plain_amount(cents),
    });
    let min_subtotal =
        text(|p| if p.min_subtotal_cents > 0 { plain_amount(p.min_subtotal_cents) } else { String::new() });
    let products = text(|p| p.product_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", "));
    let categories = text(|p| p.category_slugs.join(", "));
    let first_order = p.as_ref().is_some_and(|p| p.first_order_only);
    let archived = p.as_ref().is_some_and(|p| p.archived);
    let usage_limit = limit(p.as_ref().and_then(|p| p.usage_limit));
    let per_customer_limit = limit(p.as_ref().and_then(|p| p.per_customer_limit));
    view! {
        <h1>{heading}</h1>
        {uses.map(|uses| view! { <p class="hint">{uses}</p> })}
        <form method="post" action="/api/admin_save_promotion" class="admin-form promotion-form">
            <input type="hidden" name=field("id") value=id />
            <label>"Name " <input name=field("name") required maxlength="80" value=name /></label>
            <label>"Code (blank: automatic) " <input name=field("code") maxlength="32" value=code
                placeholder="WELCOME10" autocomplete="off" spellcheck="false" /></label>
            <label>"Takes off " <select name=field("action")>{actions}</select></label>
            <label>"Percentage or amount " <input name=field("amount") required inputmode="decimal" value=amount /></label>
            <label>"Minimum subtotal (blank: none) " <input name=field("min_subtotal") inputmode="decimal" value=min_subtotal /></label>
            <label>"Product ids, separated by commas " <input name=field("products") value=products /></label>
            <label>"Category slugs, separated by commas " <input name=field("categories") value=categories /></label>
            <label class="check"><input type="checkbox" name=field("first_order") checked=first_order />" A shopper's first order only"</label>
            <label>"First day (UTC, blank: now) " <input type="date" name=field("starts") value=starts /></label>
            <label>"Last day (UTC, blank: no end) " <input type="date" name=field("ends") value=ends /></label>
            <label>"Uses in all (blank: no limit) " <input type="number" min="1" max="1000000" name=field("usage_limit") value=usage_limit /></label>
            <label>"Uses per customer (blank: no limit) " <input type="number" min="1" max="1000" name=field("per_customer_limit") value=per_customer_limit /></label>
            <label class="check"><input type="checkbox" name=field("archived") checked=archived />" Ended (no longer offered)"</label>
            <button type="submit">"Save the promotion"</button>
        </form>
        <p class="hint">"With products or categories, an order promotion needs one of them in the cart; a line promotion takes off only their lines."</p>
    }
}
