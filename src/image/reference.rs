//! Image references: Docker/Podman's `[domain/]path[:tag][@digest]` grammar,
//! and the two normalisations skiff needs (local names and registry pulls).

use std::fmt;

use super::{Error, Result};

/// The registry short names resolve to when pulling, as Docker does.
pub const DOCKER_DOMAIN: &str = "docker.io";
/// The pseudo-registry of images made locally (import, tag, commit, build).
pub const LOCAL_DOMAIN: &str = "localhost";
/// The tag a reference without tag or digest gets.
pub const DEFAULT_TAG: &str = "latest";

const MAX_NAME: usize = 255;

/// A parsed image reference. `domain` is `None` for short names
/// (`busybox`, `foo/bar`): which registry they mean is decided by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub domain: Option<String>,
    /// Repository path below the domain, lowercase components joined by `/`.
    pub path: String,
    pub tag: Option<String>,
    /// `sha256:<64 hex>`.
    pub digest: Option<String>,
}

fn invalid() -> Error {
    Error::Msg("invalid reference format".to_string())
}

impl Reference {
    /// Parses a reference by docker/distribution's grammar (reference.go):
    /// lowercase path components, tag `[\w][\w.-]{0,127}`, `sha256` digest.
    /// Any deviation is `invalid reference format`, Podman's text; a name
    /// that would be valid in lowercase says so, as distribution's
    /// `ErrNameContainsUppercase` does:
    /// `invalid reference format: repository name (UPPER/case) must be lowercase`.
    ///
    /// The first component is a registry only when it has a `.` or a `:` or
    /// is `localhost` (Podman's rule; Docker would also take `UPPER/case` as
    /// registry `UPPER`, which Podman then rejects as a local name).
    pub fn parse(s: &str) -> Result<Reference> {
        Self::parse_exact(s).map_err(|e| {
            let (name, _) = s.split_once('@').unwrap_or((s, ""));
            let last_slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
            let repo = match name[last_slash..].rfind(':') {
                Some(i) => &name[..last_slash + i],
                None => name,
            };
            let lower = format!("{}{}", repo.to_lowercase(), &s[repo.len()..]);
            if repo != repo.to_lowercase() && Self::parse_exact(&lower).is_ok() {
                // Only the path must be lowercase: a registry may be in capitals.
                let path = match repo.split_once('/') {
                    Some((first, path)) if looks_like_domain(first) => path,
                    _ => repo,
                };
                if path != path.to_lowercase() {
                    return Error::Msg(format!(
                        "invalid reference format: repository name ({path}) must be lowercase"
                    ));
                }
            }
            e
        })
    }

    fn parse_exact(s: &str) -> Result<Reference> {
        if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                if !valid_digest(d) {
                    return Err(invalid());
                }
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let i = last_slash + i;
                let tag = &rest[i + 1..];
                if !valid_tag(tag) {
                    return Err(invalid());
                }
                (&rest[..i], Some(tag.to_string()))
            }
            None => (rest, None),
        };
        if name.is_empty() || name.len() > MAX_NAME {
            return Err(invalid());
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, path)) if looks_like_domain(first) => {
                if !valid_domain(first) {
                    return Err(invalid());
                }
                (Some(first.to_string()), path)
            }
            _ => (None, name),
        };
        if path.is_empty() || !path.split('/').all(valid_path_component) {
            return Err(invalid());
        }
        Ok(Reference {
            domain,
            path: path.to_string(),
            tag,
            digest,
        })
    }

    /// True when the name has no registry domain (`busybox`, `foo/bar:1`).
    pub fn is_short(&self) -> bool {
        self.domain.is_none()
    }

    /// Normalisation for names skiff creates: short names go to `localhost/`,
    /// and a missing tag becomes `latest` (unless a digest pins the image).
    pub fn normalize_local(&self) -> Reference {
        let mut r = self.clone();
        if r.domain.is_none() {
            r.domain = Some(LOCAL_DOMAIN.to_string());
        }
        r.default_tag();
        r
    }

    /// Normalisation for pulls from Docker Hub: `busybox` ->
    /// `docker.io/library/busybox:latest`.
    pub fn normalize_docker(&self) -> Reference {
        let mut r = self.clone();
        match r.domain.as_deref() {
            None | Some("index.docker.io") => r.domain = Some(DOCKER_DOMAIN.to_string()),
            _ => {}
        }
        if r.domain.as_deref() == Some(DOCKER_DOMAIN) && !r.path.contains('/') {
            r.path = format!("library/{}", r.path);
        }
        r.default_tag();
        r
    }

    fn default_tag(&mut self) {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some(DEFAULT_TAG.to_string());
        }
    }

    /// `domain/path`, or just `path` for a short name.
    pub fn repository(&self) -> String {
        match &self.domain {
            Some(d) => format!("{d}/{}", self.path),
            None => self.path.clone(),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.repository())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Parses and normalises a name skiff is about to give an image
/// (`import`, `tag`): `busybox` -> `localhost/busybox:latest`.
pub fn normalize_local_name(s: &str) -> Result<String> {
    let r = Reference::parse(s)?;
    if r.digest.is_some() {
        // A name with a digest cannot be given; the digest is the content's.
        return Err(Error::Msg(format!(
            "{s}: cannot name an image with a digest reference"
        )));
    }
    Ok(r.normalize_local().to_string())
}

/// Podman's rule (libimage's NormalizeName): the first component is a
/// registry when it has a `.` or a `:` or is `localhost`.
fn looks_like_domain(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == LOCAL_DOMAIN
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        // [IPv6]:port
        let Some((ip, after)) = rest.split_once(']') else {
            return false;
        };
        if ip.is_empty() || !ip.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return false;
        }
        match after {
            "" => return true,
            p => match p.strip_prefix(':') {
                Some(port) => return !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()),
                None => return false,
            },
        }
    } else {
        match d.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (d, None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) {
            return false;
        }
    }
    !host.is_empty()
        && host.split('.').all(|c| {
            !c.is_empty()
                && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
                && !c.starts_with('-')
                && !c.ends_with('-')
        })
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: `.`, `_`, `__`, or any number of `-`.
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `[\w][\w.-]{0,127}`
fn valid_tag(t: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = t.chars();
    matches!(chars.next(), Some(c) if word(c))
        && t.len() <= 128
        && chars.all(|c| word(c) || c == '.' || c == '-')
}

