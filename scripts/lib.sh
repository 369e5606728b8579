#!/usr/bin/env bash
# Shared by run.sh and test.sh (sourced, not executed): tools, services and the build.
#
# Every service is taken from its environment variable when set, else reused when already listening, else
# installed (pinned) and started here; what this script starts, it stops on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_DIR=${CARTOGRAPH_CACHE_DIR:-$HOME/.cache/cartograph}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE_DIR/target}
STATE_DIR=$CACHE_DIR/state
SITE_DIR=$CARGO_TARGET_DIR/site
TANSU_VERSION=0.6.0
CARGO_DENY_VERSION=0.20.2
WASM_BINDGEN_VERSION=0.2.130
mkdir -p "$STATE_DIR"

STARTED_PIDS=()
PRIVATE_PG_DATA=""

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
warn() { printf '\033[1;33mwarning:\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

cleanup() {
  local i pid
  # In reverse start order, one at a time: the web server and the worker finish their requests and commit their
  # offsets while the broker and the provider still run.
  for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do
    pid=${STARTED_PIDS[i]}
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [[ -n $PRIVATE_PG_DATA ]]; then as_postgres pg_ctl -D "$PRIVATE_PG_DATA" -m fast stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# True when something accepts TCP connections on host:port.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# A TCP port on 127.0.0.1 that nothing listens on now (from the dynamic range).
free_port() {
  local port
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 30000))
    port_open 127.0.0.1 "$port" || { echo "$port"; return; }
  done
  die "no free port found on 127.0.0.1"
}

# wait_port HOST PORT SECONDS NAME LOGFILE: waits for a service, or dies naming it with its log's tail.
wait_port() {
  local deadline=$((SECONDS + $3))
  until port_open "$1" "$2"; do
    if ((SECONDS > deadline)); then
      [[ -f $5 ]] && tail -n 20 "$5" >&2
      die "$4 did not start on $1:$2 within $3 s (log: $5)"
    fi
    sleep 0.2
  done
}

# start_bg NAME LOGFILE COMMAND...: runs a command in the background and stops it on exit.
start_bg() {
  local name=$1 logfile=$2
  shift 2
  log "starting $name (log: $logfile)"
  "$@" >"$logfile" 2>&1 &
  STARTED_PIDS+=($!)
}

apt_install() {
  command -v apt-get >/dev/null || die "cannot install $* here: no apt-get; install it and retry"
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  log "installing $* from Debian's packages"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

ensure_rust_tools() {
  command -v cargo >/dev/null || die "Rust is not installed (https://rustup.rs), and Cartograph needs it"
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  if [[ $(wasm-bindgen --version 2>/dev/null) != "wasm-bindgen $WASM_BINDGEN_VERSION" ]]; then
    # Not --locked: its lockfile pins a yanked crate. The version must equal the wasm-bindgen crate's exactly.
    log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 10 CPU-minutes, once)"
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
  fi
}

ensure_node() {
  command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
}

# npm_ci DIR: installs a package's locked dependencies unless they are already in place.
npm_ci() {
  if [[ ! -d $1/node_modules || $1/package-lock.json -nt $1/node_modules/.package-lock.json ]]; then
    log "installing npm packages in ${1#"$ROOT"/}"
    (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

ensure_tansu() {
  if [[ $(tansu --version 2>/dev/null) != "tansu $TANSU_VERSION" ]]; then
    # The default build has no storage engine; libsql gives the durable sqlite:// store.
    log "installing tansu $TANSU_VERSION with its SQLite store (about 40 CPU-minutes, once)"
    cargo install tansu --version "$TANSU_VERSION" --locked --features libsql --force
  fi
}

ensure_shellcheck() {
  command -v shellcheck >/dev/null || apt_install shellcheck
}

ensure_cargo_deny() {
  if [[ $(cargo-deny --version 2>/dev/null) != "cargo-deny $CARGO_DENY_VERSION" ]]; then
    log "installing cargo-deny $CARGO_DENY_VERSION (about 7 minutes on 2 cores, once)"
    cargo install cargo-deny --version "$CARGO_DENY_VERSION" --locked --force
  fi
}

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
  local data_dir=$STATE_DIR/tansu
  if [[ ${1:-} == --scratch ]]; then data_dir=$STATE_DIR/tansu-scratch; fi
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
  ensure_tansu
  [[ $data_dir != "$STATE_DIR/tansu-scratch" ]] || rm -rf "$data_dir"
  mkdir -p "$data_dir"
  # tansu resolves sqlite:// paths against its working directory; the data survives restarts.
  start_bg "tansu (Kafka broker)" "$STATE_DIR/tansu.log" env -C "$data_dir" \
    tansu broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine sqlite://tansu.db
  wait_port 127.0.0.1 "$port" 30 "the Kafka broker (tansu)" "$STATE_DIR/tansu.log"
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

ensure_chromium() {
  [[ -x /usr/bin/chromium ]] || apt_install chromium
}

# The journey tests read the rendered PDFs with real parsers.
ensure_pdf_tools() {
  command -v pdftotext >/dev/null && command -v qpdf >/dev/null || apt_install poppler-utils qpdf
}

# Builds the WASM bundle and lays out $SITE_DIR/pkg as leptos_axum serves it.
build_site() {
  ensure_rust_tools
  log "building the WASM bundle"
  (cd "$ROOT" && cargo build -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release)
  local wasm=$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/frontend.wasm pkg=$SITE_DIR/pkg
  mkdir -p "$pkg"
  if [[ ! -f $pkg/cartograph.wasm || $wasm -nt $pkg/cartograph.wasm ]]; then
    wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section --out-dir "$pkg" --out-name cartograph "$wasm"
    mv "$pkg/cartograph_bg.wasm" "$pkg/cartograph.wasm"
    ensure_node
    npm_ci "$ROOT/tools/wasm-opt"
    log "optimising the WASM bundle with wasm-opt"
    "$ROOT/tools/wasm-opt/node_modules/.bin/wasm-opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
      -o "$pkg/cartograph.wasm" "$pkg/cartograph.wasm"
  fi
  cp "$ROOT/style/main.css" "$pkg/cartograph.css"
  # Brotli and gzip copies, served as they are to browsers that take them (server/src/http/bundle.rs).
  ensure_node
  node -e '
    const zlib = require("zlib"), fs = require("fs");
    for (const file of process.argv.slice(1)) {
      const bytes = fs.readFileSync(file);
      fs.writeFileSync(file + ".br", zlib.brotliCompressSync(bytes, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }));
      fs.writeFileSync(file + ".gz", zlib.gzipSync(bytes, { level: 9 }));
    }' "$pkg/cartograph.wasm" "$pkg/cartograph.js" "$pkg/cartograph.css"
  log "site ready in $SITE_DIR ($(du -k "$pkg/cartograph.wasm" | cut -f1) KiB of WASM)"
}
