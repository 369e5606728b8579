#!/usr/bin/env bash
# Benchmarks that print one table (never timed tests): every figure next to a ceiling measured in the same run,
# and their ratio. Sections: ingest, ssr, functions, graphql, search, insights, journey, wasm (docs/benchmarks.md says what each measures).
#   scripts/bench.sh                             # every section
#   scripts/bench.sh journey wasm                # some sections
#   scripts/bench.sh --write docs/benchmarks.md  # and write the table into the doc
#   scripts/bench.sh ssr --system-allocator      # with glibc's malloc instead of mimalloc (the allocator rows)
#   scripts/bench.sh lighthouse [--runs 3]       # Lighthouse (mobile) on the five shopper pages, on a private shop
set -euo pipefail
# shellcheck source=lib/all.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/all.sh"
cartograph_init
ensure_postgres
ensure_broker --scratch
ensure_oidc
export CARTOGRAPH_TEST_ADMIN_DATABASE_URL=$PG_SERVER_URL/postgres

if [[ ${1:-} == lighthouse ]]; then
  shift
  ensure_chromium
  ensure_node
  npm_ci "$ROOT/tools/lighthouse"
  build_site
  log "building the server (release)"
  (cd "$ROOT" && cargo build --release -p server --bin cartograph)
  start_private_shop lighthouse "$CARGO_TARGET_DIR/release/cartograph" "$(free_port)"
  node "$ROOT/tools/lighthouse/run.mjs" --url "$SHOP_URL" "$@"
  exit 0
fi

# --system-allocator: measure with glibc's malloc instead of mimalloc, which the server ships with (a separate
# binary, so that the two can be run one after the other and compared).
sections=() args=() features=() binary=cartograph-bench
for arg in "$@"; do
  if [[ $arg == --system-allocator ]]; then
    features=(--features system-allocator)
    binary=cartograph-bench-system-allocator
    continue
  fi
  args+=("$arg")
  [[ $arg == -* || $arg == */* || $arg == *.md ]] || sections+=("$arg")
done
if [[ ${#sections[@]} -eq 0 || " ${sections[*]} " == *" wasm "* ]]; then
  build_site
fi
log "building the benchmark (release${features[*]:+, ${features[*]}})"
(cd "$ROOT" && cargo build --release -p cartograph-tools --bin cartograph-bench "${features[@]}")
cd "$ROOT" || die "cannot enter $ROOT"
if [[ $binary != cartograph-bench ]]; then
  cp "$CARGO_TARGET_DIR/release/cartograph-bench" "$CARGO_TARGET_DIR/release/$binary"
fi
"$CARGO_TARGET_DIR/release/$binary" --wasm "$SITE_DIR/pkg/cartograph.wasm" "${args[@]}"
