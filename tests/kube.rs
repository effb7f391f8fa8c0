//! Kubernetes YAML against Kubernetes' own schemas: what `kube generate`
//! writes and the example files in pods/ are checked by the PyPI client
//! `kubernetes-validate` (installed by `.ci/setup` into its virtual
//! environment), in strict mode, which refuses unknown fields. And `kube
//! play` / `kube down` / `kube generate` with real pods, as an unprivileged
//! user: traffic between a pod's containers over localhost, a published
//! hostPort from 127.0.0.1, init containers, nothing left behind.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

use skiff::kube::generate::{
    generate, ContainerDescription, Kind, MountDescription, MountSource, PodDescription,
    SecurityDescription,
};
use skiff::kube::types::Quantity;
use skiff::network::ports::PortMapping;

const VALIDATE: &str = "/opt/skiff-venv/bin/kubernetes-validate";

/// Runs the validator on `files`; returns (success, its output).
fn validate(files: &[PathBuf]) -> (bool, String) {
    assert!(
        Path::new(VALIDATE).exists(),
        "{VALIDATE} is missing: run `sudo .ci/setup`"
    );
    let out = Command::new(VALIDATE)
        .arg("--strict")
        .args(files)
        .output()
        .expect("run kubernetes-validate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn pod() -> PodDescription {
    let port = |host, container, protocol: &str| PortMapping {
        host_ip: String::new(),
        host_port: host,
        container_port: container,
        protocol: protocol.into(),
    };
    PodDescription {
        name: "app".into(),
        labels: [("team".to_string(), "a".to_string())].into(),
        hostname: "app-host".into(),
        created: Some(chrono::Utc::now()),
        restart_policy: Some("Always".into()),
        host_network: false,
        share_pid: true,
        containers: vec![
            ContainerDescription {
                name: "web".into(),
                image: "localhost/busybox:latest".into(),
                command: vec!["httpd".into()],
                args: vec!["-f".into(), "-p".into(), "80".into()],
                env: vec![("MODE".into(), "prod".into())],
                ports: vec![port(8080, 80, "tcp"), port(5353, 53, "udp")],
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
                        source: MountSource::Volume("cache".into()),
                        destination: "/cache".into(),
                        read_only: false,
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
                    run_as_group: Some(1000),
                    read_only_root_filesystem: true,
                    privileged: false,
                    no_new_privileges: true,
                    cap_add: vec!["net_bind_service".into()],
                    cap_drop: vec!["CAP_NET_RAW".into()],
                },
                resources: Some(skiff::kube::types::Resources {
                    limits: [("memory".into(), Quantity("64Mi".into()))].into(),
                    requests: [("cpu".into(), Quantity("100m".into()))].into(),
                }),
            },
            ContainerDescription {
                name: "client".into(),
                image: "localhost/busybox:latest".into(),
                args: vec!["sleep".into(), "1000".into()],
                ..Default::default()
            },
        ],
    }
}

#[test]
fn generated_pods_deployments_and_services_pass_kubernetes_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (name, kind, service) in [
        ("pod.yaml", Kind::Pod, false),
        ("pod-service.yaml", Kind::Pod, true),
        ("deployment-service.yaml", Kind::Deployment, true),
    ] {
        let f = dir.path().join(name);
        std::fs::write(&f, generate(&pod(), kind, service)).unwrap();
        files.push(f);
    }
    let (ok, out) = validate(&files);
    assert!(ok, "kubernetes-validate refused generated YAML:\n{out}");
    // Every resource was looked at: pod, pod + service, deployment + service.
    for (resource, times) in [
        ("pod/app", 2),
        ("service/app", 2),
        ("deployment/app-deployment", 1),
    ] {
        let n = out
            .matches(&format!("passed for resource {resource} "))
            .count();
        assert_eq!(n, times, "{resource} in:\n{out}");
    }
}

#[test]
fn the_example_pods_pass_kubernetes_schemas() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pods");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "examples missing in {}", dir.display());
    let (ok, out) = validate(&files);
    assert!(ok, "kubernetes-validate refused an example:\n{out}");
    assert!(!out.contains("failed"), "{out}");
}

#[test]
fn the_validator_refuses_what_kubernetes_would() {
    // The check above can fail: a field Kubernetes does not know, and a
    // port of the wrong type, are refused.
    let dir = tempfile::tempdir().unwrap();
    let good = generate(&pod(), Kind::Pod, false);
    assert!(good.contains("  shareProcessNamespace: true\n"), "{good}");
    for (name, bad) in [
        (
            "unknown.yaml",
            good.replace("  containers:\n", "  containerz: []\n  containers:\n"),
        ),
        (
            "type.yaml",
            good.replace("containerPort: 80", "containerPort: eighty"),
        ),
    ] {
        assert_ne!(bad, good, "{name}: the replacement did not apply");
        let f = dir.path().join(name);
        std::fs::write(&f, bad).unwrap();
        let (ok, out) = validate(&[f]);
        assert!(!ok, "{name} passed:\n{out}");
    }
}

