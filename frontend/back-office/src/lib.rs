//! The back office's WASM entry point: `frontend`'s, built with `app`'s `back-office` feature, so that the
//! back office's forms are islands here and nowhere else (the `/admin` pages load this bundle; every other page
//! loads the shop's, which has none of them).

pub use frontend::hydrate;
