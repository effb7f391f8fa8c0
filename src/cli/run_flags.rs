//! The `run`/`create` flags that Podman scripts pass beyond the core set:
//! parsed into typed settings here, or refused with one "not supported"
//! line when skiff cannot give them their effect.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::container::create::{Attach, CreateOptions, RunSettings};
use crate::state::container::{LogConfig, LogDriver};
use crate::state::extras::{ConfDefaults, Device, Extras, NsMode, UsernsMode};
use crate::{Error, Result};

/// Podman's `run`/`create` flags for logging, stopping, time zone, systemd
/// mode and the like.
#[derive(Debug, Args, Clone, Default)]
pub struct RunFlags {
    /// Logging driver: k8s-file, json-file, none or passthrough (journald where a journal runs)
    #[arg(long, value_name = "DRIVER")]
    pub log_driver: Option<String>,
    /// Logging driver options: path=FILE, max-size=SIZE, tag=TEXT
    #[arg(long, value_name = "OPT")]
    pub log_opt: Vec<String>,
    /// Seconds to wait for the container to stop before killing it (default 10)
    #[arg(long, value_name = "SECONDS")]
    pub stop_timeout: Option<u64>,
    /// Attach to STDIN, STDOUT or STDERR (run: the others are not shown)
    #[arg(short = 'a', long, value_name = "STREAM", value_parser = ["stdin", "stdout", "stderr"])]
    pub attach: Vec<String>,
    /// Suppress output information when pulling images
    #[arg(short, long)]
    pub quiet: bool,
    /// Tune the container's OOM preference (-1000 to 1000)
    #[arg(long, value_name = "NUM", allow_negative_numbers = true,
          value_parser = clap::value_parser!(i32).range(-1000..=1000))]
    pub oom_score_adj: Option<i32>,
    /// Pass a number of additional file descriptors into the container
    #[arg(long, value_name = "N")]
    pub preserve_fds: Option<u32>,
    /// Time zone of the container: local or an Area/City name
    #[arg(long, value_name = "TZ")]
    pub tz: Option<String>,
    /// Seconds the container may run before it is killed (0: no limit)
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Host user (name or uid) to add to the container's /etc/passwd
    #[arg(long, value_name = "NAME")]
    pub hostuser: Vec<String>,
    /// Cgroup namespace: private (default) or host
    #[arg(long, value_name = "MODE")]
    pub cgroupns: Option<String>,
    /// Systemd mode: true (for an init command), false or always
    #[arg(long, value_name = "MODE", value_parser = ["true", "false", "always"])]
    pub systemd: Option<String>,
    /// The image argument is a root directory to run (DIR or DIR:O; writes stay in the container)
    #[arg(long)]
    pub rootfs: bool,
    /// Run the container in a new user namespace with this UID map ([+ug]CONTAINER_ID:[@]FROM_ID[:AMOUNT])
    #[arg(long, value_name = "MAP")]
    pub uidmap: Vec<String>,
    /// Run the container in a new user namespace with this GID map ([+ug]CONTAINER_ID:[@]FROM_ID[:AMOUNT])
    #[arg(long, value_name = "MAP")]
    pub gidmap: Vec<String>,
    /// Run the container in a new user namespace with the ranges of NAME in /etc/subuid
    #[arg(long, value_name = "NAME")]
    pub subuidname: Option<String>,
    /// Run the container in a new user namespace with the ranges of NAME in /etc/subgid
    #[arg(long, value_name = "NAME")]
    pub subgidname: Option<String>,
    /// Add a rule to the cgroup allowed devices list ("TYPE MAJOR:MINOR ACCESS"; checked, then refused: rootless has no device cgroup)
    #[arg(long, value_name = "RULE")]
    pub device_cgroup_rule: Vec<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,
    /// Path to the container-init binary (only catatonit's, the one --init uses)
    #[arg(long, value_name = "PATH")]
    pub init_path: Option<PathBuf>,
    /// PID namespace to use: private (default), host, container:NAME or ns:PATH
    #[arg(long, value_name = "MODE")]
    pub pid: Option<String>,
    /// IPC namespace to use: private (default), host, container:NAME or ns:PATH
    #[arg(long, value_name = "MODE")]
    pub ipc: Option<String>,
    /// UTS namespace to use: private (default), host, container:NAME or ns:PATH
    #[arg(long, value_name = "MODE")]
    pub uts: Option<String>,
    /// Add additional groups to join (a name in the image's /etc/group, a gid, or keep-groups)
    #[arg(long, value_name = "GROUP")]
    pub group_add: Vec<String>,
    /// Sysctl options (net.*, kernel.msg*, kernel.shm*, kernel.sem, fs.mqueue.*)
    #[arg(long, value_name = "NAME=VALUE")]
    pub sysctl: Vec<String>,
    /// Size of /dev/shm (format: <number>[<unit>], where unit = b, k, m or g)
    #[arg(long, value_name = "SIZE")]
    pub shm_size: Option<String>,
    /// Set the umask inside the container (octal, default 0022)
    #[arg(long, value_name = "UMASK")]
    pub umask: Option<String>,
    /// Use all current host environment variables in the container
    #[arg(long)]
    pub env_host: bool,
    /// Read in a line delimited file of labels
    #[arg(long, value_name = "FILE")]
    pub label_file: Vec<PathBuf>,
    /// Add an annotation to the container (key=value)
    #[arg(long, value_name = "KEY=VALUE")]
    pub annotation: Vec<String>,
    /// Platform of the image: only the host's own (linux/ARCH)
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// Entry to write to /etc/passwd ($USERNAME, $UID, $GID, $NAME and $HOME are replaced)
    #[arg(long, value_name = "ENTRY")]
    pub passwd_entry: Option<String>,
    /// Add a host device to the container (HOST[:CONTAINER][:PERMISSIONS])
    #[arg(long, value_name = "DEVICE")]
    pub device: Vec<String>,
    /// User namespace to use: host (skiff's rootless one, the default), keep-id[:uid=U,gid=G,size=N] or nomap
    #[arg(long, value_name = "MODE")]
    pub userns: Option<String>,
}

