#!/usr/bin/env bash
# Several copies of everything, in one command: two web servers behind a load balancer and two workers on a
# four-partition topic (server/tests/api/scale.rs), then the recovery budgets (a broker restarted five times
# under load, each followed by a worker kill -9; server/tests/api/broker_outage.rs). It prints events stored
# per second with one and with two workers, how long the survivor took to take a killed worker's partitions,
# and how soon storing resumed after each restart. The scale-out and recovery are described in docs/broker.md.
#   scripts/scale.sh
# The same scenarios run in scripts/test.sh; this runs them alone, with their figures.
set -euo pipefail
# shellcheck source=lib/all.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/all.sh"
cartograph_init
ensure_rust_tools
ensure_postgres
ensure_broker --scratch
ensure_oidc
export CARTOGRAPH_TEST_ADMIN_DATABASE_URL=$PG_SERVER_URL/postgres
log "two web servers and two workers, then five broker restarts and worker kills (about 3 minutes)"
out=$STATE_DIR/scale.log
figures='^(events stored|the survivor|scale-out|round [0-9]|recovery budget|test result)'
if ! (cd "$ROOT" && cargo test -p server --test api -- --nocapture --test-threads=1 \
  scale::two_web_servers broker_outage::storing_resumes) >"$out" 2>&1; then
  grep -E "$figures|panicked|^  left|^ right" "$out" || true
  die "the scale-out scenarios failed; their whole output is in $out"
fi
grep -E "$figures" "$out"
