//! Test harness: runs the real `skiff` binary as an unprivileged user with
//! subordinate ids, each test in its own private home (own store, own user
//! namespace holder), and builds the busybox fixture image once per test binary.
//!
//! Started as root, the harness drops to the user `skiff-test` (made by
//! `.ci/setup`); started as an ordinary user, it runs skiff as that user, who
//! must then have /etc/subuid and /etc/subgid ranges.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The unprivileged user the suite drops to when started as root.
pub const TEST_USER: &str = "skiff-test";
/// The name every test gives the fixture image.
pub const BUSYBOX: &str = "localhost/busybox:latest";
/// The text of /www/index.html in the fixture.
pub const INDEX_HTML: &str = "hello from the skiff fixture\n";
/// The text of /home/tester/hello.txt (owned by 1000:1000) in the fixture.
pub const TESTER_FILE: &str = "owned by tester\n";
/// How long one skiff command may take before the test fails.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What the whole test binary shares: who skiff runs as, where its binary and
/// the fixture are.
pub struct Env {
    /// Some(uid, gid) when the suite runs as root and drops to `skiff-test`.
    pub drop_to: Option<(u32, u32)>,
    /// The name of the user skiff runs as.
    pub user: String,
    /// The host uid and gid skiff runs as.
    pub uid: u32,
    pub gid: u32,
    /// The user's subordinate ranges: (start, count).
    pub subuid: (u32, u32),
    pub subgid: (u32, u32),
    /// Directory of this test binary's files (binary copy, fixture, homes).
    pub base: PathBuf,
    /// The skiff binary the user can execute.
    pub bin: PathBuf,
    /// The busybox rootfs tarball.
    pub fixture: PathBuf,
}

static ENV: OnceLock<Env> = OnceLock::new();

/// The one-time set-up, shared by every test of this binary.
pub fn env() -> &'static Env {
    ENV.get_or_init(init)
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn init() -> Env {
    let root = is_root();
    let (name, uid, gid) = if root {
        let user = match nix::unistd::User::from_name(TEST_USER).expect("getpwnam") {
            Some(u) => u,
            None => {
                run_setup_no_apt();
                nix::unistd::User::from_name(TEST_USER)
                    .expect("getpwnam")
                    .unwrap_or_else(|| {
                        panic!("user {TEST_USER} does not exist: run `sudo .ci/setup` first")
                    })
            }
        };
        (user.name, user.uid.as_raw(), user.gid.as_raw())
    } else {
        let uid = nix::unistd::getuid();
        let user = nix::unistd::User::from_uid(uid)
            .expect("getpwuid")
            .unwrap_or_else(|| panic!("uid {uid} has no passwd entry"));
        (user.name, uid.as_raw(), user.gid.as_raw())
    };
    let subuid = subordinate_range("/etc/subuid", &name, uid).unwrap_or_else(|| {
        panic!(
            "user {name} has no range in /etc/subuid: run `sudo .ci/setup` \
             (or add `{name}:200000:65536` to /etc/subuid and /etc/subgid)"
        )
    });
    let subgid = subordinate_range("/etc/subgid", &name, uid)
        .unwrap_or_else(|| panic!("user {name} has no range in /etc/subgid: run `sudo .ci/setup`"));
    if root {
        // The devices rootless networking and fuse-overlayfs need; distributions
        // ship them 0666, this VM does not.
        for dev in ["/dev/net/tun", "/dev/fuse"] {
            if let Ok(m) = fs::metadata(dev) {
                if m.mode() & 0o006 != 0o006 {
                    run_setup_no_apt();
                    break;
                }
            }
        }
    }
    assert!(
        Path::new("/bin/busybox").exists(),
        "/bin/busybox is missing: install busybox-static (`sudo .ci/setup`)"
    );

    let tmp = std::env::var_os("TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    remove_stale_bases(&tmp);
    let base = tmp.join(format!("skiff-test-{}", std::process::id()));
    let _ = fs::remove_dir_all(&base);
    mkdir_mode(&base, 0o755);
    let bin = if root {
        let dir = base.join("bin");
        mkdir_mode(&dir, 0o755);
        let bin = dir.join("skiff");
        fs::copy(env!("CARGO_BIN_EXE_skiff"), &bin).expect("copy the skiff binary");
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
        bin
    } else {
        PathBuf::from(env!("CARGO_BIN_EXE_skiff"))
    };
    let fixture_dir = base.join("fixture");
    mkdir_mode(&fixture_dir, 0o755);
    let fixture = fixture_dir.join("busybox.tar");
    fs::write(&fixture, busybox_rootfs()).expect("write the fixture tarball");
    fs::set_permissions(&fixture, fs::Permissions::from_mode(0o644)).unwrap();

    Env {
        drop_to: root.then_some((uid, gid)),
        user: name,
        uid,
        gid,
        subuid,
        subgid,
        base,
        bin,
        fixture,
    }
}

/// Runs the user and machine part of `.ci/setup` (no apt).
fn run_setup_no_apt() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/setup");
    let out = Command::new("bash")
        .arg(&script)
        .arg("--no-apt")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} --no-apt failed: {}{}\nrun `sudo .ci/setup` by hand",
        script.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Removes the directories of earlier test runs whose process is gone.
fn remove_stale_bases(tmp: &Path) {
    let Ok(entries) = fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("skiff-test-") else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            unmount_under(&e.path());
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// Parses `/etc/subuid`-style files: `name:start:count` or `uid:start:count`.
pub fn subordinate_range(file: &str, name: &str, uid: u32) -> Option<(u32, u32)> {
    let text = fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| {
        let mut f = l.trim().split(':');
        let who = f.next()?;
        let start = f.next()?.parse().ok()?;
        let count = f.next()?.parse().ok()?;
        (who == name || who == uid.to_string()).then_some((start, count))
    })
}

