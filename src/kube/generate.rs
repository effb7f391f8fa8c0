//! `kube generate`: Pod (or Deployment) YAML, and with `--service` a
//! NodePort Service, from a plain description of a pod, in the shape
//! Podman writes: its header comment, the Service before the Pod (helm's
//! install order), keys sorted alphabetically, the label `app: NAME`
//! selecting the pod, and only the fields that differ from the defaults.
//! The output is deterministic: the same description gives the same bytes.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::types::*;
use crate::network::ports::PortMapping;

/// A pod as the generator needs it (part of what its records hold).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodDescription {
    pub name: String,
    /// Labels of the pod; `app: NAME` is added unless `app` is set.
    pub labels: BTreeMap<String, String>,
    /// Written only when it differs from the name.
    pub hostname: String,
    /// `metadata.creationTimestamp`, when known.
    pub created: Option<DateTime<Utc>>,
    /// Always, OnFailure or Never; None leaves Kubernetes' default (Always).
    pub restart_policy: Option<String>,
    pub host_network: bool,
    /// The containers share a pid namespace (`shareProcessNamespace`).
    pub share_pid: bool,
    pub containers: Vec<ContainerDescription>,
}

/// One container of the pod (never the infra container).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerDescription {
    pub name: String,
    pub image: String,
    /// Kubernetes `command` (replaces the image's ENTRYPOINT); empty keeps it.
    pub command: Vec<String>,
    /// Kubernetes `args` (replaces the image's CMD); empty keeps it.
    pub args: Vec<String>,
    /// Variables set on the container beyond the image's own.
    pub env: Vec<(String, String)>,
    /// Published ports; a host port of 0 writes only the container port.
    pub ports: Vec<PortMapping>,
    pub mounts: Vec<MountDescription>,
    pub workdir: String,
    pub security: SecurityDescription,
    /// `resources` as `kube play` recorded them (not applied).
    pub resources: Option<super::types::Resources>,
}

/// Where a mount comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountSource {
    /// A host directory, or a file when `file`.
    HostPath { path: String, file: bool },
    /// A named volume (a PersistentVolumeClaim of the same name).
    Volume(String),
    /// A tmpfs (an emptyDir in memory).
    Tmpfs,
    /// A scratch volume shared by the pod's containers (an emptyDir that
    /// `kube play` made), by its store name: mounts of the same one are
    /// one pod volume.
    EmptyDir(String),
}

/// One mount of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountDescription {
    pub source: MountSource,
    pub destination: String,
    pub read_only: bool,
    /// The part of the volume mounted (`subPath`), empty for all of it.
    pub sub_path: String,
}

/// What the container runs as and with, beyond the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityDescription {
    pub run_as_user: Option<i64>,
    pub run_as_group: Option<i64>,
    pub read_only_root_filesystem: bool,
    pub privileged: bool,
    /// `no_new_privs` (allowPrivilegeEscalation: false).
    pub no_new_privileges: bool,
    /// Capability names with or without `CAP_`, any case.
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
}

/// `kube generate --type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Kind {
    #[default]
    Pod,
    Deployment,
}

/// Podman's header, with our name.
const HEADER: &str = concat!(
    "# Save the output of this file and use kubectl create -f to import\n",
    "# it into Kubernetes.\n",
    "#\n",
    "# Created with skiff-",
    env!("CARGO_PKG_VERSION"),
    "\n"
);

/// The YAML file: header, the Service when `service`, then the Pod or
/// Deployment, separated by `---`.
pub fn generate(pod: &PodDescription, kind: Kind, service: bool) -> String {
    let mut docs = Vec::new();
    if service {
        if let Some(s) = service_object(pod) {
            docs.push(to_yaml(&s));
        }
    }
    docs.push(match kind {
        Kind::Pod => to_yaml(&pod_object(pod)),
        Kind::Deployment => to_yaml(&deployment_object(pod)),
    });
    format!("{HEADER}{}", docs.join("---\n"))
}

