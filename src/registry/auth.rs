//! Registry credentials: the `WWW-Authenticate` challenge, bearer token
//! requests, and the `auth.json` file that Podman and Docker share.
//!
//! Credentials are read from the same files Podman reads, in its order, so
//! that `podman login` and `skiff login` see each other's logins.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;

use super::cred_helper;
use super::error::{Error, Result};

/// A user name and password for one registry, and the OAuth2 refresh
/// token Docker stores beside them (`identitytoken`) when there is one.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// auth.json / config.json `auths.REGISTRY.identitytoken`: sent as an
    /// OAuth2 refresh token to a bearer challenge's realm instead of the
    /// password (containers/image's `IdentityToken`).
    pub identity_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    // Never print a password or token, even in debug output or test failures.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
            identity_token: None,
        }
    }

    /// The value of an `Authorization: Basic ...` header.
    pub fn basic_header(&self) -> String {
        format!("Basic {}", self.encode())
    }

    /// base64(user:pass), the `auth` field of auth.json.
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.username, self.password))
    }

    /// Decodes an `auth` field; `None` when it is not base64 of `user:pass`.
    pub fn decode(auth: &str) -> Option<Credentials> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (user, pass) = text.split_once(':')?;
        if user.is_empty() {
            return None;
        }
        Some(Credentials::new(user, pass))
    }
}

/// The authentication scheme a registry asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    Basic,
    Bearer,
    Other(String),
}

/// One parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: Scheme,
    /// Parameter names are lowercased (`realm`, `service`, `scope`, `error`).
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// Parses `Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull"`
/// or `Basic realm="Registry Realm"` (RFC 7235 auth-params, quoted or bare values).
pub fn parse_www_authenticate(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = match header.find(char::is_whitespace) {
        Some(i) => (&header[..i], header[i..].trim_start()),
        None => (header, ""),
    };
    if scheme.is_empty() {
        return None;
    }
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "basic" => Scheme::Basic,
        "bearer" => Scheme::Bearer,
        other => Scheme::Other(other.to_string()),
    };
    let mut params = BTreeMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while matches!(chars.peek(), Some(c) if c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' || c.is_whitespace() {
                break;
            }
            name.push(c);
            chars.next();
        }
        if name.is_empty() {
            break;
        }
        while matches!(chars.peek(), Some(c) if c.is_whitespace()) {
            chars.next();
        }
        if chars.peek() != Some(&'=') {
            // A bare token68 (e.g. `Basic abc==`) carries no parameters we use.
            continue;
        }
        chars.next();
        while matches!(chars.peek(), Some(c) if c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(escaped) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        params.insert(name.to_ascii_lowercase(), value);
    }
    Some(Challenge { scheme, params })
}

/// The scope a request for `repository` with `actions` (`pull`, `pull,push`) needs.
pub fn repository_scope(repository: &str, actions: &str) -> String {
    format!("repository:{repository}:{actions}")
}

/// The realm URL and query parameters of a token request for a bearer
/// challenge. The scopes we need come first; the challenge's own scope is
/// added when it differs, since the registry said that is what it wants.
pub fn token_request(
    challenge: &Challenge,
    scopes: &[String],
    username: Option<&str>,
) -> Option<(String, Vec<(String, String)>)> {
    let realm = challenge.param("realm")?.to_string();
    let mut query = Vec::new();
    if let Some(service) = challenge.param("service") {
        query.push(("service".to_string(), service.to_string()));
    }
    let mut all: Vec<String> = scopes.to_vec();
    if let Some(asked) = challenge.param("scope") {
        for s in asked.split(' ').filter(|s| !s.is_empty()) {
            if !all.iter().any(|have| have == s) {
                all.push(s.to_string());
            }
        }
    }
    for s in all {
        query.push(("scope".to_string(), s));
    }
    if let Some(user) = username {
        // Docker Hub's token server wants the account it authenticates.
        query.push(("account".to_string(), user.to_string()));
    }
    Some((realm, query))
}

