//! The per-container supervisor (our conmon): the skiff binary re-executed as
//! `skiff _supervise`, detached from the CLI that started it. It creates the
//! container process, owns its stdio or pty, writes the k8s-file log, serves
//! the attach socket, reaps everything (it is a child subreaper), records the
//! exit, applies `--restart`, removes `--rm` containers and tells systemd.
//!
//! It is dispatched before the command-line parser and never touches image
//! or registry code, so that it stays small in memory.

pub mod health;
pub mod leftovers;
pub mod log;
pub mod notify;
pub mod protocol;
pub mod relay;
pub mod trim;

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::container::monitor::exit_code;
use crate::container::start::{finish_deferring, start_process, Finished};
use crate::runtime::process::ChildStdio;
use crate::state::container::{Container, LogDriver};
use crate::{Context, Error, Result};
use log::{LogWriter, Stream};
use protocol::{Decoder, DetachKeys};
use relay::{Relay, SinkId, SourceId, WhenFull};

/// Arguments of `skiff _supervise`.
#[derive(Debug, Default)]
pub struct Options {
    pub root: PathBuf,
    pub runroot: PathBuf,
    pub storage_driver: Option<String>,
    pub id: String,
    /// Pipe to the CLI that started us: `started`, `error`, `exited` lines.
    pub status_fd: Option<RawFd>,
    /// Initial terminal size (rows, cols) for `-t`.
    pub tty_size: Option<(u16, u16)>,
    /// Relay the container's stdio to and from our own stdio (foreground runs).
    pub foreground: bool,
    pub detach_keys: Option<String>,
    /// Network setup the CLI began for us (see `network::Early::hand_over`)
    /// and the descriptor that came with it.
    pub network_begun: Option<String>,
    pub network_fd: Option<RawFd>,
    /// `--events-backend none` of the CLI that started us: the supervisor
    /// records no events either (its died, health_status, restart...), as
    /// Podman's conmon cleanup inherits the engine's `events_logger`.
    pub no_events: bool,
    /// `run --preserve-fds N`: descriptors 3.. that the CLI passed on for
    /// the container's first process.
    pub preserve_fds: u32,
}

/// Parses our hidden command line: `_supervise --id ID [--status-fd N] ...`.
pub fn parse_args(args: &[String]) -> Option<Options> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--root" => o.root = it.next()?.into(),
            "--runroot" => o.runroot = it.next()?.into(),
            "--storage-driver" => o.storage_driver = Some(it.next()?.clone()),
            "--id" => o.id = it.next()?.clone(),
            "--status-fd" => o.status_fd = it.next()?.parse().ok(),
            "--tty-size" => {
                let (r, c) = it.next()?.split_once(',')?;
                o.tty_size = Some((r.parse().ok()?, c.parse().ok()?));
            }
            "--foreground" => o.foreground = true,
            "--detach-keys" => o.detach_keys = Some(it.next()?.clone()),
            "--network-begun" => o.network_begun = Some(it.next()?.clone()),
            "--network-fd" => o.network_fd = it.next()?.parse().ok(),
            "--events-backend" => o.no_events = it.next()? == "none",
            "--preserve-fds" => o.preserve_fds = it.next()?.parse().ok()?,
            _ => return None,
        }
    }
    (!o.id.is_empty()).then_some(o)
}

/// Where attach clients connect: short, because unix socket paths are
/// limited to 108 bytes.
pub fn attach_socket(ctx: &Context, id: &str) -> PathBuf {
    ctx.runroot.join("attach").join(&id[..12.min(id.len())])
}

/// The container's log file: `--log-opt path=`, else `userdata/ctr.log`
/// in the container's directory.
pub fn log_path(ctx: &Context, c: &Container) -> PathBuf {
    c.config
        .log
        .path
        .clone()
        .unwrap_or_else(|| ctx.container_dir(&c.id).join("userdata").join("ctr.log"))
}

struct Status_ {
    pipe: Option<File>,
}

impl Status_ {
    fn say(&mut self, line: &str) {
        if let Some(p) = &mut self.pipe {
            if p.write_all(format!("{line}\n").as_bytes()).is_err() {
                self.pipe = None;
            }
        }
    }
}

