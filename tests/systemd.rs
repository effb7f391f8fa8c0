//! systemd units per container (issue 17), the parts a host without a user
//! manager can check: the flags units use (`--replace`, `--cidfile`,
//! `--pidfile`, `--conmon-pidfile`, `rm`/`stop --ignore --cidfile`), the text
//! of `generate systemd`, the Quadlet-style generator and `auto-update
//! --dry-run`. Starting the units under a real systemd is the VM lane's
//! (tests/vm/systemd-checks.sh).

mod common;

use std::fs;

use common::*;

#[test]
fn replace_removes_the_container_of_that_name_first() {
    let s = busybox();
    let first = s.ok(&["run", "-d", "--name", "web", "busybox", "sleep", "100"]);
    let second = s.ok(&[
        "run",
        "-d",
        "--replace",
        "--name",
        "web",
        "busybox",
        "sleep",
        "100",
    ]);
    assert_ne!(first.trim(), second.trim());
    assert_eq!(s.container_ids(), vec![second.trim()[..12].to_string()]);
    assert_eq!(s.inspect_format("web", "{{.State.Status}}"), "running");
    // The command line is kept, as Podman's .Config.CreateCommand.
    let cmd = s.inspect_format("web", "{{json .Config.CreateCommand}}");
    assert!(
        cmd.ends_with(r#""run","-d","--replace","--name","web","busybox","sleep","100"]"#),
        "{cmd}"
    );
    // Without a container of that name, --replace just creates.
    s.ok(&["create", "--replace", "--name", "other", "busybox"]);
    let e = s.fails_engine(&["create", "--replace", "busybox"]);
    assert!(e.contains("cannot replace container without --name"), "{e}");
    s.ok(&["rm", "-f", "-t", "0", "web", "other"]);
}

#[test]
fn cidfile_is_written_once_and_read_by_stop_and_rm() {
    let s = busybox();
    let cid = s.home.join("files").join("web.ctr-id");
    s.make_dir(cid.parent().unwrap());
    let cid_s = cid.to_string_lossy().into_owned();
    let id = s.ok(&[
        "run",
        "-d",
        "--cidfile",
        &cid_s,
        "--name",
        "web",
        "busybox",
        "sleep",
        "100",
    ]);
    assert_eq!(fs::read_to_string(&cid).unwrap(), id.trim());
    // An existing file is refused before anything is created (Podman's error).
    let e = s.fails_engine(&["create", "--cidfile", &cid_s, "busybox"]);
    assert!(e.contains("container id file exists"), "{e}");
    assert_eq!(s.container_ids().len(), 1);

    s.ok(&["stop", "-t", "0", "--cidfile", &cid_s]);
    assert_eq!(s.inspect_format("web", "{{.State.Status}}"), "exited");
    s.ok(&["rm", "--cidfile", &cid_s]);
    assert!(s.container_ids().is_empty());
    // The container is gone, the file is not: --ignore makes both a no-op,
    // and so does a file that was never written (a unit that never started).
    s.ok(&["stop", "--ignore", "--cidfile", &cid_s]);
    s.ok(&["rm", "-f", "--ignore", "--cidfile", &cid_s]);
    fs::remove_file(&cid).unwrap();
    s.ok(&["stop", "--ignore", "--cidfile", &cid_s]);
    s.ok(&["rm", "-f", "--ignore", "-t", "10", "--cidfile", &cid_s]);
    let e = s.fails_engine(&["rm", "--cidfile", &cid_s]);
    assert!(
        e.contains("reading CIDFile") && e.contains("web.ctr-id"),
        "{e}"
    );
    let e = s.fails_engine(&["stop", "--cidfile", &cid_s]);
    assert!(e.contains("reading CIDFile"), "{e}");
}

#[test]
fn pidfile_and_conmon_pidfile_name_the_container_and_its_supervisor() {
    let s = busybox();
    let dir = s.make_dir(&s.home.join("files"));
    let pidfile = dir.join("ctr.pid").to_string_lossy().into_owned();
    let conmon = dir.join("conmon.pid").to_string_lossy().into_owned();
    s.ok(&[
        "run",
        "-d",
        "--name",
        "p",
        "--pidfile",
        &pidfile,
        "--conmon-pidfile",
        &conmon,
        "busybox",
        "sleep",
        "100",
    ]);
    assert_eq!(
        fs::read_to_string(&pidfile).unwrap(),
        s.inspect_format("p", "{{.State.Pid}}")
    );
    assert_eq!(
        fs::read_to_string(&conmon).unwrap(),
        s.inspect_format("p", "{{.State.ConmonPid}}")
    );
    s.ok(&["rm", "-f", "-t", "0", "p"]);
}

#[test]
fn sdnotify_healthy_is_refused_until_healthchecks_exist() {
    let s = busybox();
    let e = s.fails_engine(&["create", "--sdnotify=healthy", "busybox"]);
    assert!(e.contains("healthcheck"), "{e}");
    assert!(s.container_ids().is_empty());
}
