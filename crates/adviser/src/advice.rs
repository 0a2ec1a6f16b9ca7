//! The advice as data: what `stackwise advise --json` prints (schema: schemas/advice.schema.json,
//! generated from these types), and what the terminal and ADR renderers read.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cost::Cost;
use crate::evidence::RuleEvidence;
use crate::profile::Profile;
use crate::rules::{Choice, Favours, Source};

/// The version of this format; bumped on incompatible changes.
pub const ADVICE_FORMAT: u32 = 2;

/// The recommendation with everything that led to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Advice {
    pub format: u32,
    /// The profile the advice was computed for (defaults filled in).
    pub profile: Profile,
    pub recommendation: Recommendation,
    pub confidence: Confidence,
    /// The fired rules that support the choice, highest tier first.
    pub reasons: Vec<Reason>,
    /// The fired rules that argue for another option, and the cautions attached to the choice.
    pub counter_arguments: Vec<Reason>,
    /// Fired rules whose premise the run refuted: they do not vote ("the articles say X; measured
    /// here: Y").
    pub not_voting: Vec<Reason>,
    /// What the claims verdicts could and could not check, and the command that would.
    pub evidence: EvidenceSummary,
    /// For a hybrid: the product's two pulls, resolved by the split.
    pub tension: Option<Tension>,
    /// Below 50% of the weight: no clear winner, the two best options and how to decide.
    pub no_clear_winner: Option<NoClearWinner>,
    /// Each disagreement between rules, with how the tiers resolved it.
    pub conflicts: Vec<Conflict>,
    /// The decision tier by tier: what each candidate scored and which were eliminated.
    pub tiers: Vec<TierStep>,
    /// Thresholds of the profile's keys that would change the answer.
    pub what_would_change: Vec<Change>,
    pub cost: Cost,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Recommendation {
    /// `node`, `python` or `hybrid`.
    pub choice: Choice,
    /// The choice as shown to people.
    pub label: String,
    /// One sentence: the choice and the tier that decided it.
    pub summary: String,
    /// The tier that eliminated the last competing option (`None` when a tie-break decided).
    pub decided_by: Option<String>,
    /// How an exact tie was broken, if one was.
    pub tie_break: Option<String>,
    /// For a hybrid: which services run on which stack.
    pub services: Vec<ServicePlacement>,
    /// For a hybrid: the peak load each stack serves.
    pub load_split: Option<LoadSplit>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServicePlacement {
    pub service: String,
    /// `node` or `python`.
    pub stack: Choice,
    /// The placement rule.
    pub rule: String,
    pub sources: Vec<Source>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LoadSplit {
    /// Requests per second at the peak reaching the Node.js services (every request enters through
    /// the gateway).
    pub node_rps: f64,
    /// Requests per second at the peak reaching the Python services, when `load.python_share` is given.
    pub python_rps: Option<f64>,
    pub note: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    High,
    Medium,
    Low,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::High => "high",
            Level::Medium => "medium",
            Level::Low => "low",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Confidence {
    pub level: Level,
    /// Weight of the fired voting rules met by the choice over the weight of all fired voting rules
    /// (weights after evidence).
    pub support_share: f64,
    /// Fired voting rules met by the choice.
    pub rules: u32,
    /// Tiers those rules are in.
    pub tiers: u32,
    /// Of those rules, how many rest on a premise measured and supported on the run.
    pub measured: u32,
    /// How the level was set.
    pub explanation: String,
}

/// A fired rule, as a reason or a counter-argument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Reason {
    pub rule: String,
    /// Tier id and its name.
    pub tier: String,
    pub tier_name: String,
    pub favours: Favours,
    /// Options that meet the rule (for voting rules).
    pub met_by: Vec<Choice>,
    /// The article weight (rules.toml).
    pub weight: u32,
    /// The weight after evidence (0 for notes, cautions and refuted premises).
    pub effective_weight: f64,
    pub says: String,
    pub sources: Vec<Source>,
    /// Lab workloads whose measurements bear on this rule.
    pub measure: Vec<String>,
    /// The verdicts of the claims the rule rests on, and what they did to its weight.
    pub evidence: Option<RuleEvidence>,
}

/// What the run could check of the fired rules' premises.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EvidenceSummary {
    pub run_id: Option<i64>,
    /// Fired rules whose premise was measured (any measured verdict), with their effect.
    pub measured: Vec<String>,
    /// Fired rules whose premise the run could not check, with the verdict and its reason.
    pub unchecked: Vec<String>,
    /// The one lab command that would measure the premises not checked (all targets).
    pub command: Option<String>,
}

/// A hybrid's two pulls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Tension {
    pub node_rules: Vec<String>,
    pub python_rules: Vec<String>,
    pub node_weight: f64,
    pub python_weight: f64,
    pub resolution: String,
}

/// No option holds half the weight: the two best, what decides between them, and a spike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NoClearWinner {
    /// The two best options, by the share of the weight each meets.
    pub options: Vec<Choice>,
    /// Their shares of the fired weight.
    pub shares: Vec<f64>,
    /// What decides between them: the rules that separate them and the thresholds that would.
    pub decides: Vec<String>,
    /// The articles' own advice for this case.
    pub advice: Source,
    /// The lab commands that measure what separates them here.
    pub commands: Vec<String>,
    /// A suggested spike.
    pub spike: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Conflict {
    /// E.g. "team skill vs product needs".
    pub title: String,
    /// The option that prevailed and the one overruled.
    pub prevailing: Choice,
    pub overruled: Choice,
    /// Fired rules met by the prevailing option and not by the overruled one.
    pub rules_for_prevailing: Vec<String>,
    /// Fired rules met by the overruled option and not by the prevailing one.
    pub rules_for_overruled: Vec<String>,
    pub resolution: Resolution,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Resolution {
    /// The tier that separated them (`None` for a tie-break).
    pub tier: Option<String>,
    pub rank: Option<u32>,
    /// Their scores in that tier.
    pub prevailing_score: f64,
    pub overruled_score: f64,
    pub explanation: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TierStep {
    pub tier: String,
    pub name: String,
    pub rank: u32,
    /// Scores of the options still in the running at this tier.
    pub scores: Vec<OptionScore>,
    /// Options eliminated at this tier.
    pub eliminated: Vec<Choice>,
    /// Fired rules of this tier.
    pub rules: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OptionScore {
    pub option: Choice,
    /// The weight (after evidence) of the tier's fired rules the option meets.
    pub score: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Change {
    /// The profile key, e.g. `product.stage`.
    pub key: String,
    pub from: String,
    /// The threshold value.
    pub to: String,
    /// `≥` (this value and every one above it searched), `≤` (this and every one below), or `=`
    /// (this value; values beyond it may give yet another answer).
    pub op: String,
    /// The answer there.
    pub choice: Choice,
    /// One sentence, e.g. "Python if the team had ≥ 6 Python engineers (now 4)".
    pub text: String,
}

/// The JSON schema of [`Advice`] (committed as schemas/advice.schema.json).
pub fn schema_json() -> String {
    serde_json::to_string_pretty(&schemars::schema_for!(Advice)).expect("a schema serialises")
}
