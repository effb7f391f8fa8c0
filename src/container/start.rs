//! `start`: mount the root filesystem, write the generated /etc files and the
//! OCI spec, and create the container process.

use std::path::{Path, PathBuf};

use chrono::Utc;
use nix::unistd::Pid;
use oci_spec::runtime::Spec;

use crate::network::etc_files;
use crate::runtime::process::{self, ChildStdio};
use crate::runtime::spec::{self, NetMode, SpecInput};

use crate::runtime::user;
use crate::state::config::{MountKind, Rlimit, SdNotify};
use crate::state::container::{Container, Status};
use crate::state::extras::NsMode;
use crate::storage::{self, DriverKind};
use crate::{Context, Error, Result};
use oci_spec::runtime::{LinuxNamespaceType, PosixRlimitType};

/// Where the storage driver keeps a container's root filesystem.
/// Where a container's root filesystem lives, inside its directory.
pub const STORAGE_SUBDIR: &str = "storage";

pub fn storage_dir(ctx: &Context, id: &str) -> PathBuf {
    ctx.container_dir(id).join(STORAGE_SUBDIR)
}

fn driver(c: &Container) -> Result<DriverKind> {
    Ok(DriverKind::parse(&c.config.driver)?)
}

/// Mounts the container's root filesystem and returns its path.
pub fn mount_rootfs(ctx: &Context, c: &Container) -> Result<PathBuf> {
    // The infra container runs no image: its root only holds mount points.
    if c.config.infra {
        return Ok(storage::mount_scratch(&storage_dir(ctx, &c.id))?);
    }
    // A --rm container's upper directory dies with it: no syncs for it.
    Ok(storage::mount_with(
        driver(c)?,
        &c.config.layers,
        &storage_dir(ctx, &c.id),
        c.config.auto_remove,
    )?)
}

/// Mounts the container's root filesystem for its process: as
/// `mount_rootfs`, but seen through `maps` when the container has a user
/// namespace of its own (`storage::mount_shifted`; `userns::root_view`).
fn mount_rootfs_to_run(
    ctx: &Context,
    c: &Container,
    maps: Option<&spec::UserMaps>,
) -> Result<PathBuf> {
    match maps {
        None => mount_rootfs(ctx, c),
        Some(m) => Ok(storage::mount_shifted(
            driver(c)?,
            &c.config.layers,
            &storage_dir(ctx, &c.id),
            storage::IdShift {
                uids: &super::userns::root_view(&m.uids),
                gids: &super::userns::root_view(&m.gids),
            },
        )?),
    }
}

/// Unmounts the container's root filesystem (idempotent).
pub fn unmount_rootfs(ctx: &Context, c: &Container) -> Result<()> {
    Ok(storage::unmount(driver(c)?, &storage_dir(ctx, &c.id))?)
}

/// The resource limits a container runs with: Podman's rootless defaults
/// (the open-files and process limits raised to the hard ones skiff has),
/// each replaced by a `--ulimit` for the same resource. `inspect` shows
/// these as `HostConfig.Ulimits`.
pub fn effective_rlimits(given: &[Rlimit]) -> Vec<Rlimit> {
    use nix::sys::resource::{getrlimit, Resource};
    let mut out: Vec<Rlimit> = [
        (Resource::RLIMIT_NOFILE, PosixRlimitType::RlimitNofile),
        (Resource::RLIMIT_NPROC, PosixRlimitType::RlimitNproc),
    ]
    .into_iter()
    .filter_map(|(res, resource)| {
        let (_, hard) = getrlimit(res).ok()?;
        Some(Rlimit {
            resource,
            soft: hard,
            hard,
        })
    })
    .collect();
    for r in given {
        out.retain(|d| d.resource != r.resource);
        out.push(*r);
    }
    out
}

/// The content of /run/.containerenv as Podman writes it: nothing, unless
/// the container is privileged (then its engine, name, id, image, and that
/// it is rootless, which skiff always is).
fn containerenv_text(c: &Container) -> String {
    if !c.config.privileged {
        return String::new();
    }
    format!(
        "engine=\"skiff-{}\"\nname={:?}\nid={:?}\nimage={:?}\nimageid={:?}\nrootless=1\n",
        env!("CARGO_PKG_VERSION"),
        c.name,
        c.id,
        c.config.image_name,
        c.config.image_id
    )
}