/// An example of pods/ with its host ports replaced by free ones; returns
/// the text and the ports in the order they appear.
fn example(name: &str) -> (String, Vec<u16>) {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("pods")
            .join(name),
    )
    .unwrap();
    let mut ports = Vec::new();
    let out = text
        .lines()
        .map(|l| match l.split_once("hostPort: ") {
            Some((indent, _)) => {
                let p = free_port();
                ports.push(p);
                format!("{indent}hostPort: {p}\n")
            }
            None => format!("{l}\n"),
        })
        .collect();
    (out, ports)
}

/// Polls `cond` every 50 ms for up to 15 s.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The logs of container `name` once they contain `needle`.
fn logs_with(s: &Skiff, name: &str, needle: &str) -> String {
    let mut logs = String::new();
    wait_until(&format!("{needle:?} in the logs of {name}"), || {
        logs = s.ok(&["logs", name]);
        logs.contains(needle)
    });
    logs
}

/// The ids `kube play` printed: (pod, containers).
fn played(out: &str) -> (String, Vec<String>) {
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("Pod:"), "{out}");
    let pod = lines.next().unwrap().to_string();
    let title = lines.next().unwrap_or_default();
    assert!(title == "Containers:" || title == "Container:", "{out}");
    let ctrs = lines
        .take_while(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    (pod, ctrs)
}

/// Asserts that nothing a play makes is there: no container (infra
/// included), pod, volume or infra process.
fn nothing_left(s: &Skiff, what: &str) {
    assert!(s.container_ids().is_empty(), "{what}: a container was left");
    assert!(
        s.ok(&["pod", "ps", "-q"]).is_empty(),
        "{what}: a pod was left"
    );
    assert!(
        s.ok(&["volume", "ls", "-q"]).is_empty(),
        "{what}: a volume was left"
    );
    assert!(
        s.processes_with("_infra").is_empty(),
        "{what}: an infra process was left"
    );
}

fn port_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

#[test]
fn play_web_client_serves_on_localhost_and_the_host_port_then_down_leaves_nothing() {
    let s = busybox();
    let (yaml, ports) = example("web-client.yaml");
    let file = s.write_file("web-client.yaml", yaml.as_bytes());
    let out = s.ok(&["kube", "play", file.to_str().unwrap()]);
    let (pod, ctrs) = played(&out);
    assert_eq!(pod.len(), 64, "{out}");
    assert_eq!(ctrs.len(), 2, "{out}");
    assert_eq!(
        s.inspect_format("web-client-web", "{{.State.Status}}")
            .trim(),
        "running"
    );
    // The client reaches the server over the pod's localhost.
    let mut got = String::new();
    wait_until("the web server on the pod's localhost", || {
        let o = s.cmd(&[
            "exec",
            "web-client-client",
            "wget",
            "-qO-",
            "http://localhost:80/",
        ]);
        got = o.stdout.clone();
        o.code == 0
    });
    assert_eq!(got, "hello from skiff\n");
    // The hostPort answers on 127.0.0.1.
    assert!(http_get(ports[0]).contains("hello from skiff"));

    let out = s.ok(&["kube", "down", file.to_str().unwrap()]);
    assert_eq!(out, format!("Pods stopped:\n{pod}\nPods removed:\n{pod}\n"));
    assert!(s.container_ids().is_empty(), "no container, infra included");
    assert!(port_free(ports[0]), "the host port is free again");
    assert!(s.ok(&["volume", "ls", "-q"]).is_empty());
    // A second down finds nothing to remove.
    assert_eq!(
        s.ok(&["kube", "down", file.to_str().unwrap()]),
        "Pods stopped:\nPods removed:\n"
    );
}

#[test]
fn init_containers_run_in_order_before_the_pod_and_a_failing_one_stops_play() {
    let s = busybox();
    // The example: the init container writes the page the server serves.
    let (yaml, ports) = example("init-container.yaml");
    let file = s.write_file("init.yaml", yaml.as_bytes());
    let out = s.ok(&["kube", "play", file.to_str().unwrap()]);
    let (_, ctrs) = played(&out);
    assert_eq!(ctrs.len(), 1, "the init container is gone once done: {out}");
    assert!(http_get(ports[0]).contains("prepared by init"));
    s.ok(&["kube", "down", file.to_str().unwrap()]);
    assert!(s.container_ids().is_empty());
    assert!(
        s.ok(&["volume", "ls", "-q"]).is_empty(),
        "the emptyDir volume went with the pod"
    );

    // Two init containers run one after the other, each to its end.
    let order = "\
apiVersion: v1
kind: Pod
metadata: {name: ordered}
spec:
  volumes: [{name: work, emptyDir: {}}]
  initContainers:
  - name: first
    image: localhost/busybox:latest
    command: [sh, -c, 'sleep 0.3; echo first >> /work/order']
    volumeMounts: [{name: work, mountPath: /work}]
  - name: second
    image: localhost/busybox:latest
    command: [sh, -c, 'echo second >> /work/order']
    volumeMounts: [{name: work, mountPath: /work}]
  containers:
  - name: main
    image: localhost/busybox:latest
    command: [sh, -c, 'cat /work/order; echo main; trap \"exit 0\" TERM; sleep 1000 & wait']
    volumeMounts: [{name: work, mountPath: /work}]
";
    let file = s.write_file("order.yaml", order.as_bytes());
    s.ok(&["kube", "play", file.to_str().unwrap()]);
    assert_eq!(
        logs_with(&s, "ordered-main", "main"),
        "first\nsecond\nmain\n"
    );
    s.ok(&["kube", "down", file.to_str().unwrap()]);

    // A failing init container: one line, 125, and nothing is left.
    let failing = order.replace("echo second >> /work/order", "exit 3");
    let file = s.write_file("failing.yaml", failing.as_bytes());
    let o = s.cmd(&["kube", "play", file.to_str().unwrap()]);
    assert_eq!(o.code, 125, "{}", o.describe());
    assert_eq!(
        o.stderr,
        "Error: pod ordered: init container \"second\" exited with code 3\n",
        "{}",
        o.describe()
    );
    assert!(o.stdout.is_empty(), "{}", o.describe());
    nothing_left(&s, "a failing init container");
    assert!(!s
        .ok(&["kube", "down", file.to_str().unwrap()])
        .contains("ordered"));
}

