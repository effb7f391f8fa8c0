//! `kube play` as a translation: parsed documents become a [`Plan`], the
//! pods to create with their configuration and, per container, the
//! options `create` takes, already typed. Nothing here touches the store:
//! the images' ENTRYPOINT/CMD come in as a map, so the plan is a pure
//! function of the YAML, `--network`, `--configmap` files and the images.
//!
//! What becomes of each field (Podman's `kube play` where it defines it):
//! - a Pod is one pod of its name; a Deployment, DaemonSet or Job one pod
//!   `NAME-pod` (a Deployment asking for more than one replica gets
//!   Podman's warning); its containers are named `POD-CONTAINER`;
//! - `hostPort`s are published on the pod; `hostname`, `hostAliases`,
//!   `dnsConfig`, `hostNetwork` and the labels are the pod's;
//! - `command`/`args` resolve against the image ([`super::command`]),
//!   `$(VAR)` expanded from the container's environment;
//! - `env` values, `valueFrom` (configMapKeyRef, secretKeyRef, fieldRef
//!   `metadata.name`) and `envFrom` read the ConfigMaps and Secrets of the
//!   same file and of `--configmap` files;
//! - volumes: `hostPath` is a bind mount, `emptyDir` a volume made for the
//!   pod (shared by its containers, removed by `kube down`), `configMap`
//!   and `secret` a volume of files (read-only), `persistentVolumeClaim`
//!   the named volume of the claim's name (kept by `kube down`);
//! - `securityContext`, `workingDir`, `restartPolicy` (Always, OnFailure,
//!   Never as the restart policies of the same names; init containers never
//!   restart), `imagePullPolicy` (as `--pull`; unset is `missing`).

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;

use super::command::{self, Process};
use super::parse::{At, Document};
use super::types::*;
use super::Error;
use crate::container::{CreateOptions, TypedOptions};
use crate::network::ports::PortMapping;
use crate::state::config::{Mount, MountKind, RestartPolicy, UserSpec};
use crate::state::extras::{ConfDefaults, NsMode};
use crate::state::pod::{ExitPolicy, Namespace, PodConfig};

/// The label on every volume `kube play` makes for a pod (emptyDir,
/// configMap, secret), its value the pod's name: `kube down` removes the
/// volumes that carry it.
pub const POD_LABEL: &str = "io.skiff.kube.pod";

/// The label that marks, besides [`POD_LABEL`], a volume made for an
/// emptyDir (a scratch directory rather than files).
pub const SCRATCH_LABEL: &str = "io.skiff.kube.emptydir";

/// The label on a container `kube play` made from one with `resources`:
/// their JSON as written, so that `kube generate` gives them back (the
/// limits they became are in the container's own configuration).
pub const RESOURCES_LABEL: &str = "io.skiff.kube.resources";

/// Kubernetes' default mode of files from a ConfigMap or Secret (0644).
pub const DEFAULT_FILE_MODE: u32 = 0o644;

/// The kind of object a pod comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Pod,
    Deployment,
    DaemonSet,
    /// Runs once: the pod stops when its containers have exited.
    Job,
}

/// Everything `kube play` will create, in order.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Named volumes of the PersistentVolumeClaims, made when missing
    /// (before the pods) and kept by `kube down`, as Podman does.
    pub claims: Vec<String>,
    pub pods: Vec<PodPlan>,
    /// One line each, printed on standard error before anything is made.
    pub warnings: Vec<String>,
}

/// One pod and what runs in it.
#[derive(Debug, Clone)]
pub struct PodPlan {
    pub workload: Workload,
    pub name: String,
    /// Labels, hostname, published ports, DNS, hosts, network.
    pub config: PodConfig,
    /// Run one after the other, each to completion, before `containers`.
    pub init_containers: Vec<ContainerPlan>,
    pub containers: Vec<ContainerPlan>,
    /// Volumes made for this pod before its containers, labelled
    /// [`POD_LABEL`].
    pub volumes: Vec<VolumePlan>,
    /// Host paths to create first (`DirectoryOrCreate`, `FileOrCreate`).
    pub host_paths: Vec<HostPathPlan>,
    /// `terminationGracePeriodSeconds`: seconds between SIGTERM and
    /// SIGKILL when the pod stops.
    pub stop_timeout: Option<u32>,
}

/// A volume made for a pod: empty (emptyDir) or holding files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumePlan {
    /// The store name: a fresh 64-hex id, as anonymous volumes have.
    pub name: String,
    /// The pod's name for it (`spec.volumes[].name`).
    pub pod_volume: String,
    pub files: Vec<FileEntry>,
    /// An emptyDir (else the volume of a ConfigMap or Secret).
    pub empty_dir: bool,
}

/// One file of a ConfigMap or Secret volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Relative to the volume; no `..` component.
    pub path: String,
    pub data: Vec<u8>,
    pub mode: u32,
}

/// A host path to make before the containers bind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPathPlan {
    pub path: String,
    /// A file (`FileOrCreate`), else a directory.
    pub file: bool,
}

/// One container of a pod.
#[derive(Debug, Clone)]
pub struct ContainerPlan {
    /// Its name in the YAML; `options.name` is `POD-NAME`.
    pub name: String,
    pub options: CreateOptions,
    /// Mounts of part of a pod volume (`subPath`): bound from the volume's
    /// data directory once the volume exists.
    pub sub_paths: Vec<SubPathMount>,
}

/// A `subPath` mount of a volume the plan makes or claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubPathMount {
    /// The store name of the volume.
    pub volume: String,
    pub sub_path: String,
    pub destination: String,
    pub read_only: bool,
}

/// What the plan reads besides the YAML.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// Each image the YAML names ([`images`]) with its ENTRYPOINT and CMD.
    pub images: &'a BTreeMap<String, Process>,
    /// `--network`: replaces the pods' default network.
    pub network: &'a [String],
    /// Documents of `--configmap` files (their ConfigMaps are read).
    pub extra: &'a [Document],
    /// containers.conf's devices (every container gets them) and
    /// namespaces (for those the pod does not share), as `run` takes them.
    pub defaults: &'a ConfDefaults,
}

