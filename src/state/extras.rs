//! The settings of the `run`/`create` flags that shape a container's
//! process and namespaces beyond the core set (`--init`, `--pid`, `--ipc`,
//! `--uts`, `--userns`, `--group-add`, `--sysctl`, `--shm-size`, `--umask`,
//! `--annotation`, `--device`), typed once by the CLI and kept in the
//! record as they are.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where a container's pid, ipc or uts namespace comes from (`--pid`,
/// `--ipc`, `--uts`, Podman's values).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NsMode {
    /// A new namespace of its own (`private`, the default).
    #[default]
    Private,
    /// The namespace skiff runs in (`host`).
    Host,
    /// The namespace of another container, by full id (`container:NAME`),
    /// joined through its init's `/proc/PID/ns/` file at start.
    Container(String),
    /// A namespace file (`ns:PATH`), joined at start.
    Path(PathBuf),
}

impl NsMode {
    /// Parses a flag value; a `container:` name is kept as given (the
    /// caller resolves it to an id). Errors name the flag.
    pub fn parse(flag: &str, v: &str) -> Result<NsMode, String> {
        match v {
            "" | "private" => Ok(NsMode::Private),
            "host" => Ok(NsMode::Host),
            _ => {
                if let Some(name) = v.strip_prefix("container:").filter(|n| !n.is_empty()) {
                    return Ok(NsMode::Container(name.to_string()));
                }
                if let Some(p) = v.strip_prefix("ns:").filter(|p| p.starts_with('/')) {
                    return Ok(NsMode::Path(PathBuf::from(p)));
                }
                Err(format!(
                    "--{flag} {v}: invalid namespace mode: use private, host, container:NAME or ns:PATH"
                ))
            }
        }
    }

    /// Podman's `HostConfig.PidMode`/`IpcMode`/`UTSMode` text.
    pub fn inspect(&self) -> String {
        match self {
            NsMode::Private => "private".into(),
            NsMode::Host => "host".into(),
            NsMode::Container(id) => format!("container:{id}"),
            NsMode::Path(p) => format!("ns:{}", p.display()),
        }
    }

    pub fn is_private(&self) -> bool {
        *self == NsMode::Private
    }
}

/// The user namespace a container runs in (`--userns`, Podman's values
/// that skiff supports).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UsernsMode {
    /// skiff's one rootless user namespace, shared by every container
    /// (`host`, or the flag not given): container uid 0 is the user.
    #[default]
    Host,
    /// A user namespace of its own, nested in skiff's, in which container
    /// uid `uid` (default: the user's own uid) is the user on the host and
    /// gid `gid` (default: the user's gid) the user's group; the other ids
    /// come from the subordinate ranges (`keep-id[:uid=U,gid=G,size=N]`).
    /// The process runs as `uid:gid` unless `--user` says otherwise.
    KeepId {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uid: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gid: Option<u32>,
        /// How many ids the namespace maps (default: all skiff has).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size: Option<u32>,
    },
    /// A user namespace of its own that maps the subordinate ids only:
    /// the user's own uid and gid are not in it (`nomap`).
    NoMap,
    /// A user namespace of its own with the maps the user gave
    /// (`--uidmap`, `--gidmap`, `--subuidname`, `--subgidname`, read by
    /// `runtime::usermap`): `inside` a container id, `outside` an id of
    /// skiff's namespace (0 the user, 1.. the subordinate ids), checked
    /// against it when the container was made. Podman's mode `private`.
    Private {
        uids: Vec<crate::runtime::idmap::IdMap>,
        gids: Vec<crate::runtime::idmap::IdMap>,
    },
}

