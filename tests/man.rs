//! The man pages in man/ are generated from the command definitions: this
//! test renders every command and subcommand with clap_mangen and fails when
//! man/ differs. `SKIFF_UPDATE_MAN=1 cargo test --test man` rewrites them.

use std::collections::BTreeMap;
use std::path::Path;

fn render(cmd: &clap::Command, prefix: &str, out: &mut BTreeMap<String, Vec<u8>>) {
    let name = if prefix.is_empty() {
        cmd.get_name().to_string()
    } else {
        format!("{prefix}-{}", cmd.get_name())
    };
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone().name(name.clone()))
        .render(&mut buf)
        .expect("rendering a man page");
    out.insert(format!("{name}.1"), buf);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        render(sub, &name, out);
    }
}

#[test]
fn man_pages_match_the_command_definitions() {
    let mut cmd = skiff::cli::command();
    cmd.build();
    let mut pages = BTreeMap::new();
    render(&cmd, "", &mut pages);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    if std::env::var_os("SKIFF_UPDATE_MAN").is_some() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, data) in &pages {
            std::fs::write(dir.join(name), data).unwrap();
        }
    }
    let mut stale = Vec::new();
    for (name, data) in &pages {
        if std::fs::read(dir.join(name)).ok().as_ref() != Some(data) {
            stale.push(name.clone());
        }
    }
    let on_disk: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let extra: Vec<&String> = on_disk.iter().filter(|n| !pages.contains_key(*n)).collect();
    assert!(
        stale.is_empty() && extra.is_empty(),
        "man/ is out of date (stale: {stale:?}, extra: {extra:?}): run SKIFF_UPDATE_MAN=1 cargo test --test man"
    );
    assert!(pages.contains_key("skiff-run.1") && pages.contains_key("skiff-container-run.1"));
}
