//! `create`: validate every option, resolve the image, and write the
//! container record. Nothing is written until everything has been checked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::Utc;

use crate::image::ImageStore;
use crate::runtime::{caps, mounts, seccomp};
use crate::state::config::{
    Capabilities, Mount, MountKind, RestartPolicy, Rlimit, SdNotify, UserSpec,
};
use crate::state::container::{
    valid_name, Config, Container, SeccompChoice, State, RECORD_VERSION,
};
use crate::state::health::{HealthConfig, OnFailure};
use crate::{Context, Error, Result};

/// What `run` and `create` ask for, already split from the command line.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub image: String,
    pub command: Vec<String>,
    pub name: Option<String>,
    pub env: Vec<String>,
    pub env_files: Vec<PathBuf>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub volumes: Vec<String>,
    pub mounts: Vec<String>,
    pub tmpfs: Vec<String>,
    /// `--volumes-from CTR[:ro|rw]`: that container's volumes and binds.
    pub volumes_from: Vec<String>,
    /// `--secret SECRET[,type=mount|env][,target=..][,uid=,gid=,mode=]`.
    pub secrets: Vec<String>,
    pub read_only: bool,
    pub entrypoint: Option<String>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub network: Option<String>,
    pub publish: Vec<String>,
    pub publish_all: bool,
    pub expose: Vec<String>,
    pub network_aliases: Vec<String>,
    pub add_hosts: Vec<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    pub links: Vec<String>,
    pub ulimits: Vec<String>,
    pub interactive: bool,
    pub tty: bool,
    pub labels: Vec<String>,
    pub security_opts: Vec<String>,
    pub restart: Option<String>,
    pub stop_signal: Option<String>,
    pub auto_remove: bool,
    /// `--pull`: always, missing, never or newer ("" means missing).
    pub pull: String,
    /// `--sdnotify`: conmon, container (the default, as Podman's), healthy
    /// (needs a healthcheck) or ignore.
    pub sdnotify: Option<String>,
    /// The command line to keep as the container's `CreateCommand`.
    pub create_command: Vec<String>,
    /// `--pidfile`: written with the container's init pid at each start.
    pub pidfile: Option<PathBuf>,
    /// `--conmon-pidfile`: written with the supervisor's pid at each start.
    pub conmon_pidfile: Option<PathBuf>,
    /// `--pod NAME|ID|new:NAME`: the pod the container joins (`new:` creates
    /// it, and a failed create removes it again).
    pub pod: Option<String>,
    /// `--requires`: names or ids (comma lists) of containers to start first.
    pub requires: Vec<String>,
    /// Resource limits (`--memory`, `--cpus`, ...), already typed; kube
    /// `resources` may fill them too.
    pub resources: crate::cgroups::Resources,
    /// `--cgroup-parent`: a cgroup path (from the root of the unified
    /// hierarchy) inside the user's delegated subtree.
    pub cgroup_parent: Option<String>,
    /// `--cgroups`.
    pub cgroups: crate::cgroups::CgroupsMode,
    /// No anonymous volumes for the image's VOLUMEs (build containers:
    /// what a RUN writes there belongs to the image, as in buildah).
    pub skip_image_volumes: bool,
    /// The build process this working container belongs to (`build`).
    pub builder: Option<crate::state::container::Builder>,
    /// Options a caller has already typed (kube play): each one that is set
    /// takes the place of its string counterpart above.
    pub typed: TypedOptions,
    /// The `--health-*` flags, parsed.
    pub health: HealthOptions,
    /// Logging, stopping and other settings typed by the CLI.
    pub run: RunSettings,
}

/// The healthcheck flags of `run` and `create`, already parsed (clap value
/// parsers in `state::health`); `None` is "not given".
#[derive(Debug, Clone, Default)]
pub struct HealthOptions {
    /// `--health-cmd`, in the image config's `Test` form (`["NONE"]` disables).
    pub cmd: Option<Vec<String>>,
    pub interval: Option<std::time::Duration>,
    pub timeout: Option<std::time::Duration>,
    pub start_period: Option<std::time::Duration>,
    pub start_interval: Option<std::time::Duration>,
    pub retries: Option<u32>,
    pub on_failure: OnFailure,
    /// `--no-healthcheck`.
    pub disabled: bool,
}

impl HealthOptions {
    fn any_flag(&self) -> bool {
        self.cmd.is_some()
            || self.interval.is_some()
            || self.timeout.is_some()
            || self.start_period.is_some()
            || self.start_interval.is_some()
            || self.retries.is_some()
    }

    /// Podman's refusal of `--no-healthcheck` with another health flag.
    fn check(&self) -> Result<()> {
        if self.disabled && self.any_flag() {
            return Err(Error::msg(
                "cannot specify both --no-healthcheck and other HealthCheck flags",
            ));
        }
        Ok(())
    }

    /// The container's healthcheck: none with `--no-healthcheck` or
    /// `--health-cmd none`, else `--health-cmd` or the image's (read by
    /// `image` only when needed), with the other flags over it.
    fn resolve(&self, image: impl FnOnce() -> Option<HealthConfig>) -> Option<HealthConfig> {
        use crate::state::health as h;
        if self.disabled {
            return None;
        }
        let mut cfg = match &self.cmd {
            Some(t) if t.first().map(String::as_str) == Some("NONE") => return None,
            Some(t) => HealthConfig {
                test: t.clone(),
                interval: h::DEFAULT_INTERVAL,
                timeout: h::DEFAULT_TIMEOUT,
                start_period: std::time::Duration::ZERO,
                start_interval: h::DEFAULT_START_INTERVAL,
                retries: h::DEFAULT_RETRIES,
            },
            None => image()?,
        };
        cfg.interval = self.interval.unwrap_or(cfg.interval);
        cfg.timeout = self.timeout.unwrap_or(cfg.timeout);
        cfg.start_period = self.start_period.unwrap_or(cfg.start_period);
        cfg.start_interval = self.start_interval.unwrap_or(cfg.start_interval);
        cfg.retries = self.retries.unwrap_or(cfg.retries);
        Some(cfg)
    }
}

