//! `skiff build` (issue 13): real builds as the unprivileged user with the
//! busybox fixture, the kinds of Containerfile Docker tutorials teach, the
//! cache, and bad input.

mod common;

use std::path::{Path, PathBuf};

use common::{busybox, one_error_line, Skiff, TarBuilder};

/// Writes the files of a context below the test's home and returns its
/// directory.
fn context(s: &Skiff, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let mut dir = None;
    for (path, text) in files {
        let p = s.write_file(&format!("{name}/{path}"), text.as_bytes());
        dir.get_or_insert_with(|| {
            let mut d = p.clone();
            for _ in Path::new(path).components() {
                d.pop();
            }
            d
        });
    }
    dir.expect("at least one file")
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Builds and returns stdout, asserting success.
fn build(s: &Skiff, args: &[&str]) -> String {
    let mut a = vec!["build"];
    a.extend_from_slice(args);
    s.ok(&a)
}

/// Builds a context holding only `text` as its Containerfile and a link
/// `hostetc` to the host's /etc, expecting the build to fail as the engine
/// (125) with one error line, which it returns.
fn build_error(s: &Skiff, name: &str, text: &str, args: &[&str]) -> String {
    let ctx = context(s, name, &[("Containerfile", text)]);
    std::os::unix::fs::symlink("/etc", ctx.join("hostetc")).unwrap();
    let mut a = vec!["build"];
    a.extend_from_slice(args);
    a.push(path(&ctx));
    s.fails_engine(&a)
}

/// A failed build tagged none of `tags` and left no working container.
fn left_nothing(s: &Skiff, tags: &[&str]) {
    for t in tags {
        assert_eq!(s.cmd(&["image", "exists", t]).code, 1, "{t} is not tagged");
    }
    assert!(s.container_ids().is_empty(), "no working container is left");
}

fn using_cache(out: &str) -> usize {
    out.lines()
        .filter(|l| l.starts_with("--> Using cache "))
        .count()
}

const WEB: &str = "\
FROM localhost/busybox
LABEL org.example.app=web
WORKDIR /www
COPY index.html .
COPY --exclude=*.tmp src/ /app/
RUN cat /www/index.html > /www/copy.html && echo installed > /app/installed
ENV GREETING=hello
EXPOSE 8080
CMD [\"sh\", \"-c\", \"cat /www/copy.html /app/main.sh /app/installed; echo $GREETING\"]
";

#[test]
fn web_app_with_copy_and_run_then_cache() {
    let s = busybox();
    let ctx = context(
        &s,
        "web",
        &[
            ("Containerfile", WEB),
            ("index.html", "<h1>v1</h1>\n"),
            ("src/main.sh", "echo main\n"),
            ("src/scratch.tmp", "excluded\n"),
            (".containerignore", "*.log\n"),
            ("debug.log", "not for the image\n"),
        ],
    );
    let out = build(&s, &["-t", "web", path(&ctx)]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "STEP 1/9: FROM localhost/busybox", "{out}");
    assert!(lines.contains(&"STEP 4/9: COPY index.html ."), "{out}");
    assert!(lines.contains(&"COMMIT web"), "{out}");
    assert!(
        lines.contains(&"Successfully tagged localhost/web:latest"),
        "{out}"
    );
    let id = lines.last().unwrap();
    assert_eq!(id.len(), 64, "{out}");
    assert_eq!(using_cache(&out), 0);

    let run = s.ok(&["run", "--rm", "web"]);
    assert_eq!(run, "<h1>v1</h1>\necho main\ninstalled\nhello\n");
    assert_eq!(s.inspect_format("web", "{{.Config.WorkingDir}}"), "/www");
    assert!(s
        .inspect_format("web", "{{.Config.ExposedPorts}}")
        .contains("8080/tcp"));
    assert_eq!(
        s.ok(&["run", "--rm", "web", "ls", "/www"]),
        "copy.html\nindex.html\n",
        "the ignored file is not copied, nothing else is"
    );
    assert_eq!(
        s.ok(&["run", "--rm", "web", "ls", "/app"]),
        "installed\nmain.sh\n",
        "--exclude leaves out what it matches"
    );
    assert!(s.container_ids().is_empty(), "no working container is left");
    // The steps' images are intermediate: listed with -a only.
    let listed = s.ok(&["images", "--format", "{{.Repository}}"]);
    assert_eq!(listed, "localhost/web\nlocalhost/busybox\n");
    assert_eq!(s.ok(&["images", "-a", "-q"]).lines().count(), 9);
    // history names each step's image, down to the base's.
    let ids = s.ok(&["history", "-q", "web"]);
    assert_eq!(ids.lines().count(), 9, "{ids}");
    assert!(!ids.contains("<missing>"), "{ids}");
    assert!(id.starts_with(ids.lines().next().unwrap()), "{ids}");
    assert!(s
        .ok(&["history", "--no-trunc", "web"])
        .contains("/bin/sh -c #(nop) COPY file:"));

    // A rebuild is served from the cache, to the same image.
    let again = build(&s, &["-t", "web", path(&ctx)]);
    assert_eq!(using_cache(&again), 8, "{again}");
    assert_eq!(again.lines().last(), Some(*id));

    // A change to an ignored file changes nothing; to a copied one, the
    // steps from that COPY on run again.
    std::fs::write(ctx.join("debug.log"), "other").unwrap();
    let again = build(&s, &["-t", "web", path(&ctx)]);
    assert_eq!(using_cache(&again), 8, "{again}");
    std::fs::write(ctx.join("index.html"), "<h1>v2</h1>\n").unwrap();
    let changed = build(&s, &["-t", "web", path(&ctx)]);
    assert_eq!(
        using_cache(&changed),
        2,
        "LABEL and WORKDIR only\n{changed}"
    );
    assert_ne!(changed.lines().last(), Some(*id));
    assert!(s.ok(&["run", "--rm", "web"]).starts_with("<h1>v2</h1>\n"));

    // --no-cache runs every step.
    let fresh = build(&s, &["--no-cache", "-q", "-t", "web", path(&ctx)]);
    assert_eq!(fresh.lines().count(), 1, "-q prints only the id: {fresh}");
    assert!(s.container_ids().is_empty());
}

#[test]
fn multi_stage_copy_from_a_builder() {
    let s = busybox();
    let ctx = context(
        &s,
        "multi",
        &[(
            "Dockerfile",
            "FROM localhost/busybox AS builder\n\
             RUN mkdir /out && printf '#!/bin/sh\\necho compiled\\n' > /out/app && chmod 755 /out/app\n\
             FROM localhost/busybox AS unused\n\
             RUN exit 9\n\
             FROM localhost/busybox\n\
             COPY --from=builder /out/app /usr/local/bin/app\n\
             CMD [\"app\"]\n",
        )],
    );
    let out = build(&s, &["-t", "multi", path(&ctx)]);
    assert!(
        out.contains("[1/2] STEP 1/2: FROM localhost/busybox AS builder"),
        "{out}"
    );
    assert!(out.contains("[2/2] STEP 2/3: COPY --from=builder"), "{out}");
    assert!(
        !out.contains("exit 9"),
        "the unused stage is not built\n{out}"
    );
    assert_eq!(s.ok(&["run", "--rm", "multi"]), "compiled\n");
    assert_eq!(
        s.ok(&[
            "run",
            "--rm",
            "multi",
            "stat",
            "-c",
            "%a",
            "/usr/local/bin/app"
        ]),
        "755\n"
    );
    // --squash-all: one layer, one history entry, the same files.
    build(&s, &["--squash-all", "-t", "flat", path(&ctx)]);
    assert_eq!(s.inspect_format("flat", "{{len .RootFS.Layers}}"), "1");
    assert_eq!(s.inspect_format("flat", "{{len .History}}"), "1");
    assert_eq!(s.ok(&["run", "--rm", "flat"]), "compiled\n");
    // --target builds the first stage alone.
    build(&s, &["--target", "builder", "-t", "builder", path(&ctx)]);
    assert_eq!(s.ok(&["run", "--rm", "builder", "/out/app"]), "compiled\n");
}

#[test]
fn arg_before_from_and_build_args() {
    let s = busybox();
    let ctx = context(
        &s,
        "args",
        &[(
            "Containerfile",
            "ARG BASE=localhost/busybox\nFROM ${BASE}\nARG MSG=default\nRUN echo $MSG > /msg\n",
        )],
    );
    build(&s, &["-t", "args", path(&ctx)]);
    assert_eq!(s.ok(&["run", "--rm", "args", "cat", "/msg"]), "default\n");
    let out = build(&s, &["--build-arg", "MSG=given", "-t", "args", path(&ctx)]);
    assert_eq!(
        using_cache(&out),
        0,
        "another ARG value is another step\n{out}"
    );
    assert_eq!(s.ok(&["run", "--rm", "args", "cat", "/msg"]), "given\n");
}

#[test]
fn user_workdir_volume_and_heredocs() {
    let s = busybox();
    let ctx = context(
        &s,
        "user",
        &[(
            "Containerfile",
            "FROM localhost/busybox\n\
             RUN echo 'app:x:1234:1234::/home/app:/bin/sh' >> /etc/passwd && \\\n\
                 echo 'app:x:1234:' >> /etc/group && mkdir -p /home/app && chown 1234:1234 /home/app\n\
             USER app\n\
             WORKDIR /home/app/work/deep\n\
             RUN id -u > uid.txt && pwd >> uid.txt\n\
             VOLUME /data\n\
             RUN <<EOF\n\
             set -e\n\
             echo from a heredoc > /tmp/heredoc\n\
             EOF\n\
             COPY <<EOF /etc/greeting\n\
             hello $HOSTNAME\n\
             EOF\n\
             COPY --chown=app:app --chmod=600 secret.txt ./\n\
             COPY --parents conf/*/app.conf /etc/\n",
        ), ("secret.txt", "s3cret\n"), ("conf/a/app.conf", "a\n"), ("conf/b/app.conf", "b\n")],
    );
    build(&s, &["-t", "user", path(&ctx)]);
    assert_eq!(
        s.ok(&["run", "--rm", "user", "cat", "uid.txt"]),
        "1234\n/home/app/work/deep\n"
    );
    assert_eq!(s.inspect_format("user", "{{.Config.User}}"), "app");
    assert!(s
        .inspect_format("user", "{{.Config.Volumes}}")
        .contains("/data"));
    assert_eq!(
        s.ok(&[
            "run",
            "--rm",
            "user",
            "cat",
            "/tmp/heredoc",
            "/etc/greeting"
        ]),
        "from a heredoc\nhello \n"
    );
    assert_eq!(
        s.ok(&[
            "run",
            "--rm",
            "user",
            "stat",
            "-c",
            "%u:%g %a",
            "secret.txt"
        ]),
        "1234:1234 600\n"
    );
    assert_eq!(
        s.ok(&[
            "run",
            "--rm",
            "user",
            "cat",
            "/etc/conf/a/app.conf",
            "/etc/conf/b/app.conf"
        ]),
        "a\nb\n",
        "COPY --parents keeps the directories"
    );
    assert!(s.container_ids().is_empty());
}

#[test]
fn add_extracts_a_local_tar() {
    let s = busybox();
    let mut t = TarBuilder::new();
    t.dir("pkg/", 0o755, 0, 0)
        .file("pkg/readme", b"from the archive\n", 0o644, 0, 0);
    let ctx = context(
        &s,
        "add",
        &[
            (
                "Containerfile",
                "FROM localhost/busybox\nADD pkg.tar /opt/\nADD plain.txt /opt/plain.txt\n",
            ),
            ("plain.txt", "plain\n"),
        ],
    );
    std::fs::write(ctx.join("pkg.tar"), t.finish()).unwrap();
    s.give(&ctx.join("pkg.tar"));
    build(&s, &["-t", "add", path(&ctx)]);
    assert_eq!(
        s.ok(&[
            "run",
            "--rm",
            "add",
            "cat",
            "/opt/pkg/readme",
            "/opt/plain.txt"
        ]),
        "from the archive\nplain\n"
    );
}

/// Serves `body` over HTTP on 127.0.0.1 to `n` clients, in a thread.
fn serve(body: &'static [u8], n: usize) -> u16 {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming().take(n) {
            let mut c = c.unwrap();
            let mut req = [0u8; 4096];
            let _ = c.read(&mut req);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = c.write_all(head.as_bytes());
            let _ = c.write_all(body);
        }
    });
    port
}

