//! Named volumes and secrets as objects: `volume create/ls/inspect/exists/
//! rm/prune/export/import` and `secret create/ls/inspect/rm/exists`, as an
//! unprivileged user, with hostile archives and bad input.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::*;

/// The keys of a new volume's inspect object, in Podman's order.
const VOLUME_KEYS: [&str; 10] = [
    "Name",
    "Driver",
    "Mountpoint",
    "CreatedAt",
    "Labels",
    "Scope",
    "Options",
    "MountCount",
    "NeedsCopyUp",
    "NeedsChown",
];

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("stat {}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn mountpoint(s: &Skiff, name: &str) -> PathBuf {
    PathBuf::from(
        s.ok(&["volume", "inspect", "--format", "{{.Mountpoint}}", name])
            .trim(),
    )
}

fn names(s: &Skiff) -> Vec<String> {
    s.ok(&["volume", "ls", "-q"])
        .lines()
        .map(str::to_string)
        .collect()
}

/// The entries of a tar stream: (path, mode, uid, gid, data or link target).
fn entries(tar: &[u8]) -> Vec<(String, u32, u64, u64, Vec<u8>)> {
    use std::io::Read;
    let mut a = tar::Archive::new(tar);
    let mut out = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string();
        let h = e.header().clone();
        let mut data = Vec::new();
        if let Some(l) = e.link_name().unwrap() {
            data = l.to_string_lossy().as_bytes().to_vec();
        } else {
            e.read_to_end(&mut data).unwrap();
        }
        out.push((
            path,
            h.mode().unwrap() & 0o7777,
            h.uid().unwrap(),
            h.gid().unwrap(),
            data,
        ));
    }
    out.sort();
    out
}

/// `volume create FLAGS` of a 10 MiB tmpfs volume named scratch.
fn create_scratch(s: &Skiff, flags: &[&str]) {
    let mut args = vec!["volume", "create"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "--opt",
        "o=size=10m",
        "scratch",
    ]);
    s.ok(&args);
}

