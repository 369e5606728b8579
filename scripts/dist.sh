#!/usr/bin/env bash
# Builds what a deployment runs into one directory: the release `cartograph` binary (web server, worker,
# migrations, probe) and the site it serves (hashed, pre-compressed assets). deploy/Containerfile runs it in its
# build stage; run it yourself to build the image from these files instead (deploy/README.md).
#   scripts/dist.sh [DIR]     # DIR defaults to dist/ in the checkout
set -euo pipefail
# shellcheck source=lib/all.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/all.sh"
cartograph_init
out=${1:-$ROOT/dist}
build_site
log "building the release binary"
(cd "$ROOT" && cargo build --release -p server --bin cartograph)
rm -rf "$out"
mkdir -p "$out"
cp "$CARGO_TARGET_DIR/release/cartograph" "$out/cartograph"
cp -r "$SITE_DIR" "$out/site"
log "ready in $out: cartograph ($(du -m "$out/cartograph" | cut -f1) MiB) and site/"
