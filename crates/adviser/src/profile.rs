//! The profile: what the user tells the adviser about their team, product, load and prices. One model
//! ([`Profile`]) behind the three inputs: a TOML file ([`parse_profile`]), command-line flags
//! (the CLI's, each setting one key of [`KEYS`]) and the questionnaire ([`crate::questionnaire`] holds
//! its questions as data; the CLI asks them on the terminal). Each input fills a [`PartialProfile`];
//! [`PartialProfile::validate`] names the first key out of range ([`FieldError`]) and
//! [`PartialProfile::complete`] names whatever is still missing. No terminal or flag parsing here.
//!
//! Errors in a file name the file, the line, the key and the allowed values.

use std::fmt;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Declares a closed set of text values: serde, schemars and the CLI's flags all use the same spellings
/// (`NAMES`, `parse`).
macro_rules! choice {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $text)] $var),+
        }
        impl $name {
            /// Every value, in the documented order.
            pub const ALL: &'static [$name] = &[$($name::$var),+];
            /// Every value's spelling, in the documented order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];
            /// The value's spelling in profiles, flags and JSON.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$var => $text),+ }
            }
            /// The value spelled `s`, if any.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$var),)+ _ => None }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

choice!(
    /// What the product is, in the terms of the articles' use-case map.
    UseCase {
        Chat = "chat",
        VideoStreaming = "video-streaming",
        ECommerce = "e-commerce",
        Marketplace = "marketplace",
        Social = "social",
        AnalyticsDashboard = "analytics-dashboard",
        MlBackend = "ml-backend",
        SaasCrmErp = "saas-crm-erp",
        MobileApi = "mobile-api",
        Iot = "iot",
        Devtools = "devtools",
        Automation = "automation",
        Scientific = "scientific",
        Other = "other",
    }
);

choice!(
    /// Where the company is: before product-market fit, after it, or an enterprise.
    Stage {
        PrePmf = "pre-pmf",
        PostPmf = "post-pmf",
        Enterprise = "enterprise",
    }
);

choice!(
    /// Whether AI/ML features are absent, coming within 12 months, or the core of the product.
    AiMl {
        None = "none",
        Within12Months = "within-12-months",
        Core = "core",
    }
);

choice!(
    /// How strict the security and compliance requirements are.
    Compliance {
        Standard = "standard",
        High = "high",
    }
);

choice!(
    /// What a typical request does: wait on I/O, compute, both, or read and write a database
    /// (`crud`: a REST API over a database, priced from the `crud` workload).
    DataFlow {
        Io = "io",
        Compute = "compute",
        Mixed = "mixed",
        Crud = "crud",
    }
);

choice!(
    /// How well engineers write a language: its weight in the team's weighted share is fixed
    /// ([`Fluency::weight`]).
    Fluency {
        Learning = "learning",
        Working = "working",
        Expert = "expert",
    }
);

impl Fluency {
    /// The weight of one engineer at this level in the team's weighted share: learning 0.5,
    /// working 1, expert 1.5 (stackwise's judgement, documented in docs/profile.md: a learner is
    /// counted as half an engineer who works in the language daily, an expert as one and a half).
    pub fn weight(self) -> f64 {
        match self {
            Fluency::Learning => 0.5,
            Fluency::Working => 1.0,
            Fluency::Expert => 1.5,
        }
    }
}

/// A team whose minority language holds at least this share of the weighted headcount is balanced:
/// it can build in either language, and the team tier does not decide.
pub const BALANCED_MINORITY_SHARE: f64 = 0.4;

/// The TCO horizon used when the profile gives none (months).
pub const DEFAULT_HORIZON_MONTHS: f64 = 24.0;

choice!(
    /// The stack of an existing system the backend must integrate with.
    Legacy {
        None = "none",
        Node = "node",
        Python = "python",
        Other = "other",
    }
);

/// The complete profile the rules and the cost model read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Profile {
    pub team: Team,
    pub product: Product,
    pub load: Load,
    pub costs: Costs,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Team {
    /// Engineers fluent in JavaScript/TypeScript.
    pub javascript: u32,
    /// Engineers fluent in Python.
    pub python: u32,
    /// The team has a data-science or research background.
    pub data_science: bool,
    /// The developers are learning their first backend language.
    pub learning: bool,
    /// How well the JavaScript engineers write it (default working).
    pub javascript_level: Fluency,
    /// How well the Python engineers write it (default working).
    pub python_level: Fluency,
}

impl Team {
    /// JavaScript engineers weighted by their fluency.
    pub fn weighted_javascript(&self) -> f64 {
        f64::from(self.javascript) * self.javascript_level.weight()
    }

    /// Python engineers weighted by their fluency.
    pub fn weighted_python(&self) -> f64 {
        f64::from(self.python) * self.python_level.weight()
    }

    /// The JavaScript share of the weighted headcount (0 when nobody is counted).
    pub fn javascript_share(&self) -> f64 {
        let (j, p) = (self.weighted_javascript(), self.weighted_python());
        if j + p > 0.0 {
            j / (j + p)
        } else {
            0.0
        }
    }