/// Where the host keeps its time zone files.
const ZONEINFO: &str = "/usr/share/zoneinfo";

/// The tmpfs mounts of systemd mode, as Podman makes them.
const SYSTEMD_TMPFS: &[&str] = &["/run", "/run/lock", "/tmp", "/var/log/journal"];

impl RunFlags {
    /// Checks the flags and puts their typed values into `o` (`command`
    /// is the container's command as given, for `--systemd true`). Errors
    /// name the flag; nothing is created before they are all checked.
    pub fn apply(&self, o: &mut CreateOptions) -> Result<()> {
        self.refuse_unsupported()?;
        let mut run = RunSettings {
            stop_timeout: self.stop_timeout,
            timeout: self.timeout.filter(|t| *t > 0),
            oom_score_adj: self.oom_score_adj,
            quiet: self.quiet,
            log: log_config(
                self.log_driver
                    .as_deref()
                    .or_else(|| crate::config::get().containers.log_driver()),
                &self.log_opt,
            )?,
            ..Default::default()
        };
        // containers.conf's log_size_max and log_tag under --log-opt.
        let conf = &crate::config::get().containers;
        if run.log.max_size.is_none() {
            run.log.max_size = conf
                .log_size_max
                .filter(|n| *n > 0)
                .and_then(|n| u64::try_from(n).ok());
        }
        if run.log.tag.is_none() {
            run.log.tag.clone_from(&conf.log_tag);
        }
        if !self.attach.is_empty() {
            run.attach = Some(Attach {
                stdin: self.attach.iter().any(|s| s == "stdin"),
                stdout: self.attach.iter().any(|s| s == "stdout"),
                stderr: self.attach.iter().any(|s| s == "stderr"),
            });
        }
        let defaults = conf_defaults()?;
        run.cgroupns_host = match self.cgroupns.as_deref() {
            None => defaults.cgroupns_host,
            Some("private") => false,
            Some("host") => true,
            Some(other) => {
                return Err(Error::msg(format!(
                    "--cgroupns {other}: not supported: use private or host"
                )))
            }
        };
        // containers.conf's tz when --tz is not given.
        if let Some(tz) = self
            .tz
            .as_ref()
            .or(crate::config::get().containers.tz.as_ref())
        {
            o.volumes
                .push(format!("{}:/etc/localtime:ro", zone_file(tz)?.display()));
        }
        if systemd_mode(self.systemd.as_deref(), &o.command) {
            for dir in SYSTEMD_TMPFS {
                if !o.tmpfs.iter().any(|t| t.split(':').next() == Some(dir)) {
                    o.tmpfs.push(format!("{dir}:rw,nosuid,nodev"));
                }
            }
        }
        if self.rootfs {
            let dir = o.image.strip_suffix(":O").unwrap_or(&o.image);
            let real = std::fs::canonicalize(dir)
                .ok()
                .filter(|p| p.is_dir())
                .ok_or_else(|| Error::msg(format!("--rootfs {dir}: not a directory")))?;
            run.rootfs = Some(real);
        }
        run.extras = self.extras(defaults)?;
        run.env_host = self.env_host;
        check_platform(self.platform.as_deref())?;
        if !self.label_file.is_empty() {
            // Read first, so that a --label for the same key wins.
            let mut labels = Vec::new();
            for f in &self.label_file {
                labels.extend(read_label_file(f)?);
            }
            labels.append(&mut o.labels);
            o.labels = labels;
        }
        if run.extras.uts != NsMode::Private && o.hostname.is_some() {
            return Err(Error::msg(
                "invalid config provided: cannot set hostname when joining the container's UTS namespace to another",
            ));
        }
        o.run = run;
        Ok(())
    }

