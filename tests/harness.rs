//! The test harness checked against itself: a test that leaves a process
//! of its store running fails unless it declared it, a process that
//! outlives skiff's own teardown fails the test too, and both are cleaned
//! up before the failure is reported.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use common::*;

/// The text a caught panic carried.
fn panic_text(e: Box<dyn std::any::Any + Send>) -> String {
    match e.downcast::<String>() {
        Ok(s) => *s,
        Err(e) => e
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    }
}

/// `run -d` and the host pids of its supervisor and of its container.
fn run_sleeper(s: &Skiff, name: &str) -> (i32, i32) {
    s.ok(&["run", "-d", "--name", name, "busybox", "sleep", "1000"]);
    let pid = |field: &str| -> i32 {
        let v = s.inspect_format(name, &format!("{{{{.State.{field}}}}}"));
        v.parse()
            .unwrap_or_else(|_| panic!("{field} of {name}: {v:?}"))
    };
    let (monitor, container) = (pid("ConmonPid"), pid("Pid"));
    // The pids name what the checks below look for, so those can fail.
    assert!(
        cmdline(monitor).contains("_supervise"),
        "{monitor}: {}",
        cmdline(monitor)
    );
    assert_eq!(cmdline(container), "sleep 1000");
    (monitor, container)
}

#[test]
fn a_container_left_running_fails_the_test_after_clean_up() {
    let mut pids = (0, 0);
    let r = catch_unwind(AssertUnwindSafe(|| {
        let s = busybox();
        pids = run_sleeper(&s, "forgotten");
    }));
    let msg = panic_text(r.expect_err("the harness let a container left running pass"));
    assert!(
        msg.contains("the test left processes of its store running"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("{} ", pids.0)) && msg.contains("_supervise"),
        "the supervisor is not named: {msg}"
    );
    assert!(
        msg.contains(&format!("{} sleep 1000", pids.1)),
        "the container is not named: {msg}"
    );
    assert!(
        !proc_alive(pids.0) && !proc_alive(pids.1),
        "the drop failed the test but left {pids:?} running"
    );
}

#[test]
fn a_declared_running_container_is_removed_quietly() {
    let s = busybox();
    let pids = run_sleeper(&s, "kept");
    s.expect_running();
    let home = s.home.clone();
    drop(s);
    assert!(
        !proc_alive(pids.0) && !proc_alive(pids.1),
        "{pids:?} still run after the drop"
    );
    assert!(!home.exists(), "{} was not removed", home.display());
}

#[test]
fn a_process_that_outlives_system_reset_fails_the_test() {
    let mut child = None;
    let r = catch_unwind(AssertUnwindSafe(|| {
        let s = Skiff::new();
        // Declared, so only the check after the teardown can catch it: a
        // process in the store's user namespace that skiff does not track.
        s.expect_running();
        child = Some(s.spawn(&["unshare", "sleep", "1000"]));
        let started = eventually(Duration::from_secs(30), || {
            s.processes().iter().any(|p| cmdline(*p) == "sleep 1000")
        });
        assert!(started, "skiff unshare sleep 1000 never started the sleep");
    }));
    let msg = panic_text(r.expect_err("the harness let a process outlive the reset"));
    assert!(
        msg.contains("outlived `skiff system reset --force`") && msg.contains("sleep 1000"),
        "{msg}"
    );
    let mut child = child.expect("the child was started");
    let code = wait_child(&mut child, Duration::from_secs(10));
    assert_eq!(code, Some(128 + 9), "the harness should have killed it");
}
