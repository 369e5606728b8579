//! One simulated visit: a fresh browser (its own cookie jar) lands on the home page, fetches the bundle, then
//! browses, searches, adds to the cart and sometimes signs in, checks out and pays, pausing between steps, with
//! its clickstream posted the way the hydrated app posts it.

use crate::{stats::Stats, tracker::Tracker, Options};
use app::{
    catalog::{Category, ProductCard},
    tracking::{schema::EventKind, COLLECT_PATH},
};
use cartograph_tools::common::sign_in::sign_in;
use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
use reqwest::StatusCode;
use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

/// The shop as the load generator knows it, read once at the start.
pub struct Catalog {
    pub categories: Vec<Category>,
    pub products: Vec<ProductCard>,
    /// The variants on sale of each product sold in sizes or colours (a shopper chooses one).
    pub variants: HashMap<i64, Vec<i64>>,
}

/// What a visit does next. The weights make browsing far more common than searching, searching more common
/// than adding to the cart, and that more common than checking out.
#[derive(Debug, Clone, Copy)]
enum Action {
    Product,
    Category,
    Home,
    Search,
    AddToCart,
    Checkout,
}

impl Action {
    fn pick(rng: &mut impl Rng) -> Self {
        match rng.gen_range(0..100) {
            0..=29 => Action::Product,
            30..=49 => Action::Category,
            50..=57 => Action::Home,
            58..=77 => Action::Search,
            78..=90 => Action::AddToCart,
            _ => Action::Checkout,
        }
    }
}

pub struct Shopper {
    name: String,
    client: reqwest::Client,
    options: Arc<Options>,
    catalog: Arc<Catalog>,
    stats: Arc<Stats>,
    rng: StdRng,
    tracker: Tracker,
    deadline: Instant,
    signed_in: bool,
    /// The product page the shopper is on, if any.
    viewing: Option<usize>,
    /// Products in the cart (by index into the catalog).
    cart: Vec<usize>,
    /// The variant chosen of each product in the cart that has variants.
    chosen: HashMap<usize, i64>,
    /// The slot of recommendations on the page the shopper is on, if any (the home page's, or a product page's
    /// "Often viewed together"): the next product may be opened from it.
    slot: Option<&'static str>,
    /// Whether the visit has viewed a product (the home page then picks for the shopper).
    has_history: bool,
}

/// A short, stable label for a failed request, so the report groups like with like.
fn error_kind(status: StatusCode, body: &str) -> String {
    let lower = body.to_lowercase();
    let reason = if lower.contains("out of stock") {
        "out of stock"
    } else if lower.contains("left") && lower.contains("only") {
        "more than the stock"
    } else if lower.contains("at most") {
        "line limit"
    } else {
        ""
    };
    if reason.is_empty() {
        let snippet: String = body.chars().take(60).collect();
        format!("{status} {snippet}").trim().to_string()
    } else {
        format!("{status} {reason}")
    }
}

fn transport_kind(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timeout".into()
    } else if error.is_connect() {
        "connection failed".into()
    } else {
        "transport error".into()
    }
}

