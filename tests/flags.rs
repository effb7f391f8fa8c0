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
    let out = s.ok(&[
        "--events-backend",
        "none",
        "--cgroup-manager",
        "systemd",
        "info",
        "--format",
        tmpl,
    ]);
    assert_eq!(out.trim(), "none systemd");
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
