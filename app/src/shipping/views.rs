//! The back office's shipping: `/admin/shipping` (every zone with its countries and methods, and a new zone) and
//! `/admin/shipping/:id` (a zone's form, each of its methods' forms and a new method's). Plain HTML forms posting to
//! server functions: no script, nothing added to any bundle.

use super::{admin_shipping, admin_zone, Method, Zone};
use crate::{
    back_office::{refusal, AdminNav},
    money::plain_amount,
    notices::FormRefusal,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::A,
    hooks::{use_params_map, use_query_map},
};

/// "Saved." or "Deleted." after a form came back.
fn outcome() -> impl IntoView {
    let query = use_query_map().read_untracked();
    let said = if query.get("saved").is_some() { Some("Saved.") } else { query.get("deleted").map(|_| "Deleted.") };
    said.map(|said| view! { <p class="ok" role="status" data-testid="saved">{said}</p> })
}

/// Every zone and the way to a new one.
#[component]
pub fn AdminShippingPage() -> impl IntoView {
    let zones = Resource::new(|| (), |_| admin_shipping());
    view! {
        <Title text="Shipping · Admin" />
        <AdminNav />
        <h1>"Shipping"</h1>
        {outcome()}
        <FormRefusal />
        <p class="hint">
            "Checkout offers the active methods of the zone the address's country is in, or those of the zone of "
            "everywhere else; an address in no zone cannot check out and is told where the shop delivers. Shipping is "
            "taxed at the destination's standard rate, included in its price or added to it as the products' are."
        </p>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match zones.await {
                    Ok(zones) if zones.is_empty() => view! { <p class="empty">"No zones: nobody can check out."</p> }.into_any(),
                    Ok(zones) => view! { <ZoneTable zones /> }.into_any(),
                    Err(error) => refusal(error, "/admin/shipping"),
                }
            })}
        </Transition>
        <h2>"New zone"</h2>
        <ZoneEditor zone=None />
    }
}

#[component]
fn ZoneTable(zones: Vec<Zone>) -> impl IntoView {
    let rows = zones
        .into_iter()
        .map(|zone| {
            let countries =
                if zone.everywhere_else { "everywhere else".to_string() } else { zone.countries.join(", ") };
            let methods = zone
                .methods
                .iter()
                .map(|method| {
                    let off = if method.active { "" } else { " (off)" };
                    format!("{}: {}, {}{off}", method.name, method.describe(), method.estimate().to_lowercase())
                })
                .collect::<Vec<_>>()
                .join("; ");
            let (href, name, key) = (format!("/admin/shipping/{}", zone.id), zone.name.clone(), zone.name);
            view! {
                <tr data-zone=key>
                    <th scope="row"><A href=href>{name}</A></th>
                    <td>{countries}</td>
                    <td>{if methods.is_empty() { "none".to_string() } else { methods }}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="admin-table" data-testid="zones">
            <thead><tr><th scope="col">"Zone"</th><th scope="col">"Countries"</th><th scope="col">"Methods"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

/// A zone's form, its methods' forms, a new method's and the zone's deletion.
#[component]
pub fn AdminZonePage() -> impl IntoView {
    let params = use_params_map();
    let zone = Resource::new(
        move || params.read().get("id").and_then(|id| id.parse::<i64>().ok()).unwrap_or(-1),
        |id| async move {
            match id {
                id if id > 0 => admin_zone(id).await,
                _ => Err(crate::error::AppError::NotFound),
            }
        },
    );
    view! {
        <Title text="Shipping zone · Admin" />
        <AdminNav />
        <p><A href="/admin/shipping">"← All zones"</A></p>
        {outcome()}
        <FormRefusal />
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match zone.await {
                    Ok(Some(zone)) => view! { <ZoneSections zone /> }.into_any(),
                    Ok(None) => refusal(crate::error::AppError::NotFound, "/admin/shipping"),
                    Err(error) => refusal(error, "/admin/shipping"),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ZoneSections(zone: Zone) -> impl IntoView {
    let (id, name) = (zone.id, zone.name.clone());
    let methods = zone.methods.clone().into_iter().map(|method| view! { <MethodEditor zone=id method=Some(method) /> });
    view! {
        <h1>{name}</h1>
        <ZoneEditor zone=Some(zone) />
        <h2>"Methods"</h2>
        {methods.collect_view()}
        <h3>"New method"</h3>
        <MethodEditor zone=id method=None />
        <form method="post" action="/api/admin_delete_zone" class="admin-form danger">
            <input type="hidden" name="id" value=id.to_string() />
            <button type="submit" class="secondary">"Delete this zone and its methods"</button>
            <p class="hint">"Placed orders keep the shipping they were charged."</p>
        </form>
    }
}

#[component]
fn ZoneEditor(zone: Option<Zone>) -> impl IntoView {
    let field = |name: &str| format!("form[{name}]");
    let id = zone.as_ref().map_or(0, |zone| zone.id).to_string();
    let name = zone.as_ref().map(|zone| zone.name.clone()).unwrap_or_default();
    let countries = zone.as_ref().map(|zone| zone.countries.join(", ")).unwrap_or_default();
    let everywhere_else = zone.as_ref().is_some_and(|zone| zone.everywhere_else);
    view! {
        <form method="post" action="/api/admin_save_zone" class="admin-form zone-form">
            <input type="hidden" name=field("id") value=id />
            <label>"Name " <input name=field("name") required maxlength="80" value=name /></label>
            <label>"Countries (two-letter codes, separated by commas) " <input name=field("countries") value=countries placeholder="DE, AT" /></label>
            <label class="check"><input type="checkbox" name=field("everywhere_else") checked=everywhere_else />" Everywhere else (every country no other zone names)"</label>
            <button type="submit">"Save the zone"</button>
        </form>
    }
}

#[component]
fn MethodEditor(zone: i64, method: Option<Method>) -> impl IntoView {
    let field = |name: &str| format!("form[{name}]");
    let text = |value: fn(&Method) -> String| method.as_ref().map(value).unwrap_or_default();
    let id = text(|m| m.id.to_string());
    let name = text(|m| m.name.clone());
    let price = text(|m| plain_amount(m.price_cents));
    let per_kg = text(|m| m.per_kg_cents.map(plain_amount).unwrap_or_default());
    let free_over = text(|m| m.free_over_cents.map(plain_amount).unwrap_or_default());
    let min_days = text(|m| m.min_days.to_string());
    let max_days = text(|m| m.max_days.to_string());
    let active = method.as_ref().is_none_or(|m| m.active);
    let label = if method.is_some() { "Save the method" } else { "Add the method" };
    view! {
        <form method="post" action="/api/admin_save_method" class="admin-form method-form">
            <input type="hidden" name=field("id") value=id />
            <input type="hidden" name=field("zone_id") value=zone.to_string() />
            <label>"Name " <input name=field("name") required maxlength="80" value=name placeholder="Standard delivery" /></label>
            <label>"Price (or base) " <input name=field("price") required inputmode="decimal" value=price placeholder="4.90" /></label>
            <label>"Per started kg (blank: a flat rate) " <input name=field("per_kg") inputmode="decimal" value=per_kg /></label>
            <label>"Free from (blank: never) " <input name=field("free_over") inputmode="decimal" value=free_over /></label>
            <label>"Fewest business days " <input type="number" min="0" max="90" name=field("min_days") required value=min_days /></label>
            <label>"Most business days " <input type="number" min="0" max="90" name=field("max_days") required value=max_days /></label>
            <label class="check"><input type="checkbox" name=field("active") checked=active />" Offered at checkout"</label>
            <button type="submit">{label}</button>
        </form>
    }
}
