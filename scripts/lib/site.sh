#!/usr/bin/env bash
# The site the server serves: the WASM bundle, its glue and the stylesheet (sourced, not executed; definitions
# only). Needs scripts/lib/common.sh, initialised, and scripts/lib/tools.sh.

# bundle_wasm PACKAGE NAME: builds one WASM entry point and writes $SITE_DIR/pkg/NAME.{js,wasm}, optimised.
bundle_wasm() {
  local package=$1 name=$2 pkg=$SITE_DIR/pkg
  (cd "$ROOT" && cargo build -p "$package" --lib --target wasm32-unknown-unknown --profile wasm-release)
  local wasm=$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/${package//-/_}.wasm
  if [[ ! -f $pkg/$name.wasm || $wasm -nt $pkg/$name.wasm ]]; then
    wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section --out-dir "$pkg" --out-name "$name" "$wasm"
    mv "$pkg/${name}_bg.wasm" "$pkg/$name.wasm"
    log "optimising $name.wasm with wasm-opt"
    "$ROOT/tools/wasm-opt/node_modules/.bin/wasm-opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
      -o "$pkg/$name.wasm" "$pkg/$name.wasm"
  fi
}

# Builds the three WASM bundles (the shop's; the account's, with the cart, checkout, orders and notifications;
# the back office's, with its forms too: app::BundleNames) and lays out $SITE_DIR/pkg as the server serves it.
build_site() {
  ensure_rust_tools
  ensure_node
  npm_ci "$ROOT/tools/wasm-opt"
  local pkg=$SITE_DIR/pkg
  mkdir -p "$pkg"
  log "building the WASM bundles (the shop's, the account's, the back office's)"
  bundle_wasm frontend cartograph
  bundle_wasm frontend-account cartograph-account
  bundle_wasm frontend-back-office cartograph-back-office
  cp "$ROOT/style/main.css" "$pkg/cartograph.css"
  local files=("$pkg/cartograph.css") bundle
  for bundle in cartograph cartograph-account cartograph-back-office; do
    files+=("$pkg/$bundle.wasm" "$pkg/$bundle.js")
  done
  # Brotli and gzip copies, served as they are to browsers that take them (server/src/http/bundle.rs).
  node -e '
    const zlib = require("zlib"), fs = require("fs");
    for (const file of process.argv.slice(1)) {
      const bytes = fs.readFileSync(file);
      fs.writeFileSync(file + ".br", zlib.brotliCompressSync(bytes, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }));
      fs.writeFileSync(file + ".gz", zlib.gzipSync(bytes, { level: 9 }));
    }' "${files[@]}"
  # Content-hashed copies, which pages name and browsers keep for a year (`immutable`); `hash.txt` tells the
  # server the names (`js`, `wasm`, `css`; `account-js`, `account-wasm`, `back-office-js`, `back-office-wasm`).
  # A new build leaves only its own.
  find "$pkg" -regextype posix-extended -regex '.*/cartograph(-account|-back-office)?\.[0-9a-f]{16}\.(js|wasm|css)(\.br|\.gz)?' -delete
  local file base ext key hash suffix hashes=""
  for file in "${files[@]}"; do
    base=${file##*/}
    ext=${base##*.}
    key=$ext
    [[ $base == cartograph-account.* ]] && key=account-$ext
    [[ $base == cartograph-back-office.* ]] && key=back-office-$ext
    hash=$(sha256sum "$file" | cut -c1-16)
    for suffix in "" .br .gz; do
      cp "$file$suffix" "${file%."$ext"}.$hash.$ext$suffix"
    done
    hashes+="$key: $hash"$'\n'
  done
  printf '%s' "$hashes" > "$pkg/hash.txt"
  log "site ready in $SITE_DIR (brotli WASM: $(du -k "$pkg/cartograph.wasm.br" | cut -f1) KiB for a visitor browsing the shop, $(du -k "$pkg/cartograph-account.wasm.br" | cut -f1) KiB with the cart and the account, $(du -k "$pkg/cartograph-back-office.wasm.br" | cut -f1) KiB for the back office)"
}

# start_private_shop NAME BIN PORT: a shop of its own on PORT, a web server and a worker of BIN, for tests and
# benchmarks that must not meet a running scripts/run.sh: a fresh database cartograph_NAME, its own topics and
# consumer group, and no internal or metrics ports. Exports its settings; sets SHOP_URL. Stops with the script.
start_private_shop() {
  local name=$1 bin=$2 port=$3 run_id
  run_id=$(date +%s)-$$
  port_open 127.0.0.1 "$port" && die "port $port is taken; set CARTOGRAPH_E2E_PORT"
  create_database "cartograph_$name" --fresh
  export CARTOGRAPH_MODE=dev
  export CARTOGRAPH_DATABASE_URL=$PG_SERVER_URL/cartograph_$name
  export CARTOGRAPH_SITE_ROOT=$SITE_DIR
  export CARTOGRAPH_LISTEN_ADDR=127.0.0.1:$port
  export CARTOGRAPH_PUBLIC_URL=http://127.0.0.1:$port
  export CARTOGRAPH_SEED_DEMO_CATALOG=true
  export CARTOGRAPH_KAFKA_TOPIC_PREFIX=$name-$run_id.
  export CARTOGRAPH_KAFKA_CONSUMER_GROUP=$name-$run_id
  export CARTOGRAPH_WORKER_METRICS_ADDR=off  # a running scripts/run.sh worker may hold the default port
  export CARTOGRAPH_INTERNAL_ADDR=off  # a running scripts/run.sh web server holds the default port
  export CARTOGRAPH_WEBHOOK_RETRY_BASE_SECS=1  # a browser test sees a failed webhook retried within seconds
  "$bin" migrate
  start_bg "the worker ($name)" "$STATE_DIR/$name-worker.log" "$bin" worker
  start_bg "the web server ($name)" "$STATE_DIR/$name-web.log" "$bin" serve
  wait_port 127.0.0.1 "$port" 60 "the web server" "$STATE_DIR/$name-web.log"
  SHOP_URL=$CARTOGRAPH_PUBLIC_URL
  log "the $name shop is at $SHOP_URL"
}
