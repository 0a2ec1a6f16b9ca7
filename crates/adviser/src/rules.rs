//! The rules kept as data (`rules.toml`, embedded): their model, their validation (every key and
//! value a rule names must exist in the profile), and the evaluation of their conditions.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::profile::{readable_key, KeyKind, Profile, Value};

/// The rules shipped with stackwise.
pub const RULES_TOML: &str = include_str!("../rules.toml");

/// One of the three answers.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Choice {
    Node,
    Python,
    Hybrid,
}

impl Choice {
    pub const ALL: [Choice; 3] = [Choice::Node, Choice::Python, Choice::Hybrid];

    pub fn as_str(self) -> &'static str {
        match self {
            Choice::Node => "node",
            Choice::Python => "python",
            Choice::Hybrid => "hybrid",
        }
    }

    /// The name shown to people.
    pub fn label(self) -> &'static str {
        match self {
            Choice::Node => "Node.js",
            Choice::Python => "Python",
            Choice::Hybrid => "hybrid (Node.js + Python)",
        }
    }
}

/// What a rule favours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Favours {
    Node,
    Python,
    Hybrid,
    /// Node.js or Python, not a hybrid.
    OneStack,
    /// A service placed on a stack in a hybrid.
    Placement,
    /// A warning about the chosen option.
    Caution,
    /// Either stack: a note.
    Either,
}

impl Favours {
    pub fn as_str(self) -> &'static str {
        match self {
            Favours::Node => "node",
            Favours::Python => "python",
            Favours::Hybrid => "hybrid",
            Favours::OneStack => "one-stack",
            Favours::Placement => "placement",
            Favours::Caution => "caution",
            Favours::Either => "either",
        }
    }
}

/// Where a rule or tier comes from: an article in shared/seeds and an exact quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// File name of the article in shared/seeds.
    pub article: String,
    /// The exact words of the article.
    pub quote: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub id: String,
    /// 1 is decided first.
    pub rank: u32,
    /// Whether the tier's rules vote for options (placements and cautions do not).
    pub votes: bool,
    pub name: String,
    pub why: String,
    pub sources: Vec<Source>,
}

/// A service placed on a stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Place {
    pub service: String,
    pub stack: Choice,
}

/// A claim of the claims catalogue (crates/claims/catalogue.toml) a rule's premise rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimRef {
    /// The claim's id in the catalogue.
    pub id: String,
    /// Read only this workload's part of the verdict (a claim tested on several workloads).
    #[serde(default)]
    pub workload: Option<String>,
    /// Read only this metric's part of the verdict (a claim tested on several metrics).
    #[serde(default)]
    pub metric: Option<String>,
    /// Set when what the lab measures for this claim is not the claim's own metric: the verdict is
    /// shown, labelled with this reason, and never changes the rule's vote.
    #[serde(default)]
    pub proxy: Option<String>,
    /// A caveat shown with the verdict (e.g. a local cold start standing in for a serverless one).
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    pub tier: String,
    pub favours: Favours,
    #[serde(default)]
    pub satisfied_by: Vec<Choice>,
    /// Placement rules through which a hybrid meets this rule: the hybrid satisfies it only when
    /// one of them fires, i.e. when the hybrid puts the service the rule is about on the favoured
    /// stack.
    #[serde(default)]
    pub hybrid_via: Vec<String>,
    pub weight: u32,
    pub when: Vec<Clause>,
    #[serde(default)]
    pub place: Option<Place>,
    #[serde(default)]
    pub measure: Vec<String>,
    /// The claims (catalogue ids) the rule's premise rests on; their verdicts on the run weigh it.
    #[serde(default)]
    pub claims: Vec<ClaimRef>,
    pub says: String,
    pub sources: Vec<Source>,
}

/// One condition over the profile.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clause {
    pub key: Option<String>,
    pub is: Option<toml::Value>,
    #[serde(rename = "in")]
    pub in_: Option<Vec<toml::Value>>,
    pub gt: Option<f64>,
    pub gte: Option<f64>,
    pub lt: Option<f64>,
    pub lte: Option<f64>,
    /// Greater than the value of another numeric key.
    pub gt_key: Option<String>,
    pub any: Option<Vec<Clause>>,
    pub not: Option<Box<Clause>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    tier: Vec<Tier>,
    rule: Vec<Rule>,
}

