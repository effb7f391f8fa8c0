//! Container life cycle, one file per verb as youki lays it out: `create`
//! writes the record, `start` prepares the root filesystem and spec and
//! creates the process, `monitor` waits for it in the foreground, `remove`
//! deletes it. The CLI only parses arguments and prints.

pub mod attach;
pub mod cp;
pub mod create;
pub mod exec;
pub mod filter;
pub mod inspect;
pub mod launch;
pub mod logs;
pub mod monitor;
pub mod names;
pub mod pause;
pub mod remove;
pub mod start;
pub mod stop;

pub use create::{create, CreateOptions};
pub use remove::remove;

use crate::state::container::{Container, Containers, Status};
use crate::Context;

/// The container records of this store.
pub fn store(ctx: &Context) -> Containers {
    Containers::new(ctx.containers_dir())
}

/// Whether a process still runs: signal 0 reaches it.
pub fn pid_alive(pid: i32) -> bool {
    pid > 0 && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

/// The status a user should see: a record that says running but whose
/// process is gone (its monitor was killed) is reported as exited.
pub fn effective_status(c: &Container) -> Status {
    match c.state.status {
        Status::Running | Status::Paused | Status::Stopping if !pid_alive(c.state.pid) => {
            Status::Exited
        }
        s => s,
    }
}
