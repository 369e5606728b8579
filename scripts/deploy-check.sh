#!/usr/bin/env bash
# Validates the deploy files with what runs on this machine kind (deploy/README.md says what is and is not
# exercised):
#   manifests  deploy/k8s rendered with `kubectl kustomize` and validated strictly against the Kubernetes 1.30
#              and 1.37 schemas (PyPI kubernetes-validate, pinned, in a virtualenv), worker replicas checked
#              against the partitions
#   compose    deploy/compose.yaml validated against the Compose schema by Debian's docker-compose (`config`, which
#              runs nothing), with the example secrets and without them (it must refuse); its scripts
#              scripts checked by shellcheck and the Keycloak realm parsed
#   image      deploy/Containerfile built with podman (`--target prebuilt`, from scripts/dist.sh's files) on a
#              Debian base made with debootstrap and imported (no image registry is reachable here); then the
#              image's user runs its binary from the mounted image (podman cannot run containers here): the web
#              server and the worker against this machine's services until both /readyz answer 200, and the
#              image's own healthcheck command
#   scripts/deploy-check.sh [manifests|compose|image|all]    # all by default
set -euo pipefail
# shellcheck source=lib/all.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/all.sh"
cartograph_init
WHAT=${1:-all}
case $WHAT in all | manifests | compose | image) ;; *) die "usage: scripts/deploy-check.sh [manifests|compose|image|all]" ;; esac

check_manifests() {
  command -v kubectl >/dev/null || apt_install kubernetes-client
  local venv=$STATE_DIR/deploy-check-venv rendered=$STATE_DIR/k8s-rendered.yaml
  if [[ ! -x $venv/bin/kubernetes-validate ]]; then
    log "installing kubernetes-validate 1.37.0 (PyPI) in $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet kubernetes-validate==1.37.0
  fi
  kubectl kustomize "$ROOT/deploy/k8s" >"$rendered"
  log "manifests: $(grep -c '^kind:' "$rendered") objects rendered; validating against Kubernetes 1.30 and 1.37"
  for version in 1.30.0 1.37.0; do
    "$venv/bin/kubernetes-validate" --strict --quiet -k "$version" "$rendered" "$ROOT/deploy/k8s/secret.example.yaml" ||
      die "the manifests do not validate against Kubernetes $version (above)"
  done
  local replicas partitions
  replicas=$(awk '/^kind: StatefulSet/{s=1} s && /^  replicas:/{print $2; exit}' "$rendered")
  partitions=$(awk -F'"' '/CARTOGRAPH_KAFKA_PARTITIONS:/{print $2; exit}' "$rendered")
  [[ -n $replicas && -n $partitions ]] || die "could not read the worker replicas or the partitions"
  ((replicas <= partitions)) || die "$replicas workers for $partitions partitions: the extra ones would hold none"
  log "manifests: valid; $replicas workers for $partitions partitions"
}

