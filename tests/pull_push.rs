//! pull, push, login/logout, search and `--pull` against a real registry,
//! with skiff running as an unprivileged user: images pushed from one store
//! and pulled into a fresh one keep their id and their file tree.

mod common;
mod registry_support;

use std::fs;
use std::time::Duration;

use common::{Skiff, TarBuilder, BUSYBOX, INDEX_HTML};
use registry_support::{count, fails_125, write_registries_conf, Registry};
use sha2::{Digest, Sha256};

fn sha(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// A docker-archive of one image made of `layers` (uncompressed tars).
pub fn docker_archive(layers: &[Vec<u8>], arch: &str, tag: &str) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| sha(l)).collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": arch,
        "os": "linux",
        "created": "2024-05-01T10:00:00Z",
        "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": layers.iter().enumerate().map(|(i, _)| serde_json::json!({
            "created": "2024-05-01T10:00:00Z",
            "created_by": format!("/bin/sh -c #(nop) ADD layer{i}.tar /"),
        })).collect::<Vec<_>>(),
    }))
    .unwrap();
    let cfg_name = format!("{}.json", &sha(&config)[7..]);
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).unwrap();
    };
    let mut names = Vec::new();
    for (l, d) in layers.iter().zip(&diff_ids) {
        let n = format!("{}/layer.tar", &d[7..]);
        add(&n, l);
        names.push(n);
    }
    add(&cfg_name, &config);
    let manifest = serde_json::to_vec(&serde_json::json!([
        {"Config": cfg_name, "RepoTags": [tag], "Layers": names}
    ]))
    .unwrap();
    add("manifest.json", &manifest);
    b.into_inner().unwrap()
}

/// Three layers: the busybox rootfs; /data/{a,b} and /opq/x; then a
/// whiteout of /data/a and an opaque /opq holding only y.
pub fn layered_image(arch: &str, tag: &str) -> Vec<u8> {
    let base = common::busybox_rootfs();
    let mut l2 = TarBuilder::new();
    l2.dir("data", 0o755, 0, 0)
        .file("data/a", b"A\n", 0o644, 0, 0)
        .file("data/b", b"B\n", 0o644, 1000, 1000)
        .dir("opq", 0o755, 0, 0)
        .file("opq/x", b"X\n", 0o644, 0, 0);
    let mut l3 = TarBuilder::new();
    l3.dir("data", 0o755, 0, 0)
        .file("data/.wh.a", b"", 0o644, 0, 0)
        .dir("opq", 0o755, 0, 0)
        .file("opq/.wh..wh..opq", b"", 0o644, 0, 0)
        .file("opq/y", b"Y\n", 0o644, 0, 0);
    docker_archive(&[base, l2.finish(), l3.finish()], arch, tag)
}

/// Every unpacked layer of a store, listed with numeric owners as seen in
/// the user namespace (`1000:1000` stays `1000:1000`): equal listings mean
/// equal trees, whatever the container runtime does with them.
fn layer_trees(s: &Skiff) -> String {
    let root = s.store().join("layers");
    let script = format!(
        "cd {} && for d in *; do echo \"== $d\"; ls -lnR --time-style=+%s $d/diff; done",
        root.display()
    );
    let out = s.ok(&["unshare", "sh", "-c", &script]);
    assert!(out.contains("== "), "no layers listed: {out}");
    out
}

fn image_id(s: &Skiff, name: &str) -> String {
    s.ok(&["image", "inspect", "--format", "{{.Id}}", name])
        .trim()
        .to_string()
}

