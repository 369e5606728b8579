#!/usr/bin/env bash
# Regenerates the compile-time query metadata in .sqlx/ after a query or a migration changed.
# Needs a PostgreSQL server (DATABASE_URL's, else 127.0.0.1:5432); uses a scratch database (`cartograph_sqlx`, or $SQLX_PREPARE_DB).
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/tools.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/tools.sh"
# shellcheck source=lib/services.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/services.sh"
cartograph_init
ensure_postgres
DB=${SQLX_PREPARE_DB:-cartograph_sqlx}
create_database "$DB" --fresh
for migration in "$ROOT"/migrations/*.sql; do
  psql "$PG_SERVER_URL/$DB" -q -v ON_ERROR_STOP=1 -f "$migration" >/dev/null
done
rm -f "$ROOT"/.sqlx/query-*.json
touch "$ROOT/app/src/lib.rs" "$ROOT/server/src/lib.rs"
(cd "$ROOT" && SQLX_OFFLINE=false DATABASE_URL=$PG_SERVER_URL/$DB cargo check -p app -p server --tests --features app/ssr)
log "$(ls "$ROOT"/.sqlx | wc -l) queries prepared in .sqlx/"