impl UsernsMode {
    /// Parses a `--userns` value (or containers.conf's `userns`). `auto`
    /// and `ns:PATH` are refused as not supported; errors name the value.
    pub fn parse(v: &str) -> Result<UsernsMode, String> {
        let unsupported = |why: &str| Err(format!("--userns {v}: not supported: {why}"));
        match v {
            "" | "host" => return Ok(UsernsMode::Host),
            "nomap" => return Ok(UsernsMode::NoMap),
            "keep-id" => {
                return Ok(UsernsMode::KeepId {
                    uid: None,
                    gid: None,
                    size: None,
                })
            }
            "auto" => return unsupported(
                "skiff has one range of subordinate ids and does not split it between containers",
            ),
            _ => {}
        }
        if v.starts_with("auto:") {
            return unsupported(
                "skiff has one range of subordinate ids and does not split it between containers",
            );
        }
        if v.starts_with("ns:") {
            return unsupported("a user namespace is not joined by path");
        }
        let Some(opts) = v.strip_prefix("keep-id:") else {
            return Err(format!(
                "--userns {v}: invalid user namespace mode: use host, keep-id[:uid=U,gid=G,size=N] or nomap"
            ));
        };
        let (mut uid, mut gid, mut size) = (None, None, None);
        for opt in opts.split(',') {
            let (key, value) = opt.split_once('=').unwrap_or((opt, ""));
            let slot = match key {
                "uid" => &mut uid,
                "gid" => &mut gid,
                "size" => &mut size,
                _ => {
                    return Err(format!(
                        "--userns {v}: unknown keep-id option {key:?}: use uid=U, gid=G or size=N"
                    ))
                }
            };
            let n = value
                .parse::<u32>()
                .ok()
                .filter(|n| key != "size" || *n > 0)
                .ok_or_else(|| {
                    format!("--userns {v}: invalid {key} {value:?}: expected a number")
                })?;
            *slot = Some(n);
        }
        Ok(UsernsMode::KeepId { uid, gid, size })
    }

    /// Podman's `HostConfig.UsernsMode` text: "" for skiff's own namespace
    /// (Podman's rootless default), else the mode as given.
    pub fn inspect(&self) -> String {
        match self {
            UsernsMode::Host => String::new(),
            UsernsMode::NoMap => "nomap".into(),
            UsernsMode::Private { .. } => "private".into(),
            UsernsMode::KeepId { uid, gid, size } => {
                let opts: Vec<String> = [("uid", uid), ("gid", gid), ("size", size)]
                    .into_iter()
                    .filter_map(|(k, v)| v.map(|v| format!("{k}={v}")))
                    .collect();
                if opts.is_empty() {
                    "keep-id".into()
                } else {
                    format!("keep-id:{}", opts.join(","))
                }
            }
        }
    }

    pub fn is_host(&self) -> bool {
        *self == UsernsMode::Host
    }

    /// How the user asked for the mode, for errors: `--userns MODE`, or
    /// `--uidmap/--gidmap` for maps of their own.
    pub fn asked(&self) -> String {
        match self {
            UsernsMode::Private { .. } => "--uidmap/--gidmap".into(),
            _ => format!("--userns {}", self.inspect()),
        }
    }

    /// Podman's `HostConfig.IDMappings` (`UidMap`, `GidMap`: each range
    /// `CONTAINER_ID:FROM_ID:AMOUNT`, FROM_ID an id of skiff's namespace)
    /// for maps the user gave; None otherwise (Podman leaves it out).
    pub fn id_mappings(&self) -> Option<(Vec<String>, Vec<String>)> {
        let UsernsMode::Private { uids, gids } = self else {
            return None;
        };
        let text = |m: &[crate::runtime::idmap::IdMap]| {
            m.iter()
                .map(|r| format!("{}:{}:{}", r.inside, r.outside, r.count))
                .collect()
        };
        Some((text(uids), text(gids)))
    }
}

/// A host device given to the container with `--device HOST[:CTR][:PERMS]`:
/// bind-mounted (a rootless container cannot make device nodes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// The device node on the host (absolute).
    pub host: PathBuf,
    /// Where it appears in the container (absolute).
    pub container: String,
    /// `r`, `w`, `m` letters as given (`rwm` when none); without `w` the
    /// bind is read-only.
    pub perms: String,
}

