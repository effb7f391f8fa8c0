//! `exec`: run another process in a running container's namespaces, with the
//! container's identity, capabilities and environment unless overridden.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::OFlag;
use nix::unistd::pipe2;
use oci_spec::runtime::{Process, UserBuilder};

use super::{effective_status, monitor};
use crate::runtime::process::{self, ChildStdio};
use crate::runtime::{tty, user};
use crate::state::container::{Container, Status};
use crate::{Context, Error, Result};

#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub command: Vec<String>,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub tty: bool,
    pub interactive: bool,
    pub detach: bool,
    pub privileged: bool,
    /// `--detach-keys` for `-it` (default ctrl-p,ctrl-q; empty disables).
    pub detach_keys: Option<String>,
}

fn set_env(env: &mut Vec<String>, entry: &str) {
    let key = entry.split('=').next().unwrap_or("");
    env.retain(|e| e.split('=').next() != Some(key));
    env.push(entry.to_string());
}

/// The part of the container's OCI spec (`config.json`) that `exec` starts
/// from; serde skips the rest (mounts, namespaces, masked paths) unbuilt.
#[derive(serde::Deserialize)]
struct ProcessOnly {
    process: Option<Process>,
}

fn exec_process(ctx: &Context, c: &Container, o: &ExecOptions) -> Result<Process> {
    let spec_path = ctx.container_dir(&c.id).join("config.json");
    let spec: ProcessOnly = serde_json::from_slice(&std::fs::read(&spec_path)?)
        .map_err(|e| Error::msg(format!("reading {}: {e}", spec_path.display())))?;
    let mut p = spec
        .process
        .ok_or_else(|| Error::msg(format!("{}: the container has no process spec", c.name)))?;
    p.set_args(Some(o.command.clone()));
    p.set_terminal(Some(o.tty));
    let mut env = p.env().clone().unwrap_or_default();
    for e in &o.env {
        if e.contains('=') {
            set_env(&mut env, e);
        } else if let Ok(v) = std::env::var(e) {
            set_env(&mut env, &format!("{e}={v}"));
        }
    }
    if let Some(u) = &o.user {
        let root = Path::new("/proc")
            .join(c.state.pid.to_string())
            .join("root");
        let eu = user::resolve(
            &crate::state::config::UserSpec::parse(u)?,
            &user::read_root_file(&root, "/etc/passwd")?,
            &user::read_root_file(&root, "/etc/group")?,
        )?;
        // The container's umask (`--umask`) stays.
        let mut user = UserBuilder::default()
            .uid(eu.uid)
            .gid(eu.gid)
            .additional_gids(eu.additional_gids.clone())
            .build()
            .map_err(|e| Error::msg(e.to_string()))?;
        user.set_umask(p.user().umask());
        p.set_user(user);
        set_env(&mut env, &format!("HOME={}", eu.home));
        if eu.uid != 0 {
            // As for the container's own non-root process: no effective caps.
            if let Some(mut caps) = p.capabilities().clone() {
                caps.set_effective(Some(Default::default()));
                caps.set_permitted(Some(Default::default()));
                p.set_capabilities(Some(caps));
            }
        }
    }
    p.set_env(Some(env));
    if o.privileged {
        // --privileged: every capability, whatever the container has.
        let all: oci_spec::runtime::Capabilities = caps::all()
            .iter()
            .filter_map(|c| c.to_string().trim_start_matches("CAP_").parse().ok())
            .collect();
        let mut c = p.capabilities().clone().unwrap_or_default();
        c.set_bounding(Some(all.clone()));
        c.set_permitted(Some(all.clone()));
        c.set_effective(Some(all));
        p.set_capabilities(Some(c));
    }
    if let Some(w) = &o.workdir {
        p.set_cwd(w.into());
    }
    Ok(p)
}