/// Podman's /etc/passwd and /etc/group lines for a numeric user or group
/// the image does not name (`user::added_entries`), so that `whoami` and
/// `id -un` answer in the container. They are appended to the root
/// filesystem's own files (once: the next start finds them there), or, for
/// a read-only root, written with the image's lines to copies in
/// `userdata` that are bound over them (returned as (source, destination)
/// pairs for the /etc files). An image without the file, or a file the
/// user mounts, is left alone, as Podman leaves it; so is a build's working
/// container (its changes become the image's layer, and Buildah adds no
/// such line for a RUN step). Also returns the passwd and group texts the
/// container's user is resolved in (the image's, with the added lines).
fn add_user_entries(c: &Container, rootfs: &Path, userdata: &Path) -> Result<EtcFiles> {
    let cfg = &c.config;
    let passwd = user::read_root_file(rootfs, "/etc/passwd")?;
    let group = user::read_root_file(rootfs, "/etc/group")?;
    if cfg.builder.is_some() {
        return Ok(EtcFiles {
            binds: Vec::new(),
            passwd,
            group,
        });
    }
    // `--hostuser`s first, then the numeric user, as Podman's
    // generatePasswdEntry orders them.
    let host_lines = super::create::host_user_lines(&cfg.extras, &passwd, &cfg.workdir, |d| {
        cfg.mounts.iter().any(|m| m.destination == d)
    })?;
    let mut added = user::added_entries(
        &cfg.user,
        &format!("{passwd}{host_lines}"),
        &group,
        &cfg.workdir,
        cfg.extras.passwd_entry.as_deref(),
    )?;
    if !host_lines.is_empty() {
        added.passwd = Some(host_lines + added.passwd.as_deref().unwrap_or(""));
    }
    let mut binds = Vec::new();
    let mut texts = Vec::new();
    for (dest, line, text) in [
        ("/etc/passwd", added.passwd, passwd),
        ("/etc/group", added.group, group),
    ] {
        texts.push(add_line(
            cfg, rootfs, userdata, dest, line, text, &mut binds,
        )?);
    }
    let group = texts.pop().unwrap_or_default();
    let passwd = texts.pop().unwrap_or_default();
    Ok(EtcFiles {
        binds,
        passwd,
        group,
    })
}

/// One file's part of [`add_user_entries`]: `line` appended to the root
/// filesystem's `dest`, or to a bound copy for a read-only root; returns
/// the file's text as the container now sees it.
fn add_line(
    cfg: &crate::state::container::Config,
    rootfs: &Path,
    userdata: &Path,
    dest: &str,
    line: Option<String>,
    text: String,
    binds: &mut Vec<(PathBuf, String)>,
) -> Result<String> {
    let Some(line) = line else { return Ok(text) };
    if cfg
        .mounts
        .iter()
        .any(|m| Path::new(&m.destination) == Path::new(dest))
    {
        return Ok(text);
    }
    if !cfg.read_only {
        user::append_root_file(rootfs, dest, &line)?;
        return Ok(text + &line);
    }
    if text.is_empty() {
        // No such file in the image (or an empty one): nothing to extend.
        return Ok(text);
    }
    let copy = userdata.join(dest.trim_start_matches("/etc/"));
    let text = text + &line;
    std::fs::write(&copy, &text)?;
    binds.push((copy, dest.to_string()));
    Ok(text)
}

/// The /etc/passwd and /etc/group a container's process sees: copies to
/// bind over the image's (source, destination), and both texts, in which
/// its user is resolved.
pub struct EtcFiles {
    pub binds: Vec<(PathBuf, String)>,
    pub passwd: String,
    pub group: String,
}

