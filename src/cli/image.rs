//! Image commands: import, images, rmi, tag, untag, image inspect/exists.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use clap::{Args, Subcommand};
use oci_spec::image::{Arch, Config, HistoryBuilder, ImageConfiguration, Os, RootFsBuilder};
use serde_json::{json, Value};

use crate::format;
use crate::image::reference::{normalize_local_name, Reference};
use crate::image::{change, store, Image, ImageStore};
use crate::state::container::Containers;
use crate::{Context, Error, Result};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Tarball path or URL, or - for standard input
    pub source: String,
    /// Name for the new image
    pub reference: Option<String>,
    /// Apply a Containerfile instruction: CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL
    #[arg(short, long = "change")]
    pub change: Vec<String>,
    /// Commit message for the imported image
    #[arg(short, long)]
    pub message: Option<String>,
    /// Suppress output
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short, long)]
    pub all: bool,
    /// Show only image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Do not print column headings
    #[arg(short, long)]
    pub noheading: bool,
    /// Filter output based on conditions given
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Pretty-print images using a Go template, or json
    #[arg(long)]
    pub format: Option<String>,
    /// Sort by created, id, repository, size or tag
    #[arg(long, default_value = "created", value_parser = ["created", "id", "repository", "size", "tag"])]
    pub sort: String,
    /// Image name to list
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Remove all images
    #[arg(short, long)]
    pub all: bool,
    /// Force removal of the image and any containers using it
    #[arg(short, long)]
    pub force: bool,
    /// Ignore errors when a specified image is missing
    #[arg(short, long)]
    pub ignore: bool,
    /// Images to remove
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    pub image: String,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UntagArgs {
    pub image: String,
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImageInspectArgs {
    /// Format the output using a Go template, or json
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImageExistsArgs {
    pub image: String,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ImageCommand {
    /// Build an image from a Containerfile or Dockerfile
    Build(Box<crate::cli::build::BuildArgs>),
    /// List images in local storage
    #[command(visible_alias = "list")]
    Ls(ImagesArgs),
    /// Remove one or more images from local storage
    Rm(RmiArgs),
    /// Add an additional name to a local image
    Tag(TagArgs),
    /// Remove a name from a local image
    Untag(UntagArgs),
    /// Display the configuration of an image
    Inspect(ImageInspectArgs),
    /// Check if an image exists in local storage
    Exists(ImageExistsArgs),
    /// Import a tarball to create a filesystem image
    Import(ImportArgs),
    /// Pull an image from a registry
    Pull(crate::cli::registry::PullArgs),
    /// Push an image to a registry
    Push(crate::cli::registry::PushArgs),
    /// Save image(s) to an archive
    Save(crate::cli::archive::SaveArgs),
    /// Load image(s) from a tar archive
    Load(crate::cli::archive::LoadArgs),
    /// Show the history of an image
    History(crate::cli::history::HistoryArgs),
    /// Remove dangling images (all unused ones with -a)
    Prune(crate::cli::prune::PruneArgs),
    /// Inspect changes to the image's file systems
    Diff(crate::cli::commit::DiffArgs),
}

impl ImageCommand {
    pub fn needs_userns(&self) -> bool {
        matches!(
            self,
            ImageCommand::Rm(_)
                | ImageCommand::Build(_)
                | ImageCommand::Import(_)
                | ImageCommand::Pull(_)
                | ImageCommand::Push(_)
                | ImageCommand::Save(_)
                | ImageCommand::Load(_)
                | ImageCommand::Prune(_)
                | ImageCommand::Diff(_)
        )
    }
}

pub fn dispatch(ctx: &Context, c: ImageCommand) -> Result<i32> {
    match c {
        ImageCommand::Build(a) => crate::cli::build::build(ctx, *a),
        ImageCommand::Ls(a) => images(ctx, a),
        ImageCommand::Rm(a) => rmi(ctx, a),
        ImageCommand::Tag(a) => tag(ctx, a),
        ImageCommand::Untag(a) => untag(ctx, a),
        ImageCommand::Inspect(a) => inspect(ctx, a),
        ImageCommand::Exists(a) => exists(ctx, a),
        ImageCommand::Import(a) => import(ctx, a),
        ImageCommand::Pull(a) => crate::cli::registry::pull(ctx, a),
        ImageCommand::Push(a) => crate::cli::registry::push(ctx, a),
        ImageCommand::Save(a) => crate::cli::archive::save(ctx, a),
        ImageCommand::Load(a) => crate::cli::archive::load(ctx, a),
        ImageCommand::History(a) => crate::cli::history::history(ctx, a),
        ImageCommand::Prune(a) => crate::cli::prune::prune(ctx, a),
        ImageCommand::Diff(a) => {
            crate::cli::commit::diff(ctx, a, crate::cli::commit::DiffOf::Image)
        }
    }
}

/// Exit code of `rmi` when the image is not known (Podman's).
const EXIT_RMI_NOT_KNOWN: i32 = 1;
/// Exit code of `rmi` when the image is in use or needs `-f` (Podman's).
const EXIT_RMI_CONFLICT: i32 = 2;

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// The host's architecture in Go's names, as image configs use them.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

pub fn import(ctx: &Context, a: ImportArgs) -> Result<i32> {
    // Everything that can be wrong with the arguments fails before any work.
    let name = a
        .reference
        .as_deref()
        .map(normalize_local_name)
        .transpose()?;
    let changes = a
        .change
        .iter()
        .map(|c| change::parse(c))
        .collect::<crate::image::Result<Vec<_>>>()?;
    if a.source.contains("://") {
        return Err(Error::msg(format!(
            "{}: importing from a URL is not supported; download it and import the file",
            a.source
        )));
    }
    let (label, input): (String, Box<dyn Read>) = if a.source == "-" {
        ("stdin".into(), Box::new(std::io::stdin().lock()))
    } else {
        let p = Path::new(&a.source);
        let f =
            std::fs::File::open(p).map_err(|e| Error::msg(crate::error::io_msg("open", p, &e)))?;
        let label = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| a.source.clone());
        (label, Box::new(f))
    };
    let store = ImageStore::new(ctx);
    let layer = store.create_layer(input, &label)?;

    let now = Utc::now();
    let mut config = ImageConfiguration::default();
    config.set_created(Some(rfc3339(now)));
    config.set_architecture(Arch::from(host_arch()));
    config.set_os(Os::from("linux"));
    let mut c = Config::default();
    c.set_env(Some(vec![DEFAULT_PATH.to_string()]));
    config.set_config(Some(c));
    change::apply(&mut config, &changes);
    config.set_rootfs(
        RootFsBuilder::default()
            .typ("layers")
            .diff_ids(vec![layer.diff_id.clone()])
            .build()
            .map_err(|e| Error::msg(e.to_string()))?,
    );
    let history = HistoryBuilder::default()
        .created(rfc3339(now))
        .created_by(format!(
            "/bin/sh -c #(nop) ADD file:{} in / ",
            layer.diff_id.trim_start_matches("sha256:")
        ))
        .comment(
            a.message
                .clone()
                .unwrap_or_else(|| format!("imported from {label}")),
        );
    config.set_history(vec![history
        .build()
        .map_err(|e| Error::msg(e.to_string()))?]);

    // A manifest, so that the image has a digest as pulled images do, and
    // save/push have it ready.
    let config_bytes = store::config_bytes(&config)?;
    let config_digest = store.put_blob_bytes(&config_bytes)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_bytes.len()},
        "layers": [{"mediaType": layer.media_type, "digest": layer.blob_digest, "size": layer.blob_size}],
    });
    let manifest_bytes = serde_json::to_vec(&manifest).map_err(|e| Error::msg(e.to_string()))?;
    let manifest_digest = store.put_blob_bytes(&manifest_bytes)?;
    let names: Vec<String> = name.into_iter().collect();
    let image = store.create_image(&config, &names, Some(manifest_digest))?;
    println!("{}", image.id);
    Ok(0)
}

