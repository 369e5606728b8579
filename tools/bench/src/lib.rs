//! Cartograph's measuring tools: `cartograph-bench` (`src/bin/bench/`), one table of figures each next to a
//! ceiling from the same run, and `cartograph-load` (`src/bin/load/`), shoppers against a running shop. This
//! library is what the two share.

pub mod common;
