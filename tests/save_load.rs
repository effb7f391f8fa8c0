//! save/load round trips in both archive formats, hostile and truncated
//! archives, image history and prune; skiff runs as an unprivileged user.

mod common;
mod registry_support;

use std::fs;

use common::{Skiff, TarBuilder, BUSYBOX};
use registry_support::{count, fails_125};

fn image_id(s: &Skiff, name: &str) -> String {
    s.ok(&["image", "inspect", "--format", "{{.Id}}", name])
        .trim()
        .to_string()
}

/// The unpacked layers of a store as the user namespace sees them.
fn layer_trees(s: &Skiff) -> String {
    let root = s.store().join("layers");
    let script = format!(
        "cd {} && for d in *; do echo \"== $d\"; ls -lnR --time-style=+%s $d/diff; done",
        root.display()
    );
    s.ok(&["unshare", "sh", "-c", &script])
}

fn busybox_with_second_tag() -> Skiff {
    let a = Skiff::new();
    a.import_busybox();
    a.ok(&["tag", BUSYBOX, "localhost/other:2"]);
    a
}

#[test]
fn docker_archive_round_trip() {
    let a = busybox_with_second_tag();
    let id = image_id(&a, BUSYBOX);
    let out = a.home.join("files/bb.tar");
    a.make_dir(out.parent().unwrap());
    a.ok(&["save", "-o", out.to_str().unwrap(), BUSYBOX]);
    // The layout docker load reads.
    let list = std::process::Command::new("tar")
        .arg("tf")
        .arg(&out)
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&list.stdout);
    assert!(
        names.contains("manifest.json") && names.contains("repositories"),
        "{names}"
    );

    let b = Skiff::new();
    let o = b.ok(&["load", "-i", out.to_str().unwrap()]);
    assert_eq!(o.trim(), format!("Loaded image: {BUSYBOX}"));
    assert_eq!(image_id(&b, BUSYBOX), id);
    assert_eq!(layer_trees(&b), layer_trees(&a));
    // From stdin too, into another store.
    let c = Skiff::new();
    let data = fs::read(&out).unwrap();
    let o = c.ok_stdin(&["load"], &data);
    assert!(o.contains(BUSYBOX), "{o}");
    assert_eq!(image_id(&c, BUSYBOX), id);
}

#[test]
fn oci_archive_round_trip_and_several_images() {
    let a = busybox_with_second_tag();
    let id = image_id(&a, BUSYBOX);
    let out = a.home.join("files/bb-oci.tar");
    a.make_dir(out.parent().unwrap());
    a.ok(&[
        "save",
        "--format",
        "oci-archive",
        "-o",
        out.to_str().unwrap(),
        BUSYBOX,
        "localhost/other:2",
    ]);
    let b = Skiff::new();
    let o = b.ok(&["load", "-i", out.to_str().unwrap()]);
    // Podman: without -m the other arguments name the first image in a
    // docker-archive only; an oci-archive keeps the first name.
    assert!(
        o.contains(BUSYBOX) && !o.contains("localhost/other:2"),
        "{o}"
    );
    assert_eq!(image_id(&b, BUSYBOX), id);
    assert_eq!(layer_trees(&b), layer_trees(&a));

    // docker-archive with two names and stdout output.
    let o = a.cmd(&["save", BUSYBOX, "localhost/other:2"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    let c = Skiff::new();
    c.ok_stdin(&["load", "-q"], &o.stdout_bytes);
    assert_eq!(image_id(&c, "localhost/other:2"), id);
}

/// A docker-archive whose manifest names `layer` as its only layer.
fn archive_with_layer(layer: &[u8], extra: Option<(&str, &[u8])>) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let diff = format!("sha256:{}", hex::encode(Sha256::digest(layer)));
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff]},
    }))
    .unwrap();
    let cfg = format!("{}.json", hex::encode(Sha256::digest(&config)));
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        let n = name.as_bytes();
        h.as_gnu_mut().unwrap().name[..n.len()].copy_from_slice(n);
        h.set_cksum();
        b.append(&h, data).unwrap();
    };
    add("layer.tar", layer);
    add(&cfg, &config);
    if let Some((n, d)) = extra {
        add(n, d);
    }
    let m = serde_json::to_vec(&serde_json::json!([
        {"Config": cfg, "RepoTags": ["localhost/evil:1"], "Layers": ["layer.tar"]}
    ]))
    .unwrap();
    add("manifest.json", &m);
    b.into_inner().unwrap()
}

