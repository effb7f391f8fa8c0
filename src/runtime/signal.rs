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
