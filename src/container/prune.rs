//! Removing containers in bulk: `container prune`, and the containers that
//! use an image `rmi` removes.

use std::path::Path;

use crate::state::config::MountKind;
use crate::state::container::{Container, Status};
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
/// left. Each failure goes to `failed` and the others go on. Holds the
/// containers' lock, so that no container is created meanwhile.
pub fn prune(ctx: &Context, failed: &mut impl FnMut(Error)) -> Result<Vec<Pruned>> {
    let store = super::store(ctx);
    let _lock = store.lock()?;
    Ok(prune_listed(ctx, store.list_sweeping()?, failed).0)
}

/// Whether `c` is a build's working container whose build process is
/// gone (killed before its cleanup ran): by the pid and start time in its
/// record, so a reused pid does not keep it.
pub fn orphan_build(c: &Container) -> bool {
    c.config
        .builder
        .is_some_and(|b| !super::pidfd::running(b.pid, b.start_time))
}

/// Removes, with force, the working containers of builds that are gone
/// (what a `kill -9` of `skiff build` left, running or not), as the next
/// build starts. Failures are logged and the others go on.
pub fn remove_orphan_builds(ctx: &Context) {
    let Ok(all) = super::store(ctx).list() else {
        return;
    };
    for c in all.iter().filter(|c| orphan_build(c)) {
        if let Err(e) = super::remove(ctx, c, true) {
            tracing::warn!(id = %c.id, "removing a dead build's container: {e}");
        }
    }
}

/// `prune` of the containers `all` (read under the containers' lock, which
/// the caller holds): returns what it removed and the containers left.
fn prune_listed(
    ctx: &Context,
    all: Vec<Container>,
    failed: &mut impl FnMut(Error),
) -> (Vec<Pruned>, Vec<Container>) {
    let store = super::store(ctx);
    let (mut pruned, mut kept) = (Vec::new(), Vec::new());
    for c in all {
        // A live build's working container is the build's to remove; one
        // whose build is gone is removed whatever its state.
        if c.config.builder.is_some() && !orphan_build(&c) {
            kept.push(c);
            continue;
        }
        if !orphan_build(&c)
            && !matches!(
            super::effective_status(&c),
            Status::Exited | Status::Created
        ) || super::restarting(&c)
            // A pod's infra container goes with its pod (`pod rm`, `pod prune`).
            || c.config.infra
        {
            kept.push(c);
            continue;
        }
        let size = disk_usage(&store.dir_of(&c.id));
        match super::remove(ctx, &c, orphan_build(&c)) {
            Ok(()) => pruned.push(Pruned { id: c.id, size }),
            Err(e) => {
                failed(e);
                kept.push(c);
            }
        }
    }
    super::remove::sweep_retired(ctx);
    (pruned, kept)
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

/// Bytes below `dir` as containers/storage counts them (what Podman's
/// `system df` shows): the apparent size of every entry that is not a
/// directory (a symlink's is its target's length), a file with several
/// hard links once; symlinks are not followed nor other mounts entered.
/// That is `du -sb` without the directories' own sizes. 0 when it is gone.
pub fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(top) = std::fs::symlink_metadata(dir) else {
        return 0;
    };
    let mut total = 0;
    let mut seen = std::collections::HashSet::new();
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
            } else if m.nlink() < 2 || seen.insert((m.dev(), m.ino())) {
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
        std::fs::hard_link(d.path().join("y"), d.path().join("a/y2")).unwrap();
        // Directories are not counted, a link is its target's length, a
        // hard-linked file once.
        assert_eq!(disk_usage(d.path()), 1000 + 24 + 4);
        assert_eq!(disk_usage(&d.path().join("nope")), 0);
    }
}

/// Removes dangling images (untagged), or with `all` every image no
/// container uses, then every layer, blob and config no image references
/// (what failed or interrupted pulls and loads left). Each failure goes to
/// `failed`. Returns the removed image ids.
pub fn prune_images(
    ctx: &Context,
    all: bool,
    failed: &mut impl FnMut(Error),
) -> Result<Vec<String>> {
    let containers = super::store(ctx);
    let _clock = containers.lock()?;
    prune_images_unused_by(ctx, &containers.list()?, all, failed)
}