    /// The typed [`Extras`] over containers.conf's `defaults`; errors name
    /// the flag and value.
    fn extras(&self, defaults: ConfDefaults) -> Result<Extras> {
        if let Some(p) = &self.init_path {
            let ours = std::fs::canonicalize(CATATONIT).ok();
            if std::fs::canonicalize(p).ok() != ours || ours.is_none() {
                return Err(Error::msg(format!(
                    "--init-path {}: not supported: skiff's init is {CATATONIT}",
                    p.display()
                )));
            }
        }
        // The flag, else containers.conf's pidns, ipcns, utsns.
        let ns = |flag: &str, v: &Option<String>, conf: NsMode| match v {
            Some(v) => NsMode::parse(flag, v).map_err(Error::msg),
            None => Ok(conf),
        };
        let mut x = Extras {
            init: self.init || self.init_path.is_some(),
            pid: ns("pid", &self.pid, defaults.pid)?,
            ipc: ns("ipc", &self.ipc, defaults.ipc)?,
            uts: ns("uts", &self.uts, defaults.uts)?,
            devices: defaults.devices,
            userns: self.userns_mode()?,
            ..Default::default()
        };
        if x.init && !Path::new(CATATONIT).is_file() {
            return Err(Error::msg(format!(
                "--init: {CATATONIT}: no such file (install catatonit)"
            )));
        }
        // `--hostuser`: each must be a user of the host, as Podman requires.
        let host_passwd = if self.hostuser.is_empty() {
            String::new()
        } else {
            std::fs::read_to_string("/etc/passwd").unwrap_or_default()
        };
        for u in &self.hostuser {
            if crate::runtime::user::host_user(&host_passwd, u).is_none() {
                return Err(Error::msg(format!(
                    "--hostuser {u}: no such user in the host's /etc/passwd"
                )));
            }
            x.hostusers.push(u.clone());
        }
        x.passwd_entry.clone_from(&self.passwd_entry);
        for g in &self.group_add {
            match g.as_str() {
                "keep-groups" => x.keep_groups = true,
                _ => match g.parse::<u32>() {
                    Ok(gid) => x.group_add.push(gid),
                    Err(_) if !g.is_empty() && !g.contains([':', '\n']) => {
                        x.group_add_names.push(g.clone())
                    }
                    Err(_) => {
                        return Err(Error::msg(format!(
                        "--group-add {g:?}: invalid group: give a group name, a gid or keep-groups"
                    )))
                    }
                },
            }
        }
        if x.keep_groups && !(x.group_add.is_empty() && x.group_add_names.is_empty()) {
            return Err(Error::msg(
                "the '--group-add keep-groups' option is not allowed with other groups",
            ));
        }
        for kv in &self.sysctl {
            let (k, v) = kv
                .split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| Error::msg(format!("--sysctl {kv}: expected NAME=VALUE")))?;
            x.sysctls.insert(k.to_string(), v.to_string());
        }
        if let Some(s) = &self.shm_size {
            x.shm_size = Some(
                parse_size(s)
                    .filter(|n| *n > 0)
                    .ok_or_else(|| Error::msg(format!("--shm-size {s}: invalid size")))?,
            );
        }
        if x.shm_size.is_some() && x.ipc != NsMode::Private {
            return Err(Error::msg(
                "--shm-size: not supported with --ipc other than private: the container then has no /dev/shm of its own",
            ));
        }
        if let Some(u) = &self.umask {
            x.umask = Some(
                u32::from_str_radix(u, 8)
                    .ok()
                    .filter(|m| *m <= 0o777)
                    .ok_or_else(|| {
                        Error::msg(format!(
                            "invalid umask string {u}: invalid argument (octal, at most 0777)"
                        ))
                    })?,
            );
        }
        for a in &self.annotation {
            let (k, v) = a
                .split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| {
                    Error::msg(format!(
                        "--annotation {a}: annotations must be formatted KEY=VALUE"
                    ))
                })?;
            x.annotations.insert(k.to_string(), v.to_string());
        }
        // containers.conf's devices, under a --device for the same path.
        let mut given = Vec::new();
        for d in &self.device {
            given.extend(parse_device(d)?);
        }
        x.devices
            .retain(|d| !given.iter().any(|g| g.container == d.container));
        x.devices.append(&mut given);
        Ok(x)
    }

    /// The user namespace the flags ask for: maps of the user's own
    /// (`--uidmap`, `--gidmap`, `--subuidname`, `--subgidname`; with
    /// `--userns` refused in Podman's words), else `--userns`, else
    /// containers.conf's userns when skiff supports it (an unsupported one
    /// was reported when the file was read).
    fn userns_mode(&self) -> Result<UsernsMode> {
        let maps = !self.uidmap.is_empty()
            || !self.gidmap.is_empty()
            || self.subuidname.is_some()
            || self.subgidname.is_some();
        if maps {
            if self.userns.is_some() {
                return Err(Error::msg(
                    "--userns and --uidmap/--gidmap/--subuidname/--subgidname are mutually exclusive",
                ));
            }
            return crate::container::userns::given_maps(
                &self.uidmap,
                &self.gidmap,
                self.subuidname.as_deref(),
                self.subgidname.as_deref(),
            );
        }
        Ok(match &self.userns {
            Some(v) => UsernsMode::parse(v).map_err(Error::msg)?,
            None => crate::config::get()
                .containers
                .userns
                .as_deref()
                .and_then(|v| UsernsMode::parse(v).ok())
                .unwrap_or_default(),
        })
    }

    fn refuse_unsupported(&self) -> Result<()> {
        if !self.device_cgroup_rule.is_empty() {
            for rule in &self.device_cgroup_rule {
                check_device_cgroup_rule(rule).map_err(Error::msg)?;
            }
            return Err(Error::msg(
                "device cgroup rules are not supported in rootless mode or in a user namespace",
            ));
        }
        Ok(())
    }
}