/// `localhost/busybox:latest` -> (`localhost/busybox`, `latest`); a name
/// without a tag has tag `<none>`.
fn split_name(name: &str) -> (String, String) {
    match Reference::parse(name) {
        Ok(r) => (
            r.repository(),
            r.tag.clone().unwrap_or_else(|| "<none>".into()),
        ),
        Err(_) => (name.to_string(), "<none>".into()),
    }
}

/// A `reference=` pattern as Go's `path.Match` reads it (what Podman's
/// reference filter uses): `*` and `?` stay within one `/` component,
/// `[a-z]` classes and `\` escapes work. `globset` compiles it to a regular
/// expression, so matching takes linear time even on `*a*a*a*b`.
fn reference_pattern(pattern: &str) -> Result<globset::GlobMatcher> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| {
            Error::msg(format!(
                "invalid filter \"reference={pattern}\": {}",
                e.kind()
            ))
        })
}

/// Whether one of an image's names matches a `reference=` pattern: the full
/// name, the repository, or either without its registry (`busybox`,
/// `busybox:latest`, `library/alpine`).
fn reference_matches(pattern: &globset::GlobMatcher, name: &str) -> bool {
    let (repo, tag) = split_name(name);
    let mut forms = vec![name.to_string(), repo.clone()];
    if let Ok(r) = Reference::parse(name) {
        forms.push(r.path.clone());
        forms.push(format!("{}:{tag}", r.path));
        if let Some(last) = r.path.rsplit('/').next() {
            forms.push(last.to_string());
            forms.push(format!("{last}:{tag}"));
        }
    }
    forms.iter().any(|f| pattern.is_match(f))
}

