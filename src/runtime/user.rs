//! Resolving `-u name|uid[:group|gid]` against the image's /etc/passwd and /etc/group.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use nix::fcntl::OFlag;

use super::safe_path::Root;
use super::{Error, Result};
use crate::state::config::UserSpec;

/// The largest passwd or group file skiff reads: an image could offer gigabytes.
const MAX_CONFIG_FILE: u64 = 16 << 20;

/// Reads `path` (`/etc/passwd`, `/etc/group`) of the root filesystem at
/// `root` (an image layer, a mounted rootfs, `/proc/PID/root`) the way a
/// hostile image cannot abuse: resolved inside `root` by `safe_path` (its
/// symlinks cannot leave it; no magic links), opened
/// O_NONBLOCK so that a FIFO cannot hang us, and read only when it is a
/// regular file of at most 16 MiB. A missing file reads as empty, as it
/// does for runc's user lookup; anything else that is not a regular file
/// is an error naming it.
pub fn read_root_file(root: &Path, path: &str) -> Result<String> {
    let path = format!("/{}", path.trim_start_matches('/'));
    let root = match Root::open(root) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        Err(e) => return Err(Error::Msg(crate::error::io_msg("open", root, &e))),
    };
    let flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY;
    let file = match root.open_with(Path::new(&path), flags) {
        Ok(fd) => File::from(fd),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
            return Ok(String::new())
        }
        Err(e) => {
            return Err(Error::Msg(format!(
                "{path} in the container's root filesystem: {}",
                crate::error::io_reason(&e)
            )))
        }
    };
    let md = file
        .metadata()
        .map_err(|e| Error::Msg(format!("{path}: {}", crate::error::io_reason(&e))))?;
    let ft = md.file_type();
    if !ft.is_file() {
        let kind = if ft.is_fifo() {
            "a fifo"
        } else if ft.is_dir() {
            "a directory"
        } else if ft.is_socket() {
            "a socket"
        } else if ft.is_char_device() || ft.is_block_device() {
            "a device"
        } else {
            "not a regular file"
        };
        return Err(Error::Msg(format!(
            "{path} in the container's root filesystem is {kind}, not a regular file: fix the image"
        )));
    }
    if md.len() > MAX_CONFIG_FILE {
        return Err(Error::Msg(format!(
            "{path} in the container's root filesystem is larger than 16 MiB: fix the image"
        )));
    }
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_FILE)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::Msg(format!("{path}: {}", crate::error::io_reason(&e))))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Appends `text` to the regular file `path` (`/etc/passwd`) of the root
/// filesystem at `root`, resolved inside it as [`read_root_file`] resolves
/// (its symlinks cannot leave it; a FIFO cannot hang us). Returns false,
/// writing nothing, when the file does not exist or is no regular file.
pub fn append_root_file(root: &Path, path: &str, text: &str) -> Result<bool> {
    use std::io::Write;
    let path = format!("/{}", path.trim_start_matches('/'));
    let root = Root::open(root).map_err(|e| Error::Msg(crate::error::io_msg("open", root, &e)))?;
    let flags = OFlag::O_WRONLY | OFlag::O_APPEND | OFlag::O_NONBLOCK | OFlag::O_NOCTTY;
    let mut file = match root.open_with(Path::new(&path), flags) {
        Ok(fd) => File::from(fd),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ENOENT | libc::ENOTDIR | libc::EISDIR | libc::ENXIO)
            ) =>
        {
            return Ok(false)
        }
        Err(e) => {
            return Err(Error::Msg(format!(
                "{path} in the container's root filesystem: {}",
                crate::error::io_reason(&e)
            )))
        }
    };
    let is_file = file.metadata().map(|m| m.is_file()).unwrap_or(false);
    if !is_file {
        return Ok(false);
    }
    file.write_all(text.as_bytes()).map_err(|e| {
        Error::Msg(format!(
            "appending to {path}: {}",
            crate::error::io_reason(&e)
        ))
    })?;
    Ok(true)
}

