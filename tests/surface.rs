//! Podman's surface as scripts see it (issue 14, part 2; exit codes of
//! issue 15): exit codes from Podman's man pages (EXIT STATUS), error text
//! that scripts grep, output shapes they parse, and behaviour they rely on.
//! The expected texts are Podman's, written here.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;

use common::*;

/// A container that runs until killed and ignores SIGTERM.
const STUBBORN: &str = "trap '' TERM; while true; do sleep 0.2; done";

#[test]
fn rm_commands_exit_as_podman_man_pages_say() {
    let s = busybox();
    // podman-rm(1): 1 a container did not exist, 2 one is running; -f
    // passes over missing ones.
    let e = s.fails(&["rm", "nosuch-zz"], 1);
    assert_eq!(
        e.trim(),
        "Error: no container with name or ID \"nosuch-zz\" found: no such container"
    );
    assert_eq!(s.ok(&["rm", "-f", "nosuch-zz"]), "");
    let id = s.ok(&["run", "-d", "busybox", "sleep", "1000"]);
    let id = id.trim();
    let e = s.fails(&["rm", id], 2);
    assert_eq!(
        e.trim(),
        format!("Error: cannot remove container {id} as it is running - running or paused containers cannot be removed without force: container state improper")
    );
    // A missing one among others keeps exit 1 (Podman's rm.go).
    s.fails(&["rm", "nosuch-zz", id], 1);
    s.ok(&["rm", "-f", id]);
    // podman-rmi(1), podman-network-rm(1), podman-volume-rm(1), podman-pod-rm(1).
    let e = s.fails(&["rmi", "nosuch-zz:1"], 1);
    assert_eq!(e.trim(), "Error: nosuch-zz:1: image not known");
    assert_eq!(s.ok(&["rmi", "-f", "nosuch-zz:1"]), "");
    s.fails(&["network", "rm", "nosuch-zz"], 1);
    assert_eq!(s.ok(&["network", "rm", "-f", "nosuch-zz"]), "");
    s.fails(&["volume", "rm", "nosuch-zz"], 1);
    assert_eq!(s.ok(&["volume", "rm", "-f", "nosuch-zz"]), "");
    s.fails(&["pod", "rm", "nosuch-zz"], 1);
    assert_eq!(s.ok(&["pod", "rm", "-f", "nosuch-zz"]), "");
    // In use: exit 2.
    s.ok(&["volume", "create", "vol-zz"]);
    s.ok(&[
        "create",
        "--name",
        "user-zz",
        "-v",
        "vol-zz:/data",
        "busybox",
    ]);
    s.fails(&["volume", "rm", "vol-zz"], 2);
    s.ok(&["network", "create", "net-zz"]);
    s.ok(&[
        "create",
        "--name",
        "netuser-zz",
        "--network",
        "net-zz",
        "busybox",
    ]);
    s.fails(&["network", "rm", "net-zz"], 2);
}

#[test]
fn inspect_of_a_missing_object_prints_an_empty_array() {
    let s = busybox();
    let o = s.cmd(&["inspect", "nosuch-zz"]);
    assert_eq!(o.code, 125, "{}", o.describe());
    assert_eq!(o.stdout, "[]\n");
    assert_eq!(o.stderr.trim(), "Error: no such object: \"nosuch-zz\"");
    // What is found is still printed.
    let o = s.cmd(&["inspect", "--format", "{{.Id}}", "busybox", "nosuch-zz"]);
    assert_eq!(o.code, 125, "{}", o.describe());
    assert_eq!(o.stdout.lines().count(), 1, "{}", o.describe());
    // By kind: Podman's words for each kind's missing object.
    for (args, err) in [
        (
            &["container", "inspect", "nosuch-zz"][..],
            "Error: no such container nosuch-zz",
        ),
        (
            &["inspect", "--type", "container", "nosuch-zz"],
            "Error: no such container nosuch-zz",
        ),
        (
            &["network", "inspect", "nosuch-zz"],
            "Error: network nosuch-zz: unable to find network with name or ID nosuch-zz: network not found",
        ),
        (
            &["inspect", "--type", "network", "nosuch-zz"],
            "Error: network nosuch-zz: unable to find network with name or ID nosuch-zz: network not found",
        ),
    ] {
        let o = s.cmd(args);
        assert_eq!(
            (o.code, o.stdout.as_str(), o.stderr.trim()),
            (125, "[]\n", err),
            "{args:?}"
        );
    }
}

