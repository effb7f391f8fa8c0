//! Container lifecycle with real containers (issue 3): detached runs and the
//! supervisor, ps, logs, exec, stop/kill/wait, pause, create/start, rm and
//! prune, rename, inspect, attach on a real pty, restart policies, crashes of
//! the supervisor and of the CLI, concurrency, sd_notify and bad input.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;

/// A container that runs until killed and ignores SIGTERM.
const STUBBORN: &str = "trap '' TERM; while true; do sleep 0.2; done";

/// `run -d` with extra flags and a shell script; returns the printed id.
fn run_d(s: &Skiff, flags: &[&str], script: &str) -> String {
    let mut args = vec!["run", "-d"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "sh", "-c", script]);
    let out = s.ok(&args);
    let id = out.trim().to_string();
    assert!(
        is_full_id(&id),
        "run -d must print the full id, got {out:?}"
    );
    id
}

fn is_full_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

fn status(s: &Skiff, name: &str) -> String {
    s.inspect_format(name, "{{.State.Status}}")
}

/// Waits until inspect shows the container exited with `code`. Used where
/// `wait` is not what the test is about (see `wait_prints_the_exit_code`).
fn exited(s: &Skiff, name: &str, code: i32) {
    let want = format!("exited {code}");
    let mut last = String::new();
    let ok = eventually(Duration::from_secs(30), || {
        last = s.inspect_format(name, "{{.State.Status}} {{.State.ExitCode}}");
        last == want
    });
    assert!(ok, "{name}: state {last:?}, expected {want:?}");
}

/// Waits until the container's logs contain `want`; returns its stdout logs.
fn wait_logs(s: &Skiff, name: &str, want: &str, limit: Duration) -> String {
    let mut last = String::new();
    let ok = eventually(limit, || {
        last = s.ok(&["logs", name]);
        last.contains(want)
    });
    assert!(ok, "{name}: logs never showed {want:?}; last: {last:?}");
    last
}

/// The supervisor processes (`skiff _supervise ...`) of this test.
fn supervisors(s: &Skiff) -> Vec<(i32, String)> {
    s.processes()
        .into_iter()
        .filter(|p| proc_alive(*p))
        .map(|p| (p, cmdline(p)))
        .filter(|(_, c)| c.contains("_supervise"))
        .collect()
}

fn assert_no_supervisors(s: &Skiff, what: &str) {
    let mut left = Vec::new();
    let gone = eventually(Duration::from_secs(5), || {
        left = supervisors(s);
        left.is_empty()
    });
    assert!(gone, "{what}: supervisors left running: {left:?}");
}

/// Mount points of the namespace holder that belong to containers of this store.
fn container_mounts(s: &Skiff) -> Vec<String> {
    let info = s.ok(&["unshare", "cat", "/proc/self/mountinfo"]);
    let containers = format!("{}/skiff/containers/", s.data_home.display());
    let netns = format!("{}/skiff/netns/", s.runtime_dir.display());
    info.lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|p| p.starts_with(&containers) || p.starts_with(&netns))
        .map(str::to_string)
        .collect()
}

/// Removes everything and checks that no supervisor or mount remains.
fn assert_clean(s: &Skiff, what: &str) {
    s.ok(&["rm", "-a", "-f"]);
    assert!(
        s.container_ids().is_empty(),
        "{what}: rm -a -f left containers"
    );
    assert_no_supervisors(s, what);
    let m = container_mounts(s);
    assert!(m.is_empty(), "{what}: mounts left: {m:?}");
}

fn inspect_json(s: &Skiff, name: &str) -> serde_json::Value {
    let out = s.ok(&["inspect", name]);
    let v: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("inspect is not JSON ({e}): {out}"));
    v.as_array()
        .and_then(|a| a.first())
        .cloned()
        .unwrap_or_else(|| panic!("inspect must print a one-element array: {out}"))
}

// ---------------------------------------------------------------------------
// run -d and ps

#[test]
fn run_detached_prints_id_and_returns_at_once() {
    let s = busybox();
    let t = Instant::now();
    let id = run_d(&s, &["--name", "web"], "sleep 100");
    let took = t.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "run -d of `sleep 100` must not wait for it: took {took:?}"
    );
    assert_eq!(status(&s, "web"), "running");
    assert_eq!(s.inspect_format("web", "{{.Id}}"), id);

    s.ok(&["create", "--name", "made", "busybox", "true"]);
    let done = run_d(&s, &["--name", "done"], "echo out; exit 3");
    exited(&s, "done", 3);

    // ps: running only, 12-hex ids, header; -a adds the others.
    let ps = s.ok(&["ps"]);
    let lines: Vec<&str> = ps.lines().collect();
    assert!(lines[0].starts_with("CONTAINER ID"), "header: {ps}");
    assert!(
        lines[0].contains("STATUS") && lines[0].contains("NAMES"),
        "{ps}"
    );
    assert_eq!(lines.len(), 2, "ps shows running containers only:\n{ps}");
    assert!(
        lines[1].starts_with(&id[..12]) && lines[1].ends_with("web"),
        "{ps}"
    );
    assert!(
        lines[1].contains("  Up "),
        "status of a running container:\n{ps}"
    );
    let all = s.ok(&["ps", "-a"]);
    assert_eq!(
        all.lines().count(),
        4,
        "ps -a shows every container:\n{all}"
    );
    let made = all
        .lines()
        .find(|l| l.ends_with("made"))
        .expect("made in ps -a");
    assert!(made.contains("  Created  "), "{all}");
    let exited = all
        .lines()
        .find(|l| l.ends_with("done"))
        .expect("done in ps -a");
    assert!(exited.contains("Exited (3)"), "{all}");
    assert!(
        exited.contains("sh -c echo out; e..."),
        "COMMAND cut at 20 characters: {all}"
    );

    // -q: ids only, running only; -a -q: all of them.
    assert_eq!(s.ok(&["ps", "-q"]), format!("{}\n", &id[..12]));
    let mut q: Vec<String> = s.container_ids();
    q.sort();
    assert_eq!(q.len(), 3, "{q:?}");
    assert!(q.contains(&done[..12].to_string()), "{q:?}");

    let f = s.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(f.starts_with("web Up "), "ps --format: {f:?}");
    assert_eq!(f.lines().count(), 1, "no header with --format: {f:?}");

    let nt = s.ok(&["ps", "-a", "--no-trunc"]);
    assert!(nt.contains(&id), "--no-trunc shows full ids:\n{nt}");
    assert!(
        nt.contains("sh -c echo out; exit 3"),
        "--no-trunc shows the command:\n{nt}"
    );
    assert_clean(&s, "run -d");
}

#[test]
fn ps_filters_sort_last_and_n() {
    let s = busybox();
    // Its containers run to the end; the harness removes them.
    s.expect_running();
    let web = run_d(&s, &["--name", "web", "-l", "tier=front"], "sleep 100");
    std::thread::sleep(Duration::from_millis(1100));
    s.ok(&[
        "create",
        "--name",
        "made",
        "-l",
        "tier=back",
        "busybox",
        "true",
    ]);
    std::thread::sleep(Duration::from_millis(1100));
    run_d(&s, &["--name", "done"], "exit 2");
    exited(&s, "done", 2);
    let names = |args: &[&str]| -> Result<String, String> {
        let mut v = vec!["ps", "-a", "--format", "{{.Names}}"];
        v.extend_from_slice(args);
        let o = s.cmd(&v);
        if o.code == 0 {
            Ok(o.stdout.lines().collect::<Vec<_>>().join(" "))
        } else {
            Err(o.describe())
        }
    };
    let cases: &[(&[&str], &str)] = &[
        (&["--filter", "name=web"], "web"),
        // name= is a regular expression, as in Podman and Docker.
        (&["--filter", "name=^web$"], "web"),
        (&["--filter", "name=^(web|made)$"], "made web"),
        (&["--filter", "name=^d"], "done"),
        (&["--filter", "status=exited"], "done"),
        (&["--filter", "status=running"], "web"),
        (&["--filter", "status=created"], "made"),
        (&["--filter", &format!("id={}", &web[..8])], "web"),
        (&["--filter", "label=tier=back"], "made"),
        (&["--filter", "label=tier"], "made web"),
        (
            &["--filter", "ancestor=busybox", "--sort", "names"],
            "done made web",
        ),
        (&["--sort", "names"], "done made web"),
        (&["-l"], "done"),
        (&["-n", "2"], "done made"),
    ];
    let mut problems = Vec::new();
    for (args, want) in cases {
        let mut got = names(args);
        // Unsorted results are compared as sets.
        if let Ok(g) = &got {
            if !args.contains(&"--sort") && !args.contains(&"-n") {
                let mut v: Vec<&str> = g.split(' ').collect();
                v.sort();
                got = Ok(v.join(" "));
            }
        }
        match got {
            Ok(g) if g == *want => {}
            Ok(g) => problems.push(format!(
                "ps -a {}: got {g:?}, want {want:?}",
                args.join(" ")
            )),
            Err(e) => problems.push(format!("ps -a {}: failed\n{e}", args.join(" "))),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let line = s.fails_engine(&["ps", "-a", "--filter", "name=web("]);
    assert!(line.contains("name=web("), "{line}");
}

// ---------------------------------------------------------------------------
// logs

#[test]
fn logs_split_streams_tail_and_timestamps() {
    let s = busybox();
    run_d(
        &s,
        &["--name", "talk"],
        "echo out1; echo err1 >&2; echo out2; echo err2 >&2",
    );
    exited(&s, "talk", 0);
    let o = s.cmd(&["logs", "talk"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(o.stdout, "out1\nout2\n", "stdout of logs\n{}", o.describe());
    assert_eq!(o.stderr, "err1\nerr2\n", "stderr of logs\n{}", o.describe());

    run_d(
        &s,
        &["--name", "count"],
        "for i in 1 2 3 4 5; do echo line$i; done",
    );
    exited(&s, "count", 0);
    assert_eq!(s.ok(&["logs", "--tail", "2", "count"]), "line4\nline5\n");
    assert_eq!(s.ok(&["logs", "--tail", "0", "count"]), "");
    // Output that ends without a newline: its last line is still a line.
    run_d(&s, &["--name", "nonl"], "printf 'a\\nb'");
    exited(&s, "nonl", 0);
    assert_eq!(s.ok(&["logs", "--tail", "1", "nonl"]), "b");
    assert_eq!(s.ok(&["logs", "--tail", "2", "nonl"]), "a\nb");

    let t = s.ok(&["logs", "-t", "count"]);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 5, "{t}");
    for (i, l) in lines.iter().enumerate() {
        let (ts, text) = l
            .split_once(' ')
            .unwrap_or_else(|| panic!("no timestamp: {l:?}"));
        assert!(
            chrono::DateTime::parse_from_rfc3339(ts).is_ok(),
            "logs -t: {ts:?} is not an RFC 3339 time in {l:?}"
        );
        assert_eq!(text, format!("line{}", i + 1));
    }

    // The log file itself is k8s-file.
    let path = s.inspect_format("talk", "{{.HostConfig.LogConfig.Path}}");
    let file = fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let streams: Vec<(&str, &str, &str)> = file
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.splitn(4, ' ').collect();
            assert_eq!(f.len(), 4, "k8s-file line: {l:?}");
            assert!(chrono::DateTime::parse_from_rfc3339(f[0]).is_ok(), "{l:?}");
            (f[1], f[2], f[3])
        })
        .collect();
    let mut sorted = streams.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec![
            ("stderr", "F", "err1"),
            ("stderr", "F", "err2"),
            ("stdout", "F", "out1"),
            ("stdout", "F", "out2")
        ],
        "{file}"
    );
}