/// The whole rule set: tiers by rank, and rules in file order.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub tiers: Vec<Tier>,
    pub rules: Vec<Rule>,
}

/// The pseudo-key that cautions may read: the chosen option.
pub const CHOICE_KEY: &str = "advice.choice";

impl RuleSet {
    /// The rules shipped with stackwise.
    pub fn builtin() -> RuleSet {
        RuleSet::parse(RULES_TOML).expect("the embedded rules.toml is valid (tested)")
    }

    /// Parses and validates a rule file.
    pub fn parse(text: &str) -> Result<RuleSet, String> {
        let file: RuleFile = toml::from_str(text).map_err(|e| format!("rules.toml: {e}"))?;
        let mut tiers = file.tier;
        tiers.sort_by_key(|t| t.rank);
        let set = RuleSet {
            tiers,
            rules: file.rule,
        };
        set.validate()?;
        Ok(set)
    }

    fn validate(&self) -> Result<(), String> {
        let mut ids = BTreeSet::new();
        let mut ranks = BTreeSet::new();
        for t in &self.tiers {
            if !ids.insert(t.id.clone()) || !ranks.insert(t.rank) {
                return Err(format!("tier {}: duplicate id or rank", t.id));
            }
            if t.sources.is_empty() {
                return Err(format!("tier {}: no source", t.id));
            }
        }
        let mut rule_ids = BTreeSet::new();
        for r in &self.rules {
            let at = |m: String| format!("rule {}: {m}", r.id);
            if !rule_ids.insert(r.id.clone()) {
                return Err(at("duplicate id".into()));
            }
            let tier = self
                .tier(&r.tier)
                .ok_or_else(|| at(format!("unknown tier `{}`", r.tier)))?;
            let votes = matches!(
                r.favours,
                Favours::Node | Favours::Python | Favours::Hybrid | Favours::OneStack
            );
            let allowed = if tier.votes {
                !matches!(r.favours, Favours::Placement | Favours::Caution)
            } else {
                !votes && r.favours != Favours::Either
            };
            if !allowed {
                return Err(at(format!(
                    "favours {} in tier {} (votes = {})",
                    r.favours.as_str(),
                    tier.id,
                    tier.votes
                )));
            }
            if votes == (r.weight == 0) {
                return Err(at("voting rules weigh > 0, others 0".into()));
            }
            if (r.favours == Favours::Placement) != r.place.is_some() {
                return Err(at("placements, and only they, have `place`".into()));
            }
            if r.sources.is_empty() {
                return Err(at("no source".into()));
            }
            if r.says.trim().is_empty() {
                return Err(at("empty `says`".into()));
            }
            if r.satisfied_by.contains(&Choice::Hybrid) {
                return Err(at(
                    "a hybrid meets a rule only through a placement: use `hybrid_via`".into(),
                ));
            }
            if !r.hybrid_via.is_empty() && !matches!(r.favours, Favours::Node | Favours::Python) {
                return Err(at(
                    "`hybrid_via` is for rules favouring node or python".into()
                ));
            }
            for v in &r.hybrid_via {
                match self.rule(v) {
                    Some(pl) if pl.favours == Favours::Placement => {
                        let want = match r.favours {
                            Favours::Node => Choice::Node,
                            _ => Choice::Python,
                        };
                        if pl.place.as_ref().map(|p| p.stack) != Some(want) {
                            return Err(at(format!(
                                "hybrid_via {v} places its service on another stack than the rule favours"
                            )));
                        }
                    }
                    _ => return Err(at(format!("hybrid_via {v}: no such placement rule"))),
                }
            }
            for c in &r.when {
                c.validate(r.favours == Favours::Caution).map_err(at)?;
            }
        }
        Ok(())
    }

