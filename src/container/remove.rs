//! `rm`: stop the container if asked to, delete its root filesystem, its
//! record and its directories.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::{effective_status, pid_alive, start::storage_dir};
use crate::state::container::{Container, Status};
use crate::storage::{self, DriverKind};
use crate::{Context, Error, Result};

/// How `rm` treats a running container and its volumes.
#[derive(Debug, Clone, Default)]
pub struct RemoveOptions {
    /// Remove a running container (killing it).
    pub force: bool,
    /// With `force`: stop it gracefully within this time first (`rm -t`).
    pub stop_timeout: Option<Duration>,
    /// Also delete its anonymous volumes (`rm -v`).
    pub volumes: bool,
    /// Allow removing a pod's infra container: only `pod rm` does, since
    /// the pod's other containers live in its namespaces.
    pub infra: bool,
}

/// Removes a container; a running one only with `force`, which kills it first.
pub fn remove(ctx: &Context, c: &Container, force: bool) -> Result<()> {
    remove_with(
        ctx,
        c,
        &RemoveOptions {
            force,
            ..Default::default()
        },
    )
}

/// `rm` with all its options. A pod's infra container is refused (Podman's
/// error) unless `o.infra`; removing another container of a pod updates
/// the pod's /etc/hosts.
pub fn remove_with(ctx: &Context, c: &Container, o: &RemoveOptions) -> Result<()> {
    if c.config.infra && !o.infra {
        let pod = crate::pod::store(ctx)
            .load(&c.config.pod)
            .ok()
            .flatten()
            .map_or_else(|| c.config.pod.clone(), |p| p.name);
        return Err(Error::msg(format!(
            "container {} is the infra container of pod {pod} and cannot be removed without removing the pod",
            c.id
        )));
    }
    // Podman's order: a running container without force is refused as
    // running (exit 2); then one that others depend on, with force or not
    // (only `--depend` and `--all` remove those first); `pod rm` removes
    // the pod's members with it.
    if !o.infra {
        let all = super::store(ctx).list()?;
        let users = dependents_among(c, &all);
        if !users.is_empty() {
            if let Some((what, _)) = busy(c).filter(|_| !o.force) {
                return Err(running_refusal(c, what));
            }
            return Err(Error::msg(format!(
                "container {} has dependent containers which must be removed before it: {}: container already exists",
                c.id,
                users.join(", ")
            )));
        }
    }
    if o.force {
        if let Some(t) = o.stop_timeout {
            if matches!(effective_status(c), Status::Running | Status::Paused) {
                let _ = super::stop::stop(ctx, c, t);
            }
        }
    }
    let c = &super::store(ctx).load(&c.id)?.unwrap_or_else(|| c.clone());
    remove_checked(ctx, c, o.force)?;
    crate::events::Event::container(c, "remove").record(ctx);
    if o.volumes {
        super::volumes::remove_anonymous(ctx, c);
    }
    if !c.config.pod.is_empty() && !c.config.infra {
        crate::pod::refresh_hosts(ctx, &c.config.pod);
    }
    Ok(())
}

/// Whether container `c` depends on container `on`, as Podman's container
/// dependencies: `c` joins one of `on`'s namespaces (`--network`, `--pid`,
/// `--ipc` or `--uts` `container:`) or requires it (`--requires`). `all`
/// resolves a network key kept as the user gave it (a name or short id).
pub fn depends_on(c: &Container, on: &Container, all: &[Container]) -> bool {
    use crate::network::mode::{Mode, NetworkChoice};
    use crate::state::extras::NsMode;
    if c.id == on.id {
        return false;
    }
    let joins_network = match &c.config.network {
        NetworkChoice::Explicit(Mode::Container(key)) => {
            crate::state::container::find(all, key).is_ok_and(|o| o.id == on.id)
        }
        _ => false,
    };
    let x = &c.config.extras;
    joins_network
        || [&x.pid, &x.ipc, &x.uts]
            .into_iter()
            .any(|m| matches!(m, NsMode::Container(id) if *id == on.id))
        || c.config.requires.contains(&on.id)
}

/// The ids of the containers among `all` that depend on `c`
/// ([`depends_on`]): Podman refuses to remove `c` before them.
pub fn dependents_among<'a>(c: &Container, all: &'a [Container]) -> Vec<&'a str> {
    all.iter()
        .filter(|o| depends_on(o, c, all))
        .map(|o| o.id.as_str())
        .collect()
}

