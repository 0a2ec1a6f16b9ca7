//! The advice rendered: the terminal summary of `stackwise advise` ([`text`]) and the
//! Architecture Decision Record in the MADR layout ([`adr`]). Both read only the typed
//! [`Advice`] the adviser returns, so JSON, terminal and ADR agree; every figure is formatted by
//! the one formatter ([`crate::format::num`]).

use std::fmt::Write;

use adviser::advice::{Advice, Reason};
use adviser::cost::{Bound, StackEstimate, TargetEstimate};
use adviser::rules::{Choice, Favours};

use workloads::format::count;
use workloads::format::{amount, num, usd};

fn is_vote(r: &Reason) -> bool {
    !matches!(
        r.favours,
        Favours::Caution | Favours::Either | Favours::Placement
    )
}

fn quote_lines(out: &mut String, r: &Reason, indent: &str) {
    for s in &r.sources {
        let _ = writeln!(out, "{indent}{}: \"{}\"", s.article, s.quote);
    }
    if let Some(e) = &r.evidence {
        let _ = writeln!(out, "{indent}evidence: {}", e.text);
    }
    if !r.measure.is_empty() {
        let _ = writeln!(
            out,
            "{indent}lab workloads that test it: {}",
            r.measure.join(", ")
        );
    }
}

/// "weight 3" or "weight 3 → 1.5 after evidence".
fn weight_text(r: &Reason) -> String {
    if (r.effective_weight - f64::from(r.weight)).abs() < 1e-9 || !is_vote(r) {
        format!("weight {}", r.weight)
    } else {
        format!(
            "weight {} → {} after evidence",
            r.weight,
            amount(r.effective_weight)
        )
    }
}

fn profile_line(a: &Advice) -> Vec<String> {
    let p = &a.profile;
    let mut flags = Vec::new();
    if p.product.realtime {
        flags.push("real-time");
    }
    if p.product.data_heavy {
        flags.push("data-heavy");
    }
    if p.product.full_stack_js {
        flags.push("full-stack JS");
    }
    if p.product.serverless {
        flags.push("serverless");
    }
    if p.product.compliance == adviser::profile::Compliance::High {
        flags.push("high compliance");
    }
    if p.product.readability {
        flags.push("readable code wanted");
    }
    let share = p.team.javascript_share();
    vec![
        format!(
            "{}, {}; team {} JS ({}) / {} Python ({}), weighted {:.0}% JS{}{}{}",
            p.product.use_case,
            p.product.stage,
            p.team.javascript,
            p.team.javascript_level,
            p.team.python,
            p.team.python_level,
            share * 100.0,
            if p.team.balanced() { ", balanced" } else { "" },
            if p.team.data_science {
                ", data science"
            } else {
                ""
            },
            if p.team.learning { ", learning" } else { "" }
        ),
        format!(
            "AI/ML {}; data flow {}{}{}",
            p.product.ai_ml,
            p.product.data_flow,
            if flags.is_empty() { "" } else { "; " },
            flags.join(", ")
        ),
        format!(
            "peak {} req/s, {} connections, p99 ≤ {} ms; {} USD per core-hour",
            amount(p.load.peak_rps),
            count(p.load.concurrent_connections),
            amount(p.load.p99_ms),
            usd(p.costs.core_hour_usd)
        ),
    ]
}