/// The settings of `run`/`create` flags that the CLI has already typed
/// (`cli::run_flags`), kept in the record as they are.
#[derive(Debug, Clone, Default)]
pub struct RunSettings {
    /// `--stop-timeout` seconds.
    pub stop_timeout: Option<u64>,
    /// `--timeout` seconds (never 0: that is no limit).
    pub timeout: Option<u64>,
    /// `--oom-score-adj`, -1000..=1000.
    pub oom_score_adj: Option<i32>,
    /// `--cgroupns host`.
    pub cgroupns_host: bool,
    /// `--log-driver`, `--log-opt`.
    pub log: crate::state::container::LogConfig,
    /// `-a/--attach`: the streams a foreground `run` connects.
    pub attach: Option<Attach>,
    /// `-q`: pull without progress output.
    pub quiet: bool,
    /// `--rootfs`: the directory to run instead of an image (absolute).
    /// It is the container's lower layer: what the container writes stays
    /// in its own upper layer, as Podman's `--rootfs DIR:O`.
    pub rootfs: Option<PathBuf>,
    /// `--init`, `--pid`, `--group-add`, `--sysctl` and the like.
    pub extras: crate::state::extras::Extras,
    /// `--env-host`: the caller's environment under the image's.
    pub env_host: bool,
    /// `--tls-verify`, `--authfile`, `--creds`, `--cert-dir` for the pull.
    pub registry: crate::image::pull::RegistryFlags,
}

pub use crate::state::container::Attach;

/// `o` with containers.conf's defaults under what the caller gave, as
/// Podman applies them: `dns_servers`, `dns_searches`, `dns_options` when
/// the matching flag is not given, `default_ulimits` for the resources
/// `--ulimit` does not set, `default_rootless_network_cmd` for a rootless
/// container outside a pod without `--network`, `default_network` for
/// `--network bridge`, `volumes` not at a destination the container mounts
/// itself, `init`, `shm_size`, `umask`, `annotations`, `env_host`,
/// `read_only`, and `pids_limit` without `--pids-limit` where it can be
/// applied (else one warning). (`env`, `tz`, `log_*`, `devices`,
/// `default_capabilities` and `default_sysctls` are applied where those
/// values are built.) Errors: a malformed mount, `init` without catatonit.
fn with_conf_defaults(
    ctx: &Context,
    o: &CreateOptions,
    conf: &crate::config::ContainersConf,
) -> Result<CreateOptions> {
    let mut o = o.clone();
    for (slot, default) in [
        (&mut o.dns, &conf.dns_servers),
        (&mut o.dns_search, &conf.dns_searches),
        (&mut o.dns_options, &conf.dns_options),
    ] {
        if slot.is_empty() {
            slot.clone_from(default);
        }
    }
    let resource = |u: &str| u.split('=').next().unwrap_or("").trim().to_string();
    let given: Vec<String> = o.ulimits.iter().map(|u| resource(u)).collect();
    let mut ulimits: Vec<String> = conf
        .default_ulimits
        .iter()
        .filter(|u| !given.contains(&resource(u)))
        .cloned()
        .collect();
    ulimits.append(&mut o.ulimits);
    o.ulimits = ulimits;
    if o.network.is_none() && o.pod.is_none() {
        o.network = conf.netns.clone().filter(|n| n != "private");
    }
    if o.network.is_none() && o.pod.is_none() && ctx.rootless {
        o.network.clone_from(&conf.default_rootless_network_cmd);
    }
    if o.network.as_deref() == Some("bridge") {
        if let Some(n) = &conf.default_network {
            o.network = Some(n.clone());
        }
    }
    // volumes: under the container's own mounts at the same destination.
    let mut own = Vec::new();
    for v in &o.volumes {
        own.push(mounts::parse_volume(v)?.destination);
    }
    for m in &o.mounts {
        own.push(mounts::parse_mount(m)?.destination);
    }
    for t in &o.tmpfs {
        own.push(mounts::parse_tmpfs(t)?.destination);
    }
    own.extend(o.typed.mounts.iter().map(|m| m.destination.clone()));
    let clean = |p: &str| p.trim_end_matches('/').to_string();
    let own: Vec<String> = own.iter().map(|d| clean(d)).collect();
    let mut volumes: Vec<String> = Vec::new();
    for v in &conf.volumes {
        if !own.contains(&clean(&mounts::parse_volume(v)?.destination)) {
            volumes.push(v.clone());
        }
    }
    volumes.append(&mut o.volumes);
    o.volumes = volumes;
    let x = &mut o.run.extras;
    x.init |= conf.init;
    if x.init && !Path::new(crate::state::extras::CATATONIT).is_file() {
        return Err(Error::msg(format!(
            "containers.conf init: {}: no such file (install catatonit)",
            crate::state::extras::CATATONIT
        )));
    }
    if x.shm_size.is_none() && x.ipc.is_private() {
        x.shm_size = conf.shm_size;
    }
    x.umask = x.umask.or(conf.umask);
    for (k, v) in &conf.annotations {
        x.annotations.entry(k.clone()).or_insert_with(|| v.clone());
    }
    o.run.env_host |= conf.env_host;
    o.read_only |= conf.read_only;
    if o.resources.pids_limit.is_none() && o.cgroups != crate::cgroups::CgroupsMode::Disabled {
        if let Some(n) = conf.pids_limit.filter(|n| *n > 0) {
            let mut with = o.clone();
            with.resources.pids_limit = Some(n);
            match (check_limits(ctx, &o), check_limits(ctx, &with)) {
                (Ok(()), Err(e)) => warn_once(&format!(
                    "containers.conf pids_limit = {n}: not applied: {e}"
                )),
                _ => o.resources.pids_limit = Some(n),
            }
        }
    }
    Ok(o)
}

/// Logs `msg` as a warning the first time it is given in this process (a
/// `kube play` creates many containers from one configuration).
fn warn_once(msg: &str) {
    static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if !seen.iter().any(|m| m == msg) {
        tracing::warn!("{msg}");
        seen.push(msg.to_string());
    }
}

