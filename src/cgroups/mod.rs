//! cgroup v2: finding a subtree delegated to the user, giving each container
//! its own cgroup there, and freezing it. Every function takes the cgroup
//! root as a parameter, so tests point it at a temporary directory laid out
//! like /sys/fs/cgroup. Nothing is ever written outside a delegated subtree.

pub mod limits;
pub mod systemd;

pub use limits::{CgroupsMode, Resources};

/// `--cgroup-manager` (containers.conf `[engine] cgroup_manager`): who makes
/// the container's cgroup. `systemd`: a transient scope of the user's
/// manager ([`systemd`]); `cgroupfs`: skiff itself, below the caller's own
/// delegated cgroup. Recorded in each container's configuration.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Manager {
    #[default]
    Cgroupfs,
    Systemd,
}

impl Manager {
    /// The name Podman prints (`info`'s host.cgroupManager, inspect's CgroupManager).
    pub fn name(self) -> &'static str {
        match self {
            Manager::Cgroupfs => "cgroupfs",
            Manager::Systemd => "systemd",
        }
    }
}

/// The manager this process uses: the one asked for (flag, else
/// containers.conf), else `cgroupfs` under a systemd unit whose cgroup is
/// delegated (the container stays in the unit's subtree), else `systemd`
/// where it is usable
/// ([`systemd::usable`]: a user session bus), else `cgroupfs`, as Podman
/// chooses. `systemd` asked for where there is no user session falls back
/// to `cgroupfs` with Podman's warning.
pub fn choose_manager(asked: Option<Manager>) -> Manager {
    let asked = asked.or(crate::config::get().containers.cgroup_manager);
    let rootless = || nix::unistd::getuid().as_raw() != 0;
    match asked {
        Some(Manager::Cgroupfs) => Manager::Cgroupfs,
        None if !rootless() => Manager::Cgroupfs,
        // Under a systemd unit whose cgroup is delegated to the user, the
        // container's cgroup goes in the unit's subtree, where stopping the
        // unit reaches it, rather than in a scope of its own.
        None if std::env::var_os("NOTIFY_SOCKET").is_some()
            && detect_host(nix::unistd::getuid().as_raw()).is_some() =>
        {
            Manager::Cgroupfs
        }
        None => {
            if systemd::usable() {
                Manager::Systemd
            } else {
                Manager::Cgroupfs
            }
        }
        Some(Manager::Systemd) if systemd::usable() || !rootless() => Manager::Systemd,
        Some(Manager::Systemd) => {
            tracing::warn!("The cgroupv2 manager is set to systemd but there is no systemd user session available");
            tracing::warn!("Falling back to --cgroup-manager=cgroupfs");
            Manager::Cgroupfs
        }
    }
}

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where the unified (v2) hierarchy is mounted on this host: /sys/fs/cgroup
/// on pure v2 hosts, /sys/fs/cgroup/unified on hybrid ones.
pub fn unified_root() -> Option<PathBuf> {
    let mounts = fs::read_to_string("/proc/self/mountinfo").ok()?;
    mounts.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        let mount_point = pre.split_whitespace().nth(4)?;
        (post.split_whitespace().next()? == "cgroup2").then(|| PathBuf::from(mount_point))
    })
}

/// The v2 cgroup of a process, from its /proc/PID/cgroup text (`0::/path`).
pub fn own_path(proc_cgroup: &str) -> Option<PathBuf> {
    proc_cgroup.lines().find_map(|l| {
        l.strip_prefix("0::")
            .map(|p| PathBuf::from(p.trim_start_matches('/')))
    })
}

/// A cgroup subtree the user may manage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    /// The directory under which skiff creates container cgroups.
    pub dir: PathBuf,
    /// The delegated directory found: `dir` itself, or an ancestor of it
    /// when `--cgroup-parent` names a cgroup deeper in the subtree.
    pub top: PathBuf,
    /// Controllers available to children (from cgroup.controllers).
    pub controllers: Vec<String>,
}