/// What containers.conf's `[containers]` `pidns`, `ipcns`, `utsns`,
/// `cgroupns` and `devices` give a container that no flag overrides,
/// parsed and checked once at the edge (`cli::run_flags::conf_defaults`):
/// `run`/`create` lay their flags over them, `kube play` takes them for
/// the namespaces its pods do not share (Podman's
/// `GetDefaultNamespaceMode`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfDefaults {
    pub pid: NsMode,
    pub ipc: NsMode,
    pub uts: NsMode,
    /// `cgroupns = "host"`.
    pub cgroupns_host: bool,
    /// The devices, each host node checked as `--device` checks it.
    pub devices: Vec<Device>,
}

/// What the flags of this module ask of a container; every field's default
/// is "flag not given".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extras {
    /// `--init`: catatonit runs as pid 1 and starts the command.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub init: bool,
    /// `--pid`.
    #[serde(default, skip_serializing_if = "NsMode::is_private")]
    pub pid: NsMode,
    /// `--ipc`.
    #[serde(default, skip_serializing_if = "NsMode::is_private")]
    pub ipc: NsMode,
    /// `--uts`.
    #[serde(default, skip_serializing_if = "NsMode::is_private")]
    pub uts: NsMode,
    /// `--userns`.
    #[serde(default, skip_serializing_if = "UsernsMode::is_host")]
    pub userns: UsernsMode,
    /// `--hostuser`: host users (names or uids) whose /etc/passwd lines
    /// go into the container's, as Podman's (`runtime::user::host_user_lines`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hostusers: Vec<String>,
    /// `--passwd-entry`: the template of the /etc/passwd lines skiff adds
    /// (`runtime::user::passwd_line`), as Podman's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passwd_entry: Option<String>,
    /// `--group-add` gids, added to the process's supplementary groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<u32>,
    /// `--group-add` group names, looked up in the container's /etc/group
    /// when it starts (as Podman), added after `group_add`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_add_names: Vec<String>,
    /// `--group-add keep-groups`: the process keeps the supplementary
    /// groups of the user who runs skiff (crun's
    /// `run.oci.keep_original_groups`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_groups: bool,
    /// `--sysctl` name (dotted) to value, written in the container's
    /// namespaces before its root filesystem is set up.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: BTreeMap<String, String>,
    /// `--shm-size` in bytes (None: Podman's 64 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<u64>,
    /// `--umask` (None: 0022).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub umask: Option<u32>,
    /// `--annotation`s.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// `--device`s.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<Device>,
}

/// The init `--init` runs as the container's pid 1 (Podman's default
/// `init_path`), bind-mounted read-only at [`INIT_IN_CONTAINER`].
pub const CATATONIT: &str = "/usr/bin/catatonit";

/// Where the init appears in the container, as in Podman.
pub const INIT_IN_CONTAINER: &str = "/run/podman-init";

/// Podman's default `/dev/shm` size: 64 MiB.
pub const DEFAULT_SHM_SIZE: u64 = 64 << 20;

/// Podman's default umask.
pub const DEFAULT_UMASK: u32 = 0o022;

