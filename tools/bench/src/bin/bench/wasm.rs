//! The size of the WASM bundle a shopper downloads (the shop's islands), raw and as the two encodings browsers
//! accept, against a budget: 1 MiB raw (what the browser compiles), and on the wire what issue 15 asks of a
//! shopper's first page: 150 KiB brotli (under a second on a slow 4G link), 200 KiB gzip.

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

/// Adds raw, gzip and brotli KiB of `wasm`.
pub fn run(wasm: &Path, report: &mut Report) -> anyhow::Result<()> {
    let bytes = std::fs::read(wasm)
        .with_context(|| format!("reading the WASM bundle {} (build it with scripts/bench.sh)", wasm.display()))?;
    let kib = |n: usize| n as f64 / 1024.0;
    report.add(Row::new("WASM bundle", "raw KiB", kib(bytes.len()), RAW_BUDGET, "budget: 1 MiB", Better::Lower));
    report.add(Row::new(
        "WASM bundle",
        "gzip -9 KiB",
        kib(gzip(&bytes)?),
        GZIP_BUDGET,
        "budget: 200 KiB on the wire",
        Better::Lower,
    ));
    report.add(Row::new(
        "WASM bundle",
        "brotli -q 11 KiB",
        kib(brotli(&bytes)?),
        BROTLI_BUDGET,
        "budget: 150 KiB on the wire",
        Better::Lower,
    ));
    report.note(format!(
        "WASM bundle: `{}` after wasm-bindgen and `wasm-opt -Oz` (scripts/lib/site.sh `build_site`); a ratio above 1 \
         is budget left over.",
        wasm.file_name().and_then(|n| n.to_str()).unwrap_or("the bundle")
    ));
    Ok(())
}
