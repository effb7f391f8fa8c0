//! A volume's data as a tar stream, both ways (`volume export`, `volume
//! import`), through descriptors only.
//!
//! A volume is written by containers, so its tree is hostile: every entry
//! below the data directory is opened on its parent's descriptor with
//! `O_NOFOLLOW` (see `runtime::safe_path`), never by a host path, so a
//! symlink a running container plants or swaps in cannot lead a read or a
//! write out of the volume.
//!
//! An archive to import is hostile too, and is checked whole before the
//! first byte is written (the layer unpacker's rules): no entry may climb
//! out (`..`, an absolute path), pass through a symlink the archive made,
//! or hard-link to something it did not store; no device nodes, no sparse
//! files (a few bytes of archive could ask for terabytes of zeros).

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fchmod, fstatat, mknodat, utimensat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat};
use tar::EntryType;

use super::Error;
use crate::error::io_reason;
use crate::runtime::safe_path;

/// An entry of the archive being imported that breaks a rule.
fn refuse(label: &str, entry: &str, reason: impl Into<String>) -> Error {
    Error::Archive {
        label: label.to_string(),
        entry: entry.to_string(),
        reason: reason.into(),
    }
}

fn io_at(label: &str, entry: &str, what: &str, e: io::Error) -> Error {
    refuse(label, entry, format!("{what}: {}", io_reason(&e)))
}

/// The entry path as normal components; `None` when it climbs out or is
/// absolute. `.` components are dropped, so `./` is the root itself.
fn clean(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::RootDir | Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// A hard link's target as the archive names it: relative to the archive
/// root, where GNU tar's leading `/` is tolerated.
fn clean_link_target(p: &Path) -> Option<PathBuf> {
    clean(p.strip_prefix("/").unwrap_or(p)).filter(|t| !t.as_os_str().is_empty())
}

fn is_metadata(kind: EntryType) -> bool {
    matches!(
        kind,
        EntryType::XGlobalHeader
            | EntryType::XHeader
            | EntryType::GNULongName
            | EntryType::GNULongLink
    )
}

fn is_sparse<R: Read>(entry: &mut tar::Entry<R>) -> bool {
    entry.header().entry_type() == EntryType::GNUSparse
        || entry
            .pax_extensions()
            .ok()
            .flatten()
            .is_some_and(|mut exts| {
                exts.any(|e| e.is_ok_and(|e| e.key_bytes().starts_with(b"GNU.sparse.")))
            })
}

/// Reads `archive` from its start and hands each entry to `each`; a
/// damaged archive is an error naming `label`.
fn for_each_entry(
    archive: &mut File,
    label: &str,
    mut each: impl FnMut(&mut tar::Entry<&mut File>) -> Result<(), Error>,
) -> Result<(), Error> {
    archive
        .seek(SeekFrom::Start(0))
        .map_err(|e| io_at(label, "", "seek", e))?;
    let mut a = tar::Archive::new(archive);
    let entries = a
        .entries()
        .map_err(|e| refuse(label, "", format!("not a tar archive: {}", io_reason(&e))))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| {
            refuse(
                label,
                "",
                format!("invalid or truncated tar: {}", io_reason(&e)),
            )
        })?;
        each(&mut entry)?;
    }
    Ok(())
}

