//! The one way skiff forks (the container process, an exec'd process, the
//! user-namespace holder, the network-namespace maker, the overlay probe).
//!
//! After fork(2) the child has one thread, but a copy of every lock as the
//! other threads of the parent held it at that instant: malloc's, stdio's,
//! the environment's. POSIX therefore allows a child of a multi-threaded
//! process only async-signal-safe calls until it execs. [`fork`] makes that
//! question moot by refusing to fork unless this process has exactly one
//! thread (one read of `/proc/self/stat`, a few microseconds), runs the
//! child's closure, and ends the child with `_exit` so that it never returns
//! into its caller's code nor runs the parent's `atexit` handlers.
#![allow(unsafe_code)]

use std::io::Read;
use std::time::Duration;

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::unistd::Pid;

use super::{Error, Result};

/// How often [`fork`] looks again at a thread count above one before it
/// refuses, and how long it waits in between: a thread that was just
/// joined (the image pull's workers) is still counted until the kernel has
/// finished its exit, some microseconds after `join` returned. It runs no
/// code of ours by then. 50 looks 200 µs apart: 10 ms at most, spent only
/// when something is wrong.
const RECHECKS: u32 = 50;
const RECHECK_PAUSE: Duration = Duration::from_micros(200);

/// Forks this process; `flags` (`CLONE_NEW*`, may be empty) give the child
/// new namespaces as clone(2) does. Returns the child's pid, and
/// `parent_only` back, in the parent.
///
/// In the child, `parent_only` (the parent's ends of pipes) is dropped
/// first, then `child` runs, and the child `_exit`s with the status it
/// returns (125 if it panics: it never unwinds into the caller). In the
/// parent `child` is dropped without being called, so whatever it captured
/// by move (the child's ends of pipes, its stdio) is closed there.
///
/// # The child's contract: async-signal-safe only
///
/// `child` should make only async-signal-safe calls: no allocation, no
/// locks, system calls on memory prepared before the fork (CStrings, argv
/// arrays, map texts), then exec or return. That is what POSIX allows the
/// child of a multi-threaded process; the small children (the namespace
/// holder, the network-namespace maker, the overlay probe) keep to it, so
/// they would stay correct even if this check were ever relaxed.
///
/// The container processes (`process::create`, `process::exec_in`) cannot:
/// they parse the spec, resolve paths and format errors. They rely on the
/// thread check instead, which is why this function is safe to call: a
/// process with one thread, the caller, holds no lock that another thread
/// took, so the child's copy of malloc and of every lock is consistent and
/// ordinary Rust code may run in it. Only this thread could start another,
/// and it is busy forking. (`exec_in` makes the check itself, once for its
/// environment and its fork, and then calls [`fork_signal_safe`]; the
/// overlay probe, which must fork on the test harness's threads, calls
/// [`fork_signal_safe`] and keeps to the contract.)
///
/// # Errors
///
/// `what` says what the fork is for ("forking the exec'd process"), as the
/// context of either error: [`Error::MultiThreaded`] when the process has more than
/// one thread (a bug in skiff: fork before starting threads), or the
/// system error of fork/clone (EAGAIN, ENOMEM, EPERM or ENOSPC for namespaces).
pub fn fork<P>(
    what: &str,
    flags: CloneFlags,
    parent_only: P,
    child: impl FnOnce() -> i32,
) -> Result<(Pid, P)> {
    ensure_single_threaded(what)?;
    // SAFETY: this process has one thread (checked just above, and only
    // this thread could start another), so the child inherits no lock held
    // by anyone and may run ordinary code: the contract of
    // `fork_signal_safe` is needed only when other threads exist.
    unsafe { fork_signal_safe(what, flags, parent_only, child) }
}

/// [`fork`] without the thread check: for a child that keeps to the
/// async-signal-safe contract and may therefore be forked from a
/// multi-threaded process (the overlay probe, which runs wherever the store
/// is first opened, on the test harness's threads in the unit tests), or
/// for a caller that has just made the check itself (`process::exec_in`).
///
/// # Safety
///
/// Unless this process is known to have one thread, `child` and the drop
/// of `parent_only` make only async-signal-safe calls (no allocation or
/// deallocation, no locks, no stdio): another thread may have held any
/// lock at the instant of the fork, and the child's copy stays held.
pub unsafe fn fork_signal_safe<P>(
    what: &str,
    flags: CloneFlags,
    parent_only: P,
    child: impl FnOnce() -> i32,
) -> Result<(Pid, P)> {
    let ret = if flags.is_empty() {
        // SAFETY: the child runs only `in_child`, which never returns, and
        // either this process has one thread or the child is
        // async-signal-safe (this function's contract).
        (unsafe { libc::fork() }) as libc::c_long
    } else {
        raw_clone(flags)
    };
    match ret {
        -1 => Err(Error::sys(what.to_string(), Errno::last())),
        0 => {
            drop(parent_only);
            in_child(child)
        }
        pid => Ok((Pid::from_raw(pid as libc::pid_t), parent_only)),
    }
}

/// clone(2) without `CLONE_VM`: fork with new namespaces (a new pid
/// namespace needs clone, `unshare` only affects later children). The libc
/// wrapper needs a stack for a callback; the raw system call forks in place.
#[cfg(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64",
    target_arch = "powerpc64",
    target_arch = "loongarch64",
    target_arch = "x86",
    target_arch = "arm"
))]
fn raw_clone(flags: CloneFlags) -> libc::c_long {
    // SAFETY: on these architectures the first argument of the clone system
    // call is the flags and the others (stack, tid pointers, tls) are unused
    // when zero. Without CLONE_VM or CLONE_THREAD the child gets its own
    // copy-on-write copy of this process, as with fork(2); glibc's fork
    // handlers do not run, which matters only for a child that takes
    // glibc's locks, and `fork_signal_safe`'s contract covers that. The
    // child runs only `in_child`, which never returns.
    unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags.bits() as libc::c_ulong) | libc::SIGCHLD as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    }
}