/// Builds the spec for a container whose root filesystem is mounted at `rootfs`,
/// writing its /etc files and config.json into the container directory.
/// `netns` is the network namespace already made for it, if any; `pod` its
/// pod's record ([`crate::pod::of`]).
pub fn prepare_spec(
    ctx: &Context,
    c: &Container,
    pod: Option<&crate::pod::Pod>,
    rootfs: &Path,
    netns: Option<&Path>,
    maps: Option<&spec::UserMaps>,
) -> Result<Spec> {
    let cfg = &c.config;
    let userdata = ctx.container_dir(&c.id).join("userdata");
    std::fs::create_dir_all(&userdata)?;
    // keep-id: the host user has an entry in the container's files, bound
    // over them (with Podman's lines for a numeric user, see
    // `userns::etc_files`); otherwise those lines alone.
    let keep_id = super::userns::keep_id_user(&cfg.extras.userns);
    let etc_files = match (maps, &keep_id) {
        (Some(m), Some(k)) => super::userns::etc_files(c, rootfs, &userdata, k, m)?,
        _ => add_user_entries(c, rootfs, &userdata)?,
    };
    let exec_user = user::resolve(&cfg.user, &etc_files.passwd, &etc_files.group)?;
    let mut env = cfg.env.clone();
    if !env.iter().any(|e| e.starts_with("HOSTNAME=")) {
        env.push(format!("HOSTNAME={}", cfg.hostname));
    }
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", exec_user.home));
    }
    // Docker's link variables, under the container's own (as Docker does).
    for e in crate::network::links::env(ctx, c) {
        let key = e.split('=').next().unwrap_or_default();
        if !env.iter().any(|x| x.split('=').next() == Some(key)) {
            env.push(e);
        }
    }
    let net = match netns {
        Some(p) => NetMode::Join(p.to_path_buf()),
        None => crate::network::net_mode(ctx, cfg)?,
    };

    let host_hosts = if net == NetMode::Host {
        std::fs::read_to_string("/etc/hosts").unwrap_or_default()
    } else {
        String::new()
    };
    let mut hosts = etc_files::hosts(&cfg.hostname, &c.name, &crate::network::extra_hosts(ctx, c));
    if !host_hosts.is_empty() {
        hosts = etc_files::on_host_network(&host_hosts, &hosts);
    }
    let resolv = etc_files::resolv_conf(
        &std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        net != NetMode::Host,
    );
    // A pod's container joins namespaces of the pod's infra process, and
    // with its network shares its /etc/hosts and /etc/resolv.conf.
    let (pod_ns, pod_etc) = crate::pod::joined_from(ctx, c, pod)?;
    // `--network container:X` shares X's (Podman), with a line for itself.
    let pod_etc = match pod_etc {
        Some(dir) => Some(dir),
        None => super::network::join_shared_hosts(ctx, c)?,
    };
    let mut etc = Vec::new();
    // Podman's /run/.containerenv, by which tools know they run in a
    // container: empty, with the container's details when privileged.
    let containerenv = userdata.join(".containerenv");
    std::fs::write(&containerenv, containerenv_text(c))?;
    for (name, content) in [
        ("hosts", hosts),
        ("hostname", etc_files::hostname(&cfg.hostname)),
        ("resolv.conf", resolv),
    ] {
        let p = userdata.join(name);
        std::fs::write(&p, content)?;
        let shared = pod_etc.as_ref().filter(|_| name != "hostname");
        etc.push((shared.map_or(p, |d| d.join(name)), format!("/etc/{name}")));
    }
    etc.push((containerenv, "/run/.containerenv".to_string()));
    etc.extend(etc_files.binds);
    let mut joined: Vec<(LinuxNamespaceType, PathBuf)> = pod_ns
        .into_iter()
        .map(|(ns, path)| (ns.oci_type(), path))
        .collect();
    let x = &cfg.extras;
    // `--pid`, `--ipc`, `--uts`: skiff's own namespace (not unshared), or
    // one joined by path, in place of a pod's.
    let mut host_ns = Vec::new();
    for (typ, mode, name) in [
        (LinuxNamespaceType::Pid, &x.pid, "pid"),
        (LinuxNamespaceType::Ipc, &x.ipc, "ipc"),
        (LinuxNamespaceType::Uts, &x.uts, "uts"),
    ] {
        let path = match mode {
            NsMode::Private => continue,
            NsMode::Host => None,
            NsMode::Path(p) => Some(p.clone()),
            NsMode::Container(id) => Some(namespace_of(ctx, id, name)?),
        };
        joined.retain(|(t, _)| *t != typ);
        match path {
            Some(p) => joined.push((typ, p)),
            None => host_ns.push(typ),
        }
    }

    // The container's user as skiff's namespace sees it (its ids through
    // the container's own maps, if any): the owner `U` and a new volume
    // give their directory, which the container then sees as its user's.
    let owner = match maps {
        None => exec_user.clone(),
        Some(m) => user::ExecUser {
            uid: crate::runtime::idmap::map_id(&m.uids, exec_user.uid).unwrap_or(exec_user.uid),
            gid: crate::runtime::idmap::map_id(&m.gids, exec_user.gid).unwrap_or(exec_user.gid),
            ..exec_user.clone()
        },
    };
    let mut mounts = Vec::new();
    for m in &cfg.mounts {
        let opts = m.mount_options();
        // `U`: a bind's or volume's source goes to the container's user.
        if m.chown && !m.kind.is_new_fs() {
            super::volumes::chown_tree(Path::new(&m.source), owner.uid, owner.gid)?;
        }
        mounts.push(match m.kind {
            MountKind::Tmpfs | MountKind::Devpts => {
                spec::fs_mount(m.kind.as_str(), &m.destination, &opts)
            }
            MountKind::Volume => super::volumes::spec_mount(ctx, m, rootfs, &owner)?,
            MountKind::Bind => {
                let source = super::volumes::sub_path_source(m, Path::new(&m.source))?;
                spec::bind_mount(&source, &m.destination, &opts)
            }
        });
    }
    super::secrets::apply(ctx, c, &userdata, &mut mounts, &mut env)?;
    // --sdnotify=container: the container itself tells systemd it is ready.
    if cfg.sdnotify == SdNotify::Container {
        if let Some(sock) =
            std::env::var_os("NOTIFY_SOCKET").filter(|s| !s.to_string_lossy().starts_with('@'))
        {
            mounts.push(spec::bind_mount(
                &sock.to_string_lossy(),
                "/run/notify/notify.sock",
                &[],
            ));
            env.retain(|e| !e.starts_with("NOTIFY_SOCKET="));
            env.push("NOTIFY_SOCKET=/run/notify/notify.sock".into());
        }
    }
    // The infra container runs the skiff binary on an empty root.
    if cfg.infra {
        let (binds, lib_path) = crate::pod::infra_binds()?;
        for (src, dest) in binds {
            mounts.push(spec::bind_mount(
                &src.to_string_lossy(),
                &dest,
                &["ro".into(), "nosuid".into(), "nodev".into()],
            ));
        }
        env.push(format!("LD_LIBRARY_PATH={lib_path}"));
    }
    let rlimits = effective_rlimits(&cfg.rlimits);
    // `--device`: the host's node bound in (a rootless container cannot
    // make device nodes, and has no device cgroup: the permissions letters
    // are not enforced beyond the node's own modes, as with Podman rootless).
    for d in &x.devices {
        let mut opts = vec!["nosuid".to_string(), "noexec".to_string()];
        if !d.perms.contains('w') {
            opts.push("ro".into());
        }
        mounts.push(spec::bind_mount(
            &d.host.to_string_lossy(),
            &d.container,
            &opts,
        ));
    }
    // `--init`: catatonit, bound read-only at Podman's path, runs the
    // command as its child.
    let mut args = cfg.args.clone();
    if x.init {
        use crate::state::extras::{CATATONIT, INIT_IN_CONTAINER};
        mounts.push(spec::bind_mount(
            CATATONIT,
            INIT_IN_CONTAINER,
            &["ro".into(), "nosuid".into(), "nodev".into()],
        ));
        args.splice(0..0, [INIT_IN_CONTAINER.to_string(), "--".to_string()]);
    }
    // `--group-add` gids come after the user's own groups, as in Podman.
    let mut exec_user = exec_user;
    let mut added = x.group_add.clone();
    for name in &x.group_add_names {
        added.push(user::group_id(&etc_files.group, name)?);
    }
    for g in added {
        if !exec_user.additional_gids.contains(&g) {
            exec_user.additional_gids.push(g);
        }
    }
    let input = SpecInput {
        args,
        env,
        cwd: cfg.workdir.clone(),
        user: exec_user,
        // A joined or the host's uts namespace keeps its own name.
        hostname: if x.uts.is_private() {
            cfg.hostname.clone()
        } else {
            String::new()
        },
        tty: cfg.tty,
        rootfs: rootfs.to_path_buf(),
        read_only: cfg.read_only,
        privileged: cfg.privileged,
        caps: cfg.capabilities.effective.clone(),
        no_new_privileges: cfg.no_new_privileges,
        rlimits,
        net,
        etc_files: etc,
        mounts,
        rootless: ctx.rootless,
        joined,
        oom_score_adj: cfg.oom_score_adj,
        cgroupns_host: cfg.cgroupns_host,
        umask: x.umask.unwrap_or(crate::state::extras::DEFAULT_UMASK),
        keep_groups: x.keep_groups,
        shm_size: x.shm_size.unwrap_or(crate::state::extras::DEFAULT_SHM_SIZE),
        annotations: x.annotations.clone(),
        sysctls: x.sysctls.clone(),
        host_ns,
        userns: maps.cloned(),
    };
    let spec = spec::build(&input)?;
    // Read by `exec` while this container may be restarting: replaced
    // atomically, never rewritten in place. Rebuilt on every start from the
    // record, so it needs no fsync (two fewer on the path of `run`).
    let json = serde_json::to_vec_pretty(&spec).map_err(|e| Error::msg(e.to_string()))?;
    crate::state::replace_existing(&ctx.container_dir(&c.id).join("config.json"), &json)?;
    Ok(spec)
}

