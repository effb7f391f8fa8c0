//! The build executor: runs a [`Plan`] stage by stage, step by step, as
//! buildah does with `--layers` (podman build's default).
//!
//! - Each stage starts from its base: an image (pulled when missing, per
//!   `--pull`), `scratch` (an empty image), or an earlier stage's result.
//! - Metadata instructions (ENV, CMD, LABEL, USER, ...) change the
//!   configuration and make a new image with an `empty_layer` history
//!   entry; no container is involved.
//! - RUN creates a working container from the current image with the
//!   command, the stage's environment and the ARGs in scope, runs it in the
//!   foreground through the same create/launch machinery as `skiff run`
//!   (output streamed to the user), and commits it; COPY and ADD create one,
//!   mount its root file system and copy into it through descriptors
//!   (`transfer.rs`), then commit it. WORKDIR makes its directory when the
//!   image does not have it, owned by the USER (BuildKit's choice; buildah
//!   makes it root's). Every working container is removed when the
//!   step ends, whether it succeeded, failed or was interrupted.
//! - Every step that makes an image is recorded in the cache (`cache.rs`);
//!   a hit skips the step and prints `--> Using cache <id>`.
//!
//! Output follows podman build: `STEP n/m: TEXT` (with a `[s/S] ` prefix in
//! multi-stage builds), `--> <id12>` after each image, `COMMIT <tag>`
//! before the last, `Successfully tagged <name>` per tag, then the full id.
//! `-q` prints only the id.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use oci_spec::image::ImageConfiguration;
use sha2::{Digest, Sha256};

use super::cache::{self, Cache};
use super::config::{run_argv, Extras, StageConfig};
use super::instruction::{Instruction, MountKind, Run, Transfer};
use super::plan::{Base, BuildOptions, Plan, Step};
use super::transfer::{self, Owner, Source, Tree};
use super::{parse, Ignore};
use crate::container::create::CreateOptions;
use crate::container::launch::{self, Mode, Outcome};
use crate::image::commit::{ManifestFormat, Squash};
use crate::image::{Image, ImageStore};
use crate::runtime::safe_path::Root;
use crate::state::container::Container;
use crate::{Context, Error, Result};

/// The image format of the result (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// OCI image configuration and manifest (podman's default).
    #[default]
    Oci,
    /// Docker v2s2: also keeps HEALTHCHECK, ONBUILD and SHELL.
    Docker,
}

/// A build as the command line asks for it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The Containerfile's name in messages (`Containerfile`).
    pub file_name: String,
    /// Its text.
    pub text: String,
    /// The context directory.
    pub context: PathBuf,
    /// The context's `.containerignore` / `.dockerignore` patterns.
    pub ignore: Ignore,
    /// Build args, `--target`, `--platform`.
    pub options: BuildOptions,
    /// `-t` names, already normalised (`localhost/app:latest`).
    pub tags: Vec<String>,
    /// The first `-t` as typed, for the `COMMIT` line.
    pub commit_name: Option<String>,
    /// `--label` pairs, added to the final image.
    pub labels: Vec<(String, String)>,
    /// `--no-cache`: run every step.
    pub no_cache: bool,
    /// `--squash` or `--layers=false`, buildah's build without layers:
    /// no step is looked up in or kept in the cache, no `--> <id>` line is
    /// printed per step, the intermediate images are removed when the
    /// build ends, and the final stage's steps make one layer on top of
    /// its base image's layers, their history entries empty but the last.
    pub squash: bool,
    /// `--pull` policy for base images: missing (default), always, never, newer.
    pub pull: String,
    /// `--tls-verify`, `--authfile`, `--creds`, `--cert-dir` for base image pulls.
    pub registry: crate::image::pull::RegistryFlags,
    /// `-q`: print only the final id.
    pub quiet: bool,
    pub format: Format,
    /// `--network` for RUN (a RUN's own `--network` wins).
    pub network: Option<String>,
    /// `--squash-all`: the result is one layer holding the whole root file
    /// system, with one history entry. Intermediate images are kept.
    pub squash_all: bool,
    /// `--secret id=ID,src=PATH`: files RUN `--mount=type=secret` mounts,
    /// by id (absolute paths). Never part of an image or of the cache key.
    pub secrets: BTreeMap<String, PathBuf>,
}

/// The first interrupt (SIGINT or SIGTERM) asks the build to stop
/// (`runtime::signal::request_cancel`): copies and commits check it
/// between files and between chunks, the executor between steps; the
/// working containers are removed and the build fails with 128+signal
/// (130, 143) as podman build. A second one ends the process at once, as a
/// user pressing Ctrl-C twice means.
#[allow(unsafe_code)]
extern "C" fn on_signal(sig: libc::c_int) {
    if crate::runtime::signal::request_cancel(sig) {
        // SAFETY: _exit is async-signal-safe and takes no Rust state.
        unsafe { libc::_exit(128 + sig) };
    }
}

/// Catches SIGINT and SIGTERM for the build: an interrupted build cleans up
/// instead of dying with working containers left behind. (While a RUN
/// runs, the launch takes them instead: it kills the step's container and
/// fails with 128+signal.)
#[allow(unsafe_code)]
fn catch_interrupts() {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let act = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for s in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe; no other code of the process installs a
        // handler for these signals during a build.
        let _ = unsafe { sigaction(s, &act) };
    }
}

/// The error of an interrupted build: 128+signal, as podman build exits.
fn interrupted_error(sig: i32) -> Error {
    Error::with_code(128 + sig, "build interrupted")
}

fn check_interrupted() -> Result<()> {
    match crate::runtime::signal::cancelled() {
        Some(sig) => Err(interrupted_error(sig)),
        None => Ok(()),
    }
}

