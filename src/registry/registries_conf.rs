//! `registries.conf`: the search registries for short names, short-name
//! aliases and `short-name-mode`, which registries are insecure (plain
//! HTTP) or blocked, where their images really are (`location`) and the
//! mirrors pulls try first (`[[registry.mirror]]`, `pull-from-mirror`,
//! `mirror-by-digest-only`), as containers/image's sysregistriesv2.
//!
//! Files are chosen the way Podman chooses them, so a user's existing setup
//! works unchanged: `~/.config/containers/registries.conf` replaces
//! `/etc/containers/registries.conf` when it exists, and the `*.conf` drop-ins of
//! `registries.conf.d` are merged on top in name order. Both the v2 format
//! (`unqualified-search-registries`, `[[registry]]`) and the old v1 tables
//! (`[registries.insecure]`) are read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::{Error, Result};

/// One `[[registry]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryEntry {
    /// What image names it applies to (`host`, `host/namespace`, `*.example.com`).
    pub prefix: String,
    /// Where those images really are; equal to `prefix` unless remapped.
    pub location: String,
    pub insecure: bool,
    pub blocked: bool,
    /// `[[registry.mirror]]`, tried in order before `location` by pulls.
    pub mirrors: Vec<Mirror>,
    /// `mirror-by-digest-only`: mirrors only for `@digest` pulls.
    pub mirror_by_digest_only: bool,
}

/// One `[[registry.mirror]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// Replaces the entry's prefix in the image name.
    pub location: String,
    pub insecure: bool,
    /// `pull-from-mirror`: which pulls may use it.
    pub pull_from: PullFrom,
}

/// `pull-from-mirror`: `all` (default), `digest-only` or `tag-only`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PullFrom {
    #[default]
    All,
    DigestOnly,
    TagOnly,
}

/// `short-name-mode`: what a short name with several search registries
/// does (containers/image's default is permissive).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ShortNameMode {
    /// Several candidates are an error without a terminal to ask on.
    Enforcing,
    /// Every search registry is tried in order.
    #[default]
    Permissive,
    /// As permissive, never asking.
    Disabled,
}

/// Where a pull may fetch an image from, in order: `name` is the image
/// name (`host/path`, no tag) at that place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullSource {
    pub name: String,
    /// A mirror rather than the registry's own location.
    pub mirror: bool,
}

/// The merged content of every registries.conf file read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistriesConf {
    /// `unqualified-search-registries`, in order.
    pub search: Vec<String>,
    pub registries: Vec<RegistryEntry>,
    /// `[aliases]`: short name -> fully qualified name; an empty value
    /// (a drop-in resetting an earlier file's alias) means none.
    pub aliases: BTreeMap<String, String>,
    /// The file each of `aliases` was last set in, for `Resolved "NAME" as
    /// an alias (FILE)`.
    pub alias_files: BTreeMap<String, PathBuf>,
    /// `short-name-mode` when set (the default is permissive).
    pub short_name_mode: Option<ShortNameMode>,
    /// Every file that was read, in order: errors about short names name them.
    pub files: Vec<PathBuf>,
}

#[derive(Deserialize, Default)]
struct FileV2 {
    #[serde(rename = "unqualified-search-registries")]
    search: Option<Vec<String>>,
    #[serde(rename = "short-name-mode")]
    short_name_mode: Option<String>,
    #[serde(default)]
    registry: Vec<EntryV2>,
    #[serde(default)]
    aliases: BTreeMap<String, String>,
    registries: Option<TablesV1>,
}

#[derive(Deserialize)]
struct EntryV2 {
    prefix: Option<String>,
    location: Option<String>,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    blocked: bool,
    #[serde(default, rename = "mirror-by-digest-only")]
    mirror_by_digest_only: bool,
    #[serde(default)]
    mirror: Vec<MirrorV2>,
}

#[derive(Deserialize)]
struct MirrorV2 {
    location: String,
    #[serde(default)]
    insecure: bool,
    #[serde(rename = "pull-from-mirror")]
    pull_from_mirror: Option<String>,
}

#[derive(Deserialize, Default)]
struct TablesV1 {
    search: Option<ListV1>,
    insecure: Option<ListV1>,
    block: Option<ListV1>,
}

#[derive(Deserialize, Default)]
struct ListV1 {
    #[serde(default)]
    registries: Vec<String>,
}

