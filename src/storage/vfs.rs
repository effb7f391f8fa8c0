//! vfs: each container gets its own full copy of its layers, with whiteouts
//! and opaque directories applied while copying. Slow and large, but it needs
//! nothing from the kernel or the host.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::Metadata;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::{Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;

use super::{Error, Result};

/// Opaque-directory marks, in the user namespace (`userxattr`) and the
/// privileged spelling; neither is copied into a root filesystem.
const OPAQUE_XATTRS: [&str; 2] = ["user.overlay.opaque", "trusted.overlay.opaque"];

pub(super) fn rootfs_dir(dir: &Path) -> PathBuf {
    dir.join("rootfs")
}

pub(super) fn mount(lowers: &[PathBuf], dir: &Path) -> Result<PathBuf> {
    let rootfs = rootfs_dir(dir);
    if rootfs.is_dir() {
        return Ok(rootfs);
    }
    // Copy into a scratch name and rename, so that an interrupted copy is
    // never mistaken for a finished root filesystem.
    let partial = dir.join("rootfs.partial");
    super::tree::remove_all(&partial)?;
    std::fs::create_dir_all(&partial).map_err(|e| Error::io("mkdir", &partial, &e))?;
    std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| Error::io("chmod", &partial, &e))?;
    for layer in lowers {
        copy_layer(layer, &partial)?;
    }
    std::fs::rename(&partial, &rootfs).map_err(|e| Error::io("rename", &partial, &e))?;
    Ok(rootfs)
}

/// See [`super::mount_scratch`]: a tmpfs on `dir/rootfs` (made if missing),
/// mode 0755, 1 MiB at most (it holds empty mount points only).
pub(super) fn mount_scratch(dir: &Path) -> Result<PathBuf> {
    let rootfs = rootfs_dir(dir);
    if super::mountinfo::is_mount_point(&rootfs) {
        return Ok(rootfs);
    }
    std::fs::create_dir_all(&rootfs).map_err(|e| Error::io("mkdir", &rootfs, &e))?;
    nix::mount::mount(
        Some("tmpfs"),
        &rootfs,
        Some("tmpfs"),
        nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
        Some("mode=0755,size=1m"),
    )
    .map_err(|e| {
        Error::Msg(format!(
            "mount tmpfs on {}: {}",
            rootfs.display(),
            e.desc().to_lowercase()
        ))
    })?;
    Ok(rootfs)
}

/// Applies one layer directory on top of the tree at `dst`.
pub(super) fn copy_layer(layer: &Path, dst: &Path) -> Result<()> {
    let md = std::fs::symlink_metadata(layer).map_err(|e| Error::io("stat", layer, &e))?;
    if !md.is_dir() {
        return Err(Error::Msg(format!(
            "layer directory {}: not a directory; the image store is damaged, pull the image again",
            layer.display()
        )));
    }
    // Hard links are only kept within a layer: identical inodes across layers
    // are not links in the image.
    let mut links = HashMap::new();
    if is_opaque(layer)? {
        clear_dir(dst)?;
    }
    copy_dir(layer, dst, &mut links)?;
    copy_meta(layer, dst, &md)
}

type Links = HashMap<(u64, u64), PathBuf>;

fn copy_dir(src: &Path, dst: &Path, links: &mut Links) -> Result<()> {
    let rd = std::fs::read_dir(src).map_err(|e| Error::io("read", src, &e))?;
    let mut entries: Vec<_> = rd
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::io("read", src, &e))?;
    // An OCI-style opaque marker must act before anything else of this layer
    // is put in place; overlay-format layers carry none, but a layer unpacked
    // by another tool might.
    entries.sort_by_key(|e| e.file_name() != OsStr::new(".wh..wh..opq"));
    for entry in entries {
        let name = entry.file_name();
        let s = entry.path();
        let d = dst.join(&name);
        let md = std::fs::symlink_metadata(&s).map_err(|e| Error::io("stat", &s, &e))?;
        let ft = md.file_type();
        if ft.is_char_device() && md.rdev() == 0 {
            remove_any(&d)?;
            continue;
        }
        if let Some(hidden) = name.as_bytes().strip_prefix(b".wh.") {
            if hidden == b".wh..opq" {
                clear_dir(dst)?;
            } else {
                remove_any(&dst.join(OsStr::from_bytes(hidden)))?;
            }
            continue;
        }
        if ft.is_dir() {
            match std::fs::symlink_metadata(&d) {
                Ok(m) if m.is_dir() => {
                    if is_opaque(&s)? {
                        clear_dir(&d)?;
                    }
                }
                Ok(_) => {
                    remove_any(&d)?;
                    mkdir(&d)?;
                }
                Err(e) if e.kind() == ErrorKind::NotFound => mkdir(&d)?,
                Err(e) => return Err(Error::io("stat", &d, &e)),
            }
            copy_dir(&s, &d, links)?;
            copy_meta(&s, &d, &md)?;
            continue;
        }
        remove_any(&d)?;
        if ft.is_file() {
            if md.nlink() > 1 {
                let key = (md.dev(), md.ino());
                if let Some(first) = links.get(&key) {
                    std::fs::hard_link(first, &d).map_err(|e| Error::io("link", &d, &e))?;
                    continue;
                }
                links.insert(key, d.clone());
            }
            copy_file(&s, &d)?;
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&s).map_err(|e| Error::io("readlink", &s, &e))?;
            std::os::unix::fs::symlink(&target, &d).map_err(|e| Error::io("symlink", &d, &e))?;
        } else {
            let kind = if ft.is_fifo() {
                SFlag::S_IFIFO
            } else if ft.is_socket() {
                SFlag::S_IFSOCK
            } else if ft.is_block_device() {
                SFlag::S_IFBLK
            } else {
                SFlag::S_IFCHR
            };
            nix::sys::stat::mknod(
                &d,
                kind,
                Mode::from_bits_truncate(md.mode() & 0o7777),
                md.rdev(),
            )
            .map_err(|e| Error::io("mknod", &d, &std::io::Error::from(e)))?;
        }
        copy_meta(&s, &d, &md)?;
    }
    Ok(())
}