#[test]
fn logs_since() {
    let s = busybox();
    run_d(&s, &["--name", "slow"], "echo early; sleep 2; echo late");
    wait_logs(&s, "slow", "early", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(500));
    let mid = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    exited(&s, "slow", 0);
    assert_eq!(s.ok(&["logs", "slow"]), "early\nlate\n");
    assert_eq!(
        s.ok(&["logs", "--since", &mid, "slow"]),
        "late\n",
        "--since {mid}"
    );
    assert_eq!(s.ok(&["logs", "--since", "1m", "slow"]), "early\nlate\n");
    let future = (chrono::Utc::now() + chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(s.ok(&["logs", "--since", &future, "slow"]), "");
}

#[test]
fn logs_follow_until_the_container_exits() {
    let s = busybox();
    run_d(
        &s,
        &["--name", "f"],
        "for i in 1 2 3; do echo n$i; sleep 0.7; done; echo bye >&2",
    );
    let t = Instant::now();
    let mut child = s.spawn(&["logs", "-f", "f"]);
    let out = chunks(child.stdout.take().unwrap());
    let err = chunks(child.stderr.take().unwrap());
    let mut acc = Vec::new();
    let first = read_until(
        &out,
        &mut acc,
        "n1\n",
        Instant::now() + Duration::from_secs(10),
    );
    assert!(
        first,
        "logs -f printed nothing: {:?}",
        String::from_utf8_lossy(&acc)
    );
    let code = wait_child(&mut child, Duration::from_secs(20));
    let took = t.elapsed();
    while let Ok(c) = out.recv_timeout(Duration::from_millis(500)) {
        acc.extend(c);
    }
    let mut e = Vec::new();
    while let Ok(c) = err.recv_timeout(Duration::from_millis(500)) {
        e.extend(c);
    }
    assert_eq!(code, Some(0), "logs -f must end with the container");
    assert_eq!(String::from_utf8_lossy(&acc), "n1\nn2\nn3\n");
    assert_eq!(String::from_utf8_lossy(&e), "bye\n");
    assert!(
        took >= Duration::from_millis(1200),
        "logs -f returned before the container ended: {took:?}"
    );
    assert_eq!(status(&s, "f"), "exited");

    // --tail with -f on a finished container prints the tail and returns;
    // the last line was the one on stderr.
    let o = s.cmd(&["logs", "-f", "--tail", "2", "f"]);
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (0, "n3\n", "bye\n"),
        "{}",
        o.describe()
    );
}

// ---------------------------------------------------------------------------
// exec

