//! The size of the WASM bundles a shopper downloads (the shop's and the account's islands), raw and as the two
//! encodings browsers accept, against a budget: 1 MiB raw (what the browser compiles), and on the wire what
//! issue 15 asks of a shopper's first page: 150 KiB brotli (under a second on a slow 4G link), 200 KiB gzip.

use crate::report::{Better, Report, Row};
use anyhow::Context;
use std::{io::Write, path::Path};

const RAW_BUDGET: f64 = 1024.0;
const GZIP_BUDGET: f64 = 200.0;
const BROTLI_BUDGET: f64 = 150.0;

fn gzip(bytes: &[u8]) -> anyhow::Result<usize> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?.len())
}

fn brotli(bytes: &[u8]) -> anyhow::Result<usize> {
    let mut out = Vec::new();
    {
        // Quality 11 and a 4 MiB window: what a static pre-compression step would use.
        let mut writer = brotli::CompressorWriter::new(&mut out, 64 * 1024, 11, 22);
        writer.write_all(bytes)?;
    }
    Ok(out.len())
}

/// Adds raw, gzip and brotli KiB of the shop's bundle (`wasm`: what an anonymous visitor's pages load) and of the
/// account's beside it (the cart, checkout, orders and every page of a signed-in shopper): a shopper's first page
/// loads one of the two, so both have the budget.
pub fn run(wasm: &Path, report: &mut Report) -> anyhow::Result<()> {
    let account = wasm.with_file_name("cartograph-account.wasm");
    for (label, file) in [("shop", wasm), ("account", account.as_path())] {
        let bytes = std::fs::read(file)
            .with_context(|| format!("reading the WASM bundle {} (build it with scripts/bench.sh)", file.display()))?;
        let kib = |n: usize| n as f64 / 1024.0;
        let area = format!("WASM {label}");
        for (figure, size, budget, is) in [
            ("raw KiB", bytes.len(), RAW_BUDGET, "budget: 1 MiB"),
            ("gzip -9 KiB", gzip(&bytes)?, GZIP_BUDGET, "budget: 200 KiB on the wire"),
            ("brotli -q 11 KiB", brotli(&bytes)?, BROTLI_BUDGET, "budget: 150 KiB on the wire"),
        ] {
            report.add(Row::new(&area, figure, kib(size), budget, is, Better::Lower));
        }
    }
    report.note(
        "WASM: `cartograph.wasm` (the shop's islands: what an anonymous visitor's pages load) and \
         `cartograph-account.wasm` (and the cart's, checkout's, orders' and notifications' islands: the cart, the \
         checkout, the orders and every page of a shopper with a session), after wasm-bindgen and `wasm-opt -Oz` \
         (scripts/lib/site.sh `build_site`); a ratio above 1 is budget left over."
            .to_string(),
    );
    Ok(())
}
