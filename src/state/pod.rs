//! Pod records: what a pod is (the namespaces its containers share, its
//! published ports, hostname, DNS, exit policy) and which infra container
//! holds those namespaces, one JSON file per pod (`<root>/pods/<id>/pod.json`).
//!
//! A pod does not list its containers: each container's record names its
//! pod, so adding or removing a container writes one record only. The pod's
//! status is computed from its containers' ([`status_of`]), as Podman does.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::container::{self, Container};
use super::records::{Record, Store};
use super::{Error, Result};
use crate::network::ports::PortMapping;

/// The version of the pod record this code writes; a reader meeting a newer
/// one refuses it instead of guessing.
pub const RECORD_VERSION: u32 = 1;

/// The pod records below `<root>/pods`. Pod and container names are one
/// name space: an operation that gives a pod a name holds the containers
/// directory's lock (`Containers::lock`) as well as `Pods::lock`, in that
/// order, and checks [`check_name_free`] under both.
pub type Pods = Store<Pod>;

/// A kernel namespace the containers of a pod can share (`--share`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Namespace {
    Cgroup,
    Ipc,
    Net,
    Pid,
    Uts,
}

impl Namespace {
    /// Every namespace, in Podman's order of its help text.
    pub const ALL: [Namespace; 5] = [
        Namespace::Cgroup,
        Namespace::Ipc,
        Namespace::Net,
        Namespace::Pid,
        Namespace::Uts,
    ];

    /// The OCI runtime spec's type for this namespace.
    pub fn oci_type(self) -> oci_spec::runtime::LinuxNamespaceType {
        use oci_spec::runtime::LinuxNamespaceType as T;
        match self {
            Namespace::Cgroup => T::Cgroup,
            Namespace::Ipc => T::Ipc,
            Namespace::Net => T::Network,
            Namespace::Pid => T::Pid,
            Namespace::Uts => T::Uts,
        }
    }

    /// The name `--share` and `pod inspect`'s SharedNamespaces use.
    pub fn as_str(self) -> &'static str {
        match self {
            Namespace::Cgroup => "cgroup",
            Namespace::Ipc => "ipc",
            Namespace::Net => "net",
            Namespace::Pid => "pid",
            Namespace::Uts => "uts",
        }
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Namespace {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Namespace::ALL
            .into_iter()
            .find(|n| n.as_str() == s)
            .ok_or_else(|| {
                Error::Msg(format!(
                    "invalid kernel namespace to share: {s}. Options are: cgroup, ipc, net, pid, uts or none"
                ))
            })
    }
}

/// Namespaces shared when `--share` is not given: Kubernetes' (and Podman's)
/// default.
pub const DEFAULT_SHARE: [Namespace; 3] = [Namespace::Ipc, Namespace::Net, Namespace::Uts];

/// What a pod shares and whether it has an infra container to hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sharing {
    /// The namespaces the infra container holds and every container joins.
    pub namespaces: BTreeSet<Namespace>,
    /// Whether the pod has an infra container (`--infra`).
    pub infra: bool,
    /// `--share-parent`: the pod's cgroup is the parent of its containers'.
    pub share_parent: bool,
}

impl Default for Sharing {
    fn default() -> Self {
        Sharing {
            namespaces: DEFAULT_SHARE.into_iter().collect(),
            infra: true,
            share_parent: true,
        }
    }
}

