//! Creating the container process from its OCI spec: new namespaces, the
//! root filesystem and its mounts, pivot_root, identity, capabilities and
//! exec. The parent learns whether exec succeeded through a close-on-exec
//! pipe: end-of-file means the command runs, a message means it failed.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::stat::Mode;
use nix::unistd::{Gid, Pid, Uid};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::{io_err, Error, Result};

/// What the container's standard streams are connected to.
pub enum ChildStdio {
    /// The slave side of a pty, which becomes the controlling terminal.
    Pty(OwnedFd),
    /// Explicit descriptors for stdin, stdout and stderr.
    Fds(OwnedFd, OwnedFd, OwnedFd),
    /// A pty made inside the container's own /dev/pts (so `tty` names it),
    /// whose master is sent back over this socket (see `receive_console`).
    Console(OwnedFd, Option<nix::pty::Winsize>),
}

/// What confines a container process beyond its spec: the seccomp filter it
/// installs last before exec, and the name of the new session keyring it
/// joins first (runc's `_ses.<container id>`), so that it never sees the
/// caller's keys. `Default` confines by neither (tests, tools).
#[derive(Debug, Clone, Default)]
pub struct Confinement {
    pub seccomp: Option<super::seccomp::Program>,
    pub keyring: Option<String>,
}

/// Makes the socket pair for `ChildStdio::Console`: (ours, the child's).
pub fn console_socket() -> Result<(OwnedFd, OwnedFd)> {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::sys("socketpair", e))
}

/// Receives the pty master the container sent over the console socket.
pub fn receive_console(sock: &OwnedFd) -> Result<OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::io::IoSliceMut;
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| Error::sys("receiving the container's terminal", e))?;
    for c in msg
        .cmsgs()
        .map_err(|e| Error::sys("receiving the container's terminal", e))?
    {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&fd) = fds.first() {
                // SAFETY: SCM_RIGHTS just installed this descriptor in our table.
                return Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) });
            }
        }
    }
    Err(Error::Msg("the container did not send its terminal".into()))
}

/// In the container: opens a pty in its /dev/pts, sends the master over
/// `sock`, and returns the slave.
fn make_console(sock: &OwnedFd, size: Option<nix::pty::Winsize>) -> Result<OwnedFd> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    use std::io::IoSlice;
    let master = nix::pty::posix_openpt(nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY)
        .map_err(|e| Error::sys("opening /dev/ptmx in the container", e))?;
    nix::pty::grantpt(&master).map_err(|e| Error::sys("grantpt", e))?;
    nix::pty::unlockpt(&master).map_err(|e| Error::sys("unlockpt", e))?;
    let name = nix::pty::ptsname_r(&master).map_err(|e| Error::sys("ptsname", e))?;
    let slave = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&name)
        .map_err(|e| io_err("open", Path::new(&name), e))?;
    if let Some(ws) = size {
        super::tty::set_window_size(master.as_raw_fd(), ws.ws_row, ws.ws_col);
    }
    let fds = [master.as_raw_fd()];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &[IoSlice::new(b"t")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| Error::sys("sending the terminal to the supervisor", e))?;
    Ok(slave.into())
}

/// A container process created and held: it sets itself up once told to
/// (`set_up`) and runs its command only on `start`, so the caller can connect
/// its network while it mounts its root filesystem.
pub struct Created {
    pub pid: Pid,
    go: File,
    result: File,
    /// Go-bytes the child still waits for: 2 (set up, then exec) for a new
    /// container, 1 for a process exec'd into a running one.
    pending: u8,
}

/// Exit-status class bytes on the result pipe.
const FAIL_ENGINE: u8 = b'5';
const FAIL_INVOKE: u8 = b'6';
const FAIL_NOT_FOUND: u8 = b'7';

fn clone_flags(spec: &Spec) -> CloneFlags {
    let mut flags = CloneFlags::empty();
    let namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for ns in namespaces {
        if ns.path().is_some() {
            continue;
        }
        flags |= match ns.typ() {
            LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
            LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
            LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
            LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
            LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
            LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
            LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
            _ => CloneFlags::empty(),
        };
    }
    flags
}

