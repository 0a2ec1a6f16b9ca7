//! The lab core's API on the shipped targets (targets/; installed by `stackwise targets install`
//! before the tests in CI, installed here otherwise): versions, footprint, launch with several
//! workers, sampling of the whole process tree under requests, a stop that leaves nothing, and the
//! `/ws` echo (declared, or its absence explained) checked through the clustered server.

use std::path::Path;
use std::time::Duration;

use lab::launch::{self, LaunchOptions};
use lab::manifest::TargetsDir;
use lab::sample::Sampler;

fn dir() -> TargetsDir {
    TargetsDir::at(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../targets")).unwrap()
}

fn installed(name: &str) -> lab::manifest::Target {
    let d = dir();
    let t = d.load(name).unwrap();
    lab::install::install(&t, &d.repo(), false, Duration::from_secs(900), &mut |_| {})
        .unwrap_or_else(|e| panic!("{e}"));
    t
}

#[test]
fn every_shipped_manifest_parses() {
    let all = dir().load_all();
    assert!(all.len() >= 10, "{}", all.len());
    for t in all {
        let t = t.unwrap_or_else(|e| panic!("{e}"));
        assert!(!t.manifest.endpoints.is_empty());
    }
}

/// docs/contract.md: a target that does not serve `/ws` says why in `[config] notes`.
#[test]
fn every_target_serves_ws_or_says_why_not() {
    for t in dir().load_all() {
        let t = t.unwrap_or_else(|e| panic!("{e}"));
        let m = &t.manifest;
        if m.endpoints.contains(&lab::manifest::Endpoint::Ws) {
            assert!(
                m.config.contains_key("websocket"),
                "{}: no [config] websocket",
                m.name
            );
        } else {
            let notes = m.config.get("notes").map(String::as_str).unwrap_or("");
            assert!(
                notes.contains("no /ws"),
                "{}: no /ws and no note why: {notes}",
                m.name
            );
        }
    }
}

/// The WebSocket echo through node:cluster with two workers, by the conformance checker.
#[test]
fn the_ws_echo_of_a_clustered_target_passes_the_checker() {
    let t = installed("node-express");
    let opts = LaunchOptions {
        server_cpus: vec![*loadgen::cpu::allowed_cpus().last().unwrap()],
        workers: Some(2),
        ..Default::default()
    };
    let mut running = launch::launch(&t, &dir().repo(), &opts).unwrap_or_else(|e| panic!("{e}"));
    let report = lab::check::check(
        "node-express",
        running.server.addr(),
        &[lab::manifest::Endpoint::Ws],
        None,
        &lab::check::CheckOptions::default(),
    );
    let stop = running.server.stop(Duration::from_secs(5));
    assert!(report.passed(), "{report}");
    let ws = report
        .endpoints
        .iter()
        .find(|e| e.endpoint.as_str() == "ws");
    assert_eq!(ws.map(|e| e.requests), Some(5), "{report}");
    assert!(stop.leaked.is_empty(), "{stop:?}");
}

#[test]
fn versions_and_footprint_of_a_node_and_a_python_target() {
    for (name, runtime, package) in [
        ("node-express", "node", "express"),
        ("python-fastapi", "python", "fastapi"),
    ] {
        let t = installed(name);
        let v = lab::machine::target_versions(&t, &dir().repo()).unwrap();
        assert!(v.contains_key(runtime), "{name}: {v:?}");
        assert!(
            v.get(package)
                .is_some_and(|x| x.chars().next().unwrap().is_ascii_digit()),
            "{name}: {v:?}"
        );
        let fp = lab::install::footprint(&t);
        assert!(fp.packages >= 5 && fp.bytes > 1_000_000, "{name}: {fp:?}");
        // The runtime (node binary; the Python installation) is counted apart, and is megabytes.
        assert!(
            fp.with_runtime_bytes
                .is_some_and(|w| w > fp.bytes + 5_000_000),
            "{name}: {fp:?}"
        );
    }
}

/// node:cluster with two workers: the tree is a primary and two workers; CPU of the tree covers
/// the requests served; PSS is below the RSS sum; the stop leaves no process.
#[test]
fn a_clustered_target_is_sampled_as_a_whole_tree_and_stopped_cleanly() {
    let t = installed("node-express");
    let cpus = loadgen::cpu::allowed_cpus();
    let opts = LaunchOptions {
        server_cpus: vec![*cpus.last().unwrap()],
        workers: Some(2),
        ..Default::default()
    };
    let mut running = launch::launch(&t, &dir().repo(), &opts).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(running.config.workers, 2);
    assert!(running.server.cold_start > Duration::ZERO);
    let tree = running.server.process.tree();
    // Workers come up after the primary answers; give them a moment.
    let t0 = std::time::Instant::now();
    while tree.pids().len() < 3 && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(tree.pids().len() >= 3, "{:?}", tree.pids());
    let sampler = Sampler::start(tree.clone(), Duration::from_millis(20));
    let w = sampler.window_start();
    for _ in 0..300 {
        let (status, body) = lab::process::http_get(
            running.server.addr(),
            "/cpu?n=20000",
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    }
    let cost = sampler.window_end(&w);
    assert!(cost.cpu_seconds > 0.01, "{cost:?}");
    assert!(cost.samples >= 2, "{cost:?}");
    let peak = cost.pss_peak_bytes.unwrap();
    assert!(peak > 20 << 20, "{cost:?}");
    running.server.check_alive().unwrap();
    sampler.stop();
    let pids = tree.pids();
    let report = running.server.stop(Duration::from_secs(5));
    assert!(report.leaked.is_empty() && !report.forced, "{report:?}");
    for pid in pids {
        assert!(
            lab::sample::read_stat(pid).is_none_or(|s| s.state == 'Z'),
            "{pid} still alive"
        );
    }
}
