//! `cp`: copy files between the host and a container's root filesystem, in
//! both directions, or as a tar stream with `-`. Every container-side path is
//! resolved and used through descriptors inside the container root
//! (`runtime::safe_path`), so symlinks in the container, even ones a running
//! container swaps in during the copy, can never make a copy read or write
//! outside it (the CVE-2018-15664 class).

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fchmod, fstatat, utimensat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat};

use super::{effective_status, start};
use crate::runtime::safe_path;
use crate::state::container::{Container, Status};
use crate::{Context, Error, Result};

/// One side of `cp`: a host path, `-` (a tar stream), or `CONTAINER:PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Host(PathBuf),
    Stream,
    Container(String, String),
}

/// Parses a `cp` argument. `name:path` is a container path when `name` has
/// no slash (so `./a:b` and `/x:y` stay host paths).
pub fn parse_location(s: &str) -> Location {
    if s == "-" {
        return Location::Stream;
    }
    if let Some((name, path)) = s.split_once(':') {
        if !name.is_empty() && !name.contains('/') && !name.starts_with('.') {
            let path = if path.is_empty() { "/" } else { path };
            return Location::Container(name.to_string(), path.to_string());
        }
    }
    Location::Host(PathBuf::from(s))
}

/// The container-relative path, normalised and absolute.
fn clean(p: impl AsRef<Path>) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.as_ref().components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// The container's root as a directory descriptor that every container path
/// is resolved in (see `runtime::safe_path`). For a running or paused
/// container it is `/proc/PID/root` of its init: the root in its own mount
/// namespace, with its volumes and bind mounts, and resolution from it never
/// leaves it. Otherwise the root filesystem is mounted for the copy and
/// unmounted again on drop, and a path below one of the container's volume
/// or bind mounts is resolved in that mount's source instead (as Podman
/// does), never leaving it either.
struct Root<'a> {
    ctx: &'a Context,
    c: &'a Container,
    root: safe_path::Root,
    unmount: bool,
    /// A stopped container's volume and bind mounts, the most nested first.
    mounts: Vec<Mounted>,
}

/// A volume or bind mount of a stopped container: where the container
/// would see it and its source opened as a root.
struct Mounted {
    dest: PathBuf,
    root: safe_path::Root,
    readonly: bool,
}

/// The volume and bind mounts of `c` whose source holds data now (a tmpfs
/// has none while the container is stopped), opened as roots.
fn stopped_mounts(ctx: &Context, c: &Container) -> Vec<Mounted> {
    use crate::state::config::MountKind;
    let mut out: Vec<Mounted> = c
        .config
        .mounts
        .iter()
        .filter_map(|m| {
            let source = match m.kind {
                MountKind::Bind => PathBuf::from(&m.source),
                MountKind::Volume => {
                    let v = crate::volume::get(ctx, &m.volume_name()?).ok()?;
                    match crate::volume::backing(ctx, &v) {
                        crate::volume::Backing::Data(p) => p,
                        crate::volume::Backing::Bind { device, .. } => device,
                        crate::volume::Backing::Tmpfs { .. } => return None,
                    }
                }
                MountKind::Tmpfs | MountKind::Devpts => return None,
            };
            let mut root = safe_path::Root::open(&source).ok()?;
            if !m.sub_path.is_empty() {
                // What the container sees there: the sub path, inside.
                let sub = root.resolve(Path::new(&m.sub_path), true).ok()?;
                root = safe_path::Root::from_fd(sub);
            }
            Some(Mounted {
                dest: clean(&m.destination),
                root,
                readonly: m.readonly,
            })
        })
        .collect();
    out.sort_by_key(|m| std::cmp::Reverse(m.dest.components().count()));
    out
}

