#!/usr/bin/env bash
# Side-by-side proxy benchmark on loopback (not a test: numbers depend on the machine).
#
# Starts, on 127.0.0.1 only:
#   - a static upstream: nginx answering every request with a fixed OpenAI responses-API JSON;
#   - nginx as a plain reverse proxy to it (keep-alive upstream pool);
#   - our stack: a control plane and one data plane (release build), with a service and two
#     routes pointing at the static upstream, global key-auth, global prometheus with every
#     flag on, and ai-proxy-advanced on the `/ai` route (its upstream_url is the static nginx);
#   - unless --no-10k, a second control plane and data plane with the same config plus 9,998
#     more routes, measured at c=32 in the same rounds as the first (so the 10,000-route ratio
#     compares runs made side by side, not minutes apart);
# then loads each with the same wrk (same request, same concurrency, same duration) and prints
# requests/s, p50 and p99, the proxy's CPU time per request (from /proc; it depends less than
# req/s on how the cores are shared, though contention still inflates it), the DP/nginx ratios,
# the added p99 latency over direct at c=1, the throughput with a 10,000-route config, and the
# DP's RSS (from /proc).
#
# Usage: tests/bench/proxy.sh [--duration SECONDS] [--no-10k] [--no-build] [--soak SECONDS]
#                             [--instructions] [--rounds N]
#   --no-build uses target/release/{control-plane,data-plane} as they are.
#   --soak loads /plain and /ai together (c=16 each) for SECONDS at the end and prints the
#   DP's RSS every 30 s (memory growth under steady load).
#   --rounds N measures every target N times, the targets interleaved round by round, and
#   reports each figure's median over the rounds (single runs on a shared VM swing a lot,
#   p99 most of all).
#   --instructions also runs a second data plane under valgrind's callgrind and prints the
#   instructions it executes per request on /plain and /ai (wrk c=4, 5 s each; userland only):
#   a count that does not depend on what else the machine runs, for A/B comparisons of code
#   changes when req/s and CPU time are too noisy. The callgrind profiles stay in the work
#   directory (with BENCH_KEEP=1) for callgrind_annotate.
# Env:   BENCH_KEEP=1 keeps the work directory (configs and logs) for inspection.
#        BENCH_TARGET_DIR=DIR builds into / runs the binaries of DIR/release instead of
#          target/release (e.g. a separate profiling build).
#        BENCH_PERF=DIR records `perf record -g` of the proxy during each c=32 run into
#          DIR/<target>.data (perf report -i DIR/dp-plain.data); BENCH_PERF_ARGS replaces the
#          default `-g` (e.g. "--call-graph dwarf,16384 -F 999" for Rust stacks).
#        BENCH_ONLY="32" or "1" runs only that concurrency (quicker iterations).
#
# Everything it starts is killed by pid when it ends (trap), and nothing listens beyond 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

