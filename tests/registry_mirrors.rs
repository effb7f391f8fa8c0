//! registries.conf against two real docker-registry instances on
//! 127.0.0.1: `[[registry.mirror]]` is tried first and the `location`
//! after it, `location` remaps a prefix, `blocked` refuses pulls and
//! pushes, `short-name-mode = "enforcing"` refuses an ambiguous short name
//! without a terminal and on one records the registry picked at the prompt
//! (short-name-aliases.conf) for later pulls; `[aliases]` are honoured.

mod common;
mod registry_support;

use std::os::unix::fs::PermissionsExt;

use common::{Skiff, BUSYBOX, INDEX_HTML};
use registry_support::{fails_125, Registry};

/// Writes the user's registries.conf.
fn registries_conf(s: &Skiff, text: &str) {
    let dir = s.make_dir(&s.config_home.join("containers"));
    let p = dir.join("registries.conf");
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    s.give(&p);
}

/// Pushes the busybox fixture (with `extra` as /extra when given, so that
/// its id differs) to `dest`; returns the image id.
fn push(dest: &str, extra: Option<&str>) -> String {
    let a = Skiff::new();
    match extra {
        None => a.import_busybox(),
        Some(text) => {
            let data = text.as_bytes().to_vec();
            a.import_with(BUSYBOX, move |t| {
                t.file("extra", &data, 0o644, 0, 0);
            })
        }
    }
    a.ok(&["push", BUSYBOX, dest]);
    a.ok(&["image", "inspect", "--format", "{{.Id}}", BUSYBOX])
        .trim()
        .to_string()
}

fn image_id(s: &Skiff, name: &str) -> String {
    s.ok(&["image", "inspect", "--format", "{{.Id}}", name])
        .trim()
        .to_string()
}

#[test]
fn a_mirror_is_tried_first_and_the_location_after_it() {
    let mirror = Registry::start();
    let origin = Registry::start();
    // The name users write resolves nowhere: location remaps it.
    let conf = format!(
        "[[registry]]\nprefix = \"registry.example/team\"\nlocation = \"{}/people\"\n[[registry.mirror]]\nlocation = \"{}/cache\"\n",
        origin.host, mirror.host
    );
    let origin_id = push(&origin.name("people/app:1"), None);

    // Not on the mirror: the location serves it, under the name asked for.
    let b = Skiff::new();
    registries_conf(&b, &conf);
    let out = b.ok(&[
        "run",
        "--rm",
        "registry.example/team/app:1",
        "cat",
        "/www/index.html",
    ]);
    assert_eq!(out, INDEX_HTML);
    assert_eq!(image_id(&b, "registry.example/team/app:1"), origin_id);

    // On the mirror: the mirror's copy wins.
    let mirror_id = push(&mirror.name("cache/app:1"), Some("from the mirror"));
    assert_ne!(mirror_id, origin_id);
    let c = Skiff::new();
    registries_conf(&c, &conf);
    let id = c.ok(&["pull", "-q", "registry.example/team/app:1"]);
    assert_eq!(id.trim(), mirror_id);
    let out = c.ok(&[
        "run",
        "--rm",
        "registry.example/team/app:1",
        "cat",
        "/extra",
    ]);
    assert_eq!(out, "from the mirror");

    // pull-from-mirror = "digest-only": a tag pull goes to the location.
    let d = Skiff::new();
    registries_conf(&d, &format!("{conf}pull-from-mirror = \"digest-only\"\n"));
    assert_eq!(
        d.ok(&["pull", "-q", "registry.example/team/app:1"]).trim(),
        origin_id
    );

    // The mirror gone: the location still serves.
    drop(mirror);
    let e = Skiff::new();
    registries_conf(&e, &conf);
    assert_eq!(
        e.ok(&["pull", "-q", "registry.example/team/app:1"]).trim(),
        origin_id
    );
    // Neither has it: the location's error, the mirror's after it.
    let line = fails_125(&e.cmd(&["pull", "registry.example/team/nope:1"]));
    assert!(
        line.contains(&origin.host) && line.contains("mirrors also failed"),
        "{line}"
    );
}

