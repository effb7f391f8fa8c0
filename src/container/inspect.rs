//! `inspect` for containers: Podman-shaped JSON, keys as scripts use them.

use serde_json::{json, Value};

use super::effective_status;
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
    let mounts: Vec<Value> = cfg
        .mounts
        .iter()
        .map(|m| {
            json!({
                "Type": m.kind,
                "Source": m.source,
                "Destination": m.destination,
                "Driver": if m.kind == "volume" { "local" } else { "" },
                "Mode": "",
                "Options": m.options,
                "RW": !m.options.iter().any(|o| o == "ro"),
                "Propagation": "rprivate",
            })
        })
        .collect();
    let binds: Vec<String> = cfg
        .mounts
        .iter()
        .filter(|m| m.kind != "tmpfs")
        .map(|m| {
            if m.options.is_empty() {
                format!("{}:{}", m.source, m.destination)
            } else {
                format!("{}:{}:{}", m.source, m.destination, m.options.join(","))
            }
        })
        .collect();
    let (restart_name, restart_max) = match cfg.restart_policy.split_once(':') {
        Some((n, m)) => (n.to_string(), m.parse::<u32>().unwrap_or(0)),
        None => (cfg.restart_policy.clone(), 0),
    };
    let log_path = crate::supervisor::log_path(ctx, &c.id);
    let state = json!({
        "OciVersion": "1.0.2",
        "Status": status.as_str(),
        "Running": running,
        "Paused": status == Status::Paused,
        "Restarting": false,
        "OOMKilled": c.state.oom_killed,
        "Dead": false,
        "Pid": if running { c.state.pid } else { 0 },
        "ConmonPid": if running { c.state.monitor_pid } else { 0 },
        "ExitCode": c.state.exit_code,
        "Error": c.state.error,
        "StartedAt": time(c.state.started_at),
        "FinishedAt": time(c.state.finished_at),
        "Health": {"Status": "", "FailingStreak": 0, "Log": null},
    });
    let config = json!({
        "Hostname": cfg.hostname,
        "Domainname": "",
        "User": cfg.user,
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
        "Annotations": {},
        "StopSignal": if cfg.stop_signal.is_empty() { "SIGTERM".to_string() } else { cfg.stop_signal.clone() },
        "CreateCommand": [],
        "Umask": "0022",
        "Timeout": 0,
        "StopTimeout": 10,
    });
    let tmpfs: serde_json::Map<String, Value> = cfg
        .mounts
        .iter()
        .filter(|m| m.kind == "tmpfs")
        .map(|m| (m.destination.clone(), Value::String(m.options.join(","))))
        .collect();
    let host_config = json!({
        "Binds": binds,
        "NetworkMode": crate::network::network_mode_name(c),
        "PortBindings": {},
        "RestartPolicy": {"Name": restart_name, "MaximumRetryCount": restart_max},
        "AutoRemove": cfg.auto_remove,
        "LogConfig": {"Type": "k8s-file", "Path": log_path, "Config": null, "Tag": "", "Size": "0B"},
        "CapAdd": cfg.cap_add,
        "CapDrop": cfg.cap_drop,
        "Privileged": cfg.privileged,
        "ReadonlyRootfs": cfg.read_only,
        "Tmpfs": tmpfs,
        "Ulimits": cfg.ulimits,
        "SecurityOpt": security_opts(cfg),
    });
    json!({
        "Id": c.id,
        "Created": c.created.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        "Path": cfg.args.first().cloned().unwrap_or_default(),
        "Args": cfg.args.iter().skip(1).collect::<Vec<_>>(),
        "State": state,
        "Image": cfg.image_id,
        "ImageName": cfg.image_name,
        "Rootfs": "",
        "Pod": "",
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
        "Dependencies": [],
        "NetworkSettings": crate::network::inspect_json(c),
        "Namespace": "",
        "IsInfra": false,
        "Config": config,
        "HostConfig": host_config,
    })
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
