//! `stackwise advise`'s profile flags: one flag per profile key (the flag each key names in
//! [`adviser::profile::KEYS`]), parsed by clap into the adviser's typed [`PartialProfile`]. The
//! closed sets take the spellings the adviser declares (`NAMES`, `parse`), so flags, profiles and
//! JSON agree.

use clap::builder::{PossibleValuesParser, TypedValueParser};

use adviser::profile::{
    key_at, AiMl, Compliance, DataFlow, Fluency, Legacy, PartialCosts, PartialLoad, PartialProduct,
    PartialProfile, PartialTeam, Stage, UseCase,
};

/// A clap parser for one of the adviser's closed sets: its spellings as the possible values.
fn choice<T: Clone + Send + Sync + 'static>(
    names: &'static [&'static str],
    parse: fn(&str) -> Option<T>,
) -> impl TypedValueParser<Value = T> {
    PossibleValuesParser::new(names).map(move |s| parse(&s).expect("a possible value parses"))
}

/// Profile values given as flags; each overrides the same key of `--profile`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ProfileFlags {
    /// team.javascript: engineers fluent in JavaScript/TypeScript.
    #[arg(long, value_name = "N")]
    pub js_devs: Option<u32>,
    /// team.python: engineers fluent in Python.
    #[arg(long, value_name = "N")]
    pub python_devs: Option<u32>,
    /// team.data_science: the team has a data-science or research background.
    #[arg(long, value_name = "BOOL")]
    pub data_science: Option<bool>,
    /// team.learning: the developers are learning their first backend language.
    #[arg(long, value_name = "BOOL")]
    pub learning: Option<bool>,
    /// team.javascript_level: how well the JavaScript engineers write it [default: working].
    #[arg(long, value_name = "LEVEL", value_parser = choice(Fluency::NAMES, Fluency::parse))]
    pub js_level: Option<Fluency>,
    /// team.python_level: how well the Python engineers write it [default: working].
    #[arg(long, value_name = "LEVEL", value_parser = choice(Fluency::NAMES, Fluency::parse))]
    pub python_level: Option<Fluency>,
    /// product.use_case.
    #[arg(long, value_name = "USE_CASE", value_parser = choice(UseCase::NAMES, UseCase::parse))]
    pub use_case: Option<UseCase>,
    /// product.stage.
    #[arg(long, value_name = "STAGE", value_parser = choice(Stage::NAMES, Stage::parse))]
    pub stage: Option<Stage>,
    /// product.realtime: real-time features (chat, live notifications, collaboration).
    #[arg(long, value_name = "BOOL")]
    pub realtime: Option<bool>,
    /// product.ai_ml.
    #[arg(long, value_name = "WHEN", value_parser = choice(AiMl::NAMES, AiMl::parse))]
    pub ai_ml: Option<AiMl>,
    /// product.data_heavy: large datasets or analytics pipelines.
    #[arg(long, value_name = "BOOL")]
    pub data_heavy: Option<bool>,
    /// product.compliance.
    #[arg(long, value_name = "LEVEL", value_parser = choice(Compliance::NAMES, Compliance::parse))]
    pub compliance: Option<Compliance>,
    /// product.full_stack_js: one language across frontend and backend is wanted.
    #[arg(long, value_name = "BOOL")]
    pub full_stack_js: Option<bool>,
    /// product.serverless: deployed as serverless functions.
    #[arg(long, value_name = "BOOL")]
    pub serverless: Option<bool>,
    /// product.data_flow: what a typical request does.
    #[arg(long, value_name = "FLOW", value_parser = choice(DataFlow::NAMES, DataFlow::parse))]
    pub data_flow: Option<DataFlow>,
    /// product.legacy: the stack of an existing system to integrate with.
    #[arg(long, value_name = "STACK", value_parser = choice(Legacy::NAMES, Legacy::parse))]
    pub legacy: Option<Legacy>,
    /// product.readability: the most readable and maintainable backend code is wanted.
    #[arg(long, value_name = "BOOL")]
    pub readability: Option<bool>,
    /// load.peak_rps: peak requests per second.
    #[arg(long, value_name = "RPS")]
    pub peak_rps: Option<f64>,
    /// load.concurrent_connections: connections held open at the peak.
    #[arg(long, value_name = "N")]
    pub connections: Option<u64>,
    /// load.p99_ms: the p99 latency target in milliseconds.
    #[arg(long, value_name = "MS")]
    pub p99_ms: Option<f64>,
    /// load.python_share: for a hybrid, the share of requests reaching the Python services (0–1).
    #[arg(long, value_name = "SHARE")]
    pub python_share: Option<f64>,
    /// costs.core_hour_usd: price of one CPU core-hour in USD.
    #[arg(long, value_name = "USD")]
    pub core_hour_usd: Option<f64>,
    /// costs.gb_hour_usd: price of one GB-hour of memory in USD.
    #[arg(long, value_name = "USD")]
    pub gb_hour_usd: Option<f64>,
    /// costs.headroom: share of capacity kept spare [default: 0.3].
    #[arg(long, value_name = "SHARE")]
    pub headroom: Option<f64>,
    /// costs.engineer_year_usd: cost of one engineer-year in USD (team costs need it).
    #[arg(long, value_name = "USD")]
    pub engineer_year_usd: Option<f64>,
    /// costs.hires_node: engineers to hire if the backend is on Node.js.
    #[arg(long, value_name = "N")]
    pub hires_node: Option<u32>,
    /// costs.hires_python: engineers to hire if the backend is on Python.
    #[arg(long, value_name = "N")]
    pub hires_python: Option<u32>,
    /// costs.hires_hybrid: engineers to hire for a hybrid.
    #[arg(long, value_name = "N")]
    pub hires_hybrid: Option<u32>,
    /// costs.months_to_fluency: months an engineer who switches language needs to be fluent.
    #[arg(long, value_name = "MONTHS")]
    pub months_to_fluency: Option<f64>,
    /// costs.horizon_months: months over which switching costs are spread [default: 24].
    #[arg(long, value_name = "MONTHS")]
    pub horizon_months: Option<f64>,
    /// costs.two_stacks_monthly_usd: monthly cost of running a second stack in a hybrid, USD.
    #[arg(long, value_name = "USD")]
    pub two_stacks_usd: Option<f64>,
}