enum Filter {
    Reference(globset::GlobMatcher),
    Dangling(bool),
    Label(String, Option<String>),
    Before(DateTime<Utc>),
    Since(DateTime<Utc>),
    Id(String),
}

fn parse_filters(store: &ImageStore, raw: &[String]) -> Result<Vec<Filter>> {
    let mut out = Vec::new();
    for f in raw {
        let Some((k, v)) = f.split_once('=') else {
            return Err(Error::msg(format!("invalid filter {f:?}: use KEY=VALUE")));
        };
        out.push(match k {
            "reference" => Filter::Reference(reference_pattern(v)?),
            "dangling" => match v {
                "true" | "1" => Filter::Dangling(true),
                "false" | "0" => Filter::Dangling(false),
                _ => {
                    return Err(Error::msg(format!(
                        "invalid filter {f:?}: dangling takes true or false"
                    )))
                }
            },
            "label" => match v.split_once('=') {
                Some((lk, lv)) => Filter::Label(lk.to_string(), Some(lv.to_string())),
                None => Filter::Label(v.to_string(), None),
            },
            "before" => Filter::Before(store.lookup(v)?.created),
            "since" => Filter::Since(store.lookup(v)?.created),
            "id" => Filter::Id(v.trim_start_matches("sha256:").to_string()),
            _ => {
                return Err(Error::msg(format!(
                    "invalid filter {f:?}: supported filters are reference, dangling, label, before, since, id"
                )))
            }
        });
    }
    Ok(out)
}

fn labels_of(img: &Image) -> HashMap<String, String> {
    img.config
        .config()
        .as_ref()
        .and_then(|c| c.labels().clone())
        .unwrap_or_default()
}

/// Whether the image passes the filters, and which of its names to show
/// (reference filters narrow the names).
fn filter_image(img: &Image, filters: &[Filter]) -> Option<Vec<String>> {
    let mut names = img.names.clone();
    for f in filters {
        let ok = match f {
            Filter::Reference(p) => {
                names.retain(|n| reference_matches(p, n));
                !names.is_empty()
            }
            Filter::Dangling(d) => img.names.is_empty() == *d,
            Filter::Label(k, v) => {
                let labels = labels_of(img);
                match v {
                    Some(v) => labels.get(k) == Some(v),
                    None => labels.contains_key(k),
                }
            }
            Filter::Before(t) => img.created < *t,
            Filter::Since(t) => img.created > *t,
            Filter::Id(p) => img.id.starts_with(p.as_str()),
        };
        if !ok {
            return None;
        }
    }
    Some(names)
}