/// The namespaced sysctls Podman accepts (`pkg/util.ValidateSysctls`):
/// `kernel.msg*`, `kernel.shm*`, `kernel.sem`, `fs.mqueue.*` (the ipc
/// namespace's) and `net.*` (the network namespace's). With the host's
/// namespace of that kind they are refused, as in Podman.
pub fn check_sysctl(name: &str, ipc_host: bool, net_host: bool) -> Result<(), String> {
    // Each dotted part names a file under /proc/sys: no way out of it.
    if name
        .split('.')
        .any(|p| p.is_empty() || p.contains(['/', '\0']))
    {
        return Err(format!("--sysctl {name}: invalid sysctl name"));
    }
    let ipc = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
    ]
    .contains(&name)
        || name.starts_with("kernel.shm")
        || name.starts_with("fs.mqueue.");
    if ipc {
        if ipc_host {
            return Err(format!(
                "--sysctl {name}: sysctl not allowed with --ipc host: it would change the host's"
            ));
        }
        return Ok(());
    }
    if name.starts_with("net.") && name.len() > 4 {
        if net_host {
            return Err(format!(
                "--sysctl {name}: sysctl not allowed with --network host: it would change the host's"
            ));
        }
        return Ok(());
    }
    Err(format!(
        "--sysctl {name}: sysctl is not allowed: only the namespaced kernel.msg*, kernel.shm*, kernel.sem, fs.mqueue.* and net.* are"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_modes() {
        assert_eq!(NsMode::parse("pid", "").unwrap(), NsMode::Private);
        assert_eq!(NsMode::parse("pid", "host").unwrap(), NsMode::Host);
        assert_eq!(
            NsMode::parse("ipc", "container:web").unwrap(),
            NsMode::Container("web".into())
        );
        assert_eq!(
            NsMode::parse("uts", "ns:/proc/1/ns/uts").unwrap(),
            NsMode::Path("/proc/1/ns/uts".into())
        );
        assert!(NsMode::parse("pid", "ns:relative").is_err());
        assert!(NsMode::parse("pid", "container:").is_err());
        assert!(NsMode::parse("pid", "bogus").is_err());
    }

    #[test]
    fn parses_userns_modes() {
        assert_eq!(UsernsMode::parse("").unwrap(), UsernsMode::Host);
        assert_eq!(UsernsMode::parse("host").unwrap(), UsernsMode::Host);
        assert_eq!(UsernsMode::parse("nomap").unwrap(), UsernsMode::NoMap);
        let k = UsernsMode::parse("keep-id").unwrap();
        assert_eq!(k.inspect(), "keep-id");
        let k = UsernsMode::parse("keep-id:uid=200,gid=300").unwrap();
        assert_eq!(
            k,
            UsernsMode::KeepId {
                uid: Some(200),
                gid: Some(300),
                size: None
            }
        );
        assert_eq!(k.inspect(), "keep-id:uid=200,gid=300");
        for bad in [
            "keep-id:uid=abc",
            "keep-id:uid=",
            "keep-id:size=0",
            "keep-id:color=1",
            "bogus",
            "auto",
            "auto:size=10",
            "ns:/proc/1/ns/user",
        ] {
            let e = UsernsMode::parse(bad).unwrap_err();
            assert!(e.starts_with(&format!("--userns {bad}: ")), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
        assert!(UsernsMode::parse("auto")
            .unwrap_err()
            .contains("not supported"));
    }

    #[test]
    fn private_maps_as_podman_shows_them_and_kept_in_the_record() {
        use crate::runtime::idmap::IdMap;
        let m = UsernsMode::Private {
            uids: vec![IdMap {
                inside: 0,
                outside: 1,
                count: 1000,
            }],
            gids: vec![
                IdMap {
                    inside: 0,
                    outside: 1,
                    count: 10,
                },
                IdMap {
                    inside: 10,
                    outside: 0,
                    count: 1,
                },
            ],
        };
        assert_eq!(m.inspect(), "private");
        assert_eq!(m.asked(), "--uidmap/--gidmap");
        assert_eq!(UsernsMode::NoMap.asked(), "--userns nomap");
        assert_eq!(
            m.id_mappings(),
            Some((
                vec!["0:1:1000".to_string()],
                vec!["0:1:10".to_string(), "10:0:1".to_string()]
            ))
        );
        assert_eq!(UsernsMode::Host.id_mappings(), None);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<UsernsMode>(&json).unwrap(), m);
    }

    #[test]
    fn sysctls_as_podman_validates_them() {
        assert!(check_sysctl("net.ipv4.ip_forward", false, false).is_ok());
        assert!(check_sysctl("kernel.msgmax", false, false).is_ok());
        assert!(check_sysctl("kernel.shmmax", false, false).is_ok());
        assert!(check_sysctl("kernel.sem", false, false).is_ok());
        assert!(check_sysctl("kernel.hostname", false, false).is_err());
        assert!(check_sysctl("vm.swappiness", false, false).is_err());
        assert!(check_sysctl("net.ipv4.ip_forward", false, true).is_err());
        assert!(check_sysctl("kernel.shmmax", true, false).is_err());
        assert!(check_sysctl("net./../../kernel/core_pattern", false, false).is_err());
        assert!(check_sysctl("net..ipv4", false, false).is_err());
    }
}