/// The images the documents run, each once, with the `--pull` policy its
/// first container asks for (`imagePullPolicy`: Always is `always`,
/// Never `never`, IfNotPresent and unset `missing`).
pub fn images(docs: &[Document]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for spec in docs.iter().filter_map(Document::pod_spec) {
        for c in spec.init_containers.iter().chain(&spec.containers) {
            if !out.iter().any(|(i, _)| *i == c.image) {
                out.push((c.image.clone(), pull_policy(c).into()));
            }
        }
    }
    out
}

fn pull_policy(c: &Container) -> &'static str {
    match c.image_pull_policy.as_deref() {
        Some("Always") => "always",
        Some("Never") => "never",
        _ => "missing",
    }
}

/// The pod a workload document becomes, by its name: a Pod's own name,
/// `NAME-pod` for the others (as Podman names them). None for documents
/// that run nothing.
pub fn pod_name(doc: &Document) -> Option<String> {
    match doc {
        Document::Pod(p) => Some(p.metadata.name.clone()),
        Document::Deployment(_) | Document::DaemonSet(_) | Document::Job(_) => {
            Some(format!("{}-pod", doc.name()))
        }
        _ => None,
    }
}

/// Translates the documents into the pods to create. Errors (one line,
/// naming the document, the object and the field): a ConfigMap, Secret or
/// key that is not there and not optional, a hostPort given twice, a
/// subPath or file path that climbs out of its volume, an image missing
/// from `inputs.images`.
pub fn plan(docs: &[Document], inputs: &Inputs) -> Result<Plan, Error> {
    let sources = Sources::of(docs.iter().chain(inputs.extra))?;
    let mut out = Plan::default();
    for doc in docs {
        if let Document::PersistentVolumeClaim(c) = doc {
            out.claims.push(c.metadata.name.clone());
        }
    }
    for (i, doc) in docs.iter().enumerate() {
        let Some(name) = pod_name(doc) else { continue };
        let at = At {
            doc: i + 1,
            kind: kind_of(doc),
            name: doc.name(),
        };
        let (workload, template_labels) = match doc {
            Document::Pod(p) => (Workload::Pod, &p.metadata.labels),
            Document::Deployment(d) => {
                if d.spec.replicas.unwrap_or(1) > 1 {
                    out.warnings.push(
                        "Limiting replica count to 1, more than one replica is not supported by skiff"
                            .into(),
                    );
                }
                (Workload::Deployment, &d.spec.template.metadata.labels)
            }
            Document::DaemonSet(d) => (Workload::DaemonSet, &d.spec.template.metadata.labels),
            Document::Job(j) => (Workload::Job, &j.spec.template.metadata.labels),
            _ => continue,
        };
        let spec = doc.pod_spec().expect("workloads have a pod spec");
        let mut labels = doc.meta().labels.clone();
        labels.extend(template_labels.clone());
        out.pods.push(pod_plan(
            &at,
            PodInput {
                workload,
                name,
                labels,
                spec,
            },
            &sources,
            inputs,
            &mut out.warnings,
        )?);
    }
    Ok(out)
}

fn kind_of(doc: &Document) -> &'static str {
    match doc {
        Document::Pod(_) => "Pod",
        Document::Deployment(_) => "Deployment",
        Document::DaemonSet(_) => "DaemonSet",
        Document::Job(_) => "Job",
        Document::ConfigMap(_) => "ConfigMap",
        Document::Secret(_) => "Secret",
        Document::PersistentVolumeClaim(_) => "PersistentVolumeClaim",
        Document::Service(_) => "Service",
    }
}

/// The keys of the ConfigMaps and Secrets, by object name.
#[derive(Default)]
struct Sources {
    config_maps: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    secrets: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
}

impl Sources {
    fn of<'a>(docs: impl Iterator<Item = &'a Document>) -> Result<Sources, Error> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut s = Sources::default();
        for (i, d) in docs.enumerate() {
            let bad = |key: &str, kind: &str| Error::Invalid {
                doc: i + 1,
                kind: kind.into(),
                name: d.name().into(),
                what: format!("key {key:?}: not base64"),
            };
            match d {
                Document::ConfigMap(cm) => {
                    let mut keys: BTreeMap<String, Vec<u8>> = cm
                        .data
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
                        .collect();
                    for (k, v) in &cm.binary_data {
                        let bytes = b64.decode(v).map_err(|_| bad(k, "ConfigMap"))?;
                        keys.insert(k.clone(), bytes);
                    }
                    s.config_maps.insert(cm.metadata.name.clone(), keys);
                }
                Document::Secret(sec) => {
                    let mut keys = BTreeMap::new();
                    for (k, v) in &sec.data {
                        let bytes = b64.decode(v).map_err(|_| bad(k, "Secret"))?;
                        keys.insert(k.clone(), bytes);
                    }
                    for (k, v) in &sec.string_data {
                        keys.insert(k.clone(), v.clone().into_bytes());
                    }
                    s.secrets.insert(sec.metadata.name.clone(), keys);
                }
                _ => {}
            }
        }
        Ok(s)
    }

    /// The keys of a ConfigMap (`secret` false) or Secret; None when there
    /// is no such object.
    fn keys(&self, secret: bool, name: &str) -> Option<&BTreeMap<String, Vec<u8>>> {
        if secret {
            self.secrets.get(name)
        } else {
            self.config_maps.get(name)
        }
    }
}

fn what(secret: bool) -> &'static str {
    if secret {
        "Secret"
    } else {
        "ConfigMap"
    }
}

struct PodInput<'a> {
    workload: Workload,
    name: String,
    labels: BTreeMap<String, String>,
    spec: &'a PodSpec,
}

/// How a pod volume reaches a container.
enum VolumeRef {
    Host(String),
    /// A volume of the store, by name; read-only for ConfigMap and Secret.
    Store {
        name: String,
        read_only: bool,
    },
}

