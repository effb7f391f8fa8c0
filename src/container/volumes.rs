//! A container's volumes: what `start` mounts for each `Volume` mount (the
//! volume's data directory, or the tmpfs or bind its local-driver options
//! describe), the first-use preparation of a data directory (copy-up of
//! the image directory, chown to the container's user), and what `rm`
//! does to the volumes (the container stops being a user; `rm -v` and
//! `--rm` delete its anonymous volumes, never named ones).

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sys::stat::{fchmod, fstat, Mode, SFlag};
use nix::unistd::{fchown, fchownat, Gid, Uid};

use oci_spec::runtime::Mount as SpecMount;

use crate::runtime::user::ExecUser;
use crate::runtime::{safe_path, spec};
use crate::state::config::Mount;
use crate::state::container::Container;
use crate::volume::{self, archive, Backing};
use crate::{Context, Error, Result};

/// The OCI mount for the `Volume` mount `m` of a container whose root
/// filesystem is at `rootfs` and whose process runs as `user` (its ids
/// as skiff's namespace sees them, through the container's own maps). A data
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
            let source = sub_path_source(m, &data)?;
            spec::bind_mount(&source, &m.destination, &opts)
        }
        Backing::Tmpfs { .. } if !m.sub_path.is_empty() => {
            return Err(Error::msg(format!(
                "volume {}: a sub path of a tmpfs volume cannot be mounted",
                m.name
            )))
        }
        Backing::Tmpfs { mut options } => {
            options.extend(opts);
            spec::fs_mount("tmpfs", &m.destination, &options)
        }
        Backing::Bind {
            device,
            mut options,
        } => {
            options.retain(|o| o != "bind" && o != "rbind");
            options.extend(opts);
            let source = sub_path_source(m, &device)?;
            spec::bind_mount(&source, &m.destination, &options)
        }
    })
}

