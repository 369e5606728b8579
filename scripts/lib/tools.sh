#!/usr/bin/env bash
# The tools the scripts need, each installed (pinned where it matters) the first time it is missing or at
# another version (sourced, not executed; definitions only). Needs scripts/lib/common.sh, initialised.

apt_install() {
  command -v apt-get >/dev/null || die "cannot install $* here: no apt-get; install it and retry"
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  log "installing $* from Debian's packages"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

ensure_rust_tools() {
  # Must equal the version of the wasm-bindgen crate (Cargo.toml) exactly.
  local wasm_bindgen_version=0.2.130
  command -v cargo >/dev/null || die "Rust is not installed (https://rustup.rs), and Cartograph needs it"
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  if [[ $(wasm-bindgen --version 2>/dev/null) != "wasm-bindgen $wasm_bindgen_version" ]]; then
    # Not --locked: its lockfile pins a yanked crate.
    log "installing wasm-bindgen-cli $wasm_bindgen_version (about 10 CPU-minutes, once)"
    cargo install wasm-bindgen-cli --version "$wasm_bindgen_version" --force
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

ensure_nisshi() {
  local nisshi_version=0.8.1
  if [[ $(nisshi --version 2>/dev/null) != "nisshi $nisshi_version" ]]; then
    # Only the libsql engine (the durable sqlite:// store): the default features add PostgreSQL, S3 and memory
    # engines we never start. Its lockfile pins rama 0.4.0, which declares Rust 1.96 but builds on 1.95.
    log "installing nisshi $nisshi_version with its SQLite store (about 30 CPU-minutes, once)"
    cargo install nisshi --version "$nisshi_version" --locked --no-default-features --features libsql \
      --ignore-rust-version --force
  fi
}

ensure_shellcheck() {
  command -v shellcheck >/dev/null || apt_install shellcheck
}

ensure_cargo_deny() {
  local cargo_deny_version=0.20.2
  if [[ $(cargo-deny --version 2>/dev/null) != "cargo-deny $cargo_deny_version" ]]; then
    log "installing cargo-deny $cargo_deny_version (about 7 minutes on 2 cores, once)"
    cargo install cargo-deny --version "$cargo_deny_version" --locked --force
  fi
}

ensure_chromium() {
  [[ -x /usr/bin/chromium ]] || apt_install chromium
}

# The journey tests read the rendered PDFs with real parsers.
ensure_pdf_tools() {
  command -v pdftotext >/dev/null && command -v qpdf >/dev/null || apt_install poppler-utils qpdf
}
