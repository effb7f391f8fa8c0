//! Pulling images from a registry into the local store: short-name
//! resolution through registries.conf, platform selection, and layers fetched
//! by several threads at once, each unpacked while it streams in and
//! committed only once its blob digest and diff_id are verified.
//!
//! Also `ensure`, the `--pull` policy of `run` and `create`.

use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use super::progress::Progress;
use super::reference::{Reference, DOCKER_DOMAIN};
use super::store::parse_config;
use super::{Image, ImageStore};
use crate::registry::manifest::{self as rm, Descriptor};
use crate::registry::registries_conf::ShortNameMode;
use crate::registry::short_name_aliases::{self, AliasCache};
use crate::registry::{
    AuthFiles, Client, ClientOptions, Credentials, Platform, Policy, RegistriesConf,
};
use crate::{Context, Error, Result};

/// Layers fetched at once when nothing says otherwise (Podman's default).
pub const DEFAULT_JOBS: usize = 6;

/// Overrides the number of layers fetched at once (benchmarks compare 1 with
/// the default); not a documented interface.
pub const JOBS_ENV: &str = "SKIFF_PULL_JOBS";

/// How to reach registries: the flags pull, push, login, search, run,
/// create and build share, parsed.
#[derive(Debug, Clone, Default)]
pub struct RegistryFlags {
    /// `--tls-verify`: `None` follows registries.conf (and loopback is insecure).
    pub tls_verify: Option<bool>,
    /// `--creds USER:PASS` (its `Debug` never shows the password).
    pub credentials: Option<Credentials>,
    /// `--authfile PATH`.
    pub authfile: Option<PathBuf>,
    /// `--cert-dir DIR`: CA and client certificates for every registry.
    pub cert_dir: Option<PathBuf>,
    /// `--signature-policy PATH`: the policy.json to use instead of the
    /// user's or the system's.
    pub signature_policy: Option<PathBuf>,
}

impl RegistryFlags {
    /// The client options these flags mean, with registries.conf loaded.
    pub fn client_options(&self) -> Result<ClientOptions> {
        let auth_files = match &self.authfile {
            Some(p) => AuthFiles::single(p),
            None => AuthFiles::from_env(),
        };
        Ok(ClientOptions {
            tls_verify: self.tls_verify,
            cert_dir: self.cert_dir.clone(),
            registries_conf: RegistriesConf::load()?,
            credentials: self.credentials.clone(),
            auth_files,
            ..Default::default()
        })
    }

    pub fn client(&self) -> Result<Client> {
        Ok(Client::new(self.client_options()?))
    }
}

/// Parses `--creds USERNAME:PASSWORD` (Podman's form; the password may be
/// empty, the username may not).
pub fn parse_creds(s: &str) -> std::result::Result<Credentials, String> {
    match s.split_once(':') {
        Some((u, p)) if !u.is_empty() => Ok(Credentials::new(u, p)),
        _ => Err("expected USERNAME:PASSWORD with a non-empty username".into()),
    }
}

/// What `skiff pull` was asked for.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    pub registry: RegistryFlags,
    /// `None`: the host's platform.
    pub platform: Option<Platform>,
    pub quiet: bool,
}

/// Layers fetched at once: `SKIFF_PULL_JOBS`, else [`DEFAULT_JOBS`].
pub fn jobs() -> usize {
    std::env::var(JOBS_ENV)
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_JOBS)
}

/// What a name given to `pull` means: the references to try, and how the
/// short name was resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Candidates {
    /// Fully qualified references, in the order to try them.
    pub refs: Vec<Reference>,
    /// The file whose alias resolved the short name, when one did: Podman
    /// says `Resolved "NAME" as an alias (FILE)`.
    pub alias_file: Option<PathBuf>,
    /// The short name (no tag or digest) whose registry the user picked at
    /// the prompt: recorded in the alias cache once the pull succeeds.
    pub picked: Option<String>,
}

