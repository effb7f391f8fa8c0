//! Image commands as a user sees them: import (file, stdin, --change), images,
//! tag, untag, image exists/inspect, rmi; bad names, bad input and hostile
//! archives that must leave nothing behind.

mod common;

use std::fs;
use std::path::Path;

use common::*;

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// An image id as printed by skiff, without the optional `sha256:` prefix.
fn bare_id(s: &str) -> &str {
    s.trim().strip_prefix("sha256:").unwrap_or(s.trim())
}

/// Splits a table row on runs of two or more spaces.
fn columns(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

/// Every regular file under `dir` at least `min` bytes long, skipping `skip`.
fn big_files(dir: &Path, min: u64, skip: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if d == skip {
            continue;
        }
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            if m.is_dir() {
                stack.push(e.path());
            } else if m.is_file() && m.len() >= min {
                found.push(format!("{} ({} bytes)", e.path().display(), m.len()));
            }
        }
    }
    found
}

#[test]
fn import_from_file_prints_the_id_and_lists_the_image() {
    let s = Skiff::new();
    let fixture = s_path(&env().fixture);
    let out = s.ok(&["import", &fixture, BUSYBOX]);
    let id = bare_id(out.lines().last().unwrap_or_default()).to_string();
    assert!(
        is_hex(&id, 64),
        "import should end with the 64-hex image id, got {out:?}"
    );

    let ids = s.image_ids();
    assert_eq!(ids.len(), 1, "one image expected, got {ids:?}");
    assert_eq!(bare_id(&ids[0]), id);

    let short = s.ok(&["images", "-q"]);
    assert_eq!(short, format!("{}\n", &id[..12]));

    assert_eq!(s.ok(&["image", "exists", BUSYBOX]), "");
    assert_eq!(s.ok(&["image", "exists", "busybox"]), "", "short name");
    assert_eq!(s.ok(&["image", "exists", &id[..12]]), "", "short id");
}

#[test]
fn import_from_stdin() {
    let s = Skiff::new();
    let tar = fs::read(&env().fixture).unwrap();
    s.ok_stdin(&["import", "-", "localhost/fromstdin:v1"], &tar);
    assert_eq!(
        s.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "localhost/fromstdin:v1\n"
    );
}