use crate::state::extras::CATATONIT;

/// Checks one `--device-cgroup-rule` as Podman parses it
/// (`specgenutil`'s `parseLinuxResourcesDeviceAccess`): `TYPE MAJOR[:MINOR]
/// ACCESS`, split on single spaces, TYPE one of `a`, `b`, `c`, each number
/// unsigned decimal or `*`, ACCESS letters of `rwm`. Errors are Podman's
/// words (Go's `strconv.ParseUint` text for a bad number).
fn check_device_cgroup_rule(rule: &str) -> std::result::Result<(), String> {
    let parts: Vec<&str> = rule.split(' ').collect();
    let [kind, numbers, access] = parts.as_slice() else {
        return Err(format!(
            "invalid device cgroup rule requires type, major:Minor, and access rules: {rule:?}"
        ));
    };
    if !matches!(*kind, "a" | "b" | "c") {
        return Err(format!("invalid device type in device-access-add: {kind}"));
    }
    let number = |n: &str| -> std::result::Result<(), String> {
        if n == "*" {
            return Ok(());
        }
        let why = if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            "invalid syntax"
        } else if n.parse::<u64>().is_err() {
            "value out of range"
        } else {
            return Ok(());
        };
        Err(format!("strconv.ParseUint: parsing {n:?}: {why}"))
    };
    let (major, minor) = match numbers.split_once(':') {
        Some((major, minor)) => (major, Some(minor)),
        None => (*numbers, None),
    };
    number(major)?;
    if let Some(minor) = minor {
        number(minor)?;
    }
    if let Some(c) = access.chars().find(|c| !"rwm".contains(*c)) {
        return Err(format!("invalid device access in device-access-add: {c}"));
    }
    Ok(())
}

