//! `commit`: a new image from a container's changes (Podman's `commit`, and
//! the step `build` takes after every RUN, COPY and ADD).
//!
//! The image is the container's image plus one layer holding what changed
//! in the container's root file system (`storage::diff::layer`: volumes,
//! bind mounts and the /etc files skiff writes are left out), with the
//! container's configuration as Podman's commit takes it (Entrypoint, Cmd,
//! Env, WorkingDir, User, ExposedPorts, Labels, StopSignal; Volumes stay
//! the image's) and then the `--change` instructions, and one history
//! entry. A manifest is stored with it (OCI, or Docker schema 2 with
//! `--format docker`), so the image has a digest as pulled images do.
//!
//! A running container is paused for the time the layer is written
//! (`--pause`, the default as in Docker and Podman 4; Podman 5 no longer
//! pauses by default). Pausing uses the cgroup freezer where the container
//! has a delegated cgroup and SIGSTOP to every process of its pid namespace
//! where it does not (`container::pause`), so it works on hosts without a
//! freezer too; the container is resumed however the commit ends.

use chrono::{DateTime, SecondsFormat, Utc};
use oci_spec::image::{Config, History, HistoryBuilder, ImageConfiguration, RootFsBuilder};
use serde_json::json;

use super::change;
use super::progress::Progress;
use super::reference::normalize_local_name;
use super::store::{config_bytes, Image, ImageStore};
use crate::registry::manifest::{DOCKER_CONFIG, DOCKER_MANIFEST, OCI_CONFIG, OCI_MANIFEST};
use crate::state::config::MountKind;
use crate::state::container::{Container, Status};
use crate::{Context, Error, Result};

/// The manifest format of the committed image (`--format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ManifestFormat {
    /// `application/vnd.oci.image.manifest.v1+json` (Podman's default).
    #[default]
    Oci,
    /// Docker image manifest schema 2 (`--format docker`).
    Docker,
}

impl ManifestFormat {
    /// `oci` or `docker` (Podman's words; `v2s2` is accepted too).
    pub fn parse(s: &str) -> Result<ManifestFormat> {
        match s {
            "oci" => Ok(ManifestFormat::Oci),
            "docker" | "v2s2" => Ok(ManifestFormat::Docker),
            _ => Err(Error::msg(format!(
                "unrecognized image type {s:?}: use oci or docker"
            ))),
        }
    }

    fn media_types(self) -> (&'static str, &'static str) {
        match self {
            ManifestFormat::Oci => (OCI_MANIFEST, OCI_CONFIG),
            ManifestFormat::Docker => (DOCKER_MANIFEST, DOCKER_CONFIG),
        }
    }
}

/// How a commit lays out the new image's layers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Squash {
    /// The image's layers plus one layer of the container's changes.
    #[default]
    No,
    /// One layer holding the whole root file system, and only this
    /// commit's history entry (`commit --squash`, `build --squash-all`).
    All,
    /// The image's first `n` layers kept, then one layer of everything
    /// the layers above them and the container change (`build --squash`
    /// and `--layers=false`, as buildah squashes only what a build adds).
    Above(usize),
}

/// What `commit` makes of a container. `Default` is Podman's `commit`
/// with no flags, except `pause`, which the caller sets (the CLI: true).
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// Names to give the image (`localhost/` and `:latest` are added as
    /// `tag` does); none leaves it dangling, as Podman does.
    pub names: Vec<String>,
    /// `--author`: the config's `author` and the history entry's.
    pub author: Option<String>,
    /// `--message`: the history entry's comment.
    pub message: Option<String>,
    /// `--change` values, as `import --change` takes them (`image/change.rs`).
    pub changes: Vec<String>,
    /// Pause a running container while its changes are read.
    pub pause: bool,
    /// The history entry's `created_by`; by default none, as Podman's
    /// commit writes it.
    pub created_by: Option<String>,
    /// Metadata only: no layer, and the history entry says `empty_layer`
    /// (build's ENV, CMD, LABEL... steps).
    pub empty_layer: bool,
    /// The config to write instead of the container's image config with
    /// the container's settings (build keeps its own). Its `history` is
    /// kept (the steps before this one, metadata-only ones included) and
    /// this commit's entry appended; its `rootfs` is replaced by the
    /// container's image's layers plus this commit's. The changes still
    /// apply on top.
    pub config: Option<ImageConfiguration>,
    /// The manifest stored with the image.
    pub format: ManifestFormat,
    /// No progress lines on stderr (`-q`).
    pub quiet: bool,
    /// `--squash` ([`Squash::All`]), or build's squash of its own layers.
    pub squash: Squash,
    /// `--include-volumes`: the container's volume mount points become
    /// the image's `Volumes` too.
    pub include_volumes: bool,
}

