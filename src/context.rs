//! Where skiff keeps its data and who it runs as: the resolved global options
//! every command receives.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
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
    /// Whether events go to the journal file (`events::record`): false
    /// with `--events-backend none`, as Podman then records nothing.
    pub events: bool,
}

impl Context {
    /// Builds the context from the global flags, the environment and the
    /// user's identity.
    pub fn new(
        root: Option<PathBuf>,
        runroot: Option<PathBuf>,
        storage_driver: Option<String>,
    ) -> Result<Self> {
        let conf = &crate::config::get().storage;
        let storage_driver = storage_driver
            .filter(|d| !d.is_empty())
            .or_else(|| conf.driver.as_ref().map(|d| d.value.name().to_string()));
        if let Some(d) = &storage_driver {
            crate::storage::DriverKind::parse(d)?;
        }
        let uid = nix::unistd::geteuid().as_raw();
        let gid = nix::unistd::getegid().as_raw();
        let rootless = uid != 0;
        let root = match root {
            Some(r) => absolute(r)?,
            None => {
                let podman = match rootless {
                    true => data_home()?.join("containers/storage"),
                    false => PathBuf::from("/var/lib/containers/storage"),
                };
                match conf_dir(&conf.graphroot, &podman) {
                    Some(g) => {
                        refuse_podman_store(&g.value, &g.file)?;
                        g.value.clone()
                    }
                    None if rootless => data_home()?.join("skiff"),
                    None => PathBuf::from("/var/lib/skiff"),
                }
            }
        };
        let runroot = match runroot {
            Some(r) => absolute(r)?,
            None => {
                let podman = match rootless {
                    true => runtime_dir(uid)?.join("containers"),
                    false => PathBuf::from("/run/containers/storage"),
                };
                match conf_dir(&conf.runroot, &podman) {
                    Some(r) => r.value.clone(),
                    None if rootless => runtime_dir(uid)?.join("skiff"),
                    None => PathBuf::from("/run/skiff"),
                }
            }
        };
        let ctx = Context {
            root,
            runroot,
            storage_driver,
            rootless,
            uid,
            gid,
            events: true,
        };
        // Inside the user namespace are skiff's own helpers (the port
        // forwarder, the network holder), started after the CLI made these.
        if crate::runtime::idmap::in_initial_userns() {
            ctx.make_private_dirs()?;
        }
        tracing::debug!(
            "store: graph root {}, run root {}",
            ctx.root.display(),
            ctx.runroot.display()
        );
        Ok(ctx)
    }

    /// Creates the store, its volume directory and the run root, each
    /// missing directory on the way (`~/.local`, `~/.local/share`) with mode
    /// 0700, as Podman does: other local users must not read container logs
    /// or reach files owned by the user's subordinate ids. The mode is set
    /// explicitly, whatever the umask; existing directories are left as
    /// they are.
    pub fn make_private_dirs(&self) -> Result<()> {
        for d in [&self.root, &self.root.join("volumes"), &self.runroot] {
            mkdir_private(d)?;
        }
        Ok(())
    }

    /// A context for unit tests: the store under `dir/root`, the run root
    /// under `dir/run`, as root (not rootless), events recorded.
    #[cfg(test)]
    pub fn in_dir(dir: &Path) -> Context {
        Context {
            root: dir.join("root"),
            runroot: dir.join("run"),
            storage_driver: None,
            rootless: false,
            uid: 0,
            gid: 0,
            events: true,
        }
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

/// A storage.conf directory, unless it is Podman's own default (the
/// system storage.conf names Podman's store, which skiff, with a store
/// layout of its own, must not write into).
fn conf_dir<'a>(
    v: &'a Option<crate::config::storage_conf::FromFile<PathBuf>>,
    podman_default: &Path,
) -> Option<&'a crate::config::storage_conf::FromFile<PathBuf>> {
    v.as_ref()
        .filter(|d| d.value.components().ne(podman_default.components()))
}

