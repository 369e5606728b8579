//! The account's WASM entry point: `frontend`'s, built with `app`'s `account` feature, so that the cart's lines,
//! the checkout, payment and cancel forms, the bell and the notification list are islands here (and in the back
//! office's bundle) but not in the shop's, which every visitor's first page loads (`app::BundleNames::for_page`).

pub use frontend::hydrate;