/// The fully qualified references a name may mean, in the order to try
/// them, as containers/image resolves a short name: itself when qualified
/// (`docker.io` gets `library/`), else its alias (the user's alias `cache`
/// first, then registries.conf's `[aliases]`; an empty value is no alias),
/// else one per search registry, or under `short-name-mode = "enforcing"`
/// with several of them the one the user picks on the terminal. Errors:
/// a bad name or alias, no search registries, enforcing without a terminal.
pub fn candidates(name: &str, conf: &RegistriesConf, cache: &AliasCache) -> Result<Candidates> {
    let r = Reference::parse(name)?;
    if !r.is_short() {
        return Ok(Candidates {
            refs: vec![r.normalize_docker()],
            ..Default::default()
        });
    }
    let alias = match cache.aliases.get(&r.path) {
        Some(v) => Some((v, cache.path.clone())),
        None => conf.aliases.get(&r.path).map(|v| {
            let file = conf.alias_files.get(&r.path).cloned().unwrap_or_default();
            (v, file)
        }),
    };
    if let Some((value, file)) = alias.filter(|(v, _)| !v.is_empty()) {
        let bad = || {
            Error::msg(format!(
                "short-name alias \"{}\" = \"{value}\" in {}: the alias must name a registry and repository",
                r.path,
                file.display()
            ))
        };
        let mut a = Reference::parse(value).map_err(|_| bad())?;
        if a.is_short() {
            return Err(bad());
        }
        if a.tag.is_none() && a.digest.is_none() {
            a.tag = r.tag.clone();
            a.digest = r.digest.clone();
        }
        return Ok(Candidates {
            refs: vec![a.normalize_docker()],
            alias_file: Some(file),
            picked: None,
        });
    }
    let enforcing =
        conf.short_name_mode() == ShortNameMode::Enforcing && conf.search_registries().len() > 1;
    if enforcing {
        use std::io::IsTerminal;
        if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
            return Err(Error::msg(format!(
                "short-name \"{name}\": short-name resolution enforced but cannot prompt without a TTY (short-name-mode in {}); use a fully qualified name",
                conf.files_display()
            )));
        }
    }
    if conf.search_registries().is_empty() {
        let files = if conf.files.is_empty() {
            "\"/etc/containers/registries.conf\"".to_string()
        } else {
            conf.files_display()
        };
        return Err(Error::msg(format!(
            "short-name \"{name}\" did not resolve to an alias and no unqualified-search registries are defined in {files}; use a fully qualified name such as docker.io/library/{}",
            r.path
        )));
    }
    let all: Vec<Reference> = conf
        .search_registries()
        .iter()
        .map(|reg| {
            let mut c = r.clone();
            c.domain = Some(reg.clone());
            c.normalize_docker()
        })
        .collect();
    if !enforcing {
        return Ok(Candidates {
            refs: all,
            ..Default::default()
        });
    }
    // Podman's prompt: the user picks the one registry to pull from.
    let names: Vec<String> = all.iter().map(|c| c.to_string()).collect();
    let at = super::select::select("Please select an image", &names)
        .map_err(|e| Error::msg(format!("short-name \"{name}\": {e}")))?;
    Ok(Candidates {
        refs: vec![all[at].clone()],
        alias_file: None,
        picked: Some(r.path.clone()),
    })
}

