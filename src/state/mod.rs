//! On-disk records, locks and atomic writes: the only shared state between
//! skiff processes, since there is no daemon.

pub mod config;
pub mod container;
pub mod extras;
pub mod health;
pub mod lock;
pub mod pod;
mod record;
pub mod records;
pub mod secret;
pub mod staged;
pub mod volume;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{de::DeserializeOwned, Serialize};

pub use lock::Lock;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}", crate::error::io_msg(.op, .path, .source))]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("corrupt record {}: {source}", .path.display())]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{0}")]
    Msg(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io_err(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io { op, path, source }
}

/// Writes `data` to `path` so that readers see either the old or the new
/// content, never a mix: temp file in the same directory, fsync, rename,
/// fsync of the directory. Creates the directory when missing. On any
/// failure the temp file is removed (a process killed half-way leaves
/// `.NAME.tmpPID`, which `sweep_temps` removes under the same lock).
pub fn atomic_write(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_err("mkdir", dir))?;
    atomic_write_existing(path, data)
}

/// `atomic_write` into a directory that must already exist: a record whose
/// directory was removed (its container removed meanwhile) is not recreated;
/// the error is then `NotFound`.
pub fn atomic_write_existing(path: &Path, data: &[u8]) -> Result<()> {
    replace(path, data, true)
}

/// Replaces `path` (in an existing directory) by rename, so that readers see
/// the old or the new content, but without fsync: for files rebuilt from a
/// record on every start (an OCI `config.json`), where a crash may lose the
/// new content but never leaves a mix.
pub fn replace_existing(path: &Path, data: &[u8]) -> Result<()> {
    replace(path, data, false)
}

/// Temp file in the same directory, write, (fsync,) rename, (fsync of the
/// directory); the temp file is removed on any failure.
fn replace(path: &Path, data: &[u8], durable: bool) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("f");
    // A temp file left by an earlier process with our pid is ours to replace.
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let written = (|| {
        let mut f = fs::File::create(&tmp).map_err(io_err("create", &tmp))?;
        f.write_all(data).map_err(io_err("write", &tmp))?;
        if durable {
            f.sync_all().map_err(io_err("fsync", &tmp))?;
        }
        fs::rename(&tmp, path).map_err(io_err("rename", path))
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    if durable {
        if let Ok(d) = fs::File::open(dir) {
            d.sync_all().map_err(io_err("fsync", dir))?;
        }
    }
    Ok(())
}

/// Removes the temp files `atomic_write` leaves for `name` in `dir` when its
/// process dies half-way. Call it only while holding the lock every writer
/// of that file holds, so that no writer is at work.
pub fn sweep_temps(dir: &Path, name: &str) {
    let prefix = format!(".{name}.tmp");
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Serialises `value` as pretty JSON and writes it atomically into an
/// existing directory (see `atomic_write_existing`).
pub fn write_json_existing<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let data = serde_json::to_vec_pretty(value).map_err(|e| Error::Msg(e.to_string()))?;
    atomic_write_existing(path, &data)
}

/// Serialises `value` as pretty JSON and writes it atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let data = serde_json::to_vec_pretty(value).map_err(|e| Error::Msg(e.to_string()))?;
    atomic_write(path, &data)
}

/// Reads a JSON record; `Ok(None)` when the file does not exist.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match fs::read(path) {
        Ok(data) => serde_json::from_slice(&data)
            .map(Some)
            .map_err(|source| Error::Corrupt {
                path: path.to_path_buf(),
                source,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("read", path)(e)),
    }
}

/// A new random 64-hex identifier, as containers and layers use.
pub fn new_id() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("rec.json");
        write_json(&p, &vec![1, 2]).unwrap();
        write_json(&p, &vec![3]).unwrap();
        let v: Vec<i32> = read_json(&p).unwrap().unwrap();
        assert_eq!(v, vec![3]);
        let names: Vec<_> = fs::read_dir(d.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn a_write_into_a_removed_directory_fails_and_creates_nothing() {
        let d = tempfile::tempdir().unwrap();
        let gone = d.path().join("gone");
        let e = write_json_existing(&gone.join("rec.json"), &1).unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e}");
        assert!(!gone.exists());
    }

    #[test]
    fn temps_left_by_a_dead_writer_are_swept() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join(".rec.json.tmp123"), b"half").unwrap();
        fs::write(d.path().join("rec.json"), b"1").unwrap();
        sweep_temps(d.path(), "rec.json");
        let names: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("rec.json")]);
    }

    #[test]
    fn read_missing_is_none() {
        let d = tempfile::tempdir().unwrap();
        let v: Option<Vec<i32>> = read_json(&d.path().join("x")).unwrap();
        assert!(v.is_none());
    }

    #[test]
    fn ids_are_64_hex() {
        let id = new_id();
        assert_eq!(id.len(), 64);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