/// YAML with keys in alphabetical order at every level, as Kubernetes'
/// own marshalling writes them.
fn to_yaml<T: Serialize>(v: &T) -> String {
    // serde_json's map keeps insertion order (the inspect outputs follow
    // Podman's struct order): sort every object on the way through it.
    let mut sorted = serde_json::to_value(v).expect("kube objects serialise");
    sorted.sort_all_objects();
    let yaml = serde_yaml_ng::to_string(&sorted).expect("json values serialise as yaml");
    // A bare RFC 3339 time is a YAML 1.1 timestamp, which Kubernetes'
    // clients read as a date, not the string its schema wants: quote it,
    // as Podman does. (Our timestamps hold no quote or backslash.)
    yaml.lines()
        .map(|l| match l.split_once("creationTimestamp: ") {
            Some((indent, t)) if !t.starts_with(['"', '\'']) => {
                format!("{indent}creationTimestamp: \"{t}\"\n")
            }
            _ => format!("{l}\n"),
        })
        .collect()
}

fn labels_of(pod: &PodDescription) -> BTreeMap<String, String> {
    let mut labels = pod.labels.clone();
    labels
        .entry("app".into())
        .or_insert_with(|| pod.name.clone());
    labels
}

fn meta(pod: &PodDescription, name: String) -> ObjectMeta {
    ObjectMeta {
        name,
        labels: labels_of(pod),
        creation_timestamp: pod
            .created
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
        ..Default::default()
    }
}

/// The Pod object of a description.
pub fn pod_object(pod: &PodDescription) -> Pod {
    Pod {
        api_version: "v1".into(),
        kind: "Pod".into(),
        metadata: meta(pod, pod.name.clone()),
        spec: pod_spec(pod),
    }
}

/// A Deployment of one replica named `NAME-deployment`, as Podman names it.
pub fn deployment_object(pod: &PodDescription) -> Deployment {
    let labels = labels_of(pod);
    Deployment {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        metadata: meta(pod, format!("{}-deployment", pod.name)),
        spec: DeploymentSpec {
            replicas: Some(1),
            selector: LabelSelector {
                match_labels: [("app".to_string(), labels["app"].clone())].into(),
            },
            template: PodTemplate {
                metadata: meta(pod, pod.name.clone()),
                spec: pod_spec(pod),
            },
        },
    }
}

/// A NodePort Service for the pod's published ports (None without any).
/// Node ports must lie in 30000-32767: a host port there is kept, any
/// other is mapped into the range by its value, so the choice is stable.
pub fn service_object(pod: &PodDescription) -> Option<Service> {
    let mut used = std::collections::BTreeSet::new();
    let mut ports = Vec::new();
    for p in pod.containers.iter().flat_map(|c| &c.ports) {
        let mut node = if (30000..=32767).contains(&p.host_port) {
            p.host_port
        } else {
            30000 + p.host_port % 2768
        };
        while !used.insert(node) {
            node = if node == 32767 { 30000 } else { node + 1 };
        }
        ports.push(ServicePort {
            name: format!("{}-{}", p.container_port, p.protocol),
            port: p.container_port,
            target_port: Some(p.container_port),
            node_port: Some(node),
            protocol: Some(p.protocol.to_ascii_uppercase()),
        });
    }
    if ports.is_empty() {
        return None;
    }
    Some(Service {
        api_version: "v1".into(),
        kind: "Service".into(),
        metadata: meta(pod, pod.name.clone()),
        spec: ServiceSpec {
            kind: Some("NodePort".into()),
            selector: [("app".to_string(), labels_of(pod)["app"].clone())].into(),
            ports,
        },
    })
}

fn pod_spec(pod: &PodDescription) -> PodSpec {
    let mut volumes: Vec<Volume> = Vec::new();
    let mut scratch = BTreeMap::new();
    let containers = pod
        .containers
        .iter()
        .map(|c| container(c, &mut volumes, &mut scratch))
        .collect();
    PodSpec {
        containers,
        restart_policy: pod.restart_policy.clone(),
        host_network: pod.host_network,
        share_process_namespace: pod.share_pid,
        hostname: if pod.hostname == pod.name {
            String::new()
        } else {
            pod.hostname.clone()
        },
        volumes,
        ..Default::default()
    }
}

