//! `make install` stages skiff as a distribution would (binary, man pages,
//! completions, systemd generator links), the staged binary runs, `man -l`
//! renders its page, and `make uninstall` removes every file again.

use std::path::Path;
use std::process::Command;

fn make(args: &[&str]) -> std::process::Output {
    Command::new("make")
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