fn mkdir_mode(p: &Path, mode: u32) {
    fs::create_dir_all(p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

fn chown(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("chown {}: {e}", p.display()));
}

// ---------------------------------------------------------------------------
// Tarballs

/// Builds layer tarballs entry by entry, including entries a well-behaved tar
/// writer refuses (`..`, absolute paths), for the hostile-archive tests.
pub struct TarBuilder {
    b: tar::Builder<Vec<u8>>,
}

impl Default for TarBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TarBuilder {
    pub fn new() -> Self {
        TarBuilder {
            b: tar::Builder::new(Vec::new()),
        }
    }

    fn header(path: &str, kind: tar::EntryType, mode: u32, uid: u64, gid: u64) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        // Written raw so that hostile names (`../x`, `/x`) reach the archive.
        let name = &mut h.as_old_mut().name;
        assert!(path.len() < name.len(), "tar path too long: {path}");
        name.fill(0);
        name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(gid);
        h.set_mtime(1_700_000_000);
        h.set_size(0);
        h
    }

    pub fn dir(&mut self, path: &str, mode: u32, uid: u64, gid: u64) -> &mut Self {
        let mut h = Self::header(path, tar::EntryType::Directory, mode, uid, gid);
        h.set_cksum();
        self.b.append(&h, std::io::empty()).unwrap();
        self
    }

    pub fn file(&mut self, path: &str, data: &[u8], mode: u32, uid: u64, gid: u64) -> &mut Self {
        let mut h = Self::header(path, tar::EntryType::Regular, mode, uid, gid);
        h.set_size(data.len() as u64);
        h.set_cksum();
        self.b.append(&h, data).unwrap();
        self
    }

    pub fn symlink(&mut self, path: &str, target: &str) -> &mut Self {
        let mut h = Self::header(path, tar::EntryType::Symlink, 0o777, 0, 0);
        h.set_link_name_literal(target).unwrap();
        h.set_cksum();
        self.b.append(&h, std::io::empty()).unwrap();
        self
    }

    pub fn hardlink(&mut self, path: &str, target: &str) -> &mut Self {
        let mut h = Self::header(path, tar::EntryType::Link, 0o644, 0, 0);
        h.set_link_name_literal(target).unwrap();
        h.set_cksum();
        self.b.append(&h, std::io::empty()).unwrap();
        self
    }

    /// Appends an entry made by the caller (FIFOs, GNU sparse files).
    pub fn raw(&mut self, h: &tar::Header, data: &[u8]) -> &mut Self {
        self.b.append(h, data).unwrap();
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.b.into_inner().unwrap()
    }
}

/// The fixture root filesystem: the host's static busybox, one symlink per
/// applet, users root/tester/nobody, a tester-owned home and a web root.
pub fn busybox_rootfs() -> Vec<u8> {
    let mut t = TarBuilder::new();
    busybox_base(&mut t);
    t.finish()
}

/// Adds the fixture's entries to `t`, so that tests can append their own.
pub fn busybox_base(t: &mut TarBuilder) {
    let busybox = fs::read("/bin/busybox").expect("read /bin/busybox");
    let list = Command::new("/bin/busybox")
        .arg("--list-full")
        .output()
        .expect("busybox --list-full");
    assert!(list.status.success(), "busybox --list-full failed");
    let applets = String::from_utf8(list.stdout).unwrap();

    for d in [
        "bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "home", "www", "var",
    ] {
        t.dir(d, 0o755, 0, 0);
    }
    for d in ["proc", "sys", "dev", "run"] {
        t.dir(d, 0o755, 0, 0);
    }
    t.dir("tmp", 0o1777, 0, 0);
    t.dir("var/tmp", 0o1777, 0, 0);
    t.dir("root", 0o700, 0, 0);
    t.dir("home/tester", 0o755, 1000, 1000);
    t.file(
        "home/tester/hello.txt",
        TESTER_FILE.as_bytes(),
        0o640,
        1000,
        1000,
    );
    t.file("bin/busybox", &busybox, 0o755, 0, 0);
    for applet in applets.lines().map(str::trim).filter(|a| !a.is_empty()) {
        if applet != "bin/busybox" {
            t.symlink(applet, "/bin/busybox");
        }
    }
    t.file(
        "etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\n\
          tester:x:1000:1000:tester:/home/tester:/bin/sh\n\
          nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        0o644,
        0,
        0,
    );
    t.file(
        "etc/group",
        b"root:x:0:\ntester:x:1000:\nnogroup:x:65534:\n",
        0o644,
        0,
        0,
    );
    t.file(
        "etc/os-release",
        b"NAME=\"skiff test busybox\"\nID=skiff-busybox\nPRETTY_NAME=\"skiff test busybox\"\n",
        0o644,
        0,
        0,
    );
    t.file("www/index.html", INDEX_HTML.as_bytes(), 0o644, 0, 0);
}

// ---------------------------------------------------------------------------
// Running skiff

/// The outcome of one skiff command.
#[derive(Debug)]
pub struct Output {
    pub cmdline: String,
    /// The exit code, or 128 + signal when killed by a signal.
    pub code: i32,
    pub stdout: String,
    pub stdout_bytes: Vec<u8>,
    pub stderr: String,
}

impl Output {
    /// A readable account for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "command: {}\nexit code: {}\n--- stdout ---\n{}\n--- stderr ---\n{}\n------",
            self.cmdline, self.code, self.stdout, self.stderr
        )
    }
}