/// Turns `--share`, `--infra` and `--share-parent` into what the pod shares,
/// with Podman's rules (`pod create`):
/// - no `--share`: ipc, net and uts;
/// - `--share a,b`: exactly those; `--share +a`: the defaults plus `a`;
/// - `--share ""` or `none`: nothing, and then no infra container unless
///   `--infra` was given explicitly;
/// - `--infra=false` with namespaces to share is an error, as is sharing the
///   cgroup namespace while the pod is the cgroup parent;
/// - an unknown name is an error naming it.
///
/// `infra` is `None` when the user did not give `--infra`.
pub fn parse_share(
    share: Option<&str>,
    infra: Option<bool>,
    share_parent: bool,
) -> Result<Sharing> {
    let nothing = matches!(share, Some("" | "none"));
    let infra = infra.unwrap_or(!nothing);
    if !infra {
        if let Some(s) = share.filter(|_| !nothing) {
            return Err(Error::Msg(format!(
                "cannot set share({s}) namespaces without an infra container"
            )));
        }
        return Ok(Sharing {
            namespaces: BTreeSet::new(),
            infra,
            share_parent,
        });
    }
    let mut namespaces = BTreeSet::new();
    match share {
        None => namespaces.extend(DEFAULT_SHARE),
        Some(s) => {
            let list = match s.strip_prefix('+') {
                Some(rest) => {
                    namespaces.extend(DEFAULT_SHARE);
                    rest
                }
                None => s,
            };
            for word in list.split(',').map(str::trim) {
                if !matches!(word, "" | "none") {
                    namespaces.insert(word.parse::<Namespace>()?);
                }
            }
        }
    }
    if share_parent && namespaces.contains(&Namespace::Cgroup) {
        return Err(Error::Msg(
            "cannot define the pod as the cgroup parent at the same time as joining the infra container's cgroupNS: use --share-parent=false".into(),
        ));
    }
    Ok(Sharing {
        namespaces,
        infra,
        share_parent,
    })
}

/// `--exit-policy`: what happens when the last container (not the infra)
/// of a pod exits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExitPolicy {
    /// The pod, and its infra container, keep running (Podman's default).
    #[default]
    Continue,
    /// The pod stops: its infra container is stopped too.
    Stop,
}

impl ExitPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            ExitPolicy::Continue => "continue",
            ExitPolicy::Stop => "stop",
        }
    }
}

impl FromStr for ExitPolicy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "continue" => Ok(ExitPolicy::Continue),
            "stop" => Ok(ExitPolicy::Stop),
            _ => Err(Error::Msg(format!(
                "invalid pod exit policy: \"{s}\": use continue or stop"
            ))),
        }
    }
}

/// Everything fixed when the pod is created.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PodConfig {
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `--hostname`; empty means the pod's name (see [`Pod::hostname`]).
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub sharing: Sharing,
    #[serde(default)]
    pub exit_policy: ExitPolicy,
    /// Ports published on the pod (`pod create -p`), host ports already
    /// chosen; the infra container's network carries them.
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    /// `--network`: the mode or user-defined networks of the pod's network
    /// namespace, as a container's `--network` values; empty is the default.
    #[serde(default)]
    pub networks: Vec<String>,
    /// `--dns`: name servers, IP addresses.
    #[serde(default)]
    pub dns: Vec<String>,
    #[serde(default)]
    pub dns_search: Vec<String>,
    #[serde(default)]
    pub dns_options: Vec<String>,
    /// `--add-host HOST:IP`, in the container record's form.
    #[serde(default)]
    pub add_hosts: Vec<String>,
    /// The command line that created the pod, program first (Podman's
    /// `CreateCommand`): what `generate systemd --new` runs again; empty
    /// when unknown (`kube play`, older records).
    #[serde(default)]
    pub create_command: Vec<String>,
    /// `--infra-conmon-pidfile`: where the infra container's supervisor
    /// writes its pid at each start (a pod unit's `PIDFile=`); None is the
    /// infra container's own run directory.
    #[serde(default)]
    pub infra_conmon_pidfile: Option<std::path::PathBuf>,
}

/// What changes while the pod lives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodState {
    /// Full id of the infra container; empty until it is created, and for
    /// a pod without one.
    #[serde(default)]
    pub infra_id: String,
}

