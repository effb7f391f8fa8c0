//! Volume records: one directory per named volume below `<root>/volumes`,
//! holding the record (`volume.json`) and the data (`_data`), as Podman's
//! local driver lays them out.
//!
//! ```text
//! volumes/.lock              held by create and remove (names are unique)
//! volumes/<name>/            0700
//! volumes/<name>/volume.json the record, replaced atomically
//! volumes/<name>/.lock       held while the record changes (use counts)
//! volumes/<name>/_data       0755, what a container sees at the mount point
//! volumes/.tmp-* .rm-*       a create or remove a killed process left; swept
//! ```
//!
//! A volume appears whole or not at all: it is built in a temporary
//! directory and renamed into place, and removed by renaming it away first.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{io_err, read_json, staged, sweep_temps, write_json_existing, Error, Lock, Result};

/// The record file in a volume's directory.
const RECORD: &str = "volume.json";
/// The data directory in a volume's directory.
pub const DATA: &str = "_data";
/// Prefix of a removed volume's directory until it is deleted; never a
/// volume name (names start with a letter or digit).
const RM_PREFIX: &str = ".rm-";

/// One named (or anonymous) volume, as `volume inspect` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    /// `[a-zA-Z0-9][a-zA-Z0-9_.-]*`; anonymous volumes are 64 hex digits.
    pub name: String,
    /// Always "local" today.
    pub driver: String,
    pub created: DateTime<Utc>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The local driver's `--opt` keys as given (`type`, `device`, `o`,
    /// `uid`, `gid`, `nocopy`), lower-cased keys.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Made for one container (`-v /path`, an image VOLUME): removed with it.
    #[serde(default)]
    pub anonymous: bool,
    /// The image content at the mount point is copied in on first use.
    #[serde(default)]
    pub needs_copy_up: bool,
    /// The data directory is chowned to the container's user on first use.
    #[serde(default)]
    pub needs_chown: bool,
    /// Ids of the containers whose configuration names this volume; a
    /// volume with users is not removed without force, nor pruned.
    #[serde(default)]
    pub users: Vec<String>,
}

/// The volume records below a volumes directory. Only `crate::volume`
/// calls the writers (`insert`, `update`, `retire`).
pub struct Volumes {
    dir: PathBuf,
}

/// The error for a volume that does not exist (Podman's wording).
pub fn no_such(name: &str) -> Error {
    Error::Msg(format!("no such volume {name}"))
}