fn container_counts(ctx: &Context) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    if let Ok(all) = Containers::new(ctx.containers_dir()).list() {
        for c in all {
            *out.entry(c.config.image_id).or_insert(0) += 1;
        }
    }
    out
}

/// One row of `images --format TEMPLATE`: the JSON object plus the columns
/// as the table shows them; `name` is the row's name (`None`: `<none>`).
fn images_item(
    img: &Image,
    name: Option<&str>,
    containers: usize,
    id_of: &dyn Fn(&Image) -> String,
) -> Value {
    let (repo, tag) = name
        .map(split_name)
        .unwrap_or_else(|| ("<none>".into(), "<none>".into()));
    let mut v = images_json(img, containers);
    let ago = format::human_ago(img.created);
    let extra = json!({
        "ID": id_of(img),
        "Repository": repo,
        "Tag": tag,
        "Created": ago,
        "CreatedSince": ago,
        "CreatedAt": img.created.format("%Y-%m-%d %H:%M:%S %z %Z").to_string(),
        "CreatedTime": rfc3339(img.created),
        "Size": format::human_size(img.size),
        "VirtualSize": format::human_size(img.size),
        "SharedSize": format::human_size(0),
        "Dangling": img.names.is_empty(),
        "ReadOnly": false,
        "IsReadOnly": false,
    });
    if let (Value::Object(base), Value::Object(e)) = (&mut v, extra) {
        base.extend(e);
    }
    v
}

/// `podman images --format json`: one object per image.
fn images_json(img: &Image, containers: usize) -> Value {
    json!({
        "Id": img.id,
        "ParentId": "",
        "RepoTags": img.names,
        "RepoDigests": img.repo_digests(),
        "Size": img.size,
        "SharedSize": 0,
        "VirtualSize": img.size,
        "Labels": labels_of(img),
        "Containers": containers,
        "Names": img.names,
        "Digest": img.manifest_digest.clone().unwrap_or_default(),
        "History": img.names_history,
        "Created": img.created.timestamp(),
        "CreatedAt": rfc3339(img.created),
    })
}

/// The names that get a row in `images`: a digested name (`repo@sha256:...`,
/// what a pull by digest records) only when no tagged name of the same
/// repository is there, as Podman lists it (the digest shows in `--digests`).
fn row_names(names: Vec<String>) -> Vec<String> {
    let repos: Vec<String> = names
        .iter()
        .filter(|n| !n.contains('@'))
        .map(|n| split_name(n).0)
        .collect();
    names
        .iter()
        .filter(|n| match n.split_once('@') {
            Some((repo, _)) => !repos.iter().any(|r| r == repo),
            None => true,
        })
        .cloned()
        .collect()
}

