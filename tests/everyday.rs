//! A Docker or Podman user's everyday behaviour (issue 15): logs in the order
//! written, `ps` states and formats, templates over Podman's field names, the
//! CLI surface (help, suggestions, `-v`, `--log-level`), completions and
//! networking details (connect while running, ping, host name).

mod common;

use std::ffi::OsStr;

use common::*;

/// Runs skiff with its stderr sent to its stdout, as a terminal shows both.
fn merged(s: &Skiff, args: &[&str]) -> Output {
    let wrapper: Vec<&OsStr> = ["sh", "-c", "exec \"$@\" 2>&1", "sh"]
        .iter()
        .map(OsStr::new)
        .collect();
    s.run_prepared(s.command_under(&wrapper, args), args)
}

// ---------------------------------------------------------------------------
// logs

#[test]
fn logs_keep_the_order_of_stdout_and_stderr_and_stamp_in_utc() {
    let s = busybox();
    s.ok(&[
        "run",
        "--name",
        "lo",
        "busybox",
        "sh",
        "-c",
        "echo 1; sleep .2; echo 2 >&2; sleep .2; echo 3",
    ]);
    let o = merged(&s, &["logs", "lo"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(o.stdout, "1\n2\n3\n", "{}", o.describe());
    // The streams stay apart when they go to different places.
    let o = s.cmd(&["logs", "lo"]);
    assert_eq!((o.stdout.as_str(), o.stderr.as_str()), ("1\n3\n", "2\n"));

    let o = merged(&s, &["logs", "-t", "lo"]);
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", o.describe());
    for (l, want) in lines.iter().zip(["1", "2", "3"]) {
        let (ts, text) = l.split_once(' ').unwrap();
        assert!(ts.ends_with('Z'), "logs -t stamp {ts:?} must be UTC with Z");
        assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts:?}");
        assert_eq!(text, want);
    }
    assert_eq!(s.ok(&["logs", "--tail", "1", "lo"]), "3\n");
    s.ok(&["rm", "lo"]);
}

// ---------------------------------------------------------------------------
// ps

#[test]
fn ps_shows_paused_containers_and_podman_formats() {
    let s = busybox();
    s.ok(&[
        "run", "-d", "--name", "pz", "-l", "app=web", "busybox", "sleep", "300",
    ]);
    s.ok(&["pause", "pz"]);
    let out = s.ok(&["ps"]);
    let line = out
        .lines()
        .find(|l| l.ends_with("pz"))
        .unwrap_or_else(|| panic!("ps hides the paused container:\n{out}"));
    // Podman's word for the state; Docker would say `Up 5 minutes (Paused)`.
    assert!(line.contains("  Paused  "), "{line}");
    s.ok(&["unpause", "pz"]);

    // JSON in Podman's shape.
    let out = s.ok(&["ps", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let c = &v[0];
    assert_eq!(c["Names"], serde_json::json!(["pz"]), "{out}");
    assert_eq!(c["Command"], serde_json::json!(["sleep", "300"]), "{out}");
    assert!(c["Created"].is_i64() && c["StartedAt"].is_i64(), "{out}");
    assert_eq!(c["State"], "running");
    assert!(c["Status"].as_str().unwrap().starts_with("Up "), "{out}");
    assert!(c["CreatedAt"].as_str().unwrap().ends_with(" ago"), "{out}");
    assert_eq!(c["Labels"]["app"], "web");
    assert_eq!(c["Id"].as_str().unwrap().len(), 64);
    assert!(c["Pid"].as_i64().unwrap() > 0);
    for key in [
        "Image", "ImageID", "Ports", "Mounts", "Networks", "Pod", "PodName",
    ] {
        assert!(c.get(key).is_some(), "no {key} in {out}");
    }
    assert_eq!(c["Exited"], false);

    // Templates see Podman's psReporter fields, tables its headers.
    let out = s.ok(&[
        "ps",
        "--format",
        "{{.Names}}|{{.Command}}|{{.RunningFor}}|{{.CreatedAt}}|{{.StartedAt}}|{{.Labels}}|{{.State}}",
    ]);
    let f: Vec<&str> = out.trim().split('|').collect();
    assert_eq!(f[0], "pz");
    assert_eq!(f[1], "sleep 300");
    assert!(f[2].ends_with(" ago"), "{out}");
    assert!(f[3].ends_with(" +0000 UTC"), "{out}");
    assert!(
        f[4].ends_with(" +0000 UTC") && !f[4].starts_with("1970"),
        "{out}"
    );
    assert_eq!(f[5], "app=web");
    assert_eq!(f[6], "running");
    let out = s.ok(&[
        "ps",
        "--format",
        "table {{.ID}}\t{{.Names}}\t{{.RunningFor}}",
    ]);
    assert!(out.starts_with("CONTAINER ID  NAMES"), "{out}");
    assert!(
        out.lines().next().unwrap().ends_with("RUNNING FOR"),
        "{out}"
    );
    let plain = s.ok(&["ps"]);
    let table = s.ok(&["ps", "--format", "table"]);
    assert_eq!(plain.lines().next(), table.lines().next());
    assert!(
        plain.starts_with("CONTAINER ID  IMAGE                     COMMAND     CREATED"),
        "{plain}"
    );

    let out = s.ok(&["ps", "--size"]);
    assert!(out.lines().next().unwrap().ends_with("SIZE"), "{out}");
    assert!(out.contains("(virtual "), "{out}");
    let out = s.ok(&["ps", "--ns"]);
    let head: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        head,
        [
            "CONTAINER",
            "ID",
            "NAMES",
            "PID",
            "CGROUPNS",
            "IPC",
            "MNT",
            "NET",
            "PIDNS",
            "USERNS",
            "UTS"
        ],
        "{out}"
    );
    let row: Vec<&str> = out.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row.len(), 10, "{out}");
    assert!(row[3..].iter().all(|n| n.parse::<u64>().is_ok()), "{out}");
    s.fails_engine(&["ps", "--format", "{{.Nope}}"]);
    s.ok(&["rm", "-f", "-t", "0", "pz"]);
}

#[test]
fn ps_shows_a_restarting_container() {
    let s = busybox();
    s.ok(&[
        "run",
        "-d",
        "--name",
        "rs",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ]);
    let mut last = String::new();
    let seen = eventually(std::time::Duration::from_secs(20), || {
        last = s.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
        last.contains("rs Restarting (3)")
    });
    assert!(seen, "never saw Restarting (3) in ps: {last:?}");
    s.ok(&["rm", "-f", "-t", "0", "rs"]);
}

// ---------------------------------------------------------------------------
// templates over Podman's field names

#[test]
fn templates_see_podmans_field_names() {
    let s = Skiff::new();
    s.ok(&["network", "create", "--subnet", "10.89.77.0/24", "tmplnet"]);
    let out = s.ok(&[
        "network",
        "inspect",
        "--format",
        "{{.Name}} {{.Driver}} {{.DNSEnabled}} {{range .Subnets}}{{.Subnet}} {{.Gateway}}{{end}}",
        "tmplnet",
    ]);
    assert_eq!(out.trim(), "tmplnet bridge true 10.89.77.0/24 10.89.77.1");
    let out = s.ok(&["inspect", "--format", "{{.Name}}", "tmplnet"]);
    assert_eq!(out.trim(), "tmplnet");
    // The JSON keeps netavark's keys, as Podman's does.
    let json = s.ok(&["network", "inspect", "tmplnet"]);
    assert!(json.contains("\"name\": \"tmplnet\""), "{json}");
    // A field Podman's struct lacks is Podman's error, not `<no value>`.
    let e = s.fails_engine(&["network", "inspect", "--format", "{{.Nope}}", "tmplnet"]);
    assert!(e.contains("can't evaluate field Nope"), "{e}");
    s.ok(&["network", "rm", "tmplnet"]);

    let version = env!("CARGO_PKG_VERSION");
    let out = s.ok(&[
        "version",
        "--format",
        "{{.Server.Version}} {{.Client.Version}}",
    ]);
    assert_eq!(out.trim(), format!("{version} {version}"));
    let out = s.ok(&[
        "info",
        "--format",
        "{{.Host.Arch}} {{.ServerVersion}} {{.Store.GraphDriverName}}",
    ]);
    let f: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(f.len(), 3, "{out}");
    assert_eq!(f[1], version);
    assert!(!f[0].is_empty() && !f[2].contains("no value"), "{out}");
}

// ---------------------------------------------------------------------------
// the command line

#[test]
fn cli_surface_as_podman() {
    let s = Skiff::new();
    // Alone: the help, then Podman's error, exit 125.
    let o = s.cmd(&[]);
    assert_eq!(o.code, 125, "{}", o.describe());
    assert!(o.stdout.contains("Usage: skiff"), "{}", o.describe());
    assert_eq!(o.stderr.trim(), "Error: missing command 'skiff COMMAND'");
    let o = s.cmd(&["network"]);
    assert_eq!(o.code, 125, "{}", o.describe());
    assert!(
        o.stdout.contains("Usage: skiff network"),
        "{}",
        o.describe()
    );
    assert_eq!(
        o.stderr.trim(),
        "Error: missing command 'skiff network COMMAND'"
    );

    // An unknown command names the close ones.
    let e = s.fails(&["pss"], 125);
    assert!(
        e.starts_with("Error: unrecognized command `skiff pss`"),
        "{e}"
    );
    assert!(
        e.contains("Did you mean this?\n") && e.contains("\tps\n"),
        "{e}"
    );
    let e = s.fails(&["network", "lss"], 125);
    assert!(
        e.contains("`skiff network lss`") && e.contains("\tls"),
        "{e}"
    );

    // help CMD is CMD --help; -v is --version.
    let help = s.ok(&["help", "ps"]);
    assert_eq!(help, s.ok(&["ps", "--help"]));
    assert!(help.contains("Usage: skiff ps"), "{help}");
    assert_eq!(
        s.ok(&["--log-level", "info", "help", "network", "ls"]),
        s.ok(&["network", "ls", "--help"])
    );
    let v = s.ok(&["-v"]);
    assert_eq!(v, format!("skiff version {}\n", env!("CARGO_PKG_VERSION")));
    assert_eq!(s.ok(&["--version"]), v);

    // The global options are in `skiff --help` only, and still work anywhere.
    assert!(s.ok(&["--help"]).contains("--log-level"));
    assert!(
        !help.contains("--log-level") && !help.contains("--root"),
        "{help}"
    );
    s.ok(&["ps", "--log-level", "error"]);
}

#[test]
fn log_level_debug_says_what_skiff_does() {
    let s = busybox();
    let o = s.cmd(&["--log-level", "debug", "run", "--rm", "busybox", "true"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert!(o.stderr.contains("store: graph root "), "{}", o.describe());
    assert!(
        o.stderr.contains("starting the supervisor of container"),
        "{}",
        o.describe()
    );
    assert!(
        o.stderr.contains("starting \""),
        "no helper start logged\n{}",
        o.describe()
    );
    // The default level (warn) says none of it.
    let o = s.cmd(&["run", "--rm", "busybox", "true"]);
    assert_eq!((o.code, o.stderr.as_str()), (0, ""), "{}", o.describe());
}

// ---------------------------------------------------------------------------
// completions

#[test]
fn completion_scripts_for_each_shell() {
    let s = Skiff::new();
    let bash = s.ok(&["completion", "bash"]);
    let path = s.write_file("skiff.bash", bash.as_bytes());
    // The script completes commands and a command's flags in a real bash.
    let script = format!(
        "source {}; COMP_WORDS=(skiff p); COMP_CWORD=1; _skiff skiff p skiff; echo \"${{COMPREPLY[@]}}\"; \
         COMP_WORDS=(skiff ps --n); COMP_CWORD=2; _skiff skiff --n ps; echo \"${{COMPREPLY[@]}}\"",
        path.display()
    );
    let o = std::process::Command::new("bash")
        .args(["--norc", "-c", &script])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let mut lines = out.lines();
    let commands: Vec<&str> = lines.next().unwrap_or("").split(' ').collect();
    for c in ["ps", "pull", "push", "pod", "port"] {
        assert!(
            commands.contains(&c),
            "bash completes 'skiff p' to {commands:?}"
        );
    }
    let flags = lines.next().unwrap_or("");
    assert!(
        flags.contains("--no-trunc") && flags.contains("--noheading"),
        "{flags}"
    );
    for shell in ["zsh", "fish", "powershell"] {
        assert!(s.ok(&["completion", shell]).contains("skiff"), "{shell}");
    }
    // --file writes the script instead.
    let file = s.home.join("skiff.fish");
    assert_eq!(
        s.ok(&["completion", "--file", file.to_str().unwrap(), "fish"]),
        ""
    );
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .contains("complete -c skiff"));
    let e = s.fails_engine(&["completion", "tcsh"]);
    assert!(e.contains("tcsh"), "{e}");
}

// ---------------------------------------------------------------------------
// networking

#[test]
fn ping_works_in_containers_and_host_network_has_the_hosts_name() {
    let s = busybox();
    // Group 0 may open ICMP datagram sockets (iputils' and newer busyboxes'
    // unprivileged ping); the fixture's busybox 1.35 only tries a raw socket,
    // so it pings with NET_RAW, which Podman's default capabilities lack.
    let out = s.sh(&[], "cat /proc/sys/net/ipv4/ping_group_range");
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["0", "0"],
        "{out}"
    );
    let out = s.sh(
        &["--cap-add", "NET_RAW"],
        "ping -c 1 -W 5 127.0.0.1 >/dev/null && echo pinged",
    );
    assert_eq!(out.trim(), "pinged");
    let out = s.sh(
        &["--network", "none"],
        "cat /proc/sys/net/ipv4/ping_group_range",
    );
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["0", "0"]);

    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    assert_eq!(s.sh(&["--network", "host"], "hostname").trim(), host);
    assert_eq!(
        s.sh(&["--network", "host", "--hostname", "given"], "hostname")
            .trim(),
        "given"
    );
}

