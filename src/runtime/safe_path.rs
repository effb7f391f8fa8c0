//! Paths inside a hostile root (a container's root filesystem, a volume, a
//! `cp` target), resolved and used through file descriptors so that a
//! symlink planted or swapped in by the image or a running container can
//! never lead outside the root.
//!
//! Resolution uses openat2(2) with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`
//! (Linux >= 5.6): the kernel treats the root descriptor as `/` for every
//! absolute symlink and `..`, and fails with EAGAIN when a rename raced the
//! walk, which we retry. Where openat2 is missing (ENOSYS), an equivalent
//! walk opens one component at a time with `O_PATH | O_NOFOLLOW`, reads
//! symlinks with readlinkat and keeps a stack of directory descriptors for
//! `..`, so a moved directory cannot take the walk above the root. This is
//! the approach of libpathrs and runc's securejoin; the crates that exist
//! either reject absolute symlinks instead of resolving them in the root
//! (cap-std's `RESOLVE_BENEATH`) or need a C library, so this is our own.
//!
//! Everything that creates (mkdir, files, symlinks) does it on an already
//! resolved parent descriptor with `O_NOFOLLOW`/`O_EXCL` semantics, and
//! callers mount on `/proc/self/fd/N` of a resolved descriptor.
#![allow(unsafe_code)]

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{Mode, SFlag};

/// Symlinks followed in one resolution before ELOOP, as the kernel's limit.
pub const MAX_LINKS: usize = 40;
/// Attempts when openat2 keeps reporting a concurrent rename (EAGAIN).
const MAX_RETRIES: usize = 128;

/// How paths are resolved: chosen once per process (openat2 when the kernel
/// has it), or forced by tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// openat2 with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS.
    Openat2,
    /// One component at a time with O_PATH | O_NOFOLLOW.
    Walk,
}

/// 0 unknown, 1 openat2 works, 2 fall back to the walk.
static OPENAT2: AtomicU8 = AtomicU8::new(0);

/// What a walk creates where a component is missing.
#[derive(Debug, Clone, Copy)]
enum Make {
    /// Nothing: ENOENT.
    Nothing,
    /// Directories with this mode.
    Dirs(u32),
    /// Directories (0o755), the last component a file with this mode.
    File(u32),
}

/// An open directory that paths are resolved in, as if it were `/`.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    method: Option<Method>,
}

/// Adopts a descriptor an open call just returned.
///
/// # Safety
///
/// `fd` is open and owned by nothing else (a successful open, openat or
/// openat2 has just installed it in our table).
unsafe fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: the contract of this function.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// The path through which the kernel reaches what `fd` refers to, for calls
/// that take only paths (mount(2), a reopen with new flags).
pub fn proc_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Reopens an `O_PATH` descriptor with real access flags (`O_RDONLY`,
/// `O_DIRECTORY`...) without resolving any path again.
pub fn reopen(fd: BorrowedFd<'_>, flags: OFlag) -> io::Result<OwnedFd> {
    let fd = nix::fcntl::open(
        &proc_path(fd),
        (flags | OFlag::O_CLOEXEC) - OFlag::O_CREAT,
        Mode::empty(),
    )?;
    // SAFETY: open just returned this descriptor to us alone.
    Ok(unsafe { owned(fd) })
}

/// The file type bits of what `fd` refers to.
pub fn file_type(fd: BorrowedFd<'_>) -> io::Result<SFlag> {
    let st = nix::sys::stat::fstat(fd.as_raw_fd())?;
    Ok(SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()))
}

