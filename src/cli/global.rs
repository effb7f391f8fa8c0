//! Podman's global options that scripts pass: validated once here, applied
//! to this process (stdout, temporary directory) or recorded for `info`.

use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::{Error, Result};

/// `--events-backend`: where Podman writes its event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EventsBackend {
    File,
    Journald,
    None,
}

pub use crate::cgroups::Manager as CgroupManager;

/// The global settings this process runs with, as `info` reports them.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `host.eventLogger`: `file`, `journald` or `none`.
    pub events_backend: EventsBackend,
    /// `host.cgroupManager`: `cgroupfs` or `systemd`.
    pub cgroup_manager: CgroupManager,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            events_backend: EventsBackend::File,
            cgroup_manager: CgroupManager::Cgroupfs,
        }
    }
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();

/// The settings of this process: the global flags given, else the defaults.
pub fn settings() -> Settings {
    SETTINGS.get().cloned().unwrap_or_default()
}

/// The name `--runtime` accepts: skiff's own built-in runtime (Podman's
/// `info` reports it as `ociRuntime.name`).
pub const RUNTIME_NAME: &str = "skiff";

/// Where systemd-journald listens; without it there is no journal to write to.
const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

/// The global options besides the store paths, as parsed by clap.
#[derive(Debug, Default)]
pub struct Flags<'a> {
    pub events_backend: Option<EventsBackend>,
    pub cgroup_manager: Option<CgroupManager>,
    pub runtime: Option<&'a str>,
    pub runtime_flags: &'a [String],
    pub storage_opts: &'a [String],
    pub remote: bool,
    pub url: Option<&'a str>,
    pub connection: Option<&'a str>,
}

/// Checks the global options that skiff cannot honour, before anything is
/// done: a remote connection (there is no service: every command runs in
/// this process), another OCI runtime or runtime flags, storage options
/// other than the ones mapped here, and journald without a journal.
/// Returns the storage driver a `--storage-opt` asks for, if any.
pub fn check(f: &Flags) -> Result<Option<&'static str>> {
    if f.remote || f.url.is_some() || f.connection.is_some() {
        let flag = if f.url.is_some() {
            "--url"
        } else if f.connection.is_some() {
            "--connection"
        } else {
            "--remote"
        };
        return Err(Error::msg(format!(
            "{flag}: not supported: skiff is daemonless, every command runs in this process and there is no service to connect to"
        )));
    }
    if let Some(r) = f.runtime {
        if !is_own_runtime(r) {
            return Err(Error::msg(format!(
                "--runtime {r}: not supported: skiff runs containers with its own built-in runtime \"{RUNTIME_NAME}\""
            )));
        }
    }
    if let Some(flag) = f.runtime_flags.first() {
        return Err(Error::msg(format!(
            "--runtime-flag {flag}: not supported: skiff's built-in runtime takes no flags"
        )));
    }
    if f.events_backend == Some(EventsBackend::Journald) && !Path::new(JOURNAL_SOCKET).exists() {
        return Err(Error::msg(format!(
            "--events-backend journald: not supported: no systemd journal on this host ({JOURNAL_SOCKET} does not exist)"
        )));
    }
    let mut driver = None;
    for o in f.storage_opts {
        if let Some(d) = storage_opt_driver(o)? {
            driver = Some(d);
        }
    }
    let _ = SETTINGS.set(Settings {
        events_backend: f.events_backend.unwrap_or_else(conf_events_backend),
        cgroup_manager: crate::cgroups::choose_manager(f.cgroup_manager),
    });
    Ok(driver)
}

/// containers.conf's `events_logger` when `--events-backend` is not given
/// (`file` without one); `journald` on a host without a journal is `file`,
/// with a warning, since the file may be shared with Podman.
fn conf_events_backend() -> EventsBackend {
    use crate::config::containers_conf::EventsLogger;
    match crate::config::get().containers.events_logger {
        None | Some(EventsLogger::File) => EventsBackend::File,
        Some(EventsLogger::None) => EventsBackend::None,
        Some(EventsLogger::Journald) if Path::new(JOURNAL_SOCKET).exists() => {
            EventsBackend::Journald
        }
        Some(EventsLogger::Journald) => {
            tracing::warn!(
                "containers.conf events_logger \"journald\": no systemd journal on this host; using file"
            );
            EventsBackend::File
        }
    }
}

/// `--runtime skiff`, or a path to this very program.
fn is_own_runtime(r: &str) -> bool {
    if r == RUNTIME_NAME {
        return true;
    }
    let (Ok(given), Ok(me)) = (std::fs::canonicalize(r), std::env::current_exe()) else {
        return false;
    };
    std::fs::canonicalize(me).is_ok_and(|me| me == given)
}

/// One `--storage-opt`: the empty option (Podman's way to drop the
/// configured options; skiff has none configured) and
/// `overlay.mount_program=…/fuse-overlayfs` (the fuse-overlayfs driver) have
/// an effect here; any other is refused.
fn storage_opt_driver(o: &str) -> Result<Option<&'static str>> {
    if o.trim().is_empty() {
        return Ok(None);
    }
    if let Some(p) = o.strip_prefix("overlay.mount_program=") {
        if Path::new(p)
            .file_name()
            .is_some_and(|n| n == "fuse-overlayfs")
        {
            return Ok(Some("fuse-overlayfs"));
        }
    }
    Err(Error::msg(format!(
        "--storage-opt {o}: not supported: skiff takes only overlay.mount_program=PATH/fuse-overlayfs (or --storage-driver)"
    )))
}

/// `--tmpdir PATH`: made (0700) if missing and used as `TMPDIR` by this
/// process and what it starts, as Podman keeps its temporary files there.
/// Called after the store paths are resolved, so that a runroot derived
/// from `TMPDIR` stays where other commands look for it.
pub fn use_tmpdir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::msg(crate::error::io_msg("mkdir", dir, &e)))?;
    std::env::set_var("TMPDIR", dir);
    Ok(())
}

/// `--noout` (to /dev/null) and `--out FILE`: this process's standard
/// output goes there. As in Podman, the output of a container that `run`
/// or `start -a` attaches to stays on the original stdout.
pub fn redirect_stdout(noout: bool, out: Option<&PathBuf>) -> Result<()> {
    let target = match (noout, out) {
        (true, _) => PathBuf::from("/dev/null"),
        (false, Some(p)) => p.clone(),
        (false, None) => return Ok(()),
    };
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&target)
        .map_err(|e| Error::msg(crate::error::io_msg("open", &target, &e)))?;
    let original = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| {
            Error::msg(format!(
                "duplicating stdout: {}",
                crate::error::io_reason(&e)
            ))
        })?;
    crate::container::launch::send_container_output_to(original);
    nix::unistd::dup2(f.as_raw_fd(), 1).map_err(|e| {
        Error::msg(format!(
            "redirect stdout to {}: {}",
            target.display(),
            e.desc().to_lowercase()
        ))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_opts_map_to_a_driver_or_are_refused() {
        assert_eq!(storage_opt_driver("").unwrap(), None);
        assert_eq!(
            storage_opt_driver("overlay.mount_program=/usr/bin/fuse-overlayfs").unwrap(),
            Some("fuse-overlayfs")
        );
        let e = storage_opt_driver("overlay.mountopt=nodev").unwrap_err();
        assert!(e.to_string().contains("not supported"), "{e}");
    }

    #[test]
    fn runtime_is_skiff_only() {
        assert!(is_own_runtime("skiff"));
        assert!(!is_own_runtime("crun"));
        assert!(!is_own_runtime("/usr/bin/runc"));
    }
}
