//! `inspect` for containers: Podman-shaped JSON, keys as scripts use them.
//! The one place where the record's typed values (`state::config`) are
//! rendered in Podman's shapes.

use serde_json::{json, Value};

use super::effective_status;
use crate::state::config::{Mount, MountKind};
use crate::state::container::{Container, Status};
use crate::Context;

const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
        .unwrap_or_else(|| ZERO_TIME.into())
}

/// The inspect object of one container.
pub fn inspect_json(ctx: &Context, c: &Container) -> Value {
    let status = effective_status(c);
    let running = matches!(status, Status::Running | Status::Paused);
    let cfg = &c.config;
    // A container in another's network namespace (a pod's member) reports
    // that one's published ports, as Podman does.
    let joins = matches!(
        &cfg.network,
        crate::network::mode::NetworkChoice::Explicit(crate::network::Mode::Container(_))
    );
    let all = if joins {
        super::list(ctx).unwrap_or_default()
    } else {
        Vec::new()
    };
    let ports_of = super::network::ports_owner(c, &all).clone();
    let mounts: Vec<Value> = cfg
        .mounts
        .iter()
        .map(|m| {
            json!({
                "Type": m.kind.as_str(),
                "Name": m.volume_name().unwrap_or_default(),
                "Source": m.source,
                "Destination": m.destination,
                "Driver": if m.kind == MountKind::Volume { "local" } else { "" },
                "Mode": "",
                "Options": m.options,
                "RW": !m.readonly,
                "Propagation": "rprivate",
            })
        })
        .collect();
    let binds: Vec<String> = cfg
        .mounts
        .iter()
        .filter(|m| !m.kind.is_new_fs())
        .map(Mount::bind_spec)
        .collect();
    let restart = cfg.restart_policy;
    let log_path = crate::supervisor::log_path(ctx, c);
    let health = match &c.state.health {
        Some(h) if cfg.healthcheck.is_some() => h.to_json(),
        // Podman's shape for a healthcheck not run yet.
        _ if cfg.healthcheck.is_some() => {
            json!({"Status": if running { "starting" } else { "" }, "FailingStreak": 0, "Log": null})
        }
        _ => json!({"Status": "", "FailingStreak": 0, "Log": null}),
    };
    let state = json!({
        "OciVersion": "1.0.2",
        "Status": status.as_str(),
        "Running": running,
        "Paused": status == Status::Paused,
        "Restarting": false,
        "OOMKilled": c.state.oom_killed,
        "Dead": false,
        "StoppedByUser": c.state.stopped_by_user(),
        "Pid": if running { c.state.pid } else { 0 },
        "ConmonPid": if running { c.state.monitor_pid } else { 0 },
        "ExitCode": c.state.exit_code,
        "Error": c.state.error,
        "StartedAt": time(c.state.started_at),
        "FinishedAt": time(c.state.finished_at),
        "Health": health.clone(),
        "Healthcheck": health,
        "CgroupPath": if running { cgroup_path(c.state.pid) } else { String::new() },
    });
    let config = json!({
        "Hostname": cfg.hostname,
        "Domainname": "",
        "User": cfg.user.to_string(),
        "AttachStdin": cfg.interactive,
        "AttachStdout": false,
        "AttachStderr": false,
        "Tty": cfg.tty,
        "OpenStdin": cfg.interactive,
        "StdinOnce": false,
        "Env": cfg.env,
        "Cmd": cfg.cmd,
        "Image": cfg.image_name,
        "Volumes": null,
        "WorkingDir": cfg.workdir,
        "Entrypoint": cfg.entrypoint,
        "OnBuild": null,
        "Labels": cfg.labels,
        "Annotations": cfg.extras.annotations,
        "StopSignal": cfg.stop_signal.unwrap_or(nix::sys::signal::Signal::SIGTERM).as_str(),
        "CreateCommand": cfg.create_command,
        "Umask": format!("{:04o}", cfg.extras.umask.unwrap_or(crate::state::extras::DEFAULT_UMASK)),
        "Timeout": 0,
        "StopTimeout": cfg.stop_timeout.unwrap_or(10),
        "Secrets": super::secrets::inspect_json(c),
        "Healthcheck": cfg.healthcheck.as_ref().map(|h| h.to_json()),
        "HealthcheckOnFailureAction": cfg.health_on_failure.as_str(),
        // Podman's key (lowercase s): conmon, container, healthy or ignore.
        "sdNotifyMode": cfg.sdnotify,
    });
    let tmpfs: serde_json::Map<String, Value> = cfg
        .mounts
        .iter()
        .filter(|m| m.kind == MountKind::Tmpfs)
        .map(|m| (m.destination.clone(), Value::String(m.options.join(","))))
        .collect();
    let host_config = json!({
        "Binds": binds,
        "NetworkMode": crate::network::network_mode_name(c),
        "PortBindings": port_bindings(&cfg.publish),
        "RestartPolicy": {"Name": restart.name(), "MaximumRetryCount": restart.max_retries()},
        "AutoRemove": cfg.auto_remove,
        "LogConfig": {
            "Type": cfg.log.driver.as_str(),
            "Path": log_path,
            "Config": null,
            "Tag": cfg.log.tag.clone().unwrap_or_default(),
            "Size": cfg.log.max_size.map(|s| s.to_string()).unwrap_or_else(|| "0B".into()),
        },
        "CapAdd": cfg.capabilities.add,
        "CapDrop": cfg.capabilities.drop,
        "Privileged": cfg.privileged,
        "ReadonlyRootfs": cfg.read_only,
        "Tmpfs": tmpfs,
        "Ulimits": super::start::effective_rlimits(&cfg.rlimits)
            .iter()
            .map(|r| json!({"Name": r.resource.to_string(), "Soft": r.soft, "Hard": r.hard}))
            .collect::<Vec<_>>(),
        "SecurityOpt": security_opts(cfg),
        "Annotations": cfg.extras.annotations,
        "GroupAdd": group_add(&cfg.extras),
        "ShmSize": cfg.extras.shm_size.unwrap_or(crate::state::extras::DEFAULT_SHM_SIZE),
        "Sysctls": cfg.extras.sysctls,
        "PidMode": cfg.extras.pid.inspect(),
        "IpcMode": cfg.extras.ipc.inspect(),
        "UTSMode": cfg.extras.uts.inspect(),
        "UsernsMode": cfg.extras.userns.inspect(),
        "Init": cfg.extras.init,
        "Devices": cfg.extras.devices.iter().map(|d| json!({
            "PathOnHost": d.host,
            "PathInContainer": d.container,
            "CgroupPermissions": d.perms,
        })).collect::<Vec<_>>(),
    });
    let mut host_config = host_config;
    if let Value::Object(m) = &mut host_config {
        m.extend(limits_json(cfg));
        if let Some((uids, gids)) = cfg.extras.userns.id_mappings() {
            m.insert("IDMappings".into(), json!({"UidMap": uids, "GidMap": gids}));
        }
    }
    json!({
        "Id": c.id,
        "Created": c.created.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        "Path": cfg.args.first().cloned().unwrap_or_default(),
        "Args": cfg.args.iter().skip(1).collect::<Vec<_>>(),
        "State": state,
        "Image": cfg.image_id,
        "ImageName": if cfg.raw_image_name.is_empty() {
            &cfg.image_name
        } else {
            &cfg.raw_image_name
        },
        "Rootfs": "",
        "Pod": cfg.pod,
        "ResolvConfPath": ctx.container_dir(&c.id).join("userdata/resolv.conf"),
        "HostnamePath": ctx.container_dir(&c.id).join("userdata/hostname"),
        "HostsPath": ctx.container_dir(&c.id).join("userdata/hosts"),
        "Name": c.name,
        // Which seccomp profile applies: default, unconfined or the file given.
        "SeccompProfile": cfg.seccomp.name(),
        "RestartCount": c.state.restart_count,
        "Driver": cfg.driver,
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": [],
        "Mounts": mounts,
        "Dependencies": cfg.requires,
        "NetworkSettings": crate::network::inspect_json(c, &ports_of),
        "Namespace": "",
        "IsInfra": cfg.infra,
        "Config": config,
        "HostConfig": host_config,
    })
}

