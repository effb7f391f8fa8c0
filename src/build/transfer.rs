//! COPY and ADD: finding the sources (the build context, honouring
//! `.containerignore`, or an earlier stage's or an image's root file
//! system), digesting them for the cache, and copying them into a working
//! container's root file system.
//!
//! Both sides are used through descriptors only (`runtime::safe_path`): a
//! source path is resolved inside its tree as if the tree were `/` (a
//! context symlink to `/etc` reads the context's own `etc`, never the
//! host's), and everything is created on the descriptor of its parent with
//! `O_NOFOLLOW`, so a symlink in the image or in the copied tree is never
//! written through. A context path that climbs out of the context
//! (`COPY ../x`) is refused before anything is read.
//!
//! The rules are Docker's: a directory source copies its contents; several
//! sources (or a glob) need a destination ending in `/`; a file copied to a
//! destination ending in `/` or naming an existing directory keeps its name;
//! missing destination directories are created; files are owned by 0:0
//! unless `--chown` (sources from a stage or an archive keep their owners,
//! as BuildKit does); modification times are kept.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fchmod, fstatat, utimensat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat};
use sha2::{Digest, Sha256};

use super::Ignore;
use crate::runtime::safe_path::{self, Root};

/// A tree sources are taken from.
pub struct Tree<'a> {
    pub root: &'a Root,
    /// The context's ignore patterns; `None` for a stage or an image.
    pub ignore: Option<&'a Ignore>,
    /// True for the build context: paths may not climb out of it, and
    /// copies belong to root unless `--chown`.
    pub context: bool,
    /// COPY/ADD `--exclude` patterns, matched against paths relative to
    /// the source (and to the tree for a glob's matches).
    pub exclude: Option<&'a Ignore>,
}

/// One resolved source: its path in the tree (slash-separated, no leading
/// slash, empty for the root) and an `O_PATH` descriptor.
#[derive(Debug)]
pub struct Source {
    pub rel: String,
    pub fd: OwnedFd,
    pub kind: SFlag,
}

/// How copied entries are owned and moded.
#[derive(Debug, Clone, Copy, Default)]
pub struct Owner {
    /// `--chown` resolved, or 0:0 for context sources; `None` keeps the
    /// source's owners.
    pub ids: Option<(u32, u32)>,
    /// `--chmod`, applied to every copied entry.
    pub mode: Option<u32>,
}

fn io_text(e: &std::io::Error) -> String {
    crate::error::io_reason(e)
}

/// Normalises a source path: `./a/../b/` -> `b`. `None` when it climbs
/// above the root and `strict` (the context); else `..` stops at the root.
pub fn clean(p: &str, strict: bool) -> Option<String> {
    let mut out: Vec<&OsStr> = Vec::new();
    for c in Path::new(p).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir if out.pop().is_none() && strict => return None,
            _ => {}
        }
    }
    let parts: Vec<String> = out
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    Some(parts.join("/"))
}

fn has_glob(p: &str) -> bool {
    p.contains(['*', '?', '['])
}

/// The entries of an open directory (`O_PATH` is fine), names sorted, each
/// opened `O_PATH | O_NOFOLLOW` on it.
fn entries(dir: BorrowedFd) -> std::io::Result<Vec<(OsString, OwnedFd)>> {
    let names = crate::volume::archive::names(dir)?;
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        if let Ok(fd) = safe_path::open_at(dir, &name, OFlag::O_PATH, 0) {
            out.push((name, fd));
        }
    }
    Ok(out)
}

fn join(rel: &str, name: &OsStr) -> String {
    let n = name.to_string_lossy();
    if rel.is_empty() {
        n.into_owned()
    } else {
        format!("{rel}/{n}")
    }
}

/// What the walk needs of an entry's `fstat`.
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    size: i64,
    mtime: i64,
    mtime_nsec: i64,
}

impl Meta {
    fn is_dir(&self) -> bool {
        kind_of(self) == SFlag::S_IFDIR
    }
}

/// `fstat` of a descriptor (`O_PATH` is fine), without duplicating it.
fn stat(fd: BorrowedFd) -> std::io::Result<Meta> {
    let st = nix::sys::stat::fstat(fd.as_raw_fd())?;
    Ok(Meta {
        mode: st.st_mode,
        uid: st.st_uid,
        gid: st.st_gid,
        size: st.st_size,
        mtime: st.st_mtime,
        mtime_nsec: st.st_mtime_nsec,
    })
}

