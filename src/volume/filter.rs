//! `volume ls --filter` and `volume prune --filter`: Podman's keys and
//! rules. Filters with the same key match if any matches; different keys
//! must all match; `label` (and `label!`) filters must all match.

use std::collections::BTreeMap;

use super::{Error, Result, Volume};

/// One `--filter key=value`.
#[derive(Debug, Clone)]
pub enum Filter {
    /// A regular expression searched for in the name, as Podman's `name=`.
    Name(regex::Regex),
    Driver(String),
    /// `label=key` or `label=key=value`.
    Label(String, Option<String>),
    /// `label!=key` or `label!=key=value`: volumes without that label.
    NotLabel(String, Option<String>),
    /// `dangling=true`: no container uses it; `false`: some container does.
    Dangling(bool),
    /// `until=TIME`: created before TIME (RFC 3339, Unix seconds, or a Go
    /// duration before now), as Podman's.
    Until(chrono::DateTime<chrono::Utc>),
    /// `since=TIME`: created after TIME (the same forms).
    Since(chrono::DateTime<chrono::Utc>),
}

impl Filter {
    fn key(&self) -> &'static str {
        match self {
            Filter::Name(_) => "name",
            Filter::Driver(_) => "driver",
            Filter::Label(..) => "label",
            Filter::NotLabel(..) => "label!",
            Filter::Dangling(_) => "dangling",
            Filter::Until(_) => "until",
            Filter::Since(_) => "since",
        }
    }
}

fn invalid(spec: &str, why: &str) -> Error {
    Error::Filter {
        spec: spec.to_string(),
        why: why.to_string(),
    }
}

fn label_parts(v: &str) -> (String, Option<String>) {
    match v.split_once('=') {
        Some((k, v)) => (k.to_string(), Some(v.to_string())),
        None => (v.to_string(), None),
    }
}

/// Parses one filter; an unknown key or a bad value is an error naming it.
pub fn parse(spec: &str) -> Result<Filter> {
    if let Some(v) = spec.strip_prefix("label!=") {
        let (k, v) = label_parts(v);
        return Ok(Filter::NotLabel(k, v));
    }
    let (k, v) = spec
        .split_once('=')
        .ok_or_else(|| invalid(spec, "expected key=value"))?;
    Ok(match k {
        "name" => Filter::Name(
            regex::Regex::new(v).map_err(|_| invalid(spec, "not a regular expression"))?,
        ),
        "driver" => Filter::Driver(v.to_string()),
        "label" => {
            let (k, v) = label_parts(v);
            Filter::Label(k, v)
        }
        "dangling" => Filter::Dangling(match v {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return Err(invalid(spec, "dangling takes true or false")),
        }),
        "until" | "since" => {
            let t = crate::format::units::parse_time(v, chrono::Utc::now()).ok_or_else(|| {
                invalid(
                    spec,
                    "use a time like 2026-01-02T15:04:05Z, Unix seconds or a duration like 10m",
                )
            })?;
            if k == "until" {
                Filter::Until(t)
            } else {
                Filter::Since(t)
            }
        }
        _ => {
            return Err(invalid(
                spec,
                "use name, driver, label, label!, dangling, until or since",
            ))
        }
    })
}

/// Parses every `--filter` value.
pub fn parse_all(specs: &[String]) -> Result<Vec<Filter>> {
    specs.iter().map(|s| parse(s)).collect()
}

fn has_label(labels: &BTreeMap<String, String>, k: &str, v: &Option<String>) -> bool {
    match (labels.get(k), v) {
        (Some(_), None) => true,
        (Some(have), Some(want)) => have == want,
        (None, _) => false,
    }
}

fn matches_one(f: &Filter, v: &Volume, in_use: bool) -> bool {
    match f {
        Filter::Name(re) => re.is_match(&v.name),
        Filter::Driver(d) => v.driver == *d,
        Filter::Label(k, val) => has_label(&v.labels, k, val),
        Filter::NotLabel(k, val) => !has_label(&v.labels, k, val),
        Filter::Dangling(d) => *d != in_use,
        Filter::Until(t) => v.created < *t,
        Filter::Since(t) => v.created > *t,
    }
}

/// Whether `v` passes every filter; `in_use` tells whether a container
/// still uses it (the caller knows the containers).
pub fn matches(filters: &[Filter], v: &Volume, in_use: bool) -> bool {
    let mut by_key: BTreeMap<&str, Vec<&Filter>> = BTreeMap::new();
    for f in filters {
        by_key.entry(f.key()).or_default().push(f);
    }
    by_key.iter().all(|(key, fs)| {
        if key.starts_with("label") {
            fs.iter().all(|f| matches_one(f, v, in_use))
        } else {
            fs.iter().any(|f| matches_one(f, v, in_use))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vol(name: &str, labels: &[(&str, &str)]) -> Volume {
        Volume {
            name: name.into(),
            driver: "local".into(),
            created: chrono::Utc::now(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            options: BTreeMap::new(),
            anonymous: false,
            needs_copy_up: true,
            needs_chown: true,
            users: Vec::new(),
        }
    }

    fn f(specs: &[&str]) -> Vec<Filter> {
        parse_all(&specs.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn podman_filter_rules() {
        let a = vol("data", &[("k", "v"), ("x", "")]);
        let b = vol("cache", &[("k", "w")]);
        assert!(matches(&f(&["name=dat"]), &a, false));
        assert!(!matches(&f(&["name=^at"]), &a, false));
        // Same key: any; labels: all.
        assert!(matches(&f(&["name=cache", "name=data"]), &a, false));
        assert!(matches(&f(&["label=k=v", "label=x"]), &a, false));
        assert!(!matches(&f(&["label=k=v", "label=x"]), &b, false));
        assert!(matches(&f(&["label!=k=v"]), &b, false));
        assert!(!matches(&f(&["label!=k"]), &b, false));
        assert!(matches(&f(&["dangling=true"]), &a, false));
        assert!(!matches(&f(&["dangling=true"]), &a, true));
        assert!(matches(&f(&["driver=local", "name=data"]), &a, false));
        assert!(!matches(&f(&["driver=nfs"]), &a, false));
        // Times: before (until) or after (since) a time or a duration ago.
        let mut old = vol("old", &[]);
        old.created = chrono::Utc::now() - chrono::Duration::hours(2);
        assert!(matches(&f(&["until=1h"]), &old, false));
        assert!(!matches(&f(&["until=1h"]), &a, false));
        assert!(matches(&f(&["since=1h"]), &a, false));
        assert!(!matches(&f(&["since=1h"]), &old, false));
        assert!(matches(&f(&["until=2099-01-02T03:04:05Z"]), &a, false));
        assert!(!matches(&f(&["since=4102444800"]), &a, false));
        for bad in ["nope=1", "dangling=maybe", "name=(", "label", "until=soon"] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad) && !e.contains('\n'), "{bad}: {e}");
        }
    }
}
