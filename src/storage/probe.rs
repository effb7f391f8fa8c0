//! Finding out whether kernel overlay mounts work for this user, by trying one.

use std::ffi::CString;
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
fn try_mount_in_child(target: &CString, data: &CString) -> bool {
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::{fork, ForkResult};

    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    let rootless = uid != 0;
    // Everything the child needs is prepared here: after fork in a possibly
    // multi-threaded process the child may not allocate.
    let uid_map = format!("0 {uid} 1");
    let gid_map = format!("0 {gid} 1");
    let overlay = c"overlay";
    let root = c"/";

    // SAFETY: the child only makes raw system calls on memory prepared before
    // the fork (no allocation, no locks, no destructors) and ends with _exit.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            // SAFETY: pointers come from live CStrings/slices above; lengths match.
            unsafe {
                let ok = (|| {
                    if rootless {
                        if libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) != 0 {
                            return false;
                        }
                        let write = |path: &std::ffi::CStr, text: &[u8]| {
                            let fd = libc::open(path.as_ptr(), libc::O_WRONLY);
                            if fd < 0 {
                                return false;
                            }
                            let n = libc::write(fd, text.as_ptr().cast(), text.len());
                            libc::close(fd);
                            n == text.len() as isize
                        };
                        if !write(c"/proc/self/setgroups", b"deny")
                            || !write(c"/proc/self/uid_map", uid_map.as_bytes())
                            || !write(c"/proc/self/gid_map", gid_map.as_bytes())
                        {
                            return false;
                        }
                    } else if libc::unshare(libc::CLONE_NEWNS) != 0 {
                        return false;
                    }
                    // Keep the probe mount from propagating to the parent's namespace.
                    if libc::mount(
                        std::ptr::null(),
                        root.as_ptr(),
                        std::ptr::null(),
                        libc::MS_REC | libc::MS_PRIVATE,
                        std::ptr::null(),
                    ) != 0
                    {
                        return false;
                    }
                    libc::mount(
                        overlay.as_ptr(),
                        target.as_ptr(),
                        overlay.as_ptr(),
                        0,
                        data.as_ptr().cast(),
                    ) == 0
                })();
                libc::_exit(if ok { 0 } else { 1 })
            }
        }
        Ok(ForkResult::Parent { child }) => loop {
            match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, code)) => return code == 0,
                Ok(WaitStatus::Signaled(..)) => return false,
                Ok(_) => continue,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return false,
            }
        },
        Err(_) => false,
    }
}