pub fn images(ctx: &Context, a: ImagesArgs) -> Result<i32> {
    let store = ImageStore::new(ctx);
    let mut raw_filters = a.filter.clone();
    if let Some(r) = &a.reference {
        raw_filters.push(format!("reference={r}"));
    }
    let filters = parse_filters(&store, &raw_filters)?;
    let all = store.list()?;
    let counts = container_counts(ctx);
    let mut shown: Vec<(Image, Vec<String>)> = Vec::new();
    let hidden: Vec<bool> = all
        .iter()
        .map(|img| !a.all && crate::image::store::is_intermediate(img, &all))
        .collect();
    for (img, hide) in all.into_iter().zip(hidden) {
        if hide {
            continue;
        }
        if let Some(names) = filter_image(&img, &filters) {
            shown.push((img, row_names(names)));
        }
    }
    sort_images(&mut shown, &a.sort);
    let id_of = |img: &Image| {
        if a.no_trunc {
            format!("sha256:{}", img.id)
        } else {
            img.short_id().to_string()
        }
    };
    if a.quiet {
        for (img, _) in &shown {
            println!("{}", id_of(img));
        }
        return Ok(0);
    }
    if let Some(fmt) = a.format.as_deref().filter(|f| f.trim() != "table") {
        if fmt.trim() == "json" {
            let items: Vec<Value> = shown
                .iter()
                .map(|(img, _)| images_json(img, counts.get(&img.id).copied().unwrap_or(0)))
                .collect();
            format::print_formatted("json", &items, &format::Shape::any("images"))?;
            return Ok(0);
        }
        let sample_image = Image::default();
        let sample = images_item(&sample_image, None, 0, &id_of);
        format::validate(fmt, &format::Shape::new("images.imageReporter", &sample))?;
        let mut items = Vec::new();
        for (img, names) in &shown {
            let mut rows: Vec<Option<&String>> = names.iter().map(Some).collect();
            if rows.is_empty() {
                rows.push(None);
            }
            for n in rows {
                let count = counts.get(&img.id).copied().unwrap_or(0);
                items.push(images_item(img, n.map(String::as_str), count, &id_of));
            }
        }
        format::print_formatted(
            fmt,
            &items,
            &format::Shape::new("images.imageReporter", &sample),
        )?;
        return Ok(0);
    }
    let mut headers = vec!["REPOSITORY", "TAG"];
    if a.digests {
        headers.push("DIGEST");
    }
    headers.extend(["IMAGE ID", "CREATED", "SIZE"]);
    let mut rows = Vec::new();
    for (img, names) in &shown {
        let mut pairs: Vec<(String, String)> = names.iter().map(|n| split_name(n)).collect();
        if pairs.is_empty() {
            pairs.push(("<none>".into(), "<none>".into()));
        }
        for (repo, tag) in pairs {
            let mut row = vec![repo, tag];
            if a.digests {
                row.push(img.manifest_digest.clone().unwrap_or_default());
            }
            row.push(id_of(img));
            row.push(format::human_ago(img.created));
            row.push(format::human_size(img.size));
            rows.push(row);
        }
    }
    format::print_table(&headers, &rows, a.noheading);
    Ok(0)
}

/// `images --sort`, as Podman orders its rows: newest first for
/// `created` (the default), else ascending. By repository or tag each name
/// is a row of its own, placed by itself.
fn sort_images(shown: &mut Vec<(Image, Vec<String>)>, key: &str) {
    if matches!(key, "repository" | "tag") {
        *shown = std::mem::take(shown)
            .into_iter()
            .flat_map(|(img, names)| {
                if names.is_empty() {
                    return vec![(img, names)];
                }
                names.into_iter().map(|n| (img.clone(), vec![n])).collect()
            })
            .collect();
    }
    let first = |names: &[String]| names.first().map(|n| split_name(n)).unwrap_or_default();
    match key {
        "id" => shown.sort_by(|a, b| a.0.id.cmp(&b.0.id)),
        "repository" => shown.sort_by_key(|(_, n)| first(n).0),
        "tag" => shown.sort_by_key(|(_, n)| first(n).1),
        "size" => shown.sort_by_key(|(i, _)| i.size),
        _ => shown.sort_by(|a, b| b.0.created.cmp(&a.0.created).then(b.0.id.cmp(&a.0.id))),
    }
}

/// Removes one image (or one of its names). Prints what it did.
fn remove_one(ctx: &Context, store: &ImageStore, key: &str, force: bool) -> Result<()> {
    let (img, matched) = store.resolve(key).map_err(|e| match e {
        crate::image::Error::NotKnown(k) => {
            Error::with_code(EXIT_RMI_NOT_KNOWN, format!("{k}: image not known"))
        }
        e => e.into(),
    })?;
    // Removing a name of an image that has others only untags it.
    if let Some(name) = &matched {
        if img.names.len() > 1 {
            store.remove_name(&img.id, name)?;
            println!("Untagged: {name}");
            crate::events::Event::object(crate::events::Type::Image, "untag", &img.id, name)
                .record(ctx);
            return Ok(());
        }
    }
    if matched.is_none() && img.names.len() > 1 && !force {
        return Err(Error::with_code(
            EXIT_RMI_CONFLICT,
            format!(
                "unable to delete image {} by ID with more than one tag ({}): use -f or remove the tags",
                img.short_id(),
                img.names.join(", ")
            ),
        ));
    }
    // Containers that use it go first (with -f), and none is created
    // until the image is gone.
    let _clock = crate::container::prune::remove_image_users(ctx, &img.id, force)?;
    for n in &img.names {
        println!("Untagged: {n}");
    }
    store.remove_image(&img.id)?;
    println!("Deleted: {}", img.id);
    for n in &img.names {
        crate::events::Event::object(crate::events::Type::Image, "untag", &img.id, n).record(ctx);
    }
    let name = img.names.first().map_or("", String::as_str);
    crate::events::Event::object(crate::events::Type::Image, "remove", &img.id, name).record(ctx);
    Ok(())
}

