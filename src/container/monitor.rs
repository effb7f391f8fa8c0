//! Waiting for a container in the foreground: reap it, forward signals to it
//! (`--sig-proxy`), and relay a pty (or, without one, its stdio pipes)
//! between the user's stdio and the container. One thread, one poll loop
//! over a signalfd and the streams.

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

/// The CLI's ends of a process's stdio pipes (plain `exec`, no pty): as
/// Podman does, the process never gets the caller's own descriptors, which
/// anything in the container could reopen through `/proc/PID/fd`.
#[derive(Debug)]
pub struct Pipes {
    /// The write end of its stdin (`-i`); `None` when its stdin is /dev/null.
    pub stdin: Option<OwnedFd>,
    /// The read end of its stdout.
    pub stdout: OwnedFd,
    /// The read end of its stderr.
    pub stderr: OwnedFd,
}

/// Waits for the container `pid` to exit and returns its exit code.
/// With `master`, relays the pty to and from the caller's terminal; with
/// `pipes`, relays the caller's stdin to the process (closing its stdin
/// after the last byte once ours ends) and its stdout and stderr to ours,
/// each to its own. With `detach` keys, typing them on a pty stops the relay
/// and returns 0, leaving the process running.
pub fn wait(
    pid: Pid,
    master: Option<OwnedFd>,
    pipes: Option<Pipes>,
    stdin_open: bool,
    sig_proxy: bool,
    detach: Option<crate::supervisor::protocol::DetachKeys>,
) -> Result<i32> {
    let sfd = SignalFd::with_flags(&handled(), SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| Error::msg(format!("signalfd: {e}")))?;
    // It may be gone already: what it wrote is still to relay.
    let exit = reap(pid);
    let stdin = std::io::stdin();
    // Raw with a pty whether stdin is relayed or not, as Podman (see launch.rs).
    let _raw = match &master {
        Some(_) => tty::RawMode::enable(&stdin),
        None => None,
    };
    let mut relay = Relay::new();
    let mut h = Monitor {
        pid,
        sfd: &sfd,
        sig_proxy,
        detach,
        master_fd: master.as_ref().map(|m| m.as_raw_fd()),
        stdout: None,
        stderr: None,
        to_master: None,
        to_stdin: None,
        from_master: None,
        from_out: None,
        from_err: None,
        from_stdin: None,
        exit,
        quiet: false,
    };
    if let Some(m) = master {
        let end = |r: std::io::Result<End>| r.map_err(relaying("the terminal"));
        let m = end(End::owned(m))?;
        let out = relay
            .add_own_output(std::io::stdout().as_fd())
            .map_err(relaying("the terminal"))?;
        let to_master = relay.add_sink(end(m.try_clone())?, STREAM_BUFFER, WhenFull::Wait);
        h.from_master = Some(relay.add_source(m, &[out]));
        h.stdout = Some(out);
        h.to_master = Some(to_master);
        if stdin_open {
            let e = end(End::shared(stdin.as_fd(), false))?;
            h.from_stdin = Some(relay.add_source(e, &[to_master]));
        }
    }
    if let Some(p) = pipes {
        let end = |r: std::io::Result<End>| r.map_err(relaying("the process's stdio"));
        let out = relay
            .add_own_output(std::io::stdout().as_fd())
            .map_err(relaying("the process's stdio"))?;
        let err = relay
            .add_own_output(std::io::stderr().as_fd())
            .map_err(relaying("the process's stdio"))?;
        h.from_out = Some(relay.add_source(end(End::own_pipe(p.stdout))?, &[out]));
        h.from_err = Some(relay.add_source(end(End::own_pipe(p.stderr))?, &[err]));
        h.stdout = Some(out);
        h.stderr = Some(err);
        if let Some(w) = p.stdin {
            let to = relay.add_sink(end(End::own_pipe(w))?, STREAM_BUFFER, WhenFull::Wait);
            match End::shared(stdin.as_fd(), false) {
                Ok(e) => {
                    h.from_stdin = Some(relay.add_source(e, &[to]));
                    h.to_stdin = Some(to);
                }
                // Our stdin is closed: the process's sees end of file.
                Err(_) => relay.close_after_drain(to),
            }
        }
    }
    relay
        .run(&mut h)
        .map_err(|e| Error::msg(format!("poll: {e}")))
}

