//! Per-registry TLS files: the `certs.d` directories Podman and Docker read.
//!
//! For a registry `HOST:PORT` the directory is `--cert-dir` when given, else
//! the first of these that exists (containers/image's `dockerCertDir`):
//! `$XDG_CONFIG_HOME/containers/certs.d/HOST:PORT`,
//! `~/.config/containers/certs.d/HOST:PORT`,
//! `/etc/containers/certs.d/HOST:PORT` and Docker's
//! `/etc/docker/certs.d/HOST:PORT`. In it, as containers/image's
//! `tlsclientconfig.SetupCertificates` reads it: every `*.crt` is a CA
//! trusted on top of the system's, every `NAME.cert` with its `NAME.key` is a
//! client certificate (PEM).

use std::path::{Path, PathBuf};

use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey};

use super::error::{Error, Result};

/// The system CA bundle Debian's ca-certificates (and most distributions) write.
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The TLS material of one registry's cert directory.
#[derive(Clone)]
pub struct TlsFiles {
    /// The directory it came from, for messages.
    pub dir: PathBuf,
    /// CA certificates (`*.crt`) trusted in addition to the system's.
    pub cas: Vec<Certificate<'static>>,
    /// The client certificate chain and key (`NAME.cert`, `NAME.key`).
    pub client: Option<ClientCert>,
}

impl std::fmt::Debug for TlsFiles {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsFiles")
            .field("dir", &self.dir)
            .field("cas", &self.cas.len())
            .field("client", &self.client.is_some())
            .finish()
    }
}

/// The directories searched for `HOST:PORT` subdirectories, in order.
pub fn search_dirs() -> Vec<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let mut dirs = Vec::new();
    if let Some(c) = var("XDG_CONFIG_HOME") {
        dirs.push(PathBuf::from(c).join("containers/certs.d"));
    }
    if let Some(h) = var("HOME") {
        let d = PathBuf::from(h).join(".config/containers/certs.d");
        if !dirs.contains(&d) {
            dirs.push(d);
        }
    }
    dirs.push(PathBuf::from("/etc/containers/certs.d"));
    dirs.push(PathBuf::from("/etc/docker/certs.d"));
    dirs
}

/// The cert directory of `registry` (`host[:port]`): `cert_dir` when given,
/// else the first `DIR/registry` of `search` that exists; `None` when none does.
pub fn dir_for(registry: &str, cert_dir: Option<&Path>, search: &[PathBuf]) -> Option<PathBuf> {
    if let Some(d) = cert_dir {
        return Some(d.to_path_buf());
    }
    search.iter().map(|d| d.join(registry)).find(|d| d.is_dir())
}