    /// Both languages are written and the minority holds ≥ [`BALANCED_MINORITY_SHARE`] of the
    /// weighted headcount.
    pub fn balanced(&self) -> bool {
        let s = self.javascript_share();
        self.javascript > 0 && self.python > 0 && s.min(1.0 - s) >= BALANCED_MINORITY_SHARE - 1e-12
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Product {
    pub use_case: UseCase,
    pub stage: Stage,
    /// Real-time features (chat, live notifications, collaboration, WebSockets).
    pub realtime: bool,
    pub ai_ml: AiMl,
    /// Large datasets or analytics pipelines.
    pub data_heavy: bool,
    pub compliance: Compliance,
    /// The frontend is JavaScript and one language across the stack is wanted.
    pub full_stack_js: bool,
    /// Deployed as serverless functions.
    pub serverless: bool,
    pub data_flow: DataFlow,
    /// The stack of an existing system to integrate with.
    pub legacy: Legacy,
    /// "the most readable and maintainable backend code" is wanted (003).
    pub readability: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Load {
    /// Peak requests per second the backend must serve.
    pub peak_rps: f64,
    /// Connections held open at the peak.
    pub concurrent_connections: u64,
    /// The p99 latency target, in milliseconds.
    pub p99_ms: f64,
    /// For a hybrid: the share of requests that reach the Python services (0–1), if known.
    pub python_share: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Costs {
    /// Price of one CPU core for one hour, in USD.
    pub core_hour_usd: f64,
    /// Price of one GB of memory for one hour, in USD, if known.
    pub gb_hour_usd: Option<f64>,
    /// Share of provisioned capacity kept spare (0 ≤ headroom < 1).
    pub headroom: f64,
    /// Cost of one engineer for a year (salary and overheads), USD, if given: team costs need it.
    pub engineer_year_usd: Option<f64>,
    /// Engineers to hire if the backend is on Node.js.
    pub hires_node: Option<u32>,
    /// Engineers to hire if the backend is on Python.
    pub hires_python: Option<u32>,
    /// Engineers to hire for a hybrid.
    pub hires_hybrid: Option<u32>,
    /// Months an engineer who must switch language needs to become fluent.
    pub months_to_fluency: Option<f64>,
    /// The horizon over which switching costs are spread, in months (default 24).
    pub horizon_months: f64,
    /// The monthly cost of running a second stack in a hybrid (toolchains, deploys, the calls
    /// between them), USD, if known.
    pub two_stacks_monthly_usd: Option<f64>,
}

/// The headroom used when the profile gives none.
pub const DEFAULT_HEADROOM: f64 = 0.3;

// ---------------------------------------------------------------------------------------------
// Partial profile: what one input supplied.

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialProfile {
    #[serde(default)]
    pub team: PartialTeam,
    #[serde(default)]
    pub product: PartialProduct,
    #[serde(default)]
    pub load: PartialLoad,
    #[serde(default)]
    pub costs: PartialCosts,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialTeam {
    pub javascript: Option<u32>,
    pub python: Option<u32>,
    pub data_science: Option<bool>,
    pub learning: Option<bool>,
    pub javascript_level: Option<Fluency>,
    pub python_level: Option<Fluency>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialProduct {
    pub use_case: Option<UseCase>,
    pub stage: Option<Stage>,
    pub realtime: Option<bool>,
    pub ai_ml: Option<AiMl>,
    pub data_heavy: Option<bool>,
    pub compliance: Option<Compliance>,
    pub full_stack_js: Option<bool>,
    pub serverless: Option<bool>,
    pub data_flow: Option<DataFlow>,
    pub legacy: Option<Legacy>,
    pub readability: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialLoad {
    pub peak_rps: Option<f64>,
    pub concurrent_connections: Option<u64>,
    pub p99_ms: Option<f64>,
    pub python_share: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialCosts {
    pub core_hour_usd: Option<f64>,
    pub gb_hour_usd: Option<f64>,
    pub headroom: Option<f64>,
    pub engineer_year_usd: Option<f64>,
    pub hires_node: Option<u32>,
    pub hires_python: Option<u32>,
    pub hires_hybrid: Option<u32>,
    pub months_to_fluency: Option<f64>,
    pub horizon_months: Option<f64>,
    pub two_stacks_monthly_usd: Option<f64>,
}

/// A key of the profile: its path, the flag that sets it, and what values it takes.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub path: &'static str,
    pub flag: &'static str,
    pub kind: KeyKind,
    /// Keys with a default may be left out.
    pub optional: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeyKind {
    Bool,
    Count,
    Number,
    Choice(&'static [&'static str]),
}

impl KeyKind {
    /// The allowed values, as shown in errors and help.
    pub fn describe(self) -> String {
        match self {
            KeyKind::Bool => "true | false".into(),
            KeyKind::Count => "a whole number ≥ 0".into(),
            KeyKind::Number => "a number".into(),
            KeyKind::Choice(v) => v.join(" | "),
        }
    }
}

/// Every key of the profile, in the documented order.
pub const KEYS: &[Key] = &[
    key("team.javascript", "--js-devs", KeyKind::Count, false),
    key("team.python", "--python-devs", KeyKind::Count, false),
    key("team.data_science", "--data-science", KeyKind::Bool, false),
    key("team.learning", "--learning", KeyKind::Bool, true),
    key(
        "team.javascript_level",
        "--js-level",
        KeyKind::Choice(Fluency::NAMES),
        true,
    ),
    key(
        "team.python_level",
        "--python-level",
        KeyKind::Choice(Fluency::NAMES),
        true,
    ),
    key(
        "product.use_case",
        "--use-case",
        KeyKind::Choice(UseCase::NAMES),
        false,
    ),
    key(
        "product.stage",
        "--stage",
        KeyKind::Choice(Stage::NAMES),
        false,
    ),
    key("product.realtime", "--realtime", KeyKind::Bool, false),
    key(
        "product.ai_ml",
        "--ai-ml",
        KeyKind::Choice(AiMl::NAMES),
        false,
    ),
    key("product.data_heavy", "--data-heavy", KeyKind::Bool, false),
    key(
        "product.compliance",
        "--compliance",
        KeyKind::Choice(Compliance::NAMES),
        false,
    ),
    key(
        "product.full_stack_js",
        "--full-stack-js",
        KeyKind::Bool,
        false,
    ),
    key("product.serverless", "--serverless", KeyKind::Bool, false),
    key(
        "product.data_flow",
        "--data-flow",
        KeyKind::Choice(DataFlow::NAMES),
        false,
    ),
    key(
        "product.legacy",
        "--legacy",
        KeyKind::Choice(Legacy::NAMES),
        true,
    ),
    key("product.readability", "--readability", KeyKind::Bool, true),
    key("load.peak_rps", "--peak-rps", KeyKind::Number, false),
    key(
        "load.concurrent_connections",
        "--connections",
        KeyKind::Count,
        false,
    ),
    key("load.p99_ms", "--p99-ms", KeyKind::Number, false),
    key("load.python_share", "--python-share", KeyKind::Number, true),
    key(
        "costs.core_hour_usd",
        "--core-hour-usd",
        KeyKind::Number,
        false,
    ),
    key("costs.gb_hour_usd", "--gb-hour-usd", KeyKind::Number, true),
    key("costs.headroom", "--headroom", KeyKind::Number, true),
    key(
        "costs.engineer_year_usd",
        "--engineer-year-usd",
        KeyKind::Number,
        true,
    ),
    key("costs.hires_node", "--hires-node", KeyKind::Count, true),
    key("costs.hires_python", "--hires-python", KeyKind::Count, true),
    key("costs.hires_hybrid", "--hires-hybrid", KeyKind::Count, true),
    key(
        "costs.months_to_fluency",
        "--months-to-fluency",
        KeyKind::Number,
        true,
    ),
    key(
        "costs.horizon_months",
        "--horizon-months",
        KeyKind::Number,
        true,
    ),
    key(
        "costs.two_stacks_monthly_usd",
        "--two-stacks-usd",
        KeyKind::Number,
        true,
    ),
];

/// Keys the rules may read that are computed from others, never set: the team's weighted
/// JavaScript share and whether the team is balanced (docs/profile.md, "Team").
pub const DERIVED: &[Key] = &[
    key("team.javascript_share", "", KeyKind::Number, true),
    key("team.balanced", "", KeyKind::Bool, true),
];

/// The keys a derived key is computed from.
pub fn derived_from(path: &str) -> &'static [&'static str] {
    match path {
        "team.javascript_share" | "team.balanced" => &[
            "team.javascript",
            "team.python",
            "team.javascript_level",
            "team.python_level",
        ],
        _ => &[],
    }
}

const fn key(path: &'static str, flag: &'static str, kind: KeyKind, optional: bool) -> Key {
    Key {
        path,
        flag,
        kind,
        optional,
    }
}

/// The key at `path`, if the profile has one.
pub fn key_at(path: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.path == path)
}

/// A key the rules may read: a profile key or a derived one.
pub fn readable_key(path: &str) -> Option<&'static Key> {
    key_at(path).or_else(|| DERIVED.iter().find(|k| k.path == path))
}

/// A value of one profile key, as the rules see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Number(f64),
    Text(&'static str),
    /// An optional key left out.
    Absent,
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => write!(f, "{n}"),
            Value::Text(t) => f.write_str(t),
            Value::Absent => f.write_str("(not given)"),
        }
    }
}

impl Profile {
    /// The value at a key path (see [`KEYS`]); `None` for an unknown path.
    pub fn get(&self, path: &str) -> Option<Value> {
        let t = &self.team;
        let p = &self.product;
        let l = &self.load;
        let c = &self.costs;
        let opt = |v: Option<f64>| v.map(Value::Number).unwrap_or(Value::Absent);
        Some(match path {
            "team.javascript" => Value::Number(t.javascript.into()),
            "team.python" => Value::Number(t.python.into()),
            "team.data_science" => Value::Bool(t.data_science),
            "team.learning" => Value::Bool(t.learning),
            "team.javascript_level" => Value::Text(t.javascript_level.as_str()),
            "team.python_level" => Value::Text(t.python_level.as_str()),
            "team.javascript_share" => Value::Number(t.javascript_share()),
            "team.balanced" => Value::Bool(t.balanced()),
            "product.use_case" => Value::Text(p.use_case.as_str()),
            "product.stage" => Value::Text(p.stage.as_str()),
            "product.realtime" => Value::Bool(p.realtime),
            "product.ai_ml" => Value::Text(p.ai_ml.as_str()),
            "product.data_heavy" => Value::Bool(p.data_heavy),
            "product.compliance" => Value::Text(p.compliance.as_str()),
            "product.full_stack_js" => Value::Bool(p.full_stack_js),
            "product.serverless" => Value::Bool(p.serverless),
            "product.data_flow" => Value::Text(p.data_flow.as_str()),
            "product.legacy" => Value::Text(p.legacy.as_str()),
            "product.readability" => Value::Bool(p.readability),
            "load.peak_rps" => Value::Number(l.peak_rps),
            "load.concurrent_connections" => Value::Number(l.concurrent_connections as f64),
            "load.p99_ms" => Value::Number(l.p99_ms),
            "load.python_share" => opt(l.python_share),
            "costs.core_hour_usd" => Value::Number(c.core_hour_usd),
            "costs.gb_hour_usd" => opt(c.gb_hour_usd),
            "costs.headroom" => Value::Number(c.headroom),
            "costs.engineer_year_usd" => opt(c.engineer_year_usd),
            "costs.hires_node" => opt(c.hires_node.map(f64::from)),
            "costs.hires_python" => opt(c.hires_python.map(f64::from)),
            "costs.hires_hybrid" => opt(c.hires_hybrid.map(f64::from)),
            "costs.months_to_fluency" => opt(c.months_to_fluency),
            "costs.horizon_months" => Value::Number(c.horizon_months),
            "costs.two_stacks_monthly_usd" => opt(c.two_stacks_monthly_usd),
            _ => return None,
        })
    }

    /// Sets the value at a key path from its text form (as in a flag); used to explore "what would
    /// change the answer". Errors name the allowed values.
    pub fn set(&mut self, path: &str, text: &str) -> Result<(), String> {
        let mut partial = PartialProfile::from(self.clone());
        partial.set(path, text).map_err(|e| e.to_string())?;
        *self = partial.complete().map_err(|e| e.to_string())?;
        Ok(())
    }

    /// The profile as TOML, in the documented layout.
    pub fn to_toml(&self) -> String {
        toml::to_string(&PartialProfile::from(self.clone())).expect("a profile serialises")
    }
}

impl From<Profile> for PartialProfile {
    fn from(p: Profile) -> Self {
        PartialProfile {
            team: PartialTeam {
                javascript: Some(p.team.javascript),
                python: Some(p.team.python),
                data_science: Some(p.team.data_science),
                learning: Some(p.team.learning),
                javascript_level: Some(p.team.javascript_level),
                python_level: Some(p.team.python_level),
            },
            product: PartialProduct {
                use_case: Some(p.product.use_case),
                stage: Some(p.product.stage),
                realtime: Some(p.product.realtime),
                ai_ml: Some(p.product.ai_ml),
                data_heavy: Some(p.product.data_heavy),
                compliance: Some(p.product.compliance),
                full_stack_js: Some(p.product.full_stack_js),
                serverless: Some(p.product.serverless),
                data_flow: Some(p.product.data_flow),
                legacy: Some(p.product.legacy),
                readability: Some(p.product.readability),
            },
            load: PartialLoad {
                peak_rps: Some(p.load.peak_rps),
                concurrent_connections: Some(p.load.concurrent_connections),
                p99_ms: Some(p.load.p99_ms),
                python_share: p.load.python_share,
            },
            costs: PartialCosts {
                core_hour_usd: Some(p.costs.core_hour_usd),
                gb_hour_usd: p.costs.gb_hour_usd,
                headroom: Some(p.costs.headroom),
                engineer_year_usd: p.costs.engineer_year_usd,
                hires_node: p.costs.hires_node,
                hires_python: p.costs.hires_python,
                hires_hybrid: p.costs.hires_hybrid,
                months_to_fluency: p.costs.months_to_fluency,
                horizon_months: Some(p.costs.horizon_months),
                two_stacks_monthly_usd: p.costs.two_stacks_monthly_usd,
            },
        }
    }
}

/// Why a profile could not be completed: keys missing or values out of range.
#[derive(Debug, Clone, PartialEq)]
pub struct Incomplete {
    /// Keys with no value (their paths).
    pub missing: Vec<&'static str>,
    /// (key path, what is wrong).
    pub invalid: Vec<(&'static str, String)>,
}

impl fmt::Display for Incomplete {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for (path, why) in &self.invalid {
            parts.push(format!("{path}: {why}"));
        }
        if !self.missing.is_empty() {
            let list: Vec<String> = self
                .missing
                .iter()
                .map(|p| {
                    let k = key_at(p).expect("known key");
                    format!("{p} ({}; flag {})", k.kind.describe(), k.flag)
                })
                .collect();
            parts.push(format!("missing: {}", list.join(", ")));
        }
        f.write_str(&parts.join("; "))
    }
}

/// One key's value that is not accepted: the key's path and what is wrong (the allowed values or
/// range). The CLI names the flag or the file; [`key_at`] gives the flag of a key.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// The key path (`load.peak_rps`), as written in profiles.
    pub key: String,
    /// What is wrong, without the key.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl std::error::Error for FieldError {}

impl PartialProfile {
    /// Values of `other` replace those of `self` where `other` has them (flags over a file).
    pub fn overlay(&mut self, other: &PartialProfile) {
        macro_rules! over {
            ($($s:ident . $f:ident),+) => { $( if other.$s.$f.is_some() { self.$s.$f = other.$s.$f; } )+ };
        }
        over!(
            team.javascript,
            team.python,
            team.data_science,
            team.learning,
            team.javascript_level,
            team.python_level,
            product.use_case,
            product.stage,
            product.realtime,
            product.ai_ml,
            product.data_heavy,
            product.compliance,
            product.full_stack_js,
            product.serverless,
            product.data_flow,
            product.legacy,
            product.readability,
            load.peak_rps,
            load.concurrent_connections,
            load.p99_ms,
            load.python_share,
            costs.core_hour_usd,
            costs.gb_hour_usd,
            costs.headroom,
            costs.engineer_year_usd,
            costs.hires_node,
            costs.hires_python,
            costs.hires_hybrid,
            costs.months_to_fluency,
            costs.horizon_months,
            costs.two_stacks_monthly_usd
        );
    }

    /// Whether the key at `path` has a value.
    pub fn has(&self, path: &str) -> bool {
        let t = &self.team;
        let p = &self.product;
        let l = &self.load;
        let c = &self.costs;
        match path {
            "team.javascript" => t.javascript.is_some(),
            "team.python" => t.python.is_some(),
            "team.data_science" => t.data_science.is_some(),
            "team.learning" => t.learning.is_some(),
            "team.javascript_level" => t.javascript_level.is_some(),
            "team.python_level" => t.python_level.is_some(),
            "product.use_case" => p.use_case.is_some(),
            "product.stage" => p.stage.is_some(),
            "product.realtime" => p.realtime.is_some(),
            "product.ai_ml" => p.ai_ml.is_some(),
            "product.data_heavy" => p.data_heavy.is_some(),
            "product.compliance" => p.compliance.is_some(),
            "product.full_stack_js" => p.full_stack_js.is_some(),
            "product.serverless" => p.serverless.is_some(),
            "product.data_flow" => p.data_flow.is_some(),
            "product.legacy" => p.legacy.is_some(),
            "product.readability" => p.readability.is_some(),
            "load.peak_rps" => l.peak_rps.is_some(),
            "load.concurrent_connections" => l.concurrent_connections.is_some(),
            "load.p99_ms" => l.p99_ms.is_some(),
            "load.python_share" => l.python_share.is_some(),
            "costs.core_hour_usd" => c.core_hour_usd.is_some(),
            "costs.gb_hour_usd" => c.gb_hour_usd.is_some(),
            "costs.headroom" => c.headroom.is_some(),
            "costs.engineer_year_usd" => c.engineer_year_usd.is_some(),
            "costs.hires_node" => c.hires_node.is_some(),
            "costs.hires_python" => c.hires_python.is_some(),
            "costs.hires_hybrid" => c.hires_hybrid.is_some(),
            "costs.months_to_fluency" => c.months_to_fluency.is_some(),
            "costs.horizon_months" => c.horizon_months.is_some(),
            "costs.two_stacks_monthly_usd" => c.two_stacks_monthly_usd.is_some(),
            _ => false,
        }
    }

    /// A profile from answers (key path → text: the web UI's questionnaire form); a blank answer
    /// is not given, the first bad one is the error.
    pub fn from_answers<'a>(
        answers: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<PartialProfile, FieldError> {
        let mut p = PartialProfile::default();
        for (k, v) in answers.into_iter().filter(|(_, v)| !v.trim().is_empty()) {
            p.set(k, v)?;
        }
        Ok(p)
    }

    /// Sets the key at `path` from text (a flag's or an answer's). Errors name the allowed values.
    pub fn set(&mut self, path: &str, text: &str) -> Result<(), FieldError> {
        let key = key_at(path).ok_or_else(|| FieldError {
            key: path.to_string(),
            message: "unknown key".into(),
        })?;
        let text = text.trim();
        let bad = || FieldError {
            key: path.to_string(),
            message: format!("invalid value `{text}`; allowed: {}", key.kind.describe()),
        };
        let b = || match text {
            "true" | "yes" | "y" => Ok(true),
            "false" | "no" | "n" => Ok(false),
            _ => Err(bad()),
        };
        let count = || text.parse::<u32>().map_err(|_| bad());
        let num = || {
            text.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(bad)
        };
        fn ch<T>(v: Option<T>, bad: impl Fn() -> FieldError) -> Result<Option<T>, FieldError> {
            v.map(Some).ok_or_else(bad)
        }
        match path {
            "team.javascript" => self.team.javascript = Some(count()?),
            "team.python" => self.team.python = Some(count()?),
            "team.data_science" => self.team.data_science = Some(b()?),
            "team.learning" => self.team.learning = Some(b()?),
            "team.javascript_level" => self.team.javascript_level = ch(Fluency::parse(text), bad)?,
            "team.python_level" => self.team.python_level = ch(Fluency::parse(text), bad)?,
            "product.use_case" => self.product.use_case = ch(UseCase::parse(text), bad)?,
            "product.stage" => self.product.stage = ch(Stage::parse(text), bad)?,
            "product.realtime" => self.product.realtime = Some(b()?),
            "product.ai_ml" => self.product.ai_ml = ch(AiMl::parse(text), bad)?,
            "product.data_heavy" => self.product.data_heavy = Some(b()?),
            "product.compliance" => self.product.compliance = ch(Compliance::parse(text), bad)?,
            "product.full_stack_js" => self.product.full_stack_js = Some(b()?),
            "product.serverless" => self.product.serverless = Some(b()?),
            "product.data_flow" => self.product.data_flow = ch(DataFlow::parse(text), bad)?,
            "product.legacy" => self.product.legacy = ch(Legacy::parse(text), bad)?,
            "product.readability" => self.product.readability = Some(b()?),
            "load.peak_rps" => self.load.peak_rps = Some(num()?),
            "load.concurrent_connections" => {
                self.load.concurrent_connections = Some(text.parse::<u64>().map_err(|_| bad())?)
            }
            "load.p99_ms" => self.load.p99_ms = Some(num()?),
            "load.python_share" => self.load.python_share = Some(num()?),
            "costs.core_hour_usd" => self.costs.core_hour_usd = Some(num()?),
            "costs.gb_hour_usd" => self.costs.gb_hour_usd = Some(num()?),
            "costs.headroom" => self.costs.headroom = Some(num()?),
            "costs.engineer_year_usd" => self.costs.engineer_year_usd = Some(num()?),
            "costs.hires_node" => self.costs.hires_node = Some(count()?),
            "costs.hires_python" => self.costs.hires_python = Some(count()?),
            "costs.hires_hybrid" => self.costs.hires_hybrid = Some(count()?),
            "costs.months_to_fluency" => self.costs.months_to_fluency = Some(num()?),
            "costs.horizon_months" => self.costs.horizon_months = Some(num()?),
            "costs.two_stacks_monthly_usd" => self.costs.two_stacks_monthly_usd = Some(num()?),
            _ => unreachable!("every key is handled"),
        }
        Ok(())
    }

    /// The first value out of range, naming its key.
    pub fn validate(&self) -> Result<(), FieldError> {
        match self.range_errors().into_iter().next() {
            Some((key, message)) => Err(FieldError {
                key: key.to_string(),
                message,
            }),
            None => Ok(()),
        }
    }

    /// The values out of range, as (key path, what is wrong).
    pub fn range_errors(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut check = |path: &'static str, v: Option<f64>, ok: fn(f64) -> bool, rule: &str| {
            if let Some(v) = v {
                if !ok(v) {
                    out.push((path, format!("{v} is out of range; must be {rule}")));
                }
            }
        };
        check(
            "load.peak_rps",
            self.load.peak_rps,
            |v| v.is_finite() && v > 0.0 && v <= 1e9,
            "> 0 and ≤ 1e9",
        );
        check(
            "load.p99_ms",
            self.load.p99_ms,
            |v| v.is_finite() && v > 0.0 && v <= 3.6e6,
            "> 0 and ≤ 3600000",
        );
        check(
            "load.python_share",
            self.load.python_share,
            |v| v.is_finite() && v > 0.0 && v <= 1.0,
            "> 0 and ≤ 1",
        );
        check(
            "costs.core_hour_usd",
            self.costs.core_hour_usd,
            |v| v.is_finite() && (0.0..=1e4).contains(&v),
            "≥ 0 and ≤ 10000",
        );
        check(
            "costs.gb_hour_usd",
            self.costs.gb_hour_usd,
            |v| v.is_finite() && (0.0..=1e4).contains(&v),
            "≥ 0 and ≤ 10000",
        );
        check(
            "costs.headroom",
            self.costs.headroom,
            |v| v.is_finite() && (0.0..0.95).contains(&v),
            "≥ 0 and < 0.95",
        );
        check(
            "costs.engineer_year_usd",
            self.costs.engineer_year_usd,
            |v| v.is_finite() && (0.0..=1e8).contains(&v),
            "≥ 0 and ≤ 1e8",
        );
        check(
            "costs.months_to_fluency",
            self.costs.months_to_fluency,
            |v| v.is_finite() && (0.0..=120.0).contains(&v),
            "≥ 0 and ≤ 120",
        );
        check(
            "costs.horizon_months",
            self.costs.horizon_months,
            |v| v.is_finite() && (1.0..=600.0).contains(&v),
            "≥ 1 and ≤ 600",
        );
        check(
            "costs.two_stacks_monthly_usd",
            self.costs.two_stacks_monthly_usd,
            |v| v.is_finite() && (0.0..=1e9).contains(&v),
            "≥ 0 and ≤ 1e9",
        );
        for (path, v) in [
            ("costs.hires_node", self.costs.hires_node),
            ("costs.hires_python", self.costs.hires_python),
            ("costs.hires_hybrid", self.costs.hires_hybrid),
        ] {
            if v.is_some_and(|n| n > 100_000) {
                out.push((path, "more than 100000 hires is out of range".into()));
            }
        }
        if let Some(c) = self.load.concurrent_connections {
            if c > 1_000_000_000 {
                out.push((
                    "load.concurrent_connections",
                    format!("{c} is out of range; must be ≤ 1e9"),
                ));
            }
        }
        if let (Some(j), Some(p)) = (self.team.javascript, self.team.python) {
            if j > 100_000 || p > 100_000 {
                let path = if j > 100_000 {
                    "team.javascript"
                } else {
                    "team.python"
                };
                out.push((path, "more than 100000 engineers is out of range".into()));
            }
        }
        out
    }

    /// The keys that still need a value (optional keys have defaults).
    pub fn missing(&self) -> Vec<&'static str> {
        KEYS.iter()
            .filter(|k| !k.optional && !self.has(k.path))
            .map(|k| k.path)
            .collect()
    }