DURATION=10
SOAK=0
WITH_10K=1
BUILD=1
INSTRUCTIONS=0
ROUNDS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --no-10k) WITH_10K=0; shift ;;
    --no-build) BUILD=0; shift ;;
    --soak) SOAK=$2; shift 2 ;;
    --instructions) INSTRUCTIONS=1; shift ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    -h|--help) sed -n '2,37p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "bench: '$1' is missing; installing the Debian package '$2'" >&2
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2"
}
need nginx nginx
[ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx || NGINX=$(command -v nginx)
need wrk wrk
need curl curl
[ "$INSTRUCTIONS" = 0 ] || need valgrind valgrind

if [ "$BUILD" = 1 ]; then
  echo "bench: building release binaries" >&2
  CARGO_TARGET_DIR=${BENCH_TARGET_DIR:-$ROOT/target} \
    cargo build --release --bins -p data-plane -p control-plane >&2
fi
CP_BIN=${BENCH_TARGET_DIR:-$ROOT/target}/release/control-plane
DP_BIN=${BENCH_TARGET_DIR:-$ROOT/target}/release/data-plane

WORK=$(mktemp -d /tmp/proxy-bench.XXXXXX)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    echo "bench: kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free 127.0.0.1 port: below the kernel's ephemeral range (so no outgoing connection of the
# benchmark can be holding it when a server binds it later) and used by no socket right now.
EPHEMERAL_LOW=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
free_port() {
  local p span=$((EPHEMERAL_LOW - 10000))
  [ "$span" -gt 1000 ] || span=20000
  while :; do
    p=$((10000 + RANDOM % span))
    if [ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ] && ! grep -qx "$p" "$WORK/ports" 2>/dev/null; then
      echo "$p" >>"$WORK/ports"
      echo "$p"
      return
    fi
  done
}

wait_http() { # URL [expected-status]
  local want=${2:-200} i
  for i in $(seq 1 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" 2>/dev/null || true)" = "$want" ] && return 0
    sleep 0.1
  done
  echo "bench: $1 never answered $want" >&2
  return 1
}

UP_PORT=$(free_port)
NGX_PORT=$(free_port)
ADMIN_PORT=$(free_port)
CLUSTER_PORT=$(free_port)
PROXY_PORT=$(free_port)
STATUS_PORT=$(free_port)
# The 10,000-route stack: its own CP and DP, so that both configs are measured in every round.
ADMIN_10K=$(free_port)
CLUSTER_10K=$(free_port)
PROXY_10K=$(free_port)
STATUS_10K=$(free_port)

# --- static upstream and nginx proxy -------------------------------------------------------
BODY='{"id":"resp_bench","object":"response","created_at":1741476777,"status":"completed","model":"gpt-4o-2024-08-06","output":[{"type":"message","id":"msg_bench","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hello from the static upstream.","annotations":[]}]}],"usage":{"input_tokens":12,"output_tokens":8,"total_tokens":20}}'

nginx_conf() { # NAME SERVER-BLOCK
  mkdir -p "$WORK/$1"
  cat >"$WORK/$1/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $WORK/$1/nginx.pid;
error_log $WORK/$1/error.log warn;
events { worker_connections 4096; multi_accept on; }
http {
  access_log off;
  client_body_temp_path $WORK/$1/body;
  proxy_temp_path $WORK/$1/proxy;
  fastcgi_temp_path $WORK/$1/fastcgi;
  uwsgi_temp_path $WORK/$1/uwsgi;
  scgi_temp_path $WORK/$1/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  $2
}
EOF
}

nginx_conf upstream "server {
    listen 127.0.0.1:$UP_PORT;
    location / { default_type application/json; return 200 '$BODY'; }
  }"
nginx_conf nginx-proxy "upstream static { server 127.0.0.1:$UP_PORT; keepalive 64; }
  server {
    listen 127.0.0.1:$NGX_PORT;
    location / {
      proxy_pass http://static;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
    }
  }"

"$NGINX" -p "$WORK/upstream" -e "$WORK/upstream/error.log" -c "$WORK/upstream/nginx.conf" &
UP_PID=$!
PIDS+=($UP_PID)
"$NGINX" -p "$WORK/nginx-proxy" -e "$WORK/nginx-proxy/error.log" -c "$WORK/nginx-proxy/nginx.conf" &
NGX_PID=$!
PIDS+=($NGX_PID)

# --- our stack -----------------------------------------------------------------------------
# Starts a CP (SQLite in the work directory) and a DP linked to it; the DP's pid in STACK_DP.
start_stack() { # SUFFIX ADMIN-PORT CLUSTER-PORT PROXY-PORT STATUS-PORT
  "$CP_BIN" serve --database-url "sqlite://$WORK/kong$1.db" \
    --admin-listen "127.0.0.1:$2" --cluster-listen "127.0.0.1:$3" \
    >"$WORK/control-plane$1.log" 2>&1 &
  PIDS+=($!)
  mkdir -p "$WORK/dp-cache$1"
  RUST_LOG=warn "$DP_BIN" --control-plane "127.0.0.1:$3" \
    --proxy-listen "127.0.0.1:$4" --status-listen "127.0.0.1:$5" \
    --cache-dir "$WORK/dp-cache$1" >"$WORK/data-plane$1.log" 2>&1 &
  STACK_DP=$!
  PIDS+=($STACK_DP)
}
start_stack "" "$ADMIN_PORT" "$CLUSTER_PORT" "$PROXY_PORT" "$STATUS_PORT"
DP_PID=$STACK_DP
DP10K_PID=
if [ "$WITH_10K" = 1 ]; then
  start_stack -10k "$ADMIN_10K" "$CLUSTER_10K" "$PROXY_10K" "$STATUS_10K"
  DP10K_PID=$STACK_DP
