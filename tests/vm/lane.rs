//! What the VM lane's test files share (included by each with
//! `#[path = "vm/lane.rs"] mod lane;` next to `mod common;`): boot the guest
//! of tests/vm/build-image once, run one checks script of tests/vm/ in it as
//! the lingering user (after an optional setup script as root) (in a scope under user@1000.service) with this build's
//! skiff and the busybox fixture on the 9p share (the script's cwd), and
//! parse what it prints: `== SECTION` headers and `key=value` lines.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// One section of a checks script's output: its `key=value` lines (a
/// repeated key keeps the last value) and every line as printed.
#[derive(Debug, Default)]
pub struct Section {
    pub values: BTreeMap<String, String>,
    pub lines: Vec<String>,
}

/// The sections of one run, by name.
pub type Sections = BTreeMap<String, Section>;

/// Boots the guest and runs `tests/vm/SCRIPT` (bash) as the user, after
/// `tests/vm/SETUP` as root when given; panics with the guest's output
/// when either fails or the script gives no result.
pub fn run(script: &str, setup: Option<&str>) -> Sections {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let share = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vm-share-{}-{script}", std::process::id()));
    let _ = fs::remove_dir_all(&share);
    fs::create_dir_all(&share).unwrap();
    fs::set_permissions(&share, fs::Permissions::from_mode(0o755)).unwrap();
    let put = |name: &str, data: &[u8], mode: u32| {
        let p = share.join(name);
        fs::write(&p, data).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    };
    let skiff = binary(repo);
    put("skiff", &fs::read(&skiff).unwrap(), 0o755);
    put("busybox.tar", &crate::common::busybox_rootfs(), 0o644);
    put(
        script,
        &fs::read(repo.join("tests/vm").join(script)).unwrap(),
        0o755,
    );
    let t0 = Instant::now();
    let mut cmd = Command::new(repo.join("tests/vm/run"));
    cmd.args(["--user", "--share"]).arg(&share);
    if let Some(setup) = setup {
        cmd.arg("--setup").arg(repo.join("tests/vm").join(setup));
    }
    let out = cmd
        .args(["bash", script])
        .output()
        .expect("run tests/vm/run");
    let _ = fs::remove_dir_all(&share);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The whole output, kept for `.ci/run` to print when a test of the lane
    // fails: cargo shows only the failing tests' own output, and the
    // section a test asserts on may not be the one that tells why.
    let log = log_path(script);
    let _ = fs::write(
        &log,
        format!(
            "binary: {}\nstatus: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            skiff.display(),
            out.status
        ),
    );
    assert!(
        out.status.success(),
        "the VM lane ({script}) failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    eprintln!(
        "VM lane {script} ({}): boot and checks took {:.1} s; output:\n{stdout}\n{stderr}",
        skiff.display(),
        t0.elapsed().as_secs_f64()
    );
    parse(&stdout)
}

/// Where the whole output of the last run of `script` is kept:
/// `target/tmp/vm-lane-SCRIPT.log` (`.ci/run` prints it when the lane fails).
pub fn log_path(script: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("vm-lane-{script}.log"))
}

/// The skiff the guest runs: target/release/skiff when it is newer than
/// every source file (a release build runs several times faster on the
/// guest's emulated CPU), else this build's (`CARGO_BIN_EXE_skiff`); a
/// release binary older than the sources is never used.
fn binary(repo: &Path) -> PathBuf {
    fn newest(p: &Path) -> std::time::SystemTime {
        let own = fs::symlink_metadata(p)
            .and_then(|m| m.modified())
            .unwrap_or(std::time::UNIX_EPOCH);
        let kids = fs::read_dir(p).into_iter().flatten().flatten();
        kids.map(|e| newest(&e.path())).fold(own, std::cmp::max)
    }
    let built = PathBuf::from(env!("CARGO_BIN_EXE_skiff"));
    let release = built
        .parent()
        .and_then(Path::parent)
        .map(|t| t.join("release/skiff"));
    let sources = ["src", "Cargo.toml", "Cargo.lock", "build.rs"]
        .iter()
        .map(|p| newest(&repo.join(p)))
        .max()
        .unwrap_or(std::time::UNIX_EPOCH);
    match release {
        Some(r)
            if fs::metadata(&r)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= sources) =>
        {
            r
        }
        _ => built,
    }
}

/// Splits a script's output into its sections.
pub fn parse(out: &str) -> Sections {
    let mut map = BTreeMap::new();
    let mut cur = String::new();
    for line in out.lines() {
        if let Some(name) = line.strip_prefix("== ") {
            cur = name.to_string();
            continue;
        }
        let s: &mut Section = map.entry(cur.clone()).or_default();
        s.lines.push(line.to_string());
        if let Some((k, v)) = line.split_once('=') {
            s.values.insert(k.to_string(), v.to_string());
        }
    }
    map
}

/// The value of `key` in `section`; panics naming what the section had.
pub fn val(sections: &Sections, section: &str, key: &str) -> String {
    let s = sections
        .get(section)
        .unwrap_or_else(|| panic!("no section {section} in the lane's output"));
    s.values
        .get(key)
        .cloned()
        .unwrap_or_else(|| panic!("no {key} in section {section}: {:#?}", s.lines))
}