/// Checks every entry of `archive` against the rules above, reading it to
/// the end (a truncated archive fails here, before anything is written).
pub fn check(archive: &mut File, label: &str) -> Result<(), Error> {
    // Paths the archive makes a symlink, and paths a hard link may name.
    let mut symlinks: HashSet<PathBuf> = HashSet::new();
    let mut linkable: HashSet<PathBuf> = HashSet::new();
    for_each_entry(archive, label, |entry| {
        let kind = entry.header().entry_type();
        if is_metadata(kind) {
            return Ok(());
        }
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let rel = clean(Path::new(OsStr::from_bytes(&raw)))
            .ok_or_else(|| refuse(label, &name, "escapes the volume"))?;
        if rel.as_os_str().is_empty() {
            return Ok(());
        }
        if is_sparse(entry) {
            return Err(refuse(label, &name, "sparse files are not supported"));
        }
        let size = entry.size();
        let read = io::copy(entry, &mut io::sink()).map_err(|e| io_at(label, &name, "read", e))?;
        if read != size {
            return Err(refuse(label, &name, "truncated archive"));
        }
        let through_symlink = |p: &Path| {
            p.ancestors()
                .skip(1)
                .find(|a| symlinks.contains(*a))
                .map(Path::to_path_buf)
        };
        if let Some(link) = through_symlink(&rel) {
            return Err(refuse(
                label,
                &name,
                format!("escapes the volume through symlink \"{}\"", link.display()),
            ));
        }
        match kind {
            EntryType::Directory => {
                symlinks.remove(&rel);
                linkable.remove(&rel);
            }
            EntryType::Regular | EntryType::Continuous | EntryType::Fifo => {
                symlinks.remove(&rel);
                linkable.insert(rel);
            }
            EntryType::Symlink => {
                symlinks.insert(rel.clone());
                linkable.insert(rel);
            }
            EntryType::Link => {
                let target_raw = entry
                    .link_name_bytes()
                    .map(|b| b.into_owned())
                    .unwrap_or_default();
                let target_name = String::from_utf8_lossy(&target_raw).into_owned();
                let target = clean_link_target(Path::new(OsStr::from_bytes(&target_raw)))
                    .ok_or_else(|| {
                        refuse(
                            label,
                            &name,
                            format!("hard link to \"{target_name}\" escapes the volume"),
                        )
                    })?;
                if through_symlink(&target).is_some() || !linkable.contains(&target) {
                    return Err(refuse(
                        label,
                        &name,
                        format!("hard link to \"{target_name}\", which the archive does not hold"),
                    ));
                }
                if symlinks.contains(&target) {
                    symlinks.insert(rel.clone());
                } else {
                    symlinks.remove(&rel);
                }
                linkable.insert(rel);
            }
            EntryType::Char | EntryType::Block => {
                return Err(refuse(
                    label,
                    &name,
                    "device nodes are not allowed in a volume",
                ));
            }
            _ => {}
        }
        Ok(())
    })
}

/// What the import wrote, for the caller's report.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    pub entries: u64,
    pub bytes: u64,
}

/// Unpacks `archive` (already passed by `check`) into the data directory
/// `data`, over what is there: a later entry replaces a file, symlink or
/// empty directory, and is merged into an existing directory. Owners,
/// modes and modification times come from the archive.
pub fn import(data: &Path, archive: &mut File, label: &str) -> Result<Imported, Error> {
    check(archive, label)?;
    let root = safe_path::Root::open(data).map_err(|e| io_at(label, "", "open the volume", e))?;
    let mut x = Extract {
        root: &root,
        label,
        dirs: Vec::new(),
        cache: None,
        done: Imported::default(),
    };
    for_each_entry(archive, label, |entry| x.entry(entry))?;
    x.finish()?;
    Ok(x.done)
}

struct Extract<'a> {
    root: &'a safe_path::Root,
    label: &'a str,
    /// Directories and their archive mtimes, set last (children change them).
    dirs: Vec<(PathBuf, i64)>,
    /// The last parent directory opened (archives list a directory's
    /// entries together): its path and `O_PATH` descriptor.
    cache: Option<(PathBuf, OwnedFd)>,
    done: Imported,
}