/// What the measured requests were: the path, and for `mixed` the two open loops.
fn describe_params(p: &std::collections::BTreeMap<String, String>) -> String {
    let get = |k: &str| p.get(k).map(String::as_str);
    match (get("path"), get("heavy_path")) {
        (Some(path), Some(heavy)) => format!(
            "GET {path} at {} req/s + GET {heavy} at {} req/s",
            get("io_rate_rps").unwrap_or("?"),
            get("heavy_rate_rps").unwrap_or("?")
        ),
        (Some(path), None) => format!("GET {path}"),
        _ => p
            .iter()
            .filter(|(k, _)| ["ms", "n", "connections"].contains(&k.as_str()))
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

fn target_line(t: &TargetEstimate, role: &str) -> String {
    let params = describe_params(&t.params);
    let params = if params.is_empty() {
        String::new()
    } else {
        format!(" [{params}]")
    };
    let head = format!("{role:<8} {}{params}", t.target);
    match (t.bound, t.per_core_rps, t.cores_needed) {
        (Bound::None, _, _) | (_, None, _) => format!("{head}: no figure — {}", t.capacity.text),
        (_, Some(pc), None) => format!(
            "{head}: {} req/s per core ({}); load for this part unknown",
            num(pc),
            t.capacity.text
        ),
        (Bound::NotMeasuredHighEnough, Some(pc), Some(c)) => format!(
            "{head}: ≥ {} req/s per core ({}) → not measured high enough: at most {} cores needed; no monthly cost",
            num(pc),
            t.capacity.text,
            num(c),
        ),
        (b, Some(pc), Some(c)) => {
            let at_most = if b == Bound::NotMeasuredHighEnough {
                "at most "
            } else {
                ""
            };
            let n = t.provisioned_cores.unwrap_or(0);
            format!(
                "{head}: {} req/s per core ({}) → {at_most}{} cores needed, {} with headroom → {at_most}{n} core{}, {at_most}{} USD/month",
                num(pc),
                t.capacity.text,
                num(c),
                num(t.cores_with_headroom.unwrap_or(c)),
                if n == 1 { "" } else { "s" },
                t.monthly_usd.map(usd).unwrap_or_default()
            )
        }
    }
}

fn stack_block(out: &mut String, s: &StackEstimate, p99: f64) {
    let variant = s
        .variant
        .as_deref()
        .map(|v| format!(", {v}"))
        .unwrap_or_default();
    let service = s
        .service
        .as_deref()
        .map(|v| format!(" — {v}"))
        .unwrap_or_default();
    let rps = s
        .required_rps
        .map(|r| format!("{} req/s", num(r)))
        .unwrap_or_else(|| "load unknown".into());
    let _ = writeln!(
        out,
        "  {}{service} on {}{variant}: {rps} at p99 ≤ {} ms",
        s.stack.label(),
        s.workload,
        num(p99)
    );
    for t in &s.targets {
        if t.roles.is_empty() {
            continue;
        }
        let _ = writeln!(out, "    {}", target_line(t, &t.roles.join("+")));
        for w in &t.warnings {
            let _ = writeln!(out, "             warning: {w}");
        }
    }
    if let Some(n) = &s.note {
        let _ = writeln!(out, "    note: {n}");
    }
}

/// The terminal summary.
pub fn text(a: &Advice) -> String {
    let mut out = String::new();
    let r = &a.recommendation;
    let _ = writeln!(
        out,
        "Recommendation  {}  (confidence {}, {:.0}% of the fired rules' weight, {} rule{} in {} tier{}, {} measured)",
        r.label,
        a.confidence.level.as_str(),
        a.confidence.support_share * 100.0,
        a.confidence.rules,
        if a.confidence.rules == 1 { "" } else { "s" },
        a.confidence.tiers,
        if a.confidence.tiers == 1 { "" } else { "s" },
        a.confidence.measured
    );
    let _ = writeln!(out, "                {}", r.summary);
    for (i, l) in profile_line(a).iter().enumerate() {
        let _ = writeln!(
            out,
            "{}{l}",
            if i == 0 {
                "Profile         "
            } else {
                "                "
            }
        );
    }
    if !r.services.is_empty() {
        let _ = writeln!(out, "\nServices");
        for s in &r.services {
            let _ = writeln!(out, "  {:<8} {}  ({})", s.stack.label(), s.service, s.rule);
        }
        if let Some(ls) = &r.load_split {
            let _ = writeln!(out, "  Load split: {}", ls.note);
        }
    }
    let _ = writeln!(out, "\nReasons");
    for x in &a.reasons {
        let sign = if is_vote(x) { "+" } else { "·" };
        let _ = writeln!(
            out,
            "  {sign} {} [{}, {}]: {}",
            x.rule,
            x.tier_name,
            weight_text(x),
            x.says
        );
        quote_lines(&mut out, x, "      ");
    }
    if !a.not_voting.is_empty() {
        let _ = writeln!(
            out,
            "\nMeasured here against the articles (these rules do not vote)"
        );
        for x in &a.not_voting {
            let _ = writeln!(
                out,
                "  x {} [{}, weight {} → 0]: {}",
                x.rule, x.tier_name, x.weight, x.says
            );
            quote_lines(&mut out, x, "      ");
        }
    }
    let _ = writeln!(out, "\nCounter-arguments");
    if a.counter_arguments.is_empty() {
        let _ = writeln!(out, "  (none fired)");
    }
    for x in &a.counter_arguments {
        if is_vote(x) {
            let met: Vec<&str> = x.met_by.iter().map(|c| c.as_str()).collect();
            let _ = writeln!(
                out,
                "  - {} [{}, {}, for {}]: {}",
                x.rule,
                x.tier_name,
                weight_text(x),
                met.join("/"),
                x.says
            );
        } else {
            let _ = writeln!(out, "  ! {} [caution]: {}", x.rule, x.says);
        }
        quote_lines(&mut out, x, "      ");
    }
    let _ = writeln!(out, "\nConflicts");
    if a.conflicts.is_empty() && a.tension.is_none() {
        let _ = writeln!(out, "  (none: no fired rule argues for another option)");
    }
    if let Some(t) = &a.tension {
        let _ = writeln!(out, "  0. product pulls both ways: resolved by the split");
        let _ = writeln!(
            out,
            "     for node: {}\n     for python: {}",
            t.node_rules.join(", "),
            t.python_rules.join(", ")
        );
        let _ = writeln!(out, "     resolved: {}", t.resolution);
    }
    for (i, c) in a.conflicts.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {}. {}: {} over {}",
            i + 1,
            c.title,
            c.prevailing.as_str(),
            c.overruled.as_str()
        );
        let _ = writeln!(
            out,
            "     for {}: {}",
            c.prevailing.as_str(),
            if c.rules_for_prevailing.is_empty() {
                "(none)".to_string()
            } else {
                c.rules_for_prevailing.join(", ")
            }
        );
        let _ = writeln!(
            out,
            "     for {}: {}",
            c.overruled.as_str(),
            c.rules_for_overruled.join(", ")
        );
        let _ = writeln!(out, "     resolved: {}", c.resolution.explanation);
    }
    let _ = writeln!(out, "\nDecision by tier");
    for s in &a.tiers {
        let scores: Vec<String> = s
            .scores
            .iter()
            .map(|o| format!("{} {}", o.option.as_str(), amount(o.score)))
            .collect();
        let elim = if s.eliminated.is_empty() {
            String::new()
        } else {
            let e: Vec<&str> = s.eliminated.iter().map(|c| c.as_str()).collect();
            format!("  → out: {}", e.join(", "))
        };
        let _ = writeln!(
            out,
            "  {} {:<22} {}{elim}",
            s.rank,
            s.name,
            scores.join(", ")
        );
        if s.tier == "team" && a.profile.team.balanced() {
            let _ = writeln!(
                out,
                "    (balanced team: the minority language holds ≥ 40% of the weighted headcount, so the team's lean does not vote)"
            );
        }
    }
    if !a
        .tiers
        .iter()
        .any(|s| s.scores.iter().any(|o| o.option == Choice::Hybrid))
    {
        let _ = writeln!(
            out,
            "  (hybrid not considered: no fired rule calls for two stacks)"
        );
    }
    let _ = writeln!(out, "  Confidence: {}", a.confidence.explanation);
    if let Some(n) = &a.no_clear_winner {
        no_clear_winner_text(&mut out, n);
    }
    evidence_text(&mut out, a);
    let _ = writeln!(out, "\nWhat would change the answer");
    if a.what_would_change.is_empty() {
        let _ = writeln!(out, "  no change of one profile key the rules read");
    }
    for c in &a.what_would_change {
        let _ = writeln!(out, "  {}  [{} {} {}]", c.text, c.key, c.op, c.to);
    }
    cost_text(&mut out, a);
    out
}

