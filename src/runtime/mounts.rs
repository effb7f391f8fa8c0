//! Mount specifications: parsing `-v`, `--tmpfs` and `--mount` as Podman
//! accepts them, and turning mount option strings into flags and data.
//! Pure functions only; `process.rs` performs the mounts.

use nix::mount::MsFlags;

use super::{Error, Result};
use crate::state::config::{Mount, MountKind};

/// Options Podman gives a `--tmpfs` mount when none are given.
const TMPFS_DEFAULT: &[&str] = &["rw", "noexec", "nosuid", "nodev"];
/// Options of a `--mount type=devpts` before the user's: a new instance,
/// as the container's own /dev/pts is (later `mode=`/`ptmxmode=` win).
const DEVPTS_DEFAULT: &[&str] = &[
    "nosuid",
    "noexec",
    "newinstance",
    "ptmxmode=0666",
    "mode=0620",
];

fn check_dest(dest: &str) -> Result<()> {
    if !dest.starts_with('/') {
        return Err(Error::Msg(format!(
            "invalid container path \"{dest}\", must be an absolute path"
        )));
    }
    Ok(())
}

fn check_option(opt: &str, spec: &str) -> Result<()> {
    const KNOWN: &[&str] = &[
        "ro",
        "rw",
        "z",
        "Z",
        "U",
        "nosuid",
        "suid",
        "nodev",
        "dev",
        "noexec",
        "exec",
        "bind",
        "rbind",
        "private",
        "rprivate",
        "shared",
        "rshared",
        "slave",
        "rslave",
        "unbindable",
        "runbindable",
        "noatime",
        "relatime",
        "strictatime",
        "copy",
        "nocopy",
    ];
    if KNOWN.contains(&opt) {
        Ok(())
    } else if opt == "idmap" || opt.starts_with("idmap=") {
        Err(idmap_refused(spec))
    } else {
        Err(Error::Msg(format!(
            "invalid option \"{opt}\" in volume \"{spec}\""
        )))
    }
}

/// `idmap` (Podman's idmapped mounts): mount_setattr(MOUNT_ATTR_IDMAP)
/// needs CAP_SYS_ADMIN over the file system's own user namespace, which a
/// rootless user never has for host directories, so it is refused whole.
fn idmap_refused(spec: &str) -> Error {
    Error::Msg(format!(
        "mount \"{spec}\": idmap needs an idmapped mount, which the kernel allows only to a privileged user; rootless skiff maps ids through its user namespace instead"
    ))
}

/// Parses `-v SRC:DEST[:OPTS]`. A source that is not a path is a named volume
/// (kind `Volume`, its name as source until `create` resolves it).
pub fn parse_volume(spec: &str) -> Result<Mount> {
    let parts: Vec<&str> = spec.split(':').collect();
    let bad = || Error::Msg(format!("invalid volume specification: \"{spec}\""));
    let (src, dest, opts) = match parts.as_slice() {
        [dest] if !dest.is_empty() => ("", *dest, ""),
        [src, dest] => (*src, *dest, ""),
        [src, dest, opts] => (*src, *dest, *opts),
        _ => return Err(bad()),
    };
    if dest.is_empty() || (parts.len() > 1 && src.is_empty()) {
        return Err(bad());
    }
    check_dest(dest)?;
    let options: Vec<String> = if opts.is_empty() {
        Vec::new()
    } else {
        opts.split(',').map(String::from).collect()
    };
    for o in &options {
        check_option(o, spec)?;
    }
    let kind = if src.is_empty() || !(src.starts_with('/') || src.starts_with('.')) {
        MountKind::Volume
    } else {
        MountKind::Bind
    };
    Ok(Mount::new(kind, src.into(), dest.into(), options))
}

/// Parses `--tmpfs DEST[:OPTS]`.
pub fn parse_tmpfs(spec: &str) -> Result<Mount> {
    let (dest, opts) = spec.split_once(':').unwrap_or((spec, ""));
    if dest.is_empty() {
        return Err(Error::Msg(format!(
            "invalid tmpfs specification: \"{spec}\""
        )));
    }
    check_dest(dest)?;
    let mut options: Vec<String> = TMPFS_DEFAULT.iter().map(|s| s.to_string()).collect();
    if !opts.is_empty() {
        for o in opts.split(',') {
            let known = matches!(
                o,
                "ro" | "rw"
                    | "exec"
                    | "noexec"
                    | "suid"
                    | "nosuid"
                    | "dev"
                    | "nodev"
                    | "tmpcopyup"
                    | "notmpcopyup"
            ) || o.strip_prefix("size=").is_some_and(valid_size)
                || o.strip_prefix("mode=")
                    .is_some_and(|m| u32::from_str_radix(m, 8).is_ok())
                || o.strip_prefix("uid=")
                    .is_some_and(|n| n.parse::<u32>().is_ok())
                || o.strip_prefix("gid=")
                    .is_some_and(|n| n.parse::<u32>().is_ok())
                || o.strip_prefix("nr_inodes=").is_some_and(valid_size);
            if !known {
                return Err(Error::Msg(format!(
                    "invalid option \"{o}\" in tmpfs \"{spec}\""
                )));
            }
            options.push(o.to_string());
        }
    }
    Ok(Mount::new(
        MountKind::Tmpfs,
        String::new(),
        dest.into(),
        options,
    ))
}

