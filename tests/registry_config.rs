//! How skiff reaches registries, against real docker-registry instances on
//! 127.0.0.1: loopback registries are insecure by default (Docker's rule),
//! `run`/`create`/`build` take pull's `--tls-verify`, `--authfile`,
//! `--creds` and `--cert-dir`, and a TLS registry's CA and client
//! certificate come from the certs.d directories Podman reads.

mod common;
mod registry_support;

use common::{Skiff, BUSYBOX, INDEX_HTML};
use registry_support::{fails_125, Pki, Registry};

/// A fresh store with the busybox fixture, pushed to `dest` with `flags`.
fn push_from_fresh(dest: &str, flags: &[&str]) -> Skiff {
    let a = Skiff::new();
    a.import_busybox();
    let mut args = vec!["push"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[BUSYBOX, dest]);
    a.ok(&args);
    a
}

/// A build context whose Containerfile starts from `base`.
fn context(s: &Skiff, base: &str) -> String {
    let p = s.write_file(
        "ctx/Containerfile",
        format!("FROM {base}\nLABEL built=yes\n").as_bytes(),
    );
    p.parent().unwrap().display().to_string()
}

#[test]
fn a_loopback_registry_needs_no_configuration() {
    let reg = Registry::start();
    let image = reg.name("me/busybox:1");
    // Docker's rule: 127.0.0.0/8 is insecure without registries.conf.
    push_from_fresh(&image, &[]);
    let b = Skiff::new();
    let out = b.ok(&["run", "--rm", &image, "cat", "/www/index.html"]);
    assert_eq!(out, INDEX_HTML);
    // --tls-verify=true still insists on verified https.
    let c = Skiff::new();
    let line = fails_125(&c.cmd(&["pull", "--tls-verify=true", &image]));
    assert!(line.contains(&reg.host) && line.contains("tls"), "{line}");
    let line = fails_125(&c.cmd(&["create", "--tls-verify=true", &image]));
    assert!(line.contains(&reg.host), "{line}");
    assert!(c.image_ids().is_empty() && c.container_ids().is_empty());
}

#[test]
fn a_tls_registry_is_trusted_through_certs_d_and_cert_dir() {
    let pki = Pki::generate();
    let reg = Registry::start_tls(&pki, false);
    let image = reg.name("me/busybox:1");

    // Without its CA, verified TLS fails with one line saying where the CA goes.
    let a = Skiff::new();
    a.import_busybox();
    let line = fails_125(&a.cmd(&["push", "--tls-verify=true", BUSYBOX, &image]));
    assert!(
        line.contains("tls") && line.contains(&format!("certs.d/{}/ca.crt", reg.host)),
        "{line}"
    );
    // --cert-dir names the CA for this command.
    let certs = a.home.join("my-certs");
    pki.install(&a, &certs, false);
    a.ok(&[
        "push",
        "--tls-verify=true",
        "--cert-dir",
        certs.to_str().unwrap(),
        BUSYBOX,
        &image,
    ]);

    // The user's certs.d/HOST:PORT/ca.crt, as Podman reads it.
    let b = Skiff::new();
    fails_125(&b.cmd(&["pull", "--tls-verify=true", &image]));
    pki.install(
        &b,
        &b.config_home.join("containers/certs.d").join(&reg.host),
        false,
    );
    b.ok(&["pull", "-q", "--tls-verify=true", &image]);

    // run, create and build take --cert-dir and --tls-verify like pull.
    let c = Skiff::new();
    let certs = c.home.join("certs");
    pki.install(&c, &certs, false);
    let cert_dir = certs.to_str().unwrap();
    fails_125(&c.cmd(&["run", "--rm", "--tls-verify=true", &image, "true"]));
    let out = c.ok(&[
        "run",
        "--rm",
        "--tls-verify=true",
        "--cert-dir",
        cert_dir,
        &image,
        "cat",
        "/www/index.html",
    ]);
    assert_eq!(out, INDEX_HTML);
    let d = Skiff::new();
    let certs = d.home.join("certs");
    pki.install(&d, &certs, false);
    let cert_dir = certs.to_str().unwrap();
    let id = d.ok(&["create", "--tls-verify", "--cert-dir", cert_dir, &image]);
    assert_eq!(id.trim().len(), 64, "{id}");
    let e = Skiff::new();
    let certs = e.home.join("certs");
    pki.install(&e, &certs, false);
    let ctx = context(&e, &image);
    let o = e.cmd(&["build", "-q", "--tls-verify=true", &ctx]);
    assert_eq!(o.code, 125, "{}", o.describe());
    e.ok(&[
        "build",
        "-q",
        "-t",
        "built",
        "--tls-verify=true",
        "--cert-dir",
        certs.to_str().unwrap(),
        &ctx,
    ]);
    let label = e.ok(&["image", "inspect", "--format", "{{.Labels.built}}", "built"]);
    assert_eq!(label.trim(), "yes");
}

