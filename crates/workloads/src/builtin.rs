//! The built-in workloads, in the order the suite runs them and the reports show them.

use crate::{
    Availability, BodyCheck, Kind, Method, Metric, Param, Request, ServiceKind, Tier, Workload,
};

pub use crate::metrics::METRICS as BUILTIN_METRICS;

const JSON: Option<&str> = Some("application/json");

const fn get(
    name: &'static str,
    path: &'static str,
    content_type: Option<&'static str>,
    check: BodyCheck,
    computed: &'static [&'static str],
) -> Request {
    Request {
        name,
        method: Method::Get,
        path,
        body: None,
        headers: &[],
        expect_status: 200,
        content_type,
        body_check: Some(check),
        computed,
        weight: 1,
    }
}

/// `GET /plaintext`: exactly `Hello, World!`.
pub const PLAINTEXT: Request = get(
    "plaintext",
    "/plaintext",
    Some("text/plain"),
    BodyCheck::Exact("Hello, World!"),
    &[],
);
/// `GET /json`: `{"message":"Hello, World!"}`, any whitespace.
pub const JSON_REQ: Request = get(
    "json",
    "/json",
    JSON,
    BodyCheck::Regex(r#"^\s*\{{\s*"message"\s*:\s*"Hello, World!"\s*\}}\s*$"#),
    &[],
);
/// `GET /io?ms=N`: the upstream's `{"ms":N,"seq":K}`, keys in either order.
pub const IO: Request = get(
    "io",
    "/io?ms={ms}",
    JSON,
    BodyCheck::Regex(
        r#"^\s*\{{\s*(?:"ms"\s*:\s*{ms}\s*,\s*"seq"\s*:\s*\d+|"seq"\s*:\s*\d+\s*,\s*"ms"\s*:\s*{ms})\s*\}}\s*$"#,
    ),
    &[],
);
/// `GET /cpu?n=N`: `{"n":N,"result":R}`, R = the contract's loop of `n` (the client computes it).
pub const CPU: Request = get(
    "cpu",
    "/cpu?n={n}",
    JSON,
    BodyCheck::Regex(
        r#"^\s*\{{\s*(?:"n"\s*:\s*{n}\s*,\s*"result"\s*:\s*{cpu_result}|"result"\s*:\s*{cpu_result}\s*,\s*"n"\s*:\s*{n})\s*\}}\s*$"#,
    ),
    &["cpu_result"],
);
/// `GET /hash?n=N`: `{"n":N,"sha256":"…"}`, the digest computed by the client.
pub const HASH: Request = get(
    "hash",
    "/hash?n={n}",
    JSON,
    BodyCheck::Regex(
        r#"^\s*\{{\s*(?:"n"\s*:\s*{n}\s*,\s*"sha256"\s*:\s*"{sha256}"|"sha256"\s*:\s*"{sha256}"\s*,\s*"n"\s*:\s*{n})\s*\}}\s*$"#,
    ),
    &["sha256"],
);
/// `GET /vector?n=N`: `{"n":N,"result":R}`, R = Σ x_i², x_i = (i mod 1000) / 1000; the client
/// computes `{vector_result}` as a regular expression matching every decimal within a relative
/// 1e-9 of R (the contract's tolerance: NumPy's pairwise `dot` and a plain loop differ in the
/// last bits).
pub const VECTOR: Request = get(
    "vector",
    "/vector?n={n}",
    JSON,
    BodyCheck::Regex(
        r#"^\s*\{{\s*(?:"n"\s*:\s*{n}\s*,\s*"result"\s*:\s*(?:{vector_result})|"result"\s*:\s*(?:{vector_result})\s*,\s*"n"\s*:\s*{n})\s*\}}\s*$"#,
    ),
    &["vector_result"],
);
/// `mixed`'s heavy request: `/cpu?n={heavy_n}`.
pub const HEAVY_CPU: Request = get(
    "heavy",
    "/cpu?n={heavy_n}",
    JSON,
    BodyCheck::Regex(
        r#"^\s*\{{\s*(?:"n"\s*:\s*{heavy_n}\s*,\s*"result"\s*:\s*{cpu_result}|"result"\s*:\s*{cpu_result}\s*,\s*"n"\s*:\s*{heavy_n})\s*\}}\s*$"#,
    ),
    &["cpu_result"],
);
/// `GET /ws` upgraded to a WebSocket echo (status 101); messages are echoed unchanged, in order.
pub const WS: Request = Request {
    name: "ws",
    method: Method::Get,
    path: "/ws",
    body: None,
    headers: &[("Upgrade", "websocket"), ("Connection", "Upgrade")],
    expect_status: 101,
    content_type: None,
    body_check: None,
    computed: &[],
    weight: 1,
};

/// A World row as the contract writes it: `{"id":N,"randomNumber":M}`, keys in either order.
macro_rules! world_row {
    () => {
        r#"\{{\s*(?:"id"\s*:\s*\d+\s*,\s*"randomNumber"\s*:\s*\d+|"randomNumber"\s*:\s*\d+\s*,\s*"id"\s*:\s*\d+)\s*\}}"#
    };
}
/// `GET /db`: one World row.
pub const DB: Request = get(
    "db",
    "/db",
    JSON,
    BodyCheck::Regex(concat!(r"^\s*", world_row!(), r"\s*$")),
    &[],
);
/// `GET /queries?q={q}`: an array of exactly 20 World rows (the registry's `q` is 20; a test
/// holds the count in the pattern to the parameter).
pub const QUERIES: Request = get(
    "queries",
    "/queries?q={q}",
    JSON,
    BodyCheck::Regex(concat!(
        r"^\s*\[\s*",
        world_row!(),
        r"(?:\s*,\s*",
        world_row!(),
        r"){{19}}\s*\]\s*$"
    )),
    &[],
);
/// `GET /updates?q={q}`: the 20 updated rows, as `/queries` answers.
pub const UPDATES: Request = get("updates", "/updates?q={q}", JSON, QUERIES_CHECK, &[]);
const QUERIES_CHECK: BodyCheck = match QUERIES.body_check {
    Some(c) => c,
    None => panic!("queries has a body check"),
};
/// `GET /fortunes`: the HTML page, checked for what a load engine can check without parsing:
/// the doctype and title, the `<script>` fortune escaped and first (sorted), the fortune added at
/// request time, the Japanese one last, the table closed. (The conformance checker compares the
/// page byte for byte after parsing.)
pub const FORTUNES: Request = get(
    "fortunes",
    "/fortunes",
    Some("text/html"),
    BodyCheck::Regex(
        r"(?s)^\s*<!DOCTYPE html>\s*<html>.*<title>Fortunes</title>.*<table>.*&lt;script&gt;alert\(.*Additional fortune added at request time\..*フレームワークのベンチマーク.*</table>\s*</body>\s*</html>\s*$",
    ),
    &[],
);

/// One item as the contract writes it (`id`, `name`, `price_cents`, any order).
macro_rules! item {
    () => {
        r#"\{{[^{{}}]*"price_cents"\s*:\s*\d+[^{{}}]*\}}"#
    };
}
const ITEM: BodyCheck = BodyCheck::Regex(concat!(r"^\s*", item!(), r"\s*$"));
const JSON_BODY: &[(&str, &str)] = &[("Content-Type", "application/json")];

/// `crud`'s mix (crates/lab/src/crud.rs runs it; a lab test holds the two equal): the
/// operation's name, method, path (`{id}` is filled per request from the operation's id range,
/// `computed`), body, status, answer and weight in percent.
pub const CRUD_MIX: &[Request] = &[
    Request {
        name: "read",
        method: Method::Get,
        path: "/items/{id}",
        body: None,
        headers: &[],
        expect_status: 200,
        content_type: JSON,
        body_check: Some(ITEM),
        computed: &["id"],
        weight: 70,
    },
    Request {
        name: "list",
        method: Method::Get,
        path: "/items?limit={list_limit}",
        body: None,
        headers: &[],
        expect_status: 200,
        content_type: JSON,
        body_check: Some(BodyCheck::Regex(concat!(
            r"^\s*\[\s*",
            item!(),
            r"(?:\s*,\s*",
            item!(),
            r"){{9}}\s*\]\s*$"
        ))),
        computed: &[],
        weight: 10,
    },
    Request {
        name: "create",
        method: Method::Post,
        path: "/items",
        body: Some(r#"{{"name":"load item","price_cents":1234}}"#),
        headers: JSON_BODY,
        expect_status: 201,
        content_type: JSON,
        body_check: Some(ITEM),
        computed: &[],
        weight: 10,
    },
    Request {
        name: "update",
        method: Method::Put,
        path: "/items/{id}",
        body: Some(r#"{{"name":"updated item","price_cents":4321}}"#),
        headers: JSON_BODY,
        expect_status: 200,
        content_type: JSON,
        body_check: Some(ITEM),
        computed: &["id"],
        weight: 7,
    },
    Request {
        name: "delete",
        method: Method::Delete,
        path: "/items/{id}",
        body: None,
        headers: &[],
        expect_status: 204,
        content_type: None,
        body_check: Some(BodyCheck::Exact("")),
        computed: &["id"],
        weight: 3,
    },
];

const DATABASE: &[ServiceKind] = &[ServiceKind::Database];

const DB_SAT_METRICS: &[&str] = &[
    "throughput_rps",
    "p50_ms",
    "p99_ms",
    "server_cpu_us_per_req",
    "pss_mean_mb",
    "pss_peak_mb",
    "db_cpu_us_per_req",
];
const CRUD_METRICS: &[&str] = &[
    "capacity_rps",
    "offered_rps",
    "achieved_rps",
    "rung_p50_ms",
    "rung_p99_ms",
    "rung_errors",
    "server_cores",
    "read_p99_ms",
    "list_p99_ms",
    "create_p99_ms",
    "update_p99_ms",
    "delete_p99_ms",
    "server_cpu_us_per_req",
    "db_cpu_us_per_req",
];

const SAT_METRICS: &[&str] = &[
    "throughput_rps",
    "p50_ms",
    "p99_ms",
    "server_cpu_us_per_req",
    "pss_mean_mb",
    "pss_peak_mb",
];
const CAP_METRICS: &[&str] = &[
    "capacity_rps",
    "offered_rps",
    "achieved_rps",
    "rung_p50_ms",
    "rung_p99_ms",
    "rung_errors",
    "server_cores",
];
/// Capacity searches that wait on the upstream: both SLOs' capacities from one ladder.
const IO_CAP_METRICS: &[&str] = &[
    "capacity_rps",
    "capacity_rel_rps",
    "offered_rps",
    "achieved_rps",
    "rung_p50_ms",
    "rung_p99_ms",
    "rung_errors",
    "server_cores",
];
const WAIT_METRICS: &[&str] = &[
    "in_flight",
    "p50_ms",
    "p99_ms",
    "failed_share",
    "throughput_rps",
    "server_cpu_us_per_req",
    "pss_mean_mb",
    "pss_peak_mb",
];
const MIXED_METRICS: &[&str] = &[
    "p50_ms",
    "p99_ms",
    "server_cpu_us_per_req",
    "pss_mean_mb",
    "pss_peak_mb",
    "offered_rps",
    "achieved_rps",
    "rung_p50_ms",
    "rung_p99_ms",
    "rung_errors",
    "server_cores",
    "heavy_n",
    "heavy_cpu_ms",
    "blocking_ratio",
];
const HOLD_METRICS: &[&str] = &[
    "connections_attempted",
    "connections_held",
    "mb_per_1k_conns",
    "p50_ms",
    "p99_ms",
    "echo_max_ms",
    "throughput_rps",
    "server_cpu_us_per_req",
    "pss_idle_mb",
    "pss_mean_mb",
    "pss_peak_mb",
    "upgrades_per_s",
    "upgrade_timeouts",
];

const fn p(name: &'static str, value: &'static str, why: &'static str) -> Param {
    Param { name, value, why }
}

const CLOSED: Param = p(
    "mode",
    "closed",
    "closed loop: a fixed number of requests in flight",
);
const OPEN: Param = p(
    "mode",
    "open",
    "open loop: requests sent at a rate, latency corrected",
);
const IO_MS: Param = p(
    "ms",
    "10",
    "long enough that the server waits on the network, short enough that a few hundred connections keep any server busy",
);
const CPU_N: Param = p(
    "n",
    "100000",
    "~9 ms of Python, ~0.1 ms of JavaScript: the loop, not HTTP, dominates in every language",
);
const HASH_N: Param = p(
    "n",
    "500",
    "500 SHA-256 digests of 1 KiB (~2–3 ms of OpenSSL): native work dominates HTTP",
);
const VECTOR_N: Param = p(
    "n",
    "1000000",
    "a 1M-element float64 vector (8 MB): a few ms of NumPy or of a JIT-compiled loop, so the arithmetic, not HTTP or the interpreter's per-request cost, dominates, and a request stays far under the 100 ms SLO on one core (pure Python would take ~100× longer)",
);
const C64: Param = p(
    "connections",
    "64",
    "keeps one server CPU busy for every target; the engine stays well under its CPU",
);
const C128: Param = p(
    "connections",
    "128",
    "128 in flight ≈ 12,800 req/s at 10 ms: more than any target serves on one CPU",
);
const C16: Param = p(
    "connections",
    "16",
    "each request is long; 16 keep a worker pool and a backlog busy",
);
const ANCHOR: Param = p(
    "anchor",
    "saturation",
    "the search starts from the same endpoint's saturation throughput",
);

/// The repeat policy of the capacity search most claims read (docs/workloads.md "Repeats"):
/// three searches, interleaved across targets like every repeat, the cell's capacity their median
/// with its spread, and the claims' pair interval over them. `--quick` runs one (indicative).
const IO_SLO_SEARCHES: Param = p(
    "max_repeats",
    "3",
    "capacity searches get repeats like every other cell: three searches (the default --repeats) give the claims' interval three values per target; one with --quick",
);
/// `mixed` is context: the loop-blocking claims are decided on `mixed-time` and show `mixed`
/// beside the verdict, never counting it (docs/claims.md), so one repeat keeps the full suite
/// within its 45-minute budget.
const MIXED_CONTEXT_REPEATS: Param = p(
    "max_repeats",
    "1",
    "context only: the loop-blocking verdicts are decided on mixed-time and show mixed beside them, never counted; one repeat keeps the full suite within its budget",
);

const UPSTREAM: &[ServiceKind] = &[ServiceKind::Upstream];

// The mixed traffic pattern, shared by `mixed`, `mixed-time` and `mixed-slo`: cheap /io requests
// on an open loop with a share of heavy /cpu ones (50 : 1 by weight).
const MIXED_ENDPOINTS: &[&str] = &["io", "cpu"];
const MIXED_REQUESTS: &[Request] = &[Request { weight: 50, ..IO }, HEAVY_CPU];
const MIXED_IO_RATE: Param = p(
    "io_rate_rps",
    "100",
    "far below every target's /io capacity: a latency rise is blocking, not saturation",
);
const MIXED_IO_CONNECTIONS: Param = p(
    "io_connections",
    "16",
    "enough for 100 req/s of 10 ms requests",
);
const MIXED_HEAVY_CONNECTIONS: Param =
    p("heavy_connections", "2", "two heavy requests may overlap");
const Q20: Param = p(
    "q",
    "20",
    "TechEmpower's multiple-queries and updates count in the middle of its 1–500 range: the database round trips, not HTTP, dominate",
);

#[allow(clippy::too_many_arguments)] // a table row: every column named at the call
const fn workload(
    id: &'static str,
    kind: Kind,
    description: &'static str,
    endpoints: &'static [&'static str],
    services: &'static [ServiceKind],
    requests: &'static [Request],
    params: &'static [Param],
    metrics: &'static [&'static str],
    quick: bool,
) -> Workload {
    Workload {
        id,
        kind,
        availability: Availability::Available,
        description,
        endpoints,
        services,
        requests,
        params,
        metrics,
        tier: if quick { Tier::Quick } else { Tier::Full },
    }
}

/// A workload nothing in the claims or the adviser's pricing reads: run only on request
/// (`stackwise lab --workloads ID`, or `--all`), which keeps the full suite within its budget.
const fn on_request(w: Workload) -> Workload {
    Workload {
        tier: Tier::OnRequest,
        ..w
    }
}

const fn future(
    id: &'static str,
    kind: Kind,
    description: &'static str,
    endpoints: &'static [&'static str],
    services: &'static [ServiceKind],
) -> Workload {
    Workload {
        id,
        kind,
        availability: Availability::Future,
        description,
        endpoints,
        services,
        requests: &[],
        params: &[],
        metrics: &[],
        tier: Tier::OnRequest,
    }
}

