//! What a caller, an image or a container must not be able to do to the
//! host through skiff: leave descriptors and signal dispositions in its
//! helpers and containers, read a store made world-readable, hang or fill
//! the host with crafted layer content, exhaust the port forwarder.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;

/// Runs skiff with `args`, its fd 3 the write end of a pipe, and returns
/// once skiff has exited and the pipe has been closed by every process
/// skiff started; fails the test when a process it left behind (holder,
/// supervisor, pasta, port forwarder) still holds the pipe 10 s later.
fn run_with_fd3(s: &Skiff, args: &[&str]) -> Output {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let wfd = w.as_raw_fd();
    let mut c = s.command(args);
    // SAFETY: dup2 is async-signal-safe; the copy on fd 3 has no close-on-exec
    // flag, as a shell's `3>&1` would leave it.
    unsafe {
        c.pre_exec(move || {
            if libc::dup2(wfd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = s.run_prepared(c, args);
    drop(w);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut f = fs::File::from(r);
        let mut buf = Vec::new();
        let _ = f.read_to_end(&mut buf);
        let _ = tx.send(());
    });
    if rx.recv_timeout(Duration::from_secs(10)).is_err() {
        let holders: Vec<i32> = s
            .processes()
            .into_iter()
            .filter(|p| holds_pipe_write_end(*p))
            .collect();
        panic!(
            "skiff {args:?} exited ({}) but processes it started still hold its fd 3: {holders:?}\n{}",
            o.code, o.stderr
        );
    }
    o
}

fn holds_pipe_write_end(pid: i32) -> bool {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten().any(|e| {
                e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) > Some(2)
                    && fs::read_link(e.path())
                        .map(|l| l.to_string_lossy().starts_with("pipe:"))
                        .unwrap_or(false)
            })
        })
        .unwrap_or(false)
}

