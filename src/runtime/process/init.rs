//! A container's init: `create` clones it into its new namespaces, and it
//! sets itself up (joined namespaces, loopback, root filesystem, stdio,
//! rlimits, identity and capabilities, seccomp) up to the exec.
#![allow(unsafe_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::unistd::{Gid, Pid, Uid};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::channel::{self, pipe, report_and_exit, wait_for_go};
use super::command::exec;
use super::console::make_console;
use super::exec::join_session_keyring;
use super::{ChildStdio, Confinement, Never};
use crate::runtime::{io_err, Error, Result};

/// A container process created and held: it sets itself up once told to
/// (`set_up`) and runs its command only on `start`, so the caller can connect
/// its network while it mounts its root filesystem.
pub struct Created {
    pub pid: Pid,
    pub(super) go: File,
    pub(super) result: File,
    /// Go-bytes the child still waits for: 2 (set up, then exec) for a new
    /// container, 1 for a process exec'd into a running one.
    pub(super) pending: u8,
}

/// The namespaces the container process is cloned into: every new one the
/// spec asks for but the cgroup namespace, which the process makes itself
/// once it is in its cgroup ([`new_cgroup_namespace`]).
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
            LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
            LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
            _ => CloneFlags::empty(),
        };
    }
    flags
}

/// Whether the spec asks for a new cgroup namespace (`--cgroupns private`).
fn new_cgroup_namespace(spec: &Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| {
            ns.iter()
                .any(|n| n.typ() == LinuxNamespaceType::Cgroup && n.path().is_none())
        })
}

/// Creates the container process in its new namespaces. It waits for
/// `Created::set_up` before setting anything up, so the caller can move it
/// into its cgroup first, and for `Created::start` before it execs.
///
/// A container with a user namespace of its own (`--userns keep-id`,
/// `nomap`) is cloned by a helper that has first joined every namespace
/// the spec names by path (its network, a pod's): a process inside the new
/// user namespace has no privilege over namespaces of skiff's, so it could
/// not join them itself. Its uid and gid maps are written from here, by
/// skiff's root, before it is let go.
pub fn create(spec: &Spec, stdio: ChildStdio, confine: &Confinement) -> Result<Created> {
    let (go_r, go_w) = pipe()?;
    let (res_r, res_w) = pipe()?;
    crate::runtime::fds::note_ignored_signals();
    let what = "creating the container's namespaces";
    let flags = clone_flags(spec);
    let maps = crate::runtime::spec::user_maps(spec);
    // Its root may not reach the root file system and bind sources by
    // path: detached copies are made here (see `rootfs::Trees`).
    let trees = match (&maps, spec.root().as_ref()) {
        (Some(_), Some(root)) => Some(crate::runtime::rootfs::Trees::detach(spec, root.path())?),
        _ => None,
    };
    let trees = trees.as_ref();
    // The child allocates (it parses the spec, resolves paths, formats its
    // errors): sound because `fork` refuses a process with other threads.
    let child = move || child_main(spec, stdio, confine, trees, go_r, res_w);
    let joins: Vec<(&Path, LinuxNamespaceType)> = if maps.is_some() {
        joined_paths(spec)
    } else {
        joined_path(spec, LinuxNamespaceType::Pid)
            .map(|p| vec![(p, LinuxNamespaceType::Pid)])
            .unwrap_or_default()
    };
    let (pid, (go_w, res_r)) = if joins.is_empty() {
        crate::runtime::fork::fork(what, flags, (go_w, res_r), child)?
    } else {
        fork_in_namespaces(&joins, flags, (go_w, res_r), child)?
    };
    if let Some(maps) = maps {
        if let Err(e) = write_user_maps(pid, &maps) {
            let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
            return Err(e);
        }
    }
    Ok(Created {
        pid,
        go: File::from(go_w),
        result: File::from(res_r),
        pending: 2,
    })
}

/// Writes the uid and gid maps of the user namespace of process `pid`,
/// a child of skiff's own: as its root (CAP_SETUID and CAP_SETGID there),
/// with no helper, and without denying setgroups(2) to the container.
fn write_user_maps(pid: Pid, maps: &crate::runtime::spec::UserMaps) -> Result<()> {
    use crate::runtime::idmap::map_text;
    for (file, m) in [("uid_map", &maps.uids), ("gid_map", &maps.gids)] {
        let path = std::path::PathBuf::from(format!("/proc/{pid}/{file}"));
        std::fs::write(&path, map_text(m)).map_err(|e| {
            Error::Msg(format!(
                "writing the {file} of the container's user namespace ({}): {}",
                map_text(m).trim().replace('\n', ", "),
                crate::error::io_reason(&e)
            ))
        })?;
    }
    Ok(())
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
        channel::read_result(self.result, self.pid)
    }
}

