#!/usr/bin/env bash
# Runs every test: unit and integration (cargo test, against the real PostgreSQL, broker and OpenID
# provider), then browser tests (Playwright in Debian's Chromium) against the real built app.
# `scripts/test.sh rust` or `scripts/test.sh e2e` runs one layer; extra arguments go to Playwright.
set -euo pipefail
# shellcheck source=lib/all.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/all.sh"
cartograph_init

LAYERS=${1:-all}
[[ $# -eq 0 ]] || shift
case $LAYERS in all | rust | e2e) ;; *) die "usage: scripts/test.sh [all|rust|e2e] [playwright arguments]" ;; esac
# A free port unless one is given: the tests must pass while scripts/run.sh (or another test run) is running.
E2E_PORT=${CARTOGRAPH_E2E_PORT:-$(free_port)}
started_at=$SECONDS

# Supply chain first (deny.toml), before the long builds. Licences, bans and sources are read from Cargo.lock
# alone. Advisories need the RustSec database, a git repository fetched at each run: when it cannot be reached
# the run says so and goes on; when it can, any advisory not accepted in deny.toml fails the run. Run by hand
# without --hide-inclusion-graph, cargo deny also shows which crates pull each finding in.
ensure_cargo_deny
log "supply chain: cargo deny check bans licenses sources"
(cd "$ROOT" && cargo fetch --quiet && cargo deny --offline --locked check --hide-inclusion-graph -s bans licenses sources) ||
  die "cargo deny refused a dependency (above); deny.toml says what is allowed and why"
ADVISORY_DB=https://github.com/RustSec/advisory-db
if GIT_TERMINAL_PROMPT=0 timeout 30 git ls-remote --exit-code "$ADVISORY_DB" refs/heads/main >/dev/null 2>&1; then
  log "supply chain: cargo deny check advisories (RustSec database fetched now)"
  (cd "$ROOT" && cargo deny --locked check advisories) ||
    die "cargo deny check advisories failed (above): upgrade the crate, or accept the advisory in deny.toml with the reason"
else
  warn "supply chain: advisories NOT checked: the RustSec database ($ADVISORY_DB) cannot be reached from this machine"
fi

ensure_shellcheck
log "scripts: shellcheck (warnings and errors)"
(cd "$ROOT" && shellcheck -x -P SCRIPTDIR --severity=warning scripts/*.sh scripts/lib/*.sh .ci/run) || die "shellcheck found problems (above)"
ensure_rust_tools
# Habits (rustfmt.toml, [workspace.lints]): formatted, and clippy-clean on the server, the tools and the WASM build.
log "formatting and lints: cargo fmt --check; cargo clippy -D warnings (server, tools, the three WASM entry points)"
(cd "$ROOT" && cargo fmt --all --check) || die "cargo fmt would change the files above: run cargo fmt --all"
(cd "$ROOT" && cargo clippy --quiet -p app -p server -p cartograph-tools --all-targets -- -D warnings &&
  cargo clippy --quiet -p frontend --target wasm32-unknown-unknown -- -D warnings &&
  cargo clippy --quiet -p frontend-account --target wasm32-unknown-unknown -- -D warnings &&
  cargo clippy --quiet -p frontend-back-office --target wasm32-unknown-unknown -- -D warnings) ||
  die "clippy found problems (above)"
ensure_postgres
ensure_broker --scratch
ensure_oidc
ensure_chromium
ensure_pdf_tools
ensure_node
npm_ci "$ROOT/end2end"
# Some integration tests start a provider of their own from this checkout (provider_tls), even when ensure_oidc
# reused one already running (scripts/run.sh's, say).
npm_ci "$ROOT/dev/oidc"
# The integration tests start SMTP sinks of their own on free ports (server/tests/api/helpers/smtp.rs), so that
# they can stop and restart them: only its packages are needed here.
npm_ci "$ROOT/dev/smtp"

export CARTOGRAPH_TEST_ADMIN_DATABASE_URL=$PG_SERVER_URL/postgres

if [[ $LAYERS != e2e ]]; then
  # Test databases from earlier runs.
  for db in $(psql "$PG_SERVER_URL/postgres" -qAt -c "SELECT datname FROM pg_database WHERE datname LIKE 'cartograph\_test\_%'"); do
    psql "$PG_SERVER_URL/postgres" -qAt -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null
  done
  log "unit and integration tests (cargo test)"
  (cd "$ROOT" && cargo test -p app -p server -p cartograph-tools --no-fail-fast)
fi
[[ $LAYERS != rust ]] || exit 0

log "browser tests (Playwright)"
build_site
(cd "$ROOT" && cargo build -p server --bin cartograph)
BIN=$CARGO_TARGET_DIR/debug/cartograph
# The browser tests' shop mails a sink of its own on free ports, whose inbox the tests read (a running
# scripts/run.sh keeps its own).
unset CARTOGRAPH_SMTP_URL
CARTOGRAPH_SMTP_PORT=$(free_port) CARTOGRAPH_MAIL_INBOX_PORT=$(free_port) ensure_smtp e2e-smtp
start_private_shop e2e "$BIN" "$E2E_PORT"
(cd "$ROOT/end2end" && BASE_URL=$SHOP_URL DATABASE_URL=$CARTOGRAPH_DATABASE_URL CARTOGRAPH_BIN=$BIN \
  MAIL_INBOX_URL=$CARTOGRAPH_MAIL_INBOX_URL npx playwright test "$@")

log "all tests passed in $((SECONDS - started_at)) s"