impl Extract<'_> {
    /// Opens directory `rel` inside the volume one component at a time,
    /// never following a symlink, creating what is missing (0755) when
    /// `create`. A symlink or file in the way is an error, never followed.
    fn dir(&mut self, rel: &Path, create: bool, name: &str) -> Result<OwnedFd, Error> {
        if let Some((p, fd)) = &self.cache {
            if p == rel {
                return fd
                    .try_clone()
                    .map_err(|e| io_at(self.label, name, "dup", e));
            }
        }
        let mut cur = self
            .root
            .fd()
            .try_clone_to_owned()
            .map_err(|e| io_at(self.label, name, "dup", e))?;
        for c in rel.components() {
            let part = c.as_os_str();
            cur = match safe_path::open_at(cur.as_fd(), part, OFlag::O_PATH | OFlag::O_DIRECTORY, 0)
            {
                Ok(fd) => fd,
                Err(e) if create && e.raw_os_error() == Some(libc::ENOENT) => {
                    safe_path::mkdir_at(cur.as_fd(), part, 0o755)
                        .map_err(|e| io_at(self.label, name, "mkdir", e))?
                }
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTDIR) | Some(libc::ELOOP)) => {
                    return Err(refuse(
                        self.label,
                        name,
                        "a parent in the volume is a symlink or not a directory",
                    ))
                }
                Err(e) => return Err(io_at(self.label, name, "open", e)),
            };
        }
        let keep = cur
            .try_clone()
            .map_err(|e| io_at(self.label, name, "dup", e))?;
        self.cache = Some((rel.to_path_buf(), keep));
        Ok(cur)
    }

    /// Clears the way for a new entry `name` in `dir`: a non-directory
    /// there is unlinked (never followed); a directory is kept when
    /// `keep_dir`, else it is an error.
    fn clear(
        &self,
        dir: BorrowedFd,
        base: &OsStr,
        keep_dir: bool,
        name: &str,
    ) -> Result<bool, Error> {
        match fstatat(Some(dir.as_raw_fd()), base, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st)
                if SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
                    == SFlag::S_IFDIR =>
            {
                if keep_dir {
                    Ok(true)
                } else {
                    Err(refuse(
                        self.label,
                        name,
                        "would replace a directory of the volume",
                    ))
                }
            }
            Ok(_) => {
                safe_path::unlink_at(dir, base, false)
                    .map_err(|e| io_at(self.label, name, "remove", e))?;
                Ok(false)
            }
            Err(Errno::ENOENT) => Ok(false),
            Err(e) => Err(io_at(self.label, name, "stat", e.into())),
        }
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<(), Error> {
        let h = entry.header().clone();
        let kind = h.entry_type();
        if is_metadata(kind) {
            return Ok(());
        }
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let rel = clean(Path::new(OsStr::from_bytes(&raw)))
            .ok_or_else(|| refuse(self.label, &name, "escapes the volume"))?;
        let uid = h.uid().unwrap_or(0) as u32;
        let gid = h.gid().unwrap_or(0) as u32;
        let mode = Mode::from_bits_truncate(h.mode().unwrap_or(0o644) & 0o7777);
        let mtime = h.mtime().unwrap_or(0) as i64;
        let label = self.label;
        let Some(base) = rel.file_name().map(OsStr::to_os_string) else {
            // The root itself ("./"): its owner and mode.
            if kind == EntryType::Directory {
                let fd = safe_path::reopen(self.root.fd(), OFlag::O_RDONLY | OFlag::O_DIRECTORY)
                    .map_err(|e| io_at(label, &name, "open", e))?;
                set_owner_mode(fd.as_fd(), uid, gid, mode)
                    .map_err(|e| io_at(label, &name, "chown/chmod", e))?;
            }
            return Ok(());
        };
        let parent_rel = rel.parent().unwrap_or(Path::new("")).to_path_buf();
        let dir = self.dir(&parent_rel, true, &name)?;
        let dir = dir.as_fd();
        self.done.entries += 1;
        match kind {
            EntryType::Directory => {
                if !self.clear(dir, &base, true, &name)? {
                    safe_path::mkdir_at(dir, &base, 0o700)
                        .map_err(|e| io_at(label, &name, "mkdir", e))?;
                }
                let fd = safe_path::open_at(dir, &base, OFlag::O_RDONLY | OFlag::O_DIRECTORY, 0)
                    .map_err(|e| io_at(label, &name, "open", e))?;
                set_owner_mode(fd.as_fd(), uid, gid, mode)
                    .map_err(|e| io_at(label, &name, "chown/chmod", e))?;
                self.dirs.push((rel, mtime));
            }
            EntryType::Regular | EntryType::Continuous => {
                self.clear(dir, &base, false, &name)?;
                let fd = safe_path::open_at(
                    dir,
                    &base,
                    OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL,
                    0o600,
                )
                .map_err(|e| io_at(label, &name, "create", e))?;
                let mut f = File::from(fd);
                self.done.bytes +=
                    io::copy(entry, &mut f).map_err(|e| io_at(label, &name, "write", e))?;
                set_owner_mode(f.as_fd(), uid, gid, mode)
                    .map_err(|e| io_at(label, &name, "chown/chmod", e))?;
                let t = std::time::SystemTime::UNIX_EPOCH
                    + std::time::Duration::from_secs(mtime.max(0) as u64);
                f.set_times(std::fs::FileTimes::new().set_accessed(t).set_modified(t))
                    .map_err(|e| io_at(label, &name, "set times", e))?;
            }
            EntryType::Symlink => {
                self.clear(dir, &base, false, &name)?;
                let target = entry
                    .link_name_bytes()
                    .map(|b| b.into_owned())
                    .unwrap_or_default();
                // Verbatim: a symlink is only ever resolved inside a container.
                safe_path::symlink_at(Path::new(OsStr::from_bytes(&target)), dir, &base)
                    .map_err(|e| io_at(label, &name, "symlink", e))?;
                fchownat(
                    Some(dir.as_raw_fd()),
                    base.as_os_str(),
                    Some(uid.into()),
                    Some(gid.into()),
                    AtFlags::AT_SYMLINK_NOFOLLOW,
                )
                .map_err(|e| io_at(label, &name, "chown", e.into()))?;
                set_mtime_at(dir, &base, mtime).map_err(|e| io_at(label, &name, "set times", e))?;
            }
            EntryType::Link => {
                let target_raw = entry
                    .link_name_bytes()
                    .map(|b| b.into_owned())
                    .unwrap_or_default();
                let target = clean_link_target(Path::new(OsStr::from_bytes(&target_raw)))
                    .ok_or_else(|| refuse(label, &name, "hard link escapes the volume"))?;
                let tdir = self.dir(target.parent().unwrap_or(Path::new("")), false, &name)?;
                let tbase = target.file_name().unwrap_or_default().to_os_string();
                // Opening it again may have replaced the cached parent.
                let dir = self.dir(&parent_rel, true, &name)?;
                self.clear(dir.as_fd(), &base, false, &name)?;
                // Flags 0: a symlink target is linked itself, never followed.
                linkat(
                    Some(tdir.as_raw_fd()),
                    tbase.as_os_str(),
                    Some(dir.as_raw_fd()),
                    base.as_os_str(),
                    AtFlags::empty(),
                )
                .map_err(|e| io_at(label, &name, "link", e.into()))?;
            }
            EntryType::Fifo => {
                self.clear(dir, &base, false, &name)?;
                mknodat(
                    Some(dir.as_raw_fd()),
                    base.as_os_str(),
                    SFlag::S_IFIFO,
                    mode,
                    0,
                )
                .map_err(|e| io_at(label, &name, "mkfifo", e.into()))?;
                fchownat(
                    Some(dir.as_raw_fd()),
                    base.as_os_str(),
                    Some(uid.into()),
                    Some(gid.into()),
                    AtFlags::AT_SYMLINK_NOFOLLOW,
                )
                .map_err(|e| io_at(label, &name, "chown", e.into()))?;
            }
            // `check` refused devices and sparse files; the rest (GNU
            // volume labels and the like) means nothing in a volume.
            _ => self.done.entries -= 1,
        }
        Ok(())
    }

    /// Directory times, deepest first, once nothing more is created in them.
    fn finish(&mut self) -> Result<(), Error> {
        let dirs = std::mem::take(&mut self.dirs);
        for (rel, mtime) in dirs.iter().rev() {
            let name = rel.to_string_lossy().into_owned();
            let parent = self.dir(rel.parent().unwrap_or(Path::new("")), false, &name)?;
            let base = rel.file_name().unwrap_or_default();
            set_mtime_at(parent.as_fd(), base, *mtime)
                .map_err(|e| io_at(self.label, &name, "set times", e))?;
        }
        Ok(())
    }
}