/// From here on, `tracing` warnings (a network teardown step that failed,
/// an exit that cannot be recorded) go to our stderr as the CLI prints
/// them: the user's terminal for a foreground container, nowhere for a
/// detached one (its stderr is /dev/null, as conmon's without a log
/// driver). Installed only once the container has exited, so the
/// subscriber costs a running supervisor no memory.
fn log_warnings() {
    crate::log::init(tracing::level_filters::LevelFilter::WARN);
}

/// Entry point of `skiff _supervise`; returns the process exit code.
pub fn main(args: &[String]) -> i32 {
    crate::log::mark_start();
    let Some(o) = parse_args(args) else {
        eprintln!("Error: _supervise: bad arguments");
        return 125;
    };
    if !o.foreground && std::env::var_os("NOTIFY_SOCKET").is_some() {
        leave_the_cli();
    }
    let _ = nix::unistd::setsid();
    let _ = nix::sys::prctl::set_child_subreaper(true);
    let ctx = Context {
        root: o.root.clone(),
        runroot: o.runroot.clone(),
        storage_driver: o.storage_driver.clone(),
        rootless: !nix::unistd::geteuid().is_root() || !crate::runtime::idmap::in_initial_userns(),
        uid: nix::unistd::getuid().as_raw(),
        gid: nix::unistd::getgid().as_raw(),
        events: !o.no_events,
    };
    // SAFETY: the CLI passed its status pipe for us alone (launch.rs), a
    // descriptor distinct from --network-fd, and it is taken only here.
    #[allow(unsafe_code)]
    let pipe = unsafe {
        o.status_fd
            .and_then(|fd| crate::runtime::fds::adopt_inherited(fd))
    };
    let mut status = Status_ {
        pipe: pipe.map(File::from),
    };
    if let Err(fd) = crate::runtime::fds::preserve(o.preserve_fds) {
        status.say(&format!(
            "error 125 {}",
            crate::runtime::fds::not_passed(fd)
        ));
        return 125;
    }
    // The container's exit code is ours (0 when it was stopped on
    // purpose): under systemd it is the unit's result (ExecMainStatus),
    // the supervisor being its main process.
    match supervise(&ctx, &o, &mut status) {
        Ok(code) => code,
        Err(e) => {
            status.say(&format!("error {} {}", e.exit_code(), e));
            125
        }
    }
}

/// Under systemd (`NOTIFY_SOCKET`), a detached supervisor forks once and
/// lets the process the CLI started exit: we are then the child of the
/// service manager (a subreaper) before we send `MAINPID`. A main process
/// that is not its child at that moment is one systemd does not wait for
/// on stop ("not our child"): it would SIGKILL us as soon as `ExecStop`
/// returns, before we record the exit, and fail the unit. As conmon, which
/// daemonizes the same way. Nothing to do when fork fails: we stay as we are.
fn leave_the_cli() {
    // SAFETY: called first thing in `_supervise`'s main, while the process
    // is single-threaded; the parent only calls `_exit`.
    #[allow(unsafe_code)]
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { .. }) => {
            // SAFETY: `_exit` is async-signal-safe and ends this process at once.
            #[allow(unsafe_code)]
            unsafe {
                libc::_exit(0)
            }
        }
        Ok(nix::unistd::ForkResult::Child) | Err(_) => {}
    }
}

fn handled_signals() -> SigSet {
    let mut s = crate::runtime::signal::set_of(&crate::runtime::signal::PROXIED);
    s.add(Signal::SIGCHLD);
    s.add(Signal::SIGPIPE);
    s
}