fn child_main(
    spec: &Spec,
    stdio: ChildStdio,
    confine: &Confinement,
    trees: Option<&crate::runtime::rootfs::Trees>,
    go: OwnedFd,
    result: OwnedFd,
) -> ! {
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    let mut go = File::from(go);
    wait_for_go(&mut go);
    let err = match setup_and_exec(spec, stdio, confine, trees, &mut go) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    report_and_exit(File::from(result), err)
}

fn setup_and_exec(
    spec: &Spec,
    stdio: ChildStdio,
    confine: &Confinement,
    trees: Option<&crate::runtime::rootfs::Trees>,
    go: &mut File,
) -> Result<Never> {
    // The parent has moved this process into the container's cgroup before
    // letting it set up: a cgroup namespace made now is rooted there, so the
    // container sees `0::/` in /proc/self/cgroup and its own cgroup at
    // /sys/fs/cgroup, as runc and crun make it (unshared after the move). One
    // made at clone time would be rooted in the supervisor's cgroup
    // (`0::/../container`).
    if new_cgroup_namespace(spec) {
        nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| Error::sys("creating the cgroup namespace", e))?;
    }
    if let Some(name) = &confine.keyring {
        join_session_keyring(name)?;
    }
    let namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    let own_maps = crate::runtime::spec::user_maps(spec);
    if let Some(maps) = &own_maps {
        // Born in its own user namespace, mapped by now (before `go`): be
        // its root for the set-up, as runc does. The namespaces named by
        // path were joined by the helper that cloned it. A map without 0
        // (Podman's one id alone, `--uidmap ID:0:1`) has that id for root:
        // the process keeps the namespace's capabilities either way.
        let root = |m: &[crate::runtime::idmap::IdMap]| {
            if crate::runtime::idmap::map_id(m, 0).is_some() {
                0
            } else {
                m.first().map_or(0, |l| l.inside)
            }
        };
        let root_gid = Gid::from_raw(root(&maps.gids));
        let root_uid = Uid::from_raw(root(&maps.uids));
        nix::unistd::setresgid(root_gid, root_gid, root_gid)
            .map_err(|e| Error::sys("setting gid 0 in the container's user namespace", e))?;
        nix::unistd::setresuid(root_uid, root_uid, root_uid)
            .map_err(|e| Error::sys("setting uid 0 in the container's user namespace", e))?;
    } else {
        // The pid namespace was joined by the parent, before the fork.
        let by_path = namespaces
            .iter()
            .filter(|n| n.path().is_some() && n.typ() != LinuxNamespaceType::Pid);
        for ns in by_path {
            join_namespace(ns.typ(), ns.path().as_ref().expect("filtered on path"))?;
        }
    }
    if namespaces
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Network && n.path().is_none())
    {
        loopback_up()?;
    }
    // In the namespaces just made or joined, before /proc is replaced.
    if let Some(sysctls) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) {
        write_sysctls(sysctls)?;
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

    crate::runtime::rootfs::setup(spec, &rootfs, process.cwd(), trees)?;
    if let Some(h) = spec.hostname() {
        nix::unistd::sethostname(h).map_err(|e| Error::sys("sethostname", e))?;
    }
    setup_stdio(stdio)?;
    for rl in process.rlimits().clone().unwrap_or_default() {
        set_rlimit(rl.typ(), rl.soft(), rl.hard())?;
    }
    // Inherited by everything the container starts; 0 is the default left as it is.
    if let Some(adj) = process.oom_score_adj().filter(|a| *a != 0) {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string()).map_err(|e| {
            Error::Msg(format!(
                "setting oom_score_adj to {adj}: {}",
                crate::error::io_reason(&e)
            ))
        })?;
    }
    // Everything the command may rely on from outside (its network) is in
    // place once the parent says go.
    wait_for_go(go);
    become_process(process, true, confine.seccomp.as_ref())
}

