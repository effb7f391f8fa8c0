//! A container's volumes: what `start` mounts for each `Volume` mount (the
//! volume's data directory, or the tmpfs or bind its local-driver options
//! describe), the first-use preparation of a data directory (copy-up of
//! the image directory, chown to the container's user), and what `rm`
//! does to the volumes (the container stops being a user; `rm -v` and
//! `--rm` delete its anonymous volumes, never named ones).

use std::path::Path;

use oci_spec::runtime::Mount as SpecMount;

use crate::runtime::spec;
use crate::runtime::user::ExecUser;
use crate::state::config::Mount;
use crate::state::container::Container;
use crate::volume::{self, Backing};
use crate::{Context, Error, Result};

/// The OCI mount for the `Volume` mount `m` of a container whose root
/// filesystem is at `rootfs` and whose process runs as `user`. A data
/// directory used for the first time is prepared first (see `first_use`).
/// Errors: the volume no longer exists, or preparing it failed.
pub fn spec_mount(ctx: &Context, m: &Mount, rootfs: &Path, user: &ExecUser) -> Result<SpecMount> {
    let opts = m.mount_options();
    if m.name.is_empty() {
        // A record from before volumes had records: a plain directory.
        std::fs::create_dir_all(&m.source)?;
        return Ok(spec::bind_mount(&m.source, &m.destination, &opts));
    }
    let v = volume::get(ctx, &m.name)?;
    Ok(match volume::backing(ctx, &v) {
        Backing::Data(data) => {
            if v.needs_copy_up || v.needs_chown {
                first_use(ctx, m, &v, &data, rootfs, user)?;
            }
            spec::bind_mount(&data.to_string_lossy(), &m.destination, &opts)
        }
        Backing::Tmpfs { mut options } => {
            options.extend(opts);
            spec::tmpfs_mount(&m.destination, &options)
        }
        Backing::Bind {
            device,
            mut options,
        } => {
            options.retain(|o| o != "bind" && o != "rbind");
            options.extend(opts);
            spec::bind_mount(&device.to_string_lossy(), &m.destination, &options)
        }
    })
}

/// Prepares an empty data directory the first time a container mounts
/// it, as Podman does: the image's directory at the mount point is copied
/// in with its ownership (copy-up, unless `nocopy`); otherwise the
/// directory is given to the container's user. Either happens once.
fn first_use(
    ctx: &Context,
    m: &Mount,
    v: &volume::Volume,
    data: &Path,
    _rootfs: &Path,
    user: &ExecUser,
) -> Result<()> {
    let empty = std::fs::read_dir(data)?.next().is_none();
    if empty && v.needs_chown {
        nix::unistd::chown(
            data,
            Some(nix::unistd::Uid::from_raw(user.uid)),
            Some(nix::unistd::Gid::from_raw(user.gid)),
        )
        .map_err(|e| {
            Error::msg(format!(
                "volume {}: chown {}: {}",
                m.name,
                data.display(),
                e.desc().to_lowercase()
            ))
        })?;
    }
    volume::prepared(ctx, &v.name)?;
    Ok(())
}

/// The container is being removed: it no longer uses its volumes.
pub fn release(ctx: &Context, c: &Container) {
    for name in c.config.mounts.iter().filter_map(Mount::volume_name) {
        if let Err(e) = volume::remove_user(ctx, &name, &c.id) {
            tracing::debug!("volume {name}: {e}");
        }
    }
}

/// Deletes the removed container's anonymous volumes that no other
/// container uses (`rm -v`, `--rm`); named volumes stay.
pub fn remove_anonymous(ctx: &Context, c: &Container) {
    for name in c.config.mounts.iter().filter_map(Mount::volume_name) {
        let Ok(v) = volume::get(ctx, &name) else {
            continue;
        };
        if v.anonymous && v.users.iter().all(|u| u == &c.id) {
            if let Err(e) = volume::remove(ctx, &name) {
                tracing::warn!("{e}");
            }
        }
    }
}