fn supervise(ctx: &Context, o: &Options, status: &mut Status_) -> Result<i32> {
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&handled_signals()), None)
        .map_err(|e| Error::msg(format!("blocking signals: {e}")))?;
    let sfd = SignalFd::with_flags(
        &handled_signals(),
        SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK,
    )
    .map_err(|e| Error::msg(format!("signalfd: {e}")))?;
    let store = crate::container::store(ctx);
    // One supervisor per container, whoever started us: held until we exit.
    let lock_path = ctx.container_run_dir(&o.id).join("supervisor.lock");
    let _one = crate::state::Lock::try_exclusive(&lock_path)?.ok_or_else(|| {
        Error::msg(format!(
            "container {} already has a supervisor",
            &o.id[..12.min(o.id.len())]
        ))
    })?;
    let sock_path = attach_socket(ctx, &o.id);
    if let Some(dir) = sock_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let _ = std::fs::remove_file(&sock_path);
    let listener = UnixListener::bind(&sock_path)
        .map_err(|e| Error::msg(crate::error::io_msg("listen", &sock_path, &e)))?;
    listener.set_nonblocking(true)?;
    let mut clients: Vec<Client> = Vec::new();
    let mut detach = DetachKeys::parse(o.detach_keys.as_deref().unwrap_or("ctrl-p,ctrl-q"))
        .map_err(Error::msg)?;
    let mut relay = Relay::new();
    let mut fg = if o.foreground {
        Some(Foreground::open(&mut relay)?)
    } else {
        None
    };
    // The CLI's stdin is relayed once; after its end it stays closed.
    let mut fg_stdin_taken = false;
    let mut backoff = Duration::from_millis(100);
    // The last record seen, for what follows the final exit.
    let mut last: Option<crate::state::container::Container> = None;
    // What the supervisor exits with: the last run's code, 0 when stopped.
    let mut exit_status;
    // The first start may finish what the CLI began; restarts begin anew.
    // SAFETY: the CLI passed pasta's readiness pipe for us alone (launch.rs),
    // a descriptor distinct from --status-fd, and it is taken only here.
    #[allow(unsafe_code)]
    let network_fd = unsafe {
        o.network_fd
            .and_then(|fd| crate::runtime::fds::adopt_inherited(fd))
    };
    let mut begun = match &o.network_begun {
        Some(line) => Some(crate::network::Early::take_over(
            line,
            network_fd.map(File::from),
        )?),
        None => None,
    };

    // The first start begins a new run; restarts under the policy go on with it.
    let mut again = false;
    loop {
        let mut c = store.get(&o.id)?;
        let mut log = if c.config.log.driver == LogDriver::K8sFile {
            let lp = log_path(ctx, &c);
            if let Some(dir) = lp.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Error::msg(crate::error::io_msg("mkdir", dir, &e)))?;
            }
            LogWriter::open(&lp, c.config.log.max_size)
                .map_err(|e| Error::msg(crate::error::io_msg("open", &lp, &e)))?
        } else {
            // `none` and `passthrough` keep no log.
            LogWriter::discard()
        };
        let mut io_ = ContainerIo::new(&c, o.tty_size)?;
        let console = io_.console.take();
        let io = io_;
        let (stdio, mut io) = io.split()?;
        let started = start_process(ctx, &mut c, stdio, begun.take(), again);
        // The first process has its copies of `--preserve-fds`; we let go.
        // SAFETY: the preserved descriptors are only ever named by number.
        #[allow(unsafe_code)]
        unsafe {
            crate::runtime::fds::release_preserved()
        };
        let pid = match started {
            Ok(pid) => pid,
            Err(e) => {
                let _ = std::fs::remove_file(&sock_path);
                return Err(e);
            }
        };
        if let Some(sock) = console {
            match crate::runtime::process::receive_console(&sock) {
                Ok(m) => io.master = Some(m),
                Err(e) => {
                    let _ = kill(pid, Signal::SIGKILL);
                    return Err(e.into());
                }
            }
        }
        // systemd's MAINPID (and READY=1 with --sdnotify=conmon) before the
        // CLI hears "started": the CLI is the unit's first main process and
        // exits on that word; should systemd see it exit before this
        // datagram is queued, a Type=notify unit fails with "protocol" (seen
        // under load in the VM lane).
        notify::ready_if_asked(c.config.sdnotify);
        status.say(&format!("started {}", pid.as_raw()));
        // Without a pid namespace of its own the container's processes do
        // not die with its init: remember what marks them.
        let shared_pid = c.config.extras.pid != crate::state::extras::NsMode::Private;
        let mount_ns = shared_pid
            .then(|| leftovers::mount_namespace(pid))
            .flatten()
            // Never our own: that would be everything skiff runs.
            .filter(|ns| Some(*ns) != leftovers::mount_namespace(nix::unistd::getpid()));

        if let Some(f) = fg.as_mut().filter(|_| !fg_stdin_taken) {
            if io.stdin_w.is_some() || io.master.is_some() {
                let e = relay::End::shared(std::io::stdin().as_fd(), false)
                    .map_err(|e| Error::msg(format!("relaying stdin: {e}")))?;
                f.input = Some(relay.add_source(e, &[]));
                fg_stdin_taken = true;
            }
        }
        let ctr = Ctr::register(&mut relay, &mut io, fg.as_ref())?;
        let feeds: Vec<SinkId> = ctr.input.into_iter().collect();
        for src in fg
            .iter()
            .filter_map(|f| f.input)
            .chain(clients.iter().map(|c| c.src))
        {
            relay.set_feeds(src, &feeds);
        }
        let health = health::HealthTimer::new(ctx, &c);
        let mut run = Supervise {
            pid,
            health,
            record: &c,
            ctx,
            health_restart: false,
            sfd: &sfd,
            listener: &listener,
            clients: &mut clients,
            log: &mut log,
            fg: &mut fg,
            detach: &mut detach,
            status,
            ctr,
            master: io.master.as_ref(),
            exit: None,
            exit_seen_at: None,
            quiet: false,
            // Trimming costs a read of /proc/self/smaps: not worth it for a
            // command that is over at once, and never on the way to reaping it.
            trim_at: Some(Instant::now() + trim::DELAY),
            kill_at: c
                .config
                .timeout
                .map(|t| Instant::now() + Duration::from_secs(t)),
        };
        // Should poll itself fail, the container is on its own; its code,
        // when known, is still the one to record.
        let code = match relay.run(&mut run) {
            Ok(code) => code,
            Err(_) => run.exit.unwrap_or(125),
        };
        exit_status = code;
        if let Some(ns) = mount_ns {
            let n = leftovers::kill_all(ns, Duration::from_secs(2));
            if n > 0 {
                tracing::debug!(n, "killed processes the container left after its init");
            }
        }
        let health_restart = run.health_restart;
        run.ctr.unregister(&mut relay);
        // The container's own code comes back even when its exit cannot be
        // recorded (a full disk): the record then still says running, and
        // the next command that finds us gone repairs it.
        let exit_frame = protocol::frame(protocol::EXIT, code.to_string().as_bytes());
        log_warnings();
        let Finished { retired, stopped } = match finish_deferring(ctx, &mut c, code, "") {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(%e, "cannot record the exit");
                for cl in &clients {
                    relay.push_always(cl.sink, &exit_frame);
                }
                status.say(&format!("exited {code}"));
                let sinks: Vec<SinkId> = clients.iter().map(|c| c.sink).collect();
                relay.drain(&sinks, Duration::from_secs(1));
                break;
            }
        };
        last = Some(c.clone());
        if stopped {
            // `stop` (a unit's ExecStop) or `rm -f`: a clean end for systemd,
            // whatever signal it took.
            exit_status = 0;
        }
        for cl in &mut clients {
            if cl.dropped > 0 {
                let n = std::mem::take(&mut cl.dropped).to_string();
                relay.push_always(cl.sink, &protocol::frame(protocol::DROPPED, n.as_bytes()));
            }
            relay.push_always(cl.sink, &exit_frame);
        }
        status.say(&format!("exited {code}"));
        let sinks: Vec<SinkId> = clients.iter().map(|c| c.sink).collect();
        relay.drain(&sinks, Duration::from_secs(1));
        if let Some(r) = retired {
            // Gone for every command already; the files can go after the report.
            let _ = r.delete();
            break;
        }
        // Was it stopped on purpose? Then no restart, whatever the policy.
        if stopped
            || !(health_restart
                || c.config
                    .restart_policy
                    .restarts(code, c.state.restart_count))
        {
            break;
        }
        if !crate::container::restart::count(ctx, &c.id)? {
            break;
        }
        if !backoff_or_stopped(ctx, &c.id, backoff)? {
            break;
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
        again = true;
    }
    let _ = std::fs::remove_file(&sock_path);
    // Down for good: a pod with `--exit-policy stop` may stop with it.
    let Some(c) = last else {
        return Ok(exit_status);
    };
    notify::stopping_if_asked(c.config.sdnotify);
    crate::pod::member_exited(ctx, &c);
    Ok(exit_status)
}

