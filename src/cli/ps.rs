//! `ps`: the container list as Podman prints it. Two views of each container:
//! the JSON of `--format json` (Podman's `entities.ListContainer`, with
//! `Created` in Unix seconds and `CreatedAt`/`Status` in words), and what a
//! template sees (Podman's `psReporter`: `.Names` one name, `.Command` one
//! string, `.CreatedAt` and `.StartedAt` as Go prints a time, `.RunningFor`,
//! `.Size`, `.Networks` joined by commas).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::container::PsArgs;
use crate::container;
use crate::state::container::{Container, Status};
use crate::{Context, Error, Result};

/// Podman's headers for the `ps` fields whose name is not their header.
const HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Cgroup", "CGROUPNS"),
    ("CreatedHuman", "CREATED"),
    ("IPC", "IPC"),
    ("MNT", "MNT"),
    ("NET", "NET"),
    ("Networks", "NETWORKS"),
    ("PIDNS", "PIDNS"),
    ("Pod", "POD ID"),
    ("PodName", "PODNAME"),
    ("RunningFor", "RUNNING FOR"),
    ("UTS", "UTS"),
    ("User", "USERNS"),
];

/// The namespaces `--ns` shows: Podman's field name and the /proc name.
const NAMESPACES: &[(&str, &str)] = &[
    ("Cgroup", "cgroup"),
    ("IPC", "ipc"),
    ("MNT", "mnt"),
    ("NET", "net"),
    ("PIDNS", "pid"),
    ("User", "user"),
    ("UTS", "uts"),
];

/// What `ps` needs of a container beyond its record, gathered once.
struct Facts {
    status: Status,
    /// Between two runs of a `--restart` container: exited, its supervisor
    /// waiting to start it again (Docker's `Restarting`).
    restarting: bool,
    pod_id: String,
    pod_name: String,
    networks: Vec<String>,
    /// (bytes written to the container's layer, those plus the image's).
    size: Option<(u64, u64)>,
    /// Podman's field name to the namespace's inode number, for a running container.
    namespaces: serde_json::Map<String, Value>,
    /// Its published ports: those of the container whose network namespace
    /// it runs in (a pod's infra container for its members), as Podman.
    ports: Vec<crate::network::ports::PortMapping>,
}

/// Go's `time.Time.String()` for a UTC time: `2026-11-22 11:52:18.8874152 +0000 UTC`.
fn go_time(t: DateTime<Utc>) -> String {
    crate::events::go_time(&t)
}

/// Podman's STATUS column: `Up 5 minutes`, `Paused`, `Exited (0) 2 seconds
/// ago`; a container waiting to restart as Docker shows it (`Restarting (1)
/// 2 seconds ago`), a state Podman does not have.
fn status_text(c: &Container, f: &Facts) -> String {
    let up = || {
        format!(
            "Up {}",
            c.state
                .started_at
                .map(|t| crate::format::human_duration((Utc::now() - t).num_seconds()))
                .unwrap_or_default()
        )
    };
    let ago = || {
        c.state
            .finished_at
            .map(crate::format::human_ago)
            .unwrap_or_default()
    };
    match f.status {
        Status::Created => "Created".into(),
        // Podman's "Up 5 seconds (healthy)".
        Status::Running => match (&c.config.healthcheck, &c.state.health) {
            (Some(_), Some(h)) => format!("{} ({})", up(), h.status.as_str()),
            (Some(_), None) => format!("{} (starting)", up()),
            _ => up(),
        },
        Status::Paused => "Paused".into(),
        Status::Stopping => "Stopping".into(),
        Status::Removing => "Removing".into(),
        Status::Exited if f.restarting => format!("Restarting ({}) {}", c.state.exit_code, ago()),
        Status::Exited => format!("Exited ({}) {}", c.state.exit_code, ago()),
    }
}

