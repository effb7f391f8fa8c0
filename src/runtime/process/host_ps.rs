//! The host's ps(1) run in a container's pid namespace, for `top` with
//! options psgo does not know (libpod's `execPS`): the container need not
//! have a ps of its own, and the host's is the one that reads the options.
//!
//! The process is born in the container's pid namespace and, as Podman's
//! `podman-top` re-exec, made safe to run there: non-dumpable until exec,
//! killed with its parent, every descriptor of the caller closed, a mount
//! namespace of its own in which every mount is read-only (so that nothing
//! in the container can change the ps binary it runs), a /proc of the
//! container's pid namespace, no new privileges and an empty environment.
//! The caller uses it only for a container without CAP_SYS_PTRACE, which
//! therefore cannot reach into the process once it runs.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use nix::sys::wait::{waitpid, WaitStatus};

use crate::runtime::{io_err, Error, Result};

/// The exit status by which the child says that it could not set itself
/// up to run ps (Podman's `podmanTopExitCode`); its reason is on stderr.
const SETUP_FAILED: i32 = 255;

/// What ps(1) did.
#[derive(Debug)]
pub struct PsRun {
    /// Its exit status (128 + signal when killed).
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// mount_setattr(2)'s flag for a read-only mount.
const MOUNT_ATTR_RDONLY: u64 = 0x1;

/// The mount_setattr(2) argument (`struct mount_attr`).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Runs the host's `ps` (the path `ps`, found by the caller) with `args` in
/// the pid namespace of the running container whose init is named by
/// `pidfd` (pid `pid`, checked by the caller), and returns what it printed
/// and its status; a ps that fails (bad options) is no error here.
///
/// # Errors
///
/// When ps could not be run there, which leaves the caller free to run the
/// container's own ps instead (as Podman falls back): this process has
/// more than one thread, the namespaces cannot be joined, the container
/// shares this pid namespace (its processes would not be told apart), or
/// the child could not make its mounts (its reason in the message).
pub fn host_ps(pidfd: BorrowedFd<'_>, pid: i32, ps: &Path, args: &[String]) -> Result<PsRun> {
    let r = run(pidfd, pid, ps, args)?;
    if r.code == SETUP_FAILED {
        let why = String::from_utf8_lossy(&r.stderr).trim().to_string();
        return Err(Error::Msg(format!(
            "could not execute ps(1) in the container pid namespace: {why}"
        )));
    }
    Ok(r)
}

fn same_ns(pid: i32, kind: &str) -> bool {
    let id = |p: String| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let theirs = id(format!("/proc/{pid}/ns/{kind}"));
    theirs.is_some() && theirs == id(format!("/proc/self/ns/{kind}"))
}

fn cstring(s: &[u8]) -> Result<CString> {
    CString::new(s).map_err(|_| Error::Msg("an argument of ps contains NUL".into()))
}

fn run(pidfd: BorrowedFd<'_>, pid: i32, ps: &Path, args: &[String]) -> Result<PsRun> {
    crate::runtime::fork::ensure_single_threaded("running ps(1) in the container")?;
    if same_ns(pid, "pid") {
        return Err(Error::Msg(
            "the container shares skiff's pid namespace".into(),
        ));
    }
    // Everything the child needs is made before the fork.
    let ps_c = cstring(ps.as_os_str().as_bytes())?;
    let mut argv = vec![ps_c.clone()];
    for a in args {
        argv.push(cstring(a.as_bytes())?);
    }
    let envp: [CString; 0] = [];
    let userns = if same_ns(pid, "user") {
        None
    } else {
        let p = format!("/proc/{pid}/ns/user");
        Some(File::open(&p).map_err(|e| io_err("open namespace", Path::new(&p), e))?)
    };
    let null: OwnedFd = File::open("/dev/null")
        .map_err(|e| io_err("open", Path::new("/dev/null"), e))?
        .into();
    let (out_r, out_w) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::sys("creating the ps pipes", e))?;
    let (err_r, err_w) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::sys("creating the ps pipes", e))?;

    // Joining a pid namespace takes effect for children only: the fork
    // below is born in the container's. By pidfd (Linux >= 5.8), else by
    // the namespace file.
    let joined = match nix::sched::setns(pidfd, CloneFlags::CLONE_NEWPID) {
        Err(Errno::EINVAL) => {
            let p = format!("/proc/{pid}/ns/pid");
            let f = File::open(&p).map_err(|e| io_err("open namespace", Path::new(&p), e))?;
            nix::sched::setns(f, CloneFlags::CLONE_NEWPID)
        }
        r => r,
    };
    joined.map_err(|e| Error::sys("joining the container's pid namespace", e))?;

    // SAFETY: prctl with integer arguments on this process.
    let was_dumpable = unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) };
    // SAFETY: as above; the child inherits the flag, so that nothing in the
    // container can open its /proc/PID files before it execs.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    let forked = crate::runtime::fork::fork(
        "forking ps(1)",
        CloneFlags::empty(),
        (out_r, err_r),
        move || {
            let err = match child(&null, &out_w, &err_w, userns.as_ref(), &ps_c, &argv, &envp) {
                Ok(never) => match never {},
                Err(e) => e,
            };
            // Stderr is the pipe by now, or the caller's when dup2 failed.
            let _ = writeln!(std::io::stderr(), "{err}");
            SETUP_FAILED
        },
    );
    if was_dumpable > 0 {
        // SAFETY: prctl with integer arguments on this process.
        unsafe { libc::prctl(libc::PR_SET_DUMPABLE, was_dumpable, 0, 0, 0) };
    }
    let (child_pid, (out_r, err_r)) = forked?;
    let (stdout, stderr) = read_both(out_r, err_r);
    let code = match waitpid(child_pid, None) {
        Ok(WaitStatus::Exited(_, c)) => c,
        Ok(WaitStatus::Signaled(_, s, _)) => 128 + s as i32,
        Ok(_) => SETUP_FAILED,
        Err(e) => return Err(Error::sys("waiting for ps(1)", e)),
    };
    Ok(PsRun {
        code,
        stdout,
        stderr,
    })
}