impl Shopper {
    pub fn new(
        number: u64,
        options: Arc<Options>,
        catalog: Arc<Catalog>,
        stats: Arc<Stats>,
        deadline: Instant,
    ) -> anyhow::Result<Self> {
        // Synthetic traffic says so: the producer endpoint flags it as a bot, so journeys and insights leave it
        // out; unless asked to pass for browsers (a demo shop's pictures).
        let agent = if options.as_browsers {
            "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
        } else {
            concat!("cartograph-load/", env!("CARGO_PKG_VERSION"), " (load test bot)")
        };
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .user_agent(agent)
            .build()?;
        Ok(Self {
            name: format!("load-{}-{number}", options.run_id),
            client,
            rng: StdRng::seed_from_u64(options.seed.wrapping_add(number)),
            options,
            catalog,
            stats,
            tracker: Tracker::new(),
            deadline,
            signed_in: false,
            viewing: None,
            cart: Vec::new(),
            chosen: HashMap::new(),
            slot: None,
            has_history: false,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.options.base)
    }

    /// Sends one request as step `step`; returns the body when the status is `expected`.
    async fn request(
        &self,
        step: &'static str,
        request: reqwest::RequestBuilder,
        expected: StatusCode,
    ) -> Option<String> {
        let began = Instant::now();
        let outcome = match request.send().await {
            Ok(response) => {
                let status = response.status();
                match response.text().await {
                    Ok(body) if status == expected => Ok(body),
                    Ok(body) => Err(error_kind(status, &body)),
                    Err(error) => Err(transport_kind(&error)),
                }
            }
            Err(error) => Err(transport_kind(&error)),
        };
        match outcome {
            Ok(body) => {
                self.stats.ok(step, began.elapsed());
                Some(body)
            }
            Err(kind) => {
                self.stats.error(step, began.elapsed(), kind);
                None
            }
        }
    }

    /// A GET as a browser sends it for a page or a file: it accepts compressed bodies (which are only counted,
    /// never read, so they need no decoding).
    fn browser_get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path)).header(reqwest::header::ACCEPT_ENCODING, "gzip, deflate, br")
    }

    async fn page(&mut self, step: &'static str, path: &str, title: &str) -> bool {
        let loaded = self.request(step, self.browser_get(path), StatusCode::OK).await.is_some();
        if loaded {
            self.vitals();
            self.tracker.navigate(path, title, &mut self.rng);
            self.slot = None;
        }
        loaded
    }

    /// The Web Vitals the tracker reports as a page is left: most pages fast, some slow, a few shifting.
    fn vitals(&mut self) {
        if !self.tracker.on_page() {
            return;
        }
        let lcp_ms =
            if self.rng.gen_bool(0.8) { self.rng.gen_range(600..2_400) } else { self.rng.gen_range(2_400..6_000) };
        let cls_milli = self.rng.gen_bool(0.9).then(|| self.rng.gen_range(0..300));
        let inp_ms = self.rng.gen_bool(0.5).then(|| self.rng.gen_range(40..600));
        self.tracker.event(EventKind::WebVitals { lcp_ms: Some(lcp_ms), cls_milli, inp_ms }, &mut self.rng);
    }

    /// The page shows a slot of recommendations: the tracker reports it, and the next product may come from it.
    fn shows_slot(&mut self, slot: &'static str) {
        self.tracker.event(EventKind::RecImpression { slot: slot.into(), products: 4 }, &mut self.rng);
        self.slot = Some(slot);
    }

    async fn home(&mut self) -> bool {
        let loaded = self.page("home", "/", "Cartograph").await;
        if loaded {
            self.shows_slot(if self.has_history { "picked-for-you" } else { "popular" });
        }
        loaded
    }

    async fn server_fn(&self, step: &'static str, function: &str, form: &[(&str, String)]) -> Option<String> {
        self.request(step, self.client.post(self.url(&format!("/api/{function}"))).form(form), StatusCode::OK).await
    }

    /// A first visit downloads the stylesheet, the JS glue and the WASM bundle.
    async fn assets(&self) {
        for file in ["cartograph.css", "cartograph.js", "cartograph.wasm"] {
            self.request("assets", self.browser_get(&format!("/pkg/{file}")), StatusCode::OK).await;
        }
    }

    /// The whole visit; returns when it ends on its own or the run's deadline passes.
    pub async fn visit(mut self) {
        self.stats.count("visits", 1);
        if !self.home().await {
            return;
        }
        if self.options.assets {
            self.assets().await;
        }
        let steps = self.rng.gen_range(4..=16);
        for _ in 0..steps {
            if !self.think().await {
                break;
            }
            match Action::pick(&mut self.rng) {
                Action::Product => self.product().await,
                Action::Category => self.category().await,
                Action::Home => {
                    self.home().await;
                }
                Action::Search => self.search().await,
                Action::AddToCart => self.add_to_cart().await,
                Action::Checkout if !self.cart.is_empty() => self.checkout().await,
                Action::Checkout => self.category().await,
            }
            if self.tracker.due() {
                self.flush().await;
            }
        }
        // `pagehide`: the last page's leave event goes out with whatever is still waiting.
        self.tracker.leave(&mut self.rng);
        self.flush().await;
        self.stats.count("visits finished", 1);
    }

    /// Pauses like a shopper reading the page (0.5× to 1.5× the think time); false once the run is over.
    async fn think(&mut self) -> bool {
        let think = self.options.think.mul_f64(self.rng.gen_range(0.5..1.5));
        let wake = (Instant::now() + think).min(self.deadline);
        tokio::time::sleep_until(wake.into()).await;
        Instant::now() < self.deadline
    }

    /// A product page: picked from the slot on the page (two times in five when there is one, with the click
    /// the tracker reports and the slot in the link) or found otherwise.
    async fn product(&mut self) {
        let index = self.rng.gen_range(0..self.catalog.products.len());
        let product = &self.catalog.products[index];
        let (mut path, name, id, slug) =
            (format!("/product/{}", product.slug), product.name.clone(), product.id, product.slug.clone());
        if let Some(slot) = self.slot.filter(|_| self.rng.gen_bool(0.4)) {
            path = format!("{path}?rec={slot}");
            let click =
                EventKind::Click { element: "a".into(), label: format!("rec-{slot}"), href: Some(path.clone()) };
            self.tracker.event(click, &mut self.rng);
        }
        if self.page("product", &path, &name).await {
            self.viewing = Some(index);
            self.has_history = true;
            self.tracker.event(EventKind::ProductView { product_id: id, slug }, &mut self.rng);
            if self.rng.gen_bool(0.04) {
                let rage = EventKind::RageClick { element: "img".into(), label: name.clone(), clicks: 4 };
                self.tracker.event(rage, &mut self.rng);
            }
            if self.rng.gen_bool(0.6) {
                self.shows_slot("viewed-together");
            }
        }
    }

    async fn category(&mut self) {
        let Some(category) = self.catalog.categories.choose(&mut self.rng) else { return };
        let (path, name) = (format!("/products?category={}", category.slug), category.name.clone());
        self.viewing = None;
        self.page("category", &path, &name).await;
    }

    async fn search(&mut self) {
        // A word from a product's name, as a shopper who knows roughly what they want would type it.
        let Some(product) = self.catalog.products.choose(&mut self.rng) else { return };
        let words: Vec<String> = product
            .name
            .split_whitespace()
            .filter(|w| w.len() > 2 && w.chars().all(char::is_alphanumeric))
            .map(str::to_lowercase)
            .collect();
        let Some(query) = words.choose(&mut self.rng).cloned() else { return };
        let results = self.catalog.products.iter().filter(|p| p.name.to_lowercase().contains(&query)).count() as i64;
        self.viewing = None;
        if self.page("search", &format!("/products?q={query}"), "Search").await {
            self.tracker.event(EventKind::Search { query, results }, &mut self.rng);
        }
    }

    async fn add_to_cart(&mut self) {
        let Some(index) = self.viewing else {
            // Adding happens on a product page: go to one first.
            return self.product().await;
        };
        if self.catalog.products[index].stock <= 0 {
            // The page says "Out of stock" and offers no button: the shopper looks elsewhere.
            return self.category().await;
        }
        let (id, quantity) = (self.catalog.products[index].id, self.rng.gen_range(1..=2));
        self.tracker.event(
            EventKind::Click { element: "button".into(), label: "Add to cart".into(), href: None },
            &mut self.rng,
        );
        let mut form = vec![("product_id", id.to_string()), ("quantity", quantity.to_string())];
        if let Some(variants) = self.catalog.variants.get(&id).filter(|variants| !variants.is_empty()) {
            let pick = variants[self.rng.gen_range(0..variants.len())];
            form.push(("variant_id", self.chosen.entry(index).or_insert(pick).to_string()));
        }
        if self.server_fn("cart_add", "cart_add", &form).await.is_some() {
            self.tracker.event(EventKind::CartAdd { product_id: id, quantity }, &mut self.rng);
            if !self.cart.contains(&index) {
                self.cart.push(index);
            }
        }
    }

    async fn checkout(&mut self) {
        if !self.signed_in {
            let began = Instant::now();
            match sign_in(&self.client, &self.options.base, &self.name, self.options.allow_remote).await {
                Ok(()) => {
                    self.stats.ok("sign_in flow", began.elapsed());
                    self.signed_in = true;
                }
                Err(error) => return self.stats.error("sign_in flow", began.elapsed(), format!("{error:#}")),
            }
        }
        if !self.page("checkout_page", "/checkout", "Checkout").await {
            return;
        }
        let address = [
            ("name", "Load Shopper"),
            ("line1", "1 Load St"),
            ("line2", ""),
            ("city", "Berlin"),
            ("postcode", "10115"),
            ("country", "DE"),
        ];
        let form: Vec<(&str, String)> = address.iter().map(|(k, v)| (*k, v.to_string())).collect();
        let Some(body) = self.server_fn("checkout", "checkout", &form).await else {
            // Usually stock ran out: empty the cart, as a shopper told so would.
            for index in std::mem::take(&mut self.cart) {
                let mut form =
                    vec![("product_id", self.catalog.products[index].id.to_string()), ("quantity", "0".to_string())];
                if let Some(variant) = self.chosen.remove(&index) {
                    form.push(("variant_id", variant.to_string()));
                }
                self.server_fn("cart_set", "cart_set", &form).await;
            }
            return;
        };
        self.cart.clear();
        self.chosen.clear();
        let Ok(order_id) = serde_json::from_str::<uuid::Uuid>(&body) else {
            return self.stats.error("checkout", Duration::ZERO, "200 without an order id".into());
        };
        // The shop records `checkout_begin` and `payment_result` itself, as it does for a browser.
        let form = [
            ("order_id", order_id.to_string()),
            ("card_number", "4242 4242 4242 4242".to_string()),
            ("expiry", "12/40".to_string()),
            ("cvc", "123".to_string()),
            ("idempotency_key", uuid::Uuid::new_v4().to_string()),
        ];
        let paid = self.server_fn("pay", "pay", &form).await.is_some();
        if paid {
            self.stats.count("orders paid", 1);
        }
    }

    /// Posts the waiting events as one batch, as `text/plain` like `sendBeacon`; keeps them when refused.
    async fn flush(&mut self) {
        let Some((events, body)) = self.tracker.take_batch() else { return };
        let count = events.len() as u64;
        let request =
            self.client.post(self.url(COLLECT_PATH)).header("content-type", "text/plain;charset=UTF-8").body(body);
        if self.request("events", request, StatusCode::ACCEPTED).await.is_some() {
            self.stats.count("events accepted", count);
        } else {
            self.tracker.keep(events);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_grouped_by_reason_not_by_product() {
        let out = error_kind(
            StatusCode::UNPROCESSABLE_ENTITY,
            r#"{"Invalid":"Sorry, Ridgeline 2 Tent is out of stock in the quantity you chose."}"#,
        );
        assert_eq!(out, "422 Unprocessable Entity out of stock");
        let limit = error_kind(StatusCode::UNPROCESSABLE_ENTITY, r#"{"Invalid":"Only 2 of Wool Beanie left."}"#);
        assert_eq!(limit, "422 Unprocessable Entity more than the stock");
        assert_eq!(error_kind(StatusCode::SERVICE_UNAVAILABLE, ""), "503 Service Unavailable");
    }
}