#[test]
fn create_ls_inspect_exists_rm() {
    let s = Skiff::new();
    assert_eq!(s.ok(&["volume", "create", "data"]), "data\n");
    create_scratch(&s, &["--label", "k=v"]);
    let anon = s.ok(&["volume", "create"]);
    let anon = anon.trim();
    assert!(
        anon.len() == 64 && anon.chars().all(|c| c.is_ascii_hexdigit()),
        "{anon:?}"
    );
    // --ignore: an existing name is fine and printed.
    assert_eq!(s.ok(&["volume", "create", "--ignore", "data"]), "data\n");

    let table = s.ok(&["volume", "ls"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "DRIVER      VOLUME NAME", "{table}");
    assert_eq!(lines.len(), 4, "{table}");
    assert!(lines.contains(&"local       data"), "{table}");
    assert_eq!(
        s.ok(&["volume", "ls", "-q", "--filter", "label=k=v"]),
        "scratch\n"
    );
    assert_eq!(
        s.ok(&[
            "volume",
            "ls",
            "--filter",
            "name=^dat",
            "--format",
            "{{.Name}} {{.Driver}} {{.Scope}}"
        ]),
        "data local local\n"
    );
    assert_eq!(
        s.ok(&["volume", "ls", "--filter", "dangling=true", "-q"])
            .lines()
            .count(),
        3
    );

    let json = s.ok(&["volume", "inspect", "data", "scratch"]);
    let v: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let data = &v[0];
    for key in VOLUME_KEYS {
        assert!(data.get(key).is_some(), "no {key} in {json}");
    }
    assert_eq!(data["Name"], "data");
    assert_eq!(data["Driver"], "local");
    assert_eq!(data["Scope"], "local");
    assert_eq!(data["MountCount"], 0);
    assert!(chrono::DateTime::parse_from_rfc3339(data["CreatedAt"].as_str().unwrap()).is_ok());
    let scratch = &v[1];
    assert_eq!(scratch["Labels"]["k"], "v");
    assert_eq!(scratch["Options"]["type"], "tmpfs");
    assert_eq!(scratch["Options"]["device"], "tmpfs");
    assert_eq!(scratch["Options"]["o"], "size=10m");

    // The data directory: _data 0755 below a 0700 directory, in the store.
    let mp = mountpoint(&s, "data");
    assert!(mp.ends_with("volumes/data/_data"), "{}", mp.display());
    assert_eq!(mode(&mp), 0o755);
    assert_eq!(mode(mp.parent().unwrap()), 0o700);
    assert_eq!(mode(mp.parent().unwrap().parent().unwrap()), 0o700);
    assert_eq!(owner(&mp), (s.uid(), s.gid()));

    assert_eq!(s.cmd(&["volume", "exists", "data"]).code, 0);
    assert_eq!(s.cmd(&["volume", "exists", "nope"]).code, 1);

    assert_eq!(s.ok(&["volume", "rm", "data"]), "data\n");
    assert!(!mp.parent().unwrap().exists());
    assert_eq!(s.cmd(&["volume", "exists", "data"]).code, 1);
    // Podman: removing a volume that does not exist is exit 1.
    let o = s.cmd(&["volume", "rm", "data"]);
    assert_eq!(o.code, 1, "{}", o.describe());
    assert_eq!(one_error_line(&o), "Error: no such volume data");
    let e = s.fails_engine(&["volume", "inspect", "data"]);
    assert_eq!(e, "Error: no such volume data");
    s.ok(&["volume", "rm", "--all"]);
    assert!(names(&s).is_empty());
}

#[test]
fn prune_asks_unless_forced_and_filters() {
    let s = Skiff::new();
    s.ok(&["volume", "create", "--label", "keep=1", "kept"]);
    s.ok(&["volume", "create", "gone"]);
    // Answer no: nothing is removed.
    let o = s.cmd_stdin(&["volume", "prune"], b"n\n");
    assert_eq!(o.code, 0, "{}", o.describe());
    assert!(
        o.stderr
            .contains("WARNING! This will remove all volumes not used by at least one container"),
        "{}",
        o.describe()
    );
    assert!(
        o.stderr.contains("gone") && o.stderr.contains("[y/N]"),
        "{}",
        o.describe()
    );
    assert_eq!(names(&s), vec!["gone", "kept"]);
    // Only what the filter selects.
    assert_eq!(
        s.ok(&["volume", "prune", "-f", "--filter", "label!=keep"]),
        "gone\n"
    );
    assert_eq!(names(&s), vec!["kept"]);
    let o = s.cmd_stdin(&["volume", "prune"], b"y\n");
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(o.stdout, "kept\n");
    assert!(names(&s).is_empty());
}

/// An archive with directories, modes, owners of several users, a symlink
/// and a hard link.
fn sample_tar() -> Vec<u8> {
    let mut t = TarBuilder::new();
    t.dir("etc/", 0o755, 0, 0)
        .file("etc/app.conf", b"port=80\n", 0o644, 0, 0)
        .dir("home/", 0o755, 0, 0)
        .dir("home/tester/", 0o700, 1000, 1000)
        .file("home/tester/notes", b"private\n", 0o600, 1000, 1000)
        .file("run.sh", b"#!/bin/sh\necho hi\n", 0o755, 0, 0)
        .symlink("conf", "/etc/app.conf")
        .symlink("root", "/")
        .hardlink("run2.sh", "run.sh");
    t.finish()
}

#[test]
fn export_import_round_trip_keeps_files_modes_and_owners() {
    let s = Skiff::new();
    s.ok(&["volume", "create", "data"]);
    let tar = s.write_file("in.tar", &sample_tar());
    s.ok(&["volume", "import", "data", tar.to_str().unwrap()]);

    // On the host, a file of container uid 1000 belongs to the matching
    // subordinate id; container root's to the user.
    let mp = mountpoint(&s, "data");
    let (sub_uid, _) = env().subuid;
    let (sub_gid, _) = env().subgid;
    assert_eq!(
        owner(&mp.join("home/tester/notes")),
        (sub_uid + 999, sub_gid + 999)
    );
    assert_eq!(owner(&mp.join("run.sh")), (s.uid(), s.gid()));
    assert_eq!(mode(&mp.join("home/tester")), 0o700);
    assert_eq!(mode(&mp.join("run.sh")), 0o755);

    let o = s.cmd(&["volume", "export", "data"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    let exported = entries(&o.stdout_bytes);
    let names: Vec<&str> = exported.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "conf",
            "etc",
            "etc/app.conf",
            "home",
            "home/tester",
            "home/tester/notes",
            "root",
            "run.sh",
            "run2.sh"
        ]
    );
    let notes = exported
        .iter()
        .find(|e| e.0 == "home/tester/notes")
        .unwrap();
    assert_eq!(
        (notes.1, notes.2, notes.3, notes.4.as_slice()),
        (0o600, 1000, 1000, &b"private\n"[..])
    );
    let conf = exported.iter().find(|e| e.0 == "conf").unwrap();
    assert_eq!(conf.4, b"/etc/app.conf");
    // A link to `/` stays `/` (the tar crate alone would write `//`).
    let root = exported.iter().find(|e| e.0 == "root").unwrap();
    assert_eq!(root.4, b"/");

    // Into a second volume from standard input, out again through -o:
    // the same entries.
    s.ok(&["volume", "create", "copy"]);
    s.ok_stdin(&["volume", "import", "copy", "-"], &o.stdout_bytes);
    let out = s.home.join("files/out.tar");
    s.ok(&["volume", "export", "copy", "-o", out.to_str().unwrap()]);
    assert_eq!(entries(&fs::read(&out).unwrap()), exported);
}

#[test]
fn hostile_imports_are_refused_and_write_nothing() {
    let s = Skiff::new();
    s.ok(&["volume", "create", "data"]);
    let mp = mountpoint(&s, "data");
    let outside = s.make_dir(&s.home.join("outside"));
    let target = outside.to_str().unwrap().to_string();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("dot-dot", {
            let mut t = TarBuilder::new();
            t.file("ok", b"1", 0o644, 0, 0)
                .file("../escaped", b"x", 0o644, 0, 0);
            t.finish()
        }),
        ("absolute symlink", {
            let mut t = TarBuilder::new();
            t.file("ok", b"1", 0o644, 0, 0).symlink("l", &target).file(
                "l/escaped",
                b"x",
                0o644,
                0,
                0,
            );
            t.finish()
        }),
        ("relative symlink", {
            let mut t = TarBuilder::new();
            t.file("ok", b"1", 0o644, 0, 0)
                .symlink("l", "../../../../outside")
                .file("l/escaped", b"x", 0o644, 0, 0);
            t.finish()
        }),
        ("hard link out", {
            let mut t = TarBuilder::new();
            t.file("ok", b"1", 0o644, 0, 0)
                .hardlink("h", "../../../../.bashrc");
            t.finish()
        }),
        ("device node", {
            let mut t = TarBuilder::new();
            t.file("ok", b"1", 0o644, 0, 0);
            let mut h = tar::Header::new_ustar();
            h.set_path("null").unwrap();
            h.set_entry_type(tar::EntryType::Char);
            h.set_mode(0o666);
            h.set_size(0);
            h.set_device_major(1).unwrap();
            h.set_device_minor(3).unwrap();
            h.set_cksum();
            t.raw(&h, &[]);
            t.finish()
        }),
    ];
    for (what, tar) in cases {
        let f = s.write_file(&format!("{}.tar", what.replace(' ', "-")), &tar);
        let e = s.fails_engine(&["volume", "import", "data", f.to_str().unwrap()]);
        assert!(
            e.contains(f.to_str().unwrap()) && e.contains("entry"),
            "{what}: {e}"
        );
        let left: Vec<_> = fs::read_dir(&mp)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "{what}: the volume got {left:?}");
        assert!(!mp.parent().unwrap().join("escaped").exists(), "{what}");
        let out: Vec<_> = fs::read_dir(&outside)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(out.is_empty(), "{what}: wrote outside: {out:?}");
    }
}

