//! The machine-written short-name alias cache, `short-name-aliases.conf`:
//! when the user picks a registry for a short name at the prompt
//! (`short-name-mode = "enforcing"`), the choice is recorded there and
//! later pulls of that name use it without asking. Same file, place and
//! format as containers/image's (`[aliases]` `"name" = "host/repo"`), so
//! Podman and skiff share what was chosen; its entries take precedence over
//! the `[aliases]` of registries.conf, and an empty value means "no alias".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{Error, Result};

/// The cache's path below the cache directory.
const FILE: &str = "containers/short-name-aliases.conf";

/// Where the cache is for this process, as containers/image places it:
/// `/var/cache/containers/short-name-aliases.conf` for root, else below
/// `$XDG_CACHE_HOME` (`$HOME/.cache` when unset). `None` without a home.
/// Root means the host's root: inside skiff's rootless user namespace the
/// user is uid 0 too (containers/image asks `GetRootlessEUID` likewise).
pub fn default_path() -> Option<PathBuf> {
    if crate::runtime::idmap::host_uid() == 0 {
        return Some(Path::new("/var/cache").join(FILE));
    }
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let cache = var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(cache.join(FILE))
}

#[derive(Serialize, Deserialize, Default)]
struct File {
    #[serde(default)]
    aliases: BTreeMap<String, String>,
}

/// The recorded choices: short name (no tag) -> repository (`host/path`,
/// no tag); an empty value resets an alias.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AliasCache {
    /// The file read (and written by [`record`]).
    pub path: PathBuf,
    pub aliases: BTreeMap<String, String>,
}

impl AliasCache {
    /// Reads the cache at `path`; a missing file is an empty cache. Errors:
    /// a file that cannot be read or does not parse, naming it.
    pub fn load(path: &Path) -> Result<AliasCache> {
        let text = match crate::error::read_capped_text(path, crate::error::USER_FILE_MAX) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), &e)),
        };
        let file: File = toml::from_str(&text).map_err(|e| Error::ConfigFile {
            path: path.to_path_buf(),
            reason: e.message().to_lowercase(),
        })?;
        Ok(AliasCache {
            path: path.to_path_buf(),
            aliases: file.aliases,
        })
    }

    /// The cache at [`default_path`], empty when there is none.
    pub fn load_default() -> Result<AliasCache> {
        match default_path() {
            Some(p) => AliasCache::load(&p),
            None => Ok(AliasCache::default()),
        }
    }
}

/// Records `name` -> `repository` in the cache at `path`, keeping every
/// other entry: under `path.lock` (as containers/image locks it), read,
/// changed and written back atomically, 0600.
pub fn record(path: &Path, name: &str, repository: &str) -> Result<()> {
    let lock_path = PathBuf::from(format!("{}.lock", path.display()));
    if let Some(dir) = path.parent() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), &e))?;
    }
    let _lock = crate::state::lock::Lock::exclusive(&lock_path).map_err(|e| Error::Io {
        context: format!("locking {}", lock_path.display()),
        reason: e.to_string(),
    })?;
    let mut cache = AliasCache::load(path)?;
    cache
        .aliases
        .insert(name.to_string(), repository.to_string());
    let text = toml::to_string(&File {
        aliases: cache.aliases,
    })
    .expect("a map of strings serializes");
    super::auth::write_private(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_keep_other_entries_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cache/containers/short-name-aliases.conf");
        assert!(AliasCache::load(&p).unwrap().aliases.is_empty());
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "[aliases]\n  \"old\" = \"quay.io/x/old\"\n").unwrap();
        record(&p, "me/app", "127.0.0.1:5000/me/app").unwrap();
        let c = AliasCache::load(&p).unwrap();
        assert_eq!(c.aliases["old"], "quay.io/x/old");
        assert_eq!(c.aliases["me/app"], "127.0.0.1:5000/me/app");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let e = AliasCache::load(&dir.path().join("cache"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cache"), "{e}");
        std::fs::write(&p, "[aliases\n").unwrap();
        let e = AliasCache::load(&p).unwrap_err().to_string();
        assert!(e.starts_with(&format!("parsing {}", p.display())), "{e}");
    }
}