fn no_clear_winner_text(out: &mut String, n: &adviser::advice::NoClearWinner) {
    let _ = writeln!(
        out,
        "\nNo clear winner: {} ({:.0}%) or {} ({:.0}%)",
        n.options[0].label(),
        n.shares[0] * 100.0,
        n.options[1].label(),
        n.shares[1] * 100.0
    );
    let _ = writeln!(out, "  What decides between them:");
    for d in &n.decides {
        let _ = writeln!(out, "    - {d}");
    }
    let _ = writeln!(
        out,
        "  The articles' advice: {}: \"{}\"",
        n.advice.article, n.advice.quote
    );
    let _ = writeln!(out, "  Measure what separates them here:");
    for c in &n.commands {
        let _ = writeln!(out, "    {c}");
    }
    let _ = writeln!(out, "  Suggested spike: {}", n.spike);
}

fn evidence_text(out: &mut String, a: &Advice) {
    let e = &a.evidence;
    if e.measured.is_empty() && e.unchecked.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nEvidence  (claims verdicts {})",
        match e.run_id {
            Some(r) => format!("on run {r}"),
            None => "without a run".into(),
        }
    );
    for m in &e.measured {
        let _ = writeln!(out, "  measured: {m}");
    }
    for u in &e.unchecked {
        let _ = writeln!(out, "  not checked: {u}");
    }
    if let Some(c) = &e.command {
        let _ = writeln!(out, "  to check them: `{c}`, then `stackwise advise` again");
    }
}

