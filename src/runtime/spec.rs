//! Generating the OCI runtime spec (config.json) of a container. Pure: the
//! caller gathers the inputs, `process.rs` carries the spec out.

use std::path::PathBuf;
use std::str::FromStr;

use oci_spec::runtime::{
    Capability as OciCap, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxNamespaceBuilder,
    LinuxNamespaceType, Mount, MountBuilder, PosixRlimitBuilder, ProcessBuilder, RootBuilder, Spec,
    SpecBuilder, UserBuilder,
};

use super::idmap::IdMap;
use super::user::ExecUser;
use super::{Error, Result};
use crate::state::config::Rlimit;

/// Paths Podman hides from containers by mounting /dev/null or an empty tmpfs over them.
pub const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/fs/selinux",
    "/sys/dev/block",
];

/// Paths Podman makes read-only.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Host device nodes bind-mounted into every container's /dev.
pub const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
];

/// How the container's network namespace is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetMode {
    /// A new, empty network namespace with only loopback.
    None,
    /// The host's (holder's) network namespace.
    Host,
    /// A new namespace that `network::attach` connects (pasta, slirp4netns, a bridge).
    Private,
    /// An existing namespace, such as another container's (`container:NAME`).
    Join(PathBuf),
}

/// Everything the spec depends on, gathered by the caller.
#[derive(Debug, Clone)]
pub struct SpecInput {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub user: ExecUser,
    pub hostname: String,
    pub tty: bool,
    pub rootfs: PathBuf,
    pub read_only: bool,
    pub privileged: bool,
    pub caps: Vec<caps::Capability>,
    pub no_new_privileges: bool,
    /// Resource limits, one per resource.
    pub rlimits: Vec<Rlimit>,
    pub net: NetMode,
    /// Generated files bind-mounted over /etc: (host path, container path).
    pub etc_files: Vec<(PathBuf, String)>,
    /// User mounts, already resolved to host sources (binds, volumes) or tmpfs.
    pub mounts: Vec<Mount>,
    /// True when running rootless: sysfs cannot be mounted with the host's network.
    pub rootless: bool,
    /// Namespaces (other than the network's, see `net`) joined by path
    /// instead of created: a pod's ipc and uts, held by its infra process.
    pub joined: Vec<(LinuxNamespaceType, PathBuf)>,
    /// `--oom-score-adj`: written by the container's init for itself.
    pub oom_score_adj: Option<i32>,
    /// `--cgroupns host`: no cgroup namespace of its own.
    pub cgroupns_host: bool,
    /// The process's umask (`--umask`, Podman's 0022 by default), set by
    /// the container's init (and each exec'd process) just before exec.
    pub umask: u32,
    /// `--group-add keep-groups`: the process keeps the supplementary
    /// groups it inherits from skiff (crun's
    /// `run.oci.keep_original_groups`); the spec then has no
    /// `additionalGids` at all, which the init reads as "do not call
    /// setgroups(2)".
    pub keep_groups: bool,
    /// Size of the /dev/shm tmpfs in bytes (`--shm-size`, Podman's 64 MiB
    /// by default).
    pub shm_size: u64,
    /// `--annotation`s, kept in the spec's `annotations` as OCI runtimes
    /// keep them (and shown by `inspect`).
    pub annotations: std::collections::BTreeMap<String, String>,
    /// `--sysctl`s (dotted names, checked as namespaced by `create`), in
    /// the spec's `linux.sysctl`: the init writes them under /proc/sys in
    /// its own namespaces before it sets up its root filesystem.
    pub sysctls: std::collections::BTreeMap<String, String>,
    /// Namespaces the container shares with skiff instead of making its
    /// own (`--pid host`, `--ipc host`, `--uts host`). With the host's pid
    /// namespace, /proc is a bind of skiff's own (a rootless process may
    /// not mount a proc of a pid namespace it does not own, crun does the
    /// same); with the host's ipc namespace, /dev/shm is a bind of the
    /// host's, as in Podman; with the host's uts namespace no host name is
    /// set.
    pub host_ns: Vec<LinuxNamespaceType>,
    /// A user namespace of the container's own (`--userns keep-id`,
    /// `nomap`): its uid and gid maps, container ids on the ids of skiff's
    /// namespace. None: the container stays in skiff's.
    pub userns: Option<UserMaps>,
}