fi

# The decK file: routes /plain (key-auth + prometheus) and /ai (plus ai-proxy-advanced), and
# EXTRA more routes (/r00000, /r00001, ...) for the 10,000-route variant.
deck_file() { # EXTRA
  cat <<EOF
_format_version: "3.0"
services:
  - name: bench-service
    url: http://127.0.0.1:$UP_PORT/
    routes:
      - name: plain
        paths: [/plain]
      - name: ai
        paths: [/ai]
        plugins:
          - name: ai-proxy-advanced
            config:
              balancer:
                algorithm: round-robin
              targets:
                - model:
                    name: gpt-4o
                    provider: openai
                    options:
                      upstream_url: http://127.0.0.1:$UP_PORT/v1/responses
                  route_type: llm/v1/responses
                  logging:
                    log_payloads: false
                    log_statistics: true
                  auth:
                    header_name: Authorization
                    header_value: Bearer sk-bench
EOF
  local i
  for ((i = 0; i < $1; i++)); do
    printf '      - name: r%05d\n        paths: [/r%05d]\n' "$i" "$i"
  done
  cat <<EOF
consumers:
  - username: bench-user
    keyauth_credentials:
      - key: bench-key
plugins:
  - name: key-auth
    config:
      key_names: [apikey]
  - name: prometheus
    config:
      per_consumer: true
      status_code_metrics: true
      ai_metrics: true
      latency_metrics: true
      bandwidth_metrics: true
      upstream_health_metrics: true
EOF
}

apply_config() { # EXTRA-ROUTES [ADMIN-PORT]
  deck_file "$1" >"$WORK/bench-$1.yaml"
  "$CP_BIN" apply "$WORK/bench-$1.yaml" --admin-url "http://127.0.0.1:${2:-$ADMIN_PORT}" >"$WORK/apply-$1.log" 2>&1 \
    || { cat "$WORK/apply-$1.log" >&2; return 1; }
}

# Waits until the DP (at PROXY-PORT) serves the routes of the config with EXTRA routes.
wait_routes() { # EXTRA [PROXY-PORT]
  local probe=/plain i
  [ "$1" -gt 0 ] && probe=/r$(printf '%05d' $(($1 - 1)))
  for i in $(seq 1 600); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'apikey: bench-key' "http://127.0.0.1:${2:-$PROXY_PORT}$probe")" = 200 ] && return 0
    sleep 0.1
  done
  echo "bench: the data plane never routed $probe" >&2
  tail -20 "$WORK/data-plane.log" >&2
  return 1
}

rss_mb() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/${1:-$DP_PID}/status"; }

wait_http "http://127.0.0.1:$UP_PORT/"
wait_http "http://127.0.0.1:$NGX_PORT/"
wait_http "http://127.0.0.1:$ADMIN_PORT/status"
wait_http "http://127.0.0.1:$STATUS_PORT/status"
apply_config 0
wait_http "http://127.0.0.1:$STATUS_PORT/status/ready"
wait_routes 0
if [ "$WITH_10K" = 1 ]; then
  wait_http "http://127.0.0.1:$ADMIN_10K/status"
  apply_config 9998 "$ADMIN_10K"
  wait_routes 9998 "$PROXY_10K"
