//! Container root filesystems: kernel overlayfs, fuse-overlayfs or a plain copy (vfs).
//!
//! Layer directories use overlayfs's own format (a whiteout is a 0/0 character
//! device, an opaque directory carries `user.overlay.opaque=y`), so both overlay
//! drivers use them as lower directories unchanged and vfs interprets the same
//! marks while copying.
//!
//! Rootless, every function here is called as root inside the user's user and
//! mount namespace; mounts are only visible in that mount namespace, so
//! `is_mounted` must be asked from inside it too.

pub mod diff;
mod fuse;
mod mountinfo;
mod overlay;
mod probe;
mod tree;
mod vfs;

use std::path::{Path, PathBuf};

use crate::error::io_msg;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Msg(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(op: &str, path: &Path, err: &std::io::Error) -> Self {
        Error::Msg(io_msg(op, path, err))
    }
}

/// The file in a graph root that records which driver its containers use.
const RECORD_FILE: &str = "storage.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DriverKind {
    /// Kernel overlayfs (rootless from Linux 5.11, with `userxattr`).
    Overlay,
    /// The FUSE implementation of overlayfs, for kernels without rootless overlay.
    FuseOverlayfs,
    /// A full copy of the layers per container: slow, but works everywhere.
    Vfs,
}

impl DriverKind {
    pub const ALL: [DriverKind; 3] = [
        DriverKind::Overlay,
        DriverKind::FuseOverlayfs,
        DriverKind::Vfs,
    ];

    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "overlay" | "overlay2" => Ok(DriverKind::Overlay),
            "fuse-overlayfs" => Ok(DriverKind::FuseOverlayfs),
            "vfs" => Ok(DriverKind::Vfs),
            _ => Err(Error::Msg(format!(
                "unknown storage driver {s:?}; use overlay, fuse-overlayfs or vfs"
            ))),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            DriverKind::Overlay => "overlay",
            DriverKind::FuseOverlayfs => "fuse-overlayfs",
            DriverKind::Vfs => "vfs",
        }
    }
}

impl std::fmt::Display for DriverKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Record {
    driver: String,
}

/// The driver to use for the store at `root`: the one recorded for it, else
/// `requested`, else the first that works here (kernel overlay, then
/// fuse-overlayfs, then vfs). The choice is recorded on first use so that a
/// store never silently switches driver, and a `requested` driver that differs
/// from the recorded one is refused.
pub fn select(root: &Path, requested: Option<&str>) -> Result<DriverKind> {
    // Podman treats an empty STORAGE_DRIVER as unset; so do we.
    let requested = match requested.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Some(DriverKind::parse(s)?),
        None => None,
    };
    let record = root.join(RECORD_FILE);
    if let Some(recorded) = read_record(&record)? {
        tracing::debug!(
            "storage driver {} (recorded in {})",
            recorded.name(),
            record.display()
        );
        return check_matches(root, recorded, requested);
    }
    let kind = match requested {
        Some(kind) => {
            check_usable(root, kind)?;
            kind
        }
        None => detect(root),
    };
    let recorded = write_record_once(root, kind)?;
    // Another skiff may have recorded a different driver at the same moment.
    check_matches(root, recorded, requested)
}

fn check_matches(
    root: &Path,
    recorded: DriverKind,
    requested: Option<DriverKind>,
) -> Result<DriverKind> {
    match requested {
        Some(req) if req != recorded => Err(Error::Msg(format!(
            "storage driver {:?} does not match driver {:?} of the store at {}; \
             drop --storage-driver or use another --root",
            req.name(),
            recorded.name(),
            root.display()
        ))),
        _ => Ok(recorded),
    }
}

fn read_record(path: &Path) -> Result<Option<DriverKind>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read", path, &e)),
    };
    let rec: Record = serde_json::from_str(&text).map_err(|e| {
        Error::Msg(format!(
            "{}: invalid storage record ({e}); remove it to detect the driver again",
            path.display()
        ))
    })?;
    DriverKind::parse(&rec.driver).map(Some)
}

/// Records `kind` unless a record exists already; returns the recorded driver.
/// A hard link publishes the complete file atomically and fails if one exists.
fn write_record_once(root: &Path, kind: DriverKind) -> Result<DriverKind> {
    std::fs::create_dir_all(root).map_err(|e| Error::io("mkdir", root, &e))?;
    let record = root.join(RECORD_FILE);
    let tmp = root.join(format!(".{RECORD_FILE}.{}", std::process::id()));
    let body = serde_json::to_string(&Record {
        driver: kind.name().to_string(),
    })
    .expect("a record serialises");
    // Durable before it is linked into place: a crash must not leave an
    // empty record that names no driver.
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        use std::io::Write;
        f.write_all((body + "\n").as_bytes())?;
        f.sync_all()
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io("write", &tmp, &e));
    }
    let linked = std::fs::hard_link(&tmp, &record);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            if let Ok(d) = std::fs::File::open(root) {
                let _ = d.sync_all();
            }
            Ok(kind)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(read_record(&record)?.expect("the record exists: linking it failed with EEXIST"))
        }
        Err(e) => Err(Error::io("write", &record, &e)),
    }
}