/// This build process, as its working containers' records name it.
fn this_builder() -> Option<crate::state::container::Builder> {
    let pid = std::process::id() as i32;
    crate::container::pidfd::start_time(pid)
        .map(|start_time| crate::state::container::Builder { pid, start_time })
}

/// A working container, removed (and unmounted) when dropped.
struct Worker<'a> {
    ctx: &'a Context,
    c: Container,
    mounted: Option<PathBuf>,
}

impl Worker<'_> {
    /// Mounts the root file system; returns it opened as a root.
    fn mount(&mut self) -> Result<(PathBuf, Root)> {
        let p = crate::container::start::mount_rootfs(self.ctx, &self.c)?;
        self.mounted = Some(p.clone());
        let root = Root::open(&p).map_err(|e| Error::msg(crate::error::io_msg("open", &p, &e)))?;
        Ok((p, root))
    }

    fn unmount(&mut self) -> Result<()> {
        if self.mounted.take().is_some() {
            crate::container::start::unmount_rootfs(self.ctx, &self.c)?;
        }
        Ok(())
    }
}

impl Drop for Worker<'_> {
    fn drop(&mut self) {
        let _ = self.unmount();
        if let Err(e) = crate::container::remove::remove(self.ctx, &self.c, true) {
            tracing::warn!(id = %self.c.id, "removing the build container: {e}");
        }
    }
}

struct Executor<'a> {
    ctx: &'a Context,
    req: &'a Request,
    plan: Plan,
    store: ImageStore,
    cache: Cache,
    context: Root,
    /// Result image of each stage built so far, by file position.
    stages: BTreeMap<usize, String>,
    docker: bool,
    /// Images this build made, in order: with `squash`, removed at the end
    /// (all but the result).
    made: std::cell::RefCell<Vec<String>>,
}

/// Runs a build; returns the final image, tagged.
pub fn build(ctx: &Context, req: &Request) -> Result<Image> {
    let df = parse(&req.file_name, &req.text)?;
    let plan = Plan::new(&df, &req.options)?;
    let context = Root::open(&req.context)
        .map_err(|e| Error::msg(crate::error::io_msg("open", &req.context, &e)))?;
    crate::runtime::signal::reset_cancel();
    catch_interrupts();
    crate::container::prune::remove_orphan_builds(ctx);
    // Whatever failed once a stop was asked (a copy, a commit) failed
    // because of it: the build ends with the signal's code.
    build_steps(ctx, req, plan, context).map_err(|e| match crate::runtime::signal::cancelled() {
        Some(sig) => interrupted_error(sig),
        None => e,
    })
}

fn build_steps(ctx: &Context, req: &Request, plan: Plan, context: Root) -> Result<Image> {
    let mut ex = Executor {
        ctx,
        req,
        store: ImageStore::new(ctx),
        cache: Cache::new(ctx),
        context,
        stages: BTreeMap::new(),
        docker: req.format == Format::Docker,
        plan,
        made: Default::default(),
    };
    let result = ex.all_stages();
    if req.squash {
        ex.drop_intermediates(result.as_ref().ok().map(|i| i.id.as_str()));
    }
    result
}

impl<'a> Executor<'a> {
    /// Builds the planned stages; returns the final image, tagged.
    fn all_stages(&mut self) -> Result<Image> {
        if let Some(s) = &self.plan.syntax {
            self.note(&format!(
                "ignoring the syntax directive {s:?}: skiff has one front end"
            ));
        }
        for w in self.plan.warnings.clone() {
            self.note(&w);
        }
        if !self.plan.unused_build_args.is_empty() {
            let names = self.plan.unused_build_args.join(", ");
            self.note(&format!(
                "one or more build args were not consumed: [{names}]"
            ));
        }
        let order = self.plan.order.clone();
        let mut last = None;
        for (n, &i) in order.iter().enumerate() {
            let final_stage = n + 1 == order.len();
            let img = self.stage(i, final_stage)?;
            self.stages.insert(i, img.id.clone());
            last = Some(img);
        }
        let mut img = last.expect("a plan has at least one stage");
        if !self.req.labels.is_empty() {
            img = self.relabel(&img)?;
        }
        if self.req.squash_all {
            img = self.squash_all(&img)?;
        }
        if !self.req.quiet {
            println!("--> {}", &img.id[..12]);
        }
        check_interrupted()?;
        if !self.req.tags.is_empty() {
            self.store.add_names(&img.id, &self.req.tags)?;
            if !self.req.quiet {
                for t in &self.req.tags {
                    println!("Successfully tagged {t}");
                }
            }
        }
        self.store.load(&img.id).map_err(Into::into)
    }

    /// Removes the images this build made but `keep` (buildah's build
    /// without layers keeps none of them).
    fn drop_intermediates(&self, keep: Option<&str>) {
        for id in self.made.borrow().iter().rev() {
            if Some(id.as_str()) != keep {
                let _ = self.store.remove_image(id);
            }
        }
    }

    fn note(&self, msg: &str) {
        if !self.req.quiet {
            tracing::warn!("{msg}");
        }
    }

    fn say(&self, line: &str) {
        if !self.req.quiet {
            println!("{line}");
        }
    }

    /// The base image of a stage, and its raw config's Docker fields.
    fn base(&self, base: &Base) -> Result<(Image, Extras)> {
        let img = match base {
            Base::Image(name) => {
                let opts = crate::image::pull::PullOptions {
                    quiet: self.req.quiet,
                    registry: self.req.registry.clone(),
                    ..Default::default()
                };
                crate::image::pull::ensure_with(self.ctx, name, &self.req.pull, &opts)?
            }
            Base::Stage(i) => self.store.load(&self.stages[i])?,
            Base::Scratch => self.scratch()?,
        };
        let extras = self.extras_of(&img);
        Ok((img, extras))
    }

