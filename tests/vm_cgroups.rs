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

/// Boots the guest once for this file and runs tests/vm/checks.sh (after
/// tests/vm/cgroup-manager.sh as root).
fn lane() -> &'static lane::Sections {
    LANE.get_or_init(|| lane::run("checks.sh", Some("cgroup-manager.sh")))
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
fn a_container_sees_its_cgroup_as_the_root_of_its_cgroup_namespace() {
    // The cgroup namespace is made after the move into the container's
    // cgroup (`0::/../container` when it was made at clone time).
    for m in ["cgroupfs", "systemd"] {
        assert_eq!(val("cgroupns", &format!("{m}.run")), "0", "{m}");
        for how in ["", ".exec"] {
            assert_eq!(
                val("cgroupns", &format!("{m}{how}.cgroup")),
                "/",
                "{m}{how}"
            );
            assert_eq!(
                val("cgroupns", &format!("{m}{how}.memory.max")),
                "67108864",
                "{m}{how}: /sys/fs/cgroup is the container's cgroup"
            );
        }
    }
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

/// Bytes from a size as stats' MemUsageBytes shows it (go-units'
/// BytesSize, as Podman's: "66.5MiB", "256MiB", "512B"), to its four
/// significant digits.
fn bytes(s: &str) -> u64 {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| c.is_ascii_alphabetic())
        .map(|i| s.split_at(i))
        .unwrap_or_else(|| panic!("{s:?}"));
    let shift = match unit {
        "B" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        _ => panic!("{s:?}"),
    };
    let n: f64 = num.parse().unwrap_or_else(|_| panic!("{s:?}"));
    (n * (1u64 << shift) as f64) as u64
}

/// A percentage as stats shows it ("49.87%").
fn percent(s: &str) -> f64 {
    s.trim()
        .trim_end_matches('%')
        .parse()
        .unwrap_or_else(|_| panic!("{s:?}"))
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_cgroups -- --ignored, as root)"]
fn stats_memory_is_what_the_container_holds_and_limit_its_memory_flag() {
    assert_eq!(val("stats", "run"), "0");
    let mem = val("stats", "mem");
    let (usage, limit) = mem.split_once(" / ").unwrap_or_else(|| panic!("{mem:?}"));
    let (usage, limit) = (bytes(usage), bytes(limit));
    // 64 MiB in /dev/shm, plus what sh, the sleeps and the kernel hold.
    assert!(
        (64 << 20..=(64 + 24) << 20).contains(&usage),
        "usage {usage} for 64 MiB held"
    );
    let current: u64 = val("stats", "memory.current").parse().unwrap();
    assert!(
        usage.abs_diff(current) < 4 << 20,
        "{usage} vs memory.current {current}"
    );
    assert_eq!(limit, 256 << 20);
    assert_eq!(val("stats", "limit"), (256u64 << 20).to_string());
    // The table as Podman's: decimal units.
    let table = val("stats", "table");
    assert!(table.contains(" / 268MB"), "{table}");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_cgroups -- --ignored, as root)"]
fn stats_pids_counts_the_containers_processes() {
    assert_eq!(val("stats", "pids.current"), "3");
    assert_eq!(val("stats", "pids"), "3");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_cgroups -- --ignored, as root)"]
fn stats_cpu_of_a_busy_loop_is_what_cpus_allows() {
    // --cpus 0.5: about 50 %, never much more (the quota), not far less
    // (the loop never sleeps; the guest's other work takes a little).
    let since_start = percent(&val("stats", "cpu"));
    assert!((30.0..=60.0).contains(&since_start), "{since_start}%");
    let sample = percent(&val("stats", "cpu_live"));
    assert!((30.0..=60.0).contains(&sample), "{sample}% over 2 s");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_cgroups -- --ignored, as root)"]
fn stats_json_has_podmans_fields() {
    let json = val("stats", "json");
    let v: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let o = v[0].as_object().unwrap_or_else(|| panic!("{json}"));
    for k in [
        "id",
        "name",
        "cpu_time",
        "cpu_percent",
        "avg_cpu",
        "mem_usage",
        "mem_percent",
        "net_io",
        "block_io",
        "pids",
    ] {
        assert!(o.contains_key(k), "no {k} in {json}");
    }
    assert_eq!(o["name"], "sm");
    assert_eq!(o["pids"], "3");
    assert!(
        o["mem_usage"].as_str().unwrap().ends_with(" / 268MB"),
        "{json}"
    );
    assert_eq!(v.as_array().unwrap().len(), 1, "{json}");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_cgroups -- --ignored, as root)"]
fn limits_cost_run_little() {
    let plain: i64 = val("cost", "plain_us").parse().unwrap();
    let limited: i64 = val("cost", "limited_us").parse().unwrap();
    eprintln!(
        "run --rm true in the guest: median {:.1} ms without limits, {:.1} ms with \
         --memory/--cpus/--pids-limit: {:+.2} ms (issue 16: < 2 ms)",
        plain as f64 / 1000.0,
        limited as f64 / 1000.0,
        (limited - plain) as f64 / 1000.0
    );
    assert!(plain > 0 && limited > 0);
    assert_eq!(val("cost", "left"), "0");
}

