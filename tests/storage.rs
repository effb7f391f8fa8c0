//! The core storage cases under each driver (kernel overlay, fuse-overlayfs,
//! vfs): a container's writes, deletions and renames stay in the container and
//! never reach the image; `export` writes the container's view.

mod common;

use std::io::Read;

use common::*;

/// The filesystem type of `/` as the container sees it.
const ROOT_FSTYPE: &str = "awk '$2==\"/\" {t=$3} END {print t}' /proc/mounts";

fn store(driver: &str) -> Skiff {
    let s = Skiff::with_driver(driver);
    s.import_busybox();
    s
}

fn sh(s: &Skiff, script: &str) -> String {
    s.ok(&["run", "--rm", "busybox", "sh", "-c", script])
}

/// Entries of a tar archive: (path without leading `./`, uid, content of regular files).
fn tar_entries(data: &[u8]) -> Vec<(String, u64, tar::EntryType, Vec<u8>)> {
    let mut a = tar::Archive::new(data);
    let mut v = Vec::new();
    for e in a.entries().expect("a tar archive") {
        let mut e = e.expect("a tar entry");
        let path = e.path().unwrap().to_string_lossy().into_owned();
        let path = path
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        let uid = e.header().uid().unwrap();
        let kind = e.header().entry_type();
        let mut content = Vec::new();
        if kind == tar::EntryType::Regular {
            e.read_to_end(&mut content).unwrap();
        }
        v.push((path, uid, kind, content));
    }
    v
}

fn driver_is_used(driver: &str, fstype: &str) {
    let s = store(driver);
    assert_eq!(
        s.ok(&["info", "--format", "{{.Store.GraphDriverName}}"]),
        format!("{driver}\n")
    );
    let got = sh(&s, ROOT_FSTYPE);
    assert_eq!(
        got.trim(),
        fstype,
        "the container's / under --storage-driver {driver}"
    );
}

fn echo(driver: &str) {
    let s = store(driver);
    assert_eq!(
        s.ok(&["run", "--rm", "busybox", "echo", "hello"]),
        "hello\n"
    );
    assert!(s.container_ids().is_empty());
}

fn writes_stay_in_the_container(driver: &str) {
    let s = store(driver);
    assert_eq!(
        sh(&s, "echo new > /www/new.html; echo changed > /www/index.html; cat /www/index.html /www/new.html"),
        "changed\nnew\n"
    );
    // A fresh container sees the image as it was.
    assert_eq!(
        sh(&s, "cat /www/index.html; ls /www"),
        format!("{INDEX_HTML}index.html\n")
    );
}

fn deletes_stay_in_the_container(driver: &str) {
    let s = store(driver);
    assert_eq!(
        sh(&s, "rm /www/index.html; ls -A /www | wc -l; test -e /www/index.html || echo gone; rm -r /home/tester; ls /home"),
        "0\ngone\n"
    );
    assert_eq!(sh(&s, "cat /www/index.html"), INDEX_HTML);
    assert_eq!(sh(&s, "cat /home/tester/hello.txt"), TESTER_FILE);
}

fn renames_chown_and_recreate(driver: &str) {
    let s = store(driver);
    // Renaming a lower directory, changing a lower file's owner (copy-up keeps
    // the content), deleting then recreating a directory (opaque in overlay).
    assert_eq!(
        sh(
            &s,
            "mv /home/tester /home/t2 && cat /home/t2/hello.txt; \
             chown 1000:1000 /etc/os-release && stat -c %u:%g /etc/os-release; \
             rm -r /www && mkdir /www && ls -A /www | wc -l; \
             ln /etc/passwd /etc/passwd.hard && stat -c %h /etc/passwd",
        ),
        format!("{TESTER_FILE}1000:1000\n0\n2\n")
    );
    assert_eq!(
        sh(&s, "stat -c %u:%g /etc/os-release; ls /home"),
        "0:0\ntester\n"
    );
}