/// The `/proc/PID/ns/NAME` file of the init of container `id` (named by
/// `--pid`, `--ipc` or `--uts container:ID`), which must be running.
fn namespace_of(ctx: &Context, id: &str, name: &str) -> Result<PathBuf> {
    let other = super::store(ctx).lookup(id)?;
    match super::process(&other) {
        Some(init) => Ok(PathBuf::from(format!("/proc/{}/ns/{name}", init.pid()))),
        None => Err(Error::msg(format!(
            "--{name} container:{}: the container is not running",
            other.name
        ))),
    }
}

/// Whether a supervisor owns the container: it runs, or waits out its
/// restart back-off, or is still starting. `start` then does nothing (as
/// for a running container): two supervisors would restart it twice.
pub fn supervised(c: &Container) -> bool {
    super::supervisor_alive(c) || !super::find_supervisors(&c.id).is_empty()
}

/// Mounts, prepares and creates the container process with the given
/// stdio, connects its network, and records it running. Called by the
/// supervisor, which has blocked the signals it handles. `again` is true
/// when the supervisor starts it again under its restart policy: the same
/// run (`State::run`), which a `stop` made meanwhile ends; otherwise this
/// is a new run, numbered one more than the last.
pub fn start_process(
    ctx: &Context,
    c: &mut Container,
    stdio: ChildStdio,
    begun: Option<crate::network::Early>,
    again: bool,
) -> Result<Pid> {
    // The network first (unless the CLI began it): pasta then starts while
    // the rest is prepared.
    let mut early = match begun {
        Some(e) => Some(e),
        None => crate::network::begin(ctx, c)?,
    };
    let mounted = super::userns::maps(&c.config.extras.userns)
        .and_then(|maps| Ok((mount_rootfs_to_run(ctx, c, maps.as_ref())?, maps)));
    let (rootfs, maps) = match mounted {
        Ok(r) => r,
        Err(e) => {
            if let Some(early) = early.take() {
                crate::network::abandon(ctx, c, early);
            }
            return Err(e);
        }
    };
    let result = (|| -> Result<Pid> {
        let netns = early.as_ref().map(|e| e.netns().to_path_buf());
        // The pod's record, read once: for the namespaces and the cgroup.
        let pod = crate::pod::of(ctx, c)?;
        let spec = prepare_spec(
            ctx,
            c,
            pod.as_ref(),
            &rootfs,
            netns.as_deref(),
            maps.as_ref(),
        )?;
        let confine = confinement(ctx, c)?;
        let mut created = process::create(&spec, stdio, &confine)?;
        let share_parent = pod.is_some_and(|p| p.config.sharing.share_parent);
        c.state.cgroup = match enter_cgroup(ctx, c, share_parent, created.pid.as_raw()) {
            Ok(dir) => dir,
            Err(e) => {
                let _ = nix::sys::signal::kill(created.pid, nix::sys::signal::Signal::SIGKILL);
                let _ = nix::sys::wait::waitpid(created.pid, None);
                return Err(e);
            }
        };
        // The process mounts its root filesystem while its network is connected.
        created.set_up();
        let connecting = match crate::network::attach(ctx, c, created.pid.as_raw(), early.take()) {
            Ok((net, connecting)) => {
                c.state.network = net;
                connecting
            }
            Err(e) => {
                let _ = nix::sys::signal::kill(created.pid, nix::sys::signal::Signal::SIGKILL);
                let _ = nix::sys::wait::waitpid(created.pid, None);
                return Err(e);
            }
        };
        // Recorded running before the command runs, while pasta may still be
        // at work: the write (a rename) is then off the way to the command.
        // Should the command fail to start, `finish` records that instead.
        let pid = created.pid.as_raw();
        let (net, cgroup) = (c.state.network.clone(), c.state.cgroup.clone());
        let recorded = super::store(ctx).update(&c.id, |cur| {
            if again && cur.state.stopped_by_user() {
                // `stop` came while this restart was under way: it wins.
                return Err(Error::msg(format!(
                    "{} was stopped while starting",
                    cur.name
                )));
            }
            if !again {
                cur.state.run += 1;
            }
            cur.state.status = Status::Running;
            cur.state.pid = pid;
            cur.state.start_time = super::pidfd::start_time(pid).unwrap_or(0);
            cur.state.monitor_pid = std::process::id() as i32;
            cur.state.started_at = Some(Utc::now());
            cur.state.finished_at = None;
            cur.state.exit_code = 0;
            cur.state.oom_killed = false;
            cur.state.error.clear();
            cur.state.network = net;
            cur.state.cgroup = cgroup;
            // Each run starts its health over: "starting" until a check passes.
            cur.state.health = cur.config.healthcheck.as_ref().map(|_| Default::default());
            Ok::<_, Error>(cur.clone())
        });
        let ready = recorded
            .map(|cur| *c = cur)
            .and_then(|_| write_pid_files(ctx, c, pid))
            .and_then(|_| connecting.map_or(Ok(()), |w| w.wait()));
        if let Err(e) = ready {
            let _ = nix::sys::signal::kill(created.pid, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(created.pid, None);
            crate::network::detach_or_warn(ctx, c, &c.state.network);
            return Err(e);
        }
        crate::events::Event::container(c, "init").record(ctx);
        match created.start() {
            Ok(pid) => {
                crate::events::Event::container(c, "start").record(ctx);
                Ok(pid)
            }
            Err(e) => {
                crate::network::detach_or_warn(ctx, c, &c.state.network);
                Err(e.into())
            }
        }
    })();
    if let Some(e) = early.take() {
        crate::network::abandon(ctx, c, e);
    }
    result.inspect_err(|e| {
        let _ = finish(ctx, c, e.exit_code(), &e.to_string());
    })
}

/// The supervisor's pid file in the container's run directory (Podman's
/// `conmon.pid`): what a non-`--new` systemd unit names as its `PIDFile=`
/// when the container has no `--conmon-pidfile`.
pub fn conmon_pidfile(ctx: &Context, c: &Container) -> std::path::PathBuf {
    c.config
        .conmon_pidfile
        .clone()
        .unwrap_or_else(|| ctx.container_run_dir(&c.id).join("conmon.pid"))
}

/// Writes the supervisor's pid (this process: the supervisor starts the
/// container) to `conmon_pidfile`, and the container's init `pid` to
/// `--pidfile` when given, each through a temporary file and a rename so
/// that systemd never reads half a number.
fn write_pid_files(ctx: &Context, c: &Container, pid: i32) -> Result<()> {
    let me = std::process::id().to_string();
    let init = pid.to_string();
    let files = std::iter::once((conmon_pidfile(ctx, c), me.as_str()))
        .chain(c.config.pidfile.clone().map(|p| (p, init.as_str())));
    for (path, text) in files {
        crate::state::replace_existing(&path, text.as_bytes())?;
    }
    Ok(())
}

/// What confines the processes of `c`, its own and exec'd ones: its seccomp
/// program (compiled once per profile and capability set, then read from
/// the store's cache) and a new session keyring named as runc names it,
/// `_ses.<container id>`.
pub fn confinement(ctx: &Context, c: &Container) -> Result<process::Confinement> {
    use crate::runtime::seccomp;
    use crate::state::container::SeccompChoice;
    let cfg = &c.config;
    let caps = cfg.capabilities.names();
    let program = match &cfg.seccomp {
        SeccompChoice::Unconfined => None,
        SeccompChoice::Default => Some(seccomp::load_or_compile(
            &ctx.root,
            b"builtin",
            &caps,
            || Ok(seccomp::default_profile()),
        )),
        SeccompChoice::Profile { json, .. } => Some(seccomp::load_or_compile(
            &ctx.root,
            json.as_bytes(),
            &caps,
            || seccomp::parse(json.as_bytes()),
        )),
    };
    let seccomp = program
        .transpose()
        .map_err(|e| Error::msg(format!("{}: {e}", c.name)))?;
    Ok(process::Confinement {
        seccomp,
        keyring: Some(format!("_ses.{}", c.id)),
    })
}

/// Moves the container into its own cgroup, with its limits written, when
/// the user has a delegated cgroup v2 subtree (rootless only: real root
/// would need a systemd scope, and the host's cgroups are never touched).
/// Returns the directory, or "" when there is none: a host without
/// delegation runs a container without limits in the CLI's cgroup (`create`
/// refused limits there). A container with limits that cannot be applied
/// fails to start rather than running unconfined. `--cgroups split` puts
/// the container and this supervisor in sub-cgroups of the caller's cgroup
/// ([`crate::cgroups::split`]); `disabled` leaves both in the caller's.
/// `share_parent`: its pod nests its containers' cgroups (`--share-parent`).
fn enter_cgroup(ctx: &Context, c: &Container, share_parent: bool, pid: i32) -> Result<String> {
    let cfg = &c.config;
    if !ctx.rootless || cfg.cgroups == crate::cgroups::CgroupsMode::Disabled {
        return Ok(String::new());
    }
    let uid = nix::unistd::geteuid().as_raw();
    if cfg.cgroups == crate::cgroups::CgroupsMode::Split {
        let d = crate::cgroups::split(uid, &cfg.resources).map_err(Error::msg)?;
        crate::cgroups::check(Some(&d), &cfg.resources).map_err(Error::msg)?;
        let dir = crate::cgroups::enter(&d, &c.id, pid, &cfg.resources)
            .map_err(|e| Error::msg(format!("{}: cgroup: {e}", c.name)))?;
        return Ok(dir.to_string_lossy().into_owned());
    }
    let parent = (!cfg.cgroup_parent.is_empty()).then_some(cfg.cgroup_parent.as_str());
    let limited = !cfg.resources.is_empty() || parent.is_some();
    let pod_parent = parent.is_none() && share_parent;
    // systemd's scope, unless the cgroup's place is given (--cgroup-parent,
    // or a pod whose members share its cgroup): those are cgroupfs paths.
    if cfg.cgroup_manager == crate::cgroups::Manager::Systemd && parent.is_none() && !pod_parent {
        let entered = crate::cgroups::systemd::enter(
            &c.id,
            &c.name,
            pid,
            // Under a systemd unit (NOTIFY_SOCKET) the supervisor is the
            // service's main process and must stay in its cgroup, where
            // Podman's units keep conmon with --cgroups=no-conmon.
            cfg.cgroups != crate::cgroups::CgroupsMode::NoConmon
                && std::env::var_os("NOTIFY_SOCKET").is_none(),
            &cfg.resources,
        );
        return placed(c, limited, entered);
    }
    let mut d = match crate::cgroups::for_container(uid, parent) {
        Ok(Some(d)) => crate::cgroups::enable_for(d, &cfg.resources, uid),
        Ok(None) if !limited => return Ok(String::new()),
        Ok(None) => return Err(Error::msg(crate::cgroups::NO_DELEGATION)),
        Err(e) => return Err(Error::msg(e)),
    };
    // A pod created with --share-parent nests its members' cgroups.
    if pod_parent {
        if let Some(p) = crate::pod::cgroup_parent(&cfg.pod, &d) {
            d = crate::cgroups::enable_for(p, &cfg.resources, uid);
        }
    }
    if limited {
        crate::cgroups::check(Some(&d), &cfg.resources).map_err(Error::msg)?;
    }
    let entered = crate::cgroups::enter(&d, &c.id, pid, &cfg.resources).map_err(|e| e.to_string());
    placed(c, limited, entered)
}

/// The container's cgroup directory once entered; a container with limits
/// fails when it could not be placed, one without runs on (with a warning)
/// in the supervisor's cgroup, recorded as "".
fn placed(
    c: &Container,
    limited: bool,
    entered: std::result::Result<std::path::PathBuf, String>,
) -> Result<String> {
    match entered {
        Ok(dir) => Ok(dir.to_string_lossy().into_owned()),
        Err(e) if limited => Err(Error::msg(format!("{}: cgroup: {e}", c.name))),
        Err(e) => {
            tracing::warn!(%e, "cannot move the container into its cgroup");
            Ok(String::new())
        }
    }
}

/// Records the end of a container: exit code, time, root filesystem
/// unmounted, and the container removed when it was run with `--rm`.
pub fn finish(ctx: &Context, c: &mut Container, code: i32, error: &str) -> Result<()> {
    finish_deferring(ctx, c, code, error).map(drop)
}

/// What `finish_deferring` found: the files of a `--rm` container (then
/// it is gone and never restarts), and whether the container was being
/// stopped (or removed) on purpose (then no restart policy applies), read
/// under its lock in the same update that records the exit; `stop`
/// records its request in a field of its own (`State::stop_requested`),
/// so a `stop` racing the exit is never lost.
#[derive(Default)]
pub struct Finished {
    pub retired: Option<super::remove::Retired>,
    pub stopped: bool,
}

/// Claims the record of this run's end, under the container's lock: true
/// for the first finisher only, which then records the `died` event. Two
/// may finish one run (the supervisor, and a `stop` that found it gone
/// just as it exited): `finished_at`, cleared by every start, is set here
/// first. A record removed meanwhile (`rm -f` waits for the supervisor, so
/// only a second finisher of a `--rm` container sees that) claims nothing.
fn claim_end(store: &crate::state::container::Containers, id: &str) -> bool {
    store
        .update(id, |cur| {
            let first = cur.state.finished_at.is_none();
            if first {
                cur.state.finished_at = Some(Utc::now());
            }
            Ok::<_, Error>(first)
        })
        .unwrap_or(false)
}

/// `finish`, but the files of a `--rm` container are left to the returned
/// `Retired` (the container is already gone): its supervisor reports the
/// exit before it spends milliseconds deleting them.
pub fn finish_deferring(
    ctx: &Context,
    c: &mut Container,
    code: i32,
    error: &str,
) -> Result<Finished> {
    let store = super::store(ctx);
    if claim_end(&store, &c.id) {
        let mut died = crate::events::Event::container(c, "died");
        died.exit_code = Some(code);
        died.record(ctx);
    }
    crate::network::detach_or_warn(ctx, c, &c.state.network);
    // The kernel counts OOM kills in the cgroup: read before it goes.
    let oom = !c.state.cgroup.is_empty() && crate::cgroups::oom_killed(Path::new(&c.state.cgroup));
    if !c.state.cgroup.is_empty() {
        crate::cgroups::remove(Path::new(&c.state.cgroup));
    }
    let unmounted = unmount_rootfs(ctx, c);
    if c.config.auto_remove {
        // Someone may have removed the container meanwhile (`rm -f`).
        let Some(current) = store.load(&c.id)? else {
            return Ok(Finished {
                retired: None,
                stopped: true,
            });
        };
        // Detached and unmounted just above, unless the unmount failed:
        // then the full path tries again and reports it.
        let retired = match unmounted {
            Ok(()) => super::remove::retire_released(ctx, &current),
            Err(_) => super::remove::retire_stopped(ctx, &current),
        };
        if retired.is_ok() {
            super::volumes::remove_anonymous(ctx, &current);
            crate::events::Event::container(&current, "remove").record(ctx);
        }
        // Gone either way (no restart can follow); `stopped` says whether
        // on purpose, for the supervisor's exit status.
        let stopped = current.state.stopped_by_user();
        return retired.map(|r| Finished {
            retired: Some(r),
            stopped,
        });
    }
    let recorded = store.update(&c.id, |cur| {
        // Read, never written here: a second record of the same exit (a
        // `stop` that gave up waiting, a `start` cleaning an old record)
        // tells the same.
        let stopped = cur.state.stopped_by_user();
        if cur.state.status == Status::Exited {
            // Already recorded by the first finisher, with the real code.
            return Ok::<_, Error>((cur.clone(), stopped));
        }
        cur.state.status = Status::Exited;
        cur.state.exit_code = code;
        cur.state.oom_killed = oom;
        cur.state.finished_at = Some(Utc::now());
        cur.state.error = error.to_string();
        cur.state.pid = 0;
        cur.state.start_time = 0;
        cur.state.network = Default::default();
        cur.state.cgroup.clear();
        Ok::<_, Error>((cur.clone(), stopped))
    });
    match recorded {
        Ok((cur, stopped)) => {
            *c = cur;
            Ok(Finished {
                retired: None,
                stopped,
            })
        }
        // Removed meanwhile (`rm -f`): it stays removed.
        Err(_) if store.load(&c.id).ok().flatten().is_none() => Ok(Finished {
            retired: None,
            stopped: true,
        }),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two finishers of one run (the supervisor, and a `stop` that found
    /// it gone as it exited) record one `died`, and the first one's code.
    #[test]
    fn a_second_finisher_records_no_second_died_and_keeps_the_code() {
        let tmp = tempfile::tempdir().unwrap();
        let ctx = Context::in_dir(tmp.path());
        let mut c = Container {
            version: crate::state::container::RECORD_VERSION,
            id: "0123456789ab".repeat(5) + "0123",
            name: "twice".into(),
            created: Utc::now(),
            config: Default::default(),
            state: Default::default(),
        };
        c.state.status = Status::Running;
        super::super::store(&ctx).insert(&c).unwrap();
        let (mut first, mut second) = (c.clone(), c.clone());
        finish(&ctx, &mut first, 143, "").unwrap();
        finish(&ctx, &mut second, 137, "").unwrap();
        let died: Vec<_> = crate::events::read_all(&ctx.runroot)
            .into_iter()
            .filter(|e| e.status == "died")
            .collect();
        assert_eq!(died.len(), 1, "{died:?}");
        let now = super::super::store(&ctx).load(&c.id).unwrap().unwrap();
        assert_eq!(
            (now.state.status, now.state.exit_code),
            (Status::Exited, 143)
        );
    }
}
