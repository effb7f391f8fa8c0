//! System commands: `--version`, `--help`, `version`, `info`, `unshare`, and
//! the user namespace holder.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn version_flag_names_skiff_and_the_crate_version() {
    let s = Skiff::new();
    let out = s.ok(&["--version"]);
    assert!(
        out.starts_with("skiff ") && out.trim_end().ends_with(env!("CARGO_PKG_VERSION")),
        "unexpected --version output: {out:?}"
    );
}

#[test]
fn help_lists_the_core_commands() {
    let s = Skiff::new();
    let out = s.ok(&["--help"]);
    for c in [
        "run", "import", "images", "rmi", "tag", "export", "info", "unshare",
    ] {
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(c)),
            "--help does not list {c}:\n{out}"
        );
    }
}

#[test]
fn version_command() {
    let s = Skiff::new();
    let out = s.ok(&["version"]);
    let field = |name: &str| -> Option<String> {
        out.lines()
            .find(|l| l.starts_with(&format!("{name}:")))
            .map(|l| l[name.len() + 1..].trim().to_string())
    };
    assert_eq!(
        field("Version").as_deref(),
        Some(env!("CARGO_PKG_VERSION")),
        "{out}"
    );
    assert_eq!(field("OS/Arch").as_deref(), Some("linux/amd64"), "{out}");
    assert_eq!(
        s.ok(&["version", "--format", "{{.Client.Version}}"]),
        format!("{}\n", env!("CARGO_PKG_VERSION"))
    );
    let json = s.ok(&["version", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("version --format json ({e}):\n{json}"));
    assert_eq!(v["Client"]["Version"], env!("CARGO_PKG_VERSION"), "{json}");
}

#[test]
fn info_templates_and_json() {
    let s = Skiff::new();
    let driver = s.ok(&["info", "--format", "{{.Store.GraphDriverName}}"]);
    assert!(
        ["overlay\n", "fuse-overlayfs\n", "vfs\n"].contains(&driver.as_str()),
        "GraphDriverName: {driver:?}"
    );
    let root = s.ok(&["info", "--format", "{{.Store.GraphRoot}}"]);
    assert!(
        root.trim()
            .starts_with(&s.data_home.join("skiff").to_string_lossy().into_owned()),
        "GraphRoot {root:?} must be under $XDG_DATA_HOME/skiff"
    );
    let run = s.ok(&["info", "--format", "{{.Store.RunRoot}}"]);
    assert!(
        run.trim()
            .starts_with(&s.runtime_dir.join("skiff").to_string_lossy().into_owned()),
        "RunRoot {run:?} must be under $XDG_RUNTIME_DIR/skiff"
    );
    let json = s.ok(&["info", "--format", "json"]);
    let v: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("info --format json ({e}):\n{json}"));
    assert_eq!(v["host"]["security"]["rootless"], true, "{json}");
    assert_eq!(v["host"]["os"], "linux", "{json}");
    assert_eq!(v["store"]["graphDriverName"], driver.trim(), "{json}");
    assert_eq!(v["version"]["Version"], env!("CARGO_PKG_VERSION"), "{json}");
    let uidmap = v["host"]["idMappings"]["uidmap"].to_string();
    let (start, count) = env().subuid;
    assert!(
        uidmap.contains(&start.to_string()) && uidmap.contains(&count.to_string()),
        "idMappings.uidmap should show the subuid range {start}:{count}: {uidmap}"
    );
    // The plain form is readable text, not empty.
    assert!(
        s.ok(&["info"]).contains("graphDriverName"),
        "info without --format"
    );
}

#[test]
fn store_counts_in_info() {
    let s = Skiff::new();
    s.import_busybox();
    s.ok(&["run", "--name", "c", "busybox", "true"]);
    assert_eq!(
        s.ok(&[
            "info",
            "--format",
            "{{.Store.ImageStore.Number}} {{.Store.ContainerStore.Number}}"
        ]),
        "1 1\n"
    );
}

