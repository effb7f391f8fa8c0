//! cgroup v2: finding a subtree delegated to the user, giving each container
//! its own cgroup there, and freezing it. Every function takes the cgroup
//! root as a parameter, so tests point it at a temporary directory laid out
//! like /sys/fs/cgroup. Nothing is ever written outside a delegated subtree.

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
            controllers: fs::read_to_string(dir.join("cgroup.controllers"))
                .unwrap_or_default()
                .split_whitespace()
                .map(String::from)
                .collect(),
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

/// The cgroup directory of a container under a delegation.
pub fn container_dir(d: &Delegation, id: &str) -> PathBuf {
    d.dir.join(format!("skiff-{}", &id[..12.min(id.len())]))
}

/// Creates the container's cgroup, enables the delegated controllers for it
/// (best effort: a host may delegate none), and moves `pid` into it.
pub fn enter(d: &Delegation, id: &str, pid: i32) -> std::io::Result<PathBuf> {
    let dir = container_dir(d, id);
    if !d.controllers.is_empty() {
        let enable: Vec<String> = d.controllers.iter().map(|c| format!("+{c}")).collect();
        let _ = fs::write(d.dir.join("cgroup.subtree_control"), enable.join(" "));
    }
    fs::create_dir_all(&dir)?;
    fs::write(dir.join("cgroup.procs"), pid.to_string())?;
    Ok(dir)
}

/// Freezes (`true`) or thaws the container's cgroup.
pub fn freeze(dir: &Path, frozen: bool) -> std::io::Result<()> {
    fs::write(dir.join("cgroup.freeze"), if frozen { "1" } else { "0" })
}

/// Removes an empty container cgroup (after its processes have exited).
pub fn remove(dir: &Path) {
    let _ = fs::remove_dir(dir);
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
        let dir = enter(&del, "0123456789abcdef", 4242).unwrap();
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
        let dir = enter(&pod, "0123456789abcdef", 4243).unwrap();
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
}
