//! User namespaces. The single-id fallback as a user without /etc/subuid
//! and /etc/subgid ranges (`skiff-nosub`) sees it: only their own uid and
//! gid are mapped, one warning when the namespace holder is made, a clear
//! error for images with files owned by other users, and root-owned images
//! that run. And a container's own user namespace (`--userns keep-id`,
//! `nomap`) as the test user sees it: ids, files, exec, network.

mod common;

use std::fs;

use common::*;

const WARNING: &str = "no subordinate ids for user skiff-nosub in /etc/subuid and /etc/subgid";

/// The non-empty lines of a stream.
fn lines(s: &str) -> Vec<&str> {
    s.lines().filter(|l| !l.trim().is_empty()).collect()
}

/// Asserts that `o` printed exactly one map line, `0 ID 1`.
fn assert_single_map(o: &Output, id: u32) {
    let got: Vec<Vec<&str>> = lines(&o.stdout)
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let want = vec![vec!["0".to_string(), id.to_string(), "1".to_string()]];
    assert_eq!(
        got,
        want,
        "expected the one map line `0 {id} 1`\n{}",
        o.describe()
    );
}

/// The user namespace maps exactly the user's own uid and gid; the warning is
/// printed once, by the command that makes the namespace holder, and again
/// only when a new holder has to be made.
#[test]
fn maps_only_own_ids_and_warns_once_per_holder() {
    let sk = Skiff::nosub();

    let o = sk.cmd(&["unshare", "cat", "/proc/self/uid_map"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_single_map(&o, sk.uid());
    let warn = lines(&o.stderr);
    assert!(
        warn.len() == 1 && warning_text(warn[0]).is_some_and(|m| m.starts_with(WARNING)),
        "expected the one warning line `WARN[NNNN] {WARNING}: ...`\n{}",
        o.describe()
    );
    assert!(
        warn[0].contains("usermod --add-subuids"),
        "the warning should name the fix\n{}",
        o.describe()
    );
    assert!(sk.pause_pid().is_some(), "no namespace holder was recorded");

    // Later commands use the same holder: same maps, no warning.
    let o = sk.cmd(&["unshare", "cat", "/proc/self/gid_map"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_single_map(&o, sk.gid());
    assert_eq!(
        o.stderr,
        "",
        "the warning was printed again\n{}",
        o.describe()
    );
    let o = sk.cmd(&["unshare", "cat", "/proc/self/uid_map"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_single_map(&o, sk.uid());
    assert_eq!(
        o.stderr,
        "",
        "the warning was printed again\n{}",
        o.describe()
    );
    let o = sk.cmd(&["images"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(
        o.stderr,
        "",
        "the warning was printed again\n{}",
        o.describe()
    );

    // A new holder is a new mapping: it warns once more.
    sk.kill_holder();
    let o = sk.cmd(&["unshare", "cat", "/proc/self/uid_map"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_single_map(&o, sk.uid());
    let warn = lines(&o.stderr);
    assert!(
        warn.len() == 1 && warning_text(warn[0]).is_some_and(|m| m.starts_with(WARNING)),
        "a new holder should warn once\n{}",
        o.describe()
    );
}

/// The fixture has files owned by uid 1000, which cannot be mapped: import
/// fails with one line naming the archive and the entry, exit 125, and leaves
/// no image, layer or blob.
#[test]
fn import_of_files_owned_by_others_fails_and_leaves_nothing() {
    let sk = Skiff::nosub();
    // Make the holder (and its warning) first, so that the import's stderr is
    // its error alone.
    sk.ok(&["unshare", "true"]);

    let o = sk.cmd(&["import", &s(&env().fixture), BUSYBOX]);
    assert_eq!(o.code, 125, "expected exit code 125\n{}", o.describe());
    let line = one_error_line(&o);
    assert!(
        line.contains("busybox.tar") && line.contains("home/tester"),
        "the error should name the archive and the entry: {line}"
    );
    assert!(
        line.contains("/etc/subuid"),
        "the error should point at /etc/subuid: {line}"
    );

    let o = sk.cmd(&["images", "-a", "-q"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(o.stdout.trim(), "", "an image was left\n{}", o.describe());
    let o = sk.cmd(&["image", "exists", BUSYBOX]);
    assert_eq!(o.code, 1, "the image should not exist\n{}", o.describe());
    assert_store_dirs_empty(
        &sk.store(),
        &["layers", "images", "blobs/sha256", "tmp"],
        "the failed import",
    );
}

/// An image whose files all belong to root needs no other id: it imports and
/// runs, container root is the user on the host.
#[test]
fn image_owned_by_root_runs() {
    let sk = Skiff::nosub();
    let tar = sk.write_file(
        "root-only.tar",
        &root_only_rootfs(&["sh", "echo", "cat", "id", "touch", "stat"]),
    );
    let image = "localhost/rootonly:latest";
    sk.ok(&["import", &s(&tar), image]);

    let o = sk.cmd(&["run", "--rm", image, "echo", "ok"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(o.stdout, "ok\n", "{}", o.describe());
    // The import made the holder and warned; run joins it quietly.
    assert_eq!(o.stderr, "", "run printed more than ok\n{}", o.describe());

    let o = sk.cmd(&["run", "--rm", image, "cat", "/proc/self/uid_map"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_single_map(&o, sk.uid());
    let o = sk.cmd(&["run", "--rm", image, "id", "-u"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(o.stdout, "0\n", "{}", o.describe());
    assert_eq!(sk.ok(&["ps", "-a", "-q"]), "", "--rm left a container");
}

/// The user's name on the host.
fn user_name(sk: &Skiff) -> String {
    sk.user().name.clone()
}

/// A directory in the user's home and its `-v DIR:/data`.
fn shared_dir(sk: &Skiff) -> (std::path::PathBuf, String) {
    let dir = sk.make_dir(&sk.home.join("shared"));
    let vol = format!("{}:/data", s(&dir));
    (dir, vol)
}

/// `sh -c SCRIPT` in a new `--rm` container with `flags`; its stdout.
fn run_sh(sk: &Skiff, flags: &[&str], script: &str) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[BUSYBOX, "sh", "-c", script]);
    sk.ok(&args)
}

/// keep-id: the process runs as the user's uid and gid, which have the
/// user's name in the container's passwd and group files (home: the host
/// home directory); the image's files keep their owners (busybox root's,
/// /home/tester 1000's), and the process can still read and write its own
/// root file system.
#[test]
fn keep_id_runs_as_the_user_and_image_files_keep_their_owners() {
    let sk = busybox();
    let (uid, gid, name) = (sk.uid(), sk.gid(), user_name(&sk));
    let out = run_sh(
        &sk,
        &["--userns", "keep-id"],
        "id -u; id -g; id -un; id -gn; stat -c %u:%g /bin/busybox /home/tester/hello.txt /etc; \
         grep \"^$(id -un):\" /etc/passwd; echo x > /tmp/f && stat -c %u:%g /tmp/f",
    );
    let host = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .unwrap()
        .unwrap();
    // The fixture's /etc/passwd and /etc/group have `tester` (1000:1000).
    // An id the image already names keeps the image's entry, as Podman
    // adds no line for a uid (or gid) the container's files have: on a
    // fresh machine the test user is uid 1000.
    let user_line = if uid == 1000 {
        "tester:x:1000:1000:tester:/home/tester:/bin/sh".to_string()
    } else {
        format!(
            "{name}:*:{uid}:{gid}:{}:{}:/bin/sh",
            host.gecos.to_string_lossy(),
            host.dir.display()
        )
    };
    let user_name = if uid == 1000 { "tester" } else { name.as_str() };
    let group_name = if gid == 1000 { "tester" } else { name.as_str() };
    let want = format!(
        "{uid}\n{gid}\n{user_name}\n{group_name}\n0:0\n1000:1000\n0:0\n{user_line}\n{uid}:{gid}\n"
    );
    assert_eq!(out, want);
    // The user's uid is the user on the host: one map line `UID 0 1`
    // (skiff's namespace's 0 is the user).
    let map = run_sh(&sk, &["--userns", "keep-id"], "cat /proc/self/uid_map");
    assert!(
        map.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == [&uid.to_string(), "0", "1"]),
        "no line `{uid} 0 1` in the uid map:\n{map}"
    );
    let o = sk.cmd(&["ps", "-a", "-q"]);
    assert_eq!(o.stdout, "", "--rm left a container\n{}", o.describe());
}

/// keep-id: a directory from the user's home bound in shows as the
/// user's, and what the container writes there is the user's on the host.
#[test]
fn keep_id_bind_mount_from_home_is_owned_by_the_user() {
    let sk = busybox();
    let (dir, vol) = shared_dir(&sk);
    let out = run_sh(
        &sk,
        &["--userns", "keep-id", "-v", &vol],
        "stat -c %u:%g /data; echo hi > /data/made-inside",
    );
    assert_eq!(out, format!("{}:{}\n", sk.uid(), sk.gid()));
    let made = dir.join("made-inside");
    assert_eq!(fs::read_to_string(&made).unwrap(), "hi\n");
    assert_eq!(owner(&made), (sk.uid(), sk.gid()), "owner on the host");
}

/// keep-id with uid= and gid=: those ids are the user.
#[test]
fn keep_id_with_uid_and_gid_options() {
    let sk = busybox();
    let (_, vol) = shared_dir(&sk);
    let out = run_sh(
        &sk,
        &["--userns", "keep-id:uid=200,gid=300", "-v", &vol],
        "id -u; id -g; stat -c %u:%g /data /bin/busybox",
    );
    assert_eq!(out, "200\n300\n200:300\n0:0\n");
    // --user wins over keep-id's default user.
    let out = run_sh(&sk, &["--userns", "keep-id", "--user", "0"], "id -u");
    assert_eq!(out, "0\n");
}

/// exec joins the container's own user namespace: same ids, same maps;
/// inspect shows the mode.
#[test]
fn exec_in_keep_id_container_sees_the_same_ids() {
    let sk = busybox();
    sk.ok(&[
        "run", "-d", "--name", "kid", "--userns", "keep-id", BUSYBOX, "sleep", "300",
    ]);
    let init_map = sk.ok(&["exec", "kid", "cat", "/proc/1/uid_map"]);
    let own_map = sk.ok(&["exec", "kid", "cat", "/proc/self/uid_map"]);
    assert_eq!(own_map, init_map, "exec is in another user namespace");
    let ids = sk.ok(&[
        "exec",
        "kid",
        "sh",
        "-c",
        "id -u; id -g; stat -c %u /bin/busybox",
    ]);
    assert_eq!(ids, format!("{}\n{}\n0\n", sk.uid(), sk.gid()));
    assert_eq!(
        sk.inspect_format("kid", "{{.HostConfig.UsernsMode}}"),
        "keep-id"
    );
    sk.ok(&["rm", "-f", "-t", "0", "kid"]);
}

/// nomap: the user's own uid is not in the container's namespace: no map
/// line reaches skiff's 0 (the user), the container's root is a
/// subordinate id, the user's files show as the overflow id and the
/// image's keep their owners.
#[test]
fn nomap_leaves_the_user_out() {
    let sk = busybox();
    let (_, vol) = shared_dir(&sk);
    let out = run_sh(
        &sk,
        &["--userns", "nomap", "-v", &vol],
        "cat /proc/self/uid_map; echo; id -u; stat -c %u /data /bin/busybox",
    );
    let (map, rest) = out.split_once("\n\n").expect("a blank line after the map");
    for line in map.lines() {
        let f: Vec<u64> = line
            .split_whitespace()
            .map(|x| x.parse().unwrap())
            .collect();
        assert!(
            f[1] > 0,
            "the uid map has a line for the user (skiff's 0): {line}\n{map}"
        );
    }
    assert_eq!(rest, "0\n65534\n0\n");
    let id = sk.ok(&["create", "--userns", "nomap", BUSYBOX]);
    let id = id.trim();
    assert_eq!(sk.inspect_format(id, "{{.HostConfig.UsernsMode}}"), "nomap");
    sk.ok(&["rm", id]);
}

/// A published port reaches a server in a keep-id container (pasta's
/// network namespace is joined before the container's user namespace is made).
#[test]
fn keep_id_published_port_answers() {
    let sk = busybox();
    let port = free_port();
    let publish = format!("{port}:8080");
    sk.ok(&[
        "run", "-d", "--name", "web", "--userns", "keep-id", "-p", &publish, BUSYBOX, "httpd",
        "-f", "-p", "8080", "-h", "/www",
    ]);
    assert!(http_get(port).contains(INDEX_HTML.trim()));
    sk.ok(&["rm", "-f", "-t", "0", "web"]);
}

/// containers.conf's `userns = "keep-id"` is every container's mode;
/// `--userns host` wins over it.
#[test]
fn containers_conf_userns_keep_id_is_honoured() {
    let sk = busybox();
    let conf = sk.config_home.join("containers/containers.conf");
    sk.make_dir(conf.parent().unwrap());
    fs::write(&conf, "[containers]\nuserns = \"keep-id\"\n").unwrap();
    sk.give(&conf);
    let o = sk.cmd(&["run", "--rm", BUSYBOX, "id", "-u"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(o.stdout, format!("{}\n", sk.uid()));
    assert_eq!(o.stderr, "", "{}", o.describe());
    assert_eq!(
        sk.ok(&["run", "--rm", "--userns", "host", BUSYBOX, "id", "-u"]),
        "0\n"
    );
}

/// Bad and unsupported modes: one line naming the value, exit 125, no
/// container made.
#[test]
fn bad_userns_values_fail_with_one_line() {
    let sk = busybox();
    for (value, says) in [
        ("keep-id:uid=abc", "invalid uid"),
        ("keep-id:colour=1", "unknown keep-id option"),
        ("bogus", "invalid user namespace mode"),
        ("auto", "not supported"),
        ("ns:/proc/self/ns/user", "not supported"),
    ] {
        let o = sk.cmd(&["run", "--rm", "--userns", value, BUSYBOX, "true"]);
        assert_eq!(o.code, 125, "--userns {value}\n{}", o.describe());
        let line = one_error_line(&o);
        assert!(
            line.contains(value) && line.contains(says),
            "--userns {value}: {line}"
        );
    }
    let o = sk.cmd(&["ps", "-a", "-q"]);
    assert_eq!(o.stdout, "", "a container was made\n{}", o.describe());
}

/// `--passwd-entry`: the line skiff adds to the container's /etc/passwd
/// (for a numeric `--user` the image lacks, for keep-id's host user) is
/// the template with `$USERNAME`, `$UID`, `$GID`, `$NAME` and `$HOME`
/// replaced, as Podman's; `HOME` follows the line; with no line to add the
/// template changes nothing.
#[test]
fn passwd_entry_is_the_template_of_added_lines() {
    let sk = busybox();
    let all = "$USERNAME:x:$UID:$GID:$NAME:$HOME:/bin/false";
    assert_eq!(
        run_sh(
            &sk,
            &["-u", "4242:4343", "-w", "/tmp", "--passwd-entry", all],
            "tail -n1 /etc/passwd; whoami; echo $HOME"
        ),
        "4242:x:4242:4343:container user:/tmp:/bin/false\n4242\n/tmp\n"
    );
    // Another name and home: `whoami` and HOME are the template's.
    let dev = "dev:*:$UID:$GID::/home/dev:/bin/sh";
    assert_eq!(
        run_sh(
            &sk,
            &["-u", "4242", "--passwd-entry", dev],
            "tail -n1 /etc/passwd; whoami; echo $HOME"
        ),
        "dev:*:4242:0::/home/dev:/bin/sh\ndev\n/home/dev\n"
    );
    let id = sk.ok(&["create", "-u", "4242", "--passwd-entry", dev, BUSYBOX]);
    assert!(
        sk.inspect_format(id.trim(), "{{.Config.Env}}")
            .contains("HOME=/home/dev"),
        "inspect's environment should have the template's home"
    );
    sk.ok(&["rm", id.trim()]);
    // keep-id's host user (the fixture names uid 1000 itself: no line then).
    let (uid, gid) = (sk.uid(), sk.gid());
    if uid != 1000 {
        assert_eq!(
            run_sh(
                &sk,
                &["--userns", "keep-id", "--passwd-entry", dev],
                "grep ^dev: /etc/passwd; whoami; echo $HOME"
            ),
            format!("dev:*:{uid}:{gid}::/home/dev:/bin/sh\ndev\n/home/dev\n")
        );
    }
    // Root is the image's: nothing is added, the template is not used.
    assert_eq!(
        run_sh(
            &sk,
            &["--passwd-entry", dev],
            "grep -c : /etc/passwd; grep -c ^dev: /etc/passwd || true"
        ),
        "3\n0\n"
    );
}

/// The uid (or gid) map lines of a `/proc/self/uid_map` text, as numbers.
fn map_lines(text: &str) -> Vec<[u64; 3]> {
    text.lines()
        .map(|l| {
            let f: Vec<u64> = l.split_whitespace().map(|x| x.parse().unwrap()).collect();
            [f[0], f[1], f[2]]
        })
        .collect()
}

/// `--uidmap` alone: the container's ids on the ids of skiff's namespace
/// it names (1.. the subordinate ids), gids the same (Podman); root is a
/// subordinate id, so the image's files keep their owners, the user's
/// files show as the overflow id, and what root makes in a directory it
/// was given (`:U`) is the subordinate id's on the host.
#[test]
fn uidmap_puts_the_containers_ids_on_the_given_ones() {
    let sk = busybox();
    let (dir, vol) = shared_dir(&sk);
    let n = env().subuid.1.min(env().subgid.1);
    let map = format!("0:1:{n}");
    let out = run_sh(
        &sk,
        &["--uidmap", &map, "-v", &format!("{vol}:U")],
        "cat /proc/self/uid_map; echo; cat /proc/self/gid_map; echo; id -u; id -g; \
         stat -c %u:%g /bin/busybox /home/tester/hello.txt /data; echo hi > /data/f",
    );
    let parts: Vec<&str> = out.split("\n\n").collect();
    assert_eq!(map_lines(parts[0]), vec![[0, 1, u64::from(n)]], "{out}");
    assert_eq!(map_lines(parts[1]), vec![[0, 1, u64::from(n)]], "{out}");
    assert_eq!(parts[2], "0\n0\n0:0\n1000:1000\n0:0\n", "{out}");
    let made = dir.join("f");
    assert_eq!(fs::read_to_string(&made).unwrap(), "hi\n");
    assert_eq!(
        owner(&made),
        (env().subuid.0, env().subgid.0),
        "the file root made is the first subordinate id's on the host"
    );
    // Without `:U` the user's directory is not the container's: 65534.
    let (_, vol) = shared_dir(&sk);
    assert_eq!(
        run_sh(&sk, &["--uidmap", &map, "-v", &vol], "stat -c %u:%g /data"),
        "65534:65534\n"
    );
}

/// The user on a container id of the user's choice (as keep-id, by hand):
/// what that id writes in a bind mount is the user's on the host.
#[test]
fn uidmap_can_put_the_user_on_any_container_id() {
    let sk = busybox();
    let (dir, vol) = shared_dir(&sk);
    let out = run_sh(
        &sk,
        &[
            "--uidmap",
            "0:1:1000",
            "--uidmap",
            "1000:0:1",
            "--uidmap",
            "1001:1001:100",
            "--user",
            "1000",
            "-v",
            &vol,
        ],
        "id -u; id -g; stat -c %u:%g /data /bin/busybox; echo x > /data/mine",
    );
    // The fixture's uid 1000 is `tester`, whose group is 1000.
    assert_eq!(out, "1000\n1000\n1000:1000\n0:0\n");
    assert_eq!(owner(&dir.join("mine")), (sk.uid(), sk.gid()));
}

/// `--gidmap` with `+g` and a host id (`@GID`), the man page's way to keep
/// a host group: the user's gid is container gid 5000, the rest of the
/// namespace's gids fill the container's from 0, uids take all of it.
#[test]
fn gidmap_with_a_host_id_and_extend() {
    let sk = busybox();
    let (_, vol) = shared_dir(&sk);
    let map = format!("+g5000:@{}", sk.gid());
    let out = run_sh(
        &sk,
        &["--gidmap", &map, "-v", &vol],
        "cat /proc/self/gid_map; echo; cat /proc/self/uid_map; echo; stat -c %u:%g /data",
    );
    let parts: Vec<&str> = out.split("\n\n").collect();
    let sub = u64::from(env().subgid.1);
    assert_eq!(
        map_lines(parts[0]),
        vec![[0, 1, 5000], [5000, 0, 1], [5001, 5001, sub - 5000]],
        "{out}"
    );
    // All of the namespace's uids, written as the kernel takes them: one
    // line for each of the namespace's own.
    let sub = u64::from(env().subuid.1);
    assert_eq!(map_lines(parts[1]), vec![[0, 0, 1], [1, 1, sub]], "{out}");
    assert_eq!(parts[2], "0:5000\n", "{out}");
}

/// inspect shows Podman's `UsernsMode` (`private`) and `IDMappings`
/// (`CONTAINER_ID:FROM_ID:AMOUNT`), and no `IDMappings` without maps.
#[test]
fn inspect_shows_the_maps() {
    let sk = busybox();
    sk.ok(&[
        "create",
        "--name",
        "mapped",
        "--uidmap",
        "0:1:1000",
        "--gidmap",
        "0:1:500",
        "--gidmap",
        "500:600:1",
        BUSYBOX,
    ]);
    assert_eq!(
        sk.inspect_format("mapped", "{{.HostConfig.UsernsMode}}"),
        "private"
    );
    let got: serde_json::Value =
        serde_json::from_str(&sk.inspect_format("mapped", "{{json .HostConfig.IDMappings}}"))
            .unwrap();
    assert_eq!(
        got,
        serde_json::json!({"UidMap": ["0:1:1000"], "GidMap": ["0:1:500", "500:600:1"]})
    );
    let v: serde_json::Value = serde_json::from_str(&sk.ok(&["inspect", "mapped"])).unwrap();
    assert_eq!(v[0]["HostConfig"]["IDMappings"]["UidMap"][0], "0:1:1000");
    // It runs with those maps, and starts again with them.
    let o = sk.ok(&["start", "-a", "mapped"]);
    assert_eq!(o, "");
    sk.ok(&["create", "--name", "plain", BUSYBOX]);
    let v: serde_json::Value = serde_json::from_str(&sk.ok(&["inspect", "plain"])).unwrap();
    assert!(
        v[0]["HostConfig"].get("IDMappings").is_none(),
        "IDMappings without maps: {}",
        v[0]["HostConfig"]
    );
    assert_eq!(v[0]["HostConfig"]["UsernsMode"], "");
    sk.ok(&["rm", "mapped", "plain"]);
}

/// What cannot be mapped is refused before anything is made, in one line
/// naming the flag and value, exit 125: ids the user does not own (the
/// attacker's map), a host id outside the namespace, a map without the
/// container's user, `--userns` with maps (Podman's words), another
/// user's /etc/subuid ranges (rootless Podman takes them as ids of the
/// namespace: they are not there), a name without ranges, a pod.
#[test]
fn maps_beyond_the_users_ids_are_refused_and_nothing_is_made() {
    let sk = busybox();
    let n = env().subuid.1;
    let (start, _) = env().subuid;
    let too_many = format!("0:1:{}", n + 1);
    let beyond = format!("0:{}:10", n + 1);
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["--uidmap".into(), too_many.clone()],
            format!(
                "Error: --uidmap {too_many}: from ids 1-{} are not all in skiff's rootless user namespace, which has ids 0-{n} (0 is your uid, the rest your /etc/subuid ranges)",
                n + 1
            ),
        ),
        (
            vec!["--uidmap".into(), beyond.clone()],
            format!(
                "Error: --uidmap {beyond}: from ids {}-{} are not all in skiff's rootless user namespace, which has ids 0-{n} (0 is your uid, the rest your /etc/subuid ranges)",
                n + 1,
                n + 10
            ),
        ),
        (
            vec!["--uidmap".into(), "0:@0:1".into()],
            "Error: --uidmap 0:@0:1: host uid 0 is not mapped in skiff's rootless user namespace: only your own uid and your /etc/subuid ranges are".into(),
        ),
        (
            vec!["--uidmap".into(), "0:1:10".into(), "--uidmap".into(), "5:100:10".into()],
            "Error: --uidmap 0:1:10 --uidmap 5:100:10: container uid 5 is mapped twice".into(),
        ),
        (
            vec!["--uidmap".into(), "1:1:100".into()],
            "Error: --uidmap/--gidmap: the container's root (uid 0), the owner of the image's files, is not mapped: map it, or map one id alone".into(),
        ),
        (
            vec!["--uidmap".into(), "0:1:100".into(), "--user".into(), "200".into()],
            "Error: --uidmap/--gidmap: the container's user runs as uid 200, which the map leaves out: map it, or choose a mapped user with --user".into(),
        ),
        (
            vec!["--userns".into(), "keep-id".into(), "--uidmap".into(), "0:1:10".into()],
            "Error: --userns and --uidmap/--gidmap/--subuidname/--subgidname are mutually exclusive".into(),
        ),
        (
            vec!["--userns".into(), "host".into(), "--subgidname".into(), TEST_USER.into()],
            "Error: --userns and --uidmap/--gidmap/--subuidname/--subgidname are mutually exclusive".into(),
        ),
        (
            vec!["--subuidname".into(), "nosuch-zz".into()],
            "Error: no subuid ranges found for user \"nosuch-zz\" in /etc/subuid".into(),
        ),
        (
            vec!["--uidmap".into(), "0:1:1:7".into()],
            "Error: --uidmap 0:1:1:7: invalid mapping: expected [+ug]CONTAINER_ID:[@]FROM_ID[:AMOUNT]".into(),
        ),
    ];
    for (flags, want) in &cases {
        for verb in ["create", "run"] {
            let mut args = vec![verb];
            args.extend(flags.iter().map(String::as_str));
            args.extend_from_slice(&[BUSYBOX, "true"]);
            assert_eq!(&sk.fails_engine(&args), want, "{args:?}");
        }
    }
    // The user's own /etc/subuid range is of the host, not of the namespace.
    let line = sk.fails_engine(&["create", "--subuidname", TEST_USER, BUSYBOX]);
    assert!(
        line.starts_with(&format!(
            "Error: --subuidname {TEST_USER}: its /etc/subuid range {start}-{} is not in skiff's rootless user namespace, which has ids 0-{n}: rootless, Podman takes",
            start + n - 1
        )),
        "{line}"
    );
    sk.ok(&["pod", "create", "--name", "p"]);
    let line = sk.fails_engine(&["create", "--pod", "p", "--uidmap", "0:1:10", BUSYBOX]);
    assert_eq!(
        line,
        "Error: --uidmap/--gidmap: not supported in a pod: the pod's namespaces belong to skiff's user namespace"
    );
    // The pod's infra container goes with it: nothing else may be left.
    sk.ok(&["pod", "rm", "-f", "p"]);
    let o = sk.cmd(&["ps", "-a", "-q"]);
    assert_eq!(
        o.stdout,
        "",
        "a refused create left a container\n{}",
        o.describe()
    );
}

/// Without subordinate ids, `--uidmap ID:0:1 --user ID:ID` still puts
/// the user on a container id of their choice (Podman's man page): one id
/// alone is the image's root, so the image's files (the user's on the
/// host) show as that id's. keep-id, which maps the user alone then, runs.
#[test]
fn uidmap_without_subordinate_ids_maps_the_user_alone() {
    let sk = Skiff::nosub();
    let tar = sk.write_file(
        "root-only.tar",
        &root_only_rootfs(&["sh", "cat", "id", "stat"]),
    );
    let image = "localhost/rootonly:latest";
    sk.ok(&["import", &s(&tar), image]);
    let o = sk.cmd(&[
        "run",
        "--rm",
        "--uidmap",
        "4242:0:1",
        "--user",
        "4242:4242",
        image,
        "sh",
        "-c",
        "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; stat -c %u:%g /bin/sh",
    ]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(
        o.stdout.split_whitespace().collect::<Vec<_>>(),
        [
            "4242",
            "0",
            "1",
            "4242",
            "0",
            "1",
            "4242",
            "4242",
            "4242:4242"
        ],
        "{}",
        o.describe()
    );
    let o = sk.cmd(&["run", "--rm", "--userns", "keep-id", image, "id", "-u"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(o.stdout, format!("{}\n", sk.uid()), "{}", o.describe());
    // Gid 0, a numeric user's group by default, is not mapped then.
    assert_eq!(
        sk.fails_engine(&["create", "--uidmap", "4242:0:1", "--user", "4242", image, "sh"]),
        "Error: --uidmap/--gidmap: the container's user runs as gid 0, which the map leaves out: map it, or choose a mapped user with --user"
    );
    // Anything past the user's own id is not there to map.
    assert_eq!(
        sk.fails_engine(&["create", "--uidmap", "0:0:2", image, "sh"]),
        "Error: --uidmap 0:0:2: from ids 0-1 are not all in skiff's rootless user namespace, which has ids 0-0 (0 is your uid, the rest your /etc/subuid ranges)"
    );
}