#[test]
fn exec_codes_user_env_workdir_and_detach() {
    let s = busybox();
    // Its containers run to the end; the harness removes them.
    s.expect_running();
    run_d(&s, &["--name", "web"], "sleep 100");
    let o = s.cmd(&["exec", "web", "true"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, ""), "{}", o.describe());
    s.fails(&["exec", "web", "sh", "-c", "exit 5"], 5);
    assert_eq!(
        s.ok(&[
            "exec",
            "-u",
            "1000",
            "-e",
            "X=1",
            "-w",
            "/tmp",
            "web",
            "sh",
            "-c",
            "id -u; echo $X; pwd"
        ]),
        "1000\n1\n/tmp\n"
    );
    let o = s.cmd(&["exec", "web", "sh", "-c", "echo out; echo err >&2"]);
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (0, "out\n", "err\n")
    );
    let o = s.cmd(&["exec", "web", "nosuchcmd"]);
    assert_eq!(o.code, 127, "{}", o.describe());
    let e = one_error_line(&o);
    assert!(e.contains("nosuchcmd"), "{e}");
    // stdin with -i.
    assert_eq!(
        s.ok_stdin(&["exec", "-i", "web", "cat"], b"piped\n"),
        "piped\n"
    );

    // exec joins the container's namespaces: the same pid 1 and hostname.
    assert_eq!(
        s.ok(&["exec", "web", "cat", "/proc/1/cmdline"]),
        "sleep\x00100\x00"
    );
    let host = s.inspect_format("web", "{{.Config.Hostname}}");
    assert_eq!(s.ok(&["exec", "web", "hostname"]).trim(), host);

    let o = s.cmd(&["exec", "-d", "web", "sh", "-c", "sleep 0.3; touch /x"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    let found = eventually(Duration::from_secs(10), || {
        s.cmd(&["exec", "web", "test", "-e", "/x"]).code == 0
    });
    assert!(found, "exec -d never created /x");
}

/// `--env-file` and `-e` read the same way for `run` and `exec`, as Podman
/// reads them: comments and blank lines skipped, leading blanks dropped and
/// trailing ones kept; an entry without a key is one error line naming the
/// file, exit 125.
#[test]
fn env_file_and_env_for_run_and_exec() {
    let s = busybox();
    s.expect_running();
    let f = s.write_file("env", b"# comment\n\n  A=1\nC= spaced \n");
    let f = f.to_str().unwrap();
    let script = "echo \"[$A][$C]\"";
    assert_eq!(
        s.ok(&[
            "run",
            "--rm",
            "--env-file",
            f,
            "busybox",
            "sh",
            "-c",
            script
        ]),
        "[1][ spaced ]\n"
    );
    run_d(&s, &["--name", "envs"], "sleep 100");
    assert_eq!(
        s.ok(&["exec", "--env-file", f, "envs", "sh", "-c", script]),
        "[1][ spaced ]\n"
    );
    let bad = s.write_file("badenv", b"A=1\n=x\n");
    let bad = bad.to_str().unwrap();
    for args in [
        vec!["exec", "--env-file", bad, "envs", "true"],
        vec!["run", "--rm", "--env-file", bad, "busybox", "true"],
    ] {
        let e = s.fails_engine(&args);
        assert!(e.contains(bad) && e.contains(r#""=x""#), "{e}");
    }
    let e = s.fails_engine(&["exec", "-e", "=y", "envs", "true"]);
    assert!(e.contains(r#"invalid environment variable: "=y""#), "{e}");
    // A file that never ends is refused, not read until memory runs out.
    for args in [
        vec!["run", "--rm", "--env-file", "/dev/zero", "busybox", "true"],
        vec![
            "run",
            "--rm",
            "--label-file",
            "/dev/zero",
            "busybox",
            "true",
        ],
    ] {
        let e = s.fails_engine(&args);
        assert!(e.contains(r#""/dev/zero": larger than 2 MiB"#), "{e}");
    }
}

#[test]
fn exec_joins_every_namespace_of_the_containers_init() {
    let s = busybox();
    run_d(&s, &["--name", "web"], "sleep 100");
    let pid: i32 = s.inspect_format("web", "{{.State.Pid}}").parse().unwrap();
    let kinds = ["mnt", "net", "uts", "ipc", "pid", "cgroup"];
    let init: Vec<String> = kinds
        .iter()
        .map(|k| {
            fs::read_link(format!("/proc/{pid}/ns/{k}"))
                .unwrap_or_else(|e| panic!("reading the init's {k} namespace: {e}"))
                .display()
                .to_string()
        })
        .collect();
    // The container's own namespaces, not the caller's: a join that went
    // nowhere would not pass for one.
    let ours = fs::read_link("/proc/self/ns/mnt").unwrap();
    assert_ne!(
        init[0],
        ours.display().to_string(),
        "the container has its own mount namespace"
    );
    let script = format!(
        "for k in {}; do readlink /proc/self/ns/$k; done",
        kinds.join(" ")
    );
    let inside = s.ok(&["exec", "web", "sh", "-c", &script]);
    assert_eq!(
        inside.lines().collect::<Vec<_>>(),
        init,
        "the exec'd process's namespaces are the init's"
    );
    s.ok(&["rm", "-f", "-t", "0", "web"]);
}

#[test]
fn exec_into_a_stopped_container_fails() {
    let s = busybox();
    s.ok(&["create", "--name", "made", "busybox", "sleep", "100"]);
    run_d(&s, &["--name", "done"], "true");
    exited(&s, "done", 0);
    for name in ["made", "done"] {
        let e = s.fails_engine(&["exec", name, "true"]);
        assert!(
            e.contains("can only create exec sessions on running containers"),
            "{e}"
        );
    }
}

#[test]
fn exec_it_gets_a_pty() {
    let s = busybox();
    // Its containers run to the end; the harness removes them.
    s.expect_running();
    run_d(&s, &["--name", "web"], "sleep 100");
    let (mut child, master) = spawn_on_pty(
        &s,
        &["exec", "-it", "web", "sh", "-c", "tty; echo done"],
        24,
        80,
    );
    let rx = chunks(master);
    let mut acc = Vec::new();
    read_until(
        &rx,
        &mut acc,
        "done",
        Instant::now() + Duration::from_secs(20),
    );
    let code = wait_child(&mut child, Duration::from_secs(20));
    while let Ok(c) = rx.recv_timeout(Duration::from_millis(300)) {
        acc.extend(c);
    }
    let text = String::from_utf8_lossy(&acc);
    assert_eq!(code, Some(0), "exec -it exit code; output {text:?}");
    let tty = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .find(|l| l.starts_with("/dev/"));
    assert!(
        tty.is_some_and(|t| t
            .strip_prefix("/dev/pts/")
            .is_some_and(|n| n.parse::<u32>().is_ok())),
        "tty inside exec -it: {text:?}"
    );
}

// ---------------------------------------------------------------------------
// stop, start, restart, kill, wait, pause

#[test]
fn stop_timeout_kills_a_container_that_ignores_term() {
    let s = busybox();
    run_d(&s, &["--name", "web"], STUBBORN);
    let t = Instant::now();
    assert_eq!(s.ok(&["stop", "-t", "2", "web"]), "web\n");
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(6),
        "stop -t 2 of a container ignoring TERM took {took:?}"
    );
    assert_eq!(
        s.inspect_format("web", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 137"
    );
    assert_eq!(s.ok(&["wait", "web"]), "137\n");
    let ps = s.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.starts_with("web Exited (137)"), "{ps}");
    let e = s.fails_engine(&["stop", "web"]);
    assert!(
        e.contains("web"),
        "stop of a stopped container must name it: {e}"
    );

    // start again, then restart: a new process each time.
    assert_eq!(s.ok(&["start", "web"]), "web\n");
    assert_eq!(status(&s, "web"), "running");
    let pid1 = s.inspect_format("web", "{{.State.Pid}}");
    let t = Instant::now();
    assert_eq!(s.ok(&["restart", "-t", "1", "web"]), "web\n");
    assert!(
        t.elapsed() < Duration::from_secs(6),
        "restart -t 1 took {:?}",
        t.elapsed()
    );
    assert_eq!(status(&s, "web"), "running");
    let pid2 = s.inspect_format("web", "{{.State.Pid}}");
    assert_ne!(pid1, pid2, "restart must start a new process");
    assert!(
        !proc_alive(pid1.parse().unwrap()),
        "old process {pid1} still runs"
    );
    assert_clean(&s, "stop/start/restart");
}

#[test]
fn stop_a_container_that_handles_term_exits_with_its_code() {
    let s = busybox();
    run_d(
        &s,
        &["--name", "polite"],
        "trap 'exit 3' TERM; while true; do sleep 0.1; done",
    );
    let t = Instant::now();
    assert_eq!(s.ok(&["stop", "polite"]), "polite\n");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "stop took {:?}",
        t.elapsed()
    );
    assert_eq!(
        s.inspect_format("polite", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 3"
    );
    let fin = s.inspect_format("polite", "{{.State.FinishedAt}}");
    assert!(
        chrono::DateTime::parse_from_rfc3339(&fin).is_ok() && !fin.starts_with("0001"),
        "FinishedAt {fin}"
    );
}

#[test]
fn kill_sends_signals_and_rejects_bad_names() {
    let s = busybox();
    run_d(
        &s,
        &["--name", "web"],
        "trap 'echo got-hup' HUP; echo trapped; while true; do sleep 0.1; done",
    );
    // The shell has its trap once it says so: a HUP before that ends it.
    wait_logs(&s, "web", "trapped\n", Duration::from_secs(10));
    assert_eq!(s.ok(&["kill", "-s", "HUP", "web"]), "web\n");
    wait_logs(&s, "web", "got-hup", Duration::from_secs(10));
    assert_eq!(s.ok(&["kill", "-s", "SIGHUP", "web"]), "web\n");
    wait_logs(
        &s,
        "web",
        "trapped\ngot-hup\ngot-hup\n",
        Duration::from_secs(10),
    );
    assert_eq!(status(&s, "web"), "running");

    let e = s.fails_engine(&["kill", "-s", "FOO", "web"]);
    assert_eq!(e, "Error: invalid signal: FOO");
    assert_eq!(
        status(&s, "web"),
        "running",
        "a bad signal must change nothing"
    );

    // The default is KILL.
    assert_eq!(s.ok(&["kill", "web"]), "web\n");
    exited(&s, "web", 137);
    let e = s.fails_engine(&["kill", "web"]);
    assert!(e.contains("web"), "{e}");
}

#[test]
fn wait_prints_the_exit_code() {
    let s = busybox();
    let id = run_d(&s, &[], "sleep 1; exit 7");
    let t = Instant::now();
    assert_eq!(s.ok(&["wait", &id]), "7\n");
    assert!(
        t.elapsed() >= Duration::from_millis(500),
        "wait returned before the exit"
    );
    // Already exited: at once, same code; by a short id too.
    assert_eq!(s.ok(&["wait", &id[..12]]), "7\n");
    // Containers that exit at once: wait must report the recorded code,
    // never a default taken while the supervisor is still recording it.
    let mut wrong = Vec::new();
    for i in 0..5 {
        let id = run_d(&s, &[], &format!("exit {}", 10 + i));
        let got = s.ok(&["wait", &id]);
        if got != format!("{}\n", 10 + i) {
            wrong.push(format!("exit {}: wait printed {got:?}", 10 + i));
        }
    }
    assert!(wrong.is_empty(), "{wrong:?}");
}

#[test]
fn pause_freezes_and_unpause_resumes() {
    let s = busybox();
    run_d(
        &s,
        &["--name", "tick"],
        "i=0; while true; do i=$((i+1)); echo $i; sleep 0.1; done",
    );
    wait_logs(&s, "tick", "3\n", Duration::from_secs(10));
    assert_eq!(s.ok(&["pause", "tick"]), "tick\n");
    assert_eq!(
        s.inspect_format("tick", "{{.State.Status}} {{.State.Paused}}"),
        "paused true"
    );
    // ps -a (and ps, as Docker's) shows the paused one in Podman's words.
    let ps = s.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(
        ps.contains("tick Paused"),
        "ps -a of a paused container: {ps:?}"
    );
    std::thread::sleep(Duration::from_millis(300));
    let n1 = s.ok(&["logs", "tick"]).lines().count();
    std::thread::sleep(Duration::from_millis(1500));
    let n2 = s.ok(&["logs", "tick"]).lines().count();
    assert_eq!(n1, n2, "the counter advanced while paused");
    assert_eq!(s.ok(&["unpause", "tick"]), "tick\n");
    assert_eq!(status(&s, "tick"), "running");
    let advanced = eventually(Duration::from_secs(5), || {
        s.ok(&["logs", "tick"]).lines().count() > n2 + 3
    });
    assert!(advanced, "the counter did not resume after unpause");
    // A paused container can still be removed with -f.
    s.ok(&["pause", "tick"]);
    s.ok(&["rm", "-f", "tick"]);
    assert_clean(&s, "pause");
}

// ---------------------------------------------------------------------------
// create and start

#[test]
fn create_then_start_attached_and_detached() {
    let s = busybox();
    let id = s.ok(&["create", "--name", "c1", "busybox", "echo", "hi"]);
    assert!(is_full_id(id.trim()), "create prints the full id: {id:?}");
    assert_eq!(status(&s, "c1"), "created");
    assert_eq!(
        s.inspect_format("c1", "{{.State.StartedAt}}"),
        "0001-01-01T00:00:00Z"
    );
    let o = s.cmd(&["start", "-a", "c1"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "hi\n"), "{}", o.describe());
    assert_eq!(status(&s, "c1"), "exited");
    assert_eq!(s.ok(&["start", "c1"]), "c1\n");
    exited(&s, "c1", 0);
    assert_eq!(s.ok(&["logs", "c1"]), "hi\nhi\n");
    // start -a returns the container's code.
    s.ok(&["create", "--name", "c2", "busybox", "sh", "-c", "exit 4"]);
    s.fails(&["start", "-a", "c2"], 4);
}

// ---------------------------------------------------------------------------
// rm, prune, rename, exists, inspect

#[test]
fn rm_running_is_refused_and_rm_force_kills_at_once() {
    let s = busybox();
    let id = run_d(&s, &["--name", "web"], STUBBORN);
    let pid: i32 = s.inspect_format("web", "{{.State.Pid}}").parse().unwrap();
    // podman-rm(1): a running container is exit 2.
    let e = s.fails(&["rm", "web"], 2);
    assert!(
        e.contains("running") && (e.contains("web") || e.contains(&id[..12])),
        "{e}"
    );
    assert_eq!(
        status(&s, "web"),
        "running",
        "a refused rm must change nothing"
    );
    let t = Instant::now();
    assert_eq!(s.ok(&["rm", "-f", "web"]), "web\n");
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "rm -f took {:?}",
        t.elapsed()
    );
    assert!(!proc_alive(pid), "the container process survived rm -f");
    s.fails_engine(&["inspect", "--format", "{{.Id}}", "web"]);
    assert_no_supervisors(&s, "rm -f");
}

#[test]
fn rm_all_and_container_prune() {
    let s = busybox();
    s.ok(&["create", "--name", "a", "busybox", "true"]);
    s.ok(&["create", "--name", "b", "busybox", "true"]);
    s.ok(&["rm", "-a"]);
    assert!(s.container_ids().is_empty(), "rm -a left containers");

    let web = run_d(&s, &["--name", "web"], "sleep 100");
    let d1 = run_d(&s, &["--name", "d1"], "exit 1");
    let d2 = run_d(&s, &["--name", "d2"], "exit 0");
    exited(&s, "d1", 1);
    exited(&s, "d2", 0);
    let out = s.ok(&["container", "prune", "-f"]);
    let mut pruned: Vec<&str> = out.lines().collect();
    pruned.sort();
    let mut want = vec![d1.as_str(), d2.as_str()];
    want.sort();
    assert_eq!(pruned, want, "prune prints the removed ids");
    assert_eq!(s.container_ids(), vec![web[..12].to_string()]);
    assert_eq!(status(&s, "web"), "running");
    assert_clean(&s, "prune");
}

#[test]
fn rename_and_exists() {
    let s = busybox();
    // Its containers run to the end; the harness removes them.
    s.expect_running();
    run_d(&s, &["--name", "web"], "sleep 100");
    s.ok(&["container", "exists", "web"]);
    s.ok(&["rename", "web", "www"]);
    s.fails(&["container", "exists", "web"], 1);
    s.ok(&["container", "exists", "www"]);
    assert_eq!(s.ok(&["ps", "--format", "{{.Names}}"]), "www\n");
    s.ok(&["exec", "www", "true"]);
    // The old name is free again; a taken name is refused.
    s.ok(&["create", "--name", "web", "busybox", "true"]);
    let e = s.fails_engine(&["rename", "web", "www"]);
    assert!(e.contains("www"), "{e}");
}

#[test]
fn inspect_keys_and_format() {
    let s = busybox();
    let id = run_d(
        &s,
        &["--name", "web", "--restart", "on-failure:2"],
        "sleep 100",
    );
    let v = inspect_json(&s, "web");
    let conmon = v["State"]["ConmonPid"].as_i64().unwrap_or(0);
    let pid = v["State"]["Pid"].as_i64().unwrap_or(0);
    let mut problems = Vec::new();
    let mut check = |what: &str, ok: bool| {
        if !ok {
            problems.push(what.to_string());
        }
    };
    check("Id", v["Id"] == id.as_str());
    check("Name", v["Name"] == "web");
    check("State.Status", v["State"]["Status"] == "running");
    check("State.Running", v["State"]["Running"] == true);
    check("State.Pid", pid > 0 && proc_alive(pid as i32));
    check(
        "State.ConmonPid",
        conmon > 0 && cmdline(conmon as i32).contains("_supervise"),
    );
    check("State.ExitCode", v["State"]["ExitCode"] == 0);
    check(
        "State.StartedAt",
        v["State"]["StartedAt"].as_str().is_some_and(|t| {
            chrono::DateTime::parse_from_rfc3339(t).is_ok() && !t.starts_with("0001")
        }),
    );
    check(
        "State.FinishedAt",
        v["State"]["FinishedAt"] == "0001-01-01T00:00:00Z",
    );
    let env: Vec<&str> = v["Config"]["Env"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e.as_str()).collect())
        .unwrap_or_default();
    check(
        "Config.Env has container=skiff",
        env.contains(&"container=skiff"),
    );
    check(
        "Config.Env has HOSTNAME=<12-hex id>",
        env.contains(&format!("HOSTNAME={}", &id[..12]).as_str()),
    );
    check(
        "HostConfig.RestartPolicy.Name",
        v["HostConfig"]["RestartPolicy"]["Name"] == "on-failure",
    );
    check(
        "HostConfig.RestartPolicy.MaximumRetryCount",
        v["HostConfig"]["RestartPolicy"]["MaximumRetryCount"] == 2,
    );
    check(
        "HostConfig.LogConfig.Type",
        v["HostConfig"]["LogConfig"]["Type"] == "k8s-file",
    );
    check("RestartCount", v["RestartCount"] == 0);
    assert!(
        problems.is_empty(),
        "inspect keys wrong: {problems:?}\n{v:#}"
    );

    assert_eq!(
        s.inspect_format("web", "{{.State.Status}} {{.State.ExitCode}}"),
        "running 0"
    );
    s.ok(&["kill", "web"]);
    s.ok(&["wait", "web"]);
    // on-failure restarts a killed container; stop it for good.
    s.ok(&["stop", "web"]).to_string();
    let st = s.inspect_format(
        "web",
        "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}",
    );
    assert!(st.starts_with("exited ") && st.ends_with(" false"), "{st}");
    let fin = s.inspect_format("web", "{{.State.FinishedAt}}");
    assert!(!fin.starts_with("0001"), "FinishedAt after exit: {fin}");
}

// ---------------------------------------------------------------------------
// attach

fn attach_and_detach(detach_flag: &[&str], keys: &[u8]) {
    let s = busybox();
    s.ok(&["run", "-d", "-it", "--name", "web", "busybox", "sh"]);
    let mut args = vec!["attach"];
    args.extend_from_slice(detach_flag);
    args.push("web");
    let (mut child, mut master) = spawn_on_pty(&s, &args, 24, 80);
    let rx = chunks(master.try_clone().unwrap());
    let mut acc = Vec::new();
    // The shell echoes what it reads; h''i proves the output came from it.
    std::thread::sleep(Duration::from_millis(500));
    master.write_all(b"echo h''i-there\r").unwrap();
    let seen = read_until(
        &rx,
        &mut acc,
        "hi-there",
        Instant::now() + Duration::from_secs(15),
    );
    if !seen {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "attach: no output from the shell: {:?}",
            String::from_utf8_lossy(&acc)
        );
    }
    master.write_all(keys).unwrap();
    let code = wait_child(&mut child, Duration::from_secs(10));
    assert_eq!(
        code,
        Some(0),
        "attach must return 0 after the detach keys; output {:?}",
        String::from_utf8_lossy(&acc)
    );
    assert_eq!(
        status(&s, "web"),
        "running",
        "detaching must leave the container running"
    );
    // Attach again: the shell is still the same one.
    s.ok(&["exec", "web", "true"]);
    assert_clean(&s, "attach");
}

#[test]
fn attach_on_a_pty_and_detach_with_ctrl_p_ctrl_q() {
    attach_and_detach(&[], b"\x10\x11");
}

#[test]
fn attach_with_custom_detach_keys() {
    attach_and_detach(&["--detach-keys", "ctrl-x,ctrl-y"], b"\x18\x19");
}

// ---------------------------------------------------------------------------
// restart policies

#[test]
fn restart_on_failure_stops_after_the_limit() {
    let s = busybox();
    run_d(
        &s,
        &["--name", "bad", "--restart", "on-failure:3"],
        "exit 1",
    );
    let mut last = String::new();
    let done = eventually(Duration::from_secs(40), || {
        last = s.inspect_format(
            "bad",
            "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}",
        );
        last == "exited 3 1"
    });
    assert!(
        done,
        "on-failure:3: last state {last:?}, want \"exited 3 1\""
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        s.inspect_format("bad", "{{.State.Status}} {{.RestartCount}}"),
        "exited 3"
    );
    assert_no_supervisors(&s, "on-failure after the last try");

    // Success is not restarted.
    run_d(
        &s,
        &["--name", "good", "--restart", "on-failure:3"],
        "exit 0",
    );
    s.ok(&["wait", "good"]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        s.inspect_format("good", "{{.State.Status}} {{.RestartCount}}"),
        "exited 0"
    );
}

#[test]
fn restart_always_comes_back_until_stopped() {
    let s = busybox();
    run_d(&s, &["--name", "r", "--restart", "always"], "sleep 1");
    let mut last = String::new();
    let grew = eventually(Duration::from_secs(30), || {
        last = s.inspect_format("r", "{{.RestartCount}}");
        last.parse::<u32>().is_ok_and(|n| n >= 2)
    });
    assert!(grew, "--restart always: RestartCount stayed {last:?}");
    s.ok(&["stop", "r"]);
    let n = s.inspect_format("r", "{{.RestartCount}}");
    assert_eq!(status(&s, "r"), "exited");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        s.inspect_format("r", "{{.State.Status}} {{.RestartCount}}"),
        format!("exited {n}"),
        "a stopped always-container must stay down"
    );
    assert_no_supervisors(&s, "stopped always-container");
    // start brings it back under its policy.
    s.ok(&["start", "r"]);
    assert_eq!(status(&s, "r"), "running");
    assert_clean(&s, "restart always");
}

#[test]
fn stopped_by_user_is_never_lost_and_cleared_by_the_next_start() {
    let s = busybox();
    // `stop` right after `run -d`, again and again: its request is
    // recorded by stop alone and read at the exit, whatever else writes.
    for i in 0..20 {
        s.ok(&["run", "-d", "--name", "sb", BUSYBOX, "sleep", "1000"]);
        s.ok(&["stop", "-t", "0", "sb"]);
        assert_eq!(
            s.inspect_format("sb", "{{.State.StoppedByUser}} {{.State.Status}}"),
            "true exited",
            "iteration {i}"
        );
        s.ok(&["rm", "-f", "sb"]);
    }
    // An always-container stopped while it runs and while it waits out
    // its back-off: stopped by the user, down for good; the next start
    // clears it, and its own exit is not the user's.
    for delay_ms in [100u64, 450] {
        run_d(&s, &["--name", "r", "--restart", "always"], "sleep 0.3");
        std::thread::sleep(Duration::from_millis(delay_ms));
        s.ok(&["stop", "-t", "0", "r"]);
        assert_eq!(
            s.inspect_format("r", "{{.State.StoppedByUser}} {{.State.Status}}"),
            "true exited",
            "stop after {delay_ms} ms"
        );
        assert_no_supervisors(&s, &format!("stop after {delay_ms} ms"));
        s.ok(&["rm", "-f", "r"]);
    }
    run_d(&s, &["--name", "again"], "sleep 1000");
    s.ok(&["stop", "-t", "0", "again"]);
    s.ok(&["start", "again"]);
    assert_eq!(
        s.inspect_format("again", "{{.State.StoppedByUser}} {{.State.Status}}"),
        "false running"
    );
    s.ok(&["kill", "again"]);
    s.ok(&["wait", "again"]);
    assert_eq!(
        s.inspect_format("again", "{{.State.StoppedByUser}}"),
        "false"
    );
    assert_clean(&s, "stopped by user");
}

#[test]
fn rm_force_of_an_always_container_between_restarts() {
    let s = busybox();
    // rm -f at several points of the run/exit/restart cycle.
    for delay_ms in [300u64, 700, 1100] {
        run_d(&s, &["--name", "r", "--restart", "always"], "sleep 0.5");
        std::thread::sleep(Duration::from_millis(delay_ms));
        let o = s.cmd(&["rm", "-f", "r"]);
        assert_eq!(
            (o.code, o.stdout.as_str()),
            (0, "r\n"),
            "rm -f after {delay_ms} ms\n{}",
            o.describe()
        );
        assert!(s.container_ids().is_empty(), "rm -f left the container");
        assert_no_supervisors(&s, &format!("rm -f after {delay_ms} ms"));
    }
}

// ---------------------------------------------------------------------------
// crashes

#[test]
fn supervisor_killed_with_sigkill() {
    let s = busybox();
    run_d(&s, &["--name", "web"], "sleep 100");
    let conmon: i32 = s
        .inspect_format("web", "{{.State.ConmonPid}}")
        .parse()
        .unwrap();
    let pid: i32 = s.inspect_format("web", "{{.State.Pid}}").parse().unwrap();
    assert!(
        cmdline(conmon).contains("_supervise"),
        "ConmonPid {conmon}: {}",
        cmdline(conmon)
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(conmon),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let mut ps = String::new();
    let down = eventually(Duration::from_secs(10), || {
        ps = s.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
        ps.starts_with("web Exited")
    });
    assert!(down, "ps -a after the supervisor died: {ps:?}");
    assert_eq!(s.inspect_format("web", "{{.State.Running}}"), "false");
    assert!(
        s.ok(&["ps", "-q"]).is_empty(),
        "ps still lists it as running"
    );
    let gone = eventually(Duration::from_secs(10), || !proc_alive(pid));
    assert!(gone, "the container process {pid} outlived its supervisor");
    assert_eq!(s.ok(&["rm", "-f", "web"]), "web\n");
    assert_clean(&s, "supervisor crash");
    // The name is free again.
    assert_eq!(
        s.ok(&["run", "--rm", "--name", "web", "busybox", "echo", "ok"]),
        "ok\n"
    );
}

#[test]
fn cli_killed_in_the_middle_of_run() {
    let s = busybox();
    let mut problems = Vec::new();
    for delay_ms in [0u64, 20, 50, 100, 200, 400, 1000] {
        let mut child = s.spawn(&["run", "--name", "x", "busybox", "sleep", "100"]);
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let ps = s.cmd(&["ps", "-a"]);
        if ps.code != 0 {
            problems.push(format!(
                "after {delay_ms} ms: ps -a failed\n{}",
                ps.describe()
            ));
        }
        let rm = s.cmd(&["rm", "-f", "x"]);
        let ok_rm = rm.code == 0 || (rm.code == 125 && rm.stderr.contains("no such container"));
        if !ok_rm {
            problems.push(format!("after {delay_ms} ms: rm -f x\n{}", rm.describe()));
        }
        let o = s.cmd(&["run", "--rm", "--name", "x", "busybox", "echo", "ok"]);
        if (o.code, o.stdout.as_str()) != (0, "ok\n") {
            problems.push(format!(
                "after {delay_ms} ms: run --name x again\n{}",
                o.describe()
            ));
            let _ = s.cmd(&["rm", "-f", "x"]);
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_clean(&s, "CLI killed mid-run");
}

// ---------------------------------------------------------------------------
// concurrency

#[test]
fn twenty_concurrent_runs_and_removes() {
    let s = busybox();
    let ids: Vec<Output> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..20)
            .map(|_| sc.spawn(|| s.cmd(&["run", "-d", "busybox", "sleep", "100"])))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let bad: Vec<String> = ids
        .iter()
        .filter(|o| o.code != 0)
        .map(|o| o.describe())
        .collect();
    assert!(
        bad.is_empty(),
        "concurrent run -d failed:\n{}",
        bad.join("\n")
    );
    let ids: Vec<String> = ids.iter().map(|o| o.stdout.trim().to_string()).collect();
    assert!(ids.iter().all(|i| is_full_id(i)), "{ids:?}");
    assert_eq!(s.ok(&["ps", "-q"]).lines().count(), 20);
    let names = s.ok(&["ps", "--format", "{{.Names}}"]);
    let mut n: Vec<&str> = names.lines().collect();
    n.sort();
    n.dedup();
    assert_eq!(n.len(), 20, "generated names must be unique: {names}");

    let rms: Vec<Output> = std::thread::scope(|sc| {
        let hs: Vec<_> = ids
            .iter()
            .map(|id| {
                let s = &s;
                sc.spawn(move || s.cmd(&["rm", "-f", id]))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let bad: Vec<String> = rms
        .iter()
        .filter(|o| o.code != 0)
        .map(|o| o.describe())
        .collect();
    assert!(
        bad.is_empty(),
        "concurrent rm -f failed:\n{}",
        bad.join("\n")
    );
    assert_eq!(s.ok(&["ps", "-a", "-q"]), "");
    assert_no_supervisors(&s, "20 rm -f");
    let m = container_mounts(&s);
    assert!(m.is_empty(), "mounts left after 20 rm -f: {m:?}");
    let dir = s.data_home.join("skiff/containers");
    let left: Vec<String> = fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        !left
            .iter()
            .any(|l| ids.iter().any(|i| l.contains(i.as_str()))),
        "container directories left: {left:?}"
    );
}

#[test]
fn two_runs_with_the_same_name_exactly_one_wins() {
    let s = busybox();
    for round in 0..3 {
        let outs: Vec<Output> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    sc.spawn(|| s.cmd(&["run", "-d", "--name", "same", "busybox", "sleep", "100"]))
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let won: Vec<&Output> = outs.iter().filter(|o| o.code == 0).collect();
        let lost: Vec<&Output> = outs.iter().filter(|o| o.code != 0).collect();
        let all = outs
            .iter()
            .map(|o| o.describe())
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!((won.len(), lost.len()), (1, 1), "round {round}:\n{all}");
        assert_eq!(lost[0].code, 125, "{all}");
        let e = one_error_line(lost[0]);
        assert!(
            e.contains("\"same\"") && e.contains("already in use"),
            "{e}"
        );
        assert_eq!(s.container_ids().len(), 1, "round {round}: one container");
        assert_eq!(s.inspect_format("same", "{{.Id}}"), won[0].stdout.trim());
        s.ok(&["rm", "-f", "same"]);
    }
    assert_clean(&s, "name race");
}

// ---------------------------------------------------------------------------
// sd_notify

/// A datagram socket in the test home that skiff's user may send to.
fn notify_socket(s: &Skiff) -> (UnixDatagram, String) {
    let path = s.home.join("notify.sock");
    let _ = fs::remove_file(&path);
    let sock = UnixDatagram::bind(&path).expect("bind the notify socket");
    std::os::unix::fs::chown(&path, Some(s.uid()), Some(s.gid())).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    (sock, path.to_string_lossy().into_owned())
}

/// Everything received on `sock` until `want` is seen or `limit` passes.
fn receive(sock: &UnixDatagram, want: &str, limit: Duration) -> String {
    let mut text = String::new();
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline && !text.lines().any(|l| l == want) {
        if let Ok(n) = sock.recv(&mut buf) {
            text.push_str(&String::from_utf8_lossy(&buf[..n]));
            if !text.ends_with('\n') {
                text.push('\n');
            }
        }
    }
    text
}

#[test]
fn sd_notify_conmon_sends_ready_and_the_supervisor_pid() {
    let s = busybox();
    // Its containers run to the end; the harness removes them.
    s.expect_running();
    let (sock, path) = notify_socket(&s);
    let args = [
        "run",
        "-d",
        "--name",
        "n1",
        "--sdnotify=conmon",
        "busybox",
        "sleep",
        "100",
    ];
    let o = s.cmd_env(&args, &[("NOTIFY_SOCKET", &path)]);
    assert_eq!(o.code, 0, "{}", o.describe());
    let text = receive(&sock, "READY=1", Duration::from_secs(10));
    assert!(
        text.lines().any(|l| l == "READY=1"),
        "no READY=1, got {text:?}"
    );
    let conmon = s.inspect_format("n1", "{{.State.ConmonPid}}");
    assert!(
        text.lines().any(|l| l == format!("MAINPID={conmon}")),
        "want MAINPID={conmon} (the supervisor), got {text:?}"
    );
}

#[test]
fn sd_notify_default_is_container_mainpid_only_then_stopping() {
    let s = busybox();
    let (sock, path) = notify_socket(&s);
    let args = ["run", "-d", "--name", "d", "busybox", "sleep", "100"];
    let o = s.cmd_env(&args, &[("NOTIFY_SOCKET", &path)]);
    assert_eq!(o.code, 0, "{}", o.describe());
    let conmon = s.inspect_format("d", "{{.State.ConmonPid}}");
    let text = receive(&sock, &format!("MAINPID={conmon}"), Duration::from_secs(10));
    assert!(text.contains(&format!("MAINPID={conmon}")), "got {text:?}");
    // Podman 5's default mode leaves READY=1 to the container.
    let more = receive(&sock, "READY=1", Duration::from_millis(500));
    assert!(
        !(text + &more).contains("READY=1"),
        "default mode sent READY=1"
    );
    s.ok(&["stop", "-t", "0", "d"]);
    let text = receive(&sock, "STOPPING=1", Duration::from_secs(10));
    assert!(text.lines().any(|l| l == "STOPPING=1"), "got {text:?}");
    s.ok(&["rm", "d"]);
}

#[test]
fn sd_notify_ignore_sends_nothing() {
    let s = busybox();
    // Its containers run to the end; the harness removes them.
    s.expect_running();
    let (sock, path) = notify_socket(&s);
    let args = [
        "run",
        "-d",
        "--sdnotify=ignore",
        "--name",
        "n",
        "busybox",
        "sleep",
        "100",
    ];
    let o = s.cmd_env(&args, &[("NOTIFY_SOCKET", &path)]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(status(&s, "n"), "running");
    let text = receive(&sock, "READY=1", Duration::from_secs(2));
    assert_eq!(text, "", "--sdnotify=ignore sent notifications");
}

// ---------------------------------------------------------------------------
// bad input

#[test]
fn unknown_container_is_125_with_one_line() {
    let s = busybox();
    let want = "Error: no container with name or ID \"nosuch\" found: no such container";
    let mut problems = Vec::new();
    for args in [
        &["logs", "nosuch"][..],
        &["stop", "nosuch"],
        &["start", "nosuch"],
        &["kill", "nosuch"],
        &["restart", "nosuch"],
        &["wait", "nosuch"],
        &["pause", "nosuch"],
        &["unpause", "nosuch"],
        &["exec", "nosuch", "true"],
        &["attach", "nosuch"],
        &["rename", "nosuch", "other"],
    ] {
        let o = s.cmd(args);
        let lines: Vec<&str> = o.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        if o.code != 125 || lines != [want] {
            problems.push(o.describe());
        }
    }
    assert!(
        problems.is_empty(),
        "want 125 and `{want}`:\n{}",
        problems.join("\n")
    );
    s.fails(&["container", "exists", "nosuch"], 1);
    // podman-rm(1): a container that does not exist is exit 1.
    s.fails(&["rm", "nosuch"], 1);
}

#[test]
fn ambiguous_id_prefix_is_named() {
    let s = busybox();
    let mut ids: Vec<String> = Vec::new();
    let prefix = loop {
        let id = s.ok(&["create", "busybox", "true"]).trim().to_string();
        if let Some(p) = ids.iter().find(|i| i[..1] == id[..1]) {
            break p[..1].to_string();
        }
        ids.push(id);
        assert!(
            ids.len() <= 17,
            "16 hex digits: a collision is certain by now"
        );
    };
    let e = s.fails_engine(&["inspect", "--format", "{{.Id}}", &prefix]);
    assert!(
        e.contains(&format!("\"{prefix}\""))
            && (e.contains("more than one") || e.contains("ambiguous")),
        "ambiguous prefix: {e}"
    );
    let e = s.fails_engine(&["rm", &prefix]);
    assert!(
        e.contains("more than one") || e.contains("ambiguous"),
        "{e}"
    );
}

#[test]
fn bad_restart_policy_and_ps_filter() {
    let s = busybox();
    let e = s.fails_engine(&["run", "-d", "--restart", "sometimes", "busybox", "true"]);
    assert!(e.contains("sometimes"), "{e}");
    let e = s.fails_engine(&["create", "--restart", "on-failure:x", "busybox", "true"]);
    assert!(e.contains("on-failure:x"), "{e}");
    assert!(
        s.container_ids().is_empty(),
        "a bad policy must create nothing"
    );
    let e = s.fails_engine(&["ps", "--filter", "bogus=1"]);
    assert!(e.contains("bogus"), "{e}");
}

/// Issue 9, defect 5: an attach client that stops reading must neither stop
/// the container's output to the log nor be dropped silently. The
/// supervisor buffers a bounded amount for it, then drops frames for it
/// alone and tells it how many bytes it missed.
#[test]
fn a_slow_attach_client_holds_up_neither_the_container_nor_its_log() {
    let s = busybox();
    // Says "waiting" until /tmp/go exists, then writes 300,000 numbered
    // lines (2 MB, far more than a socket, a pipe and the client's buffer
    // hold). No pipeline: the container's SIGPIPE is another issue.
    let script = "until [ -e /tmp/go ]; do echo waiting; sleep 0.1; done; \
                  seq 1 300000; echo END; sleep 300";
    run_d(&s, &["--name", "chatty"], script);
    let mut child = s.spawn(&["attach", "--no-stdin", "chatty"]);
    let out = child.stdout.take().unwrap();
    let err = chunks(child.stderr.take().unwrap());
    // Read until the client is surely connected, then stop reading.
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let (go_on_tx, go_on_rx) = mpsc::channel::<()>();
    let reader = std::thread::spawn(move || {
        let mut out = out;
        let mut buf = [0u8; 4096];
        let n = out.read(&mut buf).unwrap_or(0);
        let _ = tx.send(buf[..n].to_vec());
        // Stalled: the attach client's stdout pipe fills, and so on back
        // to the supervisor.
        let _ = go_on_rx.recv();
        let mut rest = Vec::new();
        let _ = out.read_to_end(&mut rest);
        rest.len()
    });
    let first = rx.recv_timeout(Duration::from_secs(15)).unwrap_or_default();
    assert!(
        String::from_utf8_lossy(&first).contains("waiting"),
        "attach showed no output: {:?}",
        String::from_utf8_lossy(&first)
    );
    s.ok(&["exec", "chatty", "touch", "/tmp/go"]);
    // The log gets every line although the client reads nothing.
    let mut logs = String::new();
    let ended = eventually(Duration::from_secs(60), || {
        logs = s.ok(&["logs", "chatty"]);
        logs.ends_with("END\n")
    });
    let numbers: Vec<&str> = logs.lines().filter(|l| *l != "waiting").collect();
    let want: Vec<String> = (1..=300_000).map(|n| n.to_string()).collect();
    assert!(
        ended && numbers.len() == want.len() + 1 && numbers[..want.len()] == want[..],
        "the log lacks lines: {} lines, ending {:?}",
        numbers.len(),
        numbers.iter().rev().take(3).collect::<Vec<_>>()
    );
    assert_eq!(
        child.try_wait().unwrap(),
        None,
        "the slow client was dropped instead of served"
    );
    // Now it reads again and the container ends: the client hears what
    // it missed, then the exit.
    go_on_tx.send(()).unwrap();
    s.ok(&["rm", "-f", "chatty"]);
    let code = wait_child(&mut child, Duration::from_secs(15));
    let got = reader.join().unwrap();
    let mut said = Vec::new();
    let warned = read_until(
        &err,
        &mut said,
        "were not shown",
        Instant::now() + Duration::from_secs(5),
    );
    assert!(
        warned,
        "no word of the dropped output on stderr: {:?}",
        String::from_utf8_lossy(&said)
    );
    assert_eq!(code, Some(137), "attach returns the container's code");
    assert!(got > 0, "the client got output after catching up");
    assert_clean(&s, "slow attach");
}

// ---- Issue 9: one owner of container state, and the faults around it ----

/// Supervisors of this test that are not children of another supervisor (a
/// freshly forked container init still shows the supervisor's command line).
fn top_supervisors(s: &Skiff) -> Vec<i32> {
    let sups: Vec<i32> = supervisors(s).into_iter().map(|(p, _)| p).collect();
    let ppid = |p: i32| -> i32 {
        fs::read_to_string(format!("/proc/{p}/stat"))
            .ok()
            .and_then(|st| {
                st.rsplit_once(')')
                    .and_then(|(_, r)| r.split_whitespace().nth(1))
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(0)
    };
    sups.iter()
        .copied()
        .filter(|p| !sups.contains(&ppid(*p)))
        .collect()
}

#[test]
fn start_during_a_restart_backoff_keeps_one_supervisor() {
    let s = busybox();
    run_d(
        &s,
        &["--name", "rs", "--restart", "always"],
        "sleep 0.1; exit 3",
    );
    let count = || {
        s.inspect_format("rs", "{{.RestartCount}}")
            .parse::<u32>()
            .unwrap_or(0)
    };
    assert!(
        eventually(Duration::from_secs(30), || count() >= 2),
        "RestartCount never reached 2"
    );
    s.ok(&["start", "rs"]);
    let before = count();
    let t0 = Instant::now();
    let mut most = Vec::new();
    while t0.elapsed() < Duration::from_secs(4) {
        let now = top_supervisors(&s);
        if now.len() > most.len() {
            most = now;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let grown = count() - before;
    assert_eq!(
        most.len(),
        1,
        "supervisors of one container: {most:?} ({:?})",
        most.iter().map(|p| cmdline(*p)).collect::<Vec<_>>()
    );
    // The back-off is >= 400 ms and doubles from there: at most 4 more runs
    // in 4 s (two supervisors made it jump by 10 in 8 s).
    assert!(grown <= 4, "RestartCount grew by {grown} in 4 s");
    assert_clean(&s, "start during back-off");
}

#[test]
fn rmi_force_removes_the_running_containers_that_use_the_image() {
    let s = busybox();
    let id = run_d(&s, &["--name", "r1"], "sleep 300");
    let o = s.cmd(&["rmi", "busybox"]);
    assert_eq!(
        o.code,
        2,
        "rmi of an image a container uses\n{}",
        o.describe()
    );
    let line = one_error_line(&o);
    assert!(line.contains(&id), "the error names the container: {line}");
    assert_eq!(status(&s, "r1"), "running");
    s.ok(&["rmi", "-f", "busybox"]);
    assert!(s.container_ids().is_empty(), "rmi -f left the container");
    assert_no_supervisors(&s, "rmi -f");
    let left: Vec<String> = s
        .processes()
        .into_iter()
        .map(cmdline)
        .filter(|c| c.contains("sleep 300"))
        .collect();
    assert!(left.is_empty(), "rmi -f orphaned the container: {left:?}");
    let m = container_mounts(&s);
    assert!(m.is_empty(), "rmi -f left mounts: {m:?}");
}

#[test]
fn kill_stop_and_exec_never_act_on_a_recycled_pid() {
    let s = busybox();
    let id = run_d(&s, &["--name", "k"], "sleep 300");
    // Another process of the same user now holds the pid in the record, as
    // after the container's init died and its pid was reused.
    let mut decoy = std::process::Command::new("sleep");
    decoy.arg("300");
    if let Some((uid, gid)) = env().drop_to {
        decoy.uid(uid).gid(gid);
    }
    let mut decoy = decoy.spawn().unwrap();
    let decoy_pid = decoy.id() as i32;
    let rec = s
        .data_home
        .join("skiff/containers")
        .join(&id)
        .join("container.json");
    let orig = fs::read(&rec).unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&orig).unwrap();
    assert_ne!(v["state"]["start_time"], 0, "the start time is recorded");
    v["state"]["pid"] = decoy_pid.into();
    fs::write(&rec, serde_json::to_vec(&v).unwrap()).unwrap();
    let o = s.cmd(&["kill", "k"]);
    assert!(
        proc_alive(decoy_pid),
        "kill signalled a recycled pid\n{}",
        o.describe()
    );
    let o = s.cmd(&["exec", "k", "true"]);
    assert_ne!(o.code, 0, "exec joined a recycled pid\n{}", o.describe());
    let o = s.cmd(&["stop", "-t", "1", "k"]);
    assert!(
        proc_alive(decoy_pid),
        "stop signalled a recycled pid\n{}",
        o.describe()
    );
    fs::write(&rec, &orig).unwrap();
    let _ = decoy.kill();
    let _ = decoy.wait();
    assert_clean(&s, "recycled pid");
}

#[test]
fn a_killed_supervisor_reports_the_container_killed() {
    let s = busybox();
    run_d(&s, &["--name", "web"], "sleep 100");
    let conmon: i32 = s
        .inspect_format("web", "{{.State.ConmonPid}}")
        .parse()
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(conmon),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let mut ps = String::new();
    let down = eventually(Duration::from_secs(10), || {
        ps = s.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
        ps.starts_with("web Exited")
    });
    assert!(down, "ps -a after the supervisor died: {ps:?}");
    assert!(ps.starts_with("web Exited (137)"), "{ps:?}");
    assert_eq!(
        s.inspect_format("web", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 137"
    );
    assert_eq!(s.ok(&["wait", "web"]).trim(), "137");
    assert_clean(&s, "supervisor killed");
}

#[test]
fn a_foreground_run_whose_exit_cannot_be_recorded_returns_its_own_code() {
    assert!(
        env().drop_to.is_some(),
        "this test makes a directory immutable (chattr +i) and must run as root"
    );
    let s = busybox();
    let w = s.make_dir(&s.home.join("w"));
    let mut run = s
        .command(&[
            "run",
            "--name",
            "fg",
            "-v",
            &format!("{}:/w", w.display()),
            "busybox",
            "sh",
            "-c",
            "while [ ! -e /w/go ]; do sleep 0.05; done; exit 7",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        eventually(Duration::from_secs(30), || {
            s.cmd(&["inspect", "--format", "{{.State.Status}}", "fg"])
                .stdout
                .trim()
                == "running"
        }),
        "fg never ran"
    );
    let id = s.inspect_format("fg", "{{.Id}}");
    let dir = s.data_home.join("skiff/containers").join(&id);
    // No new file can be made there: the exit record cannot be written.
    let chattr = |flag: &str| {
        let st = std::process::Command::new("chattr")
            .arg(flag)
            .arg(&dir)
            .status()
            .unwrap();
        assert!(st.success(), "chattr {flag}");
    };
    chattr("+i");
    fs::write(w.join("go"), b"").unwrap();
    let code = wait_child(&mut run, Duration::from_secs(30));
    chattr("-i");
    let mut err = String::new();
    run.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(
        code,
        Some(7),
        "run must return the container's code; stderr: {err}"
    );
    assert_clean(&s, "unwritable exit record");
}

#[test]
fn a_create_killed_while_writing_its_record_leaves_no_temp_file() {
    let s = busybox();
    // A file-size limit below the record's size: the write fails with
    // SIGXFSZ and kills create half-way, as a full disk or a crash would.
    let mut c = s.command(&["create", "--name", "half", "busybox", "true"]);
    // SAFETY: setrlimit is async-signal-safe and touches no shared state.
    unsafe {
        c.pre_exec(|| {
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_FSIZE, 512, 512)
                .map_err(std::io::Error::from)
        });
    }
    let o = c.output().unwrap();
    assert!(
        !o.status.success(),
        "create under a 512-byte file limit succeeded"
    );
    let containers = s.data_home.join("skiff/containers");
    let leftovers = || -> Vec<String> {
        let mut out = Vec::new();
        for e in fs::read_dir(&containers).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !e.path().is_dir() {
                continue;
            }
            for f in fs::read_dir(e.path()).into_iter().flatten().flatten() {
                out.push(format!("{name}/{}", f.file_name().to_string_lossy()));
            }
            if !e.path().join("container.json").exists() {
                out.push(format!("{name}/ (no record)"));
            }
        }
        out
    };
    assert!(s.ok(&["ps", "-a", "-q"]).is_empty());
    // The next command that takes the same lock sweeps what it left.
    s.ok(&["create", "--name", "whole", "busybox", "true"]);
    let left: Vec<String> = leftovers()
        .into_iter()
        .filter(|l| l.contains(".tmp") || l.contains("no record"))
        .collect();
    assert!(left.is_empty(), "a killed create left {left:?}");
    assert_eq!(s.ok(&["ps", "-a", "--format", "{{.Names}}"]), "whole\n");
}

/// Leaves what an interrupted pull leaves: a blob and an unpacked layer
/// that no image references, older than a pull in progress could be.
fn plant_unreferenced_layer_and_blob(s: &Skiff) -> (std::path::PathBuf, std::path::PathBuf) {
    let root = s.data_home.join("skiff");
    let hex = "ab".repeat(32);
    let blob = root.join("blobs/sha256").join(&hex);
    let layer = root.join("layers").join(&hex);
    s.ok(&[
        "unshare",
        "sh",
        "-c",
        &format!(
            "mkdir -p {l}/diff && echo x > {l}/diff/f && echo half > {b} && touch -d '2 hours ago' {l} {b}",
            l = layer.display(),
            b = blob.display()
        ),
    ]);
    assert!(blob.exists() && layer.exists());
    (blob, layer)
}

#[test]
fn system_prune_asks_then_removes_stopped_containers_unused_images_and_leftovers() {
    let s = busybox();
    let stopped = s.ok(&["create", "--name", "stopped", "busybox", "true"]);
    let stopped = stopped.trim();
    run_d(&s, &["--name", "up"], "sleep 300");
    let (blob, layer) = plant_unreferenced_layer_and_blob(&s);

    let o = s.cmd_stdin(&["system", "prune"], b"n\n");
    assert_eq!(o.code, 0, "{}", o.describe());
    assert!(
        o.stderr.contains("WARNING! This command removes:")
            && o.stderr
                .contains("Are you sure you want to continue? [y/N]"),
        "{}",
        o.describe()
    );
    assert_eq!(s.container_ids().len(), 2, "answering n removed something");

    let out = s.ok(&["system", "prune", "-a", "-f", "--volumes"]);
    assert!(
        out.starts_with(&format!("Deleted Containers\n{stopped}\n")),
        "{out}"
    );
    assert!(
        !out.contains("Deleted Images"),
        "the image is in use: {out}"
    );
    assert!(out.contains("Total reclaimed space: "), "{out}");
    assert_eq!(s.ok(&["ps", "-a", "--format", "{{.Names}}"]), "up\n");
    assert!(!blob.exists(), "an unreferenced blob survived system prune");
    assert!(
        !layer.exists(),
        "an unreferenced layer survived system prune"
    );

    s.ok(&["rm", "-f", "up"]);
    let (blob, layer) = plant_unreferenced_layer_and_blob(&s);
    let out = s.ok(&["image", "prune", "-a", "-f"]);
    assert_eq!(out.lines().count(), 1, "image prune -a: {out}");
    assert!(s.image_ids().is_empty());
    assert!(
        !blob.exists() && !layer.exists(),
        "image prune -a left leftovers"
    );
    assert_clean(&s, "system prune");
}

#[test]
fn system_reset_removes_everything_and_stops_the_holder() {
    let s = busybox();
    run_d(&s, &["--name", "up"], "sleep 300");
    s.ok(&["create", "--name", "stopped", "busybox", "true"]);
    let o = s.cmd_stdin(&["system", "reset"], b"\n");
    assert_eq!(o.code, 0, "{}", o.describe());
    assert!(
        o.stderr.starts_with("WARNING! This will remove:")
            && o.stderr
                .contains("Are you sure you want to continue? [y/N]"),
        "{}",
        o.describe()
    );
    assert_eq!(s.container_ids().len(), 2, "no answer means no");
    let holder = s.pause_pid().expect("a holder runs");
    s.ok(&["system", "reset", "-f"]);
    assert!(
        eventually(Duration::from_secs(5), || !proc_alive(holder)),
        "system reset left the namespace holder {holder} running"
    );
    let root = s.data_home.join("skiff");
    assert!(
        !root.exists(),
        "system reset left the store {}",
        root.display()
    );
    assert!(s.container_ids().is_empty());
    assert!(s.image_ids().is_empty());
    assert_clean(&s, "system reset");
}

/// The acceptance check of issue 9: 100 `run -d` then 100 `rm -f`, 20 at a
/// time and really concurrent, leave no record, process, mount or lock.
#[test]
fn a_hundred_parallel_runs_then_removes_leave_nothing_behind() {
    let s = busybox();
    const N: usize = 100;
    const AT_ONCE: usize = 20;
    let in_parallel = |args: &(dyn Fn(usize) -> Vec<String> + Sync)| -> (Vec<Output>, Duration) {
        let t0 = Instant::now();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let mut outs: Vec<(usize, Output)> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..AT_ONCE)
                .map(|_| {
                    sc.spawn(|| {
                        let mut mine = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            if i >= N {
                                break mine;
                            }
                            let a = args(i);
                            let a: Vec<&str> = a.iter().map(String::as_str).collect();
                            mine.push((i, s.cmd(&a)));
                        }
                    })
                })
                .collect();
            hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
        });
        outs.sort_by_key(|(i, _)| *i);
        (outs.into_iter().map(|(_, o)| o).collect(), t0.elapsed())
    };
    let (runs, t_run) = in_parallel(&|i| {
        [
            "run",
            "-d",
            "--name",
            &format!("p{i}"),
            "busybox",
            "sleep",
            "300",
        ]
        .map(String::from)
        .to_vec()
    });
    let bad: Vec<String> = runs
        .iter()
        .filter(|o| o.code != 0)
        .map(|o| o.describe())
        .collect();
    assert!(
        bad.is_empty(),
        "parallel run -d failed:\n{}",
        bad.join("\n")
    );
    assert_eq!(s.ok(&["ps", "-q"]).lines().count(), N);
    let (rms, t_rm) = in_parallel(&|i| ["rm", "-f", &format!("p{i}")].map(String::from).to_vec());
    let bad: Vec<String> = rms
        .iter()
        .filter(|o| o.code != 0)
        .map(|o| o.describe())
        .collect();
    assert!(bad.is_empty(), "parallel rm -f failed:\n{}", bad.join("\n"));
    eprintln!("{N} run -d in {t_run:?}, {N} rm -f in {t_rm:?}, {AT_ONCE} at a time");
    assert_eq!(s.ok(&["ps", "-a", "-q"]), "", "records left");
    assert_no_supervisors(&s, "100 rm -f");
    let sleeps: Vec<String> = s
        .processes()
        .into_iter()
        .map(cmdline)
        .filter(|c| c.contains("sleep 300"))
        .collect();
    assert!(sleeps.is_empty(), "container processes left: {sleeps:?}");
    let m = container_mounts(&s);
    assert!(m.is_empty(), "mounts left: {m:?}");
    // Nothing under containers/ (records, locks, temp files, retired
    // directories) and no per-container run directory or attach socket.
    for dir in [
        s.data_home.join("skiff/containers"),
        s.runtime_dir.join("skiff/containers"),
        s.runtime_dir.join("skiff/attach"),
    ] {
        let left: Vec<String> = fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != ".lock")
            .collect();
        assert!(left.is_empty(), "{} still holds {left:?}", dir.display());
    }
}

#[test]
fn network_connect_disconnect_and_rename_change_one_record() {
    let s = busybox();
    s.ok(&["network", "create", "n1"]);
    s.ok(&["network", "create", "n2"]);
    s.ok(&[
        "create",
        "--name",
        "web1",
        "--network",
        "n1",
        "busybox",
        "true",
    ]);
    s.ok(&["network", "connect", "--alias", "web", "n2", "web1"]);
    let o = s.cmd(&["network", "connect", "n2", "web1"]);
    assert_eq!(o.code, 125, "{}", o.describe());
    assert!(one_error_line(&o).contains("already connected"));
    s.ok(&["rename", "web1", "web2"]);
    s.ok(&["network", "disconnect", "n1", "web2"]);
    s.ok(&["network", "disconnect", "-f", "n1", "web2"]);
    // Every change above is in the one record, none reverted another.
    let v = inspect_json(&s, "web2");
    let nets = v["NetworkSettings"]["Networks"]
        .as_object()
        .map(|m| m.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default();
    assert_eq!(nets, vec!["n2".to_string()], "{v}");
    // Names that are not hex: an id prefix can never match them.
    let o = s.cmd(&["container", "inspect", "web1"]);
    assert_eq!(o.code, 125, "the old name is free\n{}", o.describe());
    assert_eq!(s.ok(&["ps", "-a", "--format", "{{.Names}}"]).trim(), "web2");
    assert_clean(&s, "connect and rename");
}

/// Turns a record as skiff writes it now (version 2, typed values) into the
/// version 1 form older skiffs wrote: no `version`, every flag a string.
fn as_version_1(mut rec: serde_json::Value, network: &str, publish: &[&str]) -> serde_json::Value {
    use serde_json::{json, Value};
    rec.as_object_mut().unwrap().remove("version");
    let cfg = rec["config"].as_object_mut().unwrap();
    // Version 3 keeps these parsed; versions 1 and 2 kept the flags' strings.
    cfg.insert("network".into(), json!(network));
    cfg.insert("publish".into(), json!(publish));
    let user = &cfg["user"];
    let user = match user["group"].as_str() {
        Some(g) => format!("{}:{g}", user["user"].as_str().unwrap()),
        None => user["user"].as_str().unwrap().to_string(),
    };
    cfg.insert("user".into(), json!(user));
    let mounts: Vec<Value> = cfg["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            json!({"kind": m["kind"], "source": m["source"],
                   "destination": m["destination"], "options": m["options"]})
        })
        .collect();
    cfg.insert("mounts".into(), json!(mounts));
    let caps = cfg.remove("capabilities").unwrap();
    cfg.insert("cap_add".into(), caps["add"].clone());
    cfg.insert("cap_drop".into(), caps["drop"].clone());
    let restart = &cfg["restart_policy"];
    let restart = match restart["max_retries"].as_u64() {
        Some(n) => format!("{}:{n}", restart["name"].as_str().unwrap()),
        None => restart["name"].as_str().unwrap().to_string(),
    };
    cfg.insert("restart_policy".into(), json!(restart));
    let ulimits: Vec<String> = cfg
        .remove("rlimits")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let name = r["resource"].as_str().unwrap();
            let name = name.trim_start_matches("RLIMIT_").to_ascii_lowercase();
            format!("{name}={}:{}", r["soft"], r["hard"])
        })
        .collect();
    cfg.insert("ulimits".into(), json!(ulimits));
    rec
}

/// A store written before the typed record (version 1: flags kept as
/// strings) keeps working: the record is read, `inspect` shows it byte for
/// byte as before, `start` runs it with the mounts, limits and user it
/// asked for (with its `--network` and `-p`), and from then on the record is
/// the current version.
#[test]
fn a_version_1_record_is_upgraded_shown_as_before_and_started() {
    const NET: &str = "slirp4netns:allow_host_loopback=false";
    const PUBLISH: &str = "127.0.0.1::8080";
    let s = busybox();
    let src = s.make_dir(&s.home.join("src"));
    let vol = format!("{}:/data:ro,z", src.display());
    let id = s
        .ok(&[
            "create",
            "--name",
            "old",
            "-v",
            &vol,
            "--ulimit",
            "nofile=100:200",
            "--cap-add",
            "net_admin",
            "--cap-drop",
            "CAP_KILL",
            "--restart",
            "on-failure:2",
            "--stop-signal",
            "USR1",
            "-u",
            "0:0",
            "--network",
            NET,
            "-p",
            PUBLISH,
            "busybox",
            "sh",
            "-c",
            "ulimit -n; ulimit -Hn; touch /data/x 2>/dev/null && echo rw || echo ro; id -u",
        ])
        .trim()
        .to_string();
    let path = s
        .data_home
        .join("skiff/containers")
        .join(&id)
        .join("container.json");
    let mut now: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    // Version 1 records never kept the create command: compare without it.
    now["config"]
        .as_object_mut()
        .unwrap()
        .remove("create_command");
    fs::write(&path, serde_json::to_vec_pretty(&now).unwrap()).unwrap();
    let shown = s.ok(&["inspect", "old"]);
    assert_eq!(now["version"], 3, "{now:#}");
    assert_eq!(
        now["config"]["network"]["explicit"]["kind"], "slirp",
        "{now:#}"
    );
    assert_eq!(
        now["config"]["publish"][0]["container_port"], 8080,
        "{now:#}"
    );
    let old = as_version_1(now, NET, &[PUBLISH]);
    assert_eq!(old["config"]["ulimits"][0], "nofile=100:200", "{old:#}");
    assert_eq!(old["config"]["restart_policy"], "on-failure:2", "{old:#}");
    // Rewritten in place: the file keeps its owner, the user skiff runs as.
    fs::write(&path, serde_json::to_vec_pretty(&old).unwrap()).unwrap();

    // A v1 record never kept the image name as typed: its ImageName is the
    // resolved one; nor the sysctls create records from containers.conf's
    // default_sysctls (this machine's has ping_group_range); all else is
    // shown as before.
    let without_image_name = |text: &str| {
        let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
        v[0].as_object_mut().unwrap().remove("ImageName");
        v[0]["HostConfig"]
            .as_object_mut()
            .unwrap()
            .remove("Sysctls");
        v
    };
    assert_eq!(
        without_image_name(&s.ok(&["inspect", "old"])),
        without_image_name(&shown),
        "inspect of the v1 record"
    );
    assert_eq!(s.ok(&["start", "-a", "old"]), "100\n200\nro\n0\n");
    let after: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    assert_eq!(after["version"], 3, "written back as version 3: {after:#}");
    assert_eq!(
        after["config"]["network"]["explicit"]["value"]["allow_host_loopback"], false,
        "{after:#}"
    );
    assert_eq!(
        after["config"]["publish"][0]["host_ip"], "127.0.0.1",
        "{after:#}"
    );
    assert_eq!(after["config"]["rlimits"][0]["soft"], 100, "{after:#}");
    let ulimits = s.inspect_format(
        "old",
        "{{range .HostConfig.Ulimits}}{{.Name}}={{.Soft}}:{{.Hard}} {{end}}",
    );
    assert!(ulimits.contains("RLIMIT_NOFILE=100:200"), "{ulimits}");
    assert_eq!(
        s.inspect_format("old", "{{.HostConfig.Binds}}"),
        format!("[{}:/data:ro,z]", src.display())
    );
    assert_eq!(
        s.inspect_format("old", "{{.HostConfig.NetworkMode}}"),
        "slirp4netns"
    );
    s.ok(&["rm", "old"]);
}

/// `/proc/PID/status` of a running container's supervisor (found by
/// inspect's ConmonPid), for its memory fields, in kB.
fn supervisor_memory(s: &Skiff, name: &str) -> (u64, u64) {
    s.ok(&[
        "run",
        "-d",
        "--name",
        name,
        "busybox",
        "sh",
        "-c",
        "echo up; exec sleep 1000",
    ]);
    wait_logs(s, name, "up", Duration::from_secs(20));
    let pid: i32 = s
        .inspect_format(name, "{{.State.ConmonPid}}")
        .parse()
        .expect("ConmonPid is a number");
    assert!(
        cmdline(pid).contains("_supervise"),
        "ConmonPid {pid} is not a supervisor: {}",
        cmdline(pid)
    );
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |f: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(f))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {f} in {status}"))
    };
    let (rss, anon) = (field("VmRSS:"), field("RssAnon:"));
    eprintln!("supervisor {pid}: VmRSS {rss} kB, RssAnon {anon} kB");
    s.ok(&["rm", "-f", "-t", "0", name]);
    (rss, anon)
}

/// The supervisor stays small, as conmon-rs asserts of its monitor: what it
/// allocates itself (RssAnon: heap, stacks, data) is at most 2 MiB while it
/// runs a container that has written to its log. Holds for every build.
#[test]
fn supervisor_private_memory_is_at_most_2_mib() {
    let s = busybox();
    let (_, anon) = supervisor_memory(&s, "anon");
    assert!(
        anon <= 2048,
        "the supervisor's private memory is {anon} kB, over 2048 kB"
    );
}

/// The whole resident set (VmRSS, the binary's pages too) of a supervisor
/// is at most 2 MiB. Only an optimised binary can meet it: the debug
/// binary's code alone keeps about 20 MB resident (measured: VmRSS 20.4 MB,
/// of which RssFile 20.1 MB), so this runs under `cargo test --release`.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "the debug binary's own code is ~20 MB resident: run with cargo test --release"
)]
fn supervisor_resident_set_is_at_most_2_mib() {
    let s = busybox();
    let (rss, _) = supervisor_memory(&s, "rss");
    assert!(
        rss <= 2048,
        "the supervisor's resident set is {rss} kB, over 2048 kB"
    );
}