/// HostConfig.PortBindings as Podman fills it from `-p`:
/// `{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}`, one key per
/// container port of a range; a host port left to the engine is "".
fn port_bindings(publish: &[crate::network::ports::PortSpec]) -> Value {
    let mut out = serde_json::Map::new();
    for p in publish {
        for i in 0..p.count {
            let host_port = match p.host_port {
                0 => String::new(),
                h => (h + i).to_string(),
            };
            let key = format!("{}/{}", p.container_port + i, p.protocol);
            let entry = json!({"HostIp": p.host_ip, "HostPort": host_port});
            match out.get_mut(&key) {
                Some(Value::Array(v)) => v.push(entry),
                _ => {
                    out.insert(key, Value::Array(vec![entry]));
                }
            }
        }
    }
    Value::Object(out)
}

/// HostConfig's resource keys as Podman shows them: 0 (or "" or []) for a
/// limit not set; MemorySwap is the memory-plus-swap limit in force.
fn limits_json(cfg: &crate::state::container::Config) -> serde_json::Map<String, Value> {
    let r = &cfg.resources;
    let devices = |l: &[crate::cgroups::limits::DeviceRate]| {
        l.iter()
            .map(|d| json!({"Path": d.path, "Rate": d.rate}))
            .collect::<Vec<_>>()
    };
    let (quota, period) = match (r.nano_cpus, r.cfs()) {
        (None, Some((q, p))) => (q.unwrap_or(0), p),
        _ => (0, 0),
    };
    let v = json!({
        "Memory": r.memory.unwrap_or(0),
        "MemorySwap": r.effective_swap().unwrap_or(0),
        "MemoryReservation": r.memory_reservation.unwrap_or(0),
        "NanoCpus": r.nano_cpus.unwrap_or(0),
        "CpuShares": r.cpu_shares.unwrap_or(0),
        "CpuPeriod": period,
        "CpuQuota": quota,
        "CpusetCpus": r.cpuset_cpus.clone().unwrap_or_default(),
        "CpusetMems": r.cpuset_mems.clone().unwrap_or_default(),
        "PidsLimit": r.pids_limit.unwrap_or(0),
        "BlkioWeight": r.blkio_weight.unwrap_or(0),
        "BlkioDeviceReadBps": devices(&r.device_read_bps),
        "BlkioDeviceWriteBps": devices(&r.device_write_bps),
        "BlkioDeviceReadIOps": devices(&r.device_read_iops),
        "BlkioDeviceWriteIOps": devices(&r.device_write_iops),
        "CgroupParent": cfg.cgroup_parent,
        "Cgroups": cfg.cgroups.inspect_name(),
        "CgroupManager": cfg.cgroup_manager.name(),
        // The cgroup namespace, as Podman names it from the spec.
        "CgroupMode": if cfg.cgroupns_host { "host" } else { "private" },
    });
    match v {
        Value::Object(m) => m,
        _ => unreachable!("a JSON object literal"),
    }
}