#[test]
fn images_table_has_podman_columns() {
    let s = Skiff::new();
    s.import_busybox();
    let out = s.ok(&["images"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "header and one row expected:\n{out}");
    assert_eq!(
        columns(lines[0]),
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
        "header:\n{out}"
    );
    let row = columns(lines[1]);
    assert_eq!(row.len(), 5, "row:\n{out}");
    assert_eq!(row[0], "localhost/busybox");
    assert_eq!(row[1], "latest");
    assert!(is_hex(&row[2], 12), "IMAGE ID column: {}", row[2]);
    assert!(
        row[3].ends_with("ago") || row[3] == "now",
        "CREATED column: {}",
        row[3]
    );
    // busybox-static is about 2 MB; sizes are decimal with a unit.
    assert!(row[4].ends_with("MB"), "SIZE column: {}", row[4]);

    let noheading = s.ok(&["images", "--noheading"]);
    assert_eq!(noheading.lines().count(), 1, "{noheading}");
    assert_eq!(
        s.ok(&["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]),
        "localhost/busybox:latest\n"
    );
}

#[test]
fn images_format_json() {
    let s = Skiff::new();
    s.import_busybox();
    let out = s.ok(&["images", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("images --format json is not JSON ({e}):\n{out}"));
    let arr = v.as_array().expect("a JSON array");
    assert_eq!(arr.len(), 1, "{out}");
    let id = arr[0]["Id"].as_str().expect("Id");
    assert!(is_hex(bare_id(id), 64), "Id: {id}");
    let names = arr[0]["Names"].as_array().expect("Names");
    assert!(
        names.iter().any(|n| n == BUSYBOX),
        "Names lacks {BUSYBOX}: {out}"
    );
    assert!(
        arr[0]["Size"].as_u64().unwrap_or(0) > 1_000_000,
        "Size: {out}"
    );
}

#[test]
fn change_instructions_show_in_image_inspect() {
    let s = Skiff::new();
    let fixture = s_path(&env().fixture);
    s.ok(&[
        "import",
        &fixture,
        "localhost/changed:1",
        "--change",
        r#"CMD ["/bin/echo", "from cmd"]"#,
        "--change",
        r#"ENTRYPOINT ["/bin/env"]"#,
        "--change",
        "ENV A=1 B=two",
        "--change",
        "WORKDIR /home/tester",
        "--change",
        "USER tester",
        "--change",
        "EXPOSE 80",
        "--change",
        "EXPOSE 53/udp",
        "--change",
        "LABEL org.example.k=v",
    ]);
    let img = "localhost/changed:1";
    let f = |t: &str| s.ok(&["image", "inspect", "--format", t, img]);
    assert_eq!(f("{{json .Config.Cmd}}"), "[\"/bin/echo\",\"from cmd\"]\n");
    assert_eq!(f("{{json .Config.Entrypoint}}"), "[\"/bin/env\"]\n");
    assert_eq!(f("{{.Config.WorkingDir}}"), "/home/tester\n");
    assert_eq!(f("{{.Config.User}}"), "tester\n");
    assert_eq!(f("{{index .Config.Labels \"org.example.k\"}}"), "v\n");
    assert_eq!(f("{{index .Labels \"org.example.k\"}}"), "v\n");
    let env: Vec<String> = serde_json::from_str(&f("{{json .Config.Env}}")).unwrap();
    assert!(env.contains(&"A=1".to_string()), "Env: {env:?}");
    assert!(env.contains(&"B=two".to_string()), "Env: {env:?}");
    let ports: serde_json::Value =
        serde_json::from_str(&f("{{json .Config.ExposedPorts}}")).unwrap();
    assert!(ports.get("80/tcp").is_some(), "ExposedPorts: {ports}");
    assert!(ports.get("53/udp").is_some(), "ExposedPorts: {ports}");
}

#[test]
fn image_inspect_json_has_podman_keys() {
    let s = Skiff::new();
    s.import_busybox();
    let out = s.ok(&["image", "inspect", "busybox"]);
    let v: serde_json::Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("image inspect is not JSON ({e}):\n{out}"));
    let img = &v.as_array().expect("a JSON array")[0];
    assert!(
        is_hex(bare_id(img["Id"].as_str().unwrap_or("")), 64),
        "{out}"
    );
    assert_eq!(img["RepoTags"], serde_json::json!([BUSYBOX]), "{out}");
    assert_eq!(img["Os"], "linux", "{out}");
    assert_eq!(img["Architecture"], "amd64", "{out}");
    assert_eq!(img["RootFS"]["Type"], "layers", "{out}");
    let layers = img["RootFS"]["Layers"].as_array().expect("RootFS.Layers");
    assert_eq!(layers.len(), 1, "{out}");
    assert!(
        layers[0].as_str().unwrap_or("").starts_with("sha256:"),
        "diff id: {out}"
    );
    assert_eq!(
        img["Config"]["Cmd"],
        serde_json::json!(["/bin/sh"]),
        "{out}"
    );
    assert!(img["Size"].as_u64().unwrap_or(0) > 1_000_000, "{out}");
    // The same document through the template engine and through `inspect`.
    assert_eq!(
        s.ok(&["image", "inspect", "--format", "{{.Id}}", "busybox"])
            .trim(),
        img["Id"].as_str().unwrap()
    );
}

#[test]
fn tag_and_untag() {
    let s = Skiff::new();
    s.import_busybox();
    assert_eq!(
        s.ok(&["tag", "busybox", "localhost/other:v1", "example.com/x/y:z"]),
        ""
    );
    let mut names: Vec<String> = s
        .ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .lines()
        .map(str::to_string)
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "example.com/x/y:z",
            "localhost/busybox:latest",
            "localhost/other:v1"
        ]
    );
    // Tags are names of one image.
    assert_eq!(s.image_ids().len(), 1);
    assert_eq!(s.ok(&["image", "exists", "localhost/other:v1"]), "");

    s.ok(&["untag", "busybox", "localhost/other:v1"]);
    assert_eq!(s.cmd(&["image", "exists", "localhost/other:v1"]).code, 1);
    assert_eq!(s.ok(&["image", "exists", "example.com/x/y:z"]), "");
    assert_eq!(s.ok(&["image", "exists", BUSYBOX]), "");

    // untag with no names removes every name; the image stays, dangling.
    s.ok(&["untag", "example.com/x/y:z"]);
    assert_eq!(s.cmd(&["image", "exists", BUSYBOX]).code, 1);
    assert_eq!(s.image_ids().len(), 1);
}

#[test]
fn image_exists_is_silent_and_uses_exit_codes() {
    let s = Skiff::new();
    s.import_busybox();
    let yes = s.cmd(&["image", "exists", BUSYBOX]);
    assert_eq!(
        (yes.code, yes.stdout.as_str(), yes.stderr.as_str()),
        (0, "", ""),
        "{}",
        yes.describe()
    );
    let no = s.cmd(&["image", "exists", "localhost/nosuch:latest"]);
    assert_eq!((no.code, no.stdout.as_str()), (1, ""), "{}", no.describe());
}

#[test]
fn rmi_removes_the_image() {
    let s = Skiff::new();
    s.import_busybox();
    s.ok(&["tag", "busybox", "localhost/second:latest"]);
    // Removing one name of a multiply-tagged image only untags it.
    s.ok(&["rmi", "localhost/second:latest"]);
    assert_eq!(s.image_ids().len(), 1);
    let out = s.ok(&["rmi", "busybox"]);
    assert!(!out.trim().is_empty(), "rmi prints what it removed");
    assert!(s.image_ids().is_empty());
    assert_eq!(s.cmd(&["image", "exists", BUSYBOX]).code, 1);
    // The layer data is gone too: no 2 MB busybox left in the store.
    let left = big_files(&s.data_home, 1_000_000, Path::new("/nonexistent"));
    assert!(left.is_empty(), "rmi left layer data behind: {left:?}");
}

#[test]
fn rmi_refuses_an_image_in_use_unless_forced() {
    let s = Skiff::new();
    s.import_busybox();
    s.ok(&["run", "--name", "user", "busybox", "true"]);
    let o = s.cmd(&["rmi", "busybox"]);
    assert_ne!(
        o.code,
        0,
        "rmi of an image in use must fail\n{}",
        o.describe()
    );
    let line = one_error_line(&o);
    assert!(line.contains("in use"), "{line}");
    assert_eq!(s.image_ids().len(), 1, "the image must stay");
    assert_eq!(s.container_ids().len(), 1, "the container must stay");

    s.ok(&["rmi", "-f", "busybox"]);
    assert!(s.image_ids().is_empty());
    assert!(
        s.container_ids().is_empty(),
        "rmi -f removes the containers using it"
    );
}

#[test]
fn unknown_image_is_not_known() {
    let s = Skiff::new();
    s.import_busybox();
    let line = s.fails_engine(&["image", "inspect", "nosuch"]);
    assert_eq!(line, "Error: nosuch: image not known");
    let line = s.fails_engine(&["tag", "nosuch", "localhost/x:y"]);
    assert_eq!(line, "Error: nosuch: image not known");
    let o = s.cmd(&["rmi", "nosuch"]);
    assert_ne!(o.code, 0, "{}", o.describe());
    assert_eq!(one_error_line(&o), "Error: nosuch: image not known");
}

#[test]
fn invalid_reference_format() {
    let s = Skiff::new();
    s.import_busybox();
    let fixture = s_path(&env().fixture);
    for bad in [
        "Busybox:UPPER",
        "bad name",
        "a//b",
        "x:y:z",
        "localhost/busybox:",
    ] {
        let line = s.fails_engine(&["import", &fixture, bad]);
        assert!(
            line.starts_with("Error: invalid reference format"),
            "import {bad:?}: {line}"
        );
        let line = s.fails_engine(&["tag", "busybox", bad]);
        assert!(
            line.starts_with("Error: invalid reference format"),
            "tag {bad:?}: {line}"
        );
    }
    assert_eq!(s.image_ids().len(), 1, "nothing imported under a bad name");
    assert_eq!(
        s.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "localhost/busybox:latest\n"
    );
}

#[test]
fn malformed_change_is_rejected_and_leaves_no_image() {
    let s = Skiff::new();
    let fixture = s_path(&env().fixture);
    for bad in [
        "BOGUS x",
        "CMD",
        "EXPOSE notaport",
        "RUN echo hi",
        "ENV",
        "LABEL",
    ] {
        let line = s.fails_engine(&["import", &fixture, "localhost/bad:1", "--change", bad]);
        let word = bad.split_whitespace().next().unwrap();
        assert!(line.contains(word), "the error should name {word}: {line}");
        assert!(s.image_ids().is_empty(), "--change {bad:?} left an image");
    }
}

#[test]
fn missing_source_file_is_reported() {
    let s = Skiff::new();
    let line = s.fails_engine(&["import", "/nonexistent/rootfs.tar", "localhost/x:1"]);
    assert!(line.contains("/nonexistent/rootfs.tar"), "{line}");
    assert!(s.image_ids().is_empty());
}

#[test]
fn truncated_tar_leaves_nothing_in_the_store() {
    let s = Skiff::new();
    let tar = fs::read(&env().fixture).unwrap();
    // Cut in the middle of a member, well after busybox itself.
    let cut = s.write_file("truncated.tar", &tar[..tar.len() * 2 / 3 + 7]);
    let files = cut.parent().unwrap().to_path_buf();
    let line = s.fails_engine(&["import", &s_path(&cut), "localhost/cut:1"]);
    assert!(line.len() > "Error: ".len(), "{line}");
    assert!(s.image_ids().is_empty());
    let left = big_files(&s.home, 1_000_000, &files);
    assert!(
        left.is_empty(),
        "a failed import left data behind: {left:?}"
    );

    let o = s.cmd_stdin(&["import", "-", "localhost/cut:3"], &tar[..tar.len() / 2]);
    assert_eq!(o.code, 125, "{}", o.describe());
    assert!(s.image_ids().is_empty());
}

/// A path outside every store that a hostile archive aims at.
fn canary(name: &str) -> std::path::PathBuf {
    let p = Path::new("/tmp").join(format!("skiff-canary-{}-{name}", std::process::id()));
    let _ = fs::remove_file(&p);
    p
}

/// Enough `..` to reach / from any directory a store might unpack into.
fn dotdots() -> String {
    "../".repeat(16)
}

fn import_hostile(s: &Skiff, name: &str, tar: Vec<u8>) -> String {
    let p = s.write_file(&format!("{name}.tar"), &tar);
    let line = s.fails_engine(&["import", &s_path(&p), &format!("localhost/{name}:1")]);
    assert!(
        s.image_ids().is_empty(),
        "{name}: a rejected archive left an image"
    );
    line
}

#[test]
fn hostile_tar_dotdot_entry_is_rejected() {
    let s = Skiff::new();
    let target = canary("dotdot");
    let mut t = TarBuilder::new();
    t.dir("etc", 0o755, 0, 0)
        .file("etc/ok", b"ok\n", 0o644, 0, 0)
        .file(
            &format!("{}{}", dotdots(), &s_path(&target)[1..]),
            b"escaped\n",
            0o644,
            0,
            0,
        );
    import_hostile(&s, "dotdot", t.finish());
    assert!(
        !target.exists(),
        "{} was written outside the store",
        target.display()
    );
}

#[test]
fn hostile_tar_absolute_path_is_rejected() {
    let s = Skiff::new();
    let target = canary("absolute");
    let mut t = TarBuilder::new();
    t.dir("etc", 0o755, 0, 0)
        .file(&s_path(&target), b"escaped\n", 0o644, 0, 0);
    import_hostile(&s, "absolute", t.finish());
    assert!(
        !target.exists(),
        "{} was written outside the store",
        target.display()
    );
}

#[test]
fn hostile_tar_file_through_absolute_symlink_is_rejected() {
    let s = Skiff::new();
    let target = canary("abs-symlink");
    let mut t = TarBuilder::new();
    t.symlink("escape", "/").file(
        &format!("escape{}", s_path(&target)),
        b"escaped\n",
        0o644,
        0,
        0,
    );
    import_hostile(&s, "abssymlink", t.finish());
    assert!(
        !target.exists(),
        "{} was written through a symlink",
        target.display()
    );
}

#[test]
fn hostile_tar_file_through_relative_symlink_is_rejected() {
    let s = Skiff::new();
    let target = canary("rel-symlink");
    let mut t = TarBuilder::new();
    t.dir("d", 0o755, 0, 0)
        .symlink("d/up", dotdots().trim_end_matches('/'))
        .file(
            &format!("d/up{}", s_path(&target)),
            b"escaped\n",
            0o644,
            0,
            0,
        );
    import_hostile(&s, "relsymlink", t.finish());
    assert!(
        !target.exists(),
        "{} was written through a symlink",
        target.display()
    );
}

#[test]
fn hostile_tar_hardlink_out_of_the_tree_is_rejected() {
    let s = Skiff::new();
    // A file the user owns, so that only skiff's own check can stop the link.
    let secret = s.write_file("secret", b"host secret\n");
    let mut t = TarBuilder::new();
    t.dir("etc", 0o755, 0, 0)
        .hardlink(
            "etc/stolen",
            &format!("{}{}", dotdots(), &s_path(&secret)[1..]),
        )
        .hardlink("etc/stolen-abs", &s_path(&secret));
    import_hostile(&s, "hardlink", t.finish());
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        fs::metadata(&secret).unwrap().nlink(),
        1,
        "a hard link to {} was made",
        secret.display()
    );
    assert_eq!(fs::read(&secret).unwrap(), b"host secret\n");
}