/// The uid and gid maps of a container's own user namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserMaps {
    pub uids: Vec<IdMap>,
    pub gids: Vec<IdMap>,
}

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Mount {
    MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()
        .expect("all mount fields are set")
}

/// Builds a user bind mount: rbind with the user's options.
pub fn bind_mount(source: &str, dest: &str, options: &[String]) -> Mount {
    let mut opts = vec!["rbind".to_string()];
    opts.extend(options.iter().cloned());
    MountBuilder::default()
        .destination(dest)
        .typ("bind")
        .source(source)
        .options(opts)
        .build()
        .expect("all mount fields are set")
}

/// Builds a mount of a new kernel file system of type `typ` (`tmpfs`,
/// `devpts`) at `dest` with the user's options.
pub fn fs_mount(typ: &str, dest: &str, options: &[String]) -> Mount {
    MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(typ)
        .options(options.to_vec())
        .build()
        .expect("all mount fields are set")
}

fn default_mounts(input: &SpecInput) -> Vec<Mount> {
    let shm_size = format!("size={}k", input.shm_size.div_ceil(1024));
    let host = |t: LinuxNamespaceType| input.host_ns.contains(&t);
    let mut m = vec![
        if host(LinuxNamespaceType::Pid) {
            mount(
                "/proc",
                "bind",
                "/proc",
                &["rbind", "nosuid", "noexec", "nodev"],
            )
        } else {
            mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])
        },
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
            ],
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        if host(LinuxNamespaceType::Ipc) {
            mount(
                "/dev/shm",
                "bind",
                "/dev/shm",
                &["rbind", "nosuid", "noexec", "nodev"],
            )
        } else {
            mount(
                "/dev/shm",
                "tmpfs",
                "shm",
                &["nosuid", "noexec", "nodev", "mode=1777", &shm_size],
            )
        },
    ];
    // sysfs can only be mounted by the owner of the network namespace: with the
    // host's network, a rootless container gets a read-only bind of /sys, and
    // so does a container in a user namespace of its own whose network
    // namespace it did not make (pasta's, another container's), as crun does.
    let netns_not_owned = match input.net {
        NetMode::Host => input.rootless,
        NetMode::Join(_) => input.userns.is_some(),
        NetMode::None | NetMode::Private => false,
    };
    if netns_not_owned {
        m.push(mount(
            "/sys",
            "bind",
            "/sys",
            &["rbind", "nosuid", "noexec", "nodev", "ro"],
        ));
    } else {
        m.push(mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        ));
    }
    m.push(mount(
        "/sys/fs/cgroup",
        "cgroup2",
        "cgroup2",
        &["nosuid", "noexec", "nodev", "relatime", "ro"],
    ));
    for dev in DEVICES {
        m.push(mount(dev, "bind", dev, &["bind", "nosuid", "noexec"]));
    }
    m
}

fn oci_cap(c: &caps::Capability) -> Result<OciCap> {
    let name = c.to_string();
    OciCap::from_str(name.trim_start_matches("CAP_"))
        .map_err(|_| Error::Msg(format!("capability {name} is not known to the OCI spec")))
}

fn oci_maps(maps: &[IdMap]) -> Result<Vec<oci_spec::runtime::LinuxIdMapping>> {
    maps.iter()
        .map(|m| {
            oci_spec::runtime::LinuxIdMappingBuilder::default()
                .container_id(m.inside)
                .host_id(m.outside)
                .size(m.count)
                .build()
                .map_err(|e| Error::Msg(e.to_string()))
        })
        .collect()
}

