#!/usr/bin/env bash
# The services Cartograph talks to: PostgreSQL, a Kafka-protocol broker (nisshi), an OpenID provider and an SMTP
# server (sourced, not executed; definitions only). Needs scripts/lib/common.sh, initialised, and scripts/lib/tools.sh.
#
# Every service is taken from its environment variable when set, else reused when already listening, else
# installed (pinned) and started here; what a script starts, it stops on exit.

# Sets PG_SERVER_URL (a server URL without database) and, when DATABASE_URL is given, APP_DATABASE_URL.
# APP_DATABASE_URL is read by the scripts that source this file.
# shellcheck disable=SC2034
ensure_postgres() {
  APP_DATABASE_URL=""
  if [[ -n ${DATABASE_URL:-} ]]; then
    APP_DATABASE_URL=$DATABASE_URL
    PG_SERVER_URL=${DATABASE_URL%/*}
    log "PostgreSQL: using DATABASE_URL"
    return
  fi
  command -v psql >/dev/null || apt_install postgresql-client
  if port_open 127.0.0.1 5432; then
    PG_SERVER_URL=postgres://postgres@127.0.0.1:5432
    log "PostgreSQL: using the server at 127.0.0.1:5432"
    return
  fi
  start_private_postgres
}

as_postgres() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_private_postgres() {
  local port=${CARTOGRAPH_PG_PORT:-5433} bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [[ -n $bin ]] || { apt_install postgresql; bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1); }
  export PATH=$bin:$PATH
  local data=$CARGO_TARGET_DIR/postgres/data
  PG_SERVER_URL=postgres://postgres@127.0.0.1:$port
  if port_open 127.0.0.1 "$port"; then
    log "PostgreSQL: reusing the private cluster on 127.0.0.1:$port"
    return
  fi
  if [[ ! -f $data/PG_VERSION ]]; then
    log "PostgreSQL: creating a private cluster in $data"
    mkdir -p "$data"
    [[ $(id -u) -ne 0 ]] || chown -R postgres "$(dirname "$data")"
    as_postgres initdb -D "$data" -U postgres -A trust >/dev/null
  fi
  log "PostgreSQL: starting the private cluster on 127.0.0.1:$port"
  as_postgres pg_ctl -D "$data" -l "$data/../postgres.log" -w \
    -o "-p $port -c listen_addresses=127.0.0.1 -k /tmp" start >/dev/null
  PRIVATE_PG_DATA=$data
  at_exit stop_private_postgres
}

# On exit, after every process the script started has stopped.
stop_private_postgres() {
  as_postgres pg_ctl -D "$PRIVATE_PG_DATA" -m fast stop >/dev/null 2>&1 || true
}

# create_database NAME [--fresh]: creates a database on PG_SERVER_URL (dropping it first with --fresh).
create_database() {
  if [[ ${2:-} == --fresh ]]; then
    psql "$PG_SERVER_URL/postgres" -qAt -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null
  fi
  if [[ -z $(psql "$PG_SERVER_URL/postgres" -qAt -c "SELECT 1 FROM pg_database WHERE datname = '$1'") ]]; then
    psql "$PG_SERVER_URL/postgres" -qAt -c "CREATE DATABASE \"$1\"" >/dev/null
  fi
}

# Exports CARTOGRAPH_KAFKA_BROKERS. `ensure_broker --scratch` keeps the data of a broker it starts in a
# directory of its own that is emptied first: the tests create topics by the hundred, and nothing in them is
# worth keeping (a broker already running is reused either way).
ensure_broker() {
  local data_dir=$STATE_DIR/nisshi
  if [[ ${1:-} == --scratch ]]; then data_dir=$STATE_DIR/nisshi-scratch; fi
  if [[ -n ${KAFKA_BROKERS:-} ]]; then
    export CARTOGRAPH_KAFKA_BROKERS=$KAFKA_BROKERS
    log "Kafka: using KAFKA_BROKERS=$KAFKA_BROKERS"
    return
  fi
  local port=${CARTOGRAPH_KAFKA_PORT:-9092}
  export CARTOGRAPH_KAFKA_BROKERS=127.0.0.1:$port
  if port_open 127.0.0.1 "$port"; then
    log "Kafka: reusing the broker on 127.0.0.1:$port"
    return
  fi
  ensure_nisshi
  [[ $data_dir != "$STATE_DIR/nisshi-scratch" ]] || rm -rf "$data_dir"
  mkdir -p "$data_dir"
  # nisshi resolves sqlite:// paths against its working directory; the data survives restarts. One broker on
  # one machine: a group's first rebalance need not wait for members that are not coming (Kafka's
  # group.initial.rebalance.delay.ms, 3 s by default). The tests' private brokers start the same way
  # (server/tests/api/helpers/broker.rs).
  start_bg "nisshi (Kafka broker)" "$STATE_DIR/nisshi.log" env -C "$data_dir" \
    nisshi broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine sqlite://nisshi.db --group-initial-rebalance-delay 0s
  wait_port 127.0.0.1 "$port" 30 "the Kafka broker (nisshi)" "$STATE_DIR/nisshi.log"
}

# Exports CARTOGRAPH_OIDC_ISSUER_URL (and the client id and secret when given).
ensure_oidc() {
  if [[ -n ${OIDC_ISSUER_URL:-} ]]; then
    export CARTOGRAPH_OIDC_ISSUER_URL=$OIDC_ISSUER_URL
    [[ -z ${OIDC_CLIENT_ID:-} ]] || export CARTOGRAPH_OIDC_CLIENT_ID=$OIDC_CLIENT_ID
    [[ -z ${OIDC_CLIENT_SECRET:-} ]] || export CARTOGRAPH_OIDC_CLIENT_SECRET=$OIDC_CLIENT_SECRET
    log "OpenID Connect: using OIDC_ISSUER_URL=$OIDC_ISSUER_URL"
    return
  fi
  local port=${CARTOGRAPH_OIDC_PORT:-9400}
  export CARTOGRAPH_OIDC_ISSUER_URL=http://127.0.0.1:$port
  if port_open 127.0.0.1 "$port"; then
    log "OpenID Connect: reusing the provider on 127.0.0.1:$port"
    return
  fi
  ensure_node
  npm_ci "$ROOT/dev/oidc"
  OIDC_PORT=$port start_bg "the dev OpenID provider" "$STATE_DIR/oidc.log" node "$ROOT/dev/oidc/provider.mjs"
  wait_port 127.0.0.1 "$port" 30 "the dev OpenID provider" "$STATE_DIR/oidc.log"
}

# ensure_smtp [NAME]: exports CARTOGRAPH_SMTP_URL, and CARTOGRAPH_MAIL_INBOX_URL (the web inbox) when the mail goes
# to the dev sink (dev/smtp: maildev, which keeps every message and relays none; its log and files under
# $STATE_DIR/NAME, `smtp` unless given). Sets MAIL_SHOWN, where the mail goes in words without a password, for
# run.sh's banner.
# shellcheck disable=SC2034
ensure_smtp() {
  local name=${1:-smtp}
  if [[ -n ${CARTOGRAPH_SMTP_URL:-} ]]; then
    # The URL may hold a password: only its scheme, host and port are shown.
    local server=${CARTOGRAPH_SMTP_URL#*://}
    server=${server#*@}
    MAIL_SHOWN="${CARTOGRAPH_SMTP_URL%%://*}://${server%%[/?]*} (CARTOGRAPH_SMTP_URL)"
    log "SMTP: using $MAIL_SHOWN"
    return
  fi
  local port=${CARTOGRAPH_SMTP_PORT:-1025} web_port=${CARTOGRAPH_MAIL_INBOX_PORT:-1080}
  export CARTOGRAPH_SMTP_URL=smtp://127.0.0.1:$port
  export CARTOGRAPH_MAIL_INBOX_URL=http://127.0.0.1:$web_port
  MAIL_SHOWN="$CARTOGRAPH_MAIL_INBOX_URL (the inbox of the dev SMTP sink at $CARTOGRAPH_SMTP_URL)"
  if port_open 127.0.0.1 "$port"; then
    log "SMTP: reusing the sink on 127.0.0.1:$port (its inbox is expected at $CARTOGRAPH_MAIL_INBOX_URL)"
    return
  fi
  ensure_node
  npm_ci "$ROOT/dev/smtp"
  # Both listeners on loopback only (--ip binds only the SMTP one). A TMPDIR of its own: maildev keeps a copy of
  # each message in $TMPDIR/maildev, and deleting all messages empties that directory, whoever else uses it.
  mkdir -p "$STATE_DIR/$name"
  TMPDIR=$STATE_DIR/$name start_bg "the dev SMTP sink (maildev)" "$STATE_DIR/$name.log" \
    node "$ROOT/dev/smtp/node_modules/maildev/dist/bin/maildev.js" \
    --ip 127.0.0.1 --smtp "$port" --web-ip 127.0.0.1 --web "$web_port"
  wait_port 127.0.0.1 "$port" 30 "the dev SMTP sink (maildev)" "$STATE_DIR/$name.log"
  wait_port 127.0.0.1 "$web_port" 30 "the dev SMTP sink's inbox (maildev)" "$STATE_DIR/$name.log"
}