/// Reads the TLS files of `dir`; `Ok(None)` when it does not exist or holds
/// none. A `.cert` without its `.key` (or the reverse), or a file that is not
/// PEM, is an error naming the file.
pub fn load(dir: &Path) -> Result<Option<TlsFiles>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("reading {}", dir.display()), &e)),
    };
    let mut files: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    let mut out = TlsFiles {
        dir: dir.to_path_buf(),
        cas: Vec::new(),
        client: None,
    };
    for f in &files {
        match f.extension().and_then(|x| x.to_str()) {
            Some("crt") => {
                tracing::debug!("trusting the CA certificates of {}", f.display());
                out.cas.extend(certificates(f)?);
            }
            Some("cert") => {
                let key = f.with_extension("key");
                if !key.exists() {
                    return Err(bad(
                        f,
                        format!(
                            "missing key {} for client certificate {}; CA certificates use the extension .crt",
                            key.display(),
                            f.display()
                        ),
                    ));
                }
                let chain = certificates(f)?;
                let pk = private_key(&key)?;
                tracing::debug!("client certificate {}", f.display());
                out.client = Some(ClientCert::new_with_certs(&chain, pk));
            }
            Some("key") => {
                let cert = f.with_extension("cert");
                if !cert.exists() {
                    return Err(bad(
                        f,
                        format!(
                            "missing client certificate {} for key {}",
                            cert.display(),
                            f.display()
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    if out.cas.is_empty() && out.client.is_none() {
        return Ok(None);
    }
    Ok(Some(out))
}

/// The system's CA certificates, to which a cert directory's `*.crt` are
/// added; empty when the bundle cannot be read (then only those are trusted).
pub fn system_roots() -> Vec<Certificate<'static>> {
    match std::fs::read(SYSTEM_BUNDLE) {
        Ok(pem) => ureq::tls::parse_pem(&pem)
            .filter_map(|i| match i {
                Ok(PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect(),
        Err(e) => {
            tracing::debug!("{SYSTEM_BUNDLE}: {e}: trusting only the cert directory's CAs");
            Vec::new()
        }
    }
}

fn bad(path: &Path, reason: String) -> Error {
    Error::ConfigFile {
        path: path.to_path_buf(),
        reason,
    }
}

fn certificates(path: &Path) -> Result<Vec<Certificate<'static>>> {
    let pem = std::fs::File::open(path)
        .and_then(|f| crate::error::read_capped(f, crate::error::USER_FILE_MAX))
        .map_err(|e| Error::io(format!("reading {}", path.display()), &e))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => return Err(bad(path, e.to_string().to_lowercase())),
        }
    }
    if certs.is_empty() {
        return Err(bad(path, "no PEM certificate in it".into()));
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKey<'static>> {
    let pem = std::fs::File::open(path)
        .and_then(|f| crate::error::read_capped(f, crate::error::USER_FILE_MAX))
        .map_err(|e| Error::io(format!("reading {}", path.display()), &e))?;
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::PrivateKey(k)) => return Ok(k),
            Ok(_) => {}
            Err(e) => return Err(bad(path, e.to_string().to_lowercase())),
        }
    }
    Err(bad(path, "no PEM private key in it".into()))
}

/// Whether `registry` (`host[:port]`) is on the loopback interface:
/// `localhost`, an address of 127.0.0.0/8 or `::1`. Docker trusts these as
/// insecure registries without configuration; skiff follows it.
pub fn is_loopback(registry: &str) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => match registry.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => registry,
        },
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names() {
        for r in [
            "localhost",
            "localhost:5000",
            "LOCALHOST:1",
            "127.0.0.1:5000",
            "127.8.9.10",
            "[::1]:5000",
            "::1",
        ] {
            assert!(is_loopback(r), "{r}");
        }
        for r in [
            "localhost.example.com:5000",
            "128.0.0.1:5000",
            "10.0.0.1",
            "docker.io",
            "[::2]:5000",
            "example.com:5000",
        ] {
            assert!(!is_loopback(r), "{r}");
        }
    }

    #[test]
    fn dir_for_takes_the_first_existing() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("a");
        let b = t.path().join("b");
        std::fs::create_dir_all(b.join("reg:5000")).unwrap();
        let search = vec![a.clone(), b.clone()];
        assert_eq!(dir_for("reg:5000", None, &search), Some(b.join("reg:5000")));
        std::fs::create_dir_all(a.join("reg:5000")).unwrap();
        assert_eq!(dir_for("reg:5000", None, &search), Some(a.join("reg:5000")));
        assert_eq!(dir_for("other:1", None, &search), None);
        assert_eq!(
            dir_for("reg:5000", Some(Path::new("/x")), &search),
            Some(PathBuf::from("/x"))
        );
    }

    #[test]
    fn load_checks_pairs_and_pem() {
        let t = tempfile::tempdir().unwrap();
        assert!(load(&t.path().join("none")).unwrap().is_none());
        assert!(load(t.path()).unwrap().is_none());
        std::fs::write(t.path().join("client.cert"), "x").unwrap();
        let e = load(t.path()).unwrap_err().to_string();
        assert!(e.contains("missing key") && e.contains("client.key"), "{e}");
        std::fs::remove_file(t.path().join("client.cert")).unwrap();
        std::fs::write(t.path().join("ca.crt"), "not pem").unwrap();
        let e = load(t.path()).unwrap_err().to_string();
        assert!(
            e.contains("ca.crt") && e.contains("no PEM certificate"),
            "{e}"
        );
    }
}
