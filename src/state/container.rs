//! Container records: what a container is (its configuration) and what it is
//! doing (its state), one JSON file per container, written atomically.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::config::{Capabilities, Mount, RestartPolicy, Rlimit, SdNotify, SecretUse, UserSpec};
use super::{io_err, replace_existing, sweep_temps, write_json_existing, Error, Lock, Result};

/// The version of the record format `Containers` writes: 2 keeps typed
/// values (`state::config`); 1 (records without `version`) kept the flags
/// as strings and is upgraded when read (`state::record`).
pub const RECORD_VERSION: u32 = 3;

/// The life-cycle states a user sees in `ps` and `inspect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Paused,
    Stopping,
    Exited,
    Removing,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopping => "stopping",
            Status::Exited => "exited",
            Status::Removing => "removing",
        }
    }
}

/// Runtime state of a container.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub status: Status,
    /// Host pid of the container's init process while it runs.
    #[serde(default)]
    pub pid: i32,
    /// When `pid` started, in clock ticks after boot (field 22 of
    /// /proc/PID/stat): with the pid it names the process, so a recycled
    /// pid is never signalled or joined. 0 when not running.
    #[serde(default)]
    pub start_time: u64,
    /// Host pid of the process monitoring the container (supervisor or CLI).
    #[serde(default)]
    pub monitor_pid: i32,
    #[serde(default)]
    pub exit_code: i32,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub restart_count: u32,
    #[serde(default)]
    pub oom_killed: bool,
    /// Which run of the container this is: 1 for its first start, one more
    /// for each start after it (`start`, `restart`, a pod's start), the same
    /// across the restarts of its restart policy. Written only by the
    /// supervisor's record of a first start (`start::start_process`).
    #[serde(default)]
    pub run: u32,
    /// The run that `stop` (or `rm -f`, `pod stop`) asked to end; None
    /// when none ever did. Written only by `stop::mark_stopping`, and never cleared: a
    /// later run has another number, so no write made between the request
    /// and the exit (a start, a restart, a second record of the exit) can
    /// lose it. See `State::stopped_by_user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_requested: Option<u32>,
    /// What the network attach set up (helper pid, addresses).
    #[serde(default)]
    pub network: crate::network::NetworkState,
    /// The container's own cgroup v2 directory, when the user has a
    /// delegated subtree; empty otherwise.
    #[serde(default)]
    pub cgroup: String,
    /// The healthcheck results of this run (reset at each start); None
    /// without a healthcheck.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<super::health::Health>,
}

impl State {
    /// Whether `stop` asked this run to end: then its exit is the user's
    /// doing (Podman's `State.StoppedByUser`, set by its stop and cleared by
    /// the next start), and no restart policy applies to it.
    pub fn stopped_by_user(&self) -> bool {
        self.stop_requested == Some(self.run)
    }
}

/// Which seccomp profile a container runs under. A profile file is read
/// once, at create, and kept here, as Podman keeps it in the container's spec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SeccompChoice {
    /// The built-in default profile (containers/common's allow-list).
    #[default]
    Default,
    /// No filter (`seccomp=unconfined`, or `--privileged`).
    Unconfined,
    /// A Docker/OCI JSON profile: the path given and the text read from it.
    Profile { path: String, json: String },
}

impl SeccompChoice {
    /// How `inspect` names it: `default`, `unconfined` or the profile's path.
    pub fn name(&self) -> &str {
        match self {
            SeccompChoice::Default => "default",
            SeccompChoice::Unconfined => "unconfined",
            SeccompChoice::Profile { path, .. } => path,
        }
    }
}

/// The build process owning a working container: its pid and start time
/// (clock ticks after boot, field 22 of /proc/PID/stat), which together
/// name that process even after its pid is reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Builder {
    pub pid: i32,
    pub start_time: u64,
}

