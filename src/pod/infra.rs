//! The pod's infra process (`skiff _infra`), our own minimal pause: it holds
//! the namespaces a pod's containers share (net, uts, ipc by default) by
//! living in them, does nothing else, reaps whatever children come to it
//! (it is pid 1 of the pod when the pid namespace is shared) and exits 0 on
//! SIGTERM or SIGINT, as Podman's catatonit does in pause mode (`-P`).
//!
//! `main.rs` dispatches it before the command-line parser, so that the
//! process runs none of the CLI's initialisation; it then drops its
//! mappings of the binary's clean pages (as the supervisor does) and sleeps
//! in `sigwait`, touching a few pages only. Its resident memory stays well
//! under 1 MiB (tests/pod_infra.rs measures it).
//!
//! Signals that arrive before it blocks them act as the default would
//! (SIGTERM then ends it by the signal): a starter that must not lose one
//! blocks them before the exec, since the blocked mask survives exec.

use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// The hidden subcommand that runs [`main`].
pub const SUBCOMMAND: &str = "_infra";

/// Signals the infra process waits for: SIGTERM and SIGINT end it, SIGCHLD
/// makes it reap, the rest (what `pod kill -s HUP` sends to every member)
/// are taken and ignored, so that only SIGKILL or the two above stop the pod.
const WAITED: [Signal; 9] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGCHLD,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGPIPE,
    Signal::SIGWINCH,
];

/// Entry point of `skiff _infra`; returns the exit code (0 after SIGTERM or
/// SIGINT, 125 when the signal mask cannot be set).
#[allow(unsafe_code)] // one call: closing inherited descriptors
pub fn main() -> i32 {
    // It outlives whatever started it: hold on to none of its descriptors.
    // SAFETY: nothing of this process owns a descriptor above stderr yet:
    // `main.rs` dispatches `_infra` here before opening any.
    unsafe { crate::runtime::fds::close_from(3) };
    let mut set = SigSet::empty();
    for s in WAITED {
        set.add(s);
    }
    if let Err(e) = set.thread_block() {
        eprintln!(
            "Error: infra: blocking signals: {}",
            e.desc().to_lowercase()
        );
        return 125;
    }
    // Children that ended before the mask was set sent a SIGCHLD we missed.
    reap_all();
    loop {
        // Whatever code the last wake-up ran (and the kernel faulted in
        // around it) is let go again before sleeping.
        let sig = crate::supervisor::trim::release_clean_file_pages_and_wait(&set);
        match sig.map(Signal::try_from) {
            Some(Ok(Signal::SIGTERM | Signal::SIGINT)) => return 0,
            Some(Ok(Signal::SIGCHLD)) => {
                reap_all();
            }
            _ => {}
        }
    }
}

/// Reaps every child that has ended, without blocking; returns how many.
pub fn reap_all() -> usize {
    let mut n = 0;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return n,
            Ok(_) => n += 1,
            Err(Errno::EINTR) => {}
            Err(_) => return n,
        }
    }
}
