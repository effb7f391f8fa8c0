//! `skiff run` in the foreground: process setup (env, workdir, user, hostname),
//! mounts, exit codes, image CMD/ENTRYPOINT, namespaces, capabilities, /proc,
//! /sys and /dev, ownership, rlimits, bad input, a real pty and signals.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::process::Child;
use std::time::{Duration, Instant};

use common::*;

/// Podman's default capability set as a CapEff mask: CHOWN, DAC_OVERRIDE,
/// FOWNER, FSETID, KILL, SETGID, SETUID, SETPCAP, NET_BIND_SERVICE,
/// SYS_CHROOT, SETFCAP.
const DEFAULT_CAPS: u64 = 0x8004_05fb;
const CAP_CHOWN: u64 = 1 << 0;
const CAP_NET_ADMIN: u64 = 1 << 12;

fn cap_eff(status: &str) -> u64 {
    let line = status
        .lines()
        .find(|l| l.starts_with("CapEff:"))
        .unwrap_or_else(|| panic!("no CapEff in {status}"));
    u64::from_str_radix(line["CapEff:".len()..].trim(), 16).unwrap()
}

fn assert_no_containers(s: &Skiff, what: &str) {
    let left = s.container_ids();
    assert!(left.is_empty(), "{what} left containers behind: {left:?}");
}

#[test]
fn the_command_inherits_only_stdin_stdout_and_stderr() {
    // The supervisor holds the status pipe to the CLI, pasta's pipe and
    // more: none of them may reach the container, with or without network.
    // No pipeline in the shell looked at: it would hold pipe ends briefly.
    let s = busybox();
    // The trailing `:` keeps sh from exec-ing ls (whose own fd 3 would show).
    let fds = "ls /proc/$$/fd; :";
    let words = |out: String| out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(words(s.sh(&[], fds)), "0 1 2");
    assert_eq!(words(s.sh(&["--network", "none"], fds)), "0 1 2");
    s.ok(&["run", "-d", "--name", "fds", "busybox", "sleep", "60"]);
    assert_eq!(words(s.ok(&["exec", "fds", "sh", "-c", fds])), "0 1 2");
    s.ok(&["rm", "-f", "-t", "0", "fds"]);
}

#[test]
fn echo_hello() {
    let s = busybox();
    let o = s.cmd(&["run", "--rm", "busybox", "echo", "hello"]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "hello\n"),
        "{}",
        o.describe()
    );
    assert_eq!(o.stderr, "", "{}", o.describe());
    assert_no_containers(&s, "run --rm");
    // The fully qualified name works as well as the short one.
    assert_eq!(s.ok(&["run", "--rm", BUSYBOX, "echo", "hi"]), "hi\n");
}

#[test]
fn stdout_and_stderr_stay_separate_and_complete() {
    let s = busybox();
    let o = s.cmd(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2",
    ]);
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (0, "out\n", "err\n")
    );
    let o = s.cmd(&[
        "run",
        "--rm",
        "busybox",
        "head",
        "-c",
        "3000000",
        "/dev/urandom",
    ]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(o.stdout_bytes.len(), 3_000_000, "output lost or padded");
}