/// `0.0.0.0:8080->80/tcp, ...` for a running container's published ports.
fn ports_text(ports: &[crate::network::ports::PortMapping]) -> String {
    ports
        .iter()
        .map(|p| {
            let ip = if p.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                &p.host_ip
            };
            format!("{ip}:{}->{}/{}", p.host_port, p.container_port, p.protocol)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn facts(
    ctx: &Context,
    c: &Container,
    all: &[Container],
    pods: &[crate::pod::Pod],
    image_sizes: Option<&std::collections::HashMap<String, u64>>,
) -> Facts {
    let status = container::effective_status(c);
    let (pod_id, pod_name) = pods
        .iter()
        .find(|p| p.id == c.config.pod)
        .map(|p| (p.id[..12].to_string(), p.name.clone()))
        .unwrap_or_default();
    let networks = container::filter::networks_of(c);
    let size = image_sizes.map(|sizes| {
        let rw = container::df::rw_size(ctx, c);
        (rw, rw + sizes.get(&c.config.image_id).copied().unwrap_or(0))
    });
    let mut namespaces = serde_json::Map::new();
    if matches!(status, Status::Running | Status::Paused) && c.state.pid > 0 {
        for (field, proc_name) in NAMESPACES {
            let link = std::fs::read_link(format!("/proc/{}/ns/{proc_name}", c.state.pid));
            // `net:[4026531992]` -> `4026531992`, as Podman shows it.
            if let Some(n) = link.ok().and_then(|l| {
                let l = l.to_string_lossy().into_owned();
                Some(l.split_once('[')?.1.trim_end_matches(']').to_string())
            }) {
                namespaces.insert(field.to_string(), Value::String(n));
            }
        }
    }
    let ports = if matches!(status, Status::Running | Status::Paused) {
        container::network::ports_owner(c, all)
    } else {
        c
    }
    .state
    .network
    .ports
    .clone();
    Facts {
        status,
        restarting: status == Status::Exited && container::supervisor_alive(c),
        pod_id,
        pod_name,
        networks,
        size,
        namespaces,
        ports,
    }
}

/// Podman's `ps --format json` element.
fn json_view(c: &Container, f: &Facts) -> Value {
    let unix = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp());
    let ports: Vec<Value> = f
        .ports
        .iter()
        .map(|p| {
            json!({
                "host_ip": p.host_ip,
                "container_port": p.container_port,
                "host_port": p.host_port,
                "range": 1,
                "protocol": p.protocol,
            })
        })
        .collect();
    let mut v = json!({
        "AutoRemove": c.config.auto_remove,
        "Command": c.config.args,
        "CreatedAt": crate::format::human_ago(c.created),
        "CIDFile": "",
        "Exited": f.status == Status::Exited,
        // Go's zero time in Unix seconds when the container never exited.
        "ExitedAt": unix(c.state.finished_at).unwrap_or(-62135596800),
        "ExitCode": c.state.exit_code,
        "Id": c.id,
        "Image": c.config.image_name,
        "ImageID": c.config.image_id,
        "IsInfra": c.config.infra,
        "Labels": if c.config.labels.is_empty() { Value::Null } else { json!(c.config.labels) },
        "Mounts": c.config.mounts.iter().map(|m| m.destination.clone()).collect::<Vec<_>>(),
        "Names": [c.name],
        "Namespaces": f.namespaces,
        "Networks": f.networks,
        "Pid": c.state.pid,
        "Pod": f.pod_id,
        "PodName": f.pod_name,
        "Ports": if ports.is_empty() { Value::Null } else { Value::Array(ports) },
        "Restarts": c.state.restart_count,
        "StartedAt": unix(c.state.started_at).unwrap_or(0),
        "State": f.status.as_str(),
        "Status": status_text(c, f),
        "Created": c.created.timestamp(),
    });
    if let Some((rw, root)) = f.size {
        v["Size"] = json!({"rwSize": rw, "rootFsSize": root});
    }
    v
}

/// What a `ps --format` template sees: Podman's `psReporter` fields.
fn template_view(c: &Container, f: &Facts, no_trunc: bool) -> Value {
    let cmd = c.config.args.join(" ");
    let command = if !no_trunc && cmd.chars().count() > 17 {
        format!("{}...", cmd.chars().take(17).collect::<String>())
    } else {
        cmd
    };
    let ago = crate::format::human_ago(c.created);
    let labels = c
        .config
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut ns = serde_json::Map::new();
    for (field, _) in NAMESPACES {
        let v = f.namespaces.get(*field).cloned().unwrap_or(json!(""));
        ns.insert(field.to_string(), v);
    }
    json!({
        "AutoRemove": c.config.auto_remove,
        "Command": command,
        "Created": ago,
        "CreatedAt": go_time(c.created),
        "CreatedHuman": ago,
        "Exited": f.status == Status::Exited,
        "ExitedAt": c.state.finished_at.map(go_time).unwrap_or_else(|| "0001-01-01 00:00:00 +0000 UTC".into()),
        "ExitCode": c.state.exit_code,
        "ID": if no_trunc { c.id.clone() } else { c.id[..12].to_string() },
        "Id": c.id,
        "Image": c.config.image_name,
        "ImageID": c.config.image_id,
        "IsInfra": c.config.infra,
        "Labels": labels,
        // What `{{.Label "key"}}` reads (format::template's rewrite).
        "LabelMap": c.config.labels,
        "Mounts": c.config.mounts.iter().map(|m| m.destination.clone()).collect::<Vec<_>>().join(","),
        "Names": c.name,
        "Namespaces": ns,
        "Networks": f.networks.join(","),
        "Pid": c.state.pid,
        "Pod": f.pod_id,
        "PodName": f.pod_name,
        "Ports": ports_text(&f.ports),
        "Restarts": c.state.restart_count,
        "RunningFor": ago,
        "Size": f.size.map(|(rw, root)| format!(
            "{} (virtual {})",
            crate::format::human_size_compact(rw),
            crate::format::human_size_compact(root)
        )).unwrap_or_default(),
        "StartedAt": go_time(c.state.started_at.unwrap_or(DateTime::UNIX_EPOCH)),
        "State": f.status.as_str(),
        "Status": status_text(c, f),
    })
}

/// The table `ps` prints without `--format` (or with a bare `table`).
fn default_table(a: &PsArgs) -> String {
    if a.ns {
        return "table {{.ID}}\t{{.Names}}\t{{.Pid}}\t{{.Namespaces.Cgroup}}\t{{.Namespaces.IPC}}\t{{.Namespaces.MNT}}\t{{.Namespaces.NET}}\t{{.Namespaces.PIDNS}}\t{{.Namespaces.User}}\t{{.Namespaces.UTS}}".into();
    }
    let mut t = String::from(
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.CreatedHuman}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}",
    );
    if a.pod {
        t.push_str("\t{{.Pod}}\t{{.PodName}}");
    }
    if a.size {
        t.push_str("\t{{.Size}}");
    }
    t
}

