//! What a browser does, as methods on [`TestApp`]: server functions, the cart, checkout and payment, the
//! tracker's batches, and sign-in at the dev OpenID provider; and what it reads off a response (cookies,
//! redirects).

use super::TestApp;
use reqwest::{StatusCode, Url};
use std::time::Duration;
use uuid::Uuid;

/// An ordinary browser's user agent (a missing or a bot's one flags the visit as a bot).
pub const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";

// Cards the built-in test gateway answers in a known way.

pub const SUCCEEDS: &str = "4242 4242 4242 4242";
pub const DECLINED: &str = "4000 0000 0000 0002";
/// Refused by the gateway as unprocessable: nothing is charged.
pub const PROCESSING_ERROR: &str = "4000 0000 0000 0119";
/// Charged, but answered only after `test_gateway_slow_ms`.
pub const SLOW: &str = "4000 0000 0000 0077";

impl TestApp {
    /// Calls a server function with form-encoded arguments, as a hydrated page or a plain form would.
    pub async fn call(&self, function: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client.post(self.url(&format!("/api/{function}"))).form(form).send().await.unwrap()
    }

    /// Loads the home page, as a browser arriving does, and returns the visit its `cg_visit` cookie names.
    pub async fn visit(&self) -> String {
        let home = self.client.get(self.url("/")).send().await.unwrap();
        let status = home.status();
        visit_of(&home).unwrap_or_else(|| panic!("the home page ({status}) issued no visit cookie"))
    }

    /// The home page, as this client sees it.
    pub async fn home(&self) -> reqwest::Response {
        self.client.get(self.url("/")).send().await.unwrap()
    }

    pub async fn add_to_cart(&self, product_id: i64, quantity: i32) -> reqwest::Response {
        self.call("cart_add", &[("product_id", &product_id.to_string()), ("quantity", &quantity.to_string())]).await
    }

    /// Checks the cart out to a valid address.
    pub async fn checkout(&self) -> reqwest::Response {
        self.checkout_with(&[]).await
    }

    /// Checks the cart out to a valid address (in Germany, whose cheapest delivery is free), with `extra` fields
    /// in the checkout's form (what a tampering browser adds, or a `shipping_method`).
    pub async fn checkout_with(&self, extra: &[(&str, &str)]) -> reqwest::Response {
        let kept = self.give_address("DE").await;
        if !kept.status().is_success() {
            return kept;
        }
        self.call("checkout", extra).await
    }

    /// Keeps a valid address in `country` on the cart: checkout's first step.
    pub async fn give_address(&self, country: &str) -> reqwest::Response {
        let address = [
            ("name", "Sam Shopper"),
            ("line1", "1 Main St"),
            ("line2", ""),
            ("city", "Berlin"),
            ("postcode", "10115"),
            ("country", country),
        ];
        self.call("checkout_address", &address).await
    }

    /// Pays `order` with `card` (valid expiry and CVC) under the idempotency key `key`.
    pub async fn pay(&self, order: &str, card: &str, key: &str) -> reqwest::Response {
        self.call(
            "pay",
            &[
                ("order_id", order),
                ("card_number", card),
                ("expiry", "12/40"),
                ("cvc", "123"),
                ("idempotency_key", key),
            ],
        )
        .await
    }

    /// Posts a plain HTML form from the page `from`, as a browser without script does, not following the
    /// redirect: `Ok` with where it points, or `Err` with the error it carries back to the page.
    pub async fn post_form(&self, function: &str, from: &str, form: &[(String, String)]) -> Result<String, String> {
        let response = self
            .client
            .post(self.url(&format!("/api/{function}")))
            .header("accept", "text/html")
            .header("referer", self.url(from))
            .form(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FOUND, "{:?}", response.headers());
        let location = response.headers()["location"].to_str().unwrap().to_string();
        if location.contains("__err") {
            Err(refusal(&response))
        } else {
            Ok(location)
        }
    }

    /// Adds `quantity` of one variant of a product to the cart.
    pub async fn add_variant_to_cart(&self, product_id: i64, variant_id: i64, quantity: i32) -> reqwest::Response {
        let (product, variant, quantity) = (product_id.to_string(), variant_id.to_string(), quantity.to_string());
        self.call("cart_add", &[("product_id", &product), ("variant_id", &variant), ("quantity", &quantity)]).await
    }

    /// Checks the cart out (signed in) and returns the order id.
    pub async fn checked_out(&self) -> String {
        let response = self.checkout().await;
        assert_eq!(response.status(), 200);
        response.json::<String>().await.unwrap()
    }

    /// Signs in as `shopper`, fills the cart and checks out; returns the order id.
    pub async fn pending_order(&self, slug: &str, quantity: i32) -> String {
        self.sign_in("shopper", "/").await;
        let (id, _, _) = self.product(slug).await;
        assert_eq!(self.add_to_cart(id, quantity).await.status(), 200);
        let response = self.checkout().await;
        assert_eq!(response.status(), 200);
        response.json::<String>().await.unwrap()
    }

