//! The full suite runs every workload a claim reads (docs/workloads.md "Suites and their
//! budgets"): the registry's tiers are data in `crates/workloads`, which must not know the claims,
//! so the check lives here, where both are visible. A claim whose workload went "on request" would
//! be "not measured" after every default run; this test fails first. (The adviser's half is
//! crates/adviser/tests/suite_tiers.rs.)

use std::collections::BTreeMap;

use claims::{Catalogue, RuleSpec};

#[test]
fn every_workload_a_claim_reads_is_in_the_full_suite() {
    let registry = workloads::registry();
    let cat = Catalogue::builtin();
    // workload id → the claims reading it.
    let mut read: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut add = |w: &str, claim: &str| {
        read.entry(w.to_string())
            .or_default()
            .push(claim.to_string())
    };
    for c in &cat.claims {
        let Some(t) = &c.test else { continue };
        // A claim with no rule is not decided from a run (not testable yet).
        let Some(rule) = &t.rule else { continue };
        for w in &t.workloads {
            add(w, &c.id);
        }
        if let RuleSpec::LoopBlocking {
            workload, beside, ..
        } = rule
        {
            add(workload, &c.id);
            if let Some(b) = beside {
                add(b, &c.id);
            }
            // The rule prices the heavy request on the `cpu` cell and takes `/io`'s p99 without
            // heavy requests from the `io-slo` ladder (crates/claims/src/rules.rs).
            add("cpu", &c.id);
            add("io-slo", &c.id);
        }
    }
    assert!(read.contains_key("crud"), "the CRUD claims read crud");
    assert!(read.contains_key("io-slo"));
    let mut checked = 0;
    for (w, ids) in &read {
        let spec = registry
            .workload(w)
            .unwrap_or_else(|| panic!("claims {ids:?} read {w}, which the registry does not know"));
        if !spec.available() {
            continue; // a future workload: those claims are "not testable yet"
        }
        assert!(
            spec.in_full_suite(),
            "{w} is read by {} but runs only on request ({:?}): a default run would leave them unmeasured; put it in the full suite (crates/workloads/src/builtin.rs) and fit the budget (docs/workloads.md \"Minutes per workload\")",
            ids.join(", "),
            spec.tier
        );
        checked += 1;
    }
    assert!(checked >= 10, "{read:?}");
}
