//! What changed in a container's root file system against its image (`diff`),
//! and the same changes as an OCI layer tar (`commit`, `build`).
//!
//! The overlay drivers keep every change in the container's upper
//! directory: a file there is added (A) or, when a lower layer has it too,
//! changed (C); a whiteout (a 0/0 character device, or a `.wh.NAME` file
//! where fuse-overlayfs could not make one) is a deletion (D); an opaque
//! directory (`user.overlay.opaque`, `trusted.overlay.opaque`,
//! `user.fuseoverlayfs.opaque` or a `.wh..wh..opq` file inside) hides
//! everything the layers below hold there. vfs keeps a plain copy, so its
//! tree is compared with the image's layers: an entry is changed when its
//! type, mode, owner, size, modification time, device or link target
//! differ (Docker's and containers/storage's rule; contents are not read).
//!
//! The container's tree is hostile (a running container writes it): every
//! entry is opened on its parent's descriptor with `O_NOFOLLOW`, never by
//! a path, so a symlink cannot lead the walk out of it. Rootless, this runs
//! inside the user namespace, where the files' owners read as the
//! container's own ids, which is what the layer must hold (`image/layer.rs`
//! unpacks them the same way).
//!
//! What skiff itself put there is left out, as Podman leaves it out: the
//! bind-mount targets `/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`
//! and `/run/.containerenv`, the kernel file systems `/proc`, `/sys` and
//! `/dev`, whatever lies below a volume, bind or tmpfs mount point, and a
//! mount point the runtime had to create.

use std::collections::{BTreeSet, HashMap};
use std::ffi::{OsStr, OsString};
use std::fs::{File, Metadata};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use tar::{EntryType, Header};

use super::{DriverKind, Error, Result};
use crate::image::archive::{
    append_symlink, append_with_pax, header_of, special_header, xattr_records_of,
};
use crate::image::layer::{OPAQUE_MARKER, WHITEOUT_PREFIX};
use crate::image::store::Hashing;
use crate::runtime::safe_path;
use crate::state::container::Container;
use crate::Context;

/// How a path changed; Podman prints A, C and D.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

impl ChangeKind {
    /// The letter `podman diff` prints: A, C or D.
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Added => 'A',
            ChangeKind::Modified => 'C',
            ChangeKind::Deleted => 'D',
        }
    }
}

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Change {
    pub kind: ChangeKind,
    /// Absolute in the container: `/etc/motd`.
    pub path: String,
}

impl std::fmt::Display for Change {
    /// `C /etc`, as `podman diff` prints a change.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind.letter(), self.path)
    }
}

/// What [`layer`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerDigest {
    /// `sha256:<hex>` of the tar stream: the layer's diff_id.
    pub diff_id: String,
    /// Bytes written.
    pub size: u64,
}

/// The changes in the container's root file system against its image,
/// sorted by path as `podman diff` prints them. A container that never
/// mounted its root file system has none.
pub fn changes(ctx: &Context, container: &Container) -> Result<Vec<Change>> {
    let mut sink = Collect::default();
    walk_container(ctx, container, &mut sink)?;
    Ok(sink.sorted())
}

/// Writes the container's changes to `out` as an OCI layer tar (parents
/// before children, names in byte order; deletions as `.wh.NAME`, opaque
/// directories with `.wh..wh..opq`; owners as the container sees them; hard
/// links within the layer kept). The same tree gives the same bytes.
pub fn layer(ctx: &Context, container: &Container, out: impl Write) -> Result<LayerDigest> {
    let mut sink = TarSink::new(out);
    walk_container(ctx, container, &mut sink)?;
    sink.finish()
}

/// Writes the whole tree at `root`, the container's mounted root file
/// system, as one layer (`commit --squash`), without the contents of
/// `/proc`, `/sys`, `/dev` and the mount points (the points stay).
pub fn tree_layer(root: &Path, container: &Container, out: impl Write) -> Result<LayerDigest> {
    let mut sink = TarSink::new(out);
    let fd = open_root(root)?;
    let mut w = Walker {
        sink: &mut sink,
        excludes: Excludes::of_tree(container),
        path: PathBuf::new(),
    };
    w.copy(fd.as_fd(), &Lowers::none())
        .map_err(|e| Error::io("read", &root.join(&w.path), &e))?;
    sink.finish()
}

