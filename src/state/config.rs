//! Typed values of a container's configuration, parsed once by `create`
//! from the flags and kept in the record: mounts, rlimits, the restart
//! policy, capabilities, the stop signal, the user spec and the sd_notify
//! mode. `start`, the
//! supervisor, `stop` and `inspect` read these values and never parse a
//! flag string again. Each type renders back in the form Podman shows it
//! (`Display`), which `inspect` uses.

use std::fmt;

use caps::Capability;
use nix::sys::signal::Signal;
use oci_spec::runtime::PosixRlimitType;
use serde::{Deserialize, Serialize};

use super::{Error, Result};

/// What a user mount is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    /// A host path bound into the container (`-v /src:/dst`, `--mount type=bind`).
    Bind,
    /// A named or anonymous volume: a directory below the store's `volumes/`.
    Volume,
    /// A new tmpfs (`--tmpfs`, `--mount type=tmpfs`).
    Tmpfs,
    /// A new devpts instance (`--mount type=devpts`): its own ptys, apart
    /// from the container's /dev/pts.
    Devpts,
}

impl MountKind {
    /// The word Podman shows (`Mounts[].Type`) and `--mount type=` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            MountKind::Bind => "bind",
            MountKind::Volume => "volume",
            MountKind::Tmpfs => "tmpfs",
            MountKind::Devpts => "devpts",
        }
    }

    /// Whether the mount is a new kernel file system (tmpfs, devpts) with
    /// no source on the host: not in `HostConfig.Binds`, not shared by
    /// `--volumes-from`, nothing for `cp` to reach.
    pub fn is_new_fs(self) -> bool {
        matches!(self, MountKind::Tmpfs | MountKind::Devpts)
    }
}

/// A bind, volume or tmpfs mount as `create` resolved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    pub kind: MountKind,
    /// Absolute host path for binds and volumes (resolved at create); empty for tmpfs.
    pub source: String,
    /// Absolute path inside the container.
    pub destination: String,
    /// Options in the order given (`ro`, `z`, `U`, `size=64m`, ...), as
    /// `inspect` shows them; `mount_options` is what reaches mount(2).
    pub options: Vec<String>,
    /// `ro` was given.
    pub readonly: bool,
    /// `U`: the source is chowned to the container's user at start.
    pub chown: bool,
    /// The volume's name for kind `Volume` (`source` is then its `_data`);
    /// empty for other kinds, and for records written before volumes had
    /// records (see `volume_name`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// For kinds `Volume` and `Bind`: the part of the volume or host
    /// directory mounted instead of all of it (Kubernetes' `subPath`), a
    /// relative path resolved inside it at each start
    /// (`container::volumes::sub_path_source`). Empty for all of it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sub_path: String,
}

impl Mount {
    /// A mount of `kind` with `options` as given; `readonly` and `chown`
    /// are read from them.
    pub fn new(kind: MountKind, source: String, destination: String, options: Vec<String>) -> Self {
        Mount {
            kind,
            readonly: options.iter().any(|o| o == "ro"),
            chown: options.iter().any(|o| o == "U"),
            source,
            destination,
            options,
            name: String::new(),
            sub_path: String::new(),
        }
    }

    /// The volume a `Volume` mount names: `name`, or for older records the
    /// directory above the `_data` source. None for other kinds.
    pub fn volume_name(&self) -> Option<String> {
        if self.kind != MountKind::Volume {
            return None;
        }
        if !self.name.is_empty() {
            return Some(self.name.clone());
        }
        std::path::Path::new(&self.source)
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
    }

    /// The options for mount(2): without the SELinux relabel (`z`, `Z`) and
    /// ownership (`U`) requests, which skiff does not pass to the kernel.
    pub fn mount_options(&self) -> Vec<String> {
        self.options
            .iter()
            .filter(|o| !matches!(o.as_str(), "z" | "Z" | "U"))
            .cloned()
            .collect()
    }