/// Finds the delegated subtree for `uid`: the parent of the caller's own
/// cgroup (a process may not stay in a cgroup whose children it populates),
/// when that directory and its `cgroup.procs` and `cgroup.subtree_control`
/// belong to `uid`, as systemd's `Delegate=yes` leaves them.
pub fn detect(root: &Path, proc_cgroup: &str, uid: u32) -> Option<Delegation> {
    let own = own_path(proc_cgroup)?;
    let owned = |p: &Path| fs::metadata(p).map(|m| m.uid() == uid).unwrap_or(false);
    let mut candidates = vec![root.join(&own)];
    if let Some(parent) = own.parent() {
        candidates.push(root.join(parent));
    }
    candidates.into_iter().rev().find_map(|dir| {
        let usable = owned(&dir)
            && owned(&dir.join("cgroup.procs"))
            && owned(&dir.join("cgroup.subtree_control"));
        usable.then(|| Delegation {
            controllers: available(&dir),
            top: dir.clone(),
            dir,
        })
    })
}

/// The delegation of the calling process on this host, if any.
pub fn detect_host(uid: u32) -> Option<Delegation> {
    let root = unified_root()?;
    let own = fs::read_to_string("/proc/self/cgroup").ok()?;
    detect(&root, &own, uid)
}

/// The delegation of the calling process for a container: with
/// `--cgroup-parent`, that cgroup (a path from the root of the unified
/// hierarchy), which must lie inside the delegated subtree.
pub fn for_container(uid: u32, parent: Option<&str>) -> Result<Option<Delegation>, String> {
    let Some(d) = detect_host(uid) else {
        return Ok(None);
    };
    match parent {
        None => Ok(Some(d)),
        Some(p) => {
            let root = unified_root().unwrap_or_default();
            with_parent(d, &root, p).map(Some)
        }
    }
}

/// `d` moved to the cgroup `parent` (a path from `root`); refused when that
/// is outside the delegated subtree, where the user may not write.
pub fn with_parent(d: Delegation, root: &Path, parent: &str) -> Result<Delegation, String> {
    let rel = Path::new(parent.trim_start_matches('/'));
    if rel
        .components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(format!("invalid cgroup parent {parent:?}"));
    }
    let dir = root.join(rel);
    if !dir.starts_with(&d.top) {
        return Err(format!(
            "cgroup parent {parent:?} is outside the cgroup subtree delegated to the user (/{})",
            d.top.strip_prefix(root).unwrap_or(&d.top).display()
        ));
    }
    Ok(Delegation { dir, ..d })
}

/// The cgroup directory of a container under a delegation.
pub fn container_dir(d: &Delegation, id: &str) -> PathBuf {
    d.dir.join(format!("skiff-{}", &id[..12.min(id.len())]))
}

