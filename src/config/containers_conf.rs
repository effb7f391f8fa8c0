//! containers.conf: the defaults Podman takes for every container and for
//! the engine, read from the same files in the same order
//! (containers/common's `systemConfigs`):
//!
//! 1. `$CONTAINERS_CONF` alone when set (it must exist), else
//!    `/usr/share/containers/containers.conf`,
//!    `/usr/share/containers/containers.conf.d/*.conf`,
//!    `/etc/containers/containers.conf`,
//!    `/etc/containers/containers.conf.d/*.conf` and, for a rootless user,
//!    `$XDG_CONFIG_HOME/containers/containers.conf` and its `.d/*.conf`;
//! 2. then `$CONTAINERS_CONF_OVERRIDE`.
//!
//! A key set in a later file replaces the earlier value (arrays whole).
//! A key skiff uses with a value of the wrong type, or a value it cannot
//! parse, is an error naming the file. A key Podman knows that skiff does
//! not honour is never ignored silently: [`ContainersConf::load`] warns
//! once per file, naming each such key ([`ContainersConf::unsupported`]).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{bad_value, config_home, dropins, read_optional, toml_error};
use crate::{Error, Result};

/// `[engine] events_logger`: where events go (`--events-backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventsLogger {
    File,
    Journald,
    None,
}

/// The containers.conf keys skiff honours, merged over every file read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainersConf {
    /// `[containers] env`: `KEY=VALUE` (or `KEY`, taken from skiff's
    /// environment) set in every container, below the image's and the
    /// command line's.
    pub env: Vec<String>,
    /// `[containers] default_ulimits`: `name=soft[:hard]` applied unless
    /// `--ulimit` sets the same resource.
    pub default_ulimits: Vec<String>,
    /// `[containers] dns_servers`, `dns_searches`, `dns_options`: used when
    /// `--dns`, `--dns-search`, `--dns-option` are not given.
    pub dns_servers: Vec<String>,
    pub dns_searches: Vec<String>,
    pub dns_options: Vec<String>,
    /// `[containers] log_driver`: `k8s-file`, `json-file`, `none`,
    /// `passthrough` or `journald` (which skiff cannot write: then k8s-file
    /// with a warning).
    pub log_driver: Option<String>,
    /// `[containers] tz`: `local` or an Area/City name, as `--tz`.
    pub tz: Option<String>,
    /// `[engine] events_logger`.
    pub events_logger: Option<EventsLogger>,
    /// `[engine] cgroup_manager`: `systemd` or `cgroupfs` (`--cgroup-manager`).
    pub cgroup_manager: Option<crate::cgroups::Manager>,
    /// `[network] default_rootless_network_cmd`: `pasta` or `slirp4netns`,
    /// the mode of a rootless container without `--network`.
    pub default_rootless_network_cmd: Option<String>,
    /// `[network] default_network`: the network `--network bridge` joins
    /// (Podman's `podman`).
    pub default_network: Option<String>,
    /// `[containers] default_capabilities`: the capabilities a container
    /// starts from before `--cap-add`/`--cap-drop` (None: Podman's built-in
    /// list, `runtime::caps::DEFAULT`).
    pub default_capabilities: Option<Vec<caps::Capability>>,
    /// `[containers] default_sysctls`: `(name, value)` written in every
    /// container whose namespace of that kind is its own (net.* are left
    /// out with `--network host`, ipc ones with `--ipc host`, as Podman);
    /// `--sysctl` for the same name wins.
    pub default_sysctls: Vec<(String, String)>,
    /// `[containers] pids_limit`: the pids cgroup limit of a container
    /// without `--pids-limit` (0 or negative: none). Applied where the
    /// user's cgroup is delegated with the pids controller, else a warning.
    pub pids_limit: Option<i64>,
    /// `[containers] volumes`: `-v` specifications added to every
    /// container; a `-v`, `--mount` or `--tmpfs` at the same destination wins.
    pub volumes: Vec<String>,
    /// `[containers] userns`: `host` (skiff's shared rootless user
    /// namespace, also the meaning of an empty value), `keep-id[:...]` and
    /// `nomap` are honoured as `--userns` (which wins); others are reported.
    pub userns: Option<String>,
    /// `[containers] log_size_max`: bytes a container's log may reach
    /// (`--log-opt max-size`); 0 or negative: no limit.
    pub log_size_max: Option<i64>,
    /// `[containers] log_tag`: `--log-opt tag`.
    pub log_tag: Option<String>,
    /// `[containers] init`: `--init` for every container.
    pub init: bool,
    /// `[containers] shm_size`: `--shm-size` for a container with an ipc
    /// namespace of its own, in bytes.
    pub shm_size: Option<u64>,
    /// `[containers] umask`: `--umask`.
    pub umask: Option<u32>,
    /// `[containers] env_host`: `--env-host`.
    pub env_host: bool,
    /// `[containers] read_only`: `--read-only`.
    pub read_only: bool,
    /// `[containers] annotations`: `KEY=VALUE` under `--annotation`.
    pub annotations: Vec<(String, String)>,
    /// `[containers] devices`: `--device` specifications added to every
    /// container (checked when a container is created, as `--device`).
    pub devices: Vec<String>,
    /// `[containers] pidns`, `ipcns`, `utsns`, `cgroupns`: `private` or
    /// `host`, for a container without `--pid`, `--ipc`, `--uts`,
    /// `--cgroupns`.
    pub pidns: Option<String>,
    pub ipcns: Option<String>,
    pub utsns: Option<String>,
    pub cgroupns: Option<String>,
    /// `[containers] netns`: the network mode of a container outside a pod
    /// without `--network` (`private` is the default mode).
    pub netns: Option<String>,
    /// `[TABLE] key` names set in the files that skiff does not honour,
    /// with the file that set them, in order.
    pub unsupported: Vec<(PathBuf, String)>,
    /// Every file read, in order.
    pub files: Vec<PathBuf>,
}

