//! Sign-in through the app's `/auth/login` and the dev OpenID provider's login form, as a browser does it.
//! The provider in `dev/oidc` accepts any login name and password, so every simulated shopper gets an account.

use anyhow::{bail, Context};
use reqwest::{StatusCode, Url};

/// Signs `login` in: the client must keep cookies and must not follow redirects itself. Unless `allow_remote`,
/// it refuses to follow a redirect off this machine (a real provider must never get synthetic logins).
pub async fn sign_in(client: &reqwest::Client, base: &str, login: &str, allow_remote: bool) -> anyhow::Result<()> {
    let mut next = Url::parse(&format!("{base}/auth/login?return_to=/")).context("the app's URL")?;
    // Login → provider authorize → interaction form → (consent) → app callback → the page: about six hops.
    for _ in 0..12 {
        if !allow_remote && !is_loopback(&next) {
            bail!("sign-in would leave this machine for {}; refused", next.origin().ascii_serialization());
        }
        let response = client.get(next.clone()).send().await.with_context(|| format!("GET {}", next.path()))?;
        let status = response.status();
        if status == StatusCode::OK && next.path().starts_with("/interaction/") {
            let submitted = client
                .post(next.clone())
                .form(&[("prompt", "login"), ("login", login), ("password", "load")])
                .send()
                .await
                .context("posting the provider's login form")?;
            next = redirect_target(&submitted)?;
            continue;
        }
        if next.path() == "/" && next.as_str().starts_with(base) && status == StatusCode::OK {
            return Ok(());
        }
        if !status.is_redirection() {
            bail!("sign-in stopped at {} with {status}", next.path());
        }
        let target = redirect_target(&response)?;
        if next.path() == "/auth/callback" && target.as_str().starts_with(base) {
            return Ok(());
        }
        next = target;
    }
    bail!("sign-in did not come back to the app after 12 redirects")
}

fn redirect_target(response: &reqwest::Response) -> anyhow::Result<Url> {
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .with_context(|| format!("{} answered {} without a Location", response.url().path(), response.status()))?;
    response.url().join(location).context("an unreadable Location")
}

/// Whether `url` points at this machine (a loopback address or `localhost`).
pub fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else { return false };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
