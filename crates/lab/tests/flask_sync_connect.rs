//! The client the lab gives `python-flask-sync` (issue 14): its manifest says its gunicorn sync
//! workers close every connection and block on an idle one (`[start] connections =
//! "per-request"`), and the load engine connects to it only when a request is due. End to end on
//! the real target (installed here if needed, as in shipped_targets.rs).

use std::path::Path;
use std::time::Duration;

use lab::launch::{self, LaunchOptions};
use lab::manifest::{Connections, TargetsDir};
use loadgen::{
    BodyExpectation, Connect, LoadConfig, StatusExpectation, StopCondition, Target, Validation,
};

fn dir() -> TargetsDir {
    TargetsDir::at(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../targets")).unwrap()
}

#[test]
fn only_the_sync_worker_target_is_connected_to_when_due() {
    for t in dir().load_all() {
        let t = t.unwrap_or_else(|e| panic!("{e}"));
        let sync = t.name() == "python-flask-sync";
        assert_eq!(
            t.manifest.start.connections == Connections::PerRequest,
            sync,
            "{}",
            t.name()
        );
        assert_eq!(t.client_connect() == Connect::WhenDue, sync, "{}", t.name());
        if sync {
            let notes = &t.manifest.config["notes"];
            assert!(notes.contains("buffering proxy"), "{notes}");
        }
    }
}

/// An open loop at 20 req/s over 16 connections for 2 s: connecting when due, every response is
/// right and p99 is far below a second. (Connections the engine held open and idle would each
/// keep one of the 3 workers waiting until that connection's next request, 0.8 s later.)
#[test]
fn flask_sync_answers_an_open_loop_promptly_when_connected_when_due() {
    let d = dir();
    let t = d.load("python-flask-sync").unwrap();
    lab::install::install(&t, &d.repo(), false, Duration::from_secs(900), &mut |_| {})
        .unwrap_or_else(|e| panic!("{e}"));
    let cpus = loadgen::cpu::allowed_cpus();
    let opts = LaunchOptions {
        server_cpus: vec![*cpus.last().unwrap()],
        ..Default::default()
    };
    let mut running = launch::launch(&t, &d.repo(), &opts).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(running.config.workers, 3, "2 x 1 server CPU + 1");
    let mut cfg =
        LoadConfig::new(Target::parse(&format!("{}/plaintext", running.base_url())).unwrap());
    cfg.connections = 16;
    cfg.threads = 1;
    cfg.pin = (cpus.len() > 1).then(|| vec![cpus[0]]);
    cfg.rate = Some(20.0);
    cfg.stop = StopCondition {
        duration: Some(Duration::from_secs(2)),
        requests: None,
    };
    cfg.connect = t.client_connect();
    cfg.validation = Validation {
        status: StatusExpectation::Exact(200),
        body: Some(BodyExpectation::Exact(bytes::Bytes::from_static(
            b"Hello, World!",
        ))),
    };
    let report = loadgen::run(cfg);
    let stopped = running.server.stop(Duration::from_secs(5));
    let r = report.unwrap_or_else(|e| panic!("{e}"));
    assert!(stopped.leaked.is_empty(), "{stopped:?}");
    assert_eq!(r.config.connect, Connect::WhenDue);
    let q = &r.requests;
    assert!(q.sent >= 30, "{q:?}");
    assert_eq!(q.succeeded, q.sent, "{q:?}");
    assert_eq!(q.total_errors + q.cut_off, 0, "{q:?}");
    assert_eq!(r.rate.as_ref().map(|o| o.missed), Some(0));
    let p99_ms = r
        .latency
        .from_schedule
        .as_ref()
        .and_then(|l| l.at(99.0))
        .unwrap()
        / 1e3;
    eprintln!("python-flask-sync, 20 req/s over 16 connections, when due: p99 {p99_ms:.1} ms");
    assert!(p99_ms < 1000.0, "p99 {p99_ms:.1} ms");
}