#[test]
fn env_workdir_user_hostname_name() {
    let s = busybox();
    let out = s.ok(&[
        "run",
        "--rm",
        "-e",
        "A=1",
        "-w",
        "/tmp",
        "-u",
        "1000:1000",
        "-h",
        "box",
        "--name",
        "t1",
        "busybox",
        "sh",
        "-c",
        "echo $A; pwd; id; hostname",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(lines[0], "1");
    assert_eq!(lines[1], "/tmp");
    // No supplementary group of the host or of container root may leak in.
    assert!(
        lines[2] == "uid=1000(tester) gid=1000(tester)"
            || lines[2] == "uid=1000(tester) gid=1000(tester) groups=1000(tester)",
        "id: {}",
        lines[2]
    );
    assert_eq!(lines[3], "box");
    // --rm freed the name.
    assert_no_containers(&s, "run --rm --name t1");
    s.ok(&["run", "--rm", "--name", "t1", "busybox", "true"]);
}

/// A name or hostname with a newline is refused on one line that shows it
/// escaped; a hostname could otherwise add lines to /etc/hosts.
#[test]
fn newline_in_name_or_hostname_is_one_error_line() {
    let s = busybox();
    let e = s.fails_engine(&["create", "--name", "a\nb", "busybox", "true"]);
    assert!(e.contains(r#"invalid container name "a\nb""#), "{e}");
    for h in ["h\n6.6.6.6 registry", "a b", ""] {
        let e = s.fails_engine(&["create", "--hostname", h, "busybox", "true"]);
        assert!(e.contains("invalid hostname"), "{e}");
        let e = s.fails_engine(&["pod", "create", "--hostname", h]);
        assert!(e.contains("invalid hostname"), "{e}");
    }
    assert!(s.container_ids().is_empty(), "nothing was created");
}

#[test]
fn default_identity_and_environment() {
    let s = busybox();
    let id = s.sh(&[], "id");
    assert!(
        id == "uid=0(root) gid=0(root)\n" || id == "uid=0(root) gid=0(root) groups=0(root)\n",
        "container root must have no stray groups: {id}"
    );
    let env = s.sh(&[], "env");
    for want in [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME=/root",
        "container=skiff",
    ] {
        assert!(
            env.lines().any(|l| l == want),
            "{want} missing from:\n{env}"
        );
    }
    assert_eq!(s.sh(&[], "pwd"), "/\n");
}

#[test]
fn user_by_name_from_passwd() {
    let s = busybox();
    assert_eq!(
        s.sh(&["-u", "tester"], "id -u; id -g; echo $HOME; id -un"),
        "1000\n1000\n/home/tester\ntester\n"
    );
    assert_eq!(
        s.sh(&["-u", "nobody:tester"], "id -u; id -g"),
        "65534\n1000\n"
    );
    assert_eq!(s.sh(&["-u", "1000"], "id -u; id -g"), "1000\n1000\n");
}

#[test]
fn volume_writes_land_on_the_host_owned_by_the_user() {
    let s = busybox();
    let dir = s.make_dir(&s.home.join("data"));
    let v = format!("{}:/data", dir.display());
    s.ok(&[
        "run",
        "--rm",
        "-v",
        &v,
        "busybox",
        "sh",
        "-c",
        "echo x > /data/f",
    ]);
    let f = dir.join("f");
    assert_eq!(fs::read_to_string(&f).unwrap(), "x\n");
    assert_eq!(
        owner(&f),
        (s.uid(), s.gid()),
        "container root is the user on the host"
    );

    // Host files are visible, and a uid-1000 write maps into the subordinate range.
    fs::write(dir.join("from-host"), "host\n").unwrap();
    std::os::unix::fs::chown(dir.join("from-host"), Some(s.uid()), Some(s.gid())).unwrap();
    fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let out = s.ok(&[
        "run",
        "--rm",
        "-v",
        &v,
        "-u",
        "1000:1000",
        "busybox",
        "sh",
        "-c",
        "cat /data/from-host; echo y > /data/g",
    ]);
    assert_eq!(out, "host\n");
    let (su, _) = env().subuid;
    let (sg, _) = env().subgid;
    assert_eq!(
        owner(&dir.join("g")),
        (su + 999, sg + 999),
        "uid 1000 maps to subuid start + 999"
    );
}

#[test]
fn volume_read_only() {
    let s = busybox();
    let dir = s.make_dir(&s.home.join("ro"));
    let v = format!("{}:/data:ro", dir.display());
    let o = s.cmd(&[
        "run",
        "--rm",
        "-v",
        &v,
        "busybox",
        "sh",
        "-c",
        "echo x > /data/f",
    ]);
    assert_ne!(
        o.code,
        0,
        "write to a :ro volume must fail\n{}",
        o.describe()
    );
    assert!(
        o.stderr.contains("Read-only file system"),
        "{}",
        o.describe()
    );
    assert!(!dir.join("f").exists());
    // :rw is the default and accepted explicitly.
    let v = format!("{}:/data:rw", dir.display());
    s.ok(&["run", "--rm", "-v", &v, "busybox", "touch", "/data/rw"]);
    assert!(dir.join("rw").exists());
}

#[test]
fn read_only_root_with_tmpfs() {
    let s = busybox();
    let o = s.cmd(&[
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/scratch",
        "busybox",
        "sh",
        "-c",
        "touch /scratch/ok && echo ok; touch /x",
    ]);
    assert_eq!(o.stdout, "ok\n", "{}", o.describe());
    assert_eq!(
        o.code,
        1,
        "touch /x must fail on a read-only root\n{}",
        o.describe()
    );
    assert!(
        o.stderr.contains("Read-only file system"),
        "{}",
        o.describe()
    );
    // Without --read-only the root is writable.
    assert_eq!(s.sh(&[], "touch /x && echo yes"), "yes\n");
}

#[test]
fn mount_tmpfs_and_bind() {
    let s = busybox();
    let out = s.sh(
        &["--mount", "type=tmpfs,destination=/t"],
        "awk '$2==\"/t\"{print $3}' /proc/mounts; touch /t/x && echo w",
    );
    assert_eq!(out, "tmpfs\nw\n");
    let dir = s.make_dir(&s.home.join("bind"));
    let m = format!("type=bind,source={},destination=/b", dir.display());
    s.sh(&["--mount", &m], "echo b > /b/f");
    assert_eq!(fs::read_to_string(dir.join("f")).unwrap(), "b\n");
    let m = format!("type=bind,src={},target=/b,readonly", dir.display());
    let o = s.cmd(&["run", "--rm", "--mount", &m, "busybox", "touch", "/b/g"]);
    assert_ne!(o.code, 0, "readonly bind mount\n{}", o.describe());
}

#[test]
fn tmpfs_options() {
    let s = busybox();
    let out = s.sh(
        &["--tmpfs", "/t:size=1m,mode=1777"],
        "stat -c %a /t; df -k /t | tail -1",
    );
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("1777"), "{out}");
    let size: u64 = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(size, 1024, "size=1m: {out}");
}

#[test]
fn exit_codes() {
    let s = busybox();
    assert_eq!(
        s.cmd(&["run", "--rm", "busybox", "sh", "-c", "exit 3"])
            .code,
        3
    );
    assert_eq!(s.cmd(&["run", "--rm", "busybox", "false"]).code, 1);
    assert_no_containers(&s, "exit codes");
}

#[test]
fn command_not_found_is_127() {
    let s = busybox();
    for cmd in ["/nonexistent", "nosuchcmd"] {
        let o = s.cmd(&["run", "--rm", "busybox", cmd]);
        assert_eq!(o.code, 127, "{}", o.describe());
        let line = one_error_line(&o);
        assert!(line.contains(cmd), "the error should name {cmd}: {line}");
    }
    assert_no_containers(&s, "not found");
}

#[test]
fn command_not_executable_is_126() {
    let s = busybox();
    let o = s.cmd(&["run", "--rm", "busybox", "/etc/passwd"]);
    assert_eq!(o.code, 126, "{}", o.describe());
    let line = one_error_line(&o);
    assert!(line.contains("/etc/passwd"), "{line}");
    assert!(line.to_lowercase().contains("permission denied"), "{line}");
    let o = s.cmd(&["run", "--rm", "busybox", "/tmp"]);
    assert_eq!(o.code, 126, "a directory\n{}", o.describe());
    assert_no_containers(&s, "not executable");
}

#[test]
fn entrypoint_and_cmd_semantics() {
    let s = Skiff::new();
    let fixture = env().fixture.to_string_lossy().into_owned();
    s.ok(&[
        "import",
        &fixture,
        "localhost/ep:1",
        "--change",
        r#"ENTRYPOINT ["/bin/echo", "ep"]"#,
        "--change",
        r#"CMD ["default"]"#,
    ]);
    let img = "localhost/ep:1";
    assert_eq!(s.ok(&["run", "--rm", img]), "ep default\n");
    assert_eq!(
        s.ok(&["run", "--rm", img, "a", "b"]),
        "ep a b\n",
        "args replace CMD"
    );
    // Overriding the entrypoint drops the image's CMD (Docker semantics).
    assert_eq!(
        s.ok(&["run", "--rm", "--entrypoint", "/bin/echo", img]),
        "\n"
    );
    assert_eq!(
        s.ok(&["run", "--rm", "--entrypoint", "/bin/echo", img, "x"]),
        "x\n"
    );
    // An empty entrypoint runs the arguments as the command.
    assert_eq!(
        s.ok(&["run", "--rm", "--entrypoint", "", img, "echo", "plain"]),
        "plain\n"
    );
    // A JSON entrypoint with its own arguments.
    assert_eq!(
        s.ok(&[
            "run",
            "--rm",
            "--entrypoint",
            r#"["/bin/echo","j"]"#,
            img,
            "k"
        ]),
        "j k\n"
    );

    s.ok(&[
        "import",
        &fixture,
        "localhost/shellform:1",
        "--change",
        "CMD echo shell form $HOME",
    ]);
    assert_eq!(
        s.ok(&["run", "--rm", "localhost/shellform:1"]),
        "shell form /root\n"
    );

    s.import_busybox();
    // The fixture's CMD is /bin/sh: with no stdin it exits at once.
    assert_eq!(s.ok(&["run", "--rm", "busybox"]), "");
}

#[test]
fn image_env_workdir_user_apply_and_flags_override_them() {
    let s = Skiff::new();
    let fixture = env().fixture.to_string_lossy().into_owned();
    s.ok(&[
        "import",
        &fixture,
        "localhost/cfg:1",
        "--change",
        "WORKDIR /home/tester",
        "--change",
        "ENV GREETING=hi",
        "--change",
        "USER tester",
    ]);
    let script = "pwd; echo $GREETING; id -u";
    assert_eq!(
        s.ok(&["run", "--rm", "localhost/cfg:1", "sh", "-c", script]),
        "/home/tester\nhi\n1000\n"
    );
    assert_eq!(
        s.ok(&[
            "run",
            "--rm",
            "-w",
            "/",
            "-e",
            "GREETING=override",
            "-u",
            "0",
            "localhost/cfg:1",
            "sh",
            "-c",
            script,
        ]),
        "/\noverride\n0\n"
    );
}

#[test]
fn workdir_that_does_not_exist_is_created() {
    let s = busybox();
    assert_eq!(s.sh(&["-w", "/new/dir"], "pwd"), "/new/dir\n");
}

#[test]
fn network_none_has_only_loopback() {
    let s = busybox();
    let out = s.sh(&["--network", "none"], "cat /proc/net/dev");
    let names: Vec<&str> = out
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(names, ["lo"], "{out}");
    let link = s.sh(&["--network", "none"], "ip -o link show lo");
    assert!(
        link.contains("UP") || link.contains("LOOPBACK,UP"),
        "lo must be up: {link}"
    );
}

#[test]
fn network_host_shares_the_host_namespace() {
    let s = busybox();
    let host_ns = fs::read_link("/proc/self/ns/net").unwrap();
    let out = s.sh(&["--network", "host"], "readlink /proc/self/ns/net");
    assert_eq!(out.trim(), host_ns.to_string_lossy());
    let host_ifaces = fs::read_to_string("/proc/net/dev").unwrap();
    let names = |t: &str| -> Vec<String> {
        let mut v: Vec<String> = t
            .lines()
            .skip(2)
            .filter_map(|l| l.split(':').next())
            .map(|n| n.trim().to_string())
            .collect();
        v.sort();
        v
    };
    let inside = s.sh(&["--network", "host"], "cat /proc/net/dev");
    assert_eq!(names(&inside), names(&host_ifaces));
    // --add-host entries follow the host's /etc/hosts; exec joins all but
    // the host's network namespace (which a rootless exec cannot setns).
    s.ok(&[
        "run",
        "-d",
        "--name",
        "onhost",
        "--network",
        "host",
        "--add-host",
        "extra-zz:10.9.8.7",
        "busybox",
        "sleep",
        "1000",
    ]);
    let hosts = s.ok(&["exec", "onhost", "cat", "/etc/hosts"]);
    assert!(hosts.contains("10.9.8.7\textra-zz"), "{hosts}");
    s.ok(&["rm", "-f", "onhost"]);
    // And the default for this issue is a private namespace.
    let none = s.sh(&["--network", "none"], "readlink /proc/self/ns/net");
    assert_ne!(none.trim(), host_ns.to_string_lossy());
}

#[test]
fn capabilities_default_add_drop() {
    let s = busybox();
    let eff = |flags: &[&str]| cap_eff(&s.sh(flags, "cat /proc/self/status"));
    assert_eq!(eff(&[]), DEFAULT_CAPS, "Podman's default set");
    assert_eq!(
        eff(&["--cap-add", "NET_ADMIN"]),
        DEFAULT_CAPS | CAP_NET_ADMIN
    );
    assert_eq!(
        eff(&["--cap-add", "cap_net_admin"]),
        DEFAULT_CAPS | CAP_NET_ADMIN
    );
    assert_eq!(eff(&["--cap-drop", "CHOWN"]), DEFAULT_CAPS & !CAP_CHOWN);
    assert_eq!(eff(&["--cap-drop", "all"]), 0);
    assert_eq!(eff(&["--cap-drop", "all", "--cap-add", "CHOWN"]), CAP_CHOWN);
    // A non-root user gets no effective capabilities.
    assert_eq!(eff(&["-u", "1000"]), 0);
    // The capability really is gone: chown fails without CAP_CHOWN.
    let o = s.cmd(&[
        "run",
        "--rm",
        "--cap-drop",
        "CHOWN",
        "busybox",
        "chown",
        "1000",
        "/etc/os-release",
    ]);
    assert_ne!(o.code, 0, "{}", o.describe());
}

#[test]
fn privileged_has_every_capability() {
    let s = busybox();
    let last: u32 = fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let all = (1u64 << (last + 1)) - 1;
    assert_eq!(
        cap_eff(&s.sh(&["--privileged"], "cat /proc/self/status")),
        all
    );
}

#[test]
fn no_new_privileges() {
    let s = busybox();
    let out = s.sh(
        &["--security-opt", "no-new-privileges"],
        "grep NoNewPrivs /proc/self/status",
    );
    assert_eq!(out.split_whitespace().last(), Some("1"), "{out}");
}

/// Podman's masked paths: files become /dev/null, directories an empty tmpfs.
const MASKED: &[&str] = &[
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/fs/selinux",
    "/sys/dev/block",
];
/// Podman's read-only paths under /proc.
const READ_ONLY: &[&str] = &[
    "/proc/asound",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

fn existing(paths: &[&str]) -> Vec<String> {
    paths
        .iter()
        .filter(|p| std::path::Path::new(p).exists())
        .map(|p| p.to_string())
        .collect()
}

#[test]
fn proc_masked_and_read_only_paths() {
    let s = busybox();
    let masked = existing(MASKED);
    assert!(
        masked.len() >= 2,
        "this host has too few masked paths to test: {masked:?}"
    );
    // Each existing masked path reads as empty: 0 bytes or 0 entries.
    let script = "for p in \"$@\"; do if [ -d $p ]; then n=$(ls -A $p | wc -l); \
                  else n=$(cat $p | wc -c); fi; echo \"$p $n\"; done";
    let mut args = vec!["run", "--rm", "busybox", "sh", "-c", script, "sh"];
    args.extend(masked.iter().map(String::as_str));
    let out = s.ok(&args);
    let want: String = masked.iter().map(|p| format!("{p} 0\n")).collect();
    assert_eq!(out, want, "masked paths must read as empty");

    let ro = existing(READ_ONLY);
    let script =
        "for p in \"$@\"; do awk -v p=$p '$2==p {print $2, $4}' /proc/mounts | tail -1; done";
    let mut args = vec!["run", "--rm", "busybox", "sh", "-c", script, "sh"];
    args.extend(ro.iter().map(String::as_str));
    let out = s.ok(&args);
    assert_eq!(
        out.lines().count(),
        ro.len(),
        "each of {ro:?} must be a mount:\n{out}"
    );
    for l in out.lines() {
        let o = l.split_whitespace().nth(1).unwrap_or("");
        assert!(o.split(',').any(|x| x == "ro"), "not read-only: {l}");
    }

    // --privileged unmasks: no mount over the masked paths (reading /proc/keys
    // shows the host's view), while the default has one over each.
    let count = "awk '$2==\"/proc/keys\" || $2==\"/proc/timer_list\"' /proc/mounts | wc -l";
    assert_eq!(s.sh(&[], count), "2\n", "default: both masked by a mount");
    assert_eq!(
        s.sh(&["--privileged"], count),
        "0\n",
        "--privileged must not mask"
    );
}

#[test]
fn sys_is_read_only() {
    let s = busybox();
    let opts = s.sh(&[], "awk '$2==\"/sys\"{print $4}' /proc/mounts");
    assert!(!opts.is_empty(), "/sys must be mounted");
    for l in opts.lines() {
        assert!(l.split(',').any(|x| x == "ro"), "/sys not read-only: {l}");
    }
    let o = s.cmd(&["run", "--rm", "busybox", "mkdir", "/sys/x"]);
    assert_ne!(o.code, 0, "{}", o.describe());
}

#[test]
fn dev_has_the_standard_nodes() {
    let s = busybox();
    let out = s.sh(
        &[],
        "echo x > /dev/null && wc -c < /dev/null; head -c 4 /dev/zero | wc -c; \
         head -c 16 /dev/urandom | wc -c; head -c 8 /dev/random | wc -c; \
         echo x > /dev/full || echo full-ok; \
         for n in tty ptmx pts shm mqueue fd stdin stdout stderr; do test -e /dev/$n && echo $n; done; \
         for m in /dev/pts /dev/shm /dev/mqueue; do awk -v m=$m '$2==m {print $2, $3}' /proc/mounts | tail -1; done; \
         touch /dev/shm/x && echo shm-writable",
    );
    assert_eq!(
        out,
        "0\n4\n16\n8\nfull-ok\ntty\nptmx\npts\nshm\nmqueue\nfd\nstdin\nstdout\nstderr\n\
         /dev/pts devpts\n/dev/shm tmpfs\n/dev/mqueue mqueue\nshm-writable\n"
    );
}

#[test]
fn pid_one_is_the_command() {
    let s = busybox();
    assert_eq!(s.sh(&[], "echo $$"), "1\n");
    // Only the container's processes are visible: sh (1) and ls, nothing of the host.
    let pids = s.sh(&[], "ls -d /proc/[0-9]*");
    let pids: Vec<u32> = pids
        .lines()
        .map(|l| l["/proc/".len()..].parse().unwrap())
        .collect();
    assert!(
        pids.contains(&1) && pids.iter().all(|p| *p < 20),
        "pids: {pids:?}"
    );
}

#[test]
fn image_ownership_is_preserved() {
    let s = busybox();
    assert_eq!(
        s.sh(
            &[],
            "stat -c '%u:%g %a' /home/tester/hello.txt /home/tester /bin/busybox /tmp"
        ),
        "1000:1000 640\n1000:1000 755\n0:0 755\n0:0 1777\n"
    );
    assert_eq!(
        s.sh(&["-u", "tester"], "cat /home/tester/hello.txt"),
        TESTER_FILE
    );
    let o = s.cmd(&[
        "run",
        "--rm",
        "-u",
        "nobody",
        "busybox",
        "cat",
        "/home/tester/hello.txt",
    ]);
    assert_eq!(
        o.code,
        1,
        "nobody must not read a 0640 tester file\n{}",
        o.describe()
    );
    assert!(o.stderr.contains("Permission denied"), "{}", o.describe());

    // On the host, the store keeps the file under the mapped id.
    let mut found = Vec::new();
    let mut stack = vec![s.data_home.clone()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "hello.txt") {
                found.push(p);
            }
        }
    }
    assert!(
        !found.is_empty(),
        "hello.txt not found in the store under {}",
        s.data_home.display()
    );
    let (su, _) = env().subuid;
    let (sg, _) = env().subgid;
    for p in found {
        assert_eq!(
            owner(&p),
            (su + 999, sg + 999),
            "{} on the host",
            p.display()
        );
    }
}

#[test]
fn ulimit() {
    let s = busybox();
    assert_eq!(
        s.sh(&["--ulimit", "nofile=100:100"], "ulimit -n; ulimit -Hn"),
        "100\n100\n"
    );
    assert_eq!(
        s.sh(&["--ulimit", "nofile=50:200"], "ulimit -n; ulimit -Hn"),
        "50\n200\n"
    );
    assert_eq!(s.sh(&["--ulimit", "nproc=77"], "ulimit -u"), "77\n");
}

#[test]
fn generated_etc_files() {
    let s = busybox();
    let out = s.sh(
        &["-h", "box"],
        "cat /etc/hostname; grep -c box /etc/hosts; grep -c '^127.0.0.1.*localhost' /etc/hosts; test -f /etc/resolv.conf && echo resolv",
    );
    assert_eq!(out, "box\n1\n1\nresolv\n", "{out}");
    // Without -h the hostname is the short container id.
    let host = s.ok(&["run", "--name", "hn", "busybox", "hostname"]);
    let ids = s.container_ids();
    assert_eq!(ids.len(), 1);
    assert_eq!(host.trim(), ids[0], "default hostname is the 12-hex id");
}

#[test]
fn stdin_only_with_interactive() {
    let s = busybox();
    let o = s.cmd_stdin(&["run", "--rm", "-i", "busybox", "cat"], b"piped\n");
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "piped\n"),
        "{}",
        o.describe()
    );
    let o = s.cmd_stdin(&["run", "--rm", "busybox", "cat"], b"piped\n");
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, ""),
        "without -i stdin is not attached\n{}",
        o.describe()
    );
}

