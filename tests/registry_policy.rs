//! Which images a pull may take, against a real docker-registry on
//! 127.0.0.1: the user's policy.json (`reject`, `insecureAcceptAnything`,
//! the most specific `docker` scope wins, signature requirements refused as
//! unsupported, `--signature-policy`), and the registries.conf named by
//! `CONTAINERS_REGISTRIES_CONF`.

mod common;
mod registry_support;

use std::os::unix::fs::PermissionsExt;

use common::{Skiff, BUSYBOX};
use registry_support::{count, fails_125, Registry};

/// Pushes the busybox fixture to each of `images` from a throwaway store.
fn push_all(images: &[&str]) {
    let a = Skiff::new();
    a.import_busybox();
    for image in images {
        a.ok(&["push", "-q", BUSYBOX, image]);
    }
}

/// Writes `text` as the user's `~/.config/containers/policy.json`.
fn write_policy(s: &Skiff, text: &str) -> std::path::PathBuf {
    let dir = s.make_dir(&s.home.join(".config/containers"));
    let p = dir.join("policy.json");
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    s.give(&p);
    p
}

/// Nothing of a refused pull is in the store.
fn assert_nothing_pulled(s: &Skiff) {
    assert!(s.image_ids().is_empty(), "an image was stored");
    assert_eq!(count(&s.store().join("layers")), 0, "a layer was stored");
}

#[test]
fn policy_json_rejects_accepts_and_the_most_specific_scope_wins() {
    let reg = Registry::start();
    let (ok, kept_out, pinned) = (
        reg.name("open/app:1"),
        reg.name("closed/app:1"),
        reg.name("closed/special:1"),
    );
    push_all(&[&ok, &kept_out, &pinned, &reg.name("closed/special:2")]);

    let s = Skiff::new();
    let policy = write_policy(
        &s,
        &format!(
            r#"{{
  "default": [{{"type": "reject"}}],
  "transports": {{
    "docker": {{
      "{h}": [{{"type": "insecureAcceptAnything"}}],
      "{h}/closed": [{{"type": "reject"}}],
      "{h}/closed/special:1": [{{"type": "insecureAcceptAnything"}}]
    }}
  }}
}}"#,
            h = reg.host
        ),
    );

    // The namespace scope rejects: one line naming the image and the file.
    let line = fails_125(&s.cmd(&["pull", &kept_out]));
    assert!(
        line.contains(&format!("docker://{kept_out}"))
            && line.contains("rejected by policy")
            && line.contains(policy.to_str().unwrap()),
        "{line}"
    );
    assert_nothing_pulled(&s);
    // run pulls through the same policy.
    fails_125(&s.cmd(&["run", "--rm", &kept_out, "true"]));
    assert_nothing_pulled(&s);
    assert!(s.container_ids().is_empty());
    // Only the tag named by the more specific scope gets through.
    fails_125(&s.cmd(&["pull", &reg.name("closed/special:2")]));
    assert_nothing_pulled(&s);
    s.ok(&["pull", "-q", &pinned]);
    // The registry scope accepts the rest of the registry.
    s.ok(&["pull", "-q", &ok]);
    assert_eq!(s.image_ids().len(), 1, "both names are one image");
    let names = s.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(names.contains(&pinned) && names.contains(&ok), "{names}");

    // The global default applies to registries the file does not name.
    let other = Registry::start();
    let elsewhere = other.name("x/app:1");
    push_all(&[&elsewhere]);
    fails_125(&s.cmd(&["pull", &elsewhere]));
}

#[test]
fn signature_requirements_are_refused_as_unsupported_never_ignored() {
    let reg = Registry::start();
    let image = reg.name("signed/app:1");
    push_all(&[&image]);
    let s = Skiff::new();
    write_policy(
        &s,
        &format!(
            r#"{{"default":[{{"type":"insecureAcceptAnything"}}],
"transports":{{"docker":{{"{}":[{{"type":"signedBy","keyType":"GPGKeys","keyPath":"/etc/pki/key.gpg"}}]}}}}}}"#,
            reg.host
        ),
    );
    let line = fails_125(&s.cmd(&["pull", &image]));
    assert!(
        line.contains("signature verification is not supported")
            && line.contains("signedBy")
            && line.contains(&image),
        "{line}"
    );
    assert_nothing_pulled(&s);

    // --signature-policy replaces the user's file for this command.
    let open = s.write_file(
        "open-policy.json",
        br#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    );
    s.ok(&[
        "pull",
        "-q",
        "--signature-policy",
        open.to_str().unwrap(),
        &image,
    ]);
    // A policy that does not parse is one line naming the file.
    let bad = s.write_file("bad-policy.json", br#"{"default":[]}"#);
    let line = fails_125(&s.cmd(&["pull", "--signature-policy", bad.to_str().unwrap(), &image]));
    assert!(
        line.contains("bad-policy.json") && line.contains("must not be empty"),
        "{line}"
    );
}

#[test]
fn containers_registries_conf_names_the_registries_conf_to_read() {
    let reg = Registry::start();
    push_all(&[&reg.name("app:1")]);
    let s = Skiff::new();
    // The user's own file has no search registries; the one named by the
    // variable has the test registry.
    registry_support::write_registries_conf(&s, &[], &[]);
    fails_125(&s.cmd(&["pull", "app:1"]));
    let conf = s.write_file(
        "elsewhere/registries.conf",
        format!("unqualified-search-registries = [\"{}\"]\n", reg.host).as_bytes(),
    );
    let o = s.cmd_env(
        &["pull", "app:1"],
        &[("CONTAINERS_REGISTRIES_CONF", conf.to_str().unwrap())],
    );
    assert_eq!(o.code, 0, "{}", o.describe());
    assert!(
        o.stderr
            .contains(&format!("Trying to pull {}/app:1", reg.host)),
        "{}",
        o.describe()
    );
    assert_eq!(s.image_ids().len(), 1);
}
