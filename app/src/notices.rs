//! What a page shows in place of what it could not show: the "sign in to continue" prompt, and the one view of an
//! error ([`ErrorView`]). Every flow uses them; they depend on no flow.

use crate::{encode_query_value, error::AppError};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

/// "Sign in to continue", returning to `return_to` afterwards.
#[component]
pub fn SignInPrompt(#[prop(into)] return_to: String, #[prop(into)] purpose: String) -> impl IntoView {
    view! {
        <p class="notice">
            <a class="button" rel="external" href=format!("/auth/login?return_to={}", encode_query_value(&return_to))>"Sign in"</a>
            {format!(" {purpose}")}
        </p>
    }
}

/// The one way a page shows what it could not load. During server rendering it sets the page's HTTP status from
/// the error (404, 401, 503…), so a page that failed never answers 200.
///
/// - `sign_in`: where signing in returns to, and what for: "please sign in first" becomes a [`SignInPrompt`];
/// - `missing`: what the page is about ("that order"): any error becomes a "we could not find …" section with
///   the error's words, and `back` a link out of it.
#[component]
pub fn ErrorView(
    error: AppError,
    #[prop(optional)] sign_in: Option<(&'static str, &'static str)>,
    #[prop(optional)] missing: Option<&'static str>,
    #[prop(optional)] back: Option<(&'static str, &'static str)>,
) -> impl IntoView {
    error.set_page_status();
    match (&error, sign_in, missing) {
        (AppError::Unauthorized, Some((return_to, purpose)), _) => {
            view! { <SignInPrompt return_to purpose /> }.into_any()
        }
        (_, _, Some(what)) => view! {
            <Title text="Not found" />
            <section class="not-found">
                <h1>{format!("We could not find {what}")}</h1>
                <p>{error.to_string()}</p>
                {back.map(|(href, label)| view! { <p><A href=href>{label}</A></p> })}
            </section>
        }
        .into_any(),
        _ => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
    }
}

/// What a plain form that failed says on the page it came back to: the server function's redirect carries the
/// error in the URL (`__err`).
#[component]
pub fn FormRefusal() -> impl IntoView {
    leptos_router::hooks::use_query_map()
        .read_untracked()
        .get("__err")
        .map(|raw| server_fn::error::ServerFnUrlError::<AppError>::decode_err(&raw))
        .map(|error| view! { <p class="error" role="alert">{format!("That did not work: {error}")}</p> })
}