fn set_owner_mode(fd: BorrowedFd, uid: u32, gid: u32, mode: Mode) -> io::Result<()> {
    fchown(fd.as_raw_fd(), Some(uid.into()), Some(gid.into()))?;
    // After chown, which clears set-id bits.
    fchmod(fd.as_raw_fd(), mode)?;
    Ok(())
}

fn set_mtime_at(dir: BorrowedFd, name: &OsStr, mtime: i64) -> io::Result<()> {
    let t = TimeSpec::new(mtime, 0);
    utimensat(
        Some(dir.as_raw_fd()),
        name,
        &t,
        &t,
        UtimensatFlags::NoFollowSymlink,
    )?;
    Ok(())
}

/// Writes the tree below the data directory `data` to `out` as a tar
/// stream: entries relative to the volume (`dir/`, `dir/file`), owners as
/// numeric ids, permission bits, modification times, symlinks as links,
/// files with several names once and then as hard links. Sockets and
/// device nodes are left out. Returns `out`.
pub fn export<W: Write>(data: &Path, out: W, label: &str) -> Result<W, Error> {
    let io_err = |what: &str, e: io::Error| Error::Io {
        op: what.to_string(),
        path: data.to_path_buf(),
        reason: io_reason(&e),
    };
    let root = safe_path::Root::open(data).map_err(|e| io_err("open", e))?;
    let root = safe_path::reopen(root.fd(), OFlag::O_RDONLY | OFlag::O_DIRECTORY)
        .map_err(|e| io_err("open", e))?;
    let mut b = tar::Builder::new(out);
    let mut links = HashMap::new();
    add_dir(&mut b, root.as_fd(), Path::new(""), &mut links)
        .map_err(|e| io_err(&format!("export {label}"), e))?;
    b.into_inner().map_err(|e| io_err("write", e))
}