/// The host path to bind for mount `m` (a volume's whose data lives in
/// `dir`, or a bind of host directory `dir`):
/// `dir` itself, or its `sub_path` resolved inside `dir` through
/// descriptors (`RESOLVE_IN_ROOT`; missing directories are made), so that a
/// symlink a container planted in the volume leads to a path in the
/// volume, never out of it (Kubernetes' CVE-2017-1002101; Podman resolves
/// a volume's subpath with securejoin alike). Errors: the sub path cannot
/// be made, or resolves outside `dir`.
pub(super) fn sub_path_source(m: &Mount, dir: &Path) -> Result<String> {
    if m.sub_path.is_empty() {
        return Ok(dir.to_string_lossy().into_owned());
    }
    let sub = Path::new(&m.sub_path);
    let what = if m.name.is_empty() {
        m.source.clone()
    } else {
        format!("volume {}", m.name)
    };
    let fail = |e: std::io::Error| {
        Error::msg(format!(
            "{what}: sub path {:?}: {}",
            m.sub_path,
            crate::error::io_reason(&e)
        ))
    };
    let root = safe_path::Root::open(dir).map_err(fail)?;
    let fd = match root.resolve(sub, true) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => root.mkdir_all(sub, 0o755),
        r => r,
    }
    .map_err(fail)?;
    // The path the descriptor names now: below the volume, by construction.
    let real = std::fs::read_link(safe_path::proc_path(fd.as_fd())).map_err(fail)?;
    let top = std::fs::canonicalize(dir).map_err(fail)?;
    if !real.starts_with(&top) {
        return Err(Error::msg(format!(
            "{what}: sub path {:?} leads out of it",
            m.sub_path
        )));
    }
    Ok(real.to_string_lossy().into_owned())
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
    rootfs: &Path,
    user: &ExecUser,
) -> Result<()> {
    let empty = std::fs::read_dir(data)?.next().is_none();
    let copy = empty && v.needs_copy_up && !m.options.iter().any(|o| o == "nocopy");
    let copied = if copy {
        copy_up(rootfs, &m.destination, data).map_err(|e| {
            Error::msg(format!(
                "volume {}: copying {} of the image in: {}",
                m.name,
                m.destination,
                crate::error::io_reason(&e)
            ))
        })?
    } else {
        false
    };
    if empty && !copied && v.needs_chown {
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

/// `:U` (Podman's chown of a bind or volume source): gives `path` and
/// everything below it to `uid:gid`, ids of the container's user namespace,
/// which this runs in. The tree may be written by a running container (a
/// shared volume, a directory another container binds) that swaps a
/// directory for a symlink to a host directory while the walk goes on:
/// every entry is opened `O_PATH | O_NOFOLLOW` on its parent's descriptor
/// and changed through that descriptor, and only what was opened as a
/// directory is descended into, so a link is changed as itself and what it
/// points to is never touched. `path` itself (the user's) is followed.
/// Entries that vanish during the walk are skipped. Errors name the path
/// (a tree deeper than the open descriptor limit fails with EMFILE).
pub(super) fn chown_tree(path: &Path, uid: u32, gid: u32) -> Result<()> {
    let fail = |p: &Path, e: std::io::Error| {
        Error::msg(format!(
            "chown {}: {}",
            p.display(),
            crate::error::io_reason(&e)
        ))
    };
    let top = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(path)
        .map_err(|e| fail(path, e))?;
    let own = |fd: BorrowedFd| {
        fchownat(
            Some(fd.as_raw_fd()),
            "",
            Some(Uid::from_raw(uid)),
            Some(Gid::from_raw(gid)),
            nix::fcntl::AtFlags::AT_EMPTY_PATH,
        )
        .map_err(std::io::Error::from)
    };
    own(top.as_fd()).map_err(|e| fail(path, e))?;
    if safe_path::file_type(top.as_fd()).map_err(|e| fail(path, e))? != SFlag::S_IFDIR {
        return Ok(());
    }
    // Directories being walked: their descriptor, path (for errors) and
    // the names not yet visited. A loop, not recursion: depth costs a
    // descriptor, never stack.
    let dir = safe_path::reopen(top.as_fd(), OFlag::O_RDONLY | OFlag::O_DIRECTORY)
        .map_err(|e| fail(path, e))?;
    let names = archive::names(dir.as_fd()).map_err(|e| fail(path, e))?;
    let mut stack = vec![(dir, path.to_path_buf(), names.into_iter())];
    while let Some((dir, dir_path, names)) = stack.last_mut() {
        let Some(name) = names.next() else {
            stack.pop();
            continue;
        };
        let here = dir_path.join(&name);
        let gone = |e: &std::io::Error| e.raw_os_error() == Some(libc::ENOENT);
        let entry = match safe_path::open_at(dir.as_fd(), &name, OFlag::O_PATH, 0) {
            Ok(fd) => fd,
            Err(e) if gone(&e) => continue,
            Err(e) => return Err(fail(&here, e)),
        };
        own(entry.as_fd()).map_err(|e| fail(&here, e))?;
        if safe_path::file_type(entry.as_fd()).map_err(|e| fail(&here, e))? != SFlag::S_IFDIR {
            continue;
        }
        let sub = safe_path::reopen(entry.as_fd(), OFlag::O_RDONLY | OFlag::O_DIRECTORY)
            .map_err(|e| fail(&here, e))?;
        let names = match archive::names(sub.as_fd()) {
            Ok(n) => n,
            Err(e) if gone(&e) => continue,
            Err(e) => return Err(fail(&here, e)),
        };
        stack.push((sub, here, names.into_iter()));
    }
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
            match volume::remove(ctx, &name) {
                // Another member of a pod, removed at the same time, shared
                // the volume and took it first.
                Ok(()) | Err(volume::Error::NotFound(_)) => {}
                Err(e) => tracing::warn!("{e}"),
            }
        }
    }
}

/// The names of the volumes that exist now (none when they cannot be
/// listed), for `remove_made` to tell which ones a `create` made.
pub fn names(ctx: &Context) -> Vec<String> {
    volume::list(ctx)
        .map(|vs| vs.into_iter().map(|v| v.name).collect())
        .unwrap_or_default()
}