#[test]
fn root_and_runroot_flags() {
    let s = Skiff::new();
    let root = s.make_dir(&s.home.join("altroot"));
    let runroot = s.make_dir(&s.home.join("altrun"));
    let out = s.ok(&[
        "--root",
        &root.to_string_lossy(),
        "--runroot",
        &runroot.to_string_lossy(),
        "info",
        "--format",
        "{{.Store.GraphRoot}} {{.Store.RunRoot}}",
    ]);
    assert_eq!(out, format!("{} {}\n", root.display(), runroot.display()));
    let fixture = env().fixture.to_string_lossy().into_owned();
    s.ok(&[
        "--root",
        &root.to_string_lossy(),
        "--runroot",
        &runroot.to_string_lossy(),
        "import",
        &fixture,
        BUSYBOX,
    ]);
    // The image went to the alternative root, not the default one.
    assert!(
        s.image_ids().is_empty(),
        "the default store must stay empty"
    );
    let n = s.ok(&[
        "--root",
        &root.to_string_lossy(),
        "--runroot",
        &runroot.to_string_lossy(),
        "images",
        "-q",
    ]);
    assert_eq!(n.lines().count(), 1);
}

#[test]
fn unshare_maps_the_subordinate_range() {
    let s = Skiff::new();
    let norm = |t: &str| -> Vec<Vec<u64>> {
        t.lines()
            .map(|l| l.split_whitespace().map(|n| n.parse().unwrap()).collect())
            .collect()
    };
    let (su, sc) = env().subuid;
    let (sg, gc) = env().subgid;
    let uid_map = s.ok(&["unshare", "cat", "/proc/self/uid_map"]);
    assert_eq!(
        norm(&uid_map),
        vec![vec![0, s.uid() as u64, 1], vec![1, su as u64, sc as u64]],
        "uid_map:\n{uid_map}"
    );
    let gid_map = s.ok(&["unshare", "cat", "/proc/self/gid_map"]);
    assert_eq!(
        norm(&gid_map),
        vec![vec![0, s.gid() as u64, 1], vec![1, sg as u64, gc as u64]],
        "gid_map:\n{gid_map}"
    );
    assert_eq!(s.ok(&["unshare", "id", "-u"]), "0\n");
    // The command's exit code and output pass through.
    assert_eq!(s.cmd(&["unshare", "sh", "-c", "exit 7"]).code, 7);
    // Files owned by mapped ids can be made and removed there.
    let d = s.home.join("unshare-test");
    let d = d.to_string_lossy().into_owned();
    s.ok(&[
        "unshare",
        "sh",
        "-c",
        &format!("mkdir {d} && chown 1000:1000 {d}"),
    ]);
    assert_eq!(owner(std::path::Path::new(&d)), (su + 999, sg + 999));
    s.ok(&["unshare", "rm", "-rf", &d]);
}

/// `system reset` on a store with no holder running makes one to work in
/// and must stop it before it returns. `stop_holder` recognises the holder
/// by its command line, which reads `_pause` only once the freshly forked
/// holder has exec'd; the holder is now handed out only after that exec
/// (before, 2 of 15 resets left it running, its pid file removed).
#[test]
fn system_reset_leaves_no_holder_behind() {
    for i in 0..30 {
        let s = Skiff::new();
        s.ok(&["system", "reset", "--force"]);
        let mut left = Vec::new();
        let gone = eventually(Duration::from_secs(5), || {
            left = s.processes();
            left.is_empty()
        });
        let names: Vec<String> = left
            .iter()
            .map(|p| format!("{p} {}", cmdline(*p)))
            .collect();
        assert!(gone, "try {i}: system reset left {names:?} running");
    }
}

#[test]
fn namespace_holder_is_reused() {
    let s = Skiff::new();
    let ns1 = s.ok(&["unshare", "readlink", "/proc/self/ns/user"]);
    let pid = s.pause_pid().expect("pause.pid after the first command");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(
        String::from_utf8_lossy(&cmdline).contains("_pause"),
        "pause.pid {pid} is not a skiff _pause process: {:?}",
        String::from_utf8_lossy(&cmdline)
    );
    let ns2 = s.ok(&["unshare", "readlink", "/proc/self/ns/user"]);
    assert_eq!(ns1, ns2, "later commands join the same user namespace");
    assert_eq!(s.pause_pid(), Some(pid), "one holder");
    let holder_ns = std::fs::read_link(format!("/proc/{pid}/ns/user")).unwrap();
    assert_eq!(ns1.trim(), holder_ns.to_string_lossy());

    // A killed holder is replaced on the next command.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(s.ok(&["unshare", "id", "-u"]), "0\n");
    let new = s.pause_pid().expect("pause.pid after restart");
    assert_ne!(new, pid);
}