#[derive(Deserialize, Default)]
struct Raw {
    #[serde(default)]
    containers: RawContainers,
    #[serde(default)]
    engine: RawEngine,
    #[serde(default)]
    network: RawNetwork,
}

#[derive(Deserialize, Default)]
struct RawContainers {
    env: Option<Vec<String>>,
    default_ulimits: Option<Vec<String>>,
    dns_servers: Option<Vec<String>>,
    dns_searches: Option<Vec<String>>,
    dns_options: Option<Vec<String>>,
    log_driver: Option<String>,
    tz: Option<String>,
    default_capabilities: Option<Vec<String>>,
    default_sysctls: Option<Vec<String>>,
    pids_limit: Option<i64>,
    volumes: Option<Vec<String>>,
    userns: Option<String>,
    log_size_max: Option<i64>,
    log_tag: Option<String>,
    init: Option<bool>,
    shm_size: Option<String>,
    umask: Option<String>,
    env_host: Option<bool>,
    read_only: Option<bool>,
    annotations: Option<Vec<String>>,
    devices: Option<Vec<String>>,
    pidns: Option<String>,
    ipcns: Option<String>,
    utsns: Option<String>,
    cgroupns: Option<String>,
    netns: Option<String>,
}

/// The keys of each table that skiff honours; any other key set in a file
/// is reported by [`ContainersConf::unsupported`].
const HONOURED: &[(&str, &[&str])] = &[
    (
        "containers",
        &[
            "env",
            "default_ulimits",
            "dns_servers",
            "dns_searches",
            "dns_options",
            "log_driver",
            "tz",
            "default_capabilities",
            "default_sysctls",
            "pids_limit",
            "volumes",
            "userns",
            "log_size_max",
            "log_tag",
            "init",
            "shm_size",
            "umask",
            "env_host",
            "read_only",
            "annotations",
            "devices",
            "pidns",
            "ipcns",
            "utsns",
            "cgroupns",
            "netns",
        ],
    ),
    (
        "engine",
        &["events_logger", "image_default_transport", "cgroup_manager"],
    ),
    (
        "network",
        &["default_rootless_network_cmd", "default_network"],
    ),
];