#[test]
fn secrets_create_ls_inspect_rm() {
    let s = Skiff::new();
    let f = s.write_file("pass.txt", b"s3cret-from-file");
    let id = s.ok(&[
        "secret",
        "create",
        "--label",
        "app=db",
        "dbpass",
        f.to_str().unwrap(),
    ]);
    let id = id.trim().to_string();
    assert!(
        id.len() == 25 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "{id:?}"
    );
    let id2 = s.ok_stdin(&["secret", "create", "dbpass2", "-"], b"s3cret-from-stdin");
    let id2 = id2.trim().to_string();

    let table = s.ok(&["secret", "ls"]);
    let lines: Vec<&str> = table.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        vec!["ID", "NAME", "DRIVER", "CREATED", "UPDATED"],
        "{table}"
    );
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[1].starts_with(&format!("{id}  dbpass ")), "{table}");
    assert!(lines[1].contains(" file "), "{table}");
    assert_eq!(
        s.ok(&["secret", "ls", "-q", "--filter", "name=pass2$"]),
        format!("{id2}\n")
    );
    assert_eq!(
        s.ok(&[
            "secret",
            "ls",
            "--format",
            "{{.Name}} {{.Driver}}",
            "--filter",
            "name=^dbpass$"
        ]),
        "dbpass file\n"
    );

    // No data without --showsecret, anywhere in the output.
    let json = s.ok(&["secret", "inspect", "dbpass"]);
    assert!(!json.contains("s3cret"), "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v[0]["ID"], id.as_str());
    assert_eq!(v[0]["Spec"]["Name"], "dbpass");
    assert_eq!(v[0]["Spec"]["Driver"]["Name"], "file");
    assert_eq!(v[0]["Spec"]["Labels"]["app"], "db");
    assert!(v[0].get("SecretData").is_none(), "{json}");
    for key in ["CreatedAt", "UpdatedAt"] {
        assert!(
            v[0][key]
                .as_str()
                .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()),
            "{json}"
        );
    }
    assert_eq!(
        s.ok(&[
            "secret",
            "inspect",
            "--showsecret",
            "--format",
            "{{.SecretData}}",
            "dbpass"
        ]),
        "s3cret-from-file\n"
    );
    let v: serde_json::Value =
        serde_json::from_str(&s.ok(&["secret", "inspect", "--showsecret", &id2[..8]])).unwrap();
    assert_eq!(v[0]["SecretData"], "s3cret-from-stdin");

    // Stored 0600 in 0700 directories, and nowhere in a record.
    let dir = s.data_home.join("skiff/secrets");
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join(&id)), 0o700);
    assert_eq!(mode(&dir.join(&id).join("data")), 0o600);
    assert!(!fs::read_to_string(dir.join(&id).join("secret.json"))
        .unwrap()
        .contains("s3cret"));

    // --replace keeps the id and changes the data and UpdatedAt.
    let again = s.ok_stdin(&["secret", "create", "--replace", "dbpass", "-"], b"new");
    assert_eq!(again.trim(), id);
    let v: serde_json::Value =
        serde_json::from_str(&s.ok(&["secret", "inspect", "--showsecret", "dbpass"])).unwrap();
    assert_eq!(v[0]["SecretData"], "new");
    assert_ne!(v[0]["CreatedAt"], v[0]["UpdatedAt"]);

    assert_eq!(s.cmd(&["secret", "exists", "dbpass"]).code, 0);
    assert_eq!(s.ok(&["secret", "rm", "dbpass"]), format!("{id}\n"));
    assert_eq!(s.cmd(&["secret", "exists", "dbpass"]).code, 1);
    assert!(!dir.join(&id).exists());
    let e = s.fails_engine(&["secret", "rm", "dbpass"]);
    assert!(e.contains("dbpass") && e.contains("no such secret"), "{e}");
    s.ok(&["secret", "rm", "--ignore", "dbpass"]);
    assert_eq!(s.ok(&["secret", "rm", "--all"]), format!("{id2}\n"));
    assert_eq!(s.ok(&["secret", "ls", "-q"]), "");
}

/// What the store's volumes directory holds (names, temporary entries
/// included), without its lock.
fn volume_dirs(s: &Skiff) -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(s.data_home.join("skiff/volumes"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".lock")
        .collect();
    out.sort();
    out
}

#[test]
fn bad_input_is_one_line_exit_125_and_creates_nothing() {
    let s = Skiff::new();
    s.ok(&["volume", "create", "data"]);
    s.ok_stdin(&["secret", "create", "db", "-"], b"one");
    let volumes_before = names(&s);
    let secrets_before = s.ok(&["secret", "ls", "-q"]);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["volume", "create", "a/b"], "a/b"),
        (vec!["volume", "create", ".."], ".."),
        (vec!["volume", "create", "-x"], "-x"),
        (vec!["volume", "create", "data"], "data"),
        (vec!["volume", "create", "--opt", "type=nfs", "n1"], "n1"),
        (
            vec![
                "volume",
                "create",
                "--opt",
                "type=none",
                "--opt",
                "o=bind",
                "--opt",
                "device=/nonexistent/x",
                "n2",
            ],
            "n2",
        ),
        (vec!["volume", "create", "--opt", "colour=red", "n3"], "n3"),
        (vec!["volume", "create", "--driver", "nfs", "n4"], "n4"),
        (vec!["volume", "ls", "--filter", "colour=red"], "colour=red"),
        (vec!["volume", "ls", "--format", "{{.Nope}}"], "Nope"),
        (
            vec!["volume", "import", "data", "/nonexistent/in.tar"],
            "/nonexistent/in.tar",
        ),
        (vec!["volume", "export", "nope", "-o", "/dev/null"], "nope"),
        (vec!["secret", "create", "db", "/dev/null"], "db"),
        (vec!["secret", "create", "a/b", "/dev/null"], "a/b"),
        (vec!["secret", "create", "a,b", "/dev/null"], "a,b"),
        (vec!["secret", "create", "..", "/dev/null"], "\"..\""),
        (
            vec!["secret", "create", "nofile", "/nonexistent/pass"],
            "/nonexistent/pass",
        ),
        (vec!["secret", "inspect", "nope"], "nope"),
        (vec!["secret", "ls", "--filter", "colour=red"], "colour=red"),
    ];
    for (args, names_it) in cases {
        let e = s.fails_engine(&args);
        assert!(e.contains(names_it), "{args:?}: {e}");
    }
    // The same name twice without --replace, with data that is fine.
    let e = {
        let o = s.cmd_stdin(&["secret", "create", "db", "-"], b"two");
        assert_eq!(o.code, 125, "{}", o.describe());
        one_error_line(&o)
    };
    assert!(e.contains("\"db\"") && e.contains("--replace"), "{e}");
    assert_eq!(names(&s), volumes_before);
    assert_eq!(s.ok(&["secret", "ls", "-q"]), secrets_before);
    assert_eq!(
        s.ok(&[
            "secret",
            "inspect",
            "--showsecret",
            "--format",
            "{{.SecretData}}",
            "db"
        ]),
        "one\n"
    );
    // Nothing half-made in the store either.
    assert_eq!(volume_dirs(&s), vec!["data"]);
}