impl RegistriesConf {
    /// Reads the files Podman would read for this user:
    /// `$CONTAINERS_REGISTRIES_CONF` when set replaces the main file (the
    /// system's and user's drop-in directories are still read), else the
    /// user's `registries.conf` replaces the system's.
    pub fn load() -> Result<RegistriesConf> {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let config_home = var("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".config")));
        let user = config_home.map(|d| d.join("containers"));
        let main = var("CONTAINERS_REGISTRIES_CONF").map(PathBuf::from);
        RegistriesConf::load_files(
            main.as_deref(),
            Path::new("/etc/containers"),
            user.as_deref(),
        )
    }

    /// Like [`load`](Self::load) with the two `containers` directories given,
    /// so tests can point them at a temporary directory.
    pub fn load_from(system_dir: &Path, user_dir: Option<&Path>) -> Result<RegistriesConf> {
        RegistriesConf::load_files(None, system_dir, user_dir)
    }

    /// [`load_from`](Self::load_from) with `main`, when given, as the main
    /// file (containers/image's `SystemRegistriesConfPath`).
    pub fn load_files(
        main: Option<&Path>,
        system_dir: &Path,
        user_dir: Option<&Path>,
    ) -> Result<RegistriesConf> {
        let user_file = user_dir.map(|d| d.join("registries.conf"));
        let mut files = Vec::new();
        let mut dropin_dirs = Vec::new();
        if let Some(m) = main {
            files.push(m.to_path_buf());
            dropin_dirs.push(system_dir.join("registries.conf.d"));
            dropin_dirs.extend(user_dir.map(|d| d.join("registries.conf.d")));
        } else {
            match user_file.filter(|f| f.exists()) {
                Some(f) => {
                    files.push(f);
                    dropin_dirs.extend(user_dir.map(|d| d.join("registries.conf.d")));
                }
                None => {
                    files.push(system_dir.join("registries.conf"));
                    dropin_dirs.push(system_dir.join("registries.conf.d"));
                    dropin_dirs.extend(user_dir.map(|d| d.join("registries.conf.d")));
                }
            }
        }
        for dir in dropin_dirs {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut confs: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                .collect();
            confs.sort();
            files.extend(confs);
        }
        let mut conf = RegistriesConf::default();
        for f in files {
            let text = match crate::error::read_capped_text(&f, crate::error::USER_FILE_MAX) {
                Ok(t) => {
                    tracing::debug!("reading {}", f.display());
                    t
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(format!("reading {}", f.display()), &e)),
            };
            conf.merge_text(&text, &f)?;
        }
        Ok(conf)
    }

    /// Parses one file's text.
    pub fn parse(text: &str, path: &Path) -> Result<RegistriesConf> {
        let mut conf = RegistriesConf::default();
        conf.merge_text(text, path)?;
        Ok(conf)
    }

    /// Merges one more file on top: a later file's search list replaces the
    /// earlier one, entries with the same prefix replace earlier ones.
    fn merge_text(&mut self, text: &str, path: &Path) -> Result<()> {
        let file: FileV2 = toml::from_str(text).map_err(|e| Error::ConfigFile {
            path: path.to_path_buf(),
            reason: e.message().to_lowercase(),
        })?;
        self.files.push(path.to_path_buf());
        if let Some(search) = file.search {
            self.search = search;
        }
        let bad = |reason: String| Error::ConfigFile {
            path: path.to_path_buf(),
            reason,
        };
        if let Some(m) = &file.short_name_mode {
            self.short_name_mode = Some(match m.as_str() {
                "enforcing" => ShortNameMode::Enforcing,
                "permissive" => ShortNameMode::Permissive,
                "disabled" => ShortNameMode::Disabled,
                other => {
                    return Err(bad(format!(
                        "invalid short-name-mode {other:?}: use enforcing, permissive or disabled"
                    )))
                }
            });
        }
        for (name, value) in file.aliases {
            self.alias_files.insert(name.clone(), path.to_path_buf());
            self.aliases.insert(name, value);
        }
        for e in file.registry {
            let Some(prefix) = e.prefix.clone().or_else(|| e.location.clone()) else {
                return Err(Error::ConfigFile {
                    path: path.to_path_buf(),
                    reason: "a [[registry]] entry needs a location or a prefix".into(),
                });
            };
            let location = e.location.unwrap_or_else(|| prefix.clone());
            let mut mirrors = Vec::new();
            for m in e.mirror {
                let pull_from = match m.pull_from_mirror.as_deref() {
                    None | Some("") | Some("all") => PullFrom::All,
                    Some("digest-only") => PullFrom::DigestOnly,
                    Some("tag-only") => PullFrom::TagOnly,
                    Some(other) => {
                        return Err(bad(format!(
                            "mirror {}: invalid pull-from-mirror {other:?}: use all, digest-only or tag-only",
                            m.location
                        )))
                    }
                };
                if m.location.is_empty() {
                    return Err(bad(format!(
                        "registry {prefix}: a [[registry.mirror]] needs a location"
                    )));
                }
                mirrors.push(Mirror {
                    location: m.location,
                    insecure: m.insecure,
                    pull_from,
                });
            }
            self.upsert(RegistryEntry {
                prefix,
                location,
                insecure: e.insecure,
                blocked: e.blocked,
                mirrors,
                mirror_by_digest_only: e.mirror_by_digest_only,
            });
        }
        if let Some(v1) = file.registries {
            if let Some(s) = v1.search {
                self.search = s.registries;
            }
            for host in v1.insecure.map(|l| l.registries).unwrap_or_default() {
                self.entry_mut(&host).insecure = true;
            }
            for host in v1.block.map(|l| l.registries).unwrap_or_default() {
                self.entry_mut(&host).blocked = true;
            }
        }
        Ok(())
    }

    fn upsert(&mut self, entry: RegistryEntry) {
        match self
            .registries
            .iter_mut()
            .find(|r| r.prefix == entry.prefix)
        {
            Some(r) => *r = entry,
            None => self.registries.push(entry),
        }
    }

    fn entry_mut(&mut self, host: &str) -> &mut RegistryEntry {
        if let Some(i) = self.registries.iter().position(|r| r.prefix == host) {
            return &mut self.registries[i];
        }
        self.registries.push(RegistryEntry {
            prefix: host.to_string(),
            location: host.to_string(),
            insecure: false,
            blocked: false,
            mirrors: Vec::new(),
            mirror_by_digest_only: false,
        });
        self.registries.last_mut().expect("just pushed")
    }

    /// The registries a short name is tried against, in order.
    pub fn search_registries(&self) -> &[String] {
        &self.search
    }

    /// The entry that applies to `registry/repository`: the longest matching prefix.
    pub fn find(&self, registry: &str, repository: &str) -> Option<&RegistryEntry> {
        let name = if repository.is_empty() {
            registry.to_string()
        } else {
            format!("{registry}/{repository}")
        };
        self.registries
            .iter()
            .filter(|r| prefix_matches(&r.prefix, &name))
            .max_by_key(|r| r.prefix.len())
    }

    /// Whether `registry` is reached over plain HTTP (or HTTPS without
    /// verification): its entry says `insecure`, or it is the `location` of
    /// an insecure entry or of an insecure mirror.
    pub fn is_insecure(&self, registry: &str, repository: &str) -> bool {
        if self.find(registry, repository).is_some_and(|r| r.insecure) {
            return true;
        }
        let name = join(registry, repository);
        self.registries.iter().any(|r| {
            (r.insecure && !r.prefix.starts_with("*.") && prefix_matches(&r.location, &name))
                || r.mirrors
                    .iter()
                    .any(|m| m.insecure && prefix_matches(&m.location, &name))
        })
    }

    /// The places a pull of `name` (`host/path`, no tag or digest) tries,
    /// in order: the entry's mirrors that allow this kind of pull
    /// (`digested`: by `@digest`), then its `location`, each with the
    /// entry's prefix replaced (containers/image's `PullSourcesFromReference`).
    /// Just `name` when no entry matches.
    pub fn pull_sources(&self, name: &str, digested: bool) -> Vec<PullSource> {
        let (registry, repository) = name.split_once('/').unwrap_or((name, ""));
        let Some(entry) = self.find(registry, repository) else {
            return vec![PullSource {
                name: name.to_string(),
                mirror: false,
            }];
        };
        // A wildcard prefix cannot be rewritten: its location is itself.
        let rest = match entry.prefix.strip_prefix("*.") {
            Some(_) => None,
            None => name.strip_prefix(entry.prefix.as_str()),
        };
        let rewrite = |location: &str| match rest {
            Some(rest) => format!("{}{rest}", location.trim_end_matches('/')),
            None => name.to_string(),
        };
        let mut out = Vec::new();
        if !entry.mirror_by_digest_only || digested {
            for m in &entry.mirrors {
                let ok = match m.pull_from {
                    PullFrom::All => true,
                    PullFrom::DigestOnly => digested,
                    PullFrom::TagOnly => !digested,
                };
                if ok {
                    out.push(PullSource {
                        name: rewrite(&m.location),
                        mirror: true,
                    });
                }
            }
        }
        out.push(PullSource {
            name: rewrite(&entry.location),
            mirror: false,
        });
        out
    }

    /// `short-name-mode`, permissive when no file sets it.
    pub fn short_name_mode(&self) -> ShortNameMode {
        self.short_name_mode.unwrap_or_default()
    }

    pub fn is_blocked(&self, registry: &str, repository: &str) -> bool {
        self.find(registry, repository).is_some_and(|r| r.blocked)
    }

    /// The files read, for messages: `"/etc/containers/registries.conf", "..."`.
    pub fn files_display(&self) -> String {
        self.files
            .iter()
            .map(|f| format!("{:?}", f.display().to_string()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn join(registry: &str, repository: &str) -> String {
    if repository.is_empty() {
        registry.to_string()
    } else {
        format!("{registry}/{repository}")
    }
}

/// `host/ns` matches `host/ns` and `host/ns/app`, not `host/nsx`;
/// `*.example.com` matches any subdomain host of example.com.
fn prefix_matches(prefix: &str, name: &str) -> bool {
    if let Some(domain) = prefix.strip_prefix("*.") {
        let host = name.split('/').next().unwrap_or("");
        return host.ends_with(&format!(".{domain}"));
    }
    match name.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/') || prefix.ends_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2: &str = r#"
unqualified-search-registries = ["registry.fedoraproject.org", "docker.io"]
short-name-mode = "enforcing"

[[registry]]
location = "localhost:5000"
insecure = true

[[registry]]
prefix = "example.com/foo"
location = "mirror.local/foo"
blocked = true

[[registry]]
location = "*.internal"
insecure = true

[aliases]
"busybox" = "docker.io/library/busybox"
"#;

    #[test]
    fn parses_v2() {
        let c = RegistriesConf::parse(V2, Path::new("/x/registries.conf")).unwrap();
        assert_eq!(
            c.search_registries(),
            ["registry.fedoraproject.org", "docker.io"]
        );
        assert_eq!(c.short_name_mode(), ShortNameMode::Enforcing);
        assert!(c.is_insecure("localhost:5000", "me/app"));
        assert!(c.is_insecure("localhost:5000", ""));
        assert!(!c.is_insecure("localhost:5001", "me/app"));
        assert!(!c.is_insecure("localhost:50000", "me/app"));
        assert!(c.is_insecure("reg.internal", "a"));
        assert!(!c.is_insecure("internal", "a"));
        assert!(c.is_blocked("example.com", "foo/bar"));
        assert!(!c.is_blocked("example.com", "foobar"));
        assert_eq!(
            c.find("example.com", "foo").unwrap().location,
            "mirror.local/foo"
        );
        assert_eq!(c.aliases["busybox"], "docker.io/library/busybox");
        assert_eq!(c.files, vec![PathBuf::from("/x/registries.conf")]);
    }

    #[test]
    fn mirrors_and_locations_make_the_pull_sources() {
        let c = RegistriesConf::parse(
            r#"
[[registry]]
prefix = "example.com/team"
location = "real.local:5000/people"
[[registry.mirror]]
location = "m1.local/team"
[[registry.mirror]]
location = "m2.local"
pull-from-mirror = "digest-only"
insecure = true

[[registry]]
location = "quay.io"
mirror-by-digest-only = true
[[registry.mirror]]
location = "qm.local"
"#,
            Path::new("r.conf"),
        )
        .unwrap();
        let names = |name: &str, digested: bool| -> Vec<(String, bool)> {
            c.pull_sources(name, digested)
                .into_iter()
                .map(|s| (s.name, s.mirror))
                .collect()
        };
        assert_eq!(
            names("example.com/team/app", false),
            [
                ("m1.local/team/app".to_string(), true),
                ("real.local:5000/people/app".to_string(), false)
            ]
        );
        assert_eq!(
            names("example.com/team/app", true),
            [
                ("m1.local/team/app".to_string(), true),
                ("m2.local/app".to_string(), true),
                ("real.local:5000/people/app".to_string(), false)
            ]
        );
        assert_eq!(
            names("quay.io/a/b", false),
            [("quay.io/a/b".to_string(), false)]
        );
        assert_eq!(
            names("quay.io/a/b", true)[0],
            ("qm.local/a/b".to_string(), true)
        );
        assert_eq!(
            names("other.io/x", false),
            [("other.io/x".to_string(), false)]
        );
        assert!(c.is_insecure("m2.local", "app"));
        assert!(!c.is_insecure("m1.local", "team/app"));
        assert_eq!(c.short_name_mode(), ShortNameMode::Permissive);
        let e = RegistriesConf::parse(
            "[[registry]]\nlocation = \"a.io\"\n[[registry.mirror]]\nlocation = \"m\"\npull-from-mirror = \"sometimes\"\n",
            Path::new("/r.conf"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("parsing /r.conf: ") && e.contains("pull-from-mirror"),
            "{e}"
        );
        let e = RegistriesConf::parse("short-name-mode = \"strict\"\n", Path::new("/r.conf"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("short-name-mode"), "{e}");
    }

    #[test]
    fn parses_v1() {
        let c = RegistriesConf::parse(
            "[registries.search]\nregistries = ['quay.io']\n[registries.insecure]\nregistries = ['localhost:5000']\n[registries.block]\nregistries = ['bad.io']\n",
            Path::new("r.conf"),
        )
        .unwrap();
        assert_eq!(c.search_registries(), ["quay.io"]);
        assert!(c.is_insecure("localhost:5000", "a/b"));
        assert!(c.is_blocked("bad.io", "a"));
    }

    #[test]
    fn bad_file_names_path() {
        let err =
            RegistriesConf::parse("unqualified-search-registries = 3", Path::new("/e/r.conf"))
                .unwrap_err()
                .to_string();
        assert!(err.starts_with("parsing /e/r.conf: "), "{err}");
        assert!(!err.contains('\n'), "{err}");
        let err = RegistriesConf::parse("[[registry]]\ninsecure = true\n", Path::new("/e/r.conf"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("location"), "{err}");
    }

    #[test]
    fn user_file_replaces_system_and_dropins_merge() {
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path().join("etc");
        let user = dir.path().join("home/containers");
        std::fs::create_dir_all(sys.join("registries.conf.d")).unwrap();
        std::fs::write(sys.join("registries.conf"), V2).unwrap();
        std::fs::write(
            sys.join("registries.conf.d/01-a.conf"),
            "[aliases]\n\"alpine\" = \"docker.io/library/alpine\"\n",
        )
        .unwrap();
        std::fs::write(
            sys.join("registries.conf.d/02-b.conf"),
            "unqualified-search-registries = [\"quay.io\"]\n[[registry]]\nlocation = \"localhost:5000\"\ninsecure = false\n",
        )
        .unwrap();
        std::fs::write(sys.join("registries.conf.d/ignored.txt"), "not toml [").unwrap();

        let c = RegistriesConf::load_from(&sys, Some(&user)).unwrap();
        assert_eq!(c.search_registries(), ["quay.io"]);
        assert!(!c.is_insecure("localhost:5000", "x"));
        assert_eq!(c.aliases.len(), 2);
        assert_eq!(c.files.len(), 3);

        std::fs::create_dir_all(&user).unwrap();
        std::fs::write(
            user.join("registries.conf"),
            "unqualified-search-registries = [\"localhost:5000\"]\n",
        )
        .unwrap();
        let c = RegistriesConf::load_from(&sys, Some(&user)).unwrap();
        assert_eq!(c.search_registries(), ["localhost:5000"]);
        assert!(c.aliases.is_empty());
        assert_eq!(c.files, vec![user.join("registries.conf")]);
        assert!(c
            .files_display()
            .contains("home/containers/registries.conf\""));

        let none = RegistriesConf::load_from(&dir.path().join("nope"), None).unwrap();
        assert!(none.search_registries().is_empty());
        assert!(none.files.is_empty());
    }
}
