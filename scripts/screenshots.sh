#!/usr/bin/env bash
# The README's pictures of the insights: a shop of its own (fresh database and topics, on a free port), filled
# by the load generator's shoppers (searches, products opened from recommendation slots, carts, payments, Web
# Vitals), then a full-page screenshot of /admin/insights and the first page of its PDF, into docs/.
#   scripts/screenshots.sh [--duration 120] [--users 16]
set -euo pipefail
# shellcheck source=lib/all.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/all.sh"
cartograph_init
duration=120 users=16
while [[ $# -gt 0 ]]; do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --users) users=$2; shift 2 ;;
    *) die "usage: scripts/screenshots.sh [--duration SECS] [--users N]" ;;
  esac
done
ensure_postgres
ensure_broker --scratch
ensure_oidc
ensure_chromium
ensure_node
ensure_pdf_tools
npm_ci "$ROOT/end2end"
build_site
log "building the server and the load generator (release)"
(cd "$ROOT" && cargo build --release -p server --bin cartograph -p cartograph-tools --bin cartograph-load)
start_private_shop screenshots "$CARGO_TARGET_DIR/release/cartograph" "$(free_port)"
"$CARGO_TARGET_DIR/release/cartograph-load" --url "$SHOP_URL" --duration "$duration" --users "$users" \
  --think-ms 400 --no-assets --as-browsers
log "letting the worker store the last events"
sleep 10
pdf=$(mktemp --suffix .pdf)
(cd "$ROOT/end2end" && node screenshots.mjs --url "$SHOP_URL" \
  --page "$ROOT/docs/insights-page.png" --pdf "$pdf")
pdftoppm -png -r 80 -f 1 -l 1 -singlefile "$pdf" "$ROOT/docs/insights-report-page-1"
rm -f "$pdf"
log "wrote docs/insights-page.png and docs/insights-report-page-1.png"