    pub fn tier(&self, id: &str) -> Option<&Tier> {
        self.tiers.iter().find(|t| t.id == id)
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// Every number a rule compares a key with, per key (for "what would change the answer").
    pub fn thresholds(&self, key: &str) -> Vec<f64> {
        fn walk(c: &Clause, key: &str, out: &mut Vec<f64>) {
            if c.key.as_deref() == Some(key) {
                out.extend([c.gt, c.gte, c.lt, c.lte].into_iter().flatten());
                if let Some(v) = c.is.as_ref().and_then(num) {
                    out.push(v);
                }
            }
            for a in c.any.iter().flatten() {
                walk(a, key, out);
            }
            if let Some(n) = &c.not {
                walk(n, key, out);
            }
        }
        let mut out = Vec::new();
        for r in &self.rules {
            for c in &r.when {
                walk(c, key, &mut out);
            }
        }
        out.sort_by(|a, b| a.total_cmp(b));
        out.dedup();
        out
    }
}

impl Rule {
    /// The options this rule is met by (empty for non-voting rules).
    pub fn supports(&self) -> Vec<Choice> {
        let mut v: Vec<Choice> = match self.favours {
            Favours::Node => vec![Choice::Node],
            Favours::Python => vec![Choice::Python],
            Favours::Hybrid => vec![Choice::Hybrid],
            Favours::OneStack => vec![Choice::Node, Choice::Python],
            _ => vec![],
        };
        v.extend(self.satisfied_by.iter().copied());
        v.sort();
        v.dedup();
        v
    }

    /// The options this rule is met by for a profile: a hybrid only through a placement that fires
    /// (see `hybrid_via`).
    pub fn supports_for(&self, rules: &RuleSet, profile: &Profile) -> Vec<Choice> {
        let mut v = self.supports();
        if self
            .hybrid_via
            .iter()
            .filter_map(|id| rules.rule(id))
            .any(|pl| pl.fires(profile, Some(Choice::Hybrid)))
        {
            v.push(Choice::Hybrid);
            v.sort();
            v.dedup();
        }
        v
    }

    /// Whether every clause holds for this profile (and chosen option, for cautions).
    pub fn fires(&self, profile: &Profile, choice: Option<Choice>) -> bool {
        self.when.iter().all(|c| c.holds(profile, choice))
    }
}

fn num(v: &toml::Value) -> Option<f64> {
    match v {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) => Some(*f),
        _ => None,
    }
}

