//! What `kube generate` reads: a pod's record and its containers', or
//! standalone containers, as the [`PodDescription`] the generator writes.
//! Only what differs from the image is described (its ENTRYPOINT, CMD,
//! environment and working directory are left to the image), so that
//! `kube play` of the output makes the same containers again.

use std::path::Path;

use super::generate::{
    ContainerDescription, MountDescription, MountSource, PodDescription, SecurityDescription,
};
use super::play::{POD_LABEL, SCRATCH_LABEL};
use crate::image::ImageStore;
use crate::network::ports::PortMapping;
use crate::state::config::{MountKind, RestartPolicy};
use crate::state::container::Container;
use crate::{Context, Result};

/// Variables every container gets that the YAML need not carry.
const IMPLICIT_ENV: &[&str] = &["PATH", "TERM", "container", "HOSTNAME", "HOME"];

/// A pod and its containers (not the infra container), for `kube generate POD`.
pub fn pod(ctx: &Context, pod: &crate::pod::Pod) -> Result<PodDescription> {
    let members: Vec<Container> = crate::pod::members(ctx, &pod.id)?
        .into_iter()
        .filter(|c| !c.config.infra)
        .collect();
    let mut containers = members
        .iter()
        .map(|c| container(ctx, c, &format!("{}-", pod.name)))
        .collect::<Result<Vec<_>>>()?;
    // The pod's published ports are the first container's in the YAML.
    if let Some(first) = containers.first_mut() {
        first.ports = pod.config.ports.clone();
    }
    Ok(PodDescription {
        name: pod.name.clone(),
        labels: pod.config.labels.clone(),
        hostname: pod.hostname().to_string(),
        created: Some(pod.created),
        restart_policy: members
            .first()
            .map(|c| restart_word(c.config.restart_policy)),
        host_network: pod.config.networks == ["host"],
        share_pid: pod.shares(crate::pod::Namespace::Pid),
        containers,
    })
}

/// Standalone containers as one pod named after the first, `NAME-pod`, as
/// Podman names it; their published ports go with each.
pub fn containers(ctx: &Context, list: &[Container]) -> Result<PodDescription> {
    let name = format!("{}-pod", list.first().map_or("", |c| c.name.as_str()));
    let containers = list
        .iter()
        .map(|c| {
            let mut d = container(ctx, c, "")?;
            d.ports = c
                .config
                .publish
                .iter()
                .flat_map(|p| {
                    (0..p.count.max(1)).map(move |i| PortMapping {
                        host_ip: p.host_ip.clone(),
                        host_port: if p.host_port == 0 { 0 } else { p.host_port + i },
                        container_port: p.container_port + i,
                        protocol: p.protocol.clone(),
                    })
                })
                .collect();
            Ok(d)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(PodDescription {
        name: name.clone(),
        hostname: name,
        created: list.first().map(|c| c.created),
        restart_policy: list.first().map(|c| restart_word(c.config.restart_policy)),
        containers,
        ..Default::default()
    })
}

fn restart_word(p: RestartPolicy) -> String {
    match p {
        RestartPolicy::No => "Never",
        RestartPolicy::OnFailure { .. } => "OnFailure",
        RestartPolicy::Always | RestartPolicy::UnlessStopped => "Always",
    }
    .into()
}

/// One container; `prefix` (`POD-`) is taken off its name, as `kube play`
/// adds it.
fn container(ctx: &Context, c: &Container, prefix: &str) -> Result<ContainerDescription> {
    let cfg = &c.config;
    let image = ImageStore::new(ctx)
        .load(&cfg.image_id)
        .ok()
        .and_then(|i| i.config.config().clone())
        .unwrap_or_default();
    let image_env = image.env().clone().unwrap_or_default();
    let image_ep = image.entrypoint().clone().unwrap_or_default();
    let image_cmd = image.cmd().clone().unwrap_or_default();
    let env = cfg
        .env
        .iter()
        .filter(|e| !image_env.contains(e))
        .filter_map(|e| e.split_once('='))
        .filter(|(k, _)| !IMPLICIT_ENV.contains(k))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    // Kubernetes' command replaces ENTRYPOINT and args CMD: say only what
    // differs, and the command whenever the args do not follow the image's.
    let (command, args) = if cfg.entrypoint == image_ep {
        let args = if cfg.cmd == image_cmd {
            Vec::new()
        } else {
            cfg.cmd.clone()
        };
        (Vec::new(), args)
    } else {
        (cfg.entrypoint.clone(), cfg.cmd.clone())
    };
    let mounts = cfg
        .mounts
        .iter()
        .filter_map(|m| {
            let source = match m.kind {
                MountKind::Bind => MountSource::HostPath {
                    path: m.source.clone(),
                    file: Path::new(&m.source).is_file(),
                },
                MountKind::Volume => match played_volume(ctx, m) {
                    // A volume of files (ConfigMap, Secret) has no source
                    // left to name: it is not described.
                    Some(false) => return None,
                    Some(true) => MountSource::EmptyDir(m.volume_name().unwrap_or_default()),
                    None => MountSource::Volume(m.volume_name().unwrap_or_default()),
                },
                MountKind::Tmpfs => MountSource::Tmpfs,
                // Kubernetes has no devpts volume.
                MountKind::Devpts => return None,
            };
            Some((m, source))
        })
        .map(|(m, source)| MountDescription {
            source,
            destination: m.destination.clone(),
            read_only: m.readonly,
            sub_path: m.sub_path.clone(),
        })
        .collect();
    let numeric = |s: &str| s.parse::<i64>().ok();
    let image_workdir = image.working_dir().clone().unwrap_or_default();
    Ok(ContainerDescription {
        name: cfg_name(c, prefix),
        image: cfg.image_name.clone(),
        command,
        args,
        env,
        ports: Vec::new(),
        mounts,
        workdir: if cfg.workdir == image_workdir || cfg.workdir == "/" {
            String::new()
        } else {
            cfg.workdir.clone()
        },
        security: SecurityDescription {
            run_as_user: numeric(&cfg.user.user),
            run_as_group: cfg.user.group.as_deref().and_then(numeric),
            read_only_root_filesystem: cfg.read_only,
            privileged: cfg.privileged,
            no_new_privileges: cfg.no_new_privileges,
            cap_add: cfg.capabilities.add.clone(),
            cap_drop: cfg.capabilities.drop.clone(),
        },
        resources: cfg
            .labels
            .get(super::play::RESOURCES_LABEL)
            .and_then(|json| serde_json::from_str(json).ok()),
    })
}

fn cfg_name(c: &Container, prefix: &str) -> String {
    match c.name.strip_prefix(prefix) {
        Some(rest) if !prefix.is_empty() && !rest.is_empty() => rest.to_string(),
        _ => c.name.clone(),
    }
}

/// Whether a volume mount is of a volume `kube play` made for the pod:
/// Some(true) for an emptyDir, Some(false) for files (a ConfigMap or
/// Secret, mounted read-only), None for any other volume.
fn played_volume(ctx: &Context, m: &crate::state::config::Mount) -> Option<bool> {
    let v = crate::volume::get(ctx, &m.volume_name()?).ok()?;
    v.labels
        .get(POD_LABEL)
        .map(|_| v.labels.contains_key(SCRATCH_LABEL))
}