#[test]
fn add_downloads_a_url_with_a_checksum() {
    let s = busybox();
    let port = serve(b"downloaded\n", 2);
    let sum = {
        use sha2::Digest;
        format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(b"downloaded\n"))
        )
    };
    let text = format!(
        "FROM localhost/busybox\nADD --checksum={sum} http://127.0.0.1:{port}/files/tool.txt /opt/\n"
    );
    let ctx = context(&s, "url", &[("Containerfile", &text)]);
    build(&s, &["-t", "url", path(&ctx)]);
    assert_eq!(
        s.ok(&["run", "--rm", "url", "stat", "-c", "%a %u", "/opt/tool.txt"]),
        "600 0\n"
    );
    assert_eq!(
        s.ok(&["run", "--rm", "url", "cat", "/opt/tool.txt"]),
        "downloaded\n"
    );
    let bad = text.replace(&sum, &format!("sha256:{}", "0".repeat(64)));
    let ctx = context(&s, "badurl", &[("Containerfile", &bad)]);
    let e = s.fails_engine(&["build", path(&ctx)]);
    assert!(e.contains("checksum mismatch"), "{e}");
}

#[test]
fn onbuild_triggers_run_in_the_child() {
    let s = busybox();
    let parent = context(
        &s,
        "parent",
        &[(
            "Containerfile",
            "FROM localhost/busybox\nONBUILD COPY marker /marker\nONBUILD RUN echo triggered >> /marker\n",
        )],
    );
    build(&s, &["--format", "docker", "-t", "parent", path(&parent)]);
    let child = context(
        &s,
        "child",
        &[
            (
                "Containerfile",
                "FROM localhost/parent\nCMD [\"cat\", \"/marker\"]\n",
            ),
            ("marker", "child context\n"),
        ],
    );
    let out = build(&s, &["--format", "docker", "-t", "child", path(&child)]);
    assert!(out.contains("STEP 2/4: COPY marker /marker"), "{out}");
    assert_eq!(
        s.ok(&["run", "--rm", "child"]),
        "child context\ntriggered\n"
    );
}