/// Sleeps before a restart; false when the container was stopped or removed
/// meanwhile (then it stays down, recorded as exited).
fn backoff_or_stopped(ctx: &Context, id: &str, backoff: Duration) -> Result<bool> {
    let deadline = Instant::now() + backoff;
    loop {
        if crate::container::restart::stay_down(ctx, id)? {
            return Ok(false);
        }
        if Instant::now() >= deadline {
            return Ok(true);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The supervisor's ends of the container's stdio.
struct ContainerIo {
    master: Option<OwnedFd>,
    /// Where the container sends its pty master (with `-t`).
    console: Option<OwnedFd>,
    stdin_w: Option<OwnedFd>,
    stdout_r: Option<OwnedFd>,
    stderr_r: Option<OwnedFd>,
    child: Option<ChildStdio>,
}

impl ContainerIo {
    fn new(c: &Container, tty_size: Option<(u16, u16)>) -> Result<ContainerIo> {
        if c.config.tty {
            let (ours, theirs) = crate::runtime::process::console_socket()?;
            let size = tty_size.map(|(rows, cols)| nix::pty::Winsize {
                ws_row: rows,
                ws_col: cols,
                ws_xpixel: 0,
                ws_ypixel: 0,
            });
            return Ok(ContainerIo {
                master: None,
                console: Some(ours),
                stdin_w: None,
                stdout_r: None,
                stderr_r: None,
                child: Some(ChildStdio::Console(theirs, size)),
            });
        }
        let p = || {
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                .map_err(|e| Error::msg(format!("pipe: {e}")))
        };
        let (out_r, out_w) = p()?;
        let (err_r, err_w) = p()?;
        let (in_r, in_w) = if c.config.interactive {
            let (r, w) = p()?;
            (r, Some(w))
        } else {
            let null = File::open("/dev/null")?;
            (OwnedFd::from(null), None)
        };
        Ok(ContainerIo {
            master: None,
            console: None,
            stdin_w: in_w,
            stdout_r: Some(out_r),
            stderr_r: Some(err_r),
            child: Some(ChildStdio::Fds(in_r, out_w, err_w)),
        })
    }

    fn split(mut self) -> Result<(ChildStdio, ContainerIo)> {
        let child = self
            .child
            .take()
            .ok_or_else(|| Error::msg("stdio already used"))?;
        Ok((child, self))
    }
}

/// Bytes an attach client may have queued before output for it is dropped.
/// Container output is never held up by a client: like conmon we keep the
/// container and its log moving, but where conmon writes to a stuck client
/// with a blocking write (and so stalls everything), we buffer this much and
/// then drop whole frames for that client alone, telling it how many bytes
/// it missed (a `DROPPED` frame) once it catches up. The log has them all.
pub const CLIENT_BUFFER: usize = 256 * 1024;

/// What a lossless sink (the container's stdin, the foreground CLI's
/// stdout and stderr) buffers before its sources wait.
pub const STREAM_BUFFER: usize = 64 * 1024;

/// One attach client: its socket read for frames and written with output.
struct Client {
    src: SourceId,
    sink: SinkId,
    decoder: Decoder,
    /// Output bytes dropped for it and not yet reported.
    dropped: u64,
}

/// The CLI's own stdio in a foreground run: relayed losslessly.
struct Foreground {
    out: SinkId,
    err: SinkId,
    input: Option<SourceId>,
}

impl Foreground {
    fn open(relay: &mut Relay) -> Result<Foreground> {
        // A closed stdout (`run ... >&-`) discards, as a write to it would fail.
        let end = |fd: BorrowedFd| {
            relay::End::shared(fd, true)
                .or_else(|_| {
                    let null = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
                    relay::End::owned(null.into())
                })
                .map_err(|e| Error::msg(format!("relaying stdio: {e}")))
        };
        let out = end(std::io::stdout().as_fd())?;
        let err = end(std::io::stderr().as_fd())?;
        Ok(Foreground {
            out: relay.add_sink(out, STREAM_BUFFER, WhenFull::Wait),
            err: relay.add_sink(err, STREAM_BUFFER, WhenFull::Wait),
            input: None,
        })
    }

    fn close(self, relay: &mut Relay) {
        relay.remove_sink(self.out);
        relay.remove_sink(self.err);
        if let Some(i) = self.input {
            relay.remove_source(i);
        }
    }
}

/// The container's side of the relay for one run.
#[derive(Default)]
struct Ctr {
    out: Option<SourceId>,
    err: Option<SourceId>,
    master: Option<SourceId>,
    /// The container's stdin pipe, or its pty master with `-t`.
    input: Option<SinkId>,
}

impl Ctr {
    fn register(relay: &mut Relay, io: &mut ContainerIo, fg: Option<&Foreground>) -> Result<Ctr> {
        let end = |fd: OwnedFd| {
            relay::End::owned(fd).map_err(|e| Error::msg(format!("container stdio: {e}")))
        };
        let mut c = Ctr::default();
        let (fg_out, fg_err) = match fg {
            Some(f) => (vec![f.out], vec![f.err]),
            None => (Vec::new(), Vec::new()),
        };
        if let Some(m) = &io.master {
            let e = end(m.try_clone()?)?;
            c.input = Some(relay.add_sink(e.try_clone()?, STREAM_BUFFER, WhenFull::Wait));
            c.master = Some(relay.add_source(e, &fg_out));
        }
        if let Some(w) = io.stdin_w.take() {
            c.input = Some(relay.add_sink(end(w)?, STREAM_BUFFER, WhenFull::Wait));
        }
        if let Some(r) = io.stdout_r.take() {
            c.out = Some(relay.add_source(end(r)?, &fg_out));
        }
        if let Some(r) = io.stderr_r.take() {
            c.err = Some(relay.add_source(end(r)?, &fg_err));
        }
        Ok(c)
    }

    fn outputs_open(&self) -> bool {
        self.out.is_some() || self.err.is_some() || self.master.is_some()
    }

    fn unregister(self, relay: &mut Relay) {
        for s in [self.out, self.err, self.master].into_iter().flatten() {
            relay.remove_source(s);
        }
        if let Some(i) = self.input {
            relay.remove_sink(i);
        }
    }
}

/// The supervisor's relay loop for one run of the container.
struct Supervise<'a> {
    pid: Pid,
    /// The healthcheck schedule of this run, if it has one.
    health: Option<health::HealthTimer>,
    /// The container's record as this run started.
    record: &'a Container,
    ctx: &'a Context,
    /// An unhealthy check asked for a restart (`--health-on-failure
    /// restart`): the container was killed and starts again whatever its
    /// restart policy.
    health_restart: bool,
    sfd: &'a SignalFd,
    listener: &'a UnixListener,
    clients: &'a mut Vec<Client>,
    log: &'a mut LogWriter,
    fg: &'a mut Option<Foreground>,
    detach: &'a mut DetachKeys,
    status: &'a mut Status_,
    ctr: Ctr,
    /// The pty master, for resizes.
    master: Option<&'a OwnedFd>,
    exit: Option<i32>,
    exit_seen_at: Option<Instant>,
    /// No container output arrived since the last round (after the exit:
    /// what the container wrote is all read).
    quiet: bool,
    trim_at: Option<Instant>,
    /// `--timeout`: when the container is killed if it still runs.
    kill_at: Option<Instant>,
}

impl Supervise<'_> {
    /// Sends an output frame (built once for every client) to an attach
    /// client; a client that lags loses frames (counted and reported to
    /// it), never the container its progress.
    fn to_client(relay: &mut Relay, cl: &mut Client, frame: &[u8]) {
        if cl.dropped > 0 {
            let note = protocol::frame(protocol::DROPPED, cl.dropped.to_string().as_bytes());
            if relay.push(cl.sink, &note) {
                cl.dropped = 0;
            }
        }
        if !relay.push(cl.sink, frame) {
            cl.dropped += relay.take_dropped(cl.sink);
        }
    }

    fn stop_foreground(&mut self, relay: &mut Relay) {
        if let Some(f) = self.fg.take() {
            f.close(relay);
        }
    }

    fn remove_client(&mut self, relay: &mut Relay, i: usize) {
        let cl = self.clients.remove(i);
        relay.remove_source(cl.src);
        relay.remove_sink(cl.sink);
    }

    fn send_stdin(&mut self, relay: &mut Relay, data: &[u8]) {
        if let Some(i) = self.ctr.input {
            relay.push(i, data);
        }
    }

    fn stdin_ended(&mut self, relay: &mut Relay) {
        // A pty stays open: it is the container's output as well.
        if let (Some(i), false) = (self.ctr.input, self.master.is_some()) {
            relay.close_after_drain(i);
        }
    }
}

impl relay::Handler for Supervise<'_> {
    type Output = i32;

    fn watches(&self) -> Vec<BorrowedFd<'_>> {
        vec![self.sfd.as_fd(), self.listener.as_fd()]
    }

    fn on_watch(&mut self, relay: &mut Relay, index: usize) {
        if index == 0 {
            while let Ok(Some(info)) = self.sfd.read_signal() {
                match Signal::try_from(info.ssi_signo as i32) {
                    Ok(Signal::SIGCHLD) | Ok(Signal::SIGPIPE) => {}
                    // systemd or a user stopping the supervisor stops the container.
                    Ok(sig) => {
                        let _ = kill(self.pid, sig);
                    }
                    Err(_) => {}
                }
            }
            // Reap everything: we are a subreaper for the container's
            // orphans and for fuse-overlayfs.
            loop {
                match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) | Err(_) => break,
                    Ok(st) => {
                        if st.pid() == Some(self.pid) {
                            self.exit = exit_code(st);
                            self.exit_seen_at = Some(Instant::now());
                            self.quiet = false;
                        } else if let (Some(h), Some(p)) = (self.health.as_mut(), st.pid()) {
                            if h.reaped(self.ctx, p, exit_code(st), self.record) {
                                self.health_restart = true;
                                let _ = kill(self.pid, Signal::SIGKILL);
                            }
                        }
                    }
                }
            }
            return;
        }
        while let Ok((s, _)) = self.listener.accept() {
            let Ok(end) = relay::End::owned(OwnedFd::from(s)) else {
                continue;
            };
            let Ok(out) = end.try_clone() else { continue };
            let feeds: Vec<SinkId> = self.ctr.input.into_iter().collect();
            self.clients.push(Client {
                src: relay.add_source(end, &feeds),
                sink: relay.add_sink(out, CLIENT_BUFFER, WhenFull::Drop),
                decoder: Decoder::default(),
                dropped: 0,
            });
        }
    }

    fn on_data(&mut self, relay: &mut Relay, src: SourceId, data: &[u8]) {
        let stream = if Some(src) == self.ctr.err {
            Some(Stream::Stderr)
        } else if Some(src) == self.ctr.out || Some(src) == self.ctr.master {
            Some(Stream::Stdout)
        } else {
            None
        };
        if let Some(stream) = stream {
            self.quiet = false;
            self.log.write(stream, data);
            if let Some(f) = self.fg.as_ref() {
                relay.push(
                    if stream == Stream::Stdout {
                        f.out
                    } else {
                        f.err
                    },
                    data,
                );
            }
            if !self.clients.is_empty() {
                let kind = if stream == Stream::Stdout {
                    protocol::STDOUT
                } else {
                    protocol::STDERR
                };
                let frame = protocol::frame(kind, data);
                for cl in self.clients.iter_mut() {
                    Self::to_client(relay, cl, &frame);
                }
            }
            return;
        }
        if self.fg.as_ref().is_some_and(|f| f.input == Some(src)) {
            let (pass, detached) = if self.master.is_some() {
                self.detach.feed(data)
            } else {
                (data.to_vec(), false)
            };
            self.send_stdin(relay, &pass);
            if detached {
                self.stop_foreground(relay);
                self.status.say("detached");
            }
            return;
        }
        let Some(i) = self.clients.iter().position(|c| c.src == src) else {
            return;
        };
        self.clients[i].decoder.push(data);
        while let Some((kind, payload)) = self.clients[i].decoder.next_frame() {
            match kind {
                protocol::STDIN => self.send_stdin(relay, &payload),
                protocol::STDIN_EOF => self.stdin_ended(relay),
                protocol::RESIZE => resize(self.master, &payload),
                _ => {}
            }
        }
    }

    fn on_end(&mut self, relay: &mut Relay, src: SourceId) {
        for s in [&mut self.ctr.out, &mut self.ctr.err, &mut self.ctr.master] {
            if *s == Some(src) {
                *s = None;
                return;
            }
        }
        if let Some(f) = self.fg.as_mut().filter(|f| f.input == Some(src)) {
            f.input = None;
            self.stdin_ended(relay);
            return;
        }
        if let Some(i) = self.clients.iter().position(|c| c.src == src) {
            self.remove_client(relay, i);
        }
    }

    fn on_sink_lost(&mut self, relay: &mut Relay, sink: SinkId) {
        // The CLI's stdout went away (`run ... | head -c1`): stop relaying
        // to it; the log goes on.
        if self
            .fg
            .as_ref()
            .is_some_and(|f| f.out == sink || f.err == sink)
        {
            self.stop_foreground(relay);
            return;
        }
        if let Some(i) = self.clients.iter().position(|c| c.sink == sink) {
            self.remove_client(relay, i);
        }
    }

    fn next(&mut self, relay: &Relay) -> relay::Next<i32> {
        if self.trim_at.is_some_and(|t| Instant::now() >= t) && self.exit.is_none() {
            trim::release_startup_memory();
            self.trim_at = None;
        }
        if self.kill_at.is_some_and(|t| Instant::now() >= t) && self.exit.is_none() {
            // Our own unreaped child: its pid names it still.
            let _ = kill(self.pid, Signal::SIGKILL);
            self.kill_at = None;
        }
        if let Some(code) = self.exit {
            // Give the last output a moment to arrive, then stop once the
            // foreground CLI has it all.
            let waited = self.exit_seen_at.map(|t| t.elapsed()).unwrap_or_default();
            let fg_pending = self
                .fg
                .as_ref()
                .map(|f| relay.pending(f.out) + relay.pending(f.err))
                .unwrap_or(0);
            if fg_pending > 0 {
                // Its sources may be held back this round: not a quiet one.
                self.quiet = false;
                return relay::Next::Wait(Some(Duration::from_millis(100)));
            }
            // The container has a pid namespace of its own: every process
            // of it died with its init, so what they wrote is in the pipes
            // already, and a round that reads nothing more has it all,
            // whoever else may still hold the pipes open (a helper that
            // inherited them must not hold up the exit's record).
            let all_read = std::mem::replace(&mut self.quiet, true);
            if !self.ctr.outputs_open() || all_read || waited > Duration::from_secs(2) {
                if self.ctr.outputs_open() {
                    tracing::debug!("the container's output pipes are still open after its exit");
                }
                return relay::Next::Done(code);
            }
            return relay::Next::Wait(Some(Duration::from_millis(5)));
        }
        if let Some(h) = self.health.as_mut() {
            h.tick();
        }
        let health_due = self.health.as_ref().map(|h| h.due());
        relay::Next::Wait(
            [self.trim_at, self.kill_at, health_due]
                .into_iter()
                .flatten()
                .min()
                .map(|t| t.saturating_duration_since(Instant::now()) + Duration::from_millis(1)),
        )
    }
}

fn resize(master: Option<&OwnedFd>, data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut it = text
        .split_whitespace()
        .map(|x| x.parse::<u16>().unwrap_or(0));
    if let (Some(rows), Some(cols), Some(m)) = (it.next(), it.next(), master) {
        crate::runtime::tty::set_window_size(m.as_raw_fd(), rows, cols);
    }
}
