//! Container life cycle, one file per verb as youki lays it out: `create`
//! writes the record, `start` prepares the root filesystem and spec and
//! creates the process, `monitor` waits for it in the foreground, `remove`
//! deletes it. The CLI only parses arguments and prints.
//!
//! This module is the only writer of container records: every transition
//! (create, start, stopping, finish, restart tick, rename, pause,
//! connect/disconnect, remove) goes through `state::container::Containers`'
//! `insert`, `update` or `retire` from a function here, which take the
//! container's lock and reload the record before changing it.

pub mod attach;
pub mod cp;
pub mod create;
pub mod df;
pub mod exec;
pub mod export;
pub mod filter;
pub mod health;
pub mod inspect;
pub mod launch;
pub mod logs;
pub mod monitor;
pub mod names;
pub mod network;
pub mod pause;
pub mod pidfd;
pub mod prune;
pub mod remove;
pub mod rename;
pub mod requires;
pub mod restart;
pub mod secrets;
pub mod start;
pub mod stats;
pub mod stop;
pub mod top;
pub mod update;
pub mod userns;
pub mod volumes;

pub use create::{create, CreateOptions, TypedOptions};
pub use remove::remove;

use crate::state::container::{Container, Containers, Status};
use crate::Context;

/// The container records of this store.
pub fn store(ctx: &Context) -> Containers {
    Containers::new(ctx.containers_dir())
}

/// The container's init process by pidfd, if it is still the process that
/// was recorded (pid and start time); None when gone or recycled.
pub fn process(c: &Container) -> Option<pidfd::Process> {
    pidfd::Process::open(c.state.pid, c.state.start_time)
}

/// Whether a process still runs: signal 0 reaches it.
pub fn pid_alive(pid: i32) -> bool {
    pid > 0 && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

/// Whether the container's supervisor still runs (checked by its command
/// line, so a reused pid is not mistaken for it).
pub fn supervisor_alive(c: &Container) -> bool {
    let pid = c.state.monitor_pid;
    if pid <= 0 || !pid_alive(pid) {
        return false;
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let has = |needle: &[u8]| cmdline.split(|&b| b == 0).any(|a| a == needle);
    has(b"_supervise") && has(c.id.as_bytes())
}

/// Pids of every supervisor process of container `id`, found by command
/// line: also one that is still starting and has not recorded its pid.
/// Only processes of this user are read (a supervisor runs as the user
/// that started it): a stat of `/proc/PID` costs far less than its
/// command line, which locks the process's memory map to read it.
pub fn find_supervisors(id: &str) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    let me = nix::unistd::geteuid().as_raw();
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if e.metadata().is_ok_and(|m| m.uid() != me) {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let mut args = cmdline.split(|&b| b == 0);
        if args.nth(1) == Some(b"_supervise".as_slice())
            && cmdline.split(|&b| b == 0).any(|a| a == id.as_bytes())
        {
            out.push(pid);
        }
    }
    out
}

/// Exited, but its supervisor will start it again (`--restart`).
pub fn restarting(c: &Container) -> bool {
    c.state.status == Status::Exited && supervisor_alive(c)
}

/// The status a user should see. A record that says running is believed
/// while the process or its supervisor lives (the supervisor records the
/// exit a moment after the process ends); with both gone, the container is
/// reported as exited.
pub fn effective_status(c: &Container) -> Status {
    match c.state.status {
        Status::Running | Status::Paused | Status::Stopping
            if !pid_alive(c.state.pid) && !supervisor_alive(c) =>
        {
            Status::Exited
        }
        s => s,
    }
}

/// Whether the record says the container runs while neither its process
/// nor its supervisor does (the supervisor was killed; the container died
/// with it through PDEATHSIG).
fn orphaned(c: &Container) -> bool {
    matches!(
        c.state.status,
        Status::Running | Status::Paused | Status::Stopping
    ) && !pidfd::running(c.state.pid, c.state.start_time)
        && !supervisor_alive(c)
}

/// Repairs what a killed supervisor left: a container recorded running
/// whose process and supervisor are gone is recorded exited with 137 (it
/// was killed with SIGKILL, as Podman reports it), its network helper and
/// root filesystem released, and removed if it was run with `--rm`. The
/// check is made again under the container's lock. Returns the record as
/// it now is (None when it was removed).
pub fn repair(ctx: &Context, c: Container) -> crate::Result<Option<Container>> {
    if !orphaned(&c) {
        return Ok(Some(c));
    }
    let store = store(ctx);
    let mut old = None;
    let res = store.update(&c.id, |cur| {
        if orphaned(cur) {
            old = Some(cur.clone());
            cur.state.status = Status::Exited;
            cur.state.exit_code = 128 + nix::sys::signal::Signal::SIGKILL as i32;
            cur.state.finished_at = Some(chrono::Utc::now());
            cur.state.pid = 0;
            cur.state.start_time = 0;
            cur.state.network = Default::default();
            cur.state.cgroup.clear();
        }
        Ok::<_, crate::Error>(cur.clone())
    });
    let now = match res {
        Ok(now) => now,
        Err(_) if store.load(&c.id)?.is_none() => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(old) = old else { return Ok(Some(now)) };
    crate::network::detach_or_warn(ctx, &old, &old.state.network);
    if !old.state.cgroup.is_empty() {
        // Its processes may outlive the supervisor for a moment.
        crate::cgroups::kill_and_remove(
            std::path::Path::new(&old.state.cgroup),
            std::time::Duration::from_secs(2),
        );
    }
    if old.config.auto_remove {
        remove::remove_stopped(ctx, &now)?;
        return Ok(None);
    }
    let _ = start::unmount_rootfs(ctx, &now);
    Ok(Some(now))
}

/// Every container, oldest first, as `repair` leaves it: what `ps`,
/// `inspect` and the verbs that act on many containers read.
pub fn list(ctx: &Context) -> crate::Result<Vec<Container>> {
    let mut out = Vec::new();
    for c in store(ctx).list()? {
        if let Some(c) = repair(ctx, c)? {
            out.push(c);
        }
    }
    Ok(out)
}

/// The container named `key` (name, id or unique id prefix), as `repair`
/// leaves it.
pub fn lookup(ctx: &Context, key: &str) -> crate::Result<Container> {
    let c = store(ctx).lookup(key)?;
    repair(ctx, c)?.ok_or_else(|| crate::state::container::no_such(key).into())
}
