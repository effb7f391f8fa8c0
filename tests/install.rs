//! `make install` stages skiff as a distribution would (binary, man pages,
//! completions, systemd generator links), the staged binary runs, `man -l`
//! renders its page, and `make uninstall` removes every file again. `make
//! deb` packages the same files (cargo-deb) with the runtime programs as
//! dependencies, and the package unpacked into a root runs.

mod common;

use common::skip;
use std::path::Path;
use std::process::Command;

fn make(args: &[&str]) -> std::process::Output {
    make_env(args, &[])
}

fn make_env(args: &[&str], vars: &[(&str, &str)]) -> std::process::Output {
    Command::new("make")
        .envs(vars.iter().copied())
        .arg("-s")
        .arg("-C")
        .arg(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("run make")
}

#[test]
fn make_install_and_uninstall() {
    let t = tempfile::tempdir().unwrap();
    let dest = format!("DESTDIR={}", t.path().display());
    let bin = format!("BIN={}", env!("CARGO_BIN_EXE_skiff"));
    let o = make(&["install", "PREFIX=/usr", &dest, &bin]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let root = t.path().join("usr");
    for f in [
        "bin/skiff",
        "share/man/man1/skiff.1",
        "share/man/man1/skiff-load.1",
        "share/bash-completion/completions/skiff",
        "share/zsh/vendor-completions/_skiff",
        "share/fish/vendor_completions.d/skiff.fish",
    ] {
        let m = std::fs::metadata(root.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(m.len() > 0, "{f} is empty");
    }
    let bash =
        std::fs::read_to_string(root.join("share/bash-completion/completions/skiff")).unwrap();
    assert!(bash.contains("skiff"), "{bash}");
    for (link,) in [
        ("lib/systemd/system-generators/skiff-generator",),
        ("lib/systemd/user-generators/skiff-user-generator",),
    ] {
        assert_eq!(
            std::fs::read_link(root.join(link)).unwrap(),
            Path::new("/usr/bin/skiff"),
            "{link}"
        );
    }
    let v = Command::new(root.join("bin/skiff"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(v.status.success());
    assert!(
        String::from_utf8_lossy(&v.stdout).starts_with("skiff version "),
        "{v:?}"
    );
    let m = Command::new("man")
        .arg("-l")
        .arg(root.join("share/man/man1/skiff-load.1"))
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
        .unwrap();
    let page = String::from_utf8_lossy(&m.stdout);
    assert!(m.status.success() && page.contains("NAME"), "{page}");

    let o = make(&["uninstall", "PREFIX=/usr", &dest]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let left: Vec<_> = walk(t.path());
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Every file and link below `d`.
fn walk(d: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_symlink() || p.is_file() {
            out.push(p);
        } else {
            out.extend(walk(&p));
        }
    }
    out
}

/// The paths `make install PREFIX=/usr` puts in a fresh DESTDIR, relative to it.
fn installed_paths() -> std::collections::BTreeSet<String> {
    let t = tempfile::tempdir().unwrap();
    let dest = format!("DESTDIR={}", t.path().display());
    let bin = format!("BIN={}", env!("CARGO_BIN_EXE_skiff"));
    let o = make(&["install", "PREFIX=/usr", &dest, &bin]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    walk(t.path())
        .iter()
        .map(|p| p.strip_prefix(t.path()).unwrap().display().to_string())
        .collect()
}

/// The highest `GLIBC_2.N` symbol version named in the binary at `p`.
fn glibc_needed(p: &Path) -> u32 {
    let bytes = std::fs::read(p).unwrap();
    let tag = b"GLIBC_2.";
    bytes
        .windows(tag.len())
        .enumerate()
        .filter(|(_, w)| *w == tag)
        .filter_map(|(i, _)| {
            let digits: Vec<u8> = bytes[i + tag.len()..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .copied()
                .collect();
            String::from_utf8(digits).ok()?.parse().ok()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn deb_holds_what_make_install_places_and_runs_unpacked() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let has_deb = Command::new(&cargo)
        .args(["deb", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_deb {
        // CI runs .ci/setup first, which installs it: there this must run.
        skip(
            "deb_holds_what_make_install_places_and_runs_unpacked",
            "cargo-deb is not installed (.ci/setup installs it)",
        );
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let o = make_env(
        &[
            "deb",
            &format!("BIN={}", env!("CARGO_BIN_EXE_skiff")),
            &format!("DEBOUT={}", out.display()),
            "DEBFLAGS=--fast",
        ],
        &[("CARGO", &cargo)],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let debs: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(debs.len(), 1, "{debs:?}");
    let deb = &debs[0];
    assert!(
        deb.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(&format!("skiff_{}-1_", env!("CARGO_PKG_VERSION"))),
        "{deb:?}"
    );

    let dpkg_deb = |flag: &str| {
        let o = Command::new("dpkg-deb")
            .arg(flag)
            .arg(deb)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let field = |info: &str, name: &str| -> String {
        info.lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in {info}"))
            .to_string()
    };
    let info = dpkg_deb("-I");
    assert_eq!(field(&info, "Package"), "skiff");
    let depends: Vec<String> = field(&info, "Depends")
        .split(", ")
        .map(String::from)
        .collect();
    // The programs the engine runs, each from the package that has it.
    for pkg in [
        "uidmap",
        "passt",
        "fuse-overlayfs",
        "fuse3",
        "catatonit",
        "iproute2",
        "nftables",
    ] {
        assert!(depends.iter().any(|d| d == pkg), "{pkg} in {depends:?}");
    }
    let libc: u32 = depends
        .iter()
        .find_map(|d| d.strip_prefix("libc6 (>= 2.")?.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no libc6 (>= 2.N) in {depends:?}"))
        .parse()
        .unwrap();

    // The same files as `make install PREFIX=/usr`, man pages gzipped as
    // Debian ships them, plus the package's copyright file.
    let listing = dpkg_deb("-c");
    let mut packaged = std::collections::BTreeSet::new();
    for line in listing.lines().filter(|l| !l.starts_with('d')) {
        let path = line.split(" ./").nth(1).unwrap();
        let path = path.split(" -> ").next().unwrap();
        let path = path.strip_suffix(".gz").unwrap_or(path);
        if path != "usr/share/doc/skiff/copyright" {
            packaged.insert(path.to_string());
        }
    }
    assert_eq!(packaged, installed_paths());

    let root = t.path().join("root");
    let o = Command::new("dpkg")
        .arg("-x")
        .arg(deb)
        .arg(&root)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bin = root.join("usr/bin/skiff");
    let v = Command::new(&bin).arg("--version").output().unwrap();
    assert!(
        String::from_utf8_lossy(&v.stdout).starts_with("skiff version "),
        "{v:?}"
    );
    for link in [
        "usr/lib/systemd/system-generators/skiff-generator",
        "usr/lib/systemd/user-generators/skiff-user-generator",
    ] {
        let l = root.join(link);
        assert!(l.is_symlink(), "{link}");
        assert_eq!(
            l.canonicalize().unwrap(),
            bin.canonicalize().unwrap(),
            "{link}"
        );
    }
    let page = root.join("usr/share/man/man1/skiff-run.1.gz");
    assert!(std::fs::metadata(&page).unwrap().len() > 0);
    let needed = glibc_needed(&bin);
    assert!(
        needed >= 2 && needed <= libc,
        "the binary needs GLIBC_2.{needed}, the package depends on libc6 (>= 2.{libc})"
    );
}