/// Writes what the tree at `root` (the container's mounted root file
/// system) changes against `base`, the image layers below it (lowest
/// first), as one layer: the changes of every layer above `base` and of
/// the container, merged (build's `--squash` and `--layers=false`, which
/// keep the base image's layers and add one). Entries are compared as vfs
/// trees are: by type, mode, owner, size, time, device and link target.
pub fn tree_layer_over(
    root: &Path,
    container: &Container,
    base: &[PathBuf],
    out: impl Write,
) -> Result<LayerDigest> {
    let mut sink = TarSink::new(out);
    let lowers = Lowers::open(base).map_err(|e| Error::io("open", root, &e))?;
    let fd = open_root(root)?;
    let mut w = Walker {
        sink: &mut sink,
        excludes: Excludes::of(container),
        path: PathBuf::new(),
    };
    w.copy(fd.as_fd(), &lowers)
        .map_err(|e| Error::io("read", &root.join(&w.path), &e))?;
    sink.finish()
}

/// The changes an image's top layer makes to the layers below it (`diff
/// IMAGE`), sorted by path; every path of a single-layer image is added.
/// `layers` are the image's unpacked layer directories, lowest first.
pub fn layer_changes(layers: &[PathBuf]) -> Result<Vec<Change>> {
    let Some((top, below)) = layers.split_last() else {
        return Ok(Vec::new());
    };
    let mut sink = Collect::default();
    let lowers = Lowers::open(below).map_err(|e| Error::io("open", top, &e))?;
    let root = open_root(top)?;
    let mut w = Walker {
        sink: &mut sink,
        excludes: Excludes::default(),
        path: PathBuf::new(),
    };
    w.upper(root.as_fd(), &lowers)
        .map_err(|e| Error::io("read", &top.join(&w.path), &e))?;
    Ok(sink.sorted())
}

fn open_root(dir: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map(|fd| {
        use std::os::fd::FromRawFd;
        #[allow(unsafe_code)]
        // SAFETY: open just returned this descriptor to us alone.
        unsafe {
            OwnedFd::from_raw_fd(fd)
        }
    })
    .map_err(|e| Error::io("open", dir, &io::Error::from(e)))
}

/// Walks the container's tree for its driver and feeds `sink`.
fn walk_container(ctx: &Context, c: &Container, sink: &mut dyn Sink) -> Result<()> {
    let kind = DriverKind::parse(&c.config.driver)?;
    let dir = crate::container::start::storage_dir(ctx, &c.id);
    let tree = match kind {
        DriverKind::Overlay | DriverKind::FuseOverlayfs => dir.join("upper"),
        DriverKind::Vfs => super::vfs::rootfs_dir(&dir),
    };
    if !tree.is_dir() {
        return Ok(());
    }
    let lowers = Lowers::open(&c.config.layers).map_err(|e| {
        Error::Msg(format!(
            "{}: image layers: {}; the image store is damaged",
            c.name,
            crate::error::io_reason(&e)
        ))
    })?;
    let root = open_root(&tree)?;
    let mut w = Walker {
        sink,
        excludes: Excludes::of(c),
        path: PathBuf::new(),
    };
    let res = match kind {
        DriverKind::Vfs => w.copy(root.as_fd(), &lowers),
        _ => w.upper(root.as_fd(), &lowers),
    };
    res.map_err(|e| {
        Error::Msg(format!(
            "{}: read /{}: {}",
            c.name,
            w.path.display(),
            crate::error::io_reason(&e)
        ))
    })
}

/// Paths, relative to the root, that are not the container's own changes.
#[derive(Default)]
struct Excludes {
    /// Left out with everything below.
    whole: Vec<PathBuf>,
    /// Mount points: what is below is left out, and the point itself when
    /// the runtime created it (unless `keep_stubs`).
    mounts: Vec<PathBuf>,
    /// Keep the mount points the runtime created (a squashed tree keeps
    /// the image's empty `/proc` and cannot tell which were made).
    keep_stubs: bool,
}

