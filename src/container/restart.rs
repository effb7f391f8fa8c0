//! Restarts: `restart` (the command, and `--health-on-failure restart`),
//! and the restart policy's transitions, made by the supervisor between
//! two runs of a `--restart` container.

use crate::state::container::Container;
use crate::state::container::Status;
use crate::{Context, Error, Result};

/// Stops `c` when it runs (its stop signal, SIGKILL after `timeout`) and
/// starts it again under a new supervisor (`restart`).
pub fn restart(ctx: &Context, c: &Container, timeout: std::time::Duration) -> Result<()> {
    if matches!(super::effective_status(c), Status::Running | Status::Paused) {
        super::stop::stop(ctx, c, timeout)?;
    }
    let mut c = super::store(ctx).get(&c.id)?;
    if super::effective_status(&c) != Status::Created {
        let code = c.state.exit_code;
        super::start::finish(ctx, &mut c, code, "")?;
    }
    super::launch::launch(ctx, &c, super::launch::Mode::Detached).map(|_| ())
}

/// Counts one restart; false when the container was removed meanwhile.
pub fn count(ctx: &Context, id: &str) -> Result<bool> {
    let store = super::store(ctx);
    match store.update(id, |c| {
        c.state.restart_count += 1;
        Ok::<_, Error>(())
    }) {
        Ok(()) => Ok(true),
        Err(_) if store.load(id)?.is_none() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether the container must stay down instead of restarting: removed,
/// or stopped on purpose during the back-off (then recorded exited).
pub fn stay_down(ctx: &Context, id: &str) -> Result<bool> {
    let store = super::store(ctx);
    match store.load(id)? {
        None => Ok(true),
        Some(c) if c.state.status == Status::Stopping => {
            let r = store.update(id, |c| {
                // Checked again under the lock: `start` may have come between.
                let down = c.state.status == Status::Stopping;
                if down {
                    c.state.status = Status::Exited;
                }
                Ok::<_, Error>(down)
            });
            match r {
                Ok(down) => Ok(down),
                Err(_) if store.load(id)?.is_none() => Ok(true),
                Err(e) => Err(e),
            }
        }
        Some(_) => Ok(false),
    }
}