/// Runs the exec'd process; returns its exit code (0 at once with `detach`).
pub fn exec(ctx: &Context, c: &Container, o: &ExecOptions) -> Result<i32> {
    if !matches!(effective_status(c), Status::Running) {
        return Err(Error::msg(format!(
            "can only create exec sessions on running containers: {} is not running: container state improper",
            c.name
        )));
    }
    let p = exec_process(ctx, c, o)?;
    let mut console = None;
    let mut pipes = None;
    let null = || -> Result<OwnedFd> {
        Ok(std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")?
            .into())
    };
    let stdio = if o.tty && !o.detach {
        let (ours, theirs) = process::console_socket()?;
        console = Some(ours);
        ChildStdio::Console(theirs, tty::window_size(std::io::stdin().as_raw_fd()))
    } else if o.detach {
        ChildStdio::Fds(null()?, null()?, null()?)
    } else {
        // Pipes, never our own descriptors: anything in the container
        // could reopen those through /proc/PID/fd (Podman passes pipes).
        let pipe = || {
            pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::msg(format!("creating the exec pipes: {e}")))
        };
        let (stdin, to_stdin) = if o.interactive {
            let (r, w) = pipe()?;
            (r, Some(w))
        } else {
            (null()?, None)
        };
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        pipes = Some(monitor::Pipes {
            stdin: to_stdin,
            stdout: out_r,
            stderr: err_r,
        });
        ChildStdio::Fds(stdin, out_w, err_w)
    };
    monitor::block_signals()?;
    let pid = match spawn(ctx, c, &p, stdio) {
        Ok(pid) => pid,
        // Detached, Podman reports a command that cannot start as its own
        // failure (125), not as the command's 126/127.
        Err(e) if o.detach => {
            monitor::unblock_signals();
            return Err(Error::msg(e.to_string()));
        }
        Err(e) => {
            monitor::unblock_signals();
            return Err(e);
        }
    };
    // Podman's exec events: `exec` when it starts, `exec_died` with its
    // exit code when it ends, both naming the session by `execID`.
    let exec_id = crate::state::new_id();
    let mut e = crate::events::Event::container(c, "exec");
    e.attributes.insert("execID".into(), exec_id.clone());
    e.record(ctx);
    if o.detach {
        monitor::unblock_signals();
        return Ok(0);
    }
    let master = match console.as_ref().map(process::receive_console).transpose() {
        Ok(m) => m,
        Err(e) => {
            monitor::unblock_signals();
            return Err(e.into());
        }
    };
    let keys = crate::supervisor::protocol::DetachKeys::parse(
        o.detach_keys.as_deref().unwrap_or("ctrl-p,ctrl-q"),
    )
    .map_err(Error::msg)?;
    let code = monitor::wait(pid, master, pipes, o.interactive, true, Some(keys));
    monitor::unblock_signals();
    if let Ok(n) = code {
        let mut died = crate::events::Event::container(c, "exec_died");
        died.attributes.insert("execID".into(), exec_id);
        died.exit_code = Some(n);
        died.record(ctx);
    }
    code
}

/// Starts process `p` in running container `c`'s namespaces with `stdio`,
/// confined as the container's own process; returns its pid (our child).
/// The caller has blocked the monitor's signals (`monitor::block_signals`).
pub fn spawn(
    ctx: &Context,
    c: &Container,
    p: &Process,
    stdio: ChildStdio,
) -> Result<nix::unistd::Pid> {
    // Named by pidfd: the recorded pid must still be the container's init.
    let init = super::process(c).ok_or_else(|| {
        Error::msg(format!(
            "can only exec into running containers: {} is not running: container state improper",
            c.name
        ))
    })?;
    let confine = super::start::confinement(ctx, c)?;
    // The namespaces are joined through the pidfd (Linux >= 5.8), else
    // through /proc/PID/ns, checked by the pidfd before (`process` above)
    // and after they are opened (below).
    let (created, joined) = process::exec_in(init.as_fd(), init.pid(), p, stdio, &confine)?;
    // Joined by pidfd, the namespaces are the init's or the join fails; by
    // /proc/PID/ns they are only if the init still runs now.
    if joined == process::JoinedBy::ProcFiles && !init.alive() {
        // It exited while its namespaces were being opened: by /proc/PID/ns
        // they may be another process's by now. Never start the command there.
        // Our own unreaped child: its pid cannot have been recycled.
        let _ = nix::sys::signal::kill(created.pid, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(created.pid, None);
        return Err(Error::msg(format!(
            "can only exec into running containers: {} exited: container state improper",
            c.name
        )));
    }
    enter_cgroup(c, created.pid.as_raw());
    Ok(created.start()?)
}

/// Moves the exec'd process `pid` (not yet running its command) into the
/// container's cgroup when it has one, as runc and crun place an exec'd
/// process: its limits then hold it, and the cgroup namespace it joins next
/// shows it `0::/`. Where the kernel refuses (the caller's own cgroup is
/// not the user's, so no common ancestor is writable) it runs on in the
/// caller's cgroup, with a warning in the log.
fn enter_cgroup(c: &Container, pid: i32) {
    if c.state.cgroup.is_empty() {
        return;
    }
    let procs = std::path::Path::new(&c.state.cgroup).join("cgroup.procs");
    if let Err(e) = std::fs::write(&procs, pid.to_string()) {
        tracing::warn!(%e, cgroup = %c.state.cgroup, "cannot move the exec'd process into the container's cgroup");
    }
}

/// What [`run_captured`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    pub exit_code: i32,
    /// Its stdout and stderr together, at most `OUTPUT_LIMIT` bytes.
    pub output: Vec<u8>,
    /// It ran past the timeout and was killed.
    pub timed_out: bool,
}