impl<'a> Root<'a> {
    fn open(ctx: &'a Context, c: &'a Container) -> Result<Root<'a>> {
        let running = matches!(effective_status(c), Status::Running | Status::Paused);
        if running && c.state.pid > 0 {
            let p = PathBuf::from(format!("/proc/{}/root", c.state.pid));
            let root = safe_path::Root::open(&p).map_err(io("open the root of", &p))?;
            return Ok(Root {
                ctx,
                c,
                root,
                unmount: false,
                mounts: Vec::new(),
            });
        }
        let path = start::mount_rootfs(ctx, c)?;
        let root = match safe_path::Root::open(&path) {
            Ok(r) => r,
            Err(e) => {
                let _ = start::unmount_rootfs(ctx, c);
                return Err(io("open", &path)(e));
            }
        };
        Ok(Root {
            ctx,
            c,
            root,
            unmount: !running,
            mounts: stopped_mounts(ctx, c),
        })
    }

    /// Where the container path `cpath` (clean, absolute) is resolved: the
    /// root holding it and the path inside that root, and whether it is
    /// a read-only mount.
    fn locate(&self, cpath: &Path) -> (&safe_path::Root, PathBuf, bool) {
        for m in &self.mounts {
            if let Ok(rest) = cpath.strip_prefix(&m.dest) {
                return (&m.root, Path::new("/").join(rest), m.readonly);
            }
        }
        (&self.root, cpath.to_path_buf(), false)
    }

    /// Resolves `cpath` (see `locate`), following a final symlink when `follow`.
    fn resolve(&self, cpath: &Path, follow: bool) -> std::io::Result<OwnedFd> {
        let (root, rel, _) = self.locate(cpath);
        root.resolve(&rel, follow)
    }
}

impl Drop for Root<'_> {
    fn drop(&mut self) {
        if self.unmount {
            let _ = start::unmount_rootfs(self.ctx, self.c);
        }
    }
}

fn io<'a>(op: &str, p: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    let op = op.to_string();
    move |e| Error::msg(crate::error::io_msg(&op, p, &e))
}

/// What is at `name` in `dir`, without following it.
fn kind_at(dir: BorrowedFd, name: &OsStr) -> Option<SFlag> {
    fstatat(Some(dir.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW)
        .ok()
        .map(|st| SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()))
}

/// Whether a copy sets the owner of what it creates in the container: a tar
/// stream keeps its entries' owners, a host tree becomes the container
/// root's (as `docker cp` does without `-a`).
#[derive(Clone, Copy)]
enum Owner {
    Root,
    Keep,
}