#[test]
fn a_missing_argument_is_named_in_cobra_words() {
    let s = Skiff::new();
    assert_eq!(
        s.fails_engine(&["tag"]),
        "Error: requires at least 2 arg(s), only received 0"
    );
    assert_eq!(
        s.fails_engine(&["tag", "busybox"]),
        "Error: requires at least 2 arg(s), only received 1"
    );
    assert_eq!(
        s.fails_engine(&["volume", "inspect"]),
        "Error: requires at least 1 arg(s), only received 0"
    );
    assert_eq!(
        s.fails_engine(&["rename", "a"]),
        "Error: accepts 2 arg(s), received 1"
    );
    assert_eq!(
        s.fails_engine(&["rm"]),
        "Error: you must provide at least one name or id"
    );
}

#[test]
fn exec_errors_and_exit_codes_are_podmans() {
    let s = busybox();
    s.ok(&["run", "-d", "--name", "ex-zz", "busybox", "sleep", "1000"]);
    assert_eq!(
        s.fails_engine(&["exec", "ex-zz"]),
        "Error: must provide a non-empty command to start an exec session"
    );
    // podman-exec(1): 125 when detached, 127 not found, 126 not executable.
    s.fails(&["exec", "-d", "ex-zz", "nosuchcmd"], 125);
    s.fails(&["exec", "ex-zz", "nosuchcmd"], 127);
    s.fails(&["exec", "ex-zz", "/etc"], 126);
    s.ok(&["rm", "-f", "ex-zz"]);
}

#[test]
fn a_published_port_in_use_is_exit_126() {
    let s = busybox();
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let publish = format!("127.0.0.1:{port}:80");
    let e = s.fails(&["run", "--rm", "-p", &publish, "busybox", "true"], 126);
    assert!(e.contains("already in use"), "{e}");
}

