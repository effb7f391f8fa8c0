//! What a process inherits from whoever started it, and how skiff's
//! long-lived processes and containers let go of it: descriptors above
//! stderr, ignored signals and the signal mask.
//!
//! A shell that runs `{ skiff ...; } 3>&1 | cat` hands skiff a pipe on fd 3;
//! a helper that keeps it (the namespace holder, a port forwarder) keeps
//! `cat` waiting for ever. A shell that starts skiff in the background
//! ignores SIGINT and SIGQUIT, and Rust ignores SIGPIPE: ignored
//! dispositions survive exec, so a container would inherit them. runc and
//! crun reset both; so do we.
#![allow(unsafe_code)]

use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;

/// Closes every descriptor from `first` up, in this process. For helpers
/// that run long and need nothing beyond stdin, stdout and stderr (the
/// namespace holders). Falls back to /proc/self/fd before Linux 5.9.
///
/// # Safety
///
/// Closing a descriptor that an object owns breaks that object (I/O
/// safety): the caller guarantees that no `OwnedFd`, `File` or other owner
/// of a descriptor in the range is used or dropped afterwards (it runs
/// before anything of its own is opened, or never returns to such code).
pub unsafe fn close_from(first: RawFd) {
    close_between(first, RawFd::MAX);
}

/// Closes every descriptor above stderr except those in `keep` (the
/// sockets a port forwarder was handed, what an exec'd process still needs).
///
/// # Safety
///
/// As [`close_from`]: no owner of a closed descriptor is used or dropped
/// afterwards.
pub unsafe fn close_all_but(keep: &[RawFd]) {
    for (first, last) in gaps(keep) {
        close_between(first, last);
    }
}

/// The ranges of descriptors above stderr that are not in `keep`.
fn gaps(keep: &[RawFd]) -> Vec<(RawFd, RawFd)> {
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|fd| *fd > 2).collect();
    keep.sort_unstable();
    keep.dedup();
    let mut out = Vec::new();
    let mut from = 3;
    for fd in keep {
        if fd > from {
            out.push((from, fd - 1));
        }
        from = fd + 1;
    }
    out.push((from, RawFd::MAX));
    out
}

/// Takes ownership of descriptor `fd`, which this process's parent left
/// open for it and named on its command line (the supervisor's status
/// pipe, a port forwarder's sockets), and marks it close-on-exec so that
/// it goes no further. None when no such descriptor is open.
///
/// # Safety
///
/// Nothing else in this process owns `fd`: the caller takes each number
/// passed to it once, and the parent passed distinct descriptors.
pub unsafe fn adopt_inherited(fd: RawFd) -> Option<OwnedFd> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    if fd < 0 || fcntl(fd, FcntlArg::F_GETFD).is_err() {
        return None;
    }
    let _ = fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
    // SAFETY: `fd` is open (checked just above) and, by this function's
    // contract, owned by nothing else in this process.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Closes descriptors `first..=last`; the callers' contract (`close_from`)
/// makes that sound.
fn close_between(first: RawFd, last: RawFd) {
    if first > last || first < 0 {
        return;
    }
    // SAFETY: close_range takes plain integers and touches no memory; that
    // no owner of these descriptors is used afterwards is the contract of
    // `close_from`, `close_all_but` and `release_preserved`, the only callers.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first as u32, last as u32, 0u32) };
    if rc == 0 {
        return;
    }
    for fd in open_fds()
        .into_iter()
        .filter(|fd| (first..=last).contains(fd))
    {
        // SAFETY: as above; a descriptor that is no longer open fails with EBADF.
        unsafe { libc::close(fd) };
    }
}

/// How many descriptors from 3 up this process hands on to the container
/// process it starts (`--preserve-fds N`); 0 unless `preserve` set it.
static PRESERVED: AtomicU32 = AtomicU32::new(0);

/// Podman's error for descriptor `fd` of `--preserve-fds` not open in the
/// caller (its `run` and `exec` say it so; exit 125).
pub fn not_passed(fd: RawFd) -> String {
    format!(
        "file descriptor {fd} is not available - the preserve-fds option requires that file descriptors must be passed"
    )
}