/// The lines Podman adds to the image's /etc/passwd and /etc/group for a
/// numeric user or group they do not name (libpod's
/// `generateUserPasswdEntry` and `generateUserGroupEntry`), so that
/// `whoami` and `id -un` answer: empty when none is needed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AddedEntries {
    /// `UID:*:UID:GID:container user:WORKDIR:/bin/sh`, for `-u UID[:GROUP]`
    /// when no passwd entry has that uid (or that name); GID is the group
    /// asked for, else 0, as the process's.
    pub passwd: Option<String>,
    /// `GID:x:GID:USER`, for `-u USER:GID` (the group taken as `0` when
    /// none is named) when no group entry has that gid (or that name).
    pub group: Option<String>,
}

/// What [`AddedEntries`] `spec` needs against the image's `passwd` and
/// `group` texts; `workdir` is the container's working directory (`/` when
/// empty), the new user's home; `entry` is `--passwd-entry`'s template
/// for the passwd line ([`passwd_line`]; its name and username the uid, its
/// GECOS `container user`, as Podman's). Errors: a group named by a name
/// that the group file does not have (the same error as [`resolve`]).
pub fn added_entries(
    spec: &UserSpec,
    passwd: &str,
    group: &str,
    workdir: &str,
    entry: Option<&str>,
) -> Result<AddedEntries> {
    let mut out = AddedEntries::default();
    if spec.user.is_empty() {
        return Ok(out);
    }
    if let Ok(uid) = spec.user.parse::<u32>() {
        let known = passwd_entries(passwd).any(|e| e.uid == uid || e.name == spec.user);
        if !known {
            let gid = match spec.group.as_deref() {
                None => 0,
                Some(g) => match g.parse::<u32>() {
                    Ok(n) => n,
                    Err(_) => group_id(group, g)?,
                },
            };
            let home = if workdir.is_empty() { "/" } else { workdir };
            let (uid, gid) = (uid.to_string(), gid.to_string());
            out.passwd = Some(passwd_line(entry, &uid, &uid, &gid, "container user", home));
        }
    }
    let g = spec.group.as_deref().unwrap_or("0");
    if let Ok(gid) = g.parse::<u32>() {
        if !group_entries(group).any(|(n, id, _)| id == gid || n == g) {
            out.group = Some(format!("{gid}:x:{gid}:{}\n", spec.user));
        }
    }
    Ok(out)
}

/// One /etc/passwd line for a user Podman adds (a numeric `--user`, a
/// `--hostuser`, keep-id's host user), newline-terminated: by default
/// `USERNAME:*:UID:GID:NAME:HOME:/bin/sh`; with `template`
/// (`--passwd-entry`) the template with `$USERNAME`, `$UID`, `$GID`,
/// `$NAME` and `$HOME` replaced, in that order, as libpod's `passwdEntry`
/// does (the text is the user's own: not checked).
pub fn passwd_line(
    template: Option<&str>,
    username: &str,
    uid: &str,
    gid: &str,
    name: &str,
    home: &str,
) -> String {
    match template {
        None => format!("{username}:*:{uid}:{gid}:{name}:{home}:/bin/sh\n"),
        Some(t) => {
            let line = t
                .replace("$USERNAME", username)
                .replace("$UID", uid)
                .replace("$GID", gid)
                .replace("$NAME", name)
                .replace("$HOME", home);
            line + "\n"
        }
    }
}

/// The line of host user `name_or_uid` in the host's passwd text: by
/// name, else by uid when it is a number.
pub fn host_user<'a>(host_passwd: &'a str, name_or_uid: &str) -> Option<&'a str> {
    let uid = name_or_uid.parse::<u32>().ok();
    host_passwd.lines().find(|l| {
        let f: Vec<&str> = l.split(':').collect();
        f.len() >= 7
            && !l.starts_with('#')
            && (f[0] == name_or_uid || uid.is_some_and(|u| f[2].parse() == Ok(u)))
    })
}

