//! `stackwise lab`'s progress on the terminal: a bar over the suite (cells done, an ETA
//! corrected by how long the finished part really took) and a live line for the current cell,
//! or plain lines on stderr when it is not a terminal. Rendered from the suite's typed events
//! ([`workloads::events`]) with [`crate::live`]'s text.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use workloads::events::Event;

/// Progress: a bar over the suite (cells done, ETA) and a live line for the current cell on a
/// terminal; plain lines otherwise (or none: `--events json`). The text is [`reports::live`]'s.
pub struct Ui {
    bars: Option<(MultiProgress, ProgressBar, ProgressBar)>,
    /// Print the log lines (off with `--events json`).
    lines: bool,
    started: Instant,
    remaining_estimate: Duration,
    /// The estimates of the cells started and not yet done (repeats are interleaved across
    /// targets, so several cells are in progress at once).
    current_estimate: BTreeMap<(String, String), Duration>,
    done_estimate: Duration,
}

impl Ui {
    /// `tty`: bars on stderr; `lines`: print the log lines (off with `--events json`).
    pub fn new(tty: bool, lines: bool) -> Ui {
        let bars = tty.then(|| {
            let mp = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8));
            let bar = mp.add(
                ProgressBar::new(0).with_style(
                    ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} cells  {msg}")
                        .expect("static template")
                        .progress_chars("=> "),
                ),
            );
            bar.set_prefix("lab");
            let live = mp.add(ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("  {spinner} {msg}").expect("static template"),
            ));
            live.enable_steady_tick(Duration::from_millis(200));
            (mp, bar, live)
        });
        Ui {
            bars,
            lines,
            started: Instant::now(),
            remaining_estimate: Duration::ZERO,
            current_estimate: Default::default(),
            done_estimate: Duration::ZERO,
        }
    }

    fn line(&self, text: String) {
        match &self.bars {
            Some((mp, _, _)) => {
                let _ = mp.println(text);
            }
            None => eprintln!("{text}"),
        }
    }

    fn eta(&self) -> String {
        // The workloads' estimates, corrected by how long the finished part really took.
        let elapsed = self.started.elapsed().as_secs_f64();
        let factor = if self.done_estimate.as_secs_f64() > 5.0 {
            (elapsed / self.done_estimate.as_secs_f64()).clamp(0.5, 3.0)
        } else {
            1.0
        };
        format!(
            "ETA {}",
            crate::live::eta(self.remaining_estimate.mul_f64(factor).as_secs_f64())
        )
    }

    /// Takes one event of the suite.
    pub fn on(&mut self, e: Event) {
        match &e {
            Event::RunStarted { plan, .. } => {
                self.remaining_estimate = Duration::from_secs_f64(plan.eta_s.max(0.0));
                if let Some((_, bar, _)) = &self.bars {
                    bar.set_length(plan.remaining as u64);
                }
            }
            Event::CellStarted {
                target,
                workload,
                eta_s,
                ..
            } => {
                self.current_estimate.insert(
                    (target.clone(), workload.clone()),
                    Duration::from_secs_f64(eta_s.max(0.0)),
                );
            }
            Event::CellDone {
                target, workload, ..
            } => {
                let estimate = self
                    .current_estimate
                    .remove(&(target.clone(), workload.clone()))
                    .unwrap_or_default();
                self.remaining_estimate = self.remaining_estimate.saturating_sub(estimate);
                self.done_estimate += estimate;
                if let Some((_, bar, _)) = &self.bars {
                    bar.inc(1);
                }
            }
            _ => {}
        }
        match (&self.bars, crate::live::live_line(&e)) {
            // On a terminal, progress and install output move the live line.
            (Some((_, bar, live)), Some(text)) => {
                live.set_message(text);
                bar.set_message(self.eta());
                return;
            }
            (Some((_, bar, _)), None) => bar.set_message(self.eta()),
            (None, _) => {}
        }
        if self.lines {
            if let Some(text) = crate::live::log_line(&e) {
                self.line(text);
            }
        }
    }

    /// Clears the bars.
    pub fn finish(&mut self) {
        if let Some((mp, bar, live)) = self.bars.take() {
            live.finish_and_clear();
            bar.finish_and_clear();
            let _ = mp.clear();
        }
    }
}