/// Pushes the busybox fixture to `dest` from a fresh store; returns its id.
fn push_busybox(reg: &Registry, dest: &str) -> String {
    let a = Skiff::new();
    a.import_busybox();
    let o = a.cmd(&["push", "--tls-verify=false", BUSYBOX, &reg.name(dest)]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert!(
        o.stderr.contains("Writing manifest to image destination"),
        "{}",
        o.describe()
    );
    image_id(&a, BUSYBOX)
}

/// Like `push_busybox`, keeping the source store.
fn push_busybox_from(reg: &Registry, dest: &str) -> (Skiff, String) {
    let a = Skiff::new();
    a.import_busybox();
    a.ok(&["push", "--tls-verify=false", BUSYBOX, &reg.name(dest)]);
    let id = image_id(&a, BUSYBOX);
    (a, id)
}

#[test]
fn push_then_pull_keeps_the_id_and_the_files() {
    let reg = Registry::start();
    let (a, id) = push_busybox_from(&reg, "me/busybox:1");

    let b = Skiff::new();
    let o = b.cmd(&["pull", "--tls-verify=false", &reg.name("me/busybox:1")]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(o.stdout.trim(), id, "pull prints the image id");
    for line in [
        "Trying to pull ",
        "Copying blob ",
        "Copying config ",
        "Writing manifest to image destination",
    ] {
        assert!(
            o.stderr.contains(line),
            "missing {line:?}\n{}",
            o.describe()
        );
    }
    assert_eq!(image_id(&b, &reg.name("me/busybox:1")), id);
    assert_eq!(
        layer_trees(&b),
        layer_trees(&a),
        "same files, owners, modes, times"
    );
    let out = b.ok(&[
        "run",
        "--rm",
        &reg.name("me/busybox:1"),
        "cat",
        "/www/index.html",
    ]);
    assert_eq!(out, INDEX_HTML);
    let owner = b.ok(&[
        "run",
        "--rm",
        &reg.name("me/busybox:1"),
        "stat",
        "-c",
        "%u:%g",
        "/home/tester/hello.txt",
    ]);
    assert_eq!(
        owner.trim(),
        "1000:1000",
        "ownership survives push and pull"
    );

    // Again into the same store: the layer is not fetched twice.
    let o = b.cmd(&["pull", "--tls-verify=false", &reg.name("me/busybox:1")]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert!(
        o.stderr.contains("skipped: already exists"),
        "{}",
        o.describe()
    );

    // -q prints only the id.
    let c = Skiff::new();
    let o = c.cmd(&[
        "pull",
        "-q",
        "--tls-verify=false",
        &reg.name("me/busybox:1"),
    ]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(o.stdout.trim(), id);
    assert!(o.stderr.trim().is_empty(), "{}", o.describe());
}

#[test]
fn layered_image_with_whiteouts_round_trips_in_gzip_and_zstd() {
    let reg = Registry::start();
    let a = Skiff::new();
    let archive = a.write_file(
        "layered.tar",
        &layered_image("amd64", "localhost/layered:1"),
    );
    a.ok(&["load", "-i", archive.to_str().unwrap()]);
    let id = image_id(&a, "localhost/layered:1");
    a.ok(&[
        "push",
        "--tls-verify=false",
        "localhost/layered:1",
        &reg.name("me/layered:gzip"),
    ]);
    a.ok(&[
        "push",
        "--tls-verify=false",
        "--compression-format",
        "zstd",
        "localhost/layered:1",
        &reg.name("me/layered-zstd:1"),
    ]);
    let want = a.ok(&[
        "run",
        "--rm",
        "localhost/layered:1",
        "sh",
        "-c",
        "ls /data /opq; cat /data/b /opq/y",
    ]);
    assert_eq!(want, "/data:\nb\n\n/opq:\ny\nB\nY\n");
    for name in ["me/layered:gzip", "me/layered-zstd:1"] {
        let b = Skiff::new();
        let out = b.ok(&["pull", "-q", "--tls-verify=false", &reg.name(name)]);
        assert_eq!(out.trim(), id, "{name}: same image id after the round trip");
        let got = b.ok(&[
            "run",
            "--rm",
            &reg.name(name),
            "sh",
            "-c",
            "ls /data /opq; cat /data/b /opq/y",
        ]);
        assert_eq!(got, want, "{name}: whiteouts and opaque directories apply");
    }
    // The zstd push really is zstd: the manifest says so.
    let b = Skiff::new();
    b.ok(&[
        "pull",
        "-q",
        "--tls-verify=false",
        &reg.name("me/layered-zstd:1"),
    ]);
    let layers = fs::read_dir(b.store().join("layers")).unwrap();
    let mut media = Vec::new();
    for l in layers.flatten() {
        let rec = fs::read_to_string(l.path().join("layer.json")).unwrap();
        media.push(rec.contains("zstd"));
    }
    assert!(media.iter().all(|z| *z), "every pulled layer is zstd");
}

#[test]
fn compression_level_changes_the_blob_not_the_image() {
    let reg = Registry::start();
    let a = Skiff::new();
    a.import_busybox();
    let id = image_id(&a, BUSYBOX);
    let digest_of = |level: &str, repo: &str| {
        let file = a.home.join(format!("digest-{level}"));
        a.ok(&[
            "push",
            "--tls-verify=false",
            "--compression-level",
            level,
            "--digestfile",
            file.to_str().unwrap(),
            BUSYBOX,
            &reg.name(repo),
        ]);
        fs::read_to_string(&file).unwrap()
    };
    let fast = digest_of("1", "me/fast:1");
    let best = digest_of("9", "me/best:1");
    assert_ne!(fast, best, "different levels make different layer blobs");
    for repo in ["me/fast:1", "me/best:1"] {
        let b = Skiff::new();
        let out = b.ok(&["pull", "-q", "--tls-verify=false", &reg.name(repo)]);
        assert_eq!(out.trim(), id, "{repo}: the same image whatever the level");
    }
    let err = a.fails_engine(&[
        "push",
        "--tls-verify=false",
        "--compression-level",
        "12",
        BUSYBOX,
        &reg.name("me/bad:1"),
    ]);
    assert!(err.contains("--compression-level 12"), "{err}");
}

#[test]
fn a_corrupted_blob_is_rejected_and_nothing_is_kept() {
    let reg = Registry::start();
    push_busybox(&reg, "me/busybox:1");
    // The biggest blob is the layer: flip bytes in the middle, same size.
    let mut biggest = (0, std::path::PathBuf::new());
    for e in walk(&reg.dir.path().join("data/docker/registry/v2/blobs")) {
        let len = fs::metadata(&e).unwrap().len();
        if len > biggest.0 {
            biggest = (len, e);
        }
    }
    let mut data = fs::read(&biggest.1).unwrap();
    let mid = data.len() / 2;
    for b in &mut data[mid..mid + 64] {
        *b ^= 0xff;
    }
    fs::write(&biggest.1, data).unwrap();

    let b = Skiff::new();
    let o = b.cmd(&["pull", "--tls-verify=false", &reg.name("me/busybox:1")]);
    let line = fails_125(&o);
    assert!(line.contains("digest mismatch"), "{line}");
    // The blob is named once, not once per layer of the error.
    assert_eq!(line.matches(&reg.name("me/busybox@")).count(), 1, "{line}");
    assert!(b.image_ids().is_empty());
    assert_eq!(count(&b.store().join("layers")), 0, "no layer kept");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_manifest_list_picks_the_platform() {
    let reg = Registry::start();
    let a = Skiff::new();
    let amd = a.write_file("amd.tar", &layered_image("amd64", "localhost/multi:amd64"));
    let arm = a.write_file("arm.tar", &layered_image("arm64", "localhost/multi:arm64"));
    a.ok(&["load", "-i", amd.to_str().unwrap()]);
    a.ok(&["load", "-i", arm.to_str().unwrap()]);
    let (amd_id, arm_id) = (
        image_id(&a, "localhost/multi:amd64"),
        image_id(&a, "localhost/multi:arm64"),
    );
    assert_ne!(amd_id, arm_id);
    let mut entries = Vec::new();
    for (tag, arch) in [("amd64", "amd64"), ("arm64", "arm64")] {
        let df = a.home.join(format!("files/{tag}.digest"));
        a.ok(&[
            "push",
            "--tls-verify=false",
            "--digestfile",
            df.to_str().unwrap(),
            &format!("localhost/multi:{tag}"),
            &reg.name(&format!("me/multi:{tag}")),
        ]);
        let digest = fs::read_to_string(&df).unwrap();
        let size = http_get_len(&reg, &format!("/v2/me/multi/manifests/{digest}"));
        entries.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest, "size": size,
            "platform": {"architecture": arch, "os": "linux"},
        }));
    }
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    }))
    .unwrap();
    http_put(
        &reg,
        "/v2/me/multi/manifests/list",
        "application/vnd.oci.image.index.v1+json",
        &index,
    );

    let b = Skiff::new();
    let host = b.ok(&[
        "pull",
        "-q",
        "--tls-verify=false",
        &reg.name("me/multi:list"),
    ]);
    assert_eq!(host.trim(), amd_id, "the host platform (amd64) is chosen");
    let c = Skiff::new();
    let arm = c.ok(&[
        "pull",
        "-q",
        "--tls-verify=false",
        "--arch",
        "arm64",
        &reg.name("me/multi:list"),
    ]);
    assert_eq!(arm.trim(), arm_id);
    let d = Skiff::new();
    let o = d.cmd(&[
        "pull",
        "-q",
        "--tls-verify=false",
        "--platform",
        "linux/s390x",
        &reg.name("me/multi:list"),
    ]);
    let line = fails_125(&o);
    assert!(
        line.contains("linux/s390x") && line.contains("linux/arm64"),
        "{line}"
    );
}