/// A tmpfs size: a number with an optional k, m, g suffix, or a percentage.
fn valid_size(v: &str) -> bool {
    let digits = v.trim_end_matches(['k', 'K', 'm', 'M', 'g', 'G', '%']);
    !digits.is_empty() && digits.len() + 1 >= v.len() && digits.parse::<u64>().is_ok()
}

/// Parses `--mount type=bind|tmpfs|volume,source=...,destination=...[,ro]`.
pub fn parse_mount(spec: &str) -> Result<Mount> {
    let mut kind = None;
    let mut source = String::new();
    let mut dest = String::new();
    let mut options = Vec::new();
    for field in spec.split(',') {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (field, None),
        };
        match (k, v) {
            ("type", Some(t)) => kind = Some(t.to_string()),
            ("source" | "src", Some(s)) => source = s.to_string(),
            ("destination" | "dst" | "target", Some(d)) => dest = d.to_string(),
            ("ro" | "readonly", None) => options.push("ro".into()),
            ("ro" | "readonly", Some("true" | "1")) => options.push("ro".into()),
            ("ro" | "readonly", Some("false" | "0")) => options.push("rw".into()),
            ("bind-propagation", Some(p)) => options.push(p.to_string()),
            ("tmpfs-size", Some(s)) if valid_size(s) => options.push(format!("size={s}")),
            ("tmpfs-mode", Some(m)) if u32::from_str_radix(m, 8).is_ok() => {
                options.push(format!("mode={m}"))
            }
            ("relabel" | "z" | "Z" | "U" | "nosuid" | "nodev" | "noexec", _) => {
                options.push(k.to_string())
            }
            // devpts: the owner, mode and size of the new instance's ptys.
            ("uid" | "gid" | "max", Some(n)) if n.parse::<u32>().is_ok() => {
                options.push(field.to_string())
            }
            ("mode" | "ptmxmode", Some(m)) if u32::from_str_radix(m, 8).is_ok() => {
                options.push(field.to_string())
            }
            ("idmap", _) => return Err(idmap_refused(spec)),
            _ => {
                return Err(Error::Msg(format!(
                    "invalid field \"{field}\" in mount \"{spec}\""
                )))
            }
        }
    }
    let kind = kind.ok_or_else(|| Error::Msg(format!("mount \"{spec}\": type is required")))?;
    let kind = match kind.as_str() {
        "bind" => MountKind::Bind,
        "tmpfs" => MountKind::Tmpfs,
        "volume" => MountKind::Volume,
        "devpts" => MountKind::Devpts,
        _ => {
            return Err(Error::Msg(format!(
                "mount \"{spec}\": unsupported type \"{kind}\" (bind, tmpfs, volume, devpts)"
            )))
        }
    };
    // Keys that belong to one type only, as Podman checks them.
    let only = |keys: &[&str], kinds: &[MountKind]| {
        options
            .iter()
            .map(|o| o.split('=').next().unwrap_or(""))
            .find(|k| keys.contains(k) && !kinds.contains(&kind))
            .map(|k| Error::Msg(format!("invalid field \"{k}\" in mount \"{spec}\"")))
    };
    if let Some(e) = only(&["uid", "gid", "max", "ptmxmode"], &[MountKind::Devpts])
        .or_else(|| only(&["mode"], &[MountKind::Devpts, MountKind::Tmpfs]))
        .or_else(|| only(&["size"], &[MountKind::Tmpfs]))
    {
        return Err(e);
    }
    if dest.is_empty() {
        return Err(Error::Msg(format!(
            "mount \"{spec}\": destination is required"
        )));
    }
    check_dest(&dest)?;
    if !kind.is_new_fs() && source.is_empty() {
        return Err(Error::Msg(format!("mount \"{spec}\": source is required")));
    }
    let defaults = match kind {
        MountKind::Tmpfs => TMPFS_DEFAULT,
        MountKind::Devpts => DEVPTS_DEFAULT,
        _ => &[],
    };
    if !defaults.is_empty() {
        let mut o: Vec<String> = defaults.iter().map(|s| s.to_string()).collect();
        o.extend(options);
        options = o;
    }
    Ok(Mount::new(kind, source, dest, options))
}

