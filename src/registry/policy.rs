//! The signature policy (`policy.json`, containers-policy.json(5)): which
//! images may be pulled, per transport and scope, as containers/image
//! evaluates it for Podman.
//!
//! skiff honours `insecureAcceptAnything` and `reject`. It cannot verify
//! signatures: a scope that requires one (`signedBy`, `sigstoreSigned`,
//! `signedBaseLayer`) refuses the pull with an error saying so, never
//! accepts it silently.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::error::{Error, Result};

/// Where containers/image looks when `--signature-policy` is not given:
/// the user's file (under `$HOME`, not `$XDG_CONFIG_HOME`) wins over this.
pub const SYSTEM_POLICY: &str = "/etc/containers/policy.json";

/// The user's policy file below `$HOME`.
pub const USER_POLICY: &str = ".config/containers/policy.json";

/// One entry of a requirement list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    InsecureAcceptAnything,
    Reject,
    /// A signature requirement (`signedBy`, `sigstoreSigned`,
    /// `signedBaseLayer`): its type name.
    Signature(String),
}

/// A parsed policy: the default requirements and, per transport, the
/// requirements of each scope (`""` is the transport's own default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The file it came from; `None` when there is none (accept anything).
    pub path: Option<PathBuf>,
    pub default: Vec<Requirement>,
    pub transports: BTreeMap<String, BTreeMap<String, Vec<Requirement>>>,
}

impl Default for Policy {
    /// No policy file at all: anything may be pulled (Podman refuses to run
    /// without one; skiff has always worked without it).
    fn default() -> Self {
        Policy {
            path: None,
            default: vec![Requirement::InsecureAcceptAnything],
            transports: BTreeMap::new(),
        }
    }
}

impl Policy {
    /// `--signature-policy PATH` when given (it must exist), else the user's
    /// `$HOME/.config/containers/policy.json`, else the system's.
    pub fn load(explicit: Option<&Path>) -> Result<Policy> {
        let user = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(USER_POLICY));
        Policy::load_from(explicit, user.as_deref(), Path::new(SYSTEM_POLICY))
    }

    /// [`load`](Self::load) with the two default paths given (tests).
    pub fn load_from(
        explicit: Option<&Path>,
        user: Option<&Path>,
        system: &Path,
    ) -> Result<Policy> {
        if let Some(p) = explicit {
            let text = crate::error::read_capped_text(p, crate::error::USER_FILE_MAX)
                .map_err(|e| Error::io(format!("reading {}", p.display()), &e))?;
            return Policy::parse(&text, p);
        }
        for p in user.into_iter().chain([system]) {
            match crate::error::read_capped_text(p, crate::error::USER_FILE_MAX) {
                Ok(text) => {
                    tracing::debug!("reading the signature policy {}", p.display());
                    return Policy::parse(&text, p);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(format!("reading {}", p.display()), &e)),
            }
        }
        tracing::debug!("no policy.json: every image is accepted");
        Ok(Policy::default())
    }

    /// Parses a policy file's text, with containers/image's checks: a
    /// `default` is required, no requirement list may be empty, and every
    /// requirement has a known `type`.
    pub fn parse(text: &str, path: &Path) -> Result<Policy> {
        let bad = |reason: String| Error::ConfigFile {
            path: path.to_path_buf(),
            reason: format!("invalid policy: {reason}"),
        };
        let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let obj = doc
            .as_object()
            .ok_or_else(|| bad("not a json object".into()))?;
        let default = match obj.get("default") {
            Some(v) => requirements(v).map_err(|r| bad(format!("default: {r}")))?,
            None => return Err(bad("the default policy is missing".into())),
        };
        let mut transports = BTreeMap::new();
        if let Some(t) = obj.get("transports") {
            let t = t
                .as_object()
                .ok_or_else(|| bad("transports is not an object".into()))?;
            for (name, scopes) in t {
                let scopes = scopes
                    .as_object()
                    .ok_or_else(|| bad(format!("transport {name:?} is not an object")))?;
                let mut parsed = BTreeMap::new();
                for (scope, reqs) in scopes {
                    let reqs = requirements(reqs)
                        .map_err(|r| bad(format!("{name} scope {scope:?}: {r}")))?;
                    parsed.insert(scope.clone(), reqs);
                }
                transports.insert(name.clone(), parsed);
            }
        }
        Ok(Policy {
            path: Some(path.to_path_buf()),
            default,
            transports,
        })
    }

    /// The requirements for a `docker` transport image and the scope that
    /// chose them: the most specific of the full reference (`host/repo:tag`
    /// or `host/repo@digest`), the repository and each namespace above it,
    /// the host, `*.domain` wildcards, the transport's `""` default, and
    /// finally the global default.
    pub fn for_docker(&self, image: &str) -> (&[Requirement], String) {
        if let Some(scopes) = self.transports.get("docker") {
            for scope in docker_scopes(image) {
                if let Some(r) = scopes.get(&scope) {
                    return (r, format!("docker scope {scope:?}"));
                }
            }
            if let Some(r) = scopes.get("") {
                return (r, "docker transport default".into());
            }
        }
        (&self.default, "default".into())
    }

    /// Fails unless `image` (a normalized `host/repo:tag` or
    /// `host/repo@digest`) may be pulled: a `reject` refuses it, a
    /// signature requirement is refused as unsupported.
    pub fn check_docker(&self, image: &str) -> Result<()> {
        let (reqs, scope) = self.for_docker(image);
        let file = self
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        if reqs.contains(&Requirement::Reject) {
            return Err(Error::PolicyRejected {
                image: image.to_string(),
                scope,
                file,
            });
        }
        if let Some(Requirement::Signature(kind)) =
            reqs.iter().find(|r| matches!(r, Requirement::Signature(_)))
        {
            return Err(Error::SignatureUnsupported {
                image: image.to_string(),
                kind: kind.clone(),
                scope,
                file,
            });
        }
        Ok(())
    }
}

