//! Kernel overlayfs: the layer directories are the lower directories, as they are.

use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use nix::mount::MsFlags;

use super::{merged_dir, mountinfo, prepare_overlay_dirs, unmount_all, Error, Result};

/// mount(2) copies at most one page of option data; stay below it.
const MAX_DATA: usize = 4000;

/// With `volatile`, overlay skips every sync of the upper file system, on
/// unmount too (otherwise ~20 ms here, flushing the whole home file system).
/// Only for containers deleted at exit: after a volatile mount the kernel
/// refuses to mount the same upper directory again.
pub(super) fn mount(lowers: &[PathBuf], dir: &Path, volatile: bool) -> Result<PathBuf> {
    let merged = merged_dir(dir);
    if mountinfo::is_mount_point(&merged) {
        return Ok(merged);
    }
    let lowers = prepare_overlay_dirs(lowers, dir)?;
    let upper = dir.join("upper");
    let work = dir.join("work");
    let paths: Vec<&Path> = lowers.iter().map(PathBuf::as_path).collect();
    let (mut data, _held) = mount_data(&paths, &upper, &work)?;
    if volatile {
        data.push_str(",volatile");
    }
    nix::mount::mount(
        Some("overlay"),
        &merged,
        Some("overlay"),
        MsFlags::empty(),
        Some(data.as_str()),
    )
    .map_err(|e| {
        let hint = match e {
            nix::errno::Errno::EPERM => {
                "; rootless overlay needs Linux 5.11 and a user namespace, try --storage-driver fuse-overlayfs"
            }
            nix::errno::Errno::EINVAL => {
                "; the storage file system may not support overlay upper directories, try --storage-driver fuse-overlayfs"
            }
            _ => "",
        };
        Error::Msg(format!(
            "mount overlay on {}: {}{hint}",
            merged.display(),
            e.desc().to_lowercase()
        ))
    })?;
    Ok(merged)
}

pub(super) fn unmount(dir: &Path) -> Result<()> {
    unmount_all(&merged_dir(dir))
}

/// The option string for the mount, and the files it refers to by
/// `/proc/self/fd/N`, which must stay open until the mount is done.
///
/// `userxattr` makes overlay read and write `user.overlay.*` instead of
/// `trusted.overlay.*`: required inside a user namespace, accepted as real root
/// too, and it makes both see the same opaque marks in our layers.
///
/// Many layers with long paths exceed the page of option data mount(2)
/// accepts; then each lower directory is named by a short `/proc/self/fd/N`
/// path of an O_PATH descriptor instead (containers/storage uses short symlinks
/// and a chdir for the same purpose; descriptors need no chdir of a possibly
/// multi-threaded process).
fn mount_data(lowers: &[&Path], upper: &Path, work: &Path) -> Result<(String, Vec<File>)> {
    let plain = |p: &Path| -> Option<String> {
        let s = p.to_str()?;
        (!s.contains([':', ',', '\\'])).then(|| s.to_string())
    };
    let mut held = Vec::new();
    let mut name = |p: &Path| -> Result<String> {
        if let Some(s) = plain(p) {
            if s.len() < 64 {
                return Ok(s);
            }
        }
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(p)
            .map_err(|e| Error::io("open", p, &e))?;
        let s = format!("/proc/self/fd/{}", f.as_raw_fd());
        held.push(f);
        Ok(s)
    };
    let direct: Option<Vec<String>> = lowers.iter().map(|p| plain(p)).collect();
    let tail = |upper: String, work: String| format!(",upperdir={upper},workdir={work},userxattr");
    if let (Some(l), Some(u), Some(w)) = (direct, plain(upper), plain(work)) {
        let data = format!("lowerdir={}{}", l.join(":"), tail(u, w));
        if data.len() <= MAX_DATA {
            return Ok((data, Vec::new()));
        }
    }
    let mut names = Vec::with_capacity(lowers.len());
    for p in lowers {
        names.push(name(p)?);
    }
    let (u, w) = (name(upper)?, name(work)?);
    let data = format!("lowerdir={}{}", names.join(":"), tail(u, w));
    if data.len() > MAX_DATA {
        return Err(Error::Msg(format!(
            "overlay: {} layers are more than one mount can stack; flatten the image (e.g. skiff build --squash)",
            lowers.len()
        )));
    }
    Ok((data, held))
}
