//! Starting a container from the CLI: spawn its supervisor (the skiff binary
//! re-executed as `skiff _supervise`) and read what it reports on a status
//! pipe. Detached, the CLI returns once the container runs; in the
//! foreground the supervisor relays the CLI's own stdio, and the CLI proxies
//! signals and terminal resizes until the supervisor reports the exit.

use std::io::{BufRead, BufReader};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::{Command, Stdio};

use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;

use crate::runtime::{signal, tty};
use crate::state::container::Container;
use crate::{Context, Error, Result};

/// How the CLI stays connected to the container it starts.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Return once the container runs (`run -d`, `start`).
    Detached,
    /// Relay stdio and wait for the exit (`run`, `start -a`).
    Foreground {
        sig_proxy: bool,
        detach_keys: Option<String>,
    },
}

/// What happened to a started container.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Detached: the container runs with this pid.
    Running(i32),
    /// Foreground: the container exited with this code.
    Exited(i32),
    /// Foreground: the user detached with the detach keys.
    Detached,
}

fn keep_across_exec(fd: &impl AsRawFd) -> Result<()> {
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::empty()))
        .map(|_| ())
        .map_err(|e| Error::msg(format!("fcntl: {e}")))
}

fn proxied() -> SigSet {
    let mut s = signal::set_of(&signal::PROXIED);
    s.add(Signal::SIGWINCH);
    s
}

/// Starts `c` under a new supervisor.
pub fn launch(ctx: &Context, c: &Container, mode: Mode) -> Result<Outcome> {
    let foreground = matches!(mode, Mode::Foreground { .. });
    let (status_r, status_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::msg(format!("pipe: {e}")))?;
    let mut cmd = Command::new("/proc/self/exe");
    cmd.arg("_supervise")
        .arg("--root")
        .arg(&ctx.root)
        .arg("--runroot")
        .arg(&ctx.runroot)
        .arg("--id")
        .arg(&c.id)
        .arg("--status-fd")
        .arg(status_w.as_raw_fd().to_string());
    if let Some(d) = &ctx.storage_driver {
        cmd.arg("--storage-driver").arg(d);
    }
    // pasta takes tens of milliseconds to start: start it now, while the
    // supervisor starts, and hand it over.
    let mut ready_fd = None;
    // Undone here if the supervisor fails before it takes the network over.
    let mut begun = None;
    if matches!(
        crate::network::mode_of(&c.config),
        Ok(crate::network::Mode::Pasta(_))
    ) {
        if let Some(early) = crate::network::begin(ctx, c)? {
            begun = Some(early.undo_state());
            let (line, ready) = early.hand_over();
            cmd.arg("--network-begun").arg(line);
            if let Some(f) = ready {
                keep_across_exec(&f)?;
                cmd.arg("--network-fd").arg(f.as_raw_fd().to_string());
                ready_fd = Some(f);
            }
        }
    }
    let mut raw = None;
    if let Mode::Foreground { detach_keys, .. } = &mode {
        cmd.arg("--foreground");
        if let Some(k) = detach_keys {
            cmd.arg("--detach-keys").arg(k);
        }
        if c.config.tty {
            if let Some(ws) = tty::window_size(std::io::stdin().as_raw_fd()) {
                cmd.arg("--tty-size")
                    .arg(format!("{},{}", ws.ws_row, ws.ws_col));
            }
            if c.config.interactive {
                raw = tty::RawMode::enable(std::io::stdin().as_raw_fd());
            }
        }
        cmd.stdin(if c.config.interactive {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    } else {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
    }
    // Block the signals we proxy before the supervisor exists, so none is lost.
    if foreground {
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&proxied()), None)
            .map_err(|e| Error::msg(format!("sigprocmask: {e}")))?;
    }
    // Only now, so that pasta (started above) does not inherit the pipe too.
    keep_across_exec(&status_w)?;
    let spawned = cmd.spawn();
    drop(status_w);
    drop(ready_fd);
    let undo = |e: Error| {
        if let Some(st) = &begun {
            let _ = crate::network::detach(ctx, c, st);
        }
        e
    };
    let mut child =
        spawned.map_err(|e| undo(Error::msg(format!("starting the supervisor: {e}"))))?;
    let resize = || {
        if c.config.tty {
            super::attach::send_resize(ctx, &c.id);
        }
    };
    let result = read_status(status_r, &mode, &resize).map_err(undo);
    drop(raw);
    if foreground {
        let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&proxied()), None);
    }
    // The supervisor outlives us when detached; in the foreground it is done
    // (or detached from us) and will be reparented when we exit.
    if !matches!(result, Ok(Outcome::Running(_)) | Ok(Outcome::Detached)) {
        let _ = child.try_wait();
    }
    result
}

fn parse_error(rest: &str) -> Error {
    let (code, msg) = rest.split_once(' ').unwrap_or(("125", rest));
    Error::with_code(code.parse().unwrap_or(125), msg.to_string())
}

fn read_status(status_r: OwnedFd, mode: &Mode, resize: &dyn Fn()) -> Result<Outcome> {
    let mut reader = BufReader::new(std::fs::File::from(status_r));
    let mut line = String::new();
    // First line: started or error.
    if reader.read_line(&mut line)? == 0 {
        return Err(Error::msg(
            "the container's supervisor exited before starting it",
        ));
    }
    let pid: i32 = match line.trim_end().split_once(' ') {
        Some(("started", p)) => p.parse().unwrap_or(0),
        Some(("error", rest)) => return Err(parse_error(rest)),
        _ => {
            return Err(Error::msg(format!(
                "unexpected supervisor message: {}",
                line.trim_end()
            )))
        }
    };
    let sig_proxy = match mode {
        Mode::Detached => return Ok(Outcome::Running(pid)),
        Mode::Foreground { sig_proxy, .. } => *sig_proxy,
    };
    let sfd = SignalFd::with_flags(&proxied(), SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| Error::msg(format!("signalfd: {e}")))?;
    let raw_status = reader.get_ref().as_raw_fd();
    loop {
        // Lines already buffered come first.
        if !reader.buffer().is_empty() {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                break;
            }
            if let Some(o) = status_line(&line)? {
                return Ok(o);
            }
            continue;
        }
        let mut fds = [
            PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
            PollFd::new(reader.get_ref().as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::msg(format!("poll: {e}"))),
        }
        let sig_ready = fds[0].revents().is_some_and(|r| !r.is_empty());
        let st_ready = fds[1].revents().is_some_and(|r| !r.is_empty());
        if sig_ready {
            while let Ok(Some(info)) = sfd.read_signal() {
                match Signal::try_from(info.ssi_signo as i32) {
                    Ok(Signal::SIGWINCH) => resize(),
                    Ok(s) if sig_proxy && pid > 0 => {
                        let _ = kill(Pid::from_raw(pid), s);
                    }
                    _ => {}
                }
            }
        }
        if st_ready {
            line.clear();
            let _ = raw_status;
            if reader.read_line(&mut line)? == 0 {
                break;
            }
            if let Some(o) = status_line(&line)? {
                return Ok(o);
            }
        }
    }
    Err(Error::msg(
        "the container's supervisor died; see skiff ps -a",
    ))
}

fn status_line(line: &str) -> Result<Option<Outcome>> {
    let line = line.trim_end();
    Ok(match line.split_once(' ') {
        Some(("exited", code)) => Some(Outcome::Exited(code.parse().unwrap_or(125))),
        Some(("error", rest)) => return Err(parse_error(rest)),
        _ if line == "detached" => Some(Outcome::Detached),
        _ => None,
    })
}
