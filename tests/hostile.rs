//! What a caller, an image or a container must not be able to do to the
//! host through skiff: leave descriptors and signal dispositions in its
//! helpers and containers, read a store made world-readable, hang or fill
//! the host with crafted layer content, exhaust the port forwarder.

mod common;

use std::fs;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;

fn busybox() -> Skiff {
    let s = Skiff::new();
    s.import_busybox();
    s
}

/// Runs skiff with `args`, its fd 3 the write end of a pipe, and returns
/// once skiff has exited and the pipe has been closed by every process
/// skiff started; fails the test when a process it left behind (holder,
/// supervisor, pasta, port forwarder) still holds the pipe 10 s later.
fn run_with_fd3(s: &Skiff, args: &[&str]) -> Output {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let wfd = w.as_raw_fd();
    let mut c = s.command(args);
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
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
    let mut child = c.spawn().expect("spawn skiff");
    drop(c);
    drop(w);
    let out = drain(child.stdout.take().unwrap());
    let err = drain(child.stderr.take().unwrap());
    let deadline = Instant::now() + s.timeout;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("timed out: skiff {args:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    let grace = Duration::from_secs(10);
    let out =
        String::from_utf8_lossy(&out.recv_timeout(grace).expect("stdout closes")).into_owned();
    let err =
        String::from_utf8_lossy(&err.recv_timeout(grace).expect("stderr closes")).into_owned();
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
            "skiff {args:?} exited ({code}) but processes it started still hold its fd 3: {holders:?}\n{err}"
        );
    }
    Output {
        cmdline: format!("skiff {}", args.join(" ")),
        code,
        stdout_bytes: out.clone().into_bytes(),
        stdout: out,
        stderr: err,
    }
}

fn drain<R: Read + Send + 'static>(mut r: R) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
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
    run_command(c, s.timeout, args)
}

/// Runs a prepared skiff command to its end (stdin null), failing the test
/// when it outlives `timeout`.
fn run_command(mut c: std::process::Command, timeout: Duration, args: &[&str]) -> Output {
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn skiff");
    let out = drain(child.stdout.take().unwrap());
    let err = drain(child.stderr.take().unwrap());
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("timed out after {timeout:?}: skiff {args:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let grace = Duration::from_secs(10);
    let out = out.recv_timeout(grace).expect("stdout closes");
    let err = err.recv_timeout(grace).expect("stderr closes");
    Output {
        cmdline: format!("skiff {}", args.join(" ")),
        code: status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stdout_bytes: out,
        stderr: String::from_utf8_lossy(&err).into_owned(),
    }
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

/// A free port on 127.0.0.1 (bound for an instant).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
    run_command(c, s.timeout, args)
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
    run_command(c, s.timeout, args)
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