/// Everything fixed at create time.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Config {
    /// Full image id the container was created from.
    pub image_id: String,
    /// The image name as resolved (`localhost/busybox:latest`).
    pub image_name: String,
    /// The image as the user typed it (`busybox`): Podman's `ImageName`.
    /// Empty in records written before it was kept.
    #[serde(default)]
    pub raw_image_name: String,
    /// The process to run: entrypoint followed by command, already resolved.
    pub args: Vec<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub workdir: String,
    /// `--user` or the image's USER, resolved when the process starts.
    #[serde(default)]
    pub user: UserSpec,
    pub hostname: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `--stop-signal`; None is SIGTERM.
    #[serde(default, with = "super::config::signal_name")]
    pub stop_signal: Option<nix::sys::signal::Signal>,
    pub tty: bool,
    pub interactive: bool,
    #[serde(default)]
    pub mounts: Vec<Mount>,
    /// `--secret`s: which secret and where it goes, never its data.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretUse>,
    pub read_only: bool,
    pub privileged: bool,
    #[serde(default)]
    pub capabilities: Capabilities,
    /// `--network`, parsed by `create` (the default left unresolved).
    #[serde(default)]
    pub network: crate::network::mode::NetworkChoice,
    /// `-p` specifications, parsed by `create`.
    #[serde(default)]
    pub publish: Vec<crate::network::ports::PortSpec>,
    /// `-P`: publish every exposed port on a random host port.
    #[serde(default)]
    pub publish_all: bool,
    /// Ports the image EXPOSEs plus `--expose`.
    #[serde(default)]
    pub expose: Vec<String>,
    #[serde(default)]
    pub network_aliases: Vec<String>,
    /// `--add-host host:ip`.
    #[serde(default)]
    pub add_hosts: Vec<String>,
    #[serde(default)]
    pub dns: Vec<String>,
    #[serde(default)]
    pub dns_search: Vec<String>,
    #[serde(default)]
    pub dns_options: Vec<String>,
    /// `--link name[:alias]`.
    #[serde(default)]
    pub links: Vec<String>,
    #[serde(default)]
    pub auto_remove: bool,
    /// `--sdnotify`: conmon (default), container or ignore.
    #[serde(default)]
    pub sdnotify: SdNotify,
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    /// Resource limits (`--memory`, `--cpus`, ...; changed by `update`).
    #[serde(default, skip_serializing_if = "crate::cgroups::Resources::is_empty")]
    pub resources: crate::cgroups::Resources,
    /// `--cgroup-parent`, empty for the default (the delegated subtree).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cgroup_parent: String,
    /// `--cgroups`.
    #[serde(default)]
    pub cgroups: crate::cgroups::CgroupsMode,
    /// The cgroup manager chosen at create (`--cgroup-manager`): who makes
    /// the container's cgroup when it starts.
    #[serde(default)]
    pub cgroup_manager: crate::cgroups::Manager,
    /// `--ulimit`s, in the order given (a later one for a resource wins).
    #[serde(default)]
    pub rlimits: Vec<Rlimit>,
    #[serde(default)]
    pub no_new_privileges: bool,
    /// The seccomp profile chosen at create (`--security-opt seccomp=`).
    #[serde(default)]
    pub seccomp: SeccompChoice,
    /// Full id of the pod the container belongs to (`--pod`); empty when
    /// none. The pod does not list its containers: this field is how they
    /// are found (`pod::members`).
    #[serde(default)]
    pub pod: String,
    /// Whether this is its pod's infra container, the one that holds the
    /// namespaces the others join (Podman's `IsInfra`).
    #[serde(default)]
    pub infra: bool,
    /// `--requires`: full ids of the containers started before this one
    /// (Podman's dependency containers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    /// Set for a `build`'s working container: the build process that owns
    /// it. `ps` hides such containers unless `--external` (Podman's
    /// containers "not controlled by Podman"), and one whose builder is
    /// gone is removed by the next build, `rm` or `system prune`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builder: Option<Builder>,
    /// The healthcheck (`--health-*` or the image's HEALTHCHECK); None
    /// when there is none or it was disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<super::health::HealthConfig>,
    /// `--health-on-failure`.
    #[serde(default)]
    pub health_on_failure: super::health::OnFailure,
    /// `--stop-timeout`: seconds `stop` waits before SIGKILL when no `-t`
    /// is given; None is Podman's 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<u64>,
    /// `--timeout`: seconds the container may run before its supervisor
    /// kills it (SIGKILL); None is no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// `--oom-score-adj`: the container process's /proc/PID/oom_score_adj.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<i32>,
    /// `--cgroupns host`: the host's cgroup namespace rather than a new one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cgroupns_host: bool,
    /// `--log-driver` and `--log-opt`.
    #[serde(default)]
    pub log: LogConfig,
    /// `--init`, `--pid`/`--ipc`/`--uts`, `--group-add`, `--sysctl`,
    /// `--shm-size`, `--umask`, `--annotation`, `--device`.
    #[serde(default)]
    pub extras: super::extras::Extras,
    /// `-a/--attach`: the streams a foreground run connects; None is all
    /// (stdin with -i).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<Attach>,
    /// The command line that created the container, program name first
    /// (Podman's `CreateCommand`): what `generate systemd --new` runs again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub create_command: Vec<String>,
    /// `--pidfile`: where the container's init pid is written at each start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pidfile: Option<PathBuf>,
    /// `--conmon-pidfile`: where the supervisor's pid is written at each
    /// start, besides the container's own `conmon.pid` (Podman's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conmon_pidfile: Option<PathBuf>,
    /// Storage driver holding this container's root filesystem.
    pub driver: String,
    /// Unpacked layer directories of the image, lowest first.
    pub layers: Vec<PathBuf>,
}