#[derive(Deserialize, Default)]
struct RawEngine {
    events_logger: Option<String>,
    image_default_transport: Option<String>,
    cgroup_manager: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawNetwork {
    default_rootless_network_cmd: Option<String>,
    default_network: Option<String>,
}

impl ContainersConf {
    /// The files Podman would read for this user (`rootless`: also the
    /// user's own), merged.
    pub fn load(rootless: bool) -> Result<ContainersConf> {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let mut files = Vec::new();
        match var("CONTAINERS_CONF").map(PathBuf::from) {
            Some(p) => {
                if !p.exists() {
                    return Err(Error::msg(format!(
                        "CONTAINERS_CONF file {}: no such file or directory",
                        p.display()
                    )));
                }
                files.push(p);
            }
            None => {
                for dir in ["/usr/share/containers", "/etc/containers"] {
                    let main = Path::new(dir).join("containers.conf");
                    files.push(main.clone());
                    files.extend(dropins(&Path::new(dir).join("containers.conf.d")));
                }
                if rootless {
                    if let Some(home) = config_home() {
                        let user = home.join("containers/containers.conf");
                        files.push(user.clone());
                        files.extend(dropins(&home.join("containers/containers.conf.d")));
                    }
                }
            }
        }
        if let Some(p) = var("CONTAINERS_CONF_OVERRIDE") {
            files.push(PathBuf::from(p));
        }
        let mut conf = ContainersConf::default();
        for f in files {
            if let Some(text) = read_optional(&f)? {
                conf.merge(&text, &f)?;
            }
        }
        for f in &conf.files {
            let keys: Vec<&str> = conf
                .unsupported
                .iter()
                .filter(|(p, _)| p == f)
                .map(|(_, k)| k.as_str())
                .collect();
            if !keys.is_empty() {
                tracing::warn!(
                    "{}: not supported by skiff, ignored: {}",
                    f.display(),
                    keys.join(", ")
                );
            }
        }
        Ok(conf)
    }

