//! The verdict vocabulary and the reason codes: what `stackwise claims` can say about a claim, the
//! `indicative` qualifier, and the typed codes other parts of stackwise attach to a verdict (the noise
//! checks, the database workload, the machine). docs/claims.md is the prose form of this module.
//!
//! **`indicative` is a qualifier, not a verdict.** It says how much a decided verdict rests on (one
//! repeat), not what it says: "supported (indicative)" still points the same way as "supported", and
//! `--verdict supported` must still find it. It is a flag beside the verdict ([`crate::ClaimResult`]'s
//! `indicative`), shown as a suffix of the label.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The verdict on one claim (or on one part of it).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The measurements agree with the claim, by at least its minimum effect.
    Supported,
    /// The measurements contradict the claim: no advantage, or the other way.
    Refuted,
    /// Part of the claim holds: one workload or metric but not another; the right direction but a
    /// smaller (or other) size than the claim's words; the best frameworks by the claimed size but the
    /// typical ones by less.
    Partly,
    /// The frameworks of a language really disagree: decided comparisons that point different ways
    /// (best against best one way, typical against typical the other).
    Depends,
    /// Within noise: the interval of the ratio straddles 1.0 or the claim's minimum effect (or the
    /// equivalence margin), so the run cannot tell.
    Inconclusive,
    /// The equivalence test passed: the whole interval of the ratio lies within the claim's margin
    /// (a "tie" or "negligible difference" claim that holds).
    Equivalent,
    /// Testable, but the run lacks the measurements (see `lab_command`).
    NotMeasured,
    /// The lab cannot test it (yet, or on this machine): see `needs` and the reason codes.
    NotTestableYet,
    /// A cited fact: shown with its source, not measured.
    Cited,
    /// An opinion.
    Opinion,
}

impl Verdict {
    pub const ALL: [Verdict; 10] = [
        Verdict::Supported,
        Verdict::Refuted,
        Verdict::Partly,
        Verdict::Depends,
        Verdict::Inconclusive,
        Verdict::Equivalent,
        Verdict::NotMeasured,
        Verdict::NotTestableYet,
        Verdict::Cited,
        Verdict::Opinion,
    ];

    /// The id used in JSON and by `--verdict`.
    pub fn id(self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::Refuted => "refuted",
            Verdict::Partly => "partly",
            Verdict::Depends => "depends",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Equivalent => "equivalent",
            Verdict::NotMeasured => "not-measured",
            Verdict::NotTestableYet => "not-testable-yet",
            Verdict::Cited => "cited",
            Verdict::Opinion => "opinion",
        }
    }

    /// How the terminal shows it.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::NotMeasured => "not measured",
            Verdict::NotTestableYet => "not testable yet",
            Verdict::Cited => "cited, not measured",
            Verdict::Inconclusive => "inconclusive",
            v => v.id(),
        }
    }

    /// The label with the `indicative` qualifier when it applies.
    pub fn label_with(self, indicative: bool) -> String {
        if indicative {
            format!("{} (indicative)", self.label())
        } else {
            self.label().to_string()
        }
    }

    pub fn from_id(s: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|v| v.id() == s)
    }

    /// A verdict computed from measurements: supported, refuted, partly, depends, inconclusive,
    /// equivalent.
    pub fn is_measured(self) -> bool {
        matches!(
            self,
            Verdict::Supported
                | Verdict::Refuted
                | Verdict::Partly
                | Verdict::Depends
                | Verdict::Inconclusive
                | Verdict::Equivalent
        )
    }

    /// A measured verdict that decides something (every measured verdict but `inconclusive`): the
    /// ones the `indicative` qualifier can apply to.
    pub fn is_decided(self) -> bool {
        self.is_measured() && self != Verdict::Inconclusive
    }
}