#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64",
    target_arch = "powerpc64",
    target_arch = "loongarch64",
    target_arch = "x86",
    target_arch = "arm"
)))]
compile_error!("runtime::fork::raw_clone assumes clone(2) takes the flags first (not s390x) and returns 0 in the child (not sparc)");

/// The child's side of [`fork`]: runs `child` and `_exit`s with its status.
fn in_child(child: impl FnOnce() -> i32) -> ! {
    /// Ends the child with 125 if `child` unwinds, before any frame of the
    /// caller (which belongs to the parent's copy of the program) is reached.
    struct ExitOnUnwind;
    impl Drop for ExitOnUnwind {
        fn drop(&mut self) {
            exit_now(125)
        }
    }
    let guard = ExitOnUnwind;
    let code = child();
    std::mem::forget(guard);
    exit_now(code)
}

/// Ends this process at once with `code`: no `atexit` handlers, no flushing
/// of stdio buffers (in a forked child both belong to the parent's copy).
/// Async-signal-safe.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit(2) takes an integer and never returns; it runs no code
    // of this process, so nothing of ours is left half-done that matters.
    unsafe { libc::_exit(code) }
}

/// Succeeds when this process has exactly one thread; looks again for a
/// short while before refusing (see [`RECHECKS`]). Returns the line of
/// `/proc/self/stat` that showed one thread, for a caller that needs other
/// fields of it (exec's environment bounds) without reading it again.
pub fn ensure_single_threaded(what: &str) -> Result<String> {
    let mut stat = self_stat()?;
    let mut threads = threads_of(&stat)?;
    for _ in 0..RECHECKS {
        if threads == 1 {
            return Ok(stat);
        }
        std::thread::sleep(RECHECK_PAUSE);
        stat = self_stat()?;
        threads = threads_of(&stat)?;
    }
    if threads == 1 {
        return Ok(stat);
    }
    Err(Error::MultiThreaded {
        what: what.to_string(),
        threads,
    })
}

/// The number of threads of this process: field 20 (`num_threads`) of
/// `/proc/self/stat`, proc(5).
pub fn thread_count() -> Result<usize> {
    threads_of(&self_stat()?)
}

fn threads_of(stat: &str) -> Result<usize> {
    parse_threads(stat.as_bytes())
        .ok_or_else(|| Error::Msg("/proc/self/stat: no thread count in field 20".into()))
}

/// `/proc/self/stat`, read with one read(2) into a stack buffer: the kernel
/// gives the whole line to the first read that has room for it (52 numbers
/// and a command name of at most 64 bytes fit in far less than 4 KiB).
fn self_stat() -> Result<String> {
    let path = std::path::Path::new("/proc/self/stat");
    let mut buf = [0u8; 4096];
    let mut file = std::fs::File::open(path).map_err(|e| super::io_err("open", path, e))?;
    let len = loop {
        match file.read(&mut buf) {
            Ok(n) if n < buf.len() => break n,
            Ok(_) => return Err(Error::Msg("/proc/self/stat: longer than 4 KiB".into())),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(super::io_err("read", path, e)),
        }
    };
    String::from_utf8(buf[..len].to_vec())
        .map_err(|_| Error::Msg("/proc/self/stat: not UTF-8".into()))
}

/// Field 20 of a `/proc/PID/stat` line. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted after its last `)`.
fn parse_threads(stat: &[u8]) -> Option<usize> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    // `rest` starts at field 3 (state): field 20 is the 18th from here.
    rest.split_ascii_whitespace().nth(17)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_count_comes_after_the_last_parenthesis() {
        let line = b"42 (a b) 5 6) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 7 0 98765 1000 10";
        assert_eq!(parse_threads(line), Some(7));
        assert_eq!(parse_threads(b"garbage"), None);
        assert_eq!(parse_threads(b"1 (x) S 1"), None);
    }

    #[test]
    fn a_signal_safe_child_forks_among_threads_and_exits_with_its_status() {
        // SAFETY: the child only returns a number; `in_child` then _exits.
        let (pid, ()) =
            unsafe { fork_signal_safe("forking the test child", CloneFlags::empty(), (), || 7) }
                .unwrap();
        assert_eq!(
            nix::sys::wait::waitpid(pid, None).unwrap(),
            nix::sys::wait::WaitStatus::Exited(pid, 7)
        );
    }

    #[test]
    fn a_running_thread_is_counted_and_fork_refuses() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            ready_tx.send(()).unwrap();
            let _ = rx.recv();
        });
        ready_rx.recv().unwrap();
        assert!(thread_count().unwrap() >= 2, "the parked thread is counted");
        let r = fork("forking the test child", CloneFlags::empty(), (), || 0);
        tx.send(()).unwrap();
        t.join().unwrap();
        match r {
            Err(e @ Error::MultiThreaded { .. }) => {
                let msg = e.to_string();
                assert!(
                    msg.starts_with("forking the test child: skiff has "),
                    "{msg}"
                );
            }
            Ok((pid, ())) => {
                let _ = nix::sys::wait::waitpid(pid, None);
                panic!("fork went ahead in a multi-threaded process");
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
}