/// Podman's /etc/passwd lines for `--hostuser` (libpod's
/// `userPasswdEntry`): each host user the image's `passwd` names neither by
/// name nor by uid gets `NAME:*:UID:GID:GECOS:HOME:/bin/sh`, its home the
/// host's when that directory or one above it (not `/`) is a mount
/// destination (`mounted`), else the working directory (`/` when empty).
/// `entry` is `--passwd-entry`'s template ([`passwd_line`]).
/// Errors: a user the host's passwd text does not have.
pub fn host_user_lines(
    names: &[String],
    host_passwd: &str,
    passwd: &str,
    workdir: &str,
    mounted: impl Fn(&str) -> bool,
    entry: Option<&str>,
) -> Result<String> {
    let mut out = String::new();
    for n in names {
        let line = host_user(host_passwd, n).ok_or_else(|| {
            Error::Msg(format!(
                "--hostuser {n}: no such user in the host's /etc/passwd"
            ))
        })?;
        let f: Vec<&str> = line.split(':').collect();
        let (name, uid, gid, gecos, home) = (f[0], f[2], f[3], f[4], f[5]);
        let known = passwd_entries(passwd)
            .any(|e| e.name == name || uid.parse::<u32>() == Ok(e.uid))
            || out.lines().any(|l| l.split(':').nth(2) == Some(uid));
        if known {
            continue;
        }
        let mut dir = Path::new(home);
        let mut home_mounted = false;
        while dir != Path::new("/") && !dir.as_os_str().is_empty() {
            if mounted(&dir.to_string_lossy()) {
                home_mounted = true;
                break;
            }
            dir = dir.parent().unwrap_or(Path::new("/"));
        }
        let home = if home_mounted {
            home
        } else if workdir.is_empty() {
            "/"
        } else {
            workdir
        };
        out.push_str(&passwd_line(entry, name, uid, gid, gecos, home));
    }
    Ok(out)
}

/// The identity the container process runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    /// Home directory from passwd, `/` when the user has no entry.
    pub home: String,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 6 || l.starts_with('#') {
            return None;
        }
        Some(PasswdEntry {
            name: f[0],
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: f[5],
        })
    })
}

/// (name, gid, members)
/// The gid of group `name` in the text of a group file; Podman's error
/// when there is none.
pub fn group_id(group: &str, name: &str) -> Result<u32> {
    group_entries(group)
        .find(|(n, _, _)| *n == name)
        .map(|(_, gid, _)| gid)
        .ok_or_else(|| {
            Error::Msg(format!(
                "unable to find group {name}: no matching entries in group file"
            ))
        })
}

fn group_entries(text: &str) -> impl Iterator<Item = (&str, u32, Vec<&str>)> {
    text.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 3 || l.starts_with('#') {
            return None;
        }
        let members = f
            .get(3)
            .map(|m| m.split(',').filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        Some((f[0], f[2].parse().ok()?, members))
    })
}

/// A user added to a container's /etc/passwd and /etc/group when its
/// files have no entry for the uid (gid): `--userns keep-id`'s host user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// The passwd GECOS field (the host's, as Podman copies it).
    pub gecos: String,
    pub home: String,
}

impl AddedUser {
    /// `passwd` with a line for this user appended, as Podman writes it
    /// (`NAME:*:UID:GID:GECOS:HOME:/bin/sh`, or `entry`, `--passwd-entry`'s
    /// template: [`passwd_line`]), unless the uid has one.
    /// Names with ':' or a newline are not written.
    pub fn add_to_passwd(&self, passwd: &str, entry: Option<&str>) -> String {
        let clean = |s: &str| !s.contains([':', '\n']);
        if passwd_entries(passwd).any(|e| e.uid == self.uid)
            || ![&self.name, &self.gecos, &self.home]
                .iter()
                .all(|s| clean(s))
        {
            return passwd.to_string();
        }
        let mut out = passwd.to_string();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&passwd_line(
            entry,
            &self.name,
            &self.uid.to_string(),
            &self.gid.to_string(),
            &self.gecos,
            &self.home,
        ));
        out
    }

    /// `group` with a line `NAME:x:GID:` appended unless the gid (or the
    /// name) has one.
    pub fn add_to_group(&self, group: &str) -> String {
        if group_entries(group).any(|(n, g, _)| g == self.gid || n == self.name)
            || self.name.contains([':', '\n'])
        {
            return group.to_string();
        }
        let mut out = group.to_string();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&format!("{}:x:{}:\n", self.name, self.gid));
        out
    }
}

