//! `--cgroup-manager systemd`: the container's cgroup is a transient scope of
//! the user's systemd manager, asked for over the user's D-Bus, as Podman's
//! default rootless cgroup manager makes `libpod-<id>.scope`.
//!
//! The supervisor calls `org.freedesktop.systemd1.Manager.StartTransientUnit`
//! for `skiff-<id>.scope` with the container's (not yet released) pid,
//! `Delegate=yes` and `CollectMode=inactive-or-failed`, then puts the process
//! in a `container` leaf inside the scope (as crun does when it needs one) and
//! the supervisor in a `supervisor` leaf beside it, hands the controllers down
//! and writes the limits on the container's leaf: systemd owns the scope's own
//! attributes and may rewrite them on a reload, never the inside of a
//! delegated scope. The scope stops, and systemd removes its cgroup, when its
//! last process (the supervisor) exits.
//!
//! This works from any session of the user, also one whose own cgroup is not
//! delegated (an ssh login's `session-N.scope` belongs to root), which is why
//! Podman prefers it wherever a user bus exists.
//!
//! The call is made with `busctl`, systemd's own D-Bus client (wherever a user
//! manager runs, systemd's package is installed): the supervisor stays a
//! single-threaded process that forks and execs, which an in-process D-Bus
//! library with its own executor thread would not allow. sd-bus authenticates
//! with `AUTH EXTERNAL` and no uid, so it works from inside skiff's user
//! namespace, where the caller's uid reads 0.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{available, hand_down, Delegation, Resources};

/// The program that speaks D-Bus for us (systemd's package).
const BUSCTL: &str = "busctl";

/// The leaf inside the scope that holds the container's processes.
const LEAF: &str = "container";

/// The leaf inside the scope that holds the container's supervisor.
const SUPERVISOR_LEAF: &str = "supervisor";

/// How long systemd may take to put the process in the new scope.
const SCOPE_TIMEOUT: Duration = Duration::from_secs(5);

/// The address of the user's session bus: `DBUS_SESSION_BUS_ADDRESS`, else
/// `$XDG_RUNTIME_DIR/bus` when that socket exists (what sd-bus and Podman
/// look for). `None` where there is no user session bus.
pub fn user_bus() -> Option<String> {
    if let Ok(a) = std::env::var("DBUS_SESSION_BUS_ADDRESS") {
        if let Some(path) = a.strip_prefix("unix:path=") {
            let path = path.split(',').next().unwrap_or(path);
            return Path::new(path).exists().then_some(a);
        }
        return (!a.is_empty()).then_some(a);
    }
    let dir = std::env::var_os("XDG_RUNTIME_DIR")?;
    let sock = Path::new(&dir).join("bus");
    sock.exists()
        .then(|| format!("unix:path={}", sock.display()))
}

/// Whether the systemd cgroup manager can be used by this process: a unified
/// cgroup v2 hierarchy, a user session bus and `busctl` to talk to it.
pub fn usable() -> bool {
    // Every command asks (the default manager): the environment first, so
    // that a host without a user bus never reads mountinfo for it.
    user_bus().is_some()
        && super::unified_root().is_some()
        && crate::network::helper::lookup(BUSCTL).is_some()
}

/// The unit name of a container's scope (Podman: `libpod-<id>.scope`).
pub fn scope_name(id: &str) -> String {
    format!("skiff-{id}.scope")
}

/// What the user's manager can delegate to a scope, for the checks made
/// before anything runs (`create`): the controllers of `user@UID.service`,
/// the subtree systemd delegates to the user's manager.
pub fn manager_delegation() -> Option<Delegation> {
    let root = super::unified_root()?;
    // The host's number, not the 0 the user is in skiff's user namespace.
    let uid = crate::runtime::idmap::host_uid();
    let dir = root.join(format!("user.slice/user-{uid}.slice/user@{uid}.service"));
    dir.is_dir().then(|| Delegation {
        controllers: available(&dir),
        top: dir.clone(),
        dir,
    })
}