/// The names in directory `dir` (an open, readable directory), sorted.
pub(crate) fn names(dir: BorrowedFd) -> io::Result<Vec<OsString>> {
    let d = safe_path::open_at(
        dir,
        OsStr::new("."),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY,
        0,
    )?;
    let mut listing = nix::dir::Dir::from_fd(d.into_raw_fd())?;
    let mut v: Vec<OsString> = listing
        .iter()
        .filter_map(|e| e.ok())
        .map(|e| OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
        .filter(|n| n != "." && n != "..")
        .collect();
    v.sort();
    Ok(v)
}

/// Appends every entry of `dir` (named `prefix` in the archive) and below.
fn add_dir<W: Write>(
    b: &mut tar::Builder<W>,
    dir: BorrowedFd,
    prefix: &Path,
    links: &mut HashMap<(u64, u64), PathBuf>,
) -> io::Result<()> {
    for name in names(dir)? {
        // An entry removed since the listing is skipped, as a copy of a live tree must.
        let Ok(fd) = safe_path::open_at(dir, &name, OFlag::O_PATH, 0) else {
            continue;
        };
        let path = prefix.join(&name);
        let f = File::from(fd);
        let meta = f.metadata()?;
        let mut h = tar::Header::new_gnu();
        h.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
        h.set_mode(meta.mode() & 0o7777);
        let ft = meta.file_type();
        if ft.is_symlink() {
            let target = safe_path::readlink_at(f.as_fd(), OsStr::new(""))?;
            crate::image::archive::append_symlink(b, &mut h, &path, &target)?;
        } else if ft.is_dir() {
            h.set_size(0);
            b.append_data(&mut h, &path, io::empty())?;
            let sub = safe_path::reopen(f.as_fd(), OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
            add_dir(b, sub.as_fd(), &path, links)?;
        } else if ft.is_file() {
            if meta.nlink() > 1 {
                if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
                    h.set_entry_type(EntryType::Link);
                    h.set_size(0);
                    b.append_link(&mut h, &path, first)?;
                    continue;
                }
                links.insert((meta.dev(), meta.ino()), path.clone());
            }
            let data = safe_path::reopen(f.as_fd(), OFlag::O_RDONLY | OFlag::O_NONBLOCK)?;
            // A file a container grows meanwhile is cut at the size in the header.
            b.append_data(&mut h, &path, File::from(data).take(meta.len()))?;
        } else if ft.is_fifo() {
            h.set_size(0);
            b.append_data(&mut h, &path, io::empty())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn tar_of(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> File {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        let data = b.into_inner().unwrap();
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&data).unwrap();
        f
    }

    fn header(kind: EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_uid(nix::unistd::getuid().as_raw().into());
        h.set_gid(nix::unistd::getgid().as_raw().into());
        h.set_mtime(1_000_000);
        h
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8], mode: u32) {
        let mut h = header(EntryType::Regular, mode, data.len() as u64);
        b.append_data(&mut h, path, data).unwrap();
    }

    fn link(b: &mut tar::Builder<Vec<u8>>, kind: EntryType, path: &str, target: &str) {
        let mut h = header(kind, 0o777, 0);
        b.append_link(&mut h, path, target).unwrap();
    }

    /// Writes a raw path the tar crate's checked setters refuse (`..`, `/x`).
    fn raw_file(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
        let mut h = header(EntryType::Regular, 0o644, data.len() as u64);
        let name = &mut h.as_old_mut().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_cksum();
        b.append(&h, data).unwrap();
    }

    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let data = d.path().join("vol/_data");
        let outside = d.path().join("outside");
        fs::create_dir_all(&data).unwrap();
        fs::create_dir_all(&outside).unwrap();
        (d, data, outside)
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn round_trip_keeps_contents_modes_links_and_times() {
        let (_d, data, _) = setup();
        let mut a = tar_of(|b| {
            let mut h = header(EntryType::Directory, 0o750, 0);
            b.append_data(&mut h, "dir/", io::empty()).unwrap();
            file(b, "dir/run.sh", b"#!/bin/sh\n", 0o755);
            file(b, "secret", b"s", 0o600);
            link(b, EntryType::Symlink, "dir/abs", "/etc/passwd");
            link(b, EntryType::Link, "hard", "secret");
        });
        let done = import(&data, &mut a, "in.tar").unwrap();
        assert_eq!(done.entries, 5);
        let mode = |p: &str| {
            fs::symlink_metadata(data.join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777
        };
        assert_eq!(mode("dir"), 0o750);
        assert_eq!(mode("dir/run.sh"), 0o755);
        assert_eq!(mode("secret"), 0o600);
        assert_eq!(
            fs::read_link(data.join("dir/abs")).unwrap(),
            Path::new("/etc/passwd")
        );
        let ino = |p: &str| fs::metadata(data.join(p)).unwrap().ino();
        assert_eq!(ino("hard"), ino("secret"));
        assert_eq!(fs::metadata(data.join("dir")).unwrap().mtime(), 1_000_000);

        let tar = export(&data, Vec::new(), "v").unwrap();
        let (_d2, again, _) = setup();
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&tar).unwrap();
        import(&again, &mut f, "out.tar").unwrap();
        assert_eq!(listing(&again), listing(&data));
        assert_eq!(fs::read(again.join("dir/run.sh")).unwrap(), b"#!/bin/sh\n");
        assert_eq!(
            fs::metadata(again.join("hard")).unwrap().ino(),
            fs::metadata(again.join("secret")).unwrap().ino()
        );
        assert_eq!(
            fs::metadata(again.join("dir/run.sh")).unwrap().mtime(),
            1_000_000
        );
    }

    #[test]
    fn hostile_archives_are_refused_before_anything_is_written() {
        let cases: Vec<(&str, File)> = vec![
            (
                "dot-dot",
                tar_of(|b| {
                    file(b, "ok", b"1", 0o644);
                    raw_file(b, "../escaped", b"x");
                }),
            ),
            (
                "absolute",
                tar_of(|b| {
                    file(b, "ok", b"1", 0o644);
                    raw_file(b, "/escaped", b"x");
                }),
            ),
            (
                "through a symlink",
                tar_of(|b| {
                    file(b, "ok", b"1", 0o644);
                    link(b, EntryType::Symlink, "l", "../../outside");
                    file(b, "l/escaped", b"x", 0o644);
                }),
            ),
            (
                "hard link out",
                tar_of(|b| {
                    file(b, "ok", b"1", 0o644);
                    link(b, EntryType::Link, "h", "../../outside/x");
                }),
            ),
            (
                "hard link to a missing member",
                tar_of(|b| {
                    file(b, "ok", b"1", 0o644);
                    link(b, EntryType::Link, "h", "etc/passwd");
                }),
            ),
            (
                "device",
                tar_of(|b| {
                    file(b, "ok", b"1", 0o644);
                    let mut h = header(EntryType::Char, 0o666, 0);
                    h.set_device_major(1).unwrap();
                    h.set_device_minor(3).unwrap();
                    b.append_data(&mut h, "null", io::empty()).unwrap();
                }),
            ),
        ];
        for (what, mut a) in cases {
            let (_d, data, outside) = setup();
            let e = import(&data, &mut a, "in.tar").unwrap_err().to_string();
            assert!(e.starts_with("in.tar: entry"), "{what}: {e}");
            assert!(!e.contains('\n'), "{what}: {e}");
            assert!(
                listing(&data).is_empty(),
                "{what}: wrote {:?}",
                listing(&data)
            );
            assert!(listing(&outside).is_empty(), "{what}");
        }
    }

    #[test]
    fn a_symlink_already_in_the_volume_is_never_followed() {
        let (_d, data, outside) = setup();
        symlink(&outside, data.join("l")).unwrap();
        let mut a = tar_of(|b| file(b, "l/escaped", b"x", 0o644));
        let e = import(&data, &mut a, "in.tar").unwrap_err().to_string();
        assert!(e.contains("symlink"), "{e}");
        assert!(listing(&outside).is_empty());
        // Export stores the link as a link, and nothing of its target.
        fs::write(outside.join("host"), "host").unwrap();
        let tar = export(&data, Vec::new(), "v").unwrap();
        let mut ar = tar::Archive::new(&tar[..]);
        let names: Vec<String> = ar
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, vec!["l"]);
    }

    #[test]
    fn truncated_archives_are_refused() {
        let mut b = tar::Builder::new(Vec::new());
        file(&mut b, "big", &[7u8; 4096], 0o644);
        let mut data = b.into_inner().unwrap();
        data.truncate(1024);
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&data).unwrap();
        let (_d, dir, _) = setup();
        assert!(import(&dir, &mut f, "in.tar").is_err());
        assert!(listing(&dir).is_empty());
    }
}
