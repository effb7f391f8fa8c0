//! storage.conf: where the store and the run root live and which driver
//! they use, read as containers/storage reads it (`DefaultConfigFile`,
//! `loadStoreOptionsFromConfFile`):
//!
//! - the system file is `/etc/containers/storage.conf`, else
//!   `/usr/share/containers/storage.conf`;
//! - the main file is `$CONTAINERS_STORAGE_CONF` when set; else, rootless,
//!   `$XDG_CONFIG_HOME/containers/storage.conf`; else the system file.
//!
//! Rootless, the system file gives only `driver` and
//! `rootless_storage_path` (its `graphroot` and `runroot` are root's), then
//! the main file's `driver`, `graphroot`, `runroot` win. `$HOME`, `$UID`
//! and `$USER` are expanded in paths. Other keys are ignored.
//!
//! `--root`, `--runroot` and `--storage-driver` win over all of it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{bad_value, config_home, read_optional, toml_error};
use crate::storage::DriverKind;
use crate::Result;

const SYSTEM: &str = "/etc/containers/storage.conf";
const SYSTEM_DEFAULT: &str = "/usr/share/containers/storage.conf";

/// A value from storage.conf with the file it came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromFile<T> {
    pub value: T,
    pub file: PathBuf,
}

/// The storage.conf keys skiff honours.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageConf {
    /// `driver` (with overlay's `mount_program` set to fuse-overlayfs:
    /// fuse-overlayfs).
    pub driver: Option<FromFile<DriverKind>>,
    /// `graphroot` (or, rootless, `rootless_storage_path`): the store.
    pub graphroot: Option<FromFile<PathBuf>>,
    /// `runroot`.
    pub runroot: Option<FromFile<PathBuf>>,
}

#[derive(Deserialize, Default)]
struct Raw {
    #[serde(default)]
    storage: RawStorage,
}

#[derive(Deserialize, Default)]
struct RawStorage {
    driver: Option<String>,
    graphroot: Option<String>,
    runroot: Option<String>,
    rootless_storage_path: Option<String>,
    #[serde(default)]
    options: RawOptions,
}

#[derive(Deserialize, Default)]
struct RawOptions {
    mount_program: Option<String>,
    #[serde(default)]
    overlay: RawOverlay,
}

#[derive(Deserialize, Default)]
struct RawOverlay {
    mount_program: Option<String>,
}

/// One file's values, checked.
struct Parsed {
    driver: Option<DriverKind>,
    graphroot: Option<PathBuf>,
    runroot: Option<PathBuf>,
    rootless_storage_path: Option<PathBuf>,
}

impl StorageConf {
    /// The files containers/storage would read for this user, merged.
    pub fn load(rootless: bool) -> Result<StorageConf> {
        let system = if Path::new(SYSTEM).exists() {
            PathBuf::from(SYSTEM)
        } else {
            PathBuf::from(SYSTEM_DEFAULT)
        };
        let main = match std::env::var_os("CONTAINERS_STORAGE_CONF").filter(|v| !v.is_empty()) {
            Some(p) => Some(PathBuf::from(p)),
            None if rootless => config_home().map(|h| h.join("containers/storage.conf")),
            None => None,
        };
        let mut conf = StorageConf::default();
        if rootless {
            if let Some(text) = read_optional(&system)? {
                let p = parse(&text, &system)?;
                conf.apply_rootless_system(p, &system);
            }
            if let Some(f) = main.filter(|m| *m != system) {
                if let Some(text) = read_optional(&f)? {
                    let p = parse(&text, &f)?;
                    conf.apply_main(p, &f, true);
                }
            }
        } else {
            let f = main.unwrap_or(system);
            if let Some(text) = read_optional(&f)? {
                let p = parse(&text, &f)?;
                conf.apply_main(p, &f, false);
            }
        }
        Ok(conf)
    }

    /// Parses one file as the main (and only) one, for tests.
    pub fn parse_main(text: &str, path: &Path, rootless: bool) -> Result<StorageConf> {
        let mut conf = StorageConf::default();
        conf.apply_main(parse(text, path)?, path, rootless);
        Ok(conf)
    }

    fn apply_rootless_system(&mut self, p: Parsed, file: &Path) {
        let from = |value| FromFile {
            value,
            file: file.to_path_buf(),
        };
        if let Some(d) = p.driver {
            self.driver = Some(from(d));
        }
        if let Some(g) = p.rootless_storage_path {
            self.graphroot = Some(FromFile {
                value: g,
                file: file.to_path_buf(),
            });
        }
    }