fi
for path in /plain /ai/v1/responses; do
  code=$(curl -s -o "$WORK/probe.json" -w '%{http_code}' -H 'apikey: bench-key' \
    -H 'content-type: application/json' -d '{"input":"hi"}' "http://127.0.0.1:$PROXY_PORT$path")
  [ "$code" = 200 ] || { echo "bench: POST $path answered $code: $(cat "$WORK/probe.json")" >&2; exit 1; }
done
sleep 1
RSS_IDLE=$(rss_mb)
[ "$WITH_10K" = 1 ] && RSS_10K=$(rss_mb "$DP10K_PID")

# --- load ----------------------------------------------------------------------------------
cat >"$WORK/bench.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"input":"hi"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["apikey"] = "bench-key"
done = function(summary, latency, requests)
  local non2xx = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %.0f %d %d %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), non2xx))
end
EOF

# Prints "rps p50_us p99_us errors" for URL at concurrency C.
load() { # URL C SECONDS
  local threads=2
  [ "$2" -lt 2 ] && threads=1
  wrk -t"$threads" -c"$2" -d"$3"s --timeout 5s -s "$WORK/bench.lua" "$1" 2>&1 | awk '/^RESULT/ { print $2, $3, $4, $5 }'
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
# CPU time (user + system, in clock ticks) used so far by PID and its child processes (nginx's
# workers), read from /proc.
cpu_ticks() { # PID
  local pids=("$1") p total=0
  # shellcheck disable=SC2207
  pids+=($(cat /proc/"$1"/task/*/children 2>/dev/null))
  for p in "${pids[@]}"; do
    [ -r "/proc/$p/stat" ] || continue
    total=$((total + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
  done
  echo "$total"
}
CLK_TCK=$(getconf CLK_TCK)

declare -A RPS P50 P99 ERR CPU ALL_RPS ALL_P50 ALL_P99 ALL_CPU
# The median of the numbers given (the lower middle one for an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
measure() { # NAME URL C
  load "$2" "$3" 2 >/dev/null # warm-up: connections, pools, JIT-free but page-cache warm
  local owner=$DP_PID
  case $1 in direct) owner=$UP_PID ;; nginx) owner=$NGX_PID ;; *-10k) owner=$DP10K_PID ;; esac
  local perf_pid=
  if [ -n "${BENCH_PERF:-}" ] && [ "$3" = 32 ] && [ "$1" != direct ]; then
    mkdir -p "$BENCH_PERF"
    local watched
    watched=$(echo "$owner" $(cat /proc/"$owner"/task/*/children 2>/dev/null) | tr ' ' ,)
    # shellcheck disable=SC2086
    perf record ${BENCH_PERF_ARGS:--g} -p "$watched" -o "$BENCH_PERF/$1.data" -- sleep "$DURATION" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  local before
  before=$(cpu_ticks "$owner")
  read -r r p50 p99 e < <(load "$2" "$3" "$DURATION")
  local used=$(($(cpu_ticks "$owner") - before))
  [ -z "$perf_pid" ] || wait "$perf_pid" || true
  # CPU microseconds the proxy (or, for direct, the upstream) spent per request.
  local cpu
  cpu=$(awk -v t="$used" -v hz="$CLK_TCK" -v r="$r" -v d="$DURATION" \
    'BEGIN { if (r > 0) printf "%.1f", t * 1e6 / hz / (r * d); else print "n/a" }')
  local k=$1,$3
  ALL_RPS[$k]+=" $r" ALL_P50[$k]+=" $p50" ALL_P99[$k]+=" $p99" ALL_CPU[$k]+=" $cpu"
  # shellcheck disable=SC2086
  RPS[$k]=$(median ${ALL_RPS[$k]}) P50[$k]=$(median ${ALL_P50[$k]}) P99[$k]=$(median ${ALL_P99[$k]})
  # shellcheck disable=SC2086
  ERR[$k]=$((${ERR[$k]:-0} + e)) CPU[$k]=$(median ${ALL_CPU[$k]})
  printf '%-18s c=%-3s %9s req/s  p50 %6s us  p99 %6s us  errors %s  cpu %s us/req\n' "$1" "$3" "$r" "$p50" "$p99" "$e" "$cpu" >&2
}

TARGETS=(direct nginx dp-plain dp-ai)
declare -A URL=(
  [direct]="http://127.0.0.1:$UP_PORT/v1/responses"
  [nginx]="http://127.0.0.1:$NGX_PORT/v1/responses"
  [dp-plain]="http://127.0.0.1:$PROXY_PORT/plain"
  [dp-ai]="http://127.0.0.1:$PROXY_PORT/ai/v1/responses"
  [dp-plain-10k]="http://127.0.0.1:$PROXY_10K/plain"
  [dp-ai-10k]="http://127.0.0.1:$PROXY_10K/ai/v1/responses"
)
# The 10,000-route targets run at c=32 only.
[ "$WITH_10K" = 1 ] && TARGETS+=(dp-plain-10k dp-ai-10k)
runs_at() { [ "$2" = 32 ] || [[ $1 != *-10k ]]; } # TARGET C
CONCURRENCY=(32 1)
[ -z "${BENCH_ONLY:-}" ] || CONCURRENCY=("$BENCH_ONLY")
for ((round = 1; round <= ROUNDS; round++)); do
  [ "$ROUNDS" = 1 ] || echo "bench: round $round of $ROUNDS" >&2
  for c in "${CONCURRENCY[@]}"; do
    for t in "${TARGETS[@]}"; do
      runs_at "$t" "$c" && measure "$t" "${URL[$t]}" "$c"
    done
  done
done
RSS_LOADED=$(rss_mb)

[ "$WITH_10K" = 1 ] && RSS_10K_LOADED=$(rss_mb "$DP10K_PID")

SOAK_RSS=()
if [ "$SOAK" -gt 0 ]; then
  wrk -t1 -c16 -d"$SOAK"s --timeout 5s -s "$WORK/bench.lua" "${URL[dp-plain]}" >"$WORK/soak-plain.log" 2>&1 &
  soak_plain=$!
  wrk -t1 -c16 -d"$SOAK"s --timeout 5s -s "$WORK/bench.lua" "${URL[dp-ai]}" >"$WORK/soak-ai.log" 2>&1 &
  soak_ai=$!
  SOAK_RSS+=("0s:$(rss_mb)")
  for ((t = 30; t <= SOAK; t += 30)); do
    sleep 30
    SOAK_RSS+=("${t}s:$(rss_mb)")
    echo "bench: soak ${t}s, DP RSS $(rss_mb) MB" >&2
  done
  wait "$soak_plain" "$soak_ai" || true
fi

# Instructions per request: a second DP under callgrind (same control plane, 2 routes).
declare -A IR
if [ "$INSTRUCTIONS" = 1 ]; then
  I_PROXY=$(free_port)
  I_STATUS=$(free_port)
  mkdir -p "$WORK/dp-cache-instr"
  RUST_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.%p" \
    "$DP_BIN" --control-plane "127.0.0.1:$CLUSTER_PORT" \
    --proxy-listen "127.0.0.1:$I_PROXY" --status-listen "127.0.0.1:$I_STATUS" \
    --cache-dir "$WORK/dp-cache-instr" >"$WORK/data-plane-callgrind.log" 2>&1 &
  I_PID=$!
  PIDS+=($I_PID)
  I_READY=0
  for i in $(seq 1 1200); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'apikey: bench-key' "http://127.0.0.1:$I_PROXY/plain")" = 200 ]; then
      I_READY=1
      break
    fi
    kill -0 "$I_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ "$I_READY" != 1 ]; then
    echo "bench: the data plane under callgrind never served /plain; its log:" >&2
    tail -20 "$WORK/data-plane-callgrind.log" >&2
    exit 1
  fi
  for t in plain ai; do
    path=/plain
    [ "$t" = ai ] && path=/ai/v1/responses
    wrk -t1 -c4 -d2s -s "$WORK/bench.lua" "http://127.0.0.1:$I_PROXY$path" >/dev/null 2>&1
    callgrind_control -z "$I_PID" >/dev/null
    n=$(wrk -t1 -c4 -d5s -s "$WORK/bench.lua" "http://127.0.0.1:$I_PROXY$path" 2>&1 | awk '/requests in/ { print $1 }')
    callgrind_control -d "$t" "$I_PID" >/dev/null
    dump=$(ls -t "$WORK"/callgrind."$I_PID".* 2>/dev/null | head -1 || true)
    ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$dump" 2>/dev/null || true)
    IR[$t]=$(awk -v ir="${ir:-0}" -v n="${n:-0}" 'BEGIN { if (n > 0) printf "%.0f", ir / n; else print "n/a" }')
    echo "bench: callgrind $path: ${n:-0} requests, ${IR[$t]} instructions per request" >&2
  done
