//! The VM lane: one systemd unit per container (issue 17) under a real user
//! manager. The guest of tests/vm/build-image (Debian 12, systemd as PID 1,
//! a lingering user) boots once for this file and runs
//! tests/vm/systemd-checks.sh as that user with this build's skiff; each
//! test asserts one section of its output: a `generate systemd --new` unit
//! started (Type=notify, MainPID the supervisor), restarted and stopped
//! within its timeout, a failing container restarted per `Restart=`,
//! `--sdnotify=healthy`, a Quadlet `.container` through skiff's generator,
//! `auto-update` from a registry on the guest's loopback with a rollback
//! (of an image that does not start, and of one that runs but never passes
//! its healthcheck under `--sdnotify=healthy`),
//! a `--new` pod unit and its container's unit,
//! `systemd-analyze --user verify` of the units, and nothing left behind.
//! Ignored by a plain `cargo test` (a first run builds the image as root):
//! `.ci/run` runs them with `--ignored`, or says why it skipped them.

mod common;
#[path = "vm/lane.rs"]
mod lane;

use std::sync::OnceLock;

static LANE: OnceLock<lane::Sections> = OnceLock::new();

/// Boots the guest once for this file and runs tests/vm/systemd-checks.sh.
fn lane() -> &'static lane::Sections {
    LANE.get_or_init(|| lane::run("systemd-checks.sh", Some("systemd-setup.sh")))
}

/// The value of `key` in `section` of the checks' output.
fn val(section: &str, key: &str) -> String {
    lane::val(lane(), section, key)
}

/// Asserts that `key` in `section` reads `want`; the message carries the
/// section's lines (with the unit's journal when a step of it failed).
fn is(section: &str, key: &str, want: &str) {
    assert_eq!(
        val(section, key),
        want,
        "{section}.{key}: {:#?}",
        lane()[section].lines
    );
}

fn num(section: &str, key: &str) -> u64 {
    let v = val(section, key);
    v.parse()
        .unwrap_or_else(|_| panic!("{section}.{key} is not a number: {v}"))
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_systemd -- --ignored, as root)"]
fn the_default_network_works_in_the_guest() {
    is("network", "run", "0");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_systemd -- --ignored, as root)"]
fn generated_new_unit_passes_systemd_analyze_verify() {
    is("new_unit", "generate", "0");
    is("new_unit", "verify", "0");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_systemd -- --ignored, as root)"]
fn new_unit_is_ready_with_the_supervisor_as_main_pid() {
    is("new_unit", "start", "0");
    is("new_unit", "type", "notify");
    is("new_unit", "active", "active");
    is("new_unit", "sub", "running");
    is("new_unit", "mainpid_is_supervisor", "yes");
    is("new_unit", "status", "running");
    is("new_unit", "cidfile", "yes");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_systemd -- --ignored, as root)"]
fn restarting_the_unit_replaces_the_container() {
    is("restart", "restart", "0");
    is("restart", "active", "active");
    is("restart", "new_container", "yes");
    is("restart", "status", "running");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_systemd -- --ignored, as root)"]
fn stopping_the_unit_removes_the_container_within_its_timeout() {
    is("stop", "stop", "0");
    is("stop", "active", "inactive");
    is("stop", "result", "success");
    is("stop", "left", "0");
    is("stop", "cidfile_left", "no");
    // `--time 2`: the container ignores SIGTERM and is killed after 2 s,
    // well within TimeoutStopSec (62 s).
    let ms = num("stop", "stop_ms");
    assert!((2000..30_000).contains(&ms), "stop took {ms} ms");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_systemd -- --ignored, as root)"]
fn a_failing_container_is_restarted_per_restart_policy() {
    is("failing", "generate", "0");
    is("failing", "restart_policy", "on-failure");
    assert!(
        num("failing", "restarts") >= 1,
        "{:#?}",
        lane()["failing"].lines
    );
    is("failing", "exec_main_status", "3");
    let stopped = val("failing", "stopped");
    assert!(
        stopped == "inactive" || stopped == "failed",
        "failing.stopped: {stopped}: {:#?}",
        lane()["failing"].lines
    );
    is("failing", "left", "0");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_systemd -- --ignored, as root)"]
fn sdnotify_healthy_is_ready_at_the_first_passing_healthcheck() {
    is("healthy", "generate", "0");
    // A check failed, and the unit is not ready yet.
    assert!(
        num("healthy", "failing_streak") >= 1,
        "{:#?}",
        lane()["healthy"].lines
    );
    is("healthy", "while_starting", "activating");
    // The check passes once the file exists: ready then.
    is("healthy", "touched", "0");
    is("healthy", "active", "active");
    is("healthy", "health", "healthy");
    is("healthy", "left", "0");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_systemd -- --ignored, as root)"]
fn quadlet_container_runs_through_the_generator() {
    is("quadlet", "dryrun", "1");
    is("quadlet", "loaded", "loaded");
    assert!(
        val("quadlet", "source").ends_with("/.config/containers/systemd/web.container"),
        "{}",
        val("quadlet", "source")
    );
    is("quadlet", "start", "0");
    is("quadlet", "active", "active");
    is("quadlet", "status", "running");
    is("quadlet", "verify", "0");
    is("quadlet", "stopped", "inactive");
    is("quadlet", "left", "0");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_systemd -- --ignored, as root)"]
