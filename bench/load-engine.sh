#!/usr/bin/env bash
# bench/load-engine.sh — measures stackwise's load engine against wrk, oha (and wrk2 when it is on
# PATH), every figure measured in the same run, on the same server.
#
# A one-core server (the axum baseline backend, current-thread runtime) is pinned to CPU 1; each
# load generator in turn is pinned to CPU 0. CPU time per request is user+system of the whole
# client process, measured from outside by GNU time, the same way for every tool. Runs of the
# different tools are interleaved (the order alternates) and repeated; each repeat gives a ratio
# measured under the same machine conditions, and the median of those ratios is the figure.
#
# Sections (all by default; choose with SECTIONS="closed open slack memory"):
#   closed  closed loop, CONNECTIONS connections: req/s and CPU µs/request of stackwise, wrk, oha;
#           decision figure: stackwise/wrk CPU per request, median of REPEATS interleaved pairs.
#   open    open loop at RATE req/s, CONNECTIONS connections: CPU µs/request and send lag p50 of
#           stackwise (default --timer-slack) vs oha -q RATE --latency-correction and wrk2 -R RATE.
#           Send lag: stackwise measures its own (send_lag); for every tool it is also estimated
#           as corrected p50 − uncorrected p50 (oha: a second run without --latency-correction;
#           wrk2: --u_latency), which is comparable across tools.
#   slack   stackwise's CPU µs/request and send lag p50/p99 at RATE over --timer-slack settings.
#   memory  peak RSS (GNU time %M) at MEM_CONNECTIONS connections, closed loop: stackwise vs wrk
#           (and oha).
#
# Usage: bench/load-engine.sh [DURATION_S] [CONNECTIONS] [REPEATS]   (defaults: 10 50 6)
# Environment: SECTIONS, RATE (20000), MEM_CONNECTIONS (10000), SLACKS ("0 100us 200us 300us 500us
# 1ms 2ms"), SLACK_REPEATS (3), SKIP_MISSING=1 (run without a peer that is not installed instead of
# installing it; for smoke runs).
# Installs what it needs if missing: wrk and GNU time (Debian packages), oha (cargo install).
# wrk2 is in no registry: it is used when a `wrk2` binary is on PATH, and skipped otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${1:-10}
CONNS=${2:-50}
REPEATS=${3:-6}
SECTIONS=${SECTIONS:-closed open slack memory}
RATE=${RATE:-20000}
MEM_CONNS=${MEM_CONNECTIONS:-10000}
SLACKS=${SLACKS:-0 100us 200us 300us 500us 1ms 2ms}
SLACK_REPEATS=${SLACK_REPEATS:-3}
SKIP_MISSING=${SKIP_MISSING:-0}
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
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v oha >/dev/null; then
  if [ "$SKIP_MISSING" = 1 ]; then
    echo "oha not installed: skipped (SKIP_MISSING=1)" >&2
  else
    echo "installing oha (cargo install oha --locked; takes a few minutes)" >&2
    cargo install oha --locked --quiet
  fi
fi
HAVE_OHA=0; command -v oha >/dev/null && HAVE_OHA=1
HAVE_WRK2=0; command -v wrk2 >/dev/null && HAVE_WRK2=1
if [ "$(nproc)" -lt 2 ]; then
  echo "error: this benchmark pins the server and the client to different CPUs and needs 2" >&2
  exit 2
fi

cargo build --release --locked --quiet -p stackwise -p stackwise-axum
SW=target/release/stackwise

# The server: one core, loopback only, killed on exit whatever happens.
. bench/lib.sh
# Enough descriptors for the memory section's connections (and the server's side of them).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
start_axum "$OUT/server.log" taskset -c "$SERVER_CPU"
echo "server: stackwise-axum on CPU $SERVER_CPU at $URL; clients on CPU $CLIENT_CPU" >&2

json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
cpu_of() { awk '{print $1 + $2}' "$1"; }
client() { taskset -c "$CLIENT_CPU" /usr/bin/time -f "%U %S %M" -o "$1" "${@:2}"; }

