//! Flags that Podman scripts pass: each is honoured with Podman's effect or
//! refused with one "not supported" line (exit 125), never ignored.

mod common;

use common::*;

// ---- global options ----

#[test]
fn remote_flags_are_refused_as_daemonless() {
    let s = Skiff::new();
    for args in [
        &["--remote", "ps"][..],
        &["-r", "ps"],
        &["--url", "unix:///run/podman/podman.sock", "ps"],
        &["--connection", "prod", "ps"],
    ] {
        let line = s.fails_engine(args);
        assert!(
            line.contains("not supported") && line.contains("daemonless"),
            "{args:?}: {line}"
        );
    }
}

#[test]
fn runtime_accepts_skiff_only_and_no_runtime_flags() {
    let s = Skiff::new();
    s.ok(&["--runtime", "skiff", "ps"]);
    let line = s.fails_engine(&["--runtime", "crun", "ps"]);
    assert_eq!(
        line,
        "Error: --runtime crun: not supported: skiff runs containers with its own built-in runtime \"skiff\""
    );
    let line = s.fails_engine(&["--runtime-flag", "debug", "ps"]);
    assert!(line.contains("not supported"), "{line}");
}

#[test]
fn events_backend_and_cgroup_manager_are_what_info_reports() {
    let s = Skiff::new();
    let tmpl = "{{.Host.EventLogger}} {{.Host.CgroupManager}}";
    assert_eq!(s.ok(&["info", "--format", tmpl]).trim(), "file cgroupfs");
    // systemd where the user has no session bus (as here): Podman's
    // warnings, and cgroupfs is what is used and reported.
    let out = s.cmd(&[
        "--events-backend",
        "none",
        "--cgroup-manager",
        "systemd",
        "info",
        "--format",
        tmpl,
    ]);
    assert_eq!(out.code, 0, "{}", out.describe());
    assert_eq!(out.stdout.trim(), "none cgroupfs");
    // Each once, in Podman's one form (`WARN[NNNN] message`).
    assert_eq!(
        warnings(&out),
        [
            "The cgroupv2 manager is set to systemd but there is no systemd user session available",
            "Falling back to --cgroup-manager=cgroupfs"
        ],
        "{}",
        out.describe()
    );
    if !std::path::Path::new("/run/systemd/journal/socket").exists() {
        let line = s.fails_engine(&["--events-backend", "journald", "ps"]);
        assert!(
            line.contains("not supported") && line.contains("journal"),
            "{line}"
        );
    }
    s.fails_engine(&["--events-backend", "syslog", "ps"]);
}

#[test]
fn noout_and_out_move_standard_output() {
    let s = Skiff::new();
    assert_eq!(s.ok(&["--noout", "ps", "-a"]), "");
    let file = s.write_file("out.txt", b"");
    let out = s.ok(&["--out", file.to_str().unwrap(), "ps", "-a"]);
    assert_eq!(out, "");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("CONTAINER ID"), "{text:?}");
    // A container's own output is not skiff's: it stays on stdout.
    s.import_busybox();
    let out = s.ok(&["--noout", "run", "--rm", "busybox", "echo", "hi"]);
    assert_eq!(out, "hi\n");
    assert_eq!(s.ok(&["--noout", "create", "busybox"]), "");
    s.ok(&["rm", "--all"]);
}