/// What keeps a container from being removed without force: it runs (or
/// is paused, stopping or restarting: Podman's word for it) or a
/// supervisor is at work on it (the pids of those supervisors).
fn busy(c: &Container) -> Option<(&'static str, Vec<i32>)> {
    let status = effective_status(c);
    let restarting = super::restarting(c);
    // A supervisor may be starting it right now (its CLI may even be gone).
    let supervisors = super::find_supervisors(&c.id);
    (matches!(status, Status::Running | Status::Paused | Status::Stopping)
        || restarting
        || !supervisors.is_empty())
    .then(|| {
        let what = if restarting {
            "restarting"
        } else {
            status.as_str()
        };
        (what, supervisors)
    })
}

/// Podman's refusal of `rm` without force of a [`busy`] container, which
/// is `what`: exit 2.
fn running_refusal(c: &Container, what: &str) -> Error {
    Error::with_code(
        crate::error::EXIT_IN_USE,
        format!(
            "cannot remove container {} as it is {what} - running or paused containers cannot be removed without force: container state improper",
            c.id
        ),
    )
}

fn remove_checked(ctx: &Context, c: &Container, force: bool) -> Result<()> {
    if let Some((what, supervisors)) = busy(c) {
        if !force {
            return Err(running_refusal(c, what));
        }
        // Tell the supervisor not to restart it, kill it, and let the
        // supervisor finish before its directory goes away.
        super::stop::mark_stopping(ctx, c)?;
        if let Some(p) = super::process(c) {
            kill_and_wait_process(&p, Duration::from_secs(10))?;
        }
        if !wait_supervisor(c, Duration::from_secs(5)) {
            // Opened, then checked by command line: a recycled pid is spared.
            if let Some(p) = super::pidfd::Process::open(c.state.monitor_pid, 0)
                .filter(|_| super::supervisor_alive(c))
            {
                kill_and_wait_process(&p, Duration::from_secs(5))?;
            }
        }
        for pid in supervisors {
            // One still starting may not see the stop: it dies, and its
            // container with it (PDEATHSIG).
            if !wait_pid(pid, Duration::from_secs(2)) {
                if let Some(p) = super::pidfd::Process::open(pid, 0)
                    .filter(|_| super::find_supervisors(&c.id).contains(&pid))
                {
                    kill_and_wait_process(&p, Duration::from_secs(5))?;
                }
            }
        }
        // What the supervisor recorded (its network helper) is what to clean.
        let c = super::store(ctx).load(&c.id)?.unwrap_or_else(|| c.clone());
        return remove_stopped(ctx, &c);
    }
    remove_stopped(ctx, c)
}

