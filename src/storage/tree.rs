//! Deleting a container's storage directory (or a volume's tree), including
//! the unreadable directories overlay leaves in its work directory and
//! trees nested deeper than the descriptors a process may hold.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io::ErrorKind;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{renameat2, OFlag, RenameFlags};
use nix::sys::stat::{fstatat, SFlag};

use super::{mountinfo, Error, Result};
use crate::runtime::safe_path;

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
    match remove_tree(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", dir, &e)),
    }
}

/// How many directory levels [`remove_tree`] holds open at once; deeper
/// directories are moved up to the top of the tree and emptied from there.
const OPEN_LEVELS: usize = 32;

/// Deletes the tree at `path` (the last component is not followed: a
/// symlink there is removed as itself), whatever its depth, with at most
/// [`OPEN_LEVELS`] directories open and no deeper recursion: a container
/// can nest directories far deeper than the open file limit (100,000
/// levels in 9 s), which std's `remove_dir_all` (one descriptor per
/// level) failed on with EMFILE, leaving the tree behind. A directory met
/// below that many levels is renamed into the top directory
/// (`RENAME_NOREPLACE`, under a fresh name) and emptied from there later.
/// Directories the owner cannot read or write (overlay's `work/work` is
/// mode 000) are opened up first. The tree must not change meanwhile (a
/// stopped container's, a volume taken out of the store).
fn remove_tree(path: &Path) -> std::io::Result<()> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    let parent = std::fs::File::open(parent.unwrap_or(Path::new(".")))?;
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::from(ErrorKind::InvalidInput))?;
    if entry_type(parent.as_fd(), name)? != SFlag::S_IFDIR {
        return safe_path::unlink_at(parent.as_fd(), name, false);
    }
    let top = open_dir(parent.as_fd(), name)?;
    let mut moved = Flattened {
        top: top.as_fd(),
        queue: VecDeque::new(),
        next: 0,
    };
    empty_dir(top.as_fd(), 0, &mut moved)?;
    while let Some(n) = moved.queue.pop_front() {
        let d = open_dir(top.as_fd(), &n)?;
        empty_dir(d.as_fd(), 0, &mut moved)?;
        drop(d);
        safe_path::unlink_at(top.as_fd(), &n, true)?;
    }
    drop(top);
    safe_path::unlink_at(parent.as_fd(), name, true)
}

/// The directories [`remove_tree`] moved up to its top directory, still
/// to be emptied.
struct Flattened<'a> {
    top: BorrowedFd<'a>,
    queue: VecDeque<OsString>,
    next: u64,
}

/// The file type of `name` in `dir`, not following a symlink.
fn entry_type(dir: BorrowedFd, name: &OsStr) -> std::io::Result<SFlag> {
    let st = fstatat(
        Some(dir.as_raw_fd()),
        name,
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )?;
    Ok(SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()))
}

/// Opens directory `name` in `dir` as `O_PATH`, never following a symlink,
/// and gives it `u+rwx` when its owner may not read, search or write it
/// (overlay's mode 000 `work/work`): emptying and moving it needs all three.
fn open_up(dir: BorrowedFd, name: &OsStr) -> std::io::Result<OwnedFd> {
    let fd = safe_path::open_at(dir, name, OFlag::O_PATH | OFlag::O_DIRECTORY, 0)?;
    let st = nix::sys::stat::fstat(fd.as_raw_fd())?;
    if st.st_mode & 0o700 != 0o700 {
        // Through the descriptor: the inode just opened, not a path.
        let _ = std::fs::set_permissions(
            safe_path::proc_path(fd.as_fd()),
            std::fs::Permissions::from_mode((st.st_mode | 0o700) & 0o7777),
        );
    }
    Ok(fd)
}

/// [`open_up`], then opened to read its entries.
fn open_dir(dir: BorrowedFd, name: &OsStr) -> std::io::Result<OwnedFd> {
    let fd = open_up(dir, name)?;
    safe_path::reopen(fd.as_fd(), OFlag::O_RDONLY | OFlag::O_DIRECTORY)
}

/// Removes everything in `dir`, which is `depth` levels below a directory
/// of the top's queue (or the top itself).
fn empty_dir(dir: BorrowedFd, depth: usize, moved: &mut Flattened) -> std::io::Result<()> {
    for name in crate::volume::archive::names(dir)? {
        match entry_type(dir, &name) {
            Ok(SFlag::S_IFDIR) => {}
            Ok(_) => {
                safe_path::unlink_at(dir, &name, false)?;
                continue;
            }
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        }
        if depth + 1 < OPEN_LEVELS {
            let sub = open_dir(dir, &name)?;
            empty_dir(sub.as_fd(), depth + 1, moved)?;
            drop(sub);
            safe_path::unlink_at(dir, &name, true)?;
            continue;
        }
        // Too deep to hold open: up to the top, emptied later from there.
        drop(open_up(dir, &name)?); // a moved directory's ".." changes: u+w
        loop {
            moved.next += 1;
            let fresh = OsString::from(format!(".skiff-rm-{}", moved.next));
            match renameat2(
                Some(dir.as_raw_fd()),
                name.as_os_str(),
                Some(moved.top.as_raw_fd()),
                fresh.as_os_str(),
                RenameFlags::RENAME_NOREPLACE,
            ) {
                Ok(()) => {
                    moved.queue.push_back(fresh);
                    break;
                }
                Err(Errno::EEXIST) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}
