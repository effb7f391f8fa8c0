//! `commit` and `diff` with real containers: a container's additions,
//! changes and deletions listed as Podman lists them, committed as a layer
//! under each storage driver and run again with their owners; the
//! container's settings and `--change` in the new image; a running
//! container paused and resumed; what is not the container's own (volumes,
//! the /etc files skiff writes) left out; bad input refused whole.
//!
//! Secrets are not covered: `run --secret` does not exist yet, so no
//! container can have a secret to leave out.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;

/// What the test container does to the busybox fixture: adds a file, a
/// directory owned by uid 1000 and a symlink, changes /etc/passwd, deletes
/// a file and a directory of the image, and replaces /www by a new
/// directory (overlay makes it opaque).
const CHANGES: &str = "echo hi > /etc/added && echo extra >> /etc/passwd && rm /etc/os-release \
    && rm -r /var/tmp && rm -r /www && mkdir /www && echo new > /www/new.html \
    && mkdir /home/tester/sub && echo t > /home/tester/sub/f && chown -R 1000:1000 /home/tester/sub \
    && ln -s /etc/added /link";

/// `diff` lines every driver shows for [`CHANGES`].
const EXPECTED: [&str; 14] = [
    "C /etc",
    "A /etc/added",
    "D /etc/os-release",
    "C /etc/passwd",
    "C /home/tester",
    "A /home/tester/sub",
    "A /home/tester/sub/f",
    "A /link",
    "C /var",
    "D /var/tmp",
    "C /www",
    "D /www/index.html",
    "A /www/new.html",
    // Changed for what changed below it.
    "C /home",
];

fn lines(s: &str) -> BTreeSet<String> {
    s.lines().map(str::to_string).collect()
}

fn diff_commit_and_run(driver: &str) {
    let s = Skiff::with_driver(driver);
    s.import_busybox();
    s.ok(&["run", "--name", "work", "busybox", "sh", "-c", CHANGES]);

    let diff = s.ok(&["diff", "work"]);
    let all: BTreeSet<String> = EXPECTED.iter().map(|l| l.to_string()).collect();
    assert_eq!(lines(&diff), all, "diff under {driver}:\n{diff}");
    let mut sorted: Vec<&str> = diff.lines().collect();
    sorted.sort_by_key(|l| l[2..].to_string());
    assert_eq!(sorted, diff.lines().collect::<Vec<_>>(), "sorted by path");
    assert_eq!(s.ok(&["container", "diff", "work"]), diff);

    let images_before = s.image_ids().len();
    let id = s.ok(&["commit", "-q", "work", "snap"]).trim().to_string();
    assert_eq!(id.len(), 64, "commit prints the image id: {id}");
    assert_eq!(s.image_ids().len(), images_before + 1);
    assert_eq!(
        s.inspect_format("snap", "{{len .RootFS.Layers}}"),
        "2",
        "the image's layer and the changes"
    );

    let out = s.ok(&[
        "run",
        "--rm",
        "snap",
        "sh",
        "-c",
        "cat /etc/added; tail -n1 /etc/passwd; test -e /etc/os-release || echo no-os-release; \
         test -e /var/tmp || echo no-var-tmp; ls -A /www; stat -c '%u:%g %n' /home/tester/sub /home/tester/sub/f; \
         cat /home/tester/sub/f; readlink /link; stat -c '%u:%g' /home/tester/hello.txt",
    ]);
    assert_eq!(
        out,
        "hi\nextra\nno-os-release\nno-var-tmp\nnew.html\n1000:1000 /home/tester/sub\n\
         1000:1000 /home/tester/sub/f\nt\n/etc/added\n1000:1000\n",
        "the committed image under {driver}"
    );

    // The image's top layer against its parent: the same changes.
    assert_eq!(
        lines(&s.ok(&["image", "diff", "snap"])),
        all,
        "image diff under {driver}"
    );
    s.ok(&["rm", "work"]);
}

#[test]
fn diff_commit_and_run_overlay() {
    diff_commit_and_run("overlay");
}

#[test]
fn diff_commit_and_run_fuse_overlayfs() {
    diff_commit_and_run("fuse-overlayfs");
}

#[test]
fn diff_commit_and_run_vfs() {
    diff_commit_and_run("vfs");
}

