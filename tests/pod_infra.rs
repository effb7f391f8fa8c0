//! The pod infra process (`skiff _infra`): it sleeps holding its
//! namespaces, reaps children that come to it, ignores signals other than
//! SIGTERM and SIGINT, exits 0 on those, and stays small in memory.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SKIFF: &str = env!("CARGO_BIN_EXE_skiff");

/// A started process that is killed and reaped if the test fails first:
/// a failing test leaves no infra process behind.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Polls `cond` every 10 ms for up to 10 s.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn status_kib(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Waiting in sigwait: its loop is reached, its signals are blocked.
fn ready(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("sigtimedwait"))
}

fn children(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default()
}

/// `skiff _infra` started through sh, which first starts a child that
/// lives until the test closes the pipe on stdin: the infra process
/// inherits that child as its own.
fn start_with_child() -> Child {
    Command::new("sh")
        .args([
            "-c",
            "exec 3<&0; head -c1 <&3 >/dev/null & exec \"$0\" _infra",
            SKIFF,
        ])
        .stdin(Stdio::piped())
        .spawn()
        .expect("start sh")
}

/// Dropped pages of the binary that the dynamic loader relocated (the
/// RELRO segment of a position-independent executable): their size in KiB.
fn relocated_kib(pid: u32) -> u64 {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let mut in_relro = false;
    let mut total = 0;
    for l in smaps.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.first().is_some_and(|a| a.contains('-')) && f.len() >= 5 {
            in_relro = f[1] == "r--p" && f.get(5).is_some_and(|p| p.ends_with("/skiff"));
        } else if in_relro && f.first() == Some(&"Anonymous:") {
            total += f[1].parse::<u64>().unwrap_or(0);
        }
    }
    total
}

#[test]
fn infra_reaps_ignores_hup_exits_zero_on_term_and_stays_small() {
    let mut child = Reaped(start_with_child());
    let pid = child.0.id();
    wait_for("the infra process to wait for signals", || ready(pid));
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(cmdline.ends_with(b"\0_infra\0"), "{cmdline:?}");
    assert!(
        !children(pid).trim().is_empty(),
        "the inherited child is there"
    );

    // The child ends: the infra process reaps it (a zombie stays listed).
    child.0.stdin.take().unwrap().write_all(b"x").unwrap();
    // Measured once it sleeps again: after reaping it lets go of the pages
    // the wake-up touched.
    wait_for("the child to be reaped", || {
        children(pid).trim().is_empty() && ready(pid)
    });

    let rss = status_kib(pid, "VmRSS:");
    let relro = relocated_kib(pid);
    eprintln!(
        "infra VmRSS {rss} KiB ({} build), of which {relro} KiB relocated data of the binary",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    // 1 MiB in a release build. A debug build's relocation segment alone
    // is 1.1 MiB (every page written by the loader at start) and its code
    // is not inlined, so the few calls of the sleeping loop sit on more
    // pages: there the budget is 1 MiB besides the relocations, plus 256 KiB
    // (measured 924-1084 KiB besides them).
    let budget = if cfg!(debug_assertions) {
        1024 + 256 + relro
    } else {
        1024
    };
    assert!(rss <= budget, "infra uses {rss} KiB, budget {budget} KiB");

    // SIGHUP is taken and ignored; the SIGTERM after it ends the process
    // with 0 (HUP, the lower number, is taken first).
    let kill = |sig: &str| {
        let ok = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    };
    kill("-HUP");
    kill("-TERM");
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn infra_exits_zero_on_sigint() {
    let mut child = Reaped(
        Command::new(SKIFF)
            .arg("_infra")
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = child.0.id();
    wait_for("the infra process to wait for signals", || ready(pid));
    let ok = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    assert_eq!(child.0.wait().unwrap().code(), Some(0));
}