#[test]
fn containers_without_rm_stay_and_names_are_unique() {
    let s = busybox();
    assert_eq!(
        s.cmd(&["run", "--name", "done", "busybox", "sh", "-c", "exit 3"])
            .code,
        3
    );
    let ids = s.container_ids();
    assert_eq!(ids.len(), 1);
    assert!(
        ids[0].len() == 12 && ids[0].bytes().all(|b| b.is_ascii_hexdigit()),
        "{ids:?}"
    );
    let line = s.fails_engine(&["run", "--name", "done", "busybox", "true"]);
    assert!(
        line.contains("\"done\"") && line.contains("already in use"),
        "{line}"
    );
    let ps = s.ok(&["ps", "-a"]);
    let row = ps.lines().nth(1).unwrap_or_default();
    assert!(
        row.contains("Exited (3)") && row.trim_end().ends_with("done"),
        "{ps}"
    );
    assert_eq!(s.ok(&["rm", "done"]), "done\n");
    assert_no_containers(&s, "rm");
}

/// Checks one bad-input case; returns what is wrong with skiff's answer.
fn check_bad_input(s: &Skiff, args: &[&str], must_name: &str) -> Option<String> {
    let o = s.cmd(args);
    let lines: Vec<&str> = o.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut wrong = Vec::new();
    if o.code != 125 {
        wrong.push(format!("exit code {} instead of 125", o.code));
    }
    if lines.len() != 1 || !lines[0].starts_with("Error: ") {
        wrong.push("stderr is not one `Error: ` line".to_string());
    } else if !lines[0].contains(must_name) {
        wrong.push(format!("the error does not name {must_name:?}"));
    }
    let left = s.container_ids();
    if !left.is_empty() {
        wrong.push(format!("containers left behind: {left:?}"));
        s.cmd(&["rm", "-a", "-f"]);
    }
    (!wrong.is_empty()).then(|| {
        format!(
            "{}: {}\n  stderr: {}",
            o.cmdline,
            wrong.join("; "),
            o.stderr.trim_end()
        )
    })
}