impl ProfileFlags {
    /// The values the flags give, as a partial profile.
    pub fn to_partial(&self) -> PartialProfile {
        PartialProfile {
            team: PartialTeam {
                javascript: self.js_devs,
                python: self.python_devs,
                data_science: self.data_science,
                learning: self.learning,
                javascript_level: self.js_level,
                python_level: self.python_level,
            },
            product: PartialProduct {
                use_case: self.use_case,
                stage: self.stage,
                realtime: self.realtime,
                ai_ml: self.ai_ml,
                data_heavy: self.data_heavy,
                compliance: self.compliance,
                full_stack_js: self.full_stack_js,
                serverless: self.serverless,
                data_flow: self.data_flow,
                legacy: self.legacy,
                readability: self.readability,
            },
            load: PartialLoad {
                peak_rps: self.peak_rps,
                concurrent_connections: self.connections,
                p99_ms: self.p99_ms,
                python_share: self.python_share,
            },
            costs: PartialCosts {
                core_hour_usd: self.core_hour_usd,
                gb_hour_usd: self.gb_hour_usd,
                headroom: self.headroom,
                engineer_year_usd: self.engineer_year_usd,
                hires_node: self.hires_node,
                hires_python: self.hires_python,
                hires_hybrid: self.hires_hybrid,
                months_to_fluency: self.months_to_fluency,
                horizon_months: self.horizon_months,
                two_stacks_monthly_usd: self.two_stacks_usd,
            },
        }
    }

    /// Whether any flag was given.
    pub fn any(&self) -> bool {
        self.to_partial() != PartialProfile::default()
    }

    /// Range errors in the flags' values, naming the flag.
    pub fn check(&self) -> Result<(), String> {
        self.to_partial().validate().map_err(|e| {
            let flag = key_at(&e.key).map_or(e.key.as_str(), |k| k.flag);
            format!("{flag}: {}", e.message)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        values: ProfileFlags,
    }

    #[test]
    fn flags_fill_the_typed_profile_with_the_adviser_spellings() {
        let cli = Cli::try_parse_from([
            "x",
            "--stage",
            "post-pmf",
            "--js-devs",
            "3",
            "--ai-ml",
            "core",
        ])
        .unwrap();
        let p = cli.values.to_partial();
        assert_eq!(p.product.stage, Some(Stage::PostPmf));
        assert_eq!(p.product.ai_ml, Some(AiMl::Core));
        assert_eq!(p.team.javascript, Some(3));
        assert!(cli.values.any());
        let e = Cli::try_parse_from(["x", "--stage", "later"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("pre-pmf, post-pmf, enterprise"), "{e}");
    }

    #[test]
    fn a_value_out_of_range_names_the_flag() {
        let cli = Cli::try_parse_from(["x", "--headroom", "0.99"]).unwrap();
        let e = cli.values.check().unwrap_err();
        assert!(e.starts_with("--headroom: 0.99 is out of range"), "{e}");
        assert!(!Cli::try_parse_from(["x"]).unwrap().values.any());
    }
}
