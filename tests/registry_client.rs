//! The registry client against a real registry: Debian's `docker-registry`
//! started on 127.0.0.1 at a free port for each test, with its storage in a
//! temporary directory (and an htpasswd file for the authentication tests).
//! Nothing here reaches beyond the loopback interface.

mod common;
mod registry_support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use registry_support::{free_port, Registry};
use serde_json::json;
use skiff::registry::auth::AuthFiles;
use skiff::registry::manifest::{OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST};
use skiff::registry::{
    sha256_digest, Client, ClientOptions, Credentials, Error, Platform, RegistriesConf, Uploaded,
};

/// A docker-registry that asks for tokens from `server`.
fn start_with_token(server: &TokenServer) -> Registry {
    Registry::start_config(|_| {
        format!(
            "auth:\n  token:\n    realm: http://{}/token\n    service: skiff-test\n    issuer: skiff-test-issuer\n    rootcertbundle: {}\n",
            server.addr,
            server.cert.display()
        )
    })
}

/// Options for a plain-HTTP test registry, reading and writing only `auth_file`.
fn options(auth_file: PathBuf) -> ClientOptions {
    ClientOptions {
        tls_verify: Some(false),
        auth_files: AuthFiles::single(auth_file),
        retry_delay: Duration::from_millis(10),
        ..Default::default()
    }
}

fn client(reg: &Registry) -> Client {
    Client::new(options(reg.auth_file()))
}

/// Deterministic, poorly compressible bytes.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

struct PushedImage {
    layer: Vec<u8>,
    config: Vec<u8>,
    manifest: Vec<u8>,
    manifest_digest: String,
}

/// Pushes a one-layer OCI image for `platform` to `repo:tag`.
fn push_image(
    c: &Client,
    reg: &str,
    repo: &str,
    tag: &str,
    platform: &Platform,
    seed: u64,
) -> PushedImage {
    let layer = bytes(100_000, seed);
    let layer_digest = sha256_digest(&layer);
    let config = serde_json::to_vec(&json!({
        "architecture": platform.architecture,
        "os": platform.os,
        "variant": platform.variant,
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "config": {},
    }))
    .unwrap();
    let config_digest = sha256_digest(&config);
    for (digest, data) in [(&layer_digest, &layer), (&config_digest, &config)] {
        let up = c
            .push_blob(
                reg,
                repo,
                digest,
                Some(data.len() as u64),
                &mut &data[..],
                None,
            )
            .unwrap();
        assert_eq!(up, Uploaded::Uploaded);
    }
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": layer_digest, "size": layer.len()}],
    }))
    .unwrap();
    let manifest_digest = c
        .put_manifest(reg, repo, tag, OCI_MANIFEST, &manifest)
        .unwrap();
    assert_eq!(manifest_digest, sha256_digest(&manifest));
    PushedImage {
        layer,
        config,
        manifest,
        manifest_digest,
    }
}

#[test]
fn push_then_pull_round_trip() {
    let reg = Registry::start();
    let c = client(&reg);
    let h = reg.host.as_str();
    let img = push_image(&c, h, "me/app", "1", &Platform::host(), 1);
    let layer_digest = sha256_digest(&img.layer);

    assert_eq!(
        c.blob_exists(h, "me/app", &layer_digest).unwrap(),
        Some(img.layer.len() as u64)
    );
    assert_eq!(
        c.blob_exists(h, "me/app", &sha256_digest(b"absent"))
            .unwrap(),
        None
    );

    for reference in ["1", img.manifest_digest.as_str()] {
        let m = c.get_manifest(h, "me/app", reference).unwrap();
        assert_eq!(m.bytes, img.manifest);
        assert_eq!(m.media_type, OCI_MANIFEST);
        assert_eq!(m.digest, img.manifest_digest);
    }
    let (digest, media_type) = c.head_manifest(h, "me/app", "1").unwrap().unwrap();
    assert_eq!(digest, img.manifest_digest);
    assert_eq!(media_type, OCI_MANIFEST);
    assert_eq!(c.head_manifest(h, "me/app", "nope").unwrap(), None);

    let resolved = c
        .resolve_image(h, "me/app", "1", &Platform::host())
        .unwrap();
    assert!(resolved.list.is_none());
    assert_eq!(resolved.parsed.layers[0].digest, layer_digest);

    let mut out = Vec::new();
    let n = c.fetch_blob(h, "me/app", &layer_digest, &mut out).unwrap();
    assert_eq!(n, img.layer.len() as u64);
    assert_eq!(out, img.layer);
    let mut out = Vec::new();
    c.fetch_blob(h, "me/app", &resolved.parsed.config.digest, &mut out)
        .unwrap();
    assert_eq!(out, img.config);

    // The streaming reader verifies too, and `finish` reads what was left.
    let mut r = c.open_blob(h, "me/app", &layer_digest).unwrap();
    assert_eq!(r.size(), Some(img.layer.len() as u64));
    let mut first = [0u8; 10];
    r.read_exact(&mut first).unwrap();
    assert_eq!(r.finish().unwrap(), img.layer.len() as u64);

    // Cross-repository mount: nothing is uploaded again.
    let up = c
        .push_blob(
            h,
            "other/app",
            &layer_digest,
            None,
            &mut &b""[..],
            Some("me/app"),
        )
        .unwrap();
    assert_eq!(up, Uploaded::Mounted);
    assert!(c
        .blob_exists(h, "other/app", &layer_digest)
        .unwrap()
        .is_some());

    assert_eq!(c.list_tags(h, "me/app").unwrap(), vec!["1".to_string()]);
    let mut catalog = c.catalog(h).unwrap();
    catalog.sort();
    assert_eq!(catalog, vec!["me/app".to_string(), "other/app".to_string()]);
}