fi

# --- report --------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
has() { [ -n "${RPS[$1,$2]:-}" ]; }
echo
echo "Proxy benchmark: $(nproc) cores, $(uname -sr), wrk ${DURATION}s per run (2 threads; 1 at c=1), load average before: $LOAD_BEFORE"
echo "cpu_us/req: CPU time of the proxy (for direct: of the static upstream) per request, from /proc"
[ "$ROUNDS" = 1 ] || echo "each figure: the median of $ROUNDS rounds (errors: their sum)"
printf '%-14s %-4s %10s %9s %9s %7s %11s\n' target c req/s p50_us p99_us errors cpu_us/req
for c in "${CONCURRENCY[@]}"; do
  for t in "${TARGETS[@]}"; do
    runs_at "$t" "$c" || continue
    printf '%-14s %-4s %10s %9s %9s %7s %11s\n' "$t" "$c" "${RPS[$t,$c]}" "${P50[$t,$c]}" "${P99[$t,$c]}" "${ERR[$t,$c]}" "${CPU[$t,$c]}"
  done
done
echo
if has nginx 32; then
  for t in dp-plain dp-ai; do
    echo "$t / nginx at c=32: rps x$(ratio "${RPS[$t,32]}" "${RPS[nginx,32]}"), p99 x$(ratio "${P99[$t,32]}" "${P99[nginx,32]}"), cpu/req x$(ratio "${CPU[$t,32]}" "${CPU[nginx,32]}")"
  done
