//! Setting up a new container's root filesystem in its mount namespace:
//! the spec's mounts, the /dev links, the working directory, pivot_root,
//! masked and read-only paths.
//!
//! The image and any container sharing a volume are hostile: a mount
//! destination or `/dev` may be a symlink aimed at the host, or be swapped
//! for one while we work (runc CVE-2024-45310, the /dev-symlink class). So
//! before pivot_root every destination is resolved inside the root through
//! descriptors (`safe_path`), missing ones are created on the resolved
//! parent's descriptor, and the mount goes onto `/proc/self/fd/N` of the
//! descriptor that was resolved, never onto a path string.

#![allow(unsafe_code)]

use std::fs;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::fcntl::OFlag;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::statvfs::{statvfs, FsFlags};
use oci_spec::runtime::{Mount, Spec};

use super::mounts::parse_options;
use super::safe_path::{self, Root};
use super::{io_err, Error, Result};

/// The links Podman and runc put in a container's /dev: (name, target).
const DEV_LINKS: &[(&str, &str)] = &[
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
    ("core", "/proc/kcore"),
];

/// mount(2) with an error naming `label` (the container path), since
/// `target` is usually a `/proc/self/fd/N` path that means nothing to a user.
fn sys_mount(
    src: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
    label: &Path,
) -> Result<()> {
    mount(src, target, fstype, flags, data).map_err(|e| {
        Error::sys(
            format!(
                "mounting {} on {}",
                src.map(|s| s.display().to_string())
                    .or(fstype.map(String::from))
                    .unwrap_or_default(),
                label.display()
            ),
            e,
        )
    })
}

/// The flags a bind remount must keep: in a user namespace the kernel locks
/// nosuid/nodev/noexec/ro/atime flags of mounts inherited from the host, and
/// a remount that drops them fails with EPERM.
fn locked_flags(target: &Path) -> MsFlags {
    let Ok(st) = statvfs(target) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let mut m = MsFlags::empty();
    for (fs, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(fs) {
            m |= ms;
        }
    }
    m
}

fn remount_bind(target: &Path, flags: MsFlags, label: &Path) -> Result<()> {
    let keep = locked_flags(target);
    sys_mount(
        None,
        target,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags | keep,
        None,
        label,
    )
}

/// The mount point for `dest` inside `root`, created if missing (a
/// directory, or a file for a bind mount of a file), as an `O_PATH`
/// descriptor. Symlinks on the way resolve inside the root, as runc's
/// securejoin does: a dangling one has its target made (inside the root),
/// `..` and absolute targets stop at the root.
fn mount_point(root: &Root, dest: &Path, as_dir: bool) -> Result<OwnedFd> {
    let fd = if as_dir {
        root.mkdir_all(dest, 0o755)
    } else {
        root.create_file_all(dest, 0o644)
    };
    fd.map_err(|e| io_err("creating mount point", dest, e))
}

/// The mount now at `dest`, resolved again (the descriptor of the mount
/// point refers to what is under the new mount, not to it).
fn mounted(root: &Root, dest: &Path) -> Result<OwnedFd> {
    root.resolve(dest, true)
        .map_err(|e| io_err("opening mount", dest, e))
}