/// `--platform`: the host's own (`linux/ARCH`, an optional variant, or
/// only the OS) is accepted; skiff runs no other architecture's images.
fn check_platform(p: Option<&str>) -> Result<()> {
    let Some(p) = p.filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    use crate::registry::manifest::Platform;
    let host = Platform::host();
    let given = match p.split('/').count() {
        1 => Platform::parse(&format!("{p}/{}", host.architecture)),
        _ => Platform::parse(p),
    };
    if given.is_some_and(|g| g.os == host.os && g.architecture == host.architecture) {
        return Ok(());
    }
    Err(Error::msg(format!(
        "--platform {p}: not supported: skiff runs images of the host's platform only ({}/{})",
        host.os, host.architecture
    )))
}

/// `--label-file`: one `KEY=VALUE` (or `KEY`) a line; blank lines and `#`
/// comments are skipped, as Podman reads it.
fn read_label_file(path: &Path) -> Result<Vec<String>> {
    let text = crate::container::create::read_line_file(path, "label file")?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect())
}

/// The [`ConfDefaults`] of the user's containers.conf: its namespace keys
/// (checked to be private or host when the files were read) and its
/// devices, each checked as `--device` is. Errors name the key.
pub(crate) fn conf_defaults() -> Result<ConfDefaults> {
    let conf = &crate::config::get().containers;
    let ns = |key: &str, v: &Option<String>| {
        NsMode::parse(key, v.as_deref().unwrap_or(""))
            .map_err(|e| Error::msg(format!("containers.conf {key}ns: {e}")))
    };
    let mut devices = Vec::new();
    for d in &conf.devices {
        let devs =
            parse_device(d).map_err(|e| Error::msg(format!("containers.conf devices: {e}")))?;
        devices.extend(devs);
    }
    Ok(ConfDefaults {
        pid: ns("pid", &conf.pidns)?,
        ipc: ns("ipc", &conf.ipcns)?,
        uts: ns("uts", &conf.utsns)?,
        cgroupns_host: conf.cgroupns.as_deref() == Some("host"),
        devices,
    })
}