/// Bytes of output [`run_captured`] keeps.
const OUTPUT_LIMIT: usize = 4096;

/// Runs `command` in running container `c` as `exec` would (no terminal,
/// stdin /dev/null), capturing its stdout and stderr through one pipe, and
/// kills it once `timeout` has passed (a healthcheck's run).
pub fn run_captured(
    ctx: &Context,
    c: &Container,
    command: Vec<String>,
    timeout: std::time::Duration,
) -> Result<Captured> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    use std::time::Instant;
    let o = ExecOptions {
        command,
        ..Default::default()
    };
    let p = exec_process(ctx, c, &o)?;
    let (r, w) =
        pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::msg(format!("creating the exec pipes: {e}")))?;
    let null: OwnedFd = std::fs::File::open("/dev/null")?.into();
    let w2 = w.try_clone()?;
    monitor::block_signals()?;
    let pid = match spawn(ctx, c, &p, ChildStdio::Fds(null, w, w2)) {
        Ok(pid) => pid,
        Err(e) => {
            monitor::unblock_signals();
            return Err(e);
        }
    };
    let deadline = Instant::now() + timeout;
    let mut output = Vec::new();
    let mut timed_out = false;
    let mut open = true;
    let mut buf = [0u8; 4096];
    let mut status = None;
    while status.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            timed_out = true;
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            status = waitpid(pid, None).ok();
            break;
        }
        if open {
            let mut fds = [PollFd::new(r.as_fd(), PollFlags::POLLIN)];
            let ms = u16::try_from(left.as_millis().min(50)).unwrap_or(50);
            if poll(&mut fds, PollTimeout::from(ms)).unwrap_or(0) > 0 {
                match nix::unistd::read(r.as_raw_fd(), &mut buf) {
                    Ok(0) | Err(_) => open = false,
                    Ok(n) => {
                        let room = OUTPUT_LIMIT.saturating_sub(output.len());
                        output.extend_from_slice(&buf[..n.min(room)]);
                    }
                }
            }
        } else {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {}
            Ok(st) => status = Some(st),
            Err(_) => break,
        }
    }
    monitor::unblock_signals();
    // What it wrote before exiting is in the pipe still (its children may
    // hold the pipe open: take only what is there now).
    if open {
        nix::fcntl::fcntl(
            r.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK),
        )
        .map_err(|e| Error::msg(format!("exec pipe: {e}")))?;
        while let Ok(n @ 1..) = nix::unistd::read(r.as_raw_fd(), &mut buf) {
            let room = OUTPUT_LIMIT.saturating_sub(output.len());
            output.extend_from_slice(&buf[..n.min(room)]);
        }
    }
    let exit_code = if timed_out {
        1
    } else {
        status.and_then(monitor::exit_code).unwrap_or(1)
    };
    Ok(Captured {
        exit_code,
        output,
        timed_out,
    })
}