/// Why a verdict is what it is, as a code programs can act on (the adviser, the reports). Some are
/// attached by the claims rules, some by the catalogue, some by other checks (the noise issue's trust
/// flags attach `noisy_machine`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    /// The machine was too noisy for the figures (steal time, spread over the lab's limits): the
    /// verdict should not be trusted until re-measured on a quiet machine.
    NoisyMachine,
    /// On this machine the database, not the server, set the figure: it says nothing about Node.js
    /// against Python.
    DatabaseBound,
    /// This machine cannot test the claim as stated (e.g. a claimed throughput range above what the
    /// Rust baseline reaches here): not a verdict on the claim.
    NotTestableHere,
    /// A figure that is only a lower bound (load engine, upstream or connection ceiling) left the
    /// comparison undecided.
    LowerBound,
    /// The claim is about using several cores (the GIL, multiprocessing) and the run's servers had one
    /// CPU.
    NeedsMulticore,
    /// The claim needs a workload this run did not measure (or the lab does not have yet).
    NeedsWorkload,
    /// The claim is about someone else's benchmark (TechEmpower…): cited, not measured.
    CitedThirdParty,
    /// The verdict rests on one repeat of a figure that varies between repeats: `indicative`.
    OneRepeat,
}

impl ReasonCode {
    pub const ALL: [ReasonCode; 8] = [
        ReasonCode::NoisyMachine,
        ReasonCode::DatabaseBound,
        ReasonCode::NotTestableHere,
        ReasonCode::LowerBound,
        ReasonCode::NeedsMulticore,
        ReasonCode::NeedsWorkload,
        ReasonCode::CitedThirdParty,
        ReasonCode::OneRepeat,
    ];

    /// The id used in JSON and in the catalogue.
    pub fn id(self) -> &'static str {
        match self {
            ReasonCode::NoisyMachine => "noisy_machine",
            ReasonCode::DatabaseBound => "database_bound",
            ReasonCode::NotTestableHere => "not_testable_here",
            ReasonCode::LowerBound => "lower_bound",
            ReasonCode::NeedsMulticore => "needs_multicore",
            ReasonCode::NeedsWorkload => "needs_workload",
            ReasonCode::CitedThirdParty => "cited_third_party",
            ReasonCode::OneRepeat => "one_repeat",
        }
    }

    /// One line for humans.
    pub fn describe(self) -> &'static str {
        match self {
            ReasonCode::NoisyMachine => "the machine was too noisy to trust these figures",
            ReasonCode::DatabaseBound => {
                "the database, not the server, set the figure on this machine"
            }
            ReasonCode::NotTestableHere => "this machine cannot test the claim as stated",
            ReasonCode::LowerBound => "a lower-bound figure left the comparison undecided",
            ReasonCode::NeedsMulticore => "needs a run with at least 2 server CPUs",
            ReasonCode::NeedsWorkload => "needs a workload this run did not measure",
            ReasonCode::CitedThirdParty => "about a third-party benchmark: cited, not measured",
            ReasonCode::OneRepeat => "one repeat: indicative only",
        }
    }

    pub fn from_id(s: &str) -> Option<ReasonCode> {
        ReasonCode::ALL.into_iter().find(|c| c.id() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_match_serde() {
        for v in Verdict::ALL {
            assert_eq!(Verdict::from_id(v.id()), Some(v));
            assert_eq!(serde_json::to_value(v).unwrap(), serde_json::json!(v.id()));
        }
        for c in ReasonCode::ALL {
            assert_eq!(ReasonCode::from_id(c.id()), Some(c));
            assert_eq!(serde_json::to_value(c).unwrap(), serde_json::json!(c.id()));
        }
    }

    #[test]
    fn inconclusive_is_measured_but_not_decided() {
        assert!(Verdict::Inconclusive.is_measured());
        assert!(!Verdict::Inconclusive.is_decided());
        assert!(Verdict::Equivalent.is_decided());
        assert!(!Verdict::NotMeasured.is_measured());
        assert_eq!(
            Verdict::Supported.label_with(true),
            "supported (indicative)"
        );
    }
}
