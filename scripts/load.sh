#!/usr/bin/env bash
# Shoppers against a running Cartograph (start it first with scripts/run.sh), then a report of throughput,
# latency percentiles per step and errors by kind. Bounded: it stops itself after --duration.
#   scripts/load.sh                          # 20 users for 60 s against http://127.0.0.1:3000
#   scripts/load.sh --duration 30 --users 50 --url http://127.0.0.1:3100
# It signs shoppers in at the dev OpenID provider and places orders: use it on a development stack only.
# Hosts other than this machine are refused unless --allow-remote is given.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cartograph_init
log "building the load generator (release)"
(cd "$ROOT" && cargo build --release -p cartograph-tools --bin cartograph-load)
exec "$CARGO_TARGET_DIR/release/cartograph-load" "$@"