/// Options given as the values the record keeps rather than as flags, for
/// callers that parsed them from another format (Kubernetes YAML), so that
/// nothing is turned back into a string to be parsed again.
#[derive(Debug, Clone, Default)]
pub struct TypedOptions {
    /// The entrypoint as a list, empty for none; wins over `entrypoint`.
    /// As with `--entrypoint`, the image's CMD is dropped unless `command`
    /// gives one.
    pub entrypoint: Option<Vec<String>>,
    /// Mounts in the record's form, checked and resolved as `--mount` ones
    /// (binds must exist; a named volume is made when missing).
    pub mounts: Vec<Mount>,
    /// Wins over `user`.
    pub user: Option<UserSpec>,
    /// Wins over `restart`.
    pub restart: Option<RestartPolicy>,
    /// Sets no_new_privs as `--security-opt no-new-privileges` does.
    pub no_new_privileges: bool,
}

/// Default environment of every container (Podman's, with container=skiff).
const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The host name of a container created without `--hostname`: the host's
/// own with `--network host` (Podman does the same: tools in the container
/// then see the machine they run on), else the short id.
fn default_hostname(network: &crate::network::mode::NetworkChoice, id: &str) -> String {
    use crate::network::mode::{Mode, NetworkChoice};
    match network {
        NetworkChoice::Explicit(Mode::Host) => nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| id[..12].to_string()),
        _ => id[..12].to_string(),
    }
}

/// The host's name (a container with `--uts host` has it), or the short id.
fn host_hostname(id: &str) -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| id[..12].to_string())
}

/// The record's [`Extras`](crate::state::extras::Extras): a `container:`
/// namespace names a container that exists (kept by full id), a `ns:` path
/// exists, and each `--sysctl` is one Podman allows with these namespaces.
fn extras(
    ctx: &Context,
    o: &CreateOptions,
    network: &crate::network::mode::NetworkChoice,
    pod_net: bool,
) -> Result<crate::state::extras::Extras> {
    use crate::network::mode::{Mode, NetworkChoice};
    use crate::state::extras::{check_sysctl, NsMode};
    let mut x = o.run.extras.clone();
    for (flag, ns) in [
        ("pid", &mut x.pid),
        ("ipc", &mut x.ipc),
        ("uts", &mut x.uts),
    ] {
        match ns {
            NsMode::Container(name) => *name = super::store(ctx).lookup(name)?.id,
            NsMode::Path(p) if !p.exists() => {
                return Err(Error::msg(format!(
                    "--{flag} ns:{}: no such file or directory",
                    p.display()
                )))
            }
            _ => {}
        }
    }
    let net_host = matches!(network, NetworkChoice::Explicit(Mode::Host));
    let ipc_host = x.ipc == NsMode::Host;
    // With a user namespace of its own, the container's root may tune only
    // a network namespace made with it (`--network none`): the others are
    // made beforehand in skiff's (see `userns`).
    let net_tunable = x.userns.is_host() || matches!(network, NetworkChoice::Explicit(Mode::None));
    for name in x.sysctls.keys() {
        check_sysctl(name, ipc_host, net_host).map_err(Error::msg)?;
        if name.starts_with("net.") && !net_tunable {
            return Err(Error::msg(format!(
                "--sysctl {name}: not supported with {}: the container's network namespace belongs to skiff's user namespace (only with --network none)",
                x.userns.asked()
            )));
        }
    }
    // containers.conf's default_sysctls under --sysctl, in the namespaces
    // skiff makes for the container: those of a namespace shared with the
    // host are left out, as Podman; so are those of a namespace joined by
    // path, from another container or from the pod's infra (that namespace
    // has its own).
    let own_net = !pod_net
        && net_tunable
        && match network {
            NetworkChoice::Default => true,
            NetworkChoice::Explicit(m) => m.owns_namespace() || *m == Mode::None,
        };
    for (name, value) in &crate::config::get().containers.default_sysctls {
        let own = if name.starts_with("net.") {
            own_net
        } else {
            x.ipc.is_private()
        };
        if own && !x.sysctls.contains_key(name) {
            x.sysctls.insert(name.clone(), value.clone());
        }
    }
    Ok(x)
}

fn set_env(env: &mut Vec<String>, entry: String) {
    let key = entry.split('=').next().unwrap_or("").to_string();
    env.retain(|e| e.split('=').next() != Some(key.as_str()));
    env.push(entry);
}

/// `-e KEY=VALUE`, or `-e KEY` which takes the value from the caller's
/// environment (None when the caller has none). Errors on an empty entry or
/// one without a key, as Podman does.
pub(crate) fn env_entry(spec: &str) -> Result<Option<String>> {
    if spec.is_empty() || spec.starts_with('=') {
        return Err(Error::msg(format!(
            "invalid environment variable: \"{spec}\""
        )));
    }
    if spec.contains('=') {
        return Ok(Some(spec.to_string()));
    }
    Ok(std::env::var(spec).ok().map(|v| format!("{spec}={v}")))
}

/// The most a line-oriented option file (`--env-file`, `--label-file`) may
/// hold: 2 MiB, the order of the kernel's ARG_MAX (an environment larger
/// could not reach `execve` anyway).
const LINE_FILE_MAX: u64 = 2 << 20;
/// The longest line of such a file: 64 KiB, the default token limit of Go's
/// `bufio.Scanner` that Podman reads these files with.
const LINE_FILE_MAX_LINE: usize = 64 << 10;

/// The text of a line-oriented file the user names (`what` is "env file" or
/// "label file"), read with bounds so that `/dev/zero` or a pipe that never
/// ends is refused instead of read until memory runs out. Errors (one line,
/// naming the file): unreadable, larger than 2 MiB, a line longer than
/// 64 KiB, not UTF-8.
pub(crate) fn read_line_file(path: &Path, what: &str) -> Result<String> {
    let file = std::fs::File::open(path)
        .map_err(|e| Error::msg(crate::error::io_msg("open", path, &e)))?;
    let shown = path.display();
    let data =
        crate::error::read_bounded_from(file, &format!("{what} \"{shown}\""), LINE_FILE_MAX)?;
    if let Some(n) = data
        .split(|&b| b == b'\n')
        .position(|l| l.len() > LINE_FILE_MAX_LINE)
    {
        return Err(Error::msg(format!(
            "{what} \"{shown}\": line {} is longer than {} KiB",
            n + 1,
            LINE_FILE_MAX_LINE >> 10
        )));
    }
    String::from_utf8(data).map_err(|_| Error::msg(format!("{what} \"{shown}\": not valid UTF-8")))
}