#[test]
fn named_volumes_in_containers_persist_refuse_writes_ro_and_map_owners() {
    let s = busybox();
    // A name that does not exist yet is created, as Podman does.
    s.sh(&["-v", "data:/data"], "echo hi > /data/f");
    assert_eq!(names(&s), vec!["data"]);
    let mp = mountpoint(&s, "data");
    assert_eq!(fs::read_to_string(mp.join("f")).unwrap(), "hi\n");
    // A second container sees it, read-only when asked.
    assert_eq!(s.sh(&["-v", "data:/data:ro"], "cat /data/f"), "hi\n");
    let o = s.cmd(&[
        "run",
        "--rm",
        "-v",
        "data:/data:ro",
        "busybox",
        "sh",
        "-c",
        "echo x > /data/g",
    ]);
    assert_ne!(o.code, 0, "{}", o.describe());
    assert!(
        o.stderr.contains("Read-only file system"),
        "{}",
        o.describe()
    );
    assert!(!mp.join("g").exists());
    assert_eq!(
        s.sh(
            &["--mount", "type=volume,source=data,target=/d,readonly"],
            "ls /d; touch /d/h 2>/dev/null || echo refused"
        ),
        "f\nrefused\n"
    );

    // A new volume's directory is given to the container's user on first
    // use; what uid 1000 writes is the matching subordinate id's on the host.
    s.sh(&["--user", "1000:1000", "-v", "own:/o"], "echo x > /o/f");
    let (sub_uid, _) = env().subuid;
    let (sub_gid, _) = env().subgid;
    assert_eq!(
        owner(&mountpoint(&s, "own").join("f")),
        (sub_uid + 999, sub_gid + 999)
    );

    // In use by a container that exists: refused (exit 2) until it is gone.
    create_with_data(&s, "keep");
    let e = s.fails(&["volume", "rm", "data"], 2);
    assert!(e.contains("data") && e.contains("being used"), "{e}");
    s.ok(&["rm", "keep"]);
    s.ok(&["volume", "rm", "data"]);
    assert_eq!(names(&s), vec!["own"]);
    // With -f the containers using it go first, as Podman does.
    s.ok(&[
        "create", "--name", "user", "-v", "own:/o", "busybox", "true",
    ]);
    s.ok(&["volume", "rm", "-f", "own"]);
    assert!(names(&s).is_empty());
    assert!(s.container_ids().is_empty());
}

/// The names of the anonymous volumes (64 hex digits).
fn anonymous(s: &Skiff) -> Vec<String> {
    names(s)
        .into_iter()
        .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect()
}

#[test]
fn anonymous_volumes_go_with_rm_v_and_run_rm_named_ones_stay() {
    let s = busybox();
    // --rm: the anonymous volume goes, the named one stays.
    s.sh(
        &["-v", "/anon", "-v", "kept:/k"],
        "echo x > /anon/f; echo y > /k/f",
    );
    assert_eq!(names(&s), vec!["kept"]);

    // rm without -v keeps the anonymous volume, as Podman does.
    s.ok(&[
        "run",
        "--name",
        "a",
        "-v",
        "/anon",
        "busybox",
        "sh",
        "-c",
        "echo a > /anon/f",
    ]);
    let anon = anonymous(&s);
    assert_eq!(anon.len(), 1, "{anon:?}");
    assert_eq!(
        fs::read_to_string(mountpoint(&s, &anon[0]).join("f")).unwrap(),
        "a\n"
    );
    s.ok(&["rm", "a"]);
    assert_eq!(anonymous(&s), anon);
    s.ok(&["volume", "rm", &anon[0]]);

    // rm -v removes the anonymous volume only.
    s.ok(&[
        "create", "--name", "b", "-v", "/anon", "-v", "kept:/k", "busybox", "true",
    ]);
    assert_eq!(anonymous(&s).len(), 1);
    s.ok(&["rm", "-v", "b"]);
    assert_eq!(names(&s), vec!["kept"]);

    // An image VOLUME is an anonymous volume per container; one the user
    // mounts over is not.
    s.ok(&[
        "import",
        &common::s(&env().fixture),
        "withvol",
        "--change",
        "VOLUME /cache",
    ]);
    s.ok(&["create", "--name", "c1", "withvol", "true"]);
    s.ok(&["create", "--name", "c2", "withvol", "true"]);
    assert_eq!(anonymous(&s).len(), 2);
    let dests = s.inspect_format("c1", "{{range .Mounts}}{{.Destination}} {{end}}");
    assert_eq!(dests, "/cache");
    let name = s.inspect_format("c1", "{{range .Mounts}}{{.Name}}{{end}}");
    assert!(anonymous(&s).contains(&name), "{name}");
    s.ok(&[
        "create",
        "--name",
        "c3",
        "-v",
        "kept:/cache/",
        "withvol",
        "true",
    ]);
    assert_eq!(anonymous(&s).len(), 2);
    s.ok(&["rm", "-v", "c1", "c2", "c3"]);
    assert_eq!(names(&s), vec!["kept"]);
}

#[test]
fn an_empty_volume_takes_the_image_directory_once_unless_nocopy() {
    let s = busybox();
    s.import_with("appimg", |t| {
        t.dir("srv", 0o755, 0, 0)
            .dir("srv/app", 0o750, 1000, 1000)
            .file("srv/app/a", b"A", 0o640, 1000, 1000)
            .file("srv/app/rootfile", b"R", 0o600, 0, 0)
            .symlink("srv/app/l", "/etc/passwd")
            .dir("srv/app/sub", 0o700, 2000, 2000)
            .file("srv/app/sub/b", b"B", 0o644, 2000, 2000);
    });
    let (sub_uid, _) = env().subuid;
    let (sub_gid, _) = env().subgid;
    s.ok(&["run", "--rm", "-v", "cu:/srv/app", "appimg", "true"]);
    let mp = mountpoint(&s, "cu");
    assert_eq!(owner(&mp), (sub_uid + 999, sub_gid + 999));
    assert_eq!(mode(&mp), 0o750);
    assert_eq!(fs::read_to_string(mp.join("a")).unwrap(), "A");
    assert_eq!(
        (owner(&mp.join("a")), mode(&mp.join("a"))),
        ((sub_uid + 999, sub_gid + 999), 0o640)
    );
    assert_eq!(
        (owner(&mp.join("rootfile")), mode(&mp.join("rootfile"))),
        ((s.uid(), s.gid()), 0o600)
    );
    // The link is copied as a link, never followed to the host's file.
    assert_eq!(
        fs::read_link(mp.join("l")).unwrap(),
        PathBuf::from("/etc/passwd")
    );
    assert_eq!(owner(&mp.join("sub")), (sub_uid + 1999, sub_gid + 1999));
    assert_eq!(mode(&mp.join("sub")), 0o700);
    assert_eq!(owner(&mp.join("sub/b")), (sub_uid + 1999, sub_gid + 1999));

    // Only the first use copies: what a container deletes stays deleted.
    s.ok(&[
        "run",
        "--rm",
        "-v",
        "cu:/srv/app",
        "appimg",
        "rm",
        "/srv/app/a",
    ]);
    let o = s.ok(&[
        "run",
        "--rm",
        "-v",
        "cu:/srv/app",
        "appimg",
        "ls",
        "/srv/app",
    ]);
    assert_eq!(o, "l\nrootfile\nsub\n");

    // A mount point that is a link climbing out resolves inside the image:
    // the image's /etc is copied, never the host's.
    s.import_with("escape", |t| {
        t.dir("srv", 0o755, 0, 0)
            .symlink("srv/out", "../../../../../../etc");
    });
    s.ok(&["run", "--rm", "-v", "esc:/srv/out", "escape", "true"]);
    let passwd = fs::read_to_string(mountpoint(&s, "esc").join("passwd")).unwrap();
    assert!(passwd.starts_with("root:"), "{passwd}");
    assert!(
        !passwd.contains(&env().user),
        "the host's /etc/passwd was copied: {passwd}"
    );

    // nocopy: the volume stays empty.
    let o = s.ok(&[
        "run",
        "--rm",
        "-v",
        "nc:/srv/app:nocopy",
        "appimg",
        "ls",
        "-A",
        "/srv/app",
    ]);
    assert_eq!(o, "");
    assert_eq!(fs::read_dir(mountpoint(&s, "nc")).unwrap().count(), 0);
}

