//! `rm`: stop the container if asked to, delete its root filesystem, its
//! record and its directories.

use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{effective_status, pid_alive, start::storage_dir};
use crate::state::container::{Container, Status};
use crate::storage::{self, DriverKind};
use crate::{Context, Error, Result};

/// Removes a container; a running one only with `force`, which kills it first.
pub fn remove(ctx: &Context, c: &Container, force: bool) -> Result<()> {
    let status = effective_status(c);
    if matches!(status, Status::Running | Status::Paused | Status::Stopping) {
        if !force {
            return Err(Error::msg(format!(
                "cannot remove container {} as it is {}; stop it first or use -f",
                c.id,
                status.as_str()
            )));
        }
        kill_and_wait(c.state.pid, Duration::from_secs(10))?;
    }
    remove_stopped(ctx, c)
}

/// SIGKILL and wait until the process is gone.
pub fn kill_and_wait(pid: i32, timeout: Duration) -> Result<()> {
    if pid <= 0 {
        return Ok(());
    }
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    let deadline = Instant::now() + timeout;
    while pid_alive(pid) && !is_zombie(pid) {
        if Instant::now() > deadline {
            return Err(Error::msg(format!(
                "process {pid} did not exit after SIGKILL"
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

/// Deletes a container that no longer runs.
pub fn remove_stopped(ctx: &Context, c: &Container) -> Result<()> {
    if let Ok(kind) = DriverKind::parse(&c.config.driver) {
        storage::remove(kind, &storage_dir(ctx, &c.id))?;
    }
    super::store(ctx).remove(&c.id)?;
    Ok(())
}