    /// The Docker-only fields of an image's stored config.
    fn extras_of(&self, img: &Image) -> Extras {
        self.store
            .read_blob(&img.config_digest)
            .map(|raw| Extras::from_config_json(&raw))
            .unwrap_or_default()
    }

    /// An image with no layers and no history: what `FROM scratch` builds on.
    fn scratch(&self) -> Result<Image> {
        let mut cfg = ImageConfiguration::default();
        cfg.set_created(Some("1970-01-01T00:00:00Z".into()));
        cfg.set_history(Vec::new());
        let mut rootfs = cfg.rootfs().clone();
        rootfs.set_diff_ids(Vec::new());
        cfg.set_rootfs(rootfs);
        Ok(self.store.create_image(&cfg, &[], None)?)
    }

    fn stage(&mut self, index: usize, final_stage: bool) -> Result<Image> {
        let stage = self.plan.all[index].clone();
        let (base, extras) = self.base(&stage.base).map_err(|e| {
            let name = match &stage.base {
                Base::Image(n) => n.clone(),
                Base::Scratch => "scratch".into(),
                Base::Stage(i) => i.to_string(),
            };
            step_error(&format!("FROM {name}"), e)
        })?;
        let steps = self
            .plan
            .steps(index, &base_env(&base.config), &extras.on_build)?;
        let mut cfg = StageConfig::from_base(base.config.clone(), extras);
        // Triggers run in this build and are not inherited by its image.
        cfg.extras.on_build.clear();
        let mut current = base.clone();
        let total = steps.len();
        for (n, step) in steps.iter().enumerate() {
            check_interrupted()?;
            let header = self.plan.header(index, n + 1, total, &step.text);
            self.say(&header);
            if n == 0 {
                continue;
            }
            let last = final_stage && n + 1 == total;
            let fail = |e: Error| step_error(&header, e);
            match self.step(step, &current, &mut cfg).map_err(fail)? {
                Some(img) => {
                    current = img;
                    if last {
                        self.commit_line();
                    } else if !self.req.squash {
                        self.say(&format!("--> {}", &current.id[..12]));
                    }
                }
                None if last => self.commit_line(),
                None => {}
            }
        }
        if total == 1 && final_stage {
            self.commit_line();
        }
        if final_stage && self.req.squash {
            let comment = match &stage.base {
                Base::Image(_) => base.names.first().map(|n| format!("FROM {n}")),
                Base::Scratch => Some("FROM scratch".to_string()),
                Base::Stage(_) => None,
            };
            current = self.squash_new(&base, &current, comment)?;
        }
        Ok(current)
    }

    /// `--squash` / `--layers=false`: `img` with the layers it has above
    /// `base` made one, and every history entry since the base's marked
    /// empty but the last, which the new layer's commit writes again (as
    /// buildah commits a stage it built without layers).
    fn squash_new(&self, base: &Image, img: &Image, comment: Option<String>) -> Result<Image> {
        if img.layers.len() == base.layers.len() {
            return Ok(img.clone());
        }
        let mut cfg = StageConfig::from_base(img.config.clone(), self.extras_of(img));
        let mut history = img.config.history().clone();
        let last = history.pop().and_then(|h| h.created_by().clone());
        let since = base.config.history().len().min(history.len());
        for h in &mut history[since..] {
            h.set_empty_layer(Some(true));
        }
        cfg.image.set_history(history);
        let w = self.file_worker(&img.id)?;
        let squash = Squash::Above(base.layers.len());
        let created_by = last.unwrap_or_default();
        let out = super::commit::layer(
            self.ctx,
            &w.c,
            &cfg.image,
            &created_by,
            self.docker,
            squash,
            comment,
        )?;
        self.made.borrow_mut().push(out.id.clone());
        self.keep_extras(out, &mut cfg)
    }

    fn commit_line(&self) {
        match &self.req.commit_name {
            Some(n) => self.say(&format!("COMMIT {n}")),
            None => self.say("COMMIT"),
        }
    }

    /// Runs one step (or finds it in the cache).
    fn step(&self, step: &Step, current: &Image, cfg: &mut StageConfig) -> Result<Option<Image>> {
        if let Instruction::Arg(_) = step.instruction {
            return Ok(None);
        }
        match &step.instruction {
            Instruction::Copy(t) | Instruction::Add(t) => self.transfer(step, t, current, cfg),
            Instruction::Run(r) => {
                let key = self.key(&current.id, step, "", &self.run_key_extra(step, r)?);
                if let Some(img) = self.cached(&key, cfg) {
                    return Ok(Some(img));
                }
                let img = self.run(step, r, current, cfg)?;
                self.remember(&key, &img)?;
                Ok(Some(img))
            }
            Instruction::Workdir(_) => {
                let key = self.key(&current.id, step, "", "");
                if let Some(w) = cfg.apply(&step.instruction, self.docker) {
                    self.note(&w);
                }
                if let Some(img) = self.cached(&key, cfg) {
                    return Ok(Some(img));
                }
                let created_by = step.created_by("");
                let img = if has_dir(&self.store, current, &cfg.workdir()) {
                    self.metadata(cfg, &created_by)?
                } else {
                    let mut w = self.file_worker(&current.id)?;
                    let (rootfs, root) = w.mount()?;
                    // Owned by the USER, as BuildKit makes it.
                    let owner = match cfg.user() {
                        u if u.is_empty() => None,
                        u => Some(resolve_chown(&rootfs, &u)?),
                    };
                    transfer::make_dirs(&root, Path::new(&cfg.workdir()), owner)
                        .map_err(Error::msg)?;
                    drop(root);
                    w.unmount()?;
                    let img = self.commit(&w.c, cfg, &created_by)?;
                    drop(w);
                    img
                };
                self.remember(&key, &img)?;
                Ok(Some(img))
            }
            other => {
                let key = self.key(&current.id, step, "", "");
                if let Some(w) = cfg.apply(other, self.docker) {
                    self.note(&w);
                }
                if let Some(img) = self.cached(&key, cfg) {
                    return Ok(Some(img));
                }
                let img = self.metadata(cfg, &step.created_by(""))?;
                self.remember(&key, &img)?;
                Ok(Some(img))
            }
        }
    }