/// Runs a prepared command to its end: `input` on stdin (null when None),
/// stdout and stderr collected. The command must lead its own process
/// group (as `Skiff::command` makes it): on timeout the whole group is
/// killed. Errors (as text for a panic message) when it cannot start, when
/// it outlives `timeout`, or when its output stays open 10 s after it
/// exited (a process it started kept the pipe).
pub fn run_command(
    mut c: Command,
    cmdline: String,
    input: Option<&[u8]>,
    timeout: Duration,
) -> Result<Output, String> {
    c.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = c
        .spawn()
        .map_err(|e| format!("cannot start {cmdline}: {e}"))?;
    // The parent's copies of descriptors handed to the child (pre_exec
    // closures, Stdio values) close with the Command.
    drop(c);
    let pid = child.id() as i32;
    let deadline = Instant::now() + timeout;

    let stdout = reader(child.stdout.take().unwrap());
    let stderr = reader(child.stderr.take().unwrap());
    if let Some(data) = input {
        let mut w = child.stdin.take().unwrap();
        let data = data.to_vec();
        // A writer thread, so that a child that does not read cannot block us.
        std::thread::spawn(move || {
            let _ = w.write_all(&data);
        });
    }
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(s) => s.map_err(|e| format!("wait for {cmdline}: {e}"))?,
        Err(_) => {
            kill_group(pid);
            let out = stdout
                .recv_timeout(Duration::from_secs(2))
                .unwrap_or_default();
            let err = stderr
                .recv_timeout(Duration::from_secs(2))
                .unwrap_or_default();
            return Err(format!(
                "timed out after {timeout:?}: {cmdline}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&err)
            ));
        }
    };
    let code = exit_code(status);
    // skiff has exited; its output must close now unless something it
    // started kept the pipes (a supervisor that did not detach its stdio).
    let grace = Duration::from_secs(10);
    let out = stdout.recv_timeout(grace).map_err(|_| {
        format!(
            "{cmdline} exited with {code} but its stdout stayed open: a process it started kept it"
        )
    })?;
    let err = stderr.recv_timeout(grace).map_err(|_| {
        format!(
            "{cmdline} exited with {code} but its stderr stayed open: a process it started kept it"
        )
    })?;
    Ok(Output {
        cmdline,
        code,
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stdout_bytes: out,
        stderr: String::from_utf8_lossy(&err).into_owned(),
    })
}

/// The exit code of a finished process, 128 + signal when a signal ended it
/// (as a shell reports it).
pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Who a `Skiff` runs as.
#[derive(Clone, Debug)]
pub struct RunAs {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Commands go through `setpriv` to this user (the suite runs as root);
    /// otherwise they run as the suite's own user.
    pub drop: bool,
}

/// How long the processes of a test may take to end on their own after its
/// last command (a `run --rm` supervisor removing its container) before the
/// harness calls them left behind.
const SETTLE: Duration = Duration::from_secs(5);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// One test's skiff, run as one user: a private home with its own store,
/// runtime directory and namespace holder.
///
/// Dropping it tears the store down with `skiff system reset --force` and
/// removes the home. It fails the test (panics, after the clean-up, unless
/// the test is already panicking) when:
/// - processes of the store other than its holders were still running when
///   the test ended (a detached container, a supervisor, pasta, a CLI the
///   test spawned and never waited for), unless the test declared them with
///   [`Skiff::expect_running`];
/// - anything of the store survived the reset (the harness then kills it).
pub struct Skiff {
    pub home: PathBuf,
    pub data_home: PathBuf,
    pub runtime_dir: PathBuf,
    pub config_home: PathBuf,
    user: RunAs,
    driver: Option<String>,
    pub timeout: Duration,
    expect_running: AtomicBool,
    /// The `--root`/`--runroot` flags of every other store a command of
    /// this test used (each list as given), so that the drop tears those
    /// down too.
    other_stores: Mutex<Vec<Vec<String>>>,
}

impl Default for Skiff {
    fn default() -> Self {
        Self::new()
    }
}

/// A skiff as the test user with the busybox fixture imported.
pub fn busybox() -> Skiff {
    let s = Skiff::new();
    s.import_busybox();
    s
}

impl Skiff {
    /// A skiff as the test user (`skiff-test` when the suite runs as root).
    pub fn new() -> Self {
        let e = env();
        let user = RunAs {
            name: e.user.clone(),
            uid: e.uid,
            gid: e.gid,
            drop: e.drop_to.is_some(),
        };
        Self::for_user(user, "home")
    }

    /// A skiff as `skiff-nosub`, the user without subordinate ids, for the
    /// single-id fallback. Needs the suite to run as root.
    pub fn nosub() -> Self {
        assert!(
            is_root(),
            "running skiff as {NOSUB_USER} needs root: run the suite as root (sudo .ci/run)"
        );
        let lookup = || nix::unistd::User::from_name(NOSUB_USER).expect("getpwnam");
        let has_ranges = |name: &str, uid: u32| {
            subordinate_range("/etc/subuid", name, uid).is_some()
                || subordinate_range("/etc/subgid", name, uid).is_some()
        };
        // `.ci/setup` makes the user and removes any ranges it was given.
        let user = match lookup() {
            Some(u) if !has_ranges(&u.name, u.uid.as_raw()) => u,
            _ => {
                run_setup_no_apt();
                lookup().unwrap_or_else(|| {
                    panic!("user {NOSUB_USER} does not exist: run `sudo .ci/setup` first")
                })
            }
        };
        assert!(
            !has_ranges(NOSUB_USER, user.uid.as_raw()),
            "{NOSUB_USER} has a range in /etc/subuid or /etc/subgid: remove it (`sudo .ci/setup`)"
        );
        let user = RunAs {
            name: user.name,
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            drop: true,
        };
        Self::for_user(user, "nosub")
    }

    /// A skiff that passes `--storage-driver NAME` to every command.
    pub fn with_driver(name: &str) -> Self {
        let mut s = Self::new();
        s.driver = Some(name.to_string());
        s
    }