# ---------------------------------------------------------------------------------------------
if [[ " $SECTIONS " == *" closed "* ]]; then
echo "== closed loop: ${CONNS} connections, ${DURATION}s, ${REPEATS} interleaved repeats" >&2
RESULTS="$OUT/closed.txt"; : >"$RESULTS"
tools="stackwise wrk"; [ $HAVE_OHA = 1 ] && tools="$tools oha"
for r in $(seq "$REPEATS"); do
  order=$tools
  [ $((r % 2)) -eq 0 ] && order=$(echo "$tools" | tr ' ' '\n' | tac | tr '\n' ' ')
  for tool in $order; do
    log="$OUT/closed.$tool.$r.log" timef="$OUT/closed.$tool.$r.time"
    case $tool in
      stackwise) client "$timef" "$SW" load "$URL" -c "$CONNS" -d "${DURATION}s" --pin "$CLIENT_CPU" --json >"$log"
                 reqs=$(json "$log" 'd["requests"]["completed"]') ;;
      wrk)       client "$timef" wrk -t1 -c"$CONNS" -d"${DURATION}s" "$URL" >"$log"
                 reqs=$(awk '/requests in/ {print $1}' "$log") ;;
      oha)       client "$timef" oha -z "${DURATION}s" -c "$CONNS" --no-tui --output-format json "$URL" >"$log"
                 reqs=$(json "$log" 'sum(d["statusCodeDistribution"].values())') ;;
    esac
    cpu=$(cpu_of "$timef")
    echo "$r $tool $reqs $cpu" >>"$RESULTS"
    awk -v d="$DURATION" -v t="$tool" -v r="$r" -v n="$reqs" -v c="$cpu" \
      'BEGIN {printf "  run %d %-9s %8.0f req/s %6.2f µs CPU/request\n", r, t, n/d, c*1e6/n}' >&2
  done
done
python3 - "$RESULTS" "$DURATION" <<'PY'
import statistics, sys
path, duration = sys.argv[1], float(sys.argv[2])
runs = {}
for line in open(path):
    r, tool, reqs, cpu = line.split()
    runs.setdefault(tool, {})[int(r)] = (int(reqs), float(cpu))
us = {t: {r: cpu * 1e6 / n for r, (n, cpu) in v.items()} for t, v in runs.items()}
print(f"\nclosed loop\n{'tool':<10} {'req/s (median)':>15} {'CPU µs/request (median)':>24} {'vs wrk, median of per-run ratios':>33}")
for t in [t for t in ("stackwise", "wrk", "oha") if t in runs]:
    rps = statistics.median(n / duration for n, _ in runs[t].values())
    ratios = [us[t][r] / us["wrk"][r] for r in us[t]]
    print(f"{t:<10} {rps:>15.0f} {statistics.median(us[t].values()):>24.2f} "
          f"{statistics.median(ratios):>20.2f}x (range {min(ratios):.2f}-{max(ratios):.2f})")
ratios = [us["stackwise"][r] / us["wrk"][r] for r in us["stackwise"]]
print(f"stackwise/wrk CPU per request: {statistics.median(ratios):.2f}x median over "
      f"{len(ratios)} paired runs (target <= 1.00x)")
PY
fi