/// The controllers a cgroup's children may use (its cgroup.controllers).
pub fn available(dir: &Path) -> Vec<String> {
    fs::read_to_string(dir.join("cgroup.controllers"))
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// Enables `controllers` for the children of the cgroup `dir` (best
/// effort: what a host does not delegate stays off, and `check` says so).
pub fn hand_down(dir: &Path, controllers: &[String]) {
    if !controllers.is_empty() {
        let enable: Vec<String> = controllers.iter().map(|c| format!("+{c}")).collect();
        let _ = fs::write(dir.join("cgroup.subtree_control"), enable.join(" "));
    }
}

/// Podman's error when limits are asked for where no cgroup can hold them
/// (cgroup v1, or no subtree delegated to the user).
pub const NO_DELEGATION: &str =
    "invalid configuration, cannot specify resource limits without cgroups v2 and --cgroup-manager=systemd";

/// Enables the controllers `res` needs but `d` lacks, where the user may:
/// from the highest ancestor of `d.top` that `uid` owns (on systemd,
/// user@UID.service, which delegates more controllers than its user
/// manager enables) down to `d.top`. Returns `d` with the controllers now
/// available. Nothing is written when nothing is missing.
pub fn enable_for(d: Delegation, res: &Resources, uid: u32) -> Delegation {
    let missing: Vec<&str> = res
        .controllers()
        .into_iter()
        .filter(|c| !d.controllers.iter().any(|h| h == c))
        .collect();
    if missing.is_empty() {
        return d;
    }
    let owned = |p: &Path| fs::metadata(p).map(|m| m.uid() == uid).unwrap_or(false);
    let chain: Vec<&Path> = d
        .top
        .ancestors()
        .skip(1)
        .take_while(|a| owned(a) && owned(&a.join("cgroup.subtree_control")))
        .collect();
    for level in chain.into_iter().rev() {
        let have = fs::read_to_string(level.join("cgroup.controllers")).unwrap_or_default();
        let enable: Vec<String> = missing
            .iter()
            .filter(|c| have.split_whitespace().any(|h| h == **c))
            .map(|c| format!("+{c}"))
            .collect();
        if !enable.is_empty() {
            let _ = fs::write(level.join("cgroup.subtree_control"), enable.join(" "));
        }
    }
    Delegation {
        controllers: available(&d.top),
        ..d
    }
}

/// Checks that the delegation found (if any) can hold `res`: every
/// controller the limits need is delegated. A one-line error otherwise, in
/// Podman's (or crun's) words.
pub fn check(d: Option<&Delegation>, res: &Resources) -> Result<(), String> {
    if res.is_empty() {
        return Ok(());
    }
    let d = d.ok_or_else(|| NO_DELEGATION.to_string())?;
    match res
        .controllers()
        .into_iter()
        .find(|c| !d.controllers.iter().any(|h| h == c))
    {
        Some(c) => Err(format!(
            "the requested cgroup controller `{c}` is not available in {}",
            d.dir.display()
        )),
        None => Ok(()),
    }
}

/// Creates the container's cgroup, enables the delegated controllers for it
/// (best effort: a host may delegate none), writes the limits in `res`, and
/// moves `pid` into it. The limits are written before the process enters,
/// so it never runs unconfined.
pub fn enter(d: &Delegation, id: &str, pid: i32, res: &Resources) -> std::io::Result<PathBuf> {
    let dir = container_dir(d, id);
    // Top-down from the delegated directory to the container's parent: each
    // level made, and the delegated controllers handed on to its children.
    let below: Vec<&Path> = d
        .dir
        .ancestors()
        .take_while(|a| a.starts_with(&d.top))
        .collect();
    for level in below.into_iter().rev() {
        if !level.exists() {
            fs::create_dir(level)?;
        }
        hand_down(level, &d.controllers);
    }
    fs::create_dir_all(&dir)?;
    let entered =
        apply(&dir, res).and_then(|_| fs::write(dir.join("cgroup.procs"), pid.to_string()));
    if let Err(e) = entered {
        remove(&dir);
        return Err(e);
    }
    Ok(dir)
}

/// Writes the limits of `res` into the cgroup `dir` (at start, and by
/// `update` on a running container). The error names the file refused.
pub fn apply(dir: &Path, res: &Resources) -> std::io::Result<()> {
    for (file, value) in res.files() {
        fs::write(dir.join(file), &value).map_err(|e| {
            std::io::Error::new(e.kind(), format!("writing {value:?} to {file}: {e}"))
        })?;
    }
    Ok(())
}

/// Whether the cgroup `dir` saw an OOM kill (`oom_kill` in memory.events).
pub fn oom_killed(dir: &Path) -> bool {
    fs::read_to_string(dir.join("memory.events"))
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("oom_kill ")
                    .and_then(|n| n.trim().parse::<u64>().ok())
            })
        })
        .is_some_and(|n| n > 0)
}

/// Freezes (`true`) or thaws the container's cgroup.
pub fn freeze(dir: &Path, frozen: bool) -> std::io::Result<()> {
    fs::write(dir.join("cgroup.freeze"), if frozen { "1" } else { "0" })
}

/// Removes an empty container cgroup (after its processes have exited),
/// and the systemd scope around it when it has one ([`systemd::remove`]).
pub fn remove(dir: &Path) {
    if systemd::is_scope_leaf(dir) {
        systemd::remove(dir);
    } else {
        let _ = fs::remove_dir(dir);
    }
}