fi
if has direct 1; then
  for t in nginx dp-plain dp-ai; do
    echo "$t added p99 over direct at c=1: $((${P99[$t,1]} - ${P99[direct,1]})) us"
  done
fi
if [ "$WITH_10K" = 1 ]; then
  echo "10,000 routes / 2 routes at c=32: dp-plain rps x$(ratio "${RPS[dp-plain-10k,32]}" "${RPS[dp-plain,32]:-0}"), dp-ai rps x$(ratio "${RPS[dp-ai-10k,32]}" "${RPS[dp-ai,32]:-0}")"
  echo "DP RSS: idle ${RSS_IDLE} MB, after load ${RSS_LOADED} MB, 10,000 routes idle ${RSS_10K} MB, after load ${RSS_10K_LOADED} MB"
else
  echo "DP RSS: idle ${RSS_IDLE} MB, after load ${RSS_LOADED} MB"
fi
if [ "$SOAK" -gt 0 ]; then
  echo "soak ${SOAK}s (/plain and /ai at c=16 each): DP RSS MB ${SOAK_RSS[*]}; $(awk '/^RESULT/ { printf "/plain %s req/s, errors %s; ", $2, $5 }' "$WORK/soak-plain.log")$(awk '/^RESULT/ { printf "/ai %s req/s, errors %s", $2, $5 }' "$WORK/soak-ai.log")"
fi
if [ "$INSTRUCTIONS" = 1 ]; then
  echo "DP instructions per request (callgrind, userland, c=4): /plain ${IR[plain]}, /ai ${IR[ai]}"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