    /// Merges one file's text over what was read before.
    pub fn merge(&mut self, text: &str, path: &Path) -> Result<()> {
        let stripped = without_comment_lines(text);
        let text = stripped.as_deref().unwrap_or(text);
        let raw: Raw = toml::from_str(text).map_err(|e| toml_error(path, text, &e))?;
        let table: toml::Table = toml::from_str(text).map_err(|e| toml_error(path, text, &e))?;
        self.files.push(path.to_path_buf());
        let mut unsupported = Vec::new();
        unknown_keys(&table, "", &mut unsupported);
        let c = raw.containers;
        if let Some(u) = c.userns.as_deref().filter(|u| {
            !matches!(
                crate::state::extras::UsernsMode::parse(u),
                Ok(crate::state::extras::UsernsMode::Host
                    | crate::state::extras::UsernsMode::KeepId { .. }
                    | crate::state::extras::UsernsMode::NoMap)
            )
        }) {
            unsupported.push(format!("[containers] userns = {u:?}"));
        }
        if let Some(t) = raw
            .engine
            .image_default_transport
            .as_deref()
            .filter(|t| *t != "docker://")
        {
            unsupported.push(format!("[engine] image_default_transport = {t:?}"));
        }
        let caps = match &c.default_capabilities {
            None => None,
            Some(names) => Some(
                names
                    .iter()
                    .map(|n| crate::runtime::caps::parse(n))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| bad_value(path, "[containers] default_capabilities", e))?,
            ),
        };
        let mut sysctls = Vec::new();
        for kv in c.default_sysctls.iter().flatten() {
            let bad = |why: String| bad_value(path, "[containers] default_sysctls", why);
            let (k, v) = kv
                .split_once('=')
                .filter(|(k, _)| !k.trim().is_empty())
                .ok_or_else(|| bad(format!("invalid entry {kv:?}: expected NAME=VALUE")))?;
            let k = k.trim();
            crate::state::extras::check_sysctl(k, false, false).map_err(bad)?;
            sysctls.push((k.to_string(), v.trim().to_string()));
        }
        for v in c.volumes.iter().flatten() {
            crate::runtime::mounts::parse_volume(v)
                .map_err(|e| bad_value(path, "[containers] volumes", e))?;
        }
        let shm_size = match &c.shm_size {
            None => None,
            Some(s) => Some(
                crate::cgroups::limits::parse_bytes(s)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        bad_value(path, "[containers] shm_size", format!("invalid size {s:?}"))
                    })?,
            ),
        };
        let umask = match &c.umask {
            None => None,
            Some(u) => Some(
                u32::from_str_radix(u, 8)
                    .ok()
                    .filter(|m| *m <= 0o777)
                    .ok_or_else(|| {
                        bad_value(
                            path,
                            "[containers] umask",
                            format!("invalid umask {u:?}: octal, at most 0777"),
                        )
                    })?,
            ),
        };
        let mut annotations = Vec::new();
        for a in c.annotations.iter().flatten() {
            let (k, v) = a
                .split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| {
                    bad_value(
                        path,
                        "[containers] annotations",
                        format!("invalid entry {a:?}: expected KEY=VALUE"),
                    )
                })?;
            annotations.push((k.to_string(), v.to_string()));
        }
        for (key, v) in [
            ("pidns", &c.pidns),
            ("ipcns", &c.ipcns),
            ("utsns", &c.utsns),
            ("cgroupns", &c.cgroupns),
        ] {
            if let Some(v) = v
                .as_deref()
                .filter(|v| !matches!(*v, "" | "private" | "host"))
            {
                return Err(bad_value(
                    path,
                    &format!("[containers] {key}"),
                    format!("invalid value {v:?}: use private or host"),
                ));
            }
        }
        if let Some(n) = &c.netns {
            crate::network::mode::NetworkChoice::parse(n)
                .map_err(|e| bad_value(path, "[containers] netns", e))?;
        }
        for d in c.devices.iter().flatten() {
            if !d.starts_with('/') {
                return Err(bad_value(
                    path,
                    "[containers] devices",
                    format!("invalid device {d:?}: expected HOST[:CONTAINER][:PERMISSIONS]"),
                ));
            }
        }
        for e in c.env.iter().flatten() {
            if e.is_empty() || e.starts_with('=') {
                return Err(bad_value(
                    path,
                    "[containers] env",
                    format!("invalid entry {e:?}: expected KEY=VALUE"),
                ));
            }
        }
        for u in c.default_ulimits.iter().flatten() {
            crate::state::config::Rlimit::parse(u)
                .map_err(|e| bad_value(path, "[containers] default_ulimits", e))?;
        }
        if let Some(d) = &c.log_driver {
            if !matches!(
                d.as_str(),
                "k8s-file" | "json-file" | "none" | "passthrough" | "journald"
            ) {
                return Err(bad_value(
                    path,
                    "[containers] log_driver",
                    format!(
                        "unknown log driver {d:?}: use k8s-file, json-file, none or passthrough"
                    ),
                ));
            }
        }
        if let Some(tz) = &c.tz {
            if tz.is_empty() || tz.starts_with('/') || tz.split('/').any(|p| p == "..") {
                return Err(bad_value(
                    path,
                    "[containers] tz",
                    format!("invalid time zone {tz:?}"),
                ));
            }
        }
        let events = match raw.engine.events_logger.as_deref() {
            None => None,
            Some("file") => Some(EventsLogger::File),
            Some("journald") => Some(EventsLogger::Journald),
            Some("none") => Some(EventsLogger::None),
            Some(other) => {
                return Err(bad_value(
                    path,
                    "[engine] events_logger",
                    format!("invalid events backend {other:?}: use file, journald or none"),
                ))
            }
        };
        let cgroup_manager = match raw.engine.cgroup_manager.as_deref() {
            None => None,
            Some("systemd") => Some(crate::cgroups::Manager::Systemd),
            Some("cgroupfs") => Some(crate::cgroups::Manager::Cgroupfs),
            Some(other) => {
                return Err(bad_value(
                    path,
                    "[engine] cgroup_manager",
                    format!("invalid cgroup manager {other:?}: use systemd or cgroupfs"),
                ))
            }
        };
        let net = raw.network;
        if let Some(cmd) = &net.default_rootless_network_cmd {
            if !matches!(cmd.as_str(), "pasta" | "slirp4netns") {
                return Err(bad_value(
                    path,
                    "[network] default_rootless_network_cmd",
                    format!("invalid value {cmd:?}: use pasta or slirp4netns"),
                ));
            }
        }
        set(&mut self.env, c.env);
        set(&mut self.default_ulimits, c.default_ulimits);
        set(&mut self.dns_servers, c.dns_servers);
        set(&mut self.dns_searches, c.dns_searches);
        set(&mut self.dns_options, c.dns_options);
        set(&mut self.volumes, c.volumes);
        set(&mut self.devices, c.devices);
        if c.default_capabilities.is_some() {
            self.default_capabilities = caps;
        }
        if c.default_sysctls.is_some() {
            self.default_sysctls = sysctls;
        }
        if c.annotations.is_some() {
            self.annotations = annotations;
        }
        let ns = |v: Option<String>| v.filter(|v| !v.is_empty());
        self.pidns = ns(c.pidns).or(self.pidns.take());
        self.ipcns = ns(c.ipcns).or(self.ipcns.take());
        self.utsns = ns(c.utsns).or(self.utsns.take());
        self.cgroupns = ns(c.cgroupns).or(self.cgroupns.take());
        self.netns = ns(c.netns).or(self.netns.take());
        self.pids_limit = c.pids_limit.or(self.pids_limit);
        self.userns = c.userns.or(self.userns.take());
        self.log_size_max = c.log_size_max.or(self.log_size_max);
        self.log_tag = c.log_tag.or(self.log_tag.take());
        self.init = c.init.unwrap_or(self.init);
        self.shm_size = shm_size.or(self.shm_size);
        self.umask = umask.or(self.umask);
        self.env_host = c.env_host.unwrap_or(self.env_host);
        self.read_only = c.read_only.unwrap_or(self.read_only);
        self.unsupported
            .extend(unsupported.into_iter().map(|k| (path.to_path_buf(), k)));
        self.log_driver = c.log_driver.or(self.log_driver.take());
        self.tz = c.tz.or(self.tz.take());
        self.events_logger = events.or(self.events_logger);
        self.cgroup_manager = cgroup_manager.or(self.cgroup_manager);
        self.default_rootless_network_cmd = net
            .default_rootless_network_cmd
            .or(self.default_rootless_network_cmd.take());
        self.default_network = net
            .default_network
            .filter(|n| !n.is_empty())
            .or(self.default_network.take());
        Ok(())
    }

    /// The log driver for a container without `--log-driver`: journald
    /// (Podman's default on systemd hosts) becomes k8s-file, with a warning.
    pub fn log_driver(&self) -> Option<&str> {
        match self.log_driver.as_deref() {
            Some("journald") => {
                tracing::warn!(
                    "containers.conf log_driver \"journald\": skiff writes no journal; using k8s-file"
                );
                None
            }
            other => other,
        }
    }
}

