//! The journeys pages.

use super::{admin_visits, format_duration, my_journeys, VisitListItem};
use crate::notices::ErrorView;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::Form, hooks::use_query_map};

fn visit_table(visits: Vec<VisitListItem>, show_shopper: bool) -> impl IntoView {
    view! {
        <table class="journeys-table">
            <thead>
                <tr>
                    <th>"Visit"</th>
                    {show_shopper.then(|| view! { <th>"Shopper"</th> })}
                    <th>"Started"</th><th>"Duration"</th><th>"Pages"</th><th>"Outcome"</th><th><span class="visually-hidden">"Journey"</span></th>
                </tr>
            </thead>
            <tbody>
                {visits.into_iter().map(|visit| {
                    let href = visit.download_href();
                    let status = if visit.closed { "" } else { " (in progress)" };
                    view! {
                        <tr data-visit-id=visit.visit_id.to_string()>
                            <td>{visit.visit_id.to_string()[..8].to_string()}</td>
                            {show_shopper.then(|| view! { <td>{visit.shopper.clone().unwrap_or_else(|| "anonymous".into())}</td> })}
                            <td>{visit.started_at.format("%Y-%m-%d %H:%M UTC").to_string()}</td>
                            <td>{format_duration(visit.duration_secs)}</td>
                            <td>{visit.page_views}</td>
                            <td>{format!("{}{status}", visit.outcome.label())}</td>
                            // Admins get any visit's journey rendered on demand; shoppers only those that have one.
                            <td>{(show_shopper || visit.has_document).then(|| view! {
                                <a class="button small" href=href rel="external" download="">"Download PDF"</a>
                            })}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// "My journeys": every visit of the signed-in shopper with its journey PDF.
#[component]
pub fn JourneysPage() -> impl IntoView {
    let journeys = Resource::new(|| (), |_| my_journeys());
    view! {
        <Title text="My journeys" />
        <h1>"My journeys"</h1>
        <p class="hint"><a href="/account/tokens">"API tokens"</a>" let your own programs use the shop as you."</p>
        <p class="hint">"A map of each visit: the pages you went through, in order, with time spent on each. A visit closes after 30 minutes without activity or when you sign out."</p>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match journeys.await {
                    Ok(list) if list.is_empty() => view! { <p class="empty">"No journeys yet."</p> }.into_any(),
                    Ok(list) => visit_table(list, false).into_any(),
                    Err(error) => view! { <ErrorView error sign_in=("/account/journeys", "to see your journeys.") /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Every visit, for admins, with an outcome filter.
#[component]
pub fn AdminVisitsPage() -> impl IntoView {
    let query = use_query_map();
    let outcome = Memo::new(move |_| query.read().get("outcome").unwrap_or_default());
    // What the insights page links with: the days, the stage, the page and its event, the search, the slot of
    // recommendations, the path.
    const INSIGHT_FILTERS: [&str; 8] = ["from", "to", "reached", "page", "signal", "search", "rec", "path"];
    let filters = Memo::new(move |_| {
        let map = query.read();
        INSIGHT_FILTERS.map(|key| map.get(key).unwrap_or_default())
    });
    let visits = Resource::new(
        move || (outcome.get(), filters.get()),
        |(outcome, [from, to, reached, page, signal, search, rec, path])| {
            admin_visits(super::VisitQuery { outcome, from, to, reached, page, signal, search, rec, path })
        },
    );
    let described = move || {
        let shown: Vec<String> = INSIGHT_FILTERS
            .iter()
            .zip(filters.get())
            .filter(|(_, value)| !value.is_empty())
            .map(|(key, value)| format!("{key}: {value}"))
            .collect();
        (!shown.is_empty()).then(|| {
            view! {
                <p class="insight-note" data-testid="visit-filters">
                    {format!("Only visits matching {} (bots left out). ", shown.join(", "))}
                    <a href="/admin/visits">"Show every visit"</a>
                </p>
            }
        })
    };
    view! {
        <Title text="Visits" />
        <h1>"Visits"</h1>
        {described}
        <Form method="GET" action="/admin/visits">
            <label class="inline-label">"Outcome "
                <select name="outcome">
                    {std::iter::once("").chain(super::VisitOutcome::ALL.map(super::VisitOutcome::label)).map(|value| view! {
                        <option value=value selected=move || outcome.get() == value>{if value.is_empty() { "All" } else { value }}</option>
                    }).collect_view()}
                </select>
            </label>
            <button type="submit">"Filter"</button>
        </Form>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match visits.await {
                    Ok(list) if list.is_empty() => view! { <p class="empty">"No visits match."</p> }.into_any(),
                    Ok(list) => visit_table(list, true).into_any(),
                    Err(error) => view! { <ErrorView error /> }.into_any(),
                }
            })}
        </Transition>
    }
}
