//! Named volumes with Podman's `local` driver: create, list, inspect,
//! remove, prune, export and import, and what containers will call to use
//! them (`mountpoint`, `backing`, `add_user`/`remove_user`).
//!
//! The records are `state::volume`'s; this module is their only writer.
//! A volume is plain data in `<root>/volumes/<name>/_data`, or, with
//! `--opt type=...`, a description of what to mount in its place when a
//! container starts (a tmpfs, or a bind of `device`), as Podman's local
//! driver does.

pub mod archive;
pub mod filter;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::Utc;
use serde_json::{json, Value};

pub use crate::state::volume::{Volume, Volumes};
use crate::Context;

/// What goes wrong with volumes; each a single line naming the volume.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Podman's wording; `volume rm` exits 1 with it, other commands 125.
    #[error("no such volume {0}")]
    NotFound(String),
    #[error("volume with name {0} already exists: volume already exists")]
    Exists(String),
    #[error("invalid volume name {0:?}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")]
    InvalidName(String),
    #[error("volume {name}: {reason}")]
    Invalid { name: String, reason: String },
    #[error("invalid filter \"{spec}\": {why}")]
    Filter { spec: String, why: String },
    /// Exit 2, as Podman's `volume rm` of a volume in use.
    #[error("volume {name} is being used by the following container(s): {users}: remove them first or use -f")]
    InUse { name: String, users: String },
    /// An archive to import broke a rule (see `archive`).
    #[error("{label}: entry \"{entry}\": {reason}")]
    Archive {
        label: String,
        entry: String,
        reason: String,
    },
    #[error("{op} {}: {reason}", .path.display())]
    Io {
        op: String,
        path: PathBuf,
        reason: String,
    },
    #[error("{0}")]
    State(#[from] crate::state::Error),
}

impl Error {
    /// Podman's exit code: 2 for a volume in use, else 125.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::InUse { .. } => 2,
            _ => crate::error::EXIT_ENGINE,
        }
    }
}

