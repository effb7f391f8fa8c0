//! Record directories that appear whole or not at all (volumes, secrets):
//! built under a hidden temporary name, then renamed into place.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{io_err, Result};

/// Prefix of a directory being built; never a record's name (record names
/// start with a letter or a digit).
pub const TMP_PREFIX: &str = ".tmp-";

/// A hidden name in `parent` that no other process picks: `PREFIX<pid>-<random>`.
pub fn private_name(parent: &Path, prefix: &str) -> PathBuf {
    parent.join(format!(
        "{prefix}{}-{}",
        std::process::id(),
        &super::new_id()[..8]
    ))
}

/// Creates `dir` with mode 0700 whatever the umask (an existing one is kept).
pub fn mkdir_private(dir: &Path) -> Result<()> {
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(io_err("chmod", dir)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_err("mkdir", dir)(e)),
    }
}

/// Builds `parent/name` as a 0700 directory: `build` fills a temporary
/// directory, which is then renamed to `name`. On any failure the
/// temporary directory is removed and `name` was never there. The caller
/// holds the lock that keeps names unique (a rename onto an existing
/// non-empty directory fails, so an existing record is never replaced).
pub fn create_dir(
    parent: &Path,
    name: &str,
    build: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    mkdir_private(parent)?;
    let tmp = private_name(parent, TMP_PREFIX);
    let built = (|| {
        mkdir_private(&tmp)?;
        build(&tmp)?;
        let dest = parent.join(name);
        fs::rename(&tmp, &dest).map_err(io_err("rename", &dest))
    })();
    if built.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    built
}

/// The names of the record directories in `dir` (hidden ones left out);
/// none when `dir` does not exist yet.
pub fn names(dir: &Path) -> Result<Vec<String>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("read", dir)(e)),
    };
    Ok(rd
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_or_nothing() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("recs");
        create_dir(&p, "a", |t| {
            fs::write(t.join("f"), "1").map_err(io_err("write", t))
        })
        .unwrap();
        let failed = create_dir(&p, "b", |t| {
            fs::write(t.join("f"), "1").map_err(io_err("write", t))?;
            Err(super::super::Error::Msg("no".into()))
        });
        assert!(failed.is_err());
        // Not over an existing record either.
        assert!(create_dir(&p, "a", |t| fs::write(t.join("g"), "2")
            .map_err(io_err("write", t)))
        .is_err());
        assert_eq!(names(&p).unwrap(), vec!["a".to_string()]);
        let all: Vec<_> = fs::read_dir(&p).unwrap().flatten().collect();
        assert_eq!(all.len(), 1);
        assert_eq!(fs::read_to_string(p.join("a/f")).unwrap(), "1");
        assert!(names(&d.path().join("none")).unwrap().is_empty());
    }
}
