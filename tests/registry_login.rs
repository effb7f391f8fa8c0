//! Logins against a real htpasswd-protected docker-registry on 127.0.0.1:
//! credential helpers named by `credHelpers` (auth.json) and `credsStore`
//! (Docker's config.json) are run as `docker-credential-NAME`, and `login`
//! prompts for what it was not given on a terminal, as Podman does.

mod common;
mod registry_support;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{spawn_on_pty, Skiff, BUSYBOX, INDEX_HTML};
use registry_support::{fails_125, Registry};

const USER: &str = "tester";
const PASSWORD: &str = "s3cret-pw";

/// The PATH the harness gives skiff, with `dir` first.
fn path_with(dir: &Path) -> String {
    format!(
        "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        dir.display()
    )
}

/// A docker credential helper that keeps one file per server in
/// `$HOME/helper-store` and logs each call there (`get SERVER`, ...).
const HELPER: &str = r#"#!/bin/sh
dir="$HOME/helper-store"
mkdir -p "$dir"
file() { echo "$dir/$(printf %s "$1" | tr -c 'A-Za-z0-9.-' _)"; }
case "$1" in
get)
  read -r server
  echo "get $server" >> "$dir/log"
  f=$(file "$server")
  if [ -f "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
store)
  json=$(cat)
  server=$(printf %s "$json" | sed 's/.*"ServerURL":"\([^"]*\)".*/\1/')
  echo "store $server" >> "$dir/log"
  printf %s "$json" > "$(file "$server")" ;;
erase)
  read -r server
  echo "erase $server" >> "$dir/log"
  f=$(file "$server")
  [ -f "$f" ] || { echo "credentials not found in native keychain"; exit 1; }
  rm -f "$f" ;;
*) echo "unknown action $1" >&2; exit 1 ;;
esac
"#;

/// Installs [`HELPER`] as `docker-credential-skifftest` in `~/bin`; returns
/// the PATH to run skiff with.
fn install_helper(s: &Skiff) -> String {
    let bin = s.make_dir(&s.home.join("bin"));
    let p = bin.join("docker-credential-skifftest");
    std::fs::write(&p, HELPER).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    s.give(&p);
    path_with(&bin)
}

/// What the helper was asked, one call a line.
fn helper_log(s: &Skiff) -> String {
    std::fs::read_to_string(s.home.join("helper-store/log")).unwrap_or_default()
}

/// Writes a JSON file owned by the user.
fn write_json(s: &Skiff, path: &Path, text: &str) {
    s.make_dir(path.parent().unwrap());
    std::fs::write(path, text).unwrap();
    s.give(path);
}

/// A registry behind htpasswd with the busybox fixture at `me/busybox:1`.
fn registry_with_image() -> (Registry, String) {
    let reg = Registry::start_with(Some((USER, PASSWORD)));
    let image = reg.name("me/busybox:1");
    let a = Skiff::new();
    a.import_busybox();
    a.ok(&[
        "push",
        "-q",
        "--creds",
        &format!("{USER}:{PASSWORD}"),
        BUSYBOX,
        &image,
    ]);
    (reg, image)
}