/// The last steps of every container process, started or exec'd: privileges,
/// identity and capabilities, umask, working directory, seccomp, exec. With
/// `die_with_parent`, the process is killed when its supervisor dies.
///
/// The seccomp filter goes in as runc puts it: with no_new_privileges, as the
/// very last step (the filter then never sees skiff's own calls); without,
/// before the capabilities are dropped, because seccomp(2) then needs
/// CAP_SYS_ADMIN, and no_new_privileges must not be forced on a container
/// that did not ask for it (its setuid programs would stop working).
pub(super) fn become_process(
    process: &oci_spec::runtime::Process,
    die_with_parent: bool,
    seccomp: Option<&crate::runtime::seccomp::Program>,
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
    if let Some(mask) = process.user().umask() {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
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

/// The path of the namespace of type `typ` the spec joins, if it joins one.
fn joined_path(spec: &Spec, typ: LinuxNamespaceType) -> Option<&Path> {
    spec.linux()
        .as_ref()?
        .namespaces()
        .as_ref()?
        .iter()
        .find(|n| n.typ() == typ)?
        .path()
        .as_deref()
}

/// Every namespace the spec joins by path, the pid namespace first.
fn joined_paths(spec: &Spec) -> Vec<(&Path, LinuxNamespaceType)> {
    let mut out: Vec<(&Path, LinuxNamespaceType)> = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .into_iter()
        .flatten()
        .filter_map(|n| Some((n.path().as_deref()?, n.typ())))
        .collect();
    out.sort_by_key(|(_, t)| *t != LinuxNamespaceType::Pid);
    out
}

/// [`crate::runtime::fork::fork`] of a container process born in the
/// namespaces at `joins` (a pod's pid namespace, held by its infra
/// process; with a user namespace of its own, also its network, ipc, uts),
/// still a child of this process.
///
/// A pid namespace is joined for children only, and a rootless caller can
/// never go back to its own (owned by the initial user namespace): so a
/// short-lived helper joins them and clones the container process with
/// `CLONE_PARENT`, which makes this process its parent, then reports its
/// pid on a pipe and exits. This process's later children (network
/// teardown helpers) stay in its own namespaces.
fn fork_in_namespaces<P>(
    joins: &[(&Path, LinuxNamespaceType)],
    flags: CloneFlags,
    parent_only: P,
    child: impl FnOnce() -> i32,
) -> Result<(Pid, P)> {
    let targets = joins
        .iter()
        .map(|(path, typ)| {
            let f = File::open(path).map_err(|e| io_err("open namespace", path, e))?;
            Ok((f, ns_flag(*typ)?))
        })
        .collect::<Result<Vec<_>>>()?;
    let (pid_r, pid_w) = pipe()?;
    let (helper, (parent_only, pid_r)) = crate::runtime::fork::fork(
        "joining the container's namespaces",
        CloneFlags::empty(),
        (parent_only, pid_r),
        move || {
            let mut out = File::from(pid_w);
            // (what, value): (index of the join that failed, errno), or
            // (-1, errno of the clone), or (-2, the pid).
            let mut report = (-2i64, 0i64);
            for (i, (target, flag)) in targets.into_iter().enumerate() {
                if let Err(e) = nix::sched::setns(target, flag) {
                    report = (i as i64, e as i64);
                    break;
                }
            }
            if report.0 == -2 {
                // SAFETY: this helper has one thread (forked by `fork`,
                // which checked its parent had one), so the container
                // process may run ordinary code, as in `fork`.
                report = match unsafe {
                    crate::runtime::fork::fork_signal_safe(
                        "creating the container's namespaces",
                        flags | CloneFlags::CLONE_PARENT,
                        (),
                        child,
                    )
                } {
                    Ok((pid, ())) => (-2, i64::from(pid.as_raw())),
                    Err(Error::Sys { errno, .. }) => (-1, errno as i64),
                    Err(_) => (-1, libc::EINVAL as i64),
                };
            }
            let mut buf = [0u8; 16];
            buf[..8].copy_from_slice(&report.0.to_le_bytes());
            buf[8..].copy_from_slice(&report.1.to_le_bytes());
            i32::from(out.write_all(&buf).is_err())
        },
    )?;
    let mut buf = [0u8; 16];
    let read = File::from(pid_r).read_exact(&mut buf);
    let _ = nix::sys::wait::waitpid(helper, None);
    read.map_err(|e| Error::Msg(format!("joining the container's namespaces: {e}")))?;
    let what = i64::from_le_bytes(buf[..8].try_into().expect("8 bytes"));
    let value = i64::from_le_bytes(buf[8..].try_into().expect("8 bytes"));
    match what {
        -2 => Ok((Pid::from_raw(value as i32), parent_only)),
        -1 => Err(Error::sys(
            "creating the container's namespaces",
            Errno::from_raw(value as i32),
        )),
        i => Err(Error::sys(
            format!(
                "joining namespace {}",
                joins
                    .get(i as usize)
                    .map_or("?".into(), |j| j.0.display().to_string())
            ),
            Errno::from_raw(value as i32),
        )),
    }
}

/// The clone flag of a namespace type that can be joined by path.
fn ns_flag(typ: LinuxNamespaceType) -> Result<CloneFlags> {
    Ok(match typ {
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
    })
}

/// Joins an existing namespace, such as another container's network.
fn join_namespace(typ: LinuxNamespaceType, path: &Path) -> Result<()> {
    let flag = ns_flag(typ)?;
    let f = File::open(path).map_err(|e| io_err("open namespace", path, e))?;
    nix::sched::setns(f, flag)
        .map_err(|e| Error::sys(format!("joining namespace {}", path.display()), e))
}

/// The file under /proc/sys of sysctl `name` (dotted, as `--sysctl` gives
/// it): each dot-separated part must be a plain name, so that no name
/// reaches outside /proc/sys.
pub fn sysctl_path(name: &str) -> Result<std::path::PathBuf> {
    let parts: Vec<&str> = name.split('.').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || p.contains('/') || p.contains('\0'))
    {
        return Err(Error::Msg(format!("sysctl {name}: invalid name")));
    }
    Ok(Path::new("/proc/sys").join(parts.join("/")))
}

/// Writes the spec's sysctls under /proc/sys. They apply to the
/// namespaces of the writer (net.* to its network namespace, kernel.shm*
/// and the like to its ipc namespace): the container's, which its user
/// namespace owns. Which names are allowed is checked by `create`; the
/// kernel refuses what the container's root may not write.
fn write_sysctls(sysctls: &std::collections::HashMap<String, String>) -> Result<()> {
    for (name, value) in sysctls {
        let path = sysctl_path(name)?;
        std::fs::write(&path, value).map_err(|e| {
            Error::Msg(format!(
                "setting sysctl {name}={value}: {}",
                crate::error::io_reason(&e)
            ))
        })?;
    }
    Ok(())
}

/// Brings up `lo` in a new network namespace (it starts down).
pub fn loopback_up() -> Result<()> {
    bring_up_loopback().map_err(|e| Error::sys("bringing up the loopback interface", e))
}

/// Sets `lo` up with a socket and two ioctls, and lets group 0 send ICMP echo
/// without privileges (`ping` in a container: Podman's default sysctl
/// `net.ipv4.ping_group_range=0 0`, which a new network namespace lacks).
/// Async-signal-safe (no allocation), so a forked child may call it.
pub fn bring_up_loopback() -> nix::Result<()> {
    allow_ping();
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

/// Writes `0 0` to the namespace's `net.ipv4.ping_group_range`; a kernel
/// without the knob leaves ping to privileged processes, as before.
fn allow_ping() {
    // SAFETY: open(2) reads the NUL-terminated literal; the descriptor is
    // ours alone, written from a 3-byte static buffer and closed once.
    unsafe {
        let fd = libc::open(
            c"/proc/sys/net/ipv4/ping_group_range".as_ptr(),
            libc::O_WRONLY | libc::O_CLOEXEC,
        );
        if fd >= 0 {
            libc::write(fd, b"0 0".as_ptr().cast(), 3);
            libc::close(fd);
        }
    }
}

pub(super) fn setup_stdio(stdio: ChildStdio) -> Result<()> {
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
    // No additionalGids at all: `--group-add keep-groups`, the groups
    // inherited from skiff stay (crun's run.oci.keep_original_groups).
    if let Some(additional) = user.additional_gids() {
        let gids: Vec<Gid> = additional.iter().copied().map(Gid::from_raw).collect();
        // setgroups is denied in a single-id namespace; only insist when asked
        // for groups beyond the primary one (which Podman lists when `-u` names a user).
        if let Err(e) = nix::unistd::setgroups(&gids) {
            if additional.iter().any(|&g| g != user.gid()) {
                return Err(Error::sys("setgroups", e));
            }
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