/// `--device HOST[:CONTAINER][:PERMISSIONS]`: the host node must exist and
/// be a device (Podman's `stat` error otherwise). A directory gives every
/// device under it (recursively, at the same place under CONTAINER), as
/// Podman; there the nodes the user cannot open are left out, and a
/// directory without one the user can open is an error.
fn parse_device(spec: &str) -> Result<Vec<Device>> {
    let parts: Vec<&str> = spec.split(':').collect();
    let is_perms = |s: &str| !s.is_empty() && s.chars().all(|c| "rwm".contains(c));
    let (host, ctr, perms) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, p] if is_perms(p) => (*h, *h, *p),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] if is_perms(p) => (*h, *c, *p),
        _ => {
            return Err(Error::msg(format!(
                "--device {spec}: invalid device specification"
            )))
        }
    };
    if !host.starts_with('/') || !ctr.starts_with('/') {
        return Err(Error::msg(format!(
            "--device {spec}: device paths must be absolute"
        )));
    }
    let meta = std::fs::metadata(host)
        .map_err(|e| Error::msg(crate::error::io_msg("stat", Path::new(host), &e)))?;
    let device = |host: &Path, ctr: String| Device {
        host: host.to_path_buf(),
        container: ctr,
        perms: perms.to_string(),
    };
    if meta.is_dir() {
        let mut found = Vec::new();
        devices_under(Path::new(host), &mut found);
        found.sort();
        let devs: Vec<Device> = found
            .iter()
            .filter(|p| may_open(p, perms).is_ok())
            .filter_map(|p| {
                let rel = p.strip_prefix(host).ok()?;
                Some(device(p, Path::new(ctr).join(rel).to_str()?.to_string()))
            })
            .collect();
        if devs.is_empty() {
            return Err(Error::msg(format!(
                "--device {host}: no device under it that the user running skiff can open"
            )));
        }
        return Ok(devs);
    }
    if !is_device(&meta) {
        return Err(Error::msg(format!("--device {host}: not a device node")));
    }
    may_open(Path::new(host), perms).map_err(|e| {
        Error::msg(format!(
            "--device {host}: {}: the user running skiff cannot open it",
            e.desc().to_lowercase()
        ))
    })?;
    Ok(vec![device(Path::new(host), ctr.to_string())])
}

fn is_device(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    meta.file_type().is_char_device() || meta.file_type().is_block_device()
}

/// The device nodes under `dir`, recursively; symbolic links are not
/// followed (Podman's walk), unreadable directories are skipped.
fn devices_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
            continue;
        };
        if meta.is_dir() {
            devices_under(&e.path(), out);
        } else if is_device(&meta) {
            out.push(e.path());
        }
    }
}

/// A rootless container gets only what its user may open, as Podman
/// rootless: checked here, where skiff still has the user's own ids.
fn may_open(host: &Path, perms: &str) -> nix::Result<()> {
    let mut mode = nix::unistd::AccessFlags::R_OK;
    if perms.contains('w') {
        mode |= nix::unistd::AccessFlags::W_OK;
    }
    nix::unistd::access(host, mode)
}

/// `--log-driver` and `--log-opt` as the record keeps them. `json-file` is
/// `k8s-file`, as in Podman; journald needs a journal and skiff writes none.
fn log_config(driver: Option<&str>, opts: &[String]) -> Result<LogConfig> {
    let driver = match driver.unwrap_or("k8s-file") {
        "" | "k8s-file" | "json-file" => LogDriver::K8sFile,
        "none" => LogDriver::None,
        "passthrough" => LogDriver::Passthrough,
        "journald" => {
            return Err(Error::msg(
                "--log-driver journald: not supported: skiff writes no journal; use k8s-file, none or passthrough",
            ))
        }
        other => {
            return Err(Error::msg(format!(
                "--log-driver {other}: unknown log driver: use k8s-file, json-file, none or passthrough"
            )))
        }
    };
    let mut log = LogConfig {
        driver,
        ..Default::default()
    };
    for o in opts {
        let (k, v) = o.split_once('=').ok_or_else(|| {
            Error::msg(format!(
                "--log-opt {o}: invalid log option: expected KEY=VALUE"
            ))
        })?;
        match k {
            "path" => {
                let p = Path::new(v);
                if !p.is_absolute() {
                    return Err(Error::msg(format!(
                        "--log-opt path={v}: the log path must be absolute"
                    )));
                }
                log.path = Some(p.to_path_buf());
            }
            "max-size" => {
                log.max_size =
                    Some(parse_size(v).ok_or_else(|| {
                        Error::msg(format!("--log-opt max-size={v}: invalid size"))
                    })?)
            }
            "tag" => log.tag = Some(v.to_string()),
            _ => {
                return Err(Error::msg(format!(
                    "--log-opt {o}: not supported: skiff takes path, max-size and tag"
                )))
            }
        }
    }
    Ok(log)
}

/// A size as Podman's `--log-opt max-size` and `--shm-size` take it:
/// `1000`, `10k`, `5mb`, `1g` (powers of 1024, as units.RAMInBytes).
fn parse_size(s: &str) -> Option<u64> {
    crate::cgroups::limits::parse_bytes(s).ok()
}

