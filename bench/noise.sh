#!/usr/bin/env bash
# bench/noise.sh — do the lab's rankings and the claim verdicts survive noise?
#
# Runs the same `stackwise lab --quick` twice, each into its own store:
#   quiet   nothing else on the machine (run it on a quiet machine);
#   loaded  the same, with foreign load injected on the server CPU for part of the run: one process
#           (python3, pinned with taskset to SERVER_CPU) that waits DELAY_S, then for LOAD_S seconds
#           alternates BURST_S of busy loop with REST_S of sleep, then exits by itself; it is also
#           killed by its pid when the script ends, whatever happens. (Steal time itself cannot be
#           injected; other processes' load is what this measures.)
# Then prints, side by side: both runs' /json rankings (req/s), their Spearman rank correlation ρ,
# the claim verdicts of both (with the verdicts held back as noisy_machine), and the acceptance of
# issue 17: ρ ≥ 0.9 and no verdict flips between supported and refuted.
#
# Usage: bench/noise.sh
# Environment: SERVER_CPU (1), DELAY_S (20), LOAD_S (180), BURST_S (5), REST_S (5),
#   OUT (bench/out/noise: stores, JSON and the printed table are kept there),
#   NOISE_ANALYSE_ONLY=1 (skip both runs; analyse OUT/{quiet,loaded}.{lab,claims}.json as they are),
#   SW (a stackwise binary to measure instead of building this tree's release binary, e.g. an older
#   version for a before/after; set STACKWISE_TARGETS to that version's targets/ directory too).
# Each run's wall time is printed and kept in OUT/NAME.seconds.
# Takes about 2 × the `--quick` suite (~4.5 min each on 2 cores) plus the retries of the loaded run.
set -euo pipefail
cd "$(dirname "$0")/.."

SERVER_CPU=${SERVER_CPU:-1}
DELAY_S=${DELAY_S:-20}
LOAD_S=${LOAD_S:-180}
BURST_S=${BURST_S:-5}
REST_S=${REST_S:-5}
OUT=${OUT:-bench/out/noise}
mkdir -p "$OUT"
SW=${SW:-target/release/stackwise}

