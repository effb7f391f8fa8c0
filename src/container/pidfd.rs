//! A container's process named by pidfd, never by a pid number alone: the
//! record keeps the pid and its start time; a pidfd opened for that pid is
//! the process only if the start time still matches, and signals go through
//! the pidfd (pidfd_send_signal), so a pid recycled meanwhile is never hit.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::signal::Signal;

use crate::runtime::fds::proc_stat;

/// When process `pid` started, in clock ticks after boot (field 22 of
/// /proc/PID/stat); None when there is no such process.
pub fn start_time(pid: i32) -> Option<u64> {
    if pid <= 0 {
        return None;
    }
    parse_start_time(&proc_stat(&pid.to_string())?)
}

/// Whether process `pid`, started at `started` (clock ticks, as
/// `start_time`; 0 trusts the pid alone), is still alive and not a zombie:
/// what `Process::open(pid, started)` then `alive()` tell, from one read of
/// /proc/PID/stat and without a pidfd, for a check that signals nothing.
pub fn running(pid: i32, started: u64) -> bool {
    if pid <= 0 {
        return false;
    }
    let Some(stat) = proc_stat(&pid.to_string()) else {
        return false;
    };
    !is_zombie_stat(&stat) && (started == 0 || parse_start_time(&stat) == Some(started))
}

/// Field 22 of a /proc/PID/stat line. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted after its last ')'.
fn parse_start_time(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // rest starts at field 3 (state): field 22 is the 20th from here.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// An open pidfd of a process whose identity was checked.
#[derive(Debug)]
pub struct Process {
    fd: OwnedFd,
    pid: i32,
}

impl Process {
    /// Opens process `pid` if it is the one that started at `started`
    /// (clock ticks, as `start_time`; 0 for a record written before start
    /// times were kept: then the pid alone is trusted). None when the
    /// process is gone or the pid now names another process.
    pub fn open(pid: i32, started: u64) -> Option<Process> {
        if pid <= 0 {
            return None;
        }
        let fd = pidfd_open(pid).ok()?;
        // Opened first, checked second: if the start time matches now, the
        // pidfd was opened on that same process.
        if started != 0 && start_time(pid) != Some(started) {
            return None;
        }
        Some(Process { fd, pid })
    }

    /// The pid this pidfd names (for logs and /proc paths).
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Sends `sig` through the pidfd: ESRCH once the process has exited,
    /// whatever process holds its pid number by then.
    pub fn signal(&self, sig: Signal) -> nix::Result<()> {
        send(self.fd.as_fd(), sig as i32)
    }

    /// Whether the process is still alive (not yet exited).
    pub fn alive(&self) -> bool {
        send(self.fd.as_fd(), 0).is_ok() && !is_zombie(self.pid)
    }

    /// Waits up to `timeout` for the process to exit; true once it has
    /// (a zombie counts: the pidfd turns readable when the process exits,
    /// before its parent reaps it). Woken by the kernel, not by polling.
    pub fn wait_exit(&self, timeout: std::time::Duration) -> bool {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            // Rounded up: a timeout of 0 ms before the deadline would spin.
            let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
            let ms = PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX);
            let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, ms) {
                Ok(n) if n > 0 => return true,
                Err(Errno::EINTR) => continue,
                // Poll unusable on this pidfd: ask the way `alive` does.
                Err(_) => return !self.alive(),
                Ok(_) if left.is_zero() => return !self.alive(),
                Ok(_) => {}
            }
        }
    }
}

impl AsFd for Process {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Whether `pid` is a zombie or gone (its `/proc/PID/stat` state is `Z`, or
/// unreadable).
pub(crate) fn is_zombie(pid: i32) -> bool {
    proc_stat(&pid.to_string()).is_none_or(|s| is_zombie_stat(&s))
}

/// Whether a /proc/PID/stat line has state `Z` (field 3, after the last ')').
fn is_zombie_stat(stat: &str) -> bool {
    stat.rsplit(')')
        .next()
        .is_some_and(|r| r.trim_start().starts_with('Z'))
}

#[allow(unsafe_code)]
fn pidfd_open(pid: i32) -> nix::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor
    // or -1; it touches no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just returned this descriptor to us (it has
    // O_CLOEXEC set) and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

#[allow(unsafe_code)]
fn send(fd: BorrowedFd<'_>, sig: i32) -> nix::Result<()> {
    // SAFETY: a borrowed, open pidfd, a signal number, a null siginfo (the
    // kernel then fills it as kill(2) does) and no flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_after_a_name_with_spaces_and_parens() {
        let line = "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10";
        assert_eq!(parse_start_time(line), Some(98765));
        assert_eq!(parse_start_time("garbage"), None);
    }

    #[test]
    fn our_own_process_opens_and_a_wrong_start_time_does_not() {
        let me = std::process::id() as i32;
        let t = start_time(me).expect("our own stat");
        let p = Process::open(me, t).expect("ourselves");
        assert!(p.alive());
        p.signal_zero_ok();
        assert!(
            Process::open(me, t + 1).is_none(),
            "another start time is another process"
        );
    }

    #[test]
    fn an_exited_child_is_not_signalled() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        let t = start_time(pid).unwrap_or(0);
        let p = Process::open(pid, t).expect("just started");
        child.wait().unwrap();
        assert_eq!(p.signal(Signal::SIGTERM), Err(Errno::ESRCH));
        assert!(!p.alive());
    }

    impl Process {
        fn signal_zero_ok(&self) {
            assert_eq!(send(self.fd.as_fd(), 0), Ok(()));
        }
    }
}
