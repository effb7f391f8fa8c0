//! `ps --filter` and `--sort`: which containers to list, in what order.
//! Podman's keys and rules (pkg/domain/filters/containers.go): the values
//! of one key are alternatives, except `label` and `label!`, whose values
//! must all hold; different keys must all match.

use chrono::{DateTime, Utc};

use crate::state::container::{Container, Status};
use crate::{Context, Error, Result};

/// What parsing the filters asks of the store: names turned into ids and
/// times once, before any container is matched.
pub trait Lookup {
    /// The id of local image `name`, when it names one.
    fn image_id(&self, name: &str) -> Option<String>;
    /// The id and creation time of container `name` (name or id); an
    /// error naming it when there is none.
    fn container(&self, name: &str) -> Result<(String, DateTime<Utc>)>;
    /// The id of pod `name`, when there is one.
    fn pod_id(&self, name: &str) -> Option<String>;
    /// The name of network `name` (name or id), when there is one.
    fn network(&self, name: &str) -> Option<String>;
}

/// [`Lookup`] in skiff's store.
pub struct Store<'a>(pub &'a Context);

impl Lookup for Store<'_> {
    fn image_id(&self, name: &str) -> Option<String> {
        crate::image::ImageStore::new(self.0)
            .resolve(name)
            .ok()
            .map(|(i, _)| i.id)
    }

    fn container(&self, name: &str) -> Result<(String, DateTime<Utc>)> {
        super::lookup(self.0, name).map(|c| (c.id, c.created))
    }

    fn pod_id(&self, name: &str) -> Option<String> {
        crate::pod::lookup(self.0, name).ok().map(|p| p.id)
    }

    fn network(&self, name: &str) -> Option<String> {
        crate::network::records::load(self.0, name)
            .ok()
            .map(|n| n.name)
    }
}

/// The `--filter`s of one command, grouped by key.
#[derive(Debug, Clone, Default)]
pub struct Filters(Vec<Key>);

/// One key with every value given for it, resolved.
#[derive(Debug, Clone)]
enum Key {
    /// Hex values are id prefixes, others regular expressions (Podman's FilterID).
    Id(Vec<String>),
    /// Regular expressions searched for in the name (unanchored), as Podman
    /// and Docker match `name=`: `name=^web$` is exactly `web`.
    Name(Vec<regex::Regex>),
    Label(Vec<String>),
    NotLabel(Vec<String>),
    Exited(Vec<i32>),
    Status(Vec<String>),
    /// Image ids (resolved names, or the values as given).
    Ancestor(Vec<String>),
    Before(DateTime<Utc>),
    Since(DateTime<Utc>),
    Until(DateTime<Utc>),
    Volume(Vec<String>),
    Health(Vec<String>),
    /// Pod ids (names that name no pod match nothing).
    Pod(Vec<String>),
    Network {
        names: Vec<String>,
        /// `container:X` values: the ids of the containers named.
        containers: Vec<String>,
    },
    RestartPolicy(Vec<String>),
    Command(Vec<regex::Regex>),
}

/// Podman's container states (define.StringToContainerStatus).
const STATES: &[&str] = &[
    "unknown",
    "configured",
    "created",
    "running",
    "stopped",
    "paused",
    "exited",
    "removing",
    "stopping",
];

const RESTART_POLICIES: &[&str] = &["none", "no", "on-failure", "always", "unless-stopped"];

fn regex(spec_key: &str, v: &str) -> Result<regex::Regex> {
    regex::Regex::new(v).map_err(|e| {
        let why = e.to_string();
        let why = why.lines().last().unwrap_or("").trim();
        Error::msg(format!(
            "invalid filter \"{spec_key}={v}\": not a regular expression: {}",
            why.strip_prefix("error: ").unwrap_or(why)
        ))
    })
}

/// Go's `strconv.ParseInt(v, 10, 32)` error, which Podman prints for a bad
/// `exited=` value.
fn exit_code(v: &str) -> Result<i32> {
    v.parse::<i32>().map_err(|e| {
        use std::num::IntErrorKind::*;
        let (shown, why) = match e.kind() {
            PosOverflow | NegOverflow if v.parse::<i64>().is_ok() => {
                ("'\u{FFFD}'", "value out of range")
            }
            _ => ("'\\x00'", "invalid syntax"),
        };
        Error::msg(format!(
            "exited code out of range {shown}: strconv.ParseInt: parsing \"{v}\": {why}"
        ))
    })
}

