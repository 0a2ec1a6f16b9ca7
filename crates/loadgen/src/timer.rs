//! A precise async timer for open-loop schedules.
//!
//! tokio's timer wheel has a 1 ms granularity: sleeping until a send time lands up to a
//! millisecond late, and in an open-loop run that lateness would be reported as server latency.
//! On Linux this timer arms a `timerfd` (a kernel high-resolution timer) per connection and waits
//! for it through tokio's reactor, so a wake-up is typically tens of microseconds late, and the
//! engine measures and reports that lag ("send lag") instead of hiding it. Waits shorter than
//! [`SPIN_BELOW`] are spun. It never fires early.

use std::io;
use std::time::{Duration, Instant};

/// Waits shorter than this are busy-waited rather than handed to the kernel.
pub const SPIN_BELOW: Duration = Duration::from_micros(20);

pub struct PreciseTimer {
    #[cfg(target_os = "linux")]
    fd: tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>,
}

impl PreciseTimer {
    /// Must be called inside a tokio runtime with IO enabled.
    pub fn new() -> io::Result<Self> {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::FromRawFd;
            // SAFETY: plain syscall; the fd is owned by OwnedFd on success.
            let raw = unsafe {
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                )
            };
            if raw < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `raw` is a fresh fd we own.
            let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) };
            // SAFETY: the OwnedFd is moved into the AsyncFd and stays open, unchanged, until the
            // AsyncFd drops it.
            let fd = unsafe {
                tokio::io::unix::AsyncFd::register_with_interest(
                    owned,
                    tokio::io::Interest::READABLE,
                )
            }
            .map_err(io::Error::from)?;
            Ok(PreciseTimer { fd })
        }
        #[cfg(not(target_os = "linux"))]
        {
            Ok(PreciseTimer {})
        }
    }

    /// Returns at `deadline` or a little after, never before.
    pub async fn sleep_until(&mut self, deadline: Instant) -> io::Result<()> {
        let now = Instant::now();
        if deadline <= now {
            return Ok(());
        }
        let wait = deadline - now;
        if wait >= SPIN_BELOW {
            self.wait_kernel(wait).await?;
        }
        while Instant::now() < deadline {
            std::hint::spin_loop();
        }
        Ok(())
    }

    #[cfg(target_os = "linux")]
    async fn wait_kernel(&mut self, wait: Duration) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: wait.as_secs() as libc::time_t,
                tv_nsec: wait.subsec_nanos() as libc::c_long,
            },
        };
        let fd = self.fd.get_ref().as_raw_fd();
        // SAFETY: valid fd and itimerspec.
        if unsafe { libc::timerfd_settime(fd, 0, &spec, std::ptr::null_mut()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        loop {
            let mut guard = self.fd.readable().await?;
            let res = guard.try_io(|inner| {
                let mut expirations = 0u64;
                // SAFETY: reading 8 bytes into a u64, as timerfd requires.
                let n = unsafe {
                    libc::read(
                        inner.get_ref().as_raw_fd(),
                        (&mut expirations as *mut u64).cast(),
                        8,
                    )
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(())
                }
            });
            match res {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    async fn wait_kernel(&mut self, wait: Duration) -> io::Result<()> {
        tokio::time::sleep(wait).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn never_fires_early_and_is_not_a_tick_late() {
        rt().block_on(async {
            let mut t = PreciseTimer::new().unwrap();
            let mut worst = Duration::ZERO;
            for i in 0..50u64 {
                let deadline = Instant::now() + Duration::from_micros(200 + 37 * i);
                t.sleep_until(deadline).await.unwrap();
                let now = Instant::now();
                assert!(now >= deadline, "woke before the deadline");
                worst = worst.max(now - deadline);
            }
            // Not a timing target, a correctness bound: a 1 ms timer wheel would be late by up to
            // a whole tick on most of these waits; allow generous slack for a loaded CI machine.
            assert!(worst < Duration::from_millis(50), "worst lag {worst:?}");
        });
    }

    #[test]
    fn past_deadline_returns_at_once() {
        rt().block_on(async {
            let mut t = PreciseTimer::new().unwrap();
            t.sleep_until(Instant::now() - Duration::from_millis(5))
                .await
                .unwrap();
        });
    }
}