/// Where a container's output is kept (`--log-driver`, `--log-opt`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogConfig {
    pub driver: LogDriver,
    /// `--log-opt path=`: the log file; None is the container's own
    /// `userdata/ctr.log`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// `--log-opt max-size=`: bytes; the log is truncated when a record
    /// would take it past this size (conmon's log-size-max).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
    /// `--log-opt tag=`: reported by inspect (`HostConfig.LogConfig.Tag`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// `-a/--attach STREAM`s, as chosen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attach {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

/// `--log-driver`: Podman's drivers that need no journal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogDriver {
    /// `k8s-file` (and Docker's `json-file`, its alias in Podman).
    #[default]
    K8sFile,
    /// No log is kept; `logs` has nothing to show.
    None,
    /// No log is kept; the output goes to the attached caller only.
    Passthrough,
}

impl LogDriver {
    /// The name Podman shows (`HostConfig.LogConfig.Type`).
    pub fn as_str(self) -> &'static str {
        match self {
            LogDriver::K8sFile => "k8s-file",
            LogDriver::None => "none",
            LogDriver::Passthrough => "passthrough",
        }
    }
}

/// One container: identity, configuration and state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Container {
    /// The record format (`RECORD_VERSION` for records written now).
    pub version: u32,
    pub id: String,
    pub name: String,
    pub created: DateTime<Utc>,
    pub config: Config,
    pub state: State,
}

const RECORD: &str = "container.json";

/// The container records below a containers directory.
pub struct Containers {
    dir: PathBuf,
}