/// A cgroup path of the lane's output ("/user.slice/..."), its parent.
fn parent_of(p: &str) -> &str {
    p.rsplit_once('/').map_or("", |(a, _)| a)
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_cgroups -- --ignored, as root)"]
fn cgroups_enabled_and_no_conmon_give_the_container_a_cgroup_beside_the_callers() {
    let own = val("modes", "own");
    for m in ["enabled", "no-conmon"] {
        assert_eq!(val("modes", m), "0");
        let c = val("modes", &format!("{m}.container"));
        assert!(
            c.starts_with(&format!("{}/skiff-", parent_of(&own))),
            "{m}: {c}"
        );
        assert_eq!(val("modes", &format!("{m}.supervisor")), own, "{m}");
        assert_eq!(val("modes", &format!("{m}.inspect")), "default");
    }
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_cgroups -- --ignored, as root)"]
fn systemd_manager_puts_the_supervisor_in_the_scope_unless_no_conmon() {
    let own = val("modes", "own");
    for m in ["sd-enabled", "sd-no-conmon"] {
        assert_eq!(val("modes", m), "0");
        let c = val("modes", &format!("{m}.container"));
        assert!(
            c.contains("/skiff-") && c.ends_with(".scope/container"),
            "{m}: {c}"
        );
    }
    let scope = parent_of(&val("modes", "sd-enabled.container")).to_string();
    assert_eq!(
        val("modes", "sd-enabled.supervisor"),
        format!("{scope}/supervisor")
    );
    assert_eq!(val("modes", "sd-no-conmon.supervisor"), own);
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_cgroups -- --ignored, as root)"]
fn cgroups_disabled_leaves_the_container_in_the_callers_cgroup() {
    let own = val("modes", "own");
    assert_eq!(val("modes", "disabled"), "0");
    assert_eq!(val("modes", "disabled.container"), own);
    assert_eq!(val("modes", "disabled.supervisor"), own);
    assert_eq!(val("modes", "disabled.inspect"), "disabled");
    assert_eq!(val("modes", "disabled_limits"), "125");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_cgroups -- --ignored, as root)"]
fn cgroups_split_puts_container_and_supervisor_under_the_callers_cgroup() {
    let own = val("modes", "own");
    assert_eq!(val("modes", "split_parent"), "125");
    assert_eq!(val("modes", "split"), "0");
    let c = val("modes", "split.container");
    assert!(c.starts_with(&format!("{own}/skiff-")), "{c}");
    assert_eq!(
        val("modes", "split.supervisor"),
        format!("{own}/skiff-supervisor")
    );
    assert_eq!(val("modes", "split.script"), format!("{own}/skiff-runtime"));
    assert_eq!(val("modes", "split.memory.max"), "67108864");
    assert_eq!(val("modes", "split.pids.max"), "20");
    assert_eq!(val("modes", "split.stats"), "67108864|1");
    // Podman's inspect of a split container: Cgroups "default" (only
    // disabled differs), a private cgroup namespace, no cgroup parent, and
    // the container's cgroup as State.CgroupPath.
    assert_eq!(
        val("modes", "split.inspect"),
        format!("default|private||systemd|{c}")
    );
    assert_eq!(val("modes", "split.rm"), "0");
    assert_eq!(val("modes", "split.gone"), "yes");
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_cgroups -- --ignored, as root)"]
fn systemd_cgroup_manager_gives_limits_from_a_session_without_delegation() {
    let v = |k: &str| val("cgroup-manager", k);
    // The caller's own cgroup is root's (a system service), not the user's.
    assert!(v("caller").starts_with("/system.slice/"), "{}", v("caller"));
    assert_eq!(v("default"), "systemd");
    assert_eq!(v("run"), "0");
    let cg = v("cgroup");
    assert!(
        cg.starts_with("/user.slice/user-1000.slice/user@1000.service/")
            && cg.ends_with(".scope/container")
            && cg.contains("/skiff-"),
        "{cg}"
    );
    assert_eq!(v("memory_max"), "67108864");
    assert_eq!(v("pids_max"), "30");
    assert_eq!(v("inspect_manager"), "systemd");
    assert_eq!(v("unit_active"), "active");
    assert_eq!(v("oom_exit"), "137");
    assert_eq!(v("rm"), "0");
    assert_eq!(v("scope_left"), "0", "the scope's cgroup outlived rm");
    assert_ne!(v("unit_after"), "active");
    // A restarted container runs again in its scope's container leaf (the
    // scope, held by its supervisor, is reused rather than asked for twice).
    assert_eq!(v("restart_wait"), "3");
    assert_eq!(v("restart_count"), "1");
    let runs = v("restart_cgroups");
    assert!(
        runs.contains(".scope/container")
            && runs.split_whitespace().all(|r| r.ends_with("/container")),
        "{runs}"
    );
    // cgroupfs has nothing delegated here: Podman's error, exit 125.
    assert_eq!(v("cgroupfs_exit"), "125");
    assert!(
        v("cgroupfs_error").contains("cgroup"),
        "{}",
        v("cgroupfs_error")
    );
}

#[test]
#[ignore = "VM lane: run by .ci/run (cargo test --test vm_cgroups -- --ignored, as root)"]
fn rm_of_a_container_whose_supervisor_was_killed_removes_its_cgroup() {
    for m in ["systemd", "cgroupfs"] {
        assert_eq!(val("orphan", &format!("{m}.run")), "0");
        assert_eq!(val("orphan", &format!("{m}.rm")), "0");
        assert_eq!(
            val("orphan", &format!("{m}.gone")),
            "yes",
            "{:#?}",
            lane()["orphan"].lines
        );
    }
}