/// `ENDPOINT-slo`: the capacity search on one endpoint (`GET /ENDPOINT`, one request), an
/// open-loop ladder started from the endpoint's own saturation cell. What differs between them:
/// the services, the request, the endpoint's parameters (before the ladder's), parameters after
/// the ladder's, the metrics and the tier. (A macro, not a `const fn`: the id and the description
/// are the endpoint's name in a `concat!`.)
macro_rules! capacity {
    (
        $endpoint:literal,
        $services:expr,
        $request:expr,
        [$($endpoint_param:expr),*],
        [$($after:expr),*],
        $metrics:expr,
        $quick:expr
    ) => {
        workload(
            concat!($endpoint, "-slo"),
            Capacity,
            concat!("GET /", $endpoint, ", open-loop ladder: capacity at the p99 SLO"),
            &[$endpoint],
            $services,
            &[$request],
            &[
                p("anchor_workload", $endpoint, "the saturation cell the search starts from"),
                $($endpoint_param,)*
                OPEN,
                ANCHOR,
                $($after,)*
            ],
            $metrics,
            $quick,
        )
    };
}

use Kind::{Capacity, Concurrency, Hold, Mixed, PerTarget, Saturation};

/// Every built-in workload: the measured ones in suite (and report) order, then the per-target
/// measures, then the announced ones.
pub const BUILTIN_WORKLOADS: &[Workload] = &[
    on_request(workload(
        "plaintext",
        Saturation,
        "GET /plaintext, closed loop: the framework's floor cost",
        &["plaintext"],
        &[],
        &[PLAINTEXT],
        &[C64, CLOSED],
        SAT_METRICS,
        false,
    )),
    workload(
        "json",
        Saturation,
        "GET /json, closed loop: serialisation and routing",
        &["json"],
        &[],
        &[JSON_REQ],
        &[C64, CLOSED],
        SAT_METRICS,
        true,
    ),
    workload(
        "io",
        Saturation,
        "GET /io?ms=…, closed loop: one upstream HTTP call per request",
        &["io"],
        UPSTREAM,
        &[IO],
        &[IO_MS, C128, CLOSED],
        SAT_METRICS,
        true,
    ),
    workload(
        "cpu",
        Saturation,
        "GET /cpu?n=…, closed loop: CPU work written in the language",
        &["cpu"],
        &[],
        &[CPU],
        &[CPU_N, C16, CLOSED],
        SAT_METRICS,
        true,
    ),
    workload(
        "hash",
        Saturation,
        "GET /hash?n=…, closed loop: native CPU work (OpenSSL SHA-256)",
        &["hash"],
        &[],
        &[HASH],
        &[HASH_N, C16, CLOSED],
        SAT_METRICS,
        false,
    ),
    on_request(capacity!("json", &[], JSON_REQ, [], [], CAP_METRICS, false)),
    capacity!("io", UPSTREAM, IO, [IO_MS], [IO_SLO_SEARCHES], IO_CAP_METRICS, true),
    capacity!("cpu", &[], CPU, [CPU_N], [], CAP_METRICS, false),
    capacity!("hash", &[], HASH, [HASH_N], [], CAP_METRICS, false),
    workload(
        "mixed",
        Mixed,
        "/io latency, open loop, while a share of requests are heavy /cpu (loop blocking)",
        MIXED_ENDPOINTS,
        UPSTREAM,
        MIXED_REQUESTS,
        &[
            IO_MS,
            OPEN,
            MIXED_IO_RATE,
            MIXED_IO_CONNECTIONS,
            p("heavy_n", "1000000", "~100 ms of Python, ~1 ms of JavaScript: the same request for all"),
            p("heavy_rate_rps", "2", "2 of every 102 requests (~2%), at most ~20% of one CPU in Python"),
            MIXED_HEAVY_CONNECTIONS,
            MIXED_CONTEXT_REPEATS,
            p("extra_repeats", "0", "context only (never counted in a verdict): no extra repeats when its spread is wide"),
        ],
        MIXED_METRICS,
        false,
    ),
    workload(
        "ws-hold",
        Hold,
        "WebSocket /ws echo: N connections held, server memory per 1,000 connections, echo latency",
        &["ws"],
        &[],
        &[WS],
        &[
            p("connections", "10000", "the articles' \"thousands of concurrent connections\" (--ws-connections)"),
            p("ramp_rps", "2000", "fast enough for a short suite, slow enough that the accept queue is not what is measured"),
            p("interval_s", "1", "one message per connection per second keeps every connection live"),
            p("connect_timeout_s", "5", "TCP connect + upgrade must finish within this"),
            p("echo_timeout_s", "5", "an echo not back within this is missing"),
            p("max_repeats", "2", "each repeat needs a fresh server (~13 s)"),
            p("extra_repeats", "0", "each repeat restarts the server and ramps 10,000 connections: too dear to top up; its memory figure is read at the number held"),
        ],
        HOLD_METRICS,
        false,
    ),
    Workload {
        id: "cold-start",
        kind: PerTarget,
        availability: Availability::Available,
        description: "per target: spawn → first correct response over fresh starts, idle memory, install footprint",
        endpoints: &[],
        services: &[],
        requests: &[],
        params: &[p("starts", "10", "fresh starts in the full suite (2 with --quick)")],
        metrics: &["cold_start_ms", "idle_pss_mb", "install_bytes", "install_packages"],
        tier: Tier::Quick,
    },
    future(
        "stream",
        Saturation,
        "streaming responses (coming later)",
        &["stream"],
        &[],
    ),
    workload(
        "vector",
        Saturation,
        "GET /vector?n=…, closed loop: float64 arithmetic NumPy vectorises (Node: a Float64Array loop)",
        &["vector"],
        &[],
        &[VECTOR],
        &[VECTOR_N, C16, CLOSED],
        SAT_METRICS,
        false,
    ),
    // Issue 15: loop blocking with work that is heavy on every runtime. `mixed` (above) sends
    // the same heavy request to every target (equal work); `mixed-time` calibrates its heavy
    // request's n per target so that one costs 50 ms of server CPU (equal time).
    workload(
        "mixed-time",
        Mixed,
        "/io latency, open loop, while heavy /cpu requests of 50 ms of server CPU each arrive (loop blocking, equal time)",
        MIXED_ENDPOINTS,
        UPSTREAM,
        MIXED_REQUESTS,
        &[
            IO_MS,
            OPEN,
            MIXED_IO_RATE,
            MIXED_IO_CONNECTIONS,
            p("heavy_n", "calibrated", "chosen per target and repeat by serial /cpu probes with the server's CPU sampled, so that one heavy request costs heavy_cpu_target_ms"),
            p("heavy_cpu_target_ms", "50", "heavy on every runtime (the articles' \"heavy computation\"), yet 2 req/s of it is ~10% of one CPU"),
            p("heavy_cpu_tolerance", "0.1", "the calibrated request's measured CPU time must be within ±10% of the target"),
            p("heavy_n_start", "1000000", "the first probe's n (mixed's heavy request); later probes scale n by target ÷ measured"),
            p("heavy_rate_rps", "2", "2 of every 102 requests (~2%), ~10% of one CPU at 50 ms each"),
            MIXED_HEAVY_CONNECTIONS,
            p("primary_metric", "p99_ms", "the loop-blocking rule reads /io p99 (with heavy requests minus without): its spread decides extra repeats"),
        ],
        MIXED_METRICS,
        false,
    ),
    // Issue 16 item 6: the mixed traffic pattern as an open-loop capacity ladder (prices a mixed
    // product in the adviser); `mixed` stays the low-rate loop-blocking test.
    workload(
        "mixed-slo",
        Capacity,
        "/io with a 2% share of heavy /cpu, open-loop ladder: capacity at the /io p99 SLO",
        MIXED_ENDPOINTS,
        UPSTREAM,
        MIXED_REQUESTS,
        &[
            p("anchor_workload", "io", "the saturation cell the search starts from"),
            IO_MS,
            OPEN,
            ANCHOR,
            p("heavy_n", "1000000", "mixed's heavy request: the same traffic pattern as mixed"),
            p("heavy_share", "0.0196", "1 of every 51 requests (mixed: 2 of 102); each rung's rate is split 50:1 between /io and the heavy /cpu"),
            p("slo_on", "io", "the SLO is judged on the /io stream's corrected p99 (the cheap requests users wait on); heavy requests' errors count"),
        ],
        IO_CAP_METRICS,
        false,
    ),
    on_request(workload(
        "db",
        Saturation,
        "GET /db, closed loop: one PostgreSQL row read per request",
        &["db"],
        DATABASE,
        &[DB],
        &[C64, CLOSED],
        DB_SAT_METRICS,
        false,
    )),
    on_request(workload(
        "queries",
        Saturation,
        "GET /queries?q=20, closed loop: 20 PostgreSQL reads per request, one query each",
        &["queries"],
        DATABASE,
        &[QUERIES],
        &[Q20, C64, CLOSED],
        DB_SAT_METRICS,
        false,
    )),
    on_request(workload(
        "fortunes",
        Saturation,
        "GET /fortunes, closed loop: rows read, one added, sorted, escaped, rendered by the framework's template engine",
        &["fortunes"],
        DATABASE,
        &[FORTUNES],
        &[C64, CLOSED],
        DB_SAT_METRICS,
        false,
    )),
    on_request(workload(
        "updates",
        Saturation,
        "GET /updates?q=20, closed loop: 20 PostgreSQL reads and 20 writes per request",
        &["updates"],
        DATABASE,
        &[UPDATES],
        &[Q20, C64, CLOSED],
        DB_SAT_METRICS,
        false,
    )),
    workload(
        "crud",
        Capacity,
        "GET/POST/PUT/DELETE /items mix, open-loop ladder: capacity at the p99 SLO, p99 per operation",
        &["crud"],
        DATABASE,
        CRUD_MIX,
        &[
            p("anchor_workload", "db", "the search starts from the /db saturation throughput (one query per request, like most of the mix)"),
            OPEN,
            ANCHOR,
            p("list_limit", "10", "GET /items?limit=10: a page of a list view"),
        ],
        CRUD_METRICS,
        false,
    ),
    // Issue 14: "thousands of concurrent requests" measured as the words say: a long upstream
    // wait keeps thousands of requests in flight at a rate far below every async target's /io
    // capacity, so concurrency, not throughput, is what is tested.
    workload(
        "io-wait",
        Concurrency,
        "GET /io?ms=2000, open loop at 1,000 req/s: ~2,000 requests in flight at once; their p99 and how many failed",
        &["io"],
        UPSTREAM,
        &[IO],
        &[
            p("ms", "2000", "a long upstream wait (a slow model or service): each request stays in flight 2 s"),
            OPEN,
            p("rate_rps", "1000", "× 2 s = ~2,000 requests in flight by Little's law, at a rate well under every async target's /io capacity"),
            p("connections", "3000", "one HTTP/1.1 connection per request in flight, with half as many again for the tail"),
            p("warmup_s", "3", "longer than the wait: the in-flight count has reached its level when measuring starts"),
            p("duration_s", "5", "measuring window: 5,000 requests after the warm-up's 3,000; bounded in time and count"),
            p("max_repeats", "1", "one window per target: ten targets in under 3 minutes"),
        ],
        WAIT_METRICS,
        false,
    ),
];

/// The built-in metric with this id.
pub fn metric(id: &str) -> Option<&'static Metric> {
    BUILTIN_METRICS.iter().find(|m| m.id == id)
}