#[test]
fn bad_input_is_125_one_line_and_leaves_nothing() {
    let s = busybox();
    let run = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec!["run".into(), "--rm".into()];
        v.extend(extra.iter().map(|x| x.to_string()));
        v.extend(["busybox".into(), "true".into()]);
        v
    };
    let cases: &[(&[&str], &str)] = &[
        (
            &["-v", "/nonexistent-skiff-src:/data"],
            "/nonexistent-skiff-src",
        ),
        (&["-v", "/tmp:relative"], "relative"),
        (&["-v", "/tmp:/data:bogusopt"], "bogusopt"),
        (&["-v", "/tmp:/a:ro:extra"], "/tmp:/a:ro:extra"),
        (&["--tmpfs", "relative"], "relative"),
        (&["--tmpfs", "/t:size=notasize"], "notasize"),
        (&["--mount", "type=nosuch,destination=/x"], "nosuch"),
        (&["--mount", "type=bind,destination=/x"], "source"),
        (&["-u", "nosuchuser"], "nosuchuser"),
        (&["-u", "tester:nosuchgroup"], "nosuchgroup"),
        (&["--ulimit", "nofile=abc"], "abc"),
        (&["--ulimit", "nosuchlimit=1"], "nosuchlimit"),
        (&["--cap-add", "NOT_A_CAP"], "NOT_A_CAP"),
        (&["--network", "nosuchnet"], "nosuchnet"),
    ];
    let mut problems = Vec::new();
    for (extra, name) in cases {
        let args = run(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        problems.extend(check_bad_input(&s, &args, name));
    }
    // An unknown image is looked for in the registry first: pull progress may
    // come before the error, which must be the last line and name the image.
    let o = s.cmd(&["run", "--rm", "localhost/nosuch:latest", "true"]);
    let last = o
        .stderr
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or("");
    if o.code != 125 || !last.starts_with("Error: ") || !last.contains("localhost/nosuch") {
        problems.push(format!(
            "{}: expected 125 and a last `Error: ` line naming the image\n  stderr: {}",
            o.cmdline,
            o.stderr.trim_end()
        ));
    }
    if !s.container_ids().is_empty() {
        problems.push(format!("{}: left a container", o.cmdline));
        s.cmd(&["rm", "-a", "-f"]);
    }
    problems.extend(check_bad_input(
        &s,
        &["run", "--rm", "Bad:Name", "true"],
        "invalid reference format",
    ));
    assert!(
        problems.is_empty(),
        "{} of {} bad inputs were not handled as expected:\n{}",
        problems.len(),
        cases.len() + 2,
        problems.join("\n")
    );
}

