//! One assembly of a run with its verdicts and advice, for every output (Markdown, HTML, JSON, the
//! end of `stackwise lab`) and the web UI: a stored run with each cell's detail ([`details`]), the
//! claims verdicts ([`with_verdicts`]) and the advice for a profile ([`with_advice`],
//! [`with_profile`]). [`read_run`] reads a run with its details; the front ends say which run
//! and spell their errors.

use crate::findings::{AdviceDigest, ClaimsDigest};
use crate::{sections, CellDetail, ReportInput};

/// The detail of each cell of `input.summary` (curves and per-second series) from the engine
/// report of one representative repeat ([`representative`]) stored in `store`.
pub fn details(store: &store::Store, input: &mut ReportInput) -> Result<(), store::StoreError> {
    for c in &input.summary.cells {
        let repeats = store.cell_repeats(input.summary.run_id, &c.target, &c.workload)?;
        if let Some((i, r)) = representative(&repeats, c) {
            let stored: serde_json::Value = match serde_json::from_str(&r.report_json) {
                Ok(v) => v,
                Err(_) => continue, // A repeat without a readable report has no curves to show.
            };
            let source = format!("repeat {} of {}", i + 1, repeats.len());
            input.details.extend(CellDetail::from_engine_json(
                &c.target,
                &c.workload,
                &source,
                &stored,
                c.capacity_rps,
            ));
        }
    }
    Ok(())
}

/// The verdicts of every claim of the built-in catalogue against the run (unless the input
/// already carries them): the claims section and its digest for the findings.
pub fn with_verdicts(input: &mut ReportInput) {
    if input.claims.is_none() {
        let verdicts = sections::claims_report(&input.summary);
        input.claims = Some(sections::from_claims(&verdicts));
        input.claims_digest = Some(ClaimsDigest::from_report(&verdicts));
    }
}

/// The advice (given for `profile_name`, whose text is `profile_text`): its section and digest.
pub fn with_advice(
    input: &mut ReportInput,
    advice: &adviser::Advice,
    profile_name: &str,
    profile_text: &str,
) {
    input.advice = Some(sections::advice_section(advice, profile_name, profile_text));
    input.advice_digest = Some(AdviceDigest::from_advice(advice));
}

/// Run `run` (`None`: the latest; `Ok(None)`: the store holds no run) with each cell's detail.
pub fn read_run(
    store: &store::Store,
    run: Option<i64>,
) -> Result<Option<ReportInput>, store::StoreError> {
    let summary = match run {
        Some(id) => store.run(id)?,
        None => match store.latest_run()? {
            Some(s) => s,
            None => return Ok(None),
        },
    };
    let mut input = ReportInput::new(summary);
    details(store, &mut input)?;
    Ok(Some(input))
}

/// The advice for `profile` against the run (`profile_name`, whose text is `profile_text`).
pub fn with_profile(
    input: &mut ReportInput,
    profile: &adviser::Profile,
    profile_name: &str,
    profile_text: &str,
) {
    let source = format!("lab run #{}", input.summary.run_id);
    let advice = adviser::advise(profile, Some((&input.summary, source.as_str())));
    with_advice(input, &advice, profile_name, profile_text);
}

type Get = fn(&store::RepeatRecord) -> Option<f64>;

/// The repeat whose curves represent the cell: the clean repeat closest to the median throughput
/// (or p99 when there is no throughput), else the first one.
pub fn representative<'a>(
    repeats: &'a [store::RepeatRecord],
    c: &store::CellSummary,
) -> Option<(usize, &'a store::RepeatRecord)> {
    let target = c
        .metric("throughput_rps")
        .map(|s| {
            (
                s.median,
                Get::from(|r: &store::RepeatRecord| r.metric("throughput_rps")),
            )
        })
        .or_else(|| {
            c.metric("p99_ms").map(|s| {
                (
                    s.median,
                    Get::from(|r: &store::RepeatRecord| r.metric("p99_ms")),
                )
            })
        });
    let clean = repeats.iter().enumerate().filter(|(_, r)| r.clean);
    let best = target.and_then(|(median, get)| {
        clean
            .filter_map(|(i, r)| get(r).map(|v| (i, r, (v - median).abs())))
            .min_by(|a, b| a.2.total_cmp(&b.2))
            .map(|(i, r, _)| (i, r))
    });
    best.or_else(|| repeats.iter().enumerate().find(|(_, r)| r.clean))
        .or_else(|| repeats.iter().enumerate().next())
}