    /// A step's cache key; the image format is part of it (a Docker
    /// config keeps fields an OCI one drops).
    fn key(&self, parent: &str, step: &Step, content: &str, extra: &str) -> String {
        let format = if self.docker { "docker" } else { "oci" };
        cache::key(parent, step, content, &format!("{extra}\0{format}"))
    }

    /// A cached result for `key`; on a hit the stage's configuration
    /// becomes the cached image's.
    fn cached(&self, key: &str, cfg: &mut StageConfig) -> Option<Image> {
        if self.req.no_cache || self.req.squash {
            return None;
        }
        let img = self.cache.get(&self.store, key)?;
        self.say(&format!("--> Using cache {}", img.id));
        cfg.image = img.config.clone();
        cfg.extras = self.extras_of(&img);
        Some(img)
    }

    /// Records a step's result in the cache (not without layers: the
    /// image is removed when the build ends).
    fn remember(&self, key: &str, img: &Image) -> Result<()> {
        if self.req.squash {
            return Ok(());
        }
        self.cache.put(key, &img.id)
    }

    /// A new image from the stage's configuration with an empty-layer
    /// history entry.
    fn metadata(&self, cfg: &mut StageConfig, created_by: &str) -> Result<Image> {
        cfg.add_history(created_by, true);
        self.save(cfg)
    }

    /// Stores the stage's configuration as an image of the stored layers,
    /// with a manifest in the build's format, as a commit makes one.
    fn save(&self, cfg: &StageConfig) -> Result<Image> {
        let bytes = cfg.to_bytes(self.docker).map_err(Error::msg)?;
        let digest = self.store.put_blob_bytes(&bytes)?;
        let format = if self.docker {
            ManifestFormat::Docker
        } else {
            ManifestFormat::Oci
        };
        let manifest =
            crate::image::commit::manifest(&self.store, &cfg.image, &digest, bytes.len(), format)?;
        let manifest = self.store.put_blob_bytes(&manifest)?;
        let img = self
            .store
            .create_image_from_config_blob(&digest, &[], Some(manifest))?;
        self.made.borrow_mut().push(img.id.clone());
        Ok(img)
    }

    /// Commits a working container as the next image of the stage.
    fn commit(&self, c: &Container, cfg: &mut StageConfig, created_by: &str) -> Result<Image> {
        let img = super::commit::layer(
            self.ctx,
            c,
            &cfg.image,
            created_by,
            self.docker,
            Squash::No,
            None,
        )?;
        self.made.borrow_mut().push(img.id.clone());
        self.keep_extras(img, cfg)
    }

    /// A committed image with the stage's Docker-only fields: the commit
    /// keeps only what the OCI types hold, so with `--format docker` the
    /// configuration is stored again with them (and the first one dropped).
    fn keep_extras(&self, img: Image, cfg: &mut StageConfig) -> Result<Image> {
        cfg.image = img.config.clone();
        if !self.docker || cfg.extras.is_empty() {
            return Ok(img);
        }
        let again = self.save(cfg)?;
        if again.id != img.id {
            let _ = self.store.remove_image(&img.id);
        }
        Ok(again)
    }

    /// The final image with the `--label` values (cached like a step).
    fn relabel(&self, img: &Image) -> Result<Image> {
        let mut h = Sha256::new();
        h.update(img.id.as_bytes());
        for (k, v) in &self.req.labels {
            h.update(format!("\0{k}={v}").as_bytes());
        }
        let key = hex::encode(h.finalize());
        if !self.req.no_cache && !self.req.squash {
            if let Some(i) = self.cache.get(&self.store, &key) {
                return Ok(i);
            }
        }
        let mut cfg = StageConfig::from_base(img.config.clone(), self.extras_of(img));
        cfg.apply(&Instruction::Label(self.req.labels.clone()), self.docker);
        let out = self.save(&cfg)?;
        self.remember(&key, &out)?;
        Ok(out)
    }