#[test]
fn unknown_flag_is_125() {
    let s = busybox();
    let o = s.cmd(&["run", "--bogus-flag", "busybox", "true"]);
    assert_eq!(o.code, 125, "{}", o.describe());
    let lines: Vec<&str> = o.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    // Podman adds one hint line: `See 'podman run --help'`.
    assert!(
        !lines.is_empty()
            && lines[0].starts_with("Error: ")
            && lines[0].contains("--bogus-flag")
            && lines.len() <= 2
            && lines.get(1).is_none_or(|l| l.starts_with("See ")),
        "expected `Error: ... --bogus-flag` (and at most a `See ...` hint)\n{}",
        o.describe()
    );
    assert_no_containers(&s, "unknown flag");
}

/// Waits for `child` up to `limit`; kills it and panics on timeout.
fn wait_for(child: &mut Child, limit: Duration, what: &str, output: impl Fn() -> String) -> i32 {
    wait_child(child, limit)
        .unwrap_or_else(|| panic!("{what}: still running after {limit:?}\n{}", output()))
}

#[test]
fn interactive_tty() {
    let s = busybox();
    let (mut child, mut master) =
        spawn_on_pty(&s, &["run", "--rm", "-it", "busybox", "sh"], 30, 100);
    let rx = chunks(master.try_clone().unwrap());
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let prompt = read_until(&rx, &mut out, "# ", deadline);
    if !prompt {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "no shell prompt on the pty; output: {:?}",
            String::from_utf8_lossy(&out)
        );
    }
    master
        .write_all(b"tty; stty size; echo h''i; exit 4\r")
        .unwrap();
    let code = wait_for(&mut child, Duration::from_secs(30), "run -it", || {
        String::new()
    });
    // Drain what is left (the reader ends when the pty closes).
    while let Ok(c) = rx.recv_timeout(Duration::from_millis(500)) {
        out.extend(c);
    }
    let text = String::from_utf8_lossy(&out);
    assert_eq!(code, 4, "exit code of the shell; output: {text:?}");
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    assert!(lines.contains(&"/dev/pts/0"), "tty inside: {text:?}");
    assert!(lines.contains(&"30 100"), "window size: {text:?}");
    assert!(lines.contains(&"hi"), "echo: {text:?}");
    assert_no_containers(&s, "run -it");
}