fn pod_plan(
    at: &At,
    input: PodInput,
    sources: &Sources,
    inputs: &Inputs,
    warnings: &mut Vec<String>,
) -> Result<PodPlan, Error> {
    let spec = input.spec;
    let mut config = PodConfig {
        labels: input.labels,
        hostname: spec.hostname.clone(),
        exit_policy: if input.workload == Workload::Job {
            ExitPolicy::Stop
        } else {
            ExitPolicy::Continue
        },
        ..Default::default()
    };
    // hostPID wins over shareProcessNamespace: the host's pid namespace is
    // already one all the containers share.
    if spec.share_process_namespace && !spec.host_pid {
        config.sharing.namespaces.insert(Namespace::Pid);
    }
    if spec.host_network {
        config.networks = vec!["host".into()];
    } else {
        config.networks = inputs.network.to_vec();
    }
    for a in &spec.host_aliases {
        for h in &a.hostnames {
            config.add_hosts.push(format!("{h}:{}", a.ip));
        }
    }
    if let Some(dns) = &spec.dns_config {
        config.dns = dns.nameservers.clone();
        config.dns_search = dns.searches.clone();
        config.dns_options = dns
            .options
            .iter()
            .map(|o| match &o.value {
                Some(v) => format!("{}:{v}", o.name),
                None => o.name.clone(),
            })
            .collect();
    }
    let mut seen = BTreeSet::new();
    for c in spec.containers.iter().filter(|_| !spec.host_network) {
        for p in &c.ports {
            let Some(host_port) = p.host_port else {
                continue;
            };
            let protocol = p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase();
            if !seen.insert((p.host_ip.clone(), host_port, protocol.clone())) {
                return Err(at.invalid(format!(
                    "container {:?}: hostPort {host_port}/{protocol} is published twice",
                    c.name
                )));
            }
            config.ports.push(PortMapping {
                host_ip: p.host_ip.clone(),
                host_port,
                container_port: p.container_port,
                protocol,
            });
        }
    }

    let mut volumes = Vec::new();
    let mut host_paths = Vec::new();
    let mut refs = BTreeMap::new();
    for v in &spec.volumes {
        let r = if let Some(h) = &v.host_path {
            match h.kind.as_deref() {
                Some("DirectoryOrCreate") | Some("FileOrCreate") => {
                    host_paths.push(HostPathPlan {
                        path: h.path.clone(),
                        file: h.kind.as_deref() == Some("FileOrCreate"),
                    })
                }
                None | Some("") | Some("Directory") | Some("File") => {}
                Some(other) => warnings.push(format!(
                    "kube yaml: document {} ({} {:?}): hostPath type {other:?} of volume {:?} is not checked",
                    at.doc, at.kind, at.name, v.name
                )),
            }
            VolumeRef::Host(h.path.clone())
        } else if let Some(e) = &v.empty_dir {
            if e.medium == "Memory" {
                warnings.push(format!(
                    "kube yaml: document {} ({} {:?}): emptyDir {:?} with medium Memory is kept on disk, so that the pod's containers share it",
                    at.doc, at.kind, at.name, v.name
                ));
            }
            let name = crate::state::new_id();
            volumes.push(VolumePlan {
                name: name.clone(),
                pod_volume: v.name.clone(),
                files: Vec::new(),
                empty_dir: true,
            });
            VolumeRef::Store {
                name,
                read_only: false,
            }
        } else if let Some(claim) = &v.persistent_volume_claim {
            VolumeRef::Store {
                name: claim.claim_name.clone(),
                read_only: claim.read_only,
            }
        } else {
            let (secret, object, items, optional, mode) = match (&v.config_map, &v.secret) {
                (Some(c), _) => (false, &c.name, &c.items, c.optional, c.default_mode),
                (None, Some(s)) => (true, &s.secret_name, &s.items, s.optional, s.default_mode),
                (None, None) => unreachable!("parse checks that a volume has one source"),
            };
            let files = files_of(
                at,
                &v.name,
                sources.keys(secret, object),
                FileSource {
                    secret,
                    object,
                    items,
                    optional: optional.unwrap_or(false),
                    mode: mode.unwrap_or(DEFAULT_FILE_MODE),
                },
            )?;
            let name = crate::state::new_id();
            volumes.push(VolumePlan {
                name: name.clone(),
                pod_volume: v.name.clone(),
                files,
                empty_dir: false,
            });
            VolumeRef::Store {
                name,
                read_only: true,
            }
        };
        refs.insert(v.name.as_str(), r);
    }

    let pod = Ctx {
        at,
        pod: &input.name,
        sources,
        inputs,
        refs: &refs,
        host_pid: spec.host_pid,
        shared: &config.sharing.namespaces,
    };
    let restart = match spec.restart_policy.as_deref() {
        Some("Never") => RestartPolicy::No,
        Some("OnFailure") => RestartPolicy::OnFailure { max_retries: 0 },
        Some(_) => RestartPolicy::Always,
        None if input.workload == Workload::Job => RestartPolicy::No,
        None => RestartPolicy::Always,
    };
    let init_containers: Vec<ContainerPlan> = spec
        .init_containers
        .iter()
        .map(|c| pod.container(c, RestartPolicy::No, resources(at, c, warnings)?))
        .collect::<Result<_, _>>()?;
    let containers: Vec<ContainerPlan> = spec
        .containers
        .iter()
        .map(|c| pod.container(c, restart, resources(at, c, warnings)?))
        .collect::<Result<_, _>>()?;
    Ok(PodPlan {
        workload: input.workload,
        name: input.name,
        config,
        init_containers,
        containers,
        volumes,
        host_paths,
        stop_timeout: spec
            .termination_grace_period_seconds
            .map(|s| s.clamp(0, u32::MAX as i64) as u32),
    })
}

/// Kubernetes' smallest cpu shares, and the shares of one cpu (kubelet's
/// `MinShares` and `SharesPerCPU`).
const MIN_SHARES: u64 = 2;
const SHARES_PER_CPU: u64 = 1024;