/// Parses `--filter key=value` specs with Podman's keys and messages: an
/// unknown key is `KEY is an invalid filter`, a spec without `=` is
/// `invalid filter "SPEC"`, a bad value names itself.
pub fn parse(specs: &[String], look: &dyn Lookup) -> Result<Filters> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for spec in specs {
        let (k, v) = spec
            .split_once('=')
            .ok_or_else(|| Error::msg(format!("invalid filter \"{spec}\"")))?;
        match groups.iter_mut().find(|(key, _)| key == k) {
            Some((_, vs)) => vs.push(v.to_string()),
            None => groups.push((k.to_string(), vec![v.to_string()])),
        }
    }
    let mut keys = Vec::new();
    for (k, vs) in groups {
        keys.push(match k.as_str() {
            "id" => Key::Id(vs),
            "name" => Key::Name(
                vs.iter()
                    .map(|v| regex(&k, &v.replace('/', "")))
                    .collect::<Result<_>>()?,
            ),
            "label" => Key::Label(vs),
            "label!" => Key::NotLabel(vs),
            "exited" => Key::Exited(vs.iter().map(|v| exit_code(v)).collect::<Result<_>>()?),
            "status" => {
                if let Some(bad) = vs.iter().find(|v| !STATES.contains(&v.as_str())) {
                    return Err(Error::msg(format!(
                        "unknown container state: {bad}: invalid argument"
                    )));
                }
                Key::Status(
                    vs.into_iter()
                        .map(|v| if v == "stopped" { "exited".into() } else { v })
                        .collect(),
                )
            }
            "ancestor" => Key::Ancestor(
                vs.iter()
                    .map(|v| {
                        look.image_id(v)
                            .unwrap_or_else(|| v.trim_start_matches("sha256:").to_string())
                    })
                    .collect(),
            ),
            "before" | "since" | "until" => {
                let t = if k == "until" {
                    let [v] = vs.as_slice() else {
                        return Err(Error::msg("specify exactly one timestamp for until"));
                    };
                    crate::format::units::parse_time(v, Utc::now()).ok_or_else(|| {
                        Error::msg(format!(
                            "failed to parse value as time or duration: \"{v}\""
                        ))
                    })?
                } else {
                    // The earliest of the containers named, as Podman takes it.
                    let mut t: Option<DateTime<Utc>> = None;
                    for v in &vs {
                        let (_, created) = look.container(v)?;
                        t = Some(t.map_or(created, |t| t.min(created)));
                    }
                    t.unwrap_or_else(Utc::now)
                };
                match k.as_str() {
                    "before" => Key::Before(t),
                    "since" => Key::Since(t),
                    _ => Key::Until(t),
                }
            }
            "volume" => Key::Volume(vs),
            "health" => Key::Health(vs),
            "pod" => Key::Pod(vs.iter().filter_map(|v| look.pod_id(v)).collect()),
            "network" => {
                let mut names = Vec::new();
                let mut containers = Vec::new();
                for v in &vs {
                    match v.strip_prefix("container:") {
                        Some(c) => {
                            if let Ok((id, _)) = look.container(c) {
                                containers.push(id);
                            }
                        }
                        None => names.extend(look.network(v)),
                    }
                }
                Key::Network { names, containers }
            }
            "restart-policy" => {
                let bad: Vec<&str> = vs
                    .iter()
                    .map(String::as_str)
                    .filter(|v| !RESTART_POLICIES.contains(v))
                    .collect();
                if !bad.is_empty() {
                    let what = if bad.len() > 1 {
                        "invalid restart policies"
                    } else {
                        "invalid restart policy"
                    };
                    return Err(Error::msg(format!("{} {what}", bad.join(", "))));
                }
                Key::RestartPolicy(vs)
            }
            "command" => Key::Command(vs.iter().map(|v| regex(&k, v)).collect::<Result<_>>()?),
            _ => return Err(Error::msg(format!("{k} is an invalid filter"))),
        });
    }
    Ok(Filters(keys))
}

impl Filters {
    /// No filter was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `c`, now in `status`, passes every key.
    pub fn keep(&self, c: &Container, status: Status) -> bool {
        self.0.iter().all(|k| matches(k, c, status))
    }
}

/// Podman's label match: `key` (present) or `key=value`; a `*` in the key
/// is a glob over the label's key.
fn label_matches(want: &str, labels: &std::collections::BTreeMap<String, String>) -> bool {
    let (key, value) = want.split_once('=').unwrap_or((want, ""));
    labels.iter().any(|(k, v)| {
        (value.is_empty() || v == value)
            && (k == key || (key.contains('*') && glob_matches(&format!("*{key}*"), k)))
    })
}