/// `sha256:<64 lowercase hex>`.
pub fn valid_digest(d: &str) -> bool {
    match d.strip_prefix("sha256:") {
        Some(h) => is_hex64(h),
        None => false,
    }
}

/// 64 lowercase hexadecimal characters: a full id or digest.
pub fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn p(s: &str) -> Reference {
        Reference::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn splits_domain_path_tag_digest() {
        let r = p("quay.io/x/y:1.0");
        assert_eq!(r.domain.as_deref(), Some("quay.io"));
        assert_eq!(r.path, "x/y");
        assert_eq!(r.tag.as_deref(), Some("1.0"));
        let r = p("localhost:5000/busybox");
        assert_eq!(r.domain.as_deref(), Some("localhost:5000"));
        assert_eq!(r.tag, None);
        let r = p("localhost/busybox");
        assert_eq!(r.domain.as_deref(), Some("localhost"));
        let r = p("foo/bar");
        assert_eq!(r.domain, None);
        assert_eq!(r.path, "foo/bar");
        let r = p(&format!("busybox@sha256:{HEX}"));
        assert_eq!(r.digest.as_deref(), Some(&*format!("sha256:{HEX}")));
        assert_eq!(r.tag, None);
        let r = p(&format!("a.b/c:t@sha256:{HEX}"));
        assert_eq!(r.tag.as_deref(), Some("t"));
        let r = p("[::1]:5000/x");
        assert_eq!(r.domain.as_deref(), Some("[::1]:5000"));
        let r = p("127.0.0.1:5000/a/b-c__d.e:v_1-2.3");
        assert_eq!(r.path, "a/b-c__d.e");
        assert_eq!(r.tag.as_deref(), Some("v_1-2.3"));
        let r = p("a---b");
        assert_eq!(r.path, "a---b");
    }

    #[test]
    fn rejects_bad_references() {
        for bad in [
            "",
            "busybox:",
            "busybox:-x",
            ":tag",
            "/x",
            "x/",
            "x//y",
            "a..b",
            "a___b",
            "-a",
            "a-",
            "busybox@sha256:abc",
            "busybox@md5:00",
            "has space",
            "quay.io:abc/x",
            &format!("x:{}", "a".repeat(129)),
            &"a".repeat(256),
        ] {
            let e = Reference::parse(bad).unwrap_err().to_string();
            assert_eq!(e, "invalid reference format", "{bad:?}");
        }
    }

    #[test]
    fn uppercase_repository_names_say_so() {
        for (bad, path) in [
            ("Busybox", "Busybox"),
            ("foo/Bar", "foo/Bar"),
            ("UPPER/case", "UPPER/case"),
            ("UPPER/case:Tag", "UPPER/case"),
            ("quay.io/Foo/bar:1", "Foo/bar"),
            (&*format!("Up@sha256:{HEX}"), "Up"),
        ] {
            let e = Reference::parse(bad).unwrap_err().to_string();
            assert_eq!(
                e,
                format!("invalid reference format: repository name ({path}) must be lowercase"),
                "{bad:?}"
            );
            assert!(normalize_local_name(bad).is_err(), "{bad:?}");
        }
        // A registry may be written in capitals; a tag may hold them.
        assert_eq!(p("Quay.IO/x").domain.as_deref(), Some("Quay.IO"));
        assert_eq!(p("busybox:UPPER").tag.as_deref(), Some("UPPER"));
        // Uppercase in an otherwise broken reference is just broken.
        assert_eq!(
            Reference::parse("Bad//Name").unwrap_err().to_string(),
            "invalid reference format"
        );
    }

    #[test]
    fn local_normalisation() {
        assert_eq!(
            normalize_local_name("busybox").unwrap(),
            "localhost/busybox:latest"
        );
        assert_eq!(
            normalize_local_name("foo/bar:1").unwrap(),
            "localhost/foo/bar:1"
        );
        assert_eq!(
            normalize_local_name("quay.io/x/y").unwrap(),
            "quay.io/x/y:latest"
        );
        assert_eq!(
            normalize_local_name("localhost/busybox:2").unwrap(),
            "localhost/busybox:2"
        );
        assert!(normalize_local_name(&format!("b@sha256:{HEX}")).is_err());
    }

    #[test]
    fn docker_normalisation() {
        assert_eq!(
            p("busybox").normalize_docker().to_string(),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            p("foo/bar:1").normalize_docker().to_string(),
            "docker.io/foo/bar:1"
        );
        assert_eq!(
            p("index.docker.io/busybox").normalize_docker().to_string(),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            p("quay.io/x").normalize_docker().to_string(),
            "quay.io/x:latest"
        );
        let d = format!("busybox@sha256:{HEX}");
        assert_eq!(
            p(&d).normalize_docker().to_string(),
            format!("docker.io/library/busybox@sha256:{HEX}")
        );
    }
}