/// Removes the cgroup of a container whose supervisor died without doing so
/// (killed, say, by systemd at the end of a unit's stop timeout): whatever
/// still runs in it is killed (`cgroup.kill`, Linux 5.14) and waited for
/// (`populated 0` in `cgroup.events`) for up to `wait`, then the cgroup is
/// removed as [`remove`] does. A cgroup that is still populated after
/// `wait` stays (rmdir would fail with EBUSY); one already gone costs a
/// `stat`.
pub fn kill_and_remove(dir: &Path, wait: std::time::Duration) {
    if !dir.exists() {
        return;
    }
    let _ = fs::write(dir.join("cgroup.kill"), "1");
    let deadline = std::time::Instant::now() + wait;
    while fs::read_to_string(dir.join("cgroup.events"))
        .is_ok_and(|e| e.lines().any(|l| l == "populated 1"))
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    remove(dir);
}

/// `--cgroups split`: the sub-cgroup of the caller's cgroup that its
/// supervisors move to (Podman's conmon goes to `supervisor`).
pub const SPLIT_SUPERVISOR: &str = "skiff-supervisor";
/// `--cgroups split`: the sub-cgroup of the caller's cgroup that every other
/// process still in it moves to (Podman moves itself to `runtime`).
pub const SPLIT_RUNTIME: &str = "skiff-runtime";

/// `--cgroups split`: the cgroup the caller runs in (from its
/// /proc/PID/cgroup text; one of its split sub-cgroups stands for it, as in
/// a supervisor restarting its container), as the delegation its container
/// gets a cgroup in. It must be the user's: systemd's `Delegate=yes` unit or
/// a scope of the user manager. Refused in one line otherwise.
pub fn split_base(root: &Path, proc_cgroup: &str, uid: u32) -> Result<Delegation, String> {
    let mut own = own_path(proc_cgroup).ok_or("--cgroups=split: no cgroup v2 for this process")?;
    if own.ends_with(SPLIT_SUPERVISOR) || own.ends_with(SPLIT_RUNTIME) {
        own.pop();
    }
    let dir = root.join(&own);
    let owned = |p: &Path| fs::metadata(p).map(|m| m.uid() == uid).unwrap_or(false);
    if !(owned(&dir)
        && owned(&dir.join("cgroup.procs"))
        && owned(&dir.join("cgroup.subtree_control")))
    {
        return Err(format!(
            "--cgroups=split: the cgroup of the caller (/{}) is not delegated to the user",
            own.display()
        ));
    }
    Ok(Delegation {
        controllers: available(&dir),
        top: dir.clone(),
        dir,
    })
}

/// Moves `pid` into the sub-cgroup `name` of `dir`, made when missing.
pub fn move_into(dir: &Path, name: &str, pid: i32) -> std::io::Result<()> {
    let sub = dir.join(name);
    if !sub.exists() {
        fs::create_dir(&sub)?;
    }
    fs::write(sub.join("cgroup.procs"), pid.to_string())
}

/// Empties the cgroup `dir` of processes, so that it may hand controllers
/// down to its children (cgroup v2 lets only a cgroup without processes of
/// its own do that): each moves to its [`SPLIT_RUNTIME`] sub-cgroup, as
/// Podman's split mode moves the processes of the caller's cgroup to
/// `runtime`. A process that exits meanwhile is skipped.
pub fn vacate(dir: &Path) -> std::io::Result<()> {
    let procs = fs::read_to_string(dir.join("cgroup.procs"))?;
    for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        match move_into(dir, SPLIT_RUNTIME, pid) {
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
            other => other?,
        }
    }
    Ok(())
}

/// `--cgroups split` for the calling supervisor (`uid` its euid): the
/// caller's cgroup (see [`split_base`]) split in two, the supervisor moved
/// to [`SPLIT_SUPERVISOR`] and every other process in it to
/// [`SPLIT_RUNTIME`], and the delegation in which [`enter`] then makes the
/// container's cgroup, with the controllers `res` needs enabled where the
/// user may (as [`enable_for`]).
pub fn split(uid: u32, res: &Resources) -> Result<Delegation, String> {
    let root = unified_root().ok_or("--cgroups=split: no cgroup v2 hierarchy on this host")?;
    let own = fs::read_to_string("/proc/self/cgroup").map_err(|e| e.to_string())?;
    let d = split_base(&root, &own, uid)?;
    let moved =
        move_into(&d.dir, SPLIT_SUPERVISOR, std::process::id() as i32).and_then(|_| vacate(&d.dir));
    moved.map_err(|e| format!("--cgroups=split: {}: {e}", d.dir.display()))?;
    Ok(enable_for(d, res, uid))
}

