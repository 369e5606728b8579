//! `/account/tokens`: the signed-in person's API tokens, a form to create one and a button to revoke each. All
//! plain HTML forms posting to server functions (no island, no script): the browser comes back to this page,
//! which shows a new token's secret once (the session holds it for that one page view).

use super::{load_token_page, ApiToken, Scope, TokenPage, MAX_DAYS};
use crate::notices::{ErrorView, FormRefusal};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AccountTokensPage() -> impl IntoView {
    let page = Resource::new(|| (), |_| load_token_page());
    view! {
        <Title text="API tokens" />
        <h1>"API tokens"</h1>
        <FormRefusal />
        <p class="hint">
            "A token lets a program use the shop's GraphQL API (" <code>"/graphql"</code>
            ") as you: send it as " <code>"Authorization: Bearer <token>"</code>
            ". Read tokens only read; write tokens also fill your cart, check out and pay. Revoke one the moment you no longer need it."
        </p>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(page) => view! { <TokenBody page /> }.into_any(),
                    Err(error) => view! { <ErrorView error sign_in=("/account/tokens", "to manage your API tokens.") /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn TokenBody(page: TokenPage) -> impl IntoView {
    let TokenPage { tokens, created, is_admin } = page;
    let created = created.map(|created| {
        view! {
            <div class="notice success" role="status" data-testid="new-token">
                <p>{format!("Your new token \u{201c}{}\u{201d}. Copy it now: it is not shown again.", created.token.name)}</p>
                <p><code class="secret">{created.secret}</code></p>
            </div>
        }
    });
    let scopes = Scope::ALL
        .into_iter()
        .filter(|scope| *scope != Scope::Admin || is_admin)
        .map(|scope| view! { <option value=scope.as_str() selected=scope == Scope::Read>{scope.as_str()}</option> })
        .collect_view();
    view! {
        {created}
        <form method="post" action="/api/api_token_create_form" class="admin-form token-form">
            <label>"Name " <input name="name" required maxlength="80" placeholder="e.g. my phone" /></label>
            <label>"Scope " <select name="scope">{scopes}</select></label>
            <label>"Days " <input name="days" type="number" min="1" max=MAX_DAYS value="30" required /></label>
            <button type="submit">"Create a token"</button>
        </form>
        {if tokens.is_empty() {
            view! { <p class="empty">"No tokens yet."</p> }.into_any()
        } else {
            view! { <TokenTable tokens /> }.into_any()
        }}
    }
}

#[component]
fn TokenTable(tokens: Vec<ApiToken>) -> impl IntoView {
    let rows = tokens
        .into_iter()
        .map(|token| {
            let revoke = (!token.revoked).then(|| {
                view! {
                    <form method="post" action="/api/api_token_revoke" class="inline">
                        <input type="hidden" name="id" value=token.id.to_string() />
                        <button type="submit" class="link">"Revoke"</button>
                    </form>
                }
            });
            view! {
                <tr>
                    <th scope="row">{token.name}</th>
                    <td>{token.scope.as_str()}</td>
                    <td><code>{format!("{}\u{2026}", token.hint)}</code></td>
                    <td>{token.created_at}</td>
                    <td>{token.expires_at}</td>
                    <td>{token.last_used_at.unwrap_or_else(|| "never".into())}</td>
                    <td>{if token.revoked { "revoked or expired" } else { "live" }}</td>
                    <td>{revoke}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="admin-table" data-testid="tokens">
            <thead>
                <tr>
                    <th scope="col">"Name"</th><th scope="col">"Scope"</th><th scope="col">"Starts with"</th>
                    <th scope="col">"Created"</th><th scope="col">"Expires"</th><th scope="col">"Last used"</th>
                    <th scope="col">"State"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
