//! The VM lane: one systemd unit per container (issue 17) under a real user
//! manager. The guest of tests/vm/build-image (Debian 12, systemd as PID 1,
//! a lingering user) boots once for this file and runs
//! tests/vm/systemd-checks.sh as that user with this build's skiff; each
//! test asserts one section of its output: a `generate systemd --new` unit
//! started (Type=notify, MainPID the supervisor), restarted and stopped
//! within its timeout, a failing container restarted per `Restart=`,
//! `--sdnotify=healthy`, a Quadlet `.container` through skiff's generator,
//! `auto-update` from a registry on the guest's loopback with a rollback,
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

fn num(section: &str, key: &str) -> u64 {
    let v = val(section, key);
    v.parse()
        .unwrap_or_else(|_| panic!("{section}.{key} is not a number: {v}"))
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_systemd -- --ignored, as root)"]
fn the_default_network_works_in_the_guest() {
    assert_eq!(val("network", "run"), "0");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_systemd -- --ignored, as root)"]
fn generated_new_unit_passes_systemd_analyze_verify() {
    assert_eq!(val("new_unit", "generate"), "0");
    assert_eq!(
        val("new_unit", "verify"),
        "0",
        "{:#?}",
        lane()["new_unit"].lines
    );
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_systemd -- --ignored, as root)"]
fn new_unit_is_ready_with_the_supervisor_as_main_pid() {
    assert_eq!(val("new_unit", "start"), "0");
    assert_eq!(val("new_unit", "type"), "notify");
    assert_eq!(val("new_unit", "active"), "active");
    assert_eq!(val("new_unit", "sub"), "running");
    assert_eq!(val("new_unit", "mainpid_is_supervisor"), "yes");
    assert_eq!(val("new_unit", "status"), "running");
    assert_eq!(val("new_unit", "cidfile"), "yes");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_systemd -- --ignored, as root)"]
fn restarting_the_unit_replaces_the_container() {
    assert_eq!(val("restart", "restart"), "0");
    assert_eq!(val("restart", "active"), "active");
    assert_eq!(val("restart", "new_container"), "yes");
    assert_eq!(val("restart", "status"), "running");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_systemd -- --ignored, as root)"]
fn stopping_the_unit_removes_the_container_within_its_timeout() {
    assert_eq!(val("stop", "stop"), "0");
    assert_eq!(val("stop", "active"), "inactive");
    assert_eq!(val("stop", "result"), "success");
    assert_eq!(val("stop", "left"), "0");
    assert_eq!(val("stop", "cidfile_left"), "no");
    // `--time 2`: the container ignores SIGTERM and is killed after 2 s,
    // well within TimeoutStopSec (62 s).
    let ms = num("stop", "stop_ms");
    assert!((2000..30_000).contains(&ms), "stop took {ms} ms");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_systemd -- --ignored, as root)"]
fn a_failing_container_is_restarted_per_restart_policy() {
    assert_eq!(val("failing", "generate"), "0");
    assert_eq!(val("failing", "restart_policy"), "on-failure");
    assert!(
        num("failing", "restarts") >= 1,
        "{:#?}",
        lane()["failing"].lines
    );
    assert_eq!(val("failing", "exec_main_status"), "3");
    assert_eq!(val("failing", "stopped"), "inactive");
    assert_eq!(val("failing", "left"), "0");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_systemd -- --ignored, as root)"]
fn sdnotify_healthy_is_ready_at_the_first_passing_healthcheck() {
    assert_eq!(val("healthy", "generate"), "0");
    assert_eq!(val("healthy", "while_starting"), "activating");
    assert_eq!(val("healthy", "active"), "active");
    assert_eq!(val("healthy", "health"), "healthy");
    // The check cannot pass before the container made /tmp/ready (3 s).
    let ms = num("healthy", "active_ms");
    assert!(ms >= 3000, "active after {ms} ms");
    assert_eq!(val("healthy", "left"), "0");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_systemd -- --ignored, as root)"]
fn quadlet_container_runs_through_the_generator() {
    assert_eq!(val("quadlet", "dryrun"), "1");
    assert_eq!(val("quadlet", "loaded"), "loaded");
    assert!(
        val("quadlet", "source").ends_with("/.config/containers/systemd/web.container"),
        "{}",
        val("quadlet", "source")
    );
    assert_eq!(val("quadlet", "start"), "0");
    assert_eq!(val("quadlet", "active"), "active");
    assert_eq!(val("quadlet", "status"), "running");
    assert_eq!(
        val("quadlet", "verify"),
        "0",
        "{:#?}",
        lane()["quadlet"].lines
    );
    assert_eq!(val("quadlet", "stopped"), "inactive");
    assert_eq!(val("quadlet", "left"), "0");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_systemd -- --ignored, as root)"]
