#!/usr/bin/env bash
# Control-plane apply benchmark (not a test): a generated decK file with N services, each with
# a route and a key-auth plugin (3N entities), applied to a release-build CP on SQLite.
# Prints the time of the first full apply, of one-route changes, of a no-op re-apply, of single
# Admin API writes on the applied config, and the CP's peak RSS. Goals (issue 3): full apply
# < 2 s, one-route change < 200 ms, RSS < 200 MB.
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

# The CP's CPU time so far (user + system), in ms: the machine may be shared, so wall times
# are printed with the CPU time each step took in the CLI and in the CP.
cp_cpu() { awk -v t="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / t)}' "/proc/$CP_PID/stat"; }
# The CP's resident memory now and its peak so far, in MB.
cp_rss() { awk '/VmRSS/ {r=$2} /VmHWM/ {h=$2} END {printf "RSS %d/%d MB", r/1024, h/1024}' "/proc/$CP_PID/status"; }

# run LABEL FILE: applies FILE and prints the wall time in ms (and the CPU time of each side);
# the wall time is also left in $LAST_MS.
LAST_MS=0
run() {
  local start end cpu0 cli
  cpu0=$(cp_cpu)
  start=$(date +%s%N)
  /usr/bin/time -f '%U %S' -o "$WORK/time.txt" "$BIN" apply "$2" --admin-url "127.0.0.1:$PORT" >"$WORK/out.txt"
  end=$(date +%s%N)
  cli=$(awk '{print int(($1 + $2) * 1000)}' "$WORK/time.txt")
  LAST_MS=$(((end - start) / 1000000))
  printf '%-28s %6d ms  (CPU: CLI %4d ms, CP %4d ms)  %s  %s\n' "$1" $(((end - start) / 1000000)) "$cli" $(($(cp_cpu) - cpu0)) "$(cp_rss)" "$(grep -E 'Created|Updated|Deleted' "$WORK/out.txt" | tr -s ' ' | tr '\n' ' ')"
}

echo "entities: $((3 * N)) ($N services, $N routes, $N plugins); file $(wc -c <"$WORK/a.yaml") bytes"
run "full apply" "$WORK/a.yaml"
run "no-op re-apply" "$WORK/a.yaml"
ROUTE_MS=()
for i in 1 2 3 4 5; do
  run "one-route change #$i" "$WORK/b.yaml"
  ROUTE_MS+=("$LAST_MS")
  run "one-route change back #$i" "$WORK/a.yaml"
  ROUTE_MS+=("$LAST_MS")
done
printf '%s\n' "${ROUTE_MS[@]}" | sort -n | awk '{v[NR] = $1} END {
  printf "one-route changes (%d): min %d ms, median %d ms, max %d ms\n", NR, v[1], (v[int((NR + 1) / 2)] + v[int(NR / 2) + 1]) / 2, v[NR] }'

# admin METHOD PATH [BODY]: one Admin API write on the applied config; prints its wall time
# (curl's time_total) and the HTTP status.
admin() {
  local out cpu0
  cpu0=$(cp_cpu)
  out=$(curl -sS -o /dev/null -w '%{http_code} %{time_total}' -X "$1" "http://127.0.0.1:$PORT$2" \
    ${3:+-H 'Content-Type: application/json' -d "$3"})
  printf '%-36s %6.0f ms  (CPU: CP %4d ms)  HTTP %s\n' "$1 $2" "$(echo "$out" | awk '{print $2 * 1000}')" $(($(cp_cpu) - cpu0)) "${out%% *}"
}
M=$((N / 2))
admin PATCH "/routes/route$M" '{"paths":["/patched"]}'
admin PATCH "/services/svc$M" '{"retries":3}'
admin POST /services '{"name":"bench-new","url":"http://127.0.0.1:9/new"}'
admin POST /routes '{"name":"bench-new-route","paths":["/bench-new"],"service":{"name":"bench-new"}}'
admin POST /plugins '{"name":"key-auth","service":{"name":"bench-new"}}'
admin DELETE /routes/bench-new-route
admin DELETE "/routes/route$M"
admin DELETE /services/bench-new
echo "CP peak RSS: $(awk '/VmHWM/ {printf "%d MB", $2/1024}' /proc/$CP_PID/status)"