/// The host file that `--tz` puts at /etc/localtime: the host's own for
/// `local`, else the zone's under /usr/share/zoneinfo. Podman's error for
/// an unknown zone.
fn zone_file(tz: &str) -> Result<PathBuf> {
    let unknown = || Error::msg(format!("finding timezone: unknown time zone {tz}"));
    let path = if tz == "local" {
        PathBuf::from("/etc/localtime")
    } else {
        if tz.is_empty() || tz.starts_with('/') || tz.split('/').any(|p| p == "..") {
            return Err(unknown());
        }
        Path::new(ZONEINFO).join(tz)
    };
    let real = std::fs::canonicalize(&path).map_err(|_| unknown())?;
    if !real.is_file() {
        return Err(unknown());
    }
    Ok(real)
}

/// Whether `--systemd` puts the container in systemd mode: `always`, or
/// `true` (Podman's default, also without the flag) when the command is
/// systemd or an init.
fn systemd_mode(flag: Option<&str>, command: &[String]) -> bool {
    match flag {
        Some("always") => true,
        None | Some("true") => command.first().is_some_and(|c| {
            matches!(
                c.as_str(),
                "/sbin/init" | "/usr/sbin/init" | "/usr/local/sbin/init"
            ) || Path::new(c).file_name().is_some_and(|n| n == "systemd")
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_podman_reads_them() {
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("10k"), Some(10240));
        assert_eq!(parse_size("5mb"), Some(5 << 20));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("lots"), None);
    }

    #[test]
    fn log_drivers_and_options() {
        let l = log_config(Some("json-file"), &["max-size=1k".into(), "tag=web".into()]).unwrap();
        assert_eq!(l.driver, LogDriver::K8sFile);
        assert_eq!(l.max_size, Some(1024));
        assert_eq!(l.tag.as_deref(), Some("web"));
        assert!(log_config(Some("journald"), &[]).is_err());
        assert!(log_config(None, &["path=relative".into()]).is_err());
        assert!(log_config(None, &["compress=true".into()]).is_err());
    }

    #[test]
    fn systemd_mode_for_init_commands() {
        assert!(systemd_mode(Some("true"), &["/sbin/init".into()]));
        assert!(systemd_mode(
            Some("true"),
            &["/usr/lib/systemd/systemd".into()]
        ));
        assert!(!systemd_mode(Some("true"), &["sh".into()]));
        assert!(systemd_mode(Some("always"), &["sh".into()]));
        assert!(!systemd_mode(Some("false"), &["/sbin/init".into()]));
        assert!(!systemd_mode(None, &["sh".into()]));
        assert!(systemd_mode(None, &["/sbin/init".into()]));
    }

    #[test]
    fn device_cgroup_rules_as_podman_checks_them() {
        for ok in ["b 7:* rmw", "c 7:* rmw", "a 7:1 rmw", "a 7 rmw", "c *:* r"] {
            assert_eq!(check_device_cgroup_rule(ok), Ok(()), "{ok}");
        }
        for (bad, says) in [
            ("b 7:* rmX", "invalid device access in device-access-add: X"),
            (
                "b 7:2",
                "invalid device cgroup rule requires type, major:Minor, and access rules: \"b 7:2\"",
            ),
            ("x 7:* rmw", "invalid device type in device-access-add: x"),
            (
                "a a:* rmw",
                "strconv.ParseUint: parsing \"a\": invalid syntax",
            ),
            (
                "c 1:+2 r",
                "strconv.ParseUint: parsing \"+2\": invalid syntax",
            ),
            (
                "c 99999999999999999999:1 r",
                "strconv.ParseUint: parsing \"99999999999999999999\": value out of range",
            ),
        ] {
            assert_eq!(check_device_cgroup_rule(bad).unwrap_err(), says, "{bad}");
        }
    }

    #[test]
    fn unknown_zones_are_refused() {
        assert!(zone_file("Nowhere/Special").is_err());
        assert!(zone_file("../etc/passwd").is_err());
    }
}
