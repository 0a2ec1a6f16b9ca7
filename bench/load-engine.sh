#!/usr/bin/env bash
# bench/load-engine.sh — measures stackwise's load engine against wrk and oha, in the same run.
#
# A one-core server (the axum baseline backend, current-thread runtime) is pinned to CPU 1; each
# load generator in turn is pinned to CPU 0 and loads it closed-loop with the same connections for
# the same time. For each tool it prints requests/s and the tool's CPU time per request (user+system,
# measured from outside by GNU time, the same way for every tool), then the ratio stackwise/wrk.
# Runs are interleaved and repeated; the median run of each tool is reported.
#
# Usage: bench/load-engine.sh [DURATION_S] [CONNECTIONS] [REPEATS]   (defaults: 10 50 3)
# Installs what it needs if missing: wrk and GNU time (Debian packages), oha (cargo install).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${1:-10}
CONNS=${2:-50}
REPEATS=${3:-3}
SERVER_CPU=1
CLIENT_CPU=0
OUT=bench/out
mkdir -p "$OUT"

need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
[ -x /usr/bin/time ] || need_apt+=(time)
command -v taskset >/dev/null || need_apt+=(util-linux)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]} (Debian packages)" >&2
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if ! command -v oha >/dev/null; then
  echo "installing oha (cargo install oha --locked; takes a few minutes)" >&2
  cargo install oha --locked --quiet
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if [ "$(nproc)" -lt 2 ]; then
  echo "error: this benchmark pins the server and the client to different CPUs and needs 2" >&2
  exit 2
fi

cargo build --release --locked --quiet -p stackwise -p stackwise-axum
SW=target/release/stackwise

# The server: one core, loopback only, killed on exit whatever happens.
taskset -c "$SERVER_CPU" target/release/stackwise-axum --workers 1 >"$OUT/server.log" 2>&1 &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null || true; wait $SERVER_PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "listening on" "$OUT/server.log" && break; sleep 0.05; done
ADDR=$(sed -n 's/^listening on //p' "$OUT/server.log")
[ -n "$ADDR" ] || { echo "error: the axum server did not start: $(cat "$OUT/server.log")" >&2; exit 1; }
URL="http://$ADDR/"
echo "server: stackwise-axum on CPU $SERVER_CPU at $URL; clients on CPU $CLIENT_CPU;" \
     "${CONNS} connections, ${DURATION}s closed loop, ${REPEATS} repeats" >&2

# Each run prints: requests cpu_seconds
run_tool() {
  local tool=$1 log="$OUT/$1.$2.log" timef="$OUT/$1.$2.time"
  case $tool in
    stackwise)
      taskset -c "$CLIENT_CPU" /usr/bin/time -f "%U %S" -o "$timef" \
        "$SW" load "$URL" -c "$CONNS" -d "${DURATION}s" --pin "$CLIENT_CPU" --json >"$log"
      reqs=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"]["completed"])' "$log") ;;
    wrk)
      taskset -c "$CLIENT_CPU" /usr/bin/time -f "%U %S" -o "$timef" \
        wrk -t1 -c"$CONNS" -d"${DURATION}s" "$URL" >"$log"
      reqs=$(awk '/requests in/ {print $1}' "$log") ;;
    oha)
      taskset -c "$CLIENT_CPU" /usr/bin/time -f "%U %S" -o "$timef" \
        oha -z "${DURATION}s" -c "$CONNS" --no-tui --output-format json "$URL" >"$log"
      reqs=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(d["statusCodeDistribution"].values()))' "$log") ;;
  esac
  cpu=$(awk '{print $1 + $2}' "$timef")
  echo "$reqs $cpu"
}

declare -A RESULTS
for r in $(seq "$REPEATS"); do
  for tool in stackwise wrk oha; do
    res=$(run_tool "$tool" "$r")
    RESULTS[$tool]+="$res"$'\n'
    echo "  run $r $tool: $(awk -v d="$DURATION" '{printf "%.0f req/s, %.2f µs CPU/request", $1/d, $2*1e6/$1}' <<<"$res")" >&2
  done
done

# Median run (by CPU per request) of each tool.
median() {
  printf '%s' "${RESULTS[$1]}" | awk 'NF==2 {print $2*1e6/$1, $1}' | sort -n |
    awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'
}
read -r sw_us sw_n <<<"$(median stackwise)"
read -r wrk_us wrk_n <<<"$(median wrk)"
read -r oha_us oha_n <<<"$(median oha)"

printf '\n%-10s %12s %18s %16s\n' tool "req/s" "CPU µs/request" "vs wrk (CPU)"
for t in stackwise wrk oha; do
  case $t in stackwise) us=$sw_us n=$sw_n;; wrk) us=$wrk_us n=$wrk_n;; oha) us=$oha_us n=$oha_n;; esac
  printf '%-10s %12.0f %18.2f %15.2fx\n' "$t" "$(awk -v n="$n" -v d="$DURATION" 'BEGIN{print n/d}')" \
    "$us" "$(awk -v a="$us" -v b="$wrk_us" 'BEGIN{print a/b}')"
done
ratio=$(awk -v a="$sw_us" -v b="$wrk_us" 'BEGIN{printf "%.2f", a/b}')
echo
echo "stackwise/wrk CPU per request: ${ratio}x (target <= 1.00x)"
echo "versions: $("$SW" --version); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2); $(oha --version)"