/// The realm URL and form fields of an OAuth2 refresh-token request for a
/// bearer challenge, as containers/image sends one when the credentials
/// carry an identity token: `service` and the scopes as in
/// [`token_request`] (without `account`), then `grant_type=refresh_token`,
/// `refresh_token` and `client_id`. The caller POSTs the fields
/// form-urlencoded to the realm. `None` when the challenge has no realm.
pub fn refresh_token_request(
    challenge: &Challenge,
    scopes: &[String],
    refresh_token: &str,
) -> Option<(String, Vec<(String, String)>)> {
    let (realm, mut form) = token_request(challenge, scopes, None)?;
    form.push(("grant_type".to_string(), "refresh_token".to_string()));
    form.push(("refresh_token".to_string(), refresh_token.to_string()));
    form.push(("client_id".to_string(), "skiff".to_string()));
    Some((realm, form))
}

/// The answer of a token server. Docker's uses `token`, OAuth2 ones `access_token`.
#[derive(Debug, serde::Deserialize)]
pub struct TokenResponse {
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<u64>,
}

impl TokenResponse {
    pub fn bearer(&self) -> Option<&str> {
        self.token
            .as_deref()
            .filter(|t| !t.is_empty())
            .or(self.access_token.as_deref().filter(|t| !t.is_empty()))
    }
}

/// Where credentials are read from and where `login` writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFiles {
    /// The file `login` writes and `logout` edits.
    pub write: PathBuf,
    /// Files searched for credentials, first match wins; `write` is first.
    pub read: Vec<PathBuf>,
}