/// Asks the user's manager for the scope of container `id` holding `pid`
/// (and the calling supervisor, unless `with_supervisor` is false), waits
/// until the processes are in it, moves the container into the scope's
/// `container` leaf and the supervisor into a `supervisor` leaf, hands the
/// controllers `res` needs down and writes the limits. Returns the
/// container leaf's directory (the container's cgroup).
///
/// The supervisor in the scope keeps it alive after the container's last
/// process exits, until the exit is recorded (an OOM kill is read from the
/// leaf's memory.events then) and through restarts, and outside the cgroup
/// of the session that ran `skiff run` (which a logout may stop). A
/// restarted container finds the scope already there and reuses it.
/// The process must not run yet: it is unconfined until this returns.
/// Errors: one line with systemd's (or the kernel's) answer.
pub fn enter(
    id: &str,
    name: &str,
    pid: i32,
    with_supervisor: bool,
    res: &Resources,
) -> Result<PathBuf, String> {
    // Refused before systemd is asked for anything.
    if !res.is_empty() {
        super::check(manager_delegation().as_ref(), res)?;
    }
    let unit = scope_name(id);
    let me = std::process::id() as i32;
    let scope = match own_scope(&unit) {
        Some(scope) => scope,
        None => {
            let mut pids = vec![pid];
            if with_supervisor {
                pids.push(me);
            }
            start_scope(&unit, name, &pids)?;
            let scope = wait_in_scope(pid, &unit)?;
            if with_supervisor {
                // A process may only be moved between cgroups below a
                // common one the user owns: once systemd has moved it too.
                wait_in_scope(me, &unit)?;
                move_to(&scope.join(SUPERVISOR_LEAF), me)?;
            }
            scope
        }
    };
    let leaf = scope.join(LEAF);
    move_to(&leaf, pid)?;
    // The scope holds no process of its own now: every controller systemd
    // delegated to it is handed on to the leaves (stats reads pids.current
    // and memory.current of a container without limits too), then the
    // limits written before the process runs.
    hand_down(&scope, &available(&scope));
    super::apply(&leaf, res).map_err(|e| format!("{}: {e}", leaf.display()))?;
    Ok(leaf)
}

/// StartTransientUnit of `unit` for `pids`, with `Delegate=yes`.
fn start_scope(unit: &str, name: &str, pids: &[i32]) -> Result<(), String> {
    let bus = user_bus().ok_or("no user session bus for --cgroup-manager systemd")?;
    let count = pids.len().to_string();
    let pids: Vec<String> = pids.iter().map(i32::to_string).collect();
    let description = format!("skiff container {name}");
    let out = Command::new(BUSCTL)
        .arg(format!("--address={bus}"))
        .args(["--quiet", "call", "org.freedesktop.systemd1"])
        .args([
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
        ])
        .args(["StartTransientUnit", "ssa(sv)a(sa(sv))", unit, "fail", "4"])
        .args(["PIDs", "au", &count])
        .args(&pids)
        .args(["Delegate", "b", "true"])
        .args(["CollectMode", "s", "inactive-or-failed"])
        .args(["Description", "s", &description, "0"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {BUSCTL}: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("systemd scope {unit}: {}", err.trim()));
    }
    Ok(())
}

/// The scope's directory when this process (the supervisor of a container
/// starting again) is already in `unit`.
fn own_scope(unit: &str) -> Option<PathBuf> {
    let own = super::own_path(&fs::read_to_string("/proc/self/cgroup").ok()?)?;
    let scope = own.parent()?;
    (own.file_name()? == SUPERVISOR_LEAF && scope.file_name()? == unit)
        .then(|| super::unified_root().map(|r| r.join(scope)))
        .flatten()
}

/// Moves `pid` into the leaf cgroup `dir`, made when missing.
fn move_to(dir: &Path, pid: i32) -> Result<(), String> {
    match fs::create_dir(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            return Err(format!("{}: {e}", dir.display()))
        }
        _ => {}
    }
    fs::write(dir.join("cgroup.procs"), pid.to_string())
        .map_err(|e| format!("{}: {e}", dir.display()))
}

/// Polls the process's cgroup until systemd has moved it into `unit`
/// (StartTransientUnit returns once the job is queued). Returns the scope's
/// directory.
fn wait_in_scope(pid: i32, unit: &str) -> Result<PathBuf, String> {
    let root = super::unified_root().ok_or("no cgroup v2 hierarchy")?;
    let deadline = Instant::now() + SCOPE_TIMEOUT;
    let suffix = format!("/{unit}");
    loop {
        let own = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        if let Some(p) = super::own_path(&own) {
            if p.to_string_lossy().ends_with(&suffix) {
                return Ok(root.join(p));
            }
        }
        if Instant::now() > deadline {
            return Err(format!(
                "systemd did not move the container into {unit} within {}s",
                SCOPE_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Whether `dir` is the leaf of a systemd scope made by [`enter`].
pub fn is_scope_leaf(dir: &Path) -> bool {
    dir.file_name().is_some_and(|n| n == LEAF)
        && dir
            .parent()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("skiff-") && n.ends_with(".scope"))
}

/// Removes the container's leaf, and the scope's directory when nothing
/// else is left in it (systemd removes it anyway when the scope stops).
pub fn remove(leaf: &Path) {
    let _ = fs::remove_dir(leaf);
    if let Some(scope) = leaf.parent() {
        let _ = fs::remove_dir(scope);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_leaves_are_recognised_by_their_names() {
        assert!(is_scope_leaf(Path::new(
            "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/skiff-abc.scope/container"
        )));
        assert!(!is_scope_leaf(Path::new("/sys/fs/cgroup/x/skiff-abc123")));
        assert!(!is_scope_leaf(Path::new(
            "/sys/fs/cgroup/x/other.scope/container"
        )));
    }
}