#[test]
fn tmpdir_is_made_private() {
    use std::os::unix::fs::PermissionsExt;
    let s = Skiff::new();
    let parent = s.make_dir(&s.store().parent().unwrap().join("tmproot"));
    let dir = parent.join("skiff-tmp");
    s.ok(&["--tmpdir", dir.to_str().unwrap(), "ps"]);
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn storage_opt_mount_program_selects_fuse_overlayfs_and_others_are_refused() {
    let s = Skiff::new();
    let line = s.fails_engine(&["--storage-opt", "overlay.mountopt=nodev", "ps"]);
    assert!(line.contains("not supported"), "{line}");
    s.ok(&["--storage-opt", "", "ps"]);
    let out = s.ok(&[
        "--storage-opt",
        "overlay.mount_program=/usr/bin/fuse-overlayfs",
        "info",
        "--format",
        "{{.Store.GraphDriverName}}",
    ]);
    assert_eq!(out.trim(), "fuse-overlayfs");
}

// ---- parsing as pflag does ----

#[test]
fn a_repeated_single_value_flag_takes_the_last() {
    let s = busybox();
    s.ok(&[
        "create", "--name", "first-zz", "--name", "last-zz", "busybox",
    ]);
    let out = s.ok(&["ps", "-a", "--format", "{{.ID}}", "--format", "{{.Names}}"]);
    assert_eq!(out.trim(), "last-zz");
}

#[test]
fn option_values_may_begin_with_a_hyphen() {
    let s = busybox();
    let out = s.ok(&["history", "--format", "--{{.CreatedBy}}--", "busybox"]);
    assert!(
        out.lines().next().is_some_and(|l| l.starts_with("--")),
        "{out:?}"
    );
}

// ---- per command ----

#[test]
fn stop_and_kill_all_print_full_ids_and_stop_ignore_skips_missing() {
    let s = busybox();
    let sleeper = |name: &str| {
        let id = s.ok(&["run", "-d", "--name", name, "busybox", "sleep", "300"]);
        id.trim().to_string()
    };
    let (a, b) = (sleeper("first-zz"), sleeper("second-zz"));
    let mut killed: Vec<String> = s
        .ok(&["kill", "--all", "--signal", "CONT"])
        .lines()
        .map(String::from)
        .collect();
    killed.sort();
    let mut both = vec![a.clone(), b.clone()];
    both.sort();
    assert_eq!(killed, both);
    s.fails_engine(&["stop", "nosuch-zz"]);
    let out = s.ok(&["stop", "--ignore", "-t", "0", "nosuch-zz", "first-zz"]);
    assert_eq!(out.trim(), "first-zz");
    assert_eq!(s.ok(&["stop", "--all", "-t", "0"]).trim(), b);
    s.ok(&["rm", "first-zz", "second-zz"]);
}

#[test]
fn start_all_with_a_filter_starts_the_matching_containers() {
    let s = busybox();
    let a = s.ok(&["create", "--label", "pick=yes", "busybox", "sleep", "300"]);
    let b = s.ok(&["create", "--name", "other-zz", "busybox", "sleep", "300"]);
    let out = s.ok(&["start", "--all", "--filter", "label=pick=yes"]);
    assert_eq!(out.trim(), a.trim());
    // --no-trunc: the full id, as Podman prints it.
    assert_eq!(
        s.ok(&["ps", "--format", "{{.ID}}", "--no-trunc"]).trim(),
        a.trim()
    );
    assert_eq!(s.inspect_format("other-zz", "{{.State.Status}}"), "created");
    s.ok(&["rm", "-f", "-t", "0", a.trim(), b.trim()]);
}

#[test]
fn rm_filter_and_depend() {
    let s = busybox();
    let base = s.ok(&["run", "-d", "--name", "base-zz", "busybox", "sleep", "300"]);
    let joined = s.ok(&[
        "run",
        "-d",
        "--name",
        "joined-zz",
        "--network",
        "container:base-zz",
        "busybox",
        "sleep",
        "300",
    ]);
    let out = s.ok(&["rm", "-f", "-t", "0", "--depend", "base-zz"]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        vec![joined.trim(), base.trim()]
    );
    let gone = s.ok(&["create", "--label", "drop=1", "busybox"]);
    let kept = s.ok(&["create", "--name", "kept-zz", "busybox"]);
    assert_eq!(
        s.ok(&["rm", "--filter", "label=drop=1"]).trim(),
        gone.trim()
    );
    assert_eq!(s.ok(&["ps", "-aq", "--no-trunc"]).trim(), kept.trim());
    s.ok(&["rm", "kept-zz"]);
}

#[test]
fn logs_and_exec_take_the_latest_container() {
    let s = busybox();
    s.ok(&["run", "--name", "older-zz", "busybox", "echo", "old"]);
    s.ok(&[
        "run",
        "-d",
        "--name",
        "newer-zz",
        "busybox",
        "sh",
        "-c",
        "echo new; sleep 300",
    ]);
    let out = s.ok(&["exec", "-l", "cat", "/etc/hostname"]);
    let id = s.inspect_format("newer-zz", "{{.Id}}");
    assert_eq!(out.trim(), &id[..12]);
    // The harness opens no descriptor 3 for skiff.
    let line = s.fails_engine(&["exec", "--preserve-fds", "1", "newer-zz", "true"]);
    assert_eq!(
        line,
        "Error: file descriptor 3 is not available - the preserve-fds option requires that file descriptors must be passed"
    );
    let line = s.fails_engine(&["exec", "newer-zz"]);
    assert_eq!(
        line,
        "Error: must provide a non-empty command to start an exec session"
    );
    s.ok(&["stop", "-t", "0", "newer-zz"]);
    assert_eq!(s.ok(&["logs", "--latest"]), "new\n");
    assert_eq!(s.ok(&["logs", "-l"]), "new\n");
    s.ok(&["rm", "older-zz", "newer-zz"]);
}

#[test]
fn rmi_ignore_skips_unknown_images() {
    let s = busybox();
    s.ok(&["tag", "busybox", "extra-zz"]);
    s.fails(&["rmi", "nosuch-zz"], 1);
    let out = s.ok(&["rmi", "--ignore", "nosuch-zz", "extra-zz"]);
    assert_eq!(out.trim(), "Untagged: localhost/extra-zz:latest");
}

#[test]
fn images_sort_orders_rows() {
    let s = busybox();
    s.ok(&["tag", "busybox", "aaa-zz"]);
    s.ok(&["tag", "busybox", "zzz-zz"]);
    let fmt = "{{.Repository}}";
    let out = s.ok(&["images", "--sort", "repository", "--format", fmt]);
    let repos: Vec<&str> = out.lines().collect();
    let mut sorted = repos.clone();
    sorted.sort();
    assert_eq!(repos, sorted);
    s.fails_engine(&["images", "--sort", "colour"]);
}

#[test]
fn save_uncompressed_writes_plain_layers_for_docker_archive() {
    let s = busybox();
    let out = s.store().parent().unwrap().join("files");
    s.make_dir(&out);
    let file = out.join("img.tar");
    s.ok(&[
        "save",
        "--uncompressed",
        "-o",
        file.to_str().unwrap(),
        "busybox",
    ]);
    s.ok(&["load", "-i", file.to_str().unwrap()]);
    let line = s.fails_engine(&[
        "save",
        "--uncompressed",
        "--format",
        "oci-archive",
        "-o",
        file.to_str().unwrap(),
        "busybox",
    ]);
    assert!(line.contains("not supported"), "{line}");
}

#[test]
fn network_ls_short_noheading_and_inspect_type_pod() {
    let s = busybox();
    let out = s.ok(&["network", "ls", "-n"]);
    assert!(!out.contains("NETWORK ID"), "{out}");
    s.ok(&["pod", "create", "--name", "pod-zz"]);
    let out = s.ok(&[
        "inspect",
        "--type",
        "pod",
        "--format",
        "{{.Name}}",
        "pod-zz",
    ]);
    assert_eq!(out.trim(), "pod-zz");
    s.fails_engine(&["inspect", "--type", "container", "pod-zz"]);
    s.ok(&["pod", "rm", "pod-zz"]);
}

// ---- run and create ----

#[test]
fn log_driver_none_keeps_no_log_and_log_opts_take_effect() {
    let s = busybox();
    s.ok(&[
        "run",
        "--name",
        "nolog-zz",
        "--log-driver",
        "none",
        "busybox",
        "echo",
        "hi",
    ]);
    let line = s.fails_engine(&["logs", "nolog-zz"]);
    assert!(
        line.ends_with("this container is using the 'none' log driver, cannot read logs: this container is not logging output"),
        "{line}"
    );
    assert_eq!(
        s.inspect_format("nolog-zz", "{{.HostConfig.LogConfig.Type}}"),
        "none"
    );
    let dir = s.make_dir(&s.store().parent().unwrap().join("logs"));
    let path = dir.join("ctr.log");
    let opt = format!("path={}", path.display());
    s.ok(&[
        "run",
        "--name",
        "pathlog-zz",
        "--log-driver",
        "json-file",
        "--log-opt",
        &opt,
        "--log-opt",
        "tag=web",
        "busybox",
        "echo",
        "to-file",
    ]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.ends_with(" stdout F to-file\n"), "{text:?}");
    assert_eq!(s.ok(&["logs", "pathlog-zz"]), "to-file\n");
    assert_eq!(
        s.inspect_format(
            "pathlog-zz",
            "{{.HostConfig.LogConfig.Type}} {{.HostConfig.LogConfig.Tag}}"
        ),
        "k8s-file web"
    );
    // max-size: the log never holds more than its limit.
    s.ok(&[
        "run",
        "--name",
        "small-zz",
        "--log-opt",
        "max-size=200",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3 4 5 6 7 8 9 10; do echo line-$i; sleep 0.05; done",
    ]);
    let out = s.ok(&["logs", "small-zz"]);
    assert!(
        out.ends_with("line-10\n") && !out.contains("line-1\n"),
        "{out:?}"
    );
    let line = s.fails_engine(&["run", "--log-driver", "journald", "busybox", "true"]);
    assert!(line.contains("not supported"), "{line}");
    s.ok(&["rm", "nolog-zz", "pathlog-zz", "small-zz"]);
}

#[test]
fn stop_timeout_is_what_stop_waits_without_t() {
    let s = busybox();
    s.ok(&[
        "run",
        "-d",
        "--name",
        "slow-zz",
        "--stop-timeout",
        "1",
        "busybox",
        "sh",
        "-c",
        "trap '' TERM; sleep 300",
    ]);
    assert_eq!(s.inspect_format("slow-zz", "{{.Config.StopTimeout}}"), "1");
    let t = std::time::Instant::now();
    s.ok(&["stop", "slow-zz"]);
    let took = t.elapsed();
    assert!(
        took < std::time::Duration::from_secs(8),
        "stop took {took:?}"
    );
    assert_eq!(s.inspect_format("slow-zz", "{{.State.ExitCode}}"), "137");
    s.ok(&["rm", "slow-zz"]);
}

#[test]
fn timeout_kills_the_container() {
    let s = busybox();
    let o = s.cmd(&["run", "--rm", "--timeout", "1", "busybox", "sleep", "60"]);
    assert_eq!(o.code, 137, "{}", o.describe());
}

#[test]
fn attach_connects_only_the_streams_named() {
    let s = busybox();
    for (flag, stream, out, err) in [
        ("-a", "stdout", "out\n", ""),
        ("--attach", "stderr", "", "err\n"),
    ] {
        let script = "echo out; echo err >&2";
        let o = s.cmd(&["run", "--rm", flag, stream, "busybox", "sh", "-c", script]);
        assert_eq!(
            (o.code, o.stdout.as_str(), o.stderr.as_str()),
            (0, out, err)
        );
    }
}

#[test]
fn oom_score_adj_tz_and_cgroupns() {
    let s = busybox();
    assert_eq!(
        s.sh(&["--oom-score-adj", "500"], "cat /proc/self/oom_score_adj")
            .trim(),
        "500"
    );
    let out = s.sh(&["--tz", "Asia/Tokyo"], "date +%Z");
    assert_eq!(out.trim(), "JST");
    let line = s.fails_engine(&["run", "--rm", "--tz", "Nowhere/Special", "busybox", "true"]);
    assert_eq!(
        line,
        "Error: finding timezone: unknown time zone Nowhere/Special"
    );
    let ours = std::fs::read_link("/proc/self/ns/cgroup").unwrap();
    let ours = ours.to_str().unwrap();
    let private = s.sh(&[], "readlink /proc/self/ns/cgroup");
    assert_ne!(private.trim(), ours);
    let host = s.sh(&["--cgroupns", "host"], "readlink /proc/self/ns/cgroup");
    assert_eq!(host.trim(), ours);
    // Its own cgroup is the root of its cgroup namespace (tests/vm_cgroups.rs
    // proves it where the container gets a cgroup of its own).
    let cgroup = s.sh(&[], "grep '^0::' /proc/self/cgroup");
    assert_eq!(cgroup, "0::/\n");
    // inspect names the mode as Podman's HostConfig.CgroupMode.
    for (name, flags) in [
        ("cgns-private", &[][..]),
        ("cgns-host", &["--cgroupns", "host"]),
    ] {
        let mut args = vec!["create", "--name", name];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "true"]);
        s.ok(&args);
    }
    assert_eq!(
        s.inspect_format("cgns-private", "{{.HostConfig.CgroupMode}}"),
        "private"
    );
    assert_eq!(
        s.inspect_format("cgns-host", "{{.HostConfig.CgroupMode}}"),
        "host"
    );
    s.ok(&["rm", "cgns-private", "cgns-host"]);
}

