//! Starting a container from the CLI: spawn its supervisor (the skiff binary
//! re-executed as `skiff _supervise`) and read what it reports on a status
//! pipe. Detached, the CLI returns once the container runs; in the
//! foreground the supervisor relays the CLI's own stdio, and the CLI proxies
//! signals and terminal resizes until the supervisor reports the exit.

use std::io::{BufRead, BufReader};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::process::{Command, Stdio};

use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;

use crate::runtime::{signal, tty};
use crate::state::container::Container;
use crate::supervisor::relay::{End, Handler, Next, Relay, SourceId};
use crate::{Context, Error, Result};

/// Where a foreground container's output goes when the CLI's own stdout
/// was moved (`--noout`, `--out`): the caller's original stdout, as
/// Podman leaves the container's output alone there.
static CONTAINER_STDOUT: std::sync::OnceLock<OwnedFd> = std::sync::OnceLock::new();

/// Sends foreground containers' stdout to `fd` instead of this process's
/// stdout (set once, before any container starts).
pub fn send_container_output_to(fd: OwnedFd) {
    let _ = CONTAINER_STDOUT.set(fd);
}

/// How the CLI stays connected to the container it starts.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Return once the container runs (`run -d`, `start`).
    Detached,
    /// Relay stdio and wait for the exit (`run`, `start -a`).
    Foreground {
        sig_proxy: bool,
        detach_keys: Option<String>,
        /// A build step: SIGINT, SIGTERM or SIGHUP kills the container
        /// instead of being relayed, and the launch ends with an error with
        /// exit code 128+signal once it is gone (the caller then cleans up).
        stop_on_interrupt: bool,
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

/// Held from the moment a launch makes a descriptor inheritable
/// ([`keep_across_exec`]) until it has spawned its supervisor and closed
/// its copy, so that launches on several threads (`pod start`) never give
/// one supervisor another's status pipe, which would keep that pipe open.
static INHERITABLE: std::sync::Mutex<()> = std::sync::Mutex::new(());

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
    super::requires::start_requirements(ctx, c)?;
    // A pod's container joins namespaces its infra container holds.
    if !c.config.pod.is_empty() && !c.config.infra {
        crate::pod::ensure_infra(ctx, &c.config.pod)?;
    }
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
    if !ctx.events {
        cmd.arg("--events-backend").arg("none");
    }
    // `run --preserve-fds N` (`runtime::fds::preserve`): the supervisor
    // hands them to the container's process.
    let preserved = crate::runtime::fds::preserved().len();
    if preserved > 0 {
        cmd.arg("--preserve-fds").arg(preserved.to_string());
    }
    // pasta takes tens of milliseconds to start: start it now, while the
    // supervisor starts, and hand it over.
    let mut ready_fd = None;
    let inheritable = INHERITABLE.lock().unwrap_or_else(|e| e.into_inner());
    // Undone here if the supervisor fails before it takes the network over.
    let mut begun = None;
    if matches!(
        crate::network::mode_of(&c.config),
        crate::network::Mode::Pasta(_)
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
            // Podman (terminal.StartAttachCtr) makes the caller's terminal raw
            // whenever the container has a tty, `-i` or not: else the pty's
            // "\r\n" goes through the caller's ONLCR again as "\r\r\n".
            raw = tty::RawMode::enable(std::io::stdin());
        }
        // `-a STREAM`: only the streams named are connected.
        let attach = c.config.attach.unwrap_or(crate::state::container::Attach {
            stdin: true,
            stdout: true,
            stderr: true,
        });
        let connect = |on: bool| if on { Stdio::inherit() } else { Stdio::null() };
        let stdout = match CONTAINER_STDOUT.get() {
            Some(fd) if attach.stdout => Stdio::from(fd.try_clone()?),
            _ => connect(attach.stdout),
        };
        cmd.stdin(connect(c.config.interactive && attach.stdin))
            .stdout(stdout)
            .stderr(connect(attach.stderr));
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
    crate::runtime::fds::pass_preserved();
    tracing::debug!("starting the supervisor of container {}", &c.id[..12]);
    let spawned = cmd.spawn();
    drop(status_w);
    drop(ready_fd);
    drop(inheritable);
    let undo = |e: Error| {
        if let Some(st) = &begun {
            crate::network::detach_or_warn(ctx, c, st);
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
    let (sig_proxy, stop_on_interrupt) = match mode {
        Mode::Detached => return Ok(Outcome::Running(pid)),
        Mode::Foreground {
            sig_proxy,
            stop_on_interrupt,
            ..
        } => (*sig_proxy, *stop_on_interrupt),
    };
    let sfd = SignalFd::with_flags(&proxied(), SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| Error::msg(format!("signalfd: {e}")))?;
    // Lines already buffered come first, then the rest through the relay.
    let text = reader.buffer().to_vec();
    let pipe = End::owned(OwnedFd::from(reader.into_inner()))
        .map_err(|e| Error::msg(format!("status pipe: {e}")))?;
    let mut relay = Relay::new();
    relay.add_source(pipe, &[]);
    let mut h = Status {
        sfd: &sfd,
        sig_proxy,
        stop_on_interrupt,
        interrupted: None,
        pid,
        resize,
        text,
        outcome: None,
    };
    h.take_lines();
    relay
        .run(&mut h)
        .map_err(|e| Error::msg(format!("poll: {e}")))?
}

/// The foreground CLI's loop: status lines from the supervisor, signals to
/// proxy, terminal resizes to pass on.
struct Status<'a> {
    sfd: &'a SignalFd,
    sig_proxy: bool,
    stop_on_interrupt: bool,
    /// The interrupt that killed the container (`stop_on_interrupt`).
    interrupted: Option<Signal>,
    pid: i32,
    resize: &'a dyn Fn(),
    /// Status bytes not yet parsed (a line may arrive in pieces).
    text: Vec<u8>,
    outcome: Option<Result<Outcome>>,
}

impl Status<'_> {
    fn take_lines(&mut self) {
        while self.outcome.is_none() {
            let Some(i) = self.text.iter().position(|&b| b == b'\n') else {
                return;
            };
            let line: Vec<u8> = self.text.drain(..=i).collect();
            match status_line(&String::from_utf8_lossy(&line)) {
                Ok(Some(o)) => self.outcome = Some(Ok(o)),
                Ok(None) => {}
                Err(e) => self.outcome = Some(Err(e)),
            }
        }
    }
}