/// Mount targets and kernel file systems of every container.
const SYSTEM_PATHS: [&str; 7] = [
    "etc/hosts",
    "etc/hostname",
    "etc/resolv.conf",
    "run/.containerenv",
    "proc",
    "sys",
    "dev",
];

impl Excludes {
    fn of(c: &Container) -> Excludes {
        let rel = |p: &str| PathBuf::from(p.trim_start_matches('/'));
        Excludes {
            whole: SYSTEM_PATHS.iter().map(|p| rel(p)).collect(),
            mounts: c
                .config
                .mounts
                .iter()
                .map(|m| rel(&m.destination))
                .chain(
                    c.config
                        .secrets
                        .iter()
                        .filter(|s| s.kind == crate::state::config::SecretKind::Mount)
                        .map(|s| rel(&s.target)),
                )
                .filter(|p| !p.as_os_str().is_empty())
                .collect(),
            keep_stubs: false,
        }
    }

    /// For a whole tree (`--squash`): the contents of the kernel file
    /// systems and of every mount point are left out, the points kept.
    fn of_tree(c: &Container) -> Excludes {
        let mut e = Excludes::of(c);
        e.mounts.append(&mut e.whole);
        e.keep_stubs = true;
        e
    }

    fn whole(&self, rel: &Path) -> bool {
        self.whole.iter().any(|w| rel.starts_with(w))
            || self.mounts.iter().any(|m| rel != m && rel.starts_with(m))
    }

    /// Whether `rel`, an `added` entry, is a mount point the runtime
    /// created (an empty file or directory) and left out.
    /// A directory the runtime made to hold mount points (`/run/secrets`
    /// for the secrets bound in it) is one too when it holds nothing else.
    fn runtime_stub(&self, rel: &Path, added: bool, md: &Metadata, fd: BorrowedFd) -> bool {
        if !added || self.keep_stubs {
            return false;
        }
        if self.mounts.iter().any(|m| rel == m) {
            return is_stub(md, fd);
        }
        md.is_dir()
            && self.mounts.iter().any(|m| m.starts_with(rel))
            && holds_only_stubs(self, rel, fd)
    }
}

/// An entry of the container's tree: the descriptor the walk opened it
/// by (`O_PATH`, never followed) and its metadata, read from that
/// descriptor. Everything read of the entry goes through `fd`, so a swap
/// of the name meanwhile changes nothing.
struct Src<'a> {
    fd: BorrowedFd<'a>,
    md: &'a Metadata,
}

/// Where the walk reports what it finds, in tar order (parents first,
/// names in byte order).
trait Sink {
    /// `rel` was added or changed; `src` is it in the container's tree.
    fn changed(&mut self, rel: &Path, kind: ChangeKind, src: &Src) -> io::Result<()>;
    /// `rel` was deleted; `whiteout` when the layer must say so (not when an
    /// opaque parent already hides it).
    fn deleted(&mut self, rel: &Path, whiteout: bool) -> io::Result<()>;
    /// The directory `rel` (already reported as changed) hides what the
    /// layers below hold in it.
    fn opaque(&mut self, rel: &Path, src: &Src) -> io::Result<()>;
    /// The walk goes into directory `rel`, `changed` or not.
    fn enter(&mut self, rel: &Path, src: &Src, changed: bool) -> io::Result<()>;
    /// The walk leaves the directory it last entered.
    fn leave(&mut self);
}

/// The image's layer directories at one path of the tree, topmost first,
/// cut after the first opaque one.
struct Lowers(Vec<OwnedFd>);

