//! systemd units per container (issue 17), the parts a host without a user
//! manager can check: the flags units use (`--replace`, `--cidfile`,
//! `--pidfile`, `--conmon-pidfile`, `rm`/`stop --ignore --cidfile`), the text
//! of `generate systemd`, the Quadlet-style generator and `auto-update
//! --dry-run`. Starting the units under a real systemd is the VM lane's
//! (tests/vm/systemd-checks.sh).

mod common;
mod registry_support;

use std::fs;

use common::*;
use registry_support::Registry;

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
    // The file goes with its container, as Podman's, so that a unit's next
    // `run --cidfile` can write it again.
    assert!(!cid.exists());
    // A file naming a container already gone (run with --rm): --ignore
    // makes both a no-op, and rm removes the file.
    s.write_file("web.ctr-id", id.trim().as_bytes());
    s.ok(&["stop", "--ignore", "--cidfile", &cid_s]);
    s.ok(&["rm", "-f", "--ignore", "--cidfile", &cid_s]);
    assert!(!cid.exists());
    // So does a file that was never written (a unit that never started).
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
fn sdnotify_healthy_needs_a_healthcheck() {
    let s = busybox();
    let e = s.fails_engine(&["create", "--sdnotify=healthy", "busybox"]);
    assert!(e.contains("--sdnotify=healthy needs a healthcheck"), "{e}");
    assert!(s.container_ids().is_empty());
    // With one, it is kept (READY=1 on the first passing check: the VM lane).
    s.ok(&[
        "create",
        "--name",
        "h",
        "--sdnotify=healthy",
        "--health-cmd",
        "true",
        "busybox",
    ]);
    assert_eq!(s.inspect_format("h", "{{.Config.sdNotifyMode}}"), "healthy");
    s.ok(&["rm", "h"]);
}

