//! The header bell and the notifications page. Both are islands over one inbox per page ([`shared`]): the bell
//! reads it on a timer, and marking a notification read in either reads it again, so the two always agree.

use super::{notifications, Inbox, MarkNotificationsRead, Notification};
use crate::{
    notices::{ErrorView, SignInPrompt},
    page::{shared, Fields},
};
use leptos::prelude::*;
use leptos_meta::Title;
use server_fn::ServerFn;

/// How often an open page asks for new notifications.
#[cfg(feature = "hydrate")]
const POLL_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads the inbox from the server into this page's shared copy.
fn reread_inbox() {
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(async {
        if let Ok(inbox) = notifications().await {
            shared::<Inbox>().set(Some(inbox));
        }
    });
}

/// "Mark read", after which the inbox is read again.
fn mark_read_action() -> ServerAction<MarkNotificationsRead> {
    let mark = ServerAction::<MarkNotificationsRead>::new();
    Effect::new(move |_| {
        if mark.value().get().is_some() {
            reread_inbox();
        }
    });
    mark
}

fn notification_item(item: Notification, mark: ServerAction<MarkNotificationsRead>) -> impl IntoView {
    let id = item.id;
    let href = item.href.clone();
    view! {
        <li class=if item.read { "notification" } else { "notification unread" } data-kind=item.kind.clone()>
            <p>
                {match href {
                    Some(href) => view! { <a href=href>{item.message.clone()}</a> }.into_any(),
                    None => view! { <span>{item.message.clone()}</span> }.into_any(),
                }}
            </p>
            <small>{item.shown_at.clone()}</small>
            {(!item.read).then(|| view! {
                <button type="button" class="link small" on:click=move |_| { mark.dispatch(MarkNotificationsRead { id }); }>
                    "Mark read"
                </button>
            })}
        </li>
    }
}

/// The bell in the header: the unread count, and the latest notifications when opened. The server renders it
/// empty; the browser reads the inbox as the page opens and every ten seconds after.
#[cfg_attr(any(feature = "ssr", feature = "account"), island)]
#[cfg_attr(not(any(feature = "ssr", feature = "account")), component)]
pub fn NotificationBell() -> impl IntoView {
    let inbox = shared::<Inbox>();
    let mark = mark_read_action();
    reread_inbox();
    #[cfg(feature = "hydrate")]
    {
        if let Ok(handle) = set_interval_with_handle(reread_inbox, POLL_EVERY) {
            on_cleanup(move || handle.clear());
        }
    }
    let current = move || inbox.get().unwrap_or_default();
    let unread = move || current().unread;
    view! {
        <details class="bell">
            <summary aria-label=move || format!("Notifications: {} unread", unread()) data-testid="notification-bell">
                <svg class="icon" aria-hidden="true" viewBox="0 0 24 24" width="18" height="18">
                    <path fill="currentColor" d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1z" />
                </svg>
                {move || (unread() > 0).then(|| view! { <span class="bell-count" data-testid="notification-count">{unread()}</span> })}
            </summary>
            <div class="bell-panel">
                {move || {
                    let items = current().items;
                    if items.is_empty() {
                        view! { <p class="empty">"Nothing new."</p> }.into_any()
                    } else {
                        view! {
                            <ul class="notifications">
                                {items.into_iter().take(8).map(|item| notification_item(item, mark)).collect_view()}
                            </ul>
                        }.into_any()
                    }
                }}
                <p class="bell-actions">
                    {move || (unread() > 0).then(|| view! {
                        <button type="button" class="link small" on:click=move |_| { mark.dispatch(MarkNotificationsRead { id: 0 }); }>
                            "Mark all read"
                        </button>
                    })}
                    <a href="/notifications">"All notifications"</a>
                </p>
            </div>
        </details>
    }
}

/// Every recent notification of the signed-in user.
#[component]
pub fn NotificationsPage() -> impl IntoView {
    let inbox = Resource::new(|| (), |_| notifications());
    let user = crate::auth::use_user();
    view! {
        <Title text="Notifications" />
        <h1>"Notifications"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let inbox = inbox.await;
                match (inbox, user.get()) {
                    (_, None) => view! { <SignInPrompt return_to="/notifications" purpose="to see your notifications." /> }.into_any(),
                    (Ok(inbox), Some(_)) => view! { <NotificationList inbox /> }.into_any(),
                    (Err(error), Some(_)) => view! { <ErrorView error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The notifications page's list, with "mark read" on each and for all.
#[cfg_attr(any(feature = "ssr", feature = "account"), island)]
#[cfg_attr(not(any(feature = "ssr", feature = "account")), component)]
fn NotificationList(inbox: Inbox) -> impl IntoView {
    let latest = shared::<Inbox>();
    let mark = mark_read_action();
    move || {
        let inbox = latest.get().unwrap_or_else(|| inbox.clone());
        if inbox.items.is_empty() {
            return view! {
                <p class="empty">"No notifications yet. Items in your cart that drop in price or come back in stock show up here."</p>
            }
            .into_any();
        }
        view! {
            {(inbox.unread > 0).then(|| view! {
                <form method="post" action=MarkNotificationsRead::url() on:submit=move |event| {
                    Fields::submitted(&event);
                    mark.dispatch(MarkNotificationsRead { id: 0 });
                }>
                    <input type="hidden" name="id" value="0" />
                    <button type="submit" class="button small">"Mark all read"</button>
                </form>
            })}
            <ul class="notifications page">
                {inbox.items.into_iter().map(|item| notification_item(item, mark)).collect_view()}
            </ul>
        }
        .into_any()
    }
}
