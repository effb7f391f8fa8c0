//! Pods with real containers as the unprivileged test user: containers of a
//! pod reach each other on localhost, the pod's published port answers on
//! 127.0.0.1, they share the hostname and /etc/hosts, and `pod rm -f`
//! leaves nothing behind. Traffic only to 127.0.0.1 and the pod's namespace.

mod common;

use std::time::Duration;

use common::*;

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
    // A member reports the pod's ports as its own, as Podman does: `port`,
    // `ps` and `inspect` show the infra container's published port.
    let mapping = format!("127.0.0.1:{port}");
    assert_eq!(s.ok(&["port", "web", "80"]).trim(), mapping);
    assert_eq!(
        s.ok(&["port", "web"]).trim(),
        format!("80/tcp -> {mapping}")
    );
    let ps = s.ok(&["ps", "--filter", "name=^web$", "--format", "{{.Ports}}"]);
    assert_eq!(ps.trim(), format!("{mapping}->80/tcp"));
    let ports = s.ok(&[
        "inspect",
        "--format",
        "{{json .NetworkSettings.Ports}}",
        "web",
    ]);
    assert_eq!(
        ports.trim(),
        format!(r#"{{"80/tcp":[{{"HostIp":"127.0.0.1","HostPort":"{port}"}}]}}"#)
    );
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
    // Gone with --rm, its name leaves the pod's /etc/hosts (web shares it).
    let gone = eventually(Duration::from_secs(10), || {
        !s.ok(&["exec", "web", "cat", "/etc/hosts"])
            .contains("\tclient")
    });
    assert!(gone, "client stays in the pod's /etc/hosts");
    // The infra process runs the skiff binary, as the test user.
    let infra = s.processes_with("_infra");
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
    assert!(s.processes_with("_infra").is_empty());
    assert!(s.processes_with("pasta").is_empty());
    assert!(netns_files(&s).is_empty(), "{:?}", netns_files(&s));
    // The port is free again.
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("port released");
}

fn pod_status(s: &Skiff, pod: &str) -> String {
    s.ok(&["pod", "inspect", "--format", "{{.State}}", pod])
        .trim()
        .to_string()
}

fn wait_pod_status(s: &Skiff, pod: &str, want: &str) {
    let mut last = String::new();
    let ok = eventually(Duration::from_secs(15), || {
        last = pod_status(s, pod);
        last == want
    });
    assert!(ok, "pod {pod} is {last}, not {want}");
}