impl Volumes {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Volumes { dir: dir.into() }
    }

    /// The directory holding every volume.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The lock create and remove hold, so that names stay unique. The
    /// holder removes `leftovers` (no other create or remove is at work).
    pub fn lock(&self) -> Result<Lock> {
        staged::mkdir_private(&self.dir)?;
        Lock::exclusive(&self.dir.join(".lock"))
    }

    /// `<dir>/<name>/_data`: the host path a container mounts.
    pub fn data_dir(&self, name: &str) -> PathBuf {
        self.dir.join(name).join(DATA)
    }

    /// Reads one record; `Ok(None)` when the volume does not exist. A
    /// directory with `_data` but no record (made by an older skiff for
    /// `-v name:/path`) reads as a plain local volume.
    pub fn load(&self, name: &str) -> Result<Option<Volume>> {
        if name.is_empty() || name.starts_with('.') || name.contains('/') {
            return Ok(None);
        }
        let dir = self.dir.join(name);
        if let Some(v) = read_json::<Volume>(&dir.join(RECORD))? {
            return Ok(Some(v));
        }
        match fs::metadata(dir.join(DATA)) {
            Ok(m) if m.is_dir() => Ok(Some(Volume {
                name: name.to_string(),
                driver: "local".into(),
                created: m.modified().map(DateTime::<Utc>::from).unwrap_or_default(),
                labels: BTreeMap::new(),
                options: BTreeMap::new(),
                anonymous: name.len() == 64 && name.chars().all(|c| c.is_ascii_hexdigit()),
                needs_copy_up: false,
                needs_chown: false,
                users: Vec::new(),
            })),
            _ => Ok(None),
        }
    }

    /// Every volume, by name.
    pub fn list(&self) -> Result<Vec<Volume>> {
        let mut out = Vec::new();
        for name in staged::names(&self.dir)? {
            if let Some(v) = self.load(&name)? {
                out.push(v);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Creates a new volume: its directory (0700), `_data` (0755) and the
    /// record, built under a temporary name and renamed into place, so that
    /// no reader and no failure ever sees half a volume. The caller holds
    /// `lock` and has checked the name is free.
    pub fn insert(&self, v: &Volume) -> Result<()> {
        staged::create_dir(&self.dir, &v.name, |tmp| {
            let data = tmp.join(DATA);
            fs::DirBuilder::new()
                .mode(0o755)
                .create(&data)
                .map_err(io_err("mkdir", &data))?;
            // The umask may have taken bits away: _data is 0755 as in Podman.
            fs::set_permissions(&data, fs::Permissions::from_mode(0o755))
                .map_err(io_err("chmod", &data))?;
            write_json_existing(&tmp.join(RECORD), v)
        })
    }

    /// The one way to change a volume's record: takes the volume's own lock,
    /// sweeps temp files a killed writer left, reloads, lets `change` modify
    /// it and writes it back atomically. A removed volume is never
    /// recreated: the error is then "no such volume".
    pub fn update<T>(&self, name: &str, change: impl FnOnce(&mut Volume) -> T) -> Result<T> {
        let dir = self.dir.join(name);
        if self.load(name)?.is_none() {
            return Err(no_such(name));
        }
        let _lock = Lock::exclusive_existing(&dir.join(".lock")).map_err(|e| match e {
            Error::Io { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                no_such(name)
            }
            e => e,
        })?;
        sweep_temps(&dir, RECORD);
        let mut v = self.load(name)?.ok_or_else(|| no_such(name))?;
        let out = change(&mut v);
        write_json_existing(&dir.join(RECORD), &v).map_err(|e| match e {
            Error::Io { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                no_such(name)
            }
            e => e,
        })?;
        Ok(out)
    }

    /// Takes a volume out of the store (the caller holds `lock`): its
    /// directory is renamed away, so the name is free at once and no reader
    /// sees half a volume. Returns where it went; the caller deletes that
    /// tree, and what a failed delete leaves is among `leftovers`.
    pub fn retire(&self, name: &str) -> Result<PathBuf> {
        if self.load(name)?.is_none() {
            return Err(no_such(name));
        }
        let dir = self.dir.join(name);
        let away = staged::private_name(&self.dir, RM_PREFIX);
        fs::rename(&dir, &away).map_err(io_err("rename", &dir))?;
        Ok(away)
    }

    /// The directories a killed create (`.tmp-*`) or an unfinished remove
    /// (`.rm-*`) left; only the holder of `lock` may delete them.
    pub fn leftovers(&self) -> Vec<PathBuf> {
        let Ok(rd) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        rd.flatten()
            .filter(|e| {
                let n = e.file_name();
                let n = n.to_string_lossy();
                n.starts_with(staged::TMP_PREFIX) || n.starts_with(RM_PREFIX)
            })
            .map(|e| e.path())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vol(name: &str) -> Volume {
        Volume {
            name: name.into(),
            driver: "local".into(),
            created: Utc::now(),
            labels: BTreeMap::new(),
            options: BTreeMap::new(),
            anonymous: false,
            needs_copy_up: true,
            needs_chown: true,
            users: Vec::new(),
        }
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn insert_load_update_retire() {
        let d = tempfile::tempdir().unwrap();
        let vs = Volumes::new(d.path().join("volumes"));
        let _l = vs.lock().unwrap();
        vs.insert(&vol("data")).unwrap();
        assert_eq!(mode(&d.path().join("volumes")), 0o700);
        assert_eq!(mode(&d.path().join("volumes/data")), 0o700);
        assert_eq!(mode(&vs.data_dir("data")), 0o755);
        assert_eq!(vs.load("data").unwrap().unwrap().name, "data");
        let n = vs
            .update("data", |v| {
                v.users.push("c1".into());
                v.users.len()
            })
            .unwrap();
        assert_eq!(n, 1);
        assert_eq!(vs.load("data").unwrap().unwrap().users, vec!["c1"]);
        // A second insert of the same name fails and leaves the first whole.
        assert!(vs.insert(&vol("data")).is_err());
        assert_eq!(vs.list().unwrap().len(), 1);
        let away = vs.retire("data").unwrap();
        assert_eq!(vs.leftovers(), vec![away.clone()]);
        fs::remove_dir_all(&away).unwrap();
        assert!(vs.load("data").unwrap().is_none());
        assert!(vs.update("data", |_| ()).is_err());
        assert!(vs.retire("data").is_err());
        // Nothing is left: no temp or removal directories.
        let names: Vec<_> = fs::read_dir(vs.dir())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec![".lock".to_string()]);
    }

    #[test]
    fn leftovers_are_found_and_never_listed() {
        let d = tempfile::tempdir().unwrap();
        let vs = Volumes::new(d.path());
        fs::create_dir_all(d.path().join(".tmp-1-abc/_data")).unwrap();
        fs::create_dir_all(d.path().join(".rm-1-abc/_data/x")).unwrap();
        fs::create_dir_all(d.path().join("kept/_data")).unwrap();
        assert_eq!(vs.list().unwrap().len(), 1);
        assert!(vs.load("../x").unwrap().is_none());
        let mut left = vs.leftovers();
        left.sort();
        assert_eq!(
            left,
            vec![d.path().join(".rm-1-abc"), d.path().join(".tmp-1-abc")]
        );
    }

    #[test]
    fn a_data_directory_without_record_reads_as_a_local_volume() {
        let d = tempfile::tempdir().unwrap();
        let vs = Volumes::new(d.path());
        fs::create_dir_all(d.path().join("old/_data")).unwrap();
        let v = vs.load("old").unwrap().unwrap();
        assert_eq!((v.name.as_str(), v.driver.as_str()), ("old", "local"));
        assert!(!v.anonymous);
    }
}
