//! HTTP plumbing the web process is built from: the server itself (`serve`), the security headers (`headers`),
//! the cross-site write check (`origin`), the error answer of the server's own handlers (`error`), the WASM
//! bundle (`bundle`) and product images (`images`). `crate::web` puts them together with the flows' routes.

pub mod bundle;
pub mod error;
pub mod headers;
pub mod images;
pub mod origin;
pub mod serve;

/// Every `name=value` pair in a request's `Cookie` headers (values as sent: ours need no decoding).
pub fn cookies(headers: &http::HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .filter_map(|cookie| match (cookie.name_raw(), cookie.value_raw()) {
            (Some(name), Some(value)) => Some((name, value)),
            _ => None,
        })
}