#[test]
fn bad_yaml_is_one_line_and_creates_nothing() {
    let s = busybox();
    let (good, ports) = example("web-client.yaml");
    let busy = std::net::TcpListener::bind(("127.0.0.1", ports[0])).unwrap();
    let cases = [
        (
            "indent.yaml",
            good.replace("  name: web-client\n", "   name: web-client\n  bad\n"),
            "kube yaml: document 1: ",
        ),
        (
            "kind.yaml",
            good.replace("kind: Pod", "kind: Ingress"),
            "kube yaml: document 1: unknown kind \"Ingress\"",
        ),
        (
            "image.yaml",
            good.replace(
                "  - name: client\n    image: localhost/busybox:latest\n",
                "  - name: client\n",
            ),
            "kube yaml: document 1 (Pod \"web-client\"): container \"client\" has no image",
        ),
        (
            "twice.yaml",
            good.replace("name: client", "name: web"),
            "the container name \"web\" is used twice",
        ),
        ("port.yaml", good.clone(), &format!("{}", ports[0])),
        (
            "second.yaml",
            // The first pod is made, the second cannot be: both go.
            good.replace(&format!("hostPort: {}", ports[0]), &format!("hostPort: {}", free_port()))
                + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: second}\nspec:\n  volumes: [{name: v, hostPath: {path: /nonexistent-kube-dir, type: Directory}}]\n  containers:\n  - {name: c, image: localhost/busybox:latest, volumeMounts: [{name: v, mountPath: /v}]}\n",
            "/nonexistent-kube-dir",
        ),
        (
            "noimage.yaml",
            good.replace(
                "image: localhost/busybox:latest",
                "image: localhost/nothing-here:1\n    imagePullPolicy: Never",
            ),
            "localhost/nothing-here",
        ),
    ];
    for (name, text, want) in &cases {
        let file = s.write_file(name, text.as_bytes());
        let o = s.cmd(&["kube", "play", file.to_str().unwrap()]);
        assert_eq!(o.code, 125, "{name}: {}", o.describe());
        assert!(o.stderr.starts_with("Error: "), "{name}: {}", o.describe());
        assert!(
            o.stderr.contains(want),
            "{name}: want {want}: {}",
            o.describe()
        );
        assert_eq!(o.stderr.lines().count(), 1, "{name}: {}", o.describe());
        assert!(o.stdout.is_empty(), "{name}: {}", o.describe());
        nothing_left(&s, name);
    }
    drop(busy);
    // The same pod twice: the second play is refused, the first untouched.
    let file = s.write_file("twice.yaml", good.as_bytes());
    s.ok(&["kube", "play", "--start=false", file.to_str().unwrap()]);
    let before = s.container_ids();
    assert_eq!(before.len(), 3, "infra, web and client, created");
    let o = s.cmd(&["kube", "play", file.to_str().unwrap()]);
    assert_eq!(o.code, 125, "{}", o.describe());
    assert!(
        o.stderr.contains("pod \"web-client\" already exists"),
        "{}",
        o.describe()
    );
    assert_eq!(s.container_ids(), before);
    s.ok(&["kube", "down", file.to_str().unwrap()]);
    assert!(s.container_ids().is_empty());
}