/// Each `run --rm FLAGS busybox true` fails as the engine with one line
/// that names what the case says.
fn runs_fail_naming(s: &Skiff, cases: &[(&[&str], &str)]) {
    for (flags, names_it) in cases {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "true"]);
        let e = s.fails_engine(&args);
        assert!(e.contains(names_it), "{args:?}: {e}");
    }
}

#[test]
fn mount_bind_ro_tmpfs_size_devpts_and_bad_mounts_are_one_line_125() {
    let s = busybox();
    let src = s.make_dir(&s.home.join("files/src"));
    s.write_file("src/hello", b"hello\n");
    let bind = format!("type=bind,src={},dst=/src,ro=true", src.display());
    assert_eq!(
        s.sh(
            &["--mount", &bind],
            "cat /src/hello; touch /src/x 2>/dev/null || echo refused"
        ),
        "hello\nrefused\n"
    );
    assert!(!src.join("x").exists());
    // tmpfs-size: a 1 MiB tmpfs (df -k: 1024 blocks).
    let df = s.sh(
        &["--mount", "type=tmpfs,dst=/t,tmpfs-size=1m"],
        "df -k /t | tail -n 1",
    );
    let fields: Vec<&str> = df.split_whitespace().collect();
    assert_eq!((fields[0], fields[1]), ("tmpfs", "1024"), "{df}");
    // type=devpts: a new instance of its own, with the mode asked for.
    let pts = s.sh(
        &["--mount", "type=devpts,destination=/mypts,mode=600"],
        "grep ' /mypts ' /proc/mounts | cut -d' ' -f1,3; test -c /mypts/ptmx && echo ptmx; \
         grep -c ' /dev/pts ' /proc/mounts",
    );
    assert_eq!(pts, "devpts devpts\nptmx\n1\n", "{pts}");
    let opts = s.sh(
        &["--mount", "type=devpts,destination=/mypts,mode=600"],
        "grep ' /mypts ' /proc/mounts | cut -d' ' -f4",
    );
    assert!(opts.contains("mode=600"), "{opts}");

    let cases: &[(&[&str], &str)] = &[
        (&["-v", "a/b:/x"], "a/b"),
        (&["-v", "x/..:/x"], "x/.."),
        (
            &["-v", "/nonexistent/src:/x"],
            "statfs /nonexistent/src: no such file or directory",
        ),
        (&["-v", "a:b:c:d"], "a:b:c:d"),
        (&["--mount", "type=volume,source=a/b,target=/x"], "a/b"),
        (
            &["--mount", "type=volume,source=v,target=/x,colour=red"],
            "colour=red",
        ),
        (&["--mount", "type=bind,dst=/x"], "type=bind,dst=/x"),
        (&["--mount", "type=nfs,src=v,dst=/x"], "nfs"),
        (&["--mount", "type=bind,src=/tmp,dst=/x,uid=0"], "uid"),
        (&["--mount", "type=devpts,dst=/x,tmpfs-size=1m"], "size"),
        (
            &["--mount", "type=volume,source=v,target=/x,idmap"],
            "idmap",
        ),
        (&["-v", "v:/x:idmap"], "idmap needs an idmapped mount"),
    ];
    runs_fail_naming(&s, cases);
    // Nothing half-made: no container, no volume.
    assert!(s.container_ids().is_empty());
    assert!(names(&s).is_empty());
}

/// A new host directory `files/DIR` holding `FILE` with `text`.
fn host_dir(s: &Skiff, dir: &str, file: &str, text: &[u8]) -> PathBuf {
    let d = s.make_dir(&s.home.join("files").join(dir));
    s.write_file(&format!("{dir}/{file}"), text);
    d
}

#[test]
fn volumes_from_shares_volumes_and_binds_read_only_when_asked() {
    let s = busybox();
    let src = host_dir(&s, "shared", "note", b"bound\n");
    s.ok(&[
        "create",
        "--name",
        "web",
        "-v",
        "data:/data",
        "-v",
        "/anon",
        "-v",
        &format!("{}:/shared", src.display()),
        "busybox",
        "true",
    ]);
    s.sh(
        &["--volumes-from", "web"],
        "echo hi > /data/f; echo a > /anon/f",
    );
    assert_eq!(
        s.sh(
            &["--volumes-from", "web:ro"],
            "cat /data/f /anon/f /shared/note; touch /data/g 2>/dev/null || echo refused"
        ),
        "hi\na\nbound\nrefused\n"
    );
    // The anonymous volume belongs to web: --rm of a borrower keeps it.
    assert_eq!(anonymous(&s).len(), 1);
    // While web exists, its volumes are in use.
    s.fails(&["volume", "rm", "data"], 2);
    s.ok(&["rm", "-v", "web"]);
    assert_eq!(names(&s), vec!["data"]);

    let e = s.fails_engine(&["run", "--rm", "--volumes-from", "nope", "busybox", "true"]);
    assert!(e.contains("nope"), "{e}");
    s.ok(&[
        "create",
        "--name",
        "w2",
        "-v",
        "data:/data",
        "busybox",
        "true",
    ]);
    let e = s.fails_engine(&[
        "run",
        "--rm",
        "--volumes-from",
        "w2:bogus",
        "busybox",
        "true",
    ]);
    assert!(e.contains("bogus"), "{e}");
    s.ok(&["rm", "w2"]);
}

