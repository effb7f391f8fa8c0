//! Tests that really mount: they need root (or a user namespace where we are root).

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::{Mode, SFlag};

use super::*;

fn write(p: &Path, text: &str) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

fn whiteout(p: &Path) {
    nix::sys::stat::mknod(p, SFlag::S_IFCHR, Mode::empty(), 0).unwrap();
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn mounts_below(dir: &Path) -> Vec<PathBuf> {
    let dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    mountinfo::mount_points()
        .into_iter()
        .filter(|m| m.starts_with(&dir))
        .collect()
}

/// Two layers in overlay format: the upper one deletes `gone` with a whiteout
/// and makes `od` opaque; the lower one has a hard link, a symlink, a setuid
/// file, an owner other than root, an extended attribute and an old mtime.
fn layers(base: &Path) -> Vec<PathBuf> {
    let l0 = base.join("layers/l0");
    let l1 = base.join("layers/l1");
    write(&l0.join("keep"), "keep\n");
    write(&l0.join("gone"), "gone\n");
    write(&l0.join("od/old"), "old\n");
    write(&l0.join("sub/a"), "linked\n");
    fs::hard_link(l0.join("sub/a"), l0.join("sub/b")).unwrap();
    std::os::unix::fs::symlink("keep", l0.join("link")).unwrap();
    write(&l0.join("suid"), "#!/bin/sh\n");
    std::os::unix::fs::chown(l0.join("keep"), Some(1000), Some(1001)).unwrap();
    xattr::set(l0.join("keep"), "user.test", b"v").unwrap();
    fs::set_permissions(l0.join("suid"), fs::Permissions::from_mode(0o4755)).unwrap();
    let old = nix::sys::time::TimeSpec::new(1_000_000_000, 0);
    nix::sys::stat::utimensat(
        None,
        &l0.join("keep"),
        &old,
        &old,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .unwrap();

    fs::create_dir_all(&l1).unwrap();
    whiteout(&l1.join("gone"));
    write(&l1.join("od/new"), "new\n");
    xattr::set(l1.join("od"), "user.overlay.opaque", b"y").unwrap();
    write(&l1.join("sub/c"), "c\n");
    vec![l0, l1]
}

fn check_merged(kind: DriverKind, root: &Path, lowers: &[PathBuf]) {
    assert_eq!(fs::read_to_string(root.join("keep")).unwrap(), "keep\n");
    assert!(!root.join("gone").exists(), "{kind}: whiteout did not hide");
    assert!(fs::symlink_metadata(root.join("gone")).is_err());
    assert_eq!(names(&root.join("od")), ["new"], "{kind}: opaque dir");
    assert_eq!(names(&root.join("sub")), ["a", "b", "c"]);
    let a = fs::metadata(root.join("sub/a")).unwrap();
    let b = fs::metadata(root.join("sub/b")).unwrap();
    assert_eq!(a.ino(), b.ino(), "{kind}: hard link");
    assert_eq!(a.nlink(), 2);
    assert_eq!(
        fs::read_link(root.join("link")).unwrap(),
        PathBuf::from("keep")
    );
    let keep = fs::metadata(root.join("keep")).unwrap();
    assert_eq!((keep.uid(), keep.gid()), (1000, 1001), "{kind}: owner");
    assert_eq!(keep.mtime(), 1_000_000_000, "{kind}: mtime");
    assert_eq!(
        xattr::get(root.join("keep"), "user.test")
            .unwrap()
            .as_deref(),
        Some(&b"v"[..])
    );
    assert_eq!(
        fs::metadata(root.join("suid")).unwrap().mode() & 0o7777,
        0o4755
    );

    // Writes land in the container's own tree, never in a layer.
    write(&root.join("newfile"), "n\n");
    write(&root.join("od/more"), "m\n");
    fs::remove_file(root.join("keep")).unwrap();
    fs::write(root.join("sub/c"), "changed\n").unwrap();
    assert!(!lowers[0].join("newfile").exists());
    assert!(!lowers[1].join("od/more").exists());
    assert!(lowers[0].join("keep").exists());
    assert_eq!(fs::read_to_string(lowers[1].join("sub/c")).unwrap(), "c\n");
    assert!(!root.join("keep").exists());
}

fn run_driver(kind: DriverKind) {
    let tmp = tempfile::tempdir().unwrap();
    let lowers = layers(tmp.path());
    let dir = tmp.path().join("containers/c1");
    assert!(!is_mounted(kind, &dir));
    let root = mount(kind, &lowers, &dir).unwrap();
    assert!(is_mounted(kind, &dir));
    // A second mount is a no-op returning the same root.
    assert_eq!(mount(kind, &lowers, &dir).unwrap(), root);
    check_merged(kind, &root, &lowers);
    match kind {
        DriverKind::Vfs => {
            assert_eq!(root, dir.join("rootfs"));
            assert_eq!(mounts_below(tmp.path()), Vec::<PathBuf>::new());
            // Neither whiteout devices nor overlay marks are copied.
            assert!(fs::symlink_metadata(root.join("gone")).is_err());
            assert_eq!(
                xattr::get(root.join("od"), "user.overlay.opaque").unwrap(),
                None
            );
        }
        _ => {
            assert_eq!(mounts_below(tmp.path()), vec![dir.join("merged")]);
            assert_eq!(
                fs::read_to_string(dir.join("upper/newfile")).unwrap(),
                "n\n"
            );
        }
    }
    unmount(kind, &dir).unwrap();
    unmount(kind, &dir).unwrap();
    assert_eq!(mounts_below(tmp.path()), Vec::<PathBuf>::new());
    assert_eq!(is_mounted(kind, &dir), kind == DriverKind::Vfs);
    if kind != DriverKind::Vfs {
        // Mounting again shows the container's earlier changes.
        let root = mount(kind, &lowers, &dir).unwrap();
        assert_eq!(fs::read_to_string(root.join("newfile")).unwrap(), "n\n");
        assert!(!root.join("keep").exists());
        assert!(!root.join("gone").exists());
        assert_eq!(names(&root.join("od")), ["more", "new"]);
    }
    remove(kind, &dir).unwrap();
    remove(kind, &dir).unwrap();
    assert!(!dir.exists());
    assert!(!is_mounted(kind, &dir));
    assert_eq!(mounts_below(tmp.path()), Vec::<PathBuf>::new());
    // The layers are as they were.
    assert_eq!(
        names(&lowers[0]),
        ["gone", "keep", "link", "od", "sub", "suid"]
    );
    assert_eq!(names(&lowers[1]), ["gone", "od", "sub"]);
}

#[test]
fn overlay_mounts_layers() {
    run_driver(DriverKind::Overlay);
}

#[test]
fn fuse_overlayfs_mounts_layers() {
    run_driver(DriverKind::FuseOverlayfs);
}

#[test]
fn vfs_copies_layers() {
    run_driver(DriverKind::Vfs);
}

#[test]
fn no_layers() {
    for kind in DriverKind::ALL {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("c");
        let root = mount(kind, &[], &dir).unwrap();
        assert_eq!(names(&root), Vec::<String>::new(), "{kind}");
        write(&root.join("x"), "x");
        assert_eq!(names(&root), ["x"]);
        remove(kind, &dir).unwrap();
        assert_eq!(mounts_below(tmp.path()), Vec::<PathBuf>::new());
    }
}

/// 60 layers at long paths: the plain lowerdir option would not fit in a page.
#[test]
fn sixty_layers() {
    for kind in DriverKind::ALL {
        let tmp = tempfile::tempdir().unwrap();
        let deep = tmp
            .path()
            .join("storage/overlay-layers/with/a/rather/deep/path");
        let lowers: Vec<PathBuf> = (0..60)
            .map(|i| {
                let l = deep.join(format!("{i:064x}")).join("diff");
                write(&l.join(format!("f{i}")), &i.to_string());
                // Each layer overrides the shared file; the topmost must win.
                write(&l.join("top"), &i.to_string());
                l
            })
            .collect();
        let total: usize = lowers.iter().map(|l| l.as_os_str().len() + 1).sum();
        assert!(total > 4096);
        let dir = tmp.path().join("c");
        let root = mount(kind, &lowers, &dir).unwrap();
        for i in 0..60 {
            assert_eq!(
                fs::read_to_string(root.join(format!("f{i}"))).unwrap(),
                i.to_string(),
                "{kind}"
            );
        }
        assert_eq!(fs::read_to_string(root.join("top")).unwrap(), "59");
        remove(kind, &dir).unwrap();
        assert_eq!(mounts_below(tmp.path()), Vec::<PathBuf>::new());
    }
}

#[test]
fn remove_refuses_a_mounted_subtree_it_cannot_unmount_through_vfs() {
    // remove(Vfs) does not unmount; it must not delete through a mount.
    let tmp = tempfile::tempdir().unwrap();
    let lowers = layers(tmp.path());
    let dir = tmp.path().join("c");
    mount(DriverKind::Overlay, &lowers, &dir).unwrap();
    let err = remove(DriverKind::Vfs, &dir).unwrap_err().to_string();
    assert!(err.contains("still mounted"), "{err}");
    assert!(lowers[0].join("keep").exists());
    remove(DriverKind::Overlay, &dir).unwrap();
    assert!(!dir.exists());
}

#[test]
fn select_records_and_keeps_the_driver() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let detected = select(&root, None).unwrap();
    // Kernel overlay works on the hosts these tests run on.
    assert_eq!(detected, DriverKind::Overlay);
    assert!(root.join("storage.json").exists());
    assert_eq!(select(&root, None).unwrap(), detected);
    assert_eq!(select(&root, Some("overlay")).unwrap(), detected);
    assert_eq!(select(&root, Some("")).unwrap(), detected);
    let err = select(&root, Some("vfs")).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "storage driver \"vfs\" does not match driver \"overlay\" of the store at {}; \
             drop --storage-driver or use another --root",
            root.display()
        )
    );
    // No probe litter is left in the store.
    assert_eq!(names(&root), ["storage.json"]);
}

#[test]
fn select_honours_a_requested_driver_on_a_new_store() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    assert_eq!(select(&root, Some("vfs")).unwrap(), DriverKind::Vfs);
    assert_eq!(select(&root, None).unwrap(), DriverKind::Vfs);
    assert!(select(&root, Some("fuse-overlayfs")).is_err());
    let root2 = tmp.path().join("store2");
    assert_eq!(
        select(&root2, Some("fuse-overlayfs")).unwrap(),
        DriverKind::FuseOverlayfs
    );
    let err = select(&tmp.path().join("s3"), Some("btrfs"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "unknown storage driver \"btrfs\"; use overlay, fuse-overlayfs or vfs"
    );
}

#[test]
fn driver_names_round_trip() {
    for kind in DriverKind::ALL {
        assert_eq!(DriverKind::parse(kind.name()).unwrap(), kind);
    }
    assert_eq!(DriverKind::parse("overlay2").unwrap(), DriverKind::Overlay);
}
