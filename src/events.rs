//! The event journal: one JSON object a line in `RUNROOT/events/events.log`,
//! in the shape of Podman's `events_logger = "file"` journal, appended by the
//! CLI and by supervisors and read by `skiff events`.
//!
//! - A line is appended with one `write` on an `O_APPEND` descriptor, so
//!   concurrent writers never interleave within a line.
//! - Writers hold a shared lock on `events.lock` while appending; the one
//!   that finds the file above [`MAX_SIZE`] takes it exclusively and keeps
//!   the newer half (whole lines) in a new file renamed over the old one, as
//!   Podman's `events_logfile_max_size` rotation does. A reader following
//!   the file notices the new inode and reopens it.
//! - Recording never fails a command: an event that cannot be written is a
//!   warning.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Local, Utc};
use serde::{Deserialize, Serialize};

use crate::Context;

/// Podman's default `events_logfile_max_size`: 1 MB.
pub const MAX_SIZE: u64 = 1_000_000;

/// What kind of object an event is about (Podman's `Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Type {
    Container,
    Image,
    Pod,
    Network,
    Volume,
    System,
}

impl Type {
    /// The lower-case name Podman prints and filters by.
    pub fn as_str(self) -> &'static str {
        match self {
            Type::Container => "container",
            Type::Image => "image",
            Type::Pod => "pod",
            Type::Network => "network",
            Type::Volume => "volume",
            Type::System => "system",
        }
    }

    /// Parses a `type=` filter value; None for an unknown type.
    pub fn parse(s: &str) -> Option<Type> {
        [
            Type::Container,
            Type::Image,
            Type::Pod,
            Type::Network,
            Type::Volume,
            Type::System,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// One journal line, with Podman's keys (`ID`, `Image`, `Name`, `Status`,
/// `Time`, `Type`, `Attributes`, ...). `Time` is RFC 3339 with nanoseconds
/// and the local offset, as Go marshals a `time.Time`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    #[serde(
        rename = "ContainerExitCode",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub exit_code: Option<i32>,
    #[serde(rename = "ID", default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(rename = "Image", default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    #[serde(rename = "Name", default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(rename = "Network", default, skip_serializing_if = "String::is_empty")]
    pub network: String,
    /// What happened: `create`, `start`, `died`, `health_status`, `pull`...
    #[serde(rename = "Status")]
    pub status: String,
    #[serde(rename = "Time")]
    pub time: DateTime<Local>,
    #[serde(rename = "Type")]
    pub kind: Type,
    #[serde(
        rename = "health_status",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub health_status: String,
    #[serde(rename = "Error", default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    #[serde(rename = "PodID", default, skip_serializing_if = "String::is_empty")]
    pub pod_id: String,
    /// A container's labels (plus `image` and `name`), an exec's id...
    #[serde(rename = "Attributes", default)]
    pub attributes: BTreeMap<String, String>,
}

impl Event {
    /// An event of `kind` with `status`, now.
    pub fn new(kind: Type, status: &str) -> Event {
        Event {
            exit_code: None,
            id: String::new(),
            image: String::new(),
            name: String::new(),
            network: String::new(),
            status: status.to_string(),
            time: Local::now(),
            kind,
            health_status: String::new(),
            error: String::new(),
            pod_id: String::new(),
            attributes: BTreeMap::new(),
        }
    }

    /// A container event: its id, name, image, pod and labels, as Podman
    /// fills them.
    pub fn container(c: &crate::state::container::Container, status: &str) -> Event {
        let mut e = Event::new(Type::Container, status);
        e.id = c.id.clone();
        e.name = c.name.clone();
        e.image = c.config.image_name.clone();
        e.pod_id = c.config.pod.clone();
        e.attributes = c.config.labels.clone();
        e.attributes.insert("image".into(), e.image.clone());
        e.attributes.insert("name".into(), e.name.clone());
        e
    }

    /// An event about an object known by id and name (image, pod, network,
    /// volume).
    pub fn object(kind: Type, status: &str, id: &str, name: &str) -> Event {
        let mut e = Event::new(kind, status);
        e.id = id.to_string();
        e.name = name.to_string();
        e
    }

    /// Appends the event to the user's journal; a failure is a warning.
    pub fn record(self, ctx: &Context) {
        record(ctx, &self);
    }

    /// When it happened, in UTC.
    pub fn utc(&self) -> DateTime<Utc> {
        self.time.with_timezone(&Utc)
    }
}

/// The journal of the store whose run root is `runroot`.
pub fn journal_path(runroot: &Path) -> PathBuf {
    runroot.join("events").join("events.log")
}

fn lock_path(runroot: &Path) -> PathBuf {
    runroot.join("events").join("events.lock")
}

/// Appends `e` as one line (see the module notes); never fails the caller.
/// Records nothing when `ctx.events` is off (`--events-backend none`).
pub fn record(ctx: &Context, e: &Event) {
    if !ctx.events {
        return;
    }
    if let Err(err) = append(&ctx.runroot, e, MAX_SIZE) {
        tracing::warn!("cannot record the {} event: {err}", e.status);
    }
}

fn append(runroot: &Path, e: &Event, max: u64) -> std::io::Result<()> {
    let path = journal_path(runroot);
    let dir = path.parent().expect("the journal is in a directory");
    fs::create_dir_all(dir)?;
    let mut line = serde_json::to_vec(e).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let size = {
        let _shared = crate::state::Lock::shared(&lock_path(runroot))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)?;
        // One write: O_APPEND makes it land whole at the end.
        f.write_all(&line)?;
        f.metadata()?.len()
    };
    if size > max {
        rotate(runroot, max)?;
    }
    Ok(())
}

