//! `stop`, `kill`, `wait`: signals to a container's init and waiting for the
//! supervisor to record the exit.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::{effective_status, pid_alive, store};
use crate::state::container::{no_such, Container, Status};
use crate::{Context, Error, Result};

fn require_running(c: &Container, verb: &str) -> Result<Status> {
    let st = effective_status(c);
    if !matches!(st, Status::Running | Status::Paused | Status::Stopping) {
        return Err(Error::msg(format!(
            "can only {verb} running containers: {} is in state {}: container state improper",
            c.name,
            st.as_str()
        )));
    }
    Ok(st)
}

/// Records that the container's current run is being stopped on purpose
/// (`State::stop_requested`, written only here), so that its supervisor
/// applies no restart policy and `inspect` shows `StoppedByUser`; a
/// running container is shown as stopping until its exit is recorded.
pub fn mark_stopping(ctx: &Context, c: &Container) -> Result<()> {
    match store(ctx).update(&c.id, |cur| {
        cur.state.stop_requested = Some(cur.state.run);
        if matches!(cur.state.status, Status::Running | Status::Paused) {
            cur.state.status = Status::Stopping;
        }
        Ok::<_, Error>(())
    }) {
        Err(_) if store(ctx).load(&c.id)?.is_none() => Ok(()),
        r => r,
    }
}

/// Sends `sig` to the container's init (`kill`).
pub fn kill(c: &Container, sig: Signal) -> Result<()> {
    let st = require_running(c, "kill")?;
    let proc_ = super::process(c).ok_or_else(|| {
        Error::msg(format!(
            "can only kill running containers: {} is in state exited: container state improper",
            c.name
        ))
    })?;
    proc_.signal(sig).map_err(|e| {
        Error::msg(format!(
            "sending {sig} to {}: {}",
            c.name,
            e.desc().to_lowercase()
        ))
    })?;
    if st == Status::Paused && sig != Signal::SIGKILL {
        super::pause::resume_all(c);
    }
    Ok(())
}

/// Stops a container: its stop signal, then SIGKILL after `timeout`. Returns
/// once the exit is recorded and its supervisor has finished. Marks the container as stopped on purpose so
/// that restart policies leave it down.
pub fn stop(ctx: &Context, c: &Container, timeout: Duration) -> Result<()> {
    if super::restarting(c) {
        // Between two runs of a --restart container: keep it down.
        mark_stopping(ctx, c)?;
        super::remove::wait_supervisor(c, Duration::from_secs(10));
        return Ok(());
    }
    let st = require_running(c, "stop")?;
    mark_stopping(ctx, c)?;
    let sig = c.config.stop_signal.unwrap_or(Signal::SIGTERM);
    // Named by pidfd: if the pid was recycled, nothing is signalled.
    if let Some(p) = super::process(c) {
        // No time to wait (`-t 0`): SIGKILL at once, without the stop
        // signal or the warning, as Podman's StopContainer does.
        let first = if timeout.is_zero() {
            Signal::SIGKILL
        } else {
            sig
        };
        let _ = p.signal(first);
        if st == Status::Paused {
            super::pause::resume_all(c);
        }
        if timeout.is_zero() {
            wait_gone(&p, Duration::from_secs(10));
        } else if !wait_gone(&p, timeout) {
            // Podman's warning, word for word.
            tracing::warn!(
                "StopSignal {} failed to stop container {} in {} seconds, resorting to SIGKILL",
                sig.as_str(),
                c.name,
                timeout.as_secs()
            );
            let _ = p.signal(Signal::SIGKILL);
            wait_gone(&p, Duration::from_secs(10));
        }
    }
    wait_recorded(ctx, c, Duration::from_secs(10))?;
    // Its supervisor cleans up after recording the exit (network, mounts,
    // what a `--pid host` container left running): Podman's stop returns
    // after the cleanup, and an `rm` right after must not find a
    // supervisor at work (it took the container for restarting).
    super::remove::wait_supervisor(c, Duration::from_secs(10));
    crate::events::Event::container(c, "stop").record(ctx);
    Ok(())
}

fn wait_gone(p: &super::pidfd::Process, timeout: Duration) -> bool {
    p.wait_exit(timeout)
}

/// Waits until the container's exit is in its record; if its supervisor is
/// gone, records it here.
fn wait_recorded(ctx: &Context, c: &Container, timeout: Duration) -> Result<()> {
    let containers = store(ctx);
    let deadline = Instant::now() + timeout;
    loop {
        let Some(cur) = containers.load(&c.id)? else {
            return Ok(()); // removed (--rm)
        };
        if matches!(cur.state.status, Status::Exited | Status::Created) {
            return Ok(());
        }
        if !pid_alive(cur.state.monitor_pid) || Instant::now() >= deadline {
            // The supervisor may have recorded the exit between the load
            // and the check: read again before recording it here.
            let Some(mut cur) = containers.load(&c.id)? else {
                return Ok(());
            };
            if matches!(cur.state.status, Status::Exited | Status::Created) {
                return Ok(());
            }
            let code = if cur.state.exit_code != 0 {
                cur.state.exit_code
            } else {
                137
            };
            return super::start::finish(ctx, &mut cur, code, "");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Blocks until the container exits and returns its exit code (`wait`).
pub fn wait(ctx: &Context, c: &Container) -> Result<i32> {
    let containers = store(ctx);
    let mut nap = Duration::from_millis(2);
    loop {
        let Some(cur) = containers.load(&c.id)? else {
            return Err(no_such(&c.name).into());
        };
        match effective_status(&cur) {
            Status::Exited => {
                // Its supervisor may have been killed: then 137, not the old code.
                let code = super::repair(ctx, cur.clone())?
                    .map_or(cur.state.exit_code, |c| c.state.exit_code);
                return Ok(code);
            }
            Status::Created if cur.state.finished_at.is_some() => return Ok(cur.state.exit_code),
            _ => {}
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(100));
    }
}
