//! A container's own user namespace (`--userns keep-id`, `nomap`): what
//! `create` checks, the maps `start` gives it, and the host user that
//! keep-id adds to its /etc/passwd and /etc/group.
//!
//! The namespace is nested in skiff's rootless one (the `_pause` holder's,
//! where uid 0 is the user and 1..N the subordinate ids): its maps put
//! container ids on those ids (`runtime::idmap::nested_maps`). The root
//! file system is seen through the same maps by fuse-overlayfs
//! (`storage::mount_shifted`), so the image's files keep their owners.

use std::path::Path;

use crate::runtime::idmap;
use crate::runtime::spec::UserMaps;
use crate::runtime::user::AddedUser;
use crate::state::container::Container;
use crate::state::extras::{Extras, NsMode, UsernsMode};
use crate::{Context, Error, Result};

/// Refuses what skiff cannot give a container with a user namespace of
/// its own: real root (Podman: keep-id is rootless only), a pod, or a pid,
/// ipc or uts namespace that is not its own (they would belong to skiff's
/// user namespace, where the container's root has no privilege), and the
/// vfs driver (see `storage::mount_shifted`).
pub fn check(
    ctx: &Context,
    x: &Extras,
    pod: bool,
    driver: crate::storage::DriverKind,
) -> Result<()> {
    if x.userns.is_host() {
        return Ok(());
    }
    let mode = x.userns.asked();
    let refuse = |why: &str| Err(Error::msg(format!("{mode}: not supported {why}")));
    if !ctx.rootless {
        return refuse("as root: it is for rootless containers");
    }
    if pod {
        return refuse("in a pod: the pod's namespaces belong to skiff's user namespace");
    }
    for (flag, ns) in [("pid", &x.pid), ("ipc", &x.ipc), ("uts", &x.uts)] {
        if *ns != NsMode::Private {
            return refuse(&format!(
                "with --{flag} {}: only with a {flag} namespace of the container's own",
                ns.inspect()
            ));
        }
    }
    if driver == crate::storage::DriverKind::Vfs {
        return refuse("with the vfs storage driver: use overlay or fuse-overlayfs");
    }
    Ok(())
}

/// The [`UsernsMode::Private`] that `--uidmap`s, `--gidmap`s,
/// `--subuidname` and `--subgidname` ask for (`runtime::usermap`), read
/// in skiff's namespace (where the CLI runs): its maps, /etc/subuid and
/// /etc/subgid. A name given for one kind serves for the other (Podman).
/// Errors: one line naming the flag and value.
pub fn given_maps(
    uidmap: &[String],
    gidmap: &[String],
    subuidname: Option<&str>,
    subgidname: Option<&str>,
) -> Result<UsernsMode> {
    use crate::runtime::usermap::{self, Given, Parent};
    let given = |flag: &str, v: &[String]| -> Vec<Given> {
        v.iter().map(|x| Given::new(flag, x)).collect()
    };
    let (uid_parent, gid_parent) = (own_map("uid_map"), own_map("gid_map"));
    // Podman looks the name up as a user for both files, by name or uid.
    let ranges = |file: &str, name: &str| {
        let id = nix::unistd::User::from_name(name)
            .ok()
            .flatten()
            .map_or(u32::MAX, |u| u.uid.as_raw());
        idmap::subids(Path::new(file), name, id)
    };
    let uname = subuidname.or(subgidname);
    let gname = subgidname.or(subuidname);
    let uranges = uname.map(|n| ranges("/etc/subuid", n)).unwrap_or_default();
    let granges = gname.map(|n| ranges("/etc/subgid", n)).unwrap_or_default();
    let (uids, gids) = usermap::parse(
        &given("--uidmap", uidmap),
        &given("--gidmap", gidmap),
        uname.map(|n| (n, uranges.as_slice())),
        gname.map(|n| (n, granges.as_slice())),
        Parent { map: &uid_parent },
        Parent { map: &gid_parent },
    )
    .map_err(Error::msg)?;
    Ok(UsernsMode::Private { uids, gids })
}

/// Refuses maps of the user's own (`--uidmap`, `--gidmap`) that leave
/// out the container's user (`uid`, `gid`): its process could not become
/// that user. Podman finds out when the runtime fails at start; skiff
/// before the container is made.
///
/// The container's root (uid and gid 0), which owns the image's files,
/// must be mapped too, unless a map is one id alone: that id is then the
/// image's root ([`root_view`]), as in Podman (`idtools.GetRootUIDGID`,
/// whose error Podman gives at create otherwise).
pub fn check_user(mode: &UsernsMode, uid: u32, gid: u32) -> Result<()> {
    let UsernsMode::Private { uids, gids } = mode else {
        return Ok(());
    };
    for (kind, map) in [("uid", uids), ("gid", gids)] {
        let single = matches!(map.as_slice(), [m] if m.count == 1);
        if !single && idmap::map_id(map, 0).is_none() {
            return Err(Error::msg(format!(
                "{}: the container's root ({kind} 0), the owner of the image's files, is not mapped: map it, or map one id alone",
                mode.asked()
            )));
        }
    }
    for (kind, id, map) in [("uid", uid, uids), ("gid", gid, gids)] {
        if idmap::map_id(map, id).is_none() {
            return Err(Error::msg(format!(
                "{}: the container's user runs as {kind} {id}, which the map leaves out: map it, or choose a mapped user with --user",
                mode.asked()
            )));
        }
    }
    Ok(())
}

