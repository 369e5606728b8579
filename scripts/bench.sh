#!/usr/bin/env bash
# Benchmarks that print figures (never timed tests): `scripts/bench.sh` runs all of them.
#   ingest  — the producer endpoint next to a raw rdkafka producer on the same broker, as a ratio;
#   journey — journey PDF render time at 100 / 1,000 / 10,000 events.
# `scripts/bench.sh journey` runs one.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_postgres
ensure_broker --scratch
ensure_oidc
export CARTOGRAPH_TEST_ADMIN_DATABASE_URL=$PG_SERVER_URL/postgres
log "building the benchmark (release)"
(cd "$ROOT" && cargo build --release -p server --bin cartograph-bench)
for what in ${1:-ingest journey}; do
  RUST_LOG=${RUST_LOG:-warn} "$CARGO_TARGET_DIR/release/cartograph-bench" "$what"
  echo
done
