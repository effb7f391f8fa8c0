//! System commands: `--version`, `--help`, `version`, `info`, `unshare`, and
//! the user namespace holder.

mod common;

use common::*;

#[test]
fn version_flag_names_skiff_and_the_crate_version() {
    let s = Skiff::new();
    let out = s.ok(&["--version"]);
    assert!(
        out.starts_with("skiff ") && out.trim_end().ends_with(env!("CARGO_PKG_VERSION")),
        "unexpected --version output: {out:?}"
    );
}

#[test]
fn help_lists_the_core_commands() {
    let s = Skiff::new();
    let out = s.ok(&["--help"]);
    for c in [
        "run", "import", "images", "rmi", "tag", "export", "info", "unshare",
    ] {
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(c)),
            "--help does not list {c}:\n{out}"
        );
    }
}
