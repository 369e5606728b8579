#!/usr/bin/env bash
# Benchmarks that print figures (never timed tests): `scripts/bench.sh` runs all of them.
#   ingest — the producer endpoint next to a raw rdkafka producer on the same broker, as a ratio.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_postgres
ensure_broker
ensure_oidc
export CARTOGRAPH_TEST_ADMIN_DATABASE_URL=$PG_SERVER_URL/postgres
log "building the benchmark (release)"
(cd "$ROOT" && cargo build --release -p server --bin cartograph-bench)
RUST_LOG=${RUST_LOG:-warn} "$CARGO_TARGET_DIR/release/cartograph-bench" ingest
