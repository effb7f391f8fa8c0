//! A container cannot reach its caller: the default seccomp profile and
//! custom ones, a session keyring of its own, and an `exec` that is hidden
//! while it joins (issue 10, items 3 to 5). The attacker is a small static C
//! program built here with `cc` and bind-mounted into the container.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use common::*;

/// The attacker. `addkey` and `keyctl` try the keyring calls; `search NAME`
/// looks for a user key in the session keyring; `plant NAME` adds one and
/// searches for it again; `withkey NAME CMD...` (on the host) adds a key to
/// a new session keyring and execs CMD; `scan MARKER STOPFILE` watches
/// /proc until STOPFILE exists for processes whose command is skiff (an
/// exec joining) and reports what of theirs it could read.
const ATTACK_C: &str = r#"
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KEY_SPEC_SESSION_KEYRING -3
#define KEYCTL_GET_KEYRING_ID 0
#define KEYCTL_JOIN_SESSION_KEYRING 1
#define KEYCTL_SEARCH 10

static long add_key(const char *name) {
    return syscall(SYS_add_key, "user", name, "secret", 6, KEY_SPEC_SESSION_KEYRING);
}
static long search(const char *name) {
    return syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, "user", name, 0);
}
static void report(const char *what, long rc) {
    if (rc < 0) printf("%s errno=%d\n", what, errno);
    else printf("%s ok\n", what);
}
static int read_file(const char *path, char *buf, int len) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    int n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0) return -1;
    buf[n] = 0;
    return n;
}
static int contains(const char *buf, int n, const char *needle) {
    int l = strlen(needle);
    for (int i = 0; i + l <= n; i++)
        if (memcmp(buf + i, needle, l) == 0) return 1;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    if (!strcmp(argv[1], "addkey")) { report("add_key", add_key("skiff-probe")); return 0; }
    if (!strcmp(argv[1], "keyctl")) {
        report("keyctl", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
        return 0;
    }
    if (!strcmp(argv[1], "search") && argc == 3) { report("search", search(argv[2])); return 0; }
    if (!strcmp(argv[1], "plant") && argc == 3) {
        report("plant", add_key(argv[2]));
        report("search", search(argv[2]));
        return 0;
    }
    if (!strcmp(argv[1], "withkey") && argc > 3) {
        if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0) { perror("join"); return 3; }
        if (add_key(argv[2]) < 0) { perror("add_key"); return 3; }
        execvp(argv[3], argv + 3);
        perror("exec");
        return 3;
    }
    if (!strcmp(argv[1], "scan") && argc == 4) {
        static char buf[1 << 16];
        long seen = 0, environ_read = 0, environ_leak = 0, exe_open = 0, fd_open = 0;
        int last = -1;
        while (access(argv[3], F_OK) != 0) {
            DIR *d = opendir("/proc");
            struct dirent *e;
            while (d && (e = readdir(d))) {
                int pid = atoi(e->d_name);
                if (pid <= 0 || pid == getpid()) continue;
                char p[64];
                snprintf(p, sizeof p, "/proc/%d/cmdline", pid);
                int n = read_file(p, buf, sizeof buf);
                if (n <= 0 || !strstr(buf, "skiff")) continue;
                if (pid != last) { seen++; last = pid; }
                /* What succeeds counts only if the process still runs skiff
                   afterwards: it then had not exec'd the command yet. */
                static char env[1 << 16];
                snprintf(p, sizeof p, "/proc/%d/environ", pid);
                int en = read_file(p, env, sizeof env);
                snprintf(p, sizeof p, "/proc/%d/exe", pid);
                int exe = open(p, O_RDONLY);
                int fds = 0;
                for (int i = 0; i < 3; i++) {
                    snprintf(p, sizeof p, "/proc/%d/fd/%d", pid, i);
                    int fd = open(p, O_RDONLY | O_NONBLOCK);
                    if (fd >= 0) { fds++; close(fd); }
                }
                snprintf(p, sizeof p, "/proc/%d/cmdline", pid);
                n = read_file(p, buf, sizeof buf);
                if (n > 0 && strstr(buf, "skiff")) {
                    if (en > 0) environ_read++;
                    if (en > 0 && contains(env, en, argv[2])) environ_leak++;
                    if (exe >= 0) exe_open++;
                    fd_open += fds;
                }
                if (exe >= 0) close(exe);
            }
            if (d) closedir(d);
        }
        printf("seen=%ld environ_read=%ld environ_leak=%ld exe_open=%ld fd_open=%ld\n",
               seen, environ_read, environ_leak, exe_open, fd_open);
        return 0;
    }
    return 2;
}
"#;