#[test]
fn network_connect_of_running_containers() {
    let s = busybox();
    s.ok(&["network", "create", "--subnet", "10.89.71.0/24", "conn1"]);
    s.ok(&["network", "create", "--subnet", "10.89.72.0/24", "conn2"]);
    // One on the default network, one on a user network already.
    s.ok(&[
        "run",
        "-d",
        "--name",
        "dflt",
        "--cap-add",
        "NET_RAW",
        "busybox",
        "sleep",
        "300",
    ]);
    s.ok(&[
        "run",
        "-d",
        "--name",
        "onnet",
        "--network",
        "conn1",
        "busybox",
        "sleep",
        "300",
    ]);
    s.ok(&["network", "connect", "conn1", "dflt"]);
    s.ok(&["network", "connect", "conn2", "onnet"]);
    s.ok(&["network", "connect", "conn2", "dflt"]);
    let addrs = s.ok(&["exec", "dflt", "ip", "-4", "-o", "addr"]);
    assert!(
        addrs.contains("10.89.71.") && addrs.contains("10.89.72."),
        "{addrs}"
    );
    let addrs = s.ok(&["exec", "onnet", "ip", "-4", "-o", "addr"]);
    assert!(
        addrs.contains("10.89.71.") && addrs.contains("10.89.72."),
        "{addrs}"
    );
    // They reach each other over the network they now share.
    let ip = s.inspect_format(
        "onnet",
        "{{(index .NetworkSettings.Networks \"conn2\").IPAddress}}",
    );
    s.ok(&["exec", "dflt", "ping", "-c", "1", "-W", "5", &ip]);
    s.ok(&["rm", "-f", "-t", "0", "dflt", "onnet"]);
    s.ok(&["network", "rm", "conn1", "conn2"]);
}