#[test]
fn a_registry_that_wants_a_client_certificate_gets_the_certs_d_pair() {
    let pki = Pki::generate();
    let reg = Registry::start_tls(&pki, true);
    let image = reg.name("me/busybox:1");
    let a = Skiff::new();
    a.import_busybox();
    let dir = a.config_home.join("containers/certs.d").join(&reg.host);
    pki.install(&a, &dir, false);
    let o = a.cmd(&["push", "--tls-verify=true", BUSYBOX, &image]);
    assert_eq!(o.code, 125, "no client certificate\n{}", o.describe());
    pki.install(&a, &dir, true);
    a.ok(&["push", "--tls-verify=true", BUSYBOX, &image]);

    let b = Skiff::new();
    pki.install(
        &b,
        &b.config_home.join("containers/certs.d").join(&reg.host),
        true,
    );
    let out = b.ok(&["run", "--rm", &image, "cat", "/www/index.html"]);
    assert_eq!(out, INDEX_HTML);

    // A key without its certificate is one line naming the file.
    let c = Skiff::new();
    let dir = c.config_home.join("containers/certs.d").join(&reg.host);
    pki.install(&c, &dir, true);
    std::fs::remove_file(dir.join("client.cert")).unwrap();
    let line = fails_125(&c.cmd(&["pull", &image]));
    assert!(
        line.contains("client.key") && line.contains("missing client certificate"),
        "{line}"
    );
}

#[test]
fn run_create_and_build_take_creds_and_authfile_without_showing_the_password() {
    let reg = Registry::start_with(Some(("tester", "s3cret-pw")));
    let image = reg.name("me/busybox:1");
    push_from_fresh(&image, &["--creds", "tester:s3cret-pw"]);

    let b = Skiff::new();
    let line = fails_125(&b.cmd(&["run", "--rm", &image, "true"]));
    assert!(line.contains("authentication required"), "{line}");
    let o = b.cmd(&[
        "--log-level",
        "debug",
        "run",
        "--rm",
        "--creds",
        "tester:s3cret-pw",
        &image,
        "cat",
        "/www/index.html",
    ]);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(o.stdout, INDEX_HTML);
    assert!(!o.stderr.contains("s3cret-pw"), "{}", o.describe());
    // A bad --creds value is refused without echoing it.
    let o = b.cmd(&["create", "--creds", ":s3cret-pw", &image]);
    assert_eq!(o.code, 125, "{}", o.describe());
    assert!(o.stderr.contains("--creds"), "{}", o.describe());
    assert!(!o.stderr.contains("s3cret-pw"), "{}", o.describe());

    // --authfile: a login stored in a file of the user's choosing.
    let c = Skiff::new();
    let auth = c.home.join("auth.json");
    c.ok_stdin(
        &[
            "login",
            "--authfile",
            auth.to_str().unwrap(),
            "-u",
            "tester",
            "--password-stdin",
            &reg.host,
        ],
        b"s3cret-pw\n",
    );
    let id = c.ok(&["create", "--authfile", auth.to_str().unwrap(), &image]);
    assert_eq!(id.trim().len(), 64, "{id}");

    let d = Skiff::new();
    let ctx = context(&d, &image);
    fails_125(&d.cmd(&["build", "-q", &ctx]));
    d.ok(&["build", "-q", "--creds", "tester:s3cret-pw", &ctx]);
}