/// `--preserve-fds N` (Podman's and the OCI runtimes' flag): descriptors
/// 3 to 3+N-1, which skiff's caller left open, go to the container process
/// that this process starts, under the same numbers. Marks them
/// close-on-exec meanwhile, so that no helper this process spawns gets
/// them. The error is the first of them that is not open (nothing is set
/// then).
pub fn preserve(n: u32) -> Result<(), RawFd> {
    let fds = 3..3 + n as RawFd;
    if let Some(fd) = fds.clone().find(|fd| {
        // SAFETY: F_GETFD reads a descriptor flag; a closed number fails.
        let flags = unsafe { libc::fcntl(*fd, libc::F_GETFD) };
        flags < 0
    }) {
        return Err(fd);
    }
    for fd in fds {
        // SAFETY: F_SETFD only sets a descriptor flag of an open descriptor.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    PRESERVED.store(n, Ordering::Relaxed);
    Ok(())
}

/// The descriptors `preserve` set aside (none by default).
pub fn preserved() -> Vec<RawFd> {
    (3..3 + PRESERVED.load(Ordering::Relaxed) as RawFd).collect()
}

/// Clears close-on-exec from the preserved descriptors, just before the
/// spawn that passes them on (the supervisor of `run --preserve-fds`).
pub fn pass_preserved() {
    for fd in preserved() {
        // SAFETY: F_SETFD only sets a descriptor flag; a stale number fails
        // with EBADF.
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    }
}

/// Closes the preserved descriptors once the container process has its
/// copies (a restart gets none, as with Podman's conmon): a pipe among
/// them is then held by the container alone, so its reader sees the end
/// when the container closes it.
///
/// # Safety
///
/// Nothing in this process owns the preserved descriptors: they are only
/// ever named by number (`preserve`).
pub unsafe fn release_preserved() {
    let n = PRESERVED.swap(0, Ordering::Relaxed);
    close_between(3, 3 + n as RawFd - 1);
}

/// Marks every descriptor above stderr close-on-exec, so that nothing skiff
/// inherited reaches the programs it starts (the supervisor, pasta,
/// slirp4netns, the holders); the descriptors `preserve` set aside instead
/// lose the flag, so that the container process that calls this just
/// before its exec gets them. Descriptors skiff means to pass otherwise are
/// cleared of the flag explicitly just before the spawn that passes them.
pub fn cloexec_inherited() {
    let first = 3 + PRESERVED.load(Ordering::Relaxed);
    pass_preserved();
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets descriptor
    // flags; it closes nothing and touches no memory.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if rc == 0 {
        return;
    }
    for fd in open_fds().into_iter().filter(|fd| *fd >= first as RawFd) {
        // SAFETY: F_SETFD only sets a descriptor flag; a stale number fails
        // with EBADF.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
}

/// The open descriptors above stderr, from /proc/self/fd (only where
/// close_range is missing).
fn open_fds() -> Vec<RawFd> {
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .filter(|fd| *fd > 2)
                .collect()
        })
        .unwrap_or_default()
}

/// The signals ignored (SIG_IGN) in this process when `note_ignored_signals`
/// last looked, bit `n - 1` for signal `n`; all ones until it looks, so that
/// `reset_signals` then resets every signal.
static IGNORED: AtomicU64 = AtomicU64::new(u64::MAX);

/// Notes which signals this process ignores, for `reset_signals` in a child
/// forked next (it inherits the dispositions and this note with its memory).
/// Call it just before the fork; one read of /proc/self/status (`SigIgn`)
/// instead of a system call per signal in the child.
/// When the file cannot be read, every signal is reset as before.
pub fn note_ignored_signals() {
    IGNORED.store(read_ignored().unwrap_or(u64::MAX), Ordering::Relaxed);
}

/// The `SigIgn` mask of /proc/self/status (hex, bit `n - 1` for signal `n`).
/// Not the `sigignore` field of /proc/self/stat: that one is cut to
/// signals 1-31 and would miss 32 and 33, which glibc's posix_spawn leaves
/// ignored.
fn read_ignored() -> Option<u64> {
    let mut buf = [0u8; 4096];
    let status = read_proc("/proc/self/status", &mut buf)?;
    let line = status.lines().find_map(|l| l.strip_prefix("SigIgn:"))?;
    u64::from_str_radix(line.trim(), 16).ok()
}

/// The line of /proc/`pid`/stat (`pid` a number or `self`). None when the
/// process is gone.
pub fn proc_stat(pid: &str) -> Option<String> {
    proc_stat_at(&format!("/proc/{pid}/stat"))
}