/// The uid and gid maps of the user namespace the spec asks for, if it
/// asks for one of the container's own: (uid map, gid map).
pub fn user_maps(spec: &Spec) -> Option<UserMaps> {
    let linux = spec.linux().as_ref()?;
    linux
        .namespaces()
        .as_ref()?
        .iter()
        .find(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none())?;
    let conv = |m: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| -> Vec<IdMap> {
        m.iter()
            .flatten()
            .map(|m| IdMap {
                inside: m.container_id(),
                outside: m.host_id(),
                count: m.size(),
            })
            .collect()
    };
    Some(UserMaps {
        uids: conv(linux.uid_mappings()),
        gids: conv(linux.gid_mappings()),
    })
}

/// Builds the OCI runtime spec of a container.
pub fn build(input: &SpecInput) -> Result<Spec> {
    let caps: Vec<OciCap> = input.caps.iter().map(oci_cap).collect::<Result<_>>()?;
    let full: oci_spec::runtime::Capabilities = caps.iter().copied().collect();
    // A non-root process starts with no effective capabilities, as with Podman.
    let eff: oci_spec::runtime::Capabilities = if input.user.uid == 0 {
        full.clone()
    } else {
        oci_spec::runtime::Capabilities::new()
    };
    let capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(full.clone())
        .permitted(eff.clone())
        .effective(eff.clone())
        .inheritable(oci_spec::runtime::Capabilities::new())
        .ambient(oci_spec::runtime::Capabilities::new())
        .build()
        .map_err(|e| Error::Msg(e.to_string()))?;
    let rlimits = input
        .rlimits
        .iter()
        .map(|r| {
            PosixRlimitBuilder::default()
                .typ(r.resource)
                .soft(r.soft)
                .hard(r.hard)
                .build()
                .map_err(|e| Error::Msg(e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut user = UserBuilder::default()
        .uid(input.user.uid)
        .gid(input.user.gid)
        .umask(input.umask)
        .build()
        .map_err(|e| Error::Msg(e.to_string()))?;
    if !input.keep_groups {
        user.set_additional_gids(Some(input.user.additional_gids.clone()));
    }
    let process = ProcessBuilder::default()
        .terminal(input.tty)
        .user(user)
        .args(input.args.clone())
        .env(input.env.clone())
        .cwd(input.cwd.clone())
        .capabilities(capabilities)
        .rlimits(rlimits)
        .no_new_privileges(input.no_new_privileges)
        .oom_score_adj(input.oom_score_adj.unwrap_or_default())
        .build()
        .map_err(|e| Error::Msg(e.to_string()))?;

    let mut mounts = default_mounts(input);
    for (host, ctr) in &input.etc_files {
        mounts.push(mount(
            ctr,
            "bind",
            &host.to_string_lossy(),
            &["bind", "nosuid", "nodev", "noexec"],
        ));
    }
    mounts.extend(input.mounts.iter().cloned());

    let mut ns_types = vec![
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Cgroup,
    ];
    if input.cgroupns_host {
        ns_types.retain(|t| *t != LinuxNamespaceType::Cgroup);
    }
    ns_types.retain(|t| !input.host_ns.contains(t));
    let mut namespaces = ns_types
        .into_iter()
        .map(|t| {
            let mut b = LinuxNamespaceBuilder::default().typ(t);
            if let Some((_, path)) = input.joined.iter().find(|(j, _)| *j == t) {
                b = b.path(path.clone());
            }
            b.build()
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Msg(e.to_string()))?;
    if input.userns.is_some() {
        namespaces.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::User)
                .build()
                .map_err(|e| Error::Msg(e.to_string()))?,
        );
    }
    match &input.net {
        NetMode::Host => {}
        NetMode::None | NetMode::Private => namespaces.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::Network)
                .build()
                .map_err(|e| Error::Msg(e.to_string()))?,
        ),
        NetMode::Join(path) => namespaces.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::Network)
                .path(path.clone())
                .build()
                .map_err(|e| Error::Msg(e.to_string()))?,
        ),
    }
    let (masked, readonly) = if input.privileged {
        (Vec::new(), Vec::new())
    } else {
        (
            MASKED_PATHS.iter().map(|s| s.to_string()).collect(),
            READONLY_PATHS.iter().map(|s| s.to_string()).collect(),
        )
    };
    let mut linux = LinuxBuilder::default();
    if let Some(maps) = &input.userns {
        linux = linux
            .uid_mappings(oci_maps(&maps.uids)?)
            .gid_mappings(oci_maps(&maps.gids)?);
    }
    let linux = linux
        .sysctl(
            input
                .sysctls
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<std::collections::HashMap<_, _>>(),
        )
        .namespaces(namespaces)
        .masked_paths(masked)
        .readonly_paths(readonly)
        .build()
        .map_err(|e| Error::Msg(e.to_string()))?;
    let root = RootBuilder::default()
        .path(input.rootfs.clone())
        .readonly(input.read_only)
        .build()
        .map_err(|e| Error::Msg(e.to_string()))?;
    // The host's uts namespace keeps its name (a rootless process may not
    // change it); "" sets none either (a uts namespace joined by `--uts`).
    // (oci-spec's default spec names a host "youki": none unless set.)
    let hostname = (!input.hostname.is_empty()
        && !input.host_ns.contains(&LinuxNamespaceType::Uts))
    .then(|| input.hostname.clone());
    let mut spec = SpecBuilder::default()
        .version("1.0.2")
        .annotations(
            input
                .annotations
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<std::collections::HashMap<_, _>>(),
        )
        .root(root)
        .process(process)
        .mounts(mounts)
        .linux(linux)
        .build()
        .map_err(|e| Error::Msg(e.to_string()))?;
    spec.set_hostname(hostname);
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::PosixRlimitType;

    fn input() -> SpecInput {
        SpecInput {
            args: vec!["sh".into()],
            env: vec!["PATH=/bin".into()],
            cwd: "/".into(),
            user: ExecUser {
                uid: 0,
                gid: 0,
                additional_gids: vec![],
                home: "/root".into(),
            },
            hostname: "box".into(),
            tty: false,
            rootfs: "/r".into(),
            read_only: false,
            privileged: false,
            caps: super::super::caps::DEFAULT.to_vec(),
            no_new_privileges: false,
            rlimits: vec![Rlimit {
                resource: PosixRlimitType::RlimitNofile,
                soft: 100,
                hard: 200,
            }],
            net: NetMode::None,
            etc_files: vec![("/u/hosts".into(), "/etc/hosts".into())],
            mounts: vec![bind_mount("/data", "/data", &["ro".into()])],
            oom_score_adj: None,
            cgroupns_host: false,
            umask: 0o022,
            keep_groups: false,
            shm_size: 64 << 20,
            annotations: Default::default(),
            sysctls: Default::default(),
            host_ns: Vec::new(),
            userns: None,
            rootless: true,
            joined: Vec::new(),
        }
    }

    fn ns_types(s: &Spec) -> Vec<LinuxNamespaceType> {
        let linux = s.linux().as_ref().unwrap();
        linux
            .namespaces()
            .as_ref()
            .unwrap()
            .iter()
            .map(|n| n.typ())
            .collect()
    }

    /// The type of the spec's /sys mount.
    fn sys_type(s: &Spec) -> String {
        s.mounts()
            .as_ref()
            .unwrap()
            .iter()
            .find(|m| m.destination().to_str() == Some("/sys"))
            .and_then(|m| m.typ().clone())
            .unwrap()
    }

    fn dests(s: &Spec) -> Vec<String> {
        s.mounts()
            .as_ref()
            .unwrap()
            .iter()
            .map(|m| m.destination().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn root_process_gets_default_caps_and_namespaces() {
        let s = build(&input()).unwrap();
        let p = s.process().as_ref().unwrap();
        let c = p.capabilities().as_ref().unwrap();
        assert!(c.effective().as_ref().unwrap().contains(&OciCap::Chown));
        assert!(!c.bounding().as_ref().unwrap().contains(&OciCap::SysAdmin));
        let ns = ns_types(&s);
        assert!(ns.contains(&LinuxNamespaceType::Network));
        assert!(ns.contains(&LinuxNamespaceType::Pid));
        assert_eq!(s.hostname().as_deref(), Some("box"));
        let d = dests(&s);
        assert!(
            d.iter().position(|x| x == "/dev").unwrap()
                < d.iter().position(|x| x == "/dev/null").unwrap()
        );
        assert_eq!(d.last().unwrap(), "/data");
        assert!(d.contains(&"/etc/hosts".to_string()));
        assert!(s
            .linux()
            .as_ref()
            .unwrap()
            .masked_paths()
            .as_ref()
            .unwrap()
            .contains(&"/proc/kcore".to_string()));
        let rl = &p.rlimits().as_ref().unwrap()[0];
        assert_eq!((rl.soft(), rl.hard()), (100, 200));
    }

    #[test]
    fn non_root_has_no_effective_caps_and_host_net_binds_sys() {
        let mut i = input();
        i.user.uid = 1000;
        i.net = NetMode::Host;
        let s = build(&i).unwrap();
        let c = s
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .as_ref()
            .unwrap()
            .clone();
        assert!(c.effective().as_ref().unwrap().is_empty());
        assert_eq!(sys_type(&s), "bind");
        let ns = ns_types(&s);
        assert!(!ns.contains(&LinuxNamespaceType::Network));
    }

    #[test]
    fn own_user_namespace_has_maps_and_binds_sys_of_a_joined_network() {
        let mut i = input();
        let maps = UserMaps {
            uids: vec![IdMap {
                inside: 1000,
                outside: 0,
                count: 1,
            }],
            gids: vec![IdMap {
                inside: 0,
                outside: 1,
                count: 10,
            }],
        };
        i.userns = Some(maps.clone());
        i.net = NetMode::Join("/run/netns/x".into());
        let s = build(&i).unwrap();
        assert!(ns_types(&s).contains(&LinuxNamespaceType::User));
        assert_eq!(user_maps(&s), Some(maps));
        assert_eq!(sys_type(&s), "bind");
        // Its own network namespace is its user namespace's: sysfs.
        i.net = NetMode::Private;
        let s = build(&i).unwrap();
        assert_eq!(sys_type(&s), "sysfs");
        assert_eq!(user_maps(&build(&input()).unwrap()), None);
    }

    #[test]
    fn host_namespaces_are_not_unshared() {
        let mut i = input();
        i.host_ns = vec![
            LinuxNamespaceType::Pid,
            LinuxNamespaceType::Ipc,
            LinuxNamespaceType::Uts,
        ];
        let s = build(&i).unwrap();
        let ns = ns_types(&s);
        assert!(!ns.contains(&LinuxNamespaceType::Pid));
        assert!(!ns.contains(&LinuxNamespaceType::Uts));
        assert!(ns.contains(&LinuxNamespaceType::Mount));
        assert_eq!(s.hostname(), &None);
        let typ = |d: &str| {
            s.mounts()
                .as_ref()
                .unwrap()
                .iter()
                .find(|m| m.destination().to_str() == Some(d))
                .unwrap()
                .typ()
                .clone()
        };
        assert_eq!(typ("/proc").as_deref(), Some("bind"));
        assert_eq!(typ("/dev/shm").as_deref(), Some("bind"));
        assert_eq!(build(&input()).unwrap().hostname().as_deref(), Some("box"));
    }

    #[test]
    fn privileged_has_no_masks() {
        let mut i = input();
        i.privileged = true;
        let s = build(&i).unwrap();
        assert!(s
            .linux()
            .as_ref()
            .unwrap()
            .masked_paths()
            .as_ref()
            .unwrap()
            .is_empty());
    }
}