    /// A working container that is never started, only mounted for COPY,
    /// ADD, WORKDIR or as a `--from` source.
    fn file_worker(&self, image: &str) -> Result<Worker<'a>> {
        self.worker_with(
            image,
            vec!["/bin/sh".into()],
            Vec::new(),
            Some("0:0".into()),
            None,
            None,
            Vec::new(),
        )
    }

    /// The image as one layer (`--squash-all`), never cached.
    fn squash_all(&self, img: &Image) -> Result<Image> {
        let w = self.file_worker(&img.id)?;
        let mut cfg = StageConfig::from_base(img.config.clone(), self.extras_of(img));
        let created_by = "/bin/sh -c #(nop) squashed";
        let out = super::commit::layer(
            self.ctx,
            &w.c,
            &cfg.image,
            created_by,
            self.docker,
            Squash::All,
            None,
        )?;
        self.keep_extras(out, &mut cfg)
    }

    #[allow(clippy::too_many_arguments)]
    fn worker_with(
        &self,
        image: &str,
        command: Vec<String>,
        env: Vec<String>,
        user: Option<String>,
        network: Option<String>,
        workdir: Option<String>,
        mounts: Vec<String>,
    ) -> Result<Worker<'a>> {
        let opts = CreateOptions {
            image: image.to_string(),
            command,
            entrypoint: Some(String::new()),
            env,
            user,
            workdir,
            network,
            mounts,
            pull: "never".into(),
            skip_image_volumes: true,
            builder: this_builder(),
            ..Default::default()
        };
        let c = crate::container::create(self.ctx, &opts)?;
        Ok(Worker {
            ctx: self.ctx,
            c,
            mounted: None,
        })
    }

    fn run_network(&self, r: &Run) -> String {
        r.network
            .clone()
            .or_else(|| self.req.network.clone())
            .unwrap_or_default()
    }

    /// RUN: a working container with the command, in the foreground.
    fn run(&self, step: &Step, r: &Run, current: &Image, cfg: &mut StageConfig) -> Result<Image> {
        if r.security.as_deref() == Some("insecure") {
            // An ONBUILD trigger's RUN: the plan refused the file's own.
            return Err(Error::msg("RUN --security=insecure is not supported"));
        }
        let argv = run_argv(&r.command, &r.heredocs, &cfg.shell);
        let mut env: Vec<String> = step
            .run_env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let network = match self.run_network(r).as_str() {
            "" | "default" => None,
            other => Some(other.to_string()),
        };
        // Workers holding `from=` sources mounted, until the step is done.
        let (mounts, _sources, secret_env) = self.run_mounts(step, r)?;
        env.extend(secret_env);
        let user = Some(cfg.user()).filter(|u| !u.is_empty());
        let w = self.worker_with(
            &current.id,
            argv,
            env,
            user,
            network,
            Some(cfg.workdir()),
            mounts,
        )?;
        let _ = std::io::stdout().flush();
        let outcome = launch::launch(
            self.ctx,
            &w.c,
            Mode::Foreground {
                sig_proxy: false,
                detach_keys: None,
                stop_on_interrupt: true,
            },
        )?;
        match outcome {
            Outcome::Exited(0) => {}
            Outcome::Exited(code) => {
                return Err(Error::with_code(
                    code,
                    format!("while running runtime: exit status {code}"),
                ))
            }
            other => {
                return Err(Error::msg(format!(
                    "unexpected end of the command: {other:?}"
                )))
            }
        }
        check_interrupted()?;
        self.commit(&w.c, cfg, &step.created_by(""))
    }

    /// `RUN --mount` values as `--mount` options of the working container:
    /// cache mounts are directories kept per user below the graph root,
    /// bind mounts come from the context (always read-only), tmpfs as
    /// asked, secrets are the `--secret` files, read-only at
    /// `/run/secrets/ID` unless a target is given; a bind mount `from=` a
    /// stage or an image comes from a mounted working container of it
    /// (returned, to be dropped once the step is done). A secret with
    /// `env=VAR` is that variable of this RUN alone (never of the image),
    /// and a file too only when a target is given (BuildKit's rule). Ssh
    /// mounts are refused, never ignored.
    fn run_mounts(&self, step: &Step, r: &Run) -> Result<RunMounts<'a>> {
        let mut out = Vec::new();
        let mut holders = Vec::new();
        let mut env = Vec::new();
        for (i, m) in r.mounts.iter().enumerate() {
            if m.kind == MountKind::Secret {
                let id =
                    m.id.clone()
                        .or_else(|| {
                            m.target
                                .as_deref()
                                .and_then(|t| Path::new(t).file_name())
                                .map(|n| n.to_string_lossy().into_owned())
                        })
                        .or_else(|| m.env.clone())
                        .ok_or_else(|| Error::msg("RUN --mount=type=secret: an id is required"))?;
                let target = m
                    .target
                    .clone()
                    .unwrap_or_else(|| format!("/run/secrets/{id}"));
                match self.req.secrets.get(&id) {
                    Some(src) => {
                        if let Some(var) = &m.env {
                            let value =
                                crate::error::read_capped_text(src, crate::error::USER_FILE_MAX)
                                    .map_err(|e| {
                                        Error::msg(crate::error::io_msg("read secret", src, &e))
                                    })?;
                            env.push(format!("{var}={value}"));
                        }
                        if m.env.is_none() || m.target.is_some() {
                            out.push(format!(
                                "type=bind,source={},target={target},readonly",
                                src.display()
                            ))
                        }
                    }
                    None if m.required => {
                        return Err(Error::msg(format!(
                            "secret {id:?} is required: give it with --secret id={id},src=PATH"
                        )))
                    }
                    None => {}
                }
                continue;
            }
            let target = m
                .target
                .clone()
                .ok_or_else(|| Error::msg("RUN --mount: a target is required"))?;
            match m.kind {
                MountKind::Cache => {
                    let id = m.id.clone().unwrap_or_else(|| target.clone());
                    let dir = self
                        .ctx
                        .root
                        .join("build-cache-mounts")
                        .join(hex::encode(Sha256::digest(id.as_bytes())));
                    std::fs::create_dir_all(&dir)
                        .map_err(|e| Error::msg(crate::error::io_msg("mkdir", &dir, &e)))?;
                    let ro = if m.readonly { ",readonly" } else { "" };
                    out.push(format!(
                        "type=bind,source={},target={target}{ro}",
                        dir.display()
                    ));
                }
                MountKind::Tmpfs => {
                    let size = m.size.map(|n| format!(",tmpfs-size={n}"));
                    out.push(format!(
                        "type=tmpfs,target={target}{}",
                        size.unwrap_or_default()
                    ))
                }
                MountKind::Bind => {
                    let src = m.source.clone().unwrap_or_default();
                    let path = match step.mount_from.get(i).cloned().flatten() {
                        Some(base) => {
                            let (img, _) = self.base(&base)?;
                            let mut w = self.file_worker(&img.id)?;
                            let (_, root) = w.mount()?;
                            let p = real_path_in(&root, &src, "in the source image")?;
                            holders.push(w);
                            p
                        }
                        None => real_path_in(&self.context, &src, "in the build context")?,
                    };
                    // Always read-only: BuildKit discards what a RUN writes
                    // there; here it would land in the user's context.
                    out.push(format!(
                        "type=bind,source={},target={target},readonly",
                        path.display()
                    ));
                }
                MountKind::Ssh | MountKind::Secret => {
                    // An ONBUILD trigger's: the plan refused the file's own.
                    return Err(Error::msg("RUN --mount=type=ssh is not supported"));
                }
            }
        }
        Ok((out, holders, env))
    }

    /// What a RUN's result depends on besides its text: the network, and
    /// the content of its bind mounts (a digest of the context source, or
    /// the image id of a `from=` stage or image). Secrets are left out.
    fn run_key_extra(&self, step: &Step, r: &Run) -> Result<String> {
        let mut extra = self.run_network(r);
        for (i, m) in r.mounts.iter().enumerate() {
            if m.kind != MountKind::Bind {
                continue;
            }
            match step.mount_from.get(i).cloned().flatten() {
                Some(base) => {
                    let (img, _) = self.base(&base)?;
                    extra.push('\0');
                    extra.push_str(&img.id);
                }
                None => {
                    let tree = Tree {
                        root: &self.context,
                        ignore: Some(&self.req.ignore),
                        context: true,
                        exclude: None,
                    };
                    let mut h = Sha256::new();
                    let src = m.source.clone().unwrap_or_default();
                    for s in tree.resolve(&src).map_err(Error::msg)? {
                        tree.digest(&s, false, &mut h).map_err(Error::msg)?;
                    }
                    extra.push('\0');
                    extra.push_str(&hex::encode(h.finalize()));
                }
            }
        }
        Ok(extra)
    }

    /// COPY and ADD.
    fn transfer(
        &self,
        step: &Step,
        t: &Transfer,
        current: &Image,
        cfg: &mut StageConfig,
    ) -> Result<Option<Image>> {
        let add = matches!(step.instruction, Instruction::Add(_));
        let urls: Vec<&String> = t.sources.iter().filter(|s| is_url(s)).collect();
        if !urls.is_empty() && urls.len() != t.sources.len() {
            return Err(Error::msg(
                "ADD: URLs and local sources cannot be mixed in one instruction",
            ));
        }
        // URLs are downloaded into a private directory first; that directory
        // is then the source tree, its files named after the URLs.
        let mut download_root = None;
        let _downloads = if urls.is_empty() {
            None
        } else {
            let dir = Downloads::new(self.ctx)?;
            for u in &urls {
                download(u, &dir.0, t.checksum.as_deref())?;
            }
            download_root = Some(
                Root::open(&dir.0)
                    .map_err(|e| Error::msg(crate::error::io_msg("open", &dir.0, &e)))?,
            );
            Some(dir)
        };
        let exclude = if t.exclude.is_empty() {
            None
        } else {
            Some(Ignore::parse("--exclude", &t.exclude.join("\n"))?)
        };
        // The source tree: the context, or a stage's or an image's root.
        let mut from_worker = None;
        let mut from_root = None;
        let tree = match (&step.from, &download_root) {
            (_, Some(root)) => Tree {
                root,
                ignore: None,
                context: true,
                exclude: None,
            },
            (None, None) => Tree {
                root: &self.context,
                ignore: Some(&self.req.ignore),
                context: true,
                exclude: exclude.as_ref(),
            },
            (Some(base), None) => {
                let (img, _) = self.base(base)?;
                let mut w = self.file_worker(&img.id)?;
                let (_, root) = w.mount()?;
                from_worker = Some(w);
                Tree {
                    root: from_root.insert(root),
                    ignore: None,
                    context: false,
                    exclude: exclude.as_ref(),
                }
            }
        };
        let mut sources: Vec<Source> = Vec::new();
        for s in &t.sources {
            let name = if is_url(s) {
                url_file_name(s)
            } else {
                s.clone()
            };
            sources.extend(tree.resolve(&name).map_err(Error::msg)?);
        }
        let count = sources.len() + t.inline.len();
        let dest_is_dir =
            t.dest.ends_with('/') || t.dest == "." || t.dest.ends_with("/.") || count > 1;
        if count > 1 && !(t.dest.ends_with('/') || t.dest == "." || t.dest.ends_with("/.")) {
            return Err(Error::msg(format!(
                "when using {} with more than one source file, the destination must be a directory and end with a /",
                step.instruction.keyword()
            )));
        }
        // The digest of what is copied: the cache key's content part.
        let keep_owners = !tree.context && t.chown.is_none();
        let mut h = Sha256::new();
        for s in &sources {
            h.update(s.rel.as_bytes());
            tree.digest(s, keep_owners, &mut h).map_err(Error::msg)?;
        }
        let digest = hex::encode(h.finalize());
        let kind = match sources.as_slice() {
            [one] if one.kind != nix::sys::stat::SFlag::S_IFDIR => "file",
            [_] => "dir",
            _ => "multi",
        };
        let summary = format!("{kind}:{digest}");
        let key = self.key(&current.id, step, &summary, "");
        if let Some(img) = self.cached(&key, cfg) {
            return Ok(Some(img));
        }

        let mut w = self.file_worker(&current.id)?;
        let (rootfs, root) = w.mount()?;
        let workdir = cfg.workdir();
        let dest = if t.dest.starts_with('/') {
            PathBuf::from(&t.dest)
        } else {
            Path::new(&workdir).join(&t.dest)
        };
        let exists_dir = root
            .resolve(&dest, true)
            .ok()
            .and_then(|fd| crate::runtime::safe_path::file_type(fd.as_fd()).ok())
            == Some(nix::sys::stat::SFlag::S_IFDIR);
        let chown = match &t.chown {
            Some(spec) => Some(resolve_chown(&rootfs, spec)?),
            None if tree.context => Some((0, 0)),
            None => None,
        };
        let mode = match &t.chmod {
            Some(m) => Some(u32::from_str_radix(m, 8).map_err(|_| {
                Error::msg(format!(
                    "invalid --chmod {m:?}: an octal mode such as 0755 is expected"
                ))
            })?),
            None => None,
        };
        let owner = Owner { ids: chown, mode };
        let label = dest.display().to_string();
        let into_dir = dest_is_dir || exists_dir;
        for s in &sources {
            let is_dir = s.kind == nix::sys::stat::SFlag::S_IFDIR;
            // --parents: the source's directories from the context root are
            // kept below the destination.
            let (dest, into_dir) = if t.parents {
                let rel = Path::new(&s.rel);
                match (is_dir, rel.parent()) {
                    (true, _) => (dest.join(rel), true),
                    (false, Some(p)) => (dest.join(p), true),
                    (false, None) => (dest.clone(), true),
                }
            } else {
                (dest.clone(), into_dir)
            };
            // Local archives are extracted, downloads never (as Docker).
            if add
                && tree.context
                && urls.is_empty()
                && t.unpack != Some(false)
                && transfer::is_archive(s)
            {
                let d = transfer::make_dirs(&root, &dest, chown).map_err(Error::msg)?;
                let keep = Owner {
                    ids: t.chown.as_ref().and(chown),
                    mode,
                };
                self.extract(&w.c, s, &d, keep, &label)?;
            } else if is_dir {
                let d = transfer::make_dirs(&root, &dest, chown).map_err(Error::msg)?;
                tree.copy(s, d.as_fd(), OsStr::new(""), true, owner, &label)
                    .map_err(Error::msg)?;
            } else if into_dir {
                let d = transfer::make_dirs(&root, &dest, chown).map_err(Error::msg)?;
                let name = Path::new(&s.rel)
                    .file_name()
                    .map(|n| n.to_os_string())
                    .unwrap_or_default();
                tree.copy(s, d.as_fd(), &name, false, owner, &label)
                    .map_err(Error::msg)?;
            } else {
                let (parent, name) = split_dest(&dest)?;
                let d = transfer::make_dirs(&root, &parent, chown).map_err(Error::msg)?;
                tree.copy(s, d.as_fd(), name.as_os_str(), false, owner, &label)
                    .map_err(Error::msg)?;
            }
        }
        for doc in &t.inline {
            let path = if into_dir {
                dest.join(&doc.name)
            } else {
                dest.clone()
            };
            let (parent, name) = split_dest(&path)?;
            let d = transfer::make_dirs(&root, &parent, chown).map_err(Error::msg)?;
            write_inline(
                d.as_fd(),
                &name,
                doc.content.as_bytes(),
                owner,
                mode.unwrap_or(0o644),
            )
            .map_err(|e| Error::msg(format!("{}: {e}", path.display())))?;
        }
        drop(root);
        w.unmount()?;
        drop(from_root);
        drop(from_worker);
        let img = self.commit(&w.c, cfg, &step.created_by(&summary))?;
        drop(w);
        self.remember(&key, &img)?;
        Ok(Some(img))
    }

    /// ADD of a local archive: unpacked into a private directory, then
    /// copied in through descriptors like any tree.
    fn extract(
        &self,
        c: &Container,
        src: &Source,
        dest: &std::os::fd::OwnedFd,
        owner: Owner,
        label: &str,
    ) -> Result<()> {
        let stage = self.ctx.container_dir(&c.id).join(".add-stage");
        let _ = std::fs::remove_dir_all(&stage);
        std::fs::create_dir_all(&stage)
            .map_err(|e| Error::msg(crate::error::io_msg("mkdir", &stage, &e)))?;
        let result = (|| -> Result<()> {
            let f = transfer::open_file(src).map_err(Error::msg)?;
            crate::image::layer::unpack(f, &stage, &src.rel, None)?;
            let root = Root::open(&stage)
                .map_err(|e| Error::msg(crate::error::io_msg("open", &stage, &e)))?;
            let tree = Tree {
                root: &root,
                ignore: None,
                context: false,
                exclude: None,
            };
            let top = tree.resolve(".").map_err(Error::msg)?.remove(0);
            tree.copy(&top, dest.as_fd(), OsStr::new(""), true, owner, label)
                .map_err(Error::msg)
        })();
        let _ = std::fs::remove_dir_all(&stage);
        result
    }
}