    /// A fresh home `<base>/<prefix>-N` owned by `user`.
    fn for_user(user: RunAs, prefix: &str) -> Self {
        let e = env();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let home = e.base.join(format!("{prefix}-{n}"));
        let _ = fs::remove_dir_all(&home);
        let data_home = home.join(".local/share");
        let runtime_dir = home.join("run");
        let config_home = home.join(".config");
        for d in [
            &home,
            &home.join(".local"),
            &data_home,
            &runtime_dir,
            &config_home,
        ] {
            mkdir_mode(d, 0o700);
            if user.drop {
                chown(d, user.uid, user.gid);
            }
        }
        Skiff {
            home,
            data_home,
            runtime_dir,
            config_home,
            user,
            driver: None,
            timeout: DEFAULT_TIMEOUT,
            expect_running: AtomicBool::new(false),
            other_stores: Mutex::new(Vec::new()),
        }
    }

    /// Declares that the test ends with containers (or other processes of
    /// its store) still running on purpose: the drop then removes them
    /// without failing the test. It still fails if anything survives
    /// `system reset`.
    pub fn expect_running(&self) {
        self.expect_running.store(true, Ordering::SeqCst);
    }

    /// The user skiff runs as.
    pub fn user(&self) -> &RunAs {
        &self.user
    }

    /// The host uid skiff runs as (container root maps to it).
    pub fn uid(&self) -> u32 {
        self.user.uid
    }

    pub fn gid(&self) -> u32 {
        self.user.gid
    }

    /// The store's directory (the `--root` default under XDG_DATA_HOME).
    pub fn store(&self) -> PathBuf {
        self.data_home.join("skiff")
    }

    /// Gives a host path to the user skiff runs as (when the suite drops to it).
    pub fn give(&self, p: &Path) {
        if self.user.drop {
            chown(p, self.user.uid, self.user.gid);
        }
    }

