#!/usr/bin/env bash
# bench/engines.sh — the same workload on the same target, at the same fixed rate, by three load
# engines: `stackwise load` (open loop, --rate), Locust (1 master + 2 workers on loopback, the
# locustfile `stackwise export locust` writes) and, when an official `k6` binary is on PATH, k6
# (the script `stackwise export k6` writes). For each: the achieved throughput, p50/p99 as the
# engine measured them (stackwise: corrected, from the scheduled send; Locust: bucketed, from the
# actual send, uncorrected; k6: exact over raw points, from the actual send) and the engine's own
# CPU per request (user+system of every engine process, from GNU time, over the requests it sent).
#
# The target is the axum baseline backend (one core, CPU 1); the engines run on CPU 0. Choose a
# rate every engine holds (the script says when one did not: achieved < 97% of the rate).
#
# Each engine's CPU includes its start-up (Locust: three Python processes importing gevent and
# Flask, about a second of CPU in all), spread over the requests: runs of 30 s or more keep it small.
#
# Usage: bench/engines.sh [DURATION_S] [RATE] [WORKLOAD]   (defaults: 30 500 json)
# Environment: BUILD=debug (use debug builds, for a smoke run; figures meaningless).
# Installs what it needs: GNU time (Debian), Locust 2.47.0 into target/engines/locust-bench from
# crates/bridges/engines/locust/requirements.txt (pip --require-hashes). k6 is not installed (no
# official package in the registries this project uses); it is run when `k6` is on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${1:-30}
RATE=${2:-500}
WORKLOAD=${3:-json}
BUILD=${BUILD:-release}
OUT=bench/out/engines
rm -rf "$OUT"
mkdir -p "$OUT"