/// Runs `systemd-analyze verify` on unit files. It needs a manager it can
/// initialise, which it has offline as root (how `.ci/run` runs the suite,
/// with systemd installed by `.ci/setup`): anywhere else the check cannot
/// run, and the test fails saying why rather than passing unverified.
fn verify_units(paths: &[&std::path::Path]) {
    let probe = std::process::Command::new("systemd-analyze")
        .args(["verify", "/dev/null/none.service"])
        .output();
    match &probe {
        Err(e) => panic!("systemd-analyze cannot run ({e}): .ci/setup installs systemd"),
        Ok(o) => assert!(
            !String::from_utf8_lossy(&o.stderr).contains("Failed to initialize manager"),
            "systemd-analyze verify cannot initialise a manager here: run the suite as root (.ci/run does)"
        ),
    }
    let o = std::process::Command::new("systemd-analyze")
        // The man page is skiff's, not necessarily installed here.
        .args(["verify", "--man=no"])
        .args(paths)
        .output()
        .unwrap();
    assert!(
        o.status.success() && o.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn generate_systemd_new_reruns_the_create_command() {
    let s = busybox();
    s.ok(&[
        "create",
        "--name",
        "web",
        "-e",
        "A=1",
        "--restart",
        "on-failure:2",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
    ]);
    let text = s.ok(&[
        "generate",
        "systemd",
        "--new",
        "--name",
        "--no-header",
        "web",
    ]);
    assert!(
        text.starts_with("# container-web.service\n\n[Unit]\n"),
        "{text}"
    );
    assert!(text.contains("\nType=notify\nNotifyAccess=all\n"), "{text}");
    assert!(
        text.contains("\nEnvironment=PODMAN_SYSTEMD_UNIT=%n\n"),
        "{text}"
    );
    assert!(
        text.contains("\nRestart=on-failure\nStartLimitBurst=2\nTimeoutStopSec=70\n"),
        "{text}"
    );
    let start = text
        .split("ExecStart=")
        .nth(1)
        .and_then(|t| t.split("\nExecStop=").next())
        .unwrap();
    assert!(
        start.ends_with(" run \\\n\t--cidfile=%t/%n.ctr-id \\\n\t--rm \\\n\t--sdnotify=conmon \\\n\t-d \\\n\t--replace \\\n\t--name web \\\n\t-e A=1 busybox httpd \\\n\t-f \\\n\t-p 80"),
        "{start:?}"
    );
    assert!(
        text.contains(
            " stop \\\n\t--ignore \\\n\t-t 10 \\\n\t--cidfile=%t/%n.ctr-id\nExecStopPost="
        ),
        "{text}"
    );
    assert!(
        text.contains(" rm \\\n\t-f \\\n\t--ignore \\\n\t-t 10 \\\n\t--cidfile=%t/%n.ctr-id\n"),
        "{text}"
    );

    // --files: container-web.service in the working directory, its path printed.
    let out = s.ok(&[
        "generate", "systemd", "--new", "--name", "--files", "-t", "3", "web",
    ]);
    let path = s.home.join("container-web.service");
    assert_eq!(out.trim(), path.to_string_lossy());
    let file = fs::read_to_string(&path).unwrap();
    assert!(
        file.contains("\nTimeoutStopSec=63\n") && file.contains("# autogenerated by skiff "),
        "{file}"
    );
    verify_units(&[&path]);
    s.ok(&["rm", "web"]);
}

#[test]
fn generate_systemd_plain_and_pod_units() {
    let s = busybox();
    let id = s.ok(&["create", "--name", "db", "busybox", "sleep", "100"]);
    let id = id.trim();
    let text = s.ok(&[
        "generate",
        "systemd",
        "--restart-policy",
        "always",
        "--restart-sec",
        "5",
        "--start-timeout",
        "20",
        "--container-prefix",
        "ctr",
        "--separator",
        "_",
        "--after",
        "a.target",
        "--wants",
        "b.target",
        "--requires",
        "c.target",
        "-e",
        "K=v w",
        "db",
    ]);
    assert!(text.contains(&format!("# ctr_{id}.service\n")), "{text}");
    assert!(
        text.contains("\nExecStart=") && text.contains(&format!(" start {id}\n")),
        "{text}"
    );
    assert!(
        text.contains("\nType=forking\n") && text.contains("/conmon.pid\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "\n# User-defined dependencies\nWants=b.target\nAfter=a.target\nRequires=c.target\n"
        ),
        "{text}"
    );
    assert!(text.contains("\nEnvironment=\"K=v w\"\nRestart=always\nRestartSec=5\nTimeoutStartSec=20\nTimeoutStopSec=70\n"), "{text}");
    let json = s.ok(&["generate", "systemd", "--name", "--format", "json", "db"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(
        v["container-db"].as_str().unwrap().contains(" start db\n"),
        "{json}"
    );

    s.ok(&["pod", "create", "--name", "app"]);
    s.ok(&[
        "create", "--pod", "app", "--name", "app-web", "busybox", "sleep", "100",
    ]);
    s.make_dir(&s.home.join("units"));
    let args = [
        "generate",
        "systemd",
        "--name",
        "--files",
        "--pod-prefix",
        "pd",
        "app",
    ];
    let mut cmd = s.command(&args);
    cmd.current_dir(s.home.join("units"));
    let o = s.run_prepared(cmd, &args);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(o.stdout.lines().count(), 2, "{}", o.stdout);
    let pod = fs::read_to_string(s.home.join("units/pd-app.service")).unwrap();
    assert!(
        pod.contains("\nWants=container-app-web.service\nBefore=container-app-web.service\n"),
        "{pod}"
    );
    assert!(pod.contains(" pod start app\n"), "{pod}");
    let member = fs::read_to_string(s.home.join("units/container-app-web.service")).unwrap();
    assert!(
        member.contains("\nBindsTo=pd-app.service\nAfter=pd-app.service\n"),
        "{member}"
    );
    verify_units(&[
        &s.home.join("units/pd-app.service"),
        &s.home.join("units/container-app-web.service"),
    ]);
    s.ok(&["pod", "rm", "-f", "app"]);
    s.ok(&["rm", "db"]);
}

#[test]
fn generate_systemd_bad_input() {
    let s = busybox();
    let e = s.fails_engine(&["generate", "systemd", "nosuch-zz"]);
    assert!(
        e.contains("nosuch-zz does not refer to a container or pod"),
        "{e}"
    );
    s.ok(&["create", "--name", "x", "busybox"]);
    let e = s.fails_engine(&["generate", "systemd", "--restart-policy", "sometimes", "x"]);
    assert!(e.contains("sometimes is not a valid restart policy"), "{e}");
    s.ok(&["pod", "create", "--infra=false", "--name", "p"]);
    let e = s.fails_engine(&["generate", "systemd", "--new", "p"]);
    assert!(e.contains("Pod \"p\" has no infra container"), "{e}");
    s.ok(&["pod", "rm", "-f", "p"]);
    s.ok(&["rm", "x"]);
}

/// Writes unit descriptions into the user's Quadlet directory.
fn descriptions(s: &Skiff, files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = s.make_dir(&s.config_home.join("containers/systemd"));
    for (name, text) in files {
        fs::write(dir.join(name), text).unwrap();
        s.give(&dir.join(name));
    }
    dir
}

const WEB: &str = "[Unit]\nDescription=web server\n\n[Container]\nImage=localhost/busybox\nExec=httpd -f -p 80 -h /www\nPublishPort=8080:80\nVolume=data.volume:/data\nNetwork=appnet.network\nAutoUpdate=registry\nPodmanArgs=--read-only\n\n[Service]\nRestart=on-failure\n\n[Install]\nWantedBy=default.target\n";

#[test]
fn generator_writes_services_and_install_links() {
    let s = Skiff::new();
    let dir = descriptions(
        &s,
        &[
            ("web.container", WEB),
            ("data.volume", "[Volume]\nLabel=k=v\n"),
            ("appnet.network", "[Network]\nNetworkName=appnet\n"),
            ("app.pod", "[Pod]\nPublishPort=9090:90\n"),
        ],
    );
    let out = s.make_dir(&s.home.join("gen"));
    let out_s = out.to_string_lossy().into_owned();
    s.ok(&["systemd-generator", "--user", &out_s, &out_s, &out_s]);
    let web = fs::read_to_string(out.join("web.service")).unwrap();
    assert!(
        web.contains(&format!("\nSourcePath={}/web.container\n", dir.display())),
        "{web}"
    );
    assert!(
        web.contains("\nRequires=data-volume.service appnet-network.service\n"),
        "{web}"
    );
    assert!(web.contains("\nType=notify\nNotifyAccess=all\n"), "{web}");
    let start = web.lines().find(|l| l.starts_with("ExecStart=")).unwrap();
    assert!(
        start.ends_with(" run --name systemd-%N --cidfile=%t/%N.cid --replace --rm --sdnotify=conmon -d --publish 8080:80 --volume systemd-data:/data --network appnet --label io.containers.autoupdate=registry --read-only localhost/busybox httpd -f -p 80 -h /www"),
        "{start}"
    );
    let link = out.join("default.target.wants/web.service");
    assert_eq!(
        fs::read_link(&link).unwrap().to_string_lossy(),
        "../web.service"
    );
    let vol = fs::read_to_string(out.join("data-volume.service")).unwrap();
    assert!(
        vol.contains(" volume create --ignore --label k=v systemd-data\n"),
        "{vol}"
    );
    assert!(out.join("appnet-network.service").exists());
    let pod = fs::read_to_string(out.join("app-pod.service")).unwrap();
    assert!(
        pod.contains(" pod create --name systemd-app --publish 9090:90\n"),
        "{pod}"
    );
    let paths: Vec<std::path::PathBuf> = ["web", "data-volume", "appnet-network", "app-pod"]
        .iter()
        .map(|n| out.join(format!("{n}.service")))
        .collect();
    let files: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    verify_units(&files);

    // --dryrun prints the same units and writes nothing.
    let printed = s.ok(&["systemd-generator", "--user", "--dryrun"]);
    assert!(printed.contains("---web.service---\n"), "{printed}");
    assert!(printed.contains(&web), "{printed}");
}

#[test]
fn generator_reports_bad_descriptions_and_writes_the_rest() {
    let s = Skiff::new();
    descriptions(
        &s,
        &[
            ("bad.container", "[Container]\nImage=x\nFrobnicate=yes\n"),
            ("noimage.container", "[Container]\nExec=true\n"),
            ("good.container", "[Container]\nImage=localhost/busybox\n"),
        ],
    );
    let out = s.make_dir(&s.home.join("gen"));
    let out_s = out.to_string_lossy().into_owned();
    let o = s.cmd(&["systemd-generator", "--user", &out_s]);
    assert_eq!(o.code, 125, "{}", o.describe());
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", o.stderr);
    assert!(
        lines[0].contains(
            "converting \"bad.container\": unsupported key 'Frobnicate' in group 'Container'"
        ),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("converting \"noimage.container\": no Image key specified"),
        "{}",
        lines[1]
    );
    let mut written: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written, ["good.service"], "no half-written or temp files");
}

#[test]
fn auto_update_dry_run_lists_labelled_unit_containers() {
    let s = busybox();
    let unit = [("PODMAN_SYSTEMD_UNIT", "container-web.service")];
    let o = s.cmd_env(
        &[
            "create",
            "--name",
            "web",
            "--label",
            "io.containers.autoupdate=local",
            "busybox",
        ],
        &unit,
    );
    assert_eq!(o.code, 0, "{}", o.describe());
    let id = o.stdout.trim()[..12].to_string();
    // Not made by a unit, or not labelled: not listed.
    s.ok(&[
        "create",
        "--name",
        "manual",
        "--label",
        "io.containers.autoupdate=local",
        "busybox",
    ]);
    let o = s.cmd_env(&["create", "--name", "plain", "busybox"], &unit);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(
        s.inspect_format("web", "{{index .Config.Labels \"PODMAN_SYSTEMD_UNIT\"}}"),
        "container-web.service"
    );
    let table = s.ok(&["auto-update", "--dry-run"]);
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        ["UNIT", "CONTAINER", "IMAGE", "POLICY", "UPDATED"],
        "{table}"
    );
    assert_eq!(lines.len(), 2, "{table}");
    let web = format!("({})", "web");
    assert_eq!(
        lines[1],
        [
            "container-web.service",
            id.as_str(),
            web.as_str(),
            // The name the container was made from (Podman's raw image name).
            "busybox",
            "local",
            "false"
        ],
        "{table}"
    );
    // A newer local image of the name: pending.
    s.import_with("localhost/busybox:latest", |t| {
        t.file("new", b"1", 0o644, 0, 0);
    });
    let out = s.ok(&[
        "auto-update",
        "--dry-run",
        "--format",
        "{{.Unit}} {{.ContainerName}} {{.Updated}}",
    ]);
    assert_eq!(out, "container-web.service web pending\n");
    let e = s.fails_engine(&["auto-update", "--dry-run", "--format", "{{.Nope}}"]);
    assert!(e.contains("Nope"), "{e}");
    s.ok(&["rm", "web", "manual", "plain"]);
}

#[test]
fn auto_update_asks_the_registry_for_the_name_the_container_was_made_from() {
    let reg = Registry::start();
    let s = busybox();
    let app = reg.name("app:latest");
    // Pushed and pulled back, the fixture is one image with two names, the
    // local one first: the registry's name is what the container asked for.
    s.ok(&["push", "-q", BUSYBOX, &app]);
    s.ok(&["pull", "-q", &app]);
    let unit = [("PODMAN_SYSTEMD_UNIT", "container-app.service")];
    for (name, image) in [("app", app.as_str()), ("short", "busybox")] {
        let label = "io.containers.autoupdate=registry";
        let args = ["create", "--name", name, "--label", label, image];
        let o = s.cmd_env(&args, &unit);
        assert_eq!(o.code, 0, "{}", o.describe());
    }
    let format = ["--format", "{{.ContainerName}} {{.Image}} {{.Updated}}"];
    let dry = |s: &Skiff| s.cmd(&[&["auto-update", "--dry-run"][..], &format[..]].concat());
    let o = dry(&s);
    // A short name has no registry to ask (Podman's error): that container
    // fails, the other is still checked.
    assert_eq!(o.code, 125, "{}", o.describe());
    assert_eq!(
        o.stdout,
        format!("app {app} false\nshort busybox failed\n"),
        "{}",
        o.describe()
    );
    assert!(
        o.stderr
            .contains("auto-updates require fully-qualified image reference: \"busybox\""),
        "{}",
        o.describe()
    );
    s.ok(&["rm", "short"]);
    // A new image under that name in the registry: pending, and a dry run
    // pulls nothing.
    s.import_with("localhost/app-v2:latest", |t| {
        t.file("v2", b"2", 0o644, 0, 0);
    });
    s.ok(&["push", "-q", "localhost/app-v2:latest", &app]);
    s.ok(&["rmi", "localhost/app-v2:latest"]);
    let before = s.ok(&["image", "inspect", "--format", "{{.Id}}", &app]);
    let o = dry(&s);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(o.stdout, format!("app {app} pending\n"));
    assert_eq!(
        s.ok(&["image", "inspect", "--format", "{{.Id}}", &app]),
        before
    );
    s.ok(&["rm", "app"]);
}

#[test]
fn pod_id_file_and_infra_conmon_pidfile_name_the_pod_and_its_supervisor() {
    let s = busybox();
    let dir = s.make_dir(&s.home.join("files"));
    let idfile = dir.join("app.pod-id");
    let pidfile = dir.join("app.pid");
    let (idf, pidf) = (idfile.to_str().unwrap(), pidfile.to_str().unwrap());
    let e = s.fails_engine(&["pod", "create", "--replace"]);
    assert!(
        e.contains("cannot replace pod without --name being set"),
        "{e}"
    );
    let e = s.fails_engine(&[
        "pod",
        "create",
        "--infra=false",
        "--infra-conmon-pidfile",
        pidf,
    ]);
    assert!(
        e.contains("cannot set infra-conmon-pid without an infra container"),
        "{e}"
    );
    assert!(!pidfile.exists());
    let create = [
        "pod",
        "create",
        "--name",
        "app",
        "--pod-id-file",
        idf,
        "--infra-conmon-pidfile",
        pidf,
    ];
    let first = s.ok(&create);
    assert_eq!(fs::read_to_string(&idfile).unwrap(), first.trim());
    // Podman keeps the command line (generate systemd --new runs it again).
    let cmd = s.ok(&[
        "pod",
        "inspect",
        "--format",
        "{{json .CreateCommand}}",
        "app",
    ]);
    assert!(cmd.trim().ends_with(&format!(r#""pod","create","--name","app","--pod-id-file","{idf}","--infra-conmon-pidfile","{pidf}"]"#)), "{cmd}");
    // --replace: the pod of that name goes, the file names the new one.
    let mut replace = create.to_vec();
    replace.push("--replace");
    let id = s.ok(&replace);
    let id = id.trim();
    assert_ne!(id, first.trim());
    assert_eq!(fs::read_to_string(&idfile).unwrap(), id);
    assert_eq!(s.ok(&["pod", "ps", "-q", "--no-trunc"]).trim(), id);

    s.ok(&["pod", "start", "--pod-id-file", idf]);
    let infra = s.ok(&["pod", "inspect", "--format", "{{.InfraContainerID}}", "app"]);
    let supervisor = s.inspect_format(infra.trim(), "{{.State.ConmonPid}}");
    assert_eq!(fs::read_to_string(&pidfile).unwrap().trim(), supervisor);
    assert!(std::path::Path::new(&format!("/proc/{supervisor}")).exists());
    let e = s.fails_engine(&[
        "run",
        "--pod",
        "app",
        "--pod-id-file",
        idf,
        "busybox",
        "true",
    ]);
    assert!(e.contains("--pod-id-file") && e.contains("--pod"), "{e}");
    s.ok(&[
        "run",
        "-d",
        "--pod-id-file",
        idf,
        "--name",
        "web",
        "busybox",
        "sleep",
        "100",
    ]);
    assert_eq!(s.inspect_format("web", "{{.Pod}}"), id);

    s.ok(&["pod", "stop", "--ignore", "-t", "0", "--pod-id-file", idf]);
    assert_eq!(s.inspect_format("web", "{{.State.Status}}"), "exited");
    s.ok(&["pod", "rm", "--ignore", "-f", "--pod-id-file", idf]);
    assert!(s.container_ids().is_empty());
    assert_eq!(s.ok(&["pod", "ps", "-q"]), "");
    // The pod is gone: --ignore makes stop and rm no-ops, and a file that
    // was never written (a unit that never started) names nothing.
    s.ok(&["pod", "stop", "--ignore", "--pod-id-file", idf]);
    s.ok(&["pod", "rm", "--ignore", "-f", "--pod-id-file", idf]);
    let missing = dir.join("never.pod-id");
    let missing = missing.to_str().unwrap();
    s.ok(&["pod", "stop", "--ignore", "--pod-id-file", missing]);
    s.ok(&["pod", "rm", "--ignore", "--pod-id-file", missing]);
    let e = s.fails_engine(&["pod", "start", "--pod-id-file", missing]);
    assert!(e.contains("reading pod ID file"), "{e}");
}

#[test]
fn generate_systemd_new_pod_units_create_the_pod_by_its_id_file() {
    let s = busybox();
    s.ok(&["pod", "create", "--name", "app", "--hostname", "h"]);
    s.ok(&[
        "create", "--pod", "app", "--name", "app-web", "busybox", "sleep", "100",
    ]);
    s.make_dir(&s.home.join("units"));
    let args = [
        "generate", "systemd", "--new", "--name", "--files", "-t", "3", "app",
    ];
    let mut cmd = s.command(&args);
    cmd.current_dir(s.home.join("units"));
    let o = s.run_prepared(cmd, &args);
    assert_eq!(o.code, 0, "{}", o.describe());
    let pod = fs::read_to_string(s.home.join("units/pod-app.service")).unwrap();
    // Podman's --new pod unit: the pod is created (and replaced) by the
    // unit, found again by its id file, and the infra supervisor's pid
    // file is the unit's main pid.
    for part in [
        "\nWants=container-app-web.service\nBefore=container-app-web.service\n",
        "\nExecStartPre=/bin/rm \\\n\t-f %t/pod-app.pid %t/pod-app.pod-id\n",
        " pod create \\\n\t--infra-conmon-pidfile %t/pod-app.pid \\\n\t--pod-id-file %t/pod-app.pod-id \\\n\t--exit-policy=stop \\\n\t--name app \\\n\t--hostname h \\\n\t--replace\n",
        " pod start \\\n\t--pod-id-file %t/pod-app.pod-id\n",
        " pod stop \\\n\t--ignore \\\n\t--pod-id-file %t/pod-app.pod-id \\\n\t-t 3\n",
        " pod rm \\\n\t--ignore \\\n\t-f \\\n\t--pod-id-file %t/pod-app.pod-id\n",
        "\nPIDFile=%t/pod-app.pid\nType=forking\n",
    ] {
        assert!(pod.contains(part), "no {part:?} in:\n{pod}");
    }
    let member = fs::read_to_string(s.home.join("units/container-app-web.service")).unwrap();
    assert!(
        member.contains(" run \\\n\t--cidfile=%t/%n.ctr-id \\\n\t--rm \\\n\t--pod-id-file %t/pod-app.pod-id \\\n\t--sdnotify=conmon \\\n\t-d \\\n\t--replace \\\n\t--name app-web busybox sleep 100\n"),
        "{member}"
    );
    assert!(!member.contains("--pod app"), "{member}");
    assert!(
        member.contains("\nBindsTo=pod-app.service\nAfter=pod-app.service\n"),
        "{member}"
    );
    verify_units(&[
        &s.home.join("units/pod-app.service"),
        &s.home.join("units/container-app-web.service"),
    ]);
    s.ok(&["pod", "rm", "-f", "app"]);
}