#[test]
fn sigterm_to_skiff_reaches_the_container() {
    let s = busybox();
    let mut child = s.spawn(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "trap 'echo got-term; exit 7' TERM; echo ready; sleep 100 & wait",
    ]);
    let stdout = child.stdout.take().unwrap();
    let rx = line_reader(stdout);
    let first = rx.recv_timeout(Duration::from_secs(30));
    if first.as_deref() != Ok("ready") {
        let _ = child.kill();
        let _ = child.wait();
        let mut err = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut err);
        panic!("the container did not start: {first:?}\nstderr: {err}");
    }
    let started = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let code = wait_for(
        &mut child,
        Duration::from_secs(20),
        "run after SIGTERM",
        String::new,
    );
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(2)).as_deref(),
        Ok("got-term")
    );
    assert_eq!(code, 7, "the container's own exit code");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "SIGTERM was not forwarded promptly"
    );
    assert_no_containers(&s, "run --rm after SIGTERM");
}

#[test]
fn sigterm_to_exec_reaches_the_command() {
    let s = busybox();
    s.ok(&["run", "-d", "--name", "sig", "busybox", "sleep", "300"]);
    let mut child = s.spawn(&[
        "exec",
        "sig",
        "sh",
        "-c",
        "trap 'echo got-term; echo bye >&2; exit 7' TERM; echo ready; sleep 100 & wait",
    ]);
    let stdout = child.stdout.take().unwrap();
    let rx = line_reader(stdout);
    let first = rx.recv_timeout(Duration::from_secs(30));
    if first.as_deref() != Ok("ready") {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the exec did not start: {first:?}");
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let mut err = child.stderr.take().unwrap();
    let code = wait_for(
        &mut child,
        Duration::from_secs(20),
        "exec after SIGTERM",
        String::new,
    );
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(2)).as_deref(),
        Ok("got-term")
    );
    let mut errs = String::new();
    err.read_to_string(&mut errs).unwrap();
    assert_eq!(errs, "bye\n", "its stderr, apart from its stdout");
    assert_eq!(code, 7, "the command's own exit code");
    s.ok(&["rm", "-f", "-t", "0", "sig"]);
}