[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
if [ "$BUILD" = release ]; then
  cargo build --release --locked --quiet -p stackwise -p stackwise-axum
  BIN=target/release
else
  cargo build --locked --quiet -p stackwise -p stackwise-axum
  BIN=target/debug
fi
SW=$BIN/stackwise

VENV=target/engines/locust-bench
if [ ! -e "$VENV/.installed" ]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --no-input --require-hashes --only-binary=:all: \
    -r crates/bridges/engines/locust/requirements.txt
  touch "$VENV/.installed"
fi

# The target: stackwise-axum, one core, CPU 1 (bench/lib.sh's start_axum, with this build).
"$BIN/stackwise-axum" --workers 1 >"$OUT/server.log" 2>&1 &
SERVER_PID=$!
PIDS=("$SERVER_PID")
# Ends what this script started, by pid: each GNU time wrapper's child (the engine), then the wrapper.
cleanup() {
  for p in "${PIDS[@]}"; do
    for c in $(pgrep -P "$p" 2>/dev/null); do kill "$c" 2>/dev/null || true; done
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
}
trap cleanup EXIT
taskset -p -c 1 "$SERVER_PID" >/dev/null 2>&1 || true
for _ in $(seq 100); do grep -q "listening on" "$OUT/server.log" && break; sleep 0.05; done
ADDR=$(sed -n 's/^listening on //p' "$OUT/server.log")
[ -n "$ADDR" ] || { echo "error: the axum server did not start: $(cat "$OUT/server.log")" >&2; exit 1; }
URL="http://$ADDR"
echo "target $URL (stackwise-axum, CPU 1); workload $WORKLOAD at $RATE req/s for ${DURATION}s; engines on CPU 0" >&2

# cpu_s FILE...: user+system seconds summed over GNU time outputs ("%U %S").
cpu_s() { cat "$@" | awk '{ s += $1 + $2 } END { printf "%.3f", s }'; }
rows=()

# ---- stackwise load, open loop (the workload's request and check, from the locustfile's plan). ----
"$SW" export locust --workload "$WORKLOAD" "$URL" --rate "$RATE" --duration "${DURATION}s" \
  --out "$OUT/plan.py" >/dev/null
read -r PATH_Q REGEX < <(python3 - "$OUT/plan.py" <<'EOF'
import re, sys, types
# The first request's path; its body check is the locustfile's own (the lab's check, with any
# computed answer filled in), read by importing the file with Locust stubbed.
sys.modules["locust"] = types.SimpleNamespace(
    FastHttpUser=object, constant_pacing=lambda s: s, task=lambda w: (lambda f: f),
    events=types.SimpleNamespace(test_start=types.SimpleNamespace(add_listener=lambda f: f),
                                 test_stop=types.SimpleNamespace(add_listener=lambda f: f)),
    __version__="stub")
sys.modules["locust.runners"] = types.SimpleNamespace(MasterRunner=object, WorkerRunner=object)
ns = {}
exec(open(sys.argv[1]).read(), ns)
r = ns["REQUESTS"][0]
pattern = r["regex"].pattern.replace(r"\Z", "$") if r["regex"] else "^" + re.escape(r["exact"]) + "$"
print(r["path"], pattern)
EOF
)
/usr/bin/time -f "%U %S" -o "$OUT/stackwise.time" taskset -c 0 "$SW" load "$URL$PATH_Q" \
  --rate "$RATE" -d "${DURATION}s" --expect-status 200 --expect-body-regex "$REGEX" --json \
  >"$OUT/stackwise.json" 2>"$OUT/stackwise.err" || true
rows+=("$(python3 - "$OUT/stackwise.json" "$(cpu_s "$OUT/stackwise.time")" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
cpu = float(sys.argv[2])
pc = {p["p"]: p["us"] / 1000 for p in r["latency"]["from_schedule"]["percentiles"]}
n = r["requests"]["sent"]
if r["requests"]["succeeded"] < n:
    print("warning: stackwise load: %d of %d answers wrong or failed" % (n - r["requests"]["succeeded"], n), file=sys.stderr)
print("stackwise load|%.1f|%.2f|%.2f|corrected (from schedule)|%.1f" % (
    r["throughput_rps"], pc[50.0], pc[99.0], cpu / max(n, 1) * 1e6))
EOF
)")

# ---- Locust: 1 master + 2 workers, the exported locustfile and commands. ----
MPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$OUT" && "../../../$SW" export locust --workload "$WORKLOAD" "$URL" --rate "$RATE" \
  --duration "${DURATION}s" --workers 2 --master-host 127.0.0.1 --master-port "$MPORT" \
  --out locust_wl.py --csv locust >locust.commands)
MASTER=$(grep '^locust .*--master ' "$OUT/locust.commands" | sed 's/^locust //')
WORKER=$(grep '^locust .*--worker ' "$OUT/locust.commands" | sed 's/^locust //')
LOCUST=$(pwd)/$VENV/bin/locust
# shellcheck disable=SC2086 # the printed commands are words without quoting
(cd "$OUT" && exec /usr/bin/time -f "%U %S" -o master.time taskset -c 0 "$LOCUST" $MASTER \
  >master.log 2>&1) &
MASTER_PID=$!
PIDS+=("$MASTER_PID")
for i in 1 2; do
  # shellcheck disable=SC2086
  (cd "$OUT" && exec /usr/bin/time -f "%U %S" -o "worker$i.time" taskset -c 0 "$LOCUST" $WORKER \
    >"worker$i.log" 2>&1) &
  PIDS+=("$!")
done
# Bounded: the run, the ramp and start-up, then the workers stop with the master.
for _ in $(seq $(( (DURATION + 60) * 10 ))); do kill -0 "$MASTER_PID" 2>/dev/null || break; sleep 0.1; done
wait "$MASTER_PID" || { echo "error: the Locust master failed: $(tail -5 "$OUT/master.log")" >&2; exit 1; }
for _ in $(seq 100); do [ -s "$OUT/worker1.time" ] && [ -s "$OUT/worker2.time" ] && break; sleep 0.1; done
rows+=("$(python3 - "$OUT/locust_stats.csv" "$(cpu_s "$OUT"/master.time "$OUT"/worker*.time)" <<'EOF'
import csv, sys
row = [r for r in csv.DictReader(open(sys.argv[1])) if r["Name"] == "Aggregated"][0]
n = int(row["Request Count"])
cpu = float(sys.argv[2])
print("Locust 1+2 workers|%.1f|%s|%s|bucketed, from send, uncorrected|%.1f" % (
    float(row["Requests/s"]), row["50%"], row["99%"], cpu / max(n, 1) * 1e6))
EOF
)")

# ---- k6, when an official binary is on PATH. ----
if command -v k6 >/dev/null 2>&1; then
  "$SW" export k6 --workload "$WORKLOAD" "$URL" --rate "$RATE" --duration "${DURATION}s" \
    --out "$OUT/wl.k6.js" >/dev/null
  /usr/bin/time -f "%U %S" -o "$OUT/k6.time" taskset -c 0 k6 run --quiet \
    --out "json=$OUT/k6.json" "$OUT/wl.k6.js" >"$OUT/k6.log" 2>&1 || true
  line=$("$SW" import k6 "$OUT/k6.json" --db "$OUT/k6.sqlite3" | sed -n 2p)
  rows+=("$(python3 - "$line" "$(cpu_s "$OUT/k6.time")" "$(k6 version | head -1)" <<'EOF'
import re, sys
m = re.search(r"^(\d+) requests.*achieved ([\d.]+) req/s; p50 ([\d.]+) ms, p99 ([\d.]+) ms", sys.argv[1])
n, rps, p50, p99 = int(m[1]), float(m[2]), m[3], m[4]
print("%s|%.1f|%s|%s|exact, from send|%.1f" % (sys.argv[3][:24], rps, p50, p99,
      float(sys.argv[2]) / max(n, 1) * 1e6))
EOF
)")
else
  rows+=("k6|not run: no k6 on PATH (install the official binary to include it)||||")
fi

printf '\n%-26s %12s %9s %9s  %-34s %16s\n' engine "req/s" "p50 ms" "p99 ms" "latency" "engine CPU us/req"
for r in "${rows[@]}"; do
  IFS='|' read -r e rps p50 p99 kind cpu <<<"$r"
  printf '%-26s %12s %9s %9s  %-34s %16s\n' "$e" "$rps" "$p50" "$p99" "$kind" "$cpu"
done
python3 - "$RATE" "${rows[@]}" <<'EOF'
import sys
rate = float(sys.argv[1])
for r in sys.argv[2:]:
    f = r.split("|")
    try:
        if float(f[1]) < 0.97 * rate:
            print("warning: %s achieved %s req/s of %s: it did not hold the rate; choose a lower one" % (f[0], f[1], rate))
    except ValueError:
        pass
EOF