fn container(
    c: &ContainerDescription,
    volumes: &mut Vec<Volume>,
    scratch: &mut BTreeMap<String, String>,
) -> Container {
    let ports = c
        .ports
        .iter()
        .map(|p| ContainerPort {
            container_port: p.container_port,
            host_port: (p.host_port != 0).then_some(p.host_port),
            host_ip: match p.host_ip.as_str() {
                "0.0.0.0" | "::" => String::new(),
                ip => ip.to_string(),
            },
            protocol: (p.protocol != "tcp").then(|| p.protocol.to_ascii_uppercase()),
            name: String::new(),
        })
        .collect();
    let volume_mounts = c
        .mounts
        .iter()
        .map(|m| VolumeMount {
            name: volume_for(&m.source, volumes, scratch),
            mount_path: m.destination.clone(),
            read_only: m.read_only,
            sub_path: m.sub_path.clone(),
        })
        .collect();
    Container {
        name: c.name.clone(),
        image: c.image.clone(),
        command: c.command.clone(),
        args: c.args.clone(),
        working_dir: c.workdir.clone(),
        env: c
            .env
            .iter()
            .map(|(name, value)| EnvVar {
                name: name.clone(),
                value: Some(value.clone()),
                value_from: None,
            })
            .collect(),
        ports,
        volume_mounts,
        security_context: security(&c.security),
        resources: c.resources.clone(),
        ..Default::default()
    }
}

/// The name of the pod volume for `source`, added to `volumes` once.
fn volume_for(
    source: &MountSource,
    volumes: &mut Vec<Volume>,
    scratch: &mut BTreeMap<String, String>,
) -> String {
    let mut v = Volume::default();
    match source {
        MountSource::HostPath { path, file } => {
            v.name = format!("{}-host-{}", dns_label(path), volumes.len());
            v.host_path = Some(HostPathSource {
                path: path.clone(),
                kind: Some(if *file { "File" } else { "Directory" }.into()),
            });
        }
        MountSource::Volume(name) => {
            v.name = format!("{}-pvc", dns_label(name));
            v.persistent_volume_claim = Some(ClaimSource {
                claim_name: name.clone(),
                read_only: false,
            });
        }
        MountSource::Tmpfs => {
            v.name = format!("tmpfs-{}", volumes.len());
            v.empty_dir = Some(EmptyDirSource {
                medium: "Memory".into(),
                size_limit: None,
            });
        }
        MountSource::EmptyDir(store_name) => {
            if let Some(name) = scratch.get(store_name) {
                return name.clone();
            }
            v.name = format!("scratch-{}", volumes.len());
            v.empty_dir = Some(EmptyDirSource::default());
            scratch.insert(store_name.clone(), v.name.clone());
        }
    }
    let same_source = |w: &&Volume| {
        (w.host_path.is_some() && w.host_path == v.host_path)
            || (w.persistent_volume_claim.is_some()
                && w.persistent_volume_claim == v.persistent_volume_claim)
    };
    if let Some(w) = volumes.iter().find(same_source) {
        return w.name.clone();
    }
    let name = v.name.clone();
    volumes.push(v);
    name
}

/// A DNS-1123 label from a path or name: lowercase letters, digits and
/// dashes, at most 50 characters, "root" when nothing is left.
fn dns_label(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let mut out = String::new();
    for part in mapped.split('-').filter(|p| !p.is_empty()) {
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(part);
    }
    out.truncate(50);
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "root".into()
    } else {
        out
    }
}

/// Kubernetes capability names: upper case, without `CAP_`.
fn cap_names(caps: &[String]) -> Vec<String> {
    caps.iter()
        .map(|c| {
            let c = c.to_ascii_uppercase();
            c.strip_prefix("CAP_").map(str::to_string).unwrap_or(c)
        })
        .collect()
}