/// Builds the attacker once per test binary: a static executable.
fn attack_binary() -> &'static PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = env().base.join("attacker");
        fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("attack");
        build_static_c(ATTACK_C, &bin);
        bin
    })
}

/// A skiff with the busybox image and the attacker in its home; returns the
/// `-v` argument that mounts the attacker at /attack.
fn setup() -> (Skiff, String) {
    let s = Skiff::new();
    s.import_busybox();
    let p = s.write_file("attack", &fs::read(attack_binary()).unwrap());
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    let vol = format!("{}:/attack:ro", p.display());
    (s, vol)
}

fn seccomp_mode(status: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))
        .unwrap_or_else(|| panic!("no Seccomp line in {status}"))
        .trim()
        .to_string()
}

const ENOSYS: &str = "errno=38";

#[test]
fn default_profile_filters_and_refuses_the_keyring() {
    let (s, vol) = setup();
    let status = s.ok(&["run", "--rm", "busybox", "cat", "/proc/self/status"]);
    assert_eq!(seccomp_mode(&status), "2", "{status}");
    // Installed after no_new_privs (the last step), and for a user without
    // capabilities (before they are dropped).
    for flags in [
        &["--security-opt", "no-new-privileges"][..],
        &["--user", "1000:1000"][..],
    ] {
        let args = [
            &["run", "--rm"][..],
            flags,
            &["busybox", "cat", "/proc/self/status"],
        ]
        .concat();
        let status = s.ok(&args);
        assert_eq!(seccomp_mode(&status), "2", "{flags:?}: {status}");
    }
    let out = s.ok(&[
        "run",
        "--rm",
        "-v",
        &vol,
        "busybox",
        "sh",
        "-c",
        "/attack addkey; /attack keyctl",
    ]);
    // As under Podman: not in the allow-list, so ENOSYS.
    assert_eq!(out, format!("add_key {ENOSYS}\nkeyctl {ENOSYS}\n"));
    // Ordinary work still runs under the filter.
    let out = s.ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "mkdir /tmp/d && echo hi > /tmp/d/f && cat /tmp/d/f && id -u",
    ]);
    assert_eq!(out, "hi\n0\n");
    let info = s.ok(&["info", "--format", "json"]);
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["host"]["security"]["seccompEnabled"], true, "{info}");
}