fn kind_of(m: &Meta) -> SFlag {
    SFlag::from_bits_truncate(m.mode & SFlag::S_IFMT.bits())
}

impl Tree<'_> {
    fn excluded(&self, rel: &str) -> bool {
        self.ignore
            .is_some_and(|i| !rel.is_empty() && i.excluded(rel))
    }

    /// Resolves one source as written (a path or a glob) to the entries it
    /// names. Errors are one line: the path outside the context, nothing
    /// matching, or the path missing (also when `.containerignore`
    /// excludes it).
    pub fn resolve(&self, pattern: &str) -> Result<Vec<Source>, String> {
        let Some(rel) = clean(pattern, self.context) else {
            return Err(format!(
                "forbidden path outside the build context: {pattern}"
            ));
        };
        if !has_glob(&rel) {
            let what = if self.context {
                "in the build context"
            } else {
                "in the source image"
            };
            let missing = || format!("{pattern}: no such file or directory {what}");
            if self.excluded(&rel) {
                return Err(format!(
                    "{pattern}: excluded by .containerignore or not found {what}"
                ));
            }
            let fd = self
                .root
                .resolve(Path::new(&rel), true)
                .map_err(|_| missing())?;
            let kind = safe_path::file_type(fd.as_fd()).map_err(|e| io_text(&e))?;
            return Ok(vec![Source { rel, fd, kind }]);
        }
        let glob = globset::GlobBuilder::new(&rel)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| format!("{pattern}: invalid pattern: {e}"))?
            .compile_matcher();
        let depth = rel.split('/').count();
        let mut out = Vec::new();
        let root = self
            .root
            .resolve(Path::new(""), true)
            .map_err(|e| io_text(&e))?;
        self.glob_walk(root.as_fd(), "", 1, depth, &glob, &mut out)
            .map_err(|e| io_text(&e))?;
        if out.is_empty() {
            return Err(format!("{pattern}: no source files were specified"));
        }
        Ok(out)
    }

    fn glob_walk(
        &self,
        dir: BorrowedFd,
        rel: &str,
        level: usize,
        depth: usize,
        glob: &globset::GlobMatcher,
        out: &mut Vec<Source>,
    ) -> std::io::Result<()> {
        for (name, fd) in entries(dir)? {
            let path = join(rel, &name);
            let ignored = self.excluded(&path) || self.exclude.is_some_and(|x| x.excluded(&path));
            let kind = safe_path::file_type(fd.as_fd())?;
            if level == depth {
                if !ignored && glob.is_match(&path) {
                    out.push(Source {
                        rel: path,
                        fd,
                        kind,
                    });
                }
            } else if kind == SFlag::S_IFDIR {
                self.glob_walk(fd.as_fd(), &path, level + 1, depth, glob, out)?;
            }
        }
        Ok(())
    }

    /// Calls `f` on every entry below (and including) a source, parents
    /// before children, names sorted, skipping what `.containerignore`
    /// excludes. `f` gets the path relative to the source (empty for the
    /// source itself), the descriptor and its metadata.
    fn walk(
        &self,
        src: &Source,
        f: &mut dyn FnMut(&str, BorrowedFd, &Meta) -> Result<(), String>,
    ) -> Result<(), String> {
        let meta = stat(src.fd.as_fd()).map_err(|e| io_text(&e))?;
        f("", src.fd.as_fd(), &meta)?;
        if meta.is_dir() {
            self.walk_below(src.fd.as_fd(), &src.rel, "", f)?;
        }
        Ok(())
    }

    fn walk_below(
        &self,
        dir: BorrowedFd,
        tree_rel: &str,
        rel: &str,
        f: &mut dyn FnMut(&str, BorrowedFd, &Meta) -> Result<(), String>,
    ) -> Result<(), String> {
        for (name, fd) in entries(dir).map_err(|e| io_text(&e))? {
            let tpath = join(tree_rel, &name);
            let path = join(rel, &name);
            if self.exclude.is_some_and(|x| x.excluded(&path)) {
                continue;
            }
            let meta = stat(fd.as_fd()).map_err(|e| io_text(&e))?;
            if meta.is_dir() {
                if self.ignore.is_some_and(|i| !i.walk_dir(&tpath)) {
                    continue;
                }
                if !self.excluded(&tpath) {
                    f(&path, fd.as_fd(), &meta)?;
                }
                self.walk_below(fd.as_fd(), &tpath, &path, f)?;
            } else if !self.excluded(&tpath) {
                f(&path, fd.as_fd(), &meta)?;
            }
        }
        Ok(())
    }

    /// Feeds a digest of a source's tree to `h`: paths, types, permission
    /// bits, owners when they are kept, sizes, link targets and file bytes;
    /// never times.
    pub fn digest(&self, src: &Source, keep_owners: bool, h: &mut Sha256) -> Result<(), String> {
        let mut buf = vec![0u8; 64 * 1024];
        self.walk(src, &mut |rel, fd, m| {
            h.update(rel.as_bytes());
            h.update([0]);
            h.update(m.mode.to_le_bytes());
            if keep_owners {
                h.update(m.uid.to_le_bytes());
                h.update(m.gid.to_le_bytes());
            }
            h.update(m.size.to_le_bytes());
            let kind = kind_of(m);
            if kind == SFlag::S_IFLNK {
                let t = safe_path::readlink_at(fd, OsStr::new("")).map_err(|e| io_text(&e))?;
                h.update(t.as_os_str().as_bytes());
            } else if kind == SFlag::S_IFREG {
                let f = safe_path::reopen(fd, OFlag::O_RDONLY | OFlag::O_NONBLOCK)
                    .map_err(|e| io_text(&e))?;
                let mut f = std::fs::File::from(f);
                loop {
                    crate::runtime::signal::check_cancel().map_err(|e| io_text(&e))?;
                    let n = f.read(&mut buf).map_err(|e| io_text(&e))?;
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                }
            }
            Ok(())
        })
    }

    /// Copies a source to `name` in the destination directory `dir`
    /// (`contents`: a directory's entries go into `dir` itself).
    pub fn copy(
        &self,
        src: &Source,
        dir: BorrowedFd,
        name: &OsStr,
        contents: bool,
        owner: Owner,
        label: &str,
    ) -> Result<(), String> {
        // Descriptors of the destination directories, by path relative to
        // the source ("" is `dir/name`, or `dir` for contents).
        let mut dirs: Vec<(String, OwnedFd)> = Vec::new();
        let base = if contents {
            Some(
                safe_path::open_at(dir, OsStr::new("."), OFlag::O_PATH | OFlag::O_DIRECTORY, 0)
                    .map_err(|e| format!("{label}: {}", io_text(&e)))?,
            )
        } else {
            None
        };
        let mut pending_dirs: Vec<(OwnedFd, Meta)> = Vec::new();
        self.walk(src, &mut |rel, fd, m| {
            let (parent, entry): (BorrowedFd, OsString) = if rel.is_empty() {
                if let Some(b) = &base {
                    if m.is_dir() {
                        dirs.push((String::new(), b.try_clone().map_err(|e| io_text(&e))?));
                        return Ok(());
                    }
                }
                (dir, name.to_os_string())
            } else {
                let (p, n) = match rel.rfind('/') {
                    Some(i) => (&rel[..i], &rel[i + 1..]),
                    None => ("", rel),
                };
                let Some((_, pfd)) = dirs.iter().rev().find(|(d, _)| d == p) else {
                    return Ok(());
                };
                (pfd.as_fd(), OsString::from(n))
            };
            let made =
                put(fd, m, parent, &entry, owner).map_err(|e| format!("{label}/{rel}: {e}"))?;
            if let Some(d) = made {
                pending_dirs.push((d.try_clone().map_err(|e| io_text(&e))?, *m));
                dirs.push((rel.to_string(), d));
            }
            Ok(())
        })?;
        // Directory modes and times last: a read-only directory is filled first.
        for (d, m) in pending_dirs.iter().rev() {
            finish_dir(d.as_fd(), m, owner);
        }
        Ok(())
    }
}

