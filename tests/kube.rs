//! Kubernetes YAML against Kubernetes' own schemas: what `kube generate`
//! writes and the example files in pods/ are checked by the PyPI client
//! `kubernetes-validate` (installed by `.ci/setup` into its virtual
//! environment), in strict mode, which refuses unknown fields.

use std::path::{Path, PathBuf};
use std::process::Command;

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
