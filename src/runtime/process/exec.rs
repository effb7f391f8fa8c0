//! A process exec'd into a running container: born in its pid namespace,
//! hidden until it has joined the others, then set up as the init is.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::path::PathBuf;

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, SigmaskHow};
use nix::sys::stat::Mode;

use super::channel::{pipe, report_and_exit, wait_for_go};
use super::init::{become_process, setup_stdio};
use super::{ChildStdio, Confinement, Created, Never};
use crate::runtime::{io_err, Error, Result};

/// The namespaces of a running container that an exec'd process joins
/// after its birth (the pid namespace is joined before, by its parent), in
/// the order they are joined: the network first, while the process is
/// still skiff's root (the network namespace of a container with a user
/// namespace of its own belongs to skiff's: pasta's), then the container's
/// user namespace (`--userns keep-id`, `nomap`), whose root then joins the
/// rest, which that namespace owns.
const EXEC_JOINS: [CloneFlags; 6] = [
    CloneFlags::CLONE_NEWNET,
    CloneFlags::CLONE_NEWUSER,
    CloneFlags::CLONE_NEWIPC,
    CloneFlags::CLONE_NEWUTS,
    CloneFlags::CLONE_NEWCGROUP,
    CloneFlags::CLONE_NEWNS,
];

/// The name of a namespace in `/proc/PID/ns/`.
fn ns_name(flag: CloneFlags) -> &'static str {
    match flag {
        CloneFlags::CLONE_NEWPID => "pid",
        CloneFlags::CLONE_NEWIPC => "ipc",
        CloneFlags::CLONE_NEWUTS => "uts",
        CloneFlags::CLONE_NEWNET => "net",
        CloneFlags::CLONE_NEWCGROUP => "cgroup",
        CloneFlags::CLONE_NEWUSER => "user",
        _ => "mnt",
    }
}

/// Which of [`EXEC_JOINS`] process `pid` does not share with this one.
/// A namespace it shares needs no joining, and cannot always be joined: a
/// container on the host's network (`--network host`, a host-network pod)
/// is in a namespace of the initial user namespace, where setns(2) is
/// refused to a rootless caller. One unreadable is counted as not shared.
fn to_join(pid: i32) -> Vec<CloneFlags> {
    use std::os::unix::fs::MetadataExt;
    let id = |p: String| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    EXEC_JOINS
        .into_iter()
        .filter(|&flag| {
            let theirs = id(format!("/proc/{pid}/ns/{}", ns_name(flag)));
            theirs.is_none() || theirs != id(format!("/proc/self/ns/{}", ns_name(flag)))
        })
        .collect()
}

/// Whether process `pid` is in this process's pid namespace.
fn shares_pid_namespace(pid: i32) -> bool {
    use std::os::unix::fs::MetadataExt;
    let id = |p: String| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let theirs = id(format!("/proc/{pid}/ns/pid"));
    theirs.is_some() && theirs == id("/proc/self/ns/pid".to_string())
}

/// How an exec'd process joins the container's namespaces.
enum Join<'a> {
    /// setns(2) on the init's pidfd with every flag at once (Linux >= 5.8):
    /// the namespaces of exactly the process the pidfd names, all or none
    /// (those of [`EXEC_JOINS`] it does not share with this process).
    Pidfd(BorrowedFd<'a>, Vec<CloneFlags>),
    /// `/proc/PID/ns/*` opened before the fork, on older kernels; the
    /// caller checks the pidfd before and after they are opened.
    Files(Vec<(File, CloneFlags)>),
}

