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
//! Keys skiff does not use are ignored, as Podman ignores unknown keys; a
//! key skiff uses with a value of the wrong type, or a value it cannot
//! honour, is an error naming the file.

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
    /// `[network] default_rootless_network_cmd`: `pasta` or `slirp4netns`,
    /// the mode of a rootless container without `--network`.
    pub default_rootless_network_cmd: Option<String>,
    /// `[network] default_network`: the network `--network bridge` joins
    /// (Podman's `podman`).
    pub default_network: Option<String>,
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
}

#[derive(Deserialize, Default)]
struct RawEngine {
    events_logger: Option<String>,
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
        Ok(conf)
    }

    /// Merges one file's text over what was read before.
    pub fn merge(&mut self, text: &str, path: &Path) -> Result<()> {
        let raw: Raw = toml::from_str(text).map_err(|e| toml_error(path, text, &e))?;
        self.files.push(path.to_path_buf());
        let c = raw.containers;
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
        self.log_driver = c.log_driver.or(self.log_driver.take());
        self.tz = c.tz.or(self.tz.take());
        self.events_logger = events.or(self.events_logger);
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

fn set(slot: &mut Vec<String>, value: Option<Vec<String>>) {
    if let Some(v) = value {
        *slot = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(texts: &[&str]) -> Result<ContainersConf> {
        let mut c = ContainersConf::default();
        for (i, t) in texts.iter().enumerate() {
            c.merge(t, Path::new(&format!("/c/{i}.conf")))?;
        }
        Ok(c)
    }

    #[test]
    fn later_files_replace_keys_and_unknown_keys_are_ignored() {
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
}
