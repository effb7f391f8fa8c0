//! `kube play` and `kube down` against the store: the [`super::play`] plan
//! made real through `pod::create`, `container::create` and the volume
//! store, and undone whole when any step fails, so a file either plays
//! completely or leaves nothing behind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::command::Process;
use super::play::{self, Plan, PodPlan, POD_LABEL};
use super::Document;
use crate::state::config::{Mount, MountKind};
use crate::state::container::Container;
use crate::{Context, Error, Result};

/// `kube play`'s flags.
#[derive(Debug, Clone, Default)]
pub struct PlayOptions {
    /// `--replace`: pods of the same names are torn down first.
    pub replace: bool,
    /// `--start` (true unless `--start=false`).
    pub start: bool,
    /// `--network`.
    pub network: Vec<String>,
    /// The text of each `--configmap` file.
    pub configmaps: Vec<(String, String)>,
    /// containers.conf's namespaces and devices, for every container.
    pub defaults: crate::state::extras::ConfDefaults,
}

/// What `kube play` made: per pod, its id and its containers' ids (init
/// containers that ran to completion are gone and not listed).
#[derive(Debug, Clone, Default)]
pub struct PlayReport {
    /// Names of the claimed volumes (PersistentVolumeClaims).
    pub volumes: Vec<String>,
    pub pods: Vec<(String, Vec<String>)>,
    pub warnings: Vec<String>,
}

/// The documents of `text` and of the `--configmap` files, and the plan.
/// Warnings go to `report.warnings`; nothing is created yet, but images
/// are pulled as their policy asks.
fn prepare(ctx: &Context, text: &str, o: &PlayOptions) -> Result<(Plan, Vec<String>)> {
    let parsed = super::parse(text)?;
    let mut warnings = parsed.warnings;
    let mut extra = Vec::new();
    for (file, text) in &o.configmaps {
        let p = super::parse(text).map_err(|e| Error::msg(format!("--configmap {file}: {e}")))?;
        warnings.extend(p.warnings);
        for d in p.documents {
            match d {
                Document::ConfigMap(_) => extra.push(d),
                other => {
                    return Err(Error::msg(format!(
                        "--configmap {file}: {:?} is not a ConfigMap",
                        other.name()
                    )))
                }
            }
        }
    }
    let mut images = BTreeMap::new();
    for (name, policy) in play::images(&parsed.documents) {
        let img = crate::image::pull::ensure(ctx, &name, &policy)?;
        let cfg = img.config.config().clone().unwrap_or_default();
        images.insert(
            name,
            Process {
                entrypoint: cfg.entrypoint().clone().unwrap_or_default(),
                cmd: cfg.cmd().clone().unwrap_or_default(),
            },
        );
    }
    let mut plan = play::plan(
        &parsed.documents,
        &play::Inputs {
            images: &images,
            network: &o.network,
            extra: &extra,
            defaults: &o.defaults,
        },
    )?;
    warnings.extend(plan.warnings.iter().cloned());
    for p in &mut plan.pods {
        for c in p.init_containers.iter_mut().chain(&mut p.containers) {
            if let Some(w) = host_limits(ctx, &p.name, c)? {
                warnings.push(w);
            }
        }
    }
    Ok((plan, warnings))
}

/// Whether this host can hold the cgroup limits of container `c` (the
/// check `create` makes for `run --memory`), asked before anything is
/// made. Limits that cannot be applied refuse the play (as Podman's fails
/// to start such a container, and as skiff's `run --memory` refuses);
/// requests alone are a scheduling hint: without a cgroup for them they
/// are dropped with the returned warning, and the container runs.
fn host_limits(ctx: &Context, pod: &str, c: &mut play::ContainerPlan) -> Result<Option<String>> {
    let res = &c.options.resources;
    if res.is_empty() {
        return Ok(None);
    }
    let Err(e) = crate::container::create::check_limits(ctx, &c.options) else {
        return Ok(None);
    };
    if res.memory.is_some() || res.nano_cpus.is_some() {
        return Err(Error::msg(format!(
            "pod {pod:?}: container {:?}: resources.limits cannot be applied: {e}",
            c.name
        )));
    }
    c.options.resources = Default::default();
    Ok(Some(format!(
        "pod {pod:?}: container {:?}: resources.requests are not applied: {e}",
        c.name
    )))
}