impl Join<'_> {
    /// Joins the container's pid namespace for this process's children:
    /// by pidfd, else by the files of `/proc/PID/ns`.
    fn pid_namespace(pidfd: BorrowedFd<'_>, pid: i32) -> Result<Join<'_>> {
        let what = "joining the container's pid namespace";
        let ns = |flag: CloneFlags| {
            let p = PathBuf::from(format!("/proc/{pid}/ns/{}", ns_name(flag)));
            File::open(&p).map_err(|e| io_err("open namespace", &p, e))
        };
        let open_rest = || {
            to_join(pid)
                .into_iter()
                .map(|flag| Ok((ns(flag)?, flag)))
                .collect::<Result<Vec<_>>>()
        };
        // A container on skiff's own pid namespace (`--pid host`): nothing
        // to join there, and a rootless caller could not (it belongs to the
        // initial user namespace). The rest by their files.
        if shares_pid_namespace(pid) {
            return Ok(Join::Files(open_rest()?));
        }
        match nix::sched::setns(pidfd, CloneFlags::CLONE_NEWPID) {
            Ok(()) => return Ok(Join::Pidfd(pidfd, to_join(pid))),
            // Before Linux 5.8 a pidfd is no namespace descriptor.
            Err(Errno::EINVAL) => {}
            Err(e) => return Err(Error::sys(what, e)),
        }
        let files = open_rest()?;
        nix::sched::setns(ns(CloneFlags::CLONE_NEWPID)?, CloneFlags::CLONE_NEWPID)
            .map_err(|e| Error::sys(what, e))?;
        Ok(Join::Files(files))
    }

    /// The descriptors the child must keep open until it has joined.
    fn fds(&self) -> Vec<RawFd> {
        match self {
            Join::Pidfd(fd, _) => vec![fd.as_raw_fd()],
            Join::Files(files) => files.iter().map(|(f, _)| f.as_raw_fd()).collect(),
        }
    }

    /// In the child: joins the other namespaces, in [`EXEC_JOINS`] order.
    fn rest(&self) -> Result<()> {
        match self {
            Join::Pidfd(fd, flags) => {
                let all = flags.iter().fold(CloneFlags::empty(), |a, &f| a | f);
                let join = |set: CloneFlags| {
                    if set.is_empty() {
                        return Ok(());
                    }
                    nix::sched::setns(fd, set)
                        .map_err(|e| Error::sys("joining the container's namespaces", e))
                };
                // All at once, but for a user namespace of the container's
                // own: its network before it (see `EXEC_JOINS`).
                if all.contains(CloneFlags::CLONE_NEWUSER) {
                    join(all & CloneFlags::CLONE_NEWNET)?;
                    join(all - CloneFlags::CLONE_NEWNET)
                } else {
                    join(all)
                }
            }
            Join::Files(files) => files.iter().try_for_each(|(f, flag)| {
                nix::sched::setns(f, *flag)
                    .map_err(|e| Error::sys(format!("joining namespace {flag:?}"), e))
            }),
        }
    }
}

/// How [`exec_in`] joined the container's namespaces, which tells the
/// caller whether it must check the init again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinedBy {
    /// setns(2) on the pidfd: the namespaces are exactly that process's, or
    /// the join fails (ESRCH once it has exited); nothing to check again.
    Pidfd,
    /// `/proc/PID/ns/*` files (Linux < 5.8): the caller must check that the
    /// pidfd's process still runs, else the files may name another's.
    ProcFiles,
}

/// Creates a process inside the namespaces of the running container whose
/// init is named by `pidfd` (pid `pid`, start time already checked by the
/// caller) for `exec`. It runs `process` once `start` is called.
///
/// The namespaces are joined through the pidfd (Linux >= 5.8), so they are
/// the init's own even if its pid was recycled meanwhile; older kernels
/// open `/proc/PID/ns/*`, and the caller must check the pidfd again after
/// this returns (`exec` does when the second value is
/// [`JoinedBy::ProcFiles`]).
///
/// The process is visible in the container from its birth, so, as runc's
/// exec, it is born hidden: non-dumpable (the container can open neither its
/// /proc/PID/exe, fds, mem nor environ), with an empty initial environment
/// block, and it lets go of the caller's descriptors before it joins
/// anything. This process's own environment block is emptied for good
/// (`std::env` keeps working from copies); dumpable is restored after the fork.
pub fn exec_in(
    pidfd: BorrowedFd<'_>,
    pid: i32,
    process: &oci_spec::runtime::Process,
    stdio: ChildStdio,
    confine: &Confinement,
) -> Result<(Created, JoinedBy)> {
    // Checked once for `hide_environment` and the fork below; the same read
    // of /proc/self/stat gives the environment's bounds.
    let stat = crate::runtime::fork::ensure_single_threaded("forking the exec'd process")?;
    hide_environment(&stat)?;
    // SAFETY: prctl with integer arguments on this process.
    let was_dumpable = unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) };
    // SAFETY: as above; the forked child inherits the flag with its memory.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        return Err(Error::sys("prctl(PR_SET_DUMPABLE)", Errno::last()));
    }
    let restore = || {
        if was_dumpable > 0 {
            // SAFETY: prctl with integer arguments on this process.
            unsafe { libc::prctl(libc::PR_SET_DUMPABLE, was_dumpable, 0, 0, 0) };
        }
    };
    let forked = (|| {
        // Joining a pid namespace takes effect for children only: do it here
        // so that the forked process is born inside the container's.
        let join = Join::pid_namespace(pidfd, pid)?;
        let by = match join {
            Join::Pidfd(..) => JoinedBy::Pidfd,
            Join::Files(_) => JoinedBy::ProcFiles,
        };
        let (go_r, go_w) = pipe()?;
        let (res_r, res_w) = pipe()?;
        crate::runtime::fds::note_ignored_signals();
        // The child allocates (it resolves the command, formats its errors).
        // SAFETY: sound because this process has one thread: checked at the
        // top of this function, and nothing since has started one (only
        // this thread could).
        let forked = unsafe {
            crate::runtime::fork::fork_signal_safe(
                "forking the exec'd process",
                CloneFlags::empty(),
                (go_w, res_r),
                move || {
                    let _ = nix::sys::signal::sigprocmask(
                        SigmaskHow::SIG_SETMASK,
                        Some(&SigSet::empty()),
                        None,
                    );
                    wait_for_go(&mut File::from(go_r));
                    let err = match exec_child(&join, process, stdio, confine, res_w.as_raw_fd()) {
                        Ok(never) => match never {},
                        Err(e) => e,
                    };
                    report_and_exit(File::from(res_w), err)
                },
            )
        };
        forked.map(|f| (f, by))
    })();
    restore();
    let ((pid, (go_w, res_r)), by) = forked?;
    let created = Created {
        pid,
        go: File::from(go_w),
        result: File::from(res_r),
        pending: 1,
    };
    Ok((created, by))
}

