//! The restart policy's transitions, made by the supervisor between two
//! runs of a `--restart` container.

use crate::state::container::Status;
use crate::{Context, Error, Result};

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