/// A process's stat line from the file at `path` (a /proc/PID/stat of
/// this /proc or of another pid namespace's). None when it is gone.
pub fn proc_stat_at(path: &str) -> Option<String> {
    // Any such line fits: 52 numbers and a command name of at most 64 bytes.
    let mut buf = [0u8; 2048];
    read_proc(path, &mut buf).map(str::to_string)
}

/// A small /proc (or cgroup) file, read with one read(2) into `buf` rather
/// than std's statx and growing reads of a file whose size the kernel
/// reports as 0. None when it cannot be read or does not fit (never half
/// of it).
pub fn read_proc<'a>(path: &str, buf: &'a mut [u8]) -> Option<&'a str> {
    use std::io::Read;
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(buf))
        .ok()
        .filter(|n| *n < buf.len())?;
    std::str::from_utf8(&buf[..n]).ok()
}

/// Sets back to the default every signal disposition that would survive
/// exec, and empties the signal mask, as runc does before it execs a
/// container's process: a container starts with SigIgn and SigBlk all zero,
/// whatever the caller ignored or blocked. Signals with a handler need
/// nothing (exec resets them); ignored ones are those `note_ignored_signals`
/// found (every signal, when it was not called). Async-signal-safe
/// (rt_sigaction and sigprocmask only), so it may run between fork and exec.
pub fn reset_signals() {
    // The raw system call, not libc's sigaction: glibc refuses signals 32
    // and 33 (its own), which a caller may still have left ignored
    // (glibc's posix_spawn leaves them so in every process it starts).
    // An all-zero kernel sigaction is SIG_DFL with no flags and an empty
    // mask whatever the architecture's field order; 64 bytes are more than
    // any architecture's (handler, flags, restorer and a mask of at most
    // 128 signals: 40 bytes).
    let dfl = [0u64; 8];
    // The kernel's sigset_t: one bit per signal up to SIGRTMAX (64 signals,
    // 8 bytes, on most architectures; 128, 16 bytes, on MIPS).
    let sigsetsize = (libc::SIGRTMAX() as usize).div_ceil(64) * 8;
    let ignored = IGNORED.load(Ordering::Relaxed);
    for sig in 1..=libc::SIGRTMAX() {
        // Signals above 64 (MIPS only) are not in the note: always reset.
        let noted_default = sig <= 64 && ignored & (1u64 << (sig - 1)) == 0;
        if sig == libc::SIGKILL || sig == libc::SIGSTOP || noted_default {
            continue;
        }
        // SAFETY: rt_sigaction reads `dfl` (valid, and larger than the
        // kernel's struct sigaction) and writes nothing (null old action);
        // `sigsetsize` is the kernel's sigset size, as computed above.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                dfl.as_ptr(),
                std::ptr::null_mut::<u64>(),
                sigsetsize,
            )
        };
    }
    let mut empty = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set it is given; sigprocmask then
    // reads that initialised set and writes no old set.
    unsafe {
        libc::sigemptyset(empty.as_mut_ptr());
        libc::sigprocmask(libc::SIG_SETMASK, empty.as_ptr(), std::ptr::null_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ignored_signals_are_read_from_proc() {
        // A real-time signal nothing here uses: above the 31 signals that
        // /proc/self/stat would show.
        let rt = libc::SIGRTMIN() + 7;
        // SAFETY: sets the disposition of a signal no code of ours uses.
        unsafe { libc::signal(rt, libc::SIG_IGN) };
        let ignored = read_ignored().expect("SigIgn of /proc/self/status");
        // SAFETY: as above.
        unsafe { libc::signal(rt, libc::SIG_DFL) };
        assert_ne!(ignored & (1 << (rt - 1)), 0, "signal {rt}: {ignored:#x}");
        // Rust's runtime ignores SIGPIPE in every test binary.
        assert_ne!(ignored & (1 << (libc::SIGPIPE - 1)), 0, "{ignored:#x}");
        assert_eq!(ignored & (1 << (libc::SIGTERM - 1)), 0, "{ignored:#x}");
    }

    #[test]
    fn gaps_skip_the_kept_descriptors() {
        assert_eq!(gaps(&[]), vec![(3, RawFd::MAX)]);
        assert_eq!(gaps(&[5, 3, 9, 1]), vec![(4, 4), (6, 8), (10, RawFd::MAX)]);
        assert_eq!(gaps(&[4, 5]), vec![(3, 3), (6, RawFd::MAX)]);
    }
}
