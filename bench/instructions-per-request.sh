#!/usr/bin/env bash
# bench/instructions-per-request.sh — user-space instructions the load engine spends per request,
# counted by valgrind's callgrind. Unlike CPU time this figure does not drift with the machine's
# load, so it shows small engine changes that timing noise hides. It counts the engine only
# (user space, not the kernel's TCP work, which is most of the CPU time and the same for every
# client). Two runs (10,000 and 30,000 requests) are differenced to cancel start-up costs.
#
# Usage: bench/instructions-per-request.sh   (installs valgrind from Debian if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out/callgrind
mkdir -p "$OUT"
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
cargo build --release --locked --quiet -p stackwise -p stackwise-axum

. bench/lib.sh
start_axum "$OUT/server.log"

count() {
  valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.$1" \
    target/release/stackwise load "$URL" -c 50 -n "$1" -t 1 2>&1 >/dev/null |
    sed -n 's/.*Collected : //p'
}
a=$(count 10000)
b=$(count 30000)
echo "stackwise load: $(( (b - a) / 20000 )) user-space instructions per request (closed loop, 50 connections, 1 thread)"