    /// The argument list with the global flags this Skiff adds.
    fn full_args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut v = Vec::new();
        if let Some(d) = &self.driver {
            v.push("--storage-driver");
            v.push(d.as_str());
        }
        v.extend_from_slice(args);
        v
    }

    /// A `Command` that runs skiff as the test user with a clean environment,
    /// in its own process group, from the test's home.
    pub fn command(&self, args: &[&str]) -> Command {
        self.command_under(&[], args)
    }

    /// Like `command`, with skiff started by `wrapper` (a program and its
    /// arguments, run as the user, that execs the rest of its command line).
    pub fn command_under(&self, wrapper: &[&OsStr], args: &[&str]) -> Command {
        let mut c = self.command_in_session_under(wrapper, args);
        c.process_group(0);
        c
    }

    /// Like `command`, but leaves the process group alone, for callers that
    /// start their own session (a controlling terminal needs setsid).
    pub fn command_in_session(&self, args: &[&str]) -> Command {
        self.command_in_session_under(&[], args)
    }

    fn command_in_session_under(&self, wrapper: &[&OsStr], args: &[&str]) -> Command {
        let flags = store_flags(args);
        if !flags.is_empty() {
            let mut seen = self.other_stores.lock().unwrap();
            if !seen.contains(&flags) {
                seen.push(flags);
            }
        }
        let mut argv: Vec<&OsStr> = wrapper.to_vec();
        argv.push(env().bin.as_os_str());
        argv.extend(self.full_args(args).into_iter().map(OsStr::new));
        let mut c = if self.user.drop {
            let mut c = Command::new("setpriv");
            c.arg(format!("--reuid={}", self.user.uid))
                .arg(format!("--regid={}", self.user.gid))
                .arg("--init-groups")
                .arg("--")
                .args(argv);
            c
        } else {
            let mut c = Command::new(argv[0]);
            c.args(&argv[1..]);
            c
        };
        c.env_clear()
            .env("PATH", PATH)
            .env("HOME", &self.home)
            .env("XDG_DATA_HOME", &self.data_home)
            .env("XDG_RUNTIME_DIR", &self.runtime_dir)
            .env("XDG_CONFIG_HOME", &self.config_home)
            .env("LANG", "C")
            .current_dir(&self.home);
        c
    }

    /// The command line as a shell would take it, for messages.
    pub fn cmdline(&self, args: &[&str]) -> String {
        let mut s = String::from("skiff");
        if self.user.name != TEST_USER && self.user.drop {
            s = format!("[as {}] skiff", self.user.name);
        }
        for a in self.full_args(args) {
            if a.is_empty()
                || a.contains(|c: char| c.is_whitespace() || "'\"$;&|<>*?()\\".contains(c))
            {
                s.push_str(&format!(" '{}'", a.replace('\'', "'\\''")));
            } else {
                s.push(' ');
                s.push_str(a);
            }
        }
        s
    }

    /// Runs skiff with `args`, no stdin.
    pub fn cmd(&self, args: &[&str]) -> Output {
        self.run_with(args, None, self.timeout)
    }

    /// Runs skiff with `args`, feeding `input` on stdin.
    pub fn cmd_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        self.run_with(args, Some(input), self.timeout)
    }

    /// Runs skiff like `cmd`, with extra environment variables (for
    /// `NOTIFY_SOCKET` and the like).
    pub fn cmd_env(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        let mut c = self.command(args);
        for (k, v) in vars {
            c.env(k, v);
        }
        self.run_prepared(c, args)
    }

    /// Runs `c`, a command made by `command` (or `command_under`) for
    /// `args` and changed by the caller, like `cmd` does.
    pub fn run_prepared(&self, c: Command, args: &[&str]) -> Output {
        run_command(c, self.cmdline(args), None, self.timeout).unwrap_or_else(|m| panic!("{m}"))
    }

    /// Runs skiff; panics with the command line when it outlives `timeout`.
    pub fn run_with(&self, args: &[&str], input: Option<&[u8]>, timeout: Duration) -> Output {
        self.try_run(args, input, timeout)
            .unwrap_or_else(|m| panic!("{m}"))
    }

    /// Like `run_with`, but reports a timeout as an error instead of panicking.
    pub fn try_run(
        &self,
        args: &[&str],
        input: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Output, String> {
        run_command(self.command(args), self.cmdline(args), input, timeout)
    }

    /// Starts skiff in the background (stdin null, stdout and stderr piped);
    /// the caller owns the child and must wait for it.
    pub fn spawn(&self, args: &[&str]) -> Child {
        let cmdline = self.cmdline(args);
        self.command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmdline}: {e}"))
    }

    /// Runs skiff, asserts exit 0 and returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.cmd(args);
        assert_eq!(o.code, 0, "expected success\n{}", o.describe());
        o.stdout
    }

    /// Like `ok`, feeding `input` on stdin.
    pub fn ok_stdin(&self, args: &[&str], input: &[u8]) -> String {
        let o = self.cmd_stdin(args, input);
        assert_eq!(o.code, 0, "expected success\n{}", o.describe());
        o.stdout
    }

    /// Runs skiff, asserts exit `code` and returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let o = self.cmd(args);
        assert_eq!(o.code, code, "expected exit code {code}\n{}", o.describe());
        o.stderr
    }

    /// Asserts that skiff failed as the engine (125) with exactly one
    /// `Error: ` line on stderr, and returns that line.
    pub fn fails_engine(&self, args: &[&str]) -> String {
        let o = self.cmd(args);
        assert_eq!(o.code, 125, "expected exit code 125\n{}", o.describe());
        one_error_line(&o)
    }

    /// `run --rm [flags] busybox sh -c script`; asserts exit 0, returns stdout.
    pub fn sh(&self, flags: &[&str], script: &str) -> String {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "sh", "-c", script]);
        self.ok(&args)
    }

    /// `inspect --format TEMPLATE NAME`, trimmed.
    pub fn inspect_format(&self, name: &str, template: &str) -> String {
        self.ok(&["inspect", "--format", template, name])
            .trim()
            .to_string()
    }

    /// Imports the fixture as `localhost/busybox:latest` with CMD /bin/sh.
    pub fn import_busybox(&self) {
        let fixture = env().fixture.to_str().unwrap();
        self.ok(&["import", fixture, BUSYBOX, "--change", r#"CMD ["/bin/sh"]"#]);
    }

    /// Imports the fixture with the entries `extra` appends (later entries
    /// win) as image `name`.
    pub fn import_with(&self, name: &str, extra: impl FnOnce(&mut TarBuilder)) {
        let mut t = TarBuilder::new();
        busybox_base(&mut t);
        extra(&mut t);
        let tar = self.write_file(
            &format!("{}.tar", name.replace(['/', ':'], "_")),
            &t.finish(),
        );
        self.ok(&["import", &s(&tar), name]);
    }

    /// Writes a file into the test home, readable by the user, and returns its path.
    pub fn write_file(&self, name: &str, data: &[u8]) -> PathBuf {
        let p = self.home.join("files").join(name);
        self.make_dir(p.parent().unwrap());
        fs::write(&p, data).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        self.give(&p);
        p
    }

    /// Creates a directory (and parents inside the home) owned by the user.
    pub fn make_dir(&self, p: &Path) -> PathBuf {
        fs::create_dir_all(p).unwrap();
        if self.user.drop {
            let mut cur = p.to_path_buf();
            while cur.starts_with(&self.home) && cur != self.home {
                self.give(&cur);
                if !cur.pop() {
                    break;
                }
            }
        }
        p.to_path_buf()
    }

    /// Mounts a tmpfs of `size` (as mount(8) takes it: `3m`) owned by the
    /// user at `<home>/NAME`; unmounted when the guard drops.
    pub fn small_tmpfs(&self, name: &str, size: &str) -> Tmpfs {
        assert!(
            is_root(),
            "this test mounts a small tmpfs: run the suite as root (sudo .ci/run)"
        );
        let dir = self.make_dir(&self.home.join(name));
        let opts = format!(
            "size={size},mode=0700,uid={},gid={}",
            self.uid(),
            self.gid()
        );
        nix::mount::mount(
            Some("tmpfs"),
            &dir,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some(opts.as_str()),
        )
        .expect("mounting a small tmpfs");
        Tmpfs(dir)
    }

    /// `images -q --no-trunc`, sorted: the image ids in the store.
    pub fn image_ids(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .ok(&["images", "-q", "--no-trunc"])
            .lines()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    }

    /// `ps -a -q --external`: the container ids in the store, build
    /// containers included.
    pub fn container_ids(&self) -> Vec<String> {
        self.ok(&["ps", "-a", "-q", "--external"])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The pid of this store's user-namespace holder, if its pid file exists.
    pub fn pause_pid(&self) -> Option<i32> {
        read_pid(&self.runtime_dir.join("skiff/pause.pid"))
    }

    /// Kills the namespace holder and waits until it is gone (reaped by
    /// whoever adopted it), so that the next command must make a new one.
    pub fn kill_holder(&self) {
        let Some(pid) = self.pause_pid() else {
            return;
        };
        kill(pid);
        let deadline = Instant::now() + Duration::from_secs(10);
        while proc_alive(pid) {
            assert!(Instant::now() < deadline, "holder {pid} survived SIGKILL");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The run directories this test's commands used: the default one and
    /// any given with `--runroot`.
    fn runroots(&self) -> Vec<PathBuf> {
        let mut v = vec![self.runtime_dir.join("skiff")];
        for flags in self.other_stores.lock().unwrap().iter() {
            for pair in flags.chunks(2) {
                if pair[0] == "--runroot" {
                    v.push(PathBuf::from(&pair[1]));
                }
            }
        }
        v
    }

    /// The user-namespace holders of every run directory this test used.
    fn pause_pids(&self) -> Vec<i32> {
        self.runroots()
            .iter()
            .filter_map(|r| read_pid(&r.join("pause.pid")))
            .collect()
    }

    /// The long-lived holders of every store this test used, which stay
    /// between commands by design (as Podman's pause process and
    /// rootless-netns): the user-namespace holder, the rootless network
    /// namespace's holder and its outbound helper.
    fn holders(&self) -> Vec<i32> {
        let mut v = Vec::new();
        for runroot in self.runroots() {
            let netns = runroot.join("netns");
            let helper = fs::read_to_string(netns.join("rootless-netns.helper"))
                .ok()
                .and_then(|h| h.split_whitespace().next()?.parse().ok());
            v.extend(
                [
                    read_pid(&runroot.join("pause.pid")),
                    read_pid(&netns.join("rootless-netns.pid")),
                    helper,
                ]
                .into_iter()
                .flatten(),
            );
        }
        v
    }

    /// The processes of [`Skiff::processes`] whose command line contains
    /// `needle` (`_infra` finds the pods' infra processes).
    pub fn processes_with(&self, needle: &str) -> Vec<i32> {
        self.processes()
            .into_iter()
            .filter(|p| cmdline(*p).contains(needle))
            .collect()
    }

    /// Every live process that belongs to this test: the namespace holder,
    /// anything started with this test's environment, anything in the
    /// holder's user namespace, and all their descendants.
    pub fn processes(&self) -> Vec<i32> {
        let marker = format!("XDG_RUNTIME_DIR={}", self.runtime_dir.display());
        let pauses = self.pause_pids();
        let own_ns = fs::read_link("/proc/self/ns/user").ok();
        let holder_ns: Vec<PathBuf> = pauses
            .iter()
            .filter_map(|p| fs::read_link(format!("/proc/{p}/ns/user")).ok())
            .filter(|ns| Some(ns) != own_ns.as_ref())
            .collect();
        let table = process_table();
        let mut found: Vec<i32> = table
            .iter()
            .filter(|p| {
                pauses.contains(&p.pid)
                    || p.environ.split(|b| *b == 0).any(|v| v == marker.as_bytes())
                    || p.userns.as_ref().is_some_and(|ns| holder_ns.contains(ns))
            })
            .map(|p| p.pid)
            .collect();
        loop {
            let more: Vec<i32> = table
                .iter()
                .filter(|p| found.contains(&p.ppid) && !found.contains(&p.pid))
                .map(|p| p.pid)
                .collect();
            if more.is_empty() {
                break;
            }
            found.extend(more);
        }
        found.retain(|p| *p != std::process::id() as i32);
        found
    }

    /// The processes of this test (other than its holders unless `holders`),
    /// once they have had `limit` to end on their own; empty as soon as
    /// there are none.
    fn left_running(&self, limit: Duration, holders: bool) -> Vec<i32> {
        let deadline = Instant::now() + limit;
        loop {
            let spared = if holders { Vec::new() } else { self.holders() };
            let mut left = self.processes();
            left.retain(|p| !spared.contains(p));
            if left.is_empty() || Instant::now() >= deadline {
                return left;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills every process of this test until none is left (10 s at most).
    fn kill_all(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let procs = self.processes();
            if procs.is_empty() || Instant::now() >= deadline {
                return;
            }
            for p in procs {
                kill(p);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A mount made by `Skiff::small_tmpfs`, lazily unmounted on drop.
pub struct Tmpfs(pub PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

impl Drop for Skiff {
    fn drop(&mut self) {
        let panicking = std::thread::panicking();
        let keep = std::env::var_os("SKIFF_TEST_KEEP").is_some();
        let mut failures = Vec::new();
        if !panicking && !self.expect_running.load(Ordering::SeqCst) {
            let left = self.left_running(SETTLE, false);
            if !left.is_empty() {
                failures.push(format!(
                    "the test left processes of its store running (stop them, or call \
                     expect_running() when that is the point):\n{}",
                    describe_processes(&left)
                ));
            }
        }
        let others = self.other_stores.lock().unwrap().clone();
        // The other stores first, the default one last.
        let stores = others.iter().map(Vec::as_slice).chain([&[][..]]);
        // A store with nothing running has nothing to stop, and root removes
        // the files itself. Not calling skiff then also keeps the drop from
        // making a holder just to stop it: `system reset` on a store without
        // a running holder makes one and may leave it behind (see
        // `system_reset_leaves_no_holder_behind` in tests/system.rs).
        let holders = self.holders();
        let others_run = self.processes().iter().any(|p| !holders.contains(p));
        let teardown_needed = |flags: &[String]| {
            let runroot = flags
                .chunks(2)
                .find(|pair| pair[0] == "--runroot")
                .map_or_else(
                    || self.runtime_dir.join("skiff"),
                    |pair| PathBuf::from(&pair[1]),
                );
            let holder_runs = read_pid(&runroot.join("pause.pid")).is_some_and(proc_alive);
            !is_root() || others_run || holder_runs
        };
        // skiff's own teardown: every container, network and volume, the
        // holders, the files (which belong to subordinate ids); only the
        // containers when the files are to be kept.
        let teardown: &[&str] = if keep {
            &["rm", "-a", "-f"]
        } else {
            &["system", "reset", "--force"]
        };
        for flags in stores.filter(|f| teardown_needed(f)) {
            let args: Vec<&str> = flags
                .iter()
                .map(String::as_str)
                .chain(teardown.iter().copied())
                .collect();
            let _ = self.try_run(&args, None, Duration::from_secs(60));
        }
        if keep {
            for p in self.holders() {
                kill(p);
            }
        }
        // Nothing of the store may outlive that; the killed get a moment to
        // be reaped by whoever adopted them.
        let survivors = self.left_running(SETTLE, true);
        if !survivors.is_empty() {
            failures.push(format!(
                "processes of the store outlived `skiff {}` (the harness killed them):\n{}",
                teardown.join(" "),
                describe_processes(&survivors)
            ));
            self.kill_all();
        }
        if keep {
            eprintln!("keeping {}", self.home.display());
        } else {
            if is_root() {
                unmount_under(&self.home);
            }
            if let Err(e) = fs::remove_dir_all(&self.home) {
                let _ = Command::new("rm").arg("-rf").arg(&self.home).status();
                if self.home.exists() {
                    eprintln!("warning: cannot remove {}: {e}", self.home.display());
                }
            }
        }
        if failures.is_empty() {
            return;
        }
        if panicking {
            // The test has failed already; a second panic would abort.
            eprintln!("{}", failures.join("\n"));
        } else {
            panic!("{}", failures.join("\n"));
        }
    }
}

/// Whether the suite runs under CI (`CI` set in the environment, as `.ci/run`
/// and the fresh-machine run set it): there every precondition `.ci/setup`
/// provides must hold, so a test that cannot run fails instead of skipping.
pub fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Reports that `test` (or the named part of it) cannot run on this machine
/// because of `reason`: prints `SKIPPED: <test>: <reason>` on stderr, and the
/// caller then returns. Under CI ([`under_ci`]) it panics instead, since CI
/// provides every precondition this is used for (root, `.ci/setup`'s
/// packages). For what CI legitimately lacks use [`skip_even_under_ci`].
pub fn skip(test: &str, reason: &str) {
    assert!(
        !under_ci(),
        "{test}: cannot run under CI, which should provide it: {reason}"
    );
    eprintln!("SKIPPED: {test}: {reason}");
}

/// Like [`skip`], for a precondition CI legitimately lacks too (a delegated
/// cgroup v2 subtree, a filesystem feature of the host); `covered_by` says
/// where it is checked instead (the VM lane) or why nothing else can.
/// Prints `SKIPPED: <test>: <reason> (<covered_by>)` and never panics.
pub fn skip_even_under_ci(test: &str, reason: &str, covered_by: &str) {
    eprintln!("SKIPPED: {test}: {reason} ({covered_by})");
}

/// The message of a warning line as Podman prints it and skiff must
/// (logrus's `WARN[NNNN] message`, NNNN the seconds since the start), or
/// None when `line` is not one.
pub fn warning_text(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("WARN[")?;
    let (secs, msg) = rest.split_at_checked(4)?;
    let msg = msg.strip_prefix("] ")?;
    secs.bytes().all(|b| b.is_ascii_digit()).then_some(msg)
}

/// The warnings on stderr of `o`: each of its lines must be one (a line in
/// any other form fails the test), and their messages are returned.
pub fn warnings(o: &Output) -> Vec<String> {
    o.stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            warning_text(l)
                .unwrap_or_else(|| panic!("not a WARN[NNNN] line: {l:?}\n{}", o.describe()))
                .to_string()
        })
        .collect()
}

/// Asserts that stderr is exactly one line starting with `Error: ` and returns it.
pub fn one_error_line(o: &Output) -> String {
    let lines: Vec<&str> = o.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        lines.len() == 1 && lines[0].starts_with("Error: "),
        "expected one `Error: ` line on stderr\n{}",
        o.describe()
    );
    lines[0].to_string()
}

/// Reads `r` to its end in a thread; the receiver gets everything at once.
pub fn reader<R: Read + Send + 'static>(mut r: R) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

/// Reads from `r` in a thread, sending chunks as they come.
pub fn chunks<R: Read + Send + 'static>(mut r: R) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

/// Collects chunks into `acc` until `want` appears or `deadline` passes.
pub fn read_until(
    rx: &mpsc::Receiver<Vec<u8>>,
    acc: &mut Vec<u8>,
    want: &str,
    deadline: Instant,
) -> bool {
    loop {
        if String::from_utf8_lossy(acc).contains(want) {
            return true;
        }
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(c) => acc.extend(c),
            Err(_) => return String::from_utf8_lossy(acc).contains(want),
        }
    }
}

/// Waits for `child` up to `limit`; kills it and returns None on timeout.
pub fn wait_child(child: &mut Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return Some(exit_code(st));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// skiff on a fresh pty (`rows` x `cols`) as its controlling terminal: the
/// child and the master.
pub fn spawn_on_pty(s: &Skiff, args: &[&str], rows: u16, cols: u16) -> (Child, fs::File) {
    use nix::pty::{openpty, Winsize};
    let ws = Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = openpty(Some(&ws), None).expect("openpty");
    let mut c = s.command_in_session(args);
    c.stdin(Stdio::from(pty.slave.try_clone().unwrap()))
        .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
        .stderr(Stdio::from(pty.slave.try_clone().unwrap()));
    // SAFETY: only async-signal-safe calls (setsid, ioctl) between fork and exec.
    unsafe {
        c.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            if libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = c.spawn().expect("spawn skiff on a pty");
    drop(c);
    drop(pty.slave);
    (child, fs::File::from(pty.master))
}

/// Polls `f` every 100 ms until it returns true or `limit` passes.
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A free TCP port on 127.0.0.1 (bound for an instant).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GETs `/` from 127.0.0.1:port, retrying while the server starts (15 s);
/// returns the first answer with a 200.
pub fn http_get(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut c = std::net::TcpStream::connect(("127.0.0.1", port))?;
            c.set_read_timeout(Some(Duration::from_secs(5)))?;
            c.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")?;
            let mut out = String::new();
            c.read_to_string(&mut out)?;
            Ok(out)
        })();
        match attempt {
            Ok(body) if body.contains("200") => return body,
            other => {
                assert!(
                    Instant::now() < deadline,
                    "no HTTP answer on 127.0.0.1:{port}: {other:?}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// Asserts that each of `dirs` under the store `root` is empty or absent
/// (no image, layer, blob or temporary file was left by `what`).
pub fn assert_store_dirs_empty(root: &Path, dirs: &[&str], what: &str) {
    for dir in dirs {
        let left: Vec<_> = fs::read_dir(root.join(dir))
            .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{dir} keeps {left:?} after {what}");
    }
}

/// Sends the lines `r` gives as they come, from a thread.
pub fn line_reader<R: Read + Send + 'static>(r: R) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufRead::lines(std::io::BufReader::new(r)) {
            let Ok(l) = l else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    rx
}

/// Compiles C source `src` with the host's `cc` into a static program at
/// `out` (gcc and libc6-dev come with `.ci/setup`).
pub fn build_static_c(src: &str, out: &Path) {
    let c = out.with_extension("c");
    fs::create_dir_all(out.parent().unwrap()).unwrap();
    fs::write(&c, src).unwrap();
    let res = Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(out)
        .arg(&c)
        .output()
        .expect("run cc (gcc and libc6-dev: sudo .ci/setup)");
    assert!(
        res.status.success(),
        "cc -static {}: {}",
        c.display(),
        String::from_utf8_lossy(&res.stderr)
    );
}

/// A root filesystem whose every entry is owned by root: static busybox and
/// the applets `applets` (for images that need no id but 0).
pub fn root_only_rootfs(applets: &[&str]) -> Vec<u8> {
    let busybox = fs::read("/bin/busybox").expect("read /bin/busybox");
    let mut t = TarBuilder::new();
    for d in ["bin", "etc", "proc", "sys", "dev", "run", "root"] {
        t.dir(d, 0o755, 0, 0);
    }
    t.dir("tmp", 0o1777, 0, 0);
    t.file("bin/busybox", &busybox, 0o755, 0, 0);
    for applet in applets {
        t.symlink(&format!("bin/{applet}"), "/bin/busybox");
    }
    t.file(
        "etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\n",
        0o644,
        0,
        0,
    );
    t.file("etc/group", b"root:x:0:\n", 0o644, 0, 0);
    t.finish()
}

fn kill_group(pgid: i32) {
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pgid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

fn kill(pid: i32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// The `--root` and `--runroot` flags among `args` (global flags, so they
/// may stand anywhere), as `["--root", PATH, ...]`.
fn store_flags(args: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        for flag in ["--root", "--runroot"] {
            if *a == flag {
                if let Some(v) = it.next() {
                    out.extend([flag.to_string(), v.to_string()]);
                }
            } else if let Some(v) = a.strip_prefix(flag).and_then(|r| r.strip_prefix('=')) {
                out.extend([flag.to_string(), v.to_string()]);
            }
        }
    }
    out
}

fn read_pid(file: &Path) -> Option<i32> {
    fs::read_to_string(file).ok()?.trim().parse().ok()
}

/// Whether `pid` runs: a zombie is as good as gone, it runs nothing.
pub fn proc_alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(st) => st
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// The command line of `pid`, arguments joined by spaces.
pub fn cmdline(pid: i32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .trim_end_matches('\0')
                .replace('\0', " ")
        })
        .unwrap_or_default()
}

/// `PID COMMAND LINE`, one process a line, for failure messages.
fn describe_processes(pids: &[i32]) -> String {
    pids.iter()
        .map(|p| format!("  {p} {}", cmdline(*p)))
        .collect::<Vec<_>>()
        .join("\n")
}

struct Proc {
    pid: i32,
    ppid: i32,
    userns: Option<PathBuf>,
    environ: Vec<u8>,
}

/// Every live process (zombies left out).
fn process_table() -> Vec<Proc> {
    let mut v = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return v;
    };
    for e in entries.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The command name may contain spaces and parentheses: parse after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let mut f = rest.split_whitespace();
        let state = f.next().unwrap_or("");
        if state == "Z" || state == "X" {
            continue;
        }
        let ppid = f.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        v.push(Proc {
            pid,
            ppid,
            userns: fs::read_link(format!("/proc/{pid}/ns/user")).ok(),
            environ: fs::read(format!("/proc/{pid}/environ")).unwrap_or_default(),
        });
    }
    v
}

/// Lazily unmounts whatever this mount namespace has mounted under `dir`.
fn unmount_under(dir: &Path) {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let prefix = dir.to_string_lossy().into_owned();
    let mut points: Vec<String> = info
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .map(|p| p.replace("\\040", " "))
        .filter(|p| p.starts_with(&prefix))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = nix::mount::umount2(p.as_str(), nix::mount::MntFlags::MNT_DETACH);
    }
}

/// The namespaces the test process is in, one `KIND:[INODE]` link per
/// kind (`pid`, `ipc`, ...): those skiff runs in too, for a container that
/// should or should not share them (a user namespace changes none of them).
pub fn own_namespaces(kinds: &[&str]) -> Vec<String> {
    kinds
        .iter()
        .map(|k| {
            fs::read_link(format!("/proc/self/ns/{k}"))
                .unwrap()
                .display()
                .to_string()
        })
        .collect()
}

/// Owner uid and gid of a host path (not following symlinks).
pub fn owner(p: &Path) -> (u32, u32) {
    let m = fs::symlink_metadata(p).unwrap_or_else(|e| panic!("stat {}: {e}", p.display()));
    (m.uid(), m.gid())
}

/// Makes a path string from anything path-like, for argument lists.
pub fn s<P: AsRef<OsStr> + ?Sized>(p: &P) -> String {
    p.as_ref().to_string_lossy().into_owned()
}

/// The user `.ci/setup` makes without /etc/subuid and /etc/subgid ranges, for
/// the single-id fallback (`Skiff::nosub`).
pub const NOSUB_USER: &str = "skiff-nosub";