/// Keeps the newer half of the journal (from a line start), when it is
/// still above `max` once the exclusive lock is held.
fn rotate(runroot: &Path, max: u64) -> std::io::Result<()> {
    let _excl = crate::state::Lock::exclusive(&lock_path(runroot))
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let path = journal_path(runroot);
    let data = fs::read(&path)?;
    if (data.len() as u64) <= max {
        return Ok(());
    }
    let half = data.len() - (max as usize) / 2;
    let start = data[half..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(data.len(), |p| half + p + 1);
    let tmp = path.with_extension("log.tmp");
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(&data[start..])?;
    fs::rename(&tmp, &path)
}

/// Parses journal text: one event a line; lines that are not events (a
/// torn last line, another version's keys) are skipped.
pub fn parse_lines(text: &str) -> Vec<Event> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Every event in the journal now, oldest first.
pub fn read_all(runroot: &Path) -> Vec<Event> {
    fs::read_to_string(journal_path(runroot))
        .map(|t| parse_lines(&t))
        .unwrap_or_default()
}

/// Reads the journal as it grows: [`Follower::poll`] gives the complete
/// lines appended since the last call, and starts over when the journal
/// was rotated (a new inode).
pub struct Follower {
    path: PathBuf,
    file: Option<File>,
    ino: u64,
    pos: u64,
    partial: Vec<u8>,
}

impl Follower {
    /// Starts at the end of the journal (`at_end`) or at its beginning.
    pub fn new(runroot: &Path, at_end: bool) -> Follower {
        let mut f = Follower {
            path: journal_path(runroot),
            file: None,
            ino: 0,
            pos: 0,
            partial: Vec::new(),
        };
        if at_end {
            if let Ok(m) = fs::metadata(&f.path) {
                f.ino = m.ino();
                f.pos = m.len();
            }
        }
        f
    }

    /// The events appended since the last call.
    pub fn poll(&mut self) -> Vec<Event> {
        let Ok(m) = fs::metadata(&self.path) else {
            return Vec::new();
        };
        if m.ino() != self.ino || m.len() < self.pos {
            self.file = None;
            self.ino = m.ino();
            self.pos = 0;
            self.partial.clear();
        }
        if self.file.is_none() {
            self.file = File::open(&self.path).ok();
        }
        let Some(f) = self.file.as_mut() else {
            return Vec::new();
        };
        let mut buf = Vec::new();
        if f.seek(SeekFrom::Start(self.pos)).is_err() || f.read_to_end(&mut buf).is_err() {
            return Vec::new();
        }
        self.pos += buf.len() as u64;
        self.partial.extend_from_slice(&buf);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Vec::new();
        };
        let rest = self.partial.split_off(end + 1);
        let done = std::mem::replace(&mut self.partial, rest);
        parse_lines(&String::from_utf8_lossy(&done))
    }

    /// The directory to watch for changes.
    pub fn dir(&self) -> &Path {
        self.path.parent().expect("the journal is in a directory")
    }
}

/// `--filter` of `events`: values of one key are alternatives, different
/// keys must all match (Podman 5).
#[derive(Debug, Default, Clone)]
pub struct Filters {
    by_key: BTreeMap<String, Vec<String>>,
}

/// The keys `events --filter` takes.
const FILTER_KEYS: &[&str] = &[
    "container",
    "event",
    "image",
    "label",
    "network",
    "pod",
    "status",
    "type",
    "volume",
];

impl Filters {
    /// Parses `KEY=VALUE` filters; an unknown key or a missing `=` is
    /// Podman's error.
    pub fn parse(specs: &[String]) -> Result<Filters, String> {
        let mut f = Filters::default();
        for s in specs {
            let (k, v) = s
                .split_once('=')
                .ok_or_else(|| format!("{s} is an invalid filter"))?;
            if !FILTER_KEYS.contains(&k) {
                return Err(format!("{k} is an invalid filter"));
            }
            if k == "type" && Type::parse(v).is_none() {
                return Err(format!("{v} is an invalid event type"));
            }
            let k = if k == "status" { "event" } else { k };
            f.by_key
                .entry(k.to_string())
                .or_default()
                .push(v.to_string());
        }
        Ok(f)
    }