#[test]
fn lifecycle_status_listing_inspect_logs_and_top() {
    let s = busybox();
    s.ok(&["pod", "create", "--name", "life", "--label", "tier=web"]);
    assert_eq!(pod_status(&s, "life"), "Created");
    let ps = s.ok(&["pod", "ps"]);
    let mut rows = ps.lines();
    let header = rows.next().unwrap();
    for col in [
        "POD ID",
        "NAME",
        "STATUS",
        "CREATED",
        "INFRA ID",
        "# OF CONTAINERS",
    ] {
        assert!(header.contains(col), "{ps}");
    }
    let row = rows.next().unwrap();
    assert!(row.contains("life") && row.contains("Created"), "{ps}");
    assert!(
        row.trim_end().ends_with('1'),
        "the infra container counts: {ps}"
    );

    // run --pod starts the infra container first.
    s.ok(&[
        "run",
        "-d",
        "--pod",
        "life",
        "--name",
        "first",
        "busybox",
        "sh",
        "-c",
        "trap 'echo got hup; exit 3' HUP; echo one; echo two; while :; do sleep 1; done",
    ]);
    s.ok(&[
        "create",
        "--pod",
        "life",
        "--name",
        "second",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 0' TERM; echo second here; while :; do sleep 1; done",
    ]);
    assert_eq!(pod_status(&s, "life"), "Degraded");
    assert_eq!(s.ok(&["pod", "start", "life"]).trim().len(), 64);
    assert_eq!(pod_status(&s, "life"), "Running");
    let infra = s.ok(&[
        "pod",
        "inspect",
        "--format",
        "{{.InfraContainerId}}",
        "life",
    ]);
    let started = |c: &str| s.inspect_format(c, "{{.State.StartedAt}}");
    assert!(started(infra.trim()) <= started("first"));

    // Listings.
    let out = s.ok(&["pod", "ps", "--ctr-names", "--ctr-status"]);
    assert!(out.contains("first") && out.contains("second"), "{out}");
    assert!(out.contains("running,running,running"), "{out}");
    let out = s.ok(&[
        "pod",
        "ps",
        "--format",
        "{{.Name}} {{.Status}} {{.NumberOfContainers}}",
    ]);
    assert_eq!(out.trim(), "life Running 3");
    assert_eq!(s.ok(&["pod", "ps", "--filter", "name=nomatch", "-q"]), "");
    assert_eq!(
        s.ok(&["pod", "ps", "--filter", "label=tier=web", "-q"])
            .trim()
            .len(),
        12
    );
    assert_eq!(s.ok(&["pod", "ps", "-q", "--no-trunc"]).trim().len(), 64);
    assert_eq!(
        s.ok(&["pod", "ps", "--filter", "status=running", "-q"])
            .lines()
            .count(),
        1
    );
    let out = s.ok(&["ps", "--pod"]);
    assert!(out.lines().next().unwrap().contains("PODNAME"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("first") && l.trim_end().ends_with("life")),
        "{out}"
    );
    let out = s.ok(&["ps", "-a", "--filter", "pod=life", "--format", "{{.Names}}"]);
    assert_eq!(out.lines().count(), 3, "{out}");
    // The infra container's IMAGE: skiff's equivalent of podman-pause.
    let out = s.ok(&["ps", "-a", "--pod"]);
    let infra_row = out
        .lines()
        .find(|l| l.contains("-infra "))
        .unwrap_or_default();
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        infra_row.contains(&format!("localhost/skiff-infra:{version}")),
        "{out}"
    );
    assert!(s
        .ok(&["ps", "-a", "--filter", "pod=nopod", "-q"])
        .is_empty());

    // inspect: Podman's keys.
    let j: serde_json::Value = serde_json::from_str(&s.ok(&["pod", "inspect", "life"])).unwrap();
    assert_eq!(j["Name"], "life");
    assert_eq!(j["State"], "Running");
    assert_eq!(j["Hostname"], "life");
    assert_eq!(j["Labels"]["tier"], "web");
    assert_eq!(j["NumContainers"], 3);
    assert_eq!(
        j["SharedNamespaces"],
        serde_json::json!(["ipc", "net", "uts"])
    );
    assert_eq!(j["Containers"].as_array().unwrap().len(), 3);
    assert!(j["InfraConfig"]["PortBindings"].is_object());
    assert_eq!(
        s.inspect_format("first", "{{.Pod}}").trim(),
        j["Id"].as_str().unwrap()
    );

    // logs: prefixed with the container's name; --container, --tail.
    let out = s.ok(&["pod", "logs", "life"]);
    assert!(out.contains("first one\nfirst two\n"), "{out}");
    assert!(out.contains("second second here\n"), "{out}");
    // One container's own lines, bare (Podman), and --since/--until/--names.
    let out = s.ok(&["pod", "logs", "--container", "first", "--tail", "1", "life"]);
    assert_eq!(out, "two\n");
    let out = s.ok(&["pod", "logs", "--names", "--since", "1h", "life"]);
    assert!(out.contains("first one\nfirst two\n"), "{out}");
    let out = s.ok(&["pod", "logs", "--until", "2000-01-01T00:00:00Z", "life"]);
    assert_eq!(out, "");
    let e = s.fails_engine(&["pod", "logs", "--since", "soon", "life"]);
    assert!(e.contains("invalid --since value \"soon\""), "{e}");

    // logs -f: every container's lines as they come, then more.
    let mut follow = s.spawn(&["pod", "logs", "-f", "life"]);
    let lines = line_reader(follow.stdout.take().unwrap());
    s.ok(&["exec", "second", "sh", "-c", "echo later >/proc/1/fd/1"]);
    // Each container's log is followed on its own: the lines of one may
    // come before those of another that were written earlier.
    let mut seen: Vec<String> = Vec::new();
    while !(seen.iter().any(|l| l == "second later") && seen.iter().any(|l| l == "first two")) {
        let l = lines
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("pod logs -f gave only {seen:?}"));
        seen.push(l);
    }
    follow.kill().unwrap();
    follow.wait().unwrap();

    // top: the processes of every running container.
    // Podman's psgo columns, no container name, each pid namespace once.
    let out = s.ok(&["pod", "top", "life"]);
    assert!(out.contains("sleep 1"), "{out}");
    assert_eq!(
        out.lines()
            .next()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME", "COMMAND"]
    );
    let comms = s.ok(&["pod", "top", "life", "pid,comm"]);
    assert!(
        comms.starts_with("PID         COMMAND\n") && comms.contains("\n1           sh\n"),
        "{comms}"
    );
    let e = s.fails(&["pod", "top", "life", "pid", "bogus"], 125);
    assert_eq!(e.trim(), "Error: 'bogus': unknown descriptor");
    // ELAPSED as Podman (Go's Duration) prints it: 2.5s, 37m47.46s, 150ms.
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    let at = header
        .iter()
        .position(|h| *h == "ELAPSED")
        .expect("ELAPSED");
    for line in lines {
        let e = line.split_whitespace().nth(at).unwrap();
        let (num, unit) = e.split_at(e.find(|c: char| c.is_ascii_alphabetic()).unwrap());
        let frac = num.split('.').nth(1).unwrap_or("");
        assert!(
            ["s", "ms"].contains(&unit) && !frac.ends_with('0') && frac.len() <= 9,
            "ELAPSED {e:?} in {line:?}"
        );
    }

    // pause, unpause, kill, restart, stop.
    s.ok(&["pod", "pause", "life"]);
    assert_eq!(pod_status(&s, "life"), "Paused");
    s.ok(&["pod", "unpause", "life"]);
    assert_eq!(pod_status(&s, "life"), "Running");
    s.ok(&["pod", "kill", "-s", "HUP", "life"]);
    // first's shell traps HUP and exits; the infra container ignores it
    // (second's shell has no HUP trap but, as pid 1, is spared by the kernel).
    wait_pod_status(&s, "life", "Degraded");
    assert_eq!(s.inspect_format("first", "{{.State.ExitCode}}").trim(), "3");
    assert_eq!(
        s.inspect_format(infra.trim(), "{{.State.Status}}").trim(),
        "running"
    );
    s.ok(&["pod", "restart", "life"]);
    assert_eq!(pod_status(&s, "life"), "Running");
    s.ok(&["pod", "stop", "-t", "0", "life"]);
    assert_eq!(pod_status(&s, "life"), "Exited");
    // prune removes the stopped pod and its containers.
    s.ok(&["pod", "create", "--name", "keep"]);
    s.ok(&["pod", "start", "keep"]);
    let pruned = s.ok(&["pod", "prune", "-f"]);
    assert_eq!(pruned.lines().count(), 1, "{pruned}");
    assert_eq!(s.cmd(&["pod", "exists", "life"]).code, 1);
    assert_eq!(s.cmd(&["pod", "exists", "keep"]).code, 0);
    assert_eq!(s.container_ids().len(), 1, "keep's infra container only");
    s.ok(&["pod", "rm", "-f", "keep"]);
    assert!(s.container_ids().is_empty());
}

