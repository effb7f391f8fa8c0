//! containers.conf and storage.conf, written where a user writes them and
//! checked by their effect on real containers and on the store.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{busybox, Skiff};

/// Writes `text` at `path` (inside the test home), readable by the user.
fn write(s: &Skiff, path: &Path, text: &str) -> PathBuf {
    s.make_dir(path.parent().unwrap());
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    s.give(path);
    path.to_path_buf()
}

fn containers_conf(s: &Skiff, text: &str) -> PathBuf {
    write(s, &s.config_home.join("containers/containers.conf"), text)
}

/// Asserts exit 125 with one `Error:` line, and returns it.
fn one_error(o: &common::Output) -> String {
    assert_eq!(o.code, 125, "{}", o.describe());
    let lines: Vec<&str> = o.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line\n{}", o.describe());
    assert!(lines[0].starts_with("Error: "), "{}", o.describe());
    lines[0].to_string()
}

#[test]
fn containers_conf_defaults_reach_the_container_and_flags_win() {
    let s = busybox();
    containers_conf(
        &s,
        r#"# keys Podman knows and skiff does not use are ignored
[containers]
env = ["FROM_CONF=yes", "FOO=conf"]
default_ulimits = ["nofile=1234:1234"]
dns_servers = ["192.0.2.53"]
dns_searches = ["example.test"]
tz = "Etc/GMT+5"
log_size_max = -1
netns = "private"

[engine]
events_logger = "none"
num_locks = 2048

[network]
default_rootless_network_cmd = "slirp4netns"

[machine]
cpus = 2
"#,
    );
    let out = s.sh(
        &[],
        "echo $FROM_CONF $FOO; ulimit -n; grep -E '^(nameserver|search)' /etc/resolv.conf; date +%z",
    );
    assert_eq!(
        out,
        "yes conf\n1234\nsearch example.test\nnameserver 192.0.2.53\n-0500\n"
    );
    // The command line wins over containers.conf.
    let out = s.sh(
        &[
            "-e",
            "FOO=cli",
            "--ulimit",
            "nofile=999:999",
            "--dns",
            "192.0.2.1",
            "--tz",
            "Asia/Tokyo",
        ],
        "echo $FOO; ulimit -n; grep ^nameserver /etc/resolv.conf; date +%Z",
    );
    assert_eq!(out, "cli\n999\nnameserver 192.0.2.1\nJST\n");
    // The image's env wins over containers.conf's.
    let ctx = s.write_file("envimg/Containerfile", b"FROM busybox\nENV FOO=image\n");
    s.ok(&[
        "build",
        "-q",
        "-t",
        "envimg",
        ctx.parent().unwrap().to_str().unwrap(),
    ]);
    let out = s.ok(&["run", "--rm", "envimg", "sh", "-c", "echo $FOO $FROM_CONF"]);
    assert_eq!(out, "image yes\n");
    // [network] default_rootless_network_cmd picks the mode.
    s.ok(&["create", "--name", "n", "busybox", "true"]);
    assert_eq!(
        s.inspect_format("n", "{{.HostConfig.NetworkMode}}"),
        "slirp4netns"
    );
    s.ok(&[
        "create",
        "--name",
        "p",
        "--network",
        "pasta",
        "busybox",
        "true",
    ]);
    assert_eq!(
        s.inspect_format("p", "{{.HostConfig.NetworkMode}}"),
        "pasta"
    );
    // [engine] events_logger = "none": nothing recorded.
    let info = s.ok(&["info", "--format", "{{.Host.EventLogger}}"]);
    assert_eq!(info.trim(), "none");
    let ev = s.ok(&["events", "--stream=false"]);
    assert!(ev.trim().is_empty(), "{ev}");
}