check_compose() {
  command -v docker-compose >/dev/null || apt_install docker-compose
  ensure_shellcheck
  local deploy=$ROOT/deploy empty=$STATE_DIR/empty.env
  : >"$empty"
  log "compose: deploy/compose.yaml against the Compose schema ($(docker-compose version --short))"
  (cd "$deploy" && docker-compose --env-file compose/example.env -f compose.yaml config -q) ||
    die "deploy/compose.yaml is not a valid Compose file (above)"
  if (cd "$deploy" && docker-compose --env-file "$empty" -f compose.yaml config -q) 2>/dev/null; then
    die "deploy/compose.yaml starts without its secrets; every one must be required (\${NAME:?…})"
  fi
  shellcheck "$deploy"/compose/*.sh || die "shellcheck found problems in deploy/compose (above)"
  # Each Cartograph service's environment, as Compose resolves it, through the binary's own settings check
  # (production mode: every required setting present and safe, no variable that sets nothing).
  (cd "$ROOT" && cargo build --quiet -p server --bin cartograph)
  local bin=$CARGO_TARGET_DIR/debug/cartograph resolved=$STATE_DIR/compose-resolved.yaml ca=$STATE_DIR/compose-ca.pem
  (cd "$deploy" && docker-compose --env-file compose/example.env -f compose.yaml config) >"$resolved"
  : >"$ca"
  python3 - "$resolved" "$bin" "$ca" <<'PY' || die "a Cartograph service's settings are refused (above)"
import subprocess, sys, yaml
resolved, binary, ca = sys.argv[1:]
services = yaml.safe_load(open(resolved))["services"]
failed = False
for name, service in sorted(services.items()):
    env = {key: str(value) for key, value in (service.get("environment") or {}).items()}
    if "CARTOGRAPH_MODE" not in env:
        continue
    # The CA exists only inside the stack: any file stands in for it here.
    env.update({key: ca for key in env if key.endswith("_CA_FILE")})
    run = subprocess.run([binary, "check-config"], env=env, capture_output=True, text=True)
    if run.returncode != 0 or run.stderr.strip():
        print(f"{name}: {run.stderr.strip()}")
        failed = True
sys.exit(1 if failed else 0)
PY
  python3 -m json.tool "$deploy/compose/cartograph-realm.json" >/dev/null || die "the Keycloak realm is not JSON"
  log "compose: valid; refuses to start without its secrets; every Cartograph service's settings pass production's check"
}

check_image() {
  command -v podman >/dev/null && command -v debootstrap >/dev/null || apt_install podman debootstrap
  local conf=$STATE_DIR/containers.conf base=localhost/debian:bookworm-minbase image=localhost/cartograph:check
  # podman 4.3 here builds only with chroot isolation and without the default ulimits.
  printf '[containers]\ndefault_ulimits = []\n' >"$conf"
  export CONTAINERS_CONF=$conf
  if ! podman image exists "$base"; then
    local rootfs=$STATE_DIR/debian-rootfs
    log "making the base image $base with debootstrap"
    rm -rf "$rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >/dev/null
    rm -f "$rootfs"/var/cache/apt/archives/*.deb
    tar -C "$rootfs" -c . | podman import - "$base" >/dev/null
    rm -rf "$rootfs"
  fi
  bash "$ROOT/scripts/dist.sh" "$ROOT/dist"
  log "building $image from deploy/Containerfile (--target prebuilt)"
  (cd "$ROOT" && podman build --isolation=chroot --format docker --quiet -f deploy/Containerfile --target prebuilt \
    --build-arg BASE_IMAGE="$base" -t "$image" .) >/dev/null
  local user healthcheck size
  user=$(podman image inspect --format '{{.Config.User}}' "$image")
  healthcheck=$(podman image inspect --format '{{.Config.Healthcheck.Test}}' "$image")
  size=$(podman image inspect --format '{{.Size}}' "$image")
  [[ $user == 10001:10001 ]] || die "the image runs as '$user', not the unprivileged 10001"
  [[ $healthcheck == *probe* ]] || die "the image has no healthcheck: $healthcheck"
  log "image: $((size / 1024 / 1024)) MB, user $user, healthcheck $healthcheck"

  ensure_postgres
  ensure_broker
  ensure_oidc
  create_database cartograph_deploy_check --fresh
  local root web metrics run_id
  root=$(podman image mount "$image")
  at_exit "podman image unmount $image >/dev/null"
  web=$(free_port)
  metrics=$(free_port)
  run_id=$(date +%s)-$$
  local env=(env -i CARTOGRAPH_MODE=dev CARTOGRAPH_SITE_ROOT=/opt/cartograph/site
    CARTOGRAPH_DATABASE_URL="$PG_SERVER_URL/cartograph_deploy_check" CARTOGRAPH_KAFKA_BROKERS="$CARTOGRAPH_KAFKA_BROKERS"
    CARTOGRAPH_KAFKA_TOPIC_PREFIX="deploy-check-$run_id." CARTOGRAPH_KAFKA_CONSUMER_GROUP="deploy-check-$run_id"
    CARTOGRAPH_OIDC_ISSUER_URL="$CARTOGRAPH_OIDC_ISSUER_URL" CARTOGRAPH_LISTEN_ADDR="127.0.0.1:$web"
    CARTOGRAPH_PUBLIC_URL="http://127.0.0.1:$web" CARTOGRAPH_INTERNAL_ADDR=off
    CARTOGRAPH_WORKER_METRICS_ADDR="127.0.0.1:$metrics" CARTOGRAPH_SEED_DEMO_CATALOG=true)
  # `env -i` leaves no PATH: chroot by its full path.
  local run=("$(command -v chroot)" --userspec=10001:10001 "$root" /opt/cartograph/cartograph)
  start_bg "the image's web server" "$STATE_DIR/deploy-check-web.log" "${env[@]}" "${run[@]}" serve
  start_bg "the image's worker" "$STATE_DIR/deploy-check-worker.log" "${env[@]}" "${run[@]}" worker
  local url
  for url in "http://127.0.0.1:$web/readyz" "http://127.0.0.1:$metrics/readyz"; do
    for _ in $(seq 1 120); do
      [[ $(curl -s -o /dev/null -w '%{http_code}' "$url") == 200 ]] && break
      sleep 0.5
    done
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$url") == 200 ]] ||
      die "$url is not ready after 60 s; logs: $STATE_DIR/deploy-check-{web,worker}.log"
  done
  "${run[@]}" probe "http://127.0.0.1:$web/healthz" || die "the image's healthcheck command failed"
  [[ $(curl -s "http://127.0.0.1:$web/" | grep -c 'cartograph') -gt 0 ]] || die "the home page did not render"
  log "image: the web server and the worker started from it as user 10001 are ready; its healthcheck passes"
}

[[ $WHAT != all && $WHAT != manifests ]] || check_manifests
[[ $WHAT != all && $WHAT != compose ]] || check_compose
[[ $WHAT != all && $WHAT != image ]] || check_image
