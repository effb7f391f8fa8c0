//! Secrets with Podman's `file` driver: create (or replace), list,
//! inspect, remove, and what a container will read (`get_data`).
//!
//! The records and data are `state::secret`'s (data 0600 in a 0700
//! directory); this module is their only writer. A secret's data is never
//! printed unless asked for (`inspect --showsecret`).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::Utc;
use serde_json::{json, Value};

pub use crate::state::secret::{Secret, Secrets};
use crate::Context;

/// Podman refuses empty secrets and secrets of 512000 bytes or more.
pub const MAX_SIZE: usize = 512_000;

/// What goes wrong with secrets; each a single line naming the secret.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no secret with name or id {0:?}: no such secret")]
    NotFound(String),
    #[error("secret id prefix {0:?} is ambiguous: give more characters or the name")]
    Ambiguous(String),
    #[error("invalid secret name {0:?}: a name has 1 to 253 characters, none of '/', '=', ',', and is not '.' or '..'")]
    InvalidName(String),
    #[error("secret name {name:?} is already in use by {id}: use --replace or pick another name")]
    NameInUse { name: String, id: String },
    #[error("secret {name}: {reason}")]
    Invalid { name: String, reason: String },
    #[error("invalid filter \"{spec}\": {why}")]
    Filter { spec: String, why: String },
    #[error("{0}")]
    State(#[from] crate::state::Error),
}

impl From<Error> for crate::Error {
    fn from(e: Error) -> Self {
        crate::Error::msg(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The secret records of this store.
pub fn store(ctx: &Context) -> Secrets {
    Secrets::new(ctx.root.join("secrets"))
}

/// Podman's rule for secret names (containers/common `secrets.validateSecretName`):
/// 1 to 253 characters, none of `/`, `=`, `,` (which `--secret NAME,k=v`
/// could not name); `.`, `..` and control characters are refused too: a
/// name is a file's name in containers and is printed in tables.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && !matches!(name, "." | "..")
        && !name.contains(['/', '=', ','])
        && !name.chars().any(char::is_control)
}

/// Where `secret create` reads the data.
pub enum Source<'a> {
    File(&'a Path),
    Stdin,
}

/// Reads a secret's data, at most `MAX_SIZE` bytes; `name` labels errors.
pub fn read_source(name: &str, src: Source) -> Result<Vec<u8>> {
    let bad = |reason: String| Error::Invalid {
        name: name.to_string(),
        reason,
    };
    let mut data = Vec::new();
    let read = match src {
        Source::File(p) => {
            let f = std::fs::File::open(p).map_err(|e| bad(crate::error::io_msg("open", p, &e)))?;
            f.take(MAX_SIZE as u64 + 1).read_to_end(&mut data)
        }
        Source::Stdin => std::io::stdin()
            .lock()
            .take(MAX_SIZE as u64 + 1)
            .read_to_end(&mut data),
    };
    read.map_err(|e| bad(format!("read: {}", crate::error::io_reason(&e))))?;
    if data.is_empty() || data.len() >= MAX_SIZE {
        return Err(bad(format!(
            "secret data must be larger than 0 and less than {MAX_SIZE} bytes"
        )));
    }
    Ok(data)
}

/// What `secret create` asks for.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub name: String,
    /// "file" (the default when empty).
    pub driver: String,
    pub labels: BTreeMap<String, String>,
    /// Replace the data of an existing secret of that name (its id stays).
    pub replace: bool,
}

/// `secret create`: stores `data` under a new id, or with `replace` in
/// place of an existing secret of that name. Everything is checked before
/// anything is written.
pub fn create(ctx: &Context, o: &CreateOptions, data: &[u8]) -> Result<Secret> {
    if !valid_name(&o.name) {
        return Err(Error::InvalidName(o.name.clone()));
    }
    let driver = if o.driver.is_empty() {
        "file"
    } else {
        &o.driver
    };
    if driver != "file" {
        return Err(Error::Invalid {
            name: o.name.clone(),
            reason: format!("secret driver {driver:?} is not available: only file"),
        });
    }
    let ss = store(ctx);
    let _l = ss.lock()?;
    let now = Utc::now();
    let existing = ss.list()?.into_iter().find(|s| s.name == o.name);
    let options: BTreeMap<String, String> =
        [("path".to_string(), ss.dir().to_string_lossy().into_owned())].into();
    match existing {
        Some(old) if o.replace => {
            let s = Secret {
                labels: o.labels.clone(),
                driver_options: options,
                updated: now,
                ..old
            };
            ss.replace(&s, data)?;
            Ok(s)
        }
        Some(old) => Err(Error::NameInUse {
            name: o.name.clone(),
            id: old.id,
        }),
        None => {
            let s = Secret {
                id: crate::state::secret::new_id(),
                name: o.name.clone(),
                driver: driver.to_string(),
                driver_options: options,
                labels: o.labels.clone(),
                created: now,
                updated: now,
            };
            ss.insert(&s, data)?;
            Ok(s)
        }
    }
}

/// Finds a secret by name, full id or unique id prefix (as Podman).
pub fn get(ctx: &Context, name_or_id: &str) -> Result<Secret> {
    let all = store(ctx).list()?;
    if let Some(s) = all
        .iter()
        .find(|s| s.name == name_or_id || s.id == name_or_id)
    {
        return Ok(s.clone());
    }
    let by_prefix: Vec<&Secret> = all
        .iter()
        .filter(|s| !name_or_id.is_empty() && s.id.starts_with(name_or_id))
        .collect();
    match by_prefix.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::NotFound(name_or_id.to_string())),
        _ => Err(Error::Ambiguous(name_or_id.to_string())),
    }
}