fn do_mount(root: &Root, m: &Mount, tree: Option<&OwnedFd>) -> Result<()> {
    let dest = m.destination();
    let typ = m.typ().as_deref().unwrap_or("bind");
    let opts = parse_options(m.options().as_deref().unwrap_or_default());
    let is_bind = typ == "bind" || opts.flags.contains(MsFlags::MS_BIND);
    if is_bind {
        let src = m
            .source()
            .as_ref()
            .ok_or_else(|| Error::Msg(format!("bind mount on {} has no source", dest.display())))?;
        let src_is_dir = match tree {
            Some(t) => safe_path::file_type(t.as_fd())
                .map_err(|e| io_err("statfs", src, e))?
                .contains(nix::sys::stat::SFlag::S_IFDIR),
            None => fs::metadata(src)
                .map_err(|e| io_err("statfs", src, e))?
                .is_dir(),
        };
        let target = mount_point(root, dest, src_is_dir)?;
        let rec = opts.flags & MsFlags::MS_REC;
        let at = safe_path::proc_path(target.as_fd());
        // A tree the kernel will not attach here (a recursive clone of the
        // host's /sys) is bound by path, which the container's root can
        // reach for such system paths; that error is the one reported.
        let attached = tree.is_some_and(|t| attach(t.as_fd(), &at, (src, dest)).is_ok());
        if !attached {
            sys_mount(Some(src), &at, None, MsFlags::MS_BIND | rec, None, dest)?;
        }
        let extra = opts.flags - (MsFlags::MS_BIND | MsFlags::MS_REC);
        if !extra.is_empty() {
            let now = mounted(root, dest)?;
            remount_bind(&safe_path::proc_path(now.as_fd()), extra, dest)?;
        }
    } else {
        let target = mount_point(root, dest, true)?;
        let at = safe_path::proc_path(target.as_fd());
        let data = opts.data.join(",");
        let data = (!data.is_empty()).then_some(data.as_str());
        let src = m.source().clone().unwrap_or_else(|| typ.into());
        match sys_mount(Some(&src), &at, Some(typ), opts.flags, data, dest) {
            Ok(()) => {}
            // Without owning the network namespace, sysfs cannot be mounted:
            // give a read-only view of the host's instead, as Podman does.
            Err(_) if typ == "sysfs" => {
                sys_mount(
                    Some(Path::new("/sys")),
                    &at,
                    None,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None,
                    dest,
                )?;
                let now = mounted(root, dest)?;
                remount_bind(
                    &safe_path::proc_path(now.as_fd()),
                    MsFlags::MS_RDONLY
                        | MsFlags::MS_NOSUID
                        | MsFlags::MS_NODEV
                        | MsFlags::MS_NOEXEC,
                    dest,
                )?;
            }
            // cgroup2 and mqueue are optional extras; a host that refuses them
            // still runs the container.
            Err(_) if typ == "cgroup2" || typ == "mqueue" => {}
            Err(e) => return Err(e),
        }
    }
    if !opts.propagation.is_empty() {
        let now = mounted(root, dest)?;
        sys_mount(
            None,
            &safe_path::proc_path(now.as_fd()),
            None,
            opts.propagation,
            None,
            dest,
        )?;
    }
    Ok(())
}

/// Detached copies (open_tree(2) with `OPEN_TREE_CLONE`) of a container's
/// root file system and of the sources of its bind mounts, made by
/// skiff's root before the container process is cloned into a user
/// namespace of its own: that process's root may not reach them by path
/// (they lie under the user's 0700 home, and with `--userns nomap` the
/// user's files are not its own), and a descriptor opened by path in
/// another mount namespace cannot be bind-mounted. It attaches them
/// (move_mount(2)) in its own mount namespace instead.
pub struct Trees {
    root: OwnedFd,
    /// By index of the spec's mounts: the detached source of each bind.
    binds: Vec<Option<OwnedFd>>,
}

const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;
/// Follow a symlink (our `/proc/self/fd/N` targets) at the end of the target path.
const MOVE_MOUNT_T_SYMLINKS: libc::c_uint = 0x10;

/// open_tree(2) of `path` as a detached clone (recursive with `rec`).
fn open_tree(path: &Path, rec: bool) -> Result<OwnedFd> {
    use std::os::fd::FromRawFd;
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::Msg(format!("{}: path contains NUL", path.display())))?;
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
    if rec {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: open_tree reads the NUL-terminated path and returns a new
    // descriptor or -1; no memory of ours is written.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags) };
    if fd < 0 {
        return Err(Error::sys(
            format!("cloning the mount of {}", path.display()),
            nix::errno::Errno::last(),
        ));
    }
    // SAFETY: open_tree just returned this descriptor, owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// move_mount(2) of the detached tree `tree` onto `target` (a path of
/// this mount namespace, such as `/proc/self/fd/N`); errors name `label`.
fn attach(tree: BorrowedFd<'_>, target: &Path, label: (&Path, &Path)) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(target.as_os_str().as_bytes())
        .map_err(|_| Error::Msg(format!("{}: path contains NUL", target.display())))?;
    // SAFETY: move_mount reads the two NUL-terminated paths ("" and the
    // target) and the descriptor, which stays open across the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            c.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS,
        )
    };
    if rc != 0 {
        return Err(Error::sys(
            format!("mounting {} on {}", label.0.display(), label.1.display()),
            nix::errno::Errno::last(),
        ));
    }
    Ok(())
}

/// Whether `m` is a bind mount, and a recursive one.
fn bind_kind(m: &Mount) -> (bool, bool) {
    let opts = parse_options(m.options().as_deref().unwrap_or_default());
    let typ = m.typ().as_deref().unwrap_or("bind");
    (
        typ == "bind" || opts.flags.contains(MsFlags::MS_BIND),
        opts.flags.contains(MsFlags::MS_REC),
    )
}

