//! Resource limit flags on a host without a delegated cgroup v2 subtree
//! (this development VM: hybrid cgroups, no controllers): bad values and
//! limits that cannot be applied are refused in one line, exit 125, with
//! nothing created. Their effect is proven in the VM lane (vm_cgroups.rs).

mod common;

use common::*;

/// Fails with 125 and one line containing `want`; no container is left.
fn refused(s: &Skiff, args: &[&str], want: &str) {
    let err = s.fails_engine(args);
    assert!(err.contains(want), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    assert_eq!(s.ok(&["ps", "-a", "-q"]), "", "{args:?} left a container");
}

#[test]
fn bad_limit_values_are_refused_in_one_line() {
    let s = busybox();
    refused(
        &s,
        &["run", "--rm", "--memory", "10k", BUSYBOX, "true"],
        "minimum memory limit allowed is 6MB",
    );
    refused(
        &s,
        &["run", "--rm", "--cpus", "-1", BUSYBOX, "true"],
        "--cpus",
    );
    refused(
        &s,
        &["create", "--cpuset-cpus", "99", BUSYBOX, "true"],
        "requested CPUs are not available",
    );
    refused(
        &s,
        &["run", "--rm", "--pids-limit", "abc", BUSYBOX, "true"],
        "--pids-limit",
    );
    refused(
        &s,
        &[
            "create",
            "--memory",
            "64m",
            "--memory-swap",
            "32m",
            BUSYBOX,
            "true",
        ],
        "memoryswap limit should be larger than memory limit",
    );
    refused(
        &s,
        &[
            "create",
            "--cpus",
            "1",
            "--cpu-quota",
            "5000",
            BUSYBOX,
            "true",
        ],
        "cannot be set together",
    );
}

#[test]
fn limits_without_delegation_are_an_error_not_a_no_op() {
    let s = busybox();
    for args in [
        &["run", "--rm", "--memory", "64m", BUSYBOX, "true"][..],
        &["create", "--pids-limit", "10", BUSYBOX, "true"],
        &["run", "-d", "--cpus", "0.5", BUSYBOX, "sleep", "100"],
    ] {
        let err = s.fails_engine(args);
        // No subtree is delegated here, or one lacks the controller.
        assert!(
            err.contains("cannot specify resource limits without cgroups v2")
                || err.contains("the requested cgroup controller"),
            "{args:?}: {err}"
        );
        assert_eq!(s.ok(&["ps", "-a", "-q"]), "");
    }
    refused(
        &s,
        &[
            "create",
            "--cgroups",
            "disabled",
            "--memory",
            "64m",
            BUSYBOX,
            "true",
        ],
        "cgroups are disabled",
    );
}

#[test]
fn cgroups_split_needs_the_callers_cgroup_and_no_parent() {
    let s = busybox();
    refused(
        &s,
        &[
            "create",
            "--cgroups",
            "split",
            "--cgroup-parent",
            "/x",
            BUSYBOX,
            "true",
        ],
        "cannot specify --cgroup-parent with --cgroups=split",
    );
    // No cgroup here is the user's: split has nothing to split (the VM
    // lane proves it where the caller's cgroup is delegated).
    refused(
        &s,
        &["run", "--rm", "--cgroups", "split", BUSYBOX, "true"],
        "--cgroups=split",
    );
}

#[test]
fn containers_without_limits_show_zero_limits() {
    let s = busybox();
    let id = s.ok(&["create", "--cgroups", "disabled", BUSYBOX, "true"]);
    let id = id.trim();
    assert_eq!(
        s.inspect_format(
            id,
            "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.Cgroups}}"
        ),
        "0 0 0 disabled"
    );
}

#[test]
fn update_of_a_stopped_or_unknown_container_changes_nothing() {
    let s = busybox();
    let err = s.fails_engine(&["update", "--memory", "64m", "nosuch-zz"]);
    assert!(err.contains("nosuch-zz"), "{err}");
    s.ok(&["create", "--name", "idle", BUSYBOX, "true"]);
    let err = s.fails_engine(&["update", "--memory", "64m", "idle"]);
    assert!(err.contains("idle is not running"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert_eq!(s.inspect_format("idle", "{{.HostConfig.Memory}}"), "0");
    let err = s.fails_engine(&["update", "--memory", "10k", "idle"]);
    assert!(err.contains("minimum memory limit allowed is 6MB"), "{err}");
}

#[test]
fn update_without_a_cgroup_is_refused_and_recorded_nowhere() {
    let s = busybox();
    s.ok(&["run", "-d", "--name", "busy", BUSYBOX, "sleep", "100"]);
    let err = s.fails_engine(&["update", "--pids-limit", "10", "busy"]);
    assert!(
        err.contains("cannot specify resource limits without cgroups v2")
            || err.contains("the requested cgroup controller"),
        "{err}"
    );
    assert_eq!(s.inspect_format("busy", "{{.HostConfig.PidsLimit}}"), "0");
    s.ok(&["rm", "-f", "busy"]);
}

#[test]
fn stats_shows_what_can_be_read_without_a_cgroup() {
    let s = busybox();
    s.ok(&["run", "-d", "--name", "st", BUSYBOX, "sleep", "100"]);
    let table = s.ok(&["stats", "--no-stream"]);
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    for col in [
        "ID",
        "NAME",
        "CPU %",
        "MEM USAGE / LIMIT",
        "NET IO",
        "BLOCK IO",
        "PIDS",
    ] {
        assert!(header.contains(col), "{header}");
    }
    let row = lines.next().expect("a row for st");
    assert!(row.contains(" st "), "{row}");
    let f = s.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}}|{{.PIDs}}|{{.CPUPerc}}|{{.NetIO}}|{{.ID}}",
        "st",
    ]);
    let cells: Vec<&str> = f.trim().split('|').collect();
    assert_eq!(cells[0], "st");
    assert_eq!(cells[1], "1", "{f}");
    assert!(cells[2].ends_with('%'), "{f}");
    assert!(cells[3].contains(" / "), "{f}");
    assert_eq!(cells[4].len(), 12, "{f}");
    let full = s.ok(&[
        "stats",
        "--no-stream",
        "--no-trunc",
        "--format",
        "{{.ID}}",
        "st",
    ]);
    assert_eq!(full.trim().len(), 64, "{full}");
    // Podman's JSON: its own lower-case keys, the table's texts.
    let json = s.ok(&["stats", "--no-stream", "--format", "json", "st"]);
    let v: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(v[0]["name"], "st", "{json}");
    assert_eq!(v[0]["pids"], "1", "{json}");
    assert_eq!(v[0]["id"].as_str().map(str::len), Some(12), "{json}");
    assert!(
        v[0]["cpu_percent"]
            .as_str()
            .unwrap_or_default()
            .ends_with('%'),
        "{json}"
    );
    assert!(
        v[0]["mem_usage"].is_string() && v[0]["net_io"].is_string(),
        "{json}"
    );
    s.ok(&["stop", "-t", "0", "st"]);
    assert_eq!(s.ok(&["stats", "--no-stream", "--format", "{{.Name}}"]), "");
    let all = s.ok(&[
        "stats",
        "--no-stream",
        "-a",
        "--format",
        "{{.Name}} {{.PIDs}}",
    ]);
    assert_eq!(all.trim(), "st --");
    let err = s.fails_engine(&["stats", "--no-stream", "--format", "{{.Nope}}"]);
    assert!(err.contains("Nope"), "{err}");
    s.ok(&["rm", "-f", "st"]);
}