#[test]
fn secrets_reach_containers_as_files_or_variables_and_stay_out_of_records_and_exports() {
    let s = busybox();
    s.ok_stdin(&["secret", "create", "dbpass", "-"], b"s3cret-value");
    // The default: /run/secrets/NAME, root's, 0444, read-only.
    assert_eq!(
        s.sh(
            &["--secret", "dbpass"],
            "cat /run/secrets/dbpass; echo; stat -c %u:%g:%a /run/secrets/dbpass; \
             echo x 2>/dev/null > /run/secrets/dbpass || echo refused"
        ),
        "s3cret-value\n0:0:444\nrefused\n"
    );
    // Owner and mode as asked; a relative target goes below /run/secrets.
    assert_eq!(
        s.sh(
            &[
                "--user",
                "1000:1000",
                "--secret",
                "dbpass,target=pw,uid=1000,gid=1000,mode=0400"
            ],
            "cat /run/secrets/pw; echo; stat -c %u:%g:%a /run/secrets/pw"
        ),
        "s3cret-value\n1000:1000:400\n"
    );
    assert_eq!(
        s.sh(&["--secret", "dbpass,target=/etc/db.pw"], "cat /etc/db.pw"),
        "s3cret-value"
    );
    // A read-only root filesystem still gets its secrets.
    assert_eq!(
        s.sh(
            &["--read-only", "--secret", "dbpass"],
            "cat /run/secrets/dbpass"
        ),
        "s3cret-value"
    );
    // The environment form, named by target or else by the secret.
    assert_eq!(
        s.sh(
            &[
                "--secret",
                "dbpass,type=env,target=DB_PASS",
                "--secret",
                "dbpass,type=env"
            ],
            "echo $DB_PASS $dbpass"
        ),
        "s3cret-value s3cret-value\n"
    );

    // A container that keeps both: neither inspect, nor its record, nor an
    // export of its root filesystem holds the data.
    s.ok(&[
        "run",
        "--name",
        "holder",
        "--secret",
        "dbpass",
        "--secret",
        "dbpass,type=env,target=DB_PASS",
        "busybox",
        "sh",
        "-c",
        "cat /run/secrets/dbpass; echo \" $DB_PASS\"",
    ]);
    let inspect = s.ok(&["inspect", "holder"]);
    assert!(!inspect.contains("s3cret"), "{inspect}");
    assert_eq!(
        s.inspect_format(
            "holder",
            "{{range .Config.Secrets}}{{.Name}} {{.Mode}}{{end}}"
        ),
        "dbpass 292"
    );
    let id = s.inspect_format("holder", "{{.Id}}");
    let record = fs::read_to_string(
        s.data_home
            .join("skiff/containers")
            .join(&id)
            .join("container.json"),
    )
    .unwrap();
    assert!(!record.contains("s3cret"), "{record}");
    let out = s.home.join("holder.tar");
    s.ok(&["export", "-o", &common::s(&out), "holder"]);
    let tar = fs::read(&out).unwrap();
    assert!(!entries(&tar).is_empty());
    assert!(
        !tar.windows(6).any(|w| w == b"s3cret"),
        "the export holds the secret"
    );
    // The container keeps the data it was created with, as Podman: a
    // secret replaced or removed since changes nothing for it.
    s.ok_stdin(&["secret", "create", "--replace", "dbpass", "-"], b"other");
    assert_eq!(
        s.ok(&["start", "-a", "holder"]),
        "s3cret-value s3cret-value\n"
    );
    s.ok(&["secret", "rm", "dbpass"]);
    assert_eq!(
        s.ok(&["start", "-a", "holder"]),
        "s3cret-value s3cret-value\n"
    );
    s.ok(&["rm", "holder"]);
    s.ok_stdin(&["secret", "create", "dbpass", "-"], b"s3cret-value");

    // Bad --secret values: one line naming them, exit 125, nothing created.
    let cases: &[(&[&str], &str)] = &[
        (&["--secret", "nope"], "nope"),
        (&["--secret", "dbpass,type=file"], "dbpass,type=file"),
        (&["--secret", "dbpass,type=env,mode=0400"], "type=env"),
        (
            &["--secret", "dbpass", "--secret", "dbpass"],
            "/run/secrets/dbpass",
        ),
    ];
    runs_fail_naming(&s, cases);
    assert!(s.container_ids().is_empty());
}

/// `create --name NAME -v data:/data busybox true`.
fn create_with_data(s: &Skiff, name: &str) {
    s.ok(&[
        "create",
        "--name",
        name,
        "-v",
        "data:/data",
        "busybox",
        "true",
    ]);
}

/// `run -d --name NAME FLAGS busybox CMD`.
fn run_detached(s: &Skiff, name: &str, flags: &[&str], cmd: &[&str]) {
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(flags);
    args.push("busybox");
    args.extend_from_slice(cmd);
    s.ok(&args);
}

#[test]
fn cp_sees_the_volumes_and_bind_mounts_of_running_and_stopped_containers() {
    let s = busybox();
    s.expect_running();
    let src = host_dir(&s, "bound", "in-bind", b"from the host dir\n");
    let outside = host_dir(&s, "outside", "host-secret", b"host only\n");
    let bind = format!("{}:/bound", src.display());
    run_detached(
        &s,
        "live",
        &["-v", "data:/data", "-v", &bind],
        &[
            "sh",
            "-c",
            "echo vol > /data/f; ln -s ../../../../../../etc /data/up; \
             ln -s /etc /bound/abs; touch /data/ready; exec sleep 1000",
        ],
    );
    let mp = mountpoint(&s, "data");
    assert!(eventually(std::time::Duration::from_secs(20), || mp
        .join("ready")
        .exists()));

    // Out of the volume and the bind mount.
    let out = s.make_dir(&s.home.join("out"));
    s.ok(&["cp", "live:/data/f", &common::s(&out.join("f"))]);
    assert_eq!(fs::read_to_string(out.join("f")).unwrap(), "vol\n");
    s.ok(&["cp", "live:/bound/in-bind", &common::s(&out)]);
    assert_eq!(
        fs::read_to_string(out.join("in-bind")).unwrap(),
        "from the host dir\n"
    );
    // Into both: the files land in the volume's data and the host directory.
    let put = s.write_file("put", b"put by cp\n");
    s.ok(&["cp", &common::s(&put), "live:/data/"]);
    s.ok(&["cp", &common::s(&put), "live:/bound/put2"]);
    assert_eq!(fs::read_to_string(mp.join("put")).unwrap(), "put by cp\n");
    assert_eq!(fs::read_to_string(src.join("put2")).unwrap(), "put by cp\n");
    assert_eq!(
        s.ok(&["exec", "live", "cat", "/data/put", "/bound/put2"]),
        "put by cp\nput by cp\n"
    );

    // Links in a volume or a bind mount resolve inside the container: the
    // container's /etc, never the host's or a directory beside the mount.
    s.ok(&["cp", "live:/data/up/passwd", &common::s(&out.join("p1"))]);
    s.ok(&["cp", "live:/bound/abs/passwd", &common::s(&out.join("p2"))]);
    for p in ["p1", "p2"] {
        let text = fs::read_to_string(out.join(p)).unwrap();
        assert!(text.starts_with("root:"), "{text}");
        assert!(!text.contains(&env().user), "the host's passwd: {text}");
    }
    s.ok(&["cp", &common::s(&put), "live:/data/up/"]);
    assert_eq!(s.ok(&["exec", "live", "cat", "/etc/put"]), "put by cp\n");
    assert!(!mp.parent().unwrap().join("put").exists());
    let o = s.cmd(&["cp", "live:/bound/../outside/host-secret", &common::s(&out)]);
    assert_ne!(o.code, 0, "{}", o.describe());
    assert!(!out.join("host-secret").exists());
    assert!(outside.join("host-secret").exists());
    s.ok(&["rm", "-f", "live"]);

    // A stopped container's volumes and binds are reached through their
    // sources, as Podman does; a read-only mount takes nothing, and links
    // stay inside the mount.
    s.ok(&[
        "create",
        "--name",
        "parked",
        "-v",
        "data:/data",
        "-v",
        &format!("{bind}:ro"),
        "busybox",
        "true",
    ]);
    s.ok(&["cp", "parked:/data/f", &common::s(&out.join("f2"))]);
    assert_eq!(fs::read_to_string(out.join("f2")).unwrap(), "vol\n");
    s.ok(&["cp", "parked:/bound/put2", &common::s(&out.join("p3"))]);
    assert_eq!(fs::read_to_string(out.join("p3")).unwrap(), "put by cp\n");
    let put3 = s.write_file("put3", b"while stopped\n");
    s.ok(&["cp", &common::s(&put3), "parked:/data/"]);
    assert_eq!(
        fs::read_to_string(mp.join("put3")).unwrap(),
        "while stopped\n"
    );
    let e = s.fails_engine(&["cp", &common::s(&put3), "parked:/bound/"]);
    assert!(
        e.contains("parked:/bound") && e.contains("read-only"),
        "{e}"
    );
    assert!(!src.join("put3").exists());
    let o = s.cmd(&["cp", "parked:/data/up/passwd", &common::s(&out.join("p4"))]);
    assert_ne!(o.code, 0, "{}", o.describe());
    assert!(!out.join("p4").exists());
    s.ok(&["rm", "parked"]);
}