/// A RUN's `--mount` values as the working container's `--mount` options,
/// the workers holding `from=` sources mounted, and the secrets given as
/// variables (`VAR=value`).
type RunMounts<'a> = (Vec<String>, Vec<Worker<'a>>, Vec<String>);

/// `STEP 3/7: COPY ../x /x: forbidden path ...`, with the step's exit code.
fn step_error(header: &str, e: Error) -> Error {
    let code = e.exit_code();
    let msg = format!("{header}: {e}");
    if code == crate::error::EXIT_ENGINE {
        Error::msg(msg)
    } else {
        Error::with_code(code, msg)
    }
}

fn base_env(c: &ImageConfiguration) -> Vec<String> {
    c.config()
        .as_ref()
        .and_then(|c| c.env().clone())
        .unwrap_or_default()
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// The file name an ADD of a URL gives its download: the last component
/// of the URL's path, `download` when there is none (as BuildKit names it).
fn url_file_name(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let path = rest.split(['?', '#']).next().unwrap_or("");
    match path.split_once('/') {
        Some((_, p)) => p
            .rsplit('/')
            .next()
            .filter(|n| !n.is_empty() && *n != "." && *n != "..")
            .unwrap_or("download")
            .to_string(),
        None => "download".to_string(),
    }
}

/// A private directory for ADD's downloads, removed when dropped.
struct Downloads(PathBuf);

impl Downloads {
    fn new(ctx: &Context) -> Result<Downloads> {
        let p = ctx
            .root
            .join("build-contexts")
            .join(format!("{}-add", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p)
            .map_err(|e| Error::msg(crate::error::io_msg("mkdir", &p, &e)))?;
        Ok(Downloads(p))
    }
}

impl Drop for Downloads {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Downloads `url` into `dir` (mode 0600, as Docker stores ADD downloads),
/// checking `--checksum=sha256:HEX` when given.
fn download(url: &str, dir: &Path, checksum: Option<&str>) -> Result<()> {
    let fail = |why: String| Error::msg(format!("{url}: {why}"));
    let mut resp = ureq::get(url)
        .call()
        .map_err(|e| fail(format!("download failed: {e}")))?;
    let path = dir.join(url_file_name(url));
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| Error::msg(crate::error::io_msg("create", &path, &e)))?;
    let mut h = Sha256::new();
    let mut body = resp.body_mut().as_reader();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = std::io::Read::read(&mut body, &mut buf)
            .map_err(|e| fail(format!("download failed: {e}")))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| Error::msg(crate::error::io_msg("write", &path, &e)))?;
    }
    let got = format!("sha256:{}", hex::encode(h.finalize()));
    if let Some(want) = checksum {
        if want != got {
            return Err(fail(format!(
                "checksum mismatch: expected {want}, got {got}"
            )));
        }
    }
    Ok(())
}