/// Creates the container process in its new namespaces. It waits for
/// `Created::set_up` before setting anything up, so the caller can move it
/// into its cgroup first, and for `Created::start` before it execs.
pub fn create(spec: &Spec, stdio: ChildStdio, confine: &Confinement) -> Result<Created> {
    let (go_r, go_w) = pipe()?;
    let (res_r, res_w) = pipe()?;
    super::fds::note_ignored_signals();
    // The child allocates (it parses the spec, resolves paths, formats its
    // errors): sound because `fork` refuses a process with other threads.
    let (pid, (go_w, res_r)) = super::fork::fork(
        "creating the container's namespaces",
        clone_flags(spec),
        (go_w, res_r),
        move || child_main(spec, stdio, confine, go_r, res_w),
    )?;
    Ok(Created {
        pid,
        go: File::from(go_w),
        result: File::from(res_r),
        pending: 2,
    })
}

impl Created {
    /// Lets a new container set itself up (namespaces, mounts, pivot_root,
    /// stdio) while the caller goes on; it then waits for `start`.
    pub fn set_up(&mut self) {
        if self.pending == 2 {
            // A child that already failed has closed its end: its error
            // comes back through `start`.
            let _ = self.go.write_all(b"1");
            self.pending = 1;
        }
    }

    /// Lets the process finish its setup and exec; returns once the command
    /// runs, or the reason it could not be started (the process is then reaped).
    pub fn start(mut self) -> Result<Pid> {
        let go = vec![b'1'; usize::from(self.pending)];
        let _ = self.go.write_all(&go);
        drop(self.go);
        let mut msg = Vec::new();
        let _ = self.result.read_to_end(&mut msg);
        if msg.is_empty() {
            return Ok(self.pid);
        }
        let _ = nix::sys::wait::waitpid(self.pid, None);
        let text = String::from_utf8_lossy(&msg[1..]).into_owned();
        Err(match msg[0] {
            FAIL_NOT_FOUND => Error::NotFound(text),
            FAIL_INVOKE => Error::CannotInvoke(text),
            _ => Error::Msg(text),
        })
    }
}

/// The namespaces of a running container that an exec'd process joins
/// after its birth (the pid namespace is joined before, by its parent).
const EXEC_JOINS: [CloneFlags; 5] = [
    CloneFlags::CLONE_NEWIPC,
    CloneFlags::CLONE_NEWUTS,
    CloneFlags::CLONE_NEWNET,
    CloneFlags::CLONE_NEWCGROUP,
    CloneFlags::CLONE_NEWNS,
];

/// How an exec'd process joins the container's namespaces.
enum Join<'a> {
    /// setns(2) on the init's pidfd with every flag at once (Linux >= 5.8):
    /// the namespaces of exactly the process the pidfd names, all or none.
    Pidfd(BorrowedFd<'a>),
    /// `/proc/PID/ns/*` opened before the fork, on older kernels; the
    /// caller checks the pidfd before and after they are opened.
    Files(Vec<(File, CloneFlags)>),
}