/// Reads both pipes to their ends (ps writes little on either, but either
/// may fill while the other is read).
fn read_both(out: OwnedFd, err: OwnedFd) -> (Vec<u8>, Vec<u8>) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut bufs = (Vec::new(), Vec::new());
    let mut open = [true, true];
    let mut chunk = [0u8; 8192];
    while open.iter().any(|o| *o) {
        let fds_of = [out.as_fd(), err.as_fd()];
        let which: Vec<usize> = (0..2).filter(|&i| open[i]).collect();
        let mut fds: Vec<PollFd> = which
            .iter()
            .map(|&i| PollFd::new(fds_of[i], PollFlags::POLLIN))
            .collect();
        match poll(&mut fds, PollTimeout::NONE) {
            Err(Errno::EINTR) => continue,
            Err(_) => break,
            Ok(_) => {}
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        for (k, &i) in which.iter().enumerate() {
            if !ready[k] {
                continue;
            }
            match nix::unistd::read(fds_of[i].as_raw_fd(), &mut chunk) {
                Ok(0) | Err(_) => open[i] = false,
                Ok(n) => {
                    let b = if i == 0 { &mut bufs.0 } else { &mut bufs.1 };
                    b.extend_from_slice(&chunk[..n]);
                }
            }
        }
    }
    bufs
}

/// The error of system call `what` that failed with `errno`.
fn sys(what: &'static str) -> impl Fn(Errno) -> Error {
    move |e| Error::sys(what, e)
}

/// In the child, born in the container's pid namespace: the set-up, then
/// ps. Returns only on failure.
fn child(
    null: &OwnedFd,
    out: &OwnedFd,
    err: &OwnedFd,
    userns: Option<&File>,
    ps: &CString,
    argv: &[CString],
    envp: &[CString],
) -> Result<std::convert::Infallible> {
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
        .map_err(sys("prctl(PR_SET_PDEATHSIG)"))?;
    for (fd, to) in [
        (null.as_raw_fd(), 0),
        (out.as_raw_fd(), 1),
        (err.as_raw_fd(), 2),
    ] {
        nix::unistd::dup2(fd, to).map_err(sys("dup2"))?;
    }
    let mut keep: Vec<RawFd> = Vec::new();
    if let Some(u) = userns {
        keep.push(u.as_raw_fd());
    }
    // SAFETY: this forked child never returns to the code that owns the
    // descriptors closed here (the caller's); it execs or `_exit`s, and
    // what it still uses (the user namespace file) is kept.
    unsafe { crate::runtime::fds::close_all_but(&keep) };
    // A container in a user namespace of its own: its /proc can only be
    // mounted from there, and in a mount namespace that namespace owns.
    if let Some(u) = userns {
        nix::sched::setns(u, CloneFlags::CLONE_NEWUSER)
            .map_err(sys("joining the container's user namespace"))?;
    }
    nix::sched::unshare(CloneFlags::CLONE_NEWNS).map_err(sys("unshare(CLONE_NEWNS)"))?;
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(sys("make / mount private"))?;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let root = c"/";
    // SAFETY: mount_setattr(2) reads the NUL-terminated path and `attr`,
    // whose size is passed with it; both outlive the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            root.as_ptr(),
            libc::AT_RECURSIVE as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(rc).map_err(sys("mount_setattr / read-only"))?;
    // Read-only everywhere, or ps is not run.
    if nix::unistd::access(ps.as_c_str(), nix::unistd::AccessFlags::W_OK).is_ok() {
        return Err(Error::Msg(format!(
            "{} was not mounted read-only, so it is not run",
            ps.to_string_lossy()
        )));
    }
    nix::mount::mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(sys("mount /proc"))?;
    nix::sys::prctl::set_no_new_privs().map_err(sys("prctl(PR_SET_NO_NEW_PRIVS)"))?;
    match nix::unistd::execve(ps, argv, envp) {
        Err(e) => Err(Error::sys(format!("execve {}", ps.to_string_lossy()), e)),
        Ok(never) => match never {},
    }
}
