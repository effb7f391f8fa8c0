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
        p.set_user(
            UserBuilder::default()
                .uid(eu.uid)
                .gid(eu.gid)
                .additional_gids(eu.additional_gids.clone())
                .build()
                .map_err(|e| Error::msg(e.to_string()))?,
        );
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
    // Named by pidfd: the recorded pid must still be the container's init.
    let init = super::process(c).ok_or_else(|| {
        Error::msg(format!(
            "can only exec into running containers: {} is not running: container state improper",
            c.name
        ))
    })?;
    let confine = super::start::confinement(ctx, c)?;
    monitor::block_signals()?;
    // The namespaces are joined through the pidfd (Linux >= 5.8), else
    // through /proc/PID/ns, checked by the pidfd before (`process` above)
    // and after they are opened (below).
    let (created, joined) = process::exec_in(init.as_fd(), init.pid(), &p, stdio, &confine)?;
    // Joined by pidfd, the namespaces are the init's or the join fails; by
    // /proc/PID/ns they are only if the init still runs now.
    if joined == process::JoinedBy::ProcFiles && !init.alive() {
        // It exited while its namespaces were being opened: by /proc/PID/ns
        // they may be another process's by now. Never start the command there.
        // Our own unreaped child: its pid cannot have been recycled.
        let _ = nix::sys::signal::kill(created.pid, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(created.pid, None);
        monitor::unblock_signals();
        return Err(Error::msg(format!(
            "can only exec into running containers: {} exited: container state improper",
            c.name
        )));
    }
    let pid = match created.start() {
        Ok(pid) => pid,
        // Detached, Podman reports a command that cannot start as its own
        // failure (125), not as the command's 126/127.
        Err(e) if o.detach => {
            monitor::unblock_signals();
            return Err(Error::msg(e.to_string()));
        }
        Err(e) => {
            monitor::unblock_signals();
            return Err(e.into());
        }
    };
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
    code
}
