//! Pods with real containers as the unprivileged test user: containers of a
//! pod reach each other on localhost, the pod's published port answers on
//! 127.0.0.1, they share the hostname and /etc/hosts, and `pod rm -f`
//! leaves nothing behind. Traffic only to 127.0.0.1 and the pod's namespace.

mod common;

use std::time::Duration;

use common::*;

/// Processes of the test's store whose command line contains `needle`.
fn procs_with(s: &Skiff, needle: &str) -> Vec<i32> {
    s.processes()
        .into_iter()
        .filter(|p| cmdline(*p).contains(needle))
        .collect()
}

/// Network namespace files left in the store's run root.
fn netns_files(s: &Skiff) -> Vec<String> {
    let dir = s.runtime_dir.join("skiff/netns");
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("netns-"))
                .collect()
        })
        .unwrap_or_default()
}

fn wait_http_in_pod(s: &Skiff, pod: &str) -> String {
    let mut out = String::new();
    let ok = eventually(Duration::from_secs(15), || {
        let o = s.cmd(&[
            "run",
            "--rm",
            "--pod",
            pod,
            "busybox",
            "wget",
            "-qO-",
            "http://localhost:80/",
        ]);
        out = o.stdout.clone();
        o.code == 0
    });
    assert!(ok, "no answer on localhost:80 in pod {pod}: {out}");
    out
}

#[test]
fn web_and_client_share_localhost_port_hostname_and_hosts() {
    let s = busybox();
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    let id = s.ok(&[
        "pod", "create", "--name", "app", "-p", &publish, "--label", "team=a",
    ]);
    assert_eq!(id.trim().len(), 64, "{id}");
    assert_eq!(s.cmd(&["pod", "exists", "app"]).code, 0);
    assert_eq!(s.cmd(&["pod", "exists", "nopod"]).code, 1);
    s.ok(&[
        "run", "-d", "--pod", "app", "--name", "web", "busybox", "httpd", "-f", "-p", "80", "-h",
        "/www",
    ]);
    // The client reaches the web container on localhost.
    assert_eq!(wait_http_in_pod(&s, "app"), INDEX_HTML);
    // The pod's published port, from the host.
    assert!(http_get(port).contains(INDEX_HTML.trim()));
    // One hostname (the pod's name) and /etc/hosts naming every container.
    let out = s.ok(&[
        "run",
        "--rm",
        "--pod",
        "app",
        "--name",
        "client",
        "busybox",
        "sh",
        "-c",
        "hostname; cat /etc/hosts",
    ]);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("app"), "{out}");
    assert!(out.contains("\tweb"), "{out}");
    assert!(out.contains("\tclient"), "{out}");
    // The infra process runs the skiff binary, as the test user.
    let infra = procs_with(&s, "_infra");
    assert_eq!(infra.len(), 1, "one infra process: {infra:?}");
    let rss: u64 = std::fs::read_to_string(format!("/proc/{}/status", infra[0]))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    eprintln!("infra RSS {rss} KiB");

    // pod rm without -f refuses while web runs, and removes nothing.
    let e = s.fails_engine(&["pod", "rm", "app"]);
    assert!(e.contains("pod app has running containers (web)"), "{e}");
    assert_eq!(s.cmd(&["container", "exists", "web"]).code, 0);
    // The infra container cannot be removed alone.
    let infra_id = s.ok(&["pod", "inspect", "--format", "{{.InfraContainerId}}", "app"]);
    let e = s.fails_engine(&["rm", "-f", infra_id.trim()]);
    assert!(e.contains("is the infra container of pod app"), "{e}");

    assert_eq!(s.ok(&["pod", "rm", "-f", "app"]).trim(), id.trim());
    assert_eq!(s.cmd(&["pod", "exists", "app"]).code, 1);
    assert!(s.container_ids().is_empty(), "{:?}", s.container_ids());
    assert!(procs_with(&s, "_infra").is_empty());
    assert!(procs_with(&s, "pasta").is_empty());
    assert!(netns_files(&s).is_empty(), "{:?}", netns_files(&s));
    // The port is free again.
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("port released");
}