#[test]
fn systemd_mode_mounts_tmpfs_on_run_and_tmp() {
    let s = busybox();
    let out = s.sh(
        &["--systemd", "always"],
        "grep -E ' /(run|tmp) ' /proc/mounts | cut -d' ' -f2,3",
    );
    assert_eq!(out, "/run tmpfs\n/tmp tmpfs\n");
    assert_eq!(
        s.sh(
            &["--systemd", "false"],
            "grep -c ' /tmp ' /proc/mounts || true"
        )
        .trim(),
        "0"
    );
}

#[test]
fn flags_without_effect_here_are_refused() {
    let s = busybox();
    for flag in [
        &["--preserve-fds", "2"][..],
        &["--cgroupns", "ns:/proc/1/ns/cgroup"],
    ] {
        let mut args = vec!["create"];
        args.extend_from_slice(flag);
        args.push("busybox");
        let line = s.fails_engine(&args);
        assert!(line.contains("not supported"), "{flag:?}: {line}");
    }
    assert_eq!(
        s.ok(&["ps", "-aq"]),
        "",
        "a refused create left a container"
    );
}

/// `--device-cgroup-rule`: each rule is checked as Podman parses it (its
/// words), then refused as rootless Podman refuses it; exit 125, no
/// container made.
#[test]
fn device_cgroup_rules_are_checked_then_refused() {
    let s = busybox();
    for (rules, want) in [
        (
            &["b 7:* rmX"][..],
            "Error: invalid device access in device-access-add: X",
        ),
        (
            &["b 7:2"],
            "Error: invalid device cgroup rule requires type, major:Minor, and access rules: \"b 7:2\"",
        ),
        (
            &["x 7:* rmw"],
            "Error: invalid device type in device-access-add: x",
        ),
        (
            &["a a:* rmw"],
            "Error: strconv.ParseUint: parsing \"a\": invalid syntax",
        ),
        // The first bad rule is the one reported, good ones before it pass.
        (
            &["c 1:3 rwm", "c 1:3 q"],
            "Error: invalid device access in device-access-add: q",
        ),
        (
            &["c 1:3 rwm", "a 7 rmw", "b 7:* r"],
            "Error: device cgroup rules are not supported in rootless mode or in a user namespace",
        ),
    ] {
        for verb in ["create", "run"] {
            let mut args = vec![verb];
            for r in rules {
                args.extend_from_slice(&["--device-cgroup-rule", r]);
            }
            args.extend_from_slice(&["busybox", "true"]);
            assert_eq!(s.fails_engine(&args), want, "{args:?}");
        }
    }
    assert_eq!(
        s.ok(&["ps", "-aq"]),
        "",
        "a refused create left a container"
    );
}