/// Pushes `[table] key` for each key set in `table` (at `prefix`, dotted)
/// that skiff does not honour; an empty table names nothing (Podman's
/// default file has several).
/// `text` with every line that is only a comment left empty (line numbers
/// stay those of the file), or None when there is none or the text has a
/// multi-line string, where such a line may be part of a value. Every
/// command reads containers.conf, and the one distributions install
/// (/usr/share/containers/containers.conf) is some 24 KB of comments: the
/// TOML parser then spends most of its time, twice, on them.
fn without_comment_lines(text: &str) -> Option<String> {
    if text.contains("\"\"\"") || text.contains("'''") {
        return None;
    }
    let is_comment = |l: &str| l.trim_start().starts_with('#');
    if !text.lines().any(is_comment) {
        return None;
    }
    let mut out = String::with_capacity(text.len() / 4);
    for line in text.split_inclusive('\n') {
        if is_comment(line) {
            out.push_str(if line.ends_with("\r\n") {
                "\r\n"
            } else if line.ends_with('\n') {
                "\n"
            } else {
                ""
            });
        } else {
            out.push_str(line);
        }
    }
    Some(out)
}

fn unknown_keys(table: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    let honoured = HONOURED
        .iter()
        .find(|(t, _)| *t == prefix)
        .map_or(&[][..], |(_, keys)| *keys);
    for (k, v) in table {
        if honoured.contains(&k.as_str()) {
            continue;
        }
        match v {
            toml::Value::Table(t) => {
                let sub = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                unknown_keys(t, &sub, out);
            }
            _ if prefix.is_empty() => out.push(k.clone()),
            _ => out.push(format!("[{prefix}] {k}")),
        }
    }
}

