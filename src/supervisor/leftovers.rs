//! The processes a container leaves when its init exits without a pid
//! namespace of its own (`--pid host`, `container:NAME`, `ns:PATH`, or
//! `hostPID` in kube play). With a private pid namespace the kernel kills
//! them all with the init; without one they would live on after the
//! container stopped, and without a delegated cgroup nothing else finds
//! them (runc's `kill --all` and crun read the cgroup). Their one mark is
//! the container's mount namespace, which every process of the container
//! has and nothing else does, so the supervisor remembers it at start and
//! kills whatever is still in it once the init is gone.

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// The mount namespace of a started container's init: `(st_dev, st_ino)`
/// of `/proc/PID/ns/mnt` (nsfs). None when it cannot be read (the init is
/// already gone: then nothing of it can be found either way).
pub fn mount_namespace(init: Pid) -> Option<(u64, u64)> {
    let m = std::fs::metadata(format!("/proc/{}/ns/mnt", init.as_raw())).ok()?;
    Some((m.dev(), m.ino()))
}

/// Kills (SIGKILL) every process in mount namespace `ns`, reaping those
/// that were reparented to us (the supervisor is a child subreaper), and
/// scans again until none is left or `within` has passed. Returns how many
/// it killed. Processes of other users cannot be read and are skipped.
pub fn kill_all(ns: (u64, u64), within: Duration) -> usize {
    let deadline = Instant::now() + within;
    let mut killed = 0;
    loop {
        let mut found = 0;
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return killed;
        };
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(m) = std::fs::metadata(format!("/proc/{pid}/ns/mnt")) else {
                continue;
            };
            if (m.dev(), m.ino()) == ns && kill(Pid::from_raw(pid), Signal::SIGKILL).is_ok() {
                found += 1;
            }
        }
        // Reap what was ours; a zombie's ns files are gone, so it is not
        // found again.
        while let Ok(st) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            if st == WaitStatus::StillAlive {
                break;
            }
        }
        killed += found;
        if found == 0 || Instant::now() >= deadline {
            return killed;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_namespace_is_readable_and_an_unknown_one_kills_nothing() {
        let me = mount_namespace(nix::unistd::getpid()).expect("own mount namespace");
        assert!(me.1 > 0);
        assert_eq!(kill_all((0, 0), Duration::from_millis(50)), 0);
    }
}