    /// `HostConfig.Binds` form: `SRC:DST[:OPTS]`.
    pub fn bind_spec(&self) -> String {
        if self.options.is_empty() {
            format!("{}:{}", self.source, self.destination)
        } else {
            format!(
                "{}:{}:{}",
                self.source,
                self.destination,
                self.options.join(",")
            )
        }
    }
}

/// How a `--secret` reaches the container.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretKind {
    /// A read-only file (Podman's default, `type=mount`).
    #[default]
    Mount,
    /// An environment variable (`type=env`).
    Env,
}

/// One `--secret SECRET[,type=mount|env][,target=T][,uid=U,gid=G,mode=M]`,
/// as Podman parses it. The record keeps which secret and where it goes,
/// never the data: `start` reads that from the secret store, so `inspect`
/// cannot show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretUse {
    /// The secret's name (as given until `create` resolves it).
    pub name: String,
    /// The secret's id, set by `create` once the secret is found.
    #[serde(default)]
    pub id: String,
    pub kind: SecretKind,
    /// `Mount`: the absolute path in the container (default
    /// `/run/secrets/NAME`; a relative target goes below `/run/secrets`).
    /// `Env`: the variable's name (default the secret's name).
    pub target: String,
    /// Owner and permission bits of the mounted file (Podman's defaults:
    /// 0, 0, 0o444); unused for `Env`.
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

impl SecretUse {
    /// Parses one `--secret` value. Errors (one line naming the value): an
    /// option that is not `key=value` or not known, a second `type`, a
    /// type other than mount or env, a uid, gid or (octal) mode that is
    /// not a number, no secret named, `uid`/`gid`/`mode` with `type=env`,
    /// a target with `..` or `=` in an env name.
    pub fn parse(spec: &str) -> Result<Self> {
        let bad = |why: &str| Error::Msg(format!("invalid --secret \"{spec}\": {why}"));
        let mut parts: Vec<&str> = spec.split(',').collect();
        let mut source = "";
        if !parts[0].contains('=') {
            source = parts.remove(0);
        }
        let (mut kind, mut target, mut uid, mut gid, mut mode) = (None, "", 0, 0, 0o444);
        let mut mount_only = false;
        for p in parts {
            let (k, v) = p
                .split_once('=')
                .ok_or_else(|| bad(&format!("option \"{p}\" must be in the form option=value")))?;
            let num = |radix: u32| {
                u32::from_str_radix(v, radix)
                    .map_err(|_| bad(&format!("{k} \"{v}\" is not a number")))
            };
            match k {
                "source" => source = v,
                "type" if kind.is_some() => return Err(bad("type is given twice")),
                "type" => {
                    kind = Some(match v {
                        "mount" => SecretKind::Mount,
                        "env" => SecretKind::Env,
                        _ => return Err(bad(&format!("type \"{v}\" is not mount or env"))),
                    })
                }
                "target" => target = v,
                "uid" | "UID" => (uid, mount_only) = (num(10)?, true),
                "gid" | "GID" => (gid, mount_only) = (num(10)?, true),
                "mode" => (mode, mount_only) = (num(8)? & 0o7777, true),
                _ => return Err(bad(&format!("unknown option \"{p}\""))),
            }
        }
        if source.is_empty() {
            return Err(bad("no secret named"));
        }
        let kind = kind.unwrap_or_default();
        let target = match kind {
            SecretKind::Env if mount_only => {
                return Err(bad("uid, gid and mode cannot be set with type=env"))
            }
            SecretKind::Env if target.contains('=') => {
                return Err(bad("an environment variable's name has no '='"))
            }
            SecretKind::Env if target.is_empty() => source.to_string(),
            SecretKind::Env => target.to_string(),
            SecretKind::Mount => {
                let t = if target.is_empty() { source } else { target };
                if t.split('/').any(|c| c == "..") {
                    return Err(bad("the target has a '..' component"));
                }
                if t.starts_with('/') {
                    t.to_string()
                } else {
                    format!("/run/secrets/{t}")
                }
            }
        };
        Ok(SecretUse {
            name: source.to_string(),
            id: String::new(),
            kind,
            target,
            uid,
            gid,
            mode,
        })
    }
}