/// The top-level keys of the first object of an inspect array, in the
/// order printed.
fn key_order(json: &str) -> Vec<String> {
    json.lines()
        .filter(|l| l.starts_with("    \"") && !l.starts_with("     "))
        .filter_map(|l| l.trim().strip_prefix('"')?.split('"').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn inspect_prints_podmans_key_order_counts_mounts_and_finds_volumes_at_top_level() {
    let s = busybox();
    s.ok(&["volume", "create", "data"]);
    let keys = key_order(&s.ok(&["volume", "inspect", "data"]));
    assert_eq!(keys, VOLUME_KEYS);
    // Keys Podman leaves out when false still answer templates.
    assert_eq!(
        s.ok(&[
            "volume",
            "inspect",
            "--format",
            "{{.Anonymous}} {{.MountCount}}",
            "data"
        ]),
        "false 0\n"
    );
    // Containers keep Podman's struct order too.
    s.ok(&[
        "create",
        "--name",
        "user",
        "-v",
        "data:/data",
        "busybox",
        "true",
    ]);
    let keys = key_order(&s.ok(&["container", "inspect", "user"]));
    assert_eq!(
        keys[..5],
        ["Id", "Created", "Path", "Args", "State"],
        "{keys:?}"
    );
    assert_eq!(
        keys.last().map(String::as_str),
        Some("HostConfig"),
        "{keys:?}"
    );

    // MountCount: the running containers that have it mounted.
    let count = || s.ok(&["volume", "inspect", "--format", "{{.MountCount}}", "data"]);
    assert_eq!(count(), "0\n", "a created container mounts nothing");
    s.expect_running();
    run_detached(&s, "live", &["-v", "data:/data"], &["sleep", "1000"]);
    assert_eq!(count(), "1\n");
    s.ok(&["rm", "-f", "live"]);
    assert_eq!(count(), "0\n");

    // The top-level inspect finds volumes, and --type narrows the search.
    assert_eq!(
        s.ok(&["inspect", "--format", "{{.Name}} {{.Scope}}", "data"]),
        "data local\n"
    );
    assert_eq!(
        s.ok(&[
            "inspect",
            "--type",
            "volume",
            "--format",
            "{{.Driver}}",
            "data"
        ]),
        "local\n"
    );
    assert_eq!(key_order(&s.ok(&["inspect", "data"]))[0], "Name");
    let e = s.fails_engine(&["inspect", "--type", "container", "data"]);
    assert!(e.contains("data"), "{e}");
    let e = s.fails_engine(&["inspect", "--type", "volume", "user"]);
    assert!(e.contains("user"), "{e}");
    let e = s.fails_engine(&["inspect", "nothing-here"]);
    assert!(e.contains("no such object: \"nothing-here\""), "{e}");
    s.ok(&["rm", "user"]);
}

/// `du -sb DIR` less the directories' own sizes: the apparent size of
/// what is below, as containers/storage (and so `system df`) counts it.
fn du_without_dirs(dir: &Path) -> u64 {
    let o = std::process::Command::new("du")
        .args(["-sb", &common::s(dir)])
        .output()
        .unwrap();
    assert!(o.status.success(), "du {}", dir.display());
    let du: u64 = String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let mut dirs = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        dirs += fs::symlink_metadata(&d).unwrap().len();
        for e in fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
    du - dirs
}

#[test]
fn system_df_counts_images_containers_and_volumes_as_du_does_and_prune_takes_unused_volumes() {
    let s = busybox();
    s.sh(
        &["-v", "data:/data"],
        "head -c 10000 /dev/zero > /data/f; mkdir /data/d; head -c 500 /dev/zero > /data/d/g; \
         ln -s f /data/l; ln /data/f /data/hard",
    );
    s.sh(&["-v", "spare:/s"], "head -c 300 /dev/zero > /s/f");
    create_with_data(&s, "keep");
    let data = du_without_dirs(&mountpoint(&s, "data"));
    let spare = du_without_dirs(&mountpoint(&s, "spare"));
    assert_eq!(
        (data, spare),
        (10_500 + 1, 300),
        "hard link once, link 1 byte"
    );

    let rows = s.ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}}|{{.Total}}|{{.Active}}|{{.RawSize}}|{{.RawReclaimable}}",
    ]);
    let rows: Vec<Vec<&str>> = rows.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0][..3], ["Images", "1", "1"], "{rows:?}");
    assert!(rows[0][3].parse::<u64>().unwrap() > 0, "{rows:?}");
    assert_eq!(rows[0][4], "0", "the image is in use: {rows:?}");
    assert_eq!(rows[1][..3], ["Containers", "1", "0"], "{rows:?}");
    assert_eq!(
        rows[1][3], rows[1][4],
        "a stopped container's size is reclaimable"
    );
    let (total, unused) = ((data + spare).to_string(), spare.to_string());
    assert_eq!(
        rows[2],
        ["Local Volumes", "2", "1", total.as_str(), unused.as_str()]
    );

    // The table and the verbose report.
    let table = s.ok(&["system", "df"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    );
    assert!(lines[3].starts_with("Local Volumes "), "{table}");
    assert!(lines[3].ends_with("300B (3%)"), "{table}");
    let verbose = s.ok(&["system", "df", "-v"]);
    for part in [
        "Images space usage:",
        "Containers space usage:",
        "Local Volumes space usage:",
    ] {
        assert!(verbose.contains(part), "{verbose}");
    }
    let row = verbose
        .lines()
        .find(|l| l.starts_with("data "))
        .unwrap_or_else(|| panic!("{verbose}"));
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["data", "1", "10.5kB"]
    );
    let json: serde_json::Value =
        serde_json::from_str(&s.ok(&["system", "df", "--format", "json"])).unwrap();
    assert_eq!(json[2]["Type"], "Local Volumes");
    assert_eq!(json[2]["RawSize"], data + spare);

    // system prune --volumes takes the stopped container, then the
    // volumes no container uses; a running one keeps its volume.
    s.expect_running();
    run_detached(&s, "up", &["-v", "data:/data"], &["sleep", "1000"]);
    let out = s.ok(&["system", "prune", "-f", "--volumes"]);
    assert!(out.contains("Deleted Volumes\nspare\n"), "{out}");
    assert_eq!(names(&s), vec!["data"]);
    s.ok(&["rm", "-f", "up"]);
}