impl Join<'_> {
    /// Joins the container's pid namespace for this process's children:
    /// by pidfd, else by the files of `/proc/PID/ns`.
    fn pid_namespace(pidfd: BorrowedFd<'_>, pid: i32) -> Result<Join<'_>> {
        let what = "joining the container's pid namespace";
        match nix::sched::setns(pidfd, CloneFlags::CLONE_NEWPID) {
            Ok(()) => return Ok(Join::Pidfd(pidfd)),
            // Before Linux 5.8 a pidfd is no namespace descriptor.
            Err(Errno::EINVAL) => {}
            Err(e) => return Err(Error::sys(what, e)),
        }
        let ns = |flag: CloneFlags| {
            let name = match flag {
                CloneFlags::CLONE_NEWPID => "pid",
                CloneFlags::CLONE_NEWIPC => "ipc",
                CloneFlags::CLONE_NEWUTS => "uts",
                CloneFlags::CLONE_NEWNET => "net",
                CloneFlags::CLONE_NEWCGROUP => "cgroup",
                _ => "mnt",
            };
            let p = PathBuf::from(format!("/proc/{pid}/ns/{name}"));
            File::open(&p).map_err(|e| io_err("open namespace", &p, e))
        };
        let files = EXEC_JOINS
            .iter()
            .map(|&flag| Ok((ns(flag)?, flag)))
            .collect::<Result<Vec<_>>>()?;
        nix::sched::setns(ns(CloneFlags::CLONE_NEWPID)?, CloneFlags::CLONE_NEWPID)
            .map_err(|e| Error::sys(what, e))?;
        Ok(Join::Files(files))
    }

    /// The descriptors the child must keep open until it has joined.
    fn fds(&self) -> Vec<RawFd> {
        match self {
            Join::Pidfd(fd) => vec![fd.as_raw_fd()],
            Join::Files(files) => files.iter().map(|(f, _)| f.as_raw_fd()).collect(),
        }
    }

    /// In the child: joins the other namespaces.
    fn rest(&self) -> Result<()> {
        match self {
            Join::Pidfd(fd) => {
                let all = EXEC_JOINS.iter().fold(CloneFlags::empty(), |a, &f| a | f);
                nix::sched::setns(fd, all)
                    .map_err(|e| Error::sys("joining the container's namespaces", e))
            }
            Join::Files(files) => files.iter().try_for_each(|(f, flag)| {
                nix::sched::setns(f, *flag)
                    .map_err(|e| Error::sys(format!("joining namespace {flag:?}"), e))
            }),
        }
    }
}

/// Creates a process inside the namespaces of the running container whose
/// init is named by `pidfd` (pid `pid`, start time already checked by the
/// caller) for `exec`. It runs `process` once `start` is called.
///
/// The namespaces are joined through the pidfd (Linux >= 5.8), so they are
/// the init's own even if its pid was recycled meanwhile; older kernels
/// open `/proc/PID/ns/*`, and the caller must check the pidfd again after
/// this returns (`exec` does, for both).
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
) -> Result<Created> {
    // Checked once for `hide_environment` and the fork below.
    super::fork::ensure_single_threaded("forking the exec'd process")?;
    hide_environment()?;
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
        let (go_r, go_w) = pipe()?;
        let (res_r, res_w) = pipe()?;
        super::fds::note_ignored_signals();
        // The child allocates (it resolves the command, formats its errors).
        // SAFETY: sound because this process has one thread: checked at the
        // top of this function, and nothing since has started one (only
        // this thread could).
        unsafe {
            super::fork::fork_signal_safe(
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
        }
    })();
    restore();
    let (pid, (go_w, res_r)) = forked?;
    Ok(Created {
        pid,
        go: File::from(go_w),
        result: File::from(res_r),
        pending: 1,
    })
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
    if let Some((sock, _)) = &console {
        keep.push(sock.as_raw_fd());
    }
    // SAFETY: this forked child never returns to the code whose objects own
    // the descriptors closed here (the caller's stdio, its pipes): it execs
    // or exits in `report_and_exit`. What it still uses is in `keep`.
    unsafe { super::fds::close_all_but(&keep) };
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
fn join_session_keyring(name: &str) -> Result<()> {
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
/// to the heap, where `std::env` keeps finding them.
fn hide_environment() -> Result<()> {
    let stat = super::fds::proc_stat("self")
        .ok_or_else(|| Error::Msg("cannot find the environment in /proc/self/stat".into()))?;
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

fn report_and_exit(mut result: File, err: Error) -> ! {
    let (class, code) = match err {
        Error::NotFound(_) => (FAIL_NOT_FOUND, 127),
        Error::CannotInvoke(_) => (FAIL_INVOKE, 126),
        _ => (FAIL_ENGINE, 125),
    };
    let mut msg = vec![class];
    msg.extend_from_slice(err.to_string().as_bytes());
    let _ = result.write_all(&msg);
    super::fork::exit_now(code)
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::sys("pipe", e))
}

/// Waits for the parent's next go-byte; exits quietly when the parent gave
/// up instead (closed the pipe).
fn wait_for_go(go: &mut File) {
    let mut byte = [0u8; 1];
    if go.read(&mut byte).unwrap_or(0) != 1 {
        super::fork::exit_now(125);
    }
}

fn child_main(
    spec: &Spec,
    stdio: ChildStdio,
    confine: &Confinement,
    go: OwnedFd,
    result: OwnedFd,
) -> ! {
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    let mut go = File::from(go);
    wait_for_go(&mut go);
    let err = match setup_and_exec(spec, stdio, confine, &mut go) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    report_and_exit(File::from(result), err)
}

enum Never {}

fn setup_and_exec(
    spec: &Spec,
    stdio: ChildStdio,
    confine: &Confinement,
    go: &mut File,
) -> Result<Never> {
    if let Some(name) = &confine.keyring {
        join_session_keyring(name)?;
    }
    let namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for ns in namespaces.iter().filter(|n| n.path().is_some()) {
        join_namespace(ns.typ(), ns.path().as_ref().expect("filtered on path"))?;
    }
    if namespaces
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Network && n.path().is_none())
    {
        loopback_up()?;
    }
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::Msg("spec has no root".into()))?;
    let rootfs = root.path().clone();
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::Msg("spec has no process".into()))?;

    super::rootfs::setup(spec, &rootfs, process.cwd())?;
    if let Some(h) = spec.hostname() {
        nix::unistd::sethostname(h).map_err(|e| Error::sys("sethostname", e))?;
    }
    setup_stdio(stdio)?;
    for rl in process.rlimits().clone().unwrap_or_default() {
        set_rlimit(rl.typ(), rl.soft(), rl.hard())?;
    }
    // Everything the command may rely on from outside (its network) is in
    // place once the parent says go.
    wait_for_go(go);
    become_process(process, true, confine.seccomp.as_ref())
}

