//! Process limits a run depends on: enough file descriptors for its connections.

use crate::config::{ConfigError, Field};

/// File descriptors kept free for everything that is not a connection (stdio, epoll, files).
const SPARE_FDS: u64 = 64;

/// File descriptors a run needs: one socket per connection, plus (open loop) one timer per
/// engine thread, plus some spare.
pub fn fds_needed(connections: usize, threads: usize, open_loop: bool) -> u64 {
    let timers = if open_loop { threads as u64 } else { 0 };
    connections as u64 + timers + SPARE_FDS
}

/// Raises the soft `RLIMIT_NOFILE` up to the hard limit when the run needs more descriptors than
/// the soft limit allows; refuses the run when even the hard limit is too low.
pub fn ensure_fd_limit(needed: u64) -> Result<(), ConfigError> {
    #[cfg(unix)]
    {
        // SAFETY: rlimit is plain data; getrlimit/setrlimit read and write it.
        let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
            return Ok(()); // Unknown: let connections fail and be counted.
        }
        let (soft, hard) = (lim.rlim_cur as u64, lim.rlim_max as u64);
        if soft >= needed {
            return Ok(());
        }
        if hard < needed {
            return Err(ConfigError::new(
                Field::Connections,
                format!(
                    "this run needs about {needed} file descriptors but the process may open at \
                     most {hard}; use fewer connections or raise the limit (ulimit -Hn)"
                ),
            ));
        }
        lim.rlim_cur = needed as libc::rlim_t;
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(ConfigError::new(
                Field::Connections,
                format!(
                    "this run needs about {needed} file descriptors, the limit is {soft}, and \
                     raising it failed: {}",
                    std::io::Error::last_os_error()
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_loop_needs_one_timer_per_thread_not_per_connection() {
        assert_eq!(fds_needed(100, 2, false), 164);
        assert_eq!(fds_needed(100, 2, true), 166);
        assert_eq!(fds_needed(10_000, 2, true), 10_066);
    }

    #[test]
    fn an_impossible_limit_is_refused_with_the_flag() {
        let e = ensure_fd_limit(u64::MAX / 2).unwrap_err();
        assert_eq!(e.field, Field::Connections);
        ensure_fd_limit(16).unwrap();
    }
}