#[test]
fn helpers_keep_no_descriptor_of_the_caller() {
    let s = Skiff::new();
    let fixture = env().fixture.to_str().unwrap();
    // import starts the user namespace holder.
    let o = run_with_fd3(&s, &["import", fixture, BUSYBOX]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert!(s.pause_pid().is_some(), "import started no holder");
    // run -d starts a supervisor and the network helper.
    let o = run_with_fd3(
        &s,
        &["run", "-d", "--name", "bg", "busybox", "sleep", "300"],
    );
    assert_eq!(o.code, 0, "{}", o.describe());
    // A user network: its namespace holder and the port forwarder.
    let o = run_with_fd3(&s, &["network", "create", "fdnet"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    let o = run_with_fd3(
        &s,
        &[
            "run",
            "-d",
            "--name",
            "web",
            "--network",
            "fdnet",
            "-p",
            &publish,
            "busybox",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/www",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.describe());
    s.ok(&["rm", "-f", "bg", "web"]);
}

/// The caller ignores SIGINT, SIGQUIT and SIGPIPE and blocks SIGUSR1, as a
/// shell's background job and Rust programs do.
fn hostile_signals(c: &mut std::process::Command) {
    // SAFETY: sigaction and sigprocmask are async-signal-safe.
    unsafe {
        c.pre_exec(|| {
            for sig in [libc::SIGINT, libc::SIGQUIT, libc::SIGPIPE] {
                libc::signal(sig, libc::SIG_IGN);
            }
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGUSR1);
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            Ok(())
        });
    }
}

fn run_with_signals(s: &Skiff, args: &[&str]) -> Output {
    let mut c = s.command(args);
    hostile_signals(&mut c);
    s.run_prepared(c, args)
}

fn assert_clean_signals(o: &Output) {
    assert_eq!(o.code, 0, "{}", o.describe());
    for field in ["SigBlk", "SigIgn"] {
        let line = o
            .stdout
            .lines()
            .find(|l| l.starts_with(field))
            .unwrap_or_else(|| panic!("no {field} in\n{}", o.describe()));
        assert_eq!(
            line.split_whitespace().nth(1),
            Some("0000000000000000"),
            "{field} of the container's process\n{}",
            o.describe()
        );
    }
}

#[test]
fn containers_start_with_default_signals() {
    let s = busybox();
    let status = ["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"];
    let mut args = vec!["run", "--rm", "busybox"];
    args.extend_from_slice(&status);
    assert_clean_signals(&run_with_signals(&s, &args));
    // A writer whose reader went away dies of SIGPIPE quietly.
    let o = run_with_signals(
        &s,
        &["run", "--rm", "busybox", "sh", "-c", "yes | head -n1"],
    );
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(o.stdout, "y\n");
    assert!(!o.stderr.contains("Broken pipe"), "{}", o.describe());
    // exec'd processes too.
    s.ok(&["run", "-d", "--name", "sig", "busybox", "sleep", "300"]);
    let mut args = vec!["exec", "sig"];
    args.extend_from_slice(&status);
    assert_clean_signals(&run_with_signals(&s, &args));
    s.ok(&["rm", "-f", "sig"]);
}

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .mode()
        & 0o7777
}

/// Skiff for a user whose home has no ~/.local yet, with the usual umask 022.
fn fresh_home_cmd(s: &Skiff, home: &Path, args: &[&str]) -> Output {
    let mut c = s.command(args);
    c.env_remove("XDG_DATA_HOME").env("HOME", home);
    // SAFETY: umask is async-signal-safe.
    unsafe {
        c.pre_exec(|| {
            libc::umask(0o022);
            Ok(())
        });
    }
    s.run_prepared(c, args)
}

#[test]
fn store_and_runtime_dirs_are_private_for_a_fresh_home() {
    let s = Skiff::new();
    let home = s.home.join("fresh");
    fs::create_dir(&home).unwrap();
    fs::set_permissions(&home, fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(&home, Some(s.uid()), Some(s.gid())).unwrap();
    let fixture = env().fixture.to_str().unwrap();
    let o = fresh_home_cmd(&s, &home, &["import", fixture, BUSYBOX]);
    assert_eq!(o.code, 0, "{}", o.describe());
    let o = fresh_home_cmd(
        &s,
        &home,
        &[
            "run",
            "--rm",
            "-v",
            "vol1:/data",
            "busybox",
            "sh",
            "-c",
            "echo x >/data/f",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.describe());
    let store = home.join(".local/share/skiff");
    for d in [
        home.join(".local"),
        home.join(".local/share"),
        store.clone(),
        store.join("volumes"),
        s.runtime_dir.join("skiff"),
    ] {
        assert_eq!(mode(&d), 0o700, "mode of {}", d.display());
        assert_eq!(owner(&d).0, s.uid(), "owner of {}", d.display());
    }
    assert_eq!(mode(&home), 0o755, "an existing home keeps its mode");
}

/// Skiff with XDG_RUNTIME_DIR unset and TMPDIR at `tmp`.
fn no_runtime_dir_cmd(s: &Skiff, tmp: &Path, args: &[&str]) -> Output {
    let mut c = s.command(args);
    c.env_remove("XDG_RUNTIME_DIR").env("TMPDIR", tmp);
    s.run_prepared(c, args)
}

#[test]
fn runtime_dir_fallback_must_be_private() {
    let s = Skiff::new();
    // A world-writable sticky directory, as /tmp is.
    let tmp = s.home.join("tmp");
    fs::create_dir(&tmp).unwrap();
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o1777)).unwrap();
    let run = tmp.join(format!("skiff-run-{}", s.uid()));
    // Missing: made 0700, owned by the user.
    let o = no_runtime_dir_cmd(&s, &tmp, &["images"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(mode(&run), 0o700);
    assert_eq!(owner(&run).0, s.uid());
    assert_eq!(mode(&run.join("skiff")), 0o700);
    // Open to others: refused, naming the directory.
    fs::set_permissions(&run, fs::Permissions::from_mode(0o777)).unwrap();
    let o = no_runtime_dir_cmd(&s, &tmp, &["images"]);
    assert_eq!(o.code, 125, "{}", o.describe());
    let line = one_error_line(&o);
    assert!(
        line.contains(&run.display().to_string()) && line.contains("0777"),
        "{line}"
    );
    // Someone else's (made before the user came): refused.
    assert!(
        env().drop_to.is_some(),
        "this test needs root to make a directory another user owns"
    );
    fs::remove_dir_all(&run).unwrap();
    fs::create_dir(&run).unwrap();
    fs::set_permissions(&run, fs::Permissions::from_mode(0o700)).unwrap();
    let o = no_runtime_dir_cmd(&s, &tmp, &["images"]);
    assert_eq!(o.code, 125, "{}", o.describe());
    let line = one_error_line(&o);
    assert!(
        line.contains(&run.display().to_string()) && line.contains("owned by uid 0"),
        "{line}"
    );
    // A symlink to a directory of the user's is not taken either.
    fs::remove_dir(&run).unwrap();
    std::os::unix::fs::symlink(&s.runtime_dir, &run).unwrap();
    let o = no_runtime_dir_cmd(&s, &tmp, &["images"]);
    assert_eq!(o.code, 125, "{}", o.describe());
    let line = one_error_line(&o);
    assert!(line.contains("not a directory"), "{line}");
}

/// A GNU sparse entry (type `S`) of `size` bytes whose only data is its
/// last 512 bytes: 1.5 KB of archive.
fn sparse_entry(name: &str, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_path(name).unwrap();
    h.set_entry_type(tar::EntryType::GNUSparse);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    h.set_size(512);
    let g = h.as_gnu_mut().unwrap();
    g.set_real_size(size);
    // Base-256 numbers: 100 GiB does not fit 11 octal digits.
    let big = |field: &mut [u8; 12], n: u64| {
        field.fill(0);
        field[0] = 0x80;
        field[4..].copy_from_slice(&n.to_be_bytes());
    };
    big(&mut g.sparse[0].offset, size - 512);
    big(&mut g.sparse[0].numbytes, 512);
    h.set_cksum();
    h
}

#[test]
fn sparse_layer_entry_is_refused_and_leaves_nothing() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test keeps the store on a small tmpfs (so that a regression stops at \
         ENOSPC, not at the host's disk): run the suite as root"
    );
    let s = Skiff::new();
    let mut t = TarBuilder::new();
    t.dir("data", 0o755, 0, 0)
        .raw(&sparse_entry("data/big", 100 << 30), &[b'x'; 512]);
    let tar = t.finish();
    assert!(tar.len() < 4096, "the archive is {} bytes", tar.len());
    let tar = s.write_file("sparse.tar", &tar);
    let guard = s.small_tmpfs("small", "16m");
    let small = guard.0.clone();
    let root = small.join("store");
    let root_s = root.to_string_lossy().into_owned();
    let o = s.cmd(&[
        "--root",
        &root_s,
        "import",
        &tar.to_string_lossy(),
        "localhost/sparse",
    ]);
    assert_eq!(o.code, 125, "{}", o.describe());
    let line = one_error_line(&o);
    assert!(
        line.contains("\"data/big\"") && line.contains("sparse"),
        "the error names the entry: {line}"
    );
    let o = s.cmd(&["--root", &root_s, "images", "-q"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(o.stdout.trim(), "", "an image was left");
    assert_store_dirs_empty(
        &root,
        &["layers", "images", "blobs/sha256", "tmp"],
        "the refused import",
    );
}

/// The fixture with /etc/passwd replaced by a FIFO.
fn fifo_passwd_image(s: &Skiff) {
    let mut h = tar::Header::new_ustar();
    h.set_path("etc/passwd").unwrap();
    h.set_entry_type(tar::EntryType::Fifo);
    h.set_mode(0o644);
    h.set_size(0);
    h.set_cksum();
    s.import_with("localhost/fifo", |t| {
        t.raw(&h, &[]);
    });
}

#[test]
fn fifo_passwd_is_refused_not_waited_for() {
    let s = busybox();
    fifo_passwd_image(&s);
    for user in [None, Some("tester")] {
        let mut args = vec!["run", "--rm"];
        if let Some(u) = user {
            args.extend(["-u", u]);
        }
        args.extend(["localhost/fifo", "true"]);
        let o = s.run_with(&args, None, Duration::from_secs(30));
        assert_eq!(o.code, 125, "{}", o.describe());
        let line = one_error_line(&o);
        assert!(
            line.contains("/etc/passwd") && line.contains("fifo"),
            "{line}"
        );
    }
    assert_eq!(s.ok(&["ps", "-a", "-q"]).trim(), "", "no container is left");
    // A running container that swaps its /etc/passwd for a FIFO: exec -u.
    s.ok(&[
        "run",
        "-d",
        "--name",
        "swap",
        "busybox",
        "sh",
        "-c",
        "rm /etc/passwd && mkfifo /etc/passwd && sleep 300",
    ]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.cmd(&["exec", "swap", "test", "-p", "/etc/passwd"]).code != 0 {
        assert!(
            Instant::now() < deadline,
            "the container never made its FIFO"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = s.run_with(
        &["exec", "-u", "tester", "swap", "true"],
        None,
        Duration::from_secs(30),
    );
    assert_eq!(o.code, 125, "{}", o.describe());
    let line = one_error_line(&o);
    assert!(
        line.contains("/etc/passwd") && line.contains("fifo"),
        "{line}"
    );
    s.ok(&["rm", "-f", "swap"]);
}

/// The `_portfwd` process of this test.
fn forwarder(s: &Skiff) -> i32 {
    s.processes()
        .into_iter()
        .find(|p| {
            fs::read(format!("/proc/{p}/cmdline"))
                .unwrap_or_default()
                .split(|b| *b == 0)
                .any(|a| a == b"_portfwd")
        })
        .expect("a port forwarder runs for the published port")
}

fn status_field(pid: i32, field: &str) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} for pid {pid}"))
}

fn open_fds(pid: i32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count()
}

#[test]
fn port_forwarder_stays_bounded_under_a_connection_flood() {
    const FLOOD: usize = 300;
    // The forwarder's cap (src/network/portfwd.rs MAX_TCP_CONNECTIONS).
    const CAP: usize = 256;
    let s = busybox();
    s.ok(&["network", "create", "flood"]);
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    s.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "flood",
        "-p",
        &publish,
        "busybox",
        "sh",
        "-c",
        "mkdir /tmp/w && cp /www/index.html /tmp/w/ && head -c 5000000 /dev/urandom >/tmp/w/big \
         && exec httpd -f -p 80 -h /tmp/w",
    ]);
    assert!(http_get(port).contains(INDEX_HTML.trim()));
    let fwd = forwarder(&s);
    // Bulk data passes the small buffers whole.
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.write_all(b"GET /big HTTP/1.0\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut big = Vec::new();
    c.read_to_end(&mut big).unwrap();
    let body = big
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| big.len() - at - 4);
    assert_eq!(body, Some(5_000_000), "bytes of /big through the forwarder");
    let mut held = Vec::new();
    for _ in 0..FLOOD {
        held.push(std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect"));
    }
    // Wait until the forwarder has taken every connection it will take.
    let deadline = Instant::now() + Duration::from_secs(20);
    while open_fds(fwd) < 2 * CAP {
        assert!(
            Instant::now() < deadline,
            "the forwarder holds {} descriptors",
            open_fds(fwd)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Data flows through a connection of the flood.
    let c = &mut held[0];
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut body = String::new();
    c.read_to_string(&mut body).unwrap();
    assert!(body.contains(INDEX_HTML.trim()), "{body}");
    let threads = status_field(fwd, "Threads:");
    assert!(
        threads <= 2,
        "the forwarder runs {threads} threads for {FLOOD} connections"
    );
    let fds = open_fds(fwd);
    assert!(
        fds <= 2 * CAP + 16,
        "the forwarder holds {fds} descriptors for {FLOOD} connections (cap {CAP})"
    );
    let rss_kib = status_field(fwd, "VmRSS:");
    eprintln!(
        "forwarder under {FLOOD} connections: {threads} thread(s), {fds} descriptors, {rss_kib} KiB RSS"
    );
    assert!(rss_kib < 32 * 1024, "the forwarder uses {rss_kib} KiB");
    drop(held);
    // Once the flood is gone, new clients are served again.
    assert!(http_get(port).contains(INDEX_HTML.trim()));
    s.ok(&["rm", "-f", "web"]);
    s.ok(&["network", "rm", "flood"]);
}

/// A host directory of the test user's, which hostile links aim at: it
/// exists on the host, not in the image, and the user could write there.
fn host_target(s: &Skiff, name: &str) -> std::path::PathBuf {
    s.make_dir(&s.home.join("files").join(name))
}

/// Names inside `dir` (empty when it does not exist).
fn listing(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// An image whose mount destinations are links aimed out of its root (a
/// `..` climb, an absolute host path) gets its volumes and bind mounts
/// where the links lead inside its own root, as runc's securejoin clamps
/// them: the host directories stay untouched, the container sees the files
/// at the clamped paths.
#[test]
fn mount_destinations_through_hostile_links_stay_in_the_root() {
    let s = busybox();
    let host = host_target(&s, "victim");
    let climb = format!("/../../../../..{}/climb", host.display());
    s.import_with("hostile-links", |t| {
        t.symlink("climb", &climb)
            .symlink("abs", host.to_str().unwrap())
            .symlink("tmpesc", "/../../../../tmp/escape");
    });
    let src = s.make_dir(&s.home.join("files/src"));
    s.write_file("src/f", b"bound\n");
    let o = s.ok(&[
        "run",
        "--rm",
        "-v",
        "hv:/climb",
        "-v",
        &format!("{}:/abs/sub", src.display()),
        "-v",
        "tv:/tmpesc",
        "hostile-links",
        "sh",
        "-c",
        &format!(
            "echo v > /climb/v; echo t > /tmpesc/t; cat {h}/climb/v {h}/sub/f /tmp/escape/t",
            h = host.display()
        ),
    ]);
    assert_eq!(o, "v\nbound\nt\n");
    assert!(listing(&host).is_empty(), "{:?}", listing(&host));
    assert!(!Path::new("/tmp/escape").exists());
    let mp = s.ok(&["volume", "inspect", "--format", "{{.Mountpoint}}", "hv"]);
    assert_eq!(
        fs::read_to_string(Path::new(mp.trim()).join("v")).unwrap(),
        "v\n"
    );
}

/// `COPY` onto links of a hostile base image aimed out of its root lands
/// inside the image, never in the host directory the link names.
#[test]
fn copy_through_hostile_links_stays_in_the_image() {
    let s = busybox();
    let host = host_target(&s, "buildvictim");
    s.import_with("localhost/hostile-base", |t| {
        t.symlink("abs", host.to_str().unwrap())
            .symlink("tmpesc", "/../../../../tmp/escape-build");
    });
    let ctx = s.make_dir(&s.home.join("files/hctx"));
    s.write_file(
        "hctx/Containerfile",
        b"FROM localhost/hostile-base\nCOPY x /abs/\nCOPY x /tmpesc/sub/\n",
    );
    s.write_file("hctx/x", b"x\n");
    s.ok(&["build", "-t", "hostile-copy", ctx.to_str().unwrap()]);
    assert!(listing(&host).is_empty(), "{:?}", listing(&host));
    assert!(!Path::new("/tmp/escape-build").exists());
    let o = s.ok(&[
        "run",
        "--rm",
        "hostile-copy",
        "cat",
        &format!("{}/x", host.display()),
        "/tmp/escape-build/sub/x",
    ]);
    assert_eq!(o, "x\nx\n");
}

/// A run refused at start (a mount point that cannot be made) leaves no
/// container and no volume it created.
#[test]
fn a_refused_mount_leaves_no_new_volume() {
    let s = busybox();
    s.import_with("filelink", |t| {
        t.file("plain", b"p\n", 0o644, 0, 0);
    });
    let e = s.fails_engine(&["run", "--rm", "-v", "fresh:/plain/sub", "filelink", "true"]);
    assert!(e.contains("/plain/sub"), "{e}");
    assert_eq!(s.ok(&["volume", "ls", "-q"]), "");
    assert!(s.container_ids().is_empty());
}

#[test]
fn import_of_an_endless_stream_stops_and_leaves_nothing() {
    let s = Skiff::new();
    // /dev/zero is an empty archive (its first blocks are the end marker)
    // followed by zeros without end: refused at once, not read forever
    // (a regression trips the command's timeout).
    let e = s.fails_engine(&["import", "/dev/zero", "localhost/zero"]);
    assert!(
        e.ends_with("invalid tar: more than 1 MiB after the end of the archive"),
        "{e}"
    );
    assert_eq!(s.image_ids(), Vec::<String>::new(), "an image was left");
    assert_store_dirs_empty(&s.store(), &["layers", "tmp"], "the refused import");
}

/// Waits for `child` and returns its exit code and its peak resident
/// memory in KiB (`ru_maxrss`; setpriv execs skiff, so it is skiff's).
fn wait_with_peak_rss(child: std::process::Child) -> (i32, i64) {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: a plain struct of integers, filled by wait4.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our unwaited child; status and usage are valid for writes.
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(got, pid, "wait4: {}", std::io::Error::last_os_error());
    std::mem::forget(child); // reaped here, not by its Drop
    (libc::WEXITSTATUS(status), usage.ru_maxrss)
}

#[test]
fn logs_of_an_endless_line_take_bounded_memory() {
    let s = busybox();
    // 128 MiB without a newline: one line of 4,096 partial records.
    const SIZE: u64 = 128 << 20;
    s.ok(&[
        "run",
        "--name",
        "flood",
        "--network",
        "none",
        BUSYBOX,
        "sh",
        "-c",
        &format!("head -c {SIZE} /dev/zero"),
    ]);
    for args in [
        &["logs", "flood"][..],
        &["logs", "--tail", "1", "flood"][..],
    ] {
        let mut child = s.spawn(args);
        let mut out = child.stdout.take().unwrap();
        let counter = std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let (code, peak_kib) = wait_with_peak_rss(child);
        let printed = counter.join().unwrap().unwrap();
        assert_eq!((code, printed), (0, SIZE), "{args:?}");
        // The whole log read at once took 3 times its size (2.9 GB for 1 GB).
        assert!(
            peak_kib < 64 << 10,
            "{args:?} held {peak_kib} KiB for a {} MiB log",
            SIZE >> 20
        );
    }
}

/// Nests `a/a/a/...` `argv[2]` levels deep below directory `argv[1]`, by
/// relative chdir (no path grows), and writes a file at the bottom.
const NESTER: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc != 3 || chdir(argv[1])) return 2;
    long n = atol(argv[2]);
    for (long i = 0; i < n; i++)
        if (mkdir("a", 0755) != 0 || chdir("a") != 0) { perror("a"); return 1; }
    FILE *f = fopen("bottom", "w");
    if (!f) return 1;
    fputs("x\n", f);
    return fclose(f) != 0;
}
"#;

/// A container can nest directories far deeper than the descriptors a
/// process may open; removing its storage (`rm`) or a volume it filled
/// (`volume rm`) still removes everything, with few descriptors: std's
/// remove_dir_all holds one per level and stopped at EMFILE, leaving the
/// tree in the store and a warning on every later volume command.
#[test]
fn trees_deeper_than_the_descriptor_limit_are_removed() {
    let s = busybox();
    let bin = s.home.join("cc").join("nester");
    build_static_c(NESTER, &bin);
    s.import_with("localhost/nester:1", |t| {
        t.file("nester", &fs::read(&bin).unwrap(), 0o755, 0, 0);
    });
    const DEPTH: &str = "3000";
    s.ok(&[
        "run",
        "--name",
        "deep",
        "--network",
        "none",
        "localhost/nester:1",
        "/nester",
        "/",
        DEPTH,
    ]);
    s.ok(&["volume", "create", "deepvol"]);
    s.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "deepvol:/v",
        "localhost/nester:1",
        "/nester",
        "/v",
        DEPTH,
    ]);
    // 256 descriptors: far fewer than the levels, whatever the machine's limit.
    let limited = |args: &[&str]| {
        let o = run_command(
            s.command_under(
                &[
                    "prlimit".as_ref(),
                    "--nofile=256:256".as_ref(),
                    "--".as_ref(),
                ],
                args,
            ),
            s.cmdline(args),
            None,
            DEFAULT_TIMEOUT,
        )
        .unwrap();
        assert_eq!(o.code, 0, "{}", o.describe());
        assert_eq!(o.stderr, "", "{}", o.describe());
    };
    limited(&["rm", "deep"]);
    limited(&["volume", "rm", "deepvol"]);
    assert!(s.container_ids().is_empty());
    for dir in ["containers", "volumes"] {
        let left: Vec<String> = fs::read_dir(s.store().join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != ".lock")
            .collect();
        assert!(left.is_empty(), "{dir} keeps {left:?}");
    }
    // Nothing was left for a later command to trip over.
    let o = s.cmd(&["volume", "ls"]);
    assert_eq!((o.code, o.stderr.as_str()), (0, ""), "{}", o.describe());
}