/// Whether a container shows without `--all`: running ones, and (as Docker
/// shows them) paused ones and those waiting to restart.
fn shown_by_default(f: &Facts) -> bool {
    matches!(f.status, Status::Running | Status::Paused) || f.restarting
}

/// `skiff ps`; with `--watch N`, again every N seconds until interrupted.
pub fn ps(ctx: &Context, a: PsArgs) -> Result<i32> {
    let filters = container::filter::parse(&a.filter, &container::filter::Store(ctx))?;
    let format = match a.format.as_deref().map(str::trim) {
        None | Some("table") => default_table(&a),
        Some(f) => f.to_string(),
    };
    let sample_c = Container {
        version: crate::state::container::RECORD_VERSION,
        id: "0".repeat(64),
        name: String::new(),
        created: Utc::now(),
        config: Default::default(),
        state: Default::default(),
    };
    let sample_f = facts(ctx, &sample_c, &[], &[], None);
    let sample = template_view(&sample_c, &sample_f, false);
    let shape = crate::format::Shape::new("entities.ListContainer", &sample).with_headers(HEADERS);
    if format != "json" && !a.quiet {
        crate::format::validate(&format, &shape).map_err(Error::from)?;
    }
    if a.watch == Some(0) {
        return Err(Error::msg("must be > 0: --watch".to_string()));
    }
    loop {
        let text = once(ctx, &a, &filters, &format, &shape)?;
        let mut out = String::new();
        if a.watch.is_some() {
            // Clear the screen and home the cursor, as Podman's --watch does.
            out.push_str("\x1b[H\x1b[2J");
        }
        out.push_str(&text);
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(out.as_bytes());
        let _ = stdout.flush();
        match a.watch {
            Some(n) => std::thread::sleep(std::time::Duration::from_secs(n)),
            None => return Ok(0),
        }
    }
}

fn once(
    ctx: &Context,
    a: &PsArgs,
    filters: &container::filter::Filters,
    format: &str,
    shape: &crate::format::Shape,
) -> Result<String> {
    let pods = crate::pod::list(ctx)?;
    let all = container::list(ctx)?;
    let every = a.all || a.latest || a.last.is_some() || !filters.is_empty();
    let image_sizes = if a.size || format.contains(".Size") {
        let store = crate::image::ImageStore::new(ctx);
        Some(
            store
                .list()?
                .into_iter()
                .map(|i| (i.id, i.size))
                .collect::<std::collections::HashMap<_, _>>(),
        )
    } else {
        None
    };
    let mut shown: Vec<(&Container, Facts)> = all
        .iter()
        // Build containers are external, as buildah's are to Podman.
        .filter(|c| a.external || c.config.builder.is_none())
        .map(|c| (c, facts(ctx, c, &all, &pods, image_sizes.as_ref())))
        .filter(|(c, f)| (every || shown_by_default(f)) && filters.keep(c, f.status))
        .collect();
    let limit = if a.latest { Some(1) } else { a.last };
    if let Some(n) = limit {
        shown.sort_by_key(|(c, _)| std::cmp::Reverse(c.created));
        shown.truncate(n);
    }
    let mut order: Vec<&Container> = shown.iter().map(|(c, _)| *c).collect();
    container::filter::sort(&mut order, &a.sort)?;
    let by_id = |c: &Container| {
        shown
            .iter()
            .find(|(s, _)| s.id == c.id)
            .map(|(_, f)| f)
            .expect("sorted from the same list")
    };
    if a.quiet {
        let mut out = String::new();
        for c in order {
            out.push_str(if a.no_trunc { &c.id[..] } else { &c.id[..12] });
            out.push('\n');
        }
        return Ok(out);
    }
    if format == "json" {
        let items: Vec<Value> = order.iter().map(|c| json_view(c, by_id(c))).collect();
        return Ok(crate::format::format_items("json", &items, shape)?);
    }
    let items: Vec<Value> = order
        .iter()
        .map(|c| template_view(c, by_id(c), a.no_trunc))
        .collect();
    Ok(crate::format::format_items_headed(
        format,
        &items,
        shape,
        !a.noheading,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_time_strings() {
        let t = DateTime::parse_from_rfc3339("2026-11-22T11:52:18.887415200Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(go_time(t), "2026-11-22 11:52:18.8874152 +0000 UTC");
        assert_eq!(
            go_time(DateTime::UNIX_EPOCH),
            "1970-01-01 00:00:00 +0000 UTC"
        );
    }
}