/// One pod: identity, configuration and state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pod {
    /// The record's format ([`RECORD_VERSION`]).
    pub version: u32,
    /// 64 hex digits.
    pub id: String,
    pub name: String,
    pub created: DateTime<Utc>,
    pub config: PodConfig,
    #[serde(default)]
    pub state: PodState,
}

/// How much of a pod's name its default hostname keeps (kubelet's limit).
const MAX_DEFAULT_HOSTNAME: usize = 63;

impl Pod {
    /// A new pod record with a fresh id, created now. Refuses a name that
    /// containers could not have either.
    pub fn new(name: &str, config: PodConfig) -> Result<Pod> {
        if !container::valid_name(name) {
            return Err(Error::Msg(format!(
                "invalid pod name \"{name}\": names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*"
            )));
        }
        Ok(Pod {
            version: RECORD_VERSION,
            id: super::new_id(),
            name: name.to_string(),
            created: Utc::now(),
            config,
            state: PodState::default(),
        })
    }

    /// The hostname its containers share: `--hostname`, else the pod's
    /// name cut to 63 characters and any `-` or `.` that then ends it, as
    /// kubelet cuts a pod's: a longer name is a valid pod name but no
    /// kernel hostname (at most 64 bytes), and the pod could never start.
    pub fn hostname(&self) -> &str {
        if self.config.hostname.is_empty() {
            let cut = self
                .name
                .char_indices()
                .nth(MAX_DEFAULT_HOSTNAME)
                .map_or(self.name.as_str(), |(i, _)| &self.name[..i]);
            cut.trim_end_matches(['-', '.'])
        } else {
            &self.config.hostname
        }
    }

    /// The infra container's name, as Podman names it: `ID12-infra`.
    pub fn infra_name(&self) -> String {
        format!("{}-infra", &self.id[..12.min(self.id.len())])
    }

    /// Whether containers of this pod join its `ns` namespace.
    pub fn shares(&self, ns: Namespace) -> bool {
        self.config.sharing.namespaces.contains(&ns)
    }
}

impl Record for Pod {
    const KIND: &'static str = "pod";
    const FILE: &'static str = "pod.json";
    fn id(&self) -> &str {
        &self.id
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn created(&self) -> DateTime<Utc> {
        self.created
    }
    fn check(&self) -> Result<()> {
        if self.version > RECORD_VERSION {
            return Err(Error::Msg(format!(
                "pod {}: record version {} is newer than this skiff understands ({RECORD_VERSION}): upgrade skiff",
                self.name, self.version
            )));
        }
        Ok(())
    }
}

/// Refuses `name` when a pod or a container already has it (they share one
/// name space, as in Podman). Call it under both stores' locks.
pub fn check_name_free(name: &str, pods: &[Pod], containers: &[Container]) -> Result<()> {
    let (kind, id) = if let Some(p) = pods.iter().find(|p| p.name == name) {
        ("pod", &p.id)
    } else if let Some(c) = containers.iter().find(|c| c.name == name) {
        ("container", &c.id)
    } else {
        return Ok(());
    };
    Err(Error::Msg(format!(
        "name \"{name}\" is in use by {kind} {}; remove it or pick another name",
        &id[..12.min(id.len())]
    )))
}

/// A pod's status as `pod ps` shows it, computed from its containers'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PodStatus {
    Created,
    Running,
    /// Some containers run, others do not.
    Degraded,
    Paused,
    /// Every container has exited.
    Exited,
    /// Some containers have exited, none runs.
    Stopped,
    #[serde(rename = "Error")]
    Error,
}

impl PodStatus {
    /// The word `pod ps` and `pod inspect` print.
    pub fn as_str(self) -> &'static str {
        match self {
            PodStatus::Created => "Created",
            PodStatus::Running => "Running",
            PodStatus::Degraded => "Degraded",
            PodStatus::Paused => "Paused",
            PodStatus::Exited => "Exited",
            PodStatus::Stopped => "Stopped",
            PodStatus::Error => "Error",
        }
    }
}