    fn apply_main(&mut self, p: Parsed, file: &Path, rootless: bool) {
        let from = |value: PathBuf| FromFile {
            value,
            file: file.to_path_buf(),
        };
        if let Some(d) = p.driver {
            self.driver = Some(FromFile {
                value: d,
                file: file.to_path_buf(),
            });
        }
        let graph = match (rootless, p.rootless_storage_path, p.graphroot) {
            (true, Some(r), _) => Some(r),
            (_, _, g) => g,
        };
        if let Some(g) = graph {
            self.graphroot = Some(from(g));
        }
        if let Some(r) = p.runroot {
            self.runroot = Some(from(r));
        }
    }
}

fn parse(text: &str, path: &Path) -> Result<Parsed> {
    let raw: Raw = toml::from_str(text).map_err(|e| toml_error(path, text, &e))?;
    let s = raw.storage;
    let mount_program = s.options.overlay.mount_program.or(s.options.mount_program);
    let driver = match s.driver.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => None,
        Some(d) => {
            let kind = DriverKind::parse(d).map_err(|_| {
                bad_value(
                    path,
                    "[storage] driver",
                    format!("{d:?}: not supported by skiff: use overlay, fuse-overlayfs or vfs"),
                )
            })?;
            let fuse = mount_program
                .as_deref()
                .is_some_and(|m| m.ends_with("fuse-overlayfs"));
            Some(if kind == DriverKind::Overlay && fuse {
                DriverKind::FuseOverlayfs
            } else {
                kind
            })
        }
    };
    let path_of = |key: &str, v: Option<String>| -> Result<Option<PathBuf>> {
        let Some(v) = v.filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let expanded = expand(&v);
        if !Path::new(&expanded).is_absolute() {
            return Err(bad_value(
                path,
                &format!("[storage] {key}"),
                format!("{v:?} must be an absolute path"),
            ));
        }
        Ok(Some(PathBuf::from(expanded)))
    };
    Ok(Parsed {
        driver,
        graphroot: path_of("graphroot", s.graphroot)?,
        runroot: path_of("runroot", s.runroot)?,
        rootless_storage_path: path_of("rootless_storage_path", s.rootless_storage_path)?,
    })
}

/// `$HOME`, `$UID` and `$USER` (also as `${NAME}`), as containers/storage
/// expands them.
fn expand(s: &str) -> String {
    let home = std::env::var("HOME").unwrap_or_default();
    let uid = nix::unistd::geteuid().to_string();
    let user = std::env::var("USER").unwrap_or_default();
    let mut out = s.to_string();
    for (k, v) in [("HOME", &home), ("UID", &uid), ("USER", &user)] {
        out = out
            .replace(&format!("${{{k}}}"), v)
            .replace(&format!("${k}"), v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_file_values() {
        let c = StorageConf::parse_main(
            "[storage]\ndriver = \"overlay\"\ngraphroot = \"/big/store\"\nrunroot = \"/run/x\"\n[storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n[storage.options.thinpool]\nx = 1\n",
            Path::new("/h/storage.conf"),
            true,
        )
        .unwrap();
        assert_eq!(c.driver.unwrap().value, DriverKind::FuseOverlayfs);
        let g = c.graphroot.unwrap();
        assert_eq!(g.value, PathBuf::from("/big/store"));
        assert_eq!(g.file, PathBuf::from("/h/storage.conf"));
        assert_eq!(c.runroot.unwrap().value, PathBuf::from("/run/x"));
    }

    #[test]
    fn bad_values_name_the_file() {
        let e = StorageConf::parse_main(
            "[storage]\ndriver = \"btrfs\"\n",
            Path::new("/s.conf"),
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("/s.conf: [storage] driver: \"btrfs\""), "{e}");
        let e = StorageConf::parse_main(
            "[storage]\ngraphroot = \"rel\"\n",
            Path::new("/s.conf"),
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("absolute"), "{e}");
        let e = StorageConf::parse_main("[storage\n", Path::new("/s.conf"), true)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("parsing /s.conf: line 1"), "{e}");
    }

    #[test]
    fn expands_home() {
        std::env::var("HOME").unwrap();
        assert!(!expand("$HOME/x").contains('$'));
        assert!(expand("/a/$UID/b").starts_with("/a/"));
    }
}