/// Commits the container `container` (name or id) as a new image and
/// returns it. Everything the options can get wrong (a `--change`, a
/// name, an unknown container) fails before any work, and a failure
/// half-way leaves no image: layers are only shared once complete.
pub fn commit(ctx: &Context, container: &str, opts: &CommitOptions) -> Result<Image> {
    let changes = opts
        .changes
        .iter()
        .map(|v| change::parse(v))
        .collect::<super::Result<Vec<_>>>()?;
    let names = opts
        .names
        .iter()
        .map(|n| {
            normalize_local_name(n)
                .map_err(|e| Error::msg(format!("parsing target image name {n:?}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let c = crate::container::lookup(ctx, container)?;
    let store = ImageStore::new(ctx);
    let base = if c.config.image_id.is_empty() {
        None
    } else {
        Some(store.load(&c.config.image_id).map_err(|e| {
            Error::msg(format!(
                "{}: image {} of the container: {e}",
                c.name,
                short(&c.config.image_id)
            ))
        })?)
    };
    let progress = Progress::new(opts.quiet);

    let layer = if opts.empty_layer {
        None
    } else {
        let _paused = Paused::begin(ctx, &c, opts.pause)?;
        progress.line("Getting image source signatures");
        Some(store_layer(ctx, &c, &store, opts.squash)?)
    };
    if let Some(l) = &layer {
        progress.blob("blob", &l.diff_id, Some(l.size)).done();
    }

    let now = Utc::now();
    let mut config = match &opts.config {
        Some(cfg) => cfg.clone(),
        None => container_config(base.as_ref(), &c),
    };
    if opts.include_volumes {
        let mut cc = config.config().clone().unwrap_or_default();
        let mut vols = cc.volumes().clone().unwrap_or_default();
        for m in &c.config.mounts {
            if m.kind == MountKind::Volume && !vols.contains(&m.destination) {
                vols.push(m.destination.clone());
            }
        }
        cc.set_volumes((!vols.is_empty()).then_some(vols));
        config.set_config(Some(cc));
    }
    let mut diff_ids = match &base {
        Some(b) => match opts.squash {
            Squash::No => b.layers.clone(),
            Squash::All => Vec::new(),
            Squash::Above(n) => b.layers[..n.min(b.layers.len())].to_vec(),
        },
        None => Vec::new(),
    };
    diff_ids.extend(layer.iter().map(|l| l.diff_id.clone()));
    config.set_rootfs(
        RootFsBuilder::default()
            .typ("layers")
            .diff_ids(diff_ids)
            .build()
            .map_err(|e| Error::msg(e.to_string()))?,
    );
    let mut history = earlier_history(opts, base.as_ref());
    let mut entry = HistoryBuilder::default().created(rfc3339(now));
    if let Some(by) = &opts.created_by {
        entry = entry.created_by(by.clone());
    }
    if let Some(a) = &opts.author {
        entry = entry.author(a.clone());
    }
    if let Some(m) = &opts.message {
        entry = entry.comment(m.clone());
    }
    if opts.empty_layer {
        entry = entry.empty_layer(true);
    }
    history.push(entry.build().map_err(|e| Error::msg(e.to_string()))?);
    config.set_history(history);
    config.set_created(Some(rfc3339(now)));
    if let Some(a) = &opts.author {
        config.set_author(Some(a.clone()));
    }
    change::apply(&mut config, &changes);

    let bytes = config_bytes(&config)?;
    let config_digest = store.put_blob_bytes(&bytes)?;
    progress
        .blob("config", &config_digest, Some(bytes.len() as u64))
        .done();
    progress.line("Writing manifest to image destination");
    let manifest = manifest(&store, &config, &config_digest, bytes.len(), opts.format)?;
    let manifest_digest = store.put_blob_bytes(&manifest)?;
    Ok(store.create_image_from_config_blob(&config_digest, &names, Some(manifest_digest))?)
}

/// The history the new entry is appended to: the given config's (build
/// tracks its metadata-only steps there), else the image's; none when
/// squashing everything.
fn earlier_history(opts: &CommitOptions, base: Option<&Image>) -> Vec<History> {
    match (&opts.config, base) {
        _ if opts.squash == Squash::All => Vec::new(),
        (Some(cfg), _) => cfg.history().clone(),
        (None, Some(b)) => b.config.history().clone(),
        (None, None) => Vec::new(),
    }
}

fn short(id: &str) -> &str {
    &id[..12.min(id.len())]
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The container paused for the time it is alive (when asked and running).
struct Paused<'a> {
    ctx: &'a Context,
    c: Option<Container>,
}

impl<'a> Paused<'a> {
    fn begin(ctx: &'a Context, c: &Container, pause: bool) -> Result<Paused<'a>> {
        let running = crate::container::effective_status(c) == Status::Running;
        if !(pause && running) {
            return Ok(Paused { ctx, c: None });
        }
        crate::container::pause::set_paused(ctx, c, true)?;
        Ok(Paused {
            ctx,
            c: Some(c.clone()),
        })
    }
}

impl Drop for Paused<'_> {
    fn drop(&mut self) {
        if let Some(c) = &self.c {
            if let Err(e) = crate::container::pause::set_paused(self.ctx, c, false) {
                tracing::warn!(container = %c.name, "cannot resume after commit: {e}");
            }
        }
    }
}

/// Writes the container's changes into the store as a layer: with
/// `squash`, its whole mounted root file system, or what that tree changes
/// against the image's first layers.
fn store_layer(
    ctx: &Context,
    c: &Container,
    store: &ImageStore,
    squash: Squash,
) -> Result<super::store::LayerRecord> {
    let rootfs = match squash {
        Squash::No => None,
        _ => Some(Mounted::new(ctx, c)?),
    };
    let label = format!("{} changes", c.name);
    let stored = store.create_layer_written(&label, |w| {
        match (&rootfs, squash) {
            (Some(m), Squash::Above(n)) => {
                let base = &c.config.layers[..n.min(c.config.layers.len())];
                crate::storage::diff::tree_layer_over(&m.path, c, base, w)
            }
            (Some(m), _) => crate::storage::diff::tree_layer(&m.path, c, w),
            (None, _) => crate::storage::diff::layer(ctx, c, w),
        }
        .map(drop)
        .map_err(|e| super::Error::Msg(e.to_string()))
    })?;
    Ok(stored)
}

/// The container's root file system, mounted for the time it is alive
/// (left as it was when it was mounted already).
struct Mounted<'a> {
    ctx: &'a Context,
    c: &'a Container,
    path: std::path::PathBuf,
    unmount: bool,
}

impl<'a> Mounted<'a> {
    fn new(ctx: &'a Context, c: &'a Container) -> Result<Mounted<'a>> {
        let unmount = crate::container::effective_status(c) != Status::Running;
        let path = crate::container::start::mount_rootfs(ctx, c)?;
        Ok(Mounted {
            ctx,
            c,
            path,
            unmount,
        })
    }
}

impl Drop for Mounted<'_> {
    fn drop(&mut self) {
        if self.unmount {
            let _ = crate::container::start::unmount_rootfs(self.ctx, self.c);
        }
    }
}

/// The image config the container's settings make, over its image's.
fn container_config(base: Option<&Image>, c: &Container) -> ImageConfiguration {
    let mut config = base.map(|b| b.config.clone()).unwrap_or_default();
    if base.is_none() {
        let host = crate::registry::manifest::Platform::host();
        config.set_architecture(oci_spec::image::Arch::from(host.architecture.as_str()));
        config.set_os(oci_spec::image::Os::from(host.os.as_str()));
    }
    let mut cc: Config = config.config().clone().unwrap_or_default();
    let cfg = &c.config;
    cc.set_entrypoint((!cfg.entrypoint.is_empty()).then(|| cfg.entrypoint.clone()));
    cc.set_cmd((!cfg.cmd.is_empty()).then(|| cfg.cmd.clone()));
    cc.set_env((!cfg.env.is_empty()).then(|| cfg.env.clone()));
    cc.set_working_dir((!cfg.workdir.is_empty()).then(|| cfg.workdir.clone()));
    let user = match &cfg.user.group {
        Some(g) => format!("{}:{g}", cfg.user.user),
        None => cfg.user.user.clone(),
    };
    cc.set_user((!user.is_empty()).then_some(user));
    let mut ports = cc.exposed_ports().clone().unwrap_or_default();
    for p in &cfg.expose {
        let p = if p.contains('/') {
            p.clone()
        } else {
            format!("{p}/tcp")
        };
        if !ports.contains(&p) {
            ports.push(p);
        }
    }
    cc.set_exposed_ports((!ports.is_empty()).then_some(ports));
    let labels: std::collections::HashMap<String, String> = cfg
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    cc.set_labels((!labels.is_empty()).then_some(labels));
    if let Some(sig) = cfg.stop_signal {
        cc.set_stop_signal(Some(sig.as_str().to_string()));
    }
    config.set_config(Some(cc));
    config
}

/// The manifest of the image: the config and every layer's stored blob.
/// The manifest of an image whose config is stored as `config_digest`
/// (`config_size` bytes) and whose layers are in the store, in `format`
/// (also the build's images, made without a container for metadata steps).
pub(crate) fn manifest(
    store: &ImageStore,
    config: &ImageConfiguration,
    config_digest: &str,
    config_size: usize,
    format: ManifestFormat,
) -> Result<Vec<u8>> {
    let (manifest_type, config_type) = format.media_types();
    let mut layers = Vec::new();
    for d in config.rootfs().diff_ids() {
        let rec = store
            .layer(d)?
            .ok_or_else(|| Error::msg(format!("layer {d} is not stored")))?;
        let media_type = match format {
            ManifestFormat::Oci => rec.media_type.clone(),
            ManifestFormat::Docker => docker_layer_type(&rec.media_type).to_string(),
        };
        layers.push(
            json!({"mediaType": media_type, "digest": rec.blob_digest, "size": rec.blob_size}),
        );
    }
    let m = json!({
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": {"mediaType": config_type, "digest": config_digest, "size": config_size},
        "layers": layers,
    });
    serde_json::to_vec(&m).map_err(|e| Error::msg(e.to_string()))
}

/// Docker's name for a layer stored as the OCI media type `oci`.
fn docker_layer_type(oci: &str) -> &'static str {
    match oci {
        t if t.ends_with("+gzip") => "application/vnd.docker.image.rootfs.diff.tar.gzip",
        t if t.ends_with("+zstd") => "application/vnd.docker.image.rootfs.diff.tar.zstd",
        _ => "application/vnd.docker.image.rootfs.diff.tar",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_history(by: &[&str]) -> ImageConfiguration {
        let mut c = ImageConfiguration::default();
        c.set_history(
            by.iter()
                .map(|b| HistoryBuilder::default().created_by(*b).build().unwrap())
                .collect(),
        );
        c
    }

    fn created_by(h: &[History]) -> Vec<String> {
        h.iter()
            .map(|e| e.created_by().clone().unwrap_or_default())
            .collect()
    }

    #[test]
    fn history_comes_from_the_given_config_else_the_image() {
        let image = Image {
            config: with_history(&["FROM"]),
            ..Image::default()
        };
        let mut opts = CommitOptions::default();
        assert_eq!(created_by(&earlier_history(&opts, Some(&image))), ["FROM"]);
        // Build's config holds its metadata-only steps since the image.
        opts.config = Some(with_history(&["FROM", "ENV A=1"]));
        assert_eq!(
            created_by(&earlier_history(&opts, Some(&image))),
            ["FROM", "ENV A=1"]
        );
        opts.squash = Squash::All;
        assert!(earlier_history(&opts, Some(&image)).is_empty());
    }

    #[test]
    fn formats_parse_as_podman_names_them() {
        assert_eq!(ManifestFormat::parse("oci").unwrap(), ManifestFormat::Oci);
        assert_eq!(
            ManifestFormat::parse("docker").unwrap(),
            ManifestFormat::Docker
        );
        let e = ManifestFormat::parse("qcow").unwrap_err().to_string();
        assert!(e.contains("qcow"), "{e}");
    }
}