/// Copies host `src` to the entry `name` of the container directory `dir`.
/// Everything is created on `dir`'s descriptor with O_NOFOLLOW, and a
/// directory is entered through the descriptor that was created, so a
/// symlink the container swaps in is never written through: the copy then
/// fails (ELOOP) or lands inside the container. `label` names the container
/// path in errors.
fn copy_in(src: &Path, dir: BorrowedFd, name: &OsStr, label: &Path, owner: Owner) -> Result<()> {
    let meta = fs::symlink_metadata(src).map_err(io("stat", src))?;
    let existing = kind_at(dir, name);
    if existing == Some(SFlag::S_IFDIR) && !meta.is_dir() {
        return Err(Error::msg(format!(
            "{}: cannot overwrite a directory with a non-directory",
            label.display()
        )));
    }
    // A symlink there is replaced, never written through; so is any other
    // non-directory that the source is not a regular file for.
    let replace = match existing {
        None => false,
        Some(k) if k == SFlag::S_IFDIR => false,
        Some(k) => k == SFlag::S_IFLNK || !meta.is_file(),
    };
    if replace {
        safe_path::unlink_at(dir, name, false).map_err(io("remove", label))?;
    }
    let (uid, gid) = match owner {
        Owner::Root => (0, 0),
        Owner::Keep => (meta.uid(), meta.gid()),
    };
    let chown_at = |flags: AtFlags| {
        fchownat(
            Some(dir.as_raw_fd()),
            name,
            Some(uid.into()),
            Some(gid.into()),
            flags,
        )
    };
    let mode = meta.permissions().mode() & 0o7777;
    if meta.file_type().is_symlink() {
        let link = fs::read_link(src).map_err(io("readlink", src))?;
        safe_path::symlink_at(&link, dir, name).map_err(io("symlink", label))?;
        let _ = chown_at(AtFlags::AT_SYMLINK_NOFOLLOW);
    } else if meta.is_dir() {
        let sub = safe_path::mkdir_at(dir, name, 0o700).map_err(io("mkdir", label))?;
        let sub = safe_path::open_at(
            sub.as_fd(),
            OsStr::new("."),
            OFlag::O_RDONLY | OFlag::O_DIRECTORY,
            0,
        )
        .map_err(io("open", label))?;
        copy_dir_in(src, sub.as_fd(), label, owner)?;
        let _ = fchown(sub.as_raw_fd(), Some(uid.into()), Some(gid.into()));
        fchmod(sub.as_raw_fd(), Mode::from_bits_truncate(mode))
            .map_err(|e| io("chmod", label)(e.into()))?;
    } else if meta.is_file() {
        let mut input = fs::File::open(src).map_err(io("open", src))?;
        // O_NOFOLLOW: a symlink put at `name` makes this fail, never followed.
        let out = safe_path::open_at(
            dir,
            name,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC | OFlag::O_NONBLOCK,
            0o600,
        )
        .map_err(io("create", label))?;
        let mut out = fs::File::from(out);
        if !out.metadata().map_err(io("stat", label))?.is_file() {
            return Err(Error::msg(format!(
                "{}: not a regular file in the container",
                label.display()
            )));
        }
        out.set_len(0).map_err(io("truncate", label))?;
        std::io::copy(&mut input, &mut out).map_err(io("write", label))?;
        let _ = fchown(out.as_raw_fd(), Some(uid.into()), Some(gid.into()));
        fchmod(out.as_raw_fd(), Mode::from_bits_truncate(mode))
            .map_err(|e| io("chmod", label)(e.into()))?;
    }
    // Sockets, fifos and devices on the host are not copied.
    // Modification times are kept, as `docker cp`'s tar transfer does.
    let t = TimeSpec::new(meta.mtime(), meta.mtime_nsec());
    let _ = utimensat(
        Some(dir.as_raw_fd()),
        name,
        &t,
        &t,
        UtimensatFlags::NoFollowSymlink,
    );
    Ok(())
}

/// How deep below the path named a copied tree may go. Each level costs a
/// stack frame and an open descriptor, so a deeper tree (1500 levels
/// overflowed the stack) is refused with an error instead.
const MAX_DEPTH: usize = 512;

/// Refuses a directory `label` nested deeper than [`MAX_DEPTH`].
fn check_depth(label: &Path) -> Result<()> {
    if label.components().count() > MAX_DEPTH {
        return Err(Error::msg(format!(
            "{}: directory tree deeper than {MAX_DEPTH} levels: not supported",
            label.display()
        )));
    }
    Ok(())
}

/// Copies the entries of host directory `src` into the open container directory `dir`.
fn copy_dir_in(src: &Path, dir: BorrowedFd, label: &Path, owner: Owner) -> Result<()> {
    check_depth(label)?;
    for e in fs::read_dir(src).map_err(io("read", src))? {
        let e = e?;
        let name = e.file_name();
        copy_in(&e.path(), dir, &name, &label.join(&name), owner)?;
    }
    Ok(())
}

/// Where [`copy_out`] writes on the host: the path the user named, whose
/// own symlink is followed as `docker cp` does, or an entry below it,
/// whose name and kind the container chose.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HostDest {
    Named,
    Below,
}

/// Makes room for a container entry at host path `dest` below the path the
/// user named: a symlink or other non-directory already there (a link an
/// earlier copy of the same container planted, say) is removed, never
/// written through, as `docker cp` does. A directory stays for a directory;
/// for anything else it is an error. Returns whether a directory is there.
fn clear_below(dest: &Path, is_dir: bool, label: &Path) -> Result<bool> {
    match fs::symlink_metadata(dest) {
        Ok(m) if m.is_dir() && is_dir => Ok(true),
        Ok(m) if m.is_dir() => Err(Error::msg(format!(
            "{}: cannot overwrite directory {} with a non-directory",
            label.display(),
            dest.display()
        ))),
        Ok(_) => fs::remove_file(dest)
            .map(|()| false)
            .map_err(io("remove", dest)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io("stat", dest)(e)),
    }
}