/// The pod status for its containers' statuses (the infra container
/// included), with Podman's rules (libpod `createPodStatusResults`): no
/// container is Created; all running is Running, some Degraded; all paused
/// Paused; all exited Exited, some Stopped. A container being stopped still
/// runs; one being removed counts as an error, as in Podman.
pub fn status_of(containers: &[container::Status]) -> PodStatus {
    use container::Status as S;
    let n = containers.len();
    let count = |f: fn(&S) -> bool| containers.iter().filter(|s| f(s)).count();
    let running = count(|s| matches!(s, S::Running | S::Stopping));
    let paused = count(|s| *s == S::Paused);
    let exited = count(|s| *s == S::Exited);
    let errored = count(|s| *s == S::Removing);
    match () {
        _ if n == 0 => PodStatus::Created,
        _ if running == n => PodStatus::Running,
        _ if running > 0 => PodStatus::Degraded,
        _ if paused == n => PodStatus::Paused,
        _ if exited == n => PodStatus::Exited,
        _ if exited > 0 => PodStatus::Stopped,
        _ if errored > 0 => PodStatus::Error,
        _ => PodStatus::Created,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::records::find;
    use container::Status as S;
    use std::fs;

    fn ns(list: &[Namespace]) -> BTreeSet<Namespace> {
        list.iter().copied().collect()
    }

    #[test]
    fn share_defaults_to_ipc_net_uts_with_infra() {
        let s = parse_share(None, None, true).unwrap();
        assert_eq!(s.namespaces, ns(&DEFAULT_SHARE));
        assert!(s.infra && s.share_parent);
        assert_eq!(s, Sharing::default());
    }

    #[test]
    fn share_lists_replace_the_default_and_plus_adds_to_it() {
        use Namespace::*;
        assert_eq!(
            parse_share(Some("net"), None, true).unwrap().namespaces,
            ns(&[Net])
        );
        assert_eq!(
            parse_share(Some("ipc,uts,net"), None, true)
                .unwrap()
                .namespaces,
            ns(&[Ipc, Net, Uts])
        );
        assert_eq!(
            parse_share(Some("+pid"), None, true).unwrap().namespaces,
            ns(&[Ipc, Net, Pid, Uts])
        );
        let s = parse_share(Some("+cgroup"), None, false).unwrap();
        assert_eq!(s.namespaces, ns(&[Cgroup, Ipc, Net, Uts]));
    }

    #[test]
    fn sharing_nothing_means_no_infra_unless_asked_for() {
        for nothing in ["", "none"] {
            let s = parse_share(Some(nothing), None, true).unwrap();
            assert!(s.namespaces.is_empty() && !s.infra, "{nothing:?}");
            let s = parse_share(Some(nothing), Some(true), true).unwrap();
            assert!(s.namespaces.is_empty() && s.infra, "{nothing:?}");
        }
        let s = parse_share(None, Some(false), true).unwrap();
        assert!(s.namespaces.is_empty() && !s.infra);
    }

    #[test]
    fn share_errors_name_the_problem() {
        let e = parse_share(Some("net,mnt"), None, true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid kernel namespace to share: mnt. Options are: cgroup, ipc, net, pid, uts or none"
        );
        let e = parse_share(Some("net"), Some(false), true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot set share(net) namespaces without an infra container"
        );
        let e = parse_share(Some("cgroup,net"), None, true).unwrap_err();
        assert!(e.to_string().contains("cgroup parent"), "{e}");
    }

    #[test]
    fn exit_policy_parses_podman_words() {
        assert_eq!("stop".parse::<ExitPolicy>().unwrap(), ExitPolicy::Stop);
        assert_eq!(
            "continue".parse::<ExitPolicy>().unwrap(),
            ExitPolicy::Continue
        );
        assert_eq!(ExitPolicy::default(), ExitPolicy::Continue);
        let e = "halt".parse::<ExitPolicy>().unwrap_err().to_string();
        assert!(e.contains("\"halt\""), "{e}");
    }

    #[test]
    fn status_follows_podman() {
        assert_eq!(status_of(&[]), PodStatus::Created);
        assert_eq!(status_of(&[S::Running, S::Running]), PodStatus::Running);
        assert_eq!(status_of(&[S::Running, S::Exited]), PodStatus::Degraded);
        assert_eq!(status_of(&[S::Running, S::Created]), PodStatus::Degraded);
        assert_eq!(status_of(&[S::Paused, S::Paused]), PodStatus::Paused);
        assert_eq!(status_of(&[S::Exited, S::Exited]), PodStatus::Exited);
        assert_eq!(status_of(&[S::Exited, S::Created]), PodStatus::Stopped);
        assert_eq!(status_of(&[S::Paused, S::Created]), PodStatus::Created);
        assert_eq!(status_of(&[S::Removing, S::Created]), PodStatus::Error);
        assert_eq!(status_of(&[S::Stopping]), PodStatus::Running);
        assert_eq!(PodStatus::Degraded.as_str(), "Degraded");
    }

    fn pod(name: &str) -> Pod {
        Pod::new(name, PodConfig::default()).unwrap()
    }

    #[test]
    fn new_pods_have_ids_hostnames_and_infra_names() {
        let p = pod("app");
        assert_eq!(p.id.len(), 64);
        assert_eq!(p.version, RECORD_VERSION);
        assert_eq!(p.hostname(), "app");
        assert_eq!(p.infra_name(), format!("{}-infra", &p.id[..12]));
        assert!(p.shares(Namespace::Net) && !p.shares(Namespace::Pid));
        let mut q = pod("app2");
        q.config.hostname = "box".into();
        assert_eq!(q.hostname(), "box");
        let long = format!("{}-{}", "a".repeat(62), "b".repeat(40));
        assert_eq!(pod(&long).hostname(), "a".repeat(62));
        let e = Pod::new("-bad", PodConfig::default()).unwrap_err();
        assert!(e.to_string().contains("invalid pod name \"-bad\""), "{e}");
    }

    #[test]
    fn pod_and_container_names_do_not_collide() {
        let pods = vec![pod("app")];
        let c = Container {
            version: crate::state::container::RECORD_VERSION,
            id: "f".repeat(64),
            name: "web".into(),
            created: Utc::now(),
            config: Default::default(),
            state: Default::default(),
        };
        let containers = vec![c];
        assert!(check_name_free("other", &pods, &containers).is_ok());
        let e = check_name_free("web", &pods, &containers).unwrap_err();
        assert_eq!(
            e.to_string(),
            "name \"web\" is in use by container ffffffffffff; remove it or pick another name"
        );
        let e = check_name_free("app", &pods, &containers).unwrap_err();
        assert!(e.to_string().contains("in use by pod"), "{e}");
    }

    #[test]
    fn records_round_trip_with_every_field() {
        let d = tempfile::tempdir().unwrap();
        let pods = Pods::new(d.path());
        let mut p = pod("app");
        p.config = PodConfig {
            labels: [("team".to_string(), "a".to_string())].into(),
            hostname: "h".into(),
            sharing: parse_share(Some("+pid"), None, true).unwrap(),
            exit_policy: ExitPolicy::Stop,
            ports: vec![PortMapping {
                host_ip: "127.0.0.1".into(),
                host_port: 8080,
                container_port: 80,
                protocol: "tcp".into(),
            }],
            networks: vec!["net1".into()],
            dns: vec!["1.1.1.1".into()],
            dns_search: vec!["example.com".into()],
            dns_options: vec!["ndots:2".into()],
            add_hosts: vec!["db:10.0.0.2".into()],
            create_command: vec!["skiff".into(), "pod".into(), "create".into()],
            infra_conmon_pidfile: Some("/run/p.pid".into()),
        };
        pods.insert(&p).unwrap();
        assert_eq!(pods.get(&p.id).unwrap(), p);
        let text = fs::read_to_string(d.path().join(&p.id).join("pod.json")).unwrap();
        assert!(text.contains("\"namespaces\": [\n"), "{text}");
        assert!(text.contains("\"exit_policy\": \"stop\""), "{text}");
        pods.update::<_, Error>(&p.id, |p| {
            p.version = RECORD_VERSION + 1;
            Ok(())
        })
        .unwrap();
        let e = pods.get(&p.id).unwrap_err().to_string();
        assert!(e.contains("record version 2 is newer"), "{e}");
    }

    #[test]
    fn insert_update_lookup_retire() {
        let d = tempfile::tempdir().unwrap();
        let pods = Pods::new(d.path());
        let (a, b) = (pod("one"), pod("two"));
        pods.insert(&a).unwrap();
        pods.insert(&b).unwrap();
        assert!(pods.insert(&a).is_err(), "an id is inserted once");
        let names: Vec<String> = pods.list().unwrap().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["one", "two"], "oldest first");
        assert_eq!(pods.lookup("two").unwrap().id, b.id);
        assert_eq!(pods.lookup(&a.id).unwrap().name, "one");
        assert_eq!(pods.lookup(&a.id[..10]).unwrap().name, "one");
        let e = pods.lookup("nope").unwrap_err().to_string();
        assert_eq!(e, "no pod with name or ID \"nope\" found: no such pod");

        pods.update::<_, Error>(&a.id, |p| {
            p.state.infra_id = "c".repeat(64);
            Ok(())
        })
        .unwrap();
        assert_eq!(pods.get(&a.id).unwrap().state.infra_id, "c".repeat(64));
        // A failing change writes nothing.
        let r = pods.update::<(), Error>(&a.id, |p| {
            p.name = "changed".into();
            Err(Error::Msg("no".into()))
        });
        assert!(r.is_err());
        assert_eq!(pods.get(&a.id).unwrap().name, "one");

        let hidden = pods.retire(&a.id).unwrap().expect("was there");
        assert!(pods.lookup("one").is_err(), "its name is free at once");
        assert_eq!(pods.retired(), vec![hidden.clone()]);
        let e = pods
            .update::<_, Error>(&a.id, |_| Ok(()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no such pod"), "{e}");
        assert!(!d.path().join(&a.id).exists(), "a removed pod came back");
        container::remove_tree(&hidden).unwrap();
        assert_eq!(pods.retire(&a.id).unwrap(), None);
        assert_eq!(pods.list().unwrap().len(), 1);
    }

    #[test]
    fn ambiguous_prefixes_and_unrecorded_directories() {
        let mut a = pod("x");
        let mut b = pod("y");
        a.id = format!("ab{}", "0".repeat(62));
        b.id = format!("ac{}", "0".repeat(62));
        let all = vec![a, b];
        let e = find(&all, "a").unwrap_err().to_string();
        assert!(
            e.contains("more than one pod matches \"a\" (2 found)"),
            "{e}"
        );
        assert_eq!(find(&all, "ab").unwrap().name, "x");

        let d = tempfile::tempdir().unwrap();
        let pods = Pods::new(d.path());
        pods.insert(&all[0]).unwrap();
        fs::create_dir(d.path().join("half")).unwrap();
        fs::write(d.path().join("half").join(".pod.json.tmp1"), b"x").unwrap();
        assert_eq!(pods.sweep_unrecorded(), 1);
        assert_eq!(pods.list().unwrap().len(), 1);
        fs::write(
            d.path().join(&all[0].id).join(".pod.json.tmp9"),
            b"half-written",
        )
        .unwrap();
        pods.update::<_, Error>(&all[0].id, |_| Ok(())).unwrap();
        assert!(!d.path().join(&all[0].id).join(".pod.json.tmp9").exists());
    }
}
