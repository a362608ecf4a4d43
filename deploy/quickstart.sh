#!/usr/bin/env bash
# Quickstart: builds the binaries, starts a control plane, two data planes, applies
# deploy/examples/kong.yaml, starts Prometheus when it is installed, and prints what to try.
# Without OPENAI_API_KEY the example points at a local stand-in (mock-llm) instead of OpenAI.
# Ctrl-C stops exactly the processes this script started. QUICKSTART_SKIP_BUILD=1 skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kong-quickstart.XXXXXX")
PIDS=()
NAMES=()

if [ -t 1 ]; then
  say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
else
  say() { printf '==> %s\n' "$*"; }
fi

cleanup() {
  trap - EXIT INT TERM
  if [ "${#PIDS[@]}" -gt 0 ]; then
    say "stopping ${NAMES[*]}"
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  fi
  echo "logs are in $WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME COMMAND...: runs COMMAND in the background, output to $WORK/NAME.log.
start() {
  local name=$1
  shift
  "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=("$!")
  NAMES+=("$name")
}

# wait_http NAME URL: waits up to 60s for URL to answer 2xx, else shows NAME's log and fails.
wait_http() {
  local name=$1 url=$2
  for _ in $(seq 1 600); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$name did not answer $url in 60s; last lines of its log:" >&2
  tail -n 40 "$WORK/$name.log" >&2 || true
  exit 1
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

for port in 8000 8001 8005 8010 8100 8101; do
  if port_in_use "$port"; then
    echo "port $port on 127.0.0.1 is already in use; stop whatever listens there first" >&2
    exit 1
  fi
done

if [ "${QUICKSTART_SKIP_BUILD:-}" = 1 ]; then
  say "QUICKSTART_SKIP_BUILD=1: using the binaries already in $BIN"
else
  say "building (cargo build --workspace --bins)"
  cargo build --workspace --bins
fi
for bin in control-plane data-plane mock-llm; do
  [ -x "$BIN/$bin" ] || { echo "$BIN/$bin is missing; run 'cargo build --workspace --bins'" >&2; exit 1; }
done

say "starting the control plane (admin 127.0.0.1:8001, cluster 127.0.0.1:8005)"
start control-plane "$BIN/control-plane" serve \
  --database-url "sqlite://$WORK/kong.db" \
  --admin-listen 127.0.0.1:8001 --cluster-listen 127.0.0.1:8005
wait_http control-plane http://127.0.0.1:8001/status

say "starting two data planes (proxy 8000/status 8100, proxy 8010/status 8101)"
mkdir -p "$WORK/dp1" "$WORK/dp2"
start data-plane-1 "$BIN/data-plane" --control-plane 127.0.0.1:8005 \
  --proxy-listen 127.0.0.1:8000 --status-listen 127.0.0.1:8100 --cache-dir "$WORK/dp1"
start data-plane-2 "$BIN/data-plane" --control-plane 127.0.0.1:8005 \
  --proxy-listen 127.0.0.1:8010 --status-listen 127.0.0.1:8101 --cache-dir "$WORK/dp2"

if [ -n "${OPENAI_API_KEY:-}" ]; then
  say "using OpenAI (OPENAI_API_KEY is set)"
  export DECK_OPENAI_API_KEY=$OPENAI_API_KEY
  export DECK_OPENAI_UPSTREAM_URL=https://api.openai.com/v1/responses
else
  if port_in_use 8090; then
    echo "port 8090 (for the local OpenAI stand-in) is already in use" >&2
    exit 1
  fi
  say "OPENAI_API_KEY is not set: using a LOCAL STAND-IN for OpenAI (mock-llm on 127.0.0.1:8090)."
  echo "    Its answers are canned; export OPENAI_API_KEY and rerun to talk to the real OpenAI."
  start mock-llm "$BIN/mock-llm" --listen 127.0.0.1:8090
  export DECK_OPENAI_API_KEY=sk-quickstart-stand-in
  export DECK_OPENAI_UPSTREAM_URL=http://127.0.0.1:8090/v1/responses
  for _ in $(seq 1 100); do port_in_use 8090 && break; sleep 0.1; done
fi

say "applying deploy/examples/kong.yaml"
"$BIN/control-plane" apply deploy/examples/kong.yaml --admin-url http://127.0.0.1:8001
wait_http data-plane-1 http://127.0.0.1:8100/status/ready
wait_http data-plane-2 http://127.0.0.1:8101/status/ready
say "both data planes have the config"

PROMETHEUS_UP=no
if ! command -v prometheus >/dev/null 2>&1; then
  say "Prometheus is not installed; to scrape the metrics, run 'apt-get install -y prometheus' and rerun"
elif port_in_use 9090; then
  say "something already listens on 127.0.0.1:9090 (perhaps the Debian prometheus service); not starting Prometheus"
  echo "    point it at 127.0.0.1:8100 and 127.0.0.1:8101 to scrape the data planes"
else
  cat >"$WORK/prometheus.yml" <<'YAML'
scrape_configs:
  - job_name: 'kong'
    scrape_interval: 5s
    static_configs:
      - targets: ['127.0.0.1:8100', '127.0.0.1:8101']
YAML
  say "starting Prometheus on 127.0.0.1:9090 (scraping 127.0.0.1:8100 and 127.0.0.1:8101)"
  start prometheus prometheus --config.file="$WORK/prometheus.yml" \
    --storage.tsdb.path="$WORK/prometheus-data" --web.listen-address=127.0.0.1:9090
  wait_http prometheus http://127.0.0.1:9090/-/ready
  PROMETHEUS_UP=yes
fi

cat <<'TRY'

Try the tutorial's loop (data plane 1 on :8000; data plane 2 answers on :8010 too):

for i in {1..10}; do
  echo -n "Request #$i — Model: "
  curl -s -X POST "http://localhost:8000/anything/v1/responses" \
    -H "Accept: application/json" \
    -H "apikey: hello_world" \
    -H "Content-Type: application/json" \
    --json "{
      \"tools\": [
        {
          \"type\": \"mcp\",
          \"server_label\": \"gitmcp\",
          \"server_url\": \"https://api.githubcopilot.com/mcp/x/repos\",
          \"require_approval\": \"never\",
          \"headers\": {
            \"Authorization\": \"Bearer $GITHUB_PAT\"
          }
        }
      ],
      \"input\": \"tools available with github mcp\"
    }" | jq -r '.model'
  sleep 3
done

The raw metrics of each data plane:

curl -s localhost:8100/metrics | grep -E '^kong_(ai_llm_requests|http_requests)_total'
TRY
if [ "$PROMETHEUS_UP" = yes ]; then
  cat <<'TRY'

Then ask Prometheus (it scrapes every 5s):

curl -s 'localhost:9090/api/v1/query?query=kong_ai_llm_requests_total'
TRY
fi
echo
say "running; press Ctrl-C to stop (logs in $WORK)"
while true; do
  for i in "${!PIDS[@]}"; do
    if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
      echo "${NAMES[$i]} stopped unexpectedly; last lines of its log:" >&2
      tail -n 40 "$WORK/${NAMES[$i]}.log" >&2 || true
      exit 1
    fi
  done
  sleep 1
done
