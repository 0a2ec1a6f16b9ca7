#!/usr/bin/env bash
# bench/lab-crosscheck.sh — checks the lab's saturation figure against wrk on the same target.
#
# For each target (default: node-http python-fastapi), in the same run:
#   lab  `stackwise lab --targets T --workloads json` (64 connections, 4 s after 1 s warm-up, REPEATS
#        repeats, server on CPU 1, engine on CPU 0): the stored median req/s;
#   wrk  the same target started by `stackwise targets serve T --server-cpus 1`, wrk pinned to CPU 0
#        with one thread and 64 connections, 1 s warm-up then REPEATS runs of 4 s: the median req/s.
# Prints both and the ratio lab/wrk; the lab is trusted when they agree within 10%.
# Usage: bench/lab-crosscheck.sh [TARGET…]   Environment: REPEATS (3).
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS=${REPEATS:-3}
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(node-http python-fastapi)
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --locked --quiet -p stackwise -p stackwise-axum
SW=target/release/stackwise
tmp=$(mktemp -d)
serve_pid=
cleanup() { [ -n "$serve_pid" ] && kill -INT "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

printf '%-16s %12s %12s %8s\n' target "lab req/s" "wrk req/s" "lab/wrk"
for t in "${TARGETS[@]}"; do
  "$SW" targets install "$t" >/dev/null
  "$SW" lab --targets "$t" --workloads json --repeats "$REPEATS" --cold-starts 1 --no-progress \
    --db "$tmp/$t.sqlite3" --json >"$tmp/$t.json" 2>"$tmp/$t.lab.log"
  lab=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print([c for c in r["cells"] if c["workload"]=="json"][0]["throughput_rps"]["median"])' "$tmp/$t.json")

  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$SW" targets serve "$t" --port "$port" --server-cpus 1 >"$tmp/$t.serve.log" 2>&1 &
  serve_pid=$!
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$port/json" >/dev/null 2>&1 && break; sleep 0.1; done
  taskset -c 0 wrk -t1 -c64 -d1s "http://127.0.0.1:$port/json" >/dev/null
  for i in $(seq "$REPEATS"); do
    taskset -c 0 wrk -t1 -c64 -d4s "http://127.0.0.1:$port/json" | awk '/Requests\/sec/ {print $2}'
  done >"$tmp/$t.wrk"
  kill -INT "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; serve_pid=
  wrk_rps=$(median <"$tmp/$t.wrk")
  printf '%-16s %12.0f %12.0f %8.2f\n' "$t" "$lab" "$wrk_rps" "$(python3 -c "print($lab/$wrk_rps)")"
done