/// The total cost of ownership as lines: the formula, each option, the findings, what is not priced.
pub fn tco_lines(a: &Advice) -> Vec<String> {
    let t = &a.cost.tco;
    let mut v = Vec::new();
    if !t.formula.is_empty() {
        v.push(t.formula.clone());
    }
    for o in &t.options {
        let part = |x: Option<f64>| {
            x.map(|u| format!("{} USD", usd(u)))
                .unwrap_or_else(|| "not priced".into())
        };
        let mut line = format!(
            "{}: infrastructure {} ({}) + hires {} ({}) + switching {} ({} switcher{})",
            o.option.label(),
            part(o.infra_monthly_usd),
            o.infra_source,
            part(o.hires_monthly_usd),
            o.hires.map(|h| h.to_string()).unwrap_or_else(|| "?".into()),
            part(o.switching_monthly_usd),
            o.switchers,
            if o.switchers == 1 { "" } else { "s" }
        );
        if o.option == Choice::Hybrid {
            line.push_str(&format!(" + two stacks {}", part(o.two_stacks_monthly_usd)));
        }
        line.push_str(&match o.total_monthly_usd {
            Some(x) => format!(" = {} USD/month", usd(x)),
            None => format!(" = not priced ({})", o.not_priced.join("; ")),
        });
        v.push(line);
    }
    v.extend(t.findings.iter().cloned());
    v.extend(t.not_priced.iter().cloned());
    v
}