fn auto_update_pulls_the_new_image_and_restarts_the_unit() {
    is("autoupdate", "pull_v1", "0");
    is("autoupdate", "start", "0");
    is("autoupdate", "label", "container-app.service");
    let row =
        |state: &str| format!("container-app.service 127.0.0.1:5000/app:latest registry {state}");
    // Nothing new in the registry yet.
    is("autoupdate", "none", &row("false"));
    is("autoupdate", "pushed_v2", "yes");
    // --dry-run reports the update and changes nothing.
    is("autoupdate", "dryrun", &row("pending"));
    is("autoupdate", "dryrun_image_kept", "yes");
    is("autoupdate", "update", &row("true"));
    is("autoupdate", "update_active", "active");
    is("autoupdate", "update_new_container", "yes");
    is("autoupdate", "update_runs_v2", "yes");
    is("autoupdate", "update_version", "v2");
    // Up to date now.
    is("autoupdate", "again", "false");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_systemd -- --ignored, as root)"]
fn auto_update_rolls_back_an_image_that_does_not_start() {
    is("autoupdate", "pushed_v3", "yes");
    // Podman's --rollback (default true): the unit did not start with the
    // new image, so the old one took its name back and runs again.
    is(
        "autoupdate",
        "rollback",
        "container-app.service 127.0.0.1:5000/app:latest registry rolled back",
    );
    is("autoupdate", "rollback_rc", "0");
    is("autoupdate", "rollback_active", "active");
    is("autoupdate", "rollback_runs_v2", "yes");
    is("autoupdate", "rollback_tag_v2", "yes");
    is("autoupdate", "rollback_version", "v2");
    is("autoupdate", "stopped", "inactive");
    is("autoupdate", "left", "0");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_systemd -- --ignored, as root)"]
fn auto_update_rolls_back_an_image_that_runs_but_never_becomes_healthy() {
    let lines = || format!("{:#?}", lane()["autoupdate_healthy"].lines);
    assert_eq!(val("autoupdate_healthy", "pull_good"), "0", "{}", lines());
    assert_eq!(val("autoupdate_healthy", "start"), "0", "{}", lines());
    assert_eq!(val("autoupdate_healthy", "active"), "active");
    assert_eq!(val("autoupdate_healthy", "health"), "healthy");
    assert_eq!(
        val("autoupdate_healthy", "pushed_bad"),
        "yes",
        "{}",
        lines()
    );
    // The new image's container ran, and under --sdnotify=healthy the unit
    // stayed activating: its healthcheck never passed.
    assert_eq!(val("autoupdate_healthy", "bad_ran"), "yes", "{}", lines());
    assert_eq!(val("autoupdate_healthy", "bad_state"), "activating");
    assert_eq!(
        val("autoupdate_healthy", "rollback"),
        "container-hc.service 127.0.0.1:5000/hc:latest registry rolled back",
        "{}",
        lines()
    );
    assert_eq!(val("autoupdate_healthy", "rollback_rc"), "0");
    // The restart failed at TimeoutStartSec (--start-timeout 20), not
    // before: readiness, not a failed start, decided the rollback.
    let ms = num("autoupdate_healthy", "rollback_ms");
    assert!(ms >= 20_000, "rolled back after {ms} ms");
    assert_eq!(val("autoupdate_healthy", "rollback_active"), "active");
    assert_eq!(val("autoupdate_healthy", "rollback_runs_good"), "yes");
    assert_eq!(val("autoupdate_healthy", "rollback_tag_good"), "yes");
    assert_eq!(val("autoupdate_healthy", "rollback_version"), "good");
    assert_eq!(val("autoupdate_healthy", "rollback_health"), "healthy");
    assert_eq!(val("autoupdate_healthy", "stopped"), "inactive");
    assert_eq!(val("autoupdate_healthy", "left"), "0");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_systemd -- --ignored, as root)"]
fn new_pod_unit_creates_the_pod_and_stopping_it_removes_the_pod() {
    is("pod_unit", "generate", "0");
    is("pod_unit", "verify", "0");
    is("pod_unit", "start", "0");
    is("pod_unit", "active", "active");
    // The pod unit wants its container's unit, which runs in the pod it
    // created (found by the pod id file).
    is("pod_unit", "web_active", "active");
    is("pod_unit", "pod_state", "Running");
    is("pod_unit", "idfile", "yes");
    is("pod_unit", "web_in_pod", "yes");
    is("pod_unit", "mainpid_is_infra_supervisor", "yes");
    is("pod_unit", "stop", "0");
    is("pod_unit", "stopped", "inactive");
    is("pod_unit", "web_stopped", "inactive");
    is("pod_unit", "pods_left", "0");
    is("pod_unit", "left", "0");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_systemd -- --ignored, as root)"]
fn nothing_is_left_behind() {
    is("leftovers", "containers", "0");
    is("leftovers", "failed_units", "0");
    is("leftovers", "cidfiles", "0");
    is("leftovers", "cgroups", "0");
    is("leftovers", "processes", "0");
    is("leftovers", "container_processes", "0");
}