#[test]
fn exit_policy_stop_stops_the_pod_with_its_last_container() {
    let s = busybox();
    s.ok(&["pod", "create", "--name", "once", "--exit-policy", "stop"]);
    s.ok(&[
        "run", "-d", "--pod", "once", "--name", "short", "busybox", "sleep", "1",
    ]);
    wait_pod_status(&s, "once", "Exited");
    // With continue (the default) the infra container stays.
    s.ok(&["pod", "create", "--name", "stays"]);
    s.ok(&[
        "run", "--pod", "stays", "--name", "brief", "busybox", "true",
    ]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(pod_status(&s, "stays"), "Degraded");
    s.ok(&["pod", "rm", "-f", "-t", "1", "once", "stays"]);
    assert!(s.container_ids().is_empty());
}

#[test]
fn a_pod_with_a_long_name_starts_with_its_name_cut_as_hostname() {
    let s = busybox();
    let name = format!("{}-{}", "p".repeat(62), "q".repeat(40));
    s.ok(&["pod", "create", "--name", &name]);
    let got = s.ok(&["run", "--rm", "--pod", &name, "busybox", "hostname"]);
    assert_eq!(got.trim(), "p".repeat(62));
    s.ok(&["pod", "rm", "-f", &name]);
}

#[test]
fn bad_input_is_one_line_and_leaves_nothing() {
    let s = busybox();
    let one = |args: &[&str], want: &str| {
        let o = s.cmd(args);
        assert_eq!(o.code, 125, "{}", o.describe());
        let line = one_error_line(&o);
        assert!(line.contains(want), "{}", o.describe());
    };
    one(
        &["run", "--pod", "nopod", "busybox", "true"],
        "no pod with name or ID \"nopod\" found: no such pod",
    );
    // podman-pod-rm(1): a pod that does not exist is exit 1.
    assert!(s.fails(&["pod", "rm", "nopod"], 1).contains("no such pod"));
    one(&["pod", "start", "nopod"], "no such pod");
    assert!(s.container_ids().is_empty());
    s.ok(&["pod", "create", "--name", "box"]);
    one(
        &["run", "--pod", "box", "-p", "8080:80", "busybox", "true"],
        "published or exposed ports must be defined when the pod is created",
    );
    one(
        &[
            "create",
            "--pod",
            "box",
            "--network",
            "none",
            "busybox",
            "true",
        ],
        "networks must be defined when the pod is created",
    );
    one(
        &[
            "create",
            "--pod",
            "box",
            "--hostname",
            "h",
            "busybox",
            "true",
        ],
        "cannot set hostname when joining the pod UTS namespace",
    );
    // A container made by run --pod new: that cannot be created takes its
    // new pod away again.
    one(
        &["run", "--pod", "new:fresh", "-p", "80", "busybox", "true"],
        "published or exposed ports",
    );
    assert_eq!(s.cmd(&["pod", "exists", "fresh"]).code, 1);
    // Names: one name space for pods and containers.
    s.ok(&[
        "create", "--pod", "box", "--name", "member", "busybox", "true",
    ]);
    let cases: &[(&[&str], &str)] = &[
        (
            &["create", "--name", "member", "busybox", "true"],
            "the container name \"member\" is already in use",
        ),
        (
            &["pod", "create", "--name", "member"],
            "name \"member\" is in use by container",
        ),
        (
            &["create", "--name", "box", "busybox", "true"],
            "name \"box\" is in use by pod",
        ),
        (
            &["pod", "create", "--name", "box"],
            "name \"box\" is in use by pod",
        ),
        (
            &["pod", "create", "--share", "net,mnt"],
            "invalid kernel namespace to share: mnt",
        ),
        (
            &["pod", "create", "--exit-policy", "later"],
            "invalid pod exit policy",
        ),
        (
            &["pod", "create", "--infra=false", "-p", "80"],
            "infra container",
        ),
        (
            &["pod", "create", "--add-host", "nocolon"],
            "invalid --add-host",
        ),
        (&["pod", "create", "--dns", "notanip"], "invalid --dns"),
    ];
    for (args, want) in cases {
        one(args, want);
    }
    let port = free_port();
    let _hold = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    // A port in use is exit 126, as Podman's.
    let e = s.fails(
        &[
            "pod",
            "create",
            "--name",
            "busy",
            "-p",
            &format!("127.0.0.1:{port}:80"),
        ],
        126,
    );
    assert!(e.contains("already in use"), "{e}");
    assert_eq!(s.ok(&["pod", "ps", "-q"]).lines().count(), 1, "only box");
    assert_eq!(s.container_ids().len(), 2, "box's infra and member");
    s.ok(&["pod", "rm", "box"]);
    assert!(s.container_ids().is_empty());
}

#[test]
fn pods_on_a_user_network_resolve_each_other_by_name() {
    let s = busybox();
    s.ok(&["network", "create", "podnet"]);
    s.ok(&["pod", "create", "--name", "alpha", "--network", "podnet"]);
    s.ok(&["pod", "create", "--name", "beta", "--network", "podnet"]);
    s.ok(&[
        "run", "-d", "--pod", "alpha", "--name", "webby", "busybox", "httpd", "-f", "-p", "80",
        "-h", "/www",
    ]);
    wait_http_in_pod(&s, "alpha");
    // From the other pod: the pod's name and its container's name.
    for name in ["alpha", "webby"] {
        let out = s.ok(&[
            "run",
            "--rm",
            "--pod",
            "beta",
            "busybox",
            "wget",
            "-qO-",
            &format!("http://{name}/"),
        ]);
        assert_eq!(out, INDEX_HTML, "{name}");
    }
    s.ok(&["pod", "rm", "-f", "alpha", "beta"]);
    s.ok(&["network", "rm", "podnet"]);
}

#[test]
fn share_chooses_the_namespaces_and_none_means_no_infra() {
    let s = busybox();
    // Nothing shared: no infra container; containers are on their own.
    s.ok(&["pod", "create", "--name", "bare", "--share", ""]);
    assert_eq!(
        s.ok(&[
            "pod",
            "inspect",
            "--format",
            "{{.NumContainers}} {{.CreateInfra}}",
            "bare"
        ])
        .trim(),
        "0 false"
    );
    let out = s.ok(&[
        "run",
        "--rm",
        "--pod",
        "bare",
        "--hostname",
        "own",
        "busybox",
        "hostname",
    ]);
    assert_eq!(out.trim(), "own");
    // uts only: the pod's hostname, but a network of the container's own
    // (which may then publish ports).
    s.ok(&[
        "pod",
        "create",
        "--name",
        "names",
        "--share",
        "uts",
        "--hostname",
        "podhost",
    ]);
    let port = free_port();
    let out = s.ok(&[
        "run",
        "--rm",
        "--pod",
        "names",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        "busybox",
        "hostname",
    ]);
    assert_eq!(out.trim(), "podhost");
    s.ok(&["pod", "rm", "-f", "bare", "names"]);
    assert!(s.container_ids().is_empty());
}

/// `--share +pid` (issue 11): the infra process is pid 1 of every member
/// and each member sees the others' processes; a pod without it keeps them
/// apart. `--share +cgroup` (with `--share-parent=false`, Podman's rule)
/// gives the members the infra's cgroup namespace.
#[test]
fn shared_pid_namespace_shows_each_members_processes() {
    let s = busybox();
    s.ok(&["pod", "create", "--name", "pids", "--share", "+pid"]);
    s.ok(&[
        "run", "-d", "--pod", "pids", "--name", "sleeper", "busybox", "sleep", "4711",
    ]);
    let ps = s.ok(&[
        "run", "--rm", "--pod", "pids", "busybox", "ps", "-o", "pid,args",
    ]);
    assert!(ps.contains("sleep 4711"), "{ps}");
    let first = ps.lines().nth(1).unwrap_or_default();
    assert!(
        first.trim_start().starts_with("1 ") && first.contains("_infra"),
        "{ps}"
    );
    let shared = s.ok(&[
        "pod",
        "inspect",
        "--format",
        "{{.SharedNamespaces}}",
        "pids",
    ]);
    assert!(shared.contains("pid"), "{shared}");
    let top = s.ok(&["exec", "sleeper", "ps", "-o", "args"]);
    assert!(top.contains("_infra"), "{top}");

    s.ok(&["pod", "create", "--name", "apart"]);
    s.ok(&["run", "-d", "--pod", "apart", "busybox", "sleep", "4712"]);
    let ps = s.ok(&[
        "run", "--rm", "--pod", "apart", "busybox", "ps", "-o", "args",
    ]);
    assert!(!ps.contains("sleep 4712") && !ps.contains("_infra"), "{ps}");

    s.ok(&[
        "pod",
        "create",
        "--name",
        "cg",
        "--share",
        "+cgroup",
        "--share-parent=false",
    ]);
    s.ok(&[
        "run", "-d", "--pod", "cg", "--name", "cg1", "busybox", "sleep", "4713",
    ]);
    let ns = ["readlink", "/proc/self/ns/cgroup"];
    let one = s.ok(&[&["exec", "cg1"][..], &ns].concat());
    let two = s.ok(&[&["run", "--rm", "--pod", "cg", "busybox"][..], &ns].concat());
    assert_eq!(one, two, "cgroup namespace not shared");
    let three = s.ok(&[&["run", "--rm", "--pod", "apart", "busybox"][..], &ns].concat());
    assert_ne!(one, three);
    s.ok(&["pod", "rm", "-f", "pids", "apart", "cg"]);
    assert!(s.container_ids().is_empty());
}

/// A member's command that exits at once on SIGTERM (`wait` is interrupted).
/// It says `ready` once the trap is set (before that, SIGTERM to a pid 1
/// without a handler is dropped).
const TERM_EXITS: &str = "trap 'exit 0' TERM; echo ready; sleep 100 & wait";

/// `pod stop` and `pod rm -f` of a pod whose members all exit together
/// (issue 11), ten times: quick (no supervisor waits for another, none
/// waits out the timeout), and nothing left: no container, no pod, no
/// process of the store.
#[test]
fn pod_stop_and_rm_f_of_three_members_are_quick() {
    let s = busybox();
    let mut times = Vec::new();
    for _ in 0..10 {
        s.ok(&["pod", "create", "--name", "trio"]);
        for _ in 0..3 {
            let id = s.ok(&[
                "run", "-d", "--pod", "trio", "busybox", "sh", "-c", TERM_EXITS,
            ]);
            let ready = eventually(Duration::from_secs(10), || {
                s.cmd(&["logs", id.trim()]).stdout.contains("ready")
            });
            assert!(ready, "member {id} never said ready");
        }
        let t0 = std::time::Instant::now();
        s.ok(&["pod", "stop", "-t", "5", "trio"]);
        times.push(t0.elapsed());
        let t0 = std::time::Instant::now();
        s.ok(&["pod", "rm", "-f", "trio"]);
        times.push(t0.elapsed());
        assert!(s.container_ids().is_empty(), "containers left behind");
        assert_eq!(s.cmd(&["pod", "exists", "trio"]).code, 1);
    }
    // None waits out the stop timeout, and the usual one is well under a
    // second (each alone would be, but a loaded 2-core machine stretches
    // a few).
    let mut sorted = times.clone();
    sorted.sort();
    assert!(
        sorted[sorted.len() / 2] < Duration::from_millis(500)
            && sorted[sorted.len() - 1] < Duration::from_secs(4),
        "pod stop, pod rm -f took {times:?}"
    );
    assert!(s.processes_with("_supervise").is_empty());
    assert!(s.processes_with("_infra").is_empty());
}

/// A timeout of 0 kills at once, as Podman: `pod rm -f -t 0` and
/// `stop -t 0` print no "StopSignal ... resorting to SIGKILL" warning (the
/// members' `sleep`, pid 1 without a handler, would ignore SIGTERM), and
/// leave nothing behind.
#[test]
fn a_zero_timeout_kills_without_a_warning() {
    let s = busybox();
    s.ok(&["pod", "create", "--name", "zero"]);
    for name in ["z1", "z2"] {
        s.ok(&[
            "run", "-d", "--pod", "zero", "--name", name, "busybox", "sleep", "100",
        ]);
    }
    let out = s.cmd(&["stop", "-t", "0", "z1"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("StopSignal"), "{}", out.stderr);
    assert_eq!(s.inspect_format("z1", "{{.State.Status}}").trim(), "exited");
    let out = s.cmd(&["pod", "rm", "-f", "-t", "0", "zero"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("StopSignal"), "{}", out.stderr);
    assert_eq!(s.cmd(&["pod", "exists", "zero"]).code, 1);
    assert!(s.container_ids().is_empty(), "{:?}", s.container_ids());
    assert!(s.processes_with("_supervise").is_empty());
    assert!(s.processes_with("_infra").is_empty());
}

/// Interface names in a /proc/net/dev text.
fn interfaces(dev: &str) -> Vec<String> {
    let mut v: Vec<String> = dev
        .lines()
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.trim().to_string()))
        .collect();
    v.sort();
    v
}

/// A pod on the host's network: its members use the host's network (a
/// rootless member cannot join the host's namespace through the infra
/// process), as Podman's.
#[test]
fn a_member_of_a_host_network_pod_sees_the_hosts_interfaces() {
    let s = busybox();
    s.ok(&["pod", "create", "--name", "onhost", "--network", "host"]);
    let out = s.ok(&[
        "run",
        "--rm",
        "--pod",
        "onhost",
        "busybox",
        "cat",
        "/proc/net/dev",
    ]);
    let host = std::fs::read_to_string("/proc/net/dev").unwrap();
    assert_eq!(interfaces(&out), interfaces(&host), "{out}");
    s.ok(&["pod", "rm", "-f", "onhost"]);
    assert!(s.container_ids().is_empty());
}

/// `--requires` (issue 11): starting a container starts the containers it
/// requires first, `run` too; a pod's members start after what they
/// require (levels of them together); an unknown name, a requirement
/// outside the container's pod and the removal of a required container are
/// refused with one line.
#[test]
fn requires_starts_the_required_containers_first() {
    let s = busybox();
    let sleep = ["busybox", "sleep", "1000"];
    let db = s.ok(&[&["create", "--name", "db"][..], &sleep].concat());
    s.ok(&[&["create", "--name", "cache"][..], &sleep].concat());
    s.ok(&[
        &["create", "--name", "web", "--requires", "db,cache"][..],
        &sleep,
    ]
    .concat());
    s.ok(&["start", "web"]);
    for n in ["db", "cache", "web"] {
        assert_eq!(s.inspect_format(n, "{{.State.Status}}"), "running", "{n}");
    }
    let deps = s.inspect_format("web", "{{.Dependencies}}");
    assert!(deps.contains(db.trim()), "{deps}");

    let e = s.fails_engine(&["create", "--requires", "nosuch-zz", "busybox", "true"]);
    assert!(e.contains("nosuch-zz") && e.lines().count() == 1, "{e}");
    assert_eq!(
        s.container_ids().len(),
        3,
        "a refused create left a container"
    );
    let e = s.fails_engine(&["rm", "-f", "db"]);
    assert!(e.contains("has dependent containers"), "{e}");
    s.ok(&["stop", "-t", "0", "db", "cache"]);
    s.ok(&["run", "--rm", "--requires", "cache", "busybox", "true"]);
    assert_eq!(s.inspect_format("cache", "{{.State.Status}}"), "running");

    s.ok(&["pod", "create", "--name", "deps"]);
    s.ok(&[&["create", "--pod", "deps", "--name", "first"][..], &sleep].concat());
    s.ok(&[
        &[
            "create",
            "--pod",
            "deps",
            "--name",
            "second",
            "--requires",
            "first",
        ][..],
        &sleep,
    ]
    .concat());
    s.ok(&[&["create", "--pod", "deps", "--name", "free"][..], &sleep].concat());
    s.ok(&[
        &[
            "create",
            "--pod",
            "deps",
            "--name",
            "third",
            "--requires",
            "second",
        ][..],
        &sleep,
    ]
    .concat());
    // The members start together where they can (first and free, then
    // second, then third), each after what it requires.
    s.ok(&["pod", "start", "deps"]);
    let started = |n: &str| {
        let t = s.inspect_format(n, "{{.State.Status}} {{.State.StartedAt}}");
        let (status, at) = t.trim().split_once(' ').unwrap();
        assert_eq!(status, "running", "{n}");
        at.to_string()
    };
    assert!(started("first") < started("second"));
    assert!(started("second") < started("third"));
    assert!(!started("free").is_empty());
    let e = s.fails_engine(&[
        "create",
        "--pod",
        "deps",
        "--requires",
        "db",
        "busybox",
        "true",
    ]);
    assert!(e.contains("is not a member of the pod"), "{e}");
    s.ok(&["pod", "rm", "-f", "deps"]);
    s.ok(&["rm", "-a", "-f"]);
    assert!(s.container_ids().is_empty());
}

/// `--share-parent` (issue 11) is recorded (`CreateCgroup`) and is never a
/// silent no-op: where no cgroup is delegated to the user (`CgroupParent`
/// empty) asking for it explicitly warns; where one is, the pod has a
/// cgroup of its own (`CgroupPath`).
#[test]
fn share_parent_is_recorded_and_says_when_it_cannot_apply() {
    let s = busybox();
    let o = s.cmd(&["pod", "create", "--name", "parent", "--share-parent"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let fmt = "{{.CreateCgroup}} {{.CgroupParent}}|{{.CgroupPath}}";
    let shown = s.ok(&["pod", "inspect", "--format", fmt, "parent"]);
    if shown.trim() == "true |" {
        assert!(
            o.stderr.contains("--share-parent has no effect"),
            "{}",
            o.stderr
        );
    } else {
        assert!(shown.contains("skiff-pod-"), "{shown}");
    }
    let o = s.cmd(&["pod", "create", "--name", "own", "--share-parent=false"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.is_empty(), "{}", o.stderr);
    let shown = s.ok(&["pod", "inspect", "--format", fmt, "own"]);
    assert!(
        shown.starts_with("false ") && shown.trim().ends_with('|'),
        "{shown}"
    );
    s.ok(&["pod", "rm", "parent", "own"]);
}

/// `pod stats --no-stream` (issue 11) of a real pod: one row per running
/// container (the infra container included, a created one left out), each
/// with the pod's and the container's short ids, its name and its process
/// count; the default table has Podman's columns. Memory is shown where
/// the host gives the container a cgroup to read it from.
#[test]
fn pod_stats_has_a_row_per_running_member_with_its_pids() {
    let s = busybox();
    let pod = s.ok(&["pod", "create", "--name", "st"]);
    let pod = pod.trim();
    let a = s.ok(&[
        "run", "-d", "--pod", "st", "--name", "st-a", "busybox", "sleep", "1000",
    ]);
    // sh and its two sleeps: three processes.
    let b = s.ok(&[
        "run",
        "-d",
        "--pod",
        "st",
        "--name",
        "st-b",
        "busybox",
        "sh",
        "-c",
        "sleep 1000 & sleep 1000 & wait",
    ]);
    s.ok(&[
        "create", "--pod", "st", "--name", "st-idle", "busybox", "true",
    ]);
    let infra = s.ok(&["pod", "inspect", "--format", "{{.InfraContainerID}}", "st"]);
    let want = [
        (infra.trim(), format!("{}-infra", &pod[..12]), "1"),
        (a.trim(), "st-a".to_string(), "1"),
        (b.trim(), "st-b".to_string(), "3"),
    ];
    let format = "{{.Pod}}|{{.CID}}|{{.Name}}|{{.PIDS}}|{{.CPU}}|{{.MemUsage}}";
    let mut rows = Vec::new();
    // The sleeps of st-b are forked just after it starts: poll for them.
    let settled = eventually(Duration::from_secs(10), || {
        let out = s.ok(&["pod", "stats", "--no-stream", "--format", format, "st"]);
        rows = out.lines().map(str::to_string).collect();
        rows.iter().any(|r| r.contains("|st-b|3|"))
    });
    assert!(settled, "{rows:?}");
    assert_eq!(rows.len(), 3, "one row per running member: {rows:?}");
    let mut memory = false;
    for (row, (id, name, pids)) in rows.iter().zip(&want) {
        let cells: Vec<&str> = row.split('|').collect();
        assert_eq!(cells[0], &pod[..12], "{row}");
        assert_eq!(cells[1], &id[..12], "{row}");
        assert_eq!(cells[2], name, "{row}");
        assert_eq!(cells[3], *pids, "{row}");
        assert!(cells[4].ends_with('%'), "{row}");
        if cells[5] != "--" {
            assert!(cells[5].contains(" / "), "{row}");
            memory = true;
        }
    }
    if !memory {
        skip_even_under_ci(
            "pod stats memory figures",
            "the host gives the containers no cgroup to read them from",
            "the VM lane checks them: vm_cgroups kube_play_resources_are_cgroup_limits_and_pod_stats_reads_them",
        );
    }
    let table = s.ok(&["pod", "stats", "--no-stream", "st"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap()
        .split("  ")
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "POD",
            "CID",
            "NAME",
            "CPU %",
            "MEM USAGE/ LIMIT",
            "MEM %",
            "NET IO",
            "BLOCK IO",
            "PIDS"
        ]
    );
    assert_eq!(table.lines().count(), 4, "{table}");
    // --format json: Podman's PodStatsReport per row, its keys in the order
    // of its struct, indented as its json.MarshalIndent(.., "", "     ").
    let json = s.ok(&["pod", "stats", "--no-stream", "--format", "json", "st"]);
    let v: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let reports = v.as_array().unwrap_or_else(|| panic!("{json}"));
    assert_eq!(reports.len(), 3, "{json}");
    const KEYS: [&str; 10] = [
        "CPU",
        "MemUsage",
        "MemUsageBytes",
        "Mem",
        "NetIO",
        "BlockIO",
        "PIDS",
        "Pod",
        "CID",
        "Name",
    ];
    let first: Vec<&str> = json
        .lines()
        .skip_while(|l| *l != "     {")
        .skip(1)
        .take_while(|l| !l.starts_with("     }"))
        .filter_map(|l| l.strip_prefix("          \"")?.split('"').next())
        .collect();
    assert_eq!(first, KEYS, "{json}");
    for (r, (id, name, pids)) in reports.iter().zip(&want) {
        assert_eq!(r["Pod"], &pod[..12], "{json}");
        assert_eq!(r["CID"], &id[..12], "{json}");
        assert_eq!(r["Name"], name.as_str(), "{json}");
        assert_eq!(r["PIDS"], *pids, "{json}");
        assert!(r["CPU"].as_str().unwrap().ends_with('%'), "{json}");
    }
    // Every key of the report is a template field, in a plain template and
    // in a table one (whose headers are Podman's).
    let all = KEYS.map(|k| format!("{{{{.{k}}}}}")).join("|");
    let out = s.ok(&["pod", "stats", "--no-stream", "--format", &all, "st"]);
    for line in out.lines() {
        let cells: Vec<&str> = line.split('|').collect();
        assert_eq!(cells.len(), KEYS.len(), "{line}");
        assert_eq!(cells[7], &pod[..12], "{line}");
        assert!(cells.iter().all(|c| !c.is_empty()), "{line}");
    }
    assert_eq!(out.lines().count(), 3, "{out}");
    let t = s.ok(&[
        "pod",
        "stats",
        "--no-stream",
        "--format",
        "table {{.Name}}\t{{.MemUsageBytes}}\t{{.Mem}}",
        "st",
    ]);
    let head: Vec<&str> = t.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(head, ["NAME", "MEM", "USAGE/", "LIMIT", "MEM"], "{t}");
    let e = s.fails_engine(&["pod", "stats", "--no-stream", "nosuch-zz"]);
    assert!(
        e.contains("nosuch-zz") && e.trim_end().lines().count() == 1,
        "{e}"
    );
    s.ok(&["pod", "rm", "-f", "-t", "0", "st"]);
    // A pod with nothing running: Podman's row of dashes.
    s.ok(&["pod", "create", "--name", "st-none"]);
    let t = s.ok(&["pod", "stats", "--no-stream", "st-none"]);
    let dashes: Vec<&str> = t
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(dashes, ["--"; 9], "{t}");
    s.ok(&["pod", "rm", "st-none"]);
    assert!(s.container_ids().is_empty());
}