#[test]
fn context_from_a_tar_archive() {
    let s = busybox();
    let mut t = TarBuilder::new();
    let text = b"FROM localhost/busybox\nRUN echo one > /one\nCOPY data.txt /data.txt\n";
    t.file("Dockerfile", text, 0o644, 0, 0)
        .file("data.txt", b"from the archive\n", 0o644, 0, 0);
    let tar = s.write_file("context.tar", &t.finish());
    let iid = s.write_file("iid.txt", b"");
    // What a killed build left is swept by the next one.
    let stale = s.store().join("build-contexts/4194000");
    s.make_dir(&stale);
    let out = s.ok(&[
        "buildx",
        "build",
        "--iidfile",
        path(&iid),
        "-t",
        "fromtar",
        path(&tar),
    ]);
    let id = out.lines().last().unwrap();
    assert_eq!(
        std::fs::read_to_string(&iid).unwrap(),
        format!("sha256:{id}")
    );
    assert!(!stale.exists(), "a dead build's context is swept");
    assert_eq!(
        s.ok(&["run", "--rm", "fromtar", "cat", "/one", "/data.txt"]),
        "one\nfrom the archive\n"
    );
    // The same context on standard input, with `image build`: streamed,
    // not bounded like a Containerfile (a 17 MiB file rides along).
    let mut t = TarBuilder::new();
    t.file("Dockerfile", text, 0o644, 0, 0)
        .file("data.txt", b"from the archive\n", 0o644, 0, 0)
        .file("big.bin", &vec![7u8; 17 << 20], 0o644, 0, 0);
    let again = s.ok_stdin(&["image", "build", "-t", "fromtar", "-"], &t.finish());
    assert_eq!(using_cache(&again), 2, "{again}");
}

