//! `/admin/webhooks` (the endpoints and a form to register one) and `/admin/webhooks/:id` (one endpoint: its
//! signing secret, its deliveries with every attempt, replay, on/off, delete). Plain HTML forms posting to server
//! functions: no script, nothing added to the back office's bundle.

use super::{admin_webhook, admin_webhooks, Delivery, Endpoint, EndpointPage, WebhookEvent};
use crate::{
    back_office::{refusal, AdminNav},
    notices::FormRefusal,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_params_map};

#[component]
pub fn AdminWebhooksPage() -> impl IntoView {
    let endpoints = Resource::new(|| (), |_| admin_webhooks());
    let events = WebhookEvent::ALL
        .into_iter()
        .map(|event| {
            view! {
                <label class="check">
                    <input type="checkbox" name=format!("events[{}]", event.as_str()) />
                    " " <code>{event.as_str()}</code>
                </label>
            }
        })
        .collect_view();
    view! {
        <Title text="Webhooks · Admin" />
        <AdminNav />
        <h1>"Webhooks"</h1>
        <FormRefusal />
        <p class="hint">
            "Each event is posted as JSON to every endpoint that asked for it, signed with the endpoint's secret (the "
            <code>"Cartograph-Signature"</code> " header; the README shows how to check it). A failed delivery is retried "
            "with growing waits; an endpoint that keeps failing is turned off."
        </p>
        <form method="post" action="/api/admin_webhook_create" class="admin-form webhook-form">
            <label>"URL " <input name="url" type="url" required maxlength="2000" placeholder="https://example.com/hooks/cartograph" /></label>
            <label>"Description " <input name="description" maxlength="200" placeholder="e.g. the warehouse" /></label>
            <fieldset>
                <legend>"Events"</legend>
                {events}
            </fieldset>
            <button type="submit">"Add the endpoint"</button>
        </form>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match endpoints.await {
                    Ok(list) if list.is_empty() => view! { <p class="empty">"No endpoints yet."</p> }.into_any(),
                    Ok(list) => view! { <EndpointTable list /> }.into_any(),
                    Err(error) => refusal(error, "/admin/webhooks"),
                }
            })}
        </Transition>
    }
}

#[component]
fn EndpointTable(list: Vec<Endpoint>) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|endpoint| {
            view! {
                <tr>
                    <th scope="row"><A href=format!("/admin/webhooks/{}", endpoint.id)>{endpoint.url}</A></th>
                    <td>{endpoint.description}</td>
                    <td>{endpoint.events.join(", ")}</td>
                    <td><EndpointState endpoint_enabled=endpoint.enabled reason=endpoint.disabled_reason /></td>
                    <td class="num">{endpoint.pending}</td>
                    <td class="num">{endpoint.failed}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="admin-table" data-testid="webhooks">
            <thead>
                <tr>
                    <th scope="col">"URL"</th><th scope="col">"Description"</th><th scope="col">"Events"</th>
                    <th scope="col">"State"</th><th scope="col">"Waiting"</th><th scope="col">"Gave up"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

#[component]
fn EndpointState(endpoint_enabled: bool, reason: Option<String>) -> impl IntoView {
    if endpoint_enabled {
        view! { <span class="badge">"on"</span> }.into_any()
    } else {
        view! { <span class="badge warn">{format!("off: {}", reason.unwrap_or_default())}</span> }.into_any()
    }
}

#[component]
pub fn AdminWebhookPage() -> impl IntoView {
    let params = use_params_map();
    let page = Resource::new(
        move || params.read().get("id").and_then(|raw| raw.parse::<uuid::Uuid>().ok()),
        |id| async move {
            match id {
                Some(id) => admin_webhook(id).await,
                None => Err(crate::error::AppError::NotFound),
            }
        },
    );
    view! {
        <Title text="Webhook · Admin" />
        <AdminNav />
        <p><A href="/admin/webhooks">"← All endpoints"</A></p>
        <FormRefusal />
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(page) => view! { <EndpointBody page /> }.into_any(),
                    Err(error) => refusal(error, "/admin/webhooks"),
                }
            })}
        </Transition>
    }
}