load_pid=
cleanup() {
  if [ -n "$load_pid" ]; then
    kill "$load_pid" 2>/dev/null || true
    wait "$load_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

# One lab run into $OUT/$1.sqlite3: its RunSummary JSON and its claims JSON.
lab_run() {
  local name=$1
  rm -f "$OUT/$name.sqlite3" "$OUT/$name.sqlite3.lock"
  echo "== $name run: stackwise lab --quick (log: $OUT/$name.lab.log)" >&2
  local t0=$SECONDS
  "$SW" lab --quick --no-progress --server-cpus "$SERVER_CPU" --db "$OUT/$name.sqlite3" --json \
    >"$OUT/$name.lab.json" 2>"$OUT/$name.lab.log"
  echo $((SECONDS - t0)) >"$OUT/$name.seconds"
  echo "== $name run: $((SECONDS - t0)) s wall time" >&2
  "$SW" claims --db "$OUT/$name.sqlite3" --json >"$OUT/$name.claims.json"
}

if [ -z "${NOISE_ANALYSE_ONLY:-}" ]; then
  if [ "$SW" = target/release/stackwise ]; then
    cargo build --release --locked --quiet -p stackwise
  fi
  for d in targets/*/; do
    [ -f "$d/target.toml" ] || continue
    "$SW" targets install "$(basename "$d")" >/dev/null
  done
  lab_run quiet

  # The foreign load: bounded in time by itself, pinned to the server CPU, killed by pid at the end.
  taskset -c "$SERVER_CPU" python3 - "$DELAY_S" "$LOAD_S" "$BURST_S" "$REST_S" <<'PY' &
import sys, time
delay, load, burst, rest = map(float, sys.argv[1:])
time.sleep(delay)
end = time.monotonic() + load
while time.monotonic() < end:
    b = min(time.monotonic() + burst, end)
    while time.monotonic() < b:
        pass
    time.sleep(rest)
PY
  load_pid=$!
  echo "== foreign load: pid $load_pid on CPU $SERVER_CPU, after ${DELAY_S}s, ${LOAD_S}s of ${BURST_S}s busy / ${REST_S}s idle" >&2
  lab_run loaded
  cleanup
  load_pid=
fi

python3 - "$OUT" <<'PY' | tee "$OUT/noise.txt"
import json, sys
out = sys.argv[1]

def load(name, kind):
    with open(f"{out}/{name}.{kind}.json") as f:
        return json.load(f)

def json_rps(run):
    """/json req/s per target, from cells that are ok (flagged and failed cells are never ranked)."""
    rps = {}
    for c in run["cells"]:
        st = c.get("status")
        st = st.get("status") if isinstance(st, dict) else st
        if c["workload"] != "json" or st != "ok":
            continue
        m = c.get("metrics", {}).get("throughput_rps") or c.get("throughput_rps")
        if m and m.get("median") is not None:
            rps[c["target"]] = m["median"]
    return rps

def noisy(run):
    return {(c["target"], c["workload"]) for c in run["cells"]
            if any(w.startswith("noisy machine:") for w in c.get("warnings", []))}

def remeasured(run):
    return sum(1 for c in run["cells"] for w in c.get("warnings", []) if " re-measured: " in w)

def ranks(values):
    """Average ranks (1 = highest), ties share their mean rank."""
    order = sorted(values, key=lambda k: -values[k])
    r, i = {}, 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in order[i:j + 1]:
            r[k] = (i + j) / 2 + 1
        i = j + 1
    return r

def spearman(a, b):
    common = sorted(set(a) & set(b))
    if len(common) < 3:
        return None, common
    ra, rb = ranks({k: a[k] for k in common}), ranks({k: b[k] for k in common})
    ma, mb = sum(ra.values()) / len(common), sum(rb.values()) / len(common)
    cov = sum((ra[k] - ma) * (rb[k] - mb) for k in common)
    va = sum((ra[k] - ma) ** 2 for k in common) ** 0.5
    vb = sum((rb[k] - mb) ** 2 for k in common) ** 0.5
    return (cov / (va * vb) if va and vb else None), common

q_run, l_run = load("quiet", "lab"), load("loaded", "lab")
q_cl, l_cl = load("quiet", "claims"), load("loaded", "claims")
q, l = json_rps(q_run), json_rps(l_run)
rq, rl = ranks(q), ranks(l)

print("/json ranking (req/s, rank)")
print(f"{'target':24} {'quiet':>12} {'rank':>5} {'loaded':>12} {'rank':>5} {'loaded/quiet':>13}")
for t in sorted(set(q) | set(l), key=lambda t: rq.get(t, 99)):
    fq = f"{q[t]:12,.0f} {rq[t]:5g}" if t in q else f"{'—':>12} {'':5}"
    fl = f"{l[t]:12,.0f} {rl[t]:5g}" if t in l else f"{'—':>12} {'':5}"
    ratio = f"{l[t] / q[t]:13.2f}" if t in q and t in l and q[t] else f"{'—':>13}"
    print(f"{t:24} {fq} {fl} {ratio}")
rho, common = spearman(q, l)
print(f"\nSpearman ρ over {len(common)} targets: " + ("n/a (fewer than 3 ranked in both)" if rho is None else f"{rho:.3f}"))
print(f"loaded run: {remeasured(l_run)} repeats re-measured, {len(noisy(l_run))} cells stayed noisy; "
      f"quiet run: {remeasured(q_run)} re-measured, {len(noisy(q_run))} noisy")

print("\nClaim verdicts (testable claims)")
qv = {c["id"]: c for c in q_cl["claims"] if c["kind"] == "testable"}
lv = {c["id"]: c for c in l_cl["claims"] if c["kind"] == "testable"}
def label(c):
    v = c["verdict"] + (" (indicative)" if c.get("indicative") else "")
    return v + (" [noisy_machine]" if "noisy_machine" in c.get("reasons", []) else "")
flips = []
w = max([len(i) for i in qv] + [5])
print(f"{'claim':{w}}  {'quiet':34} {'loaded':34}")
for cid in sorted(set(qv) | set(lv)):
    a, b = qv.get(cid), lv.get(cid)
    la, lb = (label(a) if a else "—"), (label(b) if b else "—")
    mark = ""
    if a and b and {a["verdict"], b["verdict"]} == {"supported", "refuted"}:
        flips.append(cid)
        mark = "  FLIP"
    elif la != lb:
        mark = "  changed"
    print(f"{cid:{w}}  {la:34} {lb:34}{mark}")
held = lambda r: r.get("independence", {}).get("held_back_noisy", 0)
print(f"\nheld back (noisy_machine): quiet {held(q_cl)}, loaded {held(l_cl)}")
print(f"supported ↔ refuted flips: {len(flips)}" + (f" ({', '.join(flips)})" if flips else ""))
ok = rho is not None and rho >= 0.9 and not flips
print("acceptance (ρ ≥ 0.9 and no supported↔refuted flip): " + ("PASS" if ok else "FAIL"))
sys.exit(0 if ok else 1)
PY