/// The cgroup limits of a container's `resources`, the same ones `run`'s
/// flags set (Podman's `kube play`, with kubelet's conversion for cpu
/// requests): `limits.memory` is `--memory` (bytes), `limits.cpu` is
/// `--cpus` (a CFS quota per 100 ms period), `requests.memory` is
/// `--memory-reservation` and `requests.cpu` is `--cpu-shares`
/// (millicores * 1024 / 1000, at least 2). Other resource names are
/// named in a warning; a quantity that is not one is refused.
fn resources(
    at: &At,
    c: &Container,
    warnings: &mut Vec<String>,
) -> Result<crate::cgroups::Resources, Error> {
    let mut out = crate::cgroups::Resources::default();
    let Some(r) = &c.resources else {
        return Ok(out);
    };
    for (part, map) in [("limits", &r.limits), ("requests", &r.requests)] {
        for (name, q) in map {
            let bad = || {
                at.invalid(format!(
                    "container {:?}: resources.{part}.{name}: {:?} is not a quantity",
                    c.name, q.0
                ))
            };
            match (part, name.as_str()) {
                (_, "memory") => {
                    let bytes = q.whole().ok_or_else(bad)?;
                    if part == "limits" {
                        out.memory = Some(bytes);
                    } else {
                        out.memory_reservation = Some(bytes);
                    }
                }
                (_, "cpu") => {
                    let milli = q.milli().ok_or_else(bad)?;
                    if part == "limits" {
                        out.nano_cpus = Some(milli.max(1) * 1_000_000);
                    } else {
                        out.cpu_shares =
                            Some((milli * SHARES_PER_CPU / 1000).max(MIN_SHARES));
                    }
                }
                _ => warnings.push(format!(
                    "kube yaml: document {} ({} {:?}): container {:?}: resources.{part}.{name} is not applied: skiff limits cpu and memory only",
                    at.doc, at.kind, at.name, c.name
                )),
            }
        }
    }
    out.validate()
        .map_err(|e| at.invalid(format!("container {:?}: resources: {e}", c.name)))?;
    Ok(out)
}

struct FileSource<'a> {
    secret: bool,
    object: &'a str,
    items: &'a [KeyToPath],
    optional: bool,
    mode: u32,
}

/// The files of a ConfigMap or Secret volume: the listed items at their
/// paths, else every key as a file of its name.
fn files_of(
    at: &At,
    volume: &str,
    keys: Option<&BTreeMap<String, Vec<u8>>>,
    s: FileSource,
) -> Result<Vec<FileEntry>, Error> {
    let bad = |what: String| at.invalid(format!("volume {volume:?}: {what}"));
    let Some(keys) = keys else {
        if s.optional {
            return Ok(Vec::new());
        }
        return Err(bad(format!("{} {:?} not found", what(s.secret), s.object)));
    };
    let mut out = Vec::new();
    let wanted: Vec<(String, String)> = if s.items.is_empty() {
        keys.keys().map(|k| (k.clone(), k.clone())).collect()
    } else {
        s.items
            .iter()
            .map(|i| (i.key.clone(), i.path.clone()))
            .collect()
    };
    for (key, path) in wanted {
        let Some(data) = keys.get(&key) else {
            if s.optional {
                continue;
            }
            return Err(bad(format!(
                "{} {:?} has no key {key:?}",
                what(s.secret),
                s.object
            )));
        };
        if !relative_inside(&path) {
            return Err(bad(format!(
                "path {path:?} must be relative and stay inside the volume"
            )));
        }
        out.push(FileEntry {
            path,
            data: data.clone(),
            mode: s.mode & 0o7777,
        });
    }
    Ok(out)
}

/// A relative path without `..` components (and not empty).
fn relative_inside(p: &str) -> bool {
    !p.is_empty() && !p.starts_with('/') && p.split('/').all(|c| c != "..")
}

/// What every container of one pod reads.
struct Ctx<'a> {
    at: &'a At<'a>,
    pod: &'a str,
    sources: &'a Sources,
    inputs: &'a Inputs<'a>,
    refs: &'a BTreeMap<&'a str, VolumeRef>,
    /// `hostPID`: every container gets `--pid host`, as Podman maps it.
    host_pid: bool,
    /// The namespaces the pod's infra holds for its containers.
    shared: &'a BTreeSet<Namespace>,
}

