//! Multi-document Kubernetes YAML into typed objects: each `---` document
//! is read as a YAML value, its `kind` picks the type, every field the type
//! does not know becomes a warning naming its path, and what skiff cannot
//! run (no image, a container name used twice, a mount of no volume) is
//! refused with one line naming the document, the object and the field.

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_yaml_ng::Value;

use super::types::*;
use super::Error;

/// One object of a YAML file.
#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    Pod(Pod),
    Deployment(Deployment),
    DaemonSet(DaemonSet),
    Job(Job),
    ConfigMap(ConfigMap),
    Secret(Secret),
    PersistentVolumeClaim(PersistentVolumeClaim),
    Service(Service),
}

impl Document {
    /// `metadata.name` of the object.
    pub fn name(&self) -> &str {
        &self.meta().name
    }

    /// The object's metadata.
    pub fn meta(&self) -> &ObjectMeta {
        match self {
            Document::Pod(o) => &o.metadata,
            Document::Deployment(o) => &o.metadata,
            Document::DaemonSet(o) => &o.metadata,
            Document::Job(o) => &o.metadata,
            Document::ConfigMap(o) => &o.metadata,
            Document::Secret(o) => &o.metadata,
            Document::PersistentVolumeClaim(o) => &o.metadata,
            Document::Service(o) => &o.metadata,
        }
    }

    /// The pod spec a Pod holds, or the template of a workload.
    pub fn pod_spec(&self) -> Option<&PodSpec> {
        match self {
            Document::Pod(o) => Some(&o.spec),
            Document::Deployment(o) => Some(&o.spec.template.spec),
            Document::DaemonSet(o) => Some(&o.spec.template.spec),
            Document::Job(o) => Some(&o.spec.template.spec),
            _ => None,
        }
    }
}

/// The objects of a file, in order, and the warnings about what was
/// ignored (one line each).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    pub documents: Vec<Document>,
    pub warnings: Vec<String>,
}

/// Parses every `---` document of `text`. Empty documents are skipped; a
/// file without any object is an error.
pub fn parse(text: &str) -> Result<Parsed, Error> {
    let mut out = Parsed::default();
    for (i, de) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let doc = i + 1;
        let value = Value::deserialize(de).map_err(|e| Error::Yaml {
            doc,
            msg: e.to_string(),
        })?;
        if value.is_null() {
            continue;
        }
        if !value.is_mapping() {
            return Err(Error::Yaml {
                doc,
                msg: "not a mapping of fields: not a Kubernetes object".into(),
            });
        }
        let kind = match value.get("kind") {
            Some(Value::String(k)) => k.clone(),
            _ => return Err(Error::NoKind { doc }),
        };
        let mut ignored = Vec::new();
        let d = match kind.as_str() {
            "Pod" => Document::Pod(typed(doc, value, &mut ignored)?),
            "Deployment" => Document::Deployment(typed(doc, value, &mut ignored)?),
            "DaemonSet" => Document::DaemonSet(typed(doc, value, &mut ignored)?),
            "Job" => Document::Job(typed(doc, value, &mut ignored)?),
            "ConfigMap" => Document::ConfigMap(typed(doc, value, &mut ignored)?),
            "Secret" => Document::Secret(typed(doc, value, &mut ignored)?),
            "PersistentVolumeClaim" => {
                Document::PersistentVolumeClaim(typed(doc, value, &mut ignored)?)
            }
            "Service" => Document::Service(typed(doc, value, &mut ignored)?),
            _ => return Err(Error::UnknownKind { doc, kind }),
        };
        let at = At {
            doc,
            kind: &kind,
            name: d.name(),
        };
        if d.name().is_empty() {
            return Err(at.missing("metadata.name"));
        }
        if let Some(spec) = d.pod_spec() {
            check_pod_spec(&at, spec)?;
        }
        for path in ignored {
            out.warnings.push(format!(
                "kube yaml: document {doc} ({kind} {:?}): unsupported field {path} ignored",
                d.name()
            ));
        }
        out.documents.push(d);
    }
    if out.documents.is_empty() {
        return Err(Error::Empty);
    }
    Ok(out)
}

/// Deserialises one document into `T`, recording the path of every field
/// `T` does not have, and naming the path of a value of the wrong type.
fn typed<T: DeserializeOwned>(
    doc: usize,
    value: Value,
    ignored: &mut Vec<String>,
) -> Result<T, Error> {
    let mut track = serde_path_to_error::Track::new();
    let de = serde_path_to_error::Deserializer::new(value, &mut track);
    serde_ignored::deserialize(de, |path| ignored.push(field_path(&path))).map_err(|e| {
        Error::Yaml {
            doc,
            msg: format!("{}: {e}", track.path()),
        }
    })
}

