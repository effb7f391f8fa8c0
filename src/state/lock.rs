//! File locks as RAII values: the lock lives exactly as long as the handle.

use std::fs::{File, OpenOptions};
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};

use super::{io_err, Error, Result};

/// An exclusive `flock` on a lock file, released on drop.
pub struct Lock {
    _flock: Flock<File>,
}

impl Lock {
    /// Blocks until the exclusive lock on `path` is held; creates the file.
    pub fn exclusive(path: &Path) -> Result<Lock> {
        Self::take(path, FlockArg::LockExclusive)
    }

    /// Blocks until a shared lock on `path` is held; creates the file.
    pub fn shared(path: &Path) -> Result<Lock> {
        Self::take(path, FlockArg::LockShared)
    }

    /// Blocks until the exclusive lock on `path` is held; creates the file
    /// but not its directory (`NotFound` when the directory is gone).
    pub fn exclusive_existing(path: &Path) -> Result<Lock> {
        Self::hold(open_existing(path)?, path, FlockArg::LockExclusive)
    }

    fn take(path: &Path, arg: FlockArg) -> Result<Lock> {
        Self::hold(open(path)?, path, arg)
    }

    fn hold(file: File, path: &Path, arg: FlockArg) -> Result<Lock> {
        let flock = Flock::lock(file, arg)
            .map_err(|(_, e)| io_err("lock", path)(std::io::Error::from(e)))?;
        Ok(Lock { _flock: flock })
    }

    /// Takes the exclusive lock only if nobody holds it.
    pub fn try_exclusive(path: &Path) -> Result<Option<Lock>> {
        let file = open(path)?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(flock) => Ok(Some(Lock { _flock: flock })),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, e)) => Err(Error::Io {
                op: "lock",
                path: path.to_path_buf(),
                source: e.into(),
            }),
        }
    }
}

/// Opens (creating it and its directory) a lock file.
fn open(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_err("mkdir", dir))?;
    }
    open_existing(path)
}

/// Opens (creating it, not its directory) a lock file.
fn open_existing(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io_err("open", path))
}