/// A shell glob (`*` and `?` only) over the whole of `s`.
fn glob_matches(pattern: &str, s: &str) -> bool {
    let re = regex::escape(pattern)
        .replace("\\*", ".*")
        .replace("\\?", ".");
    regex::Regex::new(&format!("^{re}$")).is_ok_and(|r| r.is_match(s))
}

/// The networks `c` is on or will join (its own state's, then those its
/// configuration names), as `ps` shows them and `network=` matches them.
pub fn networks_of(c: &Container) -> Vec<String> {
    let mut networks: Vec<String> = c.state.network.networks.keys().cloned().collect();
    if let crate::network::mode::Mode::Bridge(names) = crate::network::mode_of(&c.config) {
        for n in names {
            if !networks.contains(&n) {
                networks.push(n);
            }
        }
    }
    networks
}

fn restart_policy(c: &Container) -> &'static str {
    use crate::state::config::RestartPolicy as P;
    match c.config.restart_policy {
        P::No => "no",
        P::Always => "always",
        P::OnFailure { .. } => "on-failure",
        P::UnlessStopped => "unless-stopped",
    }
}

fn matches(k: &Key, c: &Container, status: Status) -> bool {
    match k {
        Key::Id(ids) => ids.iter().any(|want| {
            if want.chars().all(|ch| ch.is_ascii_hexdigit()) {
                c.id.starts_with(&want.to_ascii_lowercase())
            } else {
                regex::Regex::new(want).is_ok_and(|r| r.is_match(&c.id))
            }
        }),
        Key::Name(res) => res.iter().any(|r| r.is_match(&c.name)),
        Key::Label(all) => all.iter().all(|l| label_matches(l, &c.config.labels)),
        Key::NotLabel(all) => !all.iter().any(|l| label_matches(l, &c.config.labels)),
        Key::Exited(codes) => status == Status::Exited && codes.contains(&c.state.exit_code),
        Key::Status(states) => states.iter().any(|s| s == status.as_str()),
        Key::Ancestor(ids) => ids.iter().any(|id| c.config.image_id.contains(id.as_str())),
        Key::Before(t) => c.created < *t,
        Key::Since(t) => c.created > *t,
        Key::Until(t) => c.created < *t,
        Key::Volume(vs) => vs.iter().any(|v| {
            let (source, dest) = v.split_once(':').unwrap_or((v, ""));
            c.config.mounts.iter().any(|m| {
                if dest.is_empty() {
                    m.destination == source || (!m.name.is_empty() && m.name == source)
                } else {
                    m.destination == dest && (m.source == source || m.name == source)
                }
            })
        }),
        Key::Health(states) => c
            .state
            .health
            .as_ref()
            .is_some_and(|h| states.iter().any(|s| s == h.status.as_str())),
        Key::Pod(ids) => !c.config.pod.is_empty() && ids.contains(&c.config.pod),
        Key::Network { names, containers } => match crate::network::mode_of(&c.config) {
            crate::network::mode::Mode::Container(other) => containers
                .iter()
                .any(|id| *id == other || (!other.is_empty() && id.starts_with(&other))),
            _ => networks_of(c).iter().any(|n| names.contains(n)),
        },
        Key::RestartPolicy(ps) => {
            let have = restart_policy(c);
            ps.iter()
                .any(|p| p == have || (p == "none" && have == "no"))
        }
        Key::Command(res) => c
            .config
            .args
            .first()
            .is_some_and(|a| res.iter().any(|r| r.is_match(a))),
    }
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

    /// Names nothing but image `localhost/busybox:latest` (id `abcdef`),
    /// pod `pp` (id `pod1`) and container `old`.
    struct Fake;

    impl Lookup for Fake {
        fn image_id(&self, name: &str) -> Option<String> {
            (name == "busybox").then(|| "abcdef".into())
        }
        fn container(&self, name: &str) -> Result<(String, DateTime<Utc>)> {
            match name {
                "old" => Ok(("0123".into(), DateTime::from_timestamp(1000, 0).unwrap())),
                _ => Err(Error::msg(format!(
                    "no container with name or ID \"{name}\" found: no such container"
                ))),
            }
        }
        fn pod_id(&self, name: &str) -> Option<String> {
            (name == "pp").then(|| "pod1".into())
        }
        fn network(&self, name: &str) -> Option<String> {
            (name == "podman").then(|| name.into())
        }
    }

    fn c(name: &str, label: Option<(&str, &str)>) -> Container {
        let mut cfg = Config {
            image_name: "localhost/busybox:latest".into(),
            image_id: "abcdef".into(),
            args: vec!["sleep".into(), "10".into()],
            ..Default::default()
        };
        if let Some((k, v)) = label {
            cfg.labels.insert(k.into(), v.into());
        }
        Container {
            version: crate::state::container::RECORD_VERSION,
            id: format!("{name}0000"),
            name: name.into(),
            created: DateTime::from_timestamp(2000, 0).unwrap(),
            config: cfg,
            state: State::default(),
        }
    }

    fn f(specs: &[&str]) -> Filters {
        parse(
            &specs.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            &Fake,
        )
        .unwrap()
    }

    fn err(specs: &[&str]) -> String {
        parse(
            &specs.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            &Fake,
        )
        .unwrap_err()
        .to_string()
    }

    #[test]
    fn parse_and_match() {
        let web = c("web", Some(("app", "x")));
        let run = Status::Running;
        assert!(f(&["name=we", "label=app=x"]).keep(&web, run));
        assert!(!f(&["label=app=y"]).keep(&web, run));
        assert!(f(&["ancestor=busybox"]).keep(&web, run));
        assert!(f(&["ancestor=abc"]).keep(&web, run));
        assert!(!f(&["ancestor=fff"]).keep(&web, run));
        assert!(f(&["status=exited", "status=running"]).keep(&web, run));
        assert!(!f(&["status=exited"]).keep(&web, run));
        assert!(f(&["status=stopped"]).keep(&web, Status::Exited));
        assert!(f(&["since=old"]).keep(&web, run));
        assert!(!f(&["before=old"]).keep(&web, run));
        assert!(f(&["until=3000"]).keep(&web, run));
        assert!(!f(&["until=1500"]).keep(&web, run));
        assert!(!f(&["pod=pp"]).keep(&web, run));
        assert!(!f(&["pod=nosuch"]).keep(&web, run));
        assert!(f(&["restart-policy=none"]).keep(&web, run));
        assert!(f(&["command=^sle"]).keep(&web, run));
        assert!(!f(&["command=^sh$"]).keep(&web, run));
        assert!(
            f(&["id=web0"]).keep(&web, run),
            "a regular expression: not hex"
        );
    }

    #[test]
    fn label_values_must_all_hold_and_label_bang_excludes() {
        let mut web = c("web", Some(("app", "x")));
        web.config.labels.insert("tier".into(), "front".into());
        let run = Status::Running;
        assert!(f(&["label=app", "label=tier=front"]).keep(&web, run));
        assert!(!f(&["label=app", "label=tier=back"]).keep(&web, run));
        assert!(f(&["label=ti*"]).keep(&web, run));
        assert!(!f(&["label!=app"]).keep(&web, run));
        assert!(f(&["label!=app=y"]).keep(&web, run));
        assert!(f(&["label!=other"]).keep(&web, run));
    }

    #[test]
    fn errors_are_podmans() {
        assert_eq!(err(&["bogus=1"]), "bogus is an invalid filter");
        assert_eq!(err(&["publish=80"]), "publish is an invalid filter");
        assert_eq!(err(&["nokey"]), "invalid filter \"nokey\"");
        assert_eq!(
            err(&["status=sleeping"]),
            "unknown container state: sleeping: invalid argument"
        );
        assert_eq!(
            err(&["exited=abc"]),
            "exited code out of range '\\x00': strconv.ParseInt: parsing \"abc\": invalid syntax"
        );
        assert_eq!(
            err(&["until=abc"]),
            "failed to parse value as time or duration: \"abc\""
        );
        assert_eq!(
            err(&["before=nosuch"]),
            "no container with name or ID \"nosuch\" found: no such container"
        );
        assert_eq!(
            err(&["restart-policy=bogus"]),
            "bogus invalid restart policy"
        );
    }

    #[test]
    fn name_is_a_regular_expression() {
        let web = c("web", None);
        let webapp = c("webapp", None);
        let name = |v: &str| f(&[&format!("name={v}")]);
        assert!(name("^web$").keep(&web, Status::Running));
        assert!(!name("^web$").keep(&webapp, Status::Running));
        assert!(name("app").keep(&webapp, Status::Running));
        assert!(name("^w.b").keep(&webapp, Status::Running));
        assert!(!name("^app").keep(&webapp, Status::Running));
        let e = err(&["name=web("]);
        assert!(e.contains("name=web("), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }
}
