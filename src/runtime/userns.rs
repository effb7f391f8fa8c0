//! The long-lived user namespace holder (Podman's "pause process").
//!
//! The first command that needs the user namespace creates it once, mapped
//! from the user's subordinate ranges, together with a mount namespace in
//! which container root filesystems are mounted. A tiny process keeps both
//! alive; every later command joins them with setns instead of rebuilding
//! the mapping, so the mounts and ownership stay consistent across commands.
#![allow(unsafe_code)]

use std::ffi::c_char;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use super::fork;
use super::idmap::{self, IdMap};
use super::{Error, Result};
use crate::state::Lock;
use crate::Context;

const PAUSE_ARG: &str = "_pause";

/// Joins the user and mount namespaces of the holder, creating it first if
/// needed. Must run while the process is single-threaded. A no-op for real
/// root and for a process already inside the namespace (`skiff unshare`).
pub fn enter(ctx: &Context) -> crate::Result<()> {
    if !ctx.rootless || !idmap::in_initial_userns() {
        return Ok(());
    }
    // setns(CLONE_NEWNS) moves the cwd to the namespace's root; come back to it.
    let cwd = std::env::current_dir().ok();
    let pid = ensure_holder(ctx, None)?;
    if let Err(first) = join(pid) {
        // The holder may have died between the check and the join: make a
        // new one, unless another command already did.
        let pid = ensure_holder(ctx, Some(pid))?;
        join(pid).map_err(|_| first)?;
    }
    if let Some(cwd) = cwd {
        let _ = std::env::set_current_dir(cwd);
    }
    Ok(())
}

/// Stops the namespace holder of this run root (`system reset`), checked
/// by owner and command line first so that a recycled pid is spared.
pub fn stop_holder(ctx: &Context) {
    let _lock = Lock::exclusive(&ctx.runroot.join("pause.lock"));
    // Called from inside the namespace, where the holder's owner reads as
    // uid 0: checked by command line only.
    let pid = fs::read_to_string(pid_file(ctx))
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .unwrap_or_default()
                .split(|&b| b == 0)
                .any(|arg| arg == PAUSE_ARG.as_bytes())
        });
    if let Some(pid) = pid {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    let _ = fs::remove_file(pid_file(ctx));
}

/// The pid of the namespace holder, if one is running for this run root.
pub fn holder_pid(ctx: &Context) -> Option<i32> {
    let pid: i32 = fs::read_to_string(pid_file(ctx))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    holder_alive(pid, ctx.uid).then_some(pid)
}

fn pid_file(ctx: &Context) -> PathBuf {
    ctx.runroot.join("pause.pid")
}

fn holder_alive(pid: i32, uid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let owned = fs::metadata(&proc).map(|m| m.uid() == uid).unwrap_or(false);
    let cmdline = fs::read(proc.join("cmdline")).unwrap_or_default();
    owned
        && cmdline
            .split(|&b| b == 0)
            .any(|arg| arg == PAUSE_ARG.as_bytes())
}

/// The running holder's pid, spawning one when there is none. `dead` is a
/// holder the caller failed to join: replaced, but only under the lock and
/// only if the pid file still names it (two racing commands must not each
/// make a holder, nor delete the pid file of the other's).
fn ensure_holder(ctx: &Context, dead: Option<i32>) -> Result<i32> {
    if let Some(pid) = holder_pid(ctx).filter(|p| Some(*p) != dead) {
        return Ok(pid);
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&ctx.runroot)
        .map_err(|e| Error::Msg(crate::error::io_msg("mkdir", &ctx.runroot, &e)))?;
    let _lock =
        Lock::exclusive(&ctx.runroot.join("pause.lock")).map_err(|e| Error::Msg(e.to_string()))?;
    if let Some(pid) = holder_pid(ctx).filter(|p| Some(*p) != dead) {
        return Ok(pid);
    }
    let _ = fs::remove_file(pid_file(ctx));
    let pid = spawn_holder(ctx)?;
    crate::state::atomic_write(&pid_file(ctx), pid.to_string().as_bytes())
        .map_err(|e| Error::Msg(e.to_string()))?;
    Ok(pid)
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::sys("pipe", e))
}

fn spawn_holder(ctx: &Context) -> Result<i32> {
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(ctx.uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| ctx.uid.to_string());
    let uid_ranges = idmap::subids(Path::new("/etc/subuid"), &user, ctx.uid);
    let gid_ranges = idmap::subids(Path::new("/etc/subgid"), &user, ctx.uid);

    let (to_parent_r, to_parent_w) = pipe()?;
    let (to_child_r, to_child_w) = pipe()?;
    // Everything the child uses is made before the fork: it only makes
    // system calls on this memory (see `holder_child`).
    let argv = [c"skiff".as_ptr(), c"_pause".as_ptr(), std::ptr::null()];
    let (child, (to_parent_r, to_child_w)) = fork::fork(
        "starting the namespace holder",
        CloneFlags::empty(),
        (to_parent_r, to_child_w),
        move || holder_child(&to_parent_w, &to_child_r, &argv),
    )?;
    let fail = |e: Error| {
        let _ = kill(child, Signal::SIGKILL);
        let _ = waitpid(child, None);
        e
    };
    let mut buf = [0u8; 5];
    let mut to_parent = File::from(to_parent_r);
    let n = to_parent.read(&mut buf).unwrap_or(0);
    if n == 0 || buf[0] != b'1' {
        let errno = if n == 5 {
            nix::errno::Errno::from_raw(i32::from_ne_bytes([buf[1], buf[2], buf[3], buf[4]]))
        } else {
            nix::errno::Errno::EPERM
        };
        return Err(fail(Error::Msg(format!(
            "cannot create a user namespace: {}; check that unprivileged user namespaces are enabled (sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone)",
            errno.desc().to_lowercase()
        ))));
    }
    write_maps(child, ctx, &user, &uid_ranges, &gid_ranges).map_err(fail)?;
    File::from(to_child_w)
        .write_all(b"1")
        .map_err(|e| fail(Error::Msg(format!("namespace holder: {e}"))))?;
    // The child's end is close-on-exec: end of file means the child has
    // exec'd `skiff _pause` (or died). Until then its command line is still
    // ours, and `holder_alive` (hence `stop_holder` and a racing
    // `ensure_holder`) would not know it as the holder.
    let mut rest = Vec::new();
    let _ = to_parent.read_to_end(&mut rest);
    if !holder_alive(child.as_raw(), ctx.uid) {
        return Err(fail(Error::Msg(
            "namespace holder: `skiff _pause` did not start".into(),
        )));
    }
    Ok(child.as_raw())
}

