//! `ps --filter` and `--sort`: which containers to list, in what order.
//! Pure functions over container records.

use crate::state::container::{Container, Status};
use crate::{Error, Result};

/// One `--filter key=value`.
#[derive(Debug, Clone)]
pub enum Filter {
    /// A regular expression searched for in the name (unanchored), as Podman
    /// and Docker match `name=`: `name=^web$` is exactly `web`.
    Name(regex::Regex),
    Id(String),
    Status(String),
    Label(String, Option<String>),
    Ancestor(String),
    Exited(i32),
    /// `pod=NAME|ID`: `ps` turns a name into the pod's full id before
    /// filtering (see [`Filter::resolve_pod`]); matched as an id prefix.
    Pod(String),
}

impl Filter {
    /// For `pod=`: the pod's id from its name or id prefix, by `find`
    /// (None: no such pod, and the filter then matches nothing).
    pub fn resolve_pod(self, find: impl Fn(&str) -> Option<String>) -> Filter {
        match self {
            Filter::Pod(key) => Filter::Pod(find(&key).unwrap_or_else(|| "-".into())),
            f => f,
        }
    }
}

const STATUSES: &[&str] = &[
    "created", "running", "paused", "exited", "stopping", "removing",
];

/// Parses a filter; an unknown key or value is an error naming it.
pub fn parse(spec: &str) -> Result<Filter> {
    let (k, v) = spec
        .split_once('=')
        .ok_or_else(|| Error::msg(format!("invalid filter \"{spec}\": expected key=value")))?;
    let v = v.to_string();
    Ok(match k {
        "name" => Filter::Name(regex::Regex::new(&v).map_err(|e| {
            let why = e.to_string();
            let why = why.lines().last().unwrap_or("").trim();
            Error::msg(format!(
                "invalid filter \"{spec}\": not a regular expression: {}",
                why.strip_prefix("error: ").unwrap_or(why)
            ))
        })?),
        "id" => Filter::Id(v),
        "status" => {
            if !STATUSES.contains(&v.as_str()) {
                return Err(Error::msg(format!(
                    "invalid filter \"{spec}\": status must be one of {}",
                    STATUSES.join(", ")
                )));
            }
            Filter::Status(v)
        }
        "label" => match v.split_once('=') {
            Some((lk, lv)) => Filter::Label(lk.into(), Some(lv.into())),
            None => Filter::Label(v, None),
        },
        "ancestor" => Filter::Ancestor(v),
        "pod" => Filter::Pod(v),
        "exited" => Filter::Exited(v.parse().map_err(|_| {
            Error::msg(format!(
                "invalid filter \"{spec}\": exit code must be a number"
            ))
        })?),
        _ => {
            return Err(Error::msg(format!(
                "invalid filter \"{k}\": use name, id, status, label, ancestor, exited or pod"
            )))
        }
    })
}

fn matches(f: &Filter, c: &Container, status: Status) -> bool {
    match f {
        Filter::Name(n) => n.is_match(&c.name),
        Filter::Id(i) => c.id.starts_with(i.as_str()),
        Filter::Status(s) => status.as_str() == s,
        Filter::Label(k, v) => match (c.config.labels.get(k), v) {
            (Some(_), None) => true,
            (Some(have), Some(want)) => have == want,
            (None, _) => false,
        },
        Filter::Ancestor(a) => {
            c.config.image_id.starts_with(a.as_str())
                || c.config.image_name == *a
                || c.config.image_name.strip_suffix(":latest") == Some(a.as_str())
                || c.config.image_name.rsplit('/').next().is_some_and(|last| {
                    last == a || last.strip_suffix(":latest") == Some(a.as_str())
                })
        }
        Filter::Exited(code) => status == Status::Exited && c.state.exit_code == *code,
        Filter::Pod(id) => !c.config.pod.is_empty() && c.config.pod.starts_with(id.as_str()),
    }
}

/// Whether `c` passes the filters: filters of the same key are alternatives,
/// different keys must all match (as Podman combines them).
pub fn keep(filters: &[Filter], c: &Container, status: Status) -> bool {
    let key = |f: &Filter| std::mem::discriminant(f);
    filters.iter().all(|f| {
        filters
            .iter()
            .filter(|g| key(g) == key(f))
            .any(|g| matches(g, c, status))
    })
}

/// Sorts containers by a `--sort` key.
pub fn sort(list: &mut [&Container], by: &str) -> Result<()> {
    match by {
        "created" | "runningfor" => list.sort_by_key(|c| std::cmp::Reverse(c.created)),
        "id" => list.sort_by(|a, b| a.id.cmp(&b.id)),
        "names" => list.sort_by(|a, b| a.name.cmp(&b.name)),
        "image" => list.sort_by(|a, b| a.config.image_name.cmp(&b.config.image_name)),
        "command" => list.sort_by(|a, b| a.config.args.cmp(&b.config.args)),
        "status" => list.sort_by_key(|c| super::effective_status(c).as_str()),
        other => {
            return Err(Error::msg(format!(
                "invalid option for --sort \"{other}\": use command, created, id, image, names, runningfor or status"
            )))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::container::{Config, State};

    fn c(name: &str, label: Option<(&str, &str)>) -> Container {
        let mut cfg = Config {
            image_name: "localhost/busybox:latest".into(),
            image_id: "abcdef".into(),
            ..Default::default()
        };
        if let Some((k, v)) = label {
            cfg.labels.insert(k.into(), v.into());
        }
        Container {
            version: crate::state::container::RECORD_VERSION,
            id: format!("{name}0000"),
            name: name.into(),
            created: chrono::Utc::now(),
            config: cfg,
            state: State::default(),
        }
    }

    #[test]
    fn parse_and_match() {
        let web = c("web", Some(("app", "x")));
        let f = vec![parse("name=we").unwrap(), parse("label=app=x").unwrap()];
        assert!(keep(&f, &web, Status::Running));
        assert!(!keep(
            &[parse("label=app=y").unwrap()],
            &web,
            Status::Running
        ));
        assert!(keep(
            &[parse("ancestor=busybox").unwrap()],
            &web,
            Status::Running
        ));
        assert!(keep(
            &[parse("ancestor=abc").unwrap()],
            &web,
            Status::Running
        ));
        assert!(keep(
            &[
                parse("status=exited").unwrap(),
                parse("status=running").unwrap()
            ],
            &web,
            Status::Running
        ));
        assert!(!keep(
            &[parse("status=exited").unwrap()],
            &web,
            Status::Running
        ));
        assert!(parse("bogus=1").is_err());
        assert!(parse("status=sleeping").is_err());
        assert!(parse("name").is_err());
    }

    #[test]
    fn name_is_a_regular_expression() {
        let web = c("web", None);
        let webapp = c("webapp", None);
        let name = |v: &str| vec![parse(&format!("name={v}")).unwrap()];
        assert!(keep(&name("^web$"), &web, Status::Running));
        assert!(!keep(&name("^web$"), &webapp, Status::Running));
        assert!(keep(&name("app"), &webapp, Status::Running));
        assert!(keep(&name("^w.b"), &webapp, Status::Running));
        assert!(!keep(&name("^app"), &webapp, Status::Running));
        let e = parse("name=web(").unwrap_err().to_string();
        assert!(e.contains("name=web("), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }
}
