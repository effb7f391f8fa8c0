//! User namespaces. The single-id fallback as a user without /etc/subuid
//! and /etc/subgid ranges (`skiff-nosub`) sees it: only their own uid and
//! gid are mapped, one warning when the namespace holder is made, a clear
//! error for images with files owned by other users, and root-owned images
//! that run. And a container's own user namespace (`--userns keep-id`,
//! `nomap`) as the test user sees it: ids, files, exec, network.

mod common;

use std::fs;

use common::*;

const WARNING: &str =
    "warning: no subordinate ids for user skiff-nosub in /etc/subuid and /etc/subgid";

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
        warn.len() == 1 && warn[0].starts_with(WARNING),
        "expected the one warning line `{WARNING}: ...`\n{}",
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
        warn.len() == 1 && warn[0].starts_with(WARNING),
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
