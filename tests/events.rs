//! The event journal and `skiff events` (issue 16) with real containers:
//! a run/stop/rm sequence in order, --since/--until, filters, --format,
//! the journal's Podman keys, and following it live.

mod common;

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::Duration;

use common::*;

fn events(s: &Skiff, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "events",
        "--stream=false",
        "--format",
        "{{.Type}} {{.Status}} {{.Name}}",
    ];
    args.extend_from_slice(extra);
    s.ok(&args).lines().map(str::to_string).collect()
}

#[test]
fn a_run_stop_rm_sequence_is_recorded_in_order() {
    let s = busybox();
    let id = s.ok(&["run", "-d", "--name", "ev-zz", "busybox", "sleep", "1000"]);
    s.ok(&["stop", "-t", "1", "ev-zz"]);
    s.ok(&["rm", "ev-zz"]);
    let got = events(&s, &["--filter", "container=ev-zz"]);
    let want: Vec<String> = ["create", "init", "start", "died", "stop", "remove"]
        .iter()
        .map(|st| format!("container {st} ev-zz"))
        .collect();
    assert_eq!(got, want);
    // By id prefix too, and by event.
    let by_id = events(
        &s,
        &["--filter", &format!("container={}", &id.trim()[..12])],
    );
    assert_eq!(by_id, want);
    assert_eq!(
        events(&s, &["--filter", "event=died", "--filter", "event=start"]),
        ["container start ev-zz", "container died ev-zz"]
    );
    // The default line is Podman's human form, with the full id.
    let human = s.ok(&["events", "--stream=false", "--filter", "event=create"]);
    assert!(
        human.contains(&format!("container create {} (image=", id.trim())),
        "{human}"
    );
    assert!(human.contains("name=ev-zz"), "{human}");
    // Its time is Go's time.Time.String(): a local zone that is UTC is
    // `+0000 UTC` (skiff printed `+0000 +0000`).
    let o = s.cmd_env(
        &["events", "--stream=false", "--filter", "event=create"],
        &[("TZ", "UTC")],
    );
    let (date, rest) = o.stdout.split_once(' ').unwrap();
    let (time, rest) = rest.split_once(' ').unwrap();
    assert_eq!(date.len(), "2026-12-02".len(), "{}", o.stdout);
    assert!(time.len() >= "18:58:12".len(), "{}", o.stdout);
    assert!(
        rest.starts_with("+0000 UTC container create "),
        "{}",
        o.stdout
    );
    let json = s.ok(&[
        "events",
        "--stream=false",
        "--format",
        "json",
        "--filter",
        "event=died",
    ]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["Status"], "died");
    assert_eq!(v["Name"], "ev-zz");
    assert_eq!(v["ContainerExitCode"], 137);
    assert!(v["Time"].is_i64(), "{v}");
    // A misspelt field fails before anything is printed.
    let e = s.fails_engine(&["events", "--stream=false", "--format", "{{.Nope}}"]);
    assert!(e.contains("Nope"), "{e}");
    let e = s.fails_engine(&["events", "--stream=false", "--filter", "bogus=1"]);
    assert!(e.contains("bogus"), "{e}");
}

#[test]
fn since_until_type_and_label_filters() {
    let s = busybox();
    s.ok(&["volume", "create", "old-zz"]);
    std::thread::sleep(Duration::from_millis(1100));
    let mark = chrono::Utc::now().to_rfc3339();
    std::thread::sleep(Duration::from_millis(50));
    s.ok(&[
        "create",
        "--name",
        "lab-zz",
        "--label",
        "team=blue",
        "busybox",
        "true",
    ]);
    s.ok(&["volume", "rm", "old-zz"]);
    s.ok(&["tag", "busybox", "localhost/other-zz:1"]);
    s.ok(&["untag", "busybox", "localhost/other-zz:1"]);
    assert_eq!(
        events(&s, &["--since", &mark]),
        [
            "container create lab-zz",
            "volume remove old-zz",
            "image tag localhost/other-zz:1",
            "image untag localhost/other-zz:1"
        ]
    );
    assert_eq!(events(&s, &["--until", &mark]), ["volume create old-zz"]);
    assert_eq!(
        events(&s, &["--since", "1h", "--filter", "type=volume"]).len(),
        2
    );
    assert_eq!(
        events(&s, &["--filter", "label=team=blue"]),
        ["container create lab-zz"]
    );
    assert!(events(&s, &["--filter", "label=team=red"]).is_empty());
    assert_eq!(
        events(
            &s,
            &["--filter", "image=other-zz:1", "--filter", "event=tag"]
        ),
        ["image tag localhost/other-zz:1"]
    );
    let e = s.fails_engine(&["events", "--stream=false", "--since", "yesterday-ish"]);
    assert!(e.contains("--since"), "{e}");
    s.ok(&["rm", "lab-zz"]);
}

#[test]
fn the_journal_has_podman_keys_one_object_a_line() {
    let s = busybox();
    s.ok(&["create", "--name", "keys-zz", "busybox", "true"]);
    s.ok(&["rm", "keys-zz"]);
    let info = s.ok(&["info", "--format", "{{.Store.RunRoot}}"]);
    let path = std::path::Path::new(info.trim()).join("events/events.log");
    let text = s.ok(&["unshare", "cat", path.to_str().unwrap()]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 2, "{text}");
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        for k in ["ID", "Name", "Status", "Time", "Type", "Attributes"] {
            assert!(v.get(k).is_some(), "{k} missing in {l}");
        }
    }
}