fn container_state_persists_until_rm(driver: &str) {
    let s = store(driver);
    s.ok(&[
        "run",
        "--name",
        "keep",
        "busybox",
        "sh",
        "-c",
        "echo kept > /root/f",
    ]);
    let o = s.cmd(&["export", "keep"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    let entries = tar_entries(&o.stdout_bytes);
    let f = entries
        .iter()
        .find(|e| e.0 == "root/f")
        .expect("root/f in the export");
    assert_eq!(f.3, b"kept\n");
    s.ok(&["rm", "keep"]);
    assert!(s.container_ids().is_empty());
}

fn export_has_the_container_changes(driver: &str) {
    let s = store(driver);
    s.ok(&[
        "run",
        "--name",
        "c",
        "busybox",
        "sh",
        "-c",
        "echo data > /root/made; rm /www/index.html; echo more >> /home/tester/hello.txt",
    ]);
    // To stdout and with -o: the same archive.
    let o = s.cmd(&["export", "c"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    let file = s.home.join("files/c.tar");
    s.make_dir(file.parent().unwrap());
    s.ok(&["export", "-o", &file.to_string_lossy(), "c"]);
    let from_file = std::fs::read(&file).expect("export -o wrote the file");
    assert_eq!(owner(&file).0, s.uid(), "export -o writes as the user");
    for (how, data) in [("stdout", &o.stdout_bytes), ("-o", &from_file)] {
        let entries = tar_entries(data);
        let get = |p: &str| entries.iter().find(|e| e.0 == p);
        let made = get("root/made").unwrap_or_else(|| panic!("{how}: root/made missing"));
        assert_eq!(made.3, b"data\n", "{how}");
        assert!(
            get("www/index.html").is_none(),
            "{how}: a deleted file was exported"
        );
        assert!(get("www").is_some(), "{how}: www missing");
        let hello = get("home/tester/hello.txt").unwrap_or_else(|| panic!("{how}: hello.txt"));
        assert_eq!(hello.1, 1000, "{how}: ownership as in the container");
        assert_eq!(hello.3, format!("{TESTER_FILE}more\n").as_bytes(), "{how}");
        let bb = get("bin/busybox").unwrap_or_else(|| panic!("{how}: bin/busybox missing"));
        assert_eq!(
            bb.3.len() as u64,
            std::fs::metadata("/bin/busybox").unwrap().len()
        );
        assert!(
            entries.iter().all(|e| !e.0.contains(".wh.")),
            "{how}: whiteouts must not appear in an export"
        );
        assert_eq!(
            get("bin/sh").map(|e| e.2),
            Some(tar::EntryType::Symlink),
            "{how}: bin/sh"
        );
    }
    // An exported filesystem imports back as a working image.
    s.ok(&["import", &file.to_string_lossy(), "localhost/exported:1"]);
    assert_eq!(
        s.ok(&["run", "--rm", "localhost/exported:1", "cat", "/root/made"]),
        "data\n"
    );
}

fn rmi_frees_the_layer(driver: &str) {
    let s = store(driver);
    s.ok(&["run", "--name", "c", "busybox", "true"]);
    s.ok(&["rm", "c"]);
    s.ok(&["rmi", "busybox"]);
    let mut big = Vec::new();
    let mut stack = vec![s.data_home.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            if m.is_dir() {
                stack.push(e.path());
            } else if m.len() > 1_000_000 {
                big.push(e.path());
            }
        }
    }
    assert!(big.is_empty(), "layer data left after rm and rmi: {big:?}");
}

macro_rules! driver_tests {
    ($module:ident, $driver:expr, $fstype:expr) => {
        mod $module {
            #[test]
            fn driver_is_used() {
                super::driver_is_used($driver, $fstype);
            }
            #[test]
            fn echo() {
                super::echo($driver);
            }
            #[test]
            fn writes_stay_in_the_container() {
                super::writes_stay_in_the_container($driver);
            }
            #[test]
            fn deletes_stay_in_the_container() {
                super::deletes_stay_in_the_container($driver);
            }
            #[test]
            fn renames_chown_and_recreate() {
                super::renames_chown_and_recreate($driver);
            }
            #[test]
            fn container_state_persists_until_rm() {
                super::container_state_persists_until_rm($driver);
            }
            #[test]
            fn export_has_the_container_changes() {
                super::export_has_the_container_changes($driver);
            }
            #[test]
            fn rmi_frees_the_layer() {
                super::rmi_frees_the_layer($driver);
            }
        }
    };
}

driver_tests!(overlay, "overlay", "overlay");
driver_tests!(fuse_overlayfs, "fuse-overlayfs", "fuse.fuse-overlayfs");
// vfs: a plain directory bind-mounted as the root; whatever filesystem holds the store.
driver_tests!(vfs, "vfs", &super::vfs_fstype());

/// The filesystem type holding the test homes, which vfs roots live on.
fn vfs_fstype() -> String {
    let base = env().base.clone();
    let out = std::process::Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(&base)
        .output()
        .expect("stat -f");
    match String::from_utf8_lossy(&out.stdout).trim() {
        "ext2/ext3" => "ext4".to_string(),
        "xfs" => "xfs".to_string(),
        "btrfs" => "btrfs".to_string(),
        "tmpfs" => "tmpfs".to_string(),
        other => other.to_string(),
    }
}

#[test]
fn default_driver_is_detected() {
    let s = Skiff::new();
    let d = s.ok(&["info", "--format", "{{.Store.GraphDriverName}}"]);
    assert_eq!(
        d, "overlay\n",
        "kernel overlay works rootless on Linux >= 5.11"
    );
}

#[test]
fn unknown_driver_is_rejected() {
    let s = Skiff::with_driver("nosuchdriver");
    let fixture = env().fixture.to_string_lossy().into_owned();
    let o = s.cmd(&["import", &fixture, BUSYBOX]);
    assert_eq!(o.code, 125, "{}", o.describe());
    assert!(
        one_error_line(&o).contains("nosuchdriver"),
        "{}",
        o.describe()
    );
}

/// A two-layer docker-archive (`docker save` format): the fixture, then a layer
/// that deletes /www/index.html (whiteout), replaces /etc wholesale (opaque
/// directory) and adds a file.
fn two_layer_archive() -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let lower = busybox_rootfs();
    let mut t = TarBuilder::new();
    t.dir("etc", 0o755, 0, 0)
        .file("etc/.wh..wh..opq", b"", 0o644, 0, 0)
        .file(
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\n",
            0o644,
            0,
            0,
        )
        .file("etc/group", b"root:x:0:\n", 0o644, 0, 0)
        .file("etc/only-upper", b"upper\n", 0o644, 0, 0)
        .dir("www", 0o755, 0, 0)
        .file("www/.wh.index.html", b"", 0o644, 0, 0)
        .file("www/added.html", b"added\n", 0o644, 0, 0);
    let upper = t.finish();
    let hex = |d: &[u8]| {
        Sha256::digest(d)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let (l1, l2) = (hex(&lower), hex(&upper));
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2026-01-01T00:00:00Z",
        "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{l1}"), format!("sha256:{l2}")]},
        "history": [{"created_by": "fixture"}, {"created_by": "whiteouts"}]
    })
    .to_string()
    .into_bytes();
    let cfg = hex(&config);
    let manifest = serde_json::json!([{
        "Config": format!("{cfg}.json"),
        "RepoTags": ["localhost/whiteout:1"],
        "Layers": [format!("{l1}/layer.tar"), format!("{l2}/layer.tar")]
    }])
    .to_string()
    .into_bytes();
    let mut a = TarBuilder::new();
    a.file(&format!("{cfg}.json"), &config, 0o644, 0, 0)
        .dir(&l1, 0o755, 0, 0)
        .file(&format!("{l1}/layer.tar"), &lower, 0o644, 0, 0)
        .dir(&l2, 0o755, 0, 0)
        .file(&format!("{l2}/layer.tar"), &upper, 0o644, 0, 0)
        .file("manifest.json", &manifest, 0o644, 0, 0);
    a.finish()
}