/// A requirement list: a non-empty array of objects with a known `type`.
fn requirements(v: &serde_json::Value) -> std::result::Result<Vec<Requirement>, String> {
    let list = v
        .as_array()
        .ok_or_else(|| "a requirement list must be an array".to_string())?;
    if list.is_empty() {
        return Err("the list of verification policy requirements must not be empty".into());
    }
    list.iter()
        .map(|r| match r.get("type").and_then(|t| t.as_str()) {
            Some("insecureAcceptAnything") => Ok(Requirement::InsecureAcceptAnything),
            Some("reject") => Ok(Requirement::Reject),
            Some(t @ ("signedBy" | "sigstoreSigned" | "signedBaseLayer")) => {
                Ok(Requirement::Signature(t.to_string()))
            }
            Some(t) => Err(format!("unknown policy requirement type {t:?}")),
            None => Err("a policy requirement without a type".into()),
        })
        .collect()
}

/// The scopes a docker reference matches, most specific first, as
/// containers/image's `PolicyConfigurationIdentity` and
/// `PolicyConfigurationNamespaces`.
fn docker_scopes(image: &str) -> Vec<String> {
    let mut out = vec![image.to_string()];
    // Strip the digest or tag (a `:` after the last `/` is a tag).
    let repo = match image.find('@') {
        Some(i) => &image[..i],
        None => match image.rfind(':') {
            Some(i) if !image[i..].contains('/') => &image[..i],
            _ => image,
        },
    };
    let mut name = repo.to_string();
    loop {
        if name != image {
            out.push(name.clone());
        }
        match name.rfind('/') {
            Some(i) => name.truncate(i),
            None => break,
        }
    }
    // `*.example.com` and `*.com` for a host of `a.example.com` (no port).
    let host = name.split(':').next().unwrap_or(&name);
    let mut rest = host;
    while let Some(i) = rest.find('.') {
        rest = &rest[i + 1..];
        out.push(format!("*.{rest}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> Policy {
        Policy::parse(text, Path::new("/p.json")).unwrap()
    }

    #[test]
    fn scopes_run_from_the_identity_to_wildcards() {
        assert_eq!(
            docker_scopes("reg.example.com:5000/ns/app:1"),
            [
                "reg.example.com:5000/ns/app:1",
                "reg.example.com:5000/ns/app",
                "reg.example.com:5000/ns",
                "reg.example.com:5000",
                "*.example.com",
                "*.com"
            ]
        );
        assert_eq!(
            docker_scopes("127.0.0.1:5000/app@sha256:ab"),
            [
                "127.0.0.1:5000/app@sha256:ab",
                "127.0.0.1:5000/app",
                "127.0.0.1:5000",
                "*.0.0.1",
                "*.0.1",
                "*.1"
            ]
        );
    }

    #[test]
    fn the_most_specific_scope_wins() {
        let p = policy(
            r#"{"default":[{"type":"reject"}],
                "transports":{"docker":{
                  "h:1/ns":[{"type":"reject"}],
                  "h:1/ns/ok":[{"type":"insecureAcceptAnything"}],
                  "h:1/ns/ok:bad":[{"type":"reject"}],
                  "":[{"type":"insecureAcceptAnything"}]}}}"#,
        );
        assert!(p.check_docker("h:1/ns/ok:1").is_ok());
        assert!(p.check_docker("h:1/ns/ok:bad").is_err());
        assert!(p.check_docker("h:1/ns/other:1").is_err());
        // The transport default, before the global one.
        assert!(p.check_docker("h:2/x:1").is_ok());
        let e = p.check_docker("h:1/ns/x:1").unwrap_err().to_string();
        assert!(e.contains("h:1/ns/x:1") && e.contains("/p.json"), "{e}");
    }

    #[test]
    fn signature_requirements_are_refused_not_ignored() {
        let p = policy(
            r#"{"default":[{"type":"insecureAcceptAnything"}],
                "transports":{"docker":{"q.io":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k"}]}}}"#,
        );
        let e = p.check_docker("q.io/a/b:1").unwrap_err().to_string();
        assert!(e.contains("signature verification is not supported"), "{e}");
        assert!(p.check_docker("r.io/a/b:1").is_ok());
    }

    #[test]
    fn bad_policies_are_errors() {
        for text in [
            r#"{"default":[]}"#,
            r#"{"transports":{}}"#,
            r#"{"default":[{"type":"nope"}]}"#,
            r#"{"default":[{}]}"#,
            r#"[]"#,
        ] {
            assert!(Policy::parse(text, Path::new("/p.json")).is_err(), "{text}");
        }
    }

    #[test]
    fn the_user_file_wins_and_none_accepts() {
        let d = tempfile::tempdir().unwrap();
        let user = d.path().join("user.json");
        let system = d.path().join("system.json");
        std::fs::write(&system, r#"{"default":[{"type":"reject"}]}"#).unwrap();
        let p = Policy::load_from(None, Some(&user), &system).unwrap();
        assert_eq!(p.default, [Requirement::Reject]);
        std::fs::write(&user, r#"{"default":[{"type":"insecureAcceptAnything"}]}"#).unwrap();
        let p = Policy::load_from(None, Some(&user), &system).unwrap();
        assert_eq!(p.path.as_deref(), Some(user.as_path()));
        let none = Policy::load_from(None, None, &d.path().join("nope")).unwrap();
        assert!(none.check_docker("a.io/b:1").is_ok());
        assert!(Policy::load_from(Some(&d.path().join("nope")), None, &system).is_err());
    }
}
