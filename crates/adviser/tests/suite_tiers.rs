//! The full suite runs every workload the adviser prices from (docs/workloads.md "Suites and their
//! budgets"): the registry's tiers are data in `crates/workloads`, which knows nothing of the
//! adviser, so the check lives here. A pricing workload that went "on request" would leave
//! `stackwise advise` with "no usable measurement" after every default run; this test fails
//! first. (The claims' half is crates/claims/tests/suite_tiers.rs.)

use adviser::cost::workloads_for;
use adviser::profile::DataFlow;

#[test]
fn every_workload_the_adviser_prices_from_is_in_the_full_suite() {
    let registry = workloads::registry();
    let mut read: Vec<(&str, String)> = Vec::new();
    for name in DataFlow::NAMES {
        let flow = DataFlow::parse(name).unwrap();
        for (w, _) in workloads_for(flow) {
            read.push((w, format!("the {name} data flow's price")));
        }
    }
    // The hybrid split (a Node.js gateway sized on io-slo, Python services on the compute
    // workloads) and the memory of held connections (crates/adviser/src/cost.rs).
    for w in ["io-slo", "cpu-slo", "hash-slo"] {
        read.push((w, "the hybrid split's price".into()));
    }
    read.push(("ws-hold", "the memory of held connections".into()));
    assert!(read.iter().any(|(w, _)| *w == "crud"));
    for (w, why) in read {
        let spec = registry
            .workload(w)
            .unwrap_or_else(|| panic!("{why} reads {w}, which the registry does not know"));
        assert!(
            spec.available() && spec.in_full_suite(),
            "{w} ({why}) runs only on request ({:?}): a default run would leave the adviser without it; put it in the full suite and fit the budget (docs/workloads.md \"Minutes per workload\")",
            spec.tier
        );
    }
}