/// What is at `name` in `dir`, not following it.
fn kind_at(dir: BorrowedFd, name: &OsStr) -> Option<SFlag> {
    fstatat(Some(dir.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW)
        .ok()
        .map(|st| SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()))
}

fn ids(m: &Meta, owner: Owner) -> (u32, u32) {
    owner.ids.unwrap_or((m.uid, m.gid))
}

/// Creates one entry `name` in `dir` like the source entry `src`; returns
/// the new directory's descriptor (`O_PATH`) for a directory.
fn put(
    src: BorrowedFd,
    m: &Meta,
    dir: BorrowedFd,
    name: &OsStr,
    owner: Owner,
) -> Result<Option<OwnedFd>, String> {
    crate::runtime::signal::check_cancel().map_err(|e| io_text(&e))?;
    let kind = kind_of(m);
    let existing = kind_at(dir, name);
    if existing == Some(SFlag::S_IFDIR) && kind != SFlag::S_IFDIR {
        return Err("cannot overwrite a directory with a non-directory".into());
    }
    if existing.is_some() && existing != Some(SFlag::S_IFDIR) {
        safe_path::unlink_at(dir, name, false).map_err(|e| io_text(&e))?;
    }
    let (uid, gid) = ids(m, owner);
    let mode = owner.mode.unwrap_or(m.mode & 0o7777);
    let t = TimeSpec::new(m.mtime, m.mtime_nsec);
    if kind == SFlag::S_IFDIR {
        let d = safe_path::mkdir_at(dir, name, 0o700).map_err(|e| io_text(&e))?;
        return Ok(Some(d));
    }
    if kind == SFlag::S_IFLNK {
        let target = safe_path::readlink_at(src, OsStr::new("")).map_err(|e| io_text(&e))?;
        safe_path::symlink_at(&target, dir, name).map_err(|e| io_text(&e))?;
        let _ = fchownat(
            Some(dir.as_raw_fd()),
            name,
            Some(uid.into()),
            Some(gid.into()),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        );
    } else if kind == SFlag::S_IFREG {
        let input =
            safe_path::reopen(src, OFlag::O_RDONLY | OFlag::O_NONBLOCK).map_err(|e| io_text(&e))?;
        let out = safe_path::open_at(
            dir,
            name,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL,
            0o600,
        )
        .map_err(|e| io_text(&e))?;
        let input = std::fs::File::from(input);
        let out = std::fs::File::from(out);
        copy_sparse(&input, &out).map_err(|e| io_text(&e))?;
        let _ = fchown(out.as_raw_fd(), Some(uid.into()), Some(gid.into()));
        fchmod(out.as_raw_fd(), Mode::from_bits_truncate(mode))
            .map_err(|e| e.desc().to_lowercase())?;
    } else {
        // Sockets, fifos and devices are not copied, as BuildKit skips them.
        return Ok(None);
    }
    let _ = utimensat(
        Some(dir.as_raw_fd()),
        name,
        &t,
        &t,
        UtimensatFlags::NoFollowSymlink,
    );
    Ok(None)
}