fn wait_pid(pid: i32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while pid_alive(pid) && !super::pidfd::is_zombie(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

/// Waits until the container's supervisor has exited.
pub fn wait_supervisor(c: &Container, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while super::supervisor_alive(c) && !super::pidfd::is_zombie(c.state.monitor_pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

/// SIGKILL through a pidfd and wait until the process is gone.
pub fn kill_and_wait_process(p: &super::pidfd::Process, timeout: Duration) -> Result<()> {
    let _ = p.signal(Signal::SIGKILL);
    let deadline = Instant::now() + timeout;
    while p.alive() {
        if Instant::now() > deadline {
            return Err(Error::msg(format!(
                "process {} did not exit after SIGKILL",
                p.pid()
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Deletes a container that no longer runs.
pub fn remove_stopped(ctx: &Context, c: &Container) -> Result<()> {
    retire_stopped(ctx, c)?.delete()
}

/// Takes a container that no longer runs out of the store: when this
/// returns, no command sees it, its name is free and nothing of it is
/// mounted or running. Its files go with the returned `Retired`.
pub fn retire_stopped(ctx: &Context, c: &Container) -> Result<Retired> {
    // Whoever removes the container cleans what its supervisor may not
    // have lived to clean: the network helper and the attach socket.
    crate::network::detach_or_warn(ctx, c, &c.state.network);
    // And its cgroup (a killed supervisor leaves it; systemd collects a
    // scope by itself, a cgroupfs directory stays).
    if !c.state.cgroup.is_empty() {
        crate::cgroups::kill_and_remove(
            std::path::Path::new(&c.state.cgroup),
            Duration::from_secs(2),
        );
    }
    if let Ok(kind) = DriverKind::parse(&c.config.driver) {
        storage::unmount(kind, &storage_dir(ctx, &c.id))?;
    }
    retire_released(ctx, c)
}

/// `retire_stopped` for a container whose network is already detached and
/// root filesystem unmounted (by its supervisor's `finish`).
pub fn retire_released(ctx: &Context, c: &Container) -> Result<Retired> {
    let _ = std::fs::remove_file(crate::supervisor::attach_socket(ctx, &c.id));
    // Helper logs and pipes in the runtime directory.
    let _ = std::fs::remove_dir_all(ctx.container_run_dir(&c.id));
    let driver = DriverKind::parse(&c.config.driver).ok();
    let dir = super::store(ctx).retire(&c.id)?;
    super::volumes::release(ctx, c);
    Ok(Retired { dir, driver })
}

/// Deletes what removals cut short left behind (a supervisor killed while
/// deleting a `--rm` container's files); returns how many it deleted. A
/// remover still at work only races us to the same end.
pub fn sweep_retired(ctx: &Context) -> usize {
    super::store(ctx)
        .retired()
        .into_iter()
        .filter(|d| {
            Retired {
                dir: Some(d.clone()),
                // As vfs: delete, never unmount; a mount inside is refused.
                driver: Some(DriverKind::Vfs),
            }
            .delete()
            .is_ok()
        })
        .count()
}

/// The files of a removed container, deleted by `delete`, or when dropped.
/// The supervisor of a `--rm` container reports the exit first and deletes
/// after: the container is already gone for every command.
#[must_use = "dropping it deletes the files at once"]
pub struct Retired {
    dir: Option<PathBuf>,
    driver: Option<DriverKind>,
}

impl Retired {
    /// Deletes the files: the storage through its driver (which refuses to
    /// delete through a mount), then the rest.
    pub fn delete(mut self) -> Result<()> {
        self.delete_files()
    }

    fn delete_files(&mut self) -> Result<()> {
        let Some(dir) = self.dir.take() else {
            return Ok(());
        };
        if let Some(kind) = self.driver {
            storage::remove(kind, &dir.join(super::start::STORAGE_SUBDIR))?;
        }
        Ok(crate::state::container::remove_tree(&dir)?)
    }
}

impl Drop for Retired {
    fn drop(&mut self) {
        let _ = self.delete_files();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::mode::{Mode, NetworkChoice};
    use crate::state::extras::NsMode;

    fn ctr(name: &str) -> Container {
        Container {
            version: 1,
            // Hex, as ids are: a short id resolves only then.
            id: name.bytes().map(|b| format!("{b:02x}")).collect(),
            name: name.to_string(),
            created: chrono::Utc::now(),
            config: Default::default(),
            state: Default::default(),
        }
    }

    #[test]
    fn dependents_join_a_namespace_or_require_the_container() {
        let base = ctr("base");
        let mut by_name = ctr("byname");
        by_name.config.network = NetworkChoice::Explicit(Mode::Container("base".into()));
        let mut by_short_id = ctr("byshort");
        by_short_id.config.network = NetworkChoice::Explicit(Mode::Container(base.id[..6].into()));
        let mut pid = ctr("pid");
        pid.config.extras.pid = NsMode::Container(base.id.clone());
        let mut ipc = ctr("ipc");
        ipc.config.extras.ipc = NsMode::Container(base.id.clone());
        let mut uts = ctr("uts");
        uts.config.extras.uts = NsMode::Container(base.id.clone());
        let mut req = ctr("req");
        req.config.requires = vec![base.id.clone()];
        let mut other = ctr("other");
        other.config.network = NetworkChoice::Explicit(Mode::Container("byname".into()));
        let all = [
            base.clone(),
            by_name.clone(),
            by_short_id,
            pid,
            ipc,
            uts,
            req,
            other,
        ];
        let names: Vec<&str> = dependents_among(&base, &all)
            .into_iter()
            .map(|id| all.iter().find(|c| c.id == id).unwrap().name.as_str())
            .collect();
        assert_eq!(names, ["byname", "byshort", "pid", "ipc", "uts", "req"]);
        // Only the one it joins depends on; nothing depends on a leaf.
        assert_eq!(dependents_among(&by_name, &all).len(), 1);
        assert!(dependents_among(&all[7], &all).is_empty());
        assert!(!depends_on(&base, &base, &all));
    }
}