#[test]
fn tmpfs_volumes_are_memory_backed_and_ls_filters_by_time() {
    let s = busybox();
    create_scratch(&s, &[]);
    let out = s.sh(
        &["-v", "scratch:/s"],
        "grep ' /s ' /proc/mounts | cut -d' ' -f1,3; df -k /s | tail -n 1; echo x > /s/f; cat /s/f",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "tmpfs tmpfs", "{out}");
    let df: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(df[1], "10240", "a 10 MiB tmpfs: {out}");
    assert_eq!(lines[2], "x");
    // What the container wrote lived in memory: nothing on disk, and the
    // next container starts from an empty tmpfs.
    assert_eq!(fs::read_dir(mountpoint(&s, "scratch")).unwrap().count(), 0);
    assert_eq!(s.sh(&["-v", "scratch:/s"], "ls -A /s"), "");

    // until= and since= (times, Unix seconds or durations before now).
    s.ok(&["volume", "create", "later"]);
    let ls = |f: &str| s.ok(&["volume", "ls", "-q", "--filter", f]);
    assert_eq!(ls("until=2000-01-01T00:00:00Z"), "");
    assert_eq!(ls("until=4102444800"), "later\nscratch\n");
    assert_eq!(ls("since=1h"), "later\nscratch\n");
    assert_eq!(ls("since=4102444800"), "");
    let e = s.fails_engine(&["volume", "ls", "--filter", "until=soon"]);
    assert!(e.contains("until=soon"), "{e}");
}

#[test]
fn a_failed_create_removes_the_volumes_it_made_and_keeps_the_others() {
    let s = busybox();
    s.ok(&["volume", "create", "existing"]);
    // A volume that cannot be made: its name is taken by a plain file.
    let broken = s.data_home.join("skiff/volumes/broken");
    fs::write(&broken, b"not a volume").unwrap();
    let e = s.fails_engine(&[
        "run",
        "--rm",
        "-v",
        "existing:/e",
        "-v",
        "fresh:/a",
        "-v",
        "/anon",
        "-v",
        "broken:/b",
        "busybox",
        "true",
    ]);
    assert!(e.contains("broken"), "{e}");
    fs::remove_file(&broken).unwrap();
    assert_eq!(names(&s), vec!["existing"]);
    assert!(s.container_ids().is_empty());
    assert_eq!(volume_dirs(&s), vec!["existing"], "nothing half-made");
}

/// `cp` of a tree 1500 directories deep (which overflowed the stack, exit
/// 134) is refused with one error line and exit 125, both ways; a tree of
/// a few levels still copies.
#[test]
fn cp_refuses_a_tree_too_deep() {
    let s = common::busybox();
    s.ok(&["create", "--name", "deep", common::BUSYBOX, "true"]);
    let top = s.make_dir(&s.home.join("deeptree"));
    let deep = "d/".repeat(1500);
    s.ok(&[
        "unshare",
        "sh",
        "-c",
        &format!("mkdir -p {}/{deep}", common::s(&top)),
    ]);
    let e = s.fails(&["cp", &common::s(&top), "deep:/tmp/"], 125);
    assert!(e.contains("deeper than") && e.lines().count() == 1, "{e}");
    let shallow = s.make_dir(&s.home.join("shallow"));
    s.ok(&[
        "unshare",
        "sh",
        "-c",
        &format!(
            "mkdir -p {}/a/b/c && echo x > {}/a/b/c/f",
            common::s(&shallow),
            common::s(&shallow)
        ),
    ]);
    s.ok(&["cp", &common::s(&shallow), "deep:/tmp/"]);
    let out = s.make_dir(&s.home.join("back"));
    s.ok(&["cp", "deep:/tmp/shallow", &common::s(&out)]);
    assert_eq!(
        fs::read_to_string(out.join("shallow/a/b/c/f")).unwrap(),
        "x\n"
    );
    s.ok(&["rm", "deep"]);
}

/// A mount destination that passes through a symlink of the image lands
/// where the link leads inside the container's root, as Podman and runc
/// resolve it (securejoin): a named volume on `/data -> /srv/data`, a bind
/// mount below it, each seen by the container at both names.
#[test]
fn mount_destinations_follow_the_images_symlinks_inside_its_root() {
    let s = busybox();
    s.import_with("linked", |t| {
        t.dir("srv", 0o755, 0, 0)
            .dir("srv/data", 0o755, 0, 0)
            .file("srv/data/seed", b"seed\n", 0o644, 0, 0)
            .symlink("data", "/srv/data")
            .symlink("rel", "srv/data");
    });
    let host = host_dir(&s, "bound", "f", b"from host\n");
    let o = s.ok(&[
        "run",
        "--rm",
        "-v",
        "linkvol:/data",
        "linked",
        "sh",
        "-c",
        "echo hi > /data/new; readlink /data; cat /srv/data/seed /srv/data/new",
    ]);
    assert_eq!(o, "/srv/data\nseed\nhi\n");
    let mp = mountpoint(&s, "linkvol");
    assert_eq!(fs::read_to_string(mp.join("new")).unwrap(), "hi\n");
    assert_eq!(fs::read_to_string(mp.join("seed")).unwrap(), "seed\n");
    let o = s.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/data/sub", host.display()),
        "--mount",
        &format!("type=bind,source={},target=/rel/m", host.display()),
        "linked",
        "cat",
        "/srv/data/sub/f",
        "/srv/data/m/f",
    ]);
    assert_eq!(o, "from host\nfrom host\n");
}