/// `run --rm` of container `c` was refused at start (a mount point that
/// cannot be made, a missing helper): the container is gone with its
/// anonymous volumes, and this removes the named volumes its create made
/// (those not in `before`) that no other container uses, so the refused
/// run leaves no volume that was not there before (Podman keeps them).
/// Nothing is removed while the container's record is still there.
pub fn remove_made(ctx: &Context, c: &Container, before: &[String]) {
    if !matches!(super::store(ctx).load(&c.id), Ok(None)) {
        return; // still there (refused before its supervisor ran): it uses them
    }
    for name in c.config.mounts.iter().filter_map(Mount::volume_name) {
        if before.contains(&name) {
            continue;
        }
        let Ok(v) = volume::get(ctx, &name) else {
            continue;
        };
        if v.users.iter().all(|u| u == &c.id) {
            match volume::remove(ctx, &name) {
                Ok(()) | Err(volume::Error::NotFound(_)) => {}
                Err(e) => tracing::warn!("{e}"),
            }
        }
    }
}

/// Copies the image directory `dest` (resolved inside `rootfs`, symlinks
/// kept inside it) into the empty data directory `data`, with modes and
/// owners, and gives `data` the directory's own mode and owner. The image
/// content is hostile: every entry is opened by descriptor relative to its
/// parent, never followed, and checked for its type after opening. Regular
/// files, directories and symlinks are copied; device nodes, fifos and
/// sockets are skipped (an unprivileged user cannot make device nodes).
/// Returns false when the image has no directory there.
fn copy_up(rootfs: &Path, dest: &str, data: &Path) -> std::io::Result<bool> {
    let root = safe_path::Root::open(rootfs)?;
    let src = match root.open_with(Path::new(dest), OFlag::O_RDONLY | OFlag::O_DIRECTORY) {
        Ok(fd) => fd,
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
            return Ok(false)
        }
        Err(e) => return Err(e),
    };
    let dst = File::open(data)?;
    copy_dir(src.as_fd(), dst.as_fd())?;
    copy_meta(src.as_fd(), dst.as_fd())?;
    Ok(true)
}

/// Gives `dst` the mode and owner of `src` (both open descriptors).
fn copy_meta(src: BorrowedFd, dst: BorrowedFd) -> std::io::Result<()> {
    let st = fstat(src.as_raw_fd())?;
    fchown(
        dst.as_raw_fd(),
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    )?;
    fchmod(
        dst.as_raw_fd(),
        Mode::from_bits_truncate(st.st_mode & 0o7777),
    )?;
    Ok(())
}

/// Copies the entries of directory `src` into directory `dst` (see `copy_up`).
fn copy_dir(src: BorrowedFd, dst: BorrowedFd) -> std::io::Result<()> {
    for name in archive::names(src)? {
        // O_PATH|O_NOFOLLOW: a symlink is opened as itself, nothing is followed.
        let Ok(entry) = safe_path::open_at(src, &name, OFlag::O_PATH, 0) else {
            continue;
        };
        match safe_path::file_type(entry.as_fd())? {
            SFlag::S_IFDIR => {
                let from = safe_path::open_at(src, &name, OFlag::O_RDONLY | OFlag::O_DIRECTORY, 0)?;
                let made = safe_path::mkdir_at(dst, &name, 0o700)?;
                let to = safe_path::reopen(made.as_fd(), OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
                copy_dir(from.as_fd(), to.as_fd())?;
                copy_meta(from.as_fd(), to.as_fd())?;
            }
            SFlag::S_IFREG => {
                let from = safe_path::open_at(src, &name, OFlag::O_RDONLY | OFlag::O_NONBLOCK, 0)?;
                if safe_path::file_type(from.as_fd())? != SFlag::S_IFREG {
                    continue; // swapped since the listing
                }
                let to = safe_path::open_at(
                    dst,
                    &name,
                    OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL,
                    0o600,
                )?;
                let (mut r, mut w) = (File::from(from), File::from(to));
                std::io::copy(&mut r, &mut w)?;
                copy_meta(r.as_fd(), w.as_fd())?;
            }
            SFlag::S_IFLNK => {
                let target = safe_path::readlink_at(entry.as_fd(), OsStr::new(""))?;
                safe_path::symlink_at(&target, dst, &name)?;
                let st = fstat(entry.as_raw_fd())?;
                fchownat(
                    Some(dst.as_raw_fd()),
                    name.as_os_str(),
                    Some(Uid::from_raw(st.st_uid)),
                    Some(Gid::from_raw(st.st_gid)),
                    nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
                )?;
            }
            _ => {}
        }
    }
    Ok(())
}