/// `spec.containers[0].livenessProbe`, as kubectl names fields.
fn field_path(p: &serde_ignored::Path) -> String {
    use serde_ignored::Path as P;
    match p {
        P::Root => String::new(),
        P::Seq { parent, index } => format!("{}[{index}]", field_path(parent)),
        P::Map { parent, key } => {
            let parent = field_path(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            field_path(parent)
        }
    }
}

/// Where in the file an object is, for its errors: the document
/// (1-based), the object's kind and name.
pub(super) struct At<'a> {
    pub doc: usize,
    pub kind: &'a str,
    pub name: &'a str,
}

impl At<'_> {
    fn missing(&self, field: &str) -> Error {
        Error::Missing {
            doc: self.doc,
            kind: self.kind.into(),
            name: self.name.into(),
            field: field.into(),
        }
    }

    /// [`Error::Invalid`] for this object.
    pub(super) fn invalid(&self, what: String) -> Error {
        Error::Invalid {
            doc: self.doc,
            kind: self.kind.into(),
            name: self.name.into(),
            what,
        }
    }
}

/// What skiff needs of a pod spec before it creates anything.
fn check_pod_spec(at: &At, spec: &PodSpec) -> Result<(), Error> {
    if spec.containers.is_empty() {
        return Err(at.missing("spec.containers"));
    }
    if let Some(p) = &spec.restart_policy {
        if !matches!(p.as_str(), "Always" | "OnFailure" | "Never") {
            return Err(at.invalid(format!(
                "restartPolicy {p:?}: use Always, OnFailure or Never"
            )));
        }
    }
    let volumes: BTreeSet<&str> = spec.volumes.iter().map(|v| v.name.as_str()).collect();
    for v in &spec.volumes {
        let sources = [
            v.host_path.is_some(),
            v.empty_dir.is_some(),
            v.config_map.is_some(),
            v.secret.is_some(),
            v.persistent_volume_claim.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() != 1 {
            return Err(at.invalid(format!(
                "volume {:?}: give exactly one of hostPath, emptyDir, configMap, secret, persistentVolumeClaim",
                v.name
            )));
        }
        if let Some(h) = &v.host_path {
            // Kubernetes' validation refuses both: a path with a `..`
            // component would also be made (DirectoryOrCreate) outside
            // the directories it names.
            if h.path.is_empty() {
                return Err(at.missing(&format!("volume {:?}: hostPath.path", v.name)));
            }
            let climbs = std::path::Path::new(&h.path)
                .components()
                .any(|c| c == std::path::Component::ParentDir);
            if climbs {
                return Err(at.invalid(format!(
                    "volume {:?}: hostPath.path {:?} must not contain '..'",
                    v.name, h.path
                )));
            }
        }
    }
    let mut names = BTreeSet::new();
    let all = [
        ("initContainers", &spec.init_containers),
        ("containers", &spec.containers),
    ];
    for (field, list) in all {
        for (i, c) in list.iter().enumerate() {
            if c.name.is_empty() {
                return Err(at.missing(&format!("spec.{field}[{i}].name")));
            }
            if !names.insert(c.name.as_str()) {
                return Err(Error::DuplicateContainer {
                    doc: at.doc,
                    kind: at.kind.into(),
                    name: at.name.into(),
                    container: c.name.clone(),
                });
            }
            if c.image.is_empty() {
                return Err(Error::NoImage {
                    doc: at.doc,
                    kind: at.kind.into(),
                    name: at.name.into(),
                    container: c.name.clone(),
                });
            }
            check_container(at, c, &volumes)?;
        }
    }
    Ok(())
}

fn check_container(at: &At, c: &Container, volumes: &BTreeSet<&str>) -> Result<(), Error> {
    let bad = |what: String| at.invalid(format!("container {:?}: {what}", c.name));
    if let Some(p) = &c.image_pull_policy {
        if !matches!(p.as_str(), "Always" | "IfNotPresent" | "Never") {
            return Err(bad(format!(
                "imagePullPolicy {p:?}: use Always, IfNotPresent or Never"
            )));
        }
    }
    for p in &c.ports {
        if p.container_port == 0 {
            return Err(bad("containerPort 0 is not a port".into()));
        }
        if let Some(proto) = &p.protocol {
            if !matches!(proto.as_str(), "TCP" | "UDP") {
                return Err(bad(format!("protocol {proto:?}: use TCP or UDP")));
            }
        }
    }
    for m in &c.volume_mounts {
        if !volumes.contains(m.name.as_str()) {
            return Err(bad(format!(
                "volumeMount {:?} names no volume of the pod",
                m.name
            )));
        }
        if !m.mount_path.starts_with('/') {
            return Err(bad(format!(
                "volumeMount {:?}: mountPath {:?} is not absolute",
                m.name, m.mount_path
            )));
        }
    }
    for e in &c.env {
        let Some(from) = &e.value_from else { continue };
        let n = [
            from.config_map_key_ref.is_some(),
            from.secret_key_ref.is_some(),
            from.field_ref.is_some(),
        ]
        .iter()
        .filter(|s| **s)
        .count();
        if n != 1 || e.value.is_some() {
            return Err(bad(format!(
                "env {:?}: give a value or exactly one of configMapKeyRef, secretKeyRef, fieldRef",
                e.name
            )));
        }
        if let Some(f) = &from.field_ref {
            if f.field_path != "metadata.name" {
                return Err(bad(format!(
                    "env {:?}: fieldRef {:?} is not supported: skiff knows metadata.name",
                    e.name, f.field_path
                )));
            }
        }
    }
    for e in &c.env_from {
        if e.config_map_ref.is_some() == e.secret_ref.is_some() {
            return Err(bad(
                "envFrom: give exactly one of configMapRef, secretRef".into()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEB: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
spec:
  restartPolicy: Always
  containers:
  - name: server
    image: busybox
    command: [httpd, -f, -p, \"80\"]
    ports:
    - containerPort: 80
      hostPort: 8080
";

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn the_example_pods_parse_without_warnings() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pods");
        let mut seen = Vec::new();
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".yaml") {
                continue;
            }
            let p = parse(&std::fs::read_to_string(e.path()).unwrap())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(p.warnings.is_empty(), "{name}: {:?}", p.warnings);
            assert!(p.documents.iter().any(|d| d.pod_spec().is_some()), "{name}");
            seen.push(name);
        }
        seen.sort();
        assert_eq!(
            seen,
            [
                "configmap.yaml",
                "deployment.yaml",
                "init-container.yaml",
                "web-client.yaml"
            ]
        );
    }

    #[test]
    fn a_pod_parses_into_its_fields() {
        let p = parse(WEB).unwrap();
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        let [Document::Pod(pod)] = &p.documents[..] else {
            panic!("{:?}", p.documents)
        };
        assert_eq!(pod.metadata.name, "web");
        assert_eq!(pod.metadata.labels["app"], "web");
        let c = &pod.spec.containers[0];
        assert_eq!(c.command, ["httpd", "-f", "-p", "80"]);
        assert_eq!(c.ports[0].host_port, Some(8080));
        assert_eq!(pod.spec.restart_policy.as_deref(), Some("Always"));
    }

    #[test]
    fn documents_split_on_dashes_and_empty_ones_are_skipped() {
        let text = format!(
            "---\n{WEB}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  A: \"1\"\n---\n"
        );
        let p = parse(&text).unwrap();
        assert_eq!(p.documents.len(), 2);
        assert_eq!(p.documents[1].name(), "cfg");
        let Document::ConfigMap(cm) = &p.documents[1] else {
            panic!()
        };
        assert_eq!(cm.data["A"], "1");
        assert_eq!(
            err("---\n---\n"),
            "kube yaml: no Kubernetes object in the file"
        );
    }

    #[test]
    fn every_supported_kind_parses() {
        let text = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  replicas: 2
  selector: {matchLabels: {app: d}}
  template:
    metadata: {labels: {app: d}}
    spec: {containers: [{name: c, image: busybox}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ds}
spec:
  selector: {matchLabels: {app: ds}}
  template: {spec: {containers: [{name: c, image: busybox}]}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: j}
spec:
  backoffLimit: 1
  template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}
---
apiVersion: v1
kind: Secret
metadata: {name: s}
type: Opaque
data: {pw: aHVudGVyMg==}
stringData: {user: me}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Service
metadata: {name: svc}
spec:
  type: NodePort
  selector: {app: d}
  ports: [{port: 80, targetPort: 80, nodePort: 30080, protocol: TCP}]
";
        let p = parse(text).unwrap();
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        let kinds: Vec<&str> = p
            .documents
            .iter()
            .map(|d| match d {
                Document::Deployment(d) => {
                    assert_eq!(d.spec.replicas, Some(2));
                    "Deployment"
                }
                Document::DaemonSet(_) => "DaemonSet",
                Document::Job(j) => {
                    assert_eq!(j.spec.backoff_limit, Some(1));
                    "Job"
                }
                Document::Secret(s) => {
                    assert_eq!(s.string_data["user"], "me");
                    "Secret"
                }
                Document::PersistentVolumeClaim(c) => {
                    let r = c.spec.resources.as_ref().unwrap();
                    assert_eq!(r.requests["storage"], Quantity("1Gi".into()));
                    "PersistentVolumeClaim"
                }
                Document::Service(s) => {
                    assert_eq!(s.spec.ports[0].node_port, Some(30080));
                    "Service"
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(kinds.len(), 6);
        assert!(p.documents[0].pod_spec().is_some());
        assert!(p.documents[3].pod_spec().is_none());
    }

    #[test]
    fn container_fields_parse() {
        let text = "\
apiVersion: v1
kind: Pod
metadata: {name: full, annotations: {a: b}}
spec:
  terminationGracePeriodSeconds: 5
  hostNetwork: true
  hostname: box
  hostAliases: [{ip: 10.0.0.2, hostnames: [db, db.local]}]
  dnsConfig:
    nameservers: [1.1.1.1]
    searches: [example.com]
    options: [{name: ndots, value: \"2\"}, {name: edns0}]
  volumes:
  - {name: data, hostPath: {path: /srv, type: Directory}}
  - {name: scratch, emptyDir: {medium: Memory, sizeLimit: 64Mi}}
  - name: conf
    configMap: {name: cfg, items: [{key: a, path: a.conf}], defaultMode: 420}
  - {name: creds, secret: {secretName: s}}
  - {name: vol, persistentVolumeClaim: {claimName: data}}
  initContainers:
  - {name: init, image: busybox, args: [\"true\"]}
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    args: [sleep, \"1000\"]
    workingDir: /srv
    env:
    - {name: PLAIN, value: x}
    - {name: FROM_CM, valueFrom: {configMapKeyRef: {name: cfg, key: a}}}
    - {name: FROM_SECRET, valueFrom: {secretKeyRef: {name: s, key: pw, optional: true}}}
    - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    envFrom:
    - {configMapRef: {name: cfg}, prefix: CFG_}
    - {secretRef: {name: s}}
    ports: [{containerPort: 53, protocol: UDP, hostIP: 127.0.0.1, hostPort: 5353, name: dns}]
    volumeMounts:
    - {name: data, mountPath: /data, readOnly: true, subPath: sub}
    - {name: scratch, mountPath: /tmp}
    securityContext:
      runAsUser: 1000
      runAsGroup: 1000
      readOnlyRootFilesystem: true
      privileged: false
      allowPrivilegeEscalation: false
      capabilities: {add: [NET_ADMIN], drop: [ALL]}
    resources:
      limits: {cpu: 1, memory: 128Mi}
      requests: {cpu: 500m}
";
        let p = parse(text).unwrap();
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        let Document::Pod(pod) = &p.documents[0] else {
            panic!()
        };
        let s = &pod.spec;
        assert_eq!(s.termination_grace_period_seconds, Some(5));
        assert!(s.host_network);
        assert_eq!(s.host_aliases[0].hostnames, ["db", "db.local"]);
        let dns = s.dns_config.as_ref().unwrap();
        assert_eq!(dns.options[0].value.as_deref(), Some("2"));
        assert_eq!(s.volumes.len(), 5);
        assert_eq!(
            s.volumes[2].config_map.as_ref().unwrap().default_mode,
            Some(420)
        );
        let c = &s.containers[0];
        assert_eq!(c.env.len(), 4);
        assert_eq!(
            c.env[3]
                .value_from
                .as_ref()
                .unwrap()
                .field_ref
                .as_ref()
                .unwrap()
                .field_path,
            "metadata.name"
        );
        assert_eq!(c.env_from[0].prefix, "CFG_");
        assert_eq!(c.ports[0].host_ip, "127.0.0.1");
        assert!(c.volume_mounts[0].read_only);
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(sc.capabilities.as_ref().unwrap().drop, ["ALL"]);
        let r = c.resources.as_ref().unwrap();
        assert_eq!(r.limits["cpu"], Quantity("1".into()), "a number quantity");
        assert_eq!(r.limits["memory"], Quantity("128Mi".into()));
    }

    #[test]
    fn unknown_fields_are_warned_about_by_path() {
        let text = WEB.replace(
            "    image: busybox\n",
            "    image: busybox\n    livenessProbe: {exec: {command: [true]}}\n    stdinOnce: true\n",
        ) + "  schedulerName: x\nstatus: {phase: Running}\n";
        let p = parse(&text).unwrap();
        assert_eq!(
            p.warnings,
            [
                "kube yaml: document 1 (Pod \"web\"): unsupported field spec.containers[0].livenessProbe ignored",
                "kube yaml: document 1 (Pod \"web\"): unsupported field spec.containers[0].stdinOnce ignored",
                "kube yaml: document 1 (Pod \"web\"): unsupported field spec.schedulerName ignored",
                "kube yaml: document 1 (Pod \"web\"): unsupported field status ignored",
            ]
        );
    }

    #[test]
    fn bad_indentation_is_one_line_naming_the_place() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n spec:\n  containers: []\n";
        let e = err(text);
        assert!(e.starts_with("kube yaml: document 1: "), "{e}");
        assert!(e.contains("line 5"), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_field() {
        let e = err(&WEB.replace("containerPort: 80", "containerPort: eighty"));
        assert!(
            e.starts_with(
                "kube yaml: document 1: spec.containers[0].ports[0].containerPort: invalid type"
            ),
            "{e}"
        );
    }

    #[test]
    fn unknown_kinds_and_missing_kinds_are_refused() {
        let e = err(&format!(
            "{WEB}---\napiVersion: v1\nkind: Ingress\nmetadata: {{name: i}}\n"
        ));
        assert!(
            e.starts_with("kube yaml: document 2: unknown kind \"Ingress\""),
            "{e}"
        );
        assert_eq!(
            err("apiVersion: v1\nmetadata: {name: x}\n"),
            "kube yaml: document 1: no kind: not a Kubernetes object"
        );
        let e = err("- just\n- a list\n");
        assert!(e.contains("not a mapping"), "{e}");
    }

    #[test]
    fn missing_image_and_duplicate_names_are_refused() {
        assert_eq!(
            err(&WEB.replace("    image: busybox\n", "")),
            "kube yaml: document 1 (Pod \"web\"): container \"server\" has no image"
        );
        let twice = WEB.to_string() + "  initContainers:\n  - {name: server, image: busybox}\n";
        assert_eq!(
            err(&twice),
            "kube yaml: document 1 (Pod \"web\"): the container name \"server\" is used twice"
        );
        assert_eq!(
            err(&WEB.replace("  name: web\n", "")),
            "kube yaml: document 1 (Pod \"\"): metadata.name is required"
        );
        let e = err("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {}\n");
        assert!(e.ends_with("spec.containers is required"), "{e}");
    }

    #[test]
    fn what_skiff_cannot_run_is_refused_before_anything_exists() {
        let cases = [
            (
                WEB.replace("restartPolicy: Always", "restartPolicy: Sometimes"),
                "restartPolicy \"Sometimes\"",
            ),
            (
                WEB.replace("hostPort: 8080", "hostPort: 8080\n      protocol: SCTP"),
                "protocol \"SCTP\"",
            ),
            (
                WEB.replace("- containerPort: 80", "- containerPort: 0"),
                "containerPort 0",
            ),
            (
                WEB.to_string() + "    volumeMounts: [{name: nope, mountPath: /x}]\n",
                "volumeMount \"nope\" names no volume",
            ),
            (
                WEB.to_string()
                    + "  volumes: [{name: h, hostPath: {path: /tmp/new/../../x, type: DirectoryOrCreate}}]\n",
                "volume \"h\": hostPath.path \"/tmp/new/../../x\" must not contain '..'",
            ),
            (
                WEB.to_string() + "  volumes: [{name: h, hostPath: {path: ''}}]\n",
                "volume \"h\": hostPath.path is required",
            ),
            (
                WEB.to_string()
                    + "    env: [{name: X, valueFrom: {fieldRef: {fieldPath: status.podIP}}}]\n",
                "fieldRef \"status.podIP\" is not supported",
            ),
            (
                WEB.to_string() + "  volumes: [{name: v}]\n",
                "volume \"v\": give exactly one of",
            ),
        ];
        for (text, want) in cases {
            let e = err(&text);
            assert!(e.contains(want), "{want}: {e}");
            assert!(
                e.starts_with("kube yaml: document 1 (Pod \"web\"): "),
                "{e}"
            );
        }
    }
}