fn split_dest(p: &Path) -> Result<(PathBuf, std::ffi::OsString)> {
    match (p.parent(), p.file_name()) {
        (Some(parent), Some(name)) => Ok((parent.to_path_buf(), name.to_os_string())),
        _ => Err(Error::msg(format!(
            "{}: the destination needs a file name",
            p.display()
        ))),
    }
}

/// Whether the image has a directory at `path` (looked up layer by layer,
/// topmost first, each layer opened as a root so no link leads out).
fn has_dir(store: &ImageStore, img: &Image, path: &str) -> bool {
    let Ok(dirs) = store.layer_dirs(img) else {
        return false;
    };
    for d in dirs.iter().rev() {
        let Ok(root) = Root::open(d) else { continue };
        if let Ok(fd) = root.resolve(Path::new(path), true) {
            return crate::runtime::safe_path::file_type(fd.as_fd()).ok()
                == Some(nix::sys::stat::SFlag::S_IFDIR);
        }
    }
    path == "/"
}

/// The real path of `src` resolved inside `root` (a link cannot lead out
/// of it), for a bind mount's source; `what` says where it was looked for.
fn real_path_in(root: &Root, src: &str, what: &str) -> Result<PathBuf> {
    let missing = || {
        Error::msg(format!(
            "RUN --mount: {src}: no such file or directory {what}"
        ))
    };
    let rel = transfer::clean(src, true).ok_or_else(missing)?;
    let fd = root.resolve(Path::new(&rel), true).map_err(|_| missing())?;
    std::fs::read_link(crate::runtime::safe_path::proc_path(fd.as_fd()))
        .map_err(|e| Error::msg(crate::error::io_msg("resolve", Path::new(src), &e)))
}