#[test]
fn unconfined_has_no_filter_and_reaches_the_keyring() {
    let (s, vol) = setup();
    let opt = ["--security-opt", "seccomp=unconfined"];
    let status = s.ok(&[
        &["run", "--rm"][..],
        &opt,
        &["busybox", "cat", "/proc/self/status"],
    ]
    .concat());
    assert_eq!(seccomp_mode(&status), "0", "{status}");
    let out = s.ok(&[
        &["run", "--rm", "-v", &vol][..],
        &opt,
        &["busybox", "sh", "-c", "/attack addkey; /attack keyctl"],
    ]
    .concat());
    assert_eq!(out, "add_key ok\nkeyctl ok\n");
    s.ok(&[&["create", "--name", "u"][..], &opt, &["busybox", "true"]].concat());
    let sec = s.ok(&[
        "inspect",
        "--format",
        "{{json .HostConfig.SecurityOpt}}",
        "u",
    ]);
    assert_eq!(sec.trim(), r#"["seccomp=unconfined"]"#);
    // --privileged turns the default profile off, as in Podman.
    let status = s.ok(&[
        "run",
        "--rm",
        "--privileged",
        "busybox",
        "cat",
        "/proc/self/status",
    ]);
    assert_eq!(seccomp_mode(&status), "0", "{status}");
}

#[test]
fn custom_profile_file() {
    let (s, _) = setup();
    let profile = s.write_file(
        "no-mkdir.json",
        br#"{"defaultAction": "SCMP_ACT_ALLOW",
             "architectures": ["SCMP_ARCH_X86_64"],
             "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "args": []}]}"#,
    );
    let opt = format!("seccomp={}", profile.display());
    // `create` compiles the profile into the store's cache, where the
    // first start finds it (no second compile).
    let cache = s.data_home.join("skiff/seccomp");
    let compiled = || {
        fs::read_dir(&cache).map_or(0, |d| {
            d.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "bpf"))
                .count()
        })
    };
    assert_eq!(compiled(), 0);
    s.ok(&[
        "create",
        "--name",
        "early",
        "--security-opt",
        &opt,
        "busybox",
        "true",
    ]);
    assert_eq!(
        compiled(),
        1,
        "create left no compiled profile in {cache:?}"
    );
    s.ok(&["rm", "early"]);
    let o = s.cmd(&[
        "run",
        "--rm",
        "--security-opt",
        &opt,
        "busybox",
        "sh",
        "-c",
        "grep Seccomp: /proc/self/status; mkdir /tmp/x",
    ]);
    assert_eq!(o.code, 1, "{}", o.describe());
    assert_eq!(seccomp_mode(&o.stdout), "2", "{}", o.describe());
    assert!(
        o.stderr.contains("Operation not permitted"),
        "{}",
        o.describe()
    );
    // Other calls are allowed by this profile's default.
    s.ok(&[
        "run",
        "--rm",
        "--security-opt",
        &opt,
        "busybox",
        "touch",
        "/tmp/y",
    ]);
    s.ok(&[
        "create",
        "--name",
        "c",
        "--security-opt",
        &opt,
        "busybox",
        "true",
    ]);
    let sec = s.ok(&[
        "inspect",
        "--format",
        "{{json .HostConfig.SecurityOpt}}",
        "c",
    ]);
    assert_eq!(sec.trim(), format!("[\"{opt}\"]"));
    let name = s.ok(&["inspect", "--format", "{{.SeccompProfile}}", "c"]);
    assert_eq!(name.trim(), profile.display().to_string());
    // The profile was read at create: changing the file later changes nothing.
    fs::write(&profile, "{}").unwrap();
    let o = s.cmd(&["start", "-a", "c"]);
    assert_eq!(o.code, 0, "{}", o.describe());
}

#[test]
fn bad_profiles_are_one_line_errors() {
    let (s, _) = setup();
    let not_json = s.write_file("bad.json", b"{ this is not json");
    let bad_action = s.write_file(
        "action.json",
        br#"{"defaultAction": "SCMP_ACT_EXPLODE", "syscalls": []}"#,
    );
    let bad_arg = s.write_file(
        "arg.json",
        br#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 7, "value": 0, "op": "SCMP_CMP_EQ"}]}]}"#,
    );
    let missing = s.home.join("files/missing.json");
    let endless = std::path::PathBuf::from("/dev/zero");
    for (p, what) in [
        (&not_json, "invalid seccomp profile"),
        (&bad_action, "SCMP_ACT_EXPLODE"),
        (&bad_arg, "index 7"),
        (&missing, "no such file"),
        (&endless, "larger than 2 MiB"),
    ] {
        let opt = format!("seccomp={}", p.display());
        let line = s.fails_engine(&["run", "--rm", "--security-opt", &opt, "busybox", "true"]);
        assert!(line.contains(&p.display().to_string()), "{line}");
        assert!(line.to_lowercase().contains(&what.to_lowercase()), "{line}");
    }
    // Nothing was created.
    assert!(s.container_ids().is_empty(), "{:?}", s.container_ids());
}