impl Containers {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Containers { dir: dir.into() }
    }

    /// The lock every name-changing operation (create, rename, rm) holds.
    pub fn lock(&self) -> Result<Lock> {
        Lock::exclusive(&self.dir.join(".lock"))
    }

    /// The per-container lock every change of a container's record holds
    /// (see `update`). It never recreates the directory of a removed
    /// container: then the error is "no such container".
    pub fn lock_one(&self, id: &str) -> Result<Lock> {
        Lock::exclusive_existing(&self.dir.join(id).join(".lock")).map_err(gone_is_no_such(id))
    }

    pub fn dir_of(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// Writes the record of a new container (`create`; the caller holds
    /// `lock` so that names stay unique). Its directory must not exist; on
    /// failure nothing of it is left. Written as `save` writes.
    pub fn insert(&self, c: &Container) -> Result<()> {
        self.insert_with(c, |_| Ok(()))
    }

    /// `insert`, with `fill` writing the container's own files into its new
    /// directory before the record makes it exist; on any error nothing is
    /// left (a killed create leaves a directory without a record, which
    /// `list_sweeping` removes).
    pub fn insert_with(
        &self,
        c: &Container,
        fill: impl FnOnce(&Path) -> std::io::Result<()>,
    ) -> Result<()> {
        let dir = self.dir.join(&c.id);
        fs::create_dir_all(&self.dir).map_err(io_err("mkdir", &self.dir))?;
        fs::create_dir(&dir).map_err(io_err("mkdir", &dir))?;
        fill(&dir)
            .map_err(io_err("write", &dir))
            .and_then(|()| save(&dir.join(RECORD), c))
            .inspect_err(|_| {
                let _ = fs::remove_dir_all(&dir);
            })
    }

    /// The one way to change a container's record: takes the container's
    /// lock, sweeps temp files a killed writer left, reloads the record,
    /// lets `change` modify it and writes it back atomically (see `save`:
    /// durably unless it is a `--rm` container). `change` runs under the lock,
    /// so side effects that must match the record (freezing, connecting a
    /// network) go inside it; when it fails nothing is written. A removed
    /// container is never recreated: the error is then "no such container".
    pub fn update<T, E: From<Error>>(
        &self,
        id: &str,
        change: impl FnOnce(&mut Container) -> Result<T, E>,
    ) -> Result<T, E> {
        let _lock = self.lock_one(id)?;
        let dir = self.dir.join(id);
        sweep_temps(&dir, RECORD);
        let mut c = self.load(id)?.ok_or_else(|| no_such(id))?;
        let out = change(&mut c)?;
        save(&dir.join(RECORD), &c).map_err(gone_is_no_such(id))?;
        Ok(out)
    }

    /// Directories without a record: a `create` killed before its record
    /// was written. Remove them only while holding `lock` (a `create` in
    /// progress holds it). Returns how many were removed.
    pub fn sweep_unrecorded(&self) -> usize {
        self.scan(true).map_or(0, |(_, swept)| swept)
    }

    /// `list` and `sweep_unrecorded` in one pass over the directory, for
    /// `create` and `prune`, which hold `lock`.
    pub fn list_sweeping(&self) -> Result<Vec<Container>> {
        self.scan(true).map(|(all, _)| all)
    }

    /// Every container with a readable record, oldest first.
    pub fn list(&self) -> Result<Vec<Container>> {
        self.scan(false).map(|(all, _)| all)
    }

    /// Reads every record, oldest first (unreadable ones are skipped); with
    /// `sweep` (only under `lock`) removes the directories that have none
    /// and counts them.
    fn scan(&self, sweep: bool) -> Result<(Vec<Container>, usize)> {
        let (mut out, mut swept) = (Vec::new(), 0);
        let rd = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((out, 0)),
            Err(e) => return Err(io_err("read", &self.dir)(e)),
        };
        for entry in rd.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') {
                continue;
            }
            match self.load(name) {
                Ok(Some(c)) => out.push(c),
                Ok(None)
                    if sweep
                        && entry.path().is_dir()
                        && fs::remove_dir_all(entry.path()).is_ok() =>
                {
                    swept += 1
                }
                _ => {}
            }
        }
        out.sort_by_key(|c| c.created);
        Ok((out, swept))
    }

    /// Reads a record, upgrading a version 1 record (see `state::record`);
    /// `Ok(None)` when there is none. A record of a newer version than
    /// `RECORD_VERSION` is an error naming it.
    pub fn load(&self, id: &str) -> Result<Option<Container>> {
        let path = self.dir.join(id).join(RECORD);
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("read", &path)(e)),
        };
        super::record::decode(&path, &data).map(Some)
    }

    /// The container with this full id (no scan of the other records).
    pub fn get(&self, id: &str) -> Result<Container> {
        self.load(id)?.ok_or_else(|| no_such(id))
    }

    /// Finds a container by exact name, full id or unique id prefix.
    pub fn lookup(&self, name_or_id: &str) -> Result<Container> {
        let all = self.list()?;
        find(&all, name_or_id).cloned()
    }

    /// Removes the record and the container's directory.
    pub fn remove(&self, id: &str) -> Result<()> {
        match self.retire(id)? {
            Some(d) => remove_tree(&d),
            None => Ok(()),
        }
    }

    /// Directories of removed containers whose deletion was cut short
    /// (see `retire`).
    pub fn retired(&self) -> Vec<PathBuf> {
        let Ok(rd) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        rd.flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".removing-"))
            .map(|e| e.path())
            .collect()
    }

    /// Takes the container out of the store at once: its directory is renamed
    /// out of sight (a crash leaves no half-visible container), and from then
    /// on no command sees it and its name is free. Returns where its files
    /// now are, for the caller to delete (None when it was already gone).
    /// Holds the container's lock while it moves, so that no `update` is
    /// half-way.
    pub fn retire(&self, id: &str) -> Result<Option<PathBuf>> {
        let dir = self.dir.join(id);
        let _lock = match self.lock_one(id) {
            Ok(l) => Some(l),
            Err(_) if !dir.exists() => None,
            Err(e) => return Err(e),
        };
        let hidden = self.dir.join(format!(".removing-{id}"));
        if hidden.exists() {
            // Left by a remover that died half-way.
            remove_tree(&hidden)?;
        }
        match fs::rename(&dir, &hidden) {
            Ok(()) => Ok(Some(hidden)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("remove", &dir)(e)),
        }
    }
}