pub fn rmi(ctx: &Context, a: RmiArgs) -> Result<i32> {
    let store = ImageStore::new(ctx);
    let keys: Vec<String> = if a.all {
        store.records()?.into_iter().map(|r| r.id).collect()
    } else {
        a.images.clone()
    };
    if keys.is_empty() && !a.all {
        return Err(Error::msg("image name or ID must be specified"));
    }
    // Like Podman: go through every image, report each failure, and exit
    // with the code of the last one.
    let mut last = None;
    for k in &keys {
        match remove_one(ctx, &store, k, a.force) {
            // Podman: -f and --ignore pass over an image that does not
            // exist (exit 0).
            Err(e) if (a.force || a.ignore) && e.is_no_such() => {}
            Err(e) => {
                if let Some(prev) = last.replace(e) {
                    crate::cli::report(&prev);
                }
            }
            Ok(()) => {}
        }
    }
    match last {
        Some(e) => Err(e),
        None => Ok(0),
    }
}

pub fn tag(ctx: &Context, a: TagArgs) -> Result<i32> {
    let store = ImageStore::new(ctx);
    let names = a
        .names
        .iter()
        .map(|n| normalize_local_name(n))
        .collect::<crate::image::Result<Vec<_>>>()?;
    let img = store.lookup(&a.image)?;
    store.add_names(&img.id, &names)?;
    for n in &names {
        crate::events::Event::object(crate::events::Type::Image, "tag", &img.id, n).record(ctx);
    }
    Ok(0)
}

pub fn untag(ctx: &Context, a: UntagArgs) -> Result<i32> {
    let store = ImageStore::new(ctx);
    let img = store.lookup(&a.image)?;
    if a.names.is_empty() {
        for n in store.clear_names(&img.id)? {
            crate::events::Event::object(crate::events::Type::Image, "untag", &img.id, &n)
                .record(ctx);
        }
        return Ok(0);
    }
    for n in &a.names {
        let name = normalize_local_name(n)?;
        if !store.remove_name(&img.id, &name)? {
            return Err(Error::msg(format!(
                "{name}: tag not known for image {}",
                img.short_id()
            )));
        }
        crate::events::Event::object(crate::events::Type::Image, "untag", &img.id, &name)
            .record(ctx);
    }
    Ok(0)
}

/// The storage driver images are shown under (`GraphDriver.Name`).
fn driver_name(ctx: &Context) -> String {
    ctx.storage_driver
        .clone()
        .unwrap_or_else(|| "overlay".into())
}

/// Podman's `image inspect` object for one image. Also used by the
/// top-level `inspect` when the name is an image.
/// What an inspect object's template is checked against: the object itself,
/// except an image's `Config`, the OCI config whose absent fields are left
/// out of the JSON (Go prints their zero value; they are not misspelt).
pub fn inspect_sample(item: &Value) -> Value {
    let mut sample = crate::volume::template_view(item.clone());
    if item.get("RootFS").is_some() {
        if let Some(c) = sample.get_mut("Config") {
            *c = Value::Null;
        }
    }
    sample
}

/// The media type of the image's stored manifest (`commit --format
/// docker` stores Docker's), OCI's when none is stored.
fn manifest_type(store: &ImageStore, img: &Image) -> String {
    img.manifest_digest
        .as_deref()
        .and_then(|d| store.read_blob(d).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|m| m.get("mediaType")?.as_str().map(str::to_string))
        .unwrap_or_else(|| OCI_MANIFEST.to_string())
}