#[test]
fn resources_become_cgroup_limits_or_the_play_is_refused_whole() {
    let s = busybox();
    let (good, _) = example("web-client.yaml");
    let limited = good.replace(
        "  - name: web\n",
        "  - name: web\n    resources: {limits: {memory: 64Mi, cpu: 500m}, requests: {cpu: 250m}}\n",
    );
    let file = s.write_file("limits.yaml", limited.as_bytes());
    let o = s.cmd(&["kube", "play", file.to_str().unwrap()]);
    if o.code == 0 {
        // A delegated cgroup v2 subtree: the limits `run --memory 64m
        // --cpus 0.5 --cpu-shares 256` sets, in force.
        assert_eq!(
            s.inspect_format(
                "web-client-web",
                "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}}"
            )
            .trim(),
            "67108864 500000000 256"
        );
        let pid = s.inspect_format("web-client-web", "{{.State.Pid}}");
        let cg = std::fs::read_to_string(format!("/proc/{}/cgroup", pid.trim())).unwrap();
        let dir = cg.lines().find_map(|l| l.strip_prefix("0::")).unwrap();
        let max = std::fs::read_to_string(format!("/sys/fs/cgroup{dir}/memory.max")).unwrap();
        assert_eq!(max.trim(), "67108864");
        s.ok(&["kube", "down", file.to_str().unwrap()]);
    } else {
        // None here: refused as `run --memory` is, in one line, with
        // nothing made.
        assert_eq!(o.code, 125, "{}", o.describe());
        let err = one_error_line(&o);
        assert!(
            err.contains(
                "pod \"web-client\": container \"web\": resources.limits cannot be applied: "
            ) && (err.contains("cannot specify resource limits without cgroups v2")
                || err.contains("the requested cgroup controller")),
            "{err}"
        );
        assert!(o.stdout.is_empty(), "{}", o.describe());
        nothing_left(&s, "limits that cannot be applied");
        skip_even_under_ci(
            "kube play limits in force",
            "no delegated cgroup v2 subtree with cpu and memory here",
            "the refusal was checked; the VM lane checks them in force: vm_cgroups kube_play_resources_are_cgroup_limits_and_pod_stats_reads_them",
        );
    }
    nothing_left(&s, "kube down");

    // Requests alone: applied where they can be, else named in a warning
    // and the pod runs without them.
    let requested = good.replace(
        "  - name: web\n",
        "  - name: web\n    resources: {requests: {memory: 32Mi, cpu: 250m}}\n",
    );
    let file = s.write_file("requests.yaml", requested.as_bytes());
    let o = s.cmd(&["kube", "play", file.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.describe());
    let got = s.inspect_format(
        "web-client-web",
        "{{.HostConfig.MemoryReservation}} {{.HostConfig.CpuShares}}",
    );
    if o.stderr.contains("resources.requests are not applied") {
        assert_eq!(got.trim(), "0 0", "{}", o.describe());
    } else {
        assert_eq!(got.trim(), "33554432 256", "{}", o.describe());
    }
    s.ok(&["kube", "down", file.to_str().unwrap()]);
    nothing_left(&s, "kube down");
}

#[test]
fn generate_validates_and_plays_back_to_the_same_pod() {
    let s = busybox();
    let (yaml, ports) = example("web-client.yaml");
    let host_dir = s.make_dir(&s.store().with_file_name("kube-host-dir"));
    let yaml = yaml
        .replace(
            "  - name: client\n",
            "  - name: client\n    env:\n    - {name: MODE, value: test}\n    workingDir: /tmp\n    volumeMounts:\n    - {name: shared, mountPath: /shared}\n    - {name: host, mountPath: /host, readOnly: true}\n",
        )
        .replace(
            "  - name: web\n",
            "  - name: web\n    volumeMounts: [{name: shared, mountPath: /shared}]\n    resources: {requests: {memory: 64Mi, cpu: 100m}}\n",
        )
        .replace(
            "spec:\n  containers:\n",
            &format!(
                "spec:\n  volumes:\n  - {{name: shared, emptyDir: {{}}}}\n  - {{name: host, hostPath: {{path: {}}}}}\n  containers:\n",
                host_dir.display()
            ),
        );
    let file = s.write_file("wc.yaml", yaml.as_bytes());
    s.ok(&["kube", "play", "--start=false", file.to_str().unwrap()]);
    let dir = tempfile::tempdir().unwrap();
    let gen = dir.path().join("gen.yaml");
    let text = s.ok(&["kube", "generate", "--service", "web-client"]);
    std::fs::write(&gen, &text).unwrap();
    let (ok, out) = validate(std::slice::from_ref(&gen));
    assert!(ok, "kubernetes-validate refused:\n{out}\n{text}");
    let deployment = dir.path().join("deployment.yaml");
    let dtext = s.ok(&["kube", "generate", "--type", "deployment", "web-client"]);
    std::fs::write(&deployment, &dtext).unwrap();
    let (ok, out) = validate(&[deployment]);
    assert!(ok, "kubernetes-validate refused:\n{out}\n{dtext}");

    // What each container runs, as inspect shows it.
    let shape = |s: &Skiff, names: &[&str]| -> Vec<String> {
        names
            .iter()
            .map(|n| {
                s.inspect_format(
                    n,
                    "{{.ImageName}} {{json .Config.Entrypoint}} {{json .Config.Cmd}} {{.Config.WorkingDir}} {{range .Mounts}}{{.Type}}:{{.Destination}}:{{.RW}} {{end}}",
                )
                .trim()
                .to_string()
                    + " "
                    + &s.ok(&["inspect", "--format", "{{range .Config.Env}}{{.}} {{end}}", n])
                        .split(' ')
                        .filter(|e| e.starts_with("MODE="))
                        .collect::<String>()
            })
            .collect()
    };
    let names = ["web-client-web", "web-client-client"];
    let before = shape(&s, &names);
    // Played back (through standard input, replacing the pod).
    let o = s.cmd_stdin(
        &["kube", "play", "--replace", "--start=false", "-"],
        text.as_bytes(),
    );
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(shape(&s, &names), before);
    assert!(
        before[1].ends_with("/tmp volume:/shared:true bind:/host:false MODE=test"),
        "{before:?}"
    );
    // The emptyDir is still one volume the two containers share.
    let vol = |n: &str| s.inspect_format(n, "{{range .Mounts}}{{.Name}}{{end}}");
    assert_eq!(vol("web-client-web"), vol("web-client-client"));
    assert!(text.contains("emptyDir: {}"), "{text}");
    let ports_text = s.ok(&["kube", "generate", "web-client"]);
    assert!(
        ports_text.contains(&format!("hostPort: {}", ports[0])),
        "{ports_text}"
    );
    // resources come back from generate, before and after the round trip.
    for t in [&text, &ports_text] {
        assert!(t.contains("memory: 64Mi") && t.contains("cpu: 100m"), "{t}");
    }
    s.ok(&["kube", "down", gen.to_str().unwrap()]);
    assert!(s.container_ids().is_empty());
}

#[test]
fn configmaps_and_secrets_feed_env_and_files_and_deployments_are_one_pod() {
    let s = busybox();
    let (yaml, _) = example("configmap.yaml");
    let file = s.write_file("cm.yaml", yaml.as_bytes());
    s.ok(&["kube", "play", file.to_str().unwrap()]);
    assert_eq!(
        logs_with(&s, "config-demo-app", "listen 80"),
        "hello debug\nlisten 80\n"
    );
    let env = s.ok(&["exec", "config-demo-app", "env"]);
    assert!(env.contains("POD_NAME=config-demo\n"), "{env}");
    assert!(env.contains("CFG_GREETING=hello\n"), "{env}");
    // The ConfigMap's file is read-only in the container.
    let o = s.cmd(&[
        "exec",
        "config-demo-app",
        "sh",
        "-c",
        "echo x > /etc/app/app.conf",
    ]);
    assert_ne!(o.code, 0, "{}", o.describe());
    s.ok(&["kube", "down", file.to_str().unwrap()]);
    assert!(s.ok(&["volume", "ls", "-q"]).is_empty());

    // A ConfigMap from --configmap, and a Secret as files with a mode.
    let pod = "\
apiVersion: v1
kind: Pod
metadata: {name: sec}
spec:
  volumes: [{name: creds, secret: {secretName: s, defaultMode: 0400}}]
  containers:
  - name: app
    image: localhost/busybox:latest
    command: [sh, -c, 'echo $FROM_FILE; stat -c %a /creds/pw; cat /creds/pw; echo; trap \"exit 0\" TERM; sleep 1000 & wait']
    env: [{name: FROM_FILE, valueFrom: {configMapKeyRef: {name: ext, key: x}}}]
    volumeMounts: [{name: creds, mountPath: /creds}]
---
apiVersion: v1
kind: Secret
metadata: {name: s}
data: {pw: aHVudGVyMg==}
";
    let cm = s.write_file(
        "ext.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ext}\ndata: {x: from-the-file}\n",
    );
    let file = s.write_file("sec.yaml", pod.as_bytes());
    let o = s.cmd(&["kube", "play", file.to_str().unwrap()]);
    assert_eq!(o.code, 125, "without --configmap: {}", o.describe());
    assert!(
        o.stderr.contains("ConfigMap \"ext\" not found"),
        "{}",
        o.describe()
    );
    s.ok(&[
        "kube",
        "play",
        "--configmap",
        cm.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(
        logs_with(&s, "sec-app", "hunter2"),
        "from-the-file\n400\nhunter2\n"
    );
    let out = s.ok(&["kube", "down", file.to_str().unwrap()]);
    assert!(out.contains("Volumes removed:\n"), "{out}");

    // A Deployment of three replicas: one pod, and Podman's warning.
    let (yaml, ports) = example("deployment.yaml");
    let file = s.write_file(
        "dep.yaml",
        yaml.replace("replicas: 1", "replicas: 3").as_bytes(),
    );
    let o = s.cmd(&["kube", "play", file.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert!(
        o.stderr.contains("Limiting replica count to 1"),
        "{}",
        o.describe()
    );
    assert_eq!(
        s.inspect_format("web-deployment-pod-web", "{{.State.Status}}")
            .trim(),
        "running"
    );
    // httpd serves / without an index: any HTTP answer will do.
    wait_until("the deployment's web port", || {
        use std::io::{Read, Write};
        let Ok(mut c) = std::net::TcpStream::connect(("127.0.0.1", ports[0])) else {
            return false;
        };
        let mut out = String::new();
        c.write_all(b"GET / HTTP/1.0\r\n\r\n").is_ok()
            && c.read_to_string(&mut out).is_ok()
            && out.starts_with("HTTP/1.")
    });
    s.ok(&["kube", "down", file.to_str().unwrap()]);
    assert!(s.container_ids().is_empty());
}

#[test]
fn claims_networks_standalone_containers_and_podmans_older_spellings() {
    let s = busybox();
    // A claim is a named volume, made by play and kept by down.
    let yaml = "\
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: keepme}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: claimer}
spec:
  volumes: [{name: data, persistentVolumeClaim: {claimName: keepme}}]
  containers:
  - name: app
    image: localhost/busybox:latest
    command: [sh, -c, 'echo kept > /data/f; trap \"exit 0\" TERM; sleep 1000 & wait']
    volumeMounts: [{name: data, mountPath: /data}]
";
    let file = s.write_file("claim.yaml", yaml.as_bytes());
    s.ok(&["network", "create", "kubenet"]);
    // `play kube` is Podman's older spelling.
    let out = s.ok(&[
        "play",
        "kube",
        "--network",
        "kubenet",
        file.to_str().unwrap(),
    ]);
    assert!(out.starts_with("Volume:\nkeepme\n\nPod:\n"), "{out}");
    let infra = s.ok(&[
        "pod",
        "inspect",
        "--format",
        "{{.InfraContainerID}}",
        "claimer",
    ]);
    let nets = s.inspect_format(
        infra.trim(),
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
    );
    assert!(nets.contains("kubenet"), "the pod is on --network: {nets}");
    wait_until("the file in the claim", || {
        s.cmd(&["exec", "claimer-app", "cat", "/data/f"]).stdout == "kept\n"
    });
    s.ok(&["kube", "down", file.to_str().unwrap()]);
    assert_eq!(s.ok(&["volume", "ls", "-q"]), "keepme\n", "the claim stays");
    s.ok(&["volume", "rm", "keepme"]);

    // A container outside any pod: `generate kube` names the pod after it.
    let port = free_port();
    s.ok(&[
        "run",
        "-d",
        "--name",
        "solo",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        "localhost/busybox:latest",
        "sleep",
        "1000",
    ]);
    let text = s.ok(&["generate", "kube", "solo"]);
    assert!(text.contains("name: solo-pod\n"), "{text}");
    assert!(text.contains(&format!("hostPort: {port}")), "{text}");
    assert!(text.contains("- sleep\n"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("solo.yaml");
    std::fs::write(&f, &text).unwrap();
    let (ok, out) = validate(&[f]);
    assert!(ok, "{out}\n{text}");
    s.ok(&["rm", "-f", "-t", "0", "solo"]);
    s.ok(&["network", "rm", "kubenet"]);
}

#[test]
fn a_job_runs_once_and_its_pod_stops() {
    let s = busybox();
    let yaml = "\
apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: task
        image: localhost/busybox:latest
        command: [sh, -c, 'echo done']
";
    let file = s.write_file("job.yaml", yaml.as_bytes());
    let (pod, ctrs) = played(&s.ok(&["kube", "play", file.to_str().unwrap()]));
    assert_eq!(ctrs.len(), 1);
    assert_eq!(logs_with(&s, "once-pod-task", "done"), "done\n");
    wait_until("the job's pod to stop", || {
        let st = s.ok(&["pod", "inspect", "--format", "{{.State}}", "once-pod"]);
        st.trim() == "Exited"
    });
    assert_eq!(
        s.inspect_format("once-pod-task", "{{.State.ExitCode}} {{.State.Restarting}}")
            .trim(),
        "0 false"
    );
    let out = s.ok(&["kube", "down", file.to_str().unwrap()]);
    assert_eq!(out, format!("Pods stopped:\nPods removed:\n{pod}\n"));
    assert!(s.container_ids().is_empty());
}

#[test]
fn a_host_network_and_pid_pod_sees_the_hosts_interfaces_and_processes() {
    let s = busybox();
    let yaml = "\
apiVersion: v1
kind: Pod
metadata: {name: hostnet}
spec:
  hostNetwork: true
  hostPID: true
  hostAliases: [{ip: 10.1.2.3, hostnames: [alias-zz]}]
  containers:
  - name: c
    image: localhost/busybox:latest
    command: [sh, -c, 'ls /sys/class/net | sort; echo end; trap \"exit 0\" TERM; sleep 1000 & wait']
";
    let file = s.write_file("hostnet.yaml", yaml.as_bytes());
    s.ok(&["kube", "play", file.to_str().unwrap()]);
    let mut host: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    host.sort();
    let logs = logs_with(&s, "hostnet-c", "end");
    assert_eq!(logs, format!("{}\nend\n", host.join("\n")));
    // The pod's /etc/hosts (its hostAliases) with the host's network.
    let hosts = s.ok(&["exec", "hostnet-c", "cat", "/etc/hosts"]);
    assert!(
        hosts
            .lines()
            .any(|l| l.starts_with("10.1.2.3") && l.ends_with("alias-zz")),
        "{hosts}"
    );
    // hostPID: the host's pid 1, not the container's command, is pid 1.
    let host_init = std::fs::read_to_string("/proc/1/comm").unwrap();
    assert_eq!(
        s.ok(&["exec", "hostnet-c", "cat", "/proc/1/comm"]),
        host_init
    );
    let text = s.ok(&["kube", "generate", "hostnet"]);
    assert!(text.contains("hostNetwork: true"), "{text}");
    s.ok(&["kube", "down", file.to_str().unwrap()]);
    assert!(s.container_ids().is_empty());
}

#[test]
fn host_paths_play_made_are_removed_when_the_play_fails() {
    let s = busybox();
    let base = s.make_dir(&s.home.join("hostpaths"));
    let existing = s.make_dir(&base.join("existing"));
    let pod = |name: &str, volumes: &[(&str, &str)]| {
        let vols: Vec<String> = volumes
            .iter()
            .enumerate()
            .map(|(i, (path, kind))| {
                format!("  - {{name: v{i}, hostPath: {{path: '{path}', type: {kind}}}}}\n")
            })
            .collect();
        let mounts: Vec<String> = (0..volumes.len())
            .map(|i| format!("{{name: v{i}, mountPath: /v{i}}}"))
            .collect();
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  volumes:\n{}  containers:\n  - name: c\n    image: localhost/busybox:latest\n    command: [sh, -c, 'trap \"exit 0\" TERM; sleep 1000 & wait']\n    volumeMounts: [{}]\n",
            vols.concat(),
            mounts.join(", ")
        )
    };
    let b = base.to_str().unwrap();

    // A path that climbs back out of the directory it names is refused
    // before anything exists, as Kubernetes refuses it.
    let climbing = format!("{b}/newdir/../../x");
    let file = s.write_file(
        "climb.yaml",
        pod("climb", &[(&climbing, "DirectoryOrCreate")]).as_bytes(),
    );
    let o = s.cmd(&["kube", "play", file.to_str().unwrap()]);
    assert_eq!(o.code, 125, "{}", o.describe());
    assert_eq!(
        one_error_line(&o),
        format!("Error: kube yaml: document 1 (Pod \"climb\"): volume \"v0\": hostPath.path \"{climbing}\" must not contain '..'")
    );
    assert!(!base.join("newdir").exists(), "newdir was made");
    assert!(!s.home.join("x").exists(), "x was made");
    nothing_left(&s, "a climbing hostPath");

    // Creation failing part-way (a name longer than NAME_MAX under a new
    // directory): the new directory goes again.
    let long = format!("{b}/partway/{}", "n".repeat(300));
    let file = s.write_file(
        "long.yaml",
        pod("long", &[(&long, "DirectoryOrCreate")]).as_bytes(),
    );
    let o = s.cmd(&["kube", "play", file.to_str().unwrap()]);
    assert_eq!(o.code, 125, "{}", o.describe());
    let line = one_error_line(&o);
    assert!(
        line.contains("pod long: create ") && line.ends_with("file name too long"),
        "{line}"
    );
    assert!(!base.join("partway").exists(), "partway was left");
    nothing_left(&s, "a hostPath failing part-way");

    // The first pod is made and runs with the paths it created; the second
    // cannot be: the play is undone, those paths with it, and what was
    // there before is kept.
    let text = pod(
        "first",
        &[
            (&format!("{b}/made/deeper"), "DirectoryOrCreate"),
            (&format!("{b}/madefile/f"), "FileOrCreate"),
            (existing.to_str().unwrap(), "DirectoryOrCreate"),
        ],
    ) + "---\n"
        + &pod("second", &[("/nonexistent-kube-dir", "Directory")]);
    let file = s.write_file("later.yaml", text.as_bytes());
    let o = s.cmd(&["kube", "play", file.to_str().unwrap()]);
    assert_eq!(o.code, 125, "{}", o.describe());
    assert!(
        one_error_line(&o).contains("/nonexistent-kube-dir"),
        "{}",
        o.describe()
    );
    assert!(!base.join("made").exists(), "made was left");
    assert!(!base.join("madefile").exists(), "madefile was left");
    assert!(existing.is_dir(), "a directory that was there went");
    nothing_left(&s, "a play failing after its host paths");

    // Played whole, the paths are made (a directory, an empty file) and
    // kube down keeps them, as Podman does.
    let file = s.write_file(
        "whole.yaml",
        pod(
            "whole",
            &[
                (&format!("{b}/made/deeper"), "DirectoryOrCreate"),
                (&format!("{b}/madefile/f"), "FileOrCreate"),
            ],
        )
        .as_bytes(),
    );
    s.ok(&["kube", "play", file.to_str().unwrap()]);
    assert!(base.join("made/deeper").is_dir());
    assert_eq!(std::fs::read(base.join("madefile/f")).unwrap(), b"");
    s.ok(&["kube", "down", file.to_str().unwrap()]);
    assert!(
        base.join("made/deeper").is_dir(),
        "kube down keeps host paths"
    );
    nothing_left(&s, "kube down");
}

/// A `subPath` of a claim is resolved inside the volume at each start:
/// a symlink a container planted in the volume, aimed at a host
/// directory, names a directory in the volume (as Kubernetes, after
/// CVE-2017-1002101, and Podman's securejoin resolve it), before the
/// play and after a container swaps one in for a restart.
#[test]
fn a_sub_path_through_a_planted_link_stays_in_the_volume() {
    let s = busybox();
    let host = s.make_dir(&s.home.join("host-dir"));
    std::fs::set_permissions(&host, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    s.ok(&["volume", "create", "shared"]);
    // A shell in a container that has the whole volume at /d.
    let in_volume = |script: &str| {
        s.ok(&[
            "run",
            "--rm",
            "-v",
            "shared:/d",
            BUSYBOX,
            "sh",
            "-c",
            script,
        ])
    };
    let plant = format!("ln -s {} /d/esc && mkdir /d/real", host.display());
    in_volume(&plant);
    // A host directory a container can write to as well.
    let shared = s.make_dir(&s.home.join("shared-host"));
    std::fs::set_permissions(&shared, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let bind = format!("{}:/h", shared.display());
    let plant = format!("ln -s {} /h/esc", host.display());
    s.ok(&["run", "--rm", "-v", &bind, BUSYBOX, "sh", "-c", &plant]);
    let yaml = format!(
        "\
apiVersion: v1
kind: Pod
metadata: {{name: sub}}
spec:
  restartPolicy: Never
  volumes:
  - {{name: data, persistentVolumeClaim: {{claimName: shared}}}}
  - {{name: hp, hostPath: {{path: {}, type: Directory}}}}
  containers:
  - name: app
    image: localhost/busybox:latest
    command: [sh, -c, 'echo written > /m/f; echo written > /n/g; echo written > /o/h']
    volumeMounts:
    - {{name: data, mountPath: /m, subPath: esc}}
    - {{name: data, mountPath: /n, subPath: real}}
    - {{name: hp, mountPath: /o, subPath: esc}}
",
        shared.display()
    );
    let file = s.write_file("sub.yaml", yaml.as_bytes());
    s.ok(&["kube", "play", file.to_str().unwrap()]);
    s.ok(&["wait", "sub-app"]);
    let host_files = || {
        std::fs::read_dir(&host)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
    };
    assert!(
        host_files().is_empty(),
        "the mount followed the planted link"
    );
    let inside = format!("cat /d{}/f /d/real/g", host.display());
    assert_eq!(in_volume(&inside), "written\nwritten\n");
    let in_shared = shared.join(host.strip_prefix("/").unwrap()).join("h");
    assert_eq!(std::fs::read_to_string(in_shared).unwrap(), "written\n");
    // `cp` into the stopped container lands where its mount shows.
    let payload = s.write_file("payload", b"copied\n");
    s.ok(&["cp", payload.to_str().unwrap(), "sub-app:/n/copied"]);
    assert_eq!(in_volume("cat /d/real/copied"), "copied\n");

    // A link swapped in for `real` after the play: the next start resolves
    // it inside the volume too.
    let swap = format!("rm -r /d/real && ln -s {} /d/real", host.display());
    in_volume(&swap);
    s.ok(&["start", "sub-app"]);
    s.ok(&["wait", "sub-app"]);
    assert!(
        host_files().is_empty(),
        "a restart followed the swapped link"
    );
    let got = in_volume(&format!("cat /d{}/g", host.display()));
    assert_eq!(got, "written\n");
    s.ok(&["kube", "down", file.to_str().unwrap()]);
    s.ok(&["volume", "rm", "shared"]);
}

/// containers.conf's `[containers]` `pidns`, `cgroupns` and `devices`
/// reach the containers `kube play` makes as they reach `run`'s; `ipcns`
/// and `utsns` give way to the namespaces the pod shares (its infra's),
/// as Podman's kube play decides (`GetDefaultNamespaceMode`).
#[test]
fn kube_play_honours_containers_conf_namespaces_and_devices() {
    let s = busybox();
    let dir = s.make_dir(&s.config_home.join("containers"));
    let conf = dir.join("containers.conf");
    std::fs::write(
        &conf,
        "[containers]\npidns = \"host\"\nipcns = \"host\"\nutsns = \"host\"\ncgroupns = \"host\"\ndevices = [\"/dev/null:/dev/confnull\"]\n",
    )
    .unwrap();
    s.give(&conf);
    let host = own_namespaces(&["pid", "ipc", "uts", "cgroup"]);
    let yaml = "\
apiVersion: v1
kind: Pod
metadata: {name: confns}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: localhost/busybox:latest
    command: [sh, -c, 'for k in pid ipc uts cgroup; do readlink /proc/self/ns/$k; done; test -c /dev/confnull && echo device; echo end']
";
    let file = s.write_file("confns.yaml", yaml.as_bytes());
    s.ok(&["kube", "play", file.to_str().unwrap()]);
    let logs = logs_with(&s, "confns-c", "end");
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(lines.len(), 6, "{logs}");
    assert_eq!(lines[0], host[0], "pidns = host: {logs}");
    assert_ne!(lines[1], host[1], "ipc is the pod's: {logs}");
    assert_ne!(lines[2], host[2], "uts is the pod's: {logs}");
    assert_eq!(lines[3], host[3], "cgroupns = host: {logs}");
    assert_eq!(lines[4..], ["device", "end"], "{logs}");
    assert_eq!(
        s.inspect_format(
            "confns-c",
            "{{.HostConfig.PidMode}} {{.HostConfig.IpcMode}} {{.HostConfig.UTSMode}}"
        ),
        "host private private"
    );
    s.ok(&["kube", "down", file.to_str().unwrap()]);
    nothing_left(&s, "kube down");
    std::fs::remove_file(&conf).unwrap();
}

#[test]
fn kube_play_of_a_file_that_never_ends_is_refused() {
    let s = Skiff::new();
    let e = s.fails_engine(&["kube", "play", "/dev/zero"]);
    assert_eq!(e, "Error: /dev/zero: larger than 16 MiB");
    let o = s.cmd_stdin(&["kube", "play", "-"], &vec![b'#'; 17 << 20]);
    assert_eq!(o.code, 125, "{}", o.describe());
    assert_eq!(
        one_error_line(&o),
        "Error: standard input: larger than 16 MiB"
    );
    assert_eq!(s.ok(&["pod", "ps", "-q"]), "", "a pod was left");
    assert_eq!(s.ok(&["ps", "-aq"]), "", "a container was left");
}
