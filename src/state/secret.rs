//! Secret records and their data (Podman's `file` driver): one directory
//! per secret below `<root>/secrets`, named by the secret's id.
//!
//! ```text
//! secrets/                 0700
//! secrets/.lock            held by every change (names are unique)
//! secrets/<id>/            0700
//! secrets/<id>/secret.json the record: name, driver, labels, times; no data
//! secrets/<id>/data        0600, the secret's bytes
//! secrets/.tmp-*           a create a killed process left; swept
//! ```
//!
//! A new secret is built in a temporary directory and renamed into place;
//! a replaced one gets its data and record each replaced by rename, data
//! first, so that no reader ever sees a record without its data.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::staged::{self, mkdir_private};
use super::{io_err, read_json, sweep_temps, write_json_existing, Lock, Result};

const RECORD: &str = "secret.json";
const DATA: &str = "data";
/// Podman's secret ids are 25 hex digits.
pub const ID_LEN: usize = 25;

/// One secret, without its data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret {
    /// 25 hex digits.
    pub id: String,
    pub name: String,
    /// "file".
    pub driver: String,
    #[serde(default)]
    pub driver_options: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// The secret records below a secrets directory. Only `crate::secret`
/// calls the writers, each under `lock`.
pub struct Secrets {
    dir: PathBuf,
}

impl Secrets {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Secrets { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The lock every change holds. Taking it sweeps what a killed writer
    /// left (no other writer is at work then).
    pub fn lock(&self) -> Result<Lock> {
        mkdir_private(&self.dir)?;
        let l = Lock::exclusive(&self.dir.join(".lock"))?;
        if let Ok(rd) = fs::read_dir(&self.dir) {
            for e in rd.flatten() {
                if e.file_name()
                    .to_string_lossy()
                    .starts_with(staged::TMP_PREFIX)
                {
                    let _ = fs::remove_dir_all(e.path());
                } else if e.path().is_dir() {
                    sweep_temps(&e.path(), RECORD);
                    sweep_temps(&e.path(), DATA);
                }
            }
        }
        Ok(l)
    }

    /// Every secret, by name.
    pub fn list(&self) -> Result<Vec<Secret>> {
        let mut out = Vec::new();
        for id in staged::names(&self.dir)? {
            if let Some(s) = read_json::<Secret>(&self.dir.join(id).join(RECORD))? {
                out.push(s);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The secret's bytes.
    pub fn data(&self, id: &str) -> Result<Vec<u8>> {
        let p = self.dir.join(id).join(DATA);
        fs::read(&p).map_err(io_err("read", &p))
    }

    /// Stores a new secret (the caller holds `lock` and has checked the
    /// name is free): directory 0700, data 0600, record; all or nothing.
    pub fn insert(&self, s: &Secret, data: &[u8]) -> Result<()> {
        staged::create_dir(&self.dir, &s.id, |tmp| {
            write_private(&tmp.join(DATA), data)?;
            write_json_existing(&tmp.join(RECORD), s)
        })
    }

    /// Replaces an existing secret's data and record (the caller holds
    /// `lock`): the data first, then the record, each by rename.
    pub fn replace(&self, s: &Secret, data: &[u8]) -> Result<()> {
        let dir = self.dir.join(&s.id);
        write_private(&dir.join(DATA), data)?;
        write_json_existing(&dir.join(RECORD), s)
    }

    /// Removes a secret and its data (the caller holds `lock`).
    pub fn retire(&self, id: &str) -> Result<()> {
        let dir = self.dir.join(id);
        fs::remove_dir_all(&dir).map_err(io_err("remove", &dir))
    }
}

/// Writes `data` to `path` with mode 0600 from the first byte on: a temp
/// file created 0600 in the same directory, fsync, rename, fsync of the
/// directory (as `state::atomic_write`, which cannot choose the mode).
fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("f");
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let written = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        // An old temp file of ours may have had another mode.
        f.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(io_err("chmod", &tmp))?;
        f.write_all(data).map_err(io_err("write", &tmp))?;
        f.sync_all().map_err(io_err("fsync", &tmp))?;
        fs::rename(&tmp, path).map_err(io_err("rename", path))
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    if let Ok(d) = fs::File::open(dir) {
        d.sync_all().map_err(io_err("fsync", dir))?;
    }
    Ok(())
}

/// A new random secret id: 25 hex digits, as Podman's.
pub fn new_id() -> String {
    super::new_id()[..ID_LEN].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    fn secret(name: &str) -> Secret {
        let now = Utc::now();
        Secret {
            id: new_id(),
            name: name.into(),
            driver: "file".into(),
            driver_options: BTreeMap::new(),
            labels: BTreeMap::new(),
            created: now,
            updated: now,
        }
    }

    #[test]
    fn stored_private_replaced_and_removed() {
        let d = tempfile::tempdir().unwrap();
        let ss = Secrets::new(d.path().join("secrets"));
        let _l = ss.lock().unwrap();
        let mut s = secret("db");
        ss.insert(&s, b"one").unwrap();
        assert_eq!(mode(ss.dir()), 0o700);
        assert_eq!(mode(&ss.dir().join(&s.id)), 0o700);
        assert_eq!(mode(&ss.dir().join(&s.id).join(DATA)), 0o600);
        assert_eq!(ss.data(&s.id).unwrap(), b"one");
        s.updated = Utc::now();
        ss.replace(&s, b"two").unwrap();
        assert_eq!(ss.data(&s.id).unwrap(), b"two");
        assert_eq!(mode(&ss.dir().join(&s.id).join(DATA)), 0o600);
        assert_eq!(ss.list().unwrap(), vec![s.clone()]);
        // The record holds no data.
        let rec = fs::read_to_string(ss.dir().join(&s.id).join(RECORD)).unwrap();
        assert!(!rec.contains("two"), "{rec}");
        ss.retire(&s.id).unwrap();
        assert!(ss.list().unwrap().is_empty());
    }

    #[test]
    fn ids_are_25_hex() {
        let id = new_id();
        assert_eq!(id.len(), ID_LEN);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