/// `--chown user[:group]` resolved with the image's passwd and group files.
fn resolve_chown(rootfs: &Path, spec: &str) -> Result<(u32, u32)> {
    let u = crate::state::config::UserSpec::parse(spec)?;
    let passwd = crate::runtime::user::read_root_file(rootfs, "/etc/passwd")?;
    let group = crate::runtime::user::read_root_file(rootfs, "/etc/group")?;
    let e = crate::runtime::user::resolve(&u, &passwd, &group)?;
    Ok((e.uid, e.gid))
}

/// Writes a heredoc source (`COPY <<EOF /path`) as file `name` in `dir`.
fn write_inline(
    dir: std::os::fd::BorrowedFd,
    name: &OsStr,
    data: &[u8],
    owner: Owner,
    mode: u32,
) -> std::io::Result<()> {
    use nix::fcntl::OFlag;
    use std::os::fd::AsRawFd;
    let _ = crate::runtime::safe_path::unlink_at(dir, name, false);
    let fd = crate::runtime::safe_path::open_at(
        dir,
        name,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL,
        0o600,
    )?;
    let mut f = std::fs::File::from(fd);
    f.write_all(data)?;
    let (u, g) = owner.ids.unwrap_or((0, 0));
    let _ = nix::unistd::fchown(f.as_raw_fd(), Some(u.into()), Some(g.into()));
    nix::sys::stat::fchmod(
        f.as_raw_fd(),
        nix::sys::stat::Mode::from_bits_truncate(mode),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_names() {
        assert_eq!(
            url_file_name("https://h/a/tool.tar.gz?x=1#f"),
            "tool.tar.gz"
        );
        assert_eq!(url_file_name("http://h:80/"), "download");
        assert_eq!(url_file_name("http://h"), "download");
        assert_eq!(url_file_name("http://h/a/.."), "download");
        assert!(is_url("https://x/y") && !is_url("./https"));
    }
}