/// Writes a record atomically (readers see the old or the new one, never a
/// mix). A `--rm` container's record is temporary, so it is replaced by
/// rename without fsync (as Podman does): a crash may lose its last change,
/// and the container dies with the machine anyway. Every other record is
/// written durably (temp file, fsync, rename, fsync of the directory).
fn save(path: &Path, c: &Container) -> Result<()> {
    if c.config.auto_remove {
        let data = serde_json::to_vec_pretty(c).map_err(|e| Error::Msg(e.to_string()))?;
        replace_existing(path, &data)
    } else {
        write_json_existing(path, c)
    }
}

/// Podman's error for a container that does not exist (or no longer):
/// `no container with name or ID "KEY" found: no such container`.
pub fn no_such(key: &str) -> Error {
    Error::Msg(format!(
        "no container with name or ID \"{key}\" found: no such container"
    ))
}

/// Maps `NotFound` (the container's directory is gone: it was removed) to
/// `no_such(id)`; other errors pass.
fn gone_is_no_such(id: &str) -> impl FnOnce(Error) -> Error + '_ {
    move |e| match e {
        Error::Io { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            no_such(id)
        }
        e => e,
    }
}

/// Name, id, or unique id prefix lookup with Podman's messages.
pub fn find<'a>(all: &'a [Container], key: &str) -> Result<&'a Container> {
    if let Some(c) = all.iter().find(|c| c.name == key || c.id == key) {
        return Ok(c);
    }
    let matches: Vec<&Container> = if key.chars().all(|c| c.is_ascii_hexdigit()) && !key.is_empty()
    {
        all.iter().filter(|c| c.id.starts_with(key)).collect()
    } else {
        Vec::new()
    };
    match matches.len() {
        1 => Ok(matches[0]),
        0 => Err(no_such(key)),
        n => Err(Error::Msg(format!(
            "more than one container matches \"{key}\" ({n} found): use more characters of the ID"
        ))),
    }
}

