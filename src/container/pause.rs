//! `pause`/`unpause` without a delegated cgroup freezer: stop and continue
//! every process of the container's pid namespace. `top` lists them.

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::state::container::Container;

/// Host pids of every process in the container's pid namespace.
pub fn processes(c: &Container) -> Vec<i32> {
    PidNamespaces::default().of(c)
}

/// The host's processes grouped by pid namespace (the target of
/// /proc/PID/ns/pid, e.g. `pid:[4026532xyz]`), read in one pass over /proc
/// on the first container asked about and kept for the others: `stats` of
/// ten containers reads /proc once, not ten times. A container's processes
/// are found by namespace, not by following its init's children: an
/// `exec`'d process is a child of the `exec` CLI (reparented outside the
/// container once that exits), yet its namespace is the container's.
#[derive(Default)]
pub struct PidNamespaces(std::cell::OnceCell<HashMap<PathBuf, Vec<i32>>>);

impl PidNamespaces {
    /// Host pids of every process in `c`'s pid namespace, ascending; none
    /// once the recorded pid is no longer the container's init.
    pub fn of(&self, c: &Container) -> Vec<i32> {
        if super::process(c).is_none() {
            return Vec::new();
        }
        self.of_init(c.state.pid)
    }

    /// Host pids of every process in the pid namespace of `init`, which
    /// the caller has checked is the container's init (as `of` does).
    pub fn of_init(&self, init: i32) -> Vec<i32> {
        let Ok(ns) = fs::read_link(format!("/proc/{init}/ns/pid")) else {
            return Vec::new();
        };
        self.0
            .get_or_init(scan)
            .get(&ns)
            .cloned()
            .unwrap_or_default()
    }
}

fn scan() -> HashMap<PathBuf, Vec<i32>> {
    let mut by_ns: HashMap<PathBuf, Vec<i32>> = HashMap::new();
    let Ok(rd) = fs::read_dir("/proc") else {
        return by_ns;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if let Ok(ns) = fs::read_link(format!("/proc/{pid}/ns/pid")) {
            by_ns.entry(ns).or_default().push(pid);
        }
    }
    for pids in by_ns.values_mut() {
        pids.sort_unstable();
    }
    by_ns
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