fn security(s: &SecurityDescription) -> Option<SecurityContext> {
    let caps = Capabilities {
        add: cap_names(&s.cap_add),
        drop: cap_names(&s.cap_drop),
    };
    let sc = SecurityContext {
        run_as_user: s.run_as_user,
        run_as_group: s.run_as_group,
        read_only_root_filesystem: s.read_only_root_filesystem.then_some(true),
        privileged: s.privileged.then_some(true),
        allow_privilege_escalation: s.no_new_privileges.then_some(false),
        capabilities: (!caps.add.is_empty() || !caps.drop.is_empty()).then_some(caps),
    };
    (sc != SecurityContext::default()).then_some(sc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::{parse, Document};

    /// A pod with one of everything the generator writes.
    pub(crate) fn sample() -> PodDescription {
        PodDescription {
            name: "app".into(),
            labels: [("team".to_string(), "a".to_string())].into(),
            hostname: "app".into(),
            created: Some("2024-01-02T03:04:05Z".parse().unwrap()),
            restart_policy: Some("Never".into()),
            host_network: false,
            share_pid: false,
            containers: vec![
                ContainerDescription {
                    name: "web".into(),
                    image: "localhost/busybox:latest".into(),
                    command: vec!["httpd".into(), "-f".into()],
                    args: vec!["-p".into(), "80".into()],
                    env: vec![("MODE".into(), "prod".into())],
                    ports: vec![PortMapping {
                        host_ip: "127.0.0.1".into(),
                        host_port: 8080,
                        container_port: 80,
                        protocol: "tcp".into(),
                    }],
                    mounts: vec![
                        MountDescription {
                            source: MountSource::HostPath {
                                path: "/srv/www".into(),
                                file: false,
                            },
                            destination: "/www".into(),
                            read_only: true,
                            sub_path: String::new(),
                        },
                        MountDescription {
                            source: MountSource::Tmpfs,
                            destination: "/tmp".into(),
                            read_only: false,
                            sub_path: String::new(),
                        },
                    ],
                    workdir: "/www".into(),
                    security: SecurityDescription {
                        run_as_user: Some(1000),
                        cap_drop: vec!["CAP_NET_RAW".into()],
                        no_new_privileges: true,
                        ..Default::default()
                    },
                    resources: None,
                },
                ContainerDescription {
                    name: "client".into(),
                    image: "localhost/busybox:latest".into(),
                    args: vec!["sleep".into(), "1000".into()],
                    ports: vec![PortMapping {
                        host_ip: String::new(),
                        host_port: 5353,
                        container_port: 53,
                        protocol: "udp".into(),
                    }],
                    mounts: vec![
                        MountDescription {
                            source: MountSource::HostPath {
                                path: "/srv/www".into(),
                                file: false,
                            },
                            destination: "/data".into(),
                            read_only: false,
                            sub_path: String::new(),
                        },
                        MountDescription {
                            source: MountSource::Volume("cache".into()),
                            destination: "/cache".into(),
                            read_only: false,
                            sub_path: String::new(),
                        },
                    ],
                    ..Default::default()
                },
            ],
        }
    }

    #[test]
    fn a_pod_is_written_in_podmans_shape() {
        let y = generate(&sample(), Kind::Pod, false);
        assert!(
            y.starts_with("# Save the output of this file and use kubectl create -f to import\n")
        );
        let body: String = y
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        let want = "\
apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: \"2024-01-02T03:04:05Z\"
  labels:
    app: app
    team: a
  name: app
spec:
  containers:
  - args:
    - -p
    - '80'
    command:
    - httpd
    - -f
    env:
    - name: MODE
      value: prod
    image: localhost/busybox:latest
    name: web
    ports:
    - containerPort: 80
      hostIP: 127.0.0.1
      hostPort: 8080
    securityContext:
      allowPrivilegeEscalation: false
      capabilities:
        drop:
        - NET_RAW
      runAsUser: 1000
    volumeMounts:
    - mountPath: /www
      name: srv-www-host-0
      readOnly: true
    - mountPath: /tmp
      name: tmpfs-1
    workingDir: /www
  - args:
    - sleep
    - '1000'
    image: localhost/busybox:latest
    name: client
    ports:
    - containerPort: 53
      hostPort: 5353
      protocol: UDP
    volumeMounts:
    - mountPath: /data
      name: srv-www-host-0
    - mountPath: /cache
      name: cache-pvc
  restartPolicy: Never
  volumes:
  - hostPath:
      path: /srv/www
      type: Directory
    name: srv-www-host-0
  - emptyDir:
      medium: Memory
    name: tmpfs-1
  - name: cache-pvc
    persistentVolumeClaim:
      claimName: cache
";
        assert_eq!(body, want);
        assert_eq!(y, generate(&sample(), Kind::Pod, false), "deterministic");
    }

    #[test]
    fn generated_yaml_parses_back_to_the_same_pod() {
        let d = sample();
        let p = parse(&generate(&d, Kind::Pod, true)).unwrap();
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        let [Document::Service(svc), Document::Pod(pod)] = &p.documents[..] else {
            panic!("{:?}", p.documents)
        };
        assert_eq!(pod, &pod_object(&d));
        assert_eq!(svc.spec.selector["app"], "app");
        let got: Vec<(u16, Option<u16>, Option<&str>)> = svc
            .spec
            .ports
            .iter()
            .map(|p| (p.port, p.node_port, p.protocol.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (80, Some(30000 + 8080 % 2768), Some("TCP")),
                (53, Some(30000 + 5353 % 2768), Some("UDP"))
            ]
        );
        let c = &pod.spec.containers[0];
        assert_eq!(
            (c.command.clone(), c.args.clone()),
            (
                d.containers[0].command.clone(),
                d.containers[0].args.clone()
            )
        );
    }

    #[test]
    fn a_deployment_wraps_the_pod_as_podman_names_it() {
        let d = sample();
        let p = parse(&generate(&d, Kind::Deployment, false)).unwrap();
        let [Document::Deployment(dep)] = &p.documents[..] else {
            panic!("{:?}", p.documents)
        };
        assert_eq!(dep.metadata.name, "app-deployment");
        assert_eq!(dep.spec.replicas, Some(1));
        assert_eq!(dep.spec.selector.match_labels["app"], "app");
        assert_eq!(dep.spec.template.metadata.labels["app"], "app");
        assert_eq!(dep.spec.template.spec, pod_object(&d).spec);
    }

    #[test]
    fn node_ports_stay_in_range_and_distinct() {
        let mut d = sample();
        d.containers.truncate(1);
        let port = |host| PortMapping {
            host_ip: String::new(),
            host_port: host,
            container_port: 80,
            protocol: "tcp".into(),
        };
        d.containers[0].ports = vec![port(31000), port(8080), port(8080 + 2768), port(0)];
        let s = service_object(&d).unwrap();
        let nodes: Vec<u16> = s.spec.ports.iter().map(|p| p.node_port.unwrap()).collect();
        assert_eq!(
            nodes,
            [31000, 30000 + 8080 % 2768, 30000 + 8080 % 2768 + 1, 30000]
        );
        d.containers[0].ports.clear();
        assert!(service_object(&d).is_none());
        assert!(!generate(&d, Kind::Pod, true).contains("kind: Service"));
    }

    #[test]
    fn defaults_are_left_out() {
        let d = PodDescription {
            name: "min".into(),
            hostname: "other".into(),
            containers: vec![ContainerDescription {
                name: "c".into(),
                image: "busybox".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let y = generate(&d, Kind::Pod, false);
        for absent in [
            "securityContext",
            "volumes",
            "restartPolicy",
            "creationTimestamp",
            "ports",
        ] {
            assert!(!y.contains(absent), "{absent} in {y}");
        }
        assert!(y.contains("  hostname: other\n"), "{y}");
        assert_eq!(dns_label("/"), "root");
        assert_eq!(dns_label("/Home/U_1/x.y/"), "home-u-1-x-y");
    }
}
