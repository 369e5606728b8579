#!/usr/bin/env bash
# Everything the entry scripts that run the shop (run.sh, test.sh, bench.sh) need: sourcing it only defines
# functions; the caller then calls cartograph_init.
# shellcheck source-path=SCRIPTDIR
_lib="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=common.sh
source "$_lib/common.sh"
# shellcheck source=tools.sh
source "$_lib/tools.sh"
# shellcheck source=services.sh
source "$_lib/services.sh"
# shellcheck source=site.sh
source "$_lib/site.sh"
unset _lib