/// Plays `text` (a YAML file's content). Everything is checked first (the
/// YAML, images, names in use); then each pod is made and started, its
/// init containers run one by one to completion first. Any failure undoes
/// every pod and volume this call made and returns the error.
pub fn play(ctx: &Context, text: &str, o: &PlayOptions) -> Result<PlayReport> {
    let (plan, mut warnings) = prepare(ctx, text, o)?;
    if !o.start {
        for p in plan.pods.iter().filter(|p| !p.init_containers.is_empty()) {
            warnings.push(format!(
                "pod {}: with --start=false its init containers are created, and pod start runs them with the others, not before them",
                p.name
            ));
        }
    }
    for w in &warnings {
        tracing::warn!("{w}");
    }
    if o.replace {
        for p in &plan.pods {
            if let Some(pod) = find_pod(ctx, &p.name)? {
                let t = p
                    .stop_timeout
                    .map_or(grace(None), |s| Duration::from_secs(s.into()));
                down_pod(ctx, &pod, t)?;
            }
        }
    } else {
        for p in &plan.pods {
            if let Some(pod) = find_pod(ctx, &p.name)? {
                return Err(Error::msg(format!(
                    "pod {:?} already exists ({}): use --replace, or kube down first",
                    p.name,
                    &pod.id[..12]
                )));
            }
        }
    }
    let mut made = Made::default();
    let mut report = PlayReport {
        warnings,
        ..Default::default()
    };
    for name in &plan.claims {
        let existed = crate::volume::get(ctx, name).is_ok();
        let made_now = crate::volume::create(
            ctx,
            &crate::volume::CreateOptions {
                name: Some(name.clone()),
                ignore_existing: true,
                ..Default::default()
            },
        );
        match made_now {
            Ok(v) => {
                if !existed {
                    made.volumes.push(v.name.clone());
                }
                report.volumes.push(v.name);
            }
            Err(e) => {
                made.undo(ctx);
                return Err(e.into());
            }
        }
    }
    for p in &plan.pods {
        match play_pod(ctx, p, o.start, &mut made) {
            Ok(ids) => report.pods.push(ids),
            Err(e) => {
                made.undo(ctx);
                return Err(e);
            }
        }
    }
    Ok(report)
}

/// What a play has made so far, to undo on failure.
#[derive(Default)]
struct Made {
    pods: Vec<crate::pod::Pod>,
    volumes: Vec<String>,
    /// Host paths made for `DirectoryOrCreate` and `FileOrCreate`, each
    /// the outermost directory or file that was missing.
    paths: Vec<PathBuf>,
}

impl Made {
    fn undo(&self, ctx: &Context) {
        for p in self.pods.iter().rev() {
            if let Err(e) = crate::pod::remove(ctx, p, true) {
                tracing::warn!("undo kube play: pod {}: {e}", p.name);
            }
        }
        for v in &self.volumes {
            let _ = crate::volume::remove(ctx, v);
        }
        for p in self.paths.iter().rev() {
            remove_made_path(p);
        }
    }
}

fn find_pod(ctx: &Context, name: &str) -> Result<Option<crate::pod::Pod>> {
    Ok(crate::pod::list(ctx)?.into_iter().find(|p| p.name == name))
}

/// The labels of a volume made for pod `pod`.
fn labels(pod: &str, v: &play::VolumePlan) -> std::collections::BTreeMap<String, String> {
    let mut l: std::collections::BTreeMap<String, String> =
        [(POD_LABEL.to_string(), pod.to_string())].into();
    if v.empty_dir {
        l.insert(play::SCRATCH_LABEL.into(), v.pod_volume.clone());
    }
    l
}

