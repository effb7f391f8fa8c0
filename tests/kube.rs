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
                    },
                    MountDescription {
                        source: MountSource::Volume("cache".into()),
                        destination: "/cache".into(),
                        read_only: false,
                    },
                    MountDescription {
                        source: MountSource::Tmpfs,
                        destination: "/tmp".into(),
                        read_only: false,
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