/// `skiff pull NAME`: resolves the name and pulls the first candidate that
/// the registries have. A registry picked at the short-name prompt is
/// recorded in the alias cache after the pull, as Podman records it (a
/// cache that cannot be written is a warning: the image was pulled).
pub fn pull(ctx: &Context, name: &str, opts: &PullOptions) -> Result<Image> {
    let client_opts = opts.registry.client_options()?;
    let policy = Policy::load(opts.registry.signature_policy.as_deref())?;
    let cache = AliasCache::load_default()?;
    let cands = candidates(name, &client_opts.registries_conf, &cache)?;
    let progress = Progress::new(opts.quiet);
    if let (Some(file), Ok(r)) = (&cands.alias_file, Reference::parse(name)) {
        progress.line(&format!(
            "Resolved \"{}\" as an alias ({})",
            r.path,
            file.display()
        ));
    }
    let client = Client::new(client_opts);
    let store = ImageStore::new(ctx);
    let platform = opts.platform.clone().unwrap_or_else(Platform::host);
    let mut errors = Vec::new();
    for cand in &cands.refs {
        progress.line(&format!("Trying to pull {cand}..."));
        if let Err(e) = policy.check_docker(&policy_identity(cand)) {
            errors.push(e.into());
            continue;
        }
        match pull_reference(&store, &client, &progress, cand, &platform) {
            Ok(img) => {
                if let Some(short) = &cands.picked {
                    let recorded = match short_name_aliases::default_path() {
                        Some(p) => short_name_aliases::record(&p, short, &cand.repository()),
                        None => Ok(()),
                    };
                    if let Err(e) = recorded {
                        tracing::warn!("recording short-name alias \"{short}\": {e}");
                    }
                }
                return Ok(img);
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.len() == 1 {
        return Err(errors.remove(0));
    }
    let all: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    Err(Error::msg(format!(
        "{name}: not found in any search registry: {}",
        all.join("; ")
    )))
}

/// What policy.json scopes match against: `host/repo@digest` when pinned,
/// else `host/repo:tag` (containers/image's `PolicyConfigurationIdentity`).
fn policy_identity(r: &Reference) -> String {
    let (_, _, reference) = split_reference(r);
    let sep = if r.digest.is_some() { '@' } else { ':' };
    format!("{}{sep}{reference}", r.repository())
}

/// The registry, repository and tag-or-digest of a qualified reference.
pub fn split_reference(r: &Reference) -> (String, String, String) {
    let registry = r.domain.clone().unwrap_or_else(|| DOCKER_DOMAIN.into());
    let reference = match (&r.digest, &r.tag) {
        (Some(d), _) => d.clone(),
        (None, Some(t)) => t.clone(),
        (None, None) => super::reference::DEFAULT_TAG.to_string(),
    };
    (registry, r.path.clone(), reference)
}

fn layer_media_type_ok(mt: &str) -> bool {
    matches!(
        mt,
        rm::DOCKER_LAYER_GZIP
            | rm::OCI_LAYER
            | rm::OCI_LAYER_GZIP
            | rm::OCI_LAYER_ZSTD
            | "application/vnd.docker.image.rootfs.diff.tar"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
            | ""
    )
}

/// Fails when registries.conf blocks the registry of `r`.
pub fn check_blocked(conf: &RegistriesConf, r: &Reference) -> Result<()> {
    let (registry, repo, _) = split_reference(r);
    if conf.is_blocked(&registry, &repo) {
        return Err(Error::msg(format!(
            "{r}: registry {registry} is blocked in {}",
            conf.files_display()
        )));
    }
    Ok(())
}

/// Pulls one fully qualified reference into the store: from the first of
/// its registries.conf mirrors that has it, else from its `location`
/// (the registry named in `r` unless remapped). The image is named `r`.
pub fn pull_reference(
    store: &ImageStore,
    client: &Client,
    progress: &Progress,
    r: &Reference,
    platform: &Platform,
) -> Result<Image> {
    let conf = &client.options().registries_conf;
    check_blocked(conf, r)?;
    let (registry, repo, _) = split_reference(r);
    let sources = conf.pull_sources(&format!("{registry}/{repo}"), r.digest.is_some());
    let mut mirror_errors = Vec::new();
    for src in &sources {
        let from = at(r, &src.name)?;
        if from != *r {
            tracing::debug!("pulling {r} from {from}");
        }
        match pull_from(store, client, progress, r, &from, platform) {
            Ok(img) => return Ok(img),
            Err(e) if src.mirror => {
                tracing::info!("mirror {}: {e}", src.name);
                mirror_errors.push(e.to_string());
            }
            Err(e) if mirror_errors.is_empty() => return Err(e),
            Err(e) => {
                return Err(Error::with_code(
                    e.exit_code(),
                    format!("{e} (mirrors also failed: {})", mirror_errors.join("; ")),
                ))
            }
        }
    }
    unreachable!("pull_sources always ends with the registry's location")
}

/// `r` with its registry and repository replaced by `name` (`host/path`).
fn at(r: &Reference, name: &str) -> Result<Reference> {
    let (registry, repo, _) = split_reference(r);
    if name == format!("{registry}/{repo}") {
        return Ok(r.clone());
    }
    let mut text = name.to_string();
    if let Some(t) = &r.tag {
        text.push(':');
        text.push_str(t);
    }
    if let Some(d) = &r.digest {
        text.push('@');
        text.push_str(d);
    }
    Reference::parse(&text)
        .map(|x| x.normalize_docker())
        .map_err(|e| Error::msg(format!("registries.conf maps {r} to {text}: {e}")))
}

/// Pulls `from` (where the bytes are) into the store as `r` (the name).
fn pull_from(
    store: &ImageStore,
    client: &Client,
    progress: &Progress,
    r: &Reference,
    from: &Reference,
    platform: &Platform,
) -> Result<Image> {
    let (registry, repo, reference) = split_reference(from);
    let image_name = from.to_string();
    let resolved = client.resolve_image(&registry, &repo, &reference, platform)?;
    let manifest = &resolved.parsed;
    let cfg_mt = manifest.config.media_type.as_str();
    if !matches!(cfg_mt, rm::DOCKER_CONFIG | rm::OCI_CONFIG | "") {
        return Err(Error::msg(format!(
            "{image_name}: unsupported config media type {cfg_mt:?}"
        )));
    }
    if let Some(bad) = manifest
        .layers
        .iter()
        .find(|l| !layer_media_type_ok(&l.media_type))
    {
        return Err(Error::msg(format!(
            "{image_name}: unsupported layer media type {:?}",
            bad.media_type
        )));
    }
    progress.line("Getting image source signatures");

    // The config first: it names the diff_id every layer must unpack to.
    let cfg_digest = manifest.config.digest.clone();
    let cfg_progress = progress.blob("config", &cfg_digest, Some(manifest.config.size));
    if !store.has_blob(&cfg_digest) {
        let mut blob = client.open_blob(&registry, &repo, &cfg_digest)?;
        let limit = match manifest.config.size {
            0 => MAX_CONFIG,
            n => n.min(MAX_CONFIG),
        };
        let label = format!("{registry}/{repo}@{cfg_digest}");
        let mut buf = Vec::new();
        if let Err(e) = AtMost::new(&mut blob, limit).read_to_end(&mut buf) {
            return Err(
                match e.get_ref().and_then(|i| i.downcast_ref::<TooLong>()) {
                    Some(t) => Error::msg(format!("{label}: {t}")),
                    None => blob.into_error(e).into(),
                },
            );
        }
        store.put_blob(&buf[..], Some(&cfg_digest))?;
    }
    let cfg = parse_config(&store.read_blob(&cfg_digest)?)
        .map_err(|e| Error::msg(format!("{image_name}: image config: {e}")))?;
    let diff_ids = cfg.rootfs().diff_ids().clone();
    if diff_ids.len() != manifest.layers.len() {
        return Err(Error::msg(format!(
            "{image_name}: the manifest has {} layers but the config lists {} diff_ids",
            manifest.layers.len(),
            diff_ids.len()
        )));
    }

    let mut work: Vec<(&Descriptor, &String)> = Vec::new();
    for (l, d) in manifest.layers.iter().zip(&diff_ids) {
        if !work.iter().any(|(w, _)| w.digest == l.digest) {
            work.push((l, d));
        }
    }
    fetch_layers(store, client, progress, &registry, &repo, &work)?;

    cfg_progress.done();
    progress.line("Writing manifest to image destination");
    let manifest_digest = store.put_blob_bytes(&resolved.manifest.bytes)?;
    let name = match &r.digest {
        Some(d) => format!("{}@{d}", r.repository()),
        None => r.to_string(),
    };
    Ok(store.create_image_from_config_blob(&cfg_digest, &[name], Some(manifest_digest))?)
}

/// Fetches and unpacks the layers not yet stored, `jobs()` at a time.
fn fetch_layers(
    store: &ImageStore,
    client: &Client,
    progress: &Progress,
    registry: &str,
    repo: &str,
    work: &[(&Descriptor, &String)],
) -> Result<()> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_error: Mutex<Option<(usize, Error)>> = Mutex::new(None);
    let threads = jobs().min(work.len()).max(1);
    let worker = || loop {
        if failed.load(Ordering::SeqCst) {
            return;
        }
        let i = next.fetch_add(1, Ordering::SeqCst);
        let Some((desc, diff_id)) = work.get(i) else {
            return;
        };
        if let Err(e) = fetch_layer(store, client, progress, registry, repo, desc, diff_id, i) {
            failed.store(true, Ordering::SeqCst);
            let mut slot = first_error.lock().expect("poisoned");
            // Report the lowest layer that failed, so the error is the same
            // whatever the threads' timing.
            if slot.as_ref().is_none_or(|(j, _)| i < *j) {
                *slot = Some((i, e));
            }
        }
    };
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(worker);
        }
        worker();
    });
    match first_error.into_inner().expect("poisoned") {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

#[allow(clippy::too_many_arguments)]
fn fetch_layer(
    store: &ImageStore,
    client: &Client,
    progress: &Progress,
    registry: &str,
    repo: &str,
    desc: &Descriptor,
    diff_id: &str,
    index: usize,
) -> Result<()> {
    let bp = progress.blob("blob", &desc.digest, Some(desc.size));
    if store.layer(diff_id)?.is_some() {
        bp.skipped();
        return Ok(());
    }
    let result = (|| -> Result<()> {
        let mut blob = client.open_blob(registry, repo, &desc.digest)?;
        if let Some(n) = blob.size() {
            bp.set_length(n);
            if desc.size != 0 && n != desc.size {
                return Err(Error::msg(format!(
                    "{registry}/{repo}@{}: the registry sends {n} bytes, the manifest says {}",
                    desc.digest, desc.size
                )));
            }
        }
        let label = format!("{registry}/{repo}@{}", desc.digest);
        let limit = if desc.size == 0 { u64::MAX } else { desc.size };
        let mut capped = AtMost::new(&mut blob, limit);
        let mut counted = bp.reader(&mut capped);
        store.create_layer_streaming(&mut counted, &desc.digest, Some(diff_id), &label)?;
        Ok(())
    })();
    match &result {
        Ok(()) => bp.done(),
        Err(e) => {
            bp.failed();
            tracing::debug!(layer = index, "layer failed: {e}");
        }
    }
    result
}

/// The most an image config may hold, as containers/image's
/// `MaxConfigBodySize`: a registry that sends more is refused before it
/// fills the memory.
const MAX_CONFIG: u64 = 4 << 20;

/// Reads `inner` but fails once it yields more than `limit` bytes. A
/// registry may send no Content-Length, and a blob longer than its
/// descriptor says is wrong however it ends; without this an endless
/// response would fill the disk or the memory before its digest could be
/// checked. The end of `inner` is passed through, so the digest check of a
/// reader below still happens.
struct AtMost<'a, R: Read> {
    inner: &'a mut R,
    left: u64,
    limit: u64,
}