    /// The complete profile, or what is missing or out of range.
    pub fn complete(&self) -> Result<Profile, Incomplete> {
        let missing = self.missing();
        let invalid = self.range_errors();
        if !missing.is_empty() || !invalid.is_empty() {
            return Err(Incomplete { missing, invalid });
        }
        let (t, p, l, c) = (&self.team, &self.product, &self.load, &self.costs);
        Ok(Profile {
            team: Team {
                javascript: t.javascript.unwrap(),
                python: t.python.unwrap(),
                data_science: t.data_science.unwrap(),
                learning: t.learning.unwrap_or(false),
                javascript_level: t.javascript_level.unwrap_or(Fluency::Working),
                python_level: t.python_level.unwrap_or(Fluency::Working),
            },
            product: Product {
                use_case: p.use_case.unwrap(),
                stage: p.stage.unwrap(),
                realtime: p.realtime.unwrap(),
                ai_ml: p.ai_ml.unwrap(),
                data_heavy: p.data_heavy.unwrap(),
                compliance: p.compliance.unwrap(),
                full_stack_js: p.full_stack_js.unwrap(),
                serverless: p.serverless.unwrap(),
                data_flow: p.data_flow.unwrap(),
                legacy: p.legacy.unwrap_or(Legacy::None),
                readability: p.readability.unwrap_or(false),
            },
            load: Load {
                peak_rps: l.peak_rps.unwrap(),
                concurrent_connections: l.concurrent_connections.unwrap(),
                p99_ms: l.p99_ms.unwrap(),
                python_share: l.python_share,
            },
            costs: Costs {
                core_hour_usd: c.core_hour_usd.unwrap(),
                gb_hour_usd: c.gb_hour_usd,
                headroom: c.headroom.unwrap_or(DEFAULT_HEADROOM),
                engineer_year_usd: c.engineer_year_usd,
                hires_node: c.hires_node,
                hires_python: c.hires_python,
                hires_hybrid: c.hires_hybrid,
                months_to_fluency: c.months_to_fluency,
                horizon_months: c.horizon_months.unwrap_or(DEFAULT_HORIZON_MONTHS),
                two_stacks_monthly_usd: c.two_stacks_monthly_usd,
            },
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Files.

/// A profile file that could not be read: the file, the line and column, and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileError {
    pub file: String,
    /// 1-based line and column, when the error has a place in the file.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.file, self.message),
            (Some(l), None) => write!(f, "{}:{l}: {}", self.file, self.message),
            _ => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ProfileError {}

/// Reads a profile file (possibly partial: flags or the questionnaire may supply the rest).
pub fn read_profile(path: &Path) -> Result<PartialProfile, ProfileError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ProfileError {
        file: name.clone(),
        line: None,
        column: None,
        message: format!("cannot read the profile: {e}"),
    })?;
    parse_profile(&text, &name)
}

/// Parses profile TOML; `file` names it in errors. Unknown keys and values, wrong types and values
/// out of range are reported with their line, their key and what is allowed.
pub fn parse_profile(text: &str, file: &str) -> Result<PartialProfile, ProfileError> {
    let partial: PartialProfile = toml::from_str(text).map_err(|e| {
        let (line, column) = e
            .span()
            .map(|s| line_col(text, s.start))
            .map(|(l, c)| (Some(l), Some(c)))
            .unwrap_or((None, None));
        let path = line.and_then(|l| key_path_at_line(text, l));
        let mut message = e.message().trim().to_string();
        // serde says "expected one of `a`, `b`": name them as allowed values.
        if let Some(i) = message.find(", expected one of ") {
            let (what, allowed) = message.split_at(i);
            let allowed = allowed
                .trim_start_matches(", expected one of ")
                .replace('`', "")
                .replace(", ", " | ");
            message = format!("{what}; allowed: {allowed}");
        }
        if let Some(k) = path.as_deref().and_then(key_at) {
            if !message.contains("allowed:") && !message.starts_with("unknown field") {
                message = format!("{message}; allowed: {}", k.kind.describe());
            }
        }
        if message.starts_with("unknown field") && !message.contains("allowed:") {
            message = format!("{message}; allowed sections: team, product, load, costs");
        }
        let message = match path {
            Some(p) => format!("{p}: {message}"),
            None => message,
        };
        ProfileError {
            file: file.to_string(),
            line,
            column,
            message,
        }
    })?;
    if let Some((path, why)) = partial.range_errors().into_iter().next() {
        let line = find_key_line(text, path);
        return Err(ProfileError {
            file: file.to_string(),
            line,
            column: None,
            message: format!("{path}: {why}"),
        });
    }
    Ok(partial)
}

/// 1-based (line, column) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count() + 1)
        .unwrap_or(1);
    (line, col)
}

/// The `section.key` a line sets, from the last `[section]` header above it.
fn key_path_at_line(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let this = lines.get(line.checked_sub(1)?)?.trim();
    let key = this.split('=').next()?.trim();
    if key.is_empty() || key.starts_with('[') || key.starts_with('#') || !this.contains('=') {
        return None;
    }
    let section = lines[..line - 1]
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| l.starts_with('[') && !l.starts_with("[["))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string())?;
    Some(format!("{section}.{}", key.trim_matches('"')))
}