fn exec_child(
    join: &Join<'_>,
    process: &oci_spec::runtime::Process,
    stdio: ChildStdio,
    confine: &Confinement,
    result: RawFd,
) -> Result<Never> {
    // Let go of the caller's stdio and every other descriptor of the CLI
    // before joining anything; a pty is only made once in the container's
    // mount namespace, so /dev/null stands in until then.
    let console = match stdio {
        ChildStdio::Console(sock, size) => {
            let null = nix::fcntl::open("/dev/null", nix::fcntl::OFlag::O_RDWR, Mode::empty())
                .map_err(|e| Error::sys("open /dev/null", e))?;
            for fd in 0..3 {
                nix::unistd::dup2(null, fd).map_err(|e| Error::sys("dup2", e))?;
            }
            if null > 2 {
                let _ = nix::unistd::close(null);
            }
            Some((sock, size))
        }
        other => {
            setup_stdio(other)?;
            None
        }
    };
    let mut keep = join.fds();
    keep.push(result);
    // `exec --preserve-fds N`: the caller's descriptors 3.. go on.
    keep.extend(crate::runtime::fds::preserved());
    if let Some((sock, _)) = &console {
        keep.push(sock.as_raw_fd());
    }
    // SAFETY: this forked child never returns to the code whose objects own
    // the descriptors closed here (the caller's stdio, its pipes): it execs
    // or exits in `report_and_exit`. What it still uses is in `keep`.
    unsafe { crate::runtime::fds::close_all_but(&keep) };
    if let Some(name) = &confine.keyring {
        join_session_keyring(name)?;
    }
    join.rest()?;
    if let Some((sock, size)) = console {
        setup_stdio(ChildStdio::Console(sock, size))?;
    }
    become_process(process, false, confine.seccomp.as_ref())
}

/// Joins a new session keyring named `name`, as runc does for each
/// container (`_ses.<container id>`), so that keys of the caller's session
/// are out of reach. The kernel joins an existing keyring of that name only
/// when the caller may search it, which a new keyring's permissions do not
/// grant (possessor all, user view and read): every container and every
/// exec gets its own. A kernel without keyrings (ENOSYS) is no error.
pub(super) fn join_session_keyring(name: &str) -> Result<()> {
    let c = CString::new(name).map_err(|_| Error::Msg("keyring name contains NUL".into()))?;
    // SAFETY: keyctl(KEYCTL_JOIN_SESSION_KEYRING, name) reads the
    // NUL-terminated name and changes only this process's credentials.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            libc::KEYCTL_JOIN_SESSION_KEYRING as libc::c_ulong,
            c.as_ptr(),
        )
    };
    match Errno::result(rc) {
        Ok(_) | Err(Errno::ENOSYS) => Ok(()),
        Err(e) => Err(Error::sys("joining a new session keyring", e)),
    }
}

/// Empties this process's initial environment block (what
/// /proc/PID/environ shows, inherited by a fork) after moving the variables
/// to the heap, where `std::env` keeps finding them. `stat` is this
/// process's line of /proc/self/stat.
fn hide_environment(stat: &str) -> Result<()> {
    // Fields after the command name, which is in parentheses: field N of
    // proc(5) is at N - 3; env_start and env_end are fields 50 and 51.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<usize>().ok());
    let (Some(start), Some(end)) = (field(50), field(51)) else {
        return Err(Error::Msg(
            "cannot find the environment in /proc/self/stat".into(),
        ));
    };
    let vars: Vec<(std::ffi::OsString, std::ffi::OsString)> = std::env::vars_os().collect();
    // SAFETY: clearenv only drops libc's array of pointers (freeing it when
    // setenv had allocated it). `exec_in` checked just before that this
    // process has one thread, so no other thread reads the environment
    // meanwhile, and `vars` holds copies, not pointers into it.
    unsafe { libc::clearenv() };
    for (k, v) in vars {
        // setenv copies name and value to the heap.
        std::env::set_var(k, v);
    }
    if end > start {
        // SAFETY: [env_start, env_end) is the environment block the kernel
        // laid out on this process's stack: mapped and writable for the
        // life of the process. After clearenv and the set_var copies above,
        // neither libc's environ nor any Rust value refers to it; a C
        // pointer kept from startup (ld.so's LD_* settings) still points at
        // mapped memory and reads an empty string.
        unsafe { std::ptr::write_bytes(start as *mut u8, 0, end - start) };
    }
    Ok(())
}
