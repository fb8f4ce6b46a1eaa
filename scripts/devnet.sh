#!/usr/bin/env bash
# The README's first command (`npm run devnet`): works on a fresh clone with nothing run before it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/bootstrap.sh
source "$here/lib/bootstrap.sh"
cd "$DSMP_ROOT"
dsmp_ensure_node
dsmp_ensure_deps
trap dsmp_stop_private_redis EXIT
dsmp_ensure_redis
[ -f contracts/generated/abis.ts ] && [ -z "$(find contracts/src -newer contracts/generated/abis.ts -name '*.sol' | head -1)" ] \
  || npm run --silent build
node scripts/devnet.ts "$@"