/// The cgroup directory of a pod whose containers use it as their parent
/// (`pod create --share-parent`, Podman's default).
pub fn pod_dir(d: &Delegation, pod_id: &str) -> PathBuf {
    d.dir
        .join(format!("skiff-pod-{}", &pod_id[..12.min(pod_id.len())]))
}

/// The delegation below which a `--share-parent` pod's containers get their
/// cgroups: the pod's own cgroup ([`pod_dir`]), created with the delegated
/// controllers enabled for it (best effort, as in [`enter`]).
pub fn pod_parent(d: &Delegation, pod_id: &str) -> std::io::Result<Delegation> {
    let dir = pod_dir(d, pod_id);
    if !d.controllers.is_empty() {
        let enable: Vec<String> = d.controllers.iter().map(|c| format!("+{c}")).collect();
        let _ = fs::write(d.dir.join("cgroup.subtree_control"), enable.join(" "));
    }
    fs::create_dir_all(&dir)?;
    Ok(Delegation {
        dir,
        top: d.top.clone(),
        controllers: d.controllers.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(uid_owned: bool) -> (tempfile::TempDir, u32) {
        let d = tempfile::tempdir().unwrap();
        let user = d
            .path()
            .join("user.slice/user-1000.slice/user@1000.service/app.slice");
        fs::create_dir_all(user.join("skiff.scope")).unwrap();
        for f in [
            "cgroup.procs",
            "cgroup.subtree_control",
            "cgroup.controllers",
        ] {
            fs::write(
                user.join(f),
                if f == "cgroup.controllers" {
                    "cpu memory pids"
                } else {
                    ""
                },
            )
            .unwrap();
        }
        let me = nix::unistd::getuid().as_raw();
        (d, if uid_owned { me } else { me + 1 })
    }

    #[test]
    fn own_path_parses_v2_line() {
        assert_eq!(
            own_path("12:pids:/x\n0::/user.slice/a.scope\n"),
            Some(PathBuf::from("user.slice/a.scope"))
        );
        assert_eq!(own_path("12:pids:/x\n"), None);
    }

    #[test]
    fn detects_owned_parent_and_moves_a_pid() {
        let (d, uid) = tree(true);
        let proc = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/skiff.scope\n";
        let del = detect(d.path(), proc, uid).expect("delegated");
        assert!(del.dir.ends_with("app.slice"));
        assert_eq!(del.controllers, vec!["cpu", "memory", "pids"]);
        let dir = enter(&del, "0123456789abcdef", 4242, &Resources::default()).unwrap();
        assert_eq!(
            fs::read_to_string(dir.join("cgroup.procs")).unwrap(),
            "4242"
        );
        assert_eq!(
            fs::read_to_string(del.dir.join("cgroup.subtree_control")).unwrap(),
            "+cpu +memory +pids"
        );
        freeze(&dir, true).unwrap();
        assert_eq!(fs::read_to_string(dir.join("cgroup.freeze")).unwrap(), "1");
        freeze(&dir, false).unwrap();
        assert_eq!(fs::read_to_string(dir.join("cgroup.freeze")).unwrap(), "0");
    }

    #[test]
    fn a_pods_containers_nest_in_the_pods_cgroup() {
        let (d, uid) = tree(true);
        let proc = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/skiff.scope\n";
        let del = detect(d.path(), proc, uid).expect("delegated");
        let pod = pod_parent(&del, "fedcba9876543210").unwrap();
        assert_eq!(pod.dir, del.dir.join("skiff-pod-fedcba987654"));
        let dir = enter(&pod, "0123456789abcdef", 4243, &Resources::default()).unwrap();
        assert_eq!(dir, pod.dir.join("skiff-0123456789ab"));
        assert_eq!(
            fs::read_to_string(pod.dir.join("cgroup.subtree_control")).unwrap(),
            "+cpu +memory +pids"
        );
    }

    #[test]
    fn not_delegated_when_someone_else_owns_it() {
        let (d, other) = tree(false);
        let proc = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/skiff.scope\n";
        assert_eq!(detect(d.path(), proc, other), None);
    }

    /// A delegated tree and the delegation detect finds in it.
    fn delegated() -> (tempfile::TempDir, Delegation) {
        let (d, uid) = tree(true);
        let proc = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/skiff.scope\n";
        let del = detect(d.path(), proc, uid).expect("delegated");
        (d, del)
    }

    #[test]
    fn limits_are_written_before_the_pid_enters() {
        let (_tree, del) = delegated();
        let res = Resources {
            memory: Some(64 << 20),
            pids_limit: Some(10),
            nano_cpus: Some(500_000_000),
            ..Default::default()
        };
        assert_eq!(check(Some(&del), &res), Ok(()));
        let dir = enter(&del, "0123456789abcdef", 4242, &res).unwrap();
        let read = |f: &str| fs::read_to_string(dir.join(f)).unwrap();
        assert_eq!(read("memory.max"), "67108864");
        assert_eq!(read("memory.swap.max"), "67108864");
        assert_eq!(read("pids.max"), "10");
        assert_eq!(read("cpu.max"), "50000 100000");
        assert_eq!(read("cgroup.procs"), "4242");
        fs::write(
            dir.join("memory.events"),
            "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
        )
        .unwrap();
        assert!(oom_killed(&dir));
        fs::write(dir.join("memory.events"), "oom 0\noom_kill 0\n").unwrap();
        assert!(!oom_killed(&dir));
    }

    #[test]
    fn limits_need_their_controllers_delegated() {
        let (_tree, del) = delegated();
        let io = Resources {
            blkio_weight: Some(100),
            ..Default::default()
        };
        let e = check(Some(&del), &io).unwrap_err();
        assert!(
            e.starts_with("the requested cgroup controller `io` is not available"),
            "{e}"
        );
        assert_eq!(check(None, &io).unwrap_err(), NO_DELEGATION);
        assert_eq!(check(None, &Resources::default()), Ok(()));
    }

    #[test]
    fn split_uses_the_callers_own_cgroup_when_it_is_the_users() {
        let (d, uid) = tree(true);
        let app = "user.slice/user-1000.slice/user@1000.service/app.slice";
        let scope = d.path().join(app).join("skiff.scope");
        for f in ["cgroup.procs", "cgroup.subtree_control"] {
            fs::write(scope.join(f), "").unwrap();
        }
        fs::write(scope.join("cgroup.controllers"), "memory pids").unwrap();
        let proc = format!("0::/{app}/skiff.scope\n");
        let base = split_base(d.path(), &proc, uid).unwrap();
        assert_eq!(base.dir, scope);
        assert_eq!(base.top, scope);
        assert_eq!(base.controllers, vec!["memory", "pids"]);
        // A supervisor restarting its container runs in the split already.
        let again = format!("0::/{app}/skiff.scope/{SPLIT_SUPERVISOR}\n");
        assert_eq!(split_base(d.path(), &again, uid).unwrap().dir, scope);
        move_into(&scope, SPLIT_SUPERVISOR, 77).unwrap();
        assert_eq!(
            fs::read_to_string(scope.join(SPLIT_SUPERVISOR).join("cgroup.procs")).unwrap(),
            "77"
        );
        let e = split_base(d.path(), &proc, uid + 1).unwrap_err();
        assert_eq!(
            e,
            format!("--cgroups=split: the cgroup of the caller (/{app}/skiff.scope) is not delegated to the user")
        );
    }

    #[test]
    fn a_cgroup_parent_must_lie_in_the_delegated_subtree() {
        let (d, del) = delegated();
        let e = with_parent(del.clone(), d.path(), "/system.slice").unwrap_err();
        assert!(e.contains("outside the cgroup subtree delegated"), "{e}");
        assert!(with_parent(del.clone(), d.path(), "/user.slice/../x").is_err());
        let p = "/user.slice/user-1000.slice/user@1000.service/app.slice/mine";
        let sub = with_parent(del, d.path(), p).unwrap();
        let dir = enter(&sub, "0123456789abcdef", 7, &Resources::default()).unwrap();
        assert!(
            dir.ends_with("app.slice/mine/skiff-0123456789ab"),
            "{}",
            dir.display()
        );
        assert_eq!(
            fs::read_to_string(sub.dir.join("cgroup.subtree_control")).unwrap(),
            "+cpu +memory +pids"
        );
    }
}