fn whiteouts_from_an_image_layer(driver: &str) {
    let s = Skiff::with_driver(driver);
    let archive = s.write_file("whiteout.tar", &two_layer_archive());
    s.ok(&["load", "-i", &archive.to_string_lossy()]);
    let img = "localhost/whiteout:1";
    let out = s.ok(&[
        "run",
        "--rm",
        img,
        "sh",
        "-c",
        "ls -A /www; test -e /etc/os-release || echo os-release-hidden; cat /etc/only-upper /etc/passwd; \
         find / -xdev -name '.wh.*' | wc -l; wc -c < /bin/busybox",
    ]);
    assert_eq!(
        out,
        format!(
            "added.html\nos-release-hidden\nupper\nroot:x:0:0:root:/root:/bin/sh\n0\n{}\n",
            std::fs::metadata("/bin/busybox").unwrap().len()
        ),
        "the upper layer's whiteout hides /www/index.html, its opaque /etc hides the lower /etc, \
         and no whiteout file shows"
    );
    // The layers in the image are the two of the archive.
    assert_eq!(
        s.ok(&[
            "image",
            "inspect",
            "--format",
            "{{len .RootFS.Layers}}",
            img
        ]),
        "2\n"
    );
}

#[test]
fn whiteouts_overlay() {
    whiteouts_from_an_image_layer("overlay");
}

#[test]
fn whiteouts_fuse_overlayfs() {
    whiteouts_from_an_image_layer("fuse-overlayfs");
}

#[test]
fn whiteouts_vfs() {
    whiteouts_from_an_image_layer("vfs");
}