#[test]
fn network_flag_takes_podman_4_aliases() {
    let s = busybox();
    s.ok(&["network", "create", "--subnet", "10.89.73.0/24", "aliasnet"]);
    s.ok(&[
        "run",
        "-d",
        "--name",
        "srv",
        "--network",
        "aliasnet:alias=backend,alias=api",
        "busybox",
        "sleep",
        "300",
    ]);
    let out = s.sh(
        &["--network", "aliasnet"],
        "nslookup backend >/dev/null && nslookup api >/dev/null && echo found",
    );
    assert_eq!(out.trim(), "found");
    let e = s.fails_engine(&[
        "run",
        "--rm",
        "--network",
        "aliasnet:ip=10.89.73.9",
        "busybox",
        "true",
    ]);
    assert!(e.contains("ip= option is not supported"), "{e}");
    s.ok(&["rm", "-f", "-t", "0", "srv"]);
    s.ok(&["network", "rm", "aliasnet"]);
}

#[test]
fn ps_filter_takes_every_podman_key_with_podmans_rules() {
    let s = busybox();
    s.ok(&["network", "create", "flt-net"]);
    s.ok(&["volume", "create", "flt-vol"]);
    s.ok(&["pod", "create", "--name", "flt-pod"]);
    let create = |name: &str, extra: &[&str]| {
        let mut a = vec!["create", "--name", name];
        a.extend_from_slice(extra);
        a.extend_from_slice(&["busybox", "sleep", "1"]);
        s.ok(&a);
        // Creation times a second apart: before= and since= compare them.
        std::thread::sleep(std::time::Duration::from_millis(1100));
    };
    create(
        "f-a",
        &["-l", "app=web", "-l", "tier=front", "--restart", "always"],
    );
    create(
        "f-b",
        &[
            "-l",
            "app=db",
            "-v",
            "flt-vol:/data",
            "--network",
            "flt-net",
        ],
    );
    create("f-c", &["--pod", "flt-pod", "-v", "/tmp:/hosttmp"]);
    s.fails(
        &["run", "--name", "f-d", "busybox", "sh", "-c", "exit 3"],
        3,
    );
    let names = |filters: &[&str]| -> String {
        let mut a = vec!["ps", "-a", "--format", "{{.Names}}", "--sort", "names"];
        for f in filters {
            a.extend_from_slice(&["--filter", f]);
        }
        let out = s.ok(&a);
        out.lines()
            .filter(|n| n.starts_with("f-"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let cases: &[(&[&str], &str)] = &[
        // One key's values are alternatives...
        (&["name=f-a", "name=f-b"], "f-a f-b"),
        (&["status=created", "status=exited"], "f-a f-b f-c f-d"),
        (&["status=stopped"], "f-d"),
        // ...different keys must all match...
        (&["name=f-", "exited=3"], "f-d"),
        (&["exited=0"], ""),
        // ...but label values must all hold, and label! excludes.
        (&["label=app=web", "label=tier=front"], "f-a"),
        (&["label=app=web", "label=app=db"], ""),
        (&["label=app", "label!=app=db"], "f-a"),
        (&["label!=app"], "f-c f-d"),
        (&["before=f-c"], "f-a f-b"),
        (&["since=f-b"], "f-c f-d"),
        (&["volume=flt-vol"], "f-b"),
        (&["volume=/data"], "f-b"),
        (&["volume=/tmp:/hosttmp"], "f-c"),
        (&["network=flt-net"], "f-b"),
        (&["network=nosuch-net"], ""),
        (&["pod=flt-pod"], "f-c"),
        (&["pod=nosuch-pod"], ""),
        (&["restart-policy=always"], "f-a"),
        (&["command=^sh$"], "f-d"),
        (&["until=1h"], ""),
        (&["health=healthy"], ""),
    ];
    let mut problems = Vec::new();
    for (filters, want) in cases {
        let got = names(filters);
        if got != *want {
            problems.push(format!("{filters:?}: got {got:?}, want {want:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let later = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 60;
    assert_eq!(names(&[&format!("until={later}")]), "f-a f-b f-c f-d");
    // Podman's messages, exit 125.
    for (filter, want) in [
        ("bogus=1", "Error: bogus is an invalid filter"),
        ("publish=80", "Error: publish is an invalid filter"),
        ("nokey", "Error: invalid filter \"nokey\""),
        (
            "status=sleeping",
            "Error: unknown container state: sleeping: invalid argument",
        ),
        (
            "exited=abc",
            "Error: exited code out of range '\\x00': strconv.ParseInt: parsing \"abc\": invalid syntax",
        ),
        (
            "before=nosuch-zz",
            "Error: no container with name or ID \"nosuch-zz\" found: no such container",
        ),
        (
            "until=abc",
            "Error: failed to parse value as time or duration: \"abc\"",
        ),
        ("restart-policy=sometimes", "Error: sometimes invalid restart policy"),
    ] {
        let e = s.fails(&["ps", "-a", "--filter", filter], 125);
        assert_eq!(e.trim(), want, "--filter {filter}");
    }
    s.ok(&["rm", "-f", "f-a", "f-b", "f-c", "f-d"]);
    s.ok(&["pod", "rm", "-f", "flt-pod"]);
}
