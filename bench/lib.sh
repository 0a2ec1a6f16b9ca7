# bench/lib.sh — shared by the bench scripts (sourced, not run).

# start_axum LOG [COMMAND PREFIX…] -- [stackwise-axum ARGS…]
# Starts target/release/stackwise-axum (one core, loopback only) behind the
# given prefix (e.g. `taskset -c 1`), kills it on exit whatever happens, waits until it listens,
# and sets URL to its address. Fails with the server's log if it does not start.
start_axum() {
  local log=$1; shift
  local prefix=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do prefix+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  "${prefix[@]}" target/release/stackwise-axum --workers 1 "$@" >"$log" 2>&1 &
  SERVER_PID=$!
  trap 'kill $SERVER_PID 2>/dev/null || true; wait $SERVER_PID 2>/dev/null || true' EXIT
  for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.05; done
  local addr
  addr=$(sed -n 's/^listening on //p' "$log")
  [ -n "$addr" ] || { echo "error: the axum server did not start: $(cat "$log")" >&2; exit 1; }
  URL="http://$addr/"
}