fn stat_at(dir: BorrowedFd, name: &OsStr) -> io::Result<Option<(OwnedFd, Metadata)>> {
    match safe_path::open_at(dir, name, OFlag::O_PATH, 0) {
        Ok(fd) => {
            let md = File::from(fd.try_clone()?).metadata()?;
            Ok(Some((fd, md)))
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

fn is_whiteout(md: &Metadata) -> bool {
    md.file_type().is_char_device() && md.rdev() == 0
}

fn open_dir(fd: BorrowedFd) -> io::Result<OwnedFd> {
    safe_path::reopen(fd, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
}

/// Whether the directory `fd` is opaque: one of the storage's attributes,
/// or fuse-overlayfs's `.wh..wh..opq` file in it.
fn is_opaque(fd: BorrowedFd) -> io::Result<bool> {
    if xattr_records_of(fd).1 {
        return Ok(true);
    }
    Ok(stat_at(fd, OsStr::new(OPAQUE_MARKER))?.is_some())
}

impl Lowers {
    /// `layers` lowest first, as the container's record holds them.
    fn open(layers: &[PathBuf]) -> io::Result<Lowers> {
        let mut v = Vec::new();
        for l in layers.iter().rev() {
            let fd = open_root(l).map_err(|e| io::Error::other(e.to_string()))?;
            let opaque = is_opaque(fd.as_fd())?;
            v.push(fd);
            if opaque {
                break;
            }
        }
        Ok(Lowers(v))
    }

    fn none() -> Lowers {
        Lowers(Vec::new())
    }

    /// The entry `name` the layers show, with the directory holding it.
    fn lookup(&self, name: &OsStr) -> io::Result<Option<(BorrowedFd<'_>, Metadata)>> {
        for d in &self.0 {
            if let Some((_, md)) = stat_at(d.as_fd(), name)? {
                if is_whiteout(&md) {
                    return Ok(None);
                }
                return Ok(Some((d.as_fd(), md)));
            }
        }
        Ok(None)
    }

    /// The layers' directories at `name`.
    fn child(&self, name: &OsStr) -> io::Result<Lowers> {
        let mut v = Vec::new();
        for d in &self.0 {
            let Some((fd, md)) = stat_at(d.as_fd(), name)? else {
                continue;
            };
            if !md.is_dir() {
                break;
            }
            let dir = open_dir(fd.as_fd())?;
            let opaque = is_opaque(dir.as_fd())?;
            v.push(dir);
            if opaque {
                break;
            }
        }
        Ok(Lowers(v))
    }

    /// The names the layers show here, in byte order.
    fn names(&self) -> io::Result<BTreeSet<OsString>> {
        let mut seen: HashMap<OsString, bool> = HashMap::new();
        for d in &self.0 {
            for n in crate::volume::archive::names(d.as_fd())? {
                if seen.contains_key(&n) {
                    continue;
                }
                let visible = match stat_at(d.as_fd(), &n)? {
                    Some((_, md)) => !is_whiteout(&md),
                    None => false,
                };
                seen.insert(n, visible);
            }
        }
        Ok(seen
            .into_iter()
            .filter(|(_, v)| *v)
            .map(|(n, _)| n)
            .collect())
    }
}

struct Walker<'s> {
    sink: &'s mut dyn Sink,
    excludes: Excludes,
    /// The path being read, relative to the root (for errors).
    path: PathBuf,
}

/// Whether every entry of the directory `fd` (at `rel`) is a mount point
/// the runtime made, or a directory that holds only such points.
fn holds_only_stubs(ex: &Excludes, rel: &Path, fd: BorrowedFd) -> bool {
    let Ok(dir) = open_dir(fd) else {
        return false;
    };
    let Ok(names) = crate::volume::archive::names(dir.as_fd()) else {
        return false;
    };
    names.iter().all(|name| match stat_at(dir.as_fd(), name) {
        Ok(Some((child, md))) => ex.runtime_stub(&rel.join(name), true, &md, child.as_fd()),
        _ => false,
    })
}

/// A mount point the runtime made: an empty directory or file.
fn is_stub(md: &Metadata, fd: BorrowedFd) -> bool {
    if md.is_file() {
        return md.len() == 0;
    }
    md.is_dir()
        && open_dir(fd)
            .and_then(|d| crate::volume::archive::names(d.as_fd()))
            .is_ok_and(|n| n.is_empty())
}

impl Walker<'_> {
    /// An overlay upper directory (or an image layer) at `self.path` over `lowers`.
    fn upper(&mut self, dir: BorrowedFd, lowers: &Lowers) -> io::Result<()> {
        for name in crate::volume::archive::names(dir)? {
            if name == OPAQUE_MARKER {
                continue;
            }
            let Some((fd, md)) = stat_at(dir, &name)? else {
                continue;
            };
            // A whiteout: a 0/0 device, or fuse-overlayfs's `.wh.NAME` file.
            let hidden = match name.as_bytes().strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
                Some(h) if md.is_file() => Some(OsStr::from_bytes(h)),
                _ if is_whiteout(&md) => Some(name.as_os_str()),
                _ => None,
            };
            if let Some(h) = hidden {
                let rel = self.path.join(h);
                if !self.excludes.whole(&rel) && lowers.lookup(h)?.is_some() {
                    self.sink.deleted(&rel, true)?;
                }
                continue;
            }
            let rel = self.path.join(&name);
            if self.excludes.whole(&rel) {
                continue;
            }
            let below = lowers.lookup(&name)?;
            let kind = if below.is_some() {
                ChangeKind::Modified
            } else {
                ChangeKind::Added
            };
            if self
                .excludes
                .runtime_stub(&rel, kind == ChangeKind::Added, &md, fd.as_fd())
            {
                continue;
            }
            let src = Src {
                fd: fd.as_fd(),
                md: &md,
            };
            if !md.is_dir() {
                self.sink.changed(&rel, kind, &src)?;
                continue;
            }
            let sub = open_dir(fd.as_fd())?;
            let opaque = is_opaque(sub.as_fd())?;
            let below_dir = below.as_ref().filter(|(_, m)| m.is_dir());
            let child_lowers = if below_dir.is_some() {
                lowers.child(&name)?
            } else {
                Lowers::none()
            };
            // Overlay copies a directory up to hold any change below it,
            // the mount points skiff makes too: it changed when its own
            // mode or owner did, or when something below it did.
            let copied_up = !opaque
                && below_dir.is_some_and(|(_, lmd)| {
                    (md.mode(), md.uid(), md.gid()) == (lmd.mode(), lmd.uid(), lmd.gid())
                });
            if !copied_up {
                self.sink.changed(&rel, kind, &src)?;
            }
            self.sink.enter(&rel, &src, !copied_up)?;
            let saved = std::mem::replace(&mut self.path, rel.clone());
            if opaque {
                self.sink.opaque(&rel, &src)?;
                // What the layers held here is gone, unless written again.
                let upper_names: BTreeSet<OsString> = crate::volume::archive::names(sub.as_fd())?
                    .into_iter()
                    .collect();
                for n in child_lowers.names()? {
                    if !upper_names.contains(&n) {
                        self.sink.deleted(&rel.join(&n), false)?;
                    }
                }
                self.upper(sub.as_fd(), &Lowers::none())?;
            } else {
                self.upper(sub.as_fd(), &child_lowers)?;
            }
            self.path = saved;
            self.sink.leave();
        }
        Ok(())
    }

    /// A full copy (vfs) at `self.path`, compared with `lowers`.
    fn copy(&mut self, dir: BorrowedFd, lowers: &Lowers) -> io::Result<()> {
        let mine: BTreeSet<OsString> = crate::volume::archive::names(dir)?.into_iter().collect();
        let theirs = lowers.names()?;
        let all: BTreeSet<&OsString> = mine.iter().chain(theirs.iter()).collect();
        for name in all {
            let rel = self.path.join(name);
            if self.excludes.whole(&rel) {
                continue;
            }
            let found = if mine.contains(name) {
                stat_at(dir, name)?
            } else {
                None
            };
            let Some((fd, md)) = found else {
                if theirs.contains(name) {
                    self.sink.deleted(&rel, true)?;
                }
                continue;
            };
            let below = lowers.lookup(name)?;
            let kind = match &below {
                None => Some(ChangeKind::Added),
                Some((ldir, lmd)) => {
                    differs(&md, lmd, dir, ldir.as_fd(), name)?.then_some(ChangeKind::Modified)
                }
            };
            let added = kind == Some(ChangeKind::Added);
            if self.excludes.runtime_stub(&rel, added, &md, fd.as_fd()) {
                continue;
            }
            let src = Src {
                fd: fd.as_fd(),
                md: &md,
            };
            if let Some(k) = kind {
                self.sink.changed(&rel, k, &src)?;
            }
            if !md.is_dir() {
                continue;
            }
            let sub = open_dir(fd.as_fd())?;
            let child_lowers = match &below {
                Some((_, lmd)) if lmd.is_dir() => lowers.child(name)?,
                _ => Lowers::none(),
            };
            self.sink.enter(&rel, &src, kind.is_some())?;
            let saved = std::mem::replace(&mut self.path, rel.clone());
            self.copy(sub.as_fd(), &child_lowers)?;
            self.path = saved;
            self.sink.leave();
        }
        Ok(())
    }
}

/// Whether a copied entry differs from the layers' entry of the same name.
fn differs(
    md: &Metadata,
    lmd: &Metadata,
    dir: BorrowedFd,
    ldir: BorrowedFd,
    name: &OsStr,
) -> io::Result<bool> {
    let kind = |m: &Metadata| m.mode() & libc::S_IFMT;
    if kind(md) != kind(lmd)
        || md.mode() != lmd.mode()
        || md.uid() != lmd.uid()
        || md.gid() != lmd.gid()
        || md.rdev() != lmd.rdev()
    {
        return Ok(true);
    }
    // A directory's size says nothing of its content (what is in it is
    // compared entry by entry).
    if !md.is_dir()
        && (md.len() != lmd.len()
            || md.mtime() != lmd.mtime()
            || md.mtime_nsec() != lmd.mtime_nsec())
    {
        return Ok(true);
    }
    if md.is_dir() && (md.mtime() != lmd.mtime() || md.mtime_nsec() != lmd.mtime_nsec()) {
        return Ok(true);
    }
    if md.file_type().is_symlink() {
        return Ok(safe_path::readlink_at(dir, name)? != safe_path::readlink_at(ldir, name)?);
    }
    Ok(false)
}

/// Gathers the changes for `diff`.
#[derive(Default)]
struct Collect {
    changes: Vec<Change>,
    /// The directories the walk is in, outermost first, and whether each
    /// is listed already: one that is not is listed as changed as soon as
    /// something below it is.
    open: Vec<(PathBuf, bool)>,
}

impl Collect {
    fn push(&mut self, rel: &Path, kind: ChangeKind) {
        for (dir, listed) in self.open.iter_mut().filter(|(_, l)| !*l) {
            *listed = true;
            self.changes.push(Change {
                kind: ChangeKind::Modified,
                path: format!("/{}", dir.display()),
            });
        }
        self.changes.push(Change {
            kind,
            path: format!("/{}", rel.display()),
        });
    }

    fn sorted(mut self) -> Vec<Change> {
        // Podman's diff leaves out the directories that hold the runtime's
        // mount points (its `initInodes`): /run changes by /run/.containerenv.
        self.changes
            .retain(|c| !matches!(c.path.as_str(), "/run" | "/run/secrets"));
        self.changes
            .sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
        self.changes.dedup();
        self.changes
    }
}

impl Sink for Collect {
    fn changed(&mut self, rel: &Path, kind: ChangeKind, _: &Src) -> io::Result<()> {
        self.push(rel, kind);
        Ok(())
    }

    fn deleted(&mut self, rel: &Path, _: bool) -> io::Result<()> {
        self.push(rel, ChangeKind::Deleted);
        Ok(())
    }

    fn opaque(&mut self, _: &Path, _: &Src) -> io::Result<()> {
        Ok(())
    }

    fn enter(&mut self, rel: &Path, _: &Src, changed: bool) -> io::Result<()> {
        self.open.push((rel.to_path_buf(), changed));
        Ok(())
    }

    fn leave(&mut self) {
        self.open.pop();
    }
}

/// A directory the walk is in: its header, and whether it was written.
struct Open {
    rel: PathBuf,
    header: Header,
    pax: Vec<(String, Vec<u8>)>,
    written: bool,
}

/// Writes the changes as a layer tar.
struct TarSink<W: Write> {
    builder: tar::Builder<Hashing<W>>,
    /// The directories the walk is in, outermost first.
    open: Vec<Open>,
    /// (device, inode) of regular files written with more than one link.
    links: HashMap<(u64, u64), PathBuf>,
}

/// A directory's name in the archive: with a trailing `/`.
fn dir_name(rel: &Path) -> PathBuf {
    let mut name = rel.as_os_str().to_owned();
    name.push("/");
    PathBuf::from(name)
}

impl<W: Write> TarSink<W> {
    fn new(out: W) -> Self {
        TarSink {
            builder: tar::Builder::new(Hashing::new(out)),
            open: Vec::new(),
            links: HashMap::new(),
        }
    }

    /// Writes the directories the walk is in that the archive lacks, so
    /// that every entry has its parents before it.
    fn parents(&mut self) -> io::Result<()> {
        for o in self.open.iter_mut().filter(|o| !o.written) {
            o.written = true;
            append_with_pax(
                &mut self.builder,
                &mut o.header,
                &dir_name(&o.rel),
                &o.pax,
                io::empty(),
            )?;
        }
        Ok(())
    }

    fn finish(self) -> Result<LayerDigest> {
        let mut h = self
            .builder
            .into_inner()
            .map_err(|e| Error::Msg(format!("write layer: {}", crate::error::io_reason(&e))))?;
        h.flush()
            .map_err(|e| Error::Msg(format!("write layer: {}", crate::error::io_reason(&e))))?;
        let (_, diff_id, size) = h.finish();
        Ok(LayerDigest { diff_id, size })
    }
}

impl<W: Write> Sink for TarSink<W> {
    fn changed(&mut self, rel: &Path, _: ChangeKind, src: &Src) -> io::Result<()> {
        let md = src.md;
        let ft = md.file_type();
        if ft.is_dir() {
            // Written when the walk enters it, with its attributes.
            return Ok(());
        }
        self.parents()?;
        let fd = src.fd;
        if ft.is_symlink() {
            let target = safe_path::readlink_at(fd.as_fd(), OsStr::new(""))?;
            let mut h = header_of(md, EntryType::Symlink);
            return append_symlink(&mut self.builder, &mut h, rel, &target);
        }
        let (pax, _) = xattr_records_of(fd.as_fd());
        if ft.is_file() {
            if md.nlink() > 1 {
                let key = (md.dev(), md.ino());
                if let Some(first) = self.links.get(&key) {
                    let mut h = header_of(md, EntryType::Link);
                    return self.builder.append_link(&mut h, rel, first);
                }
                self.links.insert(key, rel.to_path_buf());
            }
            let data = safe_path::reopen(fd.as_fd(), OFlag::O_RDONLY | OFlag::O_NONBLOCK)?;
            let mut h = header_of(md, EntryType::Regular);
            h.set_size(md.len());
            // Exactly the size in the header: a file a running container
            // grows meanwhile is cut, one it shrinks is padded with zeros.
            // Cancellable: an interrupted build stops within one buffer.
            let exact = crate::runtime::signal::Cancellable(
                File::from(data)
                    .take(md.len())
                    .chain(io::repeat(0))
                    .take(md.len()),
            );
            return append_with_pax(&mut self.builder, &mut h, rel, &pax, exact);
        }
        let Some(mut h) = special_header(md) else {
            // Sockets have no tar form; they are the running process's.
            return Ok(());
        };
        append_with_pax(&mut self.builder, &mut h, rel, &pax, io::empty())
    }

    fn deleted(&mut self, rel: &Path, whiteout: bool) -> io::Result<()> {
        if !whiteout {
            return Ok(());
        }
        self.parents()?;
        let mut name = OsString::from(WHITEOUT_PREFIX);
        name.push(rel.file_name().unwrap_or_default());
        let mut h = Header::new_gnu();
        h.set_entry_type(EntryType::Regular);
        h.set_mode(0o600);
        h.set_size(0);
        self.builder
            .append_data(&mut h, rel.with_file_name(name), io::empty())
    }

    fn opaque(&mut self, rel: &Path, src: &Src) -> io::Result<()> {
        self.parents()?;
        let mut h = header_of(src.md, EntryType::Regular);
        h.set_mode(0o600);
        self.builder
            .append_data(&mut h, rel.join(OPAQUE_MARKER), io::empty())
    }

    fn enter(&mut self, rel: &Path, src: &Src, changed: bool) -> io::Result<()> {
        let (pax, _) = xattr_records_of(src.fd);
        self.open.push(Open {
            rel: rel.to_path_buf(),
            header: header_of(src.md, EntryType::Directory),
            pax,
            written: false,
        });
        // A changed directory is in the layer even when nothing below it is.
        if changed {
            self.parents()?;
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.open.pop();
    }
}

#[cfg(test)]
mod tests;