/// A tiny HTTP/1.1 client for what skiff has no command for (a manifest list).
fn http(reg: &Registry, req: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(&reg.host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(req).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn http_get_len(reg: &Registry, path: &str) -> u64 {
    let ans = http(
        reg,
        format!(
            "HEAD {path} HTTP/1.1\r\nHost: {}\r\nAccept: application/vnd.oci.image.manifest.v1+json\r\nConnection: close\r\n\r\n",
            reg.host
        )
        .as_bytes(),
    );
    ans.lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no content-length: {ans}"))
}

fn http_put(reg: &Registry, path: &str, ct: &str, body: &[u8]) {
    let mut req = format!(
        "PUT {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reg.host,
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    let ans = http(reg, &req);
    assert!(ans.starts_with("HTTP/1.1 201"), "PUT {path}: {ans}");
}

#[test]
fn registry_errors_are_one_line_naming_the_image() {
    let reg = Registry::start();
    push_busybox(&reg, "me/busybox:1");
    let b = Skiff::new();
    let name = reg.name("me/busybox:nope");
    let line = fails_125(&b.cmd(&["pull", "--tls-verify=false", &name]));
    assert_eq!(line, format!("Error: {name}: manifest unknown"));
    let line = fails_125(&b.cmd(&["pull", "--tls-verify=false", "Bad//Name"]));
    assert_eq!(line, "Error: invalid reference format");
    let closed = format!("127.0.0.1:{}/me/x:1", registry_support::free_port());
    let o = b.cmd(&["pull", "--tls-verify=false", &closed]);
    assert_eq!(o.code, 125, "{}", o.describe());
    let last = o.stderr.lines().last().unwrap_or_default().to_string();
    assert!(
        last.starts_with("Error: ") && last.contains("connection refused"),
        "{}",
        o.describe()
    );
    // Plain http is refused unless asked for.
    let o = b.cmd(&["pull", "--tls-verify=true", &reg.name("me/busybox:1")]);
    assert_eq!(o.code, 125, "{}", o.describe());
    // A short name without search registries names the files read.
    write_registries_conf(&b, &[], &[]);
    let line = fails_125(&b.cmd(&["pull", "busybox"]));
    assert!(
        line.contains("short-name \"busybox\"") && line.contains("registries.conf"),
        "{line}"
    );
    assert!(b.image_ids().is_empty());
}

#[test]
fn short_names_and_pull_policies_use_registries_conf() {
    let reg = Registry::start();
    let id = push_busybox(&reg, "me/busybox:latest");
    let b = Skiff::new();
    write_registries_conf(&b, &[&reg.host], &[&reg.host]);
    let missing = fails_125(&b.cmd(&["run", "--rm", "--pull", "never", "me/busybox", "true"]));
    assert!(missing.contains("me/busybox"), "{missing}");
    // missing (the default) pulls on first use, with progress on stderr.
    let o = b.cmd(&["run", "--rm", "me/busybox", "cat", "/www/index.html"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(o.stdout, INDEX_HTML);
    assert!(o.stderr.contains("Trying to pull"), "{}", o.describe());
    assert_eq!(image_id(&b, "me/busybox"), id);
    // Present: no pull. always: pulls again (layers skipped).
    let o = b.cmd(&["run", "--rm", "me/busybox", "true"]);
    assert!(!o.stderr.contains("Trying to pull"), "{}", o.describe());
    let o = b.cmd(&["run", "--rm", "--pull", "always", "me/busybox", "true"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert!(o.stderr.contains("Trying to pull"), "{}", o.describe());
    let o = b.cmd(&[
        "run",
        "--rm",
        "--pull",
        "newer",
        &reg.name("me/busybox"),
        "true",
    ]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert!(
        !o.stderr.contains("Trying to pull"),
        "same digest: no pull\n{}",
        o.describe()
    );
    // pull by short name goes through the search registry.
    let c = Skiff::new();
    write_registries_conf(&c, &[&reg.host], &[&reg.host]);
    assert_eq!(c.ok(&["pull", "-q", "me/busybox"]).trim(), id);
    let o = b.cmd(&["create", "--pull", "sometimes", "me/busybox"]);
    assert_eq!(o.code, 125, "{}", o.describe());
}

#[test]
fn concurrent_pulls_of_one_image_both_succeed() {
    let reg = Registry::start();
    let a = Skiff::new();
    let archive = a.write_file(
        "layered.tar",
        &layered_image("amd64", "localhost/layered:1"),
    );
    a.ok(&["load", "-i", archive.to_str().unwrap()]);
    a.ok(&[
        "push",
        "--tls-verify=false",
        "localhost/layered:1",
        &reg.name("me/layered:1"),
    ]);
    let id = image_id(&a, "localhost/layered:1");
    let b = Skiff::new();
    let name = reg.name("me/layered:1");
    let kids: Vec<_> = (0..3)
        .map(|_| b.spawn(&["pull", "-q", "--tls-verify=false", &name]))
        .collect();
    for k in kids {
        let out = k.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), id);
    }
    assert_eq!(b.image_ids(), vec![format!("sha256:{id}")]);
    assert_eq!(count(&b.store().join("layers")), 3);
    assert_eq!(count(&b.store().join("tmp")), 0, "no staging left behind");
}

#[test]
fn push_skips_what_the_registry_has_and_mounts_across_repositories() {
    let reg = Registry::start();
    let a = Skiff::new();
    a.import_busybox();
    a.ok(&["push", "--tls-verify=false", BUSYBOX, &reg.name("me/one:1")]);
    let o = a.cmd(&["push", "--tls-verify=false", BUSYBOX, &reg.name("me/one:2")]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert!(
        o.stderr.contains("skipped: already exists"),
        "{}",
        o.describe()
    );
    // A pulled image pushed to another repository of the same registry is mounted.
    let b = Skiff::new();
    b.ok(&["pull", "-q", "--tls-verify=false", &reg.name("me/one:1")]);
    let o = b.cmd(&[
        "push",
        "--tls-verify=false",
        &reg.name("me/one:1"),
        &reg.name("other/two:1"),
    ]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert!(
        o.stderr.contains("skipped: already exists"),
        "{}",
        o.describe()
    );
    let c = Skiff::new();
    let id = c.ok(&["pull", "-q", "--tls-verify=false", &reg.name("other/two:1")]);
    assert_eq!(id.trim(), image_id(&a, BUSYBOX));
}

#[test]
fn login_logout_and_auth_json() {
    let reg = Registry::start_with(Some(("alice", "s3cret")));
    let a = Skiff::new();
    a.import_busybox();
    let dest = reg.name("me/busybox:1");
    let line = fails_125(&a.cmd(&["push", "--tls-verify=false", BUSYBOX, &dest]));
    assert!(line.contains("authentication required"), "{line}");
    let line = fails_125(&a.cmd(&[
        "login",
        "--tls-verify=false",
        "-u",
        "alice",
        "-p",
        "wrong",
        &reg.host,
    ]));
    assert!(line.contains("invalid username/password"), "{line}");
    let out = a.ok_stdin(
        &[
            "login",
            "--tls-verify=false",
            "-u",
            "alice",
            "--password-stdin",
            &reg.host,
        ],
        b"s3cret\n",
    );
    assert!(out.contains("Login Succeeded"), "{out}");
    let auth = fs::read_to_string(a.runtime_dir.join("containers/auth.json")).unwrap();
    assert!(auth.contains(&reg.host), "{auth}");
    a.ok(&["push", "--tls-verify=false", BUSYBOX, &dest]);
    a.ok(&["logout", &reg.host]);
    let line = fails_125(&a.cmd(&["pull", "--tls-verify=false", &dest]));
    assert!(line.contains("authentication required"), "{line}");
    // --creds works without a login; --authfile keeps the login elsewhere.
    a.ok(&[
        "pull",
        "-q",
        "--tls-verify=false",
        "--creds",
        "alice:s3cret",
        &dest,
    ]);
    let af = a.home.join("files/auth.json");
    a.make_dir(af.parent().unwrap());
    a.ok(&[
        "login",
        "--tls-verify=false",
        "--authfile",
        af.to_str().unwrap(),
        "-u",
        "alice",
        "-p",
        "s3cret",
        &reg.host,
    ]);
    a.ok(&[
        "pull",
        "-q",
        "--tls-verify=false",
        "--authfile",
        af.to_str().unwrap(),
        &dest,
    ]);
    a.ok(&["logout", "--authfile", af.to_str().unwrap(), "-a"]);
    assert!(!fs::read_to_string(&af).unwrap().contains(&reg.host));
}

#[test]
fn search_lists_the_catalog_and_tags() {
    let reg = Registry::start();
    push_busybox(&reg, "me/busybox:1");
    push_busybox(&reg, "me/busybox:2");
    let a = Skiff::new();
    let out = a.ok(&["search", "--tls-verify=false", &reg.name("busy")]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("DESCRIPTION"),
        "{out}"
    );
    assert!(lines[1].starts_with(&reg.name("me/busybox")), "{out}");
    let out = a.ok(&[
        "search",
        "--tls-verify=false",
        "--list-tags",
        &reg.name("me/busybox"),
    ]);
    assert!(
        out.contains("TAG") && out.contains(" 1\n") && out.contains(" 2\n"),
        "{out}"
    );
    let out = a.ok(&["search", "--tls-verify=false", &reg.name("nothing-like-it")]);
    assert_eq!(out.lines().count(), 1, "{out}");
}

/// A pull by digest of an image already there under a tag adds no
/// `<none>` row to `images -a` (Podman); pulled by digest alone, the image
/// shows as `<none>`.
#[test]
fn pull_by_digest_adds_no_second_row() {
    let reg = Registry::start();
    push_busybox(&reg, "me/dig:1");
    let b = Skiff::new();
    b.ok(&["pull", "-q", "--tls-verify=false", &reg.name("me/dig:1")]);
    let digest = b.ok(&[
        "image",
        "inspect",
        "--format",
        "{{.Digest}}",
        &reg.name("me/dig:1"),
    ]);
    let by_digest = format!("{}@{}", reg.name("me/dig"), digest.trim());
    b.ok(&["pull", "-q", "--tls-verify=false", &by_digest]);
    let rows = b.ok(&["images", "-a", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(rows.trim(), reg.name("me/dig:1"), "{rows}");
    let c = Skiff::new();
    c.ok(&["pull", "-q", "--tls-verify=false", &by_digest]);
    let rows = c.ok(&["images", "-a", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(
        rows.trim(),
        format!("{}:<none>", reg.name("me/dig")),
        "{rows}"
    );
}

/// A hostile registry: answers the manifest of `evil:1`, whose one layer
/// says it is 1000 bytes, then sends that layer without a Content-Length
/// and without end (up to 256 MiB). Returns its port and a counter of the
/// layer bytes it managed to send.
fn endless_layer_registry() -> (u16, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    use std::io::{BufRead, BufReader, Write};
    use std::sync::atomic::{AtomicU64, Ordering};
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", "1".repeat(64))]},
    }))
    .unwrap();
    let cfg_digest = sha(&config);
    let layer = format!("sha256:{}", "2".repeat(64));
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": cfg_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer, "size": 1000}],
    }))
    .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sent = std::sync::Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let (config, manifest, layer, cfg_digest, sent) = (
                config.clone(),
                manifest.clone(),
                layer.clone(),
                cfg_digest.clone(),
                sent.clone(),
            );
            std::thread::spawn(move || {
                let mut r = BufReader::new(conn.try_clone().unwrap());
                loop {
                    let Ok(buf) = r.fill_buf() else { return };
                    if buf.first() == Some(&0x16) {
                        // A TLS hello: say this is plain HTTP, as registries do.
                        let _ = conn.write_all(b"HTTP/1.0 400 Bad Request\r\n\r\n");
                        return;
                    }
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                    loop {
                        let mut h = String::new();
                        if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                            break;
                        }
                    }
                    let head = line.starts_with("HEAD");
                    let body: &[u8] = if path == "/v2/" {
                        b"{}"
                    } else if path.contains("/manifests/") {
                        &manifest
                    } else if path.ends_with(&cfg_digest) {
                        &config
                    } else if path.ends_with(&layer) {
                        let _ = conn.write_all(
                            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
                        );
                        if head {
                            return;
                        }
                        let chunk = vec![0u8; 1 << 20];
                        for _ in 0..256 {
                            let mut c = format!("{:x}\r\n", chunk.len()).into_bytes();
                            c.extend_from_slice(&chunk);
                            c.extend_from_slice(b"\r\n");
                            if conn.write_all(&c).is_err() {
                                return;
                            }
                            sent.fetch_add(chunk.len() as u64, Ordering::SeqCst);
                        }
                        let _ = conn.write_all(b"0\r\n\r\n");
                        return;
                    } else {
                        let _ =
                            conn.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
                        continue;
                    };
                    let ct = if path.contains("/manifests/") {
                        "application/vnd.oci.image.manifest.v1+json"
                    } else {
                        "application/json"
                    };
                    let mut resp = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nDocker-Content-Digest: {}\r\n\r\n",
                        body.len(),
                        sha(body)
                    )
                    .into_bytes();
                    if !head {
                        resp.extend_from_slice(body);
                    }
                    if conn.write_all(&resp).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, counter)
}

/// A layer longer than its descriptor says is refused as soon as it is: a
/// registry that sends no Content-Length and never ends cannot fill the
/// disk. The pull is one error line, exit 125, and keeps nothing.
#[test]
fn a_layer_longer_than_the_manifest_says_is_cut_off() {
    let (port, sent) = endless_layer_registry();
    let s = Skiff::new();
    let o = s.cmd(&[
        "pull",
        "--tls-verify=false",
        &format!("localhost:{port}/evil:1"),
    ]);
    let line = fails_125(&o);
    assert!(line.contains("more than the 1000 bytes"), "{line}");
    let sent = sent.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        sent < 64 << 20,
        "the pull read {sent} bytes of a 1000-byte layer"
    );
    assert!(s.image_ids().is_empty());
    assert_eq!(count(&s.store().join("layers")), 0, "no layer kept");
}

#[test]
fn a_plain_http_registry_that_resets_tls_is_pulled_without_retry_warnings() {
    let reg = Registry::start();
    push_busybox(&reg, "me/busybox:1");
    // The https probe of an insecure registry is reset; plain http follows
    // at once, with no "retrying" lines (Podman prints none either).
    let front = registry_support::ResetsTls::start(&reg.host);
    let image = format!("{}/me/busybox:1", front.host);
    let b = Skiff::new();
    let started = std::time::Instant::now();
    let o = b.cmd(&["pull", "--tls-verify=false", &image]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert!(!o.stderr.contains("retrying"), "{}", o.describe());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "no retry delays: {:?}",
        started.elapsed()
    );
    assert_eq!(b.image_ids().len(), 1);
}