#[test]
fn large_blobs_upload_in_patches() {
    let reg = Registry::start();
    let h = reg.host.as_str();
    let big = bytes(3 << 20, 7);
    let digest = sha256_digest(&big);

    // Chunks with Content-Range, one in memory at a time.
    let chunked = Client::new(ClientOptions {
        monolithic_upload_max: 64 << 10,
        upload_chunk_size: Some(1 << 20),
        ..options(reg.auth_file())
    });
    let up = chunked
        .push_blob(
            h,
            "me/big",
            &digest,
            Some(big.len() as u64),
            &mut &big[..],
            None,
        )
        .unwrap();
    assert_eq!(up, Uploaded::Uploaded);
    let mut out = Vec::new();
    chunked.fetch_blob(h, "me/big", &digest, &mut out).unwrap();
    assert_eq!(sha256_digest(&out), digest);

    // One streaming PATCH of unknown length.
    let streaming = Client::new(options(reg.auth_file()));
    let big2 = bytes(2 << 20, 8);
    let digest2 = sha256_digest(&big2);
    streaming
        .push_blob(h, "me/big", &digest2, None, &mut &big2[..], None)
        .unwrap();
    assert_eq!(
        streaming.blob_exists(h, "me/big", &digest2).unwrap(),
        Some(big2.len() as u64)
    );

    // Data that does not match its digest is never committed.
    for client in [&chunked, &streaming] {
        let wrong = sha256_digest(b"something else");
        let err = client
            .push_blob(h, "me/big", &wrong, None, &mut &big2[..], None)
            .unwrap_err();
        assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
        assert_eq!(client.blob_exists(h, "me/big", &wrong).unwrap(), None);
    }
    let small_wrong = sha256_digest(b"x");
    let err = streaming
        .push_blob(h, "me/big", &small_wrong, Some(3), &mut &b"abc"[..], None)
        .unwrap_err();
    assert!(err.to_string().contains("digest mismatch"), "{err}");
}

#[test]
fn corrupted_blob_is_rejected_by_digest() {
    let reg = Registry::start();
    let c = client(&reg);
    let h = reg.host.as_str();
    let img = push_image(&c, h, "me/app", "1", &Platform::host(), 2);
    let digest = sha256_digest(&img.layer);
    let path = reg.blob_path(&digest);
    let mut data = std::fs::read(&path).unwrap();
    data[500] ^= 0xff;
    std::fs::write(&path, &data).unwrap();

    let mut out = Vec::new();
    let err = c.fetch_blob(h, "me/app", &digest, &mut out).unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "{h}/me/app@{digest}: digest mismatch: expected {digest}, got sha256:"
        )),
        "{msg}"
    );
    assert!(!msg.contains('\n'));

    let err = c
        .open_blob(h, "me/app", &digest)
        .unwrap()
        .finish()
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err:?}");
}