#[component]
fn EndpointBody(page: EndpointPage) -> impl IntoView {
    let EndpointPage { endpoint, secret, deliveries } = page;
    let id = endpoint.id.to_string();
    let toggle = if endpoint.enabled { ("false", "Turn off") } else { ("true", "Turn on") };
    view! {
        <h1>"Webhook endpoint"</h1>
        <dl class="facts" data-testid="webhook-endpoint">
            <dt>"URL"</dt><dd><code>{endpoint.url}</code></dd>
            <dt>"Description"</dt><dd>{endpoint.description}</dd>
            <dt>"Events"</dt><dd>{endpoint.events.join(", ")}</dd>
            <dt>"State"</dt>
            <dd data-testid="webhook-state">
                <EndpointState endpoint_enabled=endpoint.enabled reason=endpoint.disabled_reason />
                {format!(" ({} failed attempts in a row)", endpoint.failures_in_a_row)}
            </dd>
            <dt>"Signing secret"</dt>
            <dd><details><summary>"Show"</summary><code class="secret" data-testid="webhook-secret">{secret}</code></details></dd>
        </dl>
        <div class="admin-actions">
            <form method="post" action="/api/admin_webhook_enable" class="inline">
                <input type="hidden" name="id" value=id.clone() />
                <input type="hidden" name="enabled" value=toggle.0 />
                <button type="submit">{toggle.1}</button>
            </form>
            <form method="post" action="/api/admin_webhook_rotate" class="inline">
                <input type="hidden" name="id" value=id.clone() />
                <button type="submit">"Rotate the secret"</button>
            </form>
            <form method="post" action="/api/admin_webhook_delete" class="inline">
                <input type="hidden" name="id" value=id />
                <button type="submit">"Delete the endpoint"</button>
            </form>
        </div>
        <h2>"Deliveries"</h2>
        {if deliveries.is_empty() {
            view! { <p class="empty">"Nothing sent yet."</p> }.into_any()
        } else {
            view! { <DeliveryTable deliveries /> }.into_any()
        }}
    }
}

#[component]
fn DeliveryTable(deliveries: Vec<Delivery>) -> impl IntoView {
    let rows = deliveries
        .into_iter()
        .map(|delivery| {
            let attempts = delivery
                .attempts
                .into_iter()
                .map(|attempt| {
                    let outcome = match (attempt.status_code, attempt.error) {
                        (Some(status), None) => format!("HTTP {status}"),
                        (Some(status), Some(error)) => format!("HTTP {status}: {error}"),
                        (None, error) => error.unwrap_or_else(|| "no answer".into()),
                    };
                    view! { <li>{format!("{} · {} · {} ms", attempt.at, outcome, attempt.latency_ms)}</li> }
                })
                .collect_view();
            let replay = (delivery.state != "pending").then(|| {
                view! {
                    <form method="post" action="/api/admin_webhook_replay" class="inline">
                        <input type="hidden" name="delivery" value=delivery.id.to_string() />
                        <button type="submit" class="link">"Replay"</button>
                    </form>
                }
            });
            let state = match delivery.next_attempt_at {
                Some(next) => format!("pending (next {next})"),
                None => delivery.state,
            };
            view! {
                <tr data-delivery=delivery.id.to_string() data-event-id=delivery.event_id.to_string()>
                    <td><code>{delivery.event}</code></td>
                    <td>{delivery.created_at}</td>
                    <td data-testid="delivery-state">{state}</td>
                    <td><ol class="attempts">{attempts}</ol></td>
                    <td>{replay}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="admin-table" data-testid="deliveries">
            <thead>
                <tr>
                    <th scope="col">"Event"</th><th scope="col">"Created"</th><th scope="col">"State"</th>
                    <th scope="col">"Attempts"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