#[test]
fn containers_conf_override_and_conf_env_vars() {
    let s = busybox();
    containers_conf(&s, "[containers]\nenv = [\"WHO=user\"]\n");
    let other = write(
        &s,
        &s.home.join("other.conf"),
        "[containers]\nenv = [\"WHO=other\", \"ONLY=other\"]\n",
    );
    let over = write(
        &s,
        &s.home.join("override.conf"),
        "[containers]\nenv = [\"WHO=override\"]\n",
    );
    let script = ["run", "--rm", "busybox", "sh", "-c", "echo $WHO $ONLY"];
    assert_eq!(s.ok(&script), "user\n");
    // CONTAINERS_CONF alone replaces every other file.
    let o = s.cmd_env(&script, &[("CONTAINERS_CONF", other.to_str().unwrap())]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(o.stdout, "other other\n");
    // CONTAINERS_CONF_OVERRIDE comes last.
    let o = s.cmd_env(
        &script,
        &[("CONTAINERS_CONF_OVERRIDE", over.to_str().unwrap())],
    );
    assert_eq!(o.stdout, "override\n", "{}", o.describe());
    let o = s.cmd_env(&["ps"], &[("CONTAINERS_CONF", "/nonexistent/c.conf")]);
    let line = one_error(&o);
    assert!(line.contains("/nonexistent/c.conf"), "{line}");
}

#[test]
fn a_malformed_file_is_one_line_naming_it() {
    let s = Skiff::new();
    let f = containers_conf(&s, "[containers]\nenv = [\"A=1\"\n");
    let line = one_error(&s.cmd(&["ps"]));
    assert!(
        line.starts_with(&format!("Error: parsing {}: line ", f.display())),
        "{line}"
    );
    let f = containers_conf(&s, "[engine]\nevents_logger = \"syslog\"\n");
    let line = one_error(&s.cmd(&["ps"]));
    assert!(
        line.contains(&f.display().to_string()) && line.contains("events_logger"),
        "{line}"
    );
    containers_conf(&s, "");
    let f = write(
        &s,
        &s.config_home.join("containers/storage.conf"),
        "[storage]\ngraphroot = 5\n",
    );
    let line = one_error(&s.cmd(&["images"]));
    assert!(line.contains(&f.display().to_string()), "{line}");
    write(&s, &f, "[storage]\ndriver = \"btrfs\"\n");
    let line = one_error(&s.cmd(&["images"]));
    assert!(
        line.contains("btrfs") && line.contains("not supported"),
        "{line}"
    );
}

#[test]
fn storage_conf_moves_the_store_and_picks_the_driver() {
    let s = Skiff::new();
    let graph = s.home.join("elsewhere/store");
    let run = s.runtime_dir.join("alt-run");
    write(
        &s,
        &s.config_home.join("containers/storage.conf"),
        &format!(
            "[storage]\ndriver = \"vfs\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n[storage.options]\npull_options = {{enable_partial_images = \"false\"}}\n",
            graph.display(),
            run.display()
        ),
    );
    s.import_busybox();
    let info = s.ok(&[
        "info",
        "--format",
        "{{.Store.GraphRoot}} {{.Store.RunRoot}} {{.Store.GraphDriverName}}",
    ]);
    assert_eq!(
        info.trim(),
        format!("{} {} vfs", graph.display(), run.display())
    );
    let out = s.ok(&["run", "--rm", "busybox", "cat", "/www/index.html"]);
    assert_eq!(out, common::INDEX_HTML);
    assert!(graph.join("images").is_dir(), "the store is in graphroot");
    assert!(
        !s.store().join("images").exists(),
        "not in the default place"
    );
    // --root wins over storage.conf.
    let flag = s.home.join("flag-root");
    let info = s.ok(&[
        "--root",
        flag.to_str().unwrap(),
        "info",
        "--format",
        "{{.Store.GraphRoot}}",
    ]);
    assert_eq!(info.trim(), flag.display().to_string());

    // A Podman store is not written into.
    let podman = s.make_dir(&s.home.join("podman-store/overlay-images"));
    let conf = s.home.join("podman-storage.conf");
    write(
        &s,
        &conf,
        &format!(
            "[storage]\ngraphroot = \"{}\"\n",
            podman.parent().unwrap().display()
        ),
    );
    let o = s.cmd_env(
        &["images"],
        &[("CONTAINERS_STORAGE_CONF", conf.to_str().unwrap())],
    );
    let line = one_error(&o);
    assert!(
        line.contains("Podman") && line.contains(&conf.display().to_string()),
        "{line}"
    );
    stop_holder(&run.join("pause.pid"));
}

/// Stops the user-namespace holder whose pid file is `pid_file` (the
/// harness only knows the default run root's) and waits until it is gone.
fn stop_holder(pid_file: &Path) {
    let text = std::fs::read_to_string(pid_file).unwrap();
    let pid: i32 = text.trim().parse().unwrap();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let gone = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true)
    };
    while !gone() {
        assert!(
            std::time::Instant::now() < deadline,
            "holder {pid} did not exit"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The containers.conf keys that shape each container, written in the
/// user's file, each proven inside a real container; the flags win.
#[test]
fn containers_conf_container_keys_take_effect_and_flags_win() {
    let s = busybox();
    let vol = s.make_dir(&s.home.join("confvol"));
    let other = s.make_dir(&s.home.join("othervol"));
    containers_conf(
        &s,
        &format!(
            r#"[containers]
default_capabilities = ["CHOWN", "NET_RAW"]
default_sysctls = ["net.ipv4.ip_unprivileged_port_start=123", "kernel.msgmax=4321"]
volumes = ["{}:/confvol"]
pids_limit = 77
log_size_max = 4096
log_tag = "conftag"
shm_size = "32m"
umask = "0077"
read_only = true
env_host = true
annotations = ["conf.note=yes"]
init = true
userns = "host"
"#,
            vol.display()
        ),
    );
    let script = "grep CapEff /proc/self/status; cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/msgmax; \
         echo written > /confvol/f; umask; df -k /dev/shm | tail -1 | awk '{print $2}'; \
         touch /rootfs-file 2>/dev/null || echo read-only; echo $FROM_HOST; cat /proc/1/comm";
    let o = s.cmd_env(
        &["run", "--name", "c", "busybox", "sh", "-c", script],
        &[("FROM_HOST", "host-env")],
    );
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(
        o.stdout,
        "CapEff:\t0000000000002001\n123\n4321\n0077\n32768\nread-only\nhost-env\npodman-init\n",
        "{}",
        o.describe()
    );
    assert_eq!(std::fs::read_to_string(vol.join("f")).unwrap(), "written\n");
    assert_eq!(
        s.inspect_format(
            "c",
            "{{.HostConfig.LogConfig.Size}} {{.HostConfig.LogConfig.Tag}} {{.Config.Annotations}}"
        ),
        "4096 conftag map[conf.note:yes]"
    );
    // pids_limit: in force where the user's cgroup is delegated, else one
    // warning naming the key (never dropped silently).
    if s.inspect_format("c", "{{.HostConfig.PidsLimit}}") == "77" {
        let out = s.ok(&["run", "--rm", "busybox", "cat", "/sys/fs/cgroup/pids.max"]);
        assert_eq!(out, "77\n");
    } else {
        assert!(
            o.stderr.contains("pids_limit = 77: not applied"),
            "{}",
            o.describe()
        );
    }
    // The command line wins over every one of them.
    let out = s.sh(
        &[
            "--cap-drop",
            "all",
            "--cap-add",
            "kill",
            "--sysctl",
            "net.ipv4.ip_unprivileged_port_start=200",
            "-v",
            &format!("{}:/confvol", other.display()),
            "--umask",
            "0022",
            "--shm-size",
            "16m",
        ],
        "grep CapEff /proc/self/status; cat /proc/sys/net/ipv4/ip_unprivileged_port_start; \
         echo other > /confvol/f; umask; df -k /dev/shm | tail -1 | awk '{print $2}'",
    );
    assert_eq!(out, "CapEff:\t0000000000000020\n200\n0022\n16384\n");
    assert_eq!(std::fs::read_to_string(other.join("f")).unwrap(), "other\n");
    // With the host's network namespace the net.* default is left out (it
    // would change the host's), as Podman; the ipc one still applies.
    let out = s.sh(&["--network", "host"], "cat /proc/sys/kernel/msgmax");
    assert_eq!(out, "4321\n");
}

#[test]
fn containers_conf_keys_skiff_cannot_honour_are_named_once() {
    let s = Skiff::new();
    let f = containers_conf(
        &s,
        "[containers]\nenv = [\"A=1\"]\nhttp_proxy = false\nuserns = \"auto\"\n[engine]\nnum_locks = 2048\n[engine.runtimes]\n[machine]\ncpus = 2\n[secrets]\n",
    );
    let o = s.cmd(&["ps", "-q"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    let warn: Vec<&str> = o.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(warn.len(), 1, "{}", o.describe());
    let w = warn[0];
    assert!(w.contains(&f.display().to_string()), "{w}");
    for key in [
        "[containers] http_proxy",
        "[containers] userns = \"auto\"",
        "[engine] num_locks",
        "[machine] cpus",
    ] {
        assert!(w.contains(key), "{key} not named: {w}");
    }
    assert!(
        !w.contains("env") && !w.contains("runtimes") && !w.contains("secrets"),
        "{w}"
    );
    // Only honoured keys (and empty tables): nothing to say.
    containers_conf(
        &s,
        "[containers]\nenv = [\"A=1\"]\n[engine.runtimes]\n[machine]\n",
    );
    let o = s.cmd(&["ps", "-q"]);
    assert_eq!((o.code, o.stderr.as_str()), (0, ""), "{}", o.describe());
}

#[test]
fn containers_conf_container_keys_with_bad_values_name_the_file() {
    let s = Skiff::new();
    for (text, key) in [
        (
            "default_capabilities = [\"NOT_A_CAP\"]",
            "default_capabilities",
        ),
        ("default_sysctls = [\"vm.swappiness=1\"]", "default_sysctls"),
        ("default_sysctls = [\"noequals\"]", "default_sysctls"),
        ("volumes = [\"/a:relative\"]", "volumes"),
        ("shm_size = \"lots\"", "shm_size"),
        ("umask = \"0999\"", "umask"),
        ("annotations = [\"=x\"]", "annotations"),
        ("pids_limit = \"many\"", "line 2"),
    ] {
        let f = containers_conf(&s, &format!("[containers]\n{text}\n"));
        let line = one_error(&s.cmd(&["ps"]));
        assert!(
            line.contains(&f.display().to_string()) && line.contains(key),
            "{text}: {line}"
        );
    }
    containers_conf(&s, "");
}

/// `pidns`, `ipcns`, `utsns`, `cgroupns` and `netns` pick the namespaces
/// of a container without the matching flag; the flags win.
#[test]
fn containers_conf_namespace_modes_take_effect_and_flags_win() {
    let s = busybox();
    containers_conf(
        &s,
        "[containers]\npidns = \"host\"\nipcns = \"host\"\nutsns = \"host\"\ncgroupns = \"host\"\nnetns = \"none\"\n",
    );
    let kinds = ["pid", "ipc", "uts", "cgroup"];
    // The namespaces skiff itself runs in: those of the test (root or the
    // user) for these kinds, which a user namespace does not change.
    let host = common::own_namespaces(&kinds);
    let script =
        "for k in pid ipc uts cgroup; do readlink /proc/self/ns/$k; done; ls /sys/class/net";
    let out = s.sh(&[], script);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..4],
        host.iter().map(String::as_str).collect::<Vec<_>>()[..],
        "{out}"
    );
    assert_eq!(lines[4..], ["lo"], "{out}");
    s.ok(&["create", "--name", "m", "busybox", "true"]);
    assert_eq!(
        s.inspect_format(
            "m",
            "{{.HostConfig.PidMode}} {{.HostConfig.IpcMode}} {{.HostConfig.UTSMode}} {{.HostConfig.NetworkMode}}"
        ),
        "host host host none"
    );
    let out = s.sh(
        &[
            "--pid",
            "private",
            "--ipc",
            "private",
            "--uts",
            "private",
            "--cgroupns",
            "private",
            "--network",
            "slirp4netns",
        ],
        script,
    );
    let lines: Vec<&str> = out.lines().collect();
    for (i, k) in kinds.iter().enumerate() {
        assert_ne!(lines[i], host[i], "{k} namespace is the host's: {out}");
    }
    assert!(lines[4..].contains(&"tap0"), "{out}");
    containers_conf(&s, "[containers]\npidns = \"container:x\"\n");
    let line = one_error(&s.cmd(&["ps"]));
    assert!(line.contains("[containers] pidns"), "{line}");
    containers_conf(&s, "");
}