/// Resolves a user spec with the contents of the image's passwd and group
/// files (empty strings when the files do not exist). An empty spec is root.
pub fn resolve(spec: &UserSpec, passwd: &str, group: &str) -> Result<ExecUser> {
    let group_part = spec.group.as_deref();
    let user_part = if spec.user.is_empty() {
        "0"
    } else {
        spec.user.as_str()
    };
    let entry = match user_part.parse::<u32>() {
        Ok(uid) => passwd_entries(passwd).find(|e| e.uid == uid),
        Err(_) => Some(
            passwd_entries(passwd)
                .find(|e| e.name == user_part)
                .ok_or_else(|| {
                    Error::Msg(format!(
                        "unable to find user {user_part}: no matching entries in passwd file"
                    ))
                })?,
        ),
    };
    let uid = match (&entry, user_part.parse::<u32>()) {
        (_, Ok(uid)) => uid,
        (Some(e), _) => e.uid,
        (None, Err(_)) => unreachable!("named users without an entry fail above"),
    };
    let name = entry.as_ref().map(|e| e.name);
    let mut gid = entry.as_ref().map(|e| e.gid).unwrap_or(uid);
    if entry.is_none() {
        // A bare uid without a passwd entry runs with gid 0, as Docker does.
        gid = 0;
    }
    if let Some(g) = group_part {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group_id(group, g)?,
        };
    }
    // Podman's supplementary groups: the primary gid when a user was named
    // (`-u`, or the image's USER), then, unless a group was named too, every
    // group of /etc/group that lists the user as a member.
    let mut additional_gids = Vec::new();
    if !spec.user.is_empty() {
        additional_gids.push(gid);
    }
    if let (Some(n), None) = (name, group_part) {
        for (_, g, members) in group_entries(group) {
            if members.contains(&n) && !additional_gids.contains(&g) {
                additional_gids.push(g);
            }
        }
    }
    Ok(ExecUser {
        uid,
        gid,
        additional_gids,
        home: entry
            .map(|e| e.home.to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "/".into()),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn added_user_is_appended_once() {
        let u = super::AddedUser {
            name: "alice".into(),
            uid: 1000,
            gid: 1000,
            gecos: "Alice".into(),
            home: "/home/alice".into(),
        };
        let passwd = "root:x:0:0:root:/root:/bin/sh";
        let p = u.add_to_passwd(passwd, None);
        assert_eq!(
            p,
            "root:x:0:0:root:/root:/bin/sh\nalice:*:1000:1000:Alice:/home/alice:/bin/sh\n"
        );
        assert_eq!(u.add_to_passwd(&p, None), p);
        assert_eq!(
            u.add_to_passwd(passwd, Some("$USERNAME:x:$UID:$GID:$NAME:$HOME:/bin/zsh")),
            "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:Alice:/home/alice:/bin/zsh\n"
        );
        let g = u.add_to_group("root:x:0:\n");
        assert_eq!(g, "root:x:0:\nalice:x:1000:\n");
        assert_eq!(u.add_to_group(&g), g);
        let r = super::resolve(&UserSpec::parse("1000:1000").unwrap(), &p, &g).unwrap();
        assert_eq!(r.home, "/home/alice");
    }

    use super::*;

    fn resolve(spec: &str, passwd: &str, group: &str) -> Result<ExecUser> {
        super::resolve(&UserSpec::parse(spec).unwrap(), passwd, group)
    }

    #[test]
    fn root_files_are_read_only_when_regular_and_inside() {
        let t = tempfile::tempdir().unwrap();
        let etc = t.path().join("etc");
        std::fs::create_dir(&etc).unwrap();
        assert_eq!(read_root_file(t.path(), "/etc/passwd").unwrap(), "");
        nix::unistd::mkfifo(
            &etc.join("passwd"),
            nix::sys::stat::Mode::from_bits_truncate(0o644),
        )
        .unwrap();
        let e = read_root_file(t.path(), "/etc/passwd")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "/etc/passwd in the container's root filesystem is a fifo, not a regular file: fix the image"
        );
        std::fs::write(etc.join("real"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        std::os::unix::fs::symlink("/etc/real", etc.join("group")).unwrap();
        assert!(read_root_file(t.path(), "/etc/group")
            .unwrap()
            .starts_with("root:"));
        // An absolute link resolves inside the root, never to the host's file.
        std::os::unix::fs::symlink("/etc/hostname", etc.join("hostname-link")).unwrap();
        assert_eq!(read_root_file(t.path(), "/etc/hostname-link").unwrap(), "");
    }

    const PASSWD: &str =
        "root:x:0:0:root:/root:/bin/sh\ntester:x:1000:1000::/home/tester:/bin/sh\n";
    const GROUP: &str = "root:x:0:\ntester:x:1000:\nwheel:x:10:tester\n";

    #[test]
    fn names_and_numbers() {
        let u = resolve("tester", PASSWD, GROUP).unwrap();
        assert_eq!(
            (u.uid, u.gid, u.home.as_str()),
            (1000, 1000, "/home/tester")
        );
        // Podman's groups: the primary gid when a user is named, then those
        // listing the user; a named group stops the lookup.
        assert_eq!(u.additional_gids, vec![1000, 10]);
        let u = resolve("1000:1000", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1000));
        assert_eq!(u.additional_gids, vec![1000]);
        let u = resolve("", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/root"));
        assert_eq!(u.additional_gids, Vec::<u32>::new());
        let u = resolve("4242", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (4242, 0, "/"));
        let u = resolve("tester:wheel", PASSWD, GROUP).unwrap();
        assert_eq!(u.gid, 10);
    }

    #[test]
    fn entries_for_numeric_ids_the_image_lacks() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nweb:x:33:33::/var/www:/bin/sh\n";
        let group = "root:x:0:\nstaff:x:50:web\n";
        let added = |s: &str, wd: &str| {
            added_entries(&UserSpec::parse(s).unwrap(), passwd, group, wd, None).unwrap()
        };
        assert_eq!(
            added("12345", ""),
            AddedEntries {
                passwd: Some("12345:*:12345:0:container user:/:/bin/sh\n".into()),
                group: None,
            }
        );
        assert_eq!(
            added("12345:4242", "/srv"),
            AddedEntries {
                passwd: Some("12345:*:12345:4242:container user:/srv:/bin/sh\n".into()),
                group: Some("4242:x:4242:12345\n".into()),
            }
        );
        assert_eq!(
            added("12345:staff", "/"),
            AddedEntries {
                passwd: Some("12345:*:12345:50:container user:/:/bin/sh\n".into()),
                group: None,
            }
        );
        // Known ids, names and root need nothing; a named user no passwd line.
        assert_eq!(added("33", "/"), AddedEntries::default());
        assert_eq!(added("web:50", "/"), AddedEntries::default());
        assert_eq!(added("", "/"), AddedEntries::default());
        assert_eq!(
            added("web:777", "/").group.as_deref(),
            Some("777:x:777:web\n")
        );
        // --passwd-entry: Podman's values for a numeric user.
        let e = added_entries(
            &UserSpec::parse("12345:4242").unwrap(),
            passwd,
            group,
            "/srv",
            Some("u$USERNAME:x:$UID:$GID:$NAME:$HOME:/bin/false"),
        )
        .unwrap();
        assert_eq!(
            e.passwd.as_deref(),
            Some("u12345:x:12345:4242:container user:/srv:/bin/false\n")
        );
    }

    #[test]
    fn host_users_as_podman_adds_them() {
        let host =
            "root:x:0:0:root:/root:/bin/bash\nalice:x:1500:1500:Alice A:/home/alice:/bin/zsh\n";
        let image = "root:x:0:0:root:/root:/bin/sh\n";
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let lines = |n: &[&str], mounted: &dyn Fn(&str) -> bool| {
            host_user_lines(&names(n), host, image, "/srv", mounted, None)
        };
        assert_eq!(
            lines(&["alice", "root"], &|_| false).unwrap(),
            "alice:*:1500:1500:Alice A:/srv:/bin/sh\n"
        );
        // By uid, and the home kept when it (or a directory above it) is mounted.
        assert_eq!(
            lines(&["1500"], &|d| d == "/home").unwrap(),
            "alice:*:1500:1500:Alice A:/home/alice:/bin/sh\n"
        );
        assert_eq!(
            lines(&["alice", "1500"], &|_| false)
                .unwrap()
                .lines()
                .count(),
            1
        );
        assert!(lines(&["nosuch"], &|_| false).is_err());
        assert_eq!(
            host_user_lines(
                &names(&["alice"]),
                host,
                image,
                "/srv",
                |_| false,
                Some("$USERNAME:x:$UID:$GID::$HOME:/bin/zsh")
            )
            .unwrap(),
            "alice:x:1500:1500::/srv:/bin/zsh\n"
        );
    }

    #[test]
    fn unknown_names_fail() {
        let e = resolve("nobody2", PASSWD, GROUP).unwrap_err().to_string();
        assert_eq!(
            e,
            "unable to find user nobody2: no matching entries in passwd file"
        );
        assert!(resolve("0:nogroup", PASSWD, GROUP).is_err());
    }
}