    /// Whether `e` passes every filter.
    pub fn matches(&self, e: &Event) -> bool {
        self.by_key
            .iter()
            .all(|(k, vals)| vals.iter().any(|v| one(k, v, e)))
    }
}

fn one(key: &str, v: &str, e: &Event) -> bool {
    let id_or_name = |kind: Type| e.kind == kind && (e.id.starts_with(v) || e.name == v);
    match key {
        "container" => id_or_name(Type::Container),
        "event" => e.status == v,
        "image" => {
            let img = if e.kind == Type::Image {
                &e.name
            } else {
                &e.image
            };
            img == v
                || img.strip_prefix("localhost/").is_some_and(|i| i == v)
                || img.split(':').next() == Some(v)
                || img
                    .rsplit('/')
                    .next()
                    .is_some_and(|i| i == v || i.split(':').next() == Some(v))
                || (e.kind == Type::Image && e.id.starts_with(v))
        }
        "label" => match v.split_once('=') {
            Some((k, val)) => e.attributes.get(k).is_some_and(|x| x == val),
            None => e.attributes.contains_key(v),
        },
        "network" => e.kind == Type::Network && (e.network == v || e.id.starts_with(v)),
        "pod" => id_or_name(Type::Pod) || (!e.pod_id.is_empty() && e.pod_id.starts_with(v)),
        "type" => e.kind.as_str() == v,
        "volume" => e.kind == Type::Volume && e.name == v,
        _ => false,
    }
}

/// Go's `time.Time.String()` form, as Podman prints event and `ps` times:
/// `2024-05-01 10:11:12.123456789 +0200 CEST` (the zone as `%Z` gives it;
/// `UTC` for a zero offset, as Go names a local zone that is UTC and UTC
/// itself).
pub fn go_time<Tz: chrono::TimeZone>(t: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let nanos = t.timestamp_subsec_nanos();
    let frac = if nanos == 0 {
        String::new()
    } else {
        format!(".{nanos:09}").trim_end_matches('0').to_string()
    };
    let offset = t.format("%z").to_string();
    let zone = t.format("%Z").to_string();
    let zone = if !(zone.starts_with('+') || zone.starts_with('-')) {
        zone
    } else if offset == "+0000" {
        "UTC".to_string()
    } else {
        // chrono knows no abbreviation: Go prints the offset again.
        offset.clone()
    };
    format!(
        "{}{} {} {}",
        t.format("%Y-%m-%d %H:%M:%S"),
        frac,
        offset,
        zone
    )
}

/// Podman's default one-line form of an event (`ToHumanReadable`); ids are
/// cut to 12 characters unless `no_trunc`.
pub fn human(e: &Event, no_trunc: bool) -> String {
    let id = if no_trunc || e.id.len() <= 12 {
        e.id.as_str()
    } else {
        &e.id[..12]
    };
    let t = go_time(&e.time);
    let kind = e.kind.as_str();
    match e.kind {
        Type::Container | Type::Pod => {
            let mut s = format!(
                "{t} {kind} {} {id} (image={}, name={}",
                e.status, e.image, e.name
            );
            if !e.pod_id.is_empty() {
                s.push_str(&format!(", pod_id={}", e.pod_id));
            }
            if !e.health_status.is_empty() {
                s.push_str(&format!(", health_status={}", e.health_status));
            }
            for (k, v) in e
                .attributes
                .iter()
                .filter(|(k, _)| *k != "image" && *k != "name")
            {
                s.push_str(&format!(", {k}={v}"));
            }
            s.push(')');
            s
        }
        Type::Network => format!(
            "{t} {kind} {} {id} (container={id}, name={})",
            e.status, e.network
        ),
        Type::Image => format!("{t} {kind} {} {id} {}", e.status, e.name),
        Type::Volume | Type::System => format!("{t} {kind} {} {}", e.status, e.name),
    }
}

/// The value `--format` templates see: the journal's keys with `Time` in
/// Go's printed form and `TimeNano`, and every optional key present.
pub fn template_value(e: &Event) -> serde_json::Value {
    serde_json::json!({
        "ContainerExitCode": e.exit_code.unwrap_or(0),
        "ID": e.id,
        "Image": e.image,
        "Name": e.name,
        "Network": e.network,
        "Status": e.status,
        "Time": go_time(&e.time),
        "TimeNano": e.time.timestamp_nanos_opt().unwrap_or(0),
        "Type": e.kind.as_str(),
        "HealthStatus": e.health_status,
        "Error": e.error,
        "PodID": e.pod_id,
        "Attributes": e.attributes,
    })
}