fn cost_text(out: &mut String, a: &Advice) {
    let c = &a.cost;
    match &c.run {
        Some(run) => {
            let _ = writeln!(
                out,
                "\nCost  (measured: run {} started {}, {}; server CPUs {:?}; read from {})",
                run.run_id, run.started_at, run.cpu_model, run.server_cpus, run.source
            );
            if run.finished_at.is_none() {
                let _ = writeln!(out, "  warning: the run is unfinished");
            }
            for w in &run.warnings {
                let _ = writeln!(out, "  run warning: {w}");
            }
        }
        None => {
            let _ = writeln!(out, "\nCost  (no measurements: no figure)");
        }
    }
    for s in &c.stacks {
        stack_block(out, s, a.profile.load.p99_ms);
    }
    if !c.hybrid.is_empty() {
        let _ = writeln!(out, "  Hybrid, each part sized for its own load:");
        for s in &c.hybrid {
            stack_block(out, s, a.profile.load.p99_ms);
        }
        for t in &c.hybrid_totals {
            let at_most = if t.bound == Bound::NotMeasuredHighEnough {
                "at most "
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  Hybrid total (typical targets, Python work as {}): {} Node.js + {} Python cores, {at_most}{} USD/month",
                t.python_workload, t.node_cores, t.python_cores, usd(t.monthly_usd)
            );
        }
    }
    let _ = writeln!(out, "  Memory: {}", c.memory.text);
    for m in &c.memory.per_stack {
        let _ = writeln!(
            out,
            "    {} ({}): {} MB per connection, {} GB{}",
            m.stack.label(),
            m.target,
            num(m.mb_per_connection),
            num(m.gb_total),
            m.monthly_usd
                .map(|u| format!(", {} USD/month", usd(u)))
                .unwrap_or_default()
        );
    }
    if !c.missing.is_empty() {
        let _ = writeln!(out, "  Missing measurements:");
        for m in &c.missing {
            let _ = writeln!(out, "    {}: run `{}`", m.what, m.command);
        }
    }
    let _ = writeln!(out, "  Assumptions:");
    for x in &c.assumptions {
        let _ = writeln!(out, "    - {x}");
    }
    let _ = writeln!(out, "  {}", c.team);
    let _ = writeln!(
        out,
        "  Total cost of ownership (horizon {} months):",
        amount(c.tco.horizon_months)
    );
    for l in tco_lines(a) {
        let _ = writeln!(out, "    {l}");
    }
}

fn option_pros_cons(a: &Advice, option: Choice) -> (Vec<&Reason>, Vec<&Reason>) {
    let all = a
        .reasons
        .iter()
        .chain(a.counter_arguments.iter())
        .filter(|r| is_vote(r));
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    for r in all {
        if r.met_by.contains(&option) {
            good.push(r);
        } else {
            bad.push(r);
        }
    }
    (good, bad)
}

/// The sentence with its first letter in lower case (after "because").
fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

fn cite(r: &Reason) -> String {
    let s = &r.sources[0];
    let ev = match &r.evidence {
        Some(e) => format!("; evidence: {}", e.text),
        None => String::new(),
    };
    format!(
        "{} (rule `{}`, {}, {}: \"{}\"{ev})",
        lower_first(r.says.trim_end_matches('.')),
        r.rule,
        weight_text(r),
        s.article,
        s.quote
    )
}

fn cost_summary(a: &Advice, stack: Choice) -> Vec<String> {
    let mut out = Vec::new();
    let run = a.cost.run.as_ref().map(|r| r.run_id);
    for s in a.cost.stacks.iter().filter(|s| s.stack == stack) {
        for t in s.targets.iter().filter(|t| !t.roles.is_empty()) {
            let variant = s
                .variant
                .as_deref()
                .map(|v| format!(" ({v})"))
                .unwrap_or_default();
            out.push(format!(
                "Measured ({}{variant}, {} target {}, run {}): {}",
                s.workload,
                t.roles.join("+"),
                t.target,
                run.map(|r| r.to_string()).unwrap_or_default(),
                target_line(t, "").trim_start()
            ));
        }
        if let Some(n) = &s.note {
            out.push(format!("Measured ({}): {n}", s.workload));
        }
    }
    out
}