#[test]
fn diff_json_and_images() {
    let s = busybox();
    s.ok(&[
        "run",
        "--name",
        "json",
        "busybox",
        "sh",
        "-c",
        "echo a > /new; rm /etc/os-release",
    ]);
    let v: serde_json::Value =
        serde_json::from_str(&s.ok(&["diff", "--format", "json", "json"])).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"changed": ["/etc"], "added": ["/new"], "deleted": ["/etc/os-release"]})
    );
    // A one-layer image: everything in it is added.
    let base = s.ok(&["image", "diff", "busybox"]);
    assert!(
        base.lines().all(|l| l.starts_with("A /")) && base.contains("A /bin/busybox\n"),
        "{base}"
    );
    // `diff` takes an image when no container has the name.
    assert_eq!(s.ok(&["diff", "busybox"]), base);
    let e = s.fails_engine(&["diff", "--format", "yaml", "json"]);
    assert!(e.contains("yaml"), "{e}");
    let e = s.fails_engine(&["diff", "nosuchthing"]);
    assert!(e.contains("nosuchthing"), "{e}");
    let e = s.fails_engine(&["container", "diff", "busybox"]);
    assert!(e.contains("busybox"), "{e}");
    s.ok(&["rm", "json"]);

    // A container that changed nothing still commits, with an empty layer.
    s.ok(&["run", "--name", "idle", "busybox", "true"]);
    assert_eq!(s.ok(&["diff", "idle"]), "");
    s.ok(&["commit", "-q", "idle", "idle-img"]);
    assert_eq!(s.inspect_format("idle-img", "{{len .RootFS.Layers}}"), "2");
    assert_eq!(s.ok(&["image", "diff", "idle-img"]), "");
    s.ok(&["rm", "idle"]);
}