fn write_maps(
    child: Pid,
    ctx: &Context,
    user: &str,
    uid_ranges: &[(u32, u32)],
    gid_ranges: &[(u32, u32)],
) -> Result<()> {
    if !uid_ranges.is_empty() && !gid_ranges.is_empty() {
        idmap::apply_with_helper(
            "newuidmap",
            child.as_raw(),
            &idmap::build_maps(ctx.uid, uid_ranges),
        )?;
        idmap::apply_with_helper(
            "newgidmap",
            child.as_raw(),
            &idmap::build_maps(ctx.gid, gid_ranges),
        )?;
        return Ok(());
    }
    tracing::warn!(
        "no subordinate ids for user {user} in /etc/subuid and /etc/subgid: only your own uid is mapped, and images with files owned by other users cannot be used (add a range with: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user})"
    );
    let proc = PathBuf::from(format!("/proc/{}", child.as_raw()));
    let single = |id| {
        idmap::map_text(&[IdMap {
            inside: 0,
            outside: id,
            count: 1,
        }])
    };
    let w = |file: &str, text: &str| {
        fs::write(proc.join(file), text)
            .map_err(|e| Error::Msg(crate::error::io_msg("write", &proc.join(file), &e)))
    };
    w("uid_map", &single(ctx.uid))?;
    w("setgroups", "deny")?;
    w("gid_map", &single(ctx.gid))
}

/// The holder between fork and exec: makes the namespaces, tells the
/// parent (`1`, or `E` and the errno), waits for the maps to be written and
/// execs `skiff _pause` (`argv`, NULL-terminated). Async-signal-safe: system
/// calls on memory made before the fork, no allocation, no locks. Returns
/// the exit status when a step fails.
fn holder_child(to_parent: &OwnedFd, to_child: &OwnedFd, argv: &[*const c_char; 3]) -> i32 {
    use nix::unistd::{read, write};
    let unshared = unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS);
    idmap::userns_changed();
    if let Err(e) = unshared {
        let errno = (e as i32).to_ne_bytes();
        let msg = [b'E', errno[0], errno[1], errno[2], errno[3]];
        let _ = write(to_parent, &msg);
        return 1;
    }
    let _ = write(to_parent, b"1");
    let mut go = [0u8; 1];
    if read(to_child.as_raw_fd(), &mut go).unwrap_or(0) != 1 {
        return 1;
    }
    let _ = nix::unistd::setsid();
    if let Ok(null) = nix::fcntl::open(
        c"/dev/null",
        nix::fcntl::OFlag::O_RDWR,
        nix::sys::stat::Mode::empty(),
    ) {
        for fd in 0..3 {
            let _ = nix::unistd::dup2(null, fd);
        }
    }
    let _ = nix::unistd::chdir(c"/");
    // SAFETY: the path and every argv entry are NUL-terminated static
    // strings and argv ends with a null pointer; execv returns only on error.
    unsafe { libc::execv(c"/proc/self/exe".as_ptr(), argv.as_ptr()) };
    1
}

fn join(pid: i32) -> Result<()> {
    let open = |ns: &str| {
        File::open(format!("/proc/{pid}/ns/{ns}")).map_err(|e| {
            Error::Msg(format!(
                "joining the user namespace of skiff's namespace holder (pid {pid}): {}",
                crate::error::io_reason(&e)
            ))
        })
    };
    let user = open("user")?;
    let mnt = open("mnt")?;
    let joined = setns(user, CloneFlags::CLONE_NEWUSER);
    idmap::userns_changed();
    joined.map_err(|e| Error::sys(format!("joining the user namespace of pid {pid}"), e))?;
    setns(mnt, CloneFlags::CLONE_NEWNS)
        .map_err(|e| Error::sys(format!("joining the mount namespace of pid {pid}"), e))?;
    Ok(())
}

/// The holder itself: sleeps until it is killed, keeping the namespaces alive.
pub fn pause_main() -> crate::Result<i32> {
    // It outlives the command that started it: hold on to nothing of its caller's.
    // SAFETY: nothing of this process owns a descriptor above stderr yet:
    // `cli::run` dispatches here before opening any.
    unsafe { super::fds::close_from(3) };
    loop {
        nix::unistd::pause();
    }
}
