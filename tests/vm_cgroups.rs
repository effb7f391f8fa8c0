//! The VM lane: resource limits proven by their effect on a real delegated
//! cgroup v2 tree. The guest (tests/vm/build-image: Debian 12, systemd as
//! PID 1, a lingering user whose user@ service delegates cpu, cpuset, io,
//! memory and pids) boots once for this file and runs tests/vm/checks.sh as
//! that user with this build's skiff; each test asserts one section of its
//! output. Ignored by a plain `cargo test` (a first run builds the image as
//! root, about 5 minutes; a boot and the checks take about 2 minutes under
//! TCG): `.ci/run` runs them with `--ignored`, or says why it skipped them.

mod common;
#[path = "vm/lane.rs"]
mod lane;

use std::sync::OnceLock;

static LANE: OnceLock<lane::Sections> = OnceLock::new();

/// Boots the guest once for this file and runs tests/vm/checks.sh.
fn lane() -> &'static lane::Sections {
    LANE.get_or_init(|| lane::run("checks.sh", None))
}

/// The value of `key` in `section` of the checks' output.
fn val(section: &str, key: &str) -> String {
    lane::val(lane(), section, key)
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_cgroups -- --ignored, as root)"]
fn containers_get_cgroups_under_the_users_delegated_service() {
    let parent = val("delegation", "parent");
    assert!(
        parent.starts_with("/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/"),
        "{parent}"
    );
    let cgroup = val("limits", "cgroup");
    assert!(cgroup.starts_with(&format!("{parent}/skiff-")), "{cgroup}");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_cgroups -- --ignored, as root)"]
fn memory_limit_oom_kills_with_137() {
    assert_eq!(val("oom", "exit"), "137");
    assert_eq!(val("oom", "oomkilled"), "true");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_cgroups -- --ignored, as root)"]
fn pids_limit_refuses_forks() {
    assert_ne!(val("pids", "refused"), "0");
    assert_ne!(val("pids", "exit"), "0");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_cgroups -- --ignored, as root)"]
fn limits_are_written_and_shown_by_inspect() {
    assert_eq!(val("limits", "run"), "0");
    assert_eq!(val("limits", "memory.max"), "134217728");
    assert_eq!(val("limits", "memory.swap.max"), "0");
    assert_eq!(val("limits", "memory.low"), "33554432");
    assert_eq!(val("limits", "cpu.max"), "50000 100000");
    assert_eq!(val("limits", "cpu.weight"), "20");
    assert_eq!(val("limits", "cpuset.cpus"), "0");
    assert_eq!(val("limits", "pids.max"), "50");
    assert!(val("limits", "io.weight").starts_with("default "));
    assert_eq!(
        val("limits", "inspect"),
        "134217728 134217728 500000000 512 0 50"
    );
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_cgroups -- --ignored, as root)"]
fn cpu_quota_throttles_a_busy_loop() {
    let n: u64 = val("limits", "throttled").parse().unwrap();
    assert!(n > 0, "nr_throttled {n}");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_cgroups -- --ignored, as root)"]
fn update_rewrites_the_limits_of_a_running_container() {
    assert_eq!(val("update", "exit"), "0");
    assert_eq!(val("update", "memory.max"), "268435456");
    assert_eq!(val("update", "cpu.max"), "100000 100000");
    assert_eq!(val("update", "pids.max"), "100");
    assert_eq!(val("update", "inspect"), "268435456 1000000000 100");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_cgroups -- --ignored, as root)"]
fn pause_freezes_the_cgroup() {
    assert_eq!(val("freezer", "exit"), "0");
    assert_eq!(val("freezer", "freeze"), "1");
    assert_eq!(val("freezer", "frozen"), "1");
    assert_eq!(val("freezer", "status"), "paused");
    assert_eq!(val("freezer", "thawed"), "0");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_cgroups -- --ignored, as root)"]
fn cgroups_are_removed_with_their_containers() {
    assert_eq!(val("cleanup", "exit"), "0");
    assert_eq!(val("cleanup", "gone"), "yes");
    assert_eq!(val("cleanup", "rm_exit"), "0");
    assert_eq!(val("cleanup", "left"), "0");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_cgroups -- --ignored, as root)"]
fn unavailable_cpus_are_refused_with_125() {
    assert_eq!(val("errors", "cpuset_exit"), "125");
    let s = &lane()["errors"];
    assert!(
        s.lines
            .iter()
            .any(|l| l.contains("requested CPUs are not available")),
        "{:#?}",
        s.lines
    );
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_cgroups -- --ignored, as root)"]
fn kube_play_resources_are_cgroup_limits_and_pod_stats_reads_them() {
    assert_eq!(val("kube", "play"), "0");
    assert_eq!(val("kube", "memory.max"), "67108864");
    assert_eq!(val("kube", "cpu.max"), "50000 100000");
    let row = val("kube", "podstats");
    let mem = row
        .strip_prefix("kl-web|")
        .unwrap_or_else(|| panic!("{row:?}"));
    assert!(mem.contains(" / ") && !mem.starts_with("--"), "{row:?}");
    assert_eq!(val("kube", "down"), "0");
}