#[test]
fn quiet_run_prints_no_pull_progress() {
    let s = busybox();
    let o = s.cmd(&["run", "--rm", "-q", "busybox", "echo", "hi"]);
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (0, "hi\n", "")
    );
}

#[test]
fn rootfs_runs_an_exploded_root_directory() {
    let s = Skiff::new();
    let dir = s.store().parent().unwrap().join("rootfs-dir");
    std::fs::create_dir_all(&dir).unwrap();
    tar::Archive::new(&busybox_rootfs()[..])
        .unpack(&dir)
        .unwrap();
    std::fs::write(dir.join("marker"), "from-dir\n").unwrap();
    let owner = format!("{}:{}", s.uid(), s.gid());
    let chown = std::process::Command::new("chown")
        .args(["-R", &owner, dir.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(chown.success());
    let d = dir.to_str().unwrap();
    let out = s.ok(&[
        "run",
        "--rm",
        "--rootfs",
        d,
        "sh",
        "-c",
        "cat /marker; echo x > /new",
    ]);
    assert_eq!(out, "from-dir\n");
    s.ok(&["create", "--name", "rootfs-zz", "--rootfs", d, "true"]);
    assert_eq!(s.inspect_format("rootfs-zz", "{{.ImageName}}"), d);
    s.ok(&["rm", "rootfs-zz"]);
    let line = s.fails_engine(&["run", "--rootfs", "/nonexistent-zz", "true"]);
    assert_eq!(line, "Error: --rootfs /nonexistent-zz: not a directory");
}

// ---- run flags the runtime applies (--umask, --annotation, --group-add,
// --shm-size, ...): the effect inside a real container, and bad input ----

#[test]
fn umask_is_the_process_umask() {
    let s = busybox();
    assert_eq!(s.sh(&[], "umask").trim(), "0022");
    assert_eq!(s.sh(&["--umask", "077"], "umask").trim(), "0077");
    // A file made in the container gets the mask's permissions.
    let out = s.sh(&["--umask", "0027"], "touch /f; stat -c %a /f");
    assert_eq!(out.trim(), "640");
    s.ok(&["create", "--name", "um", "--umask", "0007", "busybox"]);
    assert_eq!(s.inspect_format("um", "{{.Config.Umask}}"), "0007");
    s.ok(&["rm", "um"]);
    let line = s.fails_engine(&["run", "--rm", "--umask", "999", "busybox", "true"]);
    assert!(line.contains("invalid umask string 999"), "{line}");
    assert_eq!(s.ok(&["ps", "-aq"]), "", "a refused run left a container");
}

#[test]
fn annotations_are_recorded_and_inspected() {
    let s = busybox();
    s.ok(&[
        "create",
        "--name",
        "ann",
        "--annotation",
        "io.example/tier=web",
        "--annotation",
        "empty=",
        "busybox",
    ]);
    assert_eq!(
        s.inspect_format("ann", "{{index .Config.Annotations \"io.example/tier\"}}"),
        "web"
    );
    assert_eq!(
        s.inspect_format("ann", "{{json .HostConfig.Annotations}}"),
        r#"{"empty":"","io.example/tier":"web"}"#
    );
    // The container starts with them (they are in its OCI spec).
    s.ok(&["start", "ann"]);
    s.ok(&["rm", "-f", "ann"]);
    let line = s.fails_engine(&["create", "--annotation", "novalue", "busybox"]);
    assert_eq!(
        line,
        "Error: --annotation novalue: annotations must be formatted KEY=VALUE"
    );
}

/// The `Groups:` line of /proc/self/status in a container run with `flags`.
fn groups(s: &Skiff, flags: &[&str]) -> String {
    s.sh(flags, "grep '^Groups:' /proc/self/status | cut -f2")
        .trim()
        .to_string()
}

#[test]
fn group_add_gives_supplementary_groups() {
    let s = busybox();
    assert_eq!(groups(&s, &[]), "");
    let g = groups(&s, &["--group-add", "10", "--group-add", "2000"]);
    assert_eq!(g, "10 2000");
    let id = s.sh(&["--group-add", "10", "--user", "1000:1000"], "id -G");
    assert_eq!(id.trim(), "1000 10");
    s.ok(&["create", "--name", "ga", "--group-add", "10", "busybox"]);
    assert_eq!(s.inspect_format("ga", "{{.HostConfig.GroupAdd}}"), "[10]");
    s.ok(&["rm", "ga"]);
    // keep-groups: the process keeps the groups it inherits (shown as the
    // overflow gid where they are not mapped), no setgroups.
    let kept = groups(&s, &["--group-add", "keep-groups"]);
    let ours = if s.user().drop {
        // The harness starts skiff with the user's groups (setpriv --init-groups).
        let o = std::process::Command::new("id")
            .args(["-G", &s.user().name])
            .output()
            .unwrap();
        String::from_utf8(o.stdout).unwrap()
    } else {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("Groups:"))
            .unwrap()
            .to_string()
    };
    assert_eq!(
        kept.split_whitespace().count(),
        ours.split_whitespace().count(),
        "{kept} / {ours}"
    );
    let line = s.fails_engine(&[
        "run",
        "--rm",
        "--group-add",
        "keep-groups",
        "--group-add",
        "10",
        "busybox",
        "true",
    ]);
    assert_eq!(
        line,
        "Error: the '--group-add keep-groups' option is not allowed with other groups"
    );
    let line = s.fails_engine(&["run", "--rm", "--group-add", "a:b", "busybox", "true"]);
    assert!(line.contains("--group-add \"a:b\""), "{line}");
    // A name is looked up in the image's /etc/group, as Podman does.
    s.import_with("grouped", |t| {
        t.file(
            "etc/group",
            b"root:x:0:\nwheel:x:10:\nvideo:x:44:\n",
            0o644,
            0,
            0,
        );
    });
    let g = s.ok(&[
        "run",
        "--rm",
        "--group-add",
        "video",
        "--group-add",
        "wheel",
        "grouped",
        "sh",
        "-c",
        "grep '^Groups:' /proc/self/status | cut -f2",
    ]);
    assert_eq!(g.trim(), "10 44");
    s.ok(&[
        "create",
        "--name",
        "gn",
        "--group-add",
        "video",
        "grouped",
        "true",
    ]);
    assert_eq!(
        s.inspect_format("gn", "{{.HostConfig.GroupAdd}}"),
        "[video]"
    );
    s.ok(&["rm", "gn"]);
    // A name the image lacks fails the start as an unknown --user does.
    let user = s.cmd(&["run", "--rm", "--user", "nosuch", "grouped", "true"]);
    let o = s.cmd(&["run", "--rm", "--group-add", "nosuch", "grouped", "true"]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (user.code, ""),
        "{}",
        o.describe()
    );
    assert_ne!(o.code, 0);
    assert!(
        o.stderr
            .contains("unable to find group nosuch: no matching entries in group file"),
        "{}",
        o.describe()
    );
}

#[test]
fn shm_size_sizes_dev_shm() {
    let s = busybox();
    let size = |flags: &[&str]| {
        s.sh(flags, "df -k /dev/shm | tail -1")
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_eq!(size(&[]), "65536");
    assert_eq!(size(&["--shm-size", "128m"]), "131072");
    assert_eq!(size(&["--shm-size", "1g"]), "1048576");
    s.ok(&["create", "--name", "shm", "--shm-size", "2m", "busybox"]);
    assert_eq!(
        s.inspect_format("shm", "{{.HostConfig.ShmSize}}"),
        "2097152"
    );
    s.ok(&["rm", "shm"]);
    let line = s.fails_engine(&["run", "--rm", "--shm-size", "lots", "busybox", "true"]);
    assert_eq!(line, "Error: --shm-size lots: invalid size");
}

#[test]
fn sysctls_are_set_in_the_containers_namespaces() {
    let s = busybox();
    let host_range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let out = s.sh(
        &[
            "--sysctl",
            "net.ipv4.ip_local_port_range=40000 40100",
            "--sysctl",
            "kernel.shmmax=1048576",
            "--sysctl",
            "fs.mqueue.msg_max=20",
        ],
        "cat /proc/sys/net/ipv4/ip_local_port_range /proc/sys/kernel/shmmax /proc/sys/fs/mqueue/msg_max",
    );
    let got: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(
        got[0].split_whitespace().collect::<Vec<_>>(),
        ["40000", "40100"]
    );
    assert_eq!(&got[1..], ["1048576", "20"]);
    // The host's are untouched.
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap(),
        host_range
    );
    s.ok(&[
        "create",
        "--name",
        "sc",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        "busybox",
    ]);
    // Beside containers.conf's default_sysctls (the host's Podman package
    // ships net.ipv4.ping_group_range), as Podman shows them.
    let sysctls: serde_json::Value =
        serde_json::from_str(&s.inspect_format("sc", "{{json .HostConfig.Sysctls}}")).unwrap();
    assert_eq!(sysctls["net.ipv4.ip_forward"], "1", "{sysctls}");
    s.ok(&["rm", "sc"]);
    // Host-affecting or not namespaced: refused before anything is made.
    for (args, want) in [
        (
            &["--sysctl", "kernel.hostname=x"][..],
            "Error: --sysctl kernel.hostname: sysctl is not allowed: only the namespaced kernel.msg*, kernel.shm*, kernel.sem, fs.mqueue.* and net.* are",
        ),
        (
            &["--sysctl", "vm.swappiness=1"],
            "Error: --sysctl vm.swappiness: sysctl is not allowed: only the namespaced kernel.msg*, kernel.shm*, kernel.sem, fs.mqueue.* and net.* are",
        ),
        (
            &["--network", "host", "--sysctl", "net.ipv4.ip_forward=1"],
            "Error: --sysctl net.ipv4.ip_forward: sysctl not allowed with --network host: it would change the host's",
        ),
        (
            &["--ipc", "host", "--sysctl", "kernel.shmmax=1"],
            "Error: --sysctl kernel.shmmax: sysctl not allowed with --ipc host: it would change the host's",
        ),
        (
            &["--sysctl", "net./../../kernel/core_pattern=x"],
            "Error: --sysctl net./../../kernel/core_pattern: invalid sysctl name",
        ),
        (&["--sysctl", "novalue"], "Error: --sysctl novalue: expected NAME=VALUE"),
    ] {
        let mut a = vec!["run", "--rm"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["busybox", "true"]);
        assert_eq!(s.fails_engine(&a), want, "{args:?}");
    }
    // A value the kernel refuses fails the start, naming the sysctl.
    let o = s.cmd(&[
        "run",
        "--rm",
        "--sysctl",
        "net.ipv4.ip_forward=bogus",
        "busybox",
        "true",
    ]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("net.ipv4.ip_forward"), "{}", o.stderr);
    assert_eq!(s.ok(&["ps", "-aq"]), "", "a refused run left a container");
}

/// The inode of namespace `ns` of this test process, as readlink shows it.
fn our_ns(ns: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{ns}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn uts_ipc_and_pid_host_share_skiffs_namespaces() {
    let s = busybox();
    let host_name = nix::unistd::gethostname().unwrap().into_string().unwrap();
    assert_eq!(s.sh(&["--uts", "host"], "hostname").trim(), host_name);
    assert_ne!(s.sh(&[], "hostname").trim(), host_name);
    let line = s.fails_engine(&[
        "run",
        "--rm",
        "--uts",
        "host",
        "--hostname",
        "x",
        "busybox",
        "true",
    ]);
    assert!(line.contains("cannot set hostname"), "{line}");
    // The holder runs in the host's uts, ipc and pid namespaces: the
    // container shares them only with `host`.
    let ns = |flags: &[&str], which: &str| {
        s.sh(flags, &format!("readlink /proc/self/ns/{which}"))
            .trim()
            .to_string()
    };
    for which in ["uts", "ipc", "pid"] {
        let flag = format!("--{which}");
        assert_eq!(ns(&[&flag, "host"], which), our_ns(which), "{which}");
        assert_ne!(ns(&[], which), our_ns(which), "{which}");
    }
    // --pid host: the command is not pid 1 and sees the host's processes.
    let out = s.sh(
        &["--pid", "host"],
        "echo $$; test -d /proc/$PPID && echo sees-parent",
    );
    let mut lines = out.lines();
    assert_ne!(lines.next().unwrap(), "1");
    assert_eq!(lines.next(), Some("sees-parent"));
    // --ipc host: the host's /dev/shm.
    let marker = format!("/dev/shm/skiff-rt-{}", std::process::id());
    std::fs::write(&marker, "x").unwrap();
    let seen = s.sh(&["--ipc", "host"], &format!("ls {marker}"));
    std::fs::remove_file(&marker).unwrap();
    assert_eq!(seen.trim(), marker);
    let line = s.fails_engine(&[
        "run",
        "--rm",
        "--ipc",
        "host",
        "--shm-size",
        "1m",
        "busybox",
        "true",
    ]);
    assert!(line.contains("--shm-size"), "{line}");
    s.ok(&[
        "create", "--name", "nsh", "--pid", "host", "--uts", "host", "busybox",
    ]);
    assert_eq!(
        s.inspect_format(
            "nsh",
            "{{.HostConfig.PidMode}} {{.HostConfig.IpcMode}} {{.HostConfig.UTSMode}}"
        ),
        "host private host"
    );
    s.ok(&["rm", "nsh"]);
    let line = s.fails_engine(&["run", "--rm", "--pid", "bogus", "busybox", "true"]);
    assert!(
        line.contains("--pid bogus: invalid namespace mode"),
        "{line}"
    );
}

#[test]
fn exec_into_a_pid_host_container() {
    let s = busybox();
    s.ok(&[
        "run", "-d", "--name", "ph", "--pid", "host", "busybox", "sleep", "60",
    ]);
    let out = s.ok(&[
        "exec",
        "ph",
        "sh",
        "-c",
        "readlink /proc/self/ns/pid; hostname",
    ]);
    assert_eq!(out.lines().next().unwrap(), our_ns("pid"));
    s.ok(&["rm", "-f", "-t", "0", "ph"]);
    // No pid namespace dies with the init: what it left behind (a
    // background child, a detached exec) is killed when it exits, not left
    // running on the host. (The harness fails a test that leaves one.)
    s.ok(&[
        "run",
        "-d",
        "--name",
        "orphans",
        "--pid",
        "host",
        "busybox",
        "sh",
        "-c",
        "sleep 7301 & wait",
    ]);
    s.ok(&["exec", "-d", "orphans", "sleep", "7302"]);
    s.ok(&["stop", "-t", "1", "orphans"]);
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.starts_with("sleep 730"))
        .collect();
    assert!(left.is_empty(), "left running: {left:?}");
    s.ok(&["rm", "orphans"]);
}

#[test]
fn namespaces_of_another_container_are_joined() {
    let s = busybox();
    s.ok(&[
        "run",
        "-d",
        "--name",
        "nsa",
        "--hostname",
        "first",
        "busybox",
        "sleep",
        "60",
    ]);
    let pid = s.inspect_format("nsa", "{{.State.Pid}}");
    let out = s.sh(
        &[
            "--uts",
            "container:nsa",
            "--ipc",
            "container:nsa",
            "--pid",
            "container:nsa",
        ],
        "hostname; ps -o comm | grep -c sleep",
    );
    assert_eq!(out, "first\n1\n");
    let _ = pid;
    s.ok(&["stop", "-t", "0", "nsa"]);
    let line = s.cmd(&["run", "--rm", "--uts", "container:nsa", "busybox", "true"]);
    assert_eq!(line.code, 125, "{}", line.describe());
    assert!(line.stderr.contains("not running"), "{}", line.stderr);
    s.ok(&["rm", "nsa"]);
    let line = s.fails_engine(&[
        "run",
        "--rm",
        "--ipc",
        "container:nosuch",
        "busybox",
        "true",
    ]);
    assert!(line.contains("nosuch"), "{line}");
}

#[test]
fn devices_the_user_may_open_are_bound_in() {
    let s = busybox();
    let out = s.sh(
        &["--device", "/dev/fuse", "--device", "/dev/zero:/dev/myzero:r"],
        "test -c /dev/fuse && echo fuse; test -c /dev/myzero && head -c 3 /dev/myzero | od -An -tx1",
    );
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("fuse"));
    assert_eq!(lines.next().map(str::trim), Some("00 00 00"));
    s.ok(&[
        "create",
        "--name",
        "dv",
        "--device",
        "/dev/fuse:/dev/f:rw",
        "busybox",
    ]);
    assert_eq!(
        s.inspect_format("dv", "{{range .HostConfig.Devices}}{{.PathOnHost}} {{.PathInContainer}} {{.CgroupPermissions}}{{end}}"),
        "/dev/fuse /dev/f rw"
    );
    s.ok(&["rm", "dv"]);
    let line = s.fails_engine(&[
        "run",
        "--rm",
        "--device",
        "/nonexistent-dev",
        "busybox",
        "true",
    ]);
    assert!(line.contains("/nonexistent-dev"), "{line}");
    let line = s.fails_engine(&["run", "--rm", "--device", "/etc/passwd", "busybox", "true"]);
    assert_eq!(line, "Error: --device /etc/passwd: not a device node");
    // A node only root may open stays out of a rootless container.
    if s.uid() != 0 && std::path::Path::new("/dev/kvm").exists() {
        let m = std::fs::metadata("/dev/kvm").unwrap();
        use std::os::unix::fs::MetadataExt;
        if m.mode() & 0o006 == 0 {
            let line = s.fails_engine(&["run", "--rm", "--device", "/dev/kvm", "busybox", "true"]);
            assert!(line.contains("cannot open it"), "{line}");
        }
    }
    assert_eq!(s.ok(&["ps", "-aq"]), "", "a refused run left a container");
}