/// `prune_images` with the containers that exist (read under the
/// containers' lock, which the caller holds until the images are gone).
fn prune_images_unused_by(
    ctx: &Context,
    containers: &[Container],
    all: bool,
    failed: &mut impl FnMut(Error),
) -> Result<Vec<String>> {
    let store = crate::image::ImageStore::new(ctx);
    let used: std::collections::HashSet<&str> = containers
        .iter()
        .map(|c| c.config.image_id.as_str())
        .collect();
    // Removing images can make others dangling only through names, which
    // prune never touches: one pass is enough.
    let mut out = Vec::new();
    for rec in store.records()? {
        if used.contains(rec.id.as_str()) || (!all && !rec.names.is_empty()) {
            continue;
        }
        match store.remove_image(&rec.id) {
            Ok(_) => out.push(rec.id),
            Err(e) => failed(e.into()),
        }
    }
    if let Err(e) = store.remove_unreferenced() {
        failed(e.into());
    }
    Ok(out)
}

/// Removes user-defined networks none of `containers` uses (not the default one).
fn prune_networks(ctx: &Context, containers: &[Container]) -> Result<Vec<String>> {
    use crate::network::{mode::DEFAULT_NETWORK, records, Mode};
    let mut out = Vec::new();
    for net in records::list(ctx)? {
        let used = containers.iter().any(|c| {
            matches!(crate::network::mode_of(&c.config), Mode::Bridge(ns) if ns.contains(&net.name))
        });
        if net.name == DEFAULT_NETWORK || used {
            continue;
        }
        crate::network::bridge::remove_network(ctx, &net);
        records::remove(ctx, &net.name)?;
        out.push(net.name);
    }
    Ok(out)
}

/// Removes named and anonymous volumes none of `containers` mounts.
fn prune_volumes(ctx: &Context, containers: &[Container]) -> Result<Vec<String>> {
    let dir = ctx.root.join("volumes");
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Ok(out);
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let data = e.path().join("_data");
        let used = containers.iter().any(|c| {
            c.config
                .mounts
                .iter()
                .any(|m| m.kind == MountKind::Volume && Path::new(&m.source) == data)
        });
        if !used && crate::state::container::remove_tree(&e.path()).is_ok() {
            out.push(name);
        }
    }
    Ok(out)
}

/// What `system prune` removed, and how many bytes of the store it freed.
#[derive(Debug, Default)]
pub struct SystemPruned {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
    pub images: Vec<String>,
    pub reclaimed: u64,
}

/// `system prune`: stopped containers, unused networks, dangling images
/// (every unused image with `all`), unused volumes with `volumes`, and the
/// layers and blobs nothing references; as Podman's `system prune`.
pub fn system_prune(
    ctx: &Context,
    all: bool,
    volumes: bool,
    mut failed: impl FnMut(Error),
) -> Result<SystemPruned> {
    let before = disk_usage(&ctx.root);
    // The records are read once, under the containers' lock held to the
    // end: no container is created (or renamed) while what it would use goes.
    let store = super::store(ctx);
    let _lock = store.lock()?;
    let (pruned, kept) = prune_listed(ctx, store.list_sweeping()?, &mut failed);
    let mut out = SystemPruned {
        containers: pruned.into_iter().map(|p| p.id).collect(),
        ..Default::default()
    };
    out.networks = prune_networks(ctx, &kept)?;
    if volumes {
        out.volumes = prune_volumes(ctx, &kept)?;
    }
    out.images = prune_images_unused_by(ctx, &kept, all, &mut failed)?;
    out.reclaimed = before.saturating_sub(disk_usage(&ctx.root));
    Ok(out)
}

/// `system reset`: removes every container (killing running ones), image,
/// network and volume, stops the user-namespace holder and deletes the
/// store and run directories, as Podman's `system reset`. Runs inside the
/// user namespace (the store holds files owned by subordinate ids).
pub fn system_reset(ctx: &Context, mut failed: impl FnMut(Error)) -> Result<()> {
    let everything = super::remove::RemoveOptions {
        force: true,
        infra: true,
        ..Default::default()
    };
    for c in super::store(ctx).list()? {
        if let Err(e) = super::remove::remove_with(ctx, &c, &everything) {
            failed(e);
        }
    }
    super::remove::sweep_retired(ctx);
    let store = crate::image::ImageStore::new(ctx);
    for rec in store.records()? {
        if let Err(e) = store.remove_image(&rec.id) {
            failed(e.into());
        }
    }
    for net in crate::network::records::list(ctx)? {
        crate::network::bridge::remove_network(ctx, &net);
    }
    crate::network::bridge::teardown(ctx);
    // This process stands in the holder's namespace and keeps it while it
    // deletes the files; the next command makes a new holder.
    crate::runtime::userns::stop_holder(ctx);
    for dir in [&ctx.root, &ctx.runroot] {
        if let Err(e) = crate::state::container::remove_tree(dir) {
            failed(e.into());
        }
    }
    Ok(())
}
