//! Each rule can fire: one test per rule, each naming the profile change that makes it appear in
//! the advice (and checking it does not appear for the neutral profile, unless it fires there).

mod common;
use common::*;

/// Rules that the neutral profile (I/O data flow, no team) already fires.
const FIRE_ON_NEUTRAL: &[&str] = &[
    "io-node",
    "caution-unfamiliar-node",
    "caution-cited-throughput",
];

fn check(id: &str, changes: &[(&str, &str)]) {
    let rules = adviser::RuleSet::builtin();
    assert!(rules.rule(id).is_some(), "no rule {id} in rules.toml");
    let base = adviser::advise(&neutral(), None);
    if !FIRE_ON_NEUTRAL.contains(&id) {
        assert!(
            !shown(&base).contains(&id.to_string()),
            "{id} fires on the neutral profile"
        );
    }
    let p = with(neutral(), changes);
    let a = adviser::advise(&p, None);
    assert!(
        shown(&a).contains(&id.to_string()),
        "{id} does not fire with {changes:?}; shown: {:?}",
        shown(&a)
    );
}

macro_rules! fires {
    ($($name:ident: $id:literal => [$($k:literal = $v:literal),*];)+) => {
        $( #[test] fn $name() { check($id, &[$(($k, $v)),*]); } )+
        const COVERED: &[&str] = &[$($id),+];
    };
}

fires! {
    pre_pmf_one_stack: "pre-pmf-one-stack" => ["product.stage" = "pre-pmf"];
    team_js_only: "team-js-only" => ["team.javascript" = "2"];
    team_js_majority: "team-js-majority" => ["team.javascript" = "4", "team.python" = "2"];
    team_python_only: "team-python-only" => ["team.python" = "2"];
    team_python_majority: "team-python-majority" => ["team.python" = "4", "team.javascript" = "2"];
    team_data_science: "team-data-science" => ["team.data_science" = "true"];
    team_learning: "team-learning" => ["team.learning" = "true"];
    realtime_node: "realtime-node" => ["product.realtime" = "true"];
    io_node: "io-node" => ["product.data_flow" = "io"];
    compute_python_libraries: "compute-python-libraries" => ["product.data_flow" = "compute"];
    compute_python_speed: "compute-python-speed" => ["product.data_flow" = "compute"];
    team_balanced: "team-balanced" => ["team.javascript" = "3", "team.python" = "2"];
    readable_python: "readable-python" => ["product.readability" = "true"];
    concurrency_node_hundreds: "concurrency-node-hundreds" => ["load.concurrent_connections" = "100"];
    concurrency_node_tens_of_thousands: "concurrency-node-tens-of-thousands" => ["load.concurrent_connections" = "10000"];
    traffic_node_thousands: "traffic-node-thousands" => ["load.peak_rps" = "1000"];
    traffic_node_tens_of_thousands: "traffic-node-tens-of-thousands" => ["load.peak_rps" = "10000"];
    mixed_loop_blocking: "mixed-loop-blocking" => ["product.data_flow" = "mixed"];
    concurrency_node: "concurrency-node" => ["load.concurrent_connections" = "1000"];
    ai_core_python: "ai-core-python" => ["product.ai_ml" = "core"];
    ai_soon_python: "ai-soon-python" => ["product.ai_ml" = "within-12-months"];
    data_heavy_python: "data-heavy-python" => ["product.data_heavy" = "true"];
    compliance_python: "compliance-python" => ["product.compliance" = "high"];
    serverless_node: "serverless-node" => ["product.serverless" = "true"];
    hybrid_ai_user_app: "hybrid-ai-user-app" => ["product.ai_ml" = "core"];
    hybrid_realtime_and_data: "hybrid-realtime-and-data" => ["product.data_heavy" = "true", "product.realtime" = "true"];
    usecase_realtime_node: "usecase-realtime-node" => ["product.use_case" = "chat"];
    usecase_commerce_social_node: "usecase-commerce-social-node" => ["product.use_case" = "marketplace"];
    usecase_ecommerce_either: "usecase-ecommerce-either" => ["product.use_case" = "e-commerce"];
    usecase_streaming_iot_node: "usecase-streaming-iot-node" => ["product.use_case" = "iot"];
    usecase_data_python: "usecase-data-python" => ["product.use_case" = "ml-backend"];
    usecase_saas_python: "usecase-saas-python" => ["product.use_case" = "saas-crm-erp"];
    usecase_tools_python: "usecase-tools-python" => ["product.use_case" = "devtools"];
    usecase_mobile_either: "usecase-mobile-either" => ["product.use_case" = "mobile-api"];
    full_stack_js_node: "full-stack-js-node" => ["product.full_stack_js" = "true"];
    startup_validate_node: "startup-validate-node" => ["product.stage" = "pre-pmf"];
    enterprise_web_node: "enterprise-web-node" => ["product.stage" = "enterprise", "product.use_case" = "social"];
    enterprise_data_python: "enterprise-data-python" => ["product.stage" = "enterprise", "product.use_case" = "analytics-dashboard"];
    legacy_node: "legacy-node" => ["product.legacy" = "node"];
    legacy_python: "legacy-python" => ["product.legacy" = "python"];
    place_gateway_node: "place-gateway-node" => ["product.ai_ml" = "core"];
    place_realtime_node: "place-realtime-node" => ["product.ai_ml" = "core", "product.realtime" = "true"];
    place_ml_python: "place-ml-python" => ["product.ai_ml" = "core"];
    place_data_python: "place-data-python" => ["product.data_heavy" = "true", "product.realtime" = "true"];
    caution_hybrid_complexity: "caution-hybrid-complexity" => ["product.ai_ml" = "core"];
    caution_node_cpu: "caution-node-cpu" => ["product.data_flow" = "mixed", "team.javascript" = "2"];
    caution_python_realtime: "caution-python-realtime" => ["team.python" = "2", "product.realtime" = "true"];
    caution_unfamiliar_node: "caution-unfamiliar-node" => ["product.realtime" = "true"];
    caution_unfamiliar_python: "caution-unfamiliar-python" => ["product.data_flow" = "compute"];
    caution_node_security: "caution-node-security" => ["team.javascript" = "2", "product.compliance" = "high"];
    caution_switching_later: "caution-switching-later" => ["product.stage" = "pre-pmf"];
    caution_cited_throughput: "caution-cited-throughput" => ["product.data_flow" = "io"];
}

#[test]
fn every_rule_has_a_firing_test() {
    let rules = adviser::RuleSet::builtin();
    let missing: Vec<&str> = rules
        .rules
        .iter()
        .map(|r| r.id.as_str())
        .filter(|id| !COVERED.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "rules without a firing test: {missing:?}"
    );
}
