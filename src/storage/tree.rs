//! Deleting a container's storage directory, including the unreadable
//! directories overlay leaves in its work directory.

use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::{mountinfo, Error, Result};

/// Deletes `dir` and everything below it; a missing `dir` is fine.
/// Refuses to descend into a mount point so that a still-mounted root
/// filesystem (or a bind mount) never loses the files of its source.
pub(super) fn remove_all(dir: &Path) -> Result<()> {
    let mounts = mountinfo::mount_points();
    if let Ok(canon) = std::fs::canonicalize(dir) {
        if let Some(m) = mounts.iter().find(|m| m.starts_with(&canon)) {
            return Err(Error::Msg(format!(
                "remove {}: {} is still mounted; unmount it first",
                dir.display(),
                m.display()
            )));
        }
    }
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            // overlay's work/work is mode 000; as its owner we may open it up.
            make_writable(dir);
            std::fs::remove_dir_all(dir).or_else(|e| {
                if e.kind() == ErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(Error::io("remove", dir, &e))
                }
            })
        }
        Err(e) => Err(Error::io("remove", dir, &e)),
    }
}

/// Gives the owner full access to every directory below `dir`, best effort.
fn make_writable(dir: &Path) {
    let Ok(md) = std::fs::symlink_metadata(dir) else {
        return;
    };
    if !md.is_dir() {
        return;
    }
    let mode = md.permissions().mode();
    if mode & 0o700 != 0o700 {
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o700));
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                make_writable(&e.path());
            }
        }
    }
}