/// `--restart`, as Podman applies it when the container's process exits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Never restart (the default).
    #[default]
    No,
    /// Restart whatever the exit code.
    Always,
    /// Restart after a non-zero exit, at most `max_retries` times; 0 means
    /// no limit (Podman's `on-failure` and `on-failure:0`).
    OnFailure { max_retries: u32 },
    /// As `always` (there is no daemon restart to tell them apart).
    UnlessStopped,
}

impl RestartPolicy {
    /// Parses `no`, `always`, `on-failure[:N]` or `unless-stopped`.
    /// Errors: one line naming the value and the forms accepted.
    pub fn parse(s: &str) -> Result<Self> {
        let policy = match s.split_once(':') {
            None => match s {
                "no" => Some(RestartPolicy::No),
                "always" => Some(RestartPolicy::Always),
                "on-failure" => Some(RestartPolicy::OnFailure { max_retries: 0 }),
                "unless-stopped" => Some(RestartPolicy::UnlessStopped),
                _ => None,
            },
            Some(("on-failure", n)) => n
                .parse()
                .ok()
                .map(|max_retries| RestartPolicy::OnFailure { max_retries }),
            Some(_) => None,
        };
        policy.ok_or_else(|| {
            Error::Msg(format!(
                "invalid restart policy \"{s}\": use no, always, on-failure[:max-retries] or unless-stopped"
            ))
        })
    }

    /// `HostConfig.RestartPolicy.Name`.
    pub fn name(self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::Always => "always",
            RestartPolicy::OnFailure { .. } => "on-failure",
            RestartPolicy::UnlessStopped => "unless-stopped",
        }
    }

    /// `HostConfig.RestartPolicy.MaximumRetryCount` (0: no limit).
    pub fn max_retries(self) -> u32 {
        match self {
            RestartPolicy::OnFailure { max_retries } => max_retries,
            _ => 0,
        }
    }

    /// Whether a process that exited with `code`, after `restarts` restarts
    /// so far, is started again.
    pub fn restarts(self, code: i32, restarts: u32) -> bool {
        match self {
            RestartPolicy::No => false,
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
            RestartPolicy::OnFailure { max_retries } => {
                code != 0 && (max_retries == 0 || restarts < max_retries)
            }
        }
    }
}

/// One `--ulimit`: a resource and its soft and hard limits (`u64::MAX` is
/// unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rlimit {
    pub resource: PosixRlimitType,
    pub soft: u64,
    pub hard: u64,
}

impl Rlimit {
    /// Parses `--ulimit name=soft[:hard]` (`-1` or `unlimited` is no limit);
    /// names are getrlimit(2)'s without `RLIMIT_`, lowercase (`nofile`).
    pub fn parse(spec: &str) -> Result<Self> {
        let bad = || {
            Error::Msg(format!(
                "invalid ulimit \"{spec}\": expected name=soft[:hard]"
            ))
        };
        let (name, vals) = spec.split_once('=').ok_or_else(bad)?;
        let resource = Some(name)
            .filter(|n| !n.is_empty() && !n.chars().any(|c| c.is_ascii_uppercase()))
            .and_then(|n| format!("RLIMIT_{}", n.to_ascii_uppercase()).parse().ok())
            .ok_or_else(|| Error::Msg(format!("invalid ulimit type: {name}")))?;
        let num = |s: &str| -> Result<u64> {
            if s == "-1" || s == "unlimited" {
                Ok(u64::MAX)
            } else {
                s.parse::<u64>().map_err(|_| bad())
            }
        };
        let (soft, hard) = match vals.split_once(':') {
            Some((s, h)) => (num(s)?, num(h)?),
            None => (num(vals)?, num(vals)?),
        };
        if soft > hard {
            return Err(Error::Msg(format!(
                "invalid ulimit \"{spec}\": soft limit is above the hard limit"
            )));
        }
        Ok(Rlimit {
            resource,
            soft,
            hard,
        })
    }