impl Ctx<'_> {
    fn bad(&self, c: &Container, what: String) -> Error {
        self.at.invalid(format!("container {:?}: {what}", c.name))
    }

    /// The value of `key` in a ConfigMap or Secret, as text; None when
    /// optional and missing.
    fn key(
        &self,
        c: &Container,
        env: &str,
        secret: bool,
        k: &KeySelector,
    ) -> Result<Option<String>, Error> {
        let value = self.sources.keys(secret, &k.name).map(|m| m.get(&k.key));
        match value {
            Some(Some(v)) => String::from_utf8(v.clone())
                .map(Some)
                .map_err(|_| self.bad(c, format!("env {env:?}: key {:?} is not text", k.key))),
            _ if k.optional.unwrap_or(false) => Ok(None),
            None => Err(self.bad(
                c,
                format!("env {env:?}: {} {:?} not found", what(secret), k.name),
            )),
            Some(None) => Err(self.bad(
                c,
                format!(
                    "env {env:?}: {} {:?} has no key {:?}",
                    what(secret),
                    k.name,
                    k.key
                ),
            )),
        }
    }

    /// The environment Kubernetes gives the container: `envFrom` first,
    /// then `env`, each value expanded from the ones before it.
    fn env(&self, c: &Container) -> Result<Vec<(String, String)>, Error> {
        let mut env: Vec<(String, String)> = Vec::new();
        for from in &c.env_from {
            let (secret, r) = match (&from.config_map_ref, &from.secret_ref) {
                (Some(r), _) => (false, r),
                (None, Some(r)) => (true, r),
                (None, None) => unreachable!("parse checks envFrom"),
            };
            let Some(keys) = self.sources.keys(secret, &r.name) else {
                if r.optional.unwrap_or(false) {
                    continue;
                }
                return Err(self.bad(
                    c,
                    format!("envFrom: {} {:?} not found", what(secret), r.name),
                ));
            };
            for (k, v) in keys {
                let v = String::from_utf8(v.clone()).map_err(|_| {
                    self.bad(c, format!("envFrom: key {k:?} of {:?} is not text", r.name))
                })?;
                env.push((format!("{}{k}", from.prefix), v));
            }
        }
        for e in &c.env {
            let value = match &e.value_from {
                None => Some(command::expand(e.value.as_deref().unwrap_or(""), &env)),
                Some(from) => {
                    if let Some(k) = &from.config_map_key_ref {
                        self.key(c, &e.name, false, k)?
                    } else if let Some(k) = &from.secret_key_ref {
                        self.key(c, &e.name, true, k)?
                    } else {
                        // parse allows only metadata.name.
                        Some(self.pod.to_string())
                    }
                }
            };
            if let Some(v) = value {
                env.push((e.name.clone(), v));
            }
        }
        Ok(env)
    }

    fn mounts(&self, c: &Container) -> Result<(Vec<Mount>, Vec<SubPathMount>), Error> {
        let mut mounts = Vec::new();
        let mut sub_paths = Vec::new();
        for m in &c.volume_mounts {
            if !m.sub_path.is_empty() && !relative_inside(&m.sub_path) {
                return Err(self.bad(
                    c,
                    format!(
                        "volumeMount {:?}: subPath {:?} must be relative and stay inside the volume",
                        m.name, m.sub_path
                    ),
                ));
            }
            let r = &self.refs[m.name.as_str()];
            match r {
                VolumeRef::Host(path) => {
                    let opts = if m.read_only {
                        vec!["ro".into()]
                    } else {
                        vec![]
                    };
                    // A sub path is resolved inside the host path at each
                    // start, as a volume's: containers can write there too.
                    let mut mount =
                        Mount::new(MountKind::Bind, path.clone(), m.mount_path.clone(), opts);
                    mount.sub_path = m.sub_path.clone();
                    mounts.push(mount);
                }
                VolumeRef::Store { name, read_only } => {
                    let ro = m.read_only || *read_only;
                    if m.sub_path.is_empty() {
                        let mut opts = vec!["nocopy".to_string()];
                        if ro {
                            opts.push("ro".into());
                        }
                        mounts.push(Mount::new(
                            MountKind::Volume,
                            name.clone(),
                            m.mount_path.clone(),
                            opts,
                        ));
                    } else {
                        sub_paths.push(SubPathMount {
                            volume: name.clone(),
                            sub_path: m.sub_path.clone(),
                            destination: m.mount_path.clone(),
                            read_only: ro,
                        });
                    }
                }
            }
        }
        Ok((mounts, sub_paths))
    }

    fn container(
        &self,
        c: &Container,
        restart: RestartPolicy,
        resources: crate::cgroups::Resources,
    ) -> Result<ContainerPlan, Error> {
        let image = self
            .inputs
            .images
            .get(&c.image)
            .ok_or_else(|| self.bad(c, format!("image {:?} was not resolved", c.image)))?;
        let env = self.env(c)?;
        let expand =
            |v: &[String]| -> Vec<String> { v.iter().map(|s| command::expand(s, &env)).collect() };
        let process = command::resolve(
            &image.entrypoint,
            &image.cmd,
            &expand(&c.command),
            &expand(&c.args),
        );
        let (mounts, sub_paths) = self.mounts(c)?;
        let sc = c.security_context.clone().unwrap_or_default();
        let caps = sc.capabilities.clone().unwrap_or_default();
        let user = match (sc.run_as_user, sc.run_as_group) {
            (None, None) => None,
            (u, g) => Some(UserSpec {
                user: u.map(|u| u.to_string()).unwrap_or_default(),
                group: g.map(|g| g.to_string()),
            }),
        };
        let mut options = CreateOptions {
            image: c.image.clone(),
            command: process.cmd,
            name: Some(format!("{}-{}", self.pod, c.name)),
            env: env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            workdir: (!c.working_dir.is_empty()).then(|| c.working_dir.clone()),
            read_only: sc.read_only_root_filesystem.unwrap_or(false),
            privileged: sc.privileged.unwrap_or(false),
            cap_add: caps.add,
            cap_drop: caps.drop,
            pull: pull_policy(c).into(),
            resources,
            labels: c
                .resources
                .as_ref()
                .filter(|r| !r.limits.is_empty() || !r.requests.is_empty())
                .and_then(|r| serde_json::to_string(r).ok())
                .map(|json| format!("{RESOURCES_LABEL}={json}"))
                .into_iter()
                .collect(),
            typed: TypedOptions {
                entrypoint: Some(process.entrypoint),
                mounts,
                user,
                restart: Some(restart),
                no_new_privileges: sc.allow_privilege_escalation == Some(false),
            },
            ..Default::default()
        };
        // containers.conf's namespaces where the pod shares none (Podman's
        // GetDefaultNamespaceMode: the pod's first), its devices always.
        let d = self.inputs.defaults;
        let x = &mut options.run.extras;
        for (ns, mode, conf) in [
            (Namespace::Pid, &mut x.pid, &d.pid),
            (Namespace::Ipc, &mut x.ipc, &d.ipc),
            (Namespace::Uts, &mut x.uts, &d.uts),
        ] {
            if !self.shared.contains(&ns) {
                mode.clone_from(conf);
            }
        }
        x.devices.clone_from(&d.devices);
        options.run.cgroupns_host = d.cgroupns_host && !self.shared.contains(&Namespace::Cgroup);
        if self.host_pid {
            x.pid = NsMode::Host;
        }
        Ok(ContainerPlan {
            name: c.name.clone(),
            options,
            sub_paths,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::parse;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    /// busybox's config: no ENTRYPOINT, CMD ["sh"].
    fn images() -> BTreeMap<String, Process> {
        let busybox = Process {
            entrypoint: vec![],
            cmd: v(&["sh"]),
        };
        [
            ("localhost/busybox:latest".to_string(), busybox.clone()),
            ("busybox".to_string(), busybox),
            (
                "ep".to_string(),
                Process {
                    entrypoint: v(&["/ep"]),
                    cmd: v(&["--default"]),
                },
            ),
        ]
        .into()
    }

    fn plan_of(text: &str) -> Result<Plan, Error> {
        plan_with(text, &[], "")
    }

    fn plan_with(text: &str, network: &[String], extra: &str) -> Result<Plan, Error> {
        plan_with_defaults(text, network, extra, &ConfDefaults::default())
    }

    fn plan_with_defaults(
        text: &str,
        network: &[String],
        extra: &str,
        defaults: &ConfDefaults,
    ) -> Result<Plan, Error> {
        let docs = parse(text)?.documents;
        let extra = if extra.is_empty() {
            Vec::new()
        } else {
            parse(extra)?.documents
        };
        let images = images();
        plan(
            &docs,
            &Inputs {
                images: &images,
                network,
                extra: &extra,
                defaults,
            },
        )
    }

    fn example(name: &str) -> Plan {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("pods")
            .join(name);
        plan_of(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn env_of(c: &ContainerPlan, key: &str) -> Option<String> {
        c.options
            .env
            .iter()
            .rev()
            .find_map(|e| e.strip_prefix(&format!("{key}=")).map(str::to_string))
    }

    #[test]
    fn web_client_is_one_pod_with_its_port_and_two_containers() {
        let p = example("web-client.yaml");
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        let [pod] = &p.pods[..] else { panic!() };
        assert_eq!(pod.name, "web-client");
        assert_eq!(pod.workload, Workload::Pod);
        assert_eq!(pod.config.labels["app"], "web-client");
        assert_eq!(
            pod.config.ports,
            [PortMapping {
                host_ip: "127.0.0.1".into(),
                host_port: 8080,
                container_port: 80,
                protocol: "tcp".into(),
            }]
        );
        assert!(pod.config.networks.is_empty());
        let names: Vec<_> = pod
            .containers
            .iter()
            .map(|c| c.options.name.clone())
            .collect();
        assert_eq!(
            names,
            [
                Some("web-client-web".into()),
                Some("web-client-client".into())
            ]
        );
        let web = &pod.containers[0].options;
        assert_eq!(web.image, "localhost/busybox:latest");
        assert_eq!(web.typed.entrypoint, Some(v(&["/bin/sh", "-c"])));
        assert_eq!(web.command.len(), 1);
        assert!(web.command[0].contains("httpd -f -p 80 -h /www & wait"));
        assert_eq!(web.typed.restart, Some(RestartPolicy::Always));
        assert_eq!(web.pull, "missing");
        assert!(web.publish.is_empty(), "ports belong to the pod");
        assert!(pod.init_containers.is_empty() && pod.volumes.is_empty());
    }

    #[test]
    fn init_container_runs_first_and_shares_an_empty_dir() {
        let p = example("init-container.yaml");
        let [pod] = &p.pods[..] else { panic!() };
        let [init] = &pod.init_containers[..] else {
            panic!()
        };
        assert_eq!(init.options.name.as_deref(), Some("init-demo-prepare"));
        assert_eq!(init.options.typed.restart, Some(RestartPolicy::No));
        let [vol] = &pod.volumes[..] else { panic!() };
        assert_eq!(vol.pod_volume, "www");
        assert!(vol.files.is_empty());
        assert_eq!(vol.name.len(), 64);
        let web = &pod.containers[0].options;
        let (im, wm) = (&init.options.typed.mounts[0], &web.typed.mounts[0]);
        assert_eq!((im.kind, wm.kind), (MountKind::Volume, MountKind::Volume));
        assert_eq!(im.source, vol.name, "one volume for both");
        assert_eq!(wm.source, vol.name);
        assert!(!im.readonly && wm.readonly);
        assert_eq!(wm.destination, "/www");
        assert_eq!(
            web.typed.entrypoint,
            Some(v(&[
                "/bin/sh",
                "-c",
                "trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait"
            ]))
        );
        assert!(web.command.is_empty(), "command drops the image's CMD");
    }

    #[test]
    fn configmap_feeds_env_env_from_and_files() {
        let p = example("configmap.yaml");
        let [pod] = &p.pods[..] else { panic!() };
        let app = &pod.containers[0];
        assert_eq!(env_of(app, "GREETING").as_deref(), Some("hello"));
        assert_eq!(env_of(app, "CFG_LEVEL").as_deref(), Some("debug"));
        assert_eq!(env_of(app, "CFG_GREETING").as_deref(), Some("hello"));
        assert_eq!(env_of(app, "POD_NAME").as_deref(), Some("config-demo"));
        let script = &app.options.typed.entrypoint.as_ref().unwrap()[2];
        assert!(
            script.starts_with("echo hello $CFG_LEVEL;"),
            "$(VAR) expands, $VAR is the shell's: {script}"
        );
        let [vol] = &pod.volumes[..] else { panic!() };
        assert_eq!(
            vol.files,
            [FileEntry {
                path: "app.conf".into(),
                data: b"listen 80\n".to_vec(),
                mode: 0o644,
            }]
        );
        let m = &app.options.typed.mounts[0];
        assert_eq!(m.source, vol.name);
        assert!(m.readonly, "configMap volumes are read-only");
        assert_eq!(m.destination, "/etc/app");
    }

    #[test]
    fn deployment_is_one_pod_named_after_it() {
        let p = example("deployment.yaml");
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        let [pod] = &p.pods[..] else { panic!() };
        assert_eq!(pod.name, "web-deployment-pod");
        assert_eq!(pod.workload, Workload::Deployment);
        assert_eq!(pod.config.labels["app"], "web");
        let web = &pod.containers[0].options;
        assert_eq!(web.name.as_deref(), Some("web-deployment-pod-web"));
        assert_eq!(web.cap_drop, ["NET_RAW"]);
        assert!(web.typed.no_new_privileges);
        assert_eq!(pod.config.ports[0].host_port, 8082);
        // requests: 32Mi of memory, 250m of cpu.
        assert_eq!(web.resources.memory_reservation, Some(32 << 20));
        assert_eq!(web.resources.cpu_shares, Some(256));
        assert_eq!(web.resources.memory, None);

        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pods/deployment.yaml"),
        )
        .unwrap()
        .replace("replicas: 1", "replicas: 3");
        let p = plan_of(&text).unwrap();
        assert_eq!(
            p.warnings[0],
            "Limiting replica count to 1, more than one replica is not supported by skiff"
        );
        assert_eq!(p.pods.len(), 1);
    }

    const POD: &str = "\
apiVersion: v1
kind: Pod
metadata: {name: p, labels: {team: a}}
spec:
  hostname: box
  hostAliases: [{ip: 10.0.0.2, hostnames: [db, db.local]}]
  dnsConfig:
    nameservers: [1.1.1.1]
    searches: [example.com]
    options: [{name: ndots, value: \"2\"}, {name: edns0}]
  terminationGracePeriodSeconds: 5
  restartPolicy: OnFailure
  volumes:
  - {name: host, hostPath: {path: /srv/data, type: DirectoryOrCreate}}
  - {name: claim, persistentVolumeClaim: {claimName: data}}
  - {name: creds, secret: {secretName: s, defaultMode: 0400}}
  containers:
  - name: app
    image: ep
    args: [--port, $(PORT)]
    workingDir: /srv
    env:
    - {name: PORT, value: \"8080\"}
    - {name: URL, value: \"http://localhost:$(PORT)/\"}
    - {name: PW, valueFrom: {secretKeyRef: {name: s, key: pw}}}
    - {name: NONE, valueFrom: {secretKeyRef: {name: s, key: nope, optional: true}}}
    envFrom: [{secretRef: {name: s}}]
    ports: [{containerPort: 53, hostPort: 5353, protocol: UDP}]
    volumeMounts:
    - {name: host, mountPath: /data, readOnly: true, subPath: sub}
    - {name: claim, mountPath: /claim}
    - {name: creds, mountPath: /creds}
    - {name: claim, mountPath: /part, subPath: part}
    securityContext:
      runAsUser: 1000
      runAsGroup: 100
      readOnlyRootFilesystem: true
      privileged: true
      capabilities: {add: [NET_ADMIN], drop: [ALL]}
---
apiVersion: v1
kind: Secret
metadata: {name: s}
data: {pw: aHVudGVyMg==}
stringData: {user: me}
";

    #[test]
    fn every_field_becomes_a_typed_option() {
        let p = plan_of(POD).unwrap();
        let [pod] = &p.pods[..] else { panic!() };
        let cfg = &pod.config;
        assert_eq!(cfg.hostname, "box");
        assert_eq!(cfg.add_hosts, ["db:10.0.0.2", "db.local:10.0.0.2"]);
        assert_eq!(cfg.dns, ["1.1.1.1"]);
        assert_eq!(cfg.dns_search, ["example.com"]);
        assert_eq!(cfg.dns_options, ["ndots:2", "edns0"]);
        assert_eq!(cfg.ports[0].protocol, "udp");
        assert_eq!(cfg.labels["team"], "a");
        assert_eq!(pod.stop_timeout, Some(5));
        assert_eq!(
            pod.host_paths,
            [HostPathPlan {
                path: "/srv/data".into(),
                file: false
            }]
        );
        let c = &pod.containers[0];
        let o = &c.options;
        assert_eq!(
            o.typed.entrypoint,
            Some(v(&["/ep"])),
            "args keep ENTRYPOINT"
        );
        assert_eq!(o.command, ["--port", "8080"]);
        assert_eq!(o.workdir.as_deref(), Some("/srv"));
        assert_eq!(env_of(c, "URL").as_deref(), Some("http://localhost:8080/"));
        assert_eq!(env_of(c, "PW").as_deref(), Some("hunter2"));
        assert_eq!(env_of(c, "user").as_deref(), Some("me"), "envFrom a Secret");
        assert_eq!(env_of(c, "NONE"), None, "optional and missing");
        assert_eq!(
            o.typed.user,
            Some(UserSpec {
                user: "1000".into(),
                group: Some("100".into())
            })
        );
        assert!(o.read_only && o.privileged);
        assert_eq!(
            (o.cap_add.clone(), o.cap_drop.clone()),
            (v(&["NET_ADMIN"]), v(&["ALL"]))
        );
        assert_eq!(
            o.typed.restart,
            Some(RestartPolicy::OnFailure { max_retries: 0 })
        );
        let m = &o.typed.mounts;
        assert_eq!(m.len(), 3);
        assert_eq!(
            (m[0].kind, m[0].source.as_str(), m[0].sub_path.as_str()),
            (MountKind::Bind, "/srv/data", "sub")
        );
        assert!(m[0].readonly);
        assert_eq!(
            (m[1].kind, m[1].source.as_str()),
            (MountKind::Volume, "data")
        );
        assert!(!m[1].readonly);
        let [creds] = &pod.volumes[..] else { panic!() };
        assert_eq!(m[2].source, creds.name);
        assert!(m[2].readonly);
        let mut files: Vec<_> = creds
            .files
            .iter()
            .map(|f| (f.path.as_str(), f.data.as_slice(), f.mode))
            .collect();
        files.sort();
        assert_eq!(
            files,
            [("pw", &b"hunter2"[..], 0o400), ("user", &b"me"[..], 0o400)]
        );
        assert_eq!(
            c.sub_paths,
            [SubPathMount {
                volume: "data".into(),
                sub_path: "part".into(),
                destination: "/part".into(),
                read_only: false,
            }]
        );
    }

    #[test]
    fn network_flag_host_network_and_jobs() {
        let text = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: busybox}]\n";
        let p = plan_with(text, &v(&["mynet"]), "").unwrap();
        let pod = &p.pods[0];
        assert_eq!(pod.name, "j-pod");
        assert_eq!(pod.config.networks, ["mynet"]);
        assert_eq!(pod.config.exit_policy, ExitPolicy::Stop);
        let o = &pod.containers[0].options;
        assert_eq!(o.typed.restart, Some(RestartPolicy::No));
        assert_eq!(o.typed.entrypoint, Some(vec![]));
        assert_eq!(o.command, ["sh"], "nothing given runs the image as built");
        let host = text.replace(
            "      containers:",
            "      hostNetwork: true\n      hostPID: true\n      shareProcessNamespace: true\n      containers:",
        );
        let p = plan_with(&host, &v(&["mynet"]), "").unwrap();
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        let pod = &p.pods[0];
        assert_eq!(pod.config.networks, ["host"]);
        let net = crate::state::pod::Namespace::Net;
        assert!(pod.config.sharing.namespaces.contains(&net));
        let pid = Namespace::Pid;
        assert!(
            !pod.config.sharing.namespaces.contains(&pid),
            "hostPID wins over shareProcessNamespace"
        );
        let host_pid = crate::state::extras::NsMode::Host;
        assert_eq!(pod.containers[0].options.run.extras.pid, host_pid);
        assert_eq!(pod.containers[0].options.network, None, "the pod's");
        let shared = text.replace(
            "      containers:",
            "      shareProcessNamespace: true\n      containers:",
        );
        let p = plan_with(&shared, &[], "").unwrap();
        assert!(p.pods[0].config.sharing.namespaces.contains(&pid));
        let private = crate::state::extras::NsMode::default();
        assert_eq!(p.pods[0].containers[0].options.run.extras.pid, private);
    }

    #[test]
    fn containers_conf_namespaces_apply_where_the_pod_shares_none_and_devices_always() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: busybox}]\n";
        let null = crate::state::extras::Device {
            host: "/dev/null".into(),
            container: "/dev/mynull".into(),
            perms: "rwm".into(),
        };
        let host = ConfDefaults {
            pid: NsMode::Host,
            ipc: NsMode::Host,
            uts: NsMode::Host,
            cgroupns_host: true,
            devices: vec![null.clone()],
        };
        let p = plan_with_defaults(text, &[], "", &host).unwrap();
        let o = &p.pods[0].containers[0].options;
        // The pod shares ipc and uts (and net): its infra's, not the host's.
        assert_eq!(o.run.extras.pid, NsMode::Host);
        assert_eq!(o.run.extras.ipc, NsMode::Private);
        assert_eq!(o.run.extras.uts, NsMode::Private);
        assert!(o.run.cgroupns_host);
        assert_eq!(o.run.extras.devices, vec![null]);
        // A pod that shares its pid namespace keeps it.
        let shared = text.replace(
            "  containers:",
            "  shareProcessNamespace: true\n  containers:",
        );
        let p = plan_with_defaults(&shared, &[], "", &host).unwrap();
        assert_eq!(
            p.pods[0].containers[0].options.run.extras.pid,
            NsMode::Private
        );
        // Nothing configured: nothing changes.
        let p = plan_of(text).unwrap();
        let o = &p.pods[0].containers[0].options;
        assert_eq!(o.run.extras, Default::default());
        assert!(!o.run.cgroupns_host);
    }

    #[test]
    fn configmap_files_from_the_command_line_are_read() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: busybox\n    env: [{name: X, valueFrom: {configMapKeyRef: {name: ext, key: x}}}]\n";
        let e = plan_of(text).unwrap_err().to_string();
        assert_eq!(
            e,
            "kube yaml: document 1 (Pod \"p\"): container \"c\": env \"X\": ConfigMap \"ext\" not found"
        );
        let extra =
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ext}\ndata: {x: from-file}\n";
        let p = plan_with(text, &[], extra).unwrap();
        assert_eq!(
            env_of(&p.pods[0].containers[0], "X").as_deref(),
            Some("from-file")
        );
        let e = plan_with(&text.replace("key: x", "key: y"), &[], extra)
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("ConfigMap \"ext\" has no key \"y\""), "{e}");
    }

    #[test]
    fn what_cannot_be_made_is_refused_with_one_line() {
        let cases = [
            (
                POD.replace("subPath: sub}", "subPath: ../etc}"),
                "subPath \"../etc\" must be relative",
            ),
            (
                POD.replace("secretName: s,", "secretName: gone,"),
                "volume \"creds\": Secret \"gone\" not found",
            ),
            (
                POD.replace("image: ep", "image: unknown"),
                "image \"unknown\" was not resolved",
            ),
            (
                POD.replace(
                    "ports: [{containerPort: 53, hostPort: 5353, protocol: UDP}]",
                    "ports: [{containerPort: 53, hostPort: 5353}, {containerPort: 54, hostPort: 5353}]",
                ),
                "hostPort 5353/tcp is published twice",
            ),
            (
                POD.replace("data: {pw: aHVudGVyMg==}", "data: {pw: \"not base64!\"}"),
                "key \"pw\": not base64",
            ),
        ];
        for (text, want) in cases {
            let e = plan_of(&text).unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
            assert_eq!(e.lines().count(), 1);
        }
    }

    #[test]
    fn images_are_listed_once_with_their_pull_policy() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  initContainers: [{name: i, image: a, imagePullPolicy: Always}]\n  containers: [{name: c, image: b, imagePullPolicy: Never}, {name: d, image: a}]\n";
        let docs = parse(text).unwrap().documents;
        let claim = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\n";
        let p = plan_of(&format!("{claim}---\n{POD}")).unwrap();
        assert_eq!(p.claims, ["data"]);
        assert_eq!(
            super::images(&docs),
            [("a".into(), "always".into()), ("b".into(), "never".into())]
        );
        assert_eq!(pod_name(&docs[0]).as_deref(), Some("p"));
    }

    #[test]
    fn resources_become_the_limits_run_sets() {
        let text = POD.replace(
            "  - name: app\n",
            "  - name: app\n    resources:\n      limits: {memory: 64Mi, cpu: 500m, nvidia.com/gpu: 1}\n      requests: {memory: 0.03125Gi, cpu: \"0.1\"}\n",
        );
        let p = plan_of(&text).unwrap();
        let r = &p.pods[0].containers[0].options.resources;
        assert_eq!(r.memory, Some(64 << 20));
        assert_eq!(r.nano_cpus, Some(500_000_000));
        // The same cgroup files as `run --memory 64m --cpus 0.5`.
        assert!(r.files().contains(&("cpu.max", "50000 100000".to_string())));
        assert!(r.files().contains(&("memory.max", "67108864".to_string())));
        assert_eq!(r.memory_reservation, Some(32 << 20));
        assert_eq!(r.cpu_shares, Some(102));
        assert_eq!(
            p.warnings,
            ["kube yaml: document 1 (Pod \"p\"): container \"app\": resources.limits.nvidia.com/gpu is not applied: skiff limits cpu and memory only"]
        );
        for (bad, want) in [
            (
                "{limits: {memory: lots}}",
                "resources.limits.memory: \"lots\" is not a quantity",
            ),
            (
                "{limits: {cpu: -1}}",
                "resources.limits.cpu: \"-1\" is not a quantity",
            ),
            (
                "{limits: {memory: 64Mi}, requests: {memory: 1Gi}}",
                "minimum memory limit cannot be less than memory reservation limit",
            ),
        ] {
            let text = POD.replace(
                "  - name: app\n",
                &format!("  - name: app\n    resources: {bad}\n"),
            );
            let e = plan_of(&text).unwrap_err().to_string();
            assert!(e.contains(want), "{bad}: {e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }

    #[test]
    fn quantities_read_as_kubernetes_reads_them() {
        let q = |s: &str| Quantity(s.into());
        assert_eq!(q("128Mi").whole(), Some(128 << 20));
        assert_eq!(q("1G").whole(), Some(1_000_000_000));
        assert_eq!(q("1e3").whole(), Some(1000));
        assert_eq!(q("1.5Ki").whole(), Some(1536));
        assert_eq!(q("500m").milli(), Some(500));
        assert_eq!(q("0.1").milli(), Some(100));
        assert_eq!(q("2").milli(), Some(2000));
        assert_eq!(q("1u").milli(), Some(1), "rounded up");
        for bad in ["", "Mi", "1Qi", "-1", "1e", "1..2"] {
            assert_eq!(q(bad).value(), None, "{bad}");
        }
    }
}