#[test]
fn containerfile_on_stdin() {
    let s = busybox();
    let out = s.ok_stdin(
        &["build", "-t", "stdin", "-"],
        b"FROM localhost/busybox\nENV FROM_STDIN=yes\n",
    );
    assert!(out.contains("STEP 2/2: ENV FROM_STDIN=yes"), "{out}");
    assert_eq!(
        s.ok(&["run", "--rm", "stdin", "sh", "-c", "echo $FROM_STDIN"]),
        "yes\n"
    );
}

#[test]
fn bad_input_is_one_line_and_leaves_nothing() {
    let s = busybox();
    let keep = s.write_file("empty/.keep", b"");
    let empty = keep.parent().unwrap();
    let e = s.fails_engine(&["build", path(empty)]);
    assert!(
        e.contains("no Containerfile or Dockerfile specified or found"),
        "{e}"
    );

    let e = build_error(&s, "unknown", "FROM localhost/busybox\nFOO bar\n", &[]);
    assert_eq!(e, "Error: Containerfile:2: unknown instruction: FOO");

    let text = "FROM localhost/busybox AS one\n";
    let e = build_error(&s, "target", text, &["--target", "two"]);
    assert_eq!(e, "Error: target stage \"two\" could not be found");

    let text = "FROM localhost/busybox\nENV A=1\nCOPY nope.txt /x\n";
    let e = build_error(&s, "missing", text, &["-t", "missing"]);
    assert!(
        e.starts_with("Error: STEP 3/3: COPY nope.txt /x: nope.txt: no such file"),
        "{e}"
    );

    let e = build_error(&s, "outside", "FROM localhost/busybox\nCOPY ../x /x\n", &[]);
    assert_eq!(
        e,
        "Error: STEP 2/2: COPY ../x /x: forbidden path outside the build context: ../x"
    );

    // A context symlink is resolved inside the context: the host's /etc
    // is never read.
    let text = "FROM localhost/busybox\nCOPY hostetc/hostname /x\n";
    let e = build_error(&s, "hostile", text, &[]);
    assert!(
        e.contains("hostetc/hostname: no such file or directory in the build context"),
        "{e}"
    );

    let text = "FROM localhost/nope\nRUN true\n";
    let e = build_error(&s, "nobase", text, &["--pull=never"]);
    assert_eq!(
        e,
        "Error: FROM localhost/nope: localhost/nope: image not known"
    );

    let e = build_error(
        &s,
        "heredoc",
        "FROM localhost/busybox\nRUN <<EOF\necho\n",
        &[],
    );
    assert_eq!(e, "Error: Containerfile:2: unterminated heredoc");

    // Files that never end are refused, not read until memory runs out.
    let images = s.image_ids();
    let e = s.fails_engine(&["build", "-f", "/dev/zero", path(empty)]);
    assert_eq!(e, "Error: /dev/zero: larger than 16 MiB");
    // So is standard input that never ends, as a Containerfile (`-f -`)
    // or as the context (`-`, not an archive: a Containerfile).
    let endless = vec![0u8; 17 << 20];
    for args in [&["build", "-f", "-", path(empty)][..], &["build", "-"]] {
        let o = s.cmd_stdin(args, &endless);
        assert_eq!(o.code, 125, "{}", o.describe());
        assert_eq!(
            one_error_line(&o),
            "Error: standard input: larger than 16 MiB"
        );
    }
    let e = s.fails_engine(&["build", "/dev/zero"]);
    assert_eq!(
        e,
        "Error: /dev/zero: the context must be a directory or a tar archive"
    );
    // A context archive is streamed: what follows its end is bounded.
    let mut t = TarBuilder::new();
    t.file("Containerfile", b"FROM localhost/busybox\n", 0o644, 0, 0);
    let mut tar = t.finish();
    tar.resize(tar.len() + (2 << 20), 0);
    let padded = s.write_file("padded.tar", &tar);
    let e = s.fails_engine(&["build", "-t", "padded", path(&padded)]);
    assert!(
        e.ends_with("invalid tar: more than 1 MiB after the end of the archive"),
        "{e}"
    );
    assert_eq!(s.image_ids(), images, "a refused build left an image");

    let failing = context(
        &s,
        "failing",
        &[(
            "Containerfile",
            "FROM localhost/busybox\nRUN echo before\nRUN echo about to fail; exit 3\nRUN echo after\n",
        )],
    );
    let o = s.cmd(&["build", "-t", "failing", path(&failing)]);
    assert_eq!(o.code, 3, "the step's status, as podman\n{}", o.describe());
    assert_eq!(
        one_error_line(&o),
        "Error: STEP 3/4: RUN echo about to fail; exit 3: while running runtime: exit status 3"
    );
    assert!(o.stdout.contains("about to fail"), "{}", o.describe());
    assert!(!o.stdout.contains("after"), "{}", o.describe());
    left_nothing(&s, &["failing", "missing"]);
    // No root file system of a working container is left mounted.
    if let Some(pid) = s.pause_pid() {
        let mounts = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
        let store = s.store();
        let left: Vec<&str> = mounts
            .lines()
            .filter(|l| l.contains(path(&store)))
            .collect();
        assert!(left.is_empty(), "mounts left: {left:#?}");
    }
    // Without layers, a failed build leaves none of its images either.
    let before = s.image_ids();
    let o = s.cmd(&["build", "--squash", "-t", "failing", path(&failing)]);
    assert_eq!(o.code, 3, "{}", o.describe());
    assert_eq!(s.image_ids(), before, "no intermediate image is kept");
    left_nothing(&s, &["failing"]);
}