/// The first driver that works on this host for a store at `root`.
fn detect(root: &Path) -> DriverKind {
    if probe::overlay_works(root) {
        DriverKind::Overlay
    } else if fuse::usable().is_ok() {
        DriverKind::FuseOverlayfs
    } else {
        DriverKind::Vfs
    }
}

/// Fails with the reason when an explicitly requested driver cannot work
/// here, before it is recorded for the store.
fn check_usable(root: &Path, kind: DriverKind) -> Result<()> {
    match kind {
        DriverKind::Overlay if !probe::overlay_works(root) => Err(Error::Msg(format!(
            "overlay: kernel overlay mounts do not work for this user on {} \
             (rootless needs Linux 5.11 or later); use --storage-driver fuse-overlayfs or vfs",
            root.display()
        ))),
        DriverKind::FuseOverlayfs => fuse::usable(),
        DriverKind::Overlay | DriverKind::Vfs => Ok(()),
    }
}

/// Mounts (vfs: creates once by copying) the root filesystem of a container
/// from `lowers`, unpacked layer directories lowest first, in the container's
/// directory `dir`. Returns the path of the root filesystem. Calling it again
/// while mounted returns the same path.
pub fn mount(kind: DriverKind, lowers: &[PathBuf], dir: &Path) -> Result<PathBuf> {
    mount_with(kind, lowers, dir, false)
}

/// `mount`, optionally `volatile` (kernel overlay: no syncs of the upper
/// directory, for containers that are deleted when they exit).
pub fn mount_with(
    kind: DriverKind,
    lowers: &[PathBuf],
    dir: &Path,
    volatile: bool,
) -> Result<PathBuf> {
    match kind {
        DriverKind::Overlay => overlay::mount(lowers, dir, volatile),
        DriverKind::FuseOverlayfs => fuse::mount(lowers, dir),
        DriverKind::Vfs => vfs::mount(lowers, dir),
    }
}

/// The id shift of a root filesystem seen from a user namespace of a
/// container's own (`--userns keep-id`, `nomap`): the namespace's uid and
/// gid maps, container ids on the ids of skiff's namespace.
#[derive(Debug, Clone, Copy)]
pub struct IdShift<'a> {
    pub uids: &'a [crate::runtime::idmap::IdMap],
    pub gids: &'a [crate::runtime::idmap::IdMap],
}

/// `mount` for a container in a user namespace of its own, whose files
/// must show their image owners there: layers keep the ids of skiff's
/// namespace (image uid 0 is skiff's 0, the user), but in the container's
/// namespace skiff's 0 is another id (keep-id: the user's uid) or none
/// (nomap).
///
/// The shift is fuse-overlayfs's `uidmapping=`/`gidmapping=` (what Podman
/// uses for the same purpose): fuse-overlayfs shows a file stored with id
/// N as the id of skiff's namespace that the container's maps put N on,
/// and stores what the container writes the other way round, so the layers
/// and the upper directory keep image ids and `diff`/`commit` read them
/// unchanged. fuse-overlayfs reads the same layer directories as kernel
/// overlay, so a store of either overlay driver serves it. Kernel idmapped
/// mounts cannot do it rootless: overlayfs refuses to be idmapped, and the
/// layers' own file system belongs to the initial user namespace, where an
/// idmapped mount needs real root. A chowned copy of the image (Podman's
/// last resort) is not made: with the vfs driver the shift is refused.
pub fn mount_shifted(
    kind: DriverKind,
    lowers: &[PathBuf],
    dir: &Path,
    shift: IdShift<'_>,
) -> Result<PathBuf> {
    match kind {
        DriverKind::Overlay | DriverKind::FuseOverlayfs => fuse::mount_with(lowers, dir, Some(shift))
            .map_err(|Error::Msg(m)| {
                Error::Msg(format!(
                    "a user namespace of the container's own needs fuse-overlayfs to show the image's owners: {m}"
                ))
            }),
        DriverKind::Vfs => Err(Error::Msg(
            "--userns keep-id and nomap, and --uidmap/--gidmap, are not supported with the vfs storage driver: its copy of the image cannot be seen through an id shift; use overlay or fuse-overlayfs".into(),
        )),
    }
}

/// Mounts an empty, private tmpfs as the root file system in `dir` (where
/// vfs keeps its copy), for a container that runs no image: a pod's infra
/// container, whose root holds nothing but the mount points its start
/// makes. Those are then made and dropped in memory, without a write to the
/// disk's journal each, and go with the unmount ([`unmount`] with vfs).
/// Calling it again while mounted returns the same path. Error: the mount
/// is refused (one line naming the directory).
pub fn mount_scratch(dir: &Path) -> Result<PathBuf> {
    vfs::mount_scratch(dir)
}