/// The entries of an `--env-file`, each as `env_entry` reads it: blank lines
/// and `#` comments are skipped, leading blanks dropped and trailing ones kept
/// (Podman's and Docker's parsers).
pub(crate) fn read_env_file(path: &Path) -> Result<Vec<String>> {
    let text = read_line_file(path, "env file")?;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let entry = env_entry(line)
            .map_err(|e| Error::msg(format!("parsing env file \"{}\": {e}", path.display())))?;
        if let Some(e) = entry {
            out.push(e);
        }
    }
    Ok(out)
}

/// Splits `--entrypoint`: a JSON array, or a single command (empty clears it).
fn parse_entrypoint(s: &str) -> Vec<String> {
    if s.trim_start().starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(s) {
            return v;
        }
    }
    if s.is_empty() {
        Vec::new()
    } else {
        vec![s.to_string()]
    }
}

/// Checks a bind source exists and makes it absolute; named volumes live in the store.
fn resolve_mount(m: Mount) -> Result<Mount> {
    match m.kind {
        MountKind::Bind => {
            let src = Path::new(&m.source);
            let abs = if src.is_absolute() {
                src.to_path_buf()
            } else {
                std::env::current_dir()?.join(src)
            };
            std::fs::metadata(&abs)
                .map_err(|e| Error::msg(crate::error::io_msg("statfs", &abs, &e)))?;
            if m.options.iter().any(|o| o == "O") {
                return Err(Error::msg(format!(
                    "volume {}: overlay volumes (O) are not supported",
                    m.source
                )));
            }
            Ok(Mount {
                source: abs.to_string_lossy().into_owned(),
                ..m
            })
        }
        MountKind::Volume => {
            // A name is checked here; the volume is made (when missing) by
            // `attach_volumes` once everything else is checked. No source:
            // an anonymous volume, named there.
            if !m.source.is_empty() && !crate::volume::valid_name(&m.source) {
                return Err(crate::volume::Error::InvalidName(m.source).into());
            }
            Ok(Mount {
                name: m.source.clone(),
                source: String::new(),
                ..m
            })
        }
        MountKind::Tmpfs | MountKind::Devpts => Ok(m),
    }
}

/// Checks a container's or pod's `--hostname`: 1 to 64 characters, no blank
/// or control character (one would end the name's line in `/etc/hosts`, its
/// own and its neighbours', and start another). Errors: `invalid hostname "…"`.
pub fn check_hostname(h: &str) -> Result<()> {
    if h.is_empty() || h.len() > 64 || h.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::msg(format!("invalid hostname {h:?}")));
    }
    Ok(())
}

