//! Removing containers in bulk: `container prune`, and the containers that
//! use an image `rmi` removes.

use std::path::Path;

use crate::state::container::Status;
use crate::state::Lock;
use crate::{Context, Error, Result};

/// A container `prune` removed: its full id and the bytes its files took.
#[derive(Debug, Clone)]
pub struct Pruned {
    pub id: String,
    pub size: u64,
}

/// Removes every container that is not running (created or exited, as
/// Podman's `container prune`), then what cut-short removals and creates
/// left. Each failure goes to `failed` and the others go on.
pub fn prune(ctx: &Context, mut failed: impl FnMut(Error)) -> Result<Vec<Pruned>> {
    let store = super::store(ctx);
    let mut out = Vec::new();
    for c in store.list()? {
        if !matches!(
            super::effective_status(&c),
            Status::Exited | Status::Created
        ) || super::restarting(&c)
        {
            continue;
        }
        let size = disk_usage(&store.dir_of(&c.id));
        match super::remove(ctx, &c, false) {
            Ok(()) => out.push(Pruned { id: c.id, size }),
            Err(e) => failed(e),
        }
    }
    super::remove::sweep_retired(ctx);
    let _lock = store.lock()?;
    store.sweep_unrecorded();
    Ok(out)
}

/// Before `rmi` removes image `image_id`: the containers that use it are
/// removed with `force` (stopped first, as Podman's `rmi -f`: no supervisor
/// is left running where no command can reach it); without `force` any
/// user is an error naming it (Podman's message). The returned lock keeps
/// new containers from being created until the image is gone.
pub fn remove_image_users(ctx: &Context, image_id: &str, force: bool) -> Result<Lock> {
    let store = super::store(ctx);
    let lock = store.lock()?;
    let users: Vec<_> = store
        .list()?
        .into_iter()
        .filter(|c| c.config.image_id == image_id)
        .collect();
    if let Some(first) = users.first() {
        if !force {
            return Err(Error::with_code(
                2,
                format!(
                    "image used by {}: image is in use by a container: consider listing external containers and force-removing image",
                    first.id
                ),
            ));
        }
    }
    for c in &users {
        // As `rm -f`: killed, its supervisor waited for, then removed.
        super::remove(ctx, c, true)?;
    }
    Ok(lock)
}

/// Bytes of the regular files below `dir` (symlinks not followed, other
/// mounts not entered); 0 when it is gone.
pub fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(top) = std::fs::symlink_metadata(dir) else {
        return 0;
    };
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                if m.dev() == top.dev() {
                    stack.push(e.path());
                }
            } else if m.is_file() {
                total += m.len();
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_usage_counts_files_below() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("a")).unwrap();
        std::fs::write(d.path().join("a/x"), vec![0u8; 1000]).unwrap();
        std::fs::write(d.path().join("y"), vec![0u8; 24]).unwrap();
        std::os::unix::fs::symlink("/etc", d.path().join("l")).unwrap();
        assert_eq!(disk_usage(d.path()), 1024);
        assert_eq!(disk_usage(&d.path().join("nope")), 0);
    }
}