/// Unmounts the root filesystem of the container in `dir`; nothing to do when
/// it is not mounted, or for a vfs copy (a [`mount_scratch`] root is
/// unmounted).
pub fn unmount(kind: DriverKind, dir: &Path) -> Result<()> {
    match kind {
        DriverKind::Overlay => overlay::unmount(dir),
        DriverKind::FuseOverlayfs => fuse::unmount(dir),
        DriverKind::Vfs => unmount_all(&vfs::rootfs_dir(dir)),
    }
}

/// Unmounts if needed and deletes the container's storage directory `dir`.
pub fn remove(kind: DriverKind, dir: &Path) -> Result<()> {
    unmount(kind, dir)?;
    tree::remove_all(dir)
}

/// Whether the root filesystem in `dir` is mounted (overlay drivers) or
/// present (vfs).
pub fn is_mounted(kind: DriverKind, dir: &Path) -> bool {
    match kind {
        DriverKind::Overlay | DriverKind::FuseOverlayfs => {
            mountinfo::is_mount_point(&merged_dir(dir))
        }
        DriverKind::Vfs => vfs::rootfs_dir(dir).is_dir(),
    }
}

/// The directory holding what a container wrote (overlay's `upper`), or
/// with vfs its whole root filesystem: what `system df` counts for it.
pub fn rw_dir(kind: DriverKind, dir: &Path) -> PathBuf {
    match kind {
        DriverKind::Vfs => vfs::rootfs_dir(dir),
        _ => dir.join("upper"),
    }
}

/// The merged view of the overlay drivers.
fn merged_dir(dir: &Path) -> PathBuf {
    dir.join("merged")
}

/// Creates `upper`, `work` and `merged` in `dir`, giving `upper` the mode and
/// owner of the topmost layer's root so that `/` in the container looks like
/// the image's `/`. Returns the lower directories, topmost first, each layer
/// once (its topmost place).
fn prepare_overlay_dirs(lowers: &[PathBuf], dir: &Path) -> Result<Vec<PathBuf>> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    let mk = |p: &Path, mode: u32| -> Result<()> {
        match std::fs::DirBuilder::new().mode(mode).create(p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(Error::io("mkdir", p, &e)),
        }
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io("mkdir", dir, &e))?;
    let upper = dir.join("upper");
    let fresh_upper = !upper.exists();
    mk(&upper, 0o755)?;
    mk(&dir.join("work"), 0o700)?;
    mk(&merged_dir(dir), 0o755)?;
    // Images often hold the same layer twice (every empty `RUN` layer has the
    // one digest of an empty tar) and overlay refuses a lower directory given
    // twice (ELOOP). Only the topmost copy of a layer matters: whatever the
    // lower copy adds or whites out, the upper copy adds or whites out again
    // over everything below it.
    let mut topmost_first: Vec<PathBuf> = Vec::with_capacity(lowers.len());
    for l in lowers.iter().rev() {
        if !topmost_first.contains(l) {
            topmost_first.push(l.clone());
        }
    }
    if topmost_first.is_empty() {
        // Overlay needs at least one lower directory.
        let empty = dir.join("empty");
        mk(&empty, 0o755)?;
        topmost_first.push(empty);
    }
    for l in &topmost_first {
        if !l.is_dir() {
            return Err(Error::Msg(format!(
                "layer directory {}: not found; the image store is damaged, pull the image again",
                l.display()
            )));
        }
    }
    if fresh_upper {
        let top = &topmost_first[0];
        let md = std::fs::metadata(top).map_err(|e| Error::io("stat", top, &e))?;
        std::os::unix::fs::chown(&upper, Some(md.uid()), Some(md.gid()))
            .map_err(|e| Error::io("chown", &upper, &e))?;
        std::fs::set_permissions(&upper, std::fs::Permissions::from_mode(md.mode() & 0o7777))
            .map_err(|e| Error::io("chmod", &upper, &e))?;
    }
    Ok(topmost_first)
}

/// Unmounts whatever is mounted on `target`, possibly stacked; lazily if busy.
fn unmount_all(target: &Path) -> Result<()> {
    use nix::mount::{umount2, MntFlags};
    for _ in 0..16 {
        if !mountinfo::is_mount_point(target) {
            return Ok(());
        }
        match umount2(target, MntFlags::empty()) {
            Ok(()) => {}
            Err(nix::errno::Errno::EBUSY) => {
                umount2(target, MntFlags::MNT_DETACH).map_err(|e| {
                    Error::Msg(format!(
                        "unmount {}: {}",
                        target.display(),
                        e.desc().to_lowercase()
                    ))
                })?;
            }
            Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => return Ok(()),
            Err(e) => {
                return Err(Error::Msg(format!(
                    "unmount {}: {}",
                    target.display(),
                    e.desc().to_lowercase()
                )))
            }
        }
    }
    Err(Error::Msg(format!(
        "unmount {}: still mounted after 16 unmounts",
        target.display()
    )))
}

#[cfg(test)]
mod tests;