    /// The short name: `nofile` for `RLIMIT_NOFILE`.
    pub fn name(&self) -> String {
        let full = self.resource.to_string();
        full.trim_start_matches("RLIMIT_").to_ascii_lowercase()
    }
}

/// `name=soft[:hard]`, `-1` for unlimited, the hard limit only when it
/// differs: the `--ulimit` form `inspect` shows in `HostConfig.Ulimits`.
impl fmt::Display for Rlimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = |v: u64| {
            if v == u64::MAX {
                "-1".to_string()
            } else {
                v.to_string()
            }
        };
        write!(f, "{}={}", self.name(), n(self.soft))?;
        if self.hard != self.soft {
            write!(f, ":{}", n(self.hard))?;
        }
        Ok(())
    }
}

/// The capabilities of a container: what the user asked for (shown by
/// `inspect` as given) and the set it resolved to at create (Podman's
/// defaults, or all with `--privileged`, less the drops, plus the adds).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// `--cap-add` as given.
    pub add: Vec<String>,
    /// `--cap-drop` as given.
    pub drop: Vec<String>,
    /// The bounding set the container's processes get, ordered by number.
    pub effective: Vec<Capability>,
}

impl Capabilities {
    /// The effective set as names (`CAP_CHOWN`), as seccomp profiles match them.
    pub fn names(&self) -> Vec<String> {
        self.effective.iter().map(|c| c.to_string()).collect()
    }
}

/// `--sdnotify`: who tells systemd (when `NOTIFY_SOCKET` is set) that the
/// container is ready, as Podman's modes (Podman 5's default: `container`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SdNotify {
    /// The supervisor sends `MAINPID` and `READY=1` once the process runs.
    Conmon,
    /// The supervisor sends `MAINPID`; the container sends `READY=1`
    /// through the socket mounted at /run/notify/notify.sock.
    #[default]
    Container,
    /// The supervisor sends `MAINPID` once the process runs and `READY=1`
    /// when the first healthcheck passes (Podman's `healthy`; the
    /// container needs a healthcheck, and never sees the socket).
    Healthy,
    /// Nothing is sent.
    Ignore,
}

impl SdNotify {
    /// Parses `conmon`, `container`, `healthy` or `ignore`. Whether a
    /// `healthy` container has a healthcheck is `create`'s to check.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "conmon" => Ok(SdNotify::Conmon),
            "container" => Ok(SdNotify::Container),
            "healthy" => Ok(SdNotify::Healthy),
            "ignore" => Ok(SdNotify::Ignore),
            _ => Err(Error::Msg(format!(
                "invalid --sdnotify \"{s}\": use conmon, container, healthy or ignore"
            ))),
        }
    }
}

/// `--user` or the image's `USER`: a user name or uid and an optional group
/// name or gid. Resolved against the container's own /etc/passwd and
/// /etc/group when its process starts, as Podman does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSpec {
    /// Name or uid; empty means root.
    pub user: String,
    /// Name or gid; None takes the user's primary group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

impl UserSpec {
    /// Parses `name|uid[:group|gid]` ("" is root). An empty group is no group.
    pub fn parse(s: &str) -> Result<Self> {
        let (user, group) = match s.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (s, None),
        };
        if group.is_some_and(|g| g.contains(':')) {
            return Err(Error::Msg(format!(
                "invalid user \"{s}\": expected name|uid[:group|gid]"
            )));
        }
        Ok(UserSpec {
            user: user.to_string(),
            group: group.filter(|g| !g.is_empty()).map(String::from),
        })
    }
}