# ---------------------------------------------------------------------------------------------
if [[ " $SECTIONS " == *" open "* ]]; then
echo "== open loop: ${RATE} req/s, ${CONNS} connections, ${DURATION}s, ${REPEATS} interleaved repeats" >&2
RESULTS="$OUT/open.txt"; : >"$RESULTS"
tools="stackwise"; [ $HAVE_OHA = 1 ] && tools="$tools oha"; [ $HAVE_WRK2 = 1 ] && tools="$tools wrk2"
for r in $(seq "$REPEATS"); do
  order=$tools
  [ $((r % 2)) -eq 0 ] && order=$(echo "$tools" | tr ' ' '\n' | tac | tr '\n' ' ')
  for tool in $order; do
    log="$OUT/open.$tool.$r.log" timef="$OUT/open.$tool.$r.time"
    case $tool in
      stackwise)
        client "$timef" "$SW" load "$URL" -c "$CONNS" -d "${DURATION}s" -R "$RATE" --pin "$CLIENT_CPU" --json >"$log"
        read -r reqs corr unc lag <<<"$(json "$log" '" ".join(str(x) for x in [d["requests"]["completed"], d["latency"]["from_schedule"]["percentiles"][0]["us"], d["latency"]["from_send"]["percentiles"][0]["us"], d["latency"]["send_lag"]["percentiles"][0]["us"]])')" ;;
      oha)
        client "$timef" oha -z "${DURATION}s" -c "$CONNS" -q "$RATE" --latency-correction --no-tui --output-format json "$URL" >"$log"
        taskset -c "$CLIENT_CPU" oha -z "${DURATION}s" -c "$CONNS" -q "$RATE" --no-tui --output-format json "$URL" >"$log.uncorrected"
        reqs=$(json "$log" 'sum(d["statusCodeDistribution"].values())')
        corr=$(json "$log" 'd["latencyPercentiles"]["p50"] * 1e6')
        unc=$(json "$log.uncorrected" 'd["latencyPercentiles"]["p50"] * 1e6')
        lag=- ;;
      wrk2)
        client "$timef" wrk2 -t1 -c"$CONNS" -d"${DURATION}s" -R"$RATE" --u_latency "$URL" >"$log"
        reqs=$(awk '/requests in/ {print $1}' "$log")
        # The two "50.000%" lines: corrected (recorded) first, then uncorrected.
        read -r corr unc <<<"$(python3 - "$log" <<'PY'
import re, sys
unit = {"us": 1.0, "ms": 1e3, "s": 1e6}
v = [float(a) * unit[b] for a, b in re.findall(r"^\s*50\.000%\s+([\d.]+)(us|ms|s)\s*$", open(sys.argv[1]).read(), re.M)]
print(v[0], v[1] if len(v) > 1 else "nan")
PY
)"
        lag=- ;;
    esac
    cpu=$(cpu_of "$timef")
    echo "$r $tool $reqs $cpu $corr $unc $lag" >>"$RESULTS"
    awk -v t="$tool" -v r="$r" -v n="$reqs" -v c="$cpu" -v a="$corr" -v b="$unc" \
      'BEGIN {printf "  run %d %-9s %6.2f µs CPU/request, p50 corrected %.0f µs, uncorrected %.0f µs\n", r, t, c*1e6/n, a, b}' >&2
  done
done
python3 - "$RESULTS" "$RATE" <<'PY'
import statistics, sys
path, rate = sys.argv[1], sys.argv[2]
runs = {}
for line in open(path):
    r, tool, reqs, cpu, corr, unc, lag = line.split()
    runs.setdefault(tool, {})[int(r)] = dict(us=float(cpu) * 1e6 / int(reqs), corr=float(corr),
                                             unc=float(unc), lag=None if lag == "-" else float(lag))
med = lambda xs: statistics.median(xs)
print(f"\nopen loop at {rate} req/s\n{'tool':<10} {'CPU µs/request':>15} {'p50 corrected µs':>17} "
      f"{'p50 uncorrected µs':>19} {'send lag p50 µs (est.)':>23} {'measured':>9}")
for t, v in runs.items():
    est = med([x["corr"] - x["unc"] for x in v.values()])
    lag = [x["lag"] for x in v.values() if x["lag"] is not None]
    print(f"{t:<10} {med([x['us'] for x in v.values()]):>15.2f} {med([x['corr'] for x in v.values()]):>17.0f} "
          f"{med([x['unc'] for x in v.values()]):>19.0f} {est:>23.0f} {med(lag) if lag else float('nan'):>9.0f}")
for peer in ("wrk2", "oha"):
    if peer in runs:
        ratios = [runs["stackwise"][r]["us"] / runs[peer][r]["us"] for r in runs["stackwise"] if r in runs[peer]]
        print(f"stackwise/{peer} CPU per request, open loop: {med(ratios):.2f}x median over {len(ratios)} "
              f"paired runs (range {min(ratios):.2f}-{max(ratios):.2f}; target vs wrk2 <= 1.00x)")
PY
fi