/// Copies the contents of a regular file; `std::fs::copy` uses
/// copy_file_range, which shares extents where the file system can.
fn copy_file(src: &Path, dst: &Path) -> Result<()> {
    std::fs::copy(src, dst)
        .map(drop)
        .map_err(|e| Error::io("copy", src, &e))
}

/// Gives `dst` the owner, mode, extended attributes and times of `src`.
/// Ownership first: chown clears setuid bits and file capabilities, which the
/// later steps then restore.
fn copy_meta(src: &Path, dst: &Path, md: &Metadata) -> Result<()> {
    std::os::unix::fs::lchown(dst, Some(md.uid()), Some(md.gid()))
        .map_err(|e| Error::io("chown", dst, &e))?;
    let is_symlink = md.file_type().is_symlink();
    if !is_symlink {
        std::fs::set_permissions(dst, std::fs::Permissions::from_mode(md.mode() & 0o7777))
            .map_err(|e| Error::io("chmod", dst, &e))?;
    }
    copy_xattrs(src, dst, md.is_dir())?;
    let atime = TimeSpec::new(md.atime(), md.atime_nsec());
    let mtime = TimeSpec::new(md.mtime(), md.mtime_nsec());
    nix::sys::stat::utimensat(None, dst, &atime, &mtime, UtimensatFlags::NoFollowSymlink)
        .map_err(|e| Error::io("set times of", dst, &std::io::Error::from(e)))
}

fn copy_xattrs(src: &Path, dst: &Path, is_dir: bool) -> Result<()> {
    let names: Vec<_> = match xattr::list(src) {
        Ok(n) => n.filter(|n| !is_overlay_xattr(n)).collect(),
        Err(e) if unsupported(&e) => return Ok(()),
        Err(e) => return Err(Error::io("list attributes of", src, &e)),
    };
    for name in &names {
        let Some(value) =
            xattr::get(src, name).map_err(|e| Error::io("read attribute of", src, &e))?
        else {
            continue;
        };
        xattr::set(dst, name, &value).map_err(|e| {
            Error::Msg(format!(
                "set attribute {} of {}: {}",
                name.to_string_lossy(),
                dst.display(),
                crate::error::io_reason(&e)
            ))
        })?;
    }
    // A directory seen in an upper layer shows that layer's attributes only,
    // as in overlay.
    if is_dir {
        if let Ok(existing) = xattr::list(dst) {
            for name in existing.filter(|n| !names.contains(n)) {
                let _ = xattr::remove(dst, &name);
            }
        }
    }
    Ok(())
}

fn is_overlay_xattr(name: &OsStr) -> bool {
    let b = name.as_bytes();
    b.starts_with(b"user.overlay.") || b.starts_with(b"trusted.overlay.")
}

fn unsupported(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::EOPNOTSUPP)
}

fn is_opaque(dir: &Path) -> Result<bool> {
    for name in OPAQUE_XATTRS {
        match xattr::get(dir, name) {
            Ok(Some(v)) if v == b"y" => return Ok(true),
            Ok(_) => {}
            // Reading trusted.* needs privilege; its absence is the answer then.
            Err(e) if unsupported(&e) || e.kind() == ErrorKind::PermissionDenied => {}
            Err(e) => return Err(Error::io("read attributes of", dir, &e)),
        }
    }
    Ok(false)
}

fn mkdir(d: &Path) -> Result<()> {
    std::fs::create_dir(d).map_err(|e| Error::io("mkdir", d, &e))
}

/// Removes whatever is at `p` (a whiteout's target); nothing there is fine.
fn remove_any(p: &Path) -> Result<()> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p),
        Ok(_) => std::fs::remove_file(p),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
    .map_err(|e| Error::io("remove", p, &e))
}

/// Empties a directory (an opaque directory hides what lower layers put there).
fn clear_dir(d: &Path) -> Result<()> {
    let rd = match std::fs::read_dir(d) {
        Ok(rd) => rd,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("read", d, &e)),
    };
    for e in rd {
        let e = e.map_err(|e| Error::io("read", d, &e))?;
        remove_any(&e.path())?;
    }
    Ok(())
}