/// `user[:group]`, as `Config.User` shows it.
impl fmt::Display for UserSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.user)?;
        if let Some(g) = &self.group {
            write!(f, ":{g}")?;
        }
        Ok(())
    }
}

/// Serde for an optional signal as its name (`SIGTERM`); absent is None.
pub mod signal_name {
    use super::*;

    pub fn serialize<S: serde::Serializer>(v: &Option<Signal>, s: S) -> Result<S::Ok, S::Error> {
        v.map(Signal::as_str).serialize(s)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Signal>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(n) if n.is_empty() => Ok(None),
            Some(n) => n
                .parse()
                .map(Some)
                .map_err(|_| serde::de::Error::custom(format!("unknown signal {n}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies_parse_and_render() {
        for (s, name, max) in [
            ("no", "no", 0),
            ("always", "always", 0),
            ("on-failure", "on-failure", 0),
            ("on-failure:3", "on-failure", 3),
            ("unless-stopped", "unless-stopped", 0),
        ] {
            let p = RestartPolicy::parse(s).unwrap();
            assert_eq!((p.name(), p.max_retries()), (name, max), "{s}");
        }
        for bad in ["sometimes", "on-failure:x", "on-failure:-1", "always:2", ""] {
            let e = RestartPolicy::parse(bad).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("invalid restart policy \"{bad}\"")),
                "{e}"
            );
        }
    }

    #[test]
    fn restart_decisions() {
        let p = |s| RestartPolicy::parse(s).unwrap();
        assert!(!p("no").restarts(1, 0));
        assert!(p("always").restarts(0, 100));
        assert!(p("unless-stopped").restarts(0, 0));
        assert!(!p("on-failure").restarts(0, 0));
        assert!(p("on-failure").restarts(1, 1000), "no limit");
        assert!(
            p("on-failure:0").restarts(1, 1000),
            "0 is no limit, as Podman"
        );
        assert!(p("on-failure:2").restarts(1, 1));
        assert!(!p("on-failure:2").restarts(1, 2));
    }

    #[test]
    fn rlimits_parse_and_render() {
        let r = Rlimit::parse("nofile=100:200").unwrap();
        assert_eq!(
            r,
            Rlimit {
                resource: PosixRlimitType::RlimitNofile,
                soft: 100,
                hard: 200
            }
        );
        assert_eq!(r.to_string(), "nofile=100:200");
        assert_eq!(Rlimit::parse("core=-1").unwrap().soft, u64::MAX);
        assert_eq!(Rlimit::parse("core=-1").unwrap().to_string(), "core=-1");
        assert_eq!(Rlimit::parse("nproc=5").unwrap().to_string(), "nproc=5");
        assert_eq!(
            Rlimit::parse("as=unlimited").unwrap().resource,
            PosixRlimitType::RlimitAs
        );
        assert!(Rlimit::parse("nofile").is_err());
        assert!(Rlimit::parse("nofile=x").is_err());
        assert!(Rlimit::parse("nofile=200:100").is_err());
        assert_eq!(
            Rlimit::parse("bogus=1").unwrap_err().to_string(),
            "invalid ulimit type: bogus"
        );
        assert!(Rlimit::parse("NOFILE=1").is_err(), "names are lowercase");
        assert!(Rlimit::parse("=1").is_err());
    }

    #[test]
    fn sdnotify_modes() {
        assert_eq!(SdNotify::parse("conmon").unwrap(), SdNotify::Conmon);
        assert_eq!(SdNotify::parse("container").unwrap(), SdNotify::Container);
        assert_eq!(SdNotify::parse("ignore").unwrap(), SdNotify::Ignore);
        assert_eq!(
            SdNotify::default(),
            SdNotify::Container,
            "Podman 5's default"
        );
        assert_eq!(SdNotify::parse("healthy").unwrap(), SdNotify::Healthy);
        let e = SdNotify::parse("systemd").unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid --sdnotify \"systemd\": use conmon, container, healthy or ignore"
        );
        assert_eq!(
            serde_json::to_string(&SdNotify::Container).unwrap(),
            "\"container\""
        );
    }

