//! The questionnaire as data: the articles' questions, each with help text, one per profile key,
//! in the order asked, and which of them to ask of a partial profile ([`to_ask`]) and how an answer
//! is checked ([`check_answer`]). Asking them on a terminal is the CLI's (crates/stackwise,
//! `commands/advise/questionnaire.rs`); the web UI shows them as a form.

use crate::profile::{key_at, FieldError, PartialProfile};

/// A question for one profile key.
pub struct Question {
    pub key: &'static str,
    pub ask: &'static str,
    pub help: &'static str,
}

/// The questions, in the order asked. The first five are the articles' own five questions.
pub const QUESTIONS: &[Question] = &[
    q("product.data_flow", "What is the core data flow of your product?",
      "io: requests mostly wait on databases, APIs, files; compute: requests trigger computation (ML inference, data transformation); mixed: both; crud: a REST API whose typical request reads and writes a database. \"If requests mostly wait on I/O (databases, APIs, file reads), Node.js shines.\" (003)"),
    q("product.ai_ml", "Does your product require AI or ML features now or in the next 12 months?",
      "\"If yes, the Python ecosystem's advantage is significant enough to make Python the strong default.\" (003)"),
    q("team.javascript", "How many of your engineers write JavaScript/TypeScript fluently?",
      "\"What language does your engineering team already write best? Familiarity compounds.\" (003)"),
    q("team.python", "How many of your engineers write Python fluently?",
      "Counted separately: someone fluent in both counts in both."),
    q("product.full_stack_js", "Do you need a unified full-stack JavaScript experience?",
      "Your frontend is JavaScript (React, Vue…) and you want code sharing across frontend and backend. (003)"),
    q("product.compliance", "What are your security and compliance requirements?",
      "high: strict guarantees wanted out of the box (\"Django (Python) provides more built-in protection\", 003); standard otherwise."),
    q("product.realtime", "Is real-time speed critical (chat, live notifications, collaboration, WebSockets)?",
      "\"Is real-time speed critical? → Go for Node.js\" (002)"),
    q("product.data_heavy", "Are you working with large datasets or analytics pipelines?",
      "\"Working with large datasets or data visualization? → Python\" (002)"),
    q("product.use_case", "What are you building?",
      "The articles' use-case map (002, 003); choose other if nothing fits."),
    q("product.stage", "Where is the company?",
      "pre-pmf: before product-market fit (\"pick one and ship\", 003); post-pmf; enterprise."),
    q("team.data_science", "Does the team have a data-science or research background?",
      "\"Your team has data science or research backgrounds\" is a Python signal (003)."),
    q("team.learning", "Are the developers learning their first backend language?",
      "\"Learning first language → Python\" (001, individual developers)."),
    q("team.javascript_level", "How well do your JavaScript engineers write it (learning, working, expert)?",
      "Weighs the team's share: learning 0.5, working 1, expert 1.5. \"Use whatever your team is already excellent at.\" (003)"),
    q("team.python_level", "How well do your Python engineers write it (learning, working, expert)?",
      "Weighs the team's share: learning 0.5, working 1, expert 1.5."),
    q("product.readability", "Do you want the most readable and maintainable backend code above all?",
      "\"You want the most readable and maintainable backend code\" is a Python signal (003)."),
    q("product.serverless", "Will the backend run as serverless functions?",
      "Cold start matters there (000); the lab measures it per target."),
    q("product.legacy", "Must the backend integrate with an existing system? Which stack is it on?",
      "\"Legacy system integration → Consider stack compatibility\" (001)."),
    q("load.peak_rps", "Peak requests per second the backend must serve?",
      "Used with measured capacity to size CPU cores."),
    q("load.concurrent_connections", "Connections held open at the peak?",
      "Thousands of concurrent connections are a Node.js signal (003)."),
    q("load.p99_ms", "p99 latency target in milliseconds?",
      "Capacity is read from the measured ladders at this p99."),
    q("load.python_share", "For a hybrid: share of requests reaching the Python services (0–1)? Empty if unknown.",
      "Sizes the Python part of a hybrid."),
    q("costs.core_hour_usd", "Price of one CPU core-hour in USD?",
      "Your cloud's price; monthly cost = cores × price × 730 h."),
    q("costs.gb_hour_usd", "Price of one GB-hour of memory in USD? Empty if unknown.",
      "Used only where a measurement of memory per connection exists."),
    q("costs.headroom", "Share of capacity to keep spare (0–0.95)? Empty for 0.3.",
      "Cores provisioned = cores needed / (1 − headroom)."),
    q("costs.engineer_year_usd", "Cost of one engineer-year in USD (salary and overheads)? Empty if not to be priced.",
      "Team costs are computed only from your figures: hires and switching time × this."),
    q("costs.hires_node", "Engineers you would hire if the backend is on Node.js? Empty if unknown.",
      "\"The ability to hire from a vast pool of JavaScript/TypeScript developers\" (000): your own figure."),
    q("costs.hires_python", "Engineers you would hire if the backend is on Python? Empty if unknown.",
      "Your own figure; none is invented."),
    q("costs.hires_hybrid", "Engineers you would hire for a hybrid? Empty if unknown.",
      "Your own figure; none is invented."),
    q("costs.months_to_fluency", "Months an engineer needs to become fluent in the other language? Empty if unknown.",
      "Engineers who must switch cost months × engineer-year ÷ 12, spread over the horizon."),
    q("costs.horizon_months", "Horizon for the total cost, in months? Empty for 24.",
      "Switching costs are spread over it."),
    q("costs.two_stacks_monthly_usd", "Monthly cost of running a second stack in a hybrid, USD? Empty if unknown.",
      "Toolchains, deploy paths and the calls between services; without it a hybrid's TCO says \"not priced\"."),
];