#[test]
fn run_mounts_secret_and_cache() {
    let s = busybox();
    let ctx = context(
        &s,
        "mounts",
        &[(
            "Containerfile",
            "FROM localhost/busybox\n\
             RUN --mount=type=secret,id=tok,required test \"$(cat /run/secrets/tok)\" = s3cret && echo checked > /checked\n\
             RUN --mount=type=cache,target=/var/cache/app echo run >> /var/cache/app/log && wc -l < /var/cache/app/log > /runs\n\
             RUN --mount=type=bind,source=src,target=/src cat /src/a > /copied\n",
        ), ("src/a", "bound\n")],
    );
    let secret = s.write_file("tok.txt", b"s3cret");
    let secret_arg = format!("id=tok,src={}", path(&secret));
    build(&s, &["--secret", &secret_arg, "-t", "mounts", path(&ctx)]);
    build(
        &s,
        &[
            "--no-cache",
            "--secret",
            &secret_arg,
            "-t",
            "mounts",
            path(&ctx),
        ],
    );
    assert_eq!(
        s.ok(&[
            "run",
            "--rm",
            "mounts",
            "sh",
            "-c",
            "cat /checked /runs; ls /var/cache/app; cat /run/secrets/tok; true"
        ])
        .lines()
        .take(2)
        .collect::<Vec<_>>(),
        ["checked", "2"],
        "the cache mount outlives the build; neither it nor the secret is in the image"
    );
    let o = s.cmd(&[
        "run",
        "--rm",
        "mounts",
        "cat",
        "/run/secrets/tok",
        "/var/cache/app/log",
    ]);
    assert_ne!(o.code, 0, "{}", o.describe());
    assert!(!o.stdout.contains("s3cret"), "{}", o.describe());

    assert_eq!(
        s.ok(&["run", "--rm", "mounts", "cat", "/copied"]),
        "bound\n"
    );
    // What a bind mount shows is part of the step's cache key.
    std::fs::write(ctx.join("src/a"), "bound again\n").unwrap();
    let out = build(&s, &["--secret", &secret_arg, "-t", "mounts", path(&ctx)]);
    assert_eq!(using_cache(&out), 2, "{out}");
    assert_eq!(
        s.ok(&["run", "--rm", "mounts", "cat", "/copied"]),
        "bound again\n"
    );
    // A bind mount from another stage.
    let staged = context(
        &s,
        "bind-from",
        &[(
            "Containerfile",
            "FROM localhost/busybox AS tools\nRUN echo tool > /tool.txt\n\
             FROM localhost/busybox\nRUN --mount=type=bind,from=tools,source=/tool.txt,target=/t cat /t > /got\n",
        )],
    );
    build(&s, &["-t", "bindfrom", path(&staged)]);
    assert_eq!(s.ok(&["run", "--rm", "bindfrom", "cat", "/got"]), "tool\n");
    assert!(s.container_ids().is_empty());
    let o = s.cmd(&["run", "--rm", "mounts", "ls", "/src"]);
    assert_ne!(
        o.code,
        0,
        "the bind mount is not in the image\n{}",
        o.describe()
    );

    // A context symlink cannot lend a host directory to a RUN.
    let text = "FROM localhost/busybox\nRUN --mount=type=bind,source=hostetc,target=/m ls /m\n";
    let e = build_error(&s, "hostile-bind", text, &[]);
    assert!(
        e.contains("hostetc: no such file or directory in the build context"),
        "{e}"
    );

    // A required secret that is not given stops the build.
    let e = s.fails_engine(&["build", "--no-cache", path(&ctx)]);
    assert!(
        e.starts_with("Error: STEP 2/4: RUN --mount=type=secret"),
        "{e}"
    );
    assert!(
        e.ends_with("secret \"tok\" is required: give it with --secret id=tok,src=PATH"),
        "{e}"
    );

    // A secret as a variable: in that RUN's environment only, and no file
    // unless a target is given; in neither the image's config nor a layer.
    let env_ctx = context(
        &s,
        "secret-env",
        &[(
            "Containerfile",
            "FROM localhost/busybox\n\
             RUN --mount=type=secret,id=tok,env=TOK test \"$TOK\" = s3cret && test ! -e /run/secrets/tok && echo ok > /env-ok\n\
             RUN test -z \"$TOK\" && echo unset > /later\n",
        )],
    );
    build(
        &s,
        &["--secret", &secret_arg, "-t", "secretenv", path(&env_ctx)],
    );
    assert_eq!(
        s.ok(&["run", "--rm", "secretenv", "cat", "/env-ok", "/later"]),
        "ok\nunset\n"
    );
    let env = s.inspect_format("secretenv", "{{json .Config.Env}}");
    assert!(!env.contains("s3cret") && !env.contains("TOK"), "{env}");
}