fn set(slot: &mut Vec<String>, value: Option<Vec<String>>) {
    if let Some(v) = value {
        *slot = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_lines_are_emptied_unless_a_multi_line_string_may_hold_them() {
        let text = "# head\n[containers]\n  # pids_limit = 1\npids_limit = 5 # five\r\n#\n";
        assert_eq!(
            without_comment_lines(text).as_deref(),
            Some("\n[containers]\n\npids_limit = 5 # five\r\n\n")
        );
        assert_eq!(without_comment_lines("[engine]\n"), None);
        assert_eq!(without_comment_lines("a = \"\"\"\n# x\n\"\"\"\n"), None);
    }

    fn parse(texts: &[&str]) -> Result<ContainersConf> {
        let mut c = ContainersConf::default();
        for (i, t) in texts.iter().enumerate() {
            c.merge(t, Path::new(&format!("/c/{i}.conf")))?;
        }
        Ok(c)
    }

    #[test]
    fn later_files_replace_keys_and_unsupported_keys_are_named() {
        let c = parse(&[
            "[containers]\nenv = [\"A=1\"]\ntz = \"UTC\"\nlog_size_max = 5\nunknown = {x = 1}\n[engine]\nevents_logger = \"none\"\n[machine]\ncpus = 3\n",
            "[containers]\nenv = [\"B=2\", \"C\"]\ndns_servers = [\"10.0.0.1\"]\n[network]\ndefault_rootless_network_cmd = \"slirp4netns\"\n",
        ])
        .unwrap();
        assert_eq!(c.env, ["B=2", "C"]);
        assert_eq!(c.tz.as_deref(), Some("UTC"));
        assert_eq!(c.dns_servers, ["10.0.0.1"]);
        assert_eq!(c.events_logger, Some(EventsLogger::None));
        assert_eq!(
            c.default_rootless_network_cmd.as_deref(),
            Some("slirp4netns")
        );
        assert_eq!(c.files.len(), 2);
        let named: Vec<&str> = c.unsupported.iter().map(|(_, k)| k.as_str()).collect();
        assert_eq!(named, ["[containers.unknown] x", "[machine] cpus"]);
    }

    #[test]
    fn container_keys_are_typed() {
        let c = parse(&[
            "[containers]\ndefault_capabilities = [\"chown\", \"CAP_KILL\"]\ndefault_sysctls = [\"net.ipv4.ping_group_range=0 0\"]\nshm_size = \"1k\"\numask = \"027\"\nannotations = [\"a=b=c\"]\n",
        ])
        .unwrap();
        assert_eq!(
            c.default_capabilities,
            Some(vec![
                caps::Capability::CAP_CHOWN,
                caps::Capability::CAP_KILL
            ])
        );
        assert_eq!(
            c.default_sysctls,
            [("net.ipv4.ping_group_range".to_string(), "0 0".to_string())]
        );
        assert_eq!((c.shm_size, c.umask), (Some(1024), Some(0o27)));
        assert_eq!(c.annotations, [("a".to_string(), "b=c".to_string())]);
        assert!(c.unsupported.is_empty());
    }

    #[test]
    fn errors_name_the_file_and_the_line() {
        let e = parse(&["[containers]\n\nenv = \"A=1\"\n"])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("parsing /c/0.conf: line 3: "), "{e}");
        assert!(!e.contains('\n'), "{e}");
        let e = parse(&["[containers\n"]).unwrap_err().to_string();
        assert!(e.starts_with("parsing /c/0.conf: line 1"), "{e}");
        let e = parse(&["[engine]\nevents_logger = \"syslog\"\n"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("/c/0.conf: [engine] events_logger"), "{e}");
        let e = parse(&["[containers]\ndefault_ulimits = [\"nofile\"]\n"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("default_ulimits") && e.contains("nofile"), "{e}");
        let e = parse(&["[containers]\nlog_driver = \"syslog\"\n"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("log_driver"), "{e}");
    }

    #[test]
    fn journald_log_driver_falls_back() {
        let c = parse(&["[containers]\nlog_driver = \"journald\"\n"]).unwrap();
        assert_eq!(c.log_driver(), None);
        let c = parse(&["[containers]\nlog_driver = \"none\"\n"]).unwrap();
        assert_eq!(c.log_driver(), Some("none"));
    }

    #[test]
    fn cgroup_manager_is_read_and_checked() {
        let c = parse(&["[engine]\ncgroup_manager = \"cgroupfs\"\n"]).unwrap();
        assert_eq!(c.cgroup_manager, Some(crate::cgroups::Manager::Cgroupfs));
        let c = parse(&["[engine]\ncgroup_manager = \"systemd\"\n"]).unwrap();
        assert_eq!(c.cgroup_manager, Some(crate::cgroups::Manager::Systemd));
        let e = parse(&["[engine]\ncgroup_manager = \"cgmanager\"\n"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("[engine] cgroup_manager"), "{e}");
    }
}
