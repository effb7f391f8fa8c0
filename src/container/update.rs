//! `update`: new resource limits for a running container, written into its
//! cgroup and recorded in its configuration under the container's lock, so
//! that inspect shows what the kernel enforces.

use std::path::Path;

use crate::cgroups::Resources;
use crate::state::container::{Container, Status};
use crate::{Context, Error, Result};

/// Applies `new` (the limits given; others stay as they are) to the
/// running or paused container `key`. A stopped container, one without a
/// cgroup of its own (no delegated subtree) or a bad combination: one line,
/// nothing changed. Returns the container updated.
pub fn update(ctx: &Context, key: &str, new: &Resources) -> Result<Container> {
    let c = super::lookup(ctx, key)?;
    let uid = nix::unistd::geteuid().as_raw();
    super::store(ctx).update(&c.id, |cur| {
        if !matches!(cur.state.status, Status::Running | Status::Paused) {
            return Err(Error::msg(format!(
                "container {} is not running: only a running container's limits can be updated",
                cur.name
            )));
        }
        let mut merged = cur.config.resources.clone();
        merged.merge(new);
        merged.validate().map_err(Error::msg)?;
        if cur.state.cgroup.is_empty() {
            return Err(Error::msg(crate::cgroups::NO_DELEGATION));
        }
        let dir = Path::new(&cur.state.cgroup);
        let parent = dir.parent().unwrap_or(dir).to_path_buf();
        let d = crate::cgroups::enable_for(
            crate::cgroups::Delegation {
                controllers: crate::cgroups::available(&parent),
                top: parent.clone(),
                dir: parent,
            },
            new,
            uid,
        );
        crate::cgroups::hand_down(&d.dir, &d.controllers);
        crate::cgroups::check(Some(&d), new).map_err(Error::msg)?;
        if let Err(e) = crate::cgroups::apply(dir, &merged) {
            // Back to the limits in force: the record and the kernel agree.
            let _ = crate::cgroups::apply(dir, &cur.config.resources);
            return Err(Error::msg(format!("{}: cgroup: {e}", cur.name)));
        }
        cur.config.resources = merged;
        Ok(cur.clone())
    })
}