#[test]
fn hard_links_and_symlinks_round_trip_through_run() {
    let s = Skiff::new();
    s.import_with("localhost/links:1", |t| {
        t.dir("data", 0o755, 0, 0)
            .file("data/file", b"linked content\n", 0o640, 1000, 1000)
            .hardlink("data/hard", "data/file")
            .symlink("data/rel", "file")
            .symlink("data/abs", "/data/file")
            .symlink("data/dangling", "/nonexistent");
    });
    let out = s.ok(&[
        "run",
        "--rm",
        "localhost/links:1",
        "sh",
        "-c",
        "stat -c '%i %h %u:%g %a' /data/file /data/hard; readlink /data/rel; readlink /data/abs; readlink /data/dangling; cat /data/rel /data/abs",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 7, "stat, readlink and cat output:\n{out}");
    assert_eq!(lines[0], lines[1], "hard link shares the inode: {out}");
    assert!(lines[0].ends_with(" 2 1000:1000 640"), "{out}");
    assert_eq!(
        &lines[2..5],
        ["file", "/data/file", "/nonexistent"],
        "{out}"
    );
    assert_eq!(&lines[5..7], ["linked content", "linked content"], "{out}");
}

fn s_path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// A full disk during unpack: one-line error naming the cause, exit 125, and
/// no image, layer or blob left in the store. Root mounts a 3 MB tmpfs as the
/// store; the fixture's blob and unpacked layer need about 4 MB together.
#[test]
fn full_disk_during_import_leaves_nothing_behind() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test mounts a small tmpfs for the store: run the suite as root (sudo .ci/run)"
    );
    let s = Skiff::new();
    let guard = s.small_tmpfs("small", "3m");
    let small = guard.0.clone();
    let tar = s.write_file("rootfs.tar", &common::busybox_rootfs());
    let root = small.join("store");
    let root_s = root.to_string_lossy().into_owned();
    let o = s.cmd(&[
        "--root",
        &root_s,
        "import",
        &tar.to_string_lossy(),
        "localhost/big:latest",
    ]);
    assert_eq!(o.code, 125, "{}", o.describe());
    let line = common::one_error_line(&o);
    assert!(line.contains("no space left on device"), "{line}");
    let o = s.cmd(&["--root", &root_s, "images", "-q"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert!(
        o.stdout.trim().is_empty(),
        "an image was left: {}",
        o.stdout
    );
    assert_store_dirs_empty(
        &root,
        &["layers", "images", "blobs/sha256"],
        "the failed import",
    );
}

/// `tag IMG UPPER/case` was taken as registry `UPPER`; Podman refuses it
/// because a repository name must be lowercase. Nothing is tagged.
#[test]
fn tag_refuses_uppercase_repository_names() {
    let s = Skiff::new();
    s.import_busybox();
    for bad in ["UPPER/case", "Foo/bar:1", "localhost/Busy"] {
        let line = s.fails_engine(&["tag", "busybox", bad]);
        assert!(
            line.starts_with("Error: invalid reference format: repository name (")
                && line.ends_with(") must be lowercase"),
            "tag {bad:?}: {line}"
        );
    }
    assert_eq!(
        s.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "localhost/busybox:latest\n"
    );
    // A capitalised registry and tag are fine.
    s.ok(&["tag", "busybox", "Example.COM/lower/case:UP"]);
    assert!(s
        .ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .contains("Example.COM/lower/case:UP\n"));
}