#[test]
fn hostile_archives_are_rejected_and_leave_nothing() {
    let s = Skiff::new();
    // A layer that climbs out of its directory.
    let mut l = TarBuilder::new();
    l.file("ok", b"fine", 0o644, 0, 0)
        .file("../../escaped", b"evil", 0o644, 0, 0);
    let p = s.write_file("climb.tar", &archive_with_layer(&l.finish(), None));
    let line = fails_125(&s.cmd(&["load", "-i", p.to_str().unwrap()]));
    assert!(line.contains("escapes"), "{line}");
    // An archive member that climbs out.
    let mut l = TarBuilder::new();
    l.file("ok", b"fine", 0o644, 0, 0);
    let p = s.write_file(
        "member.tar",
        &archive_with_layer(&l.finish(), Some(("../outside", b"x"))),
    );
    let line = fails_125(&s.cmd(&["load", "-i", p.to_str().unwrap()]));
    assert!(line.contains("escapes the archive"), "{line}");
    assert!(!s.home.join("files/outside").exists());
    assert!(s.image_ids().is_empty());
    assert_eq!(count(&s.store().join("layers")), 0);
}

#[test]
fn truncated_archive_is_one_line_and_stores_nothing() {
    let a = Skiff::new();
    a.import_busybox();
    let out = a.home.join("files/bb.tar");
    a.make_dir(out.parent().unwrap());
    a.ok(&["save", "-o", out.to_str().unwrap(), BUSYBOX]);
    let data = fs::read(&out).unwrap();
    let b = Skiff::new();
    for cut in [data.len() / 2, data.len() - 2048, 700] {
        let p = b.write_file("cut.tar", &data[..cut]);
        let line = fails_125(&b.cmd(&["load", "-i", p.to_str().unwrap()]));
        assert!(line.contains("cut.tar"), "{line}");
    }
    assert!(b.image_ids().is_empty());
    assert_eq!(count(&b.store().join("layers")), 0);
    let line = fails_125(&b.cmd(&["save", "-o", "/nonexistent/x.tar", BUSYBOX]));
    assert!(line.contains("image not known"), "{line}");
}

#[test]
fn history_and_prune() {
    let a = Skiff::new();
    a.import_busybox();
    let out = a.ok(&["image", "history", BUSYBOX]);
    let header = out.lines().next().unwrap();
    for col in ["ID", "CREATED", "CREATED BY", "SIZE", "COMMENT"] {
        assert!(header.contains(col), "{out}");
    }
    let id = image_id(&a, BUSYBOX);
    assert!(out.lines().nth(1).unwrap().starts_with(&id[..12]), "{out}");
    let out = a.ok(&["history", "-q", BUSYBOX]);
    assert_eq!(out.lines().next().unwrap(), &id[..12]);

    // A dangling image goes with prune, a named one only with -a.
    a.ok(&["untag", BUSYBOX]);
    assert_eq!(a.image_ids().len(), 1);
    let pruned = a.ok(&["image", "prune", "-f"]);
    assert_eq!(pruned.trim(), id);
    assert!(a.image_ids().is_empty());
    assert_eq!(count(&a.store().join("layers")), 0);
    a.import_busybox();
    assert_eq!(a.ok(&["image", "prune", "-f"]).trim(), "");
    assert_eq!(a.image_ids().len(), 1);
    a.ok(&["image", "prune", "-a", "-f"]);
    assert!(a.image_ids().is_empty());
}

/// A docker-archive in the layout `docker save`, `podman save` and skopeo
/// write for shared layers: the layer's data is `<digest>.tar` at the top and
/// the manifest names `<id>/layer.tar`, a symlink to `../<digest>.tar`.
/// `link` is that symlink's target.
fn archive_with_linked_layer(layer: &[u8], link: &str) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let hex_of = |d: &[u8]| hex::encode(Sha256::digest(d));
    let diff = hex_of(layer);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{diff}")]},
    }))
    .unwrap();
    let cfg = format!("{}.json", hex_of(&config));
    let id = hex_of(b"layer id");
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data).unwrap();
    };
    add(&format!("{diff}.tar"), layer);
    add(&cfg, &config);
    add(&format!("{id}/VERSION"), b"1.0");
    add(&format!("{id}/json"), b"{}");
    let m = serde_json::to_vec(&serde_json::json!([
        {"Config": cfg, "RepoTags": ["localhost/shared:1"], "Layers": [format!("{id}/layer.tar")]}
    ]))
    .unwrap();
    add("manifest.json", &m);
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    b.append_link(&mut h, format!("{id}/layer.tar"), link)
        .unwrap();
    b.into_inner().unwrap()
}