#[test]
fn cred_helpers_in_auth_json_keep_the_login() {
    let (reg, image) = registry_with_image();
    let s = Skiff::new();
    let path = install_helper(&s);
    let env = [("PATH", path.as_str())];
    let auth = s.runtime_dir.join("containers/auth.json");
    write_json(
        &s,
        &auth,
        &format!(r#"{{"credHelpers":{{"{}":"skifftest"}}}}"#, reg.host),
    );

    let o = s.cmd_env(&["login", "-u", USER, "-p", PASSWORD, &reg.host], &env);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert!(o.stdout.contains("Login Succeeded!"), "{}", o.describe());
    assert_eq!(helper_log(&s), format!("store {}\n", reg.host));
    // The helper has the secret; auth.json does not.
    let text = std::fs::read_to_string(&auth).unwrap();
    assert!(!text.contains("\"auth\""), "{text}");
    let kept =
        std::fs::read_to_string(s.home.join("helper-store").join(reg.host.replace(':', "_")))
            .unwrap();
    assert!(kept.contains(PASSWORD) && kept.contains(USER), "{kept}");

    let o = s.cmd_env(&["run", "--rm", &image, "cat", "/www/index.html"], &env);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert_eq!(o.stdout, INDEX_HTML);
    assert!(helper_log(&s).contains(&format!("get {}\n", reg.host)));
    let o = s.cmd_env(&["login", "--get-login", &reg.host], &env);
    assert_eq!(o.stdout.trim(), USER, "{}", o.describe());

    let o = s.cmd_env(&["logout", &reg.host], &env);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert!(helper_log(&s).ends_with(&format!("erase {}\n", reg.host)));
    s.ok(&["rmi", "-a"]);
    let line = fails_125(&s.cmd_env(&["pull", &image], &env));
    assert!(line.contains("authentication required"), "{line}");
    // Logging out again: nothing is kept anywhere.
    let o = s.cmd_env(&["logout", &reg.host], &env);
    assert_eq!(o.code, 125, "{}", o.describe());
    assert!(o.stderr.contains("not logged into"), "{}", o.describe());
}

#[test]
fn a_docker_creds_store_is_asked_and_a_missing_helper_is_one_line() {
    let (reg, image) = registry_with_image();
    let s = Skiff::new();
    let path = install_helper(&s);
    let env = [("PATH", path.as_str())];
    // What `docker login` leaves with a credsStore: the secret in the helper.
    let store = s.make_dir(&s.home.join("helper-store"));
    let entry = store.join(reg.host.replace(':', "_"));
    write_json(
        &s,
        &entry,
        &format!(
            r#"{{"ServerURL":"{}","Username":"{USER}","Secret":"{PASSWORD}"}}"#,
            reg.host
        ),
    );
    let docker = s.home.join(".docker/config.json");
    write_json(
        &s,
        &docker,
        &format!(
            r#"{{"auths":{{"{}":{{}}}},"credsStore":"skifftest"}}"#,
            reg.host
        ),
    );
    let o = s.cmd_env(&["pull", "-q", &image], &env);
    assert_eq!(o.code, 0, "{}", o.describe());
    assert!(helper_log(&s).contains(&format!("get {}\n", reg.host)));

    // A credsStore that is not installed is passed over (Podman ignores
    // credsStore): the pull goes on without credentials.
    let t = Skiff::new();
    let docker = t.home.join(".docker/config.json");
    write_json(&t, &docker, r#"{"credsStore":"nosuch"}"#);
    let line = fails_125(&t.cmd(&["pull", &image]));
    assert!(line.contains("authentication required"), "{line}");
    // A credHelpers entry is explicit: its helper missing is one line naming it.
    write_json(
        &t,
        &docker,
        &format!(r#"{{"credHelpers":{{"{}":"nosuch"}}}}"#, reg.host),
    );
    let line = fails_125(&t.cmd(&["pull", &image]));
    assert!(
        line.contains("docker-credential-nosuch") && line.contains(&reg.host),
        "{line}"
    );
    assert!(t.image_ids().is_empty());
}

/// Collects pty output into `seen` until it holds `needle` (20 s at most).
fn wait_for(rx: &mpsc::Receiver<Vec<u8>>, seen: &mut Vec<u8>, needle: &str) -> bool {
    common::read_until(rx, seen, needle, Instant::now() + Duration::from_secs(20))
}

#[test]
fn login_prompts_on_a_terminal_and_never_echoes_the_password() {
    let (reg, _image) = registry_with_image();
    let s = Skiff::new();
    let (mut child, master) = spawn_on_pty(&s, &["login", &reg.host], 24, 80);
    let mut input = master.try_clone().unwrap();
    let rx = common::chunks(master);
    let mut seen = Vec::new();
    assert!(
        wait_for(&rx, &mut seen, "Username: "),
        "no prompt: {seen:?}"
    );
    input.write_all(format!("{USER}\n").as_bytes()).unwrap();
    assert!(
        wait_for(&rx, &mut seen, "Password: "),
        "no prompt: {seen:?}"
    );
    input.write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
    let done = wait_for(&rx, &mut seen, "Login Succeeded!");
    let code = common::wait_child(&mut child, Duration::from_secs(20));
    let seen = String::from_utf8_lossy(&seen).into_owned();
    assert!(done, "{seen:?}");
    assert_eq!(code, Some(0), "{seen:?}");
    assert!(
        !seen.contains(PASSWORD),
        "the password was echoed: {seen:?}"
    );
    assert!(seen.contains(&format!("Username: {USER}")), "{seen:?}");
    assert_eq!(s.ok(&["login", "--get-login", &reg.host]).trim(), USER);

    // Logged in already: a second login on the terminal asks for nothing.
    let (mut child, master) = spawn_on_pty(&s, &["login", &reg.host], 24, 80);
    let rx = common::chunks(master);
    let mut again = Vec::new();
    let done = wait_for(&rx, &mut again, "Already logged in");
    let again = String::from_utf8_lossy(&again).into_owned();
    assert_eq!(
        common::wait_child(&mut child, Duration::from_secs(20)),
        Some(0),
        "{again:?}"
    );
    assert!(done && !again.contains("Username: "), "{again:?}");
}

#[test]
fn login_without_a_terminal_gives_podmans_errors() {
    let (reg, _image) = registry_with_image();
    let s = Skiff::new();
    let line = fails_125(&s.cmd(&["login", &reg.host]));
    assert_eq!(
        line,
        "Error: getting username and password: reading username: EOF"
    );
    let line = fails_125(&s.cmd_stdin(&["login", "-u", USER, &reg.host], b"pw\n"));
    assert_eq!(
        line,
        "Error: getting username and password: reading password: inappropriate ioctl for device"
    );
    let line = fails_125(&s.cmd_stdin(&["login", "--password-stdin", &reg.host], b"pw\n"));
    assert_eq!(line, "Error: must provide --username with --password-stdin");
    // A password stream that never ends is refused, not read until memory
    // runs out, and nothing is recorded.
    let endless = vec![b'p'; 17 << 20];
    let line = fails_125(&s.cmd_stdin(
        &["login", "-u", USER, "--password-stdin", &reg.host],
        &endless,
    ));
    assert_eq!(line, "Error: standard input: larger than 16 MiB");
    let auth: PathBuf = s.runtime_dir.join("containers/auth.json");
    assert!(!auth.exists(), "a refused login wrote {}", auth.display());
    // Nor is an auth file that never ends read whole.
    let line = fails_125(&s.cmd(&[
        "login",
        "--authfile",
        "/dev/zero",
        "-u",
        USER,
        "-p",
        PASSWORD,
        &reg.host,
    ]));
    assert!(line.ends_with("/dev/zero: larger than 16 MiB"), "{line}");
    // The username may come from stdin when the password is given.
    let o = s.cmd_stdin(&["login", "-p", PASSWORD, &reg.host], b"tester\n");
    assert_eq!(o.code, 0, "{}", o.describe());
    assert!(o.stdout.contains("Login Succeeded!"), "{}", o.describe());
    let auth: PathBuf = s.runtime_dir.join("containers/auth.json");
    assert!(std::fs::read_to_string(auth).unwrap().contains(&reg.host));
}
