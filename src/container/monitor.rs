//! Waiting for a container in the foreground: reap it, forward signals to it
//! (`--sig-proxy`), and relay a pty between the user's terminal and the
//! container. One thread, one poll loop over a signalfd and the streams.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::runtime::{signal, tty};
use crate::supervisor::relay::{End, Handler, Next, Relay, SinkId, SourceId, WhenFull};
use crate::supervisor::STREAM_BUFFER;
use crate::{Error, Result};

/// Signals the monitor handles itself; they are blocked before the container
/// is created so none is lost, and the container unblocks them.
fn handled() -> SigSet {
    let mut s = signal::set_of(&signal::PROXIED);
    for sig in [Signal::SIGCHLD, Signal::SIGWINCH, Signal::SIGPIPE] {
        s.add(sig);
    }
    s
}

/// Blocks the monitor's signals; call before creating the container.
pub fn block_signals() -> Result<()> {
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&handled()), None)
        .map_err(|e| Error::msg(format!("blocking signals: {e}")))
}

/// Restores the default signal mask.
pub fn unblock_signals() {
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&handled()), None);
}

/// The exit code of a wait status: the code, or 128+signal.
pub fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

fn reap(pid: Pid) -> Option<i32> {
    match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
        Ok(st) => exit_code(st),
        Err(nix::errno::Errno::ECHILD) => Some(0),
        Err(_) => None,
    }
}

/// Waits for the container `pid` to exit and returns its exit code.
/// With `master`, relays the pty to and from the caller's terminal.
/// With `detach` keys, typing them on a pty stops the relay and returns 0,
/// leaving the process running.
pub fn wait(
    pid: Pid,
    master: Option<OwnedFd>,
    stdin_open: bool,
    sig_proxy: bool,
    detach: Option<crate::supervisor::protocol::DetachKeys>,
) -> Result<i32> {
    let sfd = SignalFd::with_flags(&handled(), SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| Error::msg(format!("signalfd: {e}")))?;
    if let Some(code) = reap(pid) {
        return Ok(code);
    }
    let stdin = std::io::stdin();
    let _raw = match &master {
        Some(_) if stdin_open => tty::RawMode::enable(stdin.as_raw_fd()),
        _ => None,
    };
    let mut relay = Relay::new();
    let mut h = Monitor {
        pid,
        sfd: &sfd,
        sig_proxy,
        detach,
        master_fd: master.as_ref().map(|m| m.as_raw_fd()),
        stdout: None,
        to_master: None,
        from_master: None,
        from_stdin: None,
        exit: None,
        quiet: false,
    };
    if let Some(m) = master {
        let end = |r: std::io::Result<End>| {
            r.map_err(|e| Error::msg(format!("relaying the terminal: {e}")))
        };
        let m = end(End::owned(m))?;
        let out = relay.add_sink(
            end(End::shared(std::io::stdout().as_fd(), true))?,
            STREAM_BUFFER,
            WhenFull::Wait,
        );
        let to_master = relay.add_sink(end(m.try_clone())?, STREAM_BUFFER, WhenFull::Wait);
        h.from_master = Some(relay.add_source(m, &[out]));
        h.stdout = Some(out);
        h.to_master = Some(to_master);
        if stdin_open {
            let e = end(End::shared(stdin.as_fd(), false))?;
            h.from_stdin = Some(relay.add_source(e, &[to_master]));
        }
    }
    relay
        .run(&mut h)
        .map_err(|e| Error::msg(format!("poll: {e}")))
}

/// The foreground relay of `exec`: the pty to and from the caller's
/// terminal, signals to the process, its exit.
struct Monitor<'a> {
    pid: Pid,
    sfd: &'a SignalFd,
    sig_proxy: bool,
    detach: Option<crate::supervisor::protocol::DetachKeys>,
    master_fd: Option<std::os::fd::RawFd>,
    stdout: Option<SinkId>,
    to_master: Option<SinkId>,
    from_master: Option<SourceId>,
    from_stdin: Option<SourceId>,
    exit: Option<i32>,
    /// No output arrived since the last round (after the exit: all drained).
    quiet: bool,
}

impl Handler for Monitor<'_> {
    type Output = i32;

    fn watches(&self) -> Vec<BorrowedFd<'_>> {
        vec![self.sfd.as_fd()]
    }

    fn on_watch(&mut self, _relay: &mut Relay, _index: usize) {
        while let Ok(Some(info)) = self.sfd.read_signal() {
            match Signal::try_from(info.ssi_signo as i32).ok() {
                Some(Signal::SIGCHLD) | Some(Signal::SIGPIPE) => {}
                Some(Signal::SIGWINCH) => {
                    if let Some(m) = self.master_fd {
                        tty::copy_window_size(std::io::stdin().as_raw_fd(), m);
                    }
                }
                Some(s) if self.sig_proxy => {
                    let _ = kill(self.pid, s);
                }
                _ => {}
            }
        }
        if self.exit.is_none() {
            self.exit = reap(self.pid);
        }
    }

    fn on_data(&mut self, relay: &mut Relay, src: SourceId, data: &[u8]) {
        if Some(src) == self.from_master {
            self.quiet = false;
            if let Some(out) = self.stdout {
                relay.push(out, data);
            }
            return;
        }
        let (pass, detached) = match self.detach.as_mut() {
            Some(k) => k.feed(data),
            None => (data.to_vec(), false),
        };
        if let Some(m) = self.to_master {
            relay.push(m, &pass);
        }
        if detached {
            // Leave the process running; nothing more to relay.
            self.exit = Some(0);
            self.from_master = None;
            relay.remove_source(src);
        }
    }

    fn on_end(&mut self, _relay: &mut Relay, src: SourceId) {
        if Some(src) == self.from_master {
            self.from_master = None;
        } else if Some(src) == self.from_stdin {
            self.from_stdin = None;
        }
    }

    fn next(&mut self, relay: &Relay) -> Next<i32> {
        let Some(code) = self.exit else {
            return Next::Wait(None);
        };
        // Once it exited: what it wrote is in the pty already; stop when a
        // round brought nothing more and the terminal has it all.
        let drained = self.stdout.is_none_or(|s| relay.pending(s) == 0);
        let done_reading = self.from_master.is_none() || std::mem::replace(&mut self.quiet, true);
        if drained && done_reading {
            return Next::Done(code);
        }
        Next::Wait(Some(std::time::Duration::from_millis(20)))
    }
}
