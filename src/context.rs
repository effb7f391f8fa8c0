//! Where skiff keeps its data and who it runs as: the resolved global options
//! every command receives.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Global options shared by every command, after defaults are filled in.
#[derive(Debug, Clone)]
pub struct Context {
    /// Persistent data: images, layers, containers (Podman's graph root).
    pub root: PathBuf,
    /// Runtime files: pid files, sockets, exit files, the namespace holder.
    pub runroot: PathBuf,
    /// `--storage-driver` as given, `None` to detect.
    pub storage_driver: Option<String>,
    /// True when running as an unprivileged user (the normal case).
    pub rootless: bool,
    /// The real uid and gid of the invoking user on the host.
    pub uid: u32,
    pub gid: u32,
}

impl Context {
    /// Builds the context from the global flags, the environment and the
    /// user's identity.
    pub fn new(
        root: Option<PathBuf>,
        runroot: Option<PathBuf>,
        storage_driver: Option<String>,
    ) -> Result<Self> {
        let storage_driver = storage_driver.filter(|d| !d.is_empty());
        if let Some(d) = &storage_driver {
            crate::storage::DriverKind::parse(d)?;
        }
        let uid = nix::unistd::geteuid().as_raw();
        let gid = nix::unistd::getegid().as_raw();
        let rootless = uid != 0;
        let root = match root {
            Some(r) => absolute(r)?,
            None if rootless => data_home()?.join("skiff"),
            None => PathBuf::from("/var/lib/skiff"),
        };
        let runroot = match runroot {
            Some(r) => absolute(r)?,
            None if rootless => runtime_dir(uid).join("skiff"),
            None => PathBuf::from("/run/skiff"),
        };
        Ok(Context {
            root,
            runroot,
            storage_driver,
            rootless,
            uid,
            gid,
        })
    }

    /// Directory of image, layer and blob data.
    pub fn images_dir(&self) -> PathBuf {
        self.root.join("images")
    }

    /// Directory of container records.
    pub fn containers_dir(&self) -> PathBuf {
        self.root.join("containers")
    }

    /// Directory holding one container's persistent files.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.containers_dir().join(id)
    }

    /// Directory holding one container's runtime files (pid, exit, sockets).
    pub fn container_run_dir(&self, id: &str) -> PathBuf {
        self.runroot.join("containers").join(id)
    }
}

fn absolute(p: PathBuf) -> Result<PathBuf> {
    if p.is_absolute() {
        Ok(p)
    } else {
        Ok(std::env::current_dir()?.join(p))
    }
}

fn home() -> Result<PathBuf> {
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    let uid = nix::unistd::getuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(u)) => Ok(u.dir),
        _ => Err(Error::msg(format!(
            "cannot find the home directory of uid {uid}: set HOME"
        ))),
    }
}

fn data_home() -> Result<PathBuf> {
    match std::env::var_os("XDG_DATA_HOME").filter(|h| !h.is_empty()) {
        Some(d) => Ok(PathBuf::from(d)),
        None => Ok(home()?.join(".local/share")),
    }
}

/// `$XDG_RUNTIME_DIR` when it is set and ours, else a private directory in /tmp
/// (as Podman does when there is no login session).
pub fn runtime_dir(uid: u32) -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|h| !h.is_empty()) {
        let d = PathBuf::from(d);
        if owned_by(&d, uid) {
            return d;
        }
    }
    PathBuf::from(format!("/tmp/skiff-run-{uid}"))
}

fn owned_by(p: &Path, uid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p)
        .map(|m| m.uid() == uid)
        .unwrap_or(false)
}