/// Makes a volume of the plan and writes its files.
fn make_volume(ctx: &Context, pod: &str, v: &play::VolumePlan) -> Result<()> {
    crate::volume::create(
        ctx,
        &crate::volume::CreateOptions {
            name: Some(v.name.clone()),
            labels: labels(pod, v),
            options: vec!["nocopy".into()],
            anonymous: true,
            ..Default::default()
        },
    )?;
    let data = crate::volume::mountpoint(ctx, &v.name);
    for f in &v.files {
        use std::os::unix::fs::PermissionsExt;
        let path = data.join(&f.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::msg(crate::error::io_msg("mkdir", dir, &e)))?;
        }
        std::fs::write(&path, &f.data)
            .map_err(|e| Error::msg(crate::error::io_msg("write", &path, &e)))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(f.mode))
            .map_err(|e| Error::msg(crate::error::io_msg("chmod", &path, &e)))?;
    }
    Ok(())
}

/// Makes a `DirectoryOrCreate` or `FileOrCreate` host path that is missing,
/// with its missing parents, one at a time; returns the outermost path it
/// made (None when the path was there). A failure part-way removes what
/// this call made, so the error leaves the host as it was. The path has no
/// `..` component (parse refuses it), so its ancestors are its parents.
fn make_host_path(h: &play::HostPathPlan) -> Result<Option<PathBuf>> {
    let p = Path::new(&h.path);
    let mut missing: Vec<&Path> = p
        .ancestors()
        .take_while(|a| !a.as_os_str().is_empty() && a.symlink_metadata().is_err())
        .collect();
    missing.reverse();
    let Some(outermost) = missing.first().map(|a| a.to_path_buf()) else {
        return Ok(None);
    };
    for (i, a) in missing.iter().enumerate() {
        let r = if h.file && i + 1 == missing.len() {
            std::fs::File::options()
                .write(true)
                .create_new(true)
                .open(a)
                .map(drop)
        } else {
            std::fs::create_dir(a)
        };
        if let Err(e) = r {
            if i > 0 {
                remove_made_path(&outermost);
            }
            return Err(Error::msg(crate::error::io_msg("create", a, &e)));
        }
    }
    Ok(Some(outermost))
}

/// Removes a host path [`make_host_path`] made, with whatever the pod's
/// containers put in it since.
fn remove_made_path(p: &Path) {
    let r = match p.symlink_metadata() {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p),
        Ok(_) => std::fs::remove_file(p),
        Err(_) => Ok(()),
    };
    if let Err(e) = r {
        tracing::warn!("undo kube play: {}", crate::error::io_msg("remove", p, &e));
    }
}

