//! The lab's workload ids as the catalogue may name them (docs/workloads.md is the source; a test
//! checks the two agree): which ones the lab measures today, which are per-target measures rather than
//! (target, workload) cells, and which are future workloads that make a claim "not testable yet".

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

const fn cell(id: &'static str) -> Workload {
    Workload {
        id,
        available: true,
        per_target: false,
        capacity: false,
    }
}

const fn slo(id: &'static str) -> Workload {
    Workload {
        id,
        available: true,
        per_target: false,
        capacity: true,
    }
}

const fn future(id: &'static str) -> Workload {
    Workload {
        id,
        available: false,
        per_target: false,
        capacity: false,
    }
}

/// Every workload id of docs/workloads.md.
pub const WORKLOADS: &[Workload] = &[
    cell("plaintext"),
    cell("json"),
    cell("io"),
    cell("cpu"),
    cell("hash"),
    slo("json-slo"),
    slo("io-slo"),
    slo("cpu-slo"),
    slo("hash-slo"),
    cell("mixed"),
    cell("ws-hold"),
    Workload {
        id: "cold-start",
        available: true,
        per_target: true,
        capacity: false,
    },
    future("db"),
    future("stream"),
    future("vector"),
];

/// The workload with this id, if the lab knows it (now or as a future workload).
pub fn lookup(id: &str) -> Option<Workload> {
    WORKLOADS.iter().copied().find(|w| w.id == id)
}

/// The ids, comma-separated, for error messages.
pub fn known_ids() -> String {
    WORKLOADS
        .iter()
        .map(|w| w.id)
        .collect::<Vec<_>>()
        .join(", ")
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
