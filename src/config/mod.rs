//! The user's and the system's configuration files that Podman reads:
//! containers.conf ([`containers_conf`]) and storage.conf
//! ([`storage_conf`]). Loaded once when a command starts ([`init`]); the
//! rest of skiff reads the typed values through [`get`].
//!
//! registries.conf is read by the registry client
//! (`registry::registries_conf`), only by the commands that reach registries.

pub mod containers_conf;
pub mod storage_conf;

use std::path::Path;
use std::sync::OnceLock;

pub use containers_conf::ContainersConf;
pub use storage_conf::StorageConf;

use crate::{Error, Result};

/// Everything read from the configuration files.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub containers: ContainersConf,
    pub storage: StorageConf,
}

static CONFIG: OnceLock<Config> = OnceLock::new();

/// Reads the configuration files (once per process); a file that does not
/// parse or holds a value of the wrong kind is an error naming the file.
pub fn init() -> Result<&'static Config> {
    if let Some(c) = CONFIG.get() {
        return Ok(c);
    }
    let uid = nix::unistd::geteuid().as_raw();
    let config = Config {
        containers: ContainersConf::load(uid != 0)?,
        storage: StorageConf::load(uid != 0)?,
    };
    Ok(CONFIG.get_or_init(|| config))
}

/// The configuration [`init`] read; the defaults (nothing configured)
/// before it ran, as in unit tests.
pub fn get() -> &'static Config {
    static DEFAULT: OnceLock<Config> = OnceLock::new();
    CONFIG
        .get()
        .unwrap_or_else(|| DEFAULT.get_or_init(Config::default))
}

/// The one-line error for a file that does not parse:
/// `parsing FILE: line N: reason`.
pub(crate) fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> Error {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
    let reason = e.message().lines().next().unwrap_or("").to_string();
    Error::msg(match line {
        Some(n) => format!("parsing {}: line {n}: {reason}", path.display()),
        None => format!("parsing {}: {reason}", path.display()),
    })
}

/// A value skiff cannot use: `FILE: [table] key: reason`.
pub(crate) fn bad_value(path: &Path, key: &str, reason: impl std::fmt::Display) -> Error {
    Error::msg(format!("{}: {key}: {reason}", path.display()))
}

/// `$XDG_CONFIG_HOME`, else `~/.config`.
pub(crate) fn config_home() -> Option<std::path::PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    var("XDG_CONFIG_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| var("HOME").map(|h| std::path::PathBuf::from(h).join(".config")))
}

/// The `*.conf` files of a drop-in directory, in name order (none when it
/// does not exist).
pub(crate) fn dropins(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<_> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    v.sort();
    v
}

/// The text of `path`, `None` when it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>> {
    match crate::error::read_capped_text(path, crate::error::USER_FILE_MAX) {
        Ok(t) => {
            tracing::debug!("reading {}", path.display());
            Ok(Some(t))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::msg(crate::error::io_msg("read", path, &e))),
    }
}
