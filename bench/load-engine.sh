#!/usr/bin/env bash
# bench/load-engine.sh — measures stackwise's load engine against wrk and oha, in the same run.
#
# A one-core server (the axum baseline backend, current-thread runtime) is pinned to CPU 1; each
# load generator in turn is pinned to CPU 0 and loads it closed-loop with the same connections for
# the same time. For each tool it prints requests/s and the tool's CPU time per request (user+system,
# measured from outside by GNU time, the same way for every tool), then the ratio stackwise/wrk.
# Runs are interleaved and repeated; medians are reported, and the ratio is the median of the
# per-repeat ratios.
#
# Usage: bench/load-engine.sh [DURATION_S] [CONNECTIONS] [REPEATS]   (defaults: 10 50 6)
# Installs what it needs if missing: wrk and GNU time (Debian packages), oha (cargo install).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${1:-10}
CONNS=${2:-50}
REPEATS=${3:-6}
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
. bench/lib.sh
start_axum "$OUT/server.log" taskset -c "$SERVER_CPU"
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

RESULTS="$OUT/results.txt"
: >"$RESULTS"
for r in $(seq "$REPEATS"); do
  # Alternate the order so that a drift in the machine's speed does not always favour one tool.
  order="stackwise wrk oha"
  [ $((r % 2)) -eq 0 ] && order="oha wrk stackwise"
  for tool in $order; do
    read -r reqs cpu <<<"$(run_tool "$tool" "$r")"
    echo "$r $tool $reqs $cpu" >>"$RESULTS"
    awk -v d="$DURATION" -v t="$tool" -v r="$r" -v n="$reqs" -v c="$cpu" \
      'BEGIN {printf "  run %d %-9s %8.0f req/s %6.2f µs CPU/request\n", r, t, n/d, c*1e6/n}' >&2
  done
done

# Runs are interleaved, so each repeat gives a stackwise/wrk ratio measured under the same machine
# conditions; the median of those ratios is the robust figure (the machine's speed drifts).
python3 - "$RESULTS" "$DURATION" <<'PY'
import statistics, sys
path, duration = sys.argv[1], float(sys.argv[2])
runs = {}
for line in open(path):
    r, tool, reqs, cpu = line.split()
    runs.setdefault(tool, {})[int(r)] = (int(reqs), float(cpu))
us = {t: {r: cpu * 1e6 / n for r, (n, cpu) in v.items()} for t, v in runs.items()}
print(f"\n{'tool':<10} {'req/s (median)':>15} {'CPU µs/request (median)':>24} {'vs wrk, median of per-run ratios':>33}")
for t in ("stackwise", "wrk", "oha"):
    rps = statistics.median(n / duration for n, _ in runs[t].values())
    ratios = [us[t][r] / us["wrk"][r] for r in us[t]]
    print(f"{t:<10} {rps:>15.0f} {statistics.median(us[t].values()):>24.2f} "
          f"{statistics.median(ratios):>20.2f}x (range {min(ratios):.2f}-{max(ratios):.2f})")
ratios = [us["stackwise"][r] / us["wrk"][r] for r in us["stackwise"]]
print(f"\nstackwise/wrk CPU per request: {statistics.median(ratios):.2f}x median over "
      f"{len(ratios)} paired runs (target <= 1.00x)")
PY
echo "versions: $("$SW" --version); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2); $(oha --version)"
