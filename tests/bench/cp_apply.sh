#!/usr/bin/env bash
# Control-plane apply benchmark (not a test): a generated decK file with N services, each with
# a route and a key-auth plugin (3N entities), applied to a release-build CP on SQLite.
# Prints the time of the first full apply, of one-route changes, of a no-op re-apply, and the
# CP's peak RSS. Goals (issue 3): full apply < 2 s, one-route change < 200 ms, RSS < 200 MB.
#
# usage: tests/bench/cp_apply.sh [N]   (default 10000)
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-10000}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cp-bench.XXXXXX")
CP_PID=
cleanup() {
  if [ -n "$CP_PID" ]; then kill "$CP_PID" 2>/dev/null || true; wait "$CP_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

[ "${BENCH_SKIP_BUILD:-}" = 1 ] || cargo build --release --quiet -p control-plane
BIN=${CARGO_TARGET_DIR:-target}/release/control-plane
python3 tests/bench/gen_deck.py "$N" "$WORK/a.yaml"
python3 tests/bench/gen_deck.py "$N" "$WORK/b.yaml" --change

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" serve --database-url "sqlite://$WORK/kong.db" --admin-listen "127.0.0.1:$PORT" \
  --cluster-listen 127.0.0.1:0 >"$WORK/cp.log" 2>&1 &
CP_PID=$!
for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/status" 2>/dev/null && break; sleep 0.1; done

# run LABEL FILE: applies FILE and prints the wall time in ms.
run() {
  local start end
  start=$(date +%s%N)
  "$BIN" apply "$2" --admin-url "127.0.0.1:$PORT" >"$WORK/out.txt"
  end=$(date +%s%N)
  printf '%-28s %6d ms   (%s)\n' "$1" $(((end - start) / 1000000)) "$(grep -E 'Created|Updated|Deleted' "$WORK/out.txt" | tr -s ' ' | tr '\n' ' ')"
}

echo "entities: $((3 * N)) ($N services, $N routes, $N plugins); file $(wc -c <"$WORK/a.yaml") bytes"
run "full apply" "$WORK/a.yaml"
run "no-op re-apply" "$WORK/a.yaml"
for i in 1 2 3; do
  run "one-route change #$i" "$WORK/b.yaml"
  run "one-route change back #$i" "$WORK/a.yaml"
done
echo "CP peak RSS: $(awk '/VmHWM/ {printf "%d MB", $2/1024}' /proc/$CP_PID/status)"
