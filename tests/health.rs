//! Healthchecks (issue 16) with real containers: the supervisor's schedule,
//! retries, start period, timeout, `--health-on-failure`, `healthcheck run`,
//! `ps` and `inspect`, `wait --condition`, and bad flags.

mod common;

use std::time::Duration;

use common::*;

fn health(s: &Skiff, name: &str) -> String {
    s.inspect_format(name, "{{.State.Health.Status}}")
}

fn until_health(s: &Skiff, name: &str, want: &str, limit: Duration) {
    let mut last = String::new();
    let ok = eventually(limit, || {
        last = health(s, name);
        last == want
    });
    assert!(ok, "{name}: health {last:?}, expected {want:?}");
}

#[test]
fn a_passing_check_makes_it_healthy_and_ps_says_so() {
    let s = busybox();
    s.ok(&[
        "run",
        "-d",
        "--name",
        "ok-zz",
        "--health-cmd",
        "echo fine; true",
        "--health-interval",
        "1s",
        "busybox",
        "sleep",
        "1000",
    ]);
    assert_eq!(health(&s, "ok-zz"), "starting");
    assert!(s.ok(&["ps"]).contains("(starting)"));
    until_health(&s, "ok-zz", "healthy", Duration::from_secs(20));
    let ps = s.ok(&["ps", "--format", "{{.Status}}"]);
    assert!(ps.trim().ends_with("(healthy)"), "{ps}");
    let log = s.inspect_format(
        "ok-zz",
        "{{range .State.Health.Log}}{{.ExitCode}}:{{.Output}}{{end}}",
    );
    assert!(log.starts_with("0:fine"), "{log}");
    let cfg = s.inspect_format("ok-zz", "{{json .Config.Healthcheck}}");
    assert!(
        cfg.contains(r#""Test":["CMD-SHELL","echo fine; true"]"#),
        "{cfg}"
    );
    assert!(cfg.contains(r#""Interval":1000000000"#), "{cfg}");
    s.ok(&["wait", "--condition", "healthy", "ok-zz"]);
    assert_eq!(s.cmd(&["healthcheck", "run", "ok-zz"]).code, 0);
    let ev = s.ok(&[
        "events",
        "--stream=false",
        "--filter",
        "event=health_status",
        "--format",
        "{{.Name}} {{.HealthStatus}}",
    ]);
    assert!(ev.lines().any(|l| l == "ok-zz healthy"), "{ev}");
    s.ok(&["rm", "-f", "-t", "0", "ok-zz"]);
}

#[test]
fn a_failing_check_goes_unhealthy_after_its_retries() {
    let s = busybox();
    s.ok(&[
        "run",
        "-d",
        "--name",
        "bad-zz",
        "--health-cmd",
        "exit 3",
        "--health-interval",
        "1s",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "1000",
    ]);
    let o = s.run_with(
        &["wait", "--condition", "unhealthy", "bad-zz"],
        None,
        Duration::from_secs(30),
    );
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(o.stdout.trim(), "-1");
    let streak = s.inspect_format("bad-zz", "{{.State.Health.FailingStreak}}");
    assert!(streak.parse::<u32>().unwrap() >= 2, "{streak}");
    assert!(s.ok(&["ps"]).contains("(unhealthy)"));
    let o = s.cmd(&["healthcheck", "run", "bad-zz"]);
    assert_eq!(o.code, 1, "{}", o.describe());
    assert_eq!(o.stdout.trim(), "unhealthy");
    // At most five results are kept.
    let _ = eventually(Duration::from_secs(20), || {
        s.inspect_format("bad-zz", "{{len .State.Health.Log}}") == "5"
    });
    s.cmd(&["healthcheck", "run", "bad-zz"]);
    assert_eq!(s.inspect_format("bad-zz", "{{len .State.Health.Log}}"), "5");
    s.ok(&["rm", "-f", "-t", "0", "bad-zz"]);
}

#[test]
fn failures_in_the_start_period_do_not_count() {
    let s = busybox();
    // Fails until /tmp/up exists, made after 3 s; the start period covers it.
    s.ok(&[
        "run",
        "-d",
        "--name",
        "slow-zz",
        "--health-cmd",
        "test -e /tmp/up",
        "--health-interval",
        "1s",
        "--health-retries",
        "1",
        "--health-start-period",
        "30s",
        "busybox",
        "sh",
        "-c",
        "sleep 3; touch /tmp/up; sleep 1000",
    ]);
    let ok = eventually(Duration::from_secs(2), || {
        s.inspect_format("slow-zz", "{{len .State.Health.Log}}") != "0"
            && s.inspect_format("slow-zz", "{{len .State.Health.Log}}") != "<no value>"
    });
    if ok {
        assert_eq!(health(&s, "slow-zz"), "starting");
        assert_eq!(
            s.inspect_format("slow-zz", "{{.State.Health.FailingStreak}}"),
            "0"
        );
    }
    until_health(&s, "slow-zz", "healthy", Duration::from_secs(20));
    s.ok(&["rm", "-f", "-t", "0", "slow-zz"]);
}

#[test]
fn a_check_past_its_timeout_fails_and_is_killed() {
    let s = busybox();
    s.ok(&[
        "run",
        "-d",
        "--name",
        "hang-zz",
        "--health-cmd",
        "sleep 100",
        "--health-interval",
        "disable",
        "--health-timeout",
        "1s",
        "busybox",
        "sleep",
        "1000",
    ]);
    let t = std::time::Instant::now();
    let o = s.cmd(&["healthcheck", "run", "hang-zz"]);
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(o.code, 1, "{}", o.describe());
    let out = s.inspect_format(
        "hang-zz",
        "{{range .State.Health.Log}}{{.ExitCode}} {{.Output}}{{end}}",
    );
    assert!(out.contains("timeout"), "{out}");
    // The hung command is gone from the container.
    let top = s.ok(&["exec", "hang-zz", "ps"]);
    assert!(!top.lines().any(|l| l.ends_with("sleep 100")), "{top}");
    s.ok(&["rm", "-f", "-t", "0", "hang-zz"]);
}

#[test]
fn on_failure_kill_and_stop_end_the_container() {
    let s = busybox();
    for (name, action) in [("kill-zz", "kill"), ("stop-zz", "stop")] {
        s.ok(&[
            "run",
            "-d",
            "--name",
            name,
            "--health-cmd",
            "false",
            "--health-interval",
            "1s",
            "--health-retries",
            "1",
            "--health-on-failure",
            action,
            "busybox",
            "sleep",
            "1000",
        ]);
    }
    for name in ["kill-zz", "stop-zz"] {
        let ok = eventually(Duration::from_secs(30), || {
            s.inspect_format(name, "{{.State.Status}}") == "exited"
        });
        assert!(
            ok,
            "{name} still {}",
            s.inspect_format(name, "{{.State.Status}}")
        );
    }
    assert_eq!(s.inspect_format("kill-zz", "{{.State.ExitCode}}"), "137");
    assert_eq!(
        s.inspect_format("kill-zz", "{{.Config.HealthcheckOnFailureAction}}"),
        "kill"
    );
    s.ok(&["rm", "kill-zz", "stop-zz"]);
}

#[test]
fn on_failure_restart_starts_it_again() {
    let s = busybox();
    s.ok(&[
        "run",
        "-d",
        "--name",
        "re-zz",
        "--health-cmd",
        "test -e /tmp/ok",
        "--health-interval",
        "1s",
        "--health-retries",
        "1",
        "--health-on-failure",
        "restart",
        "busybox",
        "sh",
        "-c",
        "if test -e /marker; then touch /tmp/ok; else touch /marker; fi; sleep 1000",
    ]);
    let first = s.inspect_format("re-zz", "{{.State.StartedAt}}");
    let ok = eventually(Duration::from_secs(40), || {
        let now = s.inspect_format("re-zz", "{{.State.Status}} {{.State.StartedAt}}");
        now.starts_with("running ") && !now.ends_with(&first)
    });
    assert!(
        ok,
        "not restarted: {}",
        s.inspect_format("re-zz", "{{.State.Status}}")
    );
    until_health(&s, "re-zz", "healthy", Duration::from_secs(20));
    s.ok(&["rm", "-f", "-t", "0", "re-zz"]);
}

#[test]
fn no_healthcheck_and_errors() {
    let s = busybox();
    s.ok(&["create", "--name", "plain-zz", "busybox", "sleep", "1000"]);
    let e = s.fails_engine(&["healthcheck", "run", "plain-zz"]);
    assert!(e.contains("has no defined healthcheck"), "{e}");
    s.ok(&[
        "create",
        "--name",
        "idle-zz",
        "--health-cmd",
        "true",
        "busybox",
        "sleep",
        "1000",
    ]);
    let e = s.fails_engine(&["healthcheck", "run", "idle-zz"]);
    assert!(e.contains("is not running"), "{e}");
    s.fails_engine(&["healthcheck", "run", "nosuch-zz"]);
    for (flags, want) in [
        (&["--health-interval", "10ms"][..], "at least 1 second"),
        (&["--health-retries", "0"][..], "greater than 0"),
        (&["--health-timeout", "abc"][..], "invalid"),
        (
            &["--health-on-failure", "explode"][..],
            "none,kill,restart,stop",
        ),
        (
            &["--no-healthcheck", "--health-cmd", "true"][..],
            "--no-healthcheck",
        ),
    ] {
        let mut args = vec!["create", "--name", "never-zz"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "true"]);
        let e = s.fails_engine(&args);
        assert!(e.contains(want), "{flags:?}: {e}");
    }
    assert!(s.fails(&["inspect", "never-zz"], 125).contains("no such"));
    s.ok(&[
        "create",
        "--name",
        "none-zz",
        "--health-cmd",
        "none",
        "busybox",
        "true",
    ]);
    assert_eq!(
        s.inspect_format("none-zz", "{{.Config.Healthcheck}}"),
        "<nil>"
    );
    s.ok(&["rm", "plain-zz", "idle-zz", "none-zz"]);
}

/// A supervisor's `(RssAnon KiB, Threads)` once the container's healthcheck
/// (if any) has run `checks` times.
fn supervisor_cost(s: &Skiff, name: &str, flags: &[&str], checks: usize) -> (u64, u64) {
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "sleep", "1000"]);
    s.ok(&args);
    if checks > 0 {
        let ok = eventually(Duration::from_secs(30), || {
            s.inspect_format(name, "{{len .State.Health.Log}}")
                .parse::<usize>()
                .is_ok_and(|n| n >= checks)
        });
        assert!(ok, "{name}: fewer than {checks} checks ran");
    } else {
        std::thread::sleep(Duration::from_millis(1500));
    }
    let pid = s.inspect_format(name, "{{.State.ConmonPid}}");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |f: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(f))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {f} in {status}"))
    };
    let cost = (field("RssAnon:"), field("Threads:"));
    s.ok(&["rm", "-f", "-t", "0", name]);
    cost
}