impl Handler for Status<'_> {
    type Output = Result<Outcome>;

    fn watches(&self) -> Vec<BorrowedFd<'_>> {
        vec![self.sfd.as_fd()]
    }

    fn on_watch(&mut self, _relay: &mut Relay, _index: usize) {
        while let Ok(Some(info)) = self.sfd.read_signal() {
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGWINCH) => (self.resize)(),
                Ok(s @ (Signal::SIGINT | Signal::SIGTERM | Signal::SIGHUP))
                    if self.stop_on_interrupt && self.pid > 0 =>
                {
                    self.interrupted.get_or_insert(s);
                    let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
                }
                Ok(s) if self.sig_proxy && self.pid > 0 => {
                    let _ = kill(Pid::from_raw(self.pid), s);
                }
                _ => {}
            }
        }
    }

    fn on_data(&mut self, _relay: &mut Relay, _src: SourceId, data: &[u8]) {
        self.text.extend_from_slice(data);
        self.take_lines();
    }

    fn on_end(&mut self, _relay: &mut Relay, _src: SourceId) {
        self.outcome.get_or_insert_with(|| {
            Err(Error::msg(
                "the container's supervisor died; see skiff ps -a",
            ))
        });
    }

    fn next(&mut self, _relay: &Relay) -> Next<Result<Outcome>> {
        match (self.outcome.take(), self.interrupted) {
            (Some(_), Some(sig)) => Next::Done(Err(Error::with_code(
                128 + sig as i32,
                format!("interrupted by {sig}"),
            ))),
            (Some(o), None) => Next::Done(o),
            (None, _) => Next::Wait(None),
        }
    }
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
