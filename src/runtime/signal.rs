//! Signal names as users type them: `TERM`, `SIGTERM`, `sigterm`, `15`.

use std::str::FromStr;

use nix::sys::signal::Signal;

use super::{Error, Result};

/// What `--sig-proxy` forwards to a container: the signals a user sends to
/// the foreground command (Docker's and Podman's set, less those the
/// kernel will not let us catch).
pub const PROXIED: [Signal; 6] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// A signal set of `signals`.
pub fn set_of(signals: &[Signal]) -> nix::sys::signal::SigSet {
    let mut s = nix::sys::signal::SigSet::empty();
    for sig in signals {
        s.add(*sig);
    }
    s
}

/// Parses a signal name or number; errors read `invalid signal: X`.
pub fn parse(s: &str) -> Result<Signal> {
    let bad = || Error::Msg(format!("invalid signal: {s}"));
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| bad());
    }
    let upper = s.trim().to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&full).map_err(|_| bad())
}

/// A process-wide cancellation request: the number of the signal (SIGINT,
/// SIGTERM) that asked a long command (`build`) to stop, 0 when none did.
/// Set from a signal handler (an atomic store is async-signal-safe) and
/// checked by long loops: between files, between chunks of one file.
static CANCELLED: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// Records that `sig` asked the process to stop; returns whether a stop was
/// asked before (a second Ctrl-C). Async-signal-safe.
pub fn request_cancel(sig: i32) -> bool {
    CANCELLED.swap(sig, std::sync::atomic::Ordering::SeqCst) != 0
}

/// Forgets an earlier request (at the start of a build).
pub fn reset_cancel() {
    CANCELLED.store(0, std::sync::atomic::Ordering::SeqCst);
}

/// The signal that asked the process to stop, if one did.
pub fn cancelled() -> Option<i32> {
    match CANCELLED.load(std::sync::atomic::Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// `Err` (kind `Other`, text `interrupted`) once a stop was asked: for
/// loops that copy files. Not `ErrorKind::Interrupted`, which `std::io`
/// retries.
pub fn check_cancel() -> std::io::Result<()> {
    match cancelled() {
        None => Ok(()),
        Some(_) => Err(std::io::Error::other("interrupted")),
    }
}

/// A reader that fails with [`check_cancel`]'s error at its next read once
/// a stop was asked (a layer being written from a large file stops within
/// one buffer).
pub struct Cancellable<R>(pub R);

impl<R: std::io::Read> std::io::Read for Cancellable<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        check_cancel()?;
        self.0.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse("TERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse("sigkill").unwrap(), Signal::SIGKILL);
        assert_eq!(parse("1").unwrap(), Signal::SIGHUP);
        assert_eq!(parse("FOO").unwrap_err().to_string(), "invalid signal: FOO");
        assert!(parse("99").is_err());
    }
}