#[test]
fn exec_gets_the_same_filter() {
    let (s, vol) = setup();
    s.ok(&[
        "run", "-d", "--name", "box", "-v", &vol, "busybox", "sleep", "1000",
    ]);
    let status = s.ok(&["exec", "box", "cat", "/proc/self/status"]);
    assert_eq!(seccomp_mode(&status), "2", "{status}");
    let out = s.ok(&["exec", "box", "/attack", "addkey"]);
    assert_eq!(out, format!("add_key {ENOSYS}\n"));
    s.ok(&["rm", "-f", "-t", "0", "box"]);
}

/// Runs skiff as `Skiff::command` would, under `attack withkey NAME`, so
/// that its session keyring holds a user key NAME.
fn cmd_with_key(s: &Skiff, key: &str, args: &[&str]) -> Output {
    let attack = s.home.join("files/attack");
    let wrapper = [attack.as_os_str(), "withkey".as_ref(), key.as_ref()];
    let mut o = s.run_prepared(s.command_under(&wrapper, args), args);
    o.cmdline = format!("attack withkey {key} {}", o.cmdline);
    o
}

#[test]
fn containers_get_their_own_session_keyring() {
    let (s, vol) = setup();
    let unconfined = ["--security-opt", "seccomp=unconfined"];
    // The wrapper really gives the caller the key: a process of the
    // caller's session finds it.
    let attack = s.home.join("files/attack");
    let host = cmd_with_key(&s, "skiff-caller-key", &["version"]);
    assert_eq!(host.code, 0, "{}", host.describe());
    let probe = Command::new(&attack)
        .args(["withkey", "skiff-caller-key"])
        .arg(&attack)
        .args(["search", "skiff-caller-key"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&probe.stdout), "search ok\n");

    // Inside, the caller's key is out of reach, in run and in exec.
    let o = cmd_with_key(
        &s,
        "skiff-caller-key",
        &[
            &["run", "--rm", "-v", &vol][..],
            &unconfined,
            &["busybox", "/attack", "search", "skiff-caller-key"],
        ]
        .concat(),
    );
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(
        o.stdout,
        "search errno=126\n",
        "ENOKEY expected\n{}",
        o.describe()
    );

    // A key planted by one container is invisible to the next, and to an
    // exec'd process (each joins a new keyring).
    s.ok(&[
        &["run", "-d", "--name", "planter", "-v", &vol][..],
        &unconfined,
        &[
            "busybox",
            "sh",
            "-c",
            "/attack plant skiff-planted > /tmp/out; sleep 1000",
        ],
    ]
    .concat());
    let planted = s.ok(&[
        "exec",
        "planter",
        "sh",
        "-c",
        "while [ ! -s /tmp/out ]; do sleep 0.05; done; cat /tmp/out",
    ]);
    assert_eq!(planted, "plant ok\nsearch ok\n");
    let next = s.ok(&[
        &["run", "--rm", "-v", &vol][..],
        &unconfined,
        &["busybox", "/attack", "search", "skiff-planted"],
    ]
    .concat());
    assert_eq!(next, "search errno=126\n");
    let o = cmd_with_key(
        &s,
        "skiff-caller-key",
        &["exec", "planter", "/attack", "search", "skiff-caller-key"],
    );
    assert_eq!(o.stdout, "search errno=126\n", "{}", o.describe());
    s.ok(&["rm", "-f", "-t", "0", "planter"]);
}