#[test]
fn container_settings_changes_and_history() {
    let s = busybox();
    s.ok(&[
        "run", "--name", "cfg", "-e", "FOO=bar", "-w", "/srv", "-u", "1000", "--label", "k=v",
        "busybox", "true",
    ]);
    let out = s.cmd(&[
        "commit",
        "-a",
        "Ann Author",
        "-m",
        "my message",
        "-c",
        r#"CMD ["/bin/sh", "-c", "echo $FOO $X; id -u; pwd"]"#,
        "-c",
        "ENV X=1",
        "cfg",
        "cfgimg",
    ]);
    assert_eq!(out.code, 0, "{}", out.describe());
    // Podman's progress lines on stderr, the id alone on stdout.
    assert!(
        out.stderr.contains("Getting image source signatures")
            && out.stderr.contains("Writing manifest to image destination"),
        "{}",
        out.describe()
    );
    assert_eq!(out.stdout.trim().len(), 64, "{}", out.describe());

    assert_eq!(s.ok(&["run", "--rm", "cfgimg"]), "bar 1\n1000\n/srv\n");
    assert_eq!(s.inspect_format("cfgimg", "{{.Author}}"), "Ann Author");
    assert_eq!(s.inspect_format("cfgimg", r#"{{index .Labels "k"}}"#), "v");
    let history = s.ok(&[
        "history",
        "--format",
        "{{.CreatedBy}}|{{.Comment}}",
        "cfgimg",
    ]);
    let first = history.lines().next().unwrap();
    assert_eq!(first, "|my message", "{history}");
    assert_eq!(history.lines().count(), 2, "{history}");

    // --squash: one layer with everything.
    s.ok(&["commit", "-q", "--squash", "cfg", "flat"]);
    assert_eq!(s.inspect_format("flat", "{{len .RootFS.Layers}}"), "1");
    // The image's own empty /proc stays, unlike the kernel's files in it.
    let flat = s.ok(&["image", "diff", "flat"]);
    assert!(
        flat.contains("A /proc\n") && !flat.contains("A /proc/") && flat.contains("A /srv\n"),
        "{flat}"
    );
    assert_eq!(
        s.ok(&["run", "--rm", "flat", "cat", "/home/tester/hello.txt"]),
        s.ok(&["run", "--rm", "busybox", "cat", "/home/tester/hello.txt"])
    );
    // No name: a dangling image, here with a Docker manifest.
    let id = s.ok(&["commit", "-q", "--format", "docker", "cfg"]);
    let id = id.trim();
    assert!(s.ok(&["images", "-a"]).contains("<none>"));
    assert_eq!(
        s.inspect_format(id, "{{.ManifestType}}"),
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(
        s.inspect_format("cfgimg", "{{.ManifestType}}"),
        "application/vnd.oci.image.manifest.v1+json"
    );
    s.ok(&["rmi", id]);
    s.ok(&["rm", "cfg"]);
}

#[test]
fn running_container_is_paused_and_resumed() {
    let s = busybox();
    s.ok(&[
        "run",
        "-d",
        "--name",
        "live",
        "busybox",
        "sh",
        "-c",
        "echo up > /ready; sleep 1000",
    ]);
    assert!(
        eventually(Duration::from_secs(10), || s
            .ok(&["diff", "live"])
            .contains("A /ready")),
        "the container wrote /ready"
    );
    s.ok(&["commit", "-q", "live", "live-snap"]);
    assert_eq!(s.inspect_format("live", "{{.State.Status}}"), "running");
    s.ok(&["commit", "-q", "--pause=false", "live", "live-snap2"]);
    assert_eq!(s.inspect_format("live", "{{.State.Status}}"), "running");
    assert_eq!(s.ok(&["run", "--rm", "live-snap", "cat", "/ready"]), "up\n");
    assert_eq!(
        s.ok(&["run", "--rm", "live-snap2", "cat", "/ready"]),
        "up\n"
    );
    s.ok(&["rm", "-f", "-t", "0", "live"]);
}

#[test]
fn volumes_and_generated_etc_files_stay_out() {
    let s = busybox();
    s.ok(&[
        "run",
        "--name",
        "ex",
        "-v",
        "data:/data",
        "--tmpfs",
        "/scratch",
        "busybox",
        "sh",
        "-c",
        "echo secret > /data/s; echo t > /scratch/t; echo '1.2.3.4 evil' >> /etc/hosts; \
         echo nameserver 9.9.9.9 >> /etc/resolv.conf; echo kept > /kept",
    ]);
    let diff = s.ok(&["diff", "ex"]);
    assert_eq!(diff, "A /kept\n", "only the container's own change");
    s.ok(&["commit", "-q", "ex", "eximg"]);
    // Unless asked, the volumes are not the image's.
    assert_eq!(
        s.inspect_format("eximg", "{{.Config.Volumes}}"),
        "<no value>"
    );
    s.ok(&["commit", "-q", "--include-volumes", "ex", "exvol"]);
    assert!(
        s.inspect_format("exvol", "{{json .Config.Volumes}}")
            .contains("/data"),
        "--include-volumes"
    );
    let out = s.ok(&[
        "run",
        "--rm",
        "eximg",
        "sh",
        "-c",
        "cat /kept; test -e /data || echo no-data; test -e /scratch || echo no-scratch; \
         grep -c evil /etc/hosts; grep -c 9.9.9.9 /etc/resolv.conf; true",
    ]);
    assert_eq!(out, "kept\nno-data\nno-scratch\n0\n0\n");
    s.ok(&["rm", "-v", "ex"]);
}

#[test]
fn bad_input_is_refused_and_creates_nothing() {
    let s = busybox();
    s.ok(&[
        "run",
        "--name",
        "plain",
        "busybox",
        "sh",
        "-c",
        "echo x > /x",
    ]);
    let before = s.image_ids();
    let e = s.fails_engine(&["commit", "nosuchbox", "img"]);
    assert!(e.contains("nosuchbox"), "{e}");
    let e = s.fails_engine(&["commit", "-c", "FROB x", "plain", "img"]);
    assert!(e.contains("invalid change") && e.contains("FROB"), "{e}");
    let e = s.fails_engine(&["commit", "plain", "Bad//Name:"]);
    assert!(e.contains("Bad//Name:"), "{e}");
    let e = s.fails_engine(&["commit", "--format", "qcow", "plain", "img"]);
    assert!(e.contains("qcow"), "{e}");
    assert_eq!(s.image_ids(), before, "no image was created");
    s.ok(&["rm", "plain"]);
}

#[test]
#[ignore = "measurement: prints how long diff and commit take for 1,000 new files"]
fn measure_commit() {
    let s = busybox();
    s.ok(&[
        "run",
        "--name",
        "many",
        "busybox",
        "sh",
        "-c",
        "mkdir /src && i=0; while [ $i -lt 1000 ]; do echo $i > /src/f$i; i=$((i+1)); done",
    ]);
    for _ in 0..3 {
        let t = std::time::Instant::now();
        s.ok(&["diff", "many"]);
        let d = t.elapsed();
        let t = std::time::Instant::now();
        s.ok(&["commit", "-q", "many", "many-img"]);
        eprintln!("diff {:?} commit {:?}", d, t.elapsed());
    }
    s.ok(&["rm", "many"]);
}