#[test]
fn blocked_registries_and_enforced_short_names() {
    let reg = Registry::start();
    let other = Registry::start();
    push(&reg.name("me/app:1"), None);
    push(&other.name("me/app:1"), None);
    let s = Skiff::new();
    s.import_busybox();
    registries_conf(
        &s,
        &format!(
            "unqualified-search-registries = [\"{}\", \"{}\"]\nshort-name-mode = \"enforcing\"\n[[registry]]\nlocation = \"{}\"\nblocked = true\n",
            reg.host, other.host, reg.host
        ),
    );
    let line = fails_125(&s.cmd(&["pull", &reg.name("me/app:1")]));
    assert!(line.contains("blocked"), "{line}");
    let line = fails_125(&s.cmd(&["push", BUSYBOX, &reg.name("me/pushed:1")]));
    assert!(line.contains("blocked"), "{line}");
    let line = fails_125(&s.cmd(&["run", "--rm", &reg.name("me/app:1"), "true"]));
    assert!(line.contains("blocked"), "{line}");
    // Two search registries, enforcing, no terminal: refused.
    let line = fails_125(&s.cmd(&["pull", "me/app:1"]));
    assert!(
        line.contains("short-name \"me/app:1\"")
            && line.contains("short-name resolution enforced but cannot prompt without a TTY"),
        "{line}"
    );
    // permissive (the default) tries them in order: the blocked one fails,
    // the next serves.
    registries_conf(
        &s,
        &format!(
            "unqualified-search-registries = [\"{}\", \"{}\"]\n[[registry]]\nlocation = \"{}\"\nblocked = true\n",
            reg.host, other.host, reg.host
        ),
    );
    s.ok(&["pull", "-q", "me/app:1"]);
    s.ok(&["image", "exists", &other.name("me/app:1")]);
}

#[test]
fn enforced_short_names_prompt_on_a_terminal() {
    use std::io::Write;
    use std::time::{Duration, Instant};
    let first = Registry::start();
    let second = Registry::start();
    // Both have it, with different content: the id tells which was pulled.
    let other = push(&first.name("me/app:1"), Some("one"));
    let chosen = push(&second.name("me/app:1"), Some("two"));
    let s = Skiff::new();
    registries_conf(
        &s,
        &format!(
            "unqualified-search-registries = [\"{}\", \"{}\"]\nshort-name-mode = \"enforcing\"\n",
            first.host, second.host
        ),
    );
    let (mut child, master) = common::spawn_on_pty(&s, &["pull", "me/app:1"], 24, 80);
    let mut keys = master.try_clone().unwrap();
    let rx = common::chunks(master);
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let prompted = common::read_until(&rx, &mut seen, "Please select an image", deadline)
        && common::read_until(&rx, &mut seen, &second.name("me/app:1"), deadline);
    assert!(prompted, "{}", String::from_utf8_lossy(&seen));
    // Down to the second registry, then Enter.
    keys.write_all(b"\x1b[B\r").unwrap();
    common::read_until(&rx, &mut seen, &chosen, deadline);
    let code = common::wait_child(&mut child, Duration::from_secs(20));
    let seen = String::from_utf8_lossy(&seen).into_owned();
    assert_eq!(code, Some(0), "{seen}");
    assert!(seen.contains(&chosen), "pull prints the chosen id: {seen}");
    assert_eq!(s.image_ids().len(), 1, "only the chosen one is pulled");
    assert_eq!(image_id(&s, &second.name("me/app:1")), chosen);

    // The choice is recorded where Podman records it, and later pulls
    // (here without a terminal) use it without asking.
    let cache = s.home.join(".cache/containers/short-name-aliases.conf");
    let text = std::fs::read_to_string(&cache).unwrap();
    assert!(
        text.contains(&format!("\"me/app\" = \"{}\"", second.name("me/app"))),
        "{text}"
    );
    s.ok(&["rmi", "-a"]);
    let o = s.cmd(&["pull", "me/app:1"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert!(
        o.stderr.contains(&format!(
            "Resolved \"me/app\" as an alias ({})",
            cache.display()
        )) && o
            .stderr
            .contains(&format!("Trying to pull {}...", second.name("me/app:1"))),
        "{}",
        o.describe()
    );
    assert_eq!(image_id(&s, &second.name("me/app:1")), chosen);

    // registries.conf [aliases] in a drop-in are honoured; the recorded
    // choice still wins over them, as in containers/image.
    let dropins = s.make_dir(&s.config_home.join("containers/registries.conf.d"));
    let dropin = dropins.join("50-aliases.conf");
    std::fs::write(
        &dropin,
        format!(
            "[aliases]\n\"me/other\" = \"{0}\"\n\"me/app\" = \"{0}\"\n",
            first.name("me/app")
        ),
    )
    .unwrap();
    s.give(&dropin);
    let o = s.cmd(&["pull", "me/other:1"]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert!(
        o.stderr.contains(&format!(
            "Resolved \"me/other\" as an alias ({})",
            dropin.display()
        )),
        "{}",
        o.describe()
    );
    assert_eq!(image_id(&s, &first.name("me/app:1")), other);
    s.ok(&["rmi", "-a"]);
    s.ok(&["pull", "-q", "me/app:1"]);
    assert_eq!(image_id(&s, &second.name("me/app:1")), chosen);
    assert_eq!(s.image_ids().len(), 1, "only the recorded choice is pulled");
}