#[test]
fn stop_that_kills_says_so_as_podman() {
    let s = busybox();
    s.ok(&[
        "run", "-d", "--name", "stub-zz", "busybox", "sh", "-c", STUBBORN,
    ]);
    let o = s.cmd(&["stop", "-t", "1", "stub-zz"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(
        warnings(&o),
        ["StopSignal SIGTERM failed to stop container stub-zz in 1 seconds, resorting to SIGKILL"],
        "{}",
        o.describe()
    );
    s.ok(&["rm", "-f", "stub-zz"]);
    // With no time to wait Podman kills at once and says nothing.
    s.ok(&[
        "run", "-d", "--name", "stub-t0", "busybox", "sh", "-c", STUBBORN,
    ]);
    let o = s.cmd(&["stop", "-t", "0", "stub-t0"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(o.stderr, "", "{}", o.describe());
    assert_eq!(s.inspect_format("stub-t0", "{{.State.ExitCode}}"), "137");
    s.ok(&["rm", "-f", "-t", "0", "stub-t0"]);
}

#[test]
fn load_of_no_archive_says_payload_does_not_match() {
    let s = Skiff::new();
    let f = s.write_file("notes.txt", b"these are not an image\n");
    let e = s.fails_engine(&["load", "-i", f.to_str().unwrap()]);
    assert!(
        e.starts_with("Error: payload does not match any of the supported image formats"),
        "{e}"
    );
    // A text longer than a tar header: one line naming it, none of its text.
    let text = "root:x:0:0:root:/root:/bin/sh\n".repeat(40);
    let f = s.write_file("passwd", text.as_bytes());
    let f = f.to_str().unwrap();
    assert_eq!(
        s.fails_engine(&["load", "-i", f]),
        format!("Error: payload does not match any of the supported image formats (oci-archive, docker-archive, oci-dir, docker-dir): {f}: not a tar archive")
    );
}

#[test]
fn save_by_id_records_no_name_and_load_fetches_urls() {
    let s = busybox();
    let id = s.inspect_format("busybox", "{{.Id}}");
    let archive = s.home.join("by-id.tar");
    s.ok(&["save", "-o", archive.to_str().unwrap(), &id[..12]]);
    s.ok(&["rmi", "busybox"]);
    // Served over http from 127.0.0.1, as `load -i http://...` fetches it.
    let data = std::fs::read(&archive).unwrap();
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let serve = std::thread::spawn(move || {
        let (mut conn, _) = server.accept().unwrap();
        let mut req = [0u8; 4096];
        let _ = conn.read(&mut req);
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            data.len()
        );
        conn.write_all(head.as_bytes()).unwrap();
        conn.write_all(&data).unwrap();
    });
    let url = format!("http://127.0.0.1:{port}/by-id.tar");
    let out = s.ok(&["load", "-i", &url]);
    serve.join().unwrap();
    assert_eq!(out.trim(), format!("Loaded image: sha256:{id}"));
    let images = s.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(images.trim(), "<none>:<none>");
}

#[test]
fn a_bridge_network_named_podman_exists() {
    let s = busybox();
    let ls = s.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert_eq!(ls.trim(), "podman");
    s.ok(&["run", "--rm", "--network", "podman", "busybox", "true"]);
    assert_eq!(s.ok(&["network", "create"]).trim(), "podman1");
}

#[test]
fn inspect_shows_the_fields_scripts_read() {
    let s = busybox();
    s.ok(&["tag", "busybox", "quay.io/zz/bb:1"]);
    s.ok(&[
        "create",
        "--name",
        "shape-zz",
        "-p",
        "8080:80",
        "-p",
        "127.0.0.1:9000:90/udp",
        "bb:1",
    ]);
    let id = s.inspect_format("shape-zz", "{{.Id}}");
    assert_eq!(s.inspect_format("shape-zz", "{{.ID}}"), id);
    let img = s.inspect_format("busybox", "{{.Id}}");
    assert_eq!(s.inspect_format("busybox", "{{.ID}}"), img);
    assert_eq!(s.inspect_format("shape-zz", "{{.ImageName}}"), "bb:1");
    assert_eq!(
        s.inspect_format("shape-zz", "{{json .HostConfig.PortBindings}}"),
        r#"{"80/tcp":[{"HostIp":"","HostPort":"8080"}],"90/udp":[{"HostIp":"127.0.0.1","HostPort":"9000"}]}"#
    );
    let names = s.inspect_format("shape-zz", "{{range .HostConfig.Ulimits}}{{.Name}} {{end}}");
    assert_eq!(names, "RLIMIT_NOFILE RLIMIT_NPROC");
    assert_eq!(
        s.inspect_format("shape-zz", "{{.State.StoppedByUser}}"),
        "false"
    );
    s.ok(&["rm", "shape-zz"]);
    // A stop by the user, then its own exit.
    s.ok(&[
        "run",
        "-d",
        "--name",
        "stopped-zz",
        "busybox",
        "sleep",
        "1000",
    ]);
    s.ok(&["stop", "-t", "0", "stopped-zz"]);
    assert_eq!(
        s.inspect_format("stopped-zz", "{{.State.StoppedByUser}}"),
        "true"
    );
    s.ok(&["rm", "-f", "stopped-zz"]);
    s.ok(&["run", "--name", "self-zz", "busybox", "true"]);
    assert_eq!(
        s.inspect_format("self-zz", "{{.State.StoppedByUser}}"),
        "false"
    );
    // A created container on a network shows it; the network's containers
    // are a map, empty when none runs.
    s.ok(&["network", "create", "shape-net"]);
    s.ok(&[
        "create",
        "--name",
        "net-zz",
        "--network",
        "shape-net",
        "busybox",
    ]);
    assert_eq!(
        s.inspect_format(
            "net-zz",
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}"
        ),
        "shape-net"
    );
    assert_eq!(
        s.ok(&[
            "network",
            "inspect",
            "--format",
            "{{json .Containers}} {{.Name}}",
            "shape-net"
        ])
        .trim(),
        "{} shape-net"
    );
}

#[test]
fn ps_prints_full_ids_and_labels_by_key() {
    let s = busybox();
    let id = s.ok(&[
        "create", "--name", "lab-zz", "--label", "app=web", "busybox",
    ]);
    let out = s.ok(&[
        "ps",
        "-a",
        "--no-trunc",
        "--format",
        r#"{{.ID}} {{ .Label "app" }}|{{.Label "nope"}}|"#,
    ]);
    assert_eq!(out, format!("{} web||\n", id.trim()));
    let out = s.ok(&["ps", "-a", "--format", "{{.ID}}"]);
    assert_eq!(out.trim(), &id.trim()[..12]);
}

#[test]
fn containers_see_containerenv_and_host_network_names_the_host() {
    let s = busybox();
    // Podman's file: empty, with the details when privileged.
    assert_eq!(s.sh(&[], "wc -c < /run/.containerenv").trim(), "0");
    let env = s.sh(
        &["--privileged", "--name", "env-zz"],
        "cat /run/.containerenv",
    );
    let id_line = env
        .lines()
        .find(|l| l.starts_with("id="))
        .unwrap_or_default();
    assert_eq!(id_line.len(), "id=\"\"".len() + 64, "{env}");
    for want in [
        "engine=\"skiff-",
        "name=\"env-zz\"",
        "image=\"localhost/busybox:latest\"",
        "imageid=\"",
        "rootless=1",
    ] {
        assert!(env.contains(want), "{want} in {env}");
    }
    let hosts = s.sh(&["--network", "host"], "cat /etc/hosts");
    assert!(
        hosts.contains("127.0.0.1\thost.containers.internal host.docker.internal\n"),
        "{hosts}"
    );
}

#[test]
fn ports_with_a_shared_network_are_dropped_with_podmans_warning() {
    let s = busybox();
    for net in ["host", "none"] {
        let o = s.cmd(&[
            "run",
            "--rm",
            "--network",
            net,
            "-p",
            "8081:80",
            "busybox",
            "echo",
            "ok",
        ]);
        assert_eq!(o.code, 0, "{}", o.describe());
        assert_eq!(o.stdout, "ok\n");
        // Podman's warning, in its one form: `WARN[NNNN] message`.
        assert_eq!(
            warnings(&o),
            ["Port mappings have been discarded as one of the Host, Container, Pod, and None network modes are in use"],
            "{}",
            o.describe()
        );
    }
}

#[test]
fn rm_of_a_container_another_joins_is_refused_without_depend() {
    let s = busybox();
    let prov = s.ok(&["create", "--name", "prov-zz", "busybox"]);
    let dep = s.ok(&[
        "create",
        "--name",
        "dep-zz",
        "--network",
        "container:prov-zz",
        "busybox",
    ]);
    let ipc = s.ok(&["create", "--ipc", "container:prov-zz", "busybox"]);
    let refusal = format!(
        "Error: container {} has dependent containers which must be removed before it: {}, {}: container already exists",
        prov.trim(),
        dep.trim(),
        ipc.trim()
    );
    // Podman's libpod checks dependents whatever --force says: only
    // --depend and --all remove them first.
    assert_eq!(s.fails_engine(&["rm", "prov-zz"]), refusal);
    assert_eq!(s.fails_engine(&["rm", "-f", "prov-zz"]), refusal);
    assert_eq!(s.ok(&["ps", "-aq"]).lines().count(), 3);
    // --all removes the joining ones first.
    s.ok(&["rm", "--all"]);
    assert!(s.container_ids().is_empty());
    // A running one without force is refused as running first (exit 2),
    // as Podman checks its state before its dependents; with force, the
    // dependents refuse it and it keeps running.
    let prov = s.ok(&["run", "-d", "--name", "prov-zz", "busybox", "sleep", "300"]);
    let dep = s.ok(&[
        "run",
        "-d",
        "--name",
        "dep-zz",
        "--network",
        "container:prov-zz",
        "busybox",
        "sleep",
        "300",
    ]);
    let e = s.fails(&["rm", "prov-zz"], 2);
    assert!(e.contains("as it is running"), "{e}");
    assert_eq!(
        s.fails_engine(&["rm", "-f", "-t", "0", "prov-zz"]),
        format!(
            "Error: container {} has dependent containers which must be removed before it: {}: container already exists",
            prov.trim(),
            dep.trim()
        )
    );
    assert_eq!(s.inspect_format("prov-zz", "{{.State.Status}}"), "running");
    s.ok(&["rm", "-af", "-t", "0"]);
    assert!(s.container_ids().is_empty());
}

#[test]
fn history_json_and_times_are_podmans() {
    let s = busybox();
    let id = s.inspect_format("busybox", "{{.Id}}");
    let out = s.ok(&["history", "--format", "json", "busybox"]);
    assert_eq!(
        out.lines().count(),
        1,
        "one line, as Podman encodes it: {out}"
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let layer = &v[0];
    assert_eq!(layer["id"], id.as_str(), "{out}");
    let created = layer["created"].as_str().unwrap();
    let secs = layer["Created"].as_str().unwrap();
    assert!(created.ends_with('Z') && secs.ends_with('Z'), "{out}");
    assert_eq!(secs.len(), "2026-12-01T04:02:58Z".len(), "{out}");
    assert!(created.starts_with(&secs[..19]), "{out}");
    let t = s.ok(&["history", "--format", "{{.CreatedAt}}", "busybox"]);
    assert_eq!(t.trim(), secs);
    s.ok(&["pod", "create", "--name", "when-zz"]);
    let pods = s.ok(&["pod", "ps", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&pods).unwrap();
    assert!(v[0]["Created"].as_str().unwrap().ends_with('Z'), "{pods}");
    s.ok(&["pod", "rm", "-f", "when-zz"]);
}

#[test]
fn cp_between_containers_and_to_dev_stdout() {
    let s = busybox();
    s.ok(&[
        "run",
        "-d",
        "--name",
        "cpa-zz",
        "busybox",
        "sh",
        "-c",
        "echo hello > /f; mkdir -p /d; echo in > /d/x; sleep 1000",
    ]);
    s.ok(&["run", "-d", "--name", "cpb-zz", "busybox", "sleep", "1000"]);
    assert!(eventually(std::time::Duration::from_secs(10), || {
        s.cmd(&["exec", "cpa-zz", "test", "-f", "/d/x"]).code == 0
    }));
    s.ok(&["cp", "cpa-zz:/f", "cpb-zz:/g"]);
    s.ok(&["cp", "cpa-zz:/d", "cpb-zz:/tmp/"]);
    s.ok(&["cp", "cpa-zz:/d/.", "cpb-zz:/"]);
    assert_eq!(
        s.ok(&["exec", "cpb-zz", "cat", "/g", "/tmp/d/x", "/x"]),
        "hello\nin\nin\n"
    );
    // /dev/stdout is a file, not a directory.
    assert_eq!(s.ok(&["cp", "cpa-zz:/f", "/dev/stdout"]), "hello\n");
    // A missing source, in Podman's words (its cp over ContainerStat).
    let out = s.home.join("cp-out");
    for dest in [out.to_str().unwrap(), "cpb-zz:/h", "-"] {
        assert_eq!(
            s.fails_engine(&["cp", "cpa-zz:/nosuch", dest]),
            "Error: \"/nosuch\" could not be found on container cpa-zz: no such file or directory",
            "to {dest}"
        );
    }
    s.ok(&["rm", "-f", "cpa-zz", "cpb-zz"]);
}

#[test]
fn id_shows_the_supplementary_groups_podman_gives() {
    // Podman's groups (libpod's generateSpec): the primary gid when a user
    // is named, then every group listing the user in /etc/group unless a
    // group is named too. Podman 4.3's output with this /etc/group:
    let s = busybox();
    s.import_with("localhost/bbgroups:1", |t| {
        t.file(
            "etc/group",
            b"root:x:0:\ndaemon:x:1:\nwheel:x:10:root\ntester:x:1000:\nstaff:x:50:tester,root\n",
            0o644,
            0,
            0,
        );
    });
    let id = |args: &[&str]| {
        let mut a = vec!["run", "--rm"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["localhost/bbgroups:1", "id"]);
        s.ok(&a).trim().to_string()
    };
    assert_eq!(
        id(&[]),
        "uid=0(root) gid=0(root) groups=10(wheel),50(staff)"
    );
    assert_eq!(
        id(&["-u", "root"]),
        "uid=0(root) gid=0(root) groups=0(root),10(wheel),50(staff)"
    );
    assert_eq!(
        id(&["-u", "tester"]),
        "uid=1000(tester) gid=1000(tester) groups=50(staff),1000(tester)"
    );
    assert_eq!(
        id(&["-u", "1000:0"]),
        "uid=1000(tester) gid=0(root) groups=0(root)"
    );
    assert_eq!(
        id(&["-u", "tester:staff"]),
        "uid=1000(tester) gid=50(staff) groups=50(staff)"
    );
    assert_eq!(
        id(&["--group-add", "1"]),
        "uid=0(root) gid=0(root) groups=1(daemon),10(wheel),50(staff)"
    );
}

/// A numeric `-u` that the image's /etc/passwd (or /etc/group) does not
/// name gets Podman's line there (libpod's `generateUserPasswdEntry` and
/// `generateUserGroupEntry`), so that `whoami` and `id -un` answer: home
/// the working directory, gid the one asked for, else 0. Once: the next
/// start finds it. A read-only root gets a copy bound over the file.
#[test]
fn a_numeric_user_the_image_lacks_gets_podmans_passwd_line() {
    let s = busybox();
    assert_eq!(
        s.sh(
            &["-u", "12345"],
            "whoami; id -un; id; tail -n1 /etc/passwd; echo $HOME"
        ),
        "12345\n12345\nuid=12345(12345) gid=0(root) groups=0(root)\n\
         12345:*:12345:0:container user:/:/bin/sh\n/\n"
    );
    assert_eq!(
        s.sh(
            &["-u", "12345:4242", "-w", "/tmp"],
            "id; tail -n1 /etc/passwd; tail -n1 /etc/group; echo $HOME"
        ),
        "uid=12345(12345) gid=4242(4242) groups=4242(4242)\n\
         12345:*:12345:4242:container user:/tmp:/bin/sh\n\
         4242:x:4242:12345\n/tmp\n"
    );
    // A user the image names is left alone.
    assert_eq!(
        s.sh(&["-u", "1000"], "whoami; grep -c : /etc/passwd"),
        "tester\n3\n"
    );
    assert_eq!(
        s.sh(
            &["--read-only", "-u", "777"],
            "whoami; tail -n1 /etc/passwd"
        ),
        "777\n777:*:777:0:container user:/:/bin/sh\n"
    );
    let count = "grep -c ^12345: /etc/passwd";
    assert_eq!(
        s.ok(&["run", "--name", "twice", "-u", "12345", "busybox", "sh", "-c", count]),
        "1\n"
    );
    assert_eq!(s.ok(&["start", "-a", "twice"]), "1\n");
    s.ok(&["rm", "twice"]);
}

/// `--hostuser`: the host user's /etc/passwd line goes into the
/// container's when the image names it neither by name nor by uid, home
/// the working directory (libpod's `userPasswdEntry`), so `-u` may name it;
/// a user the host lacks is refused at create.
#[test]
fn hostuser_adds_the_host_users_line_as_podman() {
    let s = busybox();
    let host = std::fs::read_to_string("/etc/passwd").unwrap();
    let uid = s.uid().to_string();
    let line = host
        .lines()
        .find(|l| l.split(':').nth(2) == Some(uid.as_str()))
        .expect("the test user is in the host's /etc/passwd");
    let f: Vec<&str> = line.split(':').collect();
    let in_image =
        ["0", "1000", "65534"].contains(&f[2]) || ["root", "tester", "nobody"].contains(&f[0]);
    if !in_image {
        let want = format!("{}:*:{}:{}:{}:/:/bin/sh", f[0], f[2], f[3], f[4]);
        assert_eq!(
            s.sh(
                &["--hostuser", f[0], "-u", f[0]],
                "tail -n1 /etc/passwd; whoami; echo $HOME"
            ),
            format!("{want}\n{}\n/\n", f[0])
        );
    }
    // root is the image's own: nothing added.
    assert_eq!(
        s.sh(&["--hostuser", "root"], "grep -c : /etc/passwd"),
        "3\n"
    );
    assert_eq!(
        s.fails_engine(&["create", "--hostuser", "nosuch-zz", "busybox", "true"]),
        "Error: --hostuser nosuch-zz: no such user in the host's /etc/passwd"
    );
}

/// The cells of a `top` table line (columns are two or more blanks apart).
fn top_cells(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether `s` reads as Go's `time.Duration.String` (`1.5s`, `998.3ms`, `2m0s`).
fn go_duration_like(s: &str) -> bool {
    let unit =
        s.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == 'm' || c == 'h');
    let unit = if s.ends_with("ms") { "ms" } else { unit };
    s.chars().next().is_some_and(|c| c.is_ascii_digit()) && ["s", "ms", "µs"].contains(&unit)
}

#[test]
fn top_takes_podmans_descriptors_and_falls_back_to_ps() {
    let s = busybox();
    s.ok(&["run", "-d", "--name", "topweb", "busybox", "sleep", "1000"]);
    let hpid = s.inspect_format("topweb", "{{.State.Pid}}");
    // Podman 4.3 printed, for the same container:
    // PID  PPID  USER  GROUP  RUSER  RGROUP  %CPU   ELAPSED       TIME  TTY  VSZ   COMMAND  COMMAND     NI  HPID  HUSER  HGROUP  STIME
    // 1    0     root  root   root   root    0.000  998.298277ms  0s    ?    2268  sleep    sleep 1000  0   8883  1003   1003    2026-12-02 11:06:40 +0000 UTC
    let out = s.ok(&[
        "top", "topweb", "pid", "ppid", "user", "group", "ruser", "rgroup", "pcpu", "etime",
        "time", "tty", "vsz", "comm", "args", "nice", "hpid", "huser", "hgroup", "stime",
    ]);
    let mut lines = out.lines();
    assert_eq!(
        top_cells(lines.next().unwrap()),
        [
            "PID", "PPID", "USER", "GROUP", "RUSER", "RGROUP", "%CPU", "ELAPSED", "TIME", "TTY",
            "VSZ", "COMMAND", "COMMAND", "NI", "HPID", "HUSER", "HGROUP", "STIME"
        ]
    );
    let row = top_cells(lines.next().unwrap());
    assert_eq!(lines.next(), None, "{out}");
    assert_eq!(
        row[..6],
        ["1", "0", "root", "root", "root", "root"],
        "{out}"
    );
    let pcpu = &row[6];
    assert!(
        pcpu.split_once('.').is_some_and(|(_, f)| f.len() == 3),
        "%CPU {pcpu}"
    );
    assert!(go_duration_like(&row[7]), "ELAPSED {}", row[7]);
    assert_eq!(row[8], "0s", "TIME as Go's Duration of whole seconds");
    assert_eq!(row[9], "?");
    assert!(row[10].parse::<u64>().unwrap() > 0, "VSZ {}", row[10]);
    assert_eq!(row[11..14], ["sleep", "sleep 1000", "0"]);
    assert_eq!(row[14], hpid);
    // Container root is the user's own uid on the host, named as psgo names
    // it: from the container's /etc/passwd and /etc/group (the fixture's
    // tester is 1000:1000), else the number.
    let named = |id: u32| {
        if id == 1000 {
            "tester".to_string()
        } else {
            id.to_string()
        }
    };
    assert_eq!(row[15], named(s.uid()));
    assert_eq!(row[16], named(s.user().gid));
    let stime = &row[17];
    assert!(
        stime.len() >= 25 && stime.as_bytes()[4] == b'-' && stime.as_bytes()[13] == b':',
        "STIME {stime}"
    );
    // AIX codes and comma lists.
    let out = s.ok(&["top", "topweb", "%p,%U", "%c", "seccomp", "capamb"]);
    assert_eq!(
        out.lines().map(top_cells).collect::<Vec<_>>(),
        [
            ["PID", "USER", "COMMAND", "SECCOMP", "AMBIENT CAPS"],
            ["1", "root", "sleep", "filter", "none"]
        ]
    );
    // Anything else is the host's ps(1) on the container's processes (its
    // pid namespace and a /proc of it), its own line left out, as Podman 5
    // does for a container without CAP_SYS_PTRACE: the container's own ps
    // is not needed, and the host's reads the options (procps's columns).
    s.ok(&["exec", "topweb", "rm", "/bin/ps"]);
    let out = s.ok(&["top", "topweb", "-o", "pid,comm"]);
    let rows: Vec<Vec<String>> = out
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect();
    assert_eq!(rows[0], ["PID", "COMMAND"], "{out}");
    assert_eq!(rows[1], ["1", "sleep"], "{out}");
    // Only the container's processes: its init and ps itself.
    assert!(
        rows[2..].iter().all(|r| r.len() == 2 && r[1] == "ps"),
        "{out}"
    );
    let out = s.ok(&["top", "topweb", "-eo", "pid,args"]);
    assert!(out.lines().any(|l| l.trim() == "1 sleep 1000"), "{out}");
    // Podman 5's text when ps(1) fails (the rest is procps's own); one line.
    let e = s.fails(&["top", "topweb", "-o", "bogus"], 125);
    assert_eq!(
        e.trim(),
        "Error: ps(1) failed with exit code 1: error: unknown user-defined format specifier \"bogus\""
    );
    s.ok(&["rm", "-f", "topweb"]);
    // With CAP_SYS_PTRACE the container could reach into a host process:
    // its own ps runs instead (busybox's columns and errors), as Podman.
    s.ok(&[
        "run",
        "-d",
        "--name",
        "topweb",
        "--cap-add",
        "SYS_PTRACE",
        "busybox",
        "sleep",
        "1000",
    ]);
    let out = s.ok(&["top", "topweb", "-o", "pid,comm"]);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("PID   COMMAND"), "{out}");
    assert_eq!(lines.next(), Some("    1 sleep"), "{out}");
    let e = s.fails(&["top", "topweb", "-o", "bogus"], 125);
    assert!(
        e.starts_with("Error: executing ps(1) in container: runtime failed with exit status: 1 and output: ps: bad -o argument 'bogus'"),
        "{e}"
    );
    let e = s.fails(&["top"], 125);
    assert_eq!(
        e.trim(),
        "Error: you must provide the name or id of a running container"
    );
    s.ok(&["rm", "-f", "topweb"]);
}

/// The `RepoTags` of each image of a docker-archive, in order.
fn archive_repo_tags(path: &std::path::Path) -> Vec<Vec<String>> {
    let mut a = tar::Archive::new(std::fs::File::open(path).unwrap());
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_str() == Some("manifest.json") {
            let m: serde_json::Value = serde_json::from_reader(&mut e).unwrap();
            return m
                .as_array()
                .unwrap()
                .iter()
                .map(|i| {
                    i["RepoTags"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|t| t.as_str().unwrap().to_string())
                        .collect()
                })
                .collect();
        }
    }
    panic!("{} has no manifest.json", path.display());
}

#[test]
fn save_takes_more_arguments_as_names_of_the_first_image_as_podman() {
    let s = busybox();
    s.import_with("localhost/other:1", |t| {
        t.file("etc/other", b"other\n", 0o644, 0, 0);
    });
    let dir = s
        .write_file("save-here", b"")
        .parent()
        .unwrap()
        .to_path_buf();
    let path = |n: &str| dir.join(n).to_str().unwrap().to_string();
    // Podman (libimage's saveDockerArchive): without -m the other arguments
    // are more names for the first image, listed before its own; Podman 4.3
    // wrote ["localhost/extra:latest","localhost/other:1","localhost/busybox:latest"].
    s.ok(&[
        "save",
        "-q",
        "-o",
        &path("tags.tar"),
        "busybox",
        "extra",
        "localhost/other:1",
    ]);
    assert_eq!(
        archive_repo_tags(&dir.join("tags.tar")),
        [[
            "localhost/extra:latest",
            "localhost/other:1",
            "localhost/busybox:latest"
        ]]
    );
    // -m: each argument is an image of its own.
    s.ok(&[
        "save",
        "-q",
        "-m",
        "-o",
        &path("multi.tar"),
        "busybox",
        "localhost/other:1",
    ]);
    assert_eq!(
        archive_repo_tags(&dir.join("multi.tar")),
        [["localhost/busybox:latest"], ["localhost/other:1"]]
    );
    let e = s.fails(
        &[
            "save",
            "-m",
            "--format",
            "oci-archive",
            "-o",
            &path("m.oci"),
            "busybox",
            "localhost/other:1",
        ],
        125,
    );
    assert_eq!(
        e.trim(),
        "Error: unsupported format \"oci-archive\" for saving multiple images (only docker-archive)"
    );
    assert!(!dir.join("m.oci").exists(), "nothing half-written");
    // The names come back with load.
    s.ok(&["rmi", "localhost/other:1"]);
    s.ok(&["load", "-q", "-i", &path("tags.tar")]);
    let names = s.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    let mut names: Vec<&str> = names.lines().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "localhost/busybox:latest",
            "localhost/extra:latest",
            "localhost/other:1"
        ]
    );
}