/// Mount flags, propagation flags and filesystem data for a list of options,
/// as mount(2) wants them.
#[derive(Debug, PartialEq, Eq)]
pub struct MountOptions {
    pub flags: MsFlags,
    pub propagation: MsFlags,
    pub data: Vec<String>,
    /// Flags explicitly cleared (rw, suid, dev, exec): needed to know whether a
    /// bind remount must keep a flag the kernel locked.
    pub cleared: MsFlags,
}

/// Translates option strings (`ro`, `nosuid`, `mode=755`, `rprivate`, ...).
pub fn parse_options(opts: &[String]) -> MountOptions {
    let mut m = MountOptions {
        flags: MsFlags::empty(),
        propagation: MsFlags::empty(),
        data: Vec::new(),
        cleared: MsFlags::empty(),
    };
    for o in opts {
        let (set, clear) = match o.as_str() {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
            | "runbindable" => {
                let rec = if o.starts_with('r') {
                    MsFlags::MS_REC
                } else {
                    MsFlags::empty()
                };
                let p = match o.trim_start_matches('r') {
                    "private" => MsFlags::MS_PRIVATE,
                    "shared" => MsFlags::MS_SHARED,
                    "slave" => MsFlags::MS_SLAVE,
                    _ => MsFlags::MS_UNBINDABLE,
                };
                m.propagation |= p | rec;
                continue;
            }
            // Accepted for compatibility; they have no meaning here (SELinux
            // labels, ownership handled by the caller, copy-up of tmpfs).
            "z" | "Z" | "U" | "tmpcopyup" | "notmpcopyup" | "copy" | "nocopy" => continue,
            _ => {
                m.data.push(o.clone());
                continue;
            }
        };
        m.flags.insert(set);
        m.flags.remove(clear);
        m.cleared.insert(clear);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes() {
        let m = parse_volume("/src:/dst:ro,z").unwrap();
        assert_eq!(m.kind, MountKind::Bind);
        assert_eq!(m.options, vec!["ro", "z"]);
        assert!(m.readonly && !m.chown);
        let m = parse_volume("data:/dst:U").unwrap();
        assert_eq!(m.kind, MountKind::Volume);
        assert!(m.chown && !m.readonly);
        let m = parse_volume("/anon").unwrap();
        assert_eq!((m.kind, m.source.as_str()), (MountKind::Volume, ""));
        assert_eq!(
            parse_volume("/a:dst").unwrap_err().to_string(),
            "invalid container path \"dst\", must be an absolute path"
        );
        assert!(parse_volume("/a:/b:/c:/d").is_err());
        assert!(parse_volume(":/b").is_err());
        assert!(parse_volume("/a:/b:bogus").is_err());
        assert!(parse_volume("").is_err());
    }

    #[test]
    fn tmpfs() {
        let m = parse_tmpfs("/scratch:size=1m,exec").unwrap();
        assert_eq!(m.options.last().unwrap(), "exec");
        let o = parse_options(&m.options);
        assert!(!o.flags.contains(MsFlags::MS_NOEXEC));
        assert!(o.flags.contains(MsFlags::MS_NOSUID));
        assert_eq!(o.data, vec!["size=1m"]);
        assert!(parse_tmpfs("scratch").is_err());
        assert!(parse_tmpfs("/x:bogus").is_err());
        assert!(parse_tmpfs("/x:size=notasize").is_err());
        assert!(parse_tmpfs("/x:size=64m,mode=1777").is_ok());
        assert!(parse_tmpfs("/x:mode=999").is_err());
    }

    #[test]
    fn mount_flag() {
        let m = parse_mount("type=bind,source=/a,destination=/b,readonly").unwrap();
        assert_eq!((m.source.as_str(), m.destination.as_str()), ("/a", "/b"));
        assert_eq!(m.options, vec!["ro"]);
        assert!(m.readonly);
        let m = parse_mount("type=tmpfs,dst=/t,tmpfs-size=1m").unwrap();
        assert_eq!(m.kind, MountKind::Tmpfs);
        assert!(m.options.contains(&"size=1m".to_string()));
        assert!(parse_mount("type=nfs,dst=/t").is_err());
        assert!(parse_mount("type=bind,dst=/t").is_err());
        assert!(parse_mount("source=/a,dst=/t").is_err());
        assert!(parse_mount("type=bind,src=/a,dst=/t,what=1").is_err());
    }

    #[test]
    fn options_to_flags() {
        let o = parse_options(&[
            "ro".into(),
            "nosuid".into(),
            "rprivate".into(),
            "mode=755".into(),
        ]);
        assert_eq!(o.flags, MsFlags::MS_RDONLY | MsFlags::MS_NOSUID);
        assert_eq!(o.propagation, MsFlags::MS_PRIVATE | MsFlags::MS_REC);
        assert_eq!(o.data, vec!["mode=755"]);
        let o = parse_options(&["ro".into(), "rw".into()]);
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
    }
}
