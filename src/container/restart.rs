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
/// or its run stopped on purpose during the back-off (`stop` recorded the
/// request; the record already says exited).
pub fn stay_down(ctx: &Context, id: &str) -> Result<bool> {
    Ok(super::store(ctx)
        .load(id)?
        .is_none_or(|c| c.state.stopped_by_user()))
}