impl<'a, R: Read> AtMost<'a, R> {
    fn new(inner: &'a mut R, limit: u64) -> Self {
        AtMost {
            inner,
            left: limit,
            limit,
        }
    }
}

/// The error [`AtMost`] reads with, behind an `io::Error`.
#[derive(Debug)]
struct TooLong(u64);

impl std::fmt::Display for TooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the registry sends more than the {} bytes the manifest says",
            self.0
        )
    }
}

impl std::error::Error for TooLong {}

impl<R: Read> Read for AtMost<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let mut one = [0u8; 1];
            return match self.inner.read(&mut one)? {
                0 => Ok(0),
                _ => Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    TooLong(self.limit),
                )),
            };
        }
        let max = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// The `--pull` policy of `run` and `create`: returns the local image, or
/// pulls it when the policy says so (`missing`, the default, pulls only what
/// is not stored; `newer` pulls when the registry's manifest differs).
pub fn ensure(ctx: &Context, name: &str, policy: &str) -> Result<Image> {
    ensure_with(ctx, name, policy, &PullOptions::default())
}

/// [`ensure`] with pull options (`build -q` pulls quietly).
pub fn ensure_with(ctx: &Context, name: &str, policy: &str, opts: &PullOptions) -> Result<Image> {
    let store = ImageStore::new(ctx);
    let local = match store.lookup(name) {
        Ok(img) => Some(img),
        Err(super::Error::NotKnown(_)) => None,
        Err(e) => return Err(e.into()),
    };
    // The error of an implicit pull names the image the user asked for.
    let pull = |ctx: &Context, name: &str, opts: &PullOptions| {
        pull(ctx, name, opts).map_err(|e| {
            let msg = e.to_string();
            if msg.contains(name) {
                e
            } else {
                Error::with_code(e.exit_code(), format!("{name}: {msg}"))
            }
        })
    };
    match (policy, local) {
        ("" | "missing" | "ifmissing" | "ifnotpresent", Some(img)) => Ok(img),
        ("" | "missing" | "ifmissing" | "ifnotpresent", None) => pull(ctx, name, opts),
        ("never" | "false", Some(img)) => Ok(img),
        ("never" | "false", None) => Err(Error::msg(format!("{name}: image not known"))),
        ("always" | "true", _) => pull(ctx, name, opts),
        ("newer", None) => pull(ctx, name, opts),
        ("newer", Some(img)) => {
            if registry_is_newer(&img, name, opts).unwrap_or(false) {
                pull(ctx, name, opts)
            } else {
                Ok(img)
            }
        }
        (other, _) => Err(Error::msg(format!(
            "invalid pull policy \"{other}\": use always, missing, never or newer"
        ))),
    }
}