#[test]
fn container_killed_by_a_signal_exits_128_plus_signal() {
    let s = busybox();
    let mut child = s.spawn(&["run", "--rm", "busybox", "sleep", "1000"]);
    // Find the container's pid 1 among this test's processes.
    let deadline = Instant::now() + Duration::from_secs(30);
    let pid = loop {
        let found = s.processes().into_iter().find(|p| {
            fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c == b"sleep\x001000\x00")
        });
        if let Some(p) = found {
            break p;
        }
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("the container's sleep never appeared; stderr: {err}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let code = wait_for(
        &mut child,
        Duration::from_secs(20),
        "run after SIGKILL of pid 1",
        String::new,
    );
    assert_eq!(code, 137, "128 + SIGKILL");
    assert_no_containers(&s, "run --rm killed");
}

/// The 1,000,000 zero bytes the relay tests push both ways.
const MILLION: usize = 1_000_000;

/// Issue 9, defect 5: the supervisor wrote the container's stdin with a
/// blocking write, so a container that wrote a full pipe while we filled its
/// stdin stopped both: 65,536 bytes came out, then nothing. Podman relays all.
#[test]
fn a_million_bytes_in_and_out_of_run_i() {
    let s = busybox();
    let input = vec![0u8; MILLION];
    let started = Instant::now();
    // stdout: the container's own million; stderr: how many it read.
    let o = s.run_with(
        &[
            "run",
            "-i",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "head -c 1000000 /dev/zero; wc -c >&2",
        ],
        Some(&input),
        Duration::from_secs(60),
    );
    let took = started.elapsed();
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(
        o.stdout_bytes.len(),
        MILLION,
        "bytes out of the container\n{}",
        o.stderr
    );
    assert!(o.stdout_bytes.iter().all(|&b| b == 0), "output altered");
    assert_eq!(o.stderr.trim(), "1000000", "bytes the container read");
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert_no_containers(&s, "run -i with a million bytes");
}

/// The same output through a pty (`-t`): the master is relayed without
/// blocking too. (Input through a pty in canonical mode is line-limited by
/// the kernel, so only the output direction is meaningful here.)
#[test]
fn a_million_bytes_out_of_run_t() {
    let s = busybox();
    let o = s.run_with(
        &[
            "run",
            "-t",
            "--rm",
            "busybox",
            "head",
            "-c",
            "1000000",
            "/dev/zero",
        ],
        None,
        Duration::from_secs(60),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout_bytes.len(), MILLION, "bytes out through the pty");
    assert_no_containers(&s, "run -t with a million bytes");
}

/// `exec -i` with a big stdin, and `exec -t` (relayed by the CLI's own
/// relay) with a big output.
#[test]
fn a_million_bytes_through_exec() {
    let s = busybox();
    s.ok(&["run", "-d", "--name", "big", "busybox", "sleep", "300"]);
    let input = vec![0u8; MILLION];
    let o = s.run_with(
        &[
            "exec",
            "-i",
            "big",
            "sh",
            "-c",
            "head -c 1000000 /dev/zero; wc -c >&2",
        ],
        Some(&input),
        Duration::from_secs(60),
    );
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(o.stdout_bytes.len(), MILLION, "exec -i: bytes out");
    assert_eq!(o.stderr.trim(), "1000000", "exec -i: bytes read");
    let o = s.run_with(
        &["exec", "-t", "big", "head", "-c", "1000000", "/dev/zero"],
        None,
        Duration::from_secs(60),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout_bytes.len(), MILLION, "exec -t: bytes out");
    s.ok(&["rm", "-f", "big"]);
    assert_no_containers(&s, "exec with a million bytes");
}

/// The relay still watches the user's keys: ctrl-p ctrl-q on `run -it`
/// detaches the CLI (exit 0) and leaves the container running.
#[test]
fn run_it_detaches_with_ctrl_p_ctrl_q() {
    let s = busybox();
    let (mut child, mut master) =
        spawn_on_pty(&s, &["run", "-it", "--name", "d", "busybox", "sh"], 24, 80);
    let rx = chunks(master.try_clone().unwrap());
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    master.write_all(b"echo h''i\r").unwrap();
    if !read_until(&rx, &mut out, "hi\r", deadline) {
        let _ = child.kill();
        let _ = child.wait();
        panic!("no echo on the pty: {:?}", String::from_utf8_lossy(&out));
    }
    master.write_all(b"\x10\x11").unwrap();
    let code = wait_for(
        &mut child,
        Duration::from_secs(15),
        "run -it detach",
        || String::from_utf8_lossy(&out).into_owned(),
    );
    assert_eq!(code, 0, "run -it after the detach keys");
    let state = s.ok(&["inspect", "--format", "{{.State.Status}}", "d"]);
    assert_eq!(state.trim(), "running", "detaching must leave it running");
    s.ok(&["exec", "d", "true"]);
    s.ok(&["rm", "-f", "d"]);
    assert_no_containers(&s, "run -it detach");
}

