//! Waiting for a container in the foreground: reap it, forward signals to it
//! (`--sig-proxy`), and relay a pty between the user's terminal and the
//! container. One thread, one poll loop over a signalfd and the streams.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::runtime::{signal, tty};
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

fn write_all(fd: impl AsFd, mut buf: &[u8]) -> bool {
    while !buf.is_empty() {
        match nix::unistd::write(&fd, buf) {
            Ok(0) => return false,
            Ok(n) => buf = &buf[n..],
            Err(nix::errno::Errno::EINTR) | Err(nix::errno::Errno::EAGAIN) => continue,
            Err(_) => return false,
        }
    }
    true
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
    mut detach: Option<crate::supervisor::protocol::DetachKeys>,
) -> Result<i32> {
    let sfd = SignalFd::with_flags(&handled(), SfdFlags::SFD_CLOEXEC)
        .map_err(|e| Error::msg(format!("signalfd: {e}")))?;
    if let Some(code) = reap(pid) {
        return Ok(code);
    }
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let _raw = match &master {
        Some(_) if stdin_open => tty::RawMode::enable(stdin.as_raw_fd()),
        _ => None,
    };
    let mut stdin_live = master.is_some() && stdin_open;
    let mut master_live = master.is_some();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        let m_idx = master.as_ref().filter(|_| master_live).map(|m| {
            fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        let i_idx = stdin_live.then(|| {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::msg(format!("poll: {e}"))),
        }
        let ready = |i: usize| {
            fds[i].revents().is_some_and(|r| {
                r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
            })
        };
        let sig_ready = ready(0);
        let m_ready = m_idx.is_some_and(ready);
        let i_ready = i_idx.is_some_and(ready);
        drop(fds);

        if m_ready {
            let m = master.as_ref().expect("index exists only with a master");
            match nix::unistd::read(m.as_raw_fd(), &mut buf) {
                Ok(n) if n > 0 => {
                    write_all(stdout.as_fd(), &buf[..n]);
                }
                Err(nix::errno::Errno::EINTR) | Err(nix::errno::Errno::EAGAIN) => {}
                _ => master_live = false,
            }
        }
        if i_ready {
            let m = master
                .as_ref()
                .expect("stdin is relayed only with a master");
            match nix::unistd::read(stdin.as_raw_fd(), &mut buf) {
                Ok(n) if n > 0 => {
                    let (pass, detached) = match detach.as_mut() {
                        Some(k) => k.feed(&buf[..n]),
                        None => (buf[..n].to_vec(), false),
                    };
                    write_all(m.as_fd(), &pass);
                    if detached {
                        return Ok(0);
                    }
                }
                Err(nix::errno::Errno::EINTR) | Err(nix::errno::Errno::EAGAIN) => {}
                _ => stdin_live = false,
            }
        }
        if sig_ready {
            if let Ok(Some(info)) = sfd.read_signal() {
                let sig = Signal::try_from(info.ssi_signo as i32).ok();
                match sig {
                    Some(Signal::SIGCHLD) => {}
                    Some(Signal::SIGWINCH) => {
                        if let Some(m) = &master {
                            tty::copy_window_size(stdin.as_raw_fd(), m.as_raw_fd());
                        }
                    }
                    Some(Signal::SIGPIPE) => {}
                    Some(s) if sig_proxy => {
                        let _ = kill(pid, s);
                    }
                    _ => {}
                }
            }
            if let Some(code) = reap(pid) {
                // Drain what the container wrote before it exited.
                if let Some(m) = master.as_ref().filter(|_| master_live) {
                    let _ = nix::fcntl::fcntl(
                        m.as_raw_fd(),
                        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
                    );
                    while let Ok(n) = nix::unistd::read(m.as_raw_fd(), &mut buf) {
                        if n == 0 || !write_all(stdout.as_fd(), &buf[..n]) {
                            break;
                        }
                    }
                }
                return Ok(code);
            }
        }
    }
}