/// `--format json`: Podman's CLI shape, `Time` in Unix seconds and
/// `timeNano` in nanoseconds.
pub fn json_line(e: &Event) -> String {
    let mut v = serde_json::to_value(e).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("Time".into(), e.time.timestamp().into());
        o.insert(
            "timeNano".into(),
            e.time.timestamp_nanos_opt().unwrap_or(0).into(),
        );
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: Type, status: &str, name: &str) -> Event {
        let mut e = Event::new(kind, status);
        e.name = name.into();
        e.id = "0123456789abcdef0123".into();
        e
    }

    #[test]
    fn go_time_names_a_zero_offset_utc() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap();
        // A local zone that is UTC: Go prints `+0000 UTC`, never the
        // offset twice.
        assert_eq!(
            go_time(&at("2026-12-02T18:58:12.6599959+00:00")),
            "2026-12-02 18:58:12.6599959 +0000 UTC"
        );
        assert_eq!(
            go_time(&at("2026-12-02T20:58:12+02:00")),
            "2026-12-02 20:58:12 +0200 +0200"
        );
    }

    #[test]
    fn lines_round_trip_with_podman_keys() {
        let mut e = ev(Type::Container, "start", "web");
        e.image = "docker.io/library/busybox:latest".into();
        e.attributes.insert("a".into(), "b".into());
        let line = serde_json::to_string(&e).unwrap();
        for key in [
            "\"ID\":",
            "\"Name\":",
            "\"Status\":\"start\"",
            "\"Type\":\"container\"",
            "\"Time\":",
            "\"Attributes\":",
        ] {
            assert!(line.contains(key), "{key} in {line}");
        }
        assert_eq!(parse_lines(&format!("{line}\n{{torn")), vec![e]);
    }

    #[test]
    fn appends_and_rotates_keeping_the_newer_half() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..200 {
            append(
                dir.path(),
                &ev(Type::Volume, "create", &format!("v{i}")),
                8_000,
            )
            .unwrap();
        }
        let all = read_all(dir.path());
        let size = fs::metadata(journal_path(dir.path())).unwrap().len();
        assert!(size <= 8_000, "{size}");
        assert!(all.len() > 10 && all.len() < 200);
        assert_eq!(all.last().unwrap().name, "v199");
        let names: Vec<usize> = all.iter().map(|e| e.name[1..].parse().unwrap()).collect();
        assert!(names.windows(2).all(|w| w[1] == w[0] + 1), "{names:?}");
    }

    #[test]
    fn follower_sees_new_lines_and_rotation() {
        let dir = tempfile::tempdir().unwrap();
        append(dir.path(), &ev(Type::Volume, "create", "old"), MAX_SIZE).unwrap();
        let mut f = Follower::new(dir.path(), true);
        assert!(f.poll().is_empty());
        append(dir.path(), &ev(Type::Volume, "create", "new"), MAX_SIZE).unwrap();
        let got = f.poll();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].name, "new");
        rotate(dir.path(), 10).unwrap();
        append(dir.path(), &ev(Type::Volume, "remove", "after"), MAX_SIZE).unwrap();
        let got = f.poll();
        assert_eq!(got.last().unwrap().name, "after");
    }

    #[test]
    fn filters() {
        let mut c = ev(Type::Container, "start", "web");
        c.image = "docker.io/library/busybox:latest".into();
        c.attributes.insert("app".into(), "x".into());
        let f = |s: &[&str]| {
            Filters::parse(&s.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
        };
        assert!(f(&["container=web"]).matches(&c));
        assert!(f(&["container=0123"]).matches(&c));
        assert!(!f(&["container=other"]).matches(&c));
        assert!(f(&["event=start", "event=stop"]).matches(&c));
        assert!(!f(&["event=start", "type=image"]).matches(&c));
        assert!(f(&["image=busybox"]).matches(&c));
        assert!(f(&["label=app=x"]).matches(&c));
        assert!(f(&["label=app"]).matches(&c));
        assert!(!f(&["label=app=y"]).matches(&c));
        assert!(Filters::parse(&["bogus=1".into()]).is_err());
        assert!(Filters::parse(&["type=bogus".into()]).is_err());
    }

    #[test]
    fn human_form() {
        let mut c = ev(Type::Container, "start", "web");
        c.image = "busybox".into();
        let s = human(&c, false);
        assert!(
            s.ends_with(" container start 0123456789ab (image=busybox, name=web)"),
            "{s}"
        );
        assert!(human(&c, true).contains("0123456789abcdef0123"));
    }
}