fn auto_update_pulls_the_new_image_and_restarts_the_unit() {
    let lines = || format!("{:#?}", lane()["autoupdate"].lines);
    assert_eq!(val("autoupdate", "pull_v1"), "0", "{}", lines());
    assert_eq!(val("autoupdate", "start"), "0", "{}", lines());
    assert_eq!(val("autoupdate", "label"), "container-app.service");
    let row =
        |state: &str| format!("container-app.service 127.0.0.1:5000/app:latest registry {state}");
    // Nothing new in the registry yet.
    assert_eq!(val("autoupdate", "none"), row("false"), "{}", lines());
    assert_eq!(val("autoupdate", "pushed_v2"), "yes", "{}", lines());
    // --dry-run reports the update and changes nothing.
    assert_eq!(val("autoupdate", "dryrun"), row("pending"), "{}", lines());
    assert_eq!(val("autoupdate", "dryrun_image_kept"), "yes");
    assert_eq!(val("autoupdate", "update"), row("true"), "{}", lines());
    assert_eq!(val("autoupdate", "update_active"), "active");
    assert_eq!(val("autoupdate", "update_new_container"), "yes");
    assert_eq!(val("autoupdate", "update_runs_v2"), "yes");
    assert_eq!(val("autoupdate", "update_version"), "v2");
    // Up to date now.
    assert_eq!(val("autoupdate", "again"), "false", "{}", lines());
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_systemd -- --ignored, as root)"]
fn auto_update_rolls_back_an_image_that_does_not_start() {
    let lines = || format!("{:#?}", lane()["autoupdate"].lines);
    assert_eq!(val("autoupdate", "pushed_v3"), "yes", "{}", lines());
    // Podman's --rollback (default true): the unit did not start with the
    // new image, so the old one took its name back and runs again.
    assert_eq!(
        val("autoupdate", "rollback"),
        "container-app.service 127.0.0.1:5000/app:latest registry rolled back",
        "{}",
        lines()
    );
    assert_eq!(val("autoupdate", "rollback_rc"), "0");
    assert_eq!(val("autoupdate", "rollback_active"), "active");
    assert_eq!(val("autoupdate", "rollback_runs_v2"), "yes");
    assert_eq!(val("autoupdate", "rollback_tag_v2"), "yes");
    assert_eq!(val("autoupdate", "rollback_version"), "v2");
    assert_eq!(val("autoupdate", "stopped"), "inactive");
    assert_eq!(val("autoupdate", "left"), "0");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_systemd -- --ignored, as root)"]
fn new_pod_unit_creates_the_pod_and_stopping_it_removes_the_pod() {
    let lines = || format!("{:#?}", lane()["pod_unit"].lines);
    assert_eq!(val("pod_unit", "generate"), "0", "{}", lines());
    assert_eq!(val("pod_unit", "verify"), "0", "{}", lines());
    assert_eq!(val("pod_unit", "start"), "0", "{}", lines());
    assert_eq!(val("pod_unit", "active"), "active");
    // The pod unit wants its container's unit, which runs in the pod it
    // created (found by the pod id file).
    assert_eq!(val("pod_unit", "web_active"), "active", "{}", lines());
    assert_eq!(val("pod_unit", "pod_state"), "Running");
    assert_eq!(val("pod_unit", "idfile"), "yes", "{}", lines());
    assert_eq!(val("pod_unit", "web_in_pod"), "yes");
    assert_eq!(val("pod_unit", "mainpid_is_infra_supervisor"), "yes");
    assert_eq!(val("pod_unit", "stop"), "0");
    assert_eq!(val("pod_unit", "stopped"), "inactive");
    assert_eq!(val("pod_unit", "web_stopped"), "inactive");
    assert_eq!(val("pod_unit", "pods_left"), "0");
    assert_eq!(val("pod_unit", "left"), "0");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_systemd -- --ignored, as root)"]
fn nothing_is_left_behind() {
    assert_eq!(val("leftovers", "containers"), "0");
    assert_eq!(val("leftovers", "failed_units"), "0");
    assert_eq!(val("leftovers", "cidfiles"), "0");
    assert_eq!(val("leftovers", "cgroups"), "0");
    assert_eq!(val("leftovers", "processes"), "0");
    assert_eq!(val("leftovers", "container_processes"), "0");
}
