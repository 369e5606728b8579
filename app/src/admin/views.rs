//! The back-office pages. They render what the server functions allow: a shopper gets "not allowed" and a 403.
//! The server renders them; each form that changes something is an island, which loads the page again (or the
//! next one) once the server has made the change. Those islands are in the back office's own bundle
//! (`frontend/back-office`, feature `back-office`), never in the one every shopper downloads: in the shop's
//! bundle they are plain components, which no page of the shop runs.

use super::{
    admin_order, admin_orders, admin_product, admin_products, admin_users, AdminCancelOrder, DeleteProduct,
    EndUserSessions, ManagedOrder, ManagedProduct, ResetProductImage, SaveProduct, SetProductArchived,
    ORDERS_PAGE_SIZE,
};
use crate::{
    back_office::{refusal, AdminNav},
    catalog::Category,
    error::AppError,
    money::format_price,
    notices::{ErrorView, FormRefusal},
    orders::OrderStatus,
    page::{go_to, reload},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::{Form, A},
    hooks::{use_params_map, use_query_map},
};

fn price_of(product: &ManagedProduct) -> String {
    format_price(product.price_cents, &product.currency)
}

/// Products, searchable, with their stock and state.
#[component]
pub fn AdminProductsPage() -> impl IntoView {
    let query = use_query_map();
    let filters = Memo::new(move |_| {
        let q = query.read();
        (q.get("q").unwrap_or_default(), q.get("show").unwrap_or_else(|| "active".into()))
    });
    let products = Resource::new(move || filters.get(), |(q, show)| admin_products(q, show));
    // Shown with the list only: a refused visitor sees no back-office controls at all.
    let toolbar = move || {
        view! {
            <div class="admin-toolbar">
                <Form method="GET" action="/admin/products">
                    <input type="search" name="q" placeholder="Name or slug" maxlength="100" value=move || filters.get().0 />
                    <select name="show" aria-label="Which products">
                        {[("active", "Active"), ("archived", "Archived"), ("all", "All")].into_iter().map(|(value, label)| view! {
                            <option value=value selected=move || filters.get().1 == value>{label}</option>
                        }).collect_view()}
                    </select>
                    <button type="submit">"Filter"</button>
                </Form>
                <A href="/admin/products/new" attr:class="button">"New product"</A>
            </div>
        }
    };
    view! {
        <Title text="Products · Admin" />
        <AdminNav />
        <h1>"Products"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match products.await {
                    Ok(list) if list.is_empty() => view! { {toolbar()}<p class="empty">"No products match."</p> }.into_any(),
                    Ok(list) => view! {
                        {toolbar()}
                        <table class="admin-table" data-testid="admin-products">
                            <thead><tr><th>"Product"</th><th>"Category"</th><th>"Price"</th><th>"Stock"</th><th>"State"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|p| {
                                    let price = price_of(&p);
                                    view! {
                                    <tr data-product-id=p.id.to_string()>
                                        <td><A href=format!("/admin/products/{}", p.id)>{p.name.clone()}</A><br /><small>{p.slug.clone()}</small></td>
                                        <td>{p.category_slug.clone()}</td>
                                        <td>{price}</td>
                                        <td>{p.stock}</td>
                                        <td>{if p.archived { "archived" } else { "on sale" }}</td>
                                    </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(error) => refusal(error, "/admin/products"),
                }
            })}
        </Transition>
    }
}

