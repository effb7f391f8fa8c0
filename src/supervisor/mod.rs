//! The per-container supervisor (our conmon): the skiff binary re-executed as
//! `skiff _supervise`, detached from the CLI that started it. It creates the
//! container process, owns its stdio or pty, writes the k8s-file log, serves
//! the attach socket, reaps everything (it is a child subreaper), records the
//! exit, applies `--restart`, removes `--rm` containers and tells systemd.
//!
//! It is dispatched before the command-line parser and never touches image
//! or registry code, so that it stays small in memory.

pub mod log;
pub mod notify;
pub mod protocol;
pub mod trim;

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::container::monitor::exit_code;
use crate::container::start::{finish_deferring, start_process, Finished};
use crate::runtime::process::ChildStdio;
use crate::state::container::Container;
use crate::{Context, Error, Result};
use log::{LogWriter, Stream};
use protocol::{Decoder, DetachKeys};

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

/// The container's log file.
pub fn log_path(ctx: &Context, id: &str) -> PathBuf {
    ctx.container_dir(id).join("userdata").join("ctr.log")
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

/// Entry point of `skiff _supervise`; returns the process exit code.
pub fn main(args: &[String]) -> i32 {
    let Some(o) = parse_args(args) else {
        eprintln!("Error: _supervise: bad arguments");
        return 125;
    };
    let _ = nix::unistd::setsid();
    let _ = nix::sys::prctl::set_child_subreaper(true);
    let ctx = Context {
        root: o.root.clone(),
        runroot: o.runroot.clone(),
        storage_driver: o.storage_driver.clone(),
        rootless: !nix::unistd::geteuid().is_root() || !crate::runtime::idmap::in_initial_userns(),
        uid: nix::unistd::getuid().as_raw(),
        gid: nix::unistd::getgid().as_raw(),
    };
    let mut status = Status_ {
        // SAFETY: the CLI handed us this descriptor for our exclusive use.
        pipe: o.status_fd.map(unsafe_file),
    };
    match supervise(&ctx, &o, &mut status) {
        Ok(()) => 0,
        Err(e) => {
            status.say(&format!("error {} {}", e.exit_code(), e));
            125
        }
    }
}

/// Takes a descriptor the CLI passed us, and keeps it from the processes we
/// start (pasta, the container).
#[allow(unsafe_code)]
fn unsafe_file(fd: RawFd) -> File {
    // SAFETY: called once per descriptor number passed on our command line,
    // which the parent left open for us and nothing else owns.
    let f = unsafe { File::from_raw_fd(fd) };
    let _ = nix::fcntl::fcntl(
        f.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    f
}

fn handled_signals() -> SigSet {
    let mut s = crate::runtime::signal::set_of(&crate::runtime::signal::PROXIED);
    s.add(Signal::SIGCHLD);
    s.add(Signal::SIGPIPE);
    s
}

fn restart_wanted(c: &Container, code: i32) -> bool {
    let policy = c.config.restart_policy.as_str();
    match policy.split_once(':') {
        Some(("on-failure", n)) => code != 0 && c.state.restart_count < n.parse().unwrap_or(0),
        _ => match policy {
            "always" | "unless-stopped" => true,
            "on-failure" => code != 0,
            _ => false,
        },
    }
}

fn supervise(ctx: &Context, o: &Options, status: &mut Status_) -> Result<()> {
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
    let mut fg = o.foreground;
    let mut backoff = Duration::from_millis(100);
    // The first start may finish what the CLI began; restarts begin anew.
    let mut begun = match &o.network_begun {
        Some(line) => Some(crate::network::Early::take_over(
            line,
            o.network_fd.map(unsafe_file),
        )?),
        None => None,
    };

    loop {
        let mut c = store.get(&o.id)?;
        let lp = log_path(ctx, &c.id);
        if let Some(dir) = lp.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::msg(crate::error::io_msg("mkdir", dir, &e)))?;
        }
        let mut log =
            LogWriter::open(&lp).map_err(|e| Error::msg(crate::error::io_msg("open", &lp, &e)))?;
        let mut io_ = ContainerIo::new(&c, o.tty_size)?;
        let console = io_.console.take();
        let io = io_;
        let (stdio, mut io) = io.split()?;
        let pid = match start_process(ctx, &mut c, stdio, begun.take()) {
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
        status.say(&format!("started {}", pid.as_raw()));
        notify::ready_if_asked(&c.config.sdnotify);

        let code = event_loop(
            pid,
            &sfd,
            &listener,
            &mut clients,
            &mut io,
            &mut log,
            &mut fg,
            &mut detach,
            status,
        );
        // Was it stopped on purpose? Then no restart, whatever the policy.
        // The container's own code comes back even when its exit cannot be
        // recorded (a full disk): the record then still says running, and
        // the next command that finds us gone repairs it.
        let Finished { retired, stopped } = match finish_deferring(ctx, &mut c, code, "") {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(%e, "cannot record the exit");
                for cl in &mut clients {
                    cl.send(protocol::EXIT, code.to_string().as_bytes());
                }
                status.say(&format!("exited {code}"));
                break;
            }
        };
        for cl in &mut clients {
            cl.send(protocol::EXIT, code.to_string().as_bytes());
        }
        status.say(&format!("exited {code}"));
        if let Some(r) = retired {
            // Gone for every command already; the files can go after the report.
            let _ = r.delete();
            break;
        }
        if stopped || !restart_wanted(&c, code) {
            break;
        }
        if !crate::container::restart::count(ctx, &c.id)? {
            break;
        }
        if !backoff_or_stopped(ctx, &c.id, backoff)? {
            break;
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
    let _ = std::fs::remove_file(&sock_path);
    Ok(())
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

struct Client {
    stream: UnixStream,
    decoder: Decoder,
    alive: bool,
}

impl Client {
    fn send(&mut self, kind: u8, data: &[u8]) {
        if self.alive && self.stream.write_all(&protocol::frame(kind, data)).is_err() {
            self.alive = false;
        }
    }
}

fn write_fd(fd: BorrowedFd, mut buf: &[u8]) -> bool {
    while !buf.is_empty() {
        match nix::unistd::write(fd, buf) {
            Ok(0) => return false,
            Ok(n) => buf = &buf[n..],
            Err(nix::errno::Errno::EINTR) | Err(nix::errno::Errno::EAGAIN) => continue,
            Err(_) => return false,
        }
    }
    true
}

fn read_fd(fd: RawFd, buf: &mut [u8]) -> Option<usize> {
    match nix::unistd::read(fd, buf) {
        Ok(0) => None,
        Ok(n) => Some(n),
        Err(nix::errno::Errno::EINTR) | Err(nix::errno::Errno::EAGAIN) => Some(0),
        Err(_) => None,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Src {
    Signal,
    Listener,
    Master,
    Stdout,
    Stderr,
    FgStdin,
    Client(usize),
}

#[allow(clippy::too_many_arguments)]
fn event_loop(
    pid: Pid,
    sfd: &SignalFd,
    listener: &UnixListener,
    clients: &mut Vec<Client>,
    io: &mut ContainerIo,
    log: &mut LogWriter,
    fg: &mut bool,
    detach: &mut DetachKeys,
    status: &mut Status_,
) -> i32 {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let mut fg_stdin = *fg && (io.stdin_w.is_some() || io.master.is_some());
    let mut exit: Option<i32> = None;
    let mut exit_seen_at: Option<Instant> = None;
    // Trimming costs a read of /proc/self/smaps: not worth it for a command
    // that is over at once, and never on the way to reaping it.
    let mut trim_at = Some(Instant::now() + trim::DELAY);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if trim_at.is_some_and(|t| Instant::now() >= t) && exit.is_none() {
            trim::release_clean_file_pages();
            trim_at = None;
        }
        let outputs_open = io.master.is_some() || io.stdout_r.is_some() || io.stderr_r.is_some();
        if let Some(code) = exit {
            // Give the last output a moment to arrive, then stop.
            let waited = exit_seen_at.map(|t| t.elapsed()).unwrap_or_default();
            if !outputs_open || waited > Duration::from_secs(2) {
                return code;
            }
        }
        let mut srcs = vec![Src::Signal, Src::Listener];
        let mut fds = vec![
            PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
            PollFd::new(listener.as_fd(), PollFlags::POLLIN),
        ];
        if let Some(m) = &io.master {
            srcs.push(Src::Master);
            fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
        }
        if let Some(f) = &io.stdout_r {
            srcs.push(Src::Stdout);
            fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
        }
        if let Some(f) = &io.stderr_r {
            srcs.push(Src::Stderr);
            fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
        }
        if fg_stdin {
            srcs.push(Src::FgStdin);
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        for (i, cl) in clients.iter().enumerate() {
            srcs.push(Src::Client(i));
            fds.push(PollFd::new(cl.stream.as_fd(), PollFlags::POLLIN));
        }
        let timeout = match (exit, trim_at) {
            (Some(_), _) => PollTimeout::from(100u16),
            (None, Some(t)) => {
                let ms = t.saturating_duration_since(Instant::now()).as_millis() + 1;
                PollTimeout::from(u16::try_from(ms).unwrap_or(u16::MAX))
            }
            (None, None) => PollTimeout::NONE,
        };
        match poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return exit.unwrap_or(125),
        }
        let ready: Vec<Src> = fds
            .iter()
            .zip(srcs.iter())
            .filter(|(f, _)| {
                f.revents().is_some_and(|r| {
                    r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
                })
            })
            .map(|(_, s)| *s)
            .collect();
        drop(fds);
        for src in ready {
            match src {
                Src::Signal => {
                    while let Ok(Some(info)) = sfd.read_signal() {
                        match Signal::try_from(info.ssi_signo as i32) {
                            Ok(Signal::SIGCHLD) | Ok(Signal::SIGPIPE) => {}
                            // systemd or a user stopping the supervisor stops the container.
                            Ok(sig) => {
                                let _ = kill(pid, sig);
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
                                if st.pid() == Some(pid) {
                                    exit = exit_code(st);
                                    exit_seen_at = Some(Instant::now());
                                }
                            }
                        }
                    }
                }
                Src::Listener => {
                    while let Ok((s, _)) = listener.accept() {
                        let _ = s.set_nonblocking(true);
                        clients.push(Client {
                            stream: s,
                            decoder: Decoder::default(),
                            alive: true,
                        });
                    }
                }
                Src::Master | Src::Stdout | Src::Stderr => {
                    let (fd, stream) = match src {
                        Src::Master => (io.master.as_ref().map(|f| f.as_raw_fd()), Stream::Stdout),
                        Src::Stdout => {
                            (io.stdout_r.as_ref().map(|f| f.as_raw_fd()), Stream::Stdout)
                        }
                        _ => (io.stderr_r.as_ref().map(|f| f.as_raw_fd()), Stream::Stderr),
                    };
                    let Some(fd) = fd else { continue };
                    match read_fd(fd, &mut buf) {
                        Some(0) => {}
                        Some(n) => {
                            let data = &buf[..n];
                            log.write(stream, data);
                            if *fg {
                                let ok = match stream {
                                    Stream::Stdout => write_fd(stdout.as_fd(), data),
                                    Stream::Stderr => write_fd(stderr.as_fd(), data),
                                };
                                if !ok {
                                    *fg = false;
                                    fg_stdin = false;
                                }
                            }
                            let kind = if stream == Stream::Stdout {
                                protocol::STDOUT
                            } else {
                                protocol::STDERR
                            };
                            for cl in clients.iter_mut() {
                                cl.send(kind, data);
                            }
                        }
                        None => match src {
                            Src::Master => io.master = None,
                            Src::Stdout => io.stdout_r = None,
                            _ => io.stderr_r = None,
                        },
                    }
                }
                Src::FgStdin => match read_fd(stdin.as_raw_fd(), &mut buf) {
                    Some(0) => {}
                    Some(n) => {
                        let (pass, detached) = if io.master.is_some() {
                            detach.feed(&buf[..n])
                        } else {
                            (buf[..n].to_vec(), false)
                        };
                        to_container(io, &pass);
                        if detached {
                            *fg = false;
                            fg_stdin = false;
                            status.say("detached");
                        }
                    }
                    None => {
                        fg_stdin = false;
                        io.stdin_w = None;
                    }
                },
                Src::Client(i) => {
                    let mut chunk = [0u8; 16 * 1024];
                    let cl = &mut clients[i];
                    match std::io::Read::read(&mut cl.stream, &mut chunk) {
                        Ok(0) => cl.alive = false,
                        Ok(n) => {
                            cl.decoder.push(&chunk[..n]);
                            while let Some((kind, data)) = cl.decoder.next_frame() {
                                match kind {
                                    protocol::STDIN => to_container(io, &data),
                                    protocol::STDIN_EOF => io.stdin_w = None,
                                    protocol::RESIZE => resize(io, &data),
                                    _ => {}
                                }
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => cl.alive = false,
                    }
                }
            }
        }
        clients.retain(|c| c.alive);
    }
}

fn to_container(io: &ContainerIo, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    if let Some(m) = &io.master {
        write_fd(m.as_fd(), data);
    } else if let Some(w) = &io.stdin_w {
        write_fd(w.as_fd(), data);
    }
}

fn resize(io: &ContainerIo, data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut it = text
        .split_whitespace()
        .map(|x| x.parse::<u16>().unwrap_or(0));
    if let (Some(rows), Some(cols), Some(m)) = (it.next(), it.next(), &io.master) {
        crate::runtime::tty::set_window_size(m.as_raw_fd(), rows, cols);
    }
}
