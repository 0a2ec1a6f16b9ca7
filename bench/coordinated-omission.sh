#!/usr/bin/env bash
# bench/coordinated-omission.sh — how honestly do load generators report latency when the server
# pauses? The axum baseline backend (one core, CPU 1) is made to freeze for 500 ms every second,
# like a stop-the-world GC pause. wrk, oha, stackwise (closed loop) and stackwise (open loop,
# --rate) load it in turn from CPU 0 with 10 connections for the same time, and the script prints
# the latency percentiles each one reports.
#
# The yardstick: a client arriving at a random moment finds the server frozen half the time and
# then waits for the rest of the freeze (uniform on 0-500 ms), so the true p75 is ~250 ms, p90
# ~400 ms and p99 ~490 ms. That row is computed from the pause pattern, not measured.
#
# Usage: bench/coordinated-omission.sh [DURATION_S] [RATE]   (defaults: 10 1000)
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${1:-10}
RATE=${2:-1000}
CONNS=10
OUT=bench/out/co
mkdir -p "$OUT"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v oha >/dev/null || { cargo install oha --locked --quiet; export PATH="$HOME/.cargo/bin:$PATH"; }

cargo build --release --locked --quiet -p stackwise -p stackwise-axum
. bench/lib.sh
start_axum "$OUT/server.log" taskset -c 1 -- --stall-ms 500 --stall-every-ms 1000
echo "server freezes 500 ms every 1 s at $URL; $CONNS connections, ${DURATION}s per tool" >&2

taskset -c 0 wrk -t1 -c$CONNS -d"${DURATION}s" --latency "$URL" >"$OUT/wrk.txt"
taskset -c 0 oha -z "${DURATION}s" -c $CONNS --no-tui --output-format json "$URL" >"$OUT/oha.json"
taskset -c 0 target/release/stackwise load "$URL" -c $CONNS -d "${DURATION}s" --pin 0 --json \
  >"$OUT/stackwise-closed.json"
taskset -c 0 target/release/stackwise load "$URL" -c $CONNS -d "${DURATION}s" --pin 0 \
  --rate "$RATE" --json >"$OUT/stackwise-open.json"

python3 - "$OUT" "$RATE" <<'PY'
import json, re, sys
out, rate = sys.argv[1], sys.argv[2]
cols = ["p50", "p75", "p90", "p99", "p99.9", "max"]

def wrk(path):
    text = open(path).read()
    unit = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    row = {}
    for p, v, u in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", text, re.M):
        row[f"p{p}"] = float(v) * unit[u]
    m = re.search(r"Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", text)
    row["max"] = float(m.group(1)) * unit[m.group(2)]
    return row

def oha(path):
    d = json.load(open(path))
    row = {k: v * 1e3 for k, v in d["latencyPercentiles"].items()}
    row["max"] = d["summary"]["slowest"] * 1e3
    return row

def stackwise(path, which):
    d = json.load(open(path))["latency"][which]
    row = {f"p{p['p']:g}": p["us"] / 1e3 for p in d["percentiles"]}
    row["max"] = d["max_us"] / 1e3
    return row

def truth(q):  # latency (ms) at quantile q for uniform arrivals; service time ignored
    return 0.0 if q <= 0.5 else (q - 0.5) / 0.5 * 500.0

rows = [
    ("true (uniform arrivals, computed)", {c: truth(float(c[1:]) / 100) for c in cols[:-1]} | {"max": 500.0}),
    ("wrk 4 (closed loop)", wrk(f"{out}/wrk.txt")),
    ("oha (closed loop)", oha(f"{out}/oha.json")),
    ("stackwise closed loop", stackwise(f"{out}/stackwise-closed.json", "from_send")),
    (f"stackwise --rate {rate}, from send", stackwise(f"{out}/stackwise-open.json", "from_send")),
    (f"stackwise --rate {rate}, from schedule", stackwise(f"{out}/stackwise-open.json", "from_schedule")),
]
print(f"\n{'latency in ms':<38}" + "".join(f"{c:>10}" for c in cols))
for name, row in rows:
    print(f"{name:<38}" + "".join(f"{row[c]:>10.1f}" if c in row else f"{'-':>10}" for c in cols))
PY