#[test]
fn events_follows_the_journal_live() {
    let s = busybox();
    let mut child = s.spawn(&[
        "events",
        "--format",
        "{{.Status}} {{.Name}}",
        "--filter",
        "container=live-zz",
    ]);
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // It may not watch yet when the first container starts: start again
    // until a start shows (no fixed sleep).
    s.ok(&["create", "--name", "live-zz", "busybox", "true"]);
    let mut seen = Vec::new();
    let got = eventually(Duration::from_secs(20), || {
        s.ok(&["start", "live-zz"]);
        while let Ok(l) = rx.recv_timeout(Duration::from_millis(300)) {
            seen.push(l);
        }
        seen.iter().any(|l| l == "start live-zz")
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(got, "saw {seen:?}");
    assert!(!seen.iter().any(|l| !l.ends_with(" live-zz")), "{seen:?}");
    s.ok(&["rm", "-f", "live-zz"]);
}

#[test]
fn events_backend_none_records_nothing() {
    let s = busybox();
    s.ok(&[
        "--events-backend",
        "none",
        "create",
        "--name",
        "quiet-zz",
        "busybox",
    ]);
    s.ok(&["create", "--name", "loud-zz", "busybox"]);
    let names: Vec<String> = events(&s, &["--filter", "event=create"])
        .into_iter()
        .filter(|l| l.contains("-zz"))
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].contains("loud-zz"), "{names:?}");
    s.ok(&["rm", "quiet-zz", "loud-zz"]);
}
#[test]
fn the_supervisor_honours_events_backend_none() {
    let s = busybox();
    // The supervisor records `died` (and the rest of the run) itself: with
    // `none`, it must record nothing either.
    s.ok(&[
        "--events-backend",
        "none",
        "run",
        "--name",
        "mute-zz",
        "busybox",
        "true",
    ]);
    s.ok(&["run", "--name", "said-zz", "busybox", "true"]);
    let got: Vec<String> = events(&s, &[])
        .into_iter()
        .filter(|l| l.ends_with("-zz"))
        .collect();
    assert!(
        got.contains(&"container died said-zz".to_string()),
        "{got:?}"
    );
    assert!(!got.iter().any(|l| l.contains("mute-zz")), "{got:?}");
    s.ok(&["rm", "mute-zz", "said-zz"]);
}

#[test]
fn system_events_is_events() {
    let s = busybox();
    s.ok(&["run", "--name", "sys-zz", "busybox", "true"]);
    let plain = events(&s, &["--filter", "container=sys-zz"]);
    let system = s.ok(&[
        "system",
        "events",
        "--stream=false",
        "--format",
        "{{.Type}} {{.Status}} {{.Name}}",
        "--filter",
        "container=sys-zz",
    ]);
    assert_eq!(system.lines().collect::<Vec<_>>(), plain);
    assert!(
        plain.contains(&"container died sys-zz".to_string()),
        "{plain:?}"
    );
}

#[test]
fn exec_records_exec_and_exec_died_with_one_exec_id() {
    let s = busybox();
    s.ok(&["run", "-d", "--name", "ex-zz", "busybox", "sleep", "1000"]);
    let o = s.cmd(&["exec", "ex-zz", "sh", "-c", "exit 3"]);
    assert_eq!(o.code, 3, "{}", o.describe());
    let got = s.ok(&[
        "events",
        "--stream=false",
        "--filter",
        "container=ex-zz",
        "--filter",
        "event=exec",
        "--filter",
        "event=exec_died",
        "--format",
        "{{.Status}} {{.ContainerExitCode}} {{index .Attributes \"execID\"}}",
    ]);
    let lines: Vec<Vec<&str>> = got.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(lines.len(), 2, "{got}");
    assert_eq!((lines[0][0], lines[1][0]), ("exec", "exec_died"), "{got}");
    assert_eq!(lines[1][1], "3", "exec_died carries the exit code: {got}");
    assert_eq!(lines[0][2].len(), 64, "{got}");
    assert_eq!(
        lines[0][2], lines[1][2],
        "one execID for the session: {got}"
    );
    s.ok(&["rm", "-f", "-t", "0", "ex-zz"]);
}

#[test]
fn pod_kill_pause_unpause_restart_are_recorded() {
    let s = busybox();
    s.ok(&["pod", "create", "--name", "pev"]);
    s.ok(&[
        "run", "-d", "--pod", "pev", "--name", "pev-c", "busybox", "sleep", "1000",
    ]);
    s.ok(&["pod", "pause", "pev"]);
    s.ok(&["pod", "unpause", "pev"]);
    s.ok(&["pod", "restart", "pev"]);
    s.ok(&["pod", "kill", "pev"]);
    let got = events(&s, &["--filter", "type=pod", "--filter", "pod=pev"]);
    let statuses: Vec<&str> = got
        .iter()
        .filter_map(|l| l.strip_prefix("pod "))
        .filter_map(|l| l.strip_suffix(" pev"))
        .collect();
    for want in ["pause", "unpause", "restart", "kill"] {
        assert!(statuses.contains(&want), "no pod {want} event: {got:?}");
    }
    let at = |st: &str| statuses.iter().position(|s| *s == st).unwrap();
    assert!(
        at("pause") < at("unpause") && at("unpause") < at("restart") && at("restart") < at("kill"),
        "{got:?}"
    );
    s.ok(&["pod", "rm", "-f", "pev"]);
}