/// The last steps of every container process, started or exec'd: privileges,
/// identity and capabilities, working directory, seccomp, exec. With
/// `die_with_parent`, the process is killed when its supervisor dies.
///
/// The seccomp filter goes in as runc puts it: with no_new_privileges, as the
/// very last step (the filter then never sees skiff's own calls); without,
/// before the capabilities are dropped, because seccomp(2) then needs
/// CAP_SYS_ADMIN, and no_new_privileges must not be forced on a container
/// that did not ask for it (its setuid programs would stop working).
fn become_process(
    process: &oci_spec::runtime::Process,
    die_with_parent: bool,
    seccomp: Option<&super::seccomp::Program>,
) -> Result<Never> {
    let no_new_privs = process.no_new_privileges() == Some(true);
    if no_new_privs {
        // SAFETY: plain prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(Error::sys("prctl(no_new_privs)", Errno::last()));
        }
    } else if let Some(filter) = seccomp {
        filter.install()?;
    }
    set_identity(process)?;
    if die_with_parent {
        // A container nobody monitors must not keep running unseen. Set after
        // the identity change, which clears it.
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    }
    nix::unistd::chdir(process.cwd()).map_err(|e| {
        Error::Msg(format!(
            "working directory {}: {}",
            process.cwd().display(),
            e.desc().to_lowercase()
        ))
    })?;
    if let (true, Some(filter)) = (no_new_privs, seccomp) {
        filter.install()?;
    }
    exec(
        process.args().as_deref().unwrap_or_default(),
        process.env().as_deref().unwrap_or_default(),
    )
}

/// Joins an existing namespace, such as another container's network.
fn join_namespace(typ: LinuxNamespaceType, path: &Path) -> Result<()> {
    let flag = match typ {
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        _ => {
            return Err(Error::Msg(format!(
                "joining a {typ:?} namespace by path is not supported"
            )))
        }
    };
    let f = File::open(path).map_err(|e| io_err("open namespace", path, e))?;
    nix::sched::setns(f, flag)
        .map_err(|e| Error::sys(format!("joining namespace {}", path.display()), e))
}

/// Brings up `lo` in a new network namespace (it starts down).
pub fn loopback_up() -> Result<()> {
    bring_up_loopback().map_err(|e| Error::sys("bringing up the loopback interface", e))
}