#[test]
fn network_container_shares_the_hosts_and_resolv_conf_files_as_podman() {
    // Podman (libpod's makePlatformBindMounts): a container joining X's
    // network bind-mounts X's own /etc/hosts and /etc/resolv.conf, adds
    // `127.0.0.1\tNAME` for itself and takes it out at cleanup; its host
    // name stays its own (the uts namespace is not X's).
    let s = busybox();
    s.ok(&[
        "run",
        "-d",
        "--name",
        "nx",
        "--hostname",
        "nxhost",
        "--add-host",
        "foo.example:10.1.2.3",
        "--dns",
        "10.0.0.53",
        "busybox",
        "sleep",
        "1000",
    ]);
    let joiner = s.ok(&[
        "run",
        "-d",
        "--name",
        "joiner",
        "--network",
        "container:nx",
        "busybox",
        "sleep",
        "1000",
    ]);
    let cat = |c: &str, f: &str| s.ok(&["exec", c, "cat", f]);
    let hosts = cat("nx", "/etc/hosts");
    assert_eq!(cat("joiner", "/etc/hosts"), hosts);
    assert!(hosts.contains("foo.example"), "{hosts}");
    assert!(hosts.lines().any(|l| l == "127.0.0.1\tjoiner"), "{hosts}");
    let resolv = cat("nx", "/etc/resolv.conf");
    assert_eq!(cat("joiner", "/etc/resolv.conf"), resolv);
    assert!(resolv.contains("nameserver 10.0.0.53"), "{resolv}");
    // The same file, not a copy: what X writes the joiner reads at once.
    s.ok(&[
        "exec",
        "nx",
        "sh",
        "-c",
        "echo '10.9.9.9 added' >> /etc/hosts",
    ]);
    assert!(cat("joiner", "/etc/hosts").contains("10.9.9.9 added"));
    assert_eq!(
        s.ok(&["exec", "joiner", "hostname"]).trim(),
        &joiner.trim()[..12]
    );
    s.ok(&["rm", "-f", "-t", "0", "joiner"]);
    let hosts = cat("nx", "/etc/hosts");
    assert!(!hosts.contains("joiner"), "{hosts}");
    assert!(hosts.contains("10.9.9.9 added"), "{hosts}");
    s.ok(&["rm", "-f", "-t", "0", "nx"]);
}