/// Issue 16: a healthcheck costs the supervisor no thread and at most
/// 64 KiB of resident memory between checks.
#[test]
fn an_idle_healthcheck_costs_the_supervisor_no_thread_and_little_memory() {
    let s = busybox();
    let (plain, plain_threads) = supervisor_cost(&s, "plain-zz", &[], 0);
    let (checked, threads) = supervisor_cost(
        &s,
        "checked-zz",
        &["--health-cmd", "true", "--health-interval", "1s"],
        3,
    );
    eprintln!("supervisor RssAnon: {plain} KiB without a healthcheck, {checked} KiB with one");
    assert_eq!((plain_threads, threads), (1, 1));
    assert!(
        checked <= plain + 64,
        "a healthcheck costs the supervisor {} KiB",
        checked.saturating_sub(plain)
    );
}

/// The image's HEALTHCHECK (kept by `build --format docker`) applies to its
/// containers; `--no-healthcheck` and the flags override it.
#[test]
fn the_image_healthcheck_applies_unless_overridden() {
    let s = busybox();
    let file = s.write_file(
        "hc/Containerfile",
        b"FROM busybox\nHEALTHCHECK --interval=1s --retries=4 CMD echo from-image\n",
    );
    let dir = file.parent().unwrap().to_str().unwrap().to_string();
    s.ok(&[
        "build",
        "--format",
        "docker",
        "-q",
        "-t",
        "localhost/hc-zz",
        &dir,
    ]);
    let ev = s.ok(&[
        "events",
        "--stream=false",
        "--filter",
        "type=image",
        "--format",
        "{{.Status}} {{.Name}}",
    ]);
    assert!(
        ev.lines().any(|l| l == "build localhost/hc-zz:latest"),
        "{ev}"
    );
    s.ok(&[
        "run",
        "-d",
        "--name",
        "img-zz",
        "localhost/hc-zz",
        "sleep",
        "1000",
    ]);
    let cfg = s.inspect_format("img-zz", "{{json .Config.Healthcheck}}");
    assert!(
        cfg.contains(r#""Test":["CMD-SHELL","echo from-image"]"#),
        "{cfg}"
    );
    assert!(cfg.contains(r#""Retries":4"#), "{cfg}");
    until_health(&s, "img-zz", "healthy", Duration::from_secs(20));
    s.ok(&[
        "create",
        "--name",
        "off-zz",
        "--no-healthcheck",
        "localhost/hc-zz",
        "true",
    ]);
    assert_eq!(
        s.inspect_format("off-zz", "{{.Config.Healthcheck}}"),
        "<nil>"
    );
    s.ok(&[
        "create",
        "--name",
        "more-zz",
        "--health-retries",
        "9",
        "localhost/hc-zz",
        "true",
    ]);
    let cfg = s.inspect_format("more-zz", "{{json .Config.Healthcheck}}");
    assert!(cfg.contains(r#""Retries":9"#), "{cfg}");
    s.ok(&["rm", "-f", "-t", "0", "img-zz", "off-zz", "more-zz"]);
}