pub fn inspect_value(ctx: &Context, img: &Image) -> Value {
    let store = ImageStore::new(ctx);
    let cfg = &img.config;
    let config = cfg
        .config()
        .as_ref()
        .and_then(|c| serde_json::to_value(c).ok())
        .unwrap_or_else(|| json!({}));
    let history: Vec<Value> = cfg
        .history()
        .iter()
        .filter_map(|h| serde_json::to_value(h).ok())
        .collect();
    let comment = cfg
        .history()
        .last()
        .and_then(|h| h.comment().clone())
        .unwrap_or_default();
    let mut dirs: Vec<String> = store
        .layer_dirs(img)
        .unwrap_or_default()
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    dirs.reverse();
    let mut data = serde_json::Map::new();
    if let Some((upper, lower)) = dirs.split_first() {
        if !lower.is_empty() {
            data.insert("LowerDir".into(), json!(lower.join(":")));
        }
        data.insert("UpperDir".into(), json!(upper));
    }
    let labels = labels_of(img);
    json!({
        "Id": img.id,
        "Digest": img.manifest_digest.clone().unwrap_or_default(),
        "RepoTags": img.names,
        "RepoDigests": img.repo_digests(),
        "Parent": "",
        "Comment": comment,
        "Created": rfc3339(img.created),
        "Config": config,
        "Version": "",
        "Author": cfg.author().clone().unwrap_or_default(),
        "Architecture": cfg.architecture().to_string(),
        "Os": cfg.os().to_string(),
        "Size": img.size,
        "VirtualSize": img.size,
        "GraphDriver": {"Name": driver_name(ctx), "Data": data},
        "RootFS": {"Type": "layers", "Layers": img.layers},
        "Labels": if labels.is_empty() { Value::Null } else { json!(labels) },
        "Annotations": {},
        "ManifestType": manifest_type(&store, img),
        "User": cfg.config().as_ref().and_then(|c| c.user().clone()).unwrap_or_default(),
        "History": history,
        "NamesHistory": img.names_history,
    })
}

pub fn inspect(ctx: &Context, a: ImageInspectArgs) -> Result<i32> {
    let store = ImageStore::new(ctx);
    let mut items = Vec::new();
    let mut missing = Vec::new();
    for k in &a.images {
        match store.lookup(k) {
            Ok(img) => items.push(inspect_value(ctx, &img)),
            Err(e @ crate::image::Error::NotKnown(_)) => missing.push(e),
            Err(e) => return Err(e.into()),
        }
    }
    match a.format.as_deref() {
        Some(f) if f.trim() != "json" => {
            format::validate(f, &format::Shape::any("inspect.ImageData"))?;
            for it in &items {
                let sample = inspect_sample(it);
                format::validate(f, &format::Shape::new("inspect.ImageData", &sample))?;
            }
            format::print_formatted(f, &items, &format::Shape::any("inspect.ImageData"))?
        }
        _ => {
            let text = serde_json::to_string_pretty(&Value::Array(items))
                .map_err(|e| Error::msg(e.to_string()))?;
            println!("{text}");
        }
    }
    // Podman prints what it found, then fails for what it did not.
    let mut missing = missing.into_iter();
    match missing.next_back() {
        Some(last) => {
            for e in missing {
                crate::cli::report(&e.into());
            }
            Err(last.into())
        }
        None => Ok(0),
    }
}