impl Trees {
    /// Clones the spec's root (`rootfs`) and bind sources, in this mount
    /// namespace (skiff's, where they are mounted and reachable).
    pub fn detach(spec: &Spec, rootfs: &Path) -> Result<Trees> {
        let root = open_tree(rootfs, true)?;
        let binds = spec
            .mounts()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|m| match (bind_kind(m), m.source()) {
                ((true, rec), Some(src)) => open_tree(src, rec).map(Some),
                _ => Ok(None),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Trees { root, binds })
    }
}

/// Creates the standard links in the container's /dev, on the descriptor of
/// /dev as resolved inside the root (the tmpfs mounted there). Links that
/// exist already are left alone; a /dev that is not a directory gets none.
fn dev_links(root: &Root) {
    let Ok(dev) = root.open_with(Path::new("/dev"), OFlag::O_PATH | OFlag::O_DIRECTORY) else {
        return;
    };
    for (name, target) in DEV_LINKS {
        let _ = safe_path::symlink_at(Path::new(target), dev.as_fd(), name.as_ref());
    }
}

/// Sets up the root filesystem at `rootfs` (a trusted path of our store)
/// from the spec's mounts, makes `cwd` if the image lacks it (as Docker
/// does), and pivots into it; then masks and write-protects the spec's
/// paths inside the new root.
///
/// With `trees` (a container in a user namespace of its own) the root and
/// the bind sources are attached from those detached copies instead of
/// being reached by path: the root on top of `/`, from where the
/// descriptor of the attached tree leads into it.
pub fn setup(spec: &Spec, rootfs: &Path, cwd: &Path, trees: Option<&Trees>) -> Result<()> {
    let slash = Path::new("/");
    sys_mount(
        None,
        slash,
        None,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
        slash,
    )?;
    let root = match trees {
        None => {
            sys_mount(
                Some(rootfs),
                rootfs,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
                rootfs,
            )?;
            // Opened after the self-bind, so that it is the root of that mount.
            Root::open(rootfs).map_err(|e| io_err("open", rootfs, e))?
        }
        Some(t) => {
            attach(t.root.as_fd(), slash, (rootfs, slash))?;
            let fd = t.root.try_clone().map_err(|e| io_err("open", rootfs, e))?;
            Root::from_fd(fd)
        }
    };
    for (i, m) in spec
        .mounts()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let tree = trees.and_then(|t| t.binds.get(i)).and_then(Option::as_ref);
        do_mount(&root, m, tree)?;
    }
    dev_links(&root);
    // The working directory is created if the image lacks it, as Docker does;
    // a working directory that cannot be made fails at chdir with its name.
    let _ = root.mkdir_all(cwd, 0o755);

    nix::unistd::fchdir(root.fd().as_raw_fd())
        .map_err(|e| Error::sys("chdir to the root filesystem", e))?;
    drop(root);
    nix::unistd::pivot_root(".", ".").map_err(|e| Error::sys("pivot_root", e))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| Error::sys("detaching the old root", e))?;
    nix::unistd::chdir("/").map_err(|e| Error::sys("chdir /", e))?;

    // From here on `/` is the container's root: no path can resolve above it.
    let linux = spec.linux().as_ref();
    for p in linux
        .and_then(|l| l.masked_paths().clone())
        .unwrap_or_default()
    {
        mask_path(Path::new(&p))?;
    }
    for p in linux
        .and_then(|l| l.readonly_paths().clone())
        .unwrap_or_default()
    {
        let p = Path::new(&p);
        if p.exists() {
            sys_mount(
                Some(p),
                p,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
                p,
            )?;
            remount_bind(p, MsFlags::MS_RDONLY, p)?;
        }
    }
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        remount_bind(slash, MsFlags::MS_RDONLY, slash)?;
    }
    Ok(())
}

fn mask_path(p: &Path) -> Result<()> {
    match fs::metadata(p) {
        Err(_) => Ok(()),
        Ok(m) if m.is_dir() => sys_mount(
            Some(Path::new("tmpfs")),
            p,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None,
            p,
        ),
        Ok(_) => sys_mount(
            Some(Path::new("/dev/null")),
            p,
            None,
            MsFlags::MS_BIND,
            None,
            p,
        ),
    }
}
