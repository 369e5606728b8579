#!/usr/bin/env bash
# Runs Cartograph with every service it needs: PostgreSQL, a Kafka-protocol broker (nisshi), the dev OpenID
# provider, the dev SMTP sink, the worker and the web server at http://127.0.0.1:3000. Ctrl-C stops what it started.
set -euo pipefail
# shellcheck source=lib/all.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/all.sh"
cartograph_init

PORT=${CARTOGRAPH_PORT:-3000}
port_open 127.0.0.1 "$PORT" && die "port $PORT is taken; stop what runs there or set CARTOGRAPH_PORT"

ensure_postgres
if [[ -z $APP_DATABASE_URL ]]; then
  create_database cartograph
  APP_DATABASE_URL=$PG_SERVER_URL/cartograph
fi
ensure_broker
ensure_oidc
ensure_smtp
build_site
log "building the server (release)"
(cd "$ROOT" && cargo build --release -p server --bin cartograph)
BIN=$CARGO_TARGET_DIR/release/cartograph

export CARTOGRAPH_MODE=${CARTOGRAPH_MODE:-dev}
export CARTOGRAPH_DATABASE_URL=$APP_DATABASE_URL
export CARTOGRAPH_SITE_ROOT=$SITE_DIR
export CARTOGRAPH_LISTEN_ADDR=127.0.0.1:$PORT
export CARTOGRAPH_PUBLIC_URL=${CARTOGRAPH_PUBLIC_URL:-http://127.0.0.1:$PORT}
export CARTOGRAPH_SEED_DEMO_CATALOG=${CARTOGRAPH_SEED_DEMO_CATALOG:-true}
# Edit it while the shop runs: banner, rate limits, breakers, drills (README, Live settings and drills).
export CARTOGRAPH_LIVE_FILE=${CARTOGRAPH_LIVE_FILE:-$STATE_DIR/live.toml}

"$BIN" migrate
# A static group member: a worker restarted after a crash resumes its partitions at once.
CARTOGRAPH_KAFKA_GROUP_MEMBER=${CARTOGRAPH_KAFKA_GROUP_MEMBER:-worker-0} \
  start_bg "the worker" "$STATE_DIR/worker.log" "$BIN" worker
start_bg "the web server" "$STATE_DIR/web.log" "$BIN" serve
wait_port 127.0.0.1 "$PORT" 60 "the web server" "$STATE_DIR/web.log"

cat <<BANNER

  Cartograph is running at $CARTOGRAPH_PUBLIC_URL
    sign in as  shopper (any password) — or admin (any password) for the admin role
    provider    $CARTOGRAPH_OIDC_ISSUER_URL
    mail        $MAIL_SHOWN
    broker      $CARTOGRAPH_KAFKA_BROKERS
    logs        $STATE_DIR/{web,worker,nisshi,oidc,smtp}.log
    live file   $CARTOGRAPH_LIVE_FILE (read again within a second of any change)
  Press Ctrl-C to stop.

BANNER
# Stops everything when either process ends.
wait -n "${STARTED_PIDS[@]}" || true
log "a Cartograph process stopped; shutting down"