pub fn exists(ctx: &Context, a: ImageExistsArgs) -> Result<i32> {
    match ImageStore::new(ctx).lookup(&a.image) {
        Ok(_) => Ok(0),
        Err(crate::image::Error::NotKnown(_)) => Ok(1),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(pattern: &str, text: &str) -> bool {
        reference_pattern(pattern).unwrap().is_match(text)
    }

    fn reference_matches(pattern: &str, name: &str) -> bool {
        super::reference_matches(&reference_pattern(pattern).unwrap(), name)
    }

    #[test]
    fn globs() {
        assert!(glob("busy*", "busybox"));
        assert!(glob("*box:latest", "busybox:latest"));
        assert!(glob("b?sybox", "busybox"));
        assert!(glob("b[a-z]sybox", "busybox"));
        assert!(!glob("busy", "busybox"));
        // As path.Match: a star does not cross a slash.
        assert!(!glob("*box", "localhost/busybox"));
        assert!(glob("*/busybox", "localhost/busybox"));
        assert!(reference_pattern("[").is_err());
    }

    #[test]
    fn globs_take_linear_time() {
        // The old backtracking matcher took minutes on this.
        let text = "a".repeat(60);
        let pattern = "*a".repeat(30) + "b";
        let t = std::time::Instant::now();
        assert!(!glob(&pattern, &text));
        assert!(
            t.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            t.elapsed()
        );
    }

    #[test]
    fn reference_filter_forms() {
        let n = "localhost/busybox:latest";
        for p in ["busybox", "busybox:latest", "localhost/busybox", n, "busy*"] {
            assert!(reference_matches(p, n), "{p}");
        }
        assert!(!reference_matches("alpine", n));
        assert!(!reference_matches("busybox:1", n));
        assert!(reference_matches("alpine", "docker.io/library/alpine:3"));
        assert!(reference_matches(
            "library/alpine:3",
            "docker.io/library/alpine:3"
        ));
    }

    fn ctx(root: &Path) -> Context {
        Context::in_dir(root)
    }

    fn tar_of(name: &str) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        b.append_data(&mut h, name, &b"x"[..]).unwrap();
        b.into_inner().unwrap()
    }

    fn import_tar(ctx: &Context, dir: &Path, name: &str) -> Image {
        let p = dir.join(format!("{name}.tar"));
        std::fs::write(&p, tar_of(name)).unwrap();
        import(
            ctx,
            ImportArgs {
                source: p.display().to_string(),
                reference: Some(name.to_string()),
                change: vec!["CMD [\"/bin/sh\"]".into()],
                message: None,
                quiet: false,
            },
        )
        .unwrap();
        ImageStore::new(ctx).lookup(name).unwrap()
    }

    #[test]
    fn rmi_untags_refuses_in_use_and_forces() {
        use crate::state::container::{Config as CConfig, Container, State};
        let t = tempfile::tempdir().unwrap();
        let ctx = ctx(t.path());
        let store = ImageStore::new(&ctx);
        let img = import_tar(&ctx, t.path(), "one");
        assert_eq!(
            img.config.config().as_ref().unwrap().cmd().clone().unwrap(),
            vec!["/bin/sh".to_string()]
        );
        store
            .add_names(&img.id, &["localhost/two:latest".to_string()])
            .unwrap();
        // By id with two names: refused without -f.
        let e = remove_one(&ctx, &store, &img.id, false).unwrap_err();
        assert_eq!(e.exit_code(), EXIT_RMI_CONFLICT);
        // By one of two names: only untags.
        remove_one(&ctx, &store, "two", false).unwrap();
        assert_eq!(
            store.lookup("one").unwrap().names,
            vec!["localhost/one:latest"]
        );

        let containers = Containers::new(ctx.containers_dir());
        let c = Container {
            version: crate::state::container::RECORD_VERSION,
            id: "c".repeat(64),
            name: "web".into(),
            created: Utc::now(),
            config: CConfig {
                image_id: img.id.clone(),
                ..Default::default()
            },
            state: State::default(),
        };
        containers.insert(&c).unwrap();
        let e = remove_one(&ctx, &store, "one", false).unwrap_err();
        assert_eq!(e.exit_code(), EXIT_RMI_CONFLICT);
        assert!(
            e.to_string().contains("image is in use by a container"),
            "{e}"
        );
        remove_one(&ctx, &store, "one", true).unwrap();
        assert!(containers.list().unwrap().is_empty());
        let e = remove_one(&ctx, &store, "one", false).unwrap_err();
        assert_eq!(e.exit_code(), EXIT_RMI_NOT_KNOWN);
        assert_eq!(e.to_string(), "one: image not known");
        assert_eq!(
            std::fs::read_dir(ctx.root.join("layers")).unwrap().count(),
            0
        );
    }

    #[test]
    fn names_split() {
        assert_eq!(
            split_name("localhost:5000/a/b:1"),
            ("localhost:5000/a/b".to_string(), "1".to_string())
        );
    }
}