/// What skiff cannot do is refused with one line and exit 125 before any
/// step runs, never accepted and ignored.
#[test]
fn unsupported_features_are_refused_up_front() {
    let s = busybox();
    let host = match std::env::consts::ARCH {
        "aarch64" => "linux/arm64",
        _ => "linux/amd64",
    };
    let other = if host == "linux/arm64" {
        "linux/amd64"
    } else {
        "linux/arm64"
    };
    let text = "FROM localhost/busybox\nRUN echo ran > /ran\nRUN --mount=type=ssh true\n";
    let e = build_error(&s, "ssh", text, &["-t", "ssh"]);
    assert_eq!(
        e,
        "Error: Containerfile:3: RUN: --mount=type=ssh (ssh agent forwarding) is not supported"
    );
    let text = "FROM localhost/busybox\nADD https://github.com/moby/buildkit.git#v0.10.1 /src\n";
    let e = build_error(&s, "git", text, &[]);
    assert!(
        e.ends_with("is not supported") && e.contains("git repository"),
        "{e}"
    );
    let e = build_error(
        &s,
        "fromplat",
        &format!("FROM --platform={other} localhost/busybox\n"),
        &[],
    );
    assert!(e.starts_with(&format!("Error: Containerfile:1: FROM: --platform={other}: building for a platform other than the host's")), "{e}");
    let ok = "FROM --platform=$BUILDPLATFORM localhost/busybox\nARG TARGETPLATFORM\nRUN echo $TARGETPLATFORM > /p\n";
    let ctx = context(&s, "hostplat", &[("Containerfile", ok)]);
    build(&s, &["--platform", host, "-t", "hostplat", path(&ctx)]);
    assert_eq!(
        s.ok(&["run", "--rm", "hostplat", "cat", "/p"]),
        format!("{host}\n")
    );
    for (flag, value) in [
        ("--platform", other),
        ("--cache-from", "localhost/cache"),
        ("--cache-to", "localhost/cache"),
        ("--ssh", "default"),
    ] {
        let e = s.fails_engine(&["build", flag, value, "-t", "refused", path(&ctx)]);
        assert!(
            e.starts_with(&format!("Error: {flag}")) && e.contains("not supported"),
            "{e}"
        );
    }
    left_nothing(&s, &["ssh", "refused"]);
}

/// What a build that was sent a signal did: its exit code, stderr, how
/// long it took to end after the signal, and its stdout (all of it).
struct Stopped {
    code: i32,
    stderr: String,
    took: std::time::Duration,
    stdout: String,
}