/// Sets `lo` up with a socket and two ioctls. Async-signal-safe (no
/// allocation), so a forked child may call it.
pub fn bring_up_loopback() -> nix::Result<()> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    // SAFETY: ifreq is plain old data, for which all zeroes is valid.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (i, b) in b"lo".iter().enumerate() {
        ifr.ifr_name[i] = *b as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the NUL-terminated name and writes the
    // flags into `ifr`, which lives across the call; `sock` is open.
    Errno::result(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr) })?;
    // SAFETY: reading the union member SIOCGIFFLAGS just wrote.
    unsafe { ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads the name and flags from `ifr`.
    Errno::result(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr) })?;
    Ok(())
}

fn setup_stdio(stdio: ChildStdio) -> Result<()> {
    let _ = nix::unistd::setsid();
    let stdio = match stdio {
        ChildStdio::Console(sock, size) => ChildStdio::Pty(make_console(&sock, size)?),
        other => other,
    };
    let dup_all = |fds: [RawFd; 3]| -> Result<()> {
        for (i, fd) in fds.into_iter().enumerate() {
            if fd != i as RawFd {
                nix::unistd::dup2(fd, i as RawFd).map_err(|e| Error::sys("dup2", e))?;
            }
        }
        Ok(())
    };
    match stdio {
        ChildStdio::Pty(slave) => {
            // SAFETY: TIOCSCTTY on our own pty slave, after setsid.
            if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } != 0 {
                return Err(Error::sys(
                    "setting the controlling terminal",
                    Errno::last(),
                ));
            }
            let fd = slave.as_raw_fd();
            dup_all([fd, fd, fd])?;
        }
        ChildStdio::Fds(i, o, e) => dup_all([i.as_raw_fd(), o.as_raw_fd(), e.as_raw_fd()])?,
        ChildStdio::Console(..) => unreachable!("made into a pty above"),
    }
    Ok(())
}

fn set_rlimit(typ: oci_spec::runtime::PosixRlimitType, soft: u64, hard: u64) -> Result<()> {
    use oci_spec::runtime::PosixRlimitType as T;
    let res = match typ {
        T::RlimitCpu => libc::RLIMIT_CPU,
        T::RlimitFsize => libc::RLIMIT_FSIZE,
        T::RlimitData => libc::RLIMIT_DATA,
        T::RlimitStack => libc::RLIMIT_STACK,
        T::RlimitCore => libc::RLIMIT_CORE,
        T::RlimitRss => libc::RLIMIT_RSS,
        T::RlimitNproc => libc::RLIMIT_NPROC,
        T::RlimitNofile => libc::RLIMIT_NOFILE,
        T::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        T::RlimitAs => libc::RLIMIT_AS,
        T::RlimitLocks => libc::RLIMIT_LOCKS,
        T::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        T::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        T::RlimitNice => libc::RLIMIT_NICE,
        T::RlimitRtprio => libc::RLIMIT_RTPRIO,
        T::RlimitRttime => libc::RLIMIT_RTTIME,
    };
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: setrlimit with a valid resource and a stack rlimit.
    if unsafe { libc::setrlimit(res, &lim) } != 0 {
        return Err(Error::sys(format!("setting ulimit {typ}"), Errno::last()));
    }
    Ok(())
}

fn to_caps(set: &Option<oci_spec::runtime::Capabilities>) -> caps::CapsHashSet {
    set.iter()
        .flatten()
        .filter_map(|c| format!("CAP_{c}").parse::<caps::Capability>().ok())
        .collect()
}