#[test]
fn init_runs_catatonit_as_pid_1() {
    let s = busybox();
    assert!(
        std::path::Path::new("/usr/bin/catatonit").exists(),
        "/usr/bin/catatonit is not installed: run .ci/setup, which installs it"
    );
    let out = s.sh(&["--init"], "cat /proc/1/comm; echo $$");
    let mut lines = out.lines();
    assert_eq!(lines.next().map(str::trim), Some("podman-init"), "{out}");
    assert_ne!(lines.next(), Some("1"));
    // The command's exit code comes through the init.
    let o = s.cmd(&["run", "--rm", "--init", "busybox", "sh", "-c", "exit 7"]);
    assert_eq!(o.code, 7, "{}", o.describe());
    // Signals reach the command: stop is quick, not the 10 s kill.
    s.ok(&[
        "run", "-d", "--name", "ini", "--init", "busybox", "sleep", "60",
    ]);
    let start = std::time::Instant::now();
    s.ok(&["stop", "ini"]);
    assert!(start.elapsed() < std::time::Duration::from_secs(8));
    assert_eq!(s.inspect_format("ini", "{{.HostConfig.Init}}"), "true");
    s.ok(&["rm", "ini"]);
    s.ok(&[
        "run",
        "--rm",
        "--init-path",
        "/usr/bin/catatonit",
        "busybox",
        "true",
    ]);
    let line = s.fails_engine(&["run", "--rm", "--init-path", "/bin/sh", "busybox", "true"]);
    assert!(
        line.contains("--init-path /bin/sh: not supported"),
        "{line}"
    );
}