/// The decision as an Architecture Decision Record in the MADR layout. `date` is `YYYY-MM-DD`.
pub fn adr(a: &Advice, date: &str) -> String {
    let mut out = String::new();
    let r = &a.recommendation;
    let p = &a.profile;
    let _ = writeln!(
        out,
        "# Backend stack for our {} product: {}\n",
        p.product.use_case, r.label
    );
    let _ = writeln!(out, "* Status: proposed");
    let _ = writeln!(out, "* Date: {date}");
    let _ = writeln!(out, "* Produced by: `stackwise advise` (rules with their article quotes; cost from measured lab runs)\n");
    let _ = writeln!(out, "## Context and Problem Statement\n");
    let lines = profile_line(a);
    let _ = writeln!(
        out,
        "Which backend stack should we build on: Node.js, Python, or a hybrid of both? Our situation: {}; {}; {}.\n",
        lines[0], lines[1], lines[2]
    );
    let _ = writeln!(out, "## Decision Drivers\n");
    for x in a
        .reasons
        .iter()
        .chain(a.counter_arguments.iter())
        .filter(|x| is_vote(x))
    {
        let _ = writeln!(out, "* {}", cite(x));
    }
    if let Some(run) = &a.cost.run {
        let _ = writeln!(
            out,
            "* Measured capacity at our p99 target of {} ms and peak of {} req/s (lab run {}, {})",
            num(p.load.p99_ms),
            num(p.load.peak_rps),
            run.run_id,
            run.cpu_model
        );
    }
    let hybrid_considered = a
        .tiers
        .iter()
        .any(|s| s.scores.iter().any(|o| o.option == Choice::Hybrid));
    let _ = writeln!(out, "\n## Considered Options\n");
    let _ = writeln!(out, "* Node.js");
    let _ = writeln!(out, "* Python");
    if hybrid_considered {
        let _ = writeln!(
            out,
            "* Hybrid: Node.js for the gateway and real time, Python for ML and data"
        );
    } else {
        let _ = writeln!(
            out,
            "* Hybrid (not a candidate: no rule called for two stacks)"
        );
    }
    let _ = writeln!(out, "\n## Decision Outcome\n");
    let because: Vec<String> = a
        .reasons
        .iter()
        .filter(|x| is_vote(x))
        .take(2)
        .map(|x| lower_first(x.says.trim_end_matches('.')))
        .collect();
    let _ = writeln!(
        out,
        "Chosen option: \"{}\", because {}. {} Confidence: {} ({}).",
        r.label,
        if because.is_empty() {
            "no rule argues for another option".to_string()
        } else {
            because.join("; and ")
        },
        {
            let rest = r.summary.trim_start_matches(&format!("{}: ", r.label));
            let mut c = rest.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        },
        a.confidence.level.as_str(),
        a.confidence.explanation
    );
    if !r.services.is_empty() {
        let _ = writeln!(out, "\nServices:\n");
        for s in &r.services {
            let _ = writeln!(
                out,
                "* {}: {} (rule `{}`)",
                s.stack.label(),
                s.service,
                s.rule
            );
        }
        if let Some(ls) = &r.load_split {
            let _ = writeln!(out, "\n{}", ls.note);
        }
    }
    if let Some(n) = &a.no_clear_winner {
        let _ = writeln!(
            out,
            "\nNo clear winner: {} ({:.0}%) or {} ({:.0}%). The articles: \"{}\" ({}). Measure: {}. Suggested spike: {}",
            n.options[0].label(),
            n.shares[0] * 100.0,
            n.options[1].label(),
            n.shares[1] * 100.0,
            n.advice.quote,
            n.advice.article,
            n.commands.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", "),
            n.spike
        );
        for d in &n.decides {
            let _ = writeln!(out, "\n* Decides between them: {d}");
        }
    }
    if let Some(t) = &a.tension {
        let _ = writeln!(
            out,
            "\nTension: for Node.js {}; for Python {}: {}",
            t.node_rules.join(", "),
            t.python_rules.join(", "),
            t.resolution
        );
    }
    if !a.conflicts.is_empty() {
        let _ = writeln!(
            out,
            "\nConflicts between drivers, and how they were resolved:\n"
        );
        for c in &a.conflicts {
            let _ = writeln!(
                out,
                "* {} ({} over {}; for {}: {}; for {}: {}): {}",
                c.title,
                c.prevailing.as_str(),
                c.overruled.as_str(),
                c.prevailing.as_str(),
                c.rules_for_prevailing.join(", "),
                c.overruled.as_str(),
                c.rules_for_overruled.join(", "),
                c.resolution.explanation
            );
        }
    }
    let _ = writeln!(out, "\n### Consequences\n");
    for x in a.reasons.iter().filter(|x| is_vote(x)) {
        let _ = writeln!(out, "* Good, because {}", cite(x));
    }
    for x in &a.counter_arguments {
        let _ = writeln!(out, "* Bad, because {}", cite(x));
    }
    for x in &a.not_voting {
        let _ = writeln!(
            out,
            "* Not counted, because measured here against the article: {}",
            cite(x)
        );
    }
    for line in cost_summary(a, r.choice) {
        let _ = writeln!(out, "* {line}");
    }
    let _ = writeln!(out, "\n## Pros and Cons of the Options\n");
    let mut options = vec![Choice::Node, Choice::Python];
    if hybrid_considered {
        options.push(Choice::Hybrid);
    }
    for o in options {
        let _ = writeln!(out, "### {}\n", o.label());
        let (good, bad) = option_pros_cons(a, o);
        for x in good {
            let _ = writeln!(out, "* Good, because {}", cite(x));
        }
        for x in bad {
            let _ = writeln!(out, "* Bad, because {}", cite(x));
        }
        let costs = if o == Choice::Hybrid {
            let mut v = Vec::new();
            for s in &a.cost.hybrid {
                for t in s.targets.iter().filter(|t| !t.roles.is_empty()) {
                    v.push(format!(
                        "Measured ({} on {}{}, {} target {}): {}",
                        s.stack.label(),
                        s.workload,
                        s.variant
                            .as_deref()
                            .map(|v| format!(" ({v})"))
                            .unwrap_or_default(),
                        t.roles.join("+"),
                        t.target,
                        target_line(t, "").trim_start()
                    ));
                }
            }
            v
        } else {
            cost_summary(a, o)
        };
        for line in costs {
            let _ = writeln!(out, "* {line}");
        }
        if o == Choice::Hybrid {
            for t in &a.cost.hybrid_totals {
                let _ = writeln!(
                    out,
                    "* Measured total (typical targets, Python work as {}): {} Node.js + {} Python cores, {}{} USD/month",
                    t.python_workload,
                    t.node_cores,
                    t.python_cores,
                    if t.bound == Bound::NotMeasuredHighEnough {
                        "at most "
                    } else {
                        ""
                    },
                    usd(t.monthly_usd)
                );
            }
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "## More Information\n");
    match &a.cost.run {
        Some(run) => {
            let _ = writeln!(
                out,
                "* Evidence: lab run {} (started {}, finished {}), {}, server CPUs {:?}, read from {}.",
                run.run_id,
                run.started_at,
                run.finished_at.as_deref().unwrap_or("unfinished"),
                run.cpu_model,
                run.server_cpus,
                run.source
            );
        }
        None => {
            let _ = writeln!(out, "* Evidence: no lab run yet; no cost figure is given.");
        }
    }
    for m in &a.cost.missing {
        let _ = writeln!(
            out,
            "* Missing measurement: {} (run `{}`)",
            m.what, m.command
        );
    }
    let _ = writeln!(out, "* Memory: {}", a.cost.memory.text);
    for x in &a.cost.assumptions {
        let _ = writeln!(out, "* Assumption: {x}");
    }
    let _ = writeln!(out, "* {}", a.cost.team);
    for l in tco_lines(a) {
        let _ = writeln!(out, "* Total cost of ownership: {l}");
    }
    if let Some(r) = a.evidence.run_id {
        for m in &a.evidence.measured {
            let _ = writeln!(out, "* Evidence (claims verdicts on run {r}): {m}");
        }
    }
    for u in &a.evidence.unchecked {
        let _ = writeln!(out, "* Evidence not checked: {u}");
    }
    if let Some(c) = &a.evidence.command {
        let _ = writeln!(out, "* To check the premises not measured: `{c}`");
    }
    if a.what_would_change.is_empty() {
        let _ = writeln!(
            out,
            "* Revisit if: no change of one profile key the rules read changes the answer."
        );
    }
    for c in &a.what_would_change {
        let _ = writeln!(out, "* Revisit: {}.", c.text);
    }
    let _ = writeln!(
        out,
        "\nThe profile this decision was made for:\n\n```toml\n{}```",
        p.to_toml()
    );
    out
}

/// Today's date (UTC) as `YYYY-MM-DD`.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}