fn set_identity(process: &oci_spec::runtime::Process) -> Result<()> {
    use caps::CapSet;
    let c = process.capabilities().clone().unwrap_or_default();
    let bounding = to_caps(c.bounding());
    for cap in caps::all() {
        if !bounding.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap)
                .map_err(|e| Error::Msg(format!("dropping {cap}: {e}")))?;
        }
    }
    let user = process.user();
    let gids: Vec<Gid> = user
        .additional_gids()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(Gid::from_raw)
        .collect();
    // setgroups is denied in a single-id namespace; only insist when asked for groups.
    if let Err(e) = nix::unistd::setgroups(&gids) {
        if !gids.is_empty() {
            return Err(Error::sys("setgroups", e));
        }
    }
    let gid = Gid::from_raw(user.gid());
    let uid = Uid::from_raw(user.uid());
    nix::unistd::setresgid(gid, gid, gid).map_err(|e| {
        Error::Msg(format!(
            "setting gid {}: {} (is the id mapped? check /etc/subgid)",
            user.gid(),
            e.desc().to_lowercase()
        ))
    })?;
    nix::unistd::setresuid(uid, uid, uid).map_err(|e| {
        Error::Msg(format!(
            "setting uid {}: {} (is the id mapped? check /etc/subuid)",
            user.uid(),
            e.desc().to_lowercase()
        ))
    })?;
    let eff = to_caps(c.effective());
    let perm = to_caps(c.permitted());
    let inh = to_caps(c.inheritable());
    let amb = to_caps(c.ambient());
    let set = |which: CapSet, v: &caps::CapsHashSet| {
        caps::set(None, which, v).map_err(|e| Error::Msg(format!("setting capabilities: {e}")))
    };
    // Effective must stay within permitted at every step.
    set(CapSet::Effective, &eff)?;
    set(CapSet::Permitted, &perm)?;
    set(CapSet::Inheritable, &inh)?;
    if !amb.is_empty() {
        set(CapSet::Ambient, &amb)?;
    }
    Ok(())
}

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn is_executable_file(p: &Path) -> bool {
    fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Finds the command like execvp would, but with the container's PATH.
fn find_command(cmd: &str, env: &[String]) -> Result<PathBuf> {
    if cmd.contains('/') {
        let p = PathBuf::from(cmd);
        return match fs::metadata(&p) {
            Err(_) => Err(Error::NotFound(format!(
                "executable file `{cmd}` not found: no such file or directory"
            ))),
            Ok(m) if m.is_dir() || m.file_type().is_char_device() => Err(Error::CannotInvoke(
                format!("{cmd}: permission denied: not an executable file"),
            )),
            Ok(_) => Ok(p),
        };
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let cand = Path::new(dir).join(cmd);
        if is_executable_file(&cand) {
            return Ok(cand);
        }
    }
    Err(Error::NotFound(format!(
        "executable file `{cmd}` not found in $PATH: no such file or directory"
    )))
}

fn exec(args: &[String], env: &[String]) -> Result<Never> {
    let cmd = args.first().ok_or_else(|| {
        Error::Msg("no command specified: give one or set CMD/ENTRYPOINT in the image".into())
    })?;
    let path = find_command(cmd, env)?;
    let cstr = |s: &str| {
        CString::new(s).map_err(|_| Error::Msg(format!("argument contains a NUL byte: {s:?}")))
    };
    let c_path = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::Msg("path contains a NUL byte".into()))?;
    let c_args = args.iter().map(|a| cstr(a)).collect::<Result<Vec<_>>>()?;
    let c_env = env.iter().map(|a| cstr(a)).collect::<Result<Vec<_>>>()?;
    // The command starts with stdin, stdout and stderr only; close-on-exec
    // rather than close, so the error pipe works until the exec succeeds.
    super::fds::cloexec_inherited();
    super::fds::reset_signals();
    let e = nix::unistd::execve(&c_path, &c_args, &c_env).unwrap_err();
    Err(match e {
        Errno::ENOENT => Error::NotFound(format!(
            "executable file `{cmd}` not found: no such file or directory"
        )),
        Errno::EACCES | Errno::ENOEXEC | Errno::EISDIR | Errno::EPERM => Error::CannotInvoke(
            format!("{cmd}: {}: cannot invoke it", e.desc().to_lowercase()),
        ),
        e => Error::sys(format!("exec {cmd}"), e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lookup() {
        let env = vec!["PATH=/nonexistent:/bin".to_string()];
        assert_eq!(find_command("sh", &env).unwrap(), PathBuf::from("/bin/sh"));
        assert!(matches!(
            find_command("nosuchcmd", &env),
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            find_command("/nonexistent", &env),
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            find_command("/dev/null", &env),
            Err(Error::CannotInvoke(_))
        ));
    }
}
