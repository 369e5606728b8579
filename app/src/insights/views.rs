//! `/admin/insights`: rendered on the server, charts included (SVG with a title and the table behind it), so it
//! reads without script. Every number links to the visits behind it on `/admin/visits`.

use super::{
    load_insights, rating, AbandonedCart, DayRange, Flow, Funnel, Insights, PageTrouble, PageVitals, SearchOutcome,
    SlotPerformance, Stage, TopPath, PATH_PAGES,
};
use crate::{back_office::AdminNav, encode_query_value, notices::ErrorView};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// The insights for the range in the URL (`?from=2026-12-01&to=2026-12-07`; the last seven days without one).
#[component]
pub fn AdminInsightsPage() -> impl IntoView {
    let query = use_query_map();
    let range = Memo::new(move |_| {
        let map = query.read();
        (map.get("from").unwrap_or_default(), map.get("to").unwrap_or_default())
    });
    let loaded = Resource::new(move || range.get(), |(from, to)| load_insights(from, to));
    view! {
        <Title text="Insights" />
        <AdminNav />
        <h1>"Insights"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match loaded.await {
                    Ok(insights) => view! { <InsightsBody insights /> }.into_any(),
                    Err(error) => view! { <ErrorView error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn InsightsBody(insights: Insights) -> impl IntoView {
    let Insights { range, funnel, flow, paths, trouble, vitals, no_results, no_click, slots, abandoned } = insights;
    view! {
        <form method="get" action="/admin/insights" class="admin-toolbar insights-range">
            <label>"From " <input type="date" name="from" value=range.from.to_string() /></label>
            <label>"To " <input type="date" name="to" value=range.to.to_string() /></label>
            <button type="submit">"Show"</button>
            <a href=format!("/admin/insights.pdf?{}", range.query()) download="">"Download as PDF"</a>
        </form>
        <FunnelSection funnel range />
        <PathsSection flow paths range />
        <TroubleSection trouble range />
        <VitalsSection vitals />
        <SearchSection
            id="search-none"
            title="Searches that found nothing"
            empty="Every search found something."
            column="Found nothing"
            rows=no_results
            range
        />
        <SearchSection
            id="search-no-click"
            title="Searches that led to no product"
            empty="Every search that found products led to one."
            column="No product viewed"
            rows=no_click
            range
        />
        <SlotsSection slots range />
        <AbandonedSection abandoned range />
    }
}

/// A table with `headings` over `rows`, or the sentence `empty` when there are none.
fn table_or(empty: &'static str, test_id: &'static str, headings: &[&'static str], rows: Vec<AnyView>) -> AnyView {
    if rows.is_empty() {
        return view! { <p class="empty">{empty}</p> }.into_any();
    }
    let headings = headings.iter().map(|heading| view! { <th scope="col">{*heading}</th> }).collect_view();
    view! {
        <table class="admin-table insight-table" data-testid=test_id>
            <thead><tr>{headings}</tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

/// `/admin/visits` filtered to `filter` within the range.
fn visits_link(range: DayRange, filter: &str) -> String {
    format!("/admin/visits?{}&{filter}", range.query())
}

#[component]
fn FunnelSection(funnel: Funnel, range: DayRange) -> impl IntoView {
    let top = funnel.reached.first().copied().unwrap_or(0).max(1) as f64;
    let (width, bar_height, gap, label_width) = (640.0, 28.0, 10.0, 150.0);
    let height = Stage::ALL.len() as f64 * (bar_height + gap);
    let bars = Stage::ALL
        .iter()
        .zip(&funnel.reached)
        .enumerate()
        .map(|(n, (stage, reached))| {
            let y = n as f64 * (bar_height + gap);
            let bar = ((width - label_width - 60.0) * *reached as f64 / top).max(2.0);
            view! {
                <text x="0" y=y + 19.0 class="chart-label">{stage.label()}</text>
                <rect x=label_width y=y width=bar height=bar_height rx="4" class=format!("funnel-bar stage-{}", stage.as_str()) />
                <text x=label_width + bar + 8.0 y=y + 19.0 class="chart-value">{reached.to_string()}</text>
            }
        })
        .collect_view();
    let rows = Stage::ALL
        .iter()
        .zip(&funnel.reached)
        .enumerate()
        .map(|(n, (stage, reached))| {
            let conversion = funnel.conversion_pct(n).map_or("–".to_string(), |pct| format!("{pct:.1}%"));
            let dropped = n.checked_sub(1).and_then(|before| funnel.reached.get(before)).map(|before| before - reached);
            view! {
                <tr data-stage=stage.as_str()>
                    <th scope="row">{stage.label()}</th>
                    <td><a href=visits_link(range, &format!("reached={}", stage.as_str()))>{reached.to_string()}</a></td>
                    <td>{conversion}</td>
                    <td>{dropped.map(|dropped| dropped.to_string()).unwrap_or_else(|| "–".into())}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="insight" aria-labelledby="funnel-heading">
            <h2 id="funnel-heading">"Funnel"</h2>
            <p class="insight-note">"Visits that started in the range, by how far they got; a visit that paid also browsed, viewed a product, added to its cart and began checkout."</p>
            <svg class="chart" role="img" aria-labelledby="funnel-title" viewBox=format!("0 0 {width} {height}") width="100%">
                <title id="funnel-title">"Funnel: visits reaching each stage"</title>
                {bars}
            </svg>
            <table class="admin-table insight-table" data-testid="funnel">
                <thead><tr><th scope="col">"Stage"</th><th scope="col">"Visits"</th><th scope="col">"From the stage before"</th><th scope="col">"Dropped off"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
}

/// The top paths: a flow diagram of the visits' first pages (a column per step, a band per move as wide as the
/// visits that made it), and the paths most made, each linking to its visits.
#[component]
fn PathsSection(flow: Flow, paths: Vec<TopPath>, range: DayRange) -> impl IntoView {
    let (width, height) = (960.0, 340.0);
    let layout = flow.layout(width, height);
    let bands = layout
        .bands
        .iter()
        .map(|band| {
            view! {
                <path d=band.svg_path() stroke-width=format!("{:.1}", band.thickness) class="flow-band">
                    <title>{band.title.clone()}</title>
                </path>
            }
        })
        .collect_view();
    // The nodes are not links: the chart is one image to assistive technology, and the table below it holds
    // the numbers that lead to their visits.
    let nodes = layout
        .nodes
        .iter()
        .map(|node| {
            let anchor = if node.label_at_end { "end" } else { "start" };
            let middle = node.y + node.height / 2.0 + 4.0;
            view! {
                <rect x=node.x y=node.y width=node.width height=node.height class=format!("flow-node step-{}", node.column) />
                <text x=node.label_x y=middle text-anchor=anchor class="flow-label">{node.label.clone()}</text>
            }
        })
        .collect_view();
    let diagram = (!flow.is_empty()).then(|| {
        view! {
            <svg class="chart flow" role="img" aria-labelledby="paths-title" viewBox=format!("-2 -2 {} {}", width + 4.0, height + 4.0) width="100%">
                <title id="paths-title">{format!("Top paths: how visits moved through their first {PATH_PAGES} pages")}</title>
                <g class="flow-bands">{bands}</g>
                {nodes}
            </svg>
        }
    });
    let total: i64 = flow.columns.first().map_or(0, |column| column.iter().map(|node| node.visits).sum());
    let rows = paths
        .iter()
        .map(|path| {
            let share =
                if total > 0 { format!("{:.1}%", 100.0 * path.visits as f64 / total as f64) } else { "–".into() };
            let href = visits_link(range, &format!("path={}", encode_query_value(&path.filter())));
            view! {
                <tr>
                    <th scope="row">{path.label()}</th>
                    <td><a href=href>{path.visits.to_string()}</a></td>
                    <td>{share}</td>
                </tr>
            }
            .into_any()
        })
        .collect();
    view! {
        <section class="insight" aria-labelledby="paths-heading">
            <h2 id="paths-heading">"Top paths"</h2>
            <p class="insight-note">{format!("The first {PATH_PAGES} pages of each visit (a page shown again straight after itself is one step). A column per step; a band's width is the visits that went that way; what leaves a page by no band ended the visit there.")}</p>
            {diagram}
            {table_or("No visit in this range viewed a page.", "paths", &["Path", "Visits", "Share of visits"], rows)}
        </section>
    }
}

/// Each slot of recommendations: how often it was shown and clicked, and the paid orders it led to.
#[component]
fn SlotsSection(slots: Vec<SlotPerformance>, range: DayRange) -> impl IntoView {
    let rows = slots
        .iter()
        .map(|row| {
            let slot = row.slot.as_str();
            let link = |filter: &str, n: i64| {
                view! { <a href=visits_link(range, &format!("rec={slot}&{filter}"))>{n.to_string()}</a> }
            };
            let ctr = row.click_through_pct().map_or("–".to_string(), |pct| format!("{pct:.1}%"));
            view! {
                <tr data-slot=slot>
                    <th scope="row">{row.slot.heading()}</th>
                    <td>{link("signal=rec_impression", row.impressions)}</td>
                    <td>{link("signal=click", row.clicks)}</td>
                    <td>{ctr}</td>
                    <td>{link("signal=product_view&reached=paid", row.orders)}</td>
                    <td>{row.revenue_text()}</td>
                </tr>
            }
            .into_any()
        })
        .collect();
    let headings = ["Slot", "Shown", "Clicks", "Click-through", "Paid orders", "Revenue"];
    view! {
        <section class="insight" aria-labelledby="slots-heading">
            <h2 id="slots-heading">"Recommendations"</h2>
            <p class="insight-note">"A slot is shown when a page displays it; a paid order counts for a slot when the visit that paid had opened one of its products from it, and the revenue is what those lines cost."</p>
            {table_or("No slot of recommendations.", "slots", &headings, rows)}
        </section>
    }
}

#[component]
fn TroubleSection(trouble: Vec<PageTrouble>, range: DayRange) -> impl IntoView {
    let count = move |page: &str, signal: &str, n: i64| {
        let href = visits_link(range, &format!("page={}&signal={signal}", encode_query_value(page)));
        view! { <td><a href=href>{n.to_string()}</a></td> }
    };
    let rows = trouble
        .iter()
        .map(|row| {
            view! {
                <tr>
                    <th scope="row">{row.page.clone()}</th>
                    {count(&row.page, "rage_click", row.rage_clicks)}
                    {count(&row.page, "dead_click", row.dead_clicks)}
                    {count(&row.page, "quick_back", row.quick_backs)}
                    {count(&row.page, "error", row.errors)}
                    <td>{row.page_views.to_string()}</td>
                </tr>
            }
            .into_any()
        })
        .collect();
    let headings = ["Page", "Rage clicks", "Dead clicks", "Quick backs", "Errors", "Page views"];
    view! {
        <section class="insight" aria-labelledby="trouble-heading">
            <h2 id="trouble-heading">"Where shoppers struggle"</h2>
            {table_or("No rage clicks, dead clicks, quick backs or errors in this range.", "trouble", &headings, rows)}
        </section>
    }
}

#[component]
fn VitalsSection(vitals: Vec<PageVitals>) -> impl IntoView {
    let cell = |metric: &'static str, value: Option<i64>| match value {
        None => view! { <td>"–"</td> }.into_any(),
        Some(value) => {
            let shown = if metric == "cls" { format!("{:.2}", value as f64 / 1000.0) } else { format!("{value} ms") };
            let rating = rating(metric, value);
            view! { <td class=format!("vital {}", rating.replace(' ', "-"))>{shown}" "<small>{rating}</small></td> }
                .into_any()
        }
    };
    let rows = vitals
        .iter()
        .map(|row| {
            view! {
                <tr>
                    <th scope="row">{row.page.clone()}</th>
                    {cell("lcp", row.lcp_ms)}
                    {cell("cls", row.cls_milli)}
                    {cell("inp", row.inp_ms)}
                    <td>{row.samples.to_string()}</td>
                </tr>
            }
            .into_any()
        })
        .collect();
    let headings = ["Page", "LCP", "CLS", "INP", "Page views measured"];
    view! {
        <section class="insight" aria-labelledby="vitals-heading">
            <h2 id="vitals-heading">"Web Vitals (75th percentile)"</h2>
            {table_or("No page reported its Web Vitals in this range.", "vitals", &headings, rows)}
        </section>
    }
}

#[component]
fn SearchSection(
    /// The heading's id, and the table's test id.
    id: &'static str,
    title: &'static str,
    empty: &'static str,
    column: &'static str,
    rows: Vec<SearchOutcome>,
    range: DayRange,
) -> impl IntoView {
    let lines: Vec<AnyView> = rows
        .iter()
        .map(|row| {
            let href = visits_link(range, &format!("search={}", encode_query_value(&row.query)));
            view! {
                <tr>
                    <th scope="row">{row.query.clone()}</th>
                    <td><a href=href>{row.count.to_string()}</a></td>
                    <td>{row.searches.to_string()}</td>
                </tr>
            }
            .into_any()
        })
        .collect();
    view! {
        <section class="insight" aria-labelledby=id>
            <h2 id=id>{title}</h2>
            {table_or(empty, id, &["Query", column, "Searches"], lines)}
        </section>
    }
}

#[component]
fn AbandonedSection(abandoned: Vec<AbandonedCart>, range: DayRange) -> impl IntoView {
    let rows = abandoned
        .iter()
        .map(|cart| {
            view! {
                <tr>
                    <td>{cart.started_at.clone()}</td>
                    <td>{cart.shopper.clone().unwrap_or_else(|| "Anonymous".into())}</td>
                    <td>{cart.cart_adds.to_string()}</td>
                    <td>{cart.last_page.clone().unwrap_or_else(|| "–".into())}</td>
                    <td><a href=format!("/journeys/{}.pdf", cart.visit_id)>"Journey (PDF)"</a></td>
                </tr>
            }
            .into_any()
        })
        .collect();
    let every = (!abandoned.is_empty()).then(|| {
        view! { <p><a href=visits_link(range, "outcome=abandoned%20cart")>"Every abandoned cart in this range"</a></p> }
    });
    let headings = ["Started", "Shopper", "Cart adds", "Last page", "Journey"];
    view! {
        <section class="insight" aria-labelledby="abandoned-heading">
            <h2 id="abandoned-heading">"Carts left unpaid"</h2>
            {table_or("No visit in this range added to its cart and left without paying.", "abandoned", &headings, rows)}
            {every}
        </section>
    }
}