/// Copies a regular file's bytes, `input` to the empty `out`: only the
/// data regions (`SEEK_DATA`/`SEEK_HOLE`; the whole file where the file
/// system cannot tell), so holes stay holes, in chunks of 1 MiB, checking
/// between chunks whether the build was interrupted.
fn copy_sparse(input: &std::fs::File, out: &std::fs::File) -> std::io::Result<()> {
    use nix::unistd::{lseek, Whence};
    use std::os::unix::fs::FileExt;
    const CHUNK: usize = 1 << 20;
    let len = input.metadata()?.len();
    let mut buf = vec![0u8; CHUNK.min(len as usize)];
    let mut pos = 0u64;
    while pos < len {
        crate::runtime::signal::check_cancel()?;
        let fd = input.as_raw_fd();
        let start = match lseek(fd, pos as i64, Whence::SeekData) {
            Ok(d) => d as u64,
            // No data at or after `pos`: the rest is a hole.
            Err(nix::errno::Errno::ENXIO) => break,
            Err(_) => pos,
        };
        let end = match lseek(fd, start as i64, Whence::SeekHole) {
            Ok(h) if h as u64 > start => (h as u64).min(len),
            _ => len,
        };
        let mut at = start;
        while at < end {
            crate::runtime::signal::check_cancel()?;
            let want = ((end - at) as usize).min(buf.len());
            let n = input.read_at(&mut buf[..want], at)?;
            if n == 0 {
                // The file shrank meanwhile.
                pos = len;
                break;
            }
            out.write_all_at(&buf[..n], at)?;
            at += n as u64;
        }
        pos = pos.max(end);
    }
    // A trailing hole: the size, without writing it.
    out.set_len(len)?;
    Ok(())
}