/// Creates a product (`/admin/products/new`) or edits one: fields, archive or delete, and its image.
#[component]
pub fn AdminProductPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|raw| raw.parse::<i64>().ok()).unwrap_or(0));
    let product = Resource::new(move || id.get(), admin_product);
    let categories = Resource::new(|| (), |_| crate::catalog::categories());
    let query = use_query_map();
    let notice = move || {
        let q = query.read();
        if let Some(code) = q.get("image_error") {
            let message = super::image_error_message(&code).unwrap_or("The image was not saved.");
            return Some(view! { <p class="error" role="alert">{message}</p> }.into_any());
        }
        q.get("saved").is_some().then(|| view! { <p class="ok" role="status" data-testid="saved">"Saved. Shoppers with it in their cart are told about price drops and restocks."</p> }.into_any())
    };
    view! {
        <Title text="Product · Admin" />
        <AdminNav />
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let categories = categories.await.unwrap_or_default();
                match product.await {
                    Err(error) => refusal(error, "/admin/products"),
                    Ok(product) => view! {
                        <h1>{product.as_ref().map(|p| p.name.clone()).unwrap_or_else(|| "New product".into())}</h1>
                        {notice}
                        <ProductEditor id=id.get_untracked() product=product.clone() categories />
                        {product.as_ref().map(|p| view! {
                            <p class="variants-link"><a href=format!("/admin/products/{}/variants", p.id)>
                                {if p.has_options { "Variants: sizes, colours and their stock" } else { "Add options (sizes, colours…) and variants" }}
                            </a></p>
                        })}
                        {product.map(|product| view! { <ProductActions product /> })}
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The product's fields; once saved, the product's page opens again with "Saved".
#[cfg_attr(any(feature = "ssr", feature = "back-office"), island)]
#[cfg_attr(not(any(feature = "ssr", feature = "back-office")), component)]
fn ProductEditor(id: i64, product: Option<ManagedProduct>, categories: Vec<Category>) -> impl IntoView {
    let save = ServerAction::<SaveProduct>::new();
    Effect::new(move |_| {
        if let Some(Ok(saved)) = save.value().get() {
            go_to(&format!("/admin/products/{saved}?saved=1"));
        }
    });
    let p = product.clone();
    let field = move |get: fn(&ManagedProduct) -> String| p.as_ref().map(get).unwrap_or_default();
    let category = field(|p| p.category_slug.clone());
    let tax_category = field(|p| p.tax_category.clone());
    let stock_was = product.as_ref().map(|p| p.stock).unwrap_or(0);
    let per_variant = product.as_ref().is_some_and(|p| p.has_options);
    view! {
        <ActionForm action=save attr:class="admin-form product-form">
            <input type="hidden" name="form[id]" value=id.to_string() />
            <input type="hidden" name="form[stock_was]" value=stock_was.to_string() />
            <label>"Name"<input name="form[name]" required maxlength="120" value=field(|p| p.name.clone()) /></label>
            <label>"URL slug (blank: from the name)"<input name="form[slug]" maxlength="96" pattern="[a-z0-9-]+" value=field(|p| p.slug.clone()) /></label>
            <label>"Category"
                <select name="form[category_slug]" required>
                    {categories.into_iter().map(|c| {
                        let selected = c.slug == category;
                        view! { <option value=c.slug.clone() selected=selected>{c.name}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label>"Price (EUR)"<input name="form[price]" required inputmode="decimal" value=field(|p| crate::money::plain_amount(p.price_cents)) /></label>
            <label>"VAT"
                <select name="form[tax_category]">
                    {crate::tax::TaxCategory::ALL.into_iter().map(|category| {
                        let selected = category.as_str() == tax_category;
                        view! { <option value=category.as_str() selected=selected>{category.label()}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label>"Weight packed (g)"<input name="form[weight]" type="number" min="0" max="1000000" value=field(|p| p.weight_grams.to_string()) /></label>
            <label>{if per_variant { "Stock (the sum of its variants': change it on the variants page)" } else { "Stock" }}
                <input name="form[stock]" required type="number" min="0" max="1000000" readonly=per_variant value=field(|p| p.stock.to_string()) /></label>
            <label class="wide">"Description"<textarea name="form[description]" rows="5" maxlength="4000">{field(|p| p.description.clone())}</textarea></label>
            <button type="submit" disabled=move || save.pending().get()>"Save"</button>
            {move || save.value().get().and_then(Result::err).map(|error| view! { <ErrorView error /> })}
        </ActionForm>
    }
}

/// Image upload, archive or restore, and delete, for an existing product; each reloads the page it leaves.
#[cfg_attr(any(feature = "ssr", feature = "back-office"), island)]
#[cfg_attr(not(any(feature = "ssr", feature = "back-office")), component)]
fn ProductActions(product: ManagedProduct) -> impl IntoView {
    let archive = ServerAction::<SetProductArchived>::new();
    let delete = ServerAction::<DeleteProduct>::new();
    let reset_image = ServerAction::<ResetProductImage>::new();
    Effect::new(move |_| {
        if matches!(archive.value().get(), Some(Ok(()))) || matches!(reset_image.value().get(), Some(Ok(()))) {
            reload();
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            go_to("/admin/products?deleted=1");
        }
    });
    let id = product.id;
    let image = format!("/images/products/{}?v={}", product.slug, product.updated_at.timestamp());
    let errors = move || {
        [
            archive.value().get().and_then(Result::err),
            delete.value().get().and_then(Result::err),
            reset_image.value().get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        .map(|error| view! { <ErrorView error /> })
        .collect_view()
    };
    view! {
        <section class="admin-image">
            <h2>"Image"</h2>
            <img src=image alt="" width="240" height="180" />
            <form method="post" action=format!("/admin/products/{id}/image") enctype="multipart/form-data" class="admin-form">
                <label>"Upload a PNG, JPEG or WebP (1 MiB at most)"<input type="file" name="image" accept="image/png,image/jpeg,image/webp" required /></label>
                <button type="submit">"Upload"</button>
            </form>
            {product.uploaded_image.then(|| view! {
                <ActionForm action=reset_image>
                    <input type="hidden" name="id" value=id.to_string() />
                    <button type="submit" class="secondary">"Use the generated artwork"</button>
                </ActionForm>
            })}
        </section>
        <section class="admin-danger">
            <h2>"Availability"</h2>
            <ActionForm action=archive>
                <input type="hidden" name="id" value=id.to_string() />
                <input type="hidden" name="archived" value=(!product.archived).to_string() />
                <button type="submit" class="secondary">{if product.archived { "Put back on sale" } else { "Archive (hide from the shop)" }}</button>
            </ActionForm>
            <ActionForm action=delete>
                <input type="hidden" name="id" value=id.to_string() />
                <button type="submit" class="secondary">"Delete"</button>
            </ActionForm>
            <p class="hint">"Only a product that was never ordered can be deleted; archive the others."</p>
            {errors}
        </section>
    }
}

const ORDER_STATES: [OrderStatus; 5] = [
    OrderStatus::PendingPayment,
    OrderStatus::Paid,
    OrderStatus::Fulfilled,
    OrderStatus::Cancelled,
    OrderStatus::Expired,
];

/// Every placed order, filtered by state, a page at a time.
#[component]
pub fn AdminOrdersPage() -> impl IntoView {
    let query = use_query_map();
    let filters = Memo::new(move |_| {
        let q = query.read();
        (q.get("status").unwrap_or_default(), q.get("page").and_then(|p| p.parse::<i64>().ok()).unwrap_or(1).max(1))
    });
    let orders = Resource::new(move || filters.get(), |(status, page)| admin_orders(status, page));
    view! {
        <Title text="Orders · Admin" />
        <AdminNav />
        <h1>"Orders"</h1>
        <Form method="GET" action="/admin/orders">
            <label class="inline-label">"State "
                <select name="status">
                    <option value="" selected=move || filters.get().0.is_empty()>"All"</option>
                    {ORDER_STATES.into_iter().map(|s| view! {
                        <option value=s.as_str() selected=move || filters.get().0 == s.as_str()>{s.label()}</option>
                    }).collect_view()}
                </select>
            </label>
            <button type="submit">"Filter"</button>
        </Form>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let (status, page) = filters.get_untracked();
                match orders.await {
                    Ok(list) if list.is_empty() => view! { <p class="empty">"No orders match."</p> }.into_any(),
                    Ok(list) => {
                        let full = list.len() as i64 == ORDERS_PAGE_SIZE;
                        view! {
                            <table class="admin-table" data-testid="admin-orders">
                                <thead><tr><th>"Order"</th><th>"Shopper"</th><th>"Placed"</th><th>"Items"</th><th>"Total"</th><th>"State"</th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|o| view! {
                                        <tr data-order-id=o.id.to_string()>
                                            <td><A href=format!("/admin/orders/{}", o.id)>{o.id.to_string()[..8].to_string()}</A></td>
                                            <td>{o.shopper}</td>
                                            <td>{o.created_at.format("%Y-%m-%d %H:%M").to_string()}</td>
                                            <td>{o.item_count}</td>
                                            <td>{format_price(o.total_cents, &o.currency)}</td>
                                            <td class=format!("status status-{}", o.status.as_str())>{o.status.label()}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <nav class="pager">
                                {(page > 1).then(|| view! { <A href=format!("/admin/orders?status={status}&page={}", page - 1)>"Newer"</A> })}
                                {full.then(|| view! { <A href=format!("/admin/orders?status={status}&page={}", page + 1)>"Older"</A> })}
                            </nav>
                        }.into_any()
                    }
                    Err(error) => refusal(error, "/admin/orders"),
                }
            })}
        </Transition>
    }
}

/// One order: lines, address, history, payments; ship it or cancel it with a refund.
#[component]
pub fn AdminOrderPage() -> impl IntoView {
    let params = use_params_map();
    let order = Resource::new(
        move || params.read().get("id"),
        |id| async move {
            match id.and_then(|id| uuid::Uuid::parse_str(&id).ok()) {
                Some(id) => admin_order(id).await,
                None => Err(AppError::NotFound),
            }
        },
    );
    view! {
        <Title text="Order · Admin" />
        <AdminNav />
        <FormRefusal />
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match order.await {
                    Ok(order) => view! { <AdminOrderView order /> }.into_any(),
                    Err(error) => refusal(error, "/admin/orders"),
                }
            })}
        </Suspense>
    }
}

#[component]
fn AdminOrderView(order: ManagedOrder) -> impl IntoView {
    let detail = order.detail;
    let summary = detail.summary.clone();
    let id = summary.id;
    let status = summary.status;
    view! {
        <article class="order" data-status=status.as_str()>
            <h1>{format!("Order {}", &id.to_string()[..8])}</h1>
            <p class=format!("status status-{}", status.as_str()) data-testid="order-status">{status.label()}</p>
            <p>{format!("Placed {} by {}", summary.created_at.format("%Y-%m-%d %H:%M UTC"), order.shopper)}
                {order.shopper_email.map(|email| format!(" <{email}>"))}</p>
            <OrderActions id status />
            {(status == OrderStatus::Paid).then(|| ship_form(id, &detail.lines))}
            {crate::orders::views::order_record(detail, |line| format!("/admin/products/{}", line.product_id))}
            {email_list(order.emails)}
        </article>
    }
}

/// The messages sent to the shopper about the order: each one's subject, address, state and attempts.
fn email_list(emails: Vec<super::OrderEmail>) -> Option<impl IntoView> {
    let items = emails
        .into_iter()
        .map(|email| {
            let tries =
                if email.attempts == 1 { "1 attempt".to_string() } else { format!("{} attempts", email.attempts) };
            let error = email.last_error.map(|error| format!(" · last error: {error}"));
            let line = format!(
                "{} · to {} · {} ({tries}){}",
                email.what,
                email.recipient,
                email.status,
                error.unwrap_or_default()
            );
            view! {
                <li data-testid="email" data-status=email.status>
                    <time datetime=email.at.to_rfc3339()>{email.at.format("%Y-%m-%d %H:%M UTC").to_string()}</time>
                    " — "{line}
                </li>
            }
        })
        .collect::<Vec<_>>();
    (!items.is_empty())
        .then(|| view! { <section class="emails"><h2>"Emails to the shopper"</h2><ul>{items}</ul></section> })
}

/// The parcel form of a paid order (a plain form, no script): how many units of each line go in it (all that is
/// left, to begin with), the carrier and the tracking number. The order is fulfilled once everything has shipped.
fn ship_form(id: uuid::Uuid, lines: &[crate::orders::OrderLine]) -> impl IntoView {
    let rows = lines
        .iter()
        .enumerate()
        .filter(|(_, line)| line.quantity > line.shipped)
        .map(|(i, line)| {
            let left = line.quantity - line.shipped;
            let title = line.title();
            view! {
                <label>{format!("{title} ({left} of {} left)", line.quantity)}
                    <input type="hidden" name=format!("lines[{i}][variant_id]") value=line.variant_id.to_string() />
                    <input name=format!("lines[{i}][quantity]") type="number" min="0" max=left.to_string() value=left.to_string()
                        aria-label=format!("Units of {title} in this parcel") />
                </label>
            }
        })
        .collect_view();
    view! {
        <form method="post" action="/api/admin/ship_order" class="admin-form ship-form">
            <h2 class="wide">"Ship a parcel"</h2>
            <input type="hidden" name="order_id" value=id.to_string() />
            {rows}
            <label>"Carrier (optional)"<input name="carrier" maxlength="60" placeholder="DHL" /></label>
            <label>"Tracking number (optional)"<input name="tracking" maxlength="100" /></label>
            <button type="submit">"Ship these units"</button>
        </form>
    }
}

/// "Cancel", as the order's state allows; the page is read again after it.
#[cfg_attr(any(feature = "ssr", feature = "back-office"), island)]
#[cfg_attr(not(any(feature = "ssr", feature = "back-office")), component)]
fn OrderActions(id: uuid::Uuid, status: OrderStatus) -> impl IntoView {
    let cancel = ServerAction::<AdminCancelOrder>::new();
    Effect::new(move |_| {
        if matches!(cancel.value().get(), Some(Ok(_))) {
            reload();
        }
    });
    let errors = move || cancel.value().get().and_then(Result::err).map(|error| view! { <ErrorView error /> });
    view! {
        <div class="admin-actions">
            {status.cancellable().then(|| view! {
                <ActionForm action=cancel>
                    <input type="hidden" name="order_id" value=id.to_string() />
                    <button type="submit" class="secondary" disabled=move || cancel.pending().get()>
                        {if status == OrderStatus::Paid { "Cancel and refund" } else { "Cancel order" }}
                    </button>
                </ActionForm>
            })}
            {errors}
        </div>
    }
}

/// Accounts, searchable; an admin can end every session of one (a lost phone, a demoted colleague).
#[component]
pub fn AdminUsersPage() -> impl IntoView {
    let query = use_query_map();
    let search = Memo::new(move |_| query.read().get("q").unwrap_or_default());
    let users = Resource::new(move || search.get(), admin_users);
    view! {
        <Title text="Users · Admin" />
        <AdminNav />
        <h1>"Users"</h1>
        <Form method="GET" action="/admin/users">
            <input type="search" name="q" placeholder="Name or email" value=move || search.get() />
            <button type="submit">"Search"</button>
        </Form>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Ok(list) if list.is_empty() => view! { <p class="empty">"No users match."</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="admin-table" data-testid="admin-users">
                            <thead><tr><th>"Name"</th><th>"Email"</th><th>"Role"</th><th>"Last sign-in"</th><th>"Sessions"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|user| view! {
                                    <tr data-user-id=user.id.to_string()>
                                        <td>{user.name}</td>
                                        <td>{user.email.unwrap_or_default()}</td>
                                        <td>{if user.is_admin { "admin" } else { "shopper" }}</td>
                                        <td>{user.last_login_at.format("%Y-%m-%d %H:%M").to_string()}</td>
                                        <td>
                                            {user.sessions_ended_at.map(|at| view! { <span class="hint">{format!("ended {} ", at.format("%Y-%m-%d %H:%M"))}</span> })}
                                            <EndSessions user_id=user.id />
                                        </td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(error) => refusal(error, "/admin/users"),
                }
            })}
        </Transition>
    }
}

/// "End all sessions" for one account; says so in place once the server has ended them.
#[cfg_attr(any(feature = "ssr", feature = "back-office"), island)]
#[cfg_attr(not(any(feature = "ssr", feature = "back-office")), component)]
fn EndSessions(user_id: uuid::Uuid) -> impl IntoView {
    let end_sessions = ServerAction::<EndUserSessions>::new();
    view! {
        <ActionForm action=end_sessions attr:class="inline-form">
            <input type="hidden" name="user_id" value=user_id.to_string() />
            <button type="submit" class="secondary">"End all sessions"</button>
        </ActionForm>
        {move || end_sessions.value().get().map(|result| match result {
            Ok(()) => view! { <p class="ok" role="status">"Signed out everywhere: each of their sessions ends at its next request."</p> }.into_any(),
            Err(error) => view! { <ErrorView error /> }.into_any(),
        })}
    }
}
