//! A real registry for the pull/push and save/load tests: Debian's
//! `docker-registry` on 127.0.0.1 at a free port, storage in a temporary
//! directory, optionally behind htpasswd basic auth. Nothing leaves loopback.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use crate::common::free_port;
use crate::common::{Output, Skiff};

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// A running docker-registry; killed when dropped.
pub struct Registry {
    child: Child,
    pub dir: tempfile::TempDir,
    /// `127.0.0.1:PORT`.
    pub host: String,
}

impl Registry {
    /// A registry without authentication.
    pub fn start() -> Registry {
        Registry::start_with(None)
    }

    /// A registry behind htpasswd basic auth when `auth` is (user, password).
    pub fn start_with(auth: Option<(&str, &str)>) -> Registry {
        let Some((user, pass)) = auth else {
            return Registry::start_config(|_| String::new());
        };
        Registry::start_config(|dir| {
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, pass])
                .output()
                .expect("htpasswd (apache2-utils) runs");
            assert!(out.status.success(), "htpasswd failed");
            let path = dir.join("htpasswd");
            std::fs::write(&path, &out.stdout).unwrap();
            format!(
                "auth:\n  htpasswd:\n    realm: skiff-test\n    path: {}\n",
                path.display()
            )
        })
    }

    /// The one launcher: docker-registry on a free 127.0.0.1 port with its
    /// storage in a fresh temporary directory, `extra(dir)` appended to its
    /// config.yml (an `auth:` section, written with any files it needs into
    /// `dir`); returns once `GET /v2/` answers (200, or 401 with auth).
    pub fn start_config(extra: impl FnOnce(&Path) -> String) -> Registry {
        Registry::launch(extra, None)
    }

    /// A registry serving HTTPS with `pki`'s server certificate (for
    /// 127.0.0.1); with `client_auth`, it also requires a client
    /// certificate signed by `pki`'s CA.
    pub fn start_tls(pki: &Pki, client_auth: bool) -> Registry {
        let mut tls = format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            pki.server_cert.display(),
            pki.server_key.display()
        );
        if client_auth {
            tls.push_str(&format!("    clientcas:\n      - {}\n", pki.ca.display()));
        }
        Registry::launch(|_| String::new(), Some(tls))
    }

    fn launch(extra: impl FnOnce(&Path) -> String, tls: Option<String>) -> Registry {
        assert!(
            Path::new(REGISTRY_BIN).exists(),
            "{REGISTRY_BIN} is missing: apt-get install docker-registry"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: skiff-test\n{}",
            dir.path().join("data").display(),
            tls.as_deref().unwrap_or("")
        );
        config.push_str(&extra(dir.path()));
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("registry.log")).unwrap())
            .spawn()
            .expect("docker-registry starts");
        let reg = Registry {
            child,
            dir,
            host: format!("127.0.0.1:{port}"),
        };
        reg.wait_ready();
        reg
    }

    /// Until `GET /v2/` gets an HTTP answer (200, or 401 with auth; a TLS
    /// registry answers plain HTTP with Go's 400).
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(mut s) = TcpStream::connect(&self.host) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let req = format!(
                    "GET /v2/ HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                    self.host
                );
                if s.write_all(req.as_bytes()).is_ok() {
                    let mut answer = String::new();
                    let _ = s.read_to_string(&mut answer);
                    if answer.starts_with("HTTP/1.1 200")
                        || answer.starts_with("HTTP/1.1 401")
                        || answer.starts_with("HTTP/1.0 400")
                    {
                        return;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default();
        panic!(
            "docker-registry on {} did not answer /v2/ in 20s: {log}",
            self.host
        );
    }

    /// An auth.json path inside the registry's directory, for clients that
    /// must not touch the user's.
    pub fn auth_file(&self) -> PathBuf {
        self.dir.path().join("auth/auth.json")
    }

    /// Where the registry keeps the bytes of a blob.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// `host/path`.
    pub fn name(&self, path: &str) -> String {
        format!("{}/{path}", self.host)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A test CA with a server certificate for 127.0.0.1 and a client
/// certificate, made by the openssl tool in a temporary directory.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl Pki {
    pub fn generate() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let script = r#"set -e
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $ec -days 2 -subj /CN=skiff-test-ca -keyout ca.key -out ca.crt
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > server.ext
openssl req $ec -subj /CN=127.0.0.1 -keyout server.key -out server.csr
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.crt
printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' > client.ext
openssl req $ec -subj /CN=skiff-test-client -keyout client.key -out client.csr
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile client.ext -out client.cert
chmod 644 *
"#;
        let out = Command::new("sh")
            .args(["-c", script])
            .current_dir(dir.path())
            .output()
            .expect("sh runs");
        assert!(
            out.status.success(),
            "openssl could not make the test certificates: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Readable by the user skiff runs as (the registry reads them as root).
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let p = |n: &str| dir.path().join(n);
        Pki {
            ca: p("ca.crt"),
            server_cert: p("server.crt"),
            server_key: p("server.key"),
            client_cert: p("client.cert"),
            client_key: p("client.key"),
            dir,
        }
    }

    /// Copies the CA (and with `client`, the client pair) into `dir` as a
    /// certs.d directory readable by the user skiff runs as.
    pub fn install(&self, s: &Skiff, dir: &Path, client: bool) {
        s.make_dir(dir);
        let mut files = vec![(&self.ca, "ca.crt")];
        if client {
            files.push((&self.client_cert, "client.cert"));
            files.push((&self.client_key, "client.key"));
        }
        for (from, name) in files {
            let to = dir.join(name);
            std::fs::copy(from, &to).unwrap();
            s.give(&to);
        }
    }
}

/// Writes the user's registries.conf for a skiff: search registries and
/// insecure (plain http) entries.
pub fn write_registries_conf(s: &Skiff, search: &[&str], insecure: &[&str]) {
    let dir = s.make_dir(&s.config_home.join("containers"));
    let mut text = format!(
        "unqualified-search-registries = [{}]\n",
        search
            .iter()
            .map(|r| format!("\"{r}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for r in insecure {
        text.push_str(&format!(
            "[[registry]]\nlocation = \"{r}\"\ninsecure = true\n"
        ));
    }
    let p = dir.join("registries.conf");
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    s.give(&p);
}

/// Asserts a failure with exit 125 whose last stderr line is the `Error: `
/// line (progress lines such as `Trying to pull` may come before it), and
/// returns that line.
pub fn fails_125(o: &Output) -> String {
    assert_eq!(o.code, 125, "expected exit code 125\n{}", o.describe());
    let errors: Vec<&str> = o
        .stderr
        .lines()
        .filter(|l| l.starts_with("Error: "))
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "expected one Error: line\n{}",
        o.describe()
    );
    assert!(
        o.stderr.trim_end().ends_with(errors[0]),
        "the error must be the last line\n{}",
        o.describe()
    );
    errors[0].to_string()
}

/// Number of entries in a directory (0 when it does not exist).
pub fn count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|r| r.count()).unwrap_or(0)
}

/// A front for a plain-HTTP registry that resets every TLS handshake (as
/// many plain-HTTP servers do) and passes other connections through; the
/// threads end with the test process, the listener when dropped.
pub struct ResetsTls {
    /// `127.0.0.1:PORT`.
    pub host: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl ResetsTls {
    pub fn start(target: &str) -> ResetsTls {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let (target, flag) = (target.to_string(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = conn else { continue };
                let mut first = [0u8; 1];
                // 0x16: a TLS handshake record. Dropping the socket with
                // unread data makes the kernel send a reset.
                if client.peek(&mut first).map_or(true, |_| first[0] == 0x16) {
                    continue;
                }
                let Ok(upstream) = TcpStream::connect(&target) else {
                    continue;
                };
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), upstream.try_clone().unwrap()),
                    (upstream, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    });
                }
            }
        });
        ResetsTls { host, stop }
    }
}

impl Drop for ResetsTls {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(&self.host);
    }
}