/// The map a container's root filesystem is seen through (fuse-overlayfs's
/// `uidmapping`/`gidmapping`, from the container's namespace map `map`):
/// that map, except for a map of one id alone, where that id is the
/// image's root (Podman's single-id case): the image's files are then the
/// one mapped user's, which skiff's namespace (where that id is) can read.
pub fn root_view(map: &[idmap::IdMap]) -> Vec<idmap::IdMap> {
    match map {
        [m] if m.count == 1 => vec![idmap::IdMap {
            inside: 0,
            outside: m.outside,
            count: 1,
        }],
        _ => map.to_vec(),
    }
}

/// The user's own uid and gid on the host, from outside skiff's user
/// namespace (the CLI) or inside it (the supervisor, where they are 0).
fn host_ids() -> (u32, u32) {
    (idmap::host_uid(), idmap::host_gid())
}

/// The host user keep-id puts in the container: the caller's name, GECOS
/// and home directory, on `uid=`/`gid=` (default: the caller's own ids).
/// None for the other modes.
pub fn keep_id_user(mode: &UsernsMode) -> Option<AddedUser> {
    let UsernsMode::KeepId { uid, gid, .. } = mode else {
        return None;
    };
    let (host_uid, host_gid) = host_ids();
    let me = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(host_uid))
        .ok()
        .flatten();
    Some(AddedUser {
        name: me
            .as_ref()
            .map_or_else(|| host_uid.to_string(), |u| u.name.clone()),
        uid: uid.unwrap_or(host_uid),
        gid: gid.unwrap_or(host_gid),
        gecos: me
            .as_ref()
            .map(|u| u.gecos.to_string_lossy().into_owned())
            .unwrap_or_default(),
        home: me
            .as_ref()
            .map_or_else(|| "/".into(), |u| u.dir.display().to_string()),
    })
}

/// The maps of the container's user namespace, from the ids skiff's own
/// namespace has (read in it: the supervisor runs there), each range cut
/// where that namespace's own lines meet (`idmap::split_at_parent`, as the
/// kernel takes them). None for `host`.
pub fn maps(mode: &UsernsMode) -> Result<Option<UserMaps>> {
    Ok(unsplit_maps(mode)?.map(|m| UserMaps {
        uids: idmap::split_at_parent(&m.uids, &own_map("uid_map")),
        gids: idmap::split_at_parent(&m.gids, &own_map("gid_map")),
    }))
}

/// This process's user namespace's map (`file`: uid_map or gid_map).
fn own_map(file: &str) -> Vec<idmap::IdMap> {
    idmap::parse_map_text(
        &std::fs::read_to_string(format!("/proc/self/{file}")).unwrap_or_default(),
    )
}

/// [`maps`] before the cut.
fn unsplit_maps(mode: &UsernsMode) -> Result<Option<UserMaps>> {
    let (host_uid, host_gid) = host_ids();
    let (keep_uid, keep_gid, size) = match mode {
        UsernsMode::Host => return Ok(None),
        UsernsMode::Private { uids, gids } => {
            return Ok(Some(UserMaps {
                uids: uids.clone(),
                gids: gids.clone(),
            }))
        }
        UsernsMode::NoMap => (None, None, None),
        UsernsMode::KeepId { uid, gid, size } => (
            Some(uid.unwrap_or(host_uid)),
            Some(gid.unwrap_or(host_gid)),
            *size,
        ),
    };
    Ok(Some(UserMaps {
        uids: idmap::nested_maps(keep_uid, size, idmap::mapped_count("uid_map"))?,
        gids: idmap::nested_maps(keep_gid, size, idmap::mapped_count("gid_map"))?,
    }))
}

/// keep-id's /etc/passwd and /etc/group: the container's own with the host
/// user added (and Podman's lines for a numeric `--user` they lack, as
/// `start::add_user_entries` adds them otherwise), written into `userdata`
/// and bound over the container's (Podman does the same), owned by the
/// container's root. Returns the (host path, container path) pairs to
/// bind; a file the user mounts is left alone.
pub fn etc_files(
    c: &Container,
    rootfs: &Path,
    userdata: &Path,
    user: &AddedUser,
    maps: &UserMaps,
) -> Result<super::start::EtcFiles> {
    let cfg = &c.config;
    let read = |p: &str| crate::runtime::user::read_root_file(rootfs, p);
    let entry = cfg.extras.passwd_entry.as_deref();
    let mut passwd = user.add_to_passwd(&read("/etc/passwd")?, entry);
    let mut group = user.add_to_group(&read("/etc/group")?);
    let added =
        crate::runtime::user::added_entries(&cfg.user, &passwd, &group, &cfg.workdir, entry)?;
    passwd.extend(added.passwd);
    group.extend(added.group);
    let root_uid = idmap::map_id(&maps.uids, 0);
    let root_gid = idmap::map_id(&maps.gids, 0);
    let mut out = Vec::new();
    for (name, text) in [("passwd", &passwd), ("group", &group)] {
        let dest = format!("/etc/{name}");
        if cfg
            .mounts
            .iter()
            .any(|m| Path::new(&m.destination) == Path::new(&dest))
        {
            continue;
        }
        let p = userdata.join(name);
        crate::state::replace_existing(&p, text.as_bytes())?;
        std::os::unix::fs::chown(&p, root_uid, root_gid)
            .map_err(|e| Error::msg(crate::error::io_msg("chown", &p, &e)))?;
        out.push((p, dest));
    }
    tracing::debug!(container = %c.id, "keep-id: /etc/passwd and /etc/group with {}", user.name);
    Ok(super::start::EtcFiles {
        binds: out,
        passwd,
        group,
    })
}