/// The normal components of `path`, with `..` kept (for the walk to apply
/// against the root) and `.`/`/` dropped.
fn components(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

/// Opens `name` (one component) in `dir` with `flags | O_NOFOLLOW | O_CLOEXEC`.
pub fn open_at(dir: BorrowedFd<'_>, name: &OsStr, flags: OFlag, mode: u32) -> io::Result<OwnedFd> {
    let fd = nix::fcntl::openat(
        Some(dir.as_raw_fd()),
        name,
        flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(mode),
    )?;
    // SAFETY: openat just returned this descriptor to us alone.
    Ok(unsafe { owned(fd) })
}

/// Creates directory `name` in `dir` (an existing directory is fine) and
/// opens it `O_PATH`; fails with ENOTDIR/ELOOP when `name` is, or was just
/// swapped for, anything but a directory.
pub fn mkdir_at(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> io::Result<OwnedFd> {
    match nix::sys::stat::mkdirat(Some(dir.as_raw_fd()), name, Mode::from_bits_truncate(mode)) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(e.into()),
    }
    open_at(dir, name, OFlag::O_PATH | OFlag::O_DIRECTORY, 0)
}

/// Creates symlink `name` -> `target` in `dir`; never follows an existing `name`.
pub fn symlink_at(target: &Path, dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    nix::unistd::symlinkat(target, Some(dir.as_raw_fd()), name)?;
    Ok(())
}

/// Removes `name` from `dir` (a file, a symlink, or with `is_dir` an empty directory).
pub fn unlink_at(dir: BorrowedFd<'_>, name: &OsStr, is_dir: bool) -> io::Result<()> {
    let how = if is_dir {
        nix::unistd::UnlinkatFlags::RemoveDir
    } else {
        nix::unistd::UnlinkatFlags::NoRemoveDir
    };
    nix::unistd::unlinkat(Some(dir.as_raw_fd()), name, how)?;
    Ok(())
}

/// The target of symlink `name` in `dir` (or of `dir` itself, an O_PATH
/// symlink descriptor, when `name` is empty).
pub fn readlink_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<PathBuf> {
    Ok(PathBuf::from(nix::fcntl::readlinkat(
        Some(dir.as_raw_fd()),
        name,
    )?))
}

impl Root {
    /// Opens the trusted host directory `path` as a root.
    pub fn open(path: &Path) -> io::Result<Root> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Root {
            // SAFETY: open just returned this descriptor to us alone.
            fd: unsafe { owned(fd) },
            method: None,
        })
    }

    /// A root from an open directory descriptor (such as `/proc/PID/root`).
    pub fn from_fd(fd: OwnedFd) -> Root {
        Root { fd, method: None }
    }

    /// Forces a resolution method (tests exercise both).
    pub fn with_method(mut self, m: Method) -> Root {
        self.method = Some(m);
        self
    }

    /// The root directory's descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    fn method(&self) -> Method {
        if let Some(m) = self.method {
            return m;
        }
        match OPENAT2.load(Ordering::Relaxed) {
            1 => Method::Openat2,
            2 => Method::Walk,
            _ => Method::Openat2,
        }
    }

    /// Resolves `path` (absolute or not, always taken from the root) to an
    /// `O_PATH` descriptor. Symlinks are followed inside the root; the last
    /// component's only when `follow`.
    pub fn resolve(&self, path: &Path, follow: bool) -> io::Result<OwnedFd> {
        let flags = if follow {
            OFlag::O_PATH
        } else {
            OFlag::O_PATH | OFlag::O_NOFOLLOW
        };
        self.open_with(path, flags)
    }

    /// Opens `path` inside the root with `flags` (`O_RDONLY`, `O_DIRECTORY`,
    /// `O_NOFOLLOW`...; never `O_CREAT`: create through `resolve_parent`).
    pub fn open_with(&self, path: &Path, flags: OFlag) -> io::Result<OwnedFd> {
        let flags = (flags | OFlag::O_CLOEXEC) - OFlag::O_CREAT;
        if self.method() == Method::Openat2 {
            match self.openat2(path, flags) {
                Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                    OPENAT2.store(2, Ordering::Relaxed);
                }
                r => {
                    if r.is_ok() {
                        OPENAT2.store(1, Ordering::Relaxed);
                    }
                    return r;
                }
            }
        }
        let follow = !flags.contains(OFlag::O_NOFOLLOW);
        let fd = self.walk(path, follow, Make::Nothing)?;
        if flags.contains(OFlag::O_PATH) {
            if flags.contains(OFlag::O_DIRECTORY) && file_type(fd.as_fd())? != SFlag::S_IFDIR {
                return Err(Errno::ENOTDIR.into());
            }
            return Ok(fd);
        }
        if file_type(fd.as_fd())? == SFlag::S_IFLNK {
            return Err(Errno::ELOOP.into());
        }
        reopen(fd.as_fd(), flags - OFlag::O_NOFOLLOW)
    }

    fn openat2(&self, path: &Path, flags: OFlag) -> io::Result<OwnedFd> {
        // The root itself is ".": openat2 refuses an empty path.
        let rel: PathBuf = match components(path) {
            c if c.is_empty() => PathBuf::from("."),
            c => c.iter().collect(),
        };
        let how = OpenHow::new()
            .flags(flags)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        for _ in 0..MAX_RETRIES {
            match nix::fcntl::openat2(self.fd.as_raw_fd(), rel.as_os_str(), how) {
                // SAFETY: openat2 just returned this descriptor to us alone.
                Ok(fd) => return Ok(unsafe { owned(fd) }),
                Err(Errno::EAGAIN) | Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Errno::EAGAIN.into())
    }

    /// The component-by-component walk used where openat2 is missing, and
    /// to create what is missing (`make`): one component at a time with
    /// `O_PATH | O_NOFOLLOW`, a stack of directory descriptors for `..`,
    /// symlink targets spliced into what is left (absolute ones from the
    /// root). The last component's link is followed only when `follow`.
    fn walk(&self, path: &Path, follow: bool, make: Make) -> io::Result<OwnedFd> {
        let mut stack: Vec<OwnedFd> = Vec::new();
        let mut pending: Vec<OsString> = components(path);
        pending.reverse();
        let mut links = 0;
        let top = |stack: &Vec<OwnedFd>| -> io::Result<OwnedFd> {
            stack.last().unwrap_or(&self.fd).try_clone()
        };
        while let Some(part) = pending.pop() {
            if part == ".." {
                stack.pop();
                continue;
            }
            let dir = top(&stack)?;
            let last = pending.is_empty();
            let fd = match make {
                Make::File(mode) if last => {
                    // What O_EXCL created is ours: no link can be in its place.
                    let made = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY;
                    match open_at(dir.as_fd(), &part, made, mode) {
                        Ok(fd) => return Ok(fd),
                        Err(e) => open_at(dir.as_fd(), &part, OFlag::O_PATH, 0).map_err(|_| e)?,
                    }
                }
                Make::Nothing => open_at(dir.as_fd(), &part, OFlag::O_PATH, 0)?,
                Make::Dirs(_) | Make::File(_) => {
                    let mode = match make {
                        Make::Dirs(mode) => mode,
                        _ => 0o755,
                    };
                    match open_at(dir.as_fd(), &part, OFlag::O_PATH, 0) {
                        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                            mkdir_at(dir.as_fd(), &part, mode)?
                        }
                        r => r?,
                    }
                }
            };
            let kind = file_type(fd.as_fd())?;
            if kind == SFlag::S_IFLNK && (!last || follow) {
                links += 1;
                if links > MAX_LINKS {
                    return Err(Errno::ELOOP.into());
                }
                let target = readlink_at(fd.as_fd(), OsStr::new(""))?;
                if target.is_absolute() {
                    stack.clear();
                }
                let more = components(&target);
                if last && more.is_empty() && matches!(make, Make::File(_)) {
                    // A link to the root (or `..` of it) names a directory.
                    return Err(Errno::EISDIR.into());
                }
                pending.extend(more.into_iter().rev());
                continue;
            }
            if (!last || matches!(make, Make::Dirs(_))) && kind != SFlag::S_IFDIR {
                return Err(Errno::ENOTDIR.into());
            }
            stack.push(fd);
        }
        top(&stack)
    }

    /// Resolves the parent of `path` to an `O_PATH` directory descriptor and
    /// returns it with the last component's name, for creating or replacing
    /// that entry without following it. `None` for the root itself.
    pub fn resolve_parent(&self, path: &Path) -> io::Result<Option<(OwnedFd, OsString)>> {
        let mut parts = components(path);
        // `a/b/..` names `a`: resolve fully and refuse to create there.
        if parts.last().is_some_and(|p| p == "..") {
            return Err(Errno::EINVAL.into());
        }
        let Some(name) = parts.pop() else {
            return Ok(None);
        };
        let parent: PathBuf = parts.iter().collect();
        let dir = self.open_with(&parent, OFlag::O_PATH | OFlag::O_DIRECTORY)?;
        Ok(Some((dir, name)))
    }

    /// `mkdir -p` inside the root, as runc's securejoin resolves a mount
    /// destination: symlinks are followed inside the root, a dangling one
    /// included (its missing target is created, inside the root), `..` and
    /// absolute targets stop at the root. Everything missing is created on
    /// the resolved parent's descriptor. Returns the directory `O_PATH`;
    /// ENOTDIR when a component is, or is swapped for, a non-directory.
    pub fn mkdir_all(&self, path: &Path, mode: u32) -> io::Result<OwnedFd> {
        match self.open_with(path, OFlag::O_PATH | OFlag::O_DIRECTORY) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            r => return r,
        }
        self.walk(path, true, Make::Dirs(mode))
    }

    /// Makes sure a file exists at `path` (for a bind mount of a file) and
    /// returns it (`O_PATH`, or write-only when this call created it: a
    /// descriptor to mount on either way). Parents are created and
    /// symlinks followed, dangling ones included, as by `mkdir_all`: a
    /// link as the last component has its target created inside the root.
    /// An existing entry of any other kind is used as it is.
    pub fn create_file_all(&self, path: &Path, mode: u32) -> io::Result<OwnedFd> {
        match self.resolve(path, true) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            r => return r,
        }
        if components(path).is_empty() {
            return Err(Errno::EISDIR.into());
        }
        self.walk(path, true, Make::File(mode))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::Read;
    use std::os::unix::fs::symlink;

    /// A root with hostile links, and an outside directory they aim at.
    fn hostile() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let outside = d.path().join("outside");
        let root = d.path().join("root");
        fs::create_dir_all(outside.join("etc")).unwrap();
        fs::write(outside.join("etc/secret"), "host").unwrap();
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::write(root.join("etc/secret"), "inside").unwrap();
        // Absolute: aims at the host's copy of the outside directory.
        symlink(&outside, root.join("abs")).unwrap();
        symlink("/etc", root.join("a/etc")).unwrap();
        symlink("../../../../../../../..", root.join("a/up")).unwrap();
        symlink(
            format!("../../../..{}", outside.display()),
            root.join("rel"),
        )
        .unwrap();
        symlink("loop", root.join("loop")).unwrap();
        symlink("/proc/self/root", root.join("magic")).unwrap();
        symlink("/nowhere/x", root.join("dangling")).unwrap();
        (d, root, outside)
    }

    fn read(root: &Root, p: &str) -> io::Result<String> {
        let fd = root.open_with(Path::new(p), OFlag::O_RDONLY)?;
        let mut s = String::new();
        fs::File::from(fd).read_to_string(&mut s)?;
        Ok(s)
    }

    fn each(root: &Path) -> [Root; 2] {
        [
            Root::open(root).unwrap().with_method(Method::Openat2),
            Root::open(root).unwrap().with_method(Method::Walk),
        ]
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let (_d, root, outside) = hostile();
        for r in each(&root) {
            assert_eq!(read(&r, "/etc/secret").unwrap(), "inside");
            assert_eq!(read(&r, "/a/etc/secret").unwrap(), "inside");
            assert_eq!(read(&r, "/a/up/etc/secret").unwrap(), "inside");
            assert_eq!(read(&r, "../../../etc/secret").unwrap(), "inside");
            let abs = "/abs/etc/secret";
            assert_eq!(
                read(&r, abs).unwrap_err().raw_os_error(),
                Some(libc::ENOENT),
                "{:?}: the outside path does not exist inside",
                r.method
            );
            let rel = "/rel/etc/secret";
            assert!(read(&r, rel).is_err());
            // The same path exists inside once created there.
            fs::create_dir_all(root.join(outside.strip_prefix("/").unwrap()).join("etc")).unwrap();
            fs::write(
                root.join(outside.strip_prefix("/").unwrap())
                    .join("etc/secret"),
                "mirror",
            )
            .unwrap();
            assert_eq!(read(&r, abs).unwrap(), "mirror");
            assert_eq!(read(&r, rel).unwrap(), "mirror");
            fs::remove_dir_all(root.join(outside.components().nth(1).unwrap())).unwrap();
        }
    }

    #[test]
    fn loops_and_magic_links_fail() {
        let (_d, root, _) = hostile();
        for r in each(&root) {
            let e = r.resolve(Path::new("/loop/x"), true).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::ELOOP), "{:?}", r.method);
            // The magic link is either refused or read as plain text inside
            // the root (/proc/self/root does not exist there): never the host.
            assert!(r.resolve(Path::new("/magic/etc"), true).is_err());
            assert!(r.resolve(Path::new("/loop"), false).is_ok());
        }
    }

    #[test]
    fn mkdir_all_follows_links_dangling_or_not_inside_the_root() {
        let (_d, root, outside) = hostile();
        for (i, r) in each(&root).into_iter().enumerate() {
            let name = format!("made{i}");
            // Dangling (the target is missing inside): created inside.
            r.mkdir_all(&Path::new("/abs").join(&name), 0o755).unwrap();
            let m = root.join(outside.strip_prefix("/").unwrap());
            assert!(m.join(&name).is_dir(), "{:?}", r.method);
            assert!(
                !outside.join(&name).exists(),
                "{:?} created outside",
                r.method
            );
            r.mkdir_all(&Path::new("/abs").join(&name).join("deeper"), 0o755)
                .unwrap();
            assert!(!outside.join(&name).exists());
            assert!(m.join(&name).join("deeper").is_dir());
            r.mkdir_all(&Path::new("/a/up").join(&name), 0o755).unwrap();
            assert!(root.join(&name).is_dir());
            r.mkdir_all(Path::new("/dangling/y"), 0o755).unwrap();
            assert!(root.join("nowhere/x/y").is_dir());
            assert!(!Path::new("/nowhere").exists());
            // `..` climbs stop at the root, whatever the link says.
            let climb = format!("/rel/z{}/w", "/..".repeat(20));
            r.mkdir_all(Path::new(&climb), 0o755).unwrap();
            assert!(root.join("w").is_dir());
            let e = r.mkdir_all(Path::new("/loop/x"), 0o755).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
            let e = r.mkdir_all(Path::new("/etc/secret/x"), 0o755).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::ENOTDIR));
            fs::remove_dir_all(root.join(outside.components().nth(1).unwrap())).unwrap();
            fs::remove_dir_all(root.join("nowhere")).unwrap();
            fs::remove_dir_all(root.join("w")).unwrap();
        }
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 1);
    }

    #[test]
    fn files_are_created_on_the_parent_descriptor() {
        let (_d, root, outside) = hostile();
        for r in each(&root) {
            let m = root.join(outside.strip_prefix("/").unwrap());
            let f = r
                .create_file_all(Path::new("/abs/mnt/file"), 0o644)
                .unwrap();
            assert_eq!(file_type(f.as_fd()).unwrap(), SFlag::S_IFREG);
            assert!(m.join("mnt/file").is_file());
            assert!(!outside.join("mnt").exists());
            // A dangling link as the last component: its target is made inside.
            let f = r.create_file_all(Path::new("/dangling"), 0o644).unwrap();
            assert_eq!(file_type(f.as_fd()).unwrap(), SFlag::S_IFREG);
            assert!(root.join("nowhere/x").is_file());
            assert!(fs::symlink_metadata(root.join("dangling"))
                .unwrap()
                .is_symlink());
            let (dir, name) = r.resolve_parent(Path::new("/a/etc/new")).unwrap().unwrap();
            assert_eq!(name, "new");
            open_at(dir.as_fd(), &name, OFlag::O_CREAT | OFlag::O_WRONLY, 0o600).unwrap();
            assert!(root.join("etc/new").is_file());
            assert!(r.resolve_parent(Path::new("/")).unwrap().is_none());
            let _ = fs::remove_file(root.join("etc/new"));
            fs::remove_dir_all(root.join(outside.components().nth(1).unwrap())).unwrap();
            fs::remove_dir_all(root.join("nowhere")).unwrap();
        }
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 1);
    }

    #[test]
    fn creating_over_a_symlink_fails() {
        let (_d, root, outside) = hostile();
        let r = Root::open(&root).unwrap();
        let (dir, _) = r.resolve_parent(Path::new("/abs")).unwrap().unwrap();
        let e = open_at(
            dir.as_fd(),
            OsStr::new("abs"),
            OFlag::O_CREAT | OFlag::O_WRONLY,
            0o600,
        )
        .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
        assert!(mkdir_at(dir.as_fd(), OsStr::new("abs"), 0o755).is_err());
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 1);
    }
}
