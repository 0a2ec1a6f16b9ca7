//! The per-second time series: each engine thread hands its finished one-second [`Window`]s to
//! the run's [`SeriesCollector`] (a mutex taken about once per second per thread, never per
//! request). Windows are merged across threads, and once every thread has moved past a window it
//! is summarised (counts and percentiles) and its histograms are dropped, so memory stays bounded
//! however long the run.

use std::collections::BTreeMap;
use std::sync::Mutex;

use hdrhistogram::Histogram;

use crate::report::{SeriesLatency, SeriesPoint};
use crate::stats::Window;

/// Windows kept with their histograms behind the slowest thread, in seconds.
const KEEP: u64 = 2;

pub(crate) struct SeriesCollector {
    inner: Mutex<Inner>,
}

struct Inner {
    /// Windows some thread may still add to.
    pending: BTreeMap<u64, Window>,
    /// Per thread: every window below this index is final for that thread.
    watermarks: Vec<u64>,
    /// Summarised windows.
    done: BTreeMap<u64, Summary>,
}

#[derive(Debug, Clone)]
struct Summary {
    responses: u64,
    errors: u64,
    from_send: Option<SeriesLatency>,
    from_schedule: Option<SeriesLatency>,
}

fn latency(h: &Histogram<u64>) -> Option<SeriesLatency> {
    (!h.is_empty()).then(|| SeriesLatency {
        p50_us: h.value_at_quantile(0.5) as f64 / 1000.0,
        p99_us: h.value_at_quantile(0.99) as f64 / 1000.0,
        max_us: h.max() as f64 / 1000.0,
    })
}

fn summarise(w: &Window) -> Summary {
    Summary {
        responses: w.responses,
        errors: w.errors,
        from_send: latency(&w.from_send),
        from_schedule: latency(&w.from_schedule),
    }
}

impl SeriesCollector {
    pub fn new(threads: usize) -> SeriesCollector {
        SeriesCollector {
            inner: Mutex::new(Inner {
                pending: BTreeMap::new(),
                watermarks: vec![0; threads],
                done: BTreeMap::new(),
            }),
        }
    }

    /// Thread `thread` hands over `windows`; all its windows below `watermark` are final.
    pub fn submit(&self, thread: usize, windows: Vec<Window>, watermark: u64) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for w in windows {
            match g.pending.get_mut(&w.index) {
                Some(p) => p.merge(&w),
                None => {
                    g.pending.insert(w.index, w);
                }
            }
        }
        g.watermarks[thread] = g.watermarks[thread].max(watermark);
        // Windows are summarised two seconds after every thread has moved past them: the end of
        // a run cut short (Ctrl-C) is not known in advance, and what arrives after it is folded
        // into its last window, which must still have its histograms then.
        let low = g.watermarks.iter().copied().min().unwrap_or(0);
        let finished: Vec<u64> = g
            .pending
            .range(..low.saturating_sub(KEEP))
            .map(|(k, _)| *k)
            .collect();
        for k in finished {
            let w = g.pending.remove(&k).expect("listed");
            g.done.insert(k, summarise(&w));
        }
    }

    /// The series of a measuring window of `elapsed_s` seconds: one point per second (the last
    /// one possibly shorter), seconds without any event included as zeros. Anything recorded
    /// past the end is folded into the last point.
    pub fn finish(&self, elapsed_s: f64) -> Vec<SeriesPoint> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let n = (elapsed_s.ceil() as u64).max(1);
        let pending = std::mem::take(&mut g.pending);
        // Fold late windows into the last one before summarising.
        let mut merged: BTreeMap<u64, Window> = BTreeMap::new();
        for (k, w) in pending {
            let k = k.min(n - 1);
            match merged.get_mut(&k) {
                Some(m) => m.merge(&w),
                None => {
                    let mut w = w;
                    w.index = k;
                    merged.insert(k, w);
                }
            }
        }
        for (k, w) in merged {
            let s = summarise(&w);
            match g.done.get_mut(&k) {
                // A window summarised early never gets more events (its threads had moved on),
                // except the last one when the drain is folded in: keep the larger view.
                Some(d) => {
                    d.responses += s.responses;
                    d.errors += s.errors;
                    d.from_send = d.from_send.take().or(s.from_send);
                    d.from_schedule = d.from_schedule.take().or(s.from_schedule);
                }
                None => {
                    g.done.insert(k, s);
                }
            }
        }
        // Summarised windows past the end (not expected: they are kept two seconds) keep their
        // counts exact in the last point.
        let late: Vec<u64> = g.done.range(n..).map(|(k, _)| *k).collect();
        for k in late {
            let s = g.done.remove(&k).expect("listed");
            let last = g.done.entry(n - 1).or_insert(Summary {
                responses: 0,
                errors: 0,
                from_send: None,
                from_schedule: None,
            });
            last.responses += s.responses;
            last.errors += s.errors;
            last.from_send = last.from_send.take().or(s.from_send);
            last.from_schedule = last.from_schedule.take().or(s.from_schedule);
        }
        (0..n)
            .map(|k| {
                let s = g.done.get(&k).cloned().unwrap_or(Summary {
                    responses: 0,
                    errors: 0,
                    from_send: None,
                    from_schedule: None,
                });
                let duration_s = (elapsed_s - k as f64).clamp(0.0, 1.0);
                SeriesPoint {
                    start_s: k as f64,
                    duration_s,
                    responses: s.responses,
                    errors: s.errors,
                    from_send: s.from_send,
                    from_schedule: s.from_schedule,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(index: u64, responses: u64, latency_ns: u64) -> Window {
        let mut w = Window::new(index);
        w.responses = responses;
        for _ in 0..responses {
            w.from_send.record(latency_ns).unwrap();
        }
        w
    }

    #[test]
    fn windows_merge_across_threads_and_gaps_are_zeros() {
        let c = SeriesCollector::new(2);
        c.submit(0, vec![window(0, 10, 1_000_000)], 1);
        c.submit(1, vec![window(0, 5, 3_000_000)], 1);
        c.submit(0, vec![window(2, 1, 1_000)], 3);
        c.submit(1, vec![], 3);
        // Window 0 is two seconds behind both threads: summarised, histograms dropped.
        assert_eq!(c.inner.lock().unwrap().pending.len(), 1);
        let s = c.finish(2.5);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].responses, 15);
        let p99 = s[0].from_send.as_ref().unwrap().p99_us;
        assert!((2990.0..=3010.0).contains(&p99), "{p99}");
        assert_eq!(s[1].responses, 0);
        assert!(s[1].from_send.is_none());
        assert_eq!(s[2].responses, 1);
        assert!((s[2].duration_s - 0.5).abs() < 1e-9);
    }
}
