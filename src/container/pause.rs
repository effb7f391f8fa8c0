//! `pause`/`unpause` without a delegated cgroup freezer: stop and continue
//! every process of the container's pid namespace. `top` lists them.

use std::fs;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::state::container::Container;

/// Host pids of every process in the container's pid namespace.
pub fn processes(c: &Container) -> Vec<i32> {
    // Only while the recorded pid is still the container's init.
    if super::process(c).is_none() {
        return Vec::new();
    }
    let Ok(ns) = fs::read_link(format!("/proc/{}/ns/pid", c.state.pid)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Ok(rd) = fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
                continue;
            };
            if fs::read_link(format!("/proc/{pid}/ns/pid")).ok().as_ref() == Some(&ns) {
                out.push(pid);
            }
        }
    }
    out.sort_unstable();
    out
}

fn signal_all(c: &Container, sig: Signal) {
    for pid in processes(c) {
        let _ = kill(Pid::from_raw(pid), sig);
    }
}

/// Freezes the container: its cgroup's freezer when it has its own cgroup,
/// else SIGSTOP to every process of its pid namespace.
pub fn stop_all(c: &Container) {
    if c.state.cgroup.is_empty()
        || crate::cgroups::freeze(std::path::Path::new(&c.state.cgroup), true).is_err()
    {
        signal_all(c, Signal::SIGSTOP);
    }
}

/// Thaws the container (freezer or SIGCONT, as it was frozen).
pub fn resume_all(c: &Container) {
    if c.state.cgroup.is_empty()
        || crate::cgroups::freeze(std::path::Path::new(&c.state.cgroup), false).is_err()
    {
        signal_all(c, Signal::SIGCONT);
    }
}

/// `pause` (true) or `unpause` (false): freezes or thaws the container and
/// records it, under its lock, so the record always says what it is.
pub fn set_paused(ctx: &crate::Context, c: &Container, pause: bool) -> crate::Result<()> {
    use crate::state::container::Status;
    let status = if pause { "pause" } else { "unpause" };
    super::store(ctx).update(&c.id, |cur| {
        let st = super::effective_status(cur);
        let want = if pause {
            Status::Running
        } else {
            Status::Paused
        };
        if st != want {
            return Err(crate::Error::msg(format!(
                "\"{}\" is {}, not {}: container state improper",
                cur.name,
                st.as_str(),
                want.as_str()
            )));
        }
        if pause {
            stop_all(cur);
            cur.state.status = Status::Paused;
        } else {
            resume_all(cur);
            cur.state.status = Status::Running;
        }
        Ok::<_, crate::Error>(())
    })?;
    crate::events::Event::container(c, status).record(ctx);
    Ok(())
}
