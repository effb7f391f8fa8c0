//! Finding out whether kernel overlay mounts work for this user, by trying one.

use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Tries a throw-away overlay mount with `userxattr` in a child process that
/// has its own mount namespace (and, when not root, its own user namespace
/// mapping only the user), with its directories below `root` so that the file
/// system of the store is the one tested.
pub(super) fn overlay_works(root: &Path) -> bool {
    let base = root.join(format!(".overlay-probe-{}", std::process::id()));
    let result = (|| -> Option<bool> {
        for d in ["lower", "upper", "work", "merged"] {
            std::fs::create_dir_all(base.join(d)).ok()?;
        }
        let target = CString::new(base.join("merged").as_os_str().as_bytes()).ok()?;
        let data = CString::new(format!(
            "lowerdir={},upperdir={},workdir={},userxattr",
            base.join("lower").display(),
            base.join("upper").display(),
            base.join("work").display()
        ))
        .ok()?;
        Some(try_mount_in_child(&target, &data))
    })();
    let _ = super::tree::remove_all(&base);
    result.unwrap_or(false)
}

/// Forks a child that enters new namespaces and mounts; true if it succeeded.
/// The mount disappears with the child's mount namespace.
#[allow(unsafe_code)]
fn try_mount_in_child(target: &CStr, data: &CStr) -> bool {
    use nix::fcntl::{open, OFlag};
    use nix::mount::{mount, MsFlags};
    use nix::sched::{unshare, CloneFlags};
    use nix::sys::stat::Mode;
    use nix::sys::wait::{waitpid, WaitStatus};

    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    let rootless = uid != 0;
    // Everything the child needs is prepared here: it only makes system
    // calls on this memory (no allocation, no locks).
    let uid_map = format!("0 {uid} 1");
    let gid_map = format!("0 {gid} 1");
    let child = || {
        let write = |path: &CStr, text: &[u8]| {
            let Ok(fd) = open(path, OFlag::O_WRONLY | OFlag::O_CLOEXEC, Mode::empty()) else {
                return false;
            };
            let n = nix::unistd::write(
                // SAFETY: `fd` was just opened here and is closed below; the
                // borrow ends before that.
                unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) },
                text,
            );
            let _ = nix::unistd::close(fd);
            n == Ok(text.len())
        };
        let ok = (|| {
            if rootless {
                let unshared = unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS);
                crate::runtime::idmap::userns_changed();
                unshared.ok()?;
                if !write(c"/proc/self/setgroups", b"deny")
                    || !write(c"/proc/self/uid_map", uid_map.as_bytes())
                    || !write(c"/proc/self/gid_map", gid_map.as_bytes())
                {
                    return None;
                }
            } else {
                unshare(CloneFlags::CLONE_NEWNS).ok()?;
            }
            // Keep the probe mount from propagating to the parent's namespace.
            mount(
                None::<&CStr>,
                c"/",
                None::<&CStr>,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                None::<&CStr>,
            )
            .ok()?;
            mount(
                Some(c"overlay"),
                target,
                Some(c"overlay"),
                MsFlags::empty(),
                Some(data),
            )
            .ok()
        })();
        if ok.is_some() {
            0
        } else {
            1
        }
    };
    // SAFETY: the child only makes system calls on memory prepared above
    // and returns a status for `_exit`: async-signal-safe, so this fork
    // is sound even on a thread of a multi-threaded process (a unit test's).
    let forked = unsafe {
        crate::runtime::fork::fork_signal_safe(
            "probing overlay mounts",
            CloneFlags::empty(),
            (),
            child,
        )
    };
    let Ok((child, ())) = forked else {
        return false;
    };
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return code == 0,
            Ok(WaitStatus::Signaled(..)) => return false,
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return false,
        }
    }
}