/// A secret and its data, for a container to mount or set in its environment.
pub fn get_data(ctx: &Context, name_or_id: &str) -> Result<(Secret, Vec<u8>)> {
    let s = get(ctx, name_or_id)?;
    let data = store(ctx).data(&s.id)?;
    Ok((s, data))
}

/// Every secret, by name.
pub fn list(ctx: &Context) -> Result<Vec<Secret>> {
    Ok(store(ctx).list()?)
}

/// Removes a secret and its data; returns its id.
pub fn remove(ctx: &Context, name_or_id: &str) -> Result<String> {
    let ss = store(ctx);
    let _l = ss.lock()?;
    let s = get(ctx, name_or_id)?;
    ss.retire(&s.id)?;
    Ok(s.id)
}

/// The JSON `secret inspect` prints (Podman's keys); the data only when
/// given (`--showsecret`).
pub fn inspect_json(s: &Secret, data: Option<&[u8]>) -> Value {
    let time = |t: chrono::DateTime<Utc>| {
        t.with_timezone(&chrono::Local)
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
    };
    let mut v = json!({
        "ID": s.id,
        "CreatedAt": time(s.created),
        "UpdatedAt": time(s.updated),
        "Spec": {
            "Name": s.name,
            "Driver": {"Name": s.driver, "Options": s.driver_options},
            "Labels": s.labels,
        },
    });
    if let Some(d) = data {
        v["SecretData"] = String::from_utf8_lossy(d).into_owned().into();
    }
    v
}

/// One `secret ls --filter`: `name=` (a regular expression, as Podman),
/// `id=` (a prefix) or `label=key[=value]`.
#[derive(Debug, Clone)]
pub enum Filter {
    Name(regex::Regex),
    Id(String),
    Label(String, Option<String>),
}

/// Parses one filter; an unknown key is an error naming it.
pub fn parse_filter(spec: &str) -> Result<Filter> {
    let bad = |why: &str| Error::Filter {
        spec: spec.to_string(),
        why: why.to_string(),
    };
    let (k, v) = spec
        .split_once('=')
        .ok_or_else(|| bad("expected key=value"))?;
    Ok(match k {
        "name" => Filter::Name(regex::Regex::new(v).map_err(|_| bad("not a regular expression"))?),
        "id" => Filter::Id(v.to_string()),
        "label" => match v.split_once('=') {
            Some((k, v)) => Filter::Label(k.to_string(), Some(v.to_string())),
            None => Filter::Label(v.to_string(), None),
        },
        _ => return Err(bad("use name, id or label")),
    })
}

/// Whether `s` passes: filters of the same key match if any does, labels
/// must all match, different keys must all match (Podman's rules).
pub fn matches(filters: &[Filter], s: &Secret) -> bool {
    let one = |f: &Filter| match f {
        Filter::Name(re) => re.is_match(&s.name),
        Filter::Id(p) => s.id.starts_with(p.as_str()),
        Filter::Label(k, v) => match (s.labels.get(k), v) {
            (Some(have), Some(want)) => have == want,
            (Some(_), None) => true,
            (None, _) => false,
        },
    };
    // No filter of a kind, or any of that kind matches.
    let any_of = |kind: fn(&Filter) -> bool| {
        let mut group = filters.iter().filter(|f| kind(f)).peekable();
        group.peek().is_none() || group.any(one)
    };
    any_of(|f| matches!(f, Filter::Name(_)))
        && any_of(|f| matches!(f, Filter::Id(_)))
        && filters
            .iter()
            .filter(|f| matches!(f, Filter::Label(..)))
            .all(one)
}

/// Where secrets live, for `info` and the driver's options.
pub fn dir(ctx: &Context) -> PathBuf {
    store(ctx).dir().to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_podman() {
        for ok in ["db", "db.pass", "A-b_c", ".x", "x y", &"x".repeat(253)] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "",
            "a/b",
            "../x",
            "/",
            &"x".repeat(254),
            "a\nb",
            ".",
            "..",
            "a,b",
            "a=b",
        ] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn filters() {
        let now = Utc::now();
        let s = Secret {
            id: "0123456789abcdef012345678".into(),
            name: "dbpass".into(),
            driver: "file".into(),
            driver_options: BTreeMap::new(),
            labels: [("k".to_string(), "v".to_string())].into(),
            created: now,
            updated: now,
        };
        let f = |specs: &[&str]| -> Vec<Filter> {
            specs.iter().map(|s| parse_filter(s).unwrap()).collect()
        };
        assert!(matches(&[], &s));
        assert!(matches(&f(&["name=db"]), &s));
        assert!(matches(&f(&["name=nope", "name=pass$"]), &s));
        assert!(!matches(&f(&["name=^pass"]), &s));
        assert!(matches(&f(&["id=0123", "label=k=v"]), &s));
        assert!(!matches(&f(&["id=0123", "label=k=w"]), &s));
        assert!(!matches(&f(&["id=9"]), &s));
        for bad in ["x=1", "name", "name=("] {
            let e = parse_filter(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }
}