#[test]
fn log_level_flag() {
    let s = Skiff::new();
    let o = s.cmd(&[
        "--log-level",
        "debug",
        "info",
        "--format",
        "{{.Store.GraphDriverName}}",
    ]);
    assert_eq!(o.code, 0, "{}", o.describe());
    let line = s.fails_engine(&["--log-level", "nosuchlevel", "info"]);
    assert!(line.contains("nosuchlevel"), "{line}");
}

/// Every command with `--format` checks the template before printing: a
/// missing field or broken syntax is one error line and exit 125 even when
/// there is nothing to list, and nothing reaches stdout.
#[test]
fn format_templates_are_checked_before_any_output() {
    let s = Skiff::new();
    let empty_lists: [&[&str]; 5] = [
        &["ps", "-a"],
        &["images"],
        &["network", "ls"],
        &["info"],
        &["version"],
    ];
    for cmd in empty_lists {
        for bad in ["{{.Nope}}", "{{.Names", "{{range}}", "table {{.Nope}}"] {
            let mut args = cmd.to_vec();
            args.extend(["--format", bad]);
            let o = s.cmd(&args);
            assert_eq!(o.code, 125, "{args:?}\n{}", o.describe());
            let line = one_error_line(&o);
            assert!(line.starts_with("Error: template: "), "{args:?}: {line}");
            assert_eq!(o.stdout, "", "{args:?}");
            if bad.contains("Nope") {
                assert!(
                    line.contains("can't evaluate field Nope"),
                    "{args:?}: {line}"
                );
            }
        }
    }
    let line = s.fails_engine(&["ps", "-a", "--format", "{{.Nope}}"]);
    assert!(
        line.contains("in type entities.ListContainer"),
        "ps names Podman's type: {line}"
    );
    s.import_busybox();
    s.ok(&["create", "--name", "c1", BUSYBOX]);
    let with_objects: [&[&str]; 6] = [
        &["ps", "-a"],
        &["images"],
        &["history", BUSYBOX],
        &["image", "inspect", BUSYBOX],
        &["container", "inspect", "c1"],
        &["inspect", "c1", BUSYBOX],
    ];
    for cmd in with_objects {
        for bad in ["{{.Nope}}", "{{.Names", "{{range}}"] {
            let mut args = cmd.to_vec();
            args.extend(["--format", bad]);
            let o = s.cmd(&args);
            assert_eq!(o.code, 125, "{args:?}\n{}", o.describe());
            one_error_line(&o);
            assert_eq!(o.stdout, "", "{args:?}");
        }
    }
    // Good templates still print, nested fields and ranges included.
    assert_eq!(s.ok(&["ps", "-a", "--format", "{{.Names}}"]), "c1\n");
    assert_eq!(
        s.ok(&[
            "container",
            "inspect",
            "c1",
            "--format",
            "{{.Name}} {{.State.Status}}"
        ]),
        "c1 created\n"
    );
    assert_eq!(
        s.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        format!("{BUSYBOX}\n")
    );
    assert_eq!(
        s.ok(&["network", "ls", "--format", "{{.Name}}"]),
        "podman\n"
    );
    s.ok(&["rm", "c1"]);
}

/// `skiff inspect x | head` as Podman: a closed stdout ends skiff by
/// SIGPIPE, quietly, never with a panic and its backtrace (exit 101).
#[test]
fn a_closed_stdout_ends_skiff_by_sigpipe_without_a_panic() {
    use std::os::unix::process::ExitStatusExt;
    let s = busybox();
    // The read end is closed before skiff starts: its first write fails.
    let (read, write) = nix::unistd::pipe().expect("pipe");
    drop(read);
    let out = s
        .command(&["image", "inspect", "busybox"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::from(write))
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("running skiff");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