/// State.CgroupPath as Podman shows it: the cgroup v2 path of the
/// container's init from the root of the hierarchy
/// (`/user.slice/.../skiff-<id>.scope/container`; under `--cgroups split`
/// `<caller's cgroup>/skiff-<id>`), "" when it cannot be read.
fn cgroup_path(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .ok()
        .and_then(|t| crate::cgroups::own_path(&t))
        .map(|p| format!("/{}", p.display()))
        .unwrap_or_default()
}

/// HostConfig.GroupAdd as Podman shows it: the `--group-add` values as
/// given (`keep-groups`, or the gids).
fn group_add(x: &crate::state::extras::Extras) -> Vec<String> {
    if x.keep_groups {
        return vec!["keep-groups".into()];
    }
    x.group_add
        .iter()
        .map(u32::to_string)
        .chain(x.group_add_names.iter().cloned())
        .collect()
}

/// HostConfig.SecurityOpt as Docker shows it: the options that differ from
/// the defaults (`no-new-privileges`, `seccomp=unconfined|FILE`).
fn security_opts(cfg: &crate::state::container::Config) -> Vec<String> {
    use crate::state::container::SeccompChoice;
    let mut v = Vec::new();
    if cfg.no_new_privileges {
        v.push("no-new-privileges".to_string());
    }
    if cfg.seccomp != SeccompChoice::Default {
        v.push(format!("seccomp={}", cfg.seccomp.name()));
    }
    v
}