/// Starts `skiff ARGS`, waits until its stdout shows `want`, sends `sig` to
/// its process group (as a terminal's Ctrl-C or `timeout` would) and
/// waits for it to end.
fn stop_when(s: &Skiff, args: &[&str], want: &str, sig: nix::sys::signal::Signal) -> Stopped {
    use std::time::{Duration, Instant};
    let mut child = s.spawn(args);
    let out = common::chunks(child.stdout.take().unwrap());
    let err = common::chunks(child.stderr.take().unwrap());
    let mut acc = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    assert!(
        common::read_until(&out, &mut acc, want, deadline),
        "{}",
        String::from_utf8_lossy(&acc)
    );
    let sent = Instant::now();
    nix::sys::signal::killpg(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
    let code = common::wait_child(&mut child, Duration::from_secs(30)).expect("the build ends");
    let took = sent.elapsed();
    // Until end of file, or a pause: what a killed build left running may
    // hold the pipes open.
    let mut errs = Vec::new();
    while let Ok(c) = err.recv_timeout(Duration::from_secs(3)) {
        errs.extend(c);
    }
    let stderr = String::from_utf8_lossy(&errs).into_owned();
    while let Ok(c) = out.recv_timeout(Duration::from_secs(3)) {
        acc.extend(c);
    }
    Stopped {
        code,
        stderr,
        took,
        stdout: String::from_utf8_lossy(&acc).into_owned(),
    }
}

/// Ctrl-C (SIGINT to the build's process group) during a RUN: the build
/// stops with 130, leaves no working container and tags nothing.
#[test]
fn interrupted_build_leaves_nothing() {
    let s = busybox();
    let ctx = context(
        &s,
        "interrupt",
        &[(
            "Containerfile",
            "FROM localhost/busybox\nRUN echo started; sleep 2; echo finished\nRUN echo never\n",
        )],
    );
    let args = ["build", "-t", "interrupted", path(&ctx)];
    let st = stop_when(&s, &args, "started", nix::sys::signal::Signal::SIGINT);
    assert_eq!(st.code, 130, "{}", st.stderr);
    assert!(st.stderr.contains("interrupted"), "{}", st.stderr);
    assert!(!st.stdout.contains("never"));
    left_nothing(&s, &["interrupted"]);
}

/// SIGTERM while COPY reads a large (sparse, 2 GB) file: the build stops
/// within seconds with 143 (128+SIGTERM, as podman build), tags nothing
/// and leaves no working container.
#[test]
fn sigterm_during_a_large_copy_stops_the_build() {
    let s = busybox();
    let ctx = context(
        &s,
        "bigcopy",
        &[("Containerfile", "FROM localhost/busybox\nCOPY big /big\n")],
    );
    let big = ctx.join("big");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(2 << 30)
        .unwrap();
    s.give(&big);
    let args = ["build", "-t", "bigcopy", path(&ctx)];
    let st = stop_when(&s, &args, "COPY big", nix::sys::signal::Signal::SIGTERM);
    assert_eq!(st.code, 143, "{}", st.stderr);
    assert!(st.took.as_secs() < 10, "took {:?}", st.took);
    assert!(st.stderr.contains("interrupted"), "{}", st.stderr);
    left_nothing(&s, &["bigcopy"]);
}

/// A build killed with SIGKILL during a RUN leaves its working container
/// running; `ps -a` does not list it (only `ps -a --external` does, as
/// Podman lists buildah's), and `rm -a` (which does not list it either),
/// a plain `rm`, `container prune` and the next build each remove it with
/// its supervisor and process. `rm -a` leaves a live build's alone.
#[test]
fn killed_build_container_is_external_and_swept() {
    let s = busybox();
    let ctx = context(
        &s,
        "killed",
        &[(
            "Containerfile",
            "FROM localhost/busybox\nRUN echo up-$((1+1)); sleep 300\n",
        )],
    );
    let next = context(
        &s,
        "next",
        &[("Containerfile", "FROM localhost/busybox\nLABEL next=yes\n")],
    );
    let args = ["build", "-t", "killedbuild", path(&ctx)];
    let sweepers: [&[&str]; 4] = [
        &["rm", "-a"],
        &["rm", "--ignore", "nosuch-zz"],
        &["container", "prune", "-f"],
        &["build", "-t", "nextbuild", path(&next)],
    ];
    for sweep in sweepers {
        let st = stop_when(&s, &args, "up-2", nix::sys::signal::Signal::SIGKILL);
        assert_eq!(st.code, 137, "{}", st.stderr);
        assert_eq!(s.container_ids().len(), 1, "the working container is left");
        let ps = s.ok(&["ps", "-a", "-q"]);
        assert!(ps.trim().is_empty(), "ps -a lists a build container: {ps}");
        let ext = s.ok(&["ps", "-a", "-q", "--external"]);
        assert_eq!(ext.lines().count(), 1, "ps -a --external: {ext}");
        let out = s.ok(sweep);
        if sweep[0] == "rm" {
            assert_eq!(out, "", "{sweep:?} names no container");
        }
        assert!(s.container_ids().is_empty(), "{sweep:?} removed it");
        assert!(s.ok(&["ps", "-a", "-q", "--external"]).trim().is_empty());
    }

    // A live build's working container is the build's own.
    let mut child = s.spawn(&args);
    let out = common::chunks(child.stdout.take().unwrap());
    let mut acc = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    assert!(common::read_until(&out, &mut acc, "up-2", deadline));
    assert_eq!(s.ok(&["rm", "-a", "-f"]), "");
    assert_eq!(
        s.container_ids().len(),
        1,
        "rm -a left the build's container"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let code = common::wait_child(&mut child, std::time::Duration::from_secs(30));
    assert_eq!(code, Some(130));
    assert!(s.container_ids().is_empty(), "the build removed its own");
}

#[test]
fn from_scratch_then_copy_from_it() {
    let s = busybox();
    let ctx = context(
        &s,
        "scratch",
        &[
            (
                "Containerfile",
                "FROM scratch AS files\nCOPY hello.txt /hello.txt\n\
                 FROM localhost/busybox\nCOPY --from=files /hello.txt /x/\nCMD [\"cat\", \"/x/hello.txt\"]\n",
            ),
            ("hello.txt", "from scratch\n"),
        ],
    );
    build(&s, &["-t", "scratchy", path(&ctx)]);
    assert_eq!(s.ok(&["run", "--rm", "scratchy"]), "from scratch\n");
    build(&s, &["--target", "files", "-t", "files", path(&ctx)]);
    assert_eq!(s.inspect_format("files", "{{len .RootFS.Layers}}"), "1");
    let listing = s.ok(&["image", "diff", "files"]);
    assert_eq!(
        listing, "A /hello.txt\n",
        "only the copied file is in the layer"
    );
}

/// `--squash` (as podman: buildah without layers): the steps make one
/// layer on the base image's, no intermediate image and no cache entry is
/// kept, every history entry of the build is empty but the last; a file
/// the build deleted stays deleted. `--layers=false` and
/// `BUILDAH_LAYERS=false` build the same way; `--squash` with `--layers`
/// is refused as podman refuses it.
#[test]
fn squash_makes_one_layer_over_the_base() {
    let s = busybox();
    let ctx = context(
        &s,
        "squash",
        &[
            (
                "Containerfile",
                "FROM localhost/busybox\nENV A=1\nRUN rm /www/index.html && echo one > /one\n\
                 COPY a.txt /a.txt\nRUN echo two > /two\nLABEL k=v\n",
            ),
            ("a.txt", "copied\n"),
        ],
    );
    let base_layers = s.inspect_format("localhost/busybox", "{{len .RootFS.Layers}}");
    let base_history: usize = s
        .inspect_format("localhost/busybox", "{{len .History}}")
        .parse()
        .unwrap();
    let before = s.image_ids().len();
    let out = build(&s, &["--squash", "-t", "sq", path(&ctx)]);
    assert_eq!(s.image_ids().len(), before + 1, "only the result is kept");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("--> ")).count(),
        1,
        "no image per step\n{out}"
    );
    let layers: usize = s
        .inspect_format("sq", "{{len .RootFS.Layers}}")
        .parse()
        .unwrap();
    assert_eq!(layers, base_layers.parse::<usize>().unwrap() + 1);
    let history: Vec<serde_json::Value> =
        serde_json::from_str(&s.inspect_format("sq", "{{json .History}}")).unwrap();
    let empty: Vec<bool> = history
        .iter()
        .map(|h| h["empty_layer"].as_bool().unwrap_or(false))
        .collect();
    assert_eq!(empty.len(), base_history + 5, "{history:?}");
    assert_eq!(empty[base_history..], [true, true, true, true, false]);
    let last = history.last().unwrap();
    assert!(
        last["created_by"].as_str().unwrap().contains("LABEL k=v"),
        "{last}"
    );
    assert_eq!(last["comment"], "FROM localhost/busybox:latest");
    assert_eq!(
        s.ok(&[
            "run",
            "--rm",
            "sq",
            "sh",
            "-c",
            "cat /one /a.txt /two; ls /www"
        ]),
        "one\ncopied\ntwo\n"
    );
    let diff = s.ok(&["image", "diff", "sq"]);
    for line in ["D /www/index.html", "A /one", "A /a.txt", "A /two"] {
        assert!(diff.lines().any(|l| l == line), "{line}\n{diff}");
    }
    assert_eq!(s.inspect_format("sq", "{{.Labels.k}}"), "v");

    // Nothing was cached: a layered build runs every step.
    let out = build(&s, &["-t", "layered", path(&ctx)]);
    assert_eq!(using_cache(&out), 0, "{out}");
    let before = s.image_ids().len();
    let out = build(&s, &["--layers=false", "-t", "nolayers", path(&ctx)]);
    assert_eq!(using_cache(&out), 0, "{out}");
    assert_eq!(s.image_ids().len(), before + 1);
    assert_eq!(
        s.inspect_format("nolayers", "{{len .RootFS.Layers}}"),
        layers.to_string()
    );
    let o = s.cmd_env(
        &["build", "-t", "envlayers", path(&ctx)],
        &[("BUILDAH_LAYERS", "false")],
    );
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(using_cache(&o.stdout), 0, "{}", o.stdout);
    assert_eq!(
        s.inspect_format("envlayers", "{{len .RootFS.Layers}}"),
        layers.to_string()
    );

    let e = s.fails_engine(&["build", "--squash", "--layers", "-t", "x", path(&ctx)]);
    assert_eq!(
        e,
        "Error: cannot specify --squash with --layers and --squash-all with --squash"
    );
    s.fails_engine(&["build", "--squash", "--squash-all", "-t", "x", path(&ctx)]);
}