/// Owner, mode and times of a copied directory, once its entries are in.
fn finish_dir(d: BorrowedFd, m: &Meta, owner: Owner) {
    let (uid, gid) = ids(m, owner);
    let mode = owner.mode.unwrap_or(m.mode & 0o7777);
    if let Ok(f) = safe_path::reopen(d, OFlag::O_RDONLY | OFlag::O_DIRECTORY) {
        let _ = fchown(f.as_raw_fd(), Some(uid.into()), Some(gid.into()));
        let _ = fchmod(f.as_raw_fd(), Mode::from_bits_truncate(mode));
        let t = TimeSpec::new(m.mtime, m.mtime_nsec);
        let _ = nix::sys::stat::futimens(f.as_raw_fd(), &t, &t);
    }
}

/// Makes the destination directory `path` (absolute in the container) and
/// the missing directories above it, owned by `owner` where created
/// (Docker: created directories belong to the `--chown` user).
pub fn make_dirs(root: &Root, path: &Path, owner: Option<(u32, u32)>) -> Result<OwnedFd, String> {
    let mut cur = PathBuf::from("/");
    for c in path.components() {
        if let Component::Normal(n) = c {
            cur.push(n);
            let existed = root.resolve(&cur, true).is_ok();
            let fd = root
                .mkdir_all(&cur, 0o755)
                .map_err(|e| format!("{}: {}", cur.display(), io_text(&e)))?;
            if !existed {
                if let (Some((u, g)), Ok(f)) = (
                    owner,
                    safe_path::reopen(fd.as_fd(), OFlag::O_RDONLY | OFlag::O_DIRECTORY),
                ) {
                    let _ = fchown(f.as_raw_fd(), Some(u.into()), Some(g.into()));
                }
            }
        }
    }
    root.mkdir_all(path, 0o755)
        .map_err(|e| format!("{}: {}", path.display(), io_text(&e)))
}