#[test]
fn load_follows_layer_symlinks_that_stay_inside_the_archive() {
    use sha2::{Digest, Sha256};
    let s = Skiff::new();
    let mut l = TarBuilder::new();
    l.file("shared-file", b"from the shared layer", 0o644, 0, 0);
    let layer = l.finish();
    let diff = hex::encode(Sha256::digest(&layer));
    let p = s.write_file(
        "shared.tar",
        &archive_with_linked_layer(&layer, &format!("../{diff}.tar")),
    );
    let o = s.ok(&["load", "-i", p.to_str().unwrap()]);
    assert_eq!(o.trim(), "Loaded image: localhost/shared:1");
    assert_eq!(
        s.ok(&[
            "image",
            "inspect",
            "--format",
            "{{json .RootFS.Layers}}",
            "localhost/shared:1"
        ])
        .trim(),
        format!("[\"sha256:{diff}\"]")
    );
    assert!(layer_trees(&s).contains("shared-file"));

    // The same layout with a link that climbs out is still refused.
    let t = Skiff::new();
    for link in [format!("../../{diff}.tar"), format!("/{diff}.tar")] {
        let p = t.write_file("climb.tar", &archive_with_linked_layer(&layer, &link));
        let line = fails_125(&t.cmd(&["load", "-i", p.to_str().unwrap()]));
        assert!(line.contains("escapes the archive"), "{link}: {line}");
    }
    assert!(t.image_ids().is_empty());
    assert_eq!(count(&t.store().join("layers")), 0);
}

/// `load` reads docker-archives and oci-archives compressed with gzip, zstd
/// or xz, and prints only the names the archive records (not the second
/// tag the saving store had).
#[test]
fn loads_compressed_archives() {
    use std::io::Write;
    let a = busybox_with_second_tag();
    let id = image_id(&a, BUSYBOX);
    let dir = a.home.join("files");
    a.make_dir(&dir);
    for format in ["docker-archive", "oci-archive"] {
        let raw = dir.join(format!("{format}.tar"));
        a.ok(&[
            "save",
            "--format",
            format,
            "-o",
            raw.to_str().unwrap(),
            BUSYBOX,
        ]);
        let data = fs::read(&raw).unwrap();
        let gz = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&data).unwrap();
            e.finish().unwrap()
        };
        let zst = zstd::stream::encode_all(&data[..], 1).unwrap();
        let xz = {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
            e.write_all(&data).unwrap();
            e.finish().unwrap()
        };
        for (kind, bytes) in [("gz", gz), ("zst", zst), ("xz", xz)] {
            let b = Skiff::new();
            let o = b.ok_stdin(&["load"], &bytes);
            assert_eq!(
                o.trim(),
                format!("Loaded image: {BUSYBOX}"),
                "{format} {kind}"
            );
            assert_eq!(image_id(&b, BUSYBOX), id, "{format} {kind}");
        }
    }
    // A store that already has the image under another name prints only
    // the archive's name.
    let raw = dir.join("docker-archive.tar");
    let o = a.ok(&["load", "-i", raw.to_str().unwrap()]);
    assert_eq!(o.trim(), format!("Loaded image: {BUSYBOX}"));
}

/// `save --format oci-dir|docker-dir -o DIR` writes a directory that
/// `load -i DIR` reads back; docker-dir records no name.
#[test]
fn dir_layouts_round_trip() {
    let a = busybox_with_second_tag();
    let id = image_id(&a, BUSYBOX);
    let files = a.home.join("files");
    a.make_dir(&files);
    let oci = files.join("oci");
    let dd = files.join("dd");
    a.ok(&[
        "save",
        "--format",
        "oci-dir",
        "-o",
        oci.to_str().unwrap(),
        BUSYBOX,
    ]);
    a.ok(&[
        "save",
        "--format",
        "docker-dir",
        "-o",
        dd.to_str().unwrap(),
        BUSYBOX,
    ]);
    assert!(oci.join("index.json").is_file() && oci.join("oci-layout").is_file());
    assert!(dd.join("manifest.json").is_file() && dd.join("version").is_file());
    // Without -o there is nowhere to write a directory.
    let e = a.fails(&["save", "--format", "oci-dir", BUSYBOX], 125);
    assert!(e.contains("-o DIR"), "{e}");
    // A non-empty directory is not overwritten.
    let e = a.fails(
        &[
            "save",
            "--format",
            "oci-dir",
            "-o",
            oci.to_str().unwrap(),
            BUSYBOX,
        ],
        125,
    );
    assert!(e.contains("not empty"), "{e}");

    let b = Skiff::new();
    let o = b.ok(&["load", "-i", oci.to_str().unwrap()]);
    assert_eq!(o.trim(), format!("Loaded image: {BUSYBOX}"));
    assert_eq!(image_id(&b, BUSYBOX), id);
    let c = Skiff::new();
    let o = c.ok(&["load", "-i", dd.to_str().unwrap()]);
    assert_eq!(o.trim(), format!("Loaded image: sha256:{id}"));
    assert_eq!(c.image_ids(), vec![format!("sha256:{id}")]);
}