impl AuthFiles {
    /// Podman's choice: `$REGISTRY_AUTH_FILE`, else
    /// `$XDG_RUNTIME_DIR/containers/auth.json` (`/run/containers/<uid>/auth.json`
    /// without a runtime dir); then `$XDG_CONFIG_HOME/containers/auth.json` and
    /// Docker's `config.json` are read as fallbacks.
    pub fn from_env() -> AuthFiles {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let home = var("HOME").map(PathBuf::from);
        let write = match var("REGISTRY_AUTH_FILE") {
            Some(p) => PathBuf::from(p),
            None => match var("XDG_RUNTIME_DIR") {
                Some(dir) => PathBuf::from(dir).join("containers/auth.json"),
                None => PathBuf::from(format!(
                    "/run/containers/{}/auth.json",
                    nix::unistd::getuid()
                )),
            },
        };
        let mut read = vec![write.clone()];
        let config_home = var("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".config")));
        if let Some(dir) = config_home {
            read.push(dir.join("containers/auth.json"));
        }
        match var("DOCKER_CONFIG") {
            Some(dir) => read.push(PathBuf::from(dir).join("config.json")),
            None => {
                if let Some(h) = &home {
                    read.push(h.join(".docker/config.json"));
                }
            }
        }
        read.dedup();
        AuthFiles { write, read }
    }

    /// Only one file, read and written (tests, `--authfile`).
    pub fn single(path: impl Into<PathBuf>) -> AuthFiles {
        let path = path.into();
        AuthFiles {
            write: path.clone(),
            read: vec![path],
        }
    }

    /// The credentials for `registry` (and optionally a repository in it),
    /// file by file as containers/image reads them: a `credHelpers` entry
    /// for the registry asks that helper; else the most specific `auths`
    /// key wins (`host/ns/repo`, `host/ns`, `host`); else a `credsStore`
    /// (Docker's) is asked.
    pub fn lookup(&self, registry: &str, repository: Option<&str>) -> Result<Option<Credentials>> {
        let wanted = lookup_keys(registry, repository);
        for path in &self.read {
            let Some(doc) = read_doc(path)? else {
                continue;
            };
            if let Some(helper) = cred_helper_for(&doc, registry) {
                match cred_helper::get(&helper, registry)? {
                    Some(c) => return Ok(Some(c)),
                    None => continue,
                }
            }
            let auths = match doc.get("auths") {
                Some(serde_json::Value::Object(m)) => m.clone(),
                _ => serde_json::Map::new(),
            };
            for key in &wanted {
                for (k, v) in &auths {
                    if normalize_key(k) != *key {
                        continue;
                    }
                    // As containers/image: the identity token only beside
                    // a valid `auth` (Docker writes `TOKEN-USER:` there).
                    if let Some(mut c) = v
                        .get("auth")
                        .and_then(|a| a.as_str())
                        .and_then(Credentials::decode)
                    {
                        c.identity_token = v
                            .get("identitytoken")
                            .and_then(|t| t.as_str())
                            .filter(|t| !t.is_empty())
                            .map(str::to_string);
                        return Ok(Some(c));
                    }
                }
            }
            if let Some(helper) = creds_store(&doc) {
                // Podman ignores `credsStore`: a Docker leftover naming a
                // helper that is not installed must not break its pulls.
                match cred_helper::get(&helper, &store_server(registry)) {
                    Ok(Some(c)) => return Ok(Some(c)),
                    Ok(None) => {}
                    Err(e @ Error::CredentialHelperMissing { .. }) => {
                        tracing::debug!("credsStore of {}: {e}", path.display())
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(None)
    }

    /// The helper `login` stores through for `key`, and the server name it
    /// is given: the write file's `credHelpers` entry for the registry
    /// (the host, as containers/image passes it), else its `credsStore`
    /// (Docker Hub under Docker's legacy URL, as Docker passes it).
    pub fn helper_for_login(&self, key: &str) -> Result<Option<(String, String)>> {
        let Some(doc) = read_doc(&self.write)? else {
            return Ok(None);
        };
        let registry = registry_of(key);
        if let Some(h) = cred_helper_for(&doc, &registry) {
            return Ok(Some((h, registry)));
        }
        Ok(creds_store(&doc).map(|h| (h, store_server(&registry))))
    }

    /// Writes `credentials` for `key` (a registry, or `registry/repo`):
    /// through the write file's credential helper when it names one (a
    /// helper keeps registries only, not repositories), else into
    /// `self.write`, keeping every other entry and field of the file.
    pub fn store(&self, key: &str, credentials: &Credentials) -> Result<()> {
        if let Some((helper, server)) = self.helper_for_login(key)? {
            if normalize_key(key) != registry_of(key) {
                return Err(Error::CredentialHelper {
                    helper: cred_helper::program(&helper),
                    action: "store".into(),
                    server: key.to_string(),
                    reason: "a credential helper keeps logins per registry, not per repository"
                        .into(),
                });
            }
            cred_helper::store(&helper, &server, credentials)?;
            // An older inline login for the key would shadow the helper's.
            return match self.remove_inline(key) {
                Ok(_) | Err(Error::NotLoggedIn { .. }) => Ok(()),
                Err(e) => Err(e),
            };
        }
        let mut doc = read_doc(&self.write)?.unwrap_or_else(|| serde_json::json!({}));
        let obj = doc.as_object_mut().ok_or_else(|| Error::ConfigFile {
            path: self.write.clone(),
            reason: "not a json object".into(),
        })?;
        let auths = obj.entry("auths").or_insert_with(|| serde_json::json!({}));
        if !auths.is_object() {
            *auths = serde_json::json!({});
        }
        let auths = auths.as_object_mut().expect("made an object above");
        auths.insert(
            key.to_string(),
            serde_json::json!({ "auth": credentials.encode() }),
        );
        write_doc(&self.write, &doc)
    }

    /// Removes `key` from `self.write` and from its credential helper.
    /// `NotLoggedIn` when neither had it.
    pub fn remove(&self, key: &str) -> Result<()> {
        let erased = match self.helper_for_login(key)? {
            Some((helper, server)) if normalize_key(key) == registry_of(key) => {
                cred_helper::erase(&helper, &server)?
            }
            _ => false,
        };
        match self.remove_inline(key) {
            Err(Error::NotLoggedIn { .. }) if erased => Ok(()),
            other => other,
        }
    }

    /// Removes `key` from the `auths` of `self.write`.
    fn remove_inline(&self, key: &str) -> Result<()> {
        let not_logged_in = || Error::NotLoggedIn {
            registry: key.to_string(),
        };
        let Some(mut doc) = read_doc(&self.write)? else {
            return Err(not_logged_in());
        };
        let wanted = normalize_key(key);
        let removed = match doc.get_mut("auths").and_then(|a| a.as_object_mut()) {
            Some(auths) => {
                let keys: Vec<String> = auths
                    .keys()
                    .filter(|k| normalize_key(k) == wanted)
                    .cloned()
                    .collect();
                for k in &keys {
                    auths.remove(k);
                }
                !keys.is_empty()
            }
            None => false,
        };
        if !removed {
            return Err(not_logged_in());
        }
        write_doc(&self.write, &doc)
    }

    /// `logout --all`: empties the `auths` of `self.write` and erases what
    /// each of its `credHelpers` keeps (a `credsStore` cannot be listed
    /// portably and is left alone).
    pub fn remove_all(&self) -> Result<()> {
        let Some(mut doc) = read_doc(&self.write)? else {
            return Ok(());
        };
        if let Some(helpers) = doc.get("credHelpers").and_then(|h| h.as_object()) {
            for (registry, helper) in helpers {
                if let Some(helper) = helper.as_str() {
                    cred_helper::erase(helper, &normalize_key(registry))?;
                }
            }
        }
        if let Some(obj) = doc.as_object_mut() {
            obj.insert("auths".into(), serde_json::json!({}));
        }
        write_doc(&self.write, &doc)
    }
}

/// The registry part of an auth key (`host/ns/repo` -> `host`), normalized.
fn registry_of(key: &str) -> String {
    let k = normalize_key(key);
    match k.find('/') {
        Some(i) => k[..i].to_string(),
        None => k,
    }
}

/// The `credHelpers` entry of a file for `registry` (keys compared normalized).
fn cred_helper_for(doc: &serde_json::Value, registry: &str) -> Option<String> {
    let wanted = normalize_key(registry);
    doc.get("credHelpers")?
        .as_object()?
        .iter()
        .find(|(k, _)| normalize_key(k) == wanted)
        .and_then(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// A file's `credsStore` (Docker's one helper for every registry).
fn creds_store(doc: &serde_json::Value) -> Option<String> {
    doc.get("credsStore")?
        .as_str()
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// The server name a `credsStore` keeps Docker Hub under (Docker's legacy
/// URL); any other registry is its host.
fn store_server(registry: &str) -> String {
    match normalize_key(registry).as_str() {
        "docker.io" => "https://index.docker.io/v1/".to_string(),
        r => r.to_string(),
    }
}

/// Keys to try, most specific first, already normalized.
fn lookup_keys(registry: &str, repository: Option<&str>) -> Vec<String> {
    let registry = normalize_key(registry);
    let mut keys = Vec::new();
    if let Some(repo) = repository {
        let mut path = repo.trim_matches('/').to_string();
        while !path.is_empty() {
            keys.push(format!("{registry}/{path}"));
            path = match path.rfind('/') {
                Some(i) => path[..i].to_string(),
                None => String::new(),
            };
        }
    }
    keys.push(registry);
    keys
}

/// `https://index.docker.io/v1/` -> `docker.io`, `http://host:5000/` -> `host:5000`:
/// Docker's legacy keys carry a scheme and an API path, Podman's do not.
pub fn normalize_key(key: &str) -> String {
    let mut k = key.trim();
    for prefix in ["https://", "http://"] {
        if let Some(rest) = k.strip_prefix(prefix) {
            k = rest;
            // With a scheme the path part is the API version, not a namespace.
            if let Some(i) = k.find('/') {
                k = &k[..i];
            }
        }
    }
    let k = k.trim_end_matches('/');
    let (host, rest) = match k.find('/') {
        Some(i) => (&k[..i], &k[i..]),
        None => (k, ""),
    };
    let host = match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => "docker.io",
        h => h,
    };
    format!("{host}{rest}")
}

fn read_doc(path: &Path) -> Result<Option<serde_json::Value>> {
    let text = match crate::error::read_capped_text(path, crate::error::USER_FILE_MAX) {
        Ok(t) => {
            tracing::debug!("reading credentials from {}", path.display());
            t
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), &e)),
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::ConfigFile {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

/// Atomic and private: a temp file (0600) in the same directory, fsync, rename,
/// so a crash never leaves a half-written credentials file.
fn write_doc(path: &Path, doc: &serde_json::Value) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(doc).expect("a json value serializes");
    text.push(b'\n');
    write_private(path, &text)
}

/// Replaces `path` with `data`, readable by the user alone (0600, the
/// directory made 0700 when missing), atomically: a temp file in the same
/// directory, fsync, rename, fsync of the directory; the temp file is
/// removed on failure. For auth.json and the short-name alias cache.
pub(crate) fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    let ctx = |what: &str| format!("{what} {}", path.display());
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(ctx("creating the directory of"), &e))?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into()),
        std::process::id()
    ));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        fs::File::open(dir)?.sync_all()
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io(ctx("writing"), &e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_challenge() {
        let c = parse_www_authenticate(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        )
        .unwrap();
        assert_eq!(c.scheme, Scheme::Bearer);
        assert_eq!(c.param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c.param("service"), Some("registry.docker.io"));
        assert_eq!(c.param("scope"), Some("repository:library/busybox:pull"));
    }

    #[test]
    fn parses_basic_bare_values_escapes_and_error() {
        let c = parse_www_authenticate(r#"Basic realm="Registry \"Realm\"""#).unwrap();
        assert_eq!(c.scheme, Scheme::Basic);
        assert_eq!(c.param("realm"), Some(r#"Registry "Realm""#));
        let c = parse_www_authenticate(
            r#"bearer realm=http://127.0.0.1:1/t , Service = reg, error="invalid_token""#,
        )
        .unwrap();
        assert_eq!(c.scheme, Scheme::Bearer);
        assert_eq!(c.param("realm"), Some("http://127.0.0.1:1/t"));
        assert_eq!(c.param("service"), Some("reg"));
        assert_eq!(c.param("error"), Some("invalid_token"));
        assert_eq!(parse_www_authenticate(""), None);
        let c = parse_www_authenticate("Negotiate").unwrap();
        assert_eq!(c.scheme, Scheme::Other("negotiate".into()));
    }

    #[test]
    fn builds_token_request() {
        let c = parse_www_authenticate(
            r#"Bearer realm="https://a/token",service="reg",scope="repository:me/app:pull""#,
        )
        .unwrap();
        let (realm, q) = token_request(
            &c,
            &[
                repository_scope("me/app", "pull,push"),
                repository_scope("me/base", "pull"),
            ],
            Some("user"),
        )
        .unwrap();
        assert_eq!(realm, "https://a/token");
        let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            q,
            vec![
                ("service", "reg"),
                ("scope", "repository:me/app:pull,push"),
                ("scope", "repository:me/base:pull"),
                ("scope", "repository:me/app:pull"),
                ("account", "user"),
            ]
        );
        let no_realm = parse_www_authenticate(r#"Bearer service="x""#).unwrap();
        assert!(token_request(&no_realm, &[], None).is_none());
    }

    #[test]
    fn builds_refresh_token_request_and_reads_identity_tokens() {
        let c = parse_www_authenticate(r#"Bearer realm="https://a/oauth2/token",service="reg""#)
            .unwrap();
        let (realm, form) =
            refresh_token_request(&c, &[repository_scope("me/app", "pull")], "r3fresh").unwrap();
        assert_eq!(realm, "https://a/oauth2/token");
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            form,
            vec![
                ("service", "reg"),
                ("scope", "repository:me/app:pull"),
                ("grant_type", "refresh_token"),
                ("refresh_token", "r3fresh"),
                ("client_id", "skiff"),
            ]
        );

        // Docker's config.json after an OAuth2 login: the token user in
        // `auth`, the refresh token beside it. Without a valid `auth` the
        // entry is skipped, as containers/image skips it.
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("config.json");
        let user = Credentials::new("00000000-0000-0000-0000-000000000000", "").encode();
        fs::write(
            &f,
            format!(
                r#"{{"auths":{{"reg.example":{{"auth":"{user}","identitytoken":"r3fresh"}},"bare.example":{{"identitytoken":"x"}}}}}}"#
            ),
        )
        .unwrap();
        let files = AuthFiles::single(&f);
        let got = files.lookup("reg.example", None).unwrap().unwrap();
        assert_eq!(got.identity_token.as_deref(), Some("r3fresh"));
        assert_eq!(got.username, "00000000-0000-0000-0000-000000000000");
        assert!(!format!("{got:?}").contains("r3fresh"));
        assert_eq!(files.lookup("bare.example", None).unwrap(), None);
    }

    #[test]
    fn token_response_fields() {
        let t: TokenResponse = serde_json::from_str(r#"{"token":"a","expires_in":300}"#).unwrap();
        assert_eq!(t.bearer(), Some("a"));
        let t: TokenResponse = serde_json::from_str(r#"{"access_token":"b"}"#).unwrap();
        assert_eq!(t.bearer(), Some("b"));
        let t: TokenResponse = serde_json::from_str(r#"{"token":""}"#).unwrap();
        assert_eq!(t.bearer(), None);
    }

    #[test]
    fn credentials_round_trip() {
        let c = Credentials::new("user", "pa:ss");
        assert_eq!(c.encode(), "dXNlcjpwYTpzcw==");
        assert_eq!(Credentials::decode(&c.encode()), Some(c.clone()));
        assert_eq!(c.basic_header(), "Basic dXNlcjpwYTpzcw==");
        assert_eq!(Credentials::decode("!!"), None);
        assert!(!format!("{c:?}").contains("pa:ss"));
    }

    #[test]
    fn normalizes_keys() {
        assert_eq!(normalize_key("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(normalize_key("http://localhost:5000/v2/"), "localhost:5000");
        assert_eq!(normalize_key("quay.io/me/app"), "quay.io/me/app");
        assert_eq!(normalize_key("localhost:5000/"), "localhost:5000");
    }

    #[test]
    fn store_lookup_remove() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("run/containers/auth.json");
        let docker = dir.path().join("docker/config.json");
        fs::create_dir_all(docker.parent().unwrap()).unwrap();
        fs::write(
            &docker,
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"ZDpw"},"other:1":{"auth":"bzpw"}},"credsStore":"x"}"#,
        )
        .unwrap();
        let files = AuthFiles {
            write: main.clone(),
            read: vec![main.clone(), docker.clone()],
        };
        assert_eq!(files.lookup("localhost:5000", None).unwrap(), None);
        assert_eq!(
            files.lookup("docker.io", Some("library/busybox")).unwrap(),
            Some(Credentials::new("d", "p"))
        );

        files
            .store("localhost:5000", &Credentials::new("u", "p1"))
            .unwrap();
        files
            .store("localhost:5000/me/app", &Credentials::new("u2", "p2"))
            .unwrap();
        files
            .store("other:1", &Credentials::new("mine", "x"))
            .unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&main).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let doc: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&main).unwrap()).unwrap();
        assert_eq!(doc["auths"]["localhost:5000"]["auth"], "dTpwMQ==");

        let get = |r: &str, repo: Option<&str>| files.lookup(r, repo).unwrap().unwrap().username;
        assert_eq!(get("localhost:5000", Some("me/app")), "u2");
        assert_eq!(get("localhost:5000", Some("me/app/sub")), "u2");
        assert_eq!(get("localhost:5000", Some("me/other")), "u");
        assert_eq!(get("localhost:5000", None), "u");
        // The file we write wins over Docker's.
        assert_eq!(get("other:1", None), "mine");

        files.remove("localhost:5000").unwrap();
        assert_eq!(files.lookup("localhost:5000", None).unwrap(), None);
        assert_eq!(get("localhost:5000", Some("me/app")), "u2");
        assert!(matches!(
            files.remove("localhost:5000"),
            Err(Error::NotLoggedIn { .. })
        ));
        files.remove_all().unwrap();
        assert_eq!(get("other:1", None), "o");
    }
}