/// RUN --mount options that change what the command sees: a tmpfs's
/// `size`, a cache mount's `ro`.
#[test]
fn run_mount_options_take_effect() {
    let s = busybox();
    let ctx = context(
        &s,
        "mount-opts",
        &[(
            "Containerfile",
            "FROM localhost/busybox\n\
             RUN --mount=type=tmpfs,target=/t,size=1m ! dd if=/dev/zero of=/t/big bs=1k count=2048 2>/dev/null && echo limited > /res\n\
             RUN --mount=type=cache,target=/c,ro ! touch /c/x 2>/dev/null && echo ro >> /res\n",
        )],
    );
    build(&s, &["--pull=ifmissing", "-t", "mountopts", path(&ctx)]);
    assert_eq!(
        s.ok(&["run", "--rm", "mountopts", "cat", "/res"]),
        "limited\nro\n"
    );
}

/// Steps that change nothing all make the one empty layer: an image holding
/// that layer several times builds, runs, and its later steps see the earlier
/// ones (overlay refuses a lower directory given twice).
#[test]
fn repeated_empty_layers_build_and_run() {
    let s = busybox();
    let ctx = context(
        &s,
        "empties",
        &[(
            "Containerfile",
            "FROM localhost/busybox\nRUN true\nRUN true\nRUN echo one > /one\nRUN true\nRUN rm /one\nRUN true\nRUN echo two > /two\nCMD [\"sh\", \"-c\", \"ls /one 2>&1; cat /two\"]\n",
        )],
    );
    build(&s, &["-t", "empties", path(&ctx)]);
    let layers = s.ok(&[
        "image",
        "inspect",
        "--format",
        "{{len .RootFS.Layers}}",
        "empties",
    ]);
    assert_eq!(layers.trim(), "8", "one layer a step over the base");
    assert_eq!(
        s.ok(&["run", "--rm", "empties"]),
        "ls: /one: No such file or directory\ntwo\n"
    );
}

/// `COPY` and `ADD` onto a path of the base image that passes through a
/// symlink follow it inside the image, as Docker and Buildah do: the file
/// lands at the link's target and the link stays a link.
#[test]
fn copy_onto_a_symlink_of_the_image_lands_at_its_target() {
    let s = busybox();
    s.import_with("localhost/linked", |t| {
        t.dir("srv", 0o755, 0, 0)
            .dir("srv/data", 0o755, 0, 0)
            .symlink("data", "/srv/data")
            .symlink("later", "/opt/later")
            .symlink("srv/up", "..");
    });
    let ctx = context(
        &s,
        "linkcopy",
        &[
            (
                "Containerfile",
                "FROM localhost/linked\nCOPY a.txt /data/\nCOPY b.txt /later/sub/\n\
                 ADD c.txt /srv/up/srv/data/c.txt\n",
            ),
            ("a.txt", "a\n"),
            ("b.txt", "b\n"),
            ("c.txt", "c\n"),
        ],
    );
    build(&s, &["-t", "linkcopy", path(&ctx)]);
    assert_eq!(
        s.ok(&[
            "run",
            "--rm",
            "linkcopy",
            "sh",
            "-c",
            "readlink /data; readlink /later; cat /srv/data/a.txt /opt/later/sub/b.txt /srv/data/c.txt",
        ]),
        "/srv/data\n/opt/later\na\nb\nc\n"
    );
}