    #[test]
    fn user_specs() {
        let u = UserSpec::parse("web:staff").unwrap();
        assert_eq!(
            (u.user.as_str(), u.group.as_deref()),
            ("web", Some("staff"))
        );
        assert_eq!(u.to_string(), "web:staff");
        assert_eq!(UserSpec::parse("1000").unwrap().to_string(), "1000");
        assert_eq!(UserSpec::parse("").unwrap(), UserSpec::default());
        assert_eq!(UserSpec::parse("u:").unwrap().group, None);
        assert!(UserSpec::parse("a:b:c").is_err());
        assert_eq!(UserSpec::parse(":g").unwrap().to_string(), ":g");
    }

    #[test]
    fn mounts_split_their_options() {
        let m = Mount::new(
            MountKind::Bind,
            "/a".into(),
            "/b".into(),
            vec!["ro".into(), "z".into(), "U".into()],
        );
        assert!(m.readonly && m.chown);
        assert_eq!(m.mount_options(), vec!["ro"]);
        assert_eq!(m.bind_spec(), "/a:/b:ro,z,U");
        let m = Mount::new(MountKind::Volume, "/v".into(), "/d".into(), vec![]);
        assert!(!m.readonly && !m.chown);
        assert_eq!(m.bind_spec(), "/v:/d");
    }

    #[test]
    fn secrets_parse_as_podman() {
        let p = |s| SecretUse::parse(s).unwrap();
        let d = p("db");
        assert_eq!(
            (
                d.name.as_str(),
                d.kind,
                d.target.as_str(),
                d.uid,
                d.gid,
                d.mode
            ),
            ("db", SecretKind::Mount, "/run/secrets/db", 0, 0, 0o444)
        );
        let m = p("db,target=pw,uid=1000,gid=100,mode=0400");
        assert_eq!(
            (m.target.as_str(), m.uid, m.gid, m.mode),
            ("/run/secrets/pw", 1000, 100, 0o400)
        );
        assert_eq!(p("db,target=/etc/pw").target, "/etc/pw");
        assert_eq!(p("source=db,type=mount").name, "db");
        let e = p("db,type=env");
        assert_eq!((e.kind, e.target.as_str()), (SecretKind::Env, "db"));
        assert_eq!(p("db,type=env,target=DB_PASS").target, "DB_PASS");
        for (bad, why) in [
            ("db,type=env,mode=0400", "type=env"),
            ("db,type=file", "\"file\""),
            ("db,type=env,type=mount", "twice"),
            ("db,colour=red", "colour=red"),
            ("db,target", "option=value"),
            ("db,mode=9", "mode"),
            ("db,uid=x", "uid"),
            ("type=env", "no secret"),
            ("db,target=../x", ".."),
            ("db,type=env,target=A=B", "'='"),
        ] {
            let e = SecretUse::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad) && e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn signals_are_kept_by_name() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct S {
            #[serde(default, with = "signal_name")]
            sig: Option<Signal>,
        }
        let v = S {
            sig: Some(Signal::SIGUSR1),
        };
        let text = serde_json::to_string(&v).unwrap();
        assert_eq!(text, r#"{"sig":"SIGUSR1"}"#);
        assert_eq!(serde_json::from_str::<S>(&text).unwrap(), v);
        assert_eq!(serde_json::from_str::<S>("{}").unwrap().sig, None);
        assert_eq!(
            serde_json::from_str::<S>(r#"{"sig":""}"#).unwrap().sig,
            None
        );
        assert!(serde_json::from_str::<S>(r#"{"sig":"SIGNOPE"}"#).is_err());
    }
}