/// `--label KEY=VALUE` values as a map; a label without a key is an error.
pub(crate) fn parse_labels(labels: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for l in labels {
        let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
        if k.is_empty() {
            return Err(Error::msg(format!(
                "invalid label \"{l}\": expected key=value"
            )));
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// Reads `--security-opt seccomp=PROFILE.json` and compiles it for a
/// container with `caps` into the store's seccomp cache, where the first
/// start finds it; every error is one line naming the file.
fn read_seccomp_profile(ctx: &Context, path: &str, caps: &[String]) -> Result<SeccompChoice> {
    let file = std::fs::File::open(path).map_err(|e| {
        Error::msg(crate::error::io_msg(
            "open seccomp profile",
            Path::new(path),
            &e,
        ))
    })?;
    // Bounded: a profile is a few KiB (Podman's default is 25); /dev/zero
    // or a file growing without end is refused, not read until memory ends.
    let json =
        crate::error::read_bounded_from(file, &format!("seccomp profile {path}"), LINE_FILE_MAX)?;
    let bad = |e: String| Error::msg(format!("seccomp profile {path}: {e}"));
    seccomp::load_or_compile(&ctx.root, &json, caps, || seccomp::parse(&json)).map_err(bad)?;
    let json =
        String::from_utf8(json).map_err(|_| bad("invalid seccomp profile: not UTF-8".into()))?;
    Ok(SeccompChoice::Profile {
        path: path.to_string(),
        json,
    })
}

/// `--security-opt`: returns no-new-privileges and the seccomp profile
/// (the built-in default unless `seccomp=unconfined|FILE`; `--privileged`
/// turns the default off, as in Podman).
fn parse_security_opts(
    ctx: &Context,
    opts: &[String],
    privileged: bool,
    caps: &[String],
) -> Result<(bool, SeccompChoice)> {
    let mut nnp = false;
    let mut seccomp = None;
    for o in opts {
        match o.as_str() {
            "no-new-privileges" | "no-new-privileges:true" | "no-new-privileges=true" => nnp = true,
            "no-new-privileges:false" | "no-new-privileges=false" => nnp = false,
            "seccomp=unconfined" | "seccomp:unconfined" => seccomp = Some(SeccompChoice::Unconfined),
            o if o.starts_with("seccomp=") || o.starts_with("seccomp:") => {
                seccomp = Some(read_seccomp_profile(ctx, &o["seccomp=".len()..], caps)?);
            }
            // No SELinux or AppArmor profile is applied by skiff, so turning
            // them off is already the case.
            o if o.starts_with("label=") || o == "apparmor=unconfined" => {}
            _ => {
                return Err(Error::msg(format!(
                    "invalid --security-opt \"{o}\": supported are no-new-privileges, label=..., seccomp=unconfined|PROFILE.json"
                )))
            }
        }
    }
    let seccomp = seccomp.unwrap_or(if privileged || !seccomp::supported() {
        SeccompChoice::Unconfined
    } else {
        SeccompChoice::Default
    });
    Ok((nnp, seccomp))
}

/// The `--hostuser` lines of `x` for the image's `passwd` text
/// (`runtime::user::host_user_lines`, from the host's /etc/passwd, in
/// `--passwd-entry`'s form when given).
pub(crate) fn host_user_lines(
    x: &crate::state::extras::Extras,
    passwd: &str,
    workdir: &str,
    mounted: impl Fn(&str) -> bool,
) -> Result<String> {
    let names = &x.hostusers;
    if names.is_empty() {
        return Ok(String::new());
    }
    let host = std::fs::read_to_string("/etc/passwd")
        .map_err(|e| Error::msg(crate::error::io_msg("read", Path::new("/etc/passwd"), &e)))?;
    Ok(crate::runtime::user::host_user_lines(
        names,
        &host,
        passwd,
        workdir,
        mounted,
        x.passwd_entry.as_deref(),
    )?)
}

/// The file at `path` of the topmost layer that has it (a whiteout hides
/// it); a FIFO or device there is refused rather than read.
fn read_from_layers(layers: &[PathBuf], path: &str) -> Result<String> {
    use std::os::unix::fs::FileTypeExt;
    for l in layers.iter().rev() {
        match std::fs::symlink_metadata(l.join(path)) {
            Ok(m) if m.file_type().is_char_device() => return Ok(String::new()),
            Ok(_) => return Ok(crate::runtime::user::read_root_file(l, path)?),
            Err(_) => {}
        }
    }
    Ok(String::new())
}

/// Validates the options and writes the new container's record. With
/// `pod`, the container joins that pod (see `pod::join`); a pod made by
/// `new:NAME` is removed again when the container cannot be created.
pub fn create(ctx: &Context, o: &CreateOptions) -> Result<Container> {
    let o = &with_conf_defaults(ctx, o, &crate::config::get().containers)?;
    let Some(key) = &o.pod else {
        return create_in(ctx, o, None);
    };
    let (pod, made) = crate::pod::for_create(ctx, key)?;
    let res = create_in(ctx, o, Some(&pod));
    match &res {
        Err(_) if made => {
            let _ = crate::pod::remove(ctx, &pod, true);
        }
        Ok(_) => crate::pod::refresh_hosts(ctx, &pod.id),
        Err(_) => {}
    }
    res
}

/// Refuses limits that cannot be applied here, before anything is written:
/// bad combinations, `--cgroups disabled`, a host (or root, whose cgroups
/// skiff leaves to systemd) without a delegated subtree, or one that lacks
/// a controller the limits need. Podman's words where it has them.
/// `kube play` asks it of every container before it makes anything.
pub fn check_limits(ctx: &Context, o: &CreateOptions) -> Result<()> {
    let res = &o.resources;
    res.validate().map_err(Error::msg)?;
    if o.cgroups == crate::cgroups::CgroupsMode::Disabled {
        if o.cgroup_parent.is_some() {
            return Err(Error::msg(
                "cannot specify --cgroup-parent with --cgroups=disabled",
            ));
        }
        if !res.is_empty() {
            return Err(Error::msg(
                "cannot set resource limits when cgroups are disabled (--cgroups=disabled)",
            ));
        }
        return Ok(());
    }
    if o.cgroups == crate::cgroups::CgroupsMode::Split {
        return check_split(ctx, o);
    }
    if res.is_empty() && o.cgroup_parent.is_none() {
        return Ok(());
    }
    // The euid, not ctx.uid: in the user namespace the user's cgroups belong to it.
    let uid = nix::unistd::geteuid().as_raw();
    let systemd = crate::cli::global::settings().cgroup_manager == crate::cgroups::Manager::Systemd;
    let d = if ctx.rootless && systemd && o.cgroup_parent.is_none() {
        crate::cgroups::systemd::manager_delegation()
    } else if ctx.rootless {
        crate::cgroups::for_container(uid, o.cgroup_parent.as_deref())
            .map_err(Error::msg)?
            .map(|d| crate::cgroups::enable_for(d, res, uid))
    } else {
        None
    };
    if o.cgroup_parent.is_some() && d.is_none() {
        return Err(Error::msg(crate::cgroups::NO_DELEGATION));
    }
    crate::cgroups::check(d.as_ref(), res).map_err(Error::msg)
}

/// `--cgroups split`: the caller's cgroup must be the user's (the
/// supervisor splits it when the container starts) and hold the limits; no
/// `--cgroup-parent` (Podman: "not possible"); rootless only (skiff leaves
/// root's cgroups to systemd).
fn check_split(ctx: &Context, o: &CreateOptions) -> Result<()> {
    if o.cgroup_parent.is_some() {
        return Err(Error::msg(
            "cannot specify --cgroup-parent with --cgroups=split",
        ));
    }
    if !ctx.rootless {
        return Err(Error::msg(
            "--cgroups=split is for rootless containers: skiff leaves root's cgroups to systemd",
        ));
    }
    let uid = nix::unistd::geteuid().as_raw();
    let root = crate::cgroups::unified_root()
        .ok_or_else(|| Error::msg("--cgroups=split: no cgroup v2 hierarchy on this host"))?;
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let d = crate::cgroups::split_base(&root, &own, uid).map_err(Error::msg)?;
    let d = crate::cgroups::enable_for(d, &o.resources, uid);
    crate::cgroups::check(Some(&d), &o.resources).map_err(Error::msg)
}

fn create_in(ctx: &Context, o: &CreateOptions, pod: Option<&crate::pod::Pod>) -> Result<Container> {
    // Validate everything before touching state.
    let mut user_mounts = volumes_from(ctx, &o.volumes_from)?;
    let mut own = Vec::new();
    for v in &o.volumes {
        own.push(resolve_mount(mounts::parse_volume(v)?)?);
    }
    for m in &o.mounts {
        own.push(resolve_mount(mounts::parse_mount(m)?)?);
    }
    for t in &o.tmpfs {
        own.push(mounts::parse_tmpfs(t)?);
    }
    for m in &o.typed.mounts {
        own.push(resolve_mount(m.clone())?);
    }
    // The container's own mounts win over those of --volumes-from.
    user_mounts.retain(|m: &Mount| !own.iter().any(|n| n.destination == m.destination));
    user_mounts.extend(own);
    let secrets = super::secrets::resolve(ctx, &o.secrets)?;
    let secret_data = super::secrets::read_data(ctx, &secrets)?;
    let rlimits = o
        .ulimits
        .iter()
        .map(|u| Rlimit::parse(u))
        .collect::<Result<Vec<_>, _>>()?;
    check_limits(ctx, o)?;
    let capabilities = Capabilities {
        effective: caps::resolve(o.privileged, &o.cap_add, &o.cap_drop)?,
        add: o.cap_add.clone(),
        drop: o.cap_drop.clone(),
    };
    let restart = match (&o.typed.restart, &o.restart) {
        (Some(r), _) => *r,
        (None, Some(r)) => RestartPolicy::parse(r)?,
        (None, None) => RestartPolicy::No,
    };
    if o.auto_remove && restart != RestartPolicy::No {
        return Err(Error::msg(
            "the --rm option conflicts with --restart: a container that removes itself cannot restart",
        ));
    }
    let (no_new_privileges, seccomp) =
        parse_security_opts(ctx, &o.security_opts, o.privileged, &capabilities.names())?;
    let no_new_privileges = no_new_privileges || o.typed.no_new_privileges;
    let sdnotify = match &o.sdnotify {
        Some(m) => SdNotify::parse(m)?,
        None => SdNotify::default(),
    };
    let stop_signal = match &o.stop_signal {
        Some(s) => Some(crate::runtime::signal::parse(s)?),
        None => None,
    };
    let user_flag = match o.user.as_deref() {
        _ if o.typed.user.is_some() => o.typed.user.clone(),
        Some("") => {
            return Err(Error::msg(
                "invalid user \"\": expected name|uid[:group|gid]",
            ))
        }
        Some(u) => Some(UserSpec::parse(u)?),
        None => None,
    };
    if let Some(name) = &o.name {
        if !valid_name(name) {
            return Err(Error::msg(format!(
                "invalid container name {name:?}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*"
            )));
        }
    }
    if let Some(h) = &o.hostname {
        check_hostname(h)?;
    }

    o.health.check()?;
    // A member of a pod that shares its network joins the infra's
    // namespace (pod::join), which is not the member's to tune.
    let pod_net = pod.is_some_and(|p| {
        p.shares(crate::state::pod::Namespace::Net) && !p.state.infra_id.is_empty()
    });
    let extras = extras(
        ctx,
        o,
        &crate::network::mode::NetworkChoice::parse(o.network.as_deref().unwrap_or(""))?,
        pod_net,
    )?;
    if !extras.userns.is_host() {
        let driver = crate::storage::select(&ctx.root, ctx.storage_driver.as_deref())?;
        super::userns::check(ctx, &extras, pod.is_some(), driver)?;
    }
    let store = ImageStore::new(ctx);
    let pull_opts = crate::image::pull::PullOptions {
        quiet: o.run.quiet,
        registry: o.run.registry.clone(),
        ..Default::default()
    };
    let image = match &o.run.rootfs {
        Some(_) => None,
        None => Some(crate::image::pull::ensure_with(
            ctx, &o.image, &o.pull, &pull_opts,
        )?),
    };
    let img_cfg = image
        .as_ref()
        .and_then(|i| i.config.config().clone())
        .unwrap_or_default();
    let healthcheck = o.health.resolve(|| {
        let image = image.as_ref()?;
        let raw = store.read_blob(&image.config_digest).ok()?;
        let extras = crate::build::config::Extras::from_config_json(&raw);
        HealthConfig::from_image(extras.healthcheck.as_ref()?)
    });
    if sdnotify == SdNotify::Healthy && healthcheck.is_none() {
        return Err(Error::msg(
            "--sdnotify=healthy needs a healthcheck: give --health-cmd, or use an image with a HEALTHCHECK",
        ));
    }
    // Each image VOLUME the user does not mount over gets an anonymous
    // volume of its own, as Podman does.
    let image_volumes = if o.skip_image_volumes {
        Vec::new()
    } else {
        img_cfg.volumes().clone().unwrap_or_default()
    };
    for dest in image_volumes {
        let clean = |p: &str| p.trim_end_matches('/').to_string();
        if dest.starts_with('/')
            && !user_mounts
                .iter()
                .any(|m| clean(&m.destination) == clean(&dest))
        {
            user_mounts.push(Mount::new(
                MountKind::Volume,
                String::new(),
                dest,
                Vec::new(),
            ));
        }
    }

    let entrypoint = match (&o.typed.entrypoint, &o.entrypoint) {
        (Some(e), _) => e.clone(),
        (None, Some(e)) => parse_entrypoint(e),
        (None, None) => img_cfg.entrypoint().clone().unwrap_or_default(),
    };
    let cmd = if !o.command.is_empty() {
        o.command.clone()
    } else if o.entrypoint.is_some() || o.typed.entrypoint.is_some() {
        // Docker: a new entrypoint drops the image's CMD.
        Vec::new()
    } else {
        img_cfg.cmd().clone().unwrap_or_default()
    };
    let args: Vec<String> = entrypoint.iter().chain(cmd.iter()).cloned().collect();
    if args.is_empty() {
        return Err(Error::msg(format!(
            "{}: no command or entrypoint provided, and no CMD or ENTRYPOINT from image",
            o.image
        )));
    }

    let mut env = vec![
        DEFAULT_PATH.to_string(),
        "TERM=xterm".into(),
        "container=skiff".into(),
    ];
    // containers.conf's env: under the image's and the command line's, as Podman.
    for e in &crate::config::get().containers.env {
        if let Some(e) = env_entry(e)? {
            set_env(&mut env, e);
        }
    }
    if o.run.env_host {
        for (k, v) in std::env::vars() {
            set_env(&mut env, format!("{k}={v}"));
        }
    }
    for e in img_cfg.env().clone().unwrap_or_default() {
        set_env(&mut env, e);
    }
    for f in &o.env_files {
        for e in read_env_file(f)? {
            set_env(&mut env, e);
        }
    }
    for e in &o.env {
        if let Some(e) = env_entry(e)? {
            set_env(&mut env, e);
        }
    }
    let mut labels: BTreeMap<String, String> = img_cfg
        .labels()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    labels.extend(parse_labels(&o.labels)?);

    let driver = crate::storage::select(&ctx.root, ctx.storage_driver.as_deref())?;
    let layers = match (&image, &o.run.rootfs) {
        (Some(image), _) => store.layer_dirs(image)?,
        (None, dir) => dir.iter().cloned().collect(),
    };
    // keep-id runs as the host user's ids unless --user says otherwise
    // (Podman), with an entry in the container's passwd and group files.
    let keep_id = super::userns::keep_id_user(&extras.userns);
    let user = match (user_flag, &keep_id) {
        (Some(u), _) => u,
        (None, Some(k)) => UserSpec::parse(&format!("{}:{}", k.uid, k.gid))?,
        (None, None) => UserSpec::parse(img_cfg.user().as_deref().unwrap_or_default())?,
    };
    let mut passwd_text = read_from_layers(&layers, "etc/passwd")?;
    let mut group_text = read_from_layers(&layers, "etc/group")?;
    if let Some(k) = &keep_id {
        passwd_text = k.add_to_passwd(&passwd_text, extras.passwd_entry.as_deref());
        group_text = k.add_to_group(&group_text);
    }
    // Resolve the user now, from the image's own files: an unknown user fails
    // before anything is written, and HOME is known for inspect. `start`
    // resolves it again from the container's files, as Podman does.
    let workdir = o
        .workdir
        .clone()
        .or_else(|| img_cfg.working_dir().clone().filter(|w| !w.is_empty()))
        .unwrap_or_else(|| "/".into());
    // `--hostuser` lines are there at start: `-u` may name those users.
    passwd_text += &host_user_lines(&extras, &passwd_text, &workdir, |d| {
        user_mounts.iter().any(|m| m.destination == d)
    })?;
    let exec_user = crate::runtime::user::resolve(&user, &passwd_text, &group_text)?;
    super::userns::check_user(&extras.userns, exec_user.uid, exec_user.gid)?;
    let id = crate::state::new_id();
    let (image_id, image_name) = match &image {
        Some(image) => (
            image.id.clone(),
            image
                .names
                .first()
                .cloned()
                .unwrap_or_else(|| image.id.clone()),
        ),
        // Podman shows a rootfs container's directory as its image.
        None => (String::new(), o.image.clone()),
    };

    let containers = super::store(ctx);
    let _lock = containers.lock()?;
    // Pod and container names are one name space: the pods lock after the
    // containers lock, as every namer takes them.
    let pods = crate::pod::store(ctx);
    let _pods_lock = pods.lock()?;
    let pod_list = pods.list()?;
    if let Some(p) = pod {
        if !pod_list.iter().any(|q| q.id == p.id) {
            return Err(crate::state::records::no_such::<crate::pod::Pod>(&p.name).into());
        }
    }
    // One pass: the names in use, and what a create killed before its
    // record was written left.
    let existing = containers.list_sweeping()?;
    let name = match &o.name {
        Some(n) => {
            if let Some(c) = existing.iter().find(|c| &c.name == n) {
                return Err(Error::msg(format!(
                    "the container name \"{n}\" is already in use by {}; remove that container to reuse the name",
                    &c.id[..12]
                )));
            }
            crate::state::pod::check_name_free(n, &pod_list, &[])?;
            n.clone()
        }
        None => loop {
            let n = super::names::random();
            if !existing.iter().any(|c| c.name == n) && !pod_list.iter().any(|p| p.name == n) {
                break n;
            }
        },
    };
    let network = crate::network::mode::NetworkChoice::parse(o.network.as_deref().unwrap_or(""))?;
    let mut c = Container {
        version: RECORD_VERSION,
        id: id.clone(),
        name,
        created: Utc::now(),
        config: Config {
            image_id,
            image_name,
            raw_image_name: o.image.clone(),
            args,
            entrypoint,
            cmd,
            env,
            workdir,
            user,
            hostname: match (&o.hostname, &o.run.extras.uts) {
                (Some(h), _) => h.clone(),
                (None, crate::state::extras::NsMode::Host) => host_hostname(&id),
                (None, _) => default_hostname(&network, &id),
            },
            labels,
            stop_signal,
            tty: o.tty,
            interactive: o.interactive,
            mounts: user_mounts,
            secrets,
            read_only: o.read_only,
            privileged: o.privileged,
            capabilities,
            network: network.clone(),
            publish: crate::network::ports::parse_all(&o.publish)?,
            publish_all: o.publish_all,
            expose: {
                let mut e: Vec<String> = img_cfg
                    .exposed_ports()
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .collect();
                e.extend(o.expose.iter().cloned());
                e
            },
            network_aliases: o.network_aliases.clone(),
            add_hosts: o.add_hosts.clone(),
            dns: o.dns.clone(),
            dns_search: o.dns_search.clone(),
            dns_options: o.dns_options.clone(),
            links: o.links.clone(),
            sdnotify,
            auto_remove: o.auto_remove,
            restart_policy: restart,
            resources: o.resources.clone(),
            cgroup_parent: o.cgroup_parent.clone().unwrap_or_default(),
            cgroups: o.cgroups,
            cgroup_manager: crate::cli::global::settings().cgroup_manager,
            rlimits,
            no_new_privileges,
            seccomp,
            pod: String::new(),
            infra: false,
            requires: Vec::new(),
            builder: o.builder,
            stop_timeout: o.run.stop_timeout,
            timeout: o.run.timeout,
            oom_score_adj: o.run.oom_score_adj,
            cgroupns_host: o.run.cgroupns_host,
            log: o.run.log.clone(),
            extras,
            attach: o.run.attach,
            healthcheck,
            health_on_failure: o.health.on_failure,
            create_command: o.create_command.clone(),
            pidfile: o.pidfile.clone(),
            conmon_pidfile: o.conmon_pidfile.clone(),
            driver: driver.name().to_string(),
            layers,
        },
        state: State::default(),
    };
    if let Some(p) = pod {
        crate::pod::join(p, o, &mut c.config)?;
    }
    c.config.requires = super::requires::resolve(ctx, &o.requires, &c.config.pod)?;
    if !c.config.workdir.starts_with('/') {
        return Err(Error::msg(format!(
            "invalid working directory \"{}\": must be an absolute path",
            c.config.workdir
        )));
    }
    if !c.config.env.iter().any(|e| e.starts_with("HOSTNAME=")) {
        c.config.env.push(format!("HOSTNAME={}", c.config.hostname));
    }
    if !c.config.env.iter().any(|e| e.starts_with("HOME=")) {
        // A numeric user the image lacks gets a passwd line at start whose
        // home is the working directory, or what `--passwd-entry` says
        // (`start::add_user_entries`).
        let added = crate::runtime::user::added_entries(
            &c.config.user,
            &passwd_text,
            &group_text,
            &c.config.workdir,
            c.config.extras.passwd_entry.as_deref(),
        )?;
        let home = match added.passwd {
            Some(line) if c.config.builder.is_none() => crate::runtime::user::resolve(
                &c.config.user,
                &format!("{passwd_text}{line}"),
                &group_text,
            )
            .map_or_else(|_| exec_user.home.clone(), |u| u.home),
            _ => exec_user.home.clone(),
        };
        c.config.env.push(format!("HOME={home}"));
    }
    {
        use crate::network::mode::Mode;
        let shared = matches!(
            crate::network::mode_of(&c.config),
            Mode::Host | Mode::None | Mode::Container(_)
        );
        if shared && !c.config.publish.is_empty() {
            // Podman's warning, word for word: the ports are dropped.
            tracing::warn!("Port mappings have been discarded as one of the Host, Container, Pod, and None network modes are in use");
            c.config.publish.clear();
        }
    }
    crate::network::validate(ctx, &c.config)?;
    let made = attach_volumes(ctx, &mut c.config.mounts)?;
    if let Err(e) = containers.insert_with(&c, |dir| super::secrets::keep(dir, &secret_data)) {
        remove_volumes(ctx, &made);
        return Err(e.into());
    }
    for name in c.config.mounts.iter().filter_map(Mount::volume_name) {
        crate::volume::add_user(ctx, &name, &c.id)?;
    }
    crate::events::Event::container(&c, "create").record(ctx);
    Ok(c)
}

/// The volume and bind mounts of the containers `--volumes-from` names
/// (`CTR[:OPTS]`, OPTS a comma list of `ro`, `rw`, `z`, `Z`), read-only
/// when asked, as Podman copies them. Errors: an unknown container or
/// option.
fn volumes_from(ctx: &Context, specs: &[String]) -> Result<Vec<Mount>> {
    let mut out: Vec<Mount> = Vec::new();
    for spec in specs {
        let (ctr, opts) = spec.split_once(':').unwrap_or((spec, ""));
        let opts: Vec<&str> = opts.split(',').filter(|o| !o.is_empty()).collect();
        if let Some(bad) = opts
            .iter()
            .find(|o| !matches!(**o, "ro" | "rw" | "z" | "Z"))
        {
            return Err(Error::msg(format!(
                "invalid option \"{bad}\" in --volumes-from \"{spec}\": ro, rw, z or Z"
            )));
        }
        let src = super::lookup(ctx, ctr)?;
        for m in src.config.mounts {
            if m.kind.is_new_fs() {
                continue;
            }
            let name = m.volume_name().unwrap_or_default();
            let mut options = m.options.clone();
            if let Some(mode) = opts.iter().rev().find(|o| matches!(**o, "ro" | "rw")) {
                options.retain(|o| o != "ro" && o != "rw");
                options.push(mode.to_string());
            }
            let sub_path = m.sub_path;
            let mut copy = Mount::new(m.kind, m.source, m.destination, options);
            if copy.kind == MountKind::Volume {
                copy.name = name;
                copy.source = String::new();
                copy.sub_path = sub_path;
            }
            out.retain(|o| o.destination != copy.destination);
            out.push(copy);
        }
    }
    Ok(out)
}

/// Makes the volumes the mounts name: a named volume that does not exist
/// yet is created (as Podman does), a mount without a name gets a new
/// anonymous volume. Sets each mount's `name` and `source` (the volume's
/// `_data`) and returns the names of the volumes it made, named or
/// anonymous, for the caller to remove if the container is not created.
/// On an error, what it made is removed again: a failed `create` leaves no
/// volume behind that was not there before.
fn attach_volumes(ctx: &Context, mounts: &mut [Mount]) -> Result<Vec<String>> {
    let mut made: Vec<String> = Vec::new();
    for m in mounts.iter_mut().filter(|m| m.kind == MountKind::Volume) {
        let anon = m.name.is_empty();
        let v = crate::volume::create(
            ctx,
            &crate::volume::CreateOptions {
                name: (!anon).then(|| m.name.clone()),
                anonymous: anon,
                ..Default::default()
            },
        );
        let v = match v {
            Ok(v) => {
                made.push(v.name.clone());
                Ok(v)
            }
            // Someone else's (or an earlier mount's): used, never removed.
            Err(crate::volume::Error::Exists(name)) => crate::volume::get(ctx, &name),
            Err(e) => Err(e),
        };
        let v = match v {
            Ok(v) => v,
            Err(e) => {
                remove_volumes(ctx, &made);
                return Err(e.into());
            }
        };
        m.source = crate::volume::mountpoint(ctx, &v.name)
            .to_string_lossy()
            .into_owned();
        m.name = v.name;
    }
    Ok(made)
}

/// Removes the volumes a failed `create` made (see `attach_volumes`).
fn remove_volumes(ctx: &Context, names: &[String]) {
    for name in names {
        if let Err(e) = crate::volume::remove(ctx, name) {
            tracing::warn!("{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_files_are_read_with_bounds() {
        let err = read_line_file(Path::new("/dev/zero"), "env file").unwrap_err();
        assert_eq!(err.to_string(), "env file \"/dev/zero\": larger than 2 MiB");
        let dir = std::env::temp_dir().join(format!("skiff-linefile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let long = dir.join("long");
        std::fs::write(&long, format!("A=1\nB={}\n", "x".repeat(70_000))).unwrap();
        let err = read_line_file(&long, "label file").unwrap_err().to_string();
        assert!(err.ends_with("line 2 is longer than 64 KiB"), "{err}");
        let ok = dir.join("ok");
        std::fs::write(&ok, "A=1\n# c\nB=2 \n").unwrap();
        assert_eq!(read_env_file(&ok).unwrap(), ["A=1", "B=2 "]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn env_override_keeps_one_entry() {
        let mut env = vec!["PATH=/bin".to_string(), "A=1".to_string()];
        set_env(&mut env, "A=2".into());
        assert_eq!(env, vec!["PATH=/bin", "A=2"]);
    }

    #[test]
    fn entrypoint_forms() {
        assert_eq!(parse_entrypoint("[\"a\",\"b\"]"), vec!["a", "b"]);
        assert_eq!(parse_entrypoint("/bin/sh"), vec!["/bin/sh"]);
        assert!(parse_entrypoint("").is_empty());
    }

    #[test]
    fn env_values() {
        assert_eq!(env_entry("A=1").unwrap(), Some("A=1".into()));
        assert!(env_entry("=x").is_err());
        assert_eq!(env_entry("SKIFF_SURELY_UNSET_VAR").unwrap(), None);
    }
}