/// The 1-based line that sets `section.key`, if written in the usual layout.
fn find_key_line(text: &str, path: &str) -> Option<usize> {
    (1..=text.lines().count()).find(|&l| key_path_at_line(text, l).as_deref() == Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
[team]
javascript = 3
python = 0
data_science = false
[product]
use_case = "chat"
stage = "pre-pmf"
realtime = true
ai_ml = "none"
data_heavy = false
compliance = "standard"
full_stack_js = true
serverless = false
data_flow = "io"
[load]
peak_rps = 2000
concurrent_connections = 10000
p99_ms = 100
[costs]
core_hour_usd = 0.04
gb_hour_usd = 0.005
headroom = 0.3
"#;

    #[test]
    fn the_issue_example_parses_and_completes() {
        let p = parse_profile(FULL, "p.toml").unwrap().complete().unwrap();
        assert_eq!(p.team.javascript, 3);
        assert_eq!(p.product.use_case, UseCase::Chat);
        assert_eq!(p.load.peak_rps, 2000.0);
        assert_eq!(p.costs.gb_hour_usd, Some(0.005));
        assert!(!p.team.learning);
        assert_eq!(p.product.legacy, Legacy::None);
        // Round trip through TOML.
        let again = parse_profile(&p.to_toml(), "x")
            .unwrap()
            .complete()
            .unwrap();
        assert_eq!(again, p);
    }

    #[test]
    fn an_unknown_value_names_file_line_key_and_allowed_values() {
        let text = FULL.replace("\"chat\"", "\"chatt\"");
        let e = parse_profile(&text, "p.toml").unwrap_err();
        assert_eq!(e.file, "p.toml");
        assert_eq!(e.line, Some(7));
        let s = e.to_string();
        assert!(s.starts_with("p.toml:7:"), "{s}");
        assert!(s.contains("product.use_case"), "{s}");
        assert!(s.contains("chatt"), "{s}");
        assert!(
            s.contains("allowed: chat | video-streaming | e-commerce"),
            "{s}"
        );
    }

    #[test]
    fn an_unknown_key_names_its_line_and_the_allowed_keys() {
        let text = FULL.replace("realtime = true", "real_time = true");
        let e = parse_profile(&text, "p.toml").unwrap_err();
        let s = e.to_string();
        assert_eq!(e.line, Some(9), "{s}");
        assert!(s.contains("real_time"), "{s}");
        assert!(s.contains("allowed:") && s.contains("realtime"), "{s}");
    }

    #[test]
    fn wrong_types_and_ranges_name_the_key() {
        let e = parse_profile(&FULL.replace("javascript = 3", "javascript = -1"), "p.toml")
            .unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("team.javascript"), "{e}");
        let e =
            parse_profile(&FULL.replace("headroom = 0.3", "headroom = 1.5"), "p.toml").unwrap_err();
        assert_eq!(e.line, Some(23), "{e}");
        assert!(e.message.contains("costs.headroom"), "{e}");
        let e = parse_profile(
            &FULL.replace("realtime = true", "realtime = \"yes\""),
            "p.toml",
        )
        .unwrap_err();
        assert!(e.message.contains("true | false"), "{e}");
    }

    #[test]
    fn missing_keys_are_named_with_their_flags() {
        let text = FULL.replace("stage = \"pre-pmf\"\n", "");
        let e = parse_profile(&text, "p.toml")
            .unwrap()
            .complete()
            .unwrap_err();
        assert_eq!(e.missing, vec!["product.stage"]);
        assert!(e.to_string().contains("--stage"), "{e}");
    }

    #[test]
    fn flags_override_the_file() {
        let mut p = parse_profile(FULL, "p.toml").unwrap();
        let mut flags = PartialProfile::default();
        flags.team.python = Some(4);
        flags.product.realtime = Some(false);
        p.overlay(&flags);
        let p = p.complete().unwrap();
        assert_eq!((p.team.javascript, p.team.python), (3, 4));
        assert!(!p.product.realtime);
    }

    #[test]
    fn set_parses_text_and_names_allowed_values() {
        let mut p = PartialProfile::default();
        p.set("product.stage", "post-pmf").unwrap();
        assert_eq!(p.product.stage, Some(Stage::PostPmf));
        let e = p.set("product.ai_ml", "soon").unwrap_err();
        assert_eq!(e.key, "product.ai_ml");
        assert!(e.message.contains("none | within-12-months | core"), "{e}");
        assert!(
            e.to_string()
                .starts_with("product.ai_ml: invalid value `soon`"),
            "{e}"
        );
        let e = p.set("product.colour", "red").unwrap_err();
        assert_eq!(e.to_string(), "product.colour: unknown key");
    }

    #[test]
    fn validate_names_the_first_key_out_of_range() {
        let mut p = PartialProfile::default();
        assert_eq!(p.validate(), Ok(()));
        p.set("costs.headroom", "0.99").unwrap();
        let e = p.validate().unwrap_err();
        assert_eq!(e.key, "costs.headroom");
        assert!(e.message.contains("out of range"), "{e}");
    }

    #[test]
    fn answers_fill_a_profile_and_blank_ones_are_not_given() {
        let p = PartialProfile::from_answers([("product.stage", "post-pmf"), ("team.python", " ")])
            .unwrap();
        assert_eq!(p.product.stage, Some(Stage::PostPmf));
        assert_eq!(p.team.python, None);
        let e = PartialProfile::from_answers([("team.python", "many")]).unwrap_err();
        assert_eq!(e.key, "team.python");
    }
}