#[test]
fn manifest_list_selects_the_platform() {
    let reg = Registry::start();
    let c = client(&reg);
    let h = reg.host.as_str();
    let amd64 = Platform::new("linux", "amd64", None);
    let arm64 = Platform::new("linux", "arm64", Some("v8"));
    let a = push_image(&c, h, "me/multi", "amd64", &amd64, 3);
    let b = push_image(&c, h, "me/multi", "arm64", &arm64, 4);
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": a.manifest_digest, "size": a.manifest.len(),
             "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": OCI_MANIFEST, "digest": b.manifest_digest, "size": b.manifest.len(),
             "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        ],
    }))
    .unwrap();
    let index_digest = c
        .put_manifest(h, "me/multi", "latest", OCI_INDEX, &index)
        .unwrap();

    let r = c
        .resolve_image(
            h,
            "me/multi",
            "latest",
            &Platform::parse("linux/arm64").unwrap(),
        )
        .unwrap();
    assert_eq!(r.manifest.digest, b.manifest_digest);
    assert_eq!(r.manifest.bytes, b.manifest);
    let list = r.list.unwrap();
    assert_eq!(list.digest, index_digest);
    assert_eq!(list.media_type, OCI_INDEX);

    let r = c
        .resolve_image(h, "me/multi", &index_digest, &amd64)
        .unwrap();
    assert_eq!(r.manifest.digest, a.manifest_digest);

    let err = c
        .resolve_image(
            h,
            "me/multi",
            "latest",
            &Platform::new("linux", "s390x", None),
        )
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!("{h}/me/multi:latest: no image for platform linux/s390x in the manifest list (available: linux/amd64, linux/arm64/v8)")
    );
}

#[test]
fn missing_manifest_and_bad_digest_reference() {
    let reg = Registry::start();
    let c = client(&reg);
    let h = reg.host.as_str();
    push_image(&c, h, "me/app", "1", &Platform::host(), 5);
    let err = c.get_manifest(h, "me/app", "2").unwrap_err().to_string();
    assert_eq!(err, format!("{h}/me/app:2: manifest unknown"));
    let err = c
        .get_manifest(h, "me/nothing", "1")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with(&format!("{h}/me/nothing:1: ")), "{err}");
    let absent = sha256_digest(b"no such manifest");
    let err = c
        .get_manifest(h, "me/app", &absent)
        .unwrap_err()
        .to_string();
    assert_eq!(err, format!("{h}/me/app@{absent}: manifest unknown"));
    let err = c
        .get_manifest(h, "me/app", "sha256:1234")
        .unwrap_err()
        .to_string();
    assert!(err.contains("invalid digest"), "{err}");
    let mut out = Vec::new();
    let err = c
        .fetch_blob(h, "me/app", &absent, &mut out)
        .unwrap_err()
        .to_string();
    assert_eq!(err, format!("{h}/me/app@{absent}: blob unknown"));
}

#[test]
fn connection_refused_is_retried_then_reported() {
    let port = free_port();
    let host = format!("127.0.0.1:{port}");
    let warnings = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = warnings.clone();
    let dir = tempfile::tempdir().unwrap();
    let c = Client::new(ClientOptions {
        warn: Some(Arc::new(move |m: &str| {
            sink.lock().unwrap().push(m.to_string())
        })),
        ..options(dir.path().join("auth.json"))
    });
    let err = c.get_manifest(&host, "me/app", "1").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("pinging container registry {host}: connection refused")
    );
    let w = warnings.lock().unwrap();
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(
        w[0].starts_with("Failed, retrying in 10ms ... (1/3). Error: "),
        "{w:?}"
    );
    assert!(w[2].contains("(3/3)"), "{w:?}");
}

#[test]
fn tls_is_required_unless_insecure() {
    let reg = Registry::start();
    let h = reg.host.as_str();
    let dir = tempfile::tempdir().unwrap();
    // Verified https only, which a plain-http registry cannot give.
    let secure = Client::new(ClientOptions {
        tls_verify: Some(true),
        retries: 0,
        ..options(dir.path().join("auth.json"))
    });
    let err = secure.ping(h).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("pinging container registry {h}: ")),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");

    // By default a loopback registry is insecure (Docker's rule); other
    // registries need verified https.
    let default = Client::new(ClientOptions {
        tls_verify: None,
        ..options(dir.path().join("auth.json"))
    });
    assert!(default.is_insecure(h, "me/app"));
    assert!(default.is_insecure("localhost:5000", "me/app"));
    assert!(!default.is_insecure("registry.example:5000", "me/app"));
    default.ping(h).unwrap();

    // An insecure registries.conf entry allows plain http.
    let conf = RegistriesConf::parse(
        &format!("[[registry]]\nlocation = \"{h}\"\ninsecure = true\n"),
        Path::new("registries.conf"),
    )
    .unwrap();
    let by_conf = Client::new(ClientOptions {
        tls_verify: None,
        registries_conf: conf.clone(),
        ..options(dir.path().join("auth.json"))
    });
    assert!(by_conf.is_insecure(h, "me/app"));
    assert!(by_conf.is_insecure("127.0.0.2:1", "me/app"));
    let remote = RegistriesConf::parse(
        "[[registry]]\nlocation = \"registry.example:5000\"\ninsecure = true\n",
        Path::new("registries.conf"),
    )
    .unwrap();
    let remote = Client::new(ClientOptions {
        tls_verify: None,
        registries_conf: remote,
        ..options(dir.path().join("auth.json"))
    });
    assert!(remote.is_insecure("registry.example:5000", "me/app"));
    by_conf.ping(h).unwrap();

    // --tls-verify=true wins over registries.conf.
    let forced = Client::new(ClientOptions {
        tls_verify: Some(true),
        registries_conf: conf,
        retries: 0,
        ..options(dir.path().join("auth.json"))
    });
    assert!(forced.ping(h).is_err());
}

