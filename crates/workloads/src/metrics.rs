//! The built-in metrics. Ids equal the read model's former field names, so stored rows, the JSON
//! report and the goldens keep their names.

use crate::{Better, Metric, Over};

const fn m(
    id: &'static str,
    label: &'static str,
    unit: &'static str,
    better: Better,
    comparable_across_engines: bool,
    over: Over,
    description: &'static str,
) -> Metric {
    Metric {
        id,
        label,
        unit,
        better,
        comparable_across_engines,
        over,
        description,
    }
}

use Better::{Higher, Lower};
use Over::{AllRepeats, CleanRepeats, Rung, Target};

/// Every built-in metric, in report order.
#[rustfmt::skip]
pub const METRICS: &[Metric] = &[
    // Per repeat, over the clean repeats.
    m("throughput_rps", "req/s", "rps", Higher, false, CleanRepeats,
      "responses per second (closed loop at a fixed connection count; ws-hold: echoes per second over the hold)"),
    m("p50_ms", "p50 ms", "ms", Lower, false, CleanRepeats,
      "median latency: closed loop from send (saturation), corrected from the scheduled send (mixed), echo round trip (ws-hold)"),
    m("p99_ms", "p99 ms", "ms", Lower, false, CleanRepeats,
      "99th percentile latency, measured as p50_ms is"),
    m("server_cpu_us_per_req", "Server CPU µs/req", "us", Lower, true, CleanRepeats,
      "server CPU (whole process tree) per response (ws-hold: per echoed message)"),
    m("pss_mean_mb", "PSS mean MB", "mb", Lower, true, CleanRepeats,
      "server memory, PSS summed over the process tree, mean over the measuring window"),
    m("pss_peak_mb", "PSS peak MB", "mb", Lower, true, CleanRepeats,
      "server memory, PSS summed over the process tree, peak over the measuring window"),
    // Held connections, over every repeat.
    m("connections_attempted", "Connections attempted", "count", Higher, true, AllRepeats,
      "connections the client opened (tried to)"),
    m("connections_held", "Connections held", "count", Higher, true, AllRepeats,
      "connections still open at the end of the hold window"),
    m("pss_idle_mb", "PSS idle MB", "mb", Lower, true, AllRepeats,
      "server PSS (process tree) just before the connections were opened"),
    m("mb_per_1k_conns", "MB per 1k conns", "mb", Lower, true, AllRepeats,
      "(PSS while holding − idle PSS) / held × 1000"),
    m("echo_max_ms", "Echo max ms", "ms", Lower, false, AllRepeats,
      "the slowest echo round trip of the hold window"),
    // Per search (one search is one repeat of a capacity cell; the cell shows the median and
    // spread over its clean searches, and the claims' interval uses every one).
    m("capacity_rps", "Capacity req/s at the SLO", "rps", Higher, true, CleanRepeats,
      "the highest offered rate whose corrected p99 stayed under the SLO, one value per search"),
    // Per rung of an open-loop ladder (stored with the rung index).
    m("offered_rps", "Offered req/s", "rps", Higher, true, Rung, "the rate the rung offered"),
    m("achieved_rps", "Achieved req/s", "rps", Higher, true, Rung, "the rate the rung achieved"),
    m("rung_p50_ms", "p50 ms (corrected)", "ms", Lower, true, Rung,
      "median latency from the scheduled send time (corrected for coordinated omission)"),
    m("rung_p99_ms", "p99 ms (corrected)", "ms", Lower, true, Rung,
      "99th percentile latency from the scheduled send time (corrected for coordinated omission)"),
    m("rung_errors", "Errors", "count", Lower, true, Rung, "errors and wrong answers at the rung"),
    m("server_cores", "Server cores", "cores", Lower, true, Rung,
      "CPU cores the server used at the rung's rate (CPU seconds per second)"),
    // Per target.
    m("cold_start_ms", "Cold start ms", "ms", Lower, true, Target,
      "spawn → first correct response, over fresh starts"),
    m("idle_pss_mb", "Idle PSS MB", "mb", Lower, true, Target,
      "memory (PSS summed over the process tree) when idle after start"),
    m("install_bytes", "Install MB", "bytes", Lower, true, Target, "install footprint on disk"),
    m("install_packages", "Packages", "count", Lower, true, Target, "packages installed"),
    // Held connections, over every repeat: the handshake rate, its own figure (issue 14).
    m("upgrades_per_s", "Upgrades/s (ramp)", "rps", Higher, true, AllRepeats,
      "WebSocket upgrades completed per second of the ramp (until every attempt resolved)"),
    m("upgrade_timeouts", "Upgrade time-outs", "count", Lower, true, AllRepeats,
      "attempts whose upgrade did not finish within the connect timeout (the handshake rate, not holding, was short)"),
    // Loop blocking (mixed, mixed-time), per repeat over the clean repeats.
    m("heavy_n", "Heavy n", "count", Lower, true, CleanRepeats,
      "the heavy /cpu request's n (mixed: fixed; mixed-time: calibrated so one costs 50 ms of server CPU)"),
    m("heavy_cpu_ms", "Heavy CPU ms", "ms", Lower, true, CleanRepeats,
      "server CPU of one heavy /cpu request, measured by serial probes before the mixed window"),
    m("blocking_ratio", "Blocking ratio", "ratio", Lower, false, CleanRepeats,
      "(/io p99 with heavy requests − /io p99 alone) ÷ one heavy request's CPU time: ~0 clear, ≥ 0.5 blocked"),
    // The database workloads (appended: readers order metrics by this list).
    m("db_cpu_us_per_req", "DB CPU µs/req", "us", Lower, true, CleanRepeats,
      "CPU of the lab's PostgreSQL cluster (every backend) per response, over the measuring window (crud: at the capacity rung); a lower bound of the work when the load side was saturated"),
    m("read_p99_ms", "read p99 ms", "ms", Lower, true, CleanRepeats,
      "crud: corrected p99 of GET /items/{id} at the capacity rung"),
    m("list_p99_ms", "list p99 ms", "ms", Lower, true, CleanRepeats,
      "crud: corrected p99 of GET /items?limit=10 at the capacity rung"),
    m("create_p99_ms", "create p99 ms", "ms", Lower, true, CleanRepeats,
      "crud: corrected p99 of POST /items at the capacity rung"),
    m("update_p99_ms", "update p99 ms", "ms", Lower, true, CleanRepeats,
      "crud: corrected p99 of PUT /items/{id} at the capacity rung"),
    m("delete_p99_ms", "delete p99 ms", "ms", Lower, true, CleanRepeats,
      "crud: corrected p99 of DELETE /items/{id} at the capacity rung"),
];