/// Fails when `dir` (storage.conf's graphroot) holds a containers/storage
/// store: skiff's layout differs, and mixing the two would corrupt both.
fn refuse_podman_store(dir: &Path, file: &Path) -> Result<()> {
    let podman = ["overlay-images", "vfs-images", "libpod"]
        .iter()
        .any(|m| dir.join(m).exists());
    if podman {
        return Err(Error::msg(format!(
            "{}: graphroot {} holds a Podman (containers/storage) store, which skiff cannot share: give skiff a directory of its own (--root, or a storage.conf named by CONTAINERS_STORAGE_CONF)",
            file.display(),
            dir.display()
        )));
    }
    Ok(())
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

/// `$XDG_RUNTIME_DIR` when it is set and ours, else `$TMPDIR/skiff-run-UID`
/// (`/tmp/skiff-run-UID`), as Podman does when there is no login session.
/// The fallback lives in a directory everybody can write to, so it is
/// checked as containers/storage checks its own: created 0700 when missing,
/// refused when it is not a directory owned by `uid` with mode 0700.
pub fn runtime_dir(uid: u32) -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|h| !h.is_empty()) {
        let d = PathBuf::from(d);
        if owned_by(&d, uid) {
            return Ok(d);
        }
    }
    let d = std::env::temp_dir().join(format!("skiff-run-{uid}"));
    match fs::DirBuilder::new().mode(0o700).create(&d) {
        Ok(()) => fs::set_permissions(&d, fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::msg(crate::error::io_msg("chmod", &d, &e)))?,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::msg(crate::error::io_msg("mkdir", &d, &e))),
    }
    check_private(&d, uid)?;
    Ok(d)
}

/// Fails unless `d` is a directory (not a symlink) owned by `uid` that
/// nobody else may enter.
fn check_private(d: &Path, uid: u32) -> Result<()> {
    let md =
        fs::symlink_metadata(d).map_err(|e| Error::msg(crate::error::io_msg("stat", d, &e)))?;
    let fix = "remove it or set XDG_RUNTIME_DIR to a directory of yours";
    if !md.is_dir() {
        return Err(Error::msg(format!(
            "runtime directory {}: not a directory; {fix}",
            d.display()
        )));
    }
    if md.uid() != uid {
        return Err(Error::msg(format!(
            "runtime directory {}: owned by uid {}, not by you (uid {uid}); {fix}",
            d.display(),
            md.uid()
        )));
    }
    if md.mode() & 0o077 != 0 {
        return Err(Error::msg(format!(
            "runtime directory {}: mode {:04o} lets other users in, it must be 0700; {fix}",
            d.display(),
            md.mode() & 0o7777
        )));
    }
    Ok(())
}

/// Creates `dir` and its missing parents with mode 0700 (set explicitly,
/// so a umask cannot widen or narrow it).
fn mkdir_private(dir: &Path) -> Result<()> {
    let mut missing = Vec::new();
    let mut cur = dir;
    while fs::symlink_metadata(cur).is_err() {
        missing.push(cur);
        match cur.parent() {
            Some(p) => cur = p,
            None => break,
        }
    }
    for d in missing.into_iter().rev() {
        match fs::DirBuilder::new().mode(0o700).create(d) {
            Ok(()) => fs::set_permissions(d, fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::msg(crate::error::io_msg("chmod", d, &e)))?,
            // Another skiff made it meanwhile.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::msg(crate::error::io_msg("mkdir", d, &e))),
        }
    }
    Ok(())
}

fn owned_by(p: &Path, uid: u32) -> bool {
    fs::metadata(p).map(|m| m.uid() == uid).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_dirs_are_0700_and_existing_ones_keep_their_mode() {
        let t = tempfile::tempdir().unwrap();
        let deep = t.path().join("a/b/c");
        mkdir_private(&deep).unwrap();
        for d in ["a", "a/b", "a/b/c"] {
            let mode = fs::metadata(t.path().join(d)).unwrap().mode() & 0o7777;
            assert_eq!(mode, 0o700, "{d}");
        }
        // Existing directories keep their mode.
        fs::set_permissions(t.path().join("a"), fs::Permissions::from_mode(0o755)).unwrap();
        mkdir_private(&t.path().join("a/x")).unwrap();
        let mode = fs::metadata(t.path().join("a")).unwrap().mode() & 0o7777;
        assert_eq!(mode, 0o755);
    }

    #[test]
    fn runtime_dir_must_be_private() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("run");
        fs::create_dir(&d).unwrap();
        let uid = nix::unistd::geteuid().as_raw();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o700)).unwrap();
        check_private(&d, uid).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o777)).unwrap();
        let e = check_private(&d, uid).unwrap_err().to_string();
        assert!(
            e.contains("mode 0777") && e.contains(&d.display().to_string()),
            "{e}"
        );
        let e = check_private(&d, uid + 1).unwrap_err().to_string();
        assert!(e.contains("owned by uid"), "{e}");
    }
}
