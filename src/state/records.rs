//! A directory of records, one subdirectory per object holding its JSON
//! record: the one writer pattern (lock, reload, change, atomic write;
//! retire by rename) for every kind of record that has a name and an id.
//! Pods use it; container records follow the same rules in `container.rs`
//! and can move onto this store once their typed record lands.

use std::fs;
use std::marker::PhantomData;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Serialize};

use super::{io_err, read_json, sweep_temps, write_json_existing, Error, Lock, Result};

/// One kind of record kept in a [`Store`].
pub trait Record: Serialize + DeserializeOwned + Clone {
    /// The word users see in messages: `pod` gives "no such pod".
    const KIND: &'static str;
    /// The record's file name inside its object's directory (`pod.json`).
    const FILE: &'static str;
    /// The full 64-hex id, also the directory's name.
    fn id(&self) -> &str;
    /// The unique name.
    fn name(&self) -> &str;
    /// When the object was created; lists are sorted by it, oldest first.
    fn created(&self) -> DateTime<Utc>;
    /// Refuses a record this code cannot read faithfully (one written by a
    /// newer version); called on every load.
    fn check(&self) -> Result<()> {
        Ok(())
    }
}

/// The records of one kind below a directory: `DIR/<id>/<R::FILE>`, the
/// directory's `.lock` for name changes and one `.lock` per object for its
/// changes.
pub struct Store<R> {
    dir: PathBuf,
    _kind: PhantomData<R>,
}

impl<R: Record> Store<R> {
    /// The store below `dir` (created on the first insert).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Store {
            dir: dir.into(),
            _kind: PhantomData,
        }
    }

    /// The lock every name-changing operation (create, rename, remove) holds.
    pub fn lock(&self) -> Result<Lock> {
        Lock::exclusive(&self.dir.join(".lock"))
    }

    /// The lock every change of one object's record holds (see `update`).
    /// It never recreates the directory of a removed object: then the error
    /// is "no such KIND".
    pub fn lock_one(&self, id: &str) -> Result<Lock> {
        Lock::exclusive_existing(&self.dir.join(id).join(".lock"))
            .map_err(|e| not_found_as::<R>(e, id))
    }

    /// The object's directory, where files that belong to it may live.
    pub fn dir_of(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// Writes the record of a new object (the caller holds `lock` so that
    /// names stay unique). Its directory must not exist; on failure nothing
    /// of it is left.
    pub fn insert(&self, r: &R) -> Result<()> {
        let dir = self.dir.join(r.id());
        fs::create_dir_all(&self.dir).map_err(io_err("mkdir", &self.dir))?;
        fs::create_dir(&dir).map_err(io_err("mkdir", &dir))?;
        write_json_existing(&dir.join(R::FILE), r).inspect_err(|_| {
            let _ = fs::remove_dir_all(&dir);
        })
    }

    /// The one way to change a record: takes the object's lock, sweeps temp
    /// files a killed writer left, reloads the record, lets `change` modify
    /// it and writes it back atomically. When `change` fails nothing is
    /// written. A removed object is never recreated ("no such KIND").
    pub fn update<T, E: From<Error>>(
        &self,
        id: &str,
        change: impl FnOnce(&mut R) -> Result<T, E>,
    ) -> Result<T, E> {
        let _lock = self.lock_one(id)?;
        let dir = self.dir.join(id);
        sweep_temps(&dir, R::FILE);
        let mut r = self.get(id)?;
        let out = change(&mut r)?;
        write_json_existing(&dir.join(R::FILE), &r).map_err(|e| not_found_as::<R>(e, id))?;
        Ok(out)
    }

    /// The record with this full id, `None` when there is none.
    pub fn load(&self, id: &str) -> Result<Option<R>> {
        let r: Option<R> = read_json(&self.dir.join(id).join(R::FILE))?;
        if let Some(r) = &r {
            r.check()?;
        }
        Ok(r)
    }

    /// The record with this full id (no scan of the others).
    pub fn get(&self, id: &str) -> Result<R> {
        self.load(id)?.ok_or_else(|| no_such::<R>(id))
    }

    /// Every readable record, oldest first.
    pub fn list(&self) -> Result<Vec<R>> {
        let rd = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("read", &self.dir)(e)),
        };
        let mut out: Vec<R> = rd
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                (!name.starts_with('.')).then_some(())?;
                self.load(&name).ok().flatten()
            })
            .collect();
        out.sort_by_key(|r| r.created());
        Ok(out)
    }

    /// Finds a record by exact name, full id or unique id prefix.
    pub fn lookup(&self, name_or_id: &str) -> Result<R> {
        find(&self.list()?, name_or_id).cloned()
    }

    /// Directories without a record: an insert killed half-way. Remove them
    /// only while holding `lock`. Returns how many were removed.
    pub fn sweep_unrecorded(&self) -> usize {
        let Ok(rd) = fs::read_dir(&self.dir) else {
            return 0;
        };
        rd.flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.') && e.path().is_dir())
            .filter(|e| !e.path().join(R::FILE).exists() && fs::remove_dir_all(e.path()).is_ok())
            .count()
    }

    /// Takes the object out of the store at once: its directory is renamed
    /// out of sight (`.removing-ID`), so no command sees it and its name is
    /// free. Returns where its files now are, for the caller to delete with
    /// `remove_tree` (None when it was already gone). Holds the object's lock
    /// while it moves, so that no `update` is half-way.
    pub fn retire(&self, id: &str) -> Result<Option<PathBuf>> {
        let dir = self.dir.join(id);
        let _lock = match self.lock_one(id) {
            Ok(l) => Some(l),
            Err(_) if !dir.exists() => None,
            Err(e) => return Err(e),
        };
        let hidden = self.dir.join(format!(".removing-{id}"));
        if hidden.exists() {
            // Left by a remover that died half-way.
            super::container::remove_tree(&hidden)?;
        }
        match fs::rename(&dir, &hidden) {
            Ok(()) => Ok(Some(hidden)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("remove", &dir)(e)),
        }
    }

    /// Directories of removed objects whose deletion was cut short.
    pub fn retired(&self) -> Vec<PathBuf> {
        let Ok(rd) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        rd.flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".removing-"))
            .map(|e| e.path())
            .collect()
    }
}

/// "no pod with name or ID "x" found: no such pod", as Podman says it.
pub fn no_such<R: Record>(key: &str) -> Error {
    let kind = R::KIND;
    Error::Msg(format!(
        "no {kind} with name or ID \"{key}\" found: no such {kind}"
    ))
}

fn not_found_as<R: Record>(e: Error, id: &str) -> Error {
    match e {
        Error::Io { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            no_such::<R>(id)
        }
        e => e,
    }
}

/// Name, full id, or unique id prefix lookup with Podman's messages.
pub fn find<'a, R: Record>(all: &'a [R], key: &str) -> Result<&'a R> {
    if let Some(r) = all.iter().find(|r| r.name() == key || r.id() == key) {
        return Ok(r);
    }
    let hex = !key.is_empty() && key.chars().all(|c| c.is_ascii_hexdigit());
    let matches: Vec<&R> = all
        .iter()
        .filter(|r| hex && r.id().starts_with(key))
        .collect();
    match matches[..] {
        [one] => Ok(one),
        [] => Err(no_such::<R>(key)),
        _ => Err(Error::Msg(format!(
            "more than one {} matches \"{key}\" ({} found): use more characters of the ID",
            R::KIND,
            matches.len()
        ))),
    }
}