#[test]
fn basic_auth_login_and_logout() {
    let reg = Registry::start_with(Some(("user", "pass")));
    let h = reg.host.as_str();
    let anonymous = client(&reg);
    let err = anonymous
        .get_manifest(h, "me/app", "1")
        .unwrap_err()
        .to_string();
    assert_eq!(err, format!("{h}/me/app: authentication required"));
    let mut out = Vec::new();
    let err = anonymous
        .fetch_blob(h, "me/app", &sha256_digest(b"x"), &mut out)
        .unwrap_err()
        .to_string();
    assert_eq!(err, format!("{h}/me/app: authentication required"));

    // Explicit credentials (--creds) work without any login.
    let with_creds = Client::new(ClientOptions {
        credentials: Some(Credentials::new("user", "pass")),
        ..options(reg.auth_file())
    });
    let img = push_image(&with_creds, h, "me/app", "1", &Platform::host(), 6);
    let wrong_creds = Client::new(ClientOptions {
        credentials: Some(Credentials::new("user", "nope")),
        ..options(reg.auth_file())
    });
    let err = wrong_creds
        .get_manifest(h, "me/app", "1")
        .unwrap_err()
        .to_string();
    assert_eq!(err, format!("{h}/me/app: invalid username/password"));

    // A wrong password is refused and nothing is stored.
    let err = anonymous
        .login(h, &Credentials::new("user", "wrong"))
        .unwrap_err()
        .to_string();
    assert_eq!(err, format!("{h}: invalid username/password"));
    assert!(!reg.auth_file().exists());

    anonymous
        .login(h, &Credentials::new("user", "pass"))
        .unwrap();
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reg.auth_file()).unwrap()).unwrap();
    assert_eq!(
        doc["auths"][h]["auth"],
        Credentials::new("user", "pass").encode()
    );

    // The stored login is used by the same client and by a new one.
    let m = anonymous.get_manifest(h, "me/app", "1").unwrap();
    assert_eq!(m.digest, img.manifest_digest);
    let fresh = client(&reg);
    let mut out = Vec::new();
    fresh
        .fetch_blob(h, "me/app", &sha256_digest(&img.layer), &mut out)
        .unwrap();
    assert_eq!(out, img.layer);

    fresh.logout(h).unwrap();
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reg.auth_file()).unwrap()).unwrap();
    assert!(doc["auths"].get(h).is_none(), "{doc}");
    let err = fresh.logout(h).unwrap_err().to_string();
    assert_eq!(err, format!("not logged into {h}"));
    let err = client(&reg)
        .get_manifest(h, "me/app", "1")
        .unwrap_err()
        .to_string();
    assert_eq!(err, format!("{h}/me/app: authentication required"));
}