/// `--device DIR` gives every device under it at the same place, as
/// Podman: nodes in subdirectories too, not the files, and not the nodes
/// the user may not open.
#[test]
fn a_device_directory_gives_every_device_under_it() {
    use nix::sys::stat::{makedev, mknod, Mode, SFlag};
    let s = busybox();
    if !s.user().drop {
        // CI runs the suite as root: there this test must run, never skip.
        skip(
            "a_device_directory_gives_every_device_under_it",
            "making device nodes needs the suite to run as root, as CI does",
        );
        return;
    }
    let dir = s.make_dir(&s.home.join("devs"));
    let sub = s.make_dir(&dir.join("sub"));
    let node = |p: &std::path::Path, minor: u64, mode: u32| {
        mknod(
            p,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(mode),
            makedev(1, minor),
        )
        .unwrap();
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
    };
    node(&dir.join("null"), 3, 0o666);
    node(&sub.join("zero"), 5, 0o666);
    node(&dir.join("rootonly"), 3, 0o600);
    std::fs::write(dir.join("plain"), "x").unwrap();
    let out = s.sh(
        &["--device", &format!("{}:/dev/mine", dir.display())],
        "cd /dev/mine && find . | sort; head -c 2 sub/zero | od -An -tx1",
    );
    assert_eq!(out, ".\n./null\n./sub\n./sub/zero\n 00 00\n");
    let line = s.fails_engine(&[
        "run",
        "--rm",
        "--device",
        dir.join("plain").to_str().unwrap(),
        "busybox",
        "true",
    ]);
    assert!(line.contains("not a device node"), "{line}");
    let empty = s.make_dir(&s.home.join("nodevs"));
    let line = s.fails_engine(&[
        "run",
        "--rm",
        "--device",
        empty.to_str().unwrap(),
        "busybox",
        "true",
    ]);
    assert!(line.contains("no device under it"), "{line}");
}