/// Container names as Docker allows them.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Removes a directory tree, tolerating its absence.
pub fn remove_tree(dir: &Path) -> Result<()> {
    // A process that is just exiting (a supervisor closing its log) may
    // still add a file while the tree goes: try again briefly.
    let mut tries = 0;
    loop {
        match fs::remove_dir_all(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty && tries < 5 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => return Err(io_err("remove", dir)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: &str, name: &str) -> Container {
        Container {
            version: RECORD_VERSION,
            id: id.into(),
            name: name.into(),
            created: Utc::now(),
            config: Config::default(),
            state: State::default(),
        }
    }

    #[test]
    fn find_by_name_id_and_prefix() {
        let all = vec![c("abc123", "web"), c("abd456", "db")];
        assert_eq!(find(&all, "web").unwrap().id, "abc123");
        assert_eq!(find(&all, "abd456").unwrap().name, "db");
        assert_eq!(find(&all, "abc").unwrap().name, "web");
        let e = find(&all, "ab").unwrap_err().to_string();
        assert!(e.contains("more than one container"), "{e}");
        let e = find(&all, "zzz").unwrap_err().to_string();
        assert_eq!(
            e,
            "no container with name or ID \"zzz\" found: no such container"
        );
    }

    #[test]
    fn names() {
        assert!(valid_name("web-1.a_b"));
        assert!(!valid_name("-web"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name(""));
    }

    #[test]
    fn save_load_list_remove() {
        let d = tempfile::tempdir().unwrap();
        let s = Containers::new(d.path());
        s.insert(&c("aaa", "one")).unwrap();
        s.insert(&c("bbb", "two")).unwrap();
        assert_eq!(s.list().unwrap().len(), 2);
        assert_eq!(s.lookup("two").unwrap().id, "bbb");
        s.remove("aaa").unwrap();
        assert_eq!(s.list().unwrap().len(), 1);
        assert!(!d.path().join("aaa").exists());
    }

    #[test]
    fn update_reloads_and_never_recreates_a_removed_container() {
        let d = tempfile::tempdir().unwrap();
        let s = Containers::new(d.path());
        s.insert(&c("aaa", "one")).unwrap();
        // A copy taken earlier does not matter: update changes what is on disk.
        let stale = s.get("aaa").unwrap();
        s.update::<_, Error>("aaa", |c| {
            c.name = "renamed".into();
            Ok(())
        })
        .unwrap();
        s.update::<_, Error>(&stale.id, |c| {
            c.state.restart_count += 1;
            Ok(())
        })
        .unwrap();
        let now = s.get("aaa").unwrap();
        assert_eq!((now.name.as_str(), now.state.restart_count), ("renamed", 1));
        fs::write(d.path().join("aaa").join(".container.json.tmp99"), b"x").unwrap();
        s.update::<_, Error>("aaa", |_| Ok(())).unwrap();
        assert!(!d.path().join("aaa").join(".container.json.tmp99").exists());
        s.remove("aaa").unwrap();
        let e = s
            .update::<_, Error>("aaa", |c| {
                c.state.restart_count += 1;
                Ok(())
            })
            .unwrap_err();
        assert!(e.to_string().contains("no such container"), "{e}");
        assert!(
            !d.path().join("aaa").exists(),
            "the removed container came back"
        );
        assert!(s.insert(&c("bbb", "two")).is_ok());
        assert!(
            s.insert(&c("bbb", "two")).is_err(),
            "an id is inserted once"
        );
    }

    #[test]
    fn directories_without_a_record_are_swept() {
        let d = tempfile::tempdir().unwrap();
        let s = Containers::new(d.path());
        s.insert(&c("aaa", "one")).unwrap();
        fs::create_dir(d.path().join("bbb")).unwrap();
        fs::write(d.path().join("bbb").join(".container.json.tmp7"), b"x").unwrap();
        assert_eq!(s.sweep_unrecorded(), 1);
        assert!(d.path().join("aaa").exists());
        assert!(!d.path().join("bbb").exists());
        // The same sweep while listing, in one pass; a corrupt record is
        // neither listed nor swept.
        fs::create_dir(d.path().join("ccc")).unwrap();
        fs::create_dir(d.path().join("ddd")).unwrap();
        fs::write(d.path().join("ddd").join(RECORD), b"{").unwrap();
        let all = s.list_sweeping().unwrap();
        assert_eq!(
            all.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["aaa"]
        );
        assert!(!d.path().join("ccc").exists());
        assert!(d.path().join("ddd").exists());
    }

    #[test]
    fn a_retired_container_is_gone_at_once_and_its_files_stay_findable() {
        let d = tempfile::tempdir().unwrap();
        let s = Containers::new(d.path());
        s.insert(&c("aaa", "one")).unwrap();
        let dir = s.retire("aaa").unwrap().expect("was there");
        assert!(s.list().unwrap().is_empty(), "no command sees it");
        assert!(s.lookup("one").is_err(), "its name is free");
        assert_eq!(s.retired(), vec![dir.clone()]);
        // Retiring the same id again, as a later remove would, clears the leftover.
        s.insert(&c("aaa", "one")).unwrap();
        let again = s.retire("aaa").unwrap().expect("was there");
        assert_eq!(again, dir);
        remove_tree(&again).unwrap();
        assert!(s.retired().is_empty());
        assert_eq!(s.retire("zzz").unwrap(), None);
    }
}