#[test]
fn exec_is_hidden_while_it_joins() {
    const MARKER: &str = "skiff-caller-secret-4f9a1c";
    let (s, vol) = setup();
    s.ok(&[
        "run",
        "-d",
        "--name",
        "watch",
        "-v",
        &vol,
        "busybox",
        "/attack",
        "scan",
        MARKER,
        "/tmp/stop",
    ]);
    for _ in 0..50 {
        let o = s.cmd_env(&["exec", "watch", "true"], &[("SKIFF_TEST_SECRET", MARKER)]);
        assert_eq!(o.code, 0, "{}", o.describe());
    }
    // Detached: the scanner, the container's init, ends as soon as the file
    // exists, and the kernel then kills whatever else runs in its pid
    // namespace, the `touch` too if it has not exited yet (exit 137).
    s.ok(&["exec", "-d", "watch", "touch", "/tmp/stop"]);
    s.ok(&["wait", "watch"]);
    let report = s.ok(&["logs", "watch"]);
    eprintln!("scanner: {report}");
    let get = |k: &str| -> u64 {
        report
            .split_whitespace()
            .find_map(|f| f.strip_prefix(&format!("{k}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {k} in {report:?}"))
    };
    // The scanner did catch joining processes, so the checks below can fail.
    assert!(
        get("seen") > 0,
        "the scanner never saw an exec joining: {report}"
    );
    assert_eq!(get("environ_leak"), 0, "{report}");
    assert_eq!(get("environ_read"), 0, "{report}");
    assert_eq!(get("exe_open"), 0, "{report}");
    assert_eq!(get("fd_open"), 0, "{report}");
    s.ok(&["rm", "-f", "watch"]);
}

/// What `/proc/self/fd/N` of this test process names (`pipe:[INODE]`).
fn fd_target(fd: &impl std::os::fd::AsRawFd) -> String {
    let p = format!("/proc/self/fd/{}", fd.as_raw_fd());
    fs::read_link(&p).unwrap().display().to_string()
}

#[test]
fn exec_hands_in_pipes_not_the_callers_stdio() {
    use std::io::{BufRead, BufReader, Read, Write};
    let s = Skiff::new();
    s.import_busybox();
    s.ok(&["run", "-d", "--name", "box", "busybox", "sleep", "1000"]);
    let script = "echo $$; read x; echo got=$x; echo oops >&2; exit 3";
    let mut child = s
        .command(&["exec", "-i", "box", "sh", "-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut err = child.stderr.take().unwrap();
    let ours = [fd_target(&stdin), fd_target(out.get_ref()), fd_target(&err)];
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let pid: u32 = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no pid from the exec: {line:?}"));
    // Another process in the container looks at the exec'd shell's stdio.
    let seen = s.ok(&[
        "exec",
        "box",
        "sh",
        "-c",
        &format!("for f in 0 1 2; do readlink /proc/{pid}/fd/$f; done"),
    ]);
    stdin.write_all(b"hello\n").unwrap();
    drop(stdin);
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let mut errs = String::new();
    err.read_to_string(&mut errs).unwrap();
    let status = child.wait().unwrap();
    let targets: Vec<&str> = seen.lines().collect();
    assert_eq!(targets.len(), 3, "{seen:?}");
    for (fd, t) in targets.iter().enumerate() {
        // A pipe, so the check below compares like with like; not ours.
        assert!(t.starts_with("pipe:["), "fd {fd}: {t}");
        assert!(
            !ours.iter().any(|o| o == t),
            "fd {fd} of the exec'd process is the caller's own {t} (ours: {ours:?})"
        );
    }
    // Every byte both ways, stdout and stderr apart, the exit code kept.
    assert_eq!(rest, "got=hello\n");
    assert_eq!(errs, "oops\n");
    assert_eq!(status.code(), Some(3));
    // A command that is gone before the relay starts: its output still
    // arrives, each stream on its own.
    // Several at once, so that some are gone before their relay starts.
    std::thread::scope(|t| {
        for _ in 0..6 {
            t.spawn(|| {
                for _ in 0..5 {
                    let o = s.cmd(&["exec", "box", "sh", "-c", "echo out; echo err >&2"]);
                    assert_eq!((o.code, &*o.stdout, &*o.stderr), (0, "out\n", "err\n"));
                }
            });
        }
    });
    s.ok(&["rm", "-f", "-t", "0", "box"]);
}