/// Whether a file starts like a tar archive, plain or compressed with
/// gzip or zstd (what ADD extracts).
pub fn is_archive(src: &Source) -> bool {
    if src.kind != SFlag::S_IFREG {
        return false;
    }
    let Ok(f) = safe_path::reopen(src.fd.as_fd(), OFlag::O_RDONLY | OFlag::O_NONBLOCK) else {
        return false;
    };
    let Ok((_, mut r)) = crate::image::layer::decompress(std::fs::File::from(f)) else {
        return false;
    };
    let mut head = vec![0u8; 512];
    let mut got = 0;
    while got < head.len() {
        match r.read(&mut head[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    got == 512 && &head[257..262] == b"ustar"
}

/// Opens a source file for reading (an archive to extract).
pub fn open_file(src: &Source) -> Result<std::fs::File, String> {
    safe_path::reopen(src.fd.as_fd(), OFlag::O_RDONLY | OFlag::O_NONBLOCK)
        .map(std::fs::File::from)
        .map_err(|e| io_text(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_holes_as_holes() {
        use std::os::unix::fs::{FileExt, MetadataExt};
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let f = std::fs::File::create(&a).unwrap();
        f.set_len(256 << 20).unwrap();
        f.write_all_at(b"middle", 100 << 20).unwrap();
        let input = std::fs::File::open(&a).unwrap();
        let out = std::fs::File::create(&b).unwrap();
        copy_sparse(&input, &out).unwrap();
        let md = std::fs::metadata(&b).unwrap();
        assert_eq!(md.len(), 256 << 20);
        // st_blocks counts 512-byte units actually allocated.
        assert!(md.blocks() * 512 < 16 << 20, "{} blocks", md.blocks());
        let mut buf = [0u8; 6];
        let copied = std::fs::File::open(&b).unwrap();
        copied.read_exact_at(&mut buf, 100 << 20).unwrap();
        assert_eq!(&buf, b"middle");
    }

    #[test]
    fn cleaning_source_paths() {
        assert_eq!(clean("./a/../b/", true).as_deref(), Some("b"));
        assert_eq!(clean(".", true).as_deref(), Some(""));
        assert_eq!(clean("/abs/x", true).as_deref(), Some("abs/x"));
        assert_eq!(clean("../x", true), None);
        assert_eq!(clean("a/../../x", true), None);
        assert_eq!(clean("../x", false).as_deref(), Some("x"));
    }

    fn tree_with(f: impl FnOnce(&Path)) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        f(d.path());
        d
    }

    #[test]
    fn resolve_globs_ignore_and_hostile_links() {
        let d = tree_with(|p| {
            std::fs::create_dir_all(p.join("src/sub")).unwrap();
            std::fs::write(p.join("src/a.txt"), "a").unwrap();
            std::fs::write(p.join("src/b.txt"), "b").unwrap();
            std::fs::write(p.join("src/sub/c.txt"), "c").unwrap();
            std::fs::write(p.join("secret.key"), "k").unwrap();
            std::os::unix::fs::symlink("/etc", p.join("escape")).unwrap();
        });
        let root = Root::open(d.path()).unwrap();
        let ignore = Ignore::parse(".containerignore", "*.key\nsrc/b.txt\n").unwrap();
        let t = Tree {
            root: &root,
            ignore: Some(&ignore),
            context: true,
            exclude: None,
        };
        let names = |v: Vec<Source>| v.into_iter().map(|s| s.rel).collect::<Vec<_>>();
        assert_eq!(names(t.resolve("src/*.txt").unwrap()), ["src/a.txt"]);
        assert_eq!(names(t.resolve("./src/../src/sub").unwrap()), ["src/sub"]);
        assert!(t.resolve("secret.key").unwrap_err().contains("excluded"));
        assert!(t
            .resolve("../x")
            .unwrap_err()
            .contains("outside the build context"));
        assert!(t.resolve("nope").unwrap_err().contains("no such file"));
        // The link is resolved inside the context: its /etc is not the host's.
        assert!(t.resolve("escape/passwd").is_err());

        // Digests follow content, not times; ignored files do not count.
        let digest = |t: &Tree| {
            let mut h = Sha256::new();
            for s in t.resolve("src").unwrap() {
                t.digest(&s, false, &mut h).unwrap();
            }
            hex::encode(h.finalize())
        };
        let one = digest(&t);
        std::fs::write(d.path().join("src/b.txt"), "changed but ignored").unwrap();
        let f = std::fs::File::options()
            .write(true)
            .open(d.path().join("src/a.txt"))
            .unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(digest(&t), one);
        std::fs::write(d.path().join("src/a.txt"), "A").unwrap();
        assert_ne!(digest(&t), one);
    }

    #[test]
    fn copies_contents_without_following_links() {
        let src = tree_with(|p| {
            std::fs::create_dir_all(p.join("app/lib")).unwrap();
            std::fs::write(p.join("app/run.sh"), "#!/bin/sh\n").unwrap();
            std::fs::write(p.join("app/lib/x"), "x").unwrap();
            std::os::unix::fs::symlink("/outside", p.join("app/link")).unwrap();
        });
        let dest = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        // The destination already holds a link aimed outside the root.
        std::os::unix::fs::symlink(outside.path(), dest.path().join("opt")).unwrap();
        let sroot = Root::open(src.path()).unwrap();
        let droot = Root::open(dest.path()).unwrap();
        let t = Tree {
            root: &sroot,
            ignore: None,
            context: true,
            exclude: None,
        };
        let s = t.resolve("app").unwrap().remove(0);
        // The link is resolved inside the root, where its missing target
        // is made (as securejoin does), never on the host.
        make_dirs(&droot, Path::new("/opt/app"), None).unwrap();
        let inside = dest.path().join(outside.path().strip_prefix("/").unwrap());
        assert!(inside.join("app").is_dir());
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
        let d = make_dirs(&droot, Path::new("/srv/app"), None).unwrap();
        let copy = || {
            t.copy(
                &s,
                d.as_fd(),
                OsStr::new(""),
                true,
                Owner::default(),
                "/srv/app",
            )
            .unwrap()
        };
        copy();
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
        let written = dest.path().join("srv/app");
        assert_eq!(std::fs::read_to_string(written.join("lib/x")).unwrap(), "x");
        assert_eq!(
            std::fs::read_link(written.join("link")).unwrap(),
            Path::new("/outside")
        );
        // Copying again replaces files and the link, never writes through it.
        copy();
        assert_eq!(
            std::fs::read_to_string(written.join("run.sh")).unwrap(),
            "#!/bin/sh\n"
        );
    }
}