const fn q(key: &'static str, ask: &'static str, help: &'static str) -> Question {
    Question { key, ask, help }
}

/// The team-cost keys, asked only when `costs.engineer_year_usd` was answered.
const TCO_KEYS: &[&str] = &[
    "costs.hires_node",
    "costs.hires_python",
    "costs.hires_hybrid",
    "costs.months_to_fluency",
    "costs.horizon_months",
    "costs.two_stacks_monthly_usd",
];

/// Whether `question` is to be asked of `p`: its key has no value yet, and a team-cost key only of
/// someone who prices an engineer-year (`costs.engineer_year_usd`).
pub fn to_ask(question: &Question, p: &PartialProfile) -> bool {
    !p.has(question.key) && (!TCO_KEYS.contains(&question.key) || p.has("costs.engineer_year_usd"))
}

/// Checks a typed answer to the question for `key` (as the profile would take it: parse, then the
/// range), without keeping it. An empty answer to an optional key is accepted (left unset).
pub fn check_answer(key: &str, answer: &str) -> Result<(), FieldError> {
    if answer.trim().is_empty() && key_at(key).is_some_and(|k| k.optional) {
        return Ok(());
    }
    let mut probe = PartialProfile::default();
    probe.set(key, answer)?;
    probe.validate()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::KEYS;

    #[test]
    fn every_key_has_one_question() {
        for k in KEYS {
            assert_eq!(
                QUESTIONS.iter().filter(|q| q.key == k.path).count(),
                1,
                "{}",
                k.path
            );
        }
        assert_eq!(QUESTIONS.len(), KEYS.len());
    }

    #[test]
    fn team_costs_are_asked_only_with_an_engineer_year_price() {
        let hires = QUESTIONS
            .iter()
            .find(|q| q.key == "costs.hires_node")
            .unwrap();
        let mut p = PartialProfile::default();
        assert!(!to_ask(hires, &p));
        p.set("costs.engineer_year_usd", "150000").unwrap();
        assert!(to_ask(hires, &p));
        p.set("costs.hires_node", "2").unwrap();
        assert!(!to_ask(hires, &p));
        let first = &QUESTIONS[0];
        assert!(to_ask(first, &PartialProfile::default()));
    }

    #[test]
    fn answers_are_checked_as_the_profile_takes_them() {
        assert_eq!(check_answer("load.peak_rps", "2000"), Ok(()));
        let e = check_answer("load.peak_rps", "lots").unwrap_err();
        assert_eq!(e.key, "load.peak_rps");
        assert!(e.message.contains("invalid value `lots`"), "{e}");
        let e = check_answer("costs.headroom", "0.99").unwrap_err();
        assert!(e.message.contains("out of range"), "{e}");
        // Empty: accepted for an optional key, refused for a required one.
        assert_eq!(check_answer("costs.gb_hour_usd", " "), Ok(()));
        assert!(check_answer("load.peak_rps", "").is_err());
    }
}
