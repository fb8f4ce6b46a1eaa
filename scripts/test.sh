#!/usr/bin/env bash
# The README's test command (`npm test`): works on a fresh clone with nothing run before it.
# Bootstraps Node 24 / dependencies / Redis, compiles the contracts offline, lints, type-checks, then runs
# every test suite (vitest: unit + contract + end-to-end; Hardhat: Solidity fuzz and invariant tests).
# Ends with one line "dsmp: N passed, N failed".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/bootstrap.sh
source "$here/lib/bootstrap.sh"
cd "$DSMP_ROOT"

dsmp_ensure_node
dsmp_ensure_deps
trap dsmp_stop_private_redis EXIT
dsmp_ensure_redis

step() { dsmp_log "── $*"; }

step "build: compile contracts (solc-js $(node -p 'require("solc/package.json").version'), offline), generate ABIs, build the Wasm examples and the web UI"
# Prove the compile needs no network: where we may create a network namespace (root on Linux), build inside
# one that has only loopback, from scratch; elsewhere build normally.
if command -v unshare >/dev/null 2>&1 && unshare -n true 2>/dev/null; then
  dsmp_log "building with the network cut (unshare -n, --force)"
  unshare -n bash -c 'ip link set lo up 2>/dev/null; node_modules/.bin/hardhat build --force --quiet && node scripts/gen-abis.ts && node scripts/build-examples.ts && node_modules/.bin/vite build web --logLevel warn' \
    || dsmp_die "build failed with the network cut: the compile must not download anything"
else
  npm run --silent build || dsmp_die "build failed"
fi
step "lint: solhint + TypeScript type-check"
npm run --silent lint || dsmp_die "lint failed"

results=$(mktemp -d)
step "vitest: unit, contract and end-to-end tests"
npx vitest run --reporter=default --reporter=json --outputFile.json="$results/vitest.json" "$@"
vitest_rc=$?

step "hardhat: Solidity fuzz and invariant tests"
node_modules/.bin/hardhat test solidity --no-compile 2>&1 | tee "$results/solidity.txt"
sol_rc=${PIPESTATUS[0]}

read -r v_pass v_fail < <(node -e '
  try { const r = require(process.argv[1]); console.log(r.numPassedTests, r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0)); }
  catch { console.log(0, 1); }' "$results/vitest.json")
s_pass=$(grep -oE '[0-9]+ passing' "$results/solidity.txt" | grep -oE '[0-9]+' | tail -1)
s_fail=$(grep -oE '[0-9]+ failing' "$results/solidity.txt" | grep -oE '[0-9]+' | tail -1)
s_pass=${s_pass:-0}; s_fail=${s_fail:-0}
[ "$sol_rc" -ne 0 ] && [ "$s_fail" -eq 0 ] && s_fail=1
[ "$vitest_rc" -ne 0 ] && [ "$v_fail" -eq 0 ] && v_fail=1

echo
echo "vitest: $v_pass passed, $v_fail failed · solidity: $s_pass passed, $s_fail failed"
echo "dsmp: $((v_pass + s_pass)) passed, $((v_fail + s_fail)) failed"
rm -rf "$results"
[ "$vitest_rc" -eq 0 ] && [ "$sol_rc" -eq 0 ]