/// `--preserve-fds N` (Podman's flag on run and exec): descriptors 3 to
/// 3+N-1 of skiff's caller reach the container's process under the same
/// numbers, a file to read and one to write; nothing beyond them does. One
/// of them not open is exit 125 naming it, before anything is created.
#[test]
fn preserve_fds_passes_the_callers_descriptors() {
    use std::ffi::OsStr;
    let s = busybox();
    let input = s.write_file("in.txt", b"from fd three\n");
    let output = s.write_file("out.txt", b"");
    let redirect = format!(
        "exec \"$@\" 3<'{}' 4>'{}'",
        input.display(),
        output.display()
    );
    let wrapper: Vec<&OsStr> = ["sh", "-c", redirect.as_str(), "sh"]
        .into_iter()
        .map(OsStr::new)
        .collect();
    let with_fds = |args: &[&str]| s.run_prepared(s.command_under(&wrapper, args), args);
    let script = "cat <&3; echo written >&4; ls /proc/$$/fd; :";
    let args = [
        "run",
        "--rm",
        "--preserve-fds",
        "2",
        "busybox",
        "sh",
        "-c",
        script,
    ];
    let o = with_fds(&args);
    assert_eq!(o.code, 0, "{}", o.describe());
    let words: Vec<&str> = o.stdout.split_whitespace().collect();
    assert_eq!(
        words,
        ["from", "fd", "three", "0", "1", "2", "3", "4"],
        "{}",
        o.describe()
    );
    assert_eq!(std::fs::read_to_string(&output).unwrap(), "written\n");

    // Detached, then exec: the same for the exec'd process.
    let o = with_fds(&[
        "run",
        "-d",
        "--name",
        "pfd",
        "--preserve-fds",
        "1",
        "busybox",
        "sleep",
        "60",
    ]);
    assert_eq!(o.code, 0, "{}", o.describe());
    let o = with_fds(&[
        "exec",
        "--preserve-fds",
        "1",
        "pfd",
        "sh",
        "-c",
        "cat <&3; ls /proc/$$/fd; :",
    ]);
    assert_eq!(
        o.stdout.split_whitespace().collect::<Vec<_>>(),
        ["from", "fd", "three", "0", "1", "2", "3"],
        "{}",
        o.describe()
    );
    s.ok(&["rm", "-f", "-t", "0", "pfd"]);

    let o = with_fds(&[
        "run",
        "--rm",
        "--name",
        "toomany",
        "--preserve-fds",
        "3",
        "busybox",
        "true",
    ]);
    assert_eq!(
        (o.code, one_error_line(&o).as_str()),
        (
            125,
            "Error: file descriptor 5 is not available - the preserve-fds option requires that file descriptors must be passed"
        ),
        "{}",
        o.describe()
    );
    assert!(s.container_ids().is_empty(), "nothing was created");
}

/// Runs `args` on a fresh pty and returns everything written to it and the
/// exit code; asserts the pty's modes are back as they were once skiff ends.
fn on_pty_bytes(s: &Skiff, args: &[&str]) -> (Vec<u8>, i32) {
    let (mut child, master) = spawn_on_pty(s, args, 24, 80);
    let before = nix::sys::termios::tcgetattr(&master).expect("tcgetattr on the pty");
    let rx = chunks(master.try_clone().unwrap());
    let code = wait_for(&mut child, Duration::from_secs(30), args[0], String::new);
    let mut out = Vec::new();
    while let Ok(c) = rx.recv_timeout(Duration::from_millis(500)) {
        out.extend(c);
    }
    let after = nix::sys::termios::tcgetattr(&master).expect("tcgetattr on the pty");
    assert_eq!(
        (before.local_flags, before.output_flags, before.input_flags),
        (after.local_flags, after.output_flags, after.input_flags),
        "{args:?} left the terminal's modes changed"
    );
    (out, code)
}

#[test]
fn tty_without_interactive_makes_the_terminal_raw_as_podman() {
    // Podman makes the caller's terminal raw whenever the container has a
    // tty: the pty's "\r\n" must not become "\r\r\n" through ONLCR again.
    let s = busybox();
    let (out, code) = on_pty_bytes(&s, &["run", "--rm", "-t", "busybox", "echo", "hi"]);
    assert_eq!(
        (out.as_slice(), code),
        (&b"hi\r\n"[..], 0),
        "run -t: {:?}",
        String::from_utf8_lossy(&out)
    );
    s.ok(&["run", "-d", "--name", "web", "busybox", "sleep", "100"]);
    let (out, code) = on_pty_bytes(&s, &["exec", "-t", "web", "echo", "hi"]);
    assert_eq!(
        (out.as_slice(), code),
        (&b"hi\r\n"[..], 0),
        "exec -t: {:?}",
        String::from_utf8_lossy(&out)
    );
    s.ok(&["rm", "-f", "-t", "0", "web"]);
    s.ok(&["create", "-t", "--name", "once", "busybox", "echo", "hi"]);
    let (out, code) = on_pty_bytes(&s, &["start", "-a", "once"]);
    assert_eq!(
        (out.as_slice(), code),
        (&b"hi\r\n"[..], 0),
        "start -a: {:?}",
        String::from_utf8_lossy(&out)
    );
    s.ok(&["rm", "once"]);
}
