use super::*;
use std::fs;

fn lines(changes: &[Change]) -> Vec<String> {
    changes.iter().map(|c| c.to_string()).collect()
}

/// Names and types of the entries of a tar stream, in order.
fn entries(tar: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(tar);
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let p = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            match e.header().entry_type() {
                EntryType::Symlink => {
                    format!("{p} -> {}", e.link_name().unwrap().unwrap().display())
                }
                _ => p,
            }
        })
        .collect()
}

/// Runs the walker over `tree` (an overlay upper when `upper`, else a vfs
/// copy) and the layers `lowers`, lowest first.
fn walk(tree: &Path, lowers: &[PathBuf], upper: bool) -> (Vec<Change>, Vec<u8>) {
    let lw = Lowers::open(lowers).unwrap();
    let root = open_root(tree).unwrap();
    let mut collect = Collect::default();
    let mut tar = TarSink::new(Vec::new());
    for sink in [&mut collect as &mut dyn Sink, &mut tar] {
        let mut w = Walker {
            sink,
            excludes: Excludes::default(),
            path: PathBuf::new(),
        };
        if upper {
            w.upper(root.as_fd(), &lw).unwrap();
        } else {
            w.copy(root.as_fd(), &lw).unwrap();
        }
    }
    use sha2::Digest;
    let (bytes, digest, size) = tar.builder.into_inner().unwrap().finish();
    assert_eq!(
        digest,
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(&bytes)))
    );
    assert_eq!(size, bytes.len() as u64);
    (collect.sorted(), bytes)
}

fn write(p: &Path, data: &str) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
}

#[test]
fn upper_directory_changes_and_layer() {
    let t = tempfile::tempdir().unwrap();
    let (l1, l2, up) = (
        t.path().join("l1"),
        t.path().join("l2"),
        t.path().join("up"),
    );
    write(&l1.join("etc/passwd"), "root\n");
    write(&l1.join("etc/motd"), "hi\n");
    write(&l1.join("olddir/a"), "a");
    write(&l1.join("keep/x"), "x");
    fs::create_dir_all(&l2).unwrap();
    std::os::unix::fs::symlink("/bin/busybox", l2.join("sh")).unwrap();
    write(&up.join("etc/passwd"), "root\nu\n");
    write(&up.join("etc/new"), "new");
    // fuse-overlayfs's whiteouts and opaque marker (no privilege needed).
    write(&up.join("etc/.wh.motd"), "");
    write(&up.join(".wh.olddir"), "");
    write(&up.join("keep/.wh..wh..opq"), "");
    write(&up.join("keep/y"), "y");
    // A whiteout of something no layer has is no change.
    write(&up.join(".wh.never"), "");
    std::os::unix::fs::symlink("/bin/true", up.join("sh")).unwrap();
    let (changes, tar) = walk(&up, &[l1.clone(), l2.clone()], true);
    assert_eq!(
        lines(&changes),
        [
            "C /etc",
            "D /etc/motd",
            "A /etc/new",
            "C /etc/passwd",
            "C /keep",
            "D /keep/x",
            "A /keep/y",
            "D /olddir",
            "C /sh",
        ]
    );
    assert_eq!(
        entries(&tar),
        [
            ".wh.olddir",
            "etc/",
            "etc/.wh.motd",
            "etc/new",
            "etc/passwd",
            "keep/",
            "keep/.wh..wh..opq",
            "keep/y",
            "sh -> /bin/true",
        ]
    );
    // The same tree, the same bytes.
    assert_eq!(walk(&up, &[l1.clone(), l2.clone()], true).1, tar);
    // An image's top layer against the one below.
    assert_eq!(
        lines(&layer_changes(&[l1.clone(), l2.clone()]).unwrap()),
        ["A /sh"]
    );
}

#[test]
fn copied_tree_is_compared_with_the_layers() {
    let t = tempfile::tempdir().unwrap();
    let (l1, root) = (t.path().join("l1"), t.path().join("rootfs"));
    write(&l1.join("a/x"), "x");
    write(&l1.join("a/y"), "y");
    write(&l1.join("b/deep/f"), "f");
    write(&l1.join("top"), "t");
    fs::create_dir_all(&root).unwrap();
    crate::storage::vfs::copy_layer(&l1, &root).unwrap();
    let (none, tar) = walk(&root, std::slice::from_ref(&l1), false);
    assert!(none.is_empty(), "{none:?}");
    assert!(entries(&tar).is_empty());

    fs::remove_file(root.join("a/y")).unwrap();
    write(&root.join("a/z"), "z");
    write(&root.join("new/n"), "n");
    // Content changed, the directory above it did not.
    write(&root.join("b/deep/f"), "changed");
    fs::remove_file(root.join("top")).unwrap();
    let (changes, tar) = walk(&root, std::slice::from_ref(&l1), false);
    assert_eq!(
        lines(&changes),
        [
            "C /a",
            "D /a/y",
            "A /a/z",
            // Listed as changed for what changed below them, as overlay
            // (which copies them up) lists them.
            "C /b",
            "C /b/deep",
            "C /b/deep/f",
            "A /new",
            "A /new/n",
            "D /top",
        ]
    );
    // Parents come first even when they did not change themselves.
    assert_eq!(
        entries(&tar),
        ["a/", "a/.wh.y", "a/z", "b/", "b/deep/", "b/deep/f", "new/", "new/n", ".wh.top"]
    );
}

#[test]
fn layer_tar_unpacks_to_the_same_tree() {
    // A round trip through the unpacker: contents, modes and links survive.
    let t = tempfile::tempdir().unwrap();
    let up = t.path().join("up");
    write(&up.join("d/file"), "data");
    fs::hard_link(up.join("d/file"), up.join("d/link")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(up.join("d/file"), fs::Permissions::from_mode(0o751)).unwrap();
    let (_, tar) = walk(&up, &[], true);
    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    crate::image::layer::unpack(&tar[..], &out, "layer", None).unwrap();
    assert_eq!(fs::read_to_string(out.join("d/link")).unwrap(), "data");
    let md = fs::metadata(out.join("d/file")).unwrap();
    assert_eq!(md.permissions().mode() & 0o7777, 0o751);
    assert_eq!(md.nlink(), 2);
}

#[test]
fn symlinks_in_the_tree_are_never_followed() {
    // A container replaced a directory of the image by a symlink to the
    // host's root and planted another: both are written as links, and
    // nothing of what they point to is read.
    let t = tempfile::tempdir().unwrap();
    let (l1, up) = (t.path().join("l1"), t.path().join("up"));
    write(&l1.join("etc/motd"), "hi");
    fs::create_dir_all(&up).unwrap();
    std::os::unix::fs::symlink("/", up.join("etc")).unwrap();
    std::os::unix::fs::symlink("../../../../../..", up.join("up")).unwrap();
    for upper in [true, false] {
        let (changes, tar) = walk(&up, std::slice::from_ref(&l1), upper);
        assert_eq!(lines(&changes), ["C /etc", "A /up"], "upper: {upper}");
        assert_eq!(
            entries(&tar),
            ["etc -> /", "up -> ../../../../../.."],
            "upper: {upper}"
        );
    }
}
