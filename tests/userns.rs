//! The single-id fallback as a user without /etc/subuid and /etc/subgid
//! ranges (`skiff-nosub`) sees it: only their own uid and gid are mapped, one
//! warning when the namespace holder is made, a clear error for images with
//! files owned by other users, and root-owned images that run.

mod common;

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
