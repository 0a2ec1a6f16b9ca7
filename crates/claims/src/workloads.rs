//! The workload ids a claims catalogue may name, as the claims read them from the `workloads`
//! registry (the one list; docs/workloads.md describes it and a test checks the two agree):
//! which ones the lab measures today, which are per-target measures rather than (target,
//! workload) cells, and which are future workloads that make a claim "not testable yet". A
//! workload registered at run time is known here with no other change.

/// One workload id the catalogue may reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    pub id: &'static str,
    /// Measured by the lab today; `false` for the workloads docs/workloads.md announces as coming later.
    pub available: bool,
    /// A per-target measure (stored with the target, not as a cell), e.g. `cold-start`.
    pub per_target: bool,
    /// Open-loop capacity search: the cell carries `capacity_rps`.
    pub capacity: bool,
}

impl From<&workloads::Workload> for Workload {
    fn from(w: &workloads::Workload) -> Workload {
        Workload {
            id: w.id,
            available: w.available(),
            per_target: w.per_target(),
            capacity: w.capacity(),
        }
    }
}

/// Every workload id of the registry, in its order.
pub fn all() -> Vec<Workload> {
    workloads::registry()
        .workloads()
        .iter()
        .map(Workload::from)
        .collect()
}

/// The workload with this id, if the lab knows it (now or as a future workload).
pub fn lookup(id: &str) -> Option<Workload> {
    workloads::registry().workload(id).map(Workload::from)
}

/// The ids, comma-separated, for error messages.
pub fn known_ids() -> String {
    workloads::registry().known_ids()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_knows_available_and_future_workloads() {
        assert!(lookup("io").unwrap().available);
        assert!(lookup("io-slo").unwrap().capacity);
        assert!(lookup("cold-start").unwrap().per_target);
        assert!(lookup("ws-hold").unwrap().available);
        assert!(!lookup("stream").unwrap().available);
        assert!(lookup("websocket").is_none());
    }
}