/// Whether the registry serves a different manifest than the one the local
/// image came from; errors (registry unreachable) keep the local image.
pub fn registry_is_newer(img: &Image, name: &str, opts: &PullOptions) -> Result<bool> {
    let Some(local) = &img.manifest_digest else {
        return Ok(false);
    };
    let r = Reference::parse(name)?;
    if r.is_short() || r.digest.is_some() {
        return Ok(false);
    }
    let r = r.normalize_docker();
    let (registry, repo, reference) = split_reference(&r);
    let client = opts.registry.client()?;
    match client.head_manifest(&registry, &repo, &reference)? {
        Some((digest, _)) if !digest.is_empty() => Ok(&digest != local),
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(search: &[&str]) -> RegistriesConf {
        RegistriesConf {
            search: search.iter().map(|s| s.to_string()).collect(),
            files: vec![PathBuf::from("/etc/containers/registries.conf")],
            ..Default::default()
        }
    }

    fn names(c: Candidates) -> Vec<String> {
        c.refs.into_iter().map(|r| r.to_string()).collect()
    }

    fn candidates(name: &str, conf: &RegistriesConf) -> Result<Candidates> {
        super::candidates(name, conf, &AliasCache::default())
    }

    #[test]
    fn qualified_names_are_normalised() {
        let c = conf(&[]);
        assert_eq!(
            names(candidates("docker.io/busybox", &c).unwrap()),
            ["docker.io/library/busybox:latest"]
        );
        assert_eq!(
            names(candidates("localhost:5000/me/app:1", &c).unwrap()),
            ["localhost:5000/me/app:1"]
        );
        assert_eq!(
            candidates("Bad//Name", &c).unwrap_err().to_string(),
            "invalid reference format"
        );
    }

    #[test]
    fn short_names_use_search_registries_or_name_the_files() {
        let c = conf(&["quay.io", "docker.io"]);
        assert_eq!(
            names(candidates("alpine:3", &c).unwrap()),
            ["quay.io/alpine:3", "docker.io/library/alpine:3"]
        );
        let e = candidates("alpine", &conf(&[])).unwrap_err().to_string();
        assert!(
            e.starts_with("short-name \"alpine\"")
                && e.contains("\"/etc/containers/registries.conf\""),
            "{e}"
        );
        let mut c = conf(&[]);
        c.aliases
            .insert("tool".into(), "quay.io/x/tool".to_string());
        c.alias_files
            .insert("tool".into(), PathBuf::from("/etc/containers/r.conf"));
        let got = candidates("tool:2", &c).unwrap();
        assert_eq!(
            got.alias_file.as_deref(),
            Some(std::path::Path::new("/etc/containers/r.conf"))
        );
        assert_eq!(names(got), ["quay.io/x/tool:2"]);
        // The user's cache comes first; an empty value there or in a
        // later file is no alias.
        let cache = AliasCache {
            path: PathBuf::from("/home/u/.cache/containers/short-name-aliases.conf"),
            aliases: [("tool".to_string(), "127.0.0.1:5000/x/tool".to_string())].into(),
        };
        let got = super::candidates("tool", &c, &cache).unwrap();
        assert_eq!(got.alias_file, Some(cache.path.clone()));
        assert_eq!(names(got), ["127.0.0.1:5000/x/tool:latest"]);
        c.aliases.insert("tool".into(), String::new());
        let e = candidates("tool", &c).unwrap_err().to_string();
        assert!(e.contains("did not resolve to an alias"), "{e}");
        c.aliases.insert("tool".into(), "tool".into());
        let e = candidates("tool", &c).unwrap_err().to_string();
        assert_eq!(
            e,
            "short-name alias \"tool\" = \"tool\" in /etc/containers/r.conf: the alias must name a registry and repository"
        );
    }

    #[test]
    fn split_reference_prefers_the_digest() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("127.0.0.1:5000/me/app:1@{d}")).unwrap();
        assert_eq!(
            split_reference(&r),
            ("127.0.0.1:5000".into(), "me/app".into(), d)
        );
    }
}