/// Makes one pod, its volumes and containers, and starts them when
/// `start`. Returns the pod's id and its containers' ids.
fn play_pod(
    ctx: &Context,
    p: &PodPlan,
    start: bool,
    made: &mut Made,
) -> Result<(String, Vec<String>)> {
    for h in &p.host_paths {
        let made_now = make_host_path(h).map_err(|e| Error::msg(format!("pod {}: {e}", p.name)))?;
        made.paths.extend(made_now);
    }
    for v in &p.volumes {
        make_volume(ctx, &p.name, v)?;
        made.volumes.push(v.name.clone());
    }
    let pod = crate::pod::create(ctx, Some(&p.name), p.config.clone())?;
    made.pods.push(pod.clone());
    let create = |c: &play::ContainerPlan| -> Result<Container> {
        let mut o = c.options.clone();
        o.pod = Some(pod.id.clone());
        for s in &c.sub_paths {
            // The volume (a claim's is made by create when missing) with
            // its sub path, resolved inside it at each start: a link a
            // container planted there never leads the mount out of it.
            let mut opts = vec!["nocopy".to_string()];
            if s.read_only {
                opts.push("ro".into());
            }
            let mut m = Mount::new(
                MountKind::Volume,
                s.volume.clone(),
                s.destination.clone(),
                opts,
            );
            m.sub_path = s.sub_path.clone();
            o.typed.mounts.push(m);
        }
        crate::container::create(ctx, &o)
    };
    let inits = p
        .init_containers
        .iter()
        .map(&create)
        .collect::<Result<Vec<_>>>()?;
    let containers = p
        .containers
        .iter()
        .map(&create)
        .collect::<Result<Vec<_>>>()?;
    if start {
        for (c, plan) in inits.iter().zip(&p.init_containers) {
            crate::pod::start_container(ctx, c)?;
            let code = crate::container::stop::wait(ctx, c)?;
            if code != 0 {
                return Err(Error::msg(format!(
                    "pod {}: init container {:?} exited with code {code}",
                    p.name, plan.name
                )));
            }
            // Podman's default init container type, "once": it goes once done.
            crate::container::remove(ctx, c, true)?;
        }
        crate::pod::start(ctx, &pod)?;
    }
    let ids = if start {
        containers.iter().map(|c| c.id.clone()).collect()
    } else {
        inits
            .iter()
            .chain(&containers)
            .map(|c| c.id.clone())
            .collect()
    };
    Ok((pod.id, ids))
}

/// What `kube down` removed.
#[derive(Debug, Clone, Default)]
pub struct DownReport {
    /// Ids of the pods that were running and were stopped.
    pub stopped: Vec<String>,
    pub removed: Vec<String>,
    /// Names of the volumes play had made for them.
    pub volumes: Vec<String>,
}

/// `kube down`: the pods the YAML describes (by name) are stopped and
/// removed with their containers and the volumes play made for them
/// (emptyDir, configMap, secret); claimed volumes are kept, as Podman
/// does without `--force`. A pod that does not exist is skipped.
pub fn down(ctx: &Context, text: &str) -> Result<DownReport> {
    let parsed = super::parse(text)?;
    let mut report = DownReport::default();
    for doc in &parsed.documents {
        let Some(name) = play::pod_name(doc) else {
            continue;
        };
        let Some(pod) = find_pod(ctx, &name)? else {
            continue;
        };
        let all = crate::container::store(ctx).list()?;
        let running = crate::pod::members_in(&all, &pod.id).iter().any(|c| {
            matches!(
                crate::container::effective_status(c),
                crate::state::container::Status::Running | crate::state::container::Status::Paused
            )
        });
        report
            .volumes
            .extend(down_pod(ctx, &pod, grace(doc.pod_spec()))?);
        if running {
            report.stopped.push(pod.id.clone());
        }
        report.removed.push(pod.id);
    }
    Ok(report)
}

/// Removes a pod with everything in it and the volumes labelled as made
/// for it; returns those volumes' names.
fn down_pod(ctx: &Context, pod: &crate::pod::Pod, timeout: Duration) -> Result<Vec<String>> {
    let ours: Vec<String> = crate::volume::list(ctx)?
        .into_iter()
        .filter(|v| v.labels.get(POD_LABEL) == Some(&pod.name))
        .map(|v| v.name)
        .collect();
    crate::pod::stop(ctx, pod, timeout)?;
    // Removing the containers drops the anonymous volumes no one else uses.
    crate::pod::remove(ctx, pod, true)?;
    for name in &ours {
        match crate::volume::remove(ctx, name) {
            Ok(()) | Err(crate::volume::Error::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(ours)
}

/// The grace period of a pod: `terminationGracePeriodSeconds` of its
/// YAML, else Podman's default stop timeout of 10 seconds.
fn grace(spec: Option<&crate::kube::types::PodSpec>) -> Duration {
    let secs = spec
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(10);
    Duration::from_secs(secs.clamp(0, 3600) as u64)
}