/// Copies the container entry `src` (an O_PATH descriptor, not followed if a
/// symlink) to host path `dest`. Entries below a directory are opened on
/// its descriptor with O_NOFOLLOW, so nothing the container renames
/// meanwhile leads the copy outside it; on the host, entries below the
/// named path replace what is there instead of following it (`HostDest`).
fn copy_out(src: OwnedFd, dest: &Path, label: &Path, at: HostDest) -> Result<()> {
    let kind = safe_path::file_type(src.as_fd()).map_err(io("stat", label))?;
    if kind != SFlag::S_IFLNK && kind != SFlag::S_IFDIR && kind != SFlag::S_IFREG {
        // Sockets, fifos and devices in the container are not copied.
        return Ok(());
    }
    let is_dir = kind == SFlag::S_IFDIR;
    let dir_there = match at {
        HostDest::Below => clear_below(dest, is_dir, label)?,
        HostDest::Named => dest.is_dir(),
    };
    if kind == SFlag::S_IFLNK {
        let link =
            safe_path::readlink_at(src.as_fd(), OsStr::new("")).map_err(io("readlink", label))?;
        let _ = fs::remove_file(dest);
        symlink(&link, dest).map_err(io("symlink", dest))?;
    } else if is_dir {
        if !dir_there {
            fs::create_dir(dest).map_err(io("mkdir", dest))?;
        }
        copy_dir_out(src, dest, label)?;
    } else {
        let f = safe_path::reopen(src.as_fd(), OFlag::O_RDONLY | OFlag::O_NONBLOCK)
            .map_err(io("open", label))?;
        let mut f = fs::File::from(f);
        let mode = f
            .metadata()
            .map_err(io("stat", label))?
            .permissions()
            .mode();
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        if at == HostDest::Below {
            // Cleared above: a new file, never a link someone put back.
            opts.create_new(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
        }
        let mut out = opts.open(dest).map_err(io("create", dest))?;
        std::io::copy(&mut f, &mut out).map_err(io("copy", dest))?;
        out.set_permissions(fs::Permissions::from_mode(mode & 0o7777))
            .map_err(io("chmod", dest))?;
    }
    Ok(())
}

/// Copies the entries of the container directory `dir` (O_PATH) into host directory `dest`.
fn copy_dir_out(dir: OwnedFd, dest: &Path, label: &Path) -> Result<()> {
    check_depth(label)?;
    for (name, child) in entries(dir.as_fd(), label)? {
        copy_out(
            child,
            &dest.join(&name),
            &label.join(&name),
            HostDest::Below,
        )?;
    }
    Ok(())
}

/// The entries of container directory `dir`, each opened O_PATH|O_NOFOLLOW on it.
fn entries(dir: BorrowedFd, label: &Path) -> Result<Vec<(OsString, OwnedFd)>> {
    let d = safe_path::open_at(
        dir,
        OsStr::new("."),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY,
        0,
    )
    .map_err(io("open", label))?;
    let mut listing =
        nix::dir::Dir::from_fd(d.into_raw_fd()).map_err(|e| io("read", label)(e.into()))?;
    let names: Vec<OsString> = listing
        .iter()
        .filter_map(|e| e.ok())
        .map(|e| OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
        .filter(|n| n != "." && n != "..")
        .collect();
    let mut out = Vec::new();
    for name in names {
        // An entry removed since the listing is skipped, as a copy of a live tree must.
        if let Ok(fd) = safe_path::open_at(dir, &name, OFlag::O_PATH, 0) {
            out.push((name, fd));
        }
    }
    Ok(out)
}

/// Writes the container entry `src` (O_PATH) and what is below it to a tar stream as `name`.
fn tar_out<W: Write>(
    b: &mut tar::Builder<W>,
    src: OwnedFd,
    name: &Path,
    label: &Path,
) -> Result<()> {
    let f = fs::File::from(src);
    let meta = f.metadata().map_err(io("stat", label))?;
    let mut h = tar::Header::new_gnu();
    h.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
    // Permission bits only, as GNU tar and docker cp write them.
    h.set_mode(meta.mode() & 0o7777);
    if meta.file_type().is_symlink() {
        let link =
            safe_path::readlink_at(f.as_fd(), OsStr::new("")).map_err(io("readlink", label))?;
        b.append_link(&mut h, name, &link)?;
    } else if meta.is_dir() {
        check_depth(label)?;
        h.set_size(0);
        b.append_data(&mut h, name, std::io::empty())?;
        for (child_name, child) in entries(f.as_fd(), label)? {
            tar_out(b, child, &name.join(&child_name), &label.join(&child_name))?;
        }
    } else if meta.is_file() {
        let data = safe_path::reopen(f.as_fd(), OFlag::O_RDONLY | OFlag::O_NONBLOCK)
            .map_err(io("open", label))?;
        b.append_data(&mut h, name, fs::File::from(data))?;
    }
    Ok(())
}

fn base_name(p: &Path) -> Result<std::ffi::OsString> {
    p.file_name().map(|n| n.to_os_string()).ok_or_else(|| {
        Error::msg(format!(
            "{}: cannot copy a path without a name",
            p.display()
        ))
    })
}

/// Whether a path names a directory's contents (`dir/.`), as `docker cp` reads it.
fn names_contents(p: &str) -> bool {
    p == "." || p.ends_with("/.")
}

/// Where a copy to the container path `cpath` goes when its last component
/// is a symlink: the link's target, followed inside the container to the
/// end of a chain, as Podman and Docker resolve a `cp` destination. The
/// target need not exist: a link "into nirvana" (`/tmp/d -> /nowhere`)
/// names the entry to create (`/nowhere`, in the container), and the link
/// itself stays. `cpath` when its last component is no link. Relative
/// targets are taken from the link's directory, lexically as the user's
/// path is; each step is resolved inside the container's roots, so nothing
/// is ever made on the host. Errors: a chain of more than
/// `safe_path::MAX_LINKS` links, or a link that cannot be read.
fn follow_last_link(root: &Root, cpath: &Path) -> Result<PathBuf> {
    let mut p = cpath.to_path_buf();
    for _ in 0..=safe_path::MAX_LINKS {
        let (in_root, rel, _) = root.locate(&p);
        let Ok(Some((parent, entry))) = in_root.resolve_parent(&rel) else {
            return Ok(p);
        };
        if kind_at(parent.as_fd(), &entry) != Some(SFlag::S_IFLNK) {
            return Ok(p);
        }
        let target = safe_path::readlink_at(parent.as_fd(), &entry).map_err(io("readlink", &p))?;
        let next = match p.parent() {
            Some(dir) if target.is_relative() => dir.join(&target),
            _ => target,
        };
        p = clean(next);
    }
    Err(Error::msg(format!(
        "{}: too many levels of symbolic links in the container",
        cpath.display()
    )))
}

/// Copies host `h` to container path `path` (docker cp's rules: into an
/// existing directory under its own name, `dir/.` as the contents, else as
/// the named entry).
fn copy_host_to(root: &Root, name: &str, h: &Path, path: &str, owner: Owner) -> Result<()> {
    let meta = fs::symlink_metadata(h).map_err(io("stat", h))?;
    let cpath = follow_last_link(root, &clean(path))?;
    let contents = meta.is_dir() && names_contents(&h.to_string_lossy());
    let no_dir = |p: &Path| {
        Error::msg(format!(
            "{name}:{}: no such directory in the container",
            p.display()
        ))
    };
    let (in_root, rel, readonly) = root.locate(&cpath);
    if readonly {
        return Err(Error::msg(format!(
            "{name}:{}: read-only file system",
            cpath.display()
        )));
    }
    let existing = in_root.resolve(&rel, true).ok();
    let is_dir = existing
        .as_ref()
        .is_some_and(|fd| safe_path::file_type(fd.as_fd()).ok() == Some(SFlag::S_IFDIR));
    if is_dir {
        let dir = existing.expect("checked above");
        let dir = safe_path::open_at(
            dir.as_fd(),
            OsStr::new("."),
            OFlag::O_RDONLY | OFlag::O_DIRECTORY,
            0,
        )
        .map_err(io("open", &cpath))?;
        if contents {
            return copy_dir_in(h, dir.as_fd(), &cpath, owner);
        }
        let base = base_name(h)?;
        return copy_in(h, dir.as_fd(), &base, &cpath.join(&base), owner);
    }
    if path.ends_with('/') && !contents {
        return Err(no_dir(&cpath));
    }
    let (parent, entry) = match in_root.resolve_parent(&rel) {
        Ok(Some(p)) => p,
        Ok(None) => return Err(no_dir(&cpath)),
        Err(_) => return Err(no_dir(cpath.parent().unwrap_or(Path::new("/")))),
    };
    copy_in(h, parent.as_fd(), &entry, &cpath, owner)
}

/// A source path missing in container `name`, in Podman's words (its
/// `cp` wraps ContainerStat's error so).
fn not_found(name: &str, path: &str) -> Error {
    Error::msg(format!(
        "{path:?} could not be found on container {name}: no such file or directory"
    ))
}

/// Copies container `name`'s `path` to host path `h` (docker cp's rules);
/// returns where it landed (`h`, or the entry made in directory `h`). A
/// host path that is no directory, such as /dev/stdout, is written as a
/// file.
fn copy_to_host(ctx: &Context, name: &str, path: &str, h: &Path) -> Result<PathBuf> {
    let c = super::store(ctx).lookup(name)?;
    let root = Root::open(ctx, &c)?;
    let cpath = clean(path);
    let s = root
        .resolve(&cpath, true)
        .map_err(|_| not_found(name, path))?;
    let kind = safe_path::file_type(s.as_fd()).ok();
    let is_dir = kind == Some(SFlag::S_IFDIR);
    if h == Path::new("/dev/stdout") && kind == Some(SFlag::S_IFREG) {
        // Our own stdout, written as a file: reopening it by name can be
        // refused (a pipe or terminal of another user).
        let f = safe_path::reopen(s.as_fd(), OFlag::O_RDONLY | OFlag::O_NONBLOCK)
            .map_err(io("open", &cpath))?;
        let mut out = std::io::stdout().lock();
        std::io::copy(&mut fs::File::from(f), &mut out).map_err(io("write", h))?;
        out.flush().map_err(io("write", h))?;
        return Ok(h.to_path_buf());
    }
    if is_dir && names_contents(path) {
        if !h.is_dir() {
            fs::create_dir(h).map_err(io("mkdir", h))?;
        }
        copy_dir_out(s, h, &cpath)?;
        return Ok(h.to_path_buf());
    }
    let (target, at) = if h.is_dir() {
        let base = base_name(&cpath).unwrap_or_else(|_| "root".into());
        (h.join(base), HostDest::Below)
    } else {
        (h.to_path_buf(), HostDest::Named)
    };
    copy_out(s, &target, &cpath, at)?;
    Ok(target)
}

/// `skiff cp SRC DEST`.
pub fn cp(ctx: &Context, src: &str, dest: &str) -> Result<()> {
    let store = super::store(ctx);
    match (parse_location(src), parse_location(dest)) {
        (Location::Host(h), Location::Container(name, path)) => {
            let c = store.lookup(&name)?;
            let root = Root::open(ctx, &c)?;
            copy_host_to(&root, &name, &h, &path, Owner::Root)
        }
        (Location::Container(name, path), Location::Host(h)) => {
            copy_to_host(ctx, &name, &path, &h).map(|_| ())
        }
        (Location::Container(name, path), Location::Stream) => {
            let c = store.lookup(&name)?;
            let root = Root::open(ctx, &c)?;
            let cpath = clean(&path);
            let s = root
                .resolve(&cpath, true)
                .map_err(|_| not_found(&name, &path))?;
            let stdout = std::io::stdout();
            let mut b = tar::Builder::new(stdout.lock());
            let label = base_name(&cpath).unwrap_or_else(|_| ".".into());
            tar_out(&mut b, s, Path::new(&label), &cpath)?;
            b.into_inner()?.flush()?;
            Ok(())
        }
        (Location::Stream, Location::Container(name, path)) => {
            let c = store.lookup(&name)?;
            let root = Root::open(ctx, &c)?;
            let cpath = clean(&path);
            let is_dir = root
                .resolve(&cpath, true)
                .ok()
                .is_some_and(|fd| safe_path::file_type(fd.as_fd()).ok() == Some(SFlag::S_IFDIR));
            if !is_dir {
                return Err(Error::msg(format!(
                    "{name}:{path}: the destination of a tar stream must be a directory in the container"
                )));
            }
            // Unpacked first into a private directory of ours, then copied in
            // through descriptors like any host tree.
            let stage = Stage::new(ctx, &c)?;
            // Streamed, not read whole: the archive may be larger than
            // memory (the unpacker bounds what it writes).
            crate::image::layer::unpack(std::io::stdin().lock(), &stage.0, "standard input", None)?;
            let mut dot = stage.0.clone().into_os_string();
            dot.push("/.");
            let mut dest = cpath.into_os_string();
            dest.push("/");
            copy_host_to(
                &root,
                &name,
                Path::new(&dot),
                &dest.to_string_lossy(),
                Owner::Keep,
            )
        }
        // Through a private directory of the destination's: out of one,
        // then into the other by the host-to-container rules.
        (Location::Container(from, fpath), Location::Container(to, tpath)) => {
            let c = store.lookup(&to)?;
            let root = Root::open(ctx, &c)?;
            let stage = Stage::new(ctx, &c)?;
            let mut staged = copy_to_host(ctx, &from, &fpath, &stage.0)?.into_os_string();
            if names_contents(&fpath) {
                staged.push("/.");
            }
            copy_host_to(&root, &to, Path::new(&staged), &tpath, Owner::Root)
        }
        _ => Err(Error::msg(
            "one of the paths must be a container path: CONTAINER:PATH",
        )),
    }
}

/// A private staging directory in the container's own directory, removed on drop.
struct Stage(PathBuf);

impl Stage {
    fn new(ctx: &Context, c: &Container) -> Result<Stage> {
        let p = ctx
            .container_dir(&c.id)
            .join(format!(".cp-stage-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&p)
            .map_err(io("mkdir", &p))?;
        Ok(Stage(p))
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(parse_location("-"), Location::Stream);
        assert_eq!(
            parse_location("web:/etc/passwd"),
            Location::Container("web".into(), "/etc/passwd".into())
        );
        assert_eq!(
            parse_location("web:"),
            Location::Container("web".into(), "/".into())
        );
        assert_eq!(parse_location("./a:b"), Location::Host("./a:b".into()));
        assert_eq!(parse_location("/x:y"), Location::Host("/x:y".into()));
        assert_eq!(parse_location("file"), Location::Host("file".into()));
    }

    #[test]
    fn dot_names_the_contents() {
        assert!(names_contents("/data/."));
        assert!(names_contents("."));
        assert!(names_contents("dir/."));
        assert!(!names_contents("/data"));
        assert!(!names_contents("/data/"));
        assert!(!names_contents("/data/.x"));
    }

    #[test]
    fn clean_paths() {
        assert_eq!(clean("../../etc/x"), PathBuf::from("/etc/x"));
        assert_eq!(clean("tmp/"), PathBuf::from("/tmp"));
    }
}