# ---------------------------------------------------------------------------------------------
if [[ " $SECTIONS " == *" slack "* ]]; then
echo "== timer slack curve: ${RATE} req/s, ${CONNS} connections, ${DURATION}s, ${SLACK_REPEATS} repeats" >&2
RESULTS="$OUT/slack.txt"; : >"$RESULTS"
for r in $(seq "$SLACK_REPEATS"); do
  order=$SLACKS
  [ $((r % 2)) -eq 0 ] && order=$(echo "$SLACKS" | tr ' ' '\n' | tac | tr '\n' ' ')
  for slack in $order; do
    log="$OUT/slack.$slack.$r.log" timef="$OUT/slack.$slack.$r.time"
    client "$timef" "$SW" load "$URL" -c "$CONNS" -d "${DURATION}s" -R "$RATE" --timer-slack "$slack" \
      --pin "$CLIENT_CPU" --json >"$log"
    read -r reqs p50 p99 <<<"$(json "$log" '" ".join(str(x) for x in [d["requests"]["completed"], d["latency"]["send_lag"]["percentiles"][0]["us"], d["latency"]["send_lag"]["percentiles"][4]["us"]])')"
    echo "$slack $r $reqs $(cpu_of "$timef") $p50 $p99" >>"$RESULTS"
  done
done
python3 - "$RESULTS" "$SLACKS" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    s, r, reqs, cpu, p50, p99 = line.split()
    runs.setdefault(s, []).append((float(cpu) * 1e6 / int(reqs), float(p50), float(p99)))
print(f"\n--timer-slack curve (medians)\n{'slack':>8} {'CPU µs/request':>15} {'send lag p50 µs':>16} {'send lag p99 µs':>16}")
for s in sys.argv[2].split():
    v = runs[s]
    print(f"{s:>8} {statistics.median(x[0] for x in v):>15.2f} {statistics.median(x[1] for x in v):>16.0f} "
          f"{statistics.median(x[2] for x in v):>16.0f}")
PY
fi

# ---------------------------------------------------------------------------------------------
if [[ " $SECTIONS " == *" memory "* ]]; then
echo "== peak RSS at ${MEM_CONNS} connections, closed loop, ${DURATION}s" >&2
RESULTS="$OUT/memory.txt"; : >"$RESULTS"
tools="stackwise wrk"; [ $HAVE_OHA = 1 ] && tools="$tools oha"
for tool in $tools; do
  timef="$OUT/memory.$tool.time"
  case $tool in
    stackwise) client "$timef" "$SW" load "$URL" -c "$MEM_CONNS" -d "${DURATION}s" --pin "$CLIENT_CPU" --json >"$OUT/memory.$tool.log" ;;
    wrk)       client "$timef" wrk -t1 -c"$MEM_CONNS" -d"${DURATION}s" "$URL" >"$OUT/memory.$tool.log" ;;
    oha)       client "$timef" oha -z "${DURATION}s" -c "$MEM_CONNS" --no-tui --output-format json "$URL" >"$OUT/memory.$tool.log" ;;
  esac
  echo "$tool $(awk '{print $3}' "$timef")" >>"$RESULTS"
done
python3 - "$RESULTS" "$MEM_CONNS" <<'PY'
import sys
rss = dict((t, int(k)) for t, k in (l.split() for l in open(sys.argv[1])))
print(f"\npeak RSS at {sys.argv[2]} connections")
for t, k in rss.items():
    print(f"{t:<10} {k / 1024:>8.1f} MB  ({k * 1024 / int(sys.argv[2]) / 1024:.1f} KB per connection)"
          + (f"  {k / rss['wrk']:.2f}x wrk" if t != "wrk" else ""))
PY
fi

echo "versions: $("$SW" --version); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)$([ $HAVE_OHA = 1 ] && echo "; $(oha --version)")$([ $HAVE_WRK2 = 1 ] && echo "; wrk2 at $(command -v wrk2) ($(wrk2 -v 2>&1 | head -1 | cut -d' ' -f1-2), sha256 $(sha256sum "$(command -v wrk2)" | cut -c1-12))")"