/// The foreground relay of `exec`: the pty or the pipes to and from the
/// caller's stdio, signals to the process, its exit.
struct Monitor<'a> {
    pid: Pid,
    sfd: &'a SignalFd,
    sig_proxy: bool,
    detach: Option<crate::supervisor::protocol::DetachKeys>,
    master_fd: Option<std::os::fd::RawFd>,
    stdout: Option<SinkId>,
    /// Our stderr (pipes only; a pty has one stream).
    stderr: Option<SinkId>,
    to_master: Option<SinkId>,
    /// The process's stdin pipe (`-i` without a pty).
    to_stdin: Option<SinkId>,
    from_master: Option<SourceId>,
    /// The process's stdout and stderr pipes.
    from_out: Option<SourceId>,
    from_err: Option<SourceId>,
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
        if Some(src) == self.from_master || Some(src) == self.from_out {
            self.quiet = false;
            if let Some(out) = self.stdout {
                relay.push(out, data);
            }
            return;
        }
        if Some(src) == self.from_err {
            self.quiet = false;
            if let Some(err) = self.stderr {
                relay.push(err, data);
            }
            return;
        }
        if let Some(to) = self.to_stdin {
            // Pipes: no detach keys, every byte goes in.
            relay.push(to, data);
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
            // Leave the process running; nothing more to relay: neither
            // its output (the pty master) nor our keystrokes (our stdin).
            self.exit = Some(0);
            for s in [self.from_master.take(), self.from_stdin.take()]
                .into_iter()
                .flatten()
            {
                relay.remove_source(s);
            }
        }
    }

    fn on_end(&mut self, relay: &mut Relay, src: SourceId) {
        if Some(src) == self.from_master {
            self.from_master = None;
        } else if Some(src) == self.from_out {
            self.from_out = None;
        } else if Some(src) == self.from_err {
            self.from_err = None;
        } else if Some(src) == self.from_stdin {
            self.from_stdin = None;
            // Our stdin ended: the process's ends after the last byte.
            if let Some(to) = self.to_stdin {
                relay.close_after_drain(to);
            }
        }
    }

    fn on_sink_lost(&mut self, relay: &mut Relay, sink: SinkId) {
        // Whoever reads our stdout or stderr went away: stop reading the
        // process's pipe, so that its writes fail (EPIPE) as they would
        // have on ours. Its stdin gone: stop reading ours.
        let src = if Some(sink) == self.stdout {
            self.from_out.take()
        } else if Some(sink) == self.stderr {
            self.from_err.take()
        } else if Some(sink) == self.to_stdin {
            self.from_stdin.take()
        } else {
            None
        };
        if let Some(src) = src {
            relay.remove_source(src);
        }
    }

    fn next(&mut self, relay: &Relay) -> Next<i32> {
        let Some(code) = self.exit else {
            return Next::Wait(None);
        };
        // Once it exited: what it wrote is in the pty or the pipes already;
        // stop when they ended (or, if something else holds them open, a
        // round with nothing held back brought nothing more) and our stdout
        // and stderr have it all.
        let drained = [self.stdout, self.stderr]
            .into_iter()
            .flatten()
            .all(|s| relay.pending(s) == 0);
        if !drained {
            // Its sources may be held back this round: not a quiet one.
            self.quiet = false;
            return Next::Wait(Some(std::time::Duration::from_millis(20)));
        }
        let reading =
            self.from_master.is_some() || self.from_out.is_some() || self.from_err.is_some();
        if !reading || std::mem::replace(&mut self.quiet, true) {
            return Next::Done(code);
        }
        Next::Wait(Some(std::time::Duration::from_millis(20)))
    }
}

/// The error of a relay end that could not be set up: `relaying WHAT: CAUSE`.
fn relaying(what: &'static str) -> impl Fn(std::io::Error) -> Error {
    move |e| Error::msg(format!("relaying {what}: {e}"))
}