/// A token server for docker-registry's `auth.token`: issues RS256 JWTs
/// signed (by the openssl tool) with a self-signed certificate that the
/// registry trusts. `user:pass` gets what it asks for; anyone else gets a
/// token without access, like a public registry's anonymous token.
struct TokenServer {
    addr: String,
    cert: PathBuf,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl TokenServer {
    fn start() -> TokenServer {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("token.key");
        let cert = dir.path().join("token.crt");
        let ok = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=skiff-test-token"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl runs");
        assert!(ok.success(), "openssl could not make a certificate");
        let der = Command::new("openssl")
            .args(["x509", "-outform", "DER", "-in"])
            .arg(&cert)
            .output()
            .unwrap();
        assert!(der.status.success());
        let x5c = base64::engine::general_purpose::STANDARD.encode(&der.stdout);

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (log, flag) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    serve_token(conn, &key, &x5c, &log);
                }
            }
        });
        TokenServer {
            addr,
            cert,
            requests,
            stop,
            thread: Some(thread),
            _dir: dir,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The refresh token `serve_token` takes in an OAuth2 `refresh_token` grant
/// (the `identitytoken` of a Docker OAuth2 login).
const REFRESH_TOKEN: &str = "skiff-test-refresh-token";

/// Answers one token request: a GET with `user:pass` (or nobody), as
/// docker-registry's token flow, or an OAuth2 form POST with
/// `grant_type=refresh_token`, `refresh_token` [`REFRESH_TOKEN`] and a
/// `client_id` (anything else: 400 `invalid_grant`). Logs `basic`,
/// `anonymous`, `refresh` or `refused` with the scopes asked for.
fn serve_token(mut conn: TcpStream, key: &Path, x5c: &str, log: &Mutex<Vec<String>>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match conn.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let method = head.split(' ').next().unwrap_or("").to_string();
    let target = head.split(' ').nth(1).unwrap_or("").to_string();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(": ")?;
                k.eq_ignore_ascii_case(name).then(|| v.to_string())
            })
            .unwrap_or_default()
    };
    let authorization = header("authorization");
    let form = method == "POST";
    let query = if form {
        let len: usize = header("content-length").parse().unwrap_or(0);
        let mut body = vec![0u8; len];
        if conn.read_exact(&mut body).is_err() {
            return;
        }
        String::from_utf8_lossy(&body).to_string()
    } else {
        target
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or("")
            .to_string()
    };
    let params: Vec<(String, String)> = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let good = format!("Basic {}", Credentials::new("user", "pass").encode());
    let refreshed = form
        && header("content-type") == "application/x-www-form-urlencoded"
        && authorization.is_empty()
        && param("grant_type") == Some("refresh_token")
        && param("refresh_token") == Some(REFRESH_TOKEN)
        && param("client_id").is_some_and(|c| !c.is_empty());
    let granted = refreshed || (!form && authorization == good);
    let (status, body) = if refreshed || (!form && (authorization.is_empty() || granted)) {
        let access: Vec<serde_json::Value> = if granted {
            params
                .iter()
                .filter(|(k, _)| k == "scope")
                .filter_map(|(_, v)| {
                    let mut parts = v.splitn(3, ':');
                    let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
                    Some(json!({"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
                })
                .collect()
        } else {
            Vec::new()
        };
        let token = sign_jwt(key, x5c, &access);
        let body = if refreshed {
            json!({"access_token": token, "expires_in": 300, "token_type": "Bearer"})
        } else {
            json!({"token": token, "expires_in": 300})
        };
        ("200 OK", body.to_string())
    } else if form {
        (
            "400 Bad Request",
            r#"{"error":"invalid_grant"}"#.to_string(),
        )
    } else {
        (
            "401 Unauthorized",
            r#"{"details":"invalid credentials"}"#.to_string(),
        )
    };
    let who = match (form, refreshed, authorization.is_empty()) {
        (true, true, _) => "refresh",
        (true, false, _) => "refused",
        (false, _, true) => "anonymous",
        (false, _, false) => "basic",
    };
    let scopes: Vec<&str> = params
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.as_str())
        .collect();
    log.lock()
        .unwrap()
        .push(format!("{who} {}", scopes.join(" ")).trim().to_string());
    let _ = write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

fn sign_jwt(key: &Path, x5c: &str, access: &[serde_json::Value]) -> String {
    use base64::Engine;
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = json!({"typ": "JWT", "alg": "RS256", "x5c": [x5c]});
    let claims = json!({
        "iss": "skiff-test-issuer", "sub": "user", "aud": "skiff-test",
        "exp": now + 300, "nbf": now - 10, "iat": now - 10,
        "jti": format!("{now}-{}", access.len()), "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        url.encode(header.to_string()),
        url.encode(claims.to_string())
    );
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(signing_input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl dgst -sign failed");
    format!("{signing_input}.{}", url.encode(out.stdout))
}

/// Pushes an image to `h`/me/app:1 (layer from `seed`) and reads its
/// manifest and layer back: one token of each scope a push and a pull ask.
fn push_and_read_back(c: &Client, h: &str, seed: u64) -> PushedImage {
    let img = push_image(c, h, "me/app", "1", &Platform::host(), seed);
    let m = c.get_manifest(h, "me/app", "1").unwrap();
    assert_eq!(m.digest, img.manifest_digest);
    let mut out = Vec::new();
    c.fetch_blob(h, "me/app", &sha256_digest(&img.layer), &mut out)
        .unwrap();
    assert_eq!(out, img.layer);
    img
}

#[test]
fn bearer_token_flow() {
    let tokens = TokenServer::start();
    let reg = start_with_token(&tokens);
    let h = reg.host.as_str();

    // Anonymous: a token without access, so the registry still says no.
    let anonymous = client(&reg);
    let err = anonymous
        .get_manifest(h, "me/app", "1")
        .unwrap_err()
        .to_string();
    assert_eq!(err, format!("{h}/me/app: authentication required"));
    assert!(tokens
        .requests()
        .iter()
        .all(|r| r.starts_with("anonymous repository:me/app:pull")));

    let err = anonymous
        .login(h, &Credentials::new("user", "wrong"))
        .unwrap_err()
        .to_string();
    assert_eq!(err, format!("{h}: invalid username/password"));
    assert!(!reg.auth_file().exists());
    anonymous
        .login(h, &Credentials::new("user", "pass"))
        .unwrap();

    // Logged in: one token per scope, reused across requests.
    let c = client(&reg);
    let before = tokens.requests().len();
    let img = push_and_read_back(&c, h, 9);
    let issued: Vec<String> = tokens.requests()[before..].to_vec();
    assert_eq!(
        issued,
        vec![
            "basic repository:me/app:pull,push".to_string(),
            "basic repository:me/app:pull".to_string(),
        ]
    );

    // A mount asks for pull access to the source repository too.
    let up = c
        .push_blob(
            h,
            "me/copy",
            &sha256_digest(&img.layer),
            None,
            &mut &b""[..],
            Some("me/app"),
        )
        .unwrap();
    assert_eq!(up, Uploaded::Mounted);
    assert_eq!(
        tokens.requests().last().unwrap(),
        "basic repository:me/copy:pull,push repository:me/app:pull"
    );
}

/// auth.json's `identitytoken` (what `docker login` stores after an OAuth2
/// login) is sent to the token server as an OAuth2 refresh token, by a
/// form POST with `grant_type=refresh_token`, as containers/image sends it;
/// the access token that comes back works against the real registry. A
/// token the server refuses is an invalid login, in one line.
#[test]
fn identity_token_is_an_oauth2_refresh_token() {
    let tokens = TokenServer::start();
    let reg = start_with_token(&tokens);
    let h = reg.host.as_str();
    let auth_file = |token: &str| {
        let user = Credentials::new("00000000-0000-0000-0000-000000000000", "").encode();
        let doc = json!({"auths": {h: {"auth": user, "identitytoken": token}}});
        std::fs::create_dir_all(reg.auth_file().parent().unwrap()).unwrap();
        std::fs::write(reg.auth_file(), doc.to_string()).unwrap();
    };
    auth_file(REFRESH_TOKEN);
    push_and_read_back(&client(&reg), h, 5);
    assert_eq!(
        tokens.requests(),
        vec![
            "refresh repository:me/app:pull,push".to_string(),
            "refresh repository:me/app:pull".to_string(),
        ],
        "every token came from the refresh token, none by password"
    );

    auth_file("revoked");
    let err = client(&reg)
        .get_manifest(h, "me/app", "1")
        .unwrap_err()
        .to_string();
    assert_eq!(err, format!("{h}/me/app: invalid username/password"));
    assert_eq!(
        tokens.requests().last().unwrap(),
        "refused repository:me/app:pull"
    );
}

#[test]
fn parallel_downloads_share_one_client() {
    let reg = Registry::start();
    let c = client(&reg);
    let h = reg.host.clone();
    let blobs: Vec<Vec<u8>> = (0..6)
        .map(|i| bytes(300_000 + i * 1000, 100 + i as u64))
        .collect();
    for b in &blobs {
        c.push_blob(
            &h,
            "me/par",
            &sha256_digest(b),
            Some(b.len() as u64),
            &mut &b[..],
            None,
        )
        .unwrap();
    }
    let handles: Vec<_> = blobs
        .into_iter()
        .map(|b| {
            let (c, h) = (c.clone(), h.clone());
            std::thread::spawn(move || {
                let mut out = Vec::new();
                c.fetch_blob(&h, "me/par", &sha256_digest(&b), &mut out)
                    .unwrap();
                assert_eq!(out, b);
            })
        })
        .collect();
    for t in handles {
        t.join().unwrap();
    }
}