impl From<Error> for crate::Error {
    fn from(e: Error) -> Self {
        crate::Error::with_code(e.exit_code(), e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn io_error(op: &str, path: &Path, e: &std::io::Error) -> Error {
    Error::Io {
        op: op.to_string(),
        path: path.to_path_buf(),
        reason: crate::error::io_reason(e),
    }
}

/// The volume records of this store.
pub fn store(ctx: &Context) -> Volumes {
    Volumes::new(ctx.root.join("volumes"))
}

/// Podman's rule for volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, which
/// also keeps `/`, `..` and hidden names out; at most 255 bytes (a file
/// name).
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 255
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Takes the volumes lock and deletes what a killed create or an
/// unfinished remove left, which only the lock holder may do.
fn lock(vs: &Volumes) -> Result<crate::state::Lock> {
    let l = vs.lock()?;
    for dir in vs.leftovers() {
        if let Err(e) = delete_tree(&dir) {
            tracing::warn!("{e}");
        }
    }
    Ok(l)
}

/// Deletes a volume tree taken out of the store; never descends into a
/// mount point.
fn delete_tree(dir: &Path) -> Result<()> {
    // vfs "storage" is a plain tree: the storage remover without unmounting.
    crate::storage::remove(crate::storage::DriverKind::Vfs, dir).map_err(|e| Error::Io {
        op: "remove".into(),
        path: dir.to_path_buf(),
        reason: e.to_string(),
    })
}

/// What `volume create` asks for.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// None: a random 64-hex name.
    pub name: Option<String>,
    /// "local" (the default when empty).
    pub driver: String,
    pub labels: BTreeMap<String, String>,
    /// `--opt` values as given: `type=tmpfs`, `device=tmpfs`, `o=size=10m`.
    pub options: Vec<String>,
    /// Return an existing volume of that name instead of failing.
    pub ignore_existing: bool,
    /// Made for one container (`-v /path`, an image VOLUME).
    pub anonymous: bool,
}

/// How a volume is backed when a container mounts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backing {
    /// Its own data directory, `mountpoint`.
    Data(PathBuf),
    /// A fresh tmpfs per mount, with these mount options (`size=10m`).
    Tmpfs { options: Vec<String> },
    /// A bind mount of `device`, with these options (`bind`, `ro`...).
    Bind {
        device: PathBuf,
        options: Vec<String>,
    },
}

/// The local driver's option keys Podman accepts and skiff honours.
const OPTION_KEYS: &[&str] = &["type", "device", "o", "uid", "gid", "copy", "nocopy"];

/// Checks `--opt` values as Podman's local driver reads them and returns
/// them as a map with lower-case keys. Types other than tmpfs and bind
/// need a privileged mount and are refused here rather than at start.
pub fn parse_options(name: &str, opts: &[String]) -> Result<BTreeMap<String, String>> {
    let bad = |reason: String| Error::Invalid {
        name: name.to_string(),
        reason,
    };
    let mut out = BTreeMap::new();
    for o in opts {
        let (k, v) = o.split_once('=').unwrap_or((o.as_str(), ""));
        let k = k.to_ascii_lowercase();
        if !OPTION_KEYS.contains(&k.as_str()) {
            return Err(bad(format!(
                "unrecognized volume option \"{k}\": the local driver takes {}",
                OPTION_KEYS.join(", ")
            )));
        }
        if (k == "uid" || k == "gid") && v.parse::<u32>().is_err() {
            return Err(bad(format!("option {k}={v}: not a number")));
        }
        out.insert(k, v.to_string());
    }
    let mount_opts: Vec<&str> = out
        .get("o")
        .map(|o| o.split(',').filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    match out.get("type").map(String::as_str) {
        None => {
            if out.contains_key("device") {
                return Err(bad(
                    "option device needs a type (tmpfs, or none with o=bind)".into(),
                ));
            }
            for m in &mount_opts {
                let (k, v) = m.split_once('=').unwrap_or((m, ""));
                if !matches!(k, "uid" | "gid") || v.parse::<u32>().is_err() {
                    return Err(bad(format!(
                        "mount option {m} needs a type: without one only uid=N and gid=N are accepted"
                    )));
                }
            }
        }
        Some("tmpfs") => {}
        Some("none") | Some("bind") => {
            if !mount_opts.iter().any(|m| matches!(*m, "bind" | "rbind")) {
                return Err(bad(
                    "type=none needs o=bind (or rbind): other mounts need root".into(),
                ));
            }
            let device = out.get("device").map(String::as_str).unwrap_or("");
            let p = Path::new(device);
            if !p.is_absolute() {
                return Err(bad(format!(
                    "device {device:?}: a bind volume needs an absolute host directory"
                )));
            }
            match std::fs::metadata(p) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(bad(format!("device {device}: not a directory"))),
                Err(e) => return Err(bad(crate::error::io_msg("stat", p, &e))),
            }
        }
        Some(t) => {
            return Err(bad(format!(
                "type={t} cannot be mounted without root: use type=tmpfs, or type=none with o=bind"
            )))
        }
    }
    Ok(out)
}

/// `volume create`: checks everything first, then makes the volume whole
/// (see `Volumes::insert`).
pub fn create(ctx: &Context, o: &CreateOptions) -> Result<Volume> {
    let name = match &o.name {
        Some(n) if !valid_name(n) => return Err(Error::InvalidName(n.clone())),
        Some(n) => n.clone(),
        None => crate::state::new_id(),
    };
    let driver = if o.driver.is_empty() {
        "local"
    } else {
        &o.driver
    };
    if driver != "local" {
        return Err(Error::Invalid {
            name,
            reason: format!("volume driver {driver:?} is not available: only local"),
        });
    }
    let options = parse_options(&name, &o.options)?;
    let vs = store(ctx);
    let _l = lock(&vs)?;
    if let Some(v) = vs.load(&name)? {
        if o.ignore_existing {
            return Ok(v);
        }
        return Err(Error::Exists(name));
    }
    let v = Volume {
        name,
        driver: driver.to_string(),
        created: Utc::now(),
        labels: o.labels.clone(),
        needs_copy_up: !options.contains_key("nocopy"),
        needs_chown: true,
        options,
        anonymous: o.anonymous,
        users: Vec::new(),
    };
    vs.insert(&v)?;
    crate::events::Event::object(crate::events::Type::Volume, "create", "", &v.name).record(ctx);
    Ok(v)
}

/// One volume by its full name.
pub fn get(ctx: &Context, name: &str) -> Result<Volume> {
    store(ctx)
        .load(name)?
        .ok_or_else(|| Error::NotFound(name.to_string()))
}

/// Every volume, by name.
pub fn list(ctx: &Context) -> Result<Vec<Volume>> {
    Ok(store(ctx).list()?)
}

/// The host directory a container mounts for `name` (its `_data`).
pub fn mountpoint(ctx: &Context, name: &str) -> PathBuf {
    store(ctx).data_dir(name)
}

/// What to mount for a volume: its data directory, a tmpfs or a bind.
pub fn backing(ctx: &Context, v: &Volume) -> Backing {
    let opts = |v: &Volume| -> Vec<String> {
        v.options
            .get("o")
            .map(|o| {
                o.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    match v.options.get("type").map(String::as_str) {
        Some("tmpfs") => Backing::Tmpfs { options: opts(v) },
        Some("none") | Some("bind") => Backing::Bind {
            device: PathBuf::from(v.options.get("device").cloned().unwrap_or_default()),
            options: opts(v),
        },
        _ => Backing::Data(mountpoint(ctx, &v.name)),
    }
}

/// Container `id` names the volume in its configuration (at create): the
/// volume is then in use until `remove_user`.
pub fn add_user(ctx: &Context, name: &str, id: &str) -> Result<()> {
    update(ctx, name, |v| {
        if !v.users.iter().any(|u| u == id) {
            v.users.push(id.to_string());
        }
    })
}

/// A container prepared the volume's data directory on its first use
/// (copy-up, chown): neither happens again.
pub fn prepared(ctx: &Context, name: &str) -> Result<()> {
    update(ctx, name, |v| {
        v.needs_copy_up = false;
        v.needs_chown = false;
    })
}

/// Container `id` was removed.
pub fn remove_user(ctx: &Context, name: &str, id: &str) -> Result<()> {
    update(ctx, name, |v| v.users.retain(|u| u != id))
}

fn update<T>(ctx: &Context, name: &str, change: impl FnOnce(&mut Volume) -> T) -> Result<T> {
    let vs = store(ctx);
    if vs.load(name)?.is_none() {
        return Err(Error::NotFound(name.to_string()));
    }
    Ok(vs.update(name, change)?)
}

/// Removes a volume and its data. The caller has dealt with its users
/// (`volume rm` refuses while containers that still exist use it, or with
/// `-f` removes them first, as Podman does); the ids left in `users` are
/// of containers already gone.
pub fn remove(ctx: &Context, name: &str) -> Result<()> {
    let vs = store(ctx);
    let _l = lock(&vs)?;
    if vs.load(name)?.is_none() {
        return Err(Error::NotFound(name.to_string()));
    }
    let away = vs.retire(name)?;
    crate::events::Event::object(crate::events::Type::Volume, "remove", "", name).record(ctx);
    delete_tree(&away)
}

/// The JSON `volume inspect` prints, with the keys of Podman's
/// `InspectVolumeData` in its order: Name, Driver, Mountpoint, CreatedAt,
/// Labels, Scope, Options, Anonymous (only when true), MountCount (the
/// running containers that have it mounted, given by the caller, who
/// knows the containers), NeedsCopyUp and NeedsChown (only when true).
pub fn inspect_json(ctx: &Context, v: &Volume, mount_count: usize) -> Value {
    let mut out = serde_json::Map::new();
    let mut put = |k: &str, val: Value| {
        out.insert(k.to_string(), val);
    };
    put("Name", v.name.clone().into());
    put("Driver", v.driver.clone().into());
    put(
        "Mountpoint",
        mountpoint(ctx, &v.name).to_string_lossy().into(),
    );
    put(
        "CreatedAt",
        v.created
            .with_timezone(&chrono::Local)
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
            .into(),
    );
    put("Labels", json!(v.labels));
    put("Scope", "local".into());
    put("Options", json!(v.options));
    if v.anonymous {
        put("Anonymous", true.into());
    }
    put("MountCount", mount_count.into());
    if v.needs_copy_up {
        put("NeedsCopyUp", true.into());
    }
    if v.needs_chown {
        put("NeedsChown", true.into());
    }
    Value::Object(out)
}

/// What a Go template sees of an inspect object: the keys left out when
/// false (Podman's `omitempty`) are there, false, as a Go struct's zero
/// values are; an object with an `Id` also answers `.ID`, as Podman's
/// (the Go field is `ID`, its JSON key `Id`: templates accept both).
pub fn template_view(mut item: Value) -> Value {
    if let Value::Object(m) = &mut item {
        if let Some(id) = m.get("Id").cloned() {
            m.entry("ID").or_insert(id);
        }
        if m.contains_key("network_interface") {
            crate::network::records::add_go_fields(m);
        }
    }
    if item.get("Mountpoint").is_some() {
        if let Value::Object(m) = &mut item {
            for k in ["Anonymous", "NeedsCopyUp", "NeedsChown"] {
                m.entry(k).or_insert(false.into());
            }
        }
    }
    item
}

/// Refuses export and import of a volume whose data is not its own
/// directory (a tmpfs exists only while mounted; a bind is the host's).
fn data_dir(ctx: &Context, v: &Volume) -> Result<PathBuf> {
    match backing(ctx, v) {
        Backing::Data(p) => Ok(p),
        Backing::Tmpfs { .. } => Err(Error::Invalid {
            name: v.name.clone(),
            reason: "a tmpfs volume holds no data outside a running container".into(),
        }),
        Backing::Bind { device, .. } => Err(Error::Invalid {
            name: v.name.clone(),
            reason: format!(
                "a bind volume's data is the host directory {}: archive that instead",
                device.display()
            ),
        }),
    }
}

/// `volume export`: the volume's data as a tar stream written to `out`.
pub fn export<W: Write>(ctx: &Context, name: &str, out: W) -> Result<W> {
    let v = get(ctx, name)?;
    let dir = data_dir(ctx, &v)?;
    archive::export(&dir, out, name)
}

/// `volume export -o FILE`: written next to `path` and renamed into place,
/// so a failure leaves no partial archive.
pub fn export_to_file(ctx: &Context, name: &str, path: &Path) -> Result<()> {
    let v = get(ctx, name)?;
    let dir = data_dir(ctx, &v)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".skiff-partial{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let res = (|| {
        let f = File::create(&tmp).map_err(|e| io_error("create", &tmp, &e))?;
        let mut w = archive::export(&dir, std::io::BufWriter::new(f), name)?;
        w.flush().map_err(|e| io_error("write", &tmp, &e))?;
        std::fs::rename(&tmp, path).map_err(|e| io_error("rename", path, &e))
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// Where `volume import` reads from.
pub enum Source<'a> {
    File(&'a Path),
    Stdin,
}

/// `volume import`: checks the whole archive, then unpacks it into the
/// volume's data (see `archive`). Standard input, or a file that cannot
/// be read twice (a pipe), is first copied to an unnamed file in the
/// volume's own directory.
pub fn import(ctx: &Context, name: &str, src: Source) -> Result<archive::Imported> {
    let v = get(ctx, name)?;
    let dir = data_dir(ctx, &v)?;
    let (mut file, label) = match src {
        Source::File(p) => {
            let f = File::open(p).map_err(|e| io_error("open", p, &e))?;
            let regular = f.metadata().is_ok_and(|m| m.is_file());
            let label = p.display().to_string();
            if regular {
                (f, label)
            } else {
                (spool(&dir, f)?, label)
            }
        }
        Source::Stdin => (
            spool(&dir, std::io::stdin().lock())?,
            "standard input".into(),
        ),
    };
    archive::import(&dir, &mut file, &label)
}

/// Copies `input` to a file that has no name (created next to the data
/// directory, unlinked at once) and returns it, for reading twice.
fn spool(data: &Path, mut input: impl Read) -> Result<File> {
    let parent = data.parent().unwrap_or(data);
    let p = parent.join(format!(
        ".import-{}-{}",
        std::process::id(),
        &crate::state::new_id()[..8]
    ));
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&p)
        .map_err(|e| io_error("create", &p, &e))?;
    let _ = std::fs::remove_file(&p);
    std::io::copy(&mut input, &mut f).map_err(|e| io_error("read", Path::new("-"), &e))?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_podman() {
        for ok in ["data", "a", "0", "my_vol-1.2", "A.b"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "",
            "a/b",
            "..",
            ".",
            ".hidden",
            "../x",
            "-x",
            "_x",
            "a b",
            "a:b",
            &"x".repeat(256),
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn local_driver_options() {
        let o =
            |v: &[&str]| parse_options("v", &v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let m = o(&["type=tmpfs", "device=tmpfs", "o=size=10m"]).unwrap();
        assert_eq!(m.get("o").map(String::as_str), Some("size=10m"));
        assert_eq!(m.get("type").map(String::as_str), Some("tmpfs"));
        let dir = std::env::temp_dir();
        let dev = format!("device={}", dir.display());
        assert!(o(&["type=none", "o=bind", &dev]).is_ok());
        assert!(o(&["Type=none", "o=ro,rbind", &dev]).is_ok());
        assert!(o(&["o=uid=1000,gid=1000"]).is_ok());
        assert!(o(&["nocopy"]).is_ok());
        for bad in [
            &["type=nfs", "device=:/x"][..],
            &["type=none", "o=bind", "device=relative"],
            &["type=none", "o=bind", "device=/nonexistent/skiff"],
            &["type=none", &dev],
            &["device=/x"],
            &["o=size=10m"],
            &["uid=me"],
            &["color=blue"],
        ] {
            let e = o(bad).unwrap_err().to_string();
            assert!(
                e.starts_with("volume v: ") && !e.contains('\n'),
                "{bad:?}: {e}"
            );
        }
    }
}