impl Clause {
    fn validate(&self, may_read_choice: bool) -> Result<(), String> {
        if let Some(any) = &self.any {
            if self.key.is_some() || self.not.is_some() || any.is_empty() {
                return Err("`any` takes a non-empty list and nothing else".into());
            }
            return any.iter().try_for_each(|c| c.validate(may_read_choice));
        }
        if let Some(n) = &self.not {
            if self.key.is_some() {
                return Err("`not` takes one clause and nothing else".into());
            }
            return n.validate(may_read_choice);
        }
        let key = self
            .key
            .as_deref()
            .ok_or("a clause needs `key`, `any` or `not`")?;
        let tests = [
            self.is.is_some(),
            self.in_.is_some(),
            self.gt.is_some(),
            self.gte.is_some(),
            self.lt.is_some(),
            self.lte.is_some(),
            self.gt_key.is_some(),
        ]
        .iter()
        .filter(|t| **t)
        .count();
        if tests != 1 {
            return Err(format!(
                "clause on {key}: exactly one test of is, in, gt, gte, lt, lte, gt_key"
            ));
        }
        let kind = if key == CHOICE_KEY {
            if !may_read_choice {
                return Err(format!("only cautions may read {CHOICE_KEY}"));
            }
            KeyKind::Choice(&["node", "python", "hybrid"])
        } else {
            readable_key(key)
                .ok_or_else(|| format!("unknown key {key}"))?
                .kind
        };
        let check_value = |v: &toml::Value| -> Result<(), String> {
            let ok = match (kind, v) {
                (KeyKind::Bool, toml::Value::Boolean(_)) => true,
                (KeyKind::Count | KeyKind::Number, v) => num(v).is_some(),
                (KeyKind::Choice(names), toml::Value::String(s)) => names.contains(&s.as_str()),
                _ => false,
            };
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "clause on {key}: value {v} not allowed ({})",
                    kind.describe()
                ))
            }
        };
        if let Some(v) = &self.is {
            check_value(v)?;
        }
        if let Some(vs) = &self.in_ {
            vs.iter().try_for_each(check_value)?;
        }
        let numeric = matches!(kind, KeyKind::Count | KeyKind::Number);
        if (self.gt.is_some() || self.gte.is_some() || self.lt.is_some() || self.lte.is_some())
            && !numeric
        {
            return Err(format!("clause on {key}: comparisons need a numeric key"));
        }
        if let Some(other) = &self.gt_key {
            let k = readable_key(other).ok_or_else(|| format!("unknown key {other}"))?;
            if !numeric || !matches!(k.kind, KeyKind::Count | KeyKind::Number) {
                return Err(format!("clause on {key}: gt_key needs numeric keys"));
            }
        }
        Ok(())
    }

    /// Whether the clause holds.
    pub fn holds(&self, profile: &Profile, choice: Option<Choice>) -> bool {
        if let Some(any) = &self.any {
            return any.iter().any(|c| c.holds(profile, choice));
        }
        if let Some(n) = &self.not {
            return !n.holds(profile, choice);
        }
        let Some(key) = self.key.as_deref() else {
            return false;
        };
        let value = if key == CHOICE_KEY {
            match choice {
                Some(c) => Value::Text(c.as_str()),
                None => return false,
            }
        } else {
            match profile.get(key) {
                Some(v) => v,
                None => return false,
            }
        };
        let eq = |t: &toml::Value| match (&value, t) {
            (Value::Bool(a), toml::Value::Boolean(b)) => a == b,
            (Value::Text(a), toml::Value::String(b)) => *a == b.as_str(),
            (Value::Number(a), t) => num(t) == Some(*a),
            _ => false,
        };
        if let Some(t) = &self.is {
            return eq(t);
        }
        if let Some(ts) = &self.in_ {
            return ts.iter().any(eq);
        }
        let Value::Number(x) = value else {
            return false;
        };
        if let Some(other) = &self.gt_key {
            return matches!(profile.get(other), Some(Value::Number(y)) if x > y);
        }
        self.gt.is_none_or(|t| x > t)
            && self.gte.is_none_or(|t| x >= t)
            && self.lt.is_none_or(|t| x < t)
            && self.lte.is_none_or(|t| x <= t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_rules_are_valid() {
        let set = RuleSet::builtin();
        assert!(set.rules.len() >= 30);
        assert_eq!(set.tiers[0].id, "guard");
        assert!(set.rules.iter().all(|r| !r.sources.is_empty()));
    }

    #[test]
    fn invalid_rules_are_refused_with_their_id() {
        let bad = RULES_TOML.replacen(
            "{ key = \"product.stage\", is = \"pre-pmf\" }",
            "{ key = \"product.stage\", is = \"seed\" }",
            1,
        );
        let e = RuleSet::parse(&bad).unwrap_err();
        assert!(e.contains("pre-pmf-one-stack") && e.contains("seed"), "{e}");
        let bad = RULES_TOML.replacen("key = \"team.javascript\"", "key = \"team.js\"", 1);
        assert!(RuleSet::parse(&bad)
            .unwrap_err()
            .contains("unknown key team.js"));
        let bad = RULES_TOML.replacen("tier = \"team\"", "tier = \"teams\"", 1);
        assert!(RuleSet::parse(&bad).unwrap_err().contains("unknown tier"));
    }

    #[test]
    fn thresholds_are_collected_per_key() {
        let set = RuleSet::builtin();
        assert_eq!(
            set.thresholds("load.concurrent_connections"),
            vec![100.0, 1000.0, 10000.0]
        );
        assert_eq!(set.thresholds("load.peak_rps"), vec![1000.0, 10000.0]);
        assert!(set.thresholds("team.python").contains(&0.0));
        assert_eq!(set.thresholds("team.javascript_share"), vec![0.4, 0.6]);
    }
}