    /// Posts a batch as the tracker does in an ordinary browser (`text/plain`, like `sendBeacon`).
    pub async fn post_events(&self, body: &str) -> reqwest::Response {
        self.post_events_as(body, FIREFOX).await
    }

    /// Posts a batch as the tracker does (`text/plain`, like `sendBeacon`) with the given user agent.
    pub async fn post_events_as(&self, body: &str, user_agent: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/events"))
            .header("content-type", "text/plain;charset=UTF-8")
            .header("user-agent", user_agent)
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    /// The proof that the pipeline still works after something hostile: another browser loads a page, posts one
    /// ordinary event, and the event is **stored** by the worker within `limit`. Returns how long it took.
    pub async fn an_ordinary_event_is_stored_within(&self, limit: Duration) -> Duration {
        let browser = self.another_browser();
        let home = browser.client.get(self.url("/")).send().await.unwrap();
        assert_eq!(home.status(), StatusCode::OK, "the home page renders");
        let path = format!("/ordinary/{}", Uuid::new_v4().simple());
        let batch = serde_json::json!({"v": 1, "events": [{"type": "page_view", "path": path, "referrer": null, "title": "Home", "id": "ordinary-1"}]});
        let started = std::time::Instant::now();
        let response = browser.post_events(&batch.to_string()).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{}", response.text().await.unwrap_or_default());
        let query = format!("SELECT count(*) FROM clickstream_events WHERE path = '{path}'");
        let stored = self.wait_for_count_within(&query, 1, limit).await;
        let elapsed = started.elapsed();
        assert_eq!(stored, 1, "an ordinary event was not stored within {limit:?}: the pipeline is stuck");
        println!("an ordinary event was stored {} ms after it was posted", elapsed.as_millis());
        elapsed
    }

    // Sign-in against the dev OpenID provider, as a browser would do it.

    /// Starts a sign-in at the app and returns the provider's authorization URL.
    pub async fn begin_login(&self, return_to: &str) -> Url {
        let response =
            self.client.get(self.url("/auth/login")).query(&[("return_to", return_to)]).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        location(&response)
    }

    /// Logs in at the provider's dev login form and returns the app callback URL it redirects to.
    pub async fn provider_login(&self, authorize: Url, login: &str) -> Url {
        let mut next = authorize;
        for _ in 0..10 {
            if next.path() == "/auth/callback" && next.port() != Some(9400) && next.as_str().starts_with(&self.address)
            {
                return next;
            }
            let response = self.client.get(next.clone()).send().await.unwrap();
            if response.status() == StatusCode::OK && next.path().starts_with("/interaction/") {
                let submitted = self
                    .client
                    .post(next.clone())
                    .form(&[("prompt", "login"), ("login", login), ("password", "any")])
                    .send()
                    .await
                    .unwrap();
                assert!(submitted.status().is_redirection(), "login form answered {}", submitted.status());
                next = location(&submitted);
                continue;
            }
            assert!(response.status().is_redirection(), "{} answered {}", next, response.status());
            next = location(&response);
        }
        panic!("the provider never redirected back to the app");
    }

    /// Signs in as `login` and returns the app's redirect after the callback.
    pub async fn sign_in(&self, login: &str, return_to: &str) -> reqwest::Response {
        let authorize = self.begin_login(return_to).await;
        let callback = self.provider_login(authorize, login).await;
        self.client.get(callback).send().await.unwrap()
    }

    pub async fn current_user(&self) -> serde_json::Value {
        let response = self.client.post(self.url("/api/current_user")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}

/// The value of a `Set-Cookie` header for `name`, whole (with its attributes).
pub fn set_cookie<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with(&format!("{name}=")))
}

/// The visit id a response's visit cookie carries (`{visit}.{owner}.{signature}`).
pub fn visit_of(response: &reqwest::Response) -> Option<String> {
    let value = set_cookie(response, "cg_visit")?.split(['=', ';']).nth(1)?;
    value.split('.').next().map(str::to_owned)
}

/// Where a redirect points, resolved against the URL that answered.
pub fn location(response: &reqwest::Response) -> Url {
    let raw = response.headers()[reqwest::header::LOCATION].to_str().unwrap();
    response.url().join(raw).unwrap()
}

/// The error a refused plain form carries back to its page (`__err`: the `AppError`, base64 JSON).
pub fn refusal(response: &reqwest::Response) -> String {
    use base64::Engine;
    let location = reqwest::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    let (_, err) = location.query_pairs().find(|(key, _)| key == "__err").expect("the redirect carries an error");
    let json = base64::engine::general_purpose::URL_SAFE
        .decode(err.as_bytes())
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(err.as_bytes()))
        .unwrap();
    String::from_utf8(json).unwrap()
}
