//! The registry client: one HTTP agent (connections reused across requests
//! and threads), the endpoint of each registry found by pinging `/v2/`, the
//! auth flow (basic, or bearer tokens cached per scope), retries of failed
//! connections, and the mapping of answers to [`Error`]s.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ureq::http::{self, Method, Response};
use ureq::tls::TlsConfig;
use ureq::{Agent, Body, SendBody};

use super::auth::{self, AuthFiles, Challenge, Credentials, Scheme};
use super::certs;
use super::error::{Error, Result};
use super::registries_conf::RegistriesConf;

/// How a retry warning is shown; the CLI may route it through its progress output.
pub type WarnFn = Arc<dyn Fn(&str) + Send + Sync>;

/// Settings of a [`Client`]. `Default` is what `skiff pull` uses without flags.
#[derive(Clone)]
pub struct ClientOptions {
    /// `--tls-verify`: `Some(false)` allows plain HTTP for every registry,
    /// `Some(true)` requires verified TLS even where registries.conf says
    /// insecure or the registry is on loopback, `None` follows
    /// registries.conf and treats loopback registries as insecure (Docker's rule).
    pub tls_verify: Option<bool>,
    /// `--cert-dir`: the directory of CA (`*.crt`) and client
    /// (`*.cert`/`*.key`) certificates for every registry; `None` looks in
    /// the per-registry `certs.d` directories ([`certs::search_dirs`]).
    pub cert_dir: Option<PathBuf>,
    /// Insecure entries and where registries.conf was read from.
    pub registries_conf: RegistriesConf,
    /// `--creds user:pass`: used for every registry instead of the auth files.
    pub credentials: Option<Credentials>,
    pub auth_files: AuthFiles,
    pub connect_timeout: Duration,
    /// The longest a single read or write may stall before the transfer fails.
    pub io_timeout: Duration,
    /// Connection failures are retried this many times, `retry_delay` apart.
    pub retries: u32,
    pub retry_delay: Duration,
    /// Blobs up to this size are uploaded in one PUT (read into memory first).
    pub monolithic_upload_max: u64,
    /// Larger blobs go up in PATCH requests of this size (`None`: one
    /// streaming PATCH, as Podman does).
    pub upload_chunk_size: Option<u64>,
    pub user_agent: String,
    /// Where retry warnings go; `None` logs them as warnings (stderr).
    pub warn: Option<WarnFn>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            tls_verify: None,
            cert_dir: None,
            registries_conf: RegistriesConf::default(),
            credentials: None,
            auth_files: AuthFiles::from_env(),
            connect_timeout: Duration::from_secs(30),
            io_timeout: Duration::from_secs(120),
            retries: 3,
            retry_delay: Duration::from_secs(1),
            monolithic_upload_max: 16 << 20,
            upload_chunk_size: None,
            user_agent: format!("skiff/{}", env!("CARGO_PKG_VERSION")),
            warn: None,
        }
    }
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("tls_verify", &self.tls_verify)
            .field("cert_dir", &self.cert_dir)
            .field("credentials", &self.credentials)
            .field("auth_files", &self.auth_files)
            .finish_non_exhaustive()
    }
}

/// A Docker Registry HTTP API v2 / OCI distribution client. Cheap to clone
/// and `Send + Sync`: the pull path shares one across its download threads.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    opts: ClientOptions,
    agent: Agent,
    /// For `--tls-verify=false` registries that do speak https.
    agent_unverified: Agent,
    /// Agents of registries with a cert directory, by (registry, unverified).
    agents: Mutex<HashMap<(String, bool), Agent>>,
    endpoints: Mutex<HashMap<String, Arc<Endpoint>>>,
    tokens: Mutex<HashMap<String, Token>>,
    credentials: Mutex<HashMap<String, Option<Credentials>>>,
}

/// How to reach one registry, learnt from its answer to `GET /v2/`.
pub(crate) struct Endpoint {
    /// `https://host:port` or `http://host:port`.
    pub base: String,
    /// The agent with this registry's TLS settings (verification, CAs,
    /// client certificate).
    agent: Agent,
    /// The challenge of a 401 to the ping; `None` for an open registry.
    challenge: Option<Challenge>,
}

struct Token {
    value: String,
    expires: Instant,
}

/// A request body: only the first two can be sent again after a retry or a 401.
pub(crate) enum ReqBody<'a> {
    Empty,
    Bytes(&'a [u8]),
    Reader(&'a mut dyn Read),
}

impl ReqBody<'_> {
    fn replayable(&self) -> bool {
        !matches!(self, ReqBody::Reader(_))
    }
}

/// One request to a registry, before authentication.
pub(crate) struct Req<'a> {
    pub method: Method,
    /// A path below the endpoint (`/v2/...`) or an absolute URL (a `Location`).
    pub target: String,
    pub registry: &'a str,
    /// For credential lookup and error messages; empty for registry-wide calls.
    pub repository: &'a str,
    /// What errors name: `localhost:5000/me/app:1`.
    pub image: &'a str,
    pub scopes: Vec<String>,
    pub headers: Vec<(&'static str, String)>,
    pub body: ReqBody<'a>,
    /// What a 404 means here.
    pub not_found: NotFound,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotFound {
    Manifest,
    Blob,
    /// A 404 is an answer the caller handles itself (HEAD, upload sessions).
    Pass,
}

impl<'a> Req<'a> {
    pub fn new(method: Method, registry: &'a str, repository: &'a str, image: &'a str) -> Self {
        Req {
            method,
            target: String::new(),
            registry,
            repository,
            image,
            scopes: Vec::new(),
            headers: Vec::new(),
            body: ReqBody::Empty,
            not_found: NotFound::Pass,
        }
    }
}

impl Client {
    pub fn new(opts: ClientOptions) -> Client {
        let build = |unverified: bool| {
            build_agent(
                &opts,
                TlsConfig::builder()
                    .disable_verification(unverified)
                    .build(),
            )
        };
        Client {
            inner: Arc::new(Inner {
                agent: build(false),
                agent_unverified: build(true),
                agents: Mutex::new(HashMap::new()),
                opts,
                endpoints: Mutex::new(HashMap::new()),
                tokens: Mutex::new(HashMap::new()),
                credentials: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn options(&self) -> &ClientOptions {
        &self.inner.opts
    }

    /// Whether plain HTTP (or unverified TLS) is allowed for this registry:
    /// `--tls-verify` when given, else registries.conf's `insecure`, and
    /// always for a registry on loopback (Docker's rule, so that
    /// `push localhost:5000/app` works without configuration).
    pub fn is_insecure(&self, registry: &str, repository: &str) -> bool {
        match self.inner.opts.tls_verify {
            Some(v) => !v,
            None => {
                certs::is_loopback(registry)
                    || self
                        .inner
                        .opts
                        .registries_conf
                        .is_insecure(registry, repository)
            }
        }
    }

    /// The agent for `registry`: the shared one, or one with the CAs and
    /// client certificate of its cert directory when it has one.
    fn agent_for(&self, registry: &str, unverified: bool) -> Result<Agent> {
        let key = (registry.to_string(), unverified);
        if let Some(a) = self.inner.agents.lock().expect("poisoned").get(&key) {
            return Ok(a.clone());
        }
        let opts = &self.inner.opts;
        let dir = certs::dir_for(registry, opts.cert_dir.as_deref(), &certs::search_dirs());
        let files = match &dir {
            Some(d) => certs::load(d)?,
            None => None,
        };
        let agent = match files {
            None if unverified => self.inner.agent_unverified.clone(),
            None => self.inner.agent.clone(),
            Some(files) => {
                tracing::debug!("{registry}: TLS files of {}", files.dir.display());
                let mut tls = TlsConfig::builder()
                    .disable_verification(unverified)
                    .client_cert(files.client);
                if !files.cas.is_empty() {
                    let mut roots = certs::system_roots();
                    roots.extend(files.cas);
                    tls = tls.root_certs(roots.into());
                }
                build_agent(opts, tls.build())
            }
        };
        self.inner
            .agents
            .lock()
            .expect("poisoned")
            .insert(key, agent.clone());
        Ok(agent)
    }

    /// Checks that the registry answers the v2 API; learns how to reach it.
    pub fn ping(&self, registry: &str) -> Result<()> {
        self.endpoint(registry, "").map(|_| ())
    }

    /// `skiff login`: checks `credentials` against the registry, then stores
    /// them in the auth file for `registry`.
    pub fn login(&self, registry: &str, credentials: &Credentials) -> Result<()> {
        self.verify_credentials(registry, credentials)?;
        self.inner.opts.auth_files.store(registry, credentials)?;
        // Later calls on this client must use the new login, not a cached one.
        self.inner.credentials.lock().expect("poisoned").clear();
        self.inner.tokens.lock().expect("poisoned").clear();
        Ok(())
    }

    /// `skiff logout`: removes the stored login of `registry`.
    pub fn logout(&self, registry: &str) -> Result<()> {
        self.inner.opts.auth_files.remove(registry)?;
        self.inner.credentials.lock().expect("poisoned").clear();
        self.inner.tokens.lock().expect("poisoned").clear();
        Ok(())
    }

    /// Verifies credentials the way the registry asks for them: basic auth on
    /// `/v2/`, or a token request to the realm.
    pub fn verify_credentials(&self, registry: &str, credentials: &Credentials) -> Result<()> {
        let ep = self.endpoint(registry, "")?;
        let invalid = || Error::InvalidCredentials {
            image: registry.to_string(),
        };
        match ep.challenge.as_ref().map(|c| &c.scheme) {
            None => Ok(()),
            Some(Scheme::Bearer) => {
                let challenge = ep.challenge.as_ref().expect("matched above");
                self.fetch_token(&ep, registry, registry, challenge, &[], Some(credentials))
                    .map(|_| ())
                    .map_err(|e| match e {
                        Error::AuthenticationRequired { .. } => invalid(),
                        e => e,
                    })
            }
            Some(_) => {
                let url = format!("{}/v2/", ep.base);
                let resp = self.send_raw(
                    &ep,
                    registry,
                    Method::GET,
                    &url,
                    &[("authorization", credentials.basic_header())],
                    &mut ReqBody::Empty,
                )?;
                match resp.status().as_u16() {
                    200..=299 => Ok(()),
                    401 | 403 => Err(invalid()),
                    s => Err(Error::Registry {
                        image: registry.to_string(),
                        status: s,
                        detail: format!("unexpected status {s} from /v2/"),
                    }),
                }
            }
        }
    }

    /// The endpoint of `registry`, pinging it the first time.
    pub(crate) fn endpoint(&self, registry: &str, repository: &str) -> Result<Arc<Endpoint>> {
        if let Some(ep) = self.inner.endpoints.lock().expect("poisoned").get(registry) {
            return Ok(ep.clone());
        }
        let ep = Arc::new(self.discover(registry, repository)?);
        self.inner
            .endpoints
            .lock()
            .expect("poisoned")
            .insert(registry.to_string(), ep.clone());
        Ok(ep)
    }

    /// https first; for an insecure registry, https without verification and
    /// then plain http when the server does not speak TLS at all.
    fn discover(&self, registry: &str, repository: &str) -> Result<Endpoint> {
        let insecure = self.is_insecure(registry, repository);
        let host = api_host(registry);
        let https = Endpoint {
            base: format!("https://{host}"),
            agent: self.agent_for(registry, insecure)?,
            challenge: None,
        };
        // For an insecure registry the https ping is a probe: a plain-HTTP
        // server may reset it, and plain http is tried next, so it is not
        // retried (nor warned about); the http ping is.
        let https_retries = if insecure { 0 } else { self.inner.opts.retries };
        match self.ping_endpoint(https, registry, https_retries) {
            Ok(ep) => Ok(ep),
            Err(Error::Tls { .. } | Error::Connection { .. } | Error::ConnectionRefused { .. })
                if insecure =>
            {
                let http = Endpoint {
                    base: format!("http://{host}"),
                    agent: self.inner.agent.clone(),
                    challenge: None,
                };
                self.ping_endpoint(http, registry, self.inner.opts.retries)
            }
            Err(e) => Err(e),
        }
    }

    fn ping_endpoint(&self, mut ep: Endpoint, registry: &str, retries: u32) -> Result<Endpoint> {
        let url = format!("{}/v2/", ep.base);
        let mut resp = self.send_raw_with(
            &ep,
            registry,
            Method::GET,
            &url,
            &[],
            &mut ReqBody::Empty,
            retries,
        )?;
        match resp.status().as_u16() {
            200..=299 => {}
            401 => {
                ep.challenge = header(&resp, "www-authenticate")
                    .and_then(|h| auth::parse_www_authenticate(&h))
                    .or(Some(Challenge {
                        scheme: Scheme::Basic,
                        params: Default::default(),
                    }));
            }
            s => {
                let detail = error_detail(&mut resp)
                    .unwrap_or_else(|| format!("unexpected status {s} from {url}"));
                return Err(Error::Connection {
                    registry: registry.to_string(),
                    reason: detail,
                });
            }
        }
        drain(resp);
        Ok(ep)
    }

    fn credentials_for(&self, registry: &str, repository: &str) -> Result<Option<Credentials>> {
        if let Some(c) = &self.inner.opts.credentials {
            return Ok(Some(c.clone()));
        }
        let key = format!("{registry}/{repository}");
        if let Some(c) = self.inner.credentials.lock().expect("poisoned").get(&key) {
            return Ok(c.clone());
        }
        let repo = (!repository.is_empty()).then_some(repository);
        let found = self.inner.opts.auth_files.lookup(registry, repo)?;
        self.inner
            .credentials
            .lock()
            .expect("poisoned")
            .insert(key, found.clone());
        Ok(found)
    }

    /// The `Authorization` header for a request, from cache when possible.
    fn authorization(&self, ep: &Endpoint, req: &Req, fresh: bool) -> Result<Option<String>> {
        let Some(challenge) = &ep.challenge else {
            return Ok(None);
        };
        let creds = self.credentials_for(req.registry, req.repository)?;
        match challenge.scheme {
            Scheme::Basic => Ok(creds.map(|c| c.basic_header())),
            Scheme::Bearer => {
                let key = format!(
                    "{}|{}|{}",
                    req.registry,
                    creds.as_ref().map(|c| c.username.as_str()).unwrap_or(""),
                    req.scopes.join(" ")
                );
                if !fresh {
                    if let Some(t) = self.inner.tokens.lock().expect("poisoned").get(&key) {
                        if t.expires > Instant::now() {
                            return Ok(Some(format!("Bearer {}", t.value)));
                        }
                    }
                }
                let image = if req.repository.is_empty() {
                    req.registry.to_string()
                } else {
                    format!("{}/{}", req.registry, req.repository)
                };
                let token = self.fetch_token(
                    ep,
                    req.registry,
                    &image,
                    challenge,
                    &req.scopes,
                    creds.as_ref(),
                )?;
                let header = format!("Bearer {}", token.value);
                self.inner
                    .tokens
                    .lock()
                    .expect("poisoned")
                    .insert(key, token);
                Ok(Some(header))
            }
            Scheme::Other(_) => Ok(None),
        }
    }

    fn fetch_token(
        &self,
        ep: &Endpoint,
        registry: &str,
        image: &str,
        challenge: &Challenge,
        scopes: &[String],
        creds: Option<&Credentials>,
    ) -> Result<Token> {
        // An identity token (Docker's OAuth2 login) is a refresh token:
        // POSTed as a form to the realm, as containers/image does, never
        // sent as a password.
        let refresh = creds.and_then(|c| c.identity_token.as_deref());
        let request = match refresh {
            Some(token) => auth::refresh_token_request(challenge, scopes, token),
            None => auth::token_request(challenge, scopes, creds.map(|c| c.username.as_str())),
        };
        let (realm, query) = request.ok_or_else(|| Error::InvalidResponse {
            image: registry.to_string(),
            reason: "bearer challenge without a realm".into(),
        })?;
        let encoded: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{}={}", encode_query(k), encode_query(v)))
            .collect();
        let encoded = encoded.join("&");
        let mut headers = Vec::new();
        let started = Instant::now();
        let mut resp = if refresh.is_some() {
            headers.push((
                "content-type",
                "application/x-www-form-urlencoded".to_string(),
            ));
            self.send_raw(
                ep,
                registry,
                Method::POST,
                &realm,
                &headers,
                &mut ReqBody::Bytes(encoded.as_bytes()),
            )?
        } else {
            if let Some(c) = creds {
                headers.push(("authorization", c.basic_header()));
            }
            let sep = if realm.contains('?') { '&' } else { '?' };
            let url = if encoded.is_empty() {
                realm.clone()
            } else {
                format!("{realm}{sep}{encoded}")
            };
            self.send_raw(
                ep,
                registry,
                Method::GET,
                &url,
                &headers,
                &mut ReqBody::Empty,
            )?
        };
        match resp.status().as_u16() {
            200..=299 => {}
            // OAuth2 answers a refused refresh token with 400 invalid_grant.
            400 if refresh.is_some() => {
                return Err(Error::InvalidCredentials {
                    image: image.to_string(),
                })
            }
            401 | 403 if creds.is_some() => {
                return Err(Error::InvalidCredentials {
                    image: image.to_string(),
                })
            }
            401 | 403 => {
                return Err(Error::AuthenticationRequired {
                    image: image.to_string(),
                })
            }
            s => {
                return Err(Error::Registry {
                    image: image.to_string(),
                    status: s,
                    detail: error_detail(&mut resp)
                        .unwrap_or_else(|| format!("token request failed with status {s}")),
                })
            }
        }
        let body = read_body(&mut resp, 1 << 20, registry)?;
        let parsed: auth::TokenResponse =
            serde_json::from_slice(&body).map_err(|e| Error::InvalidResponse {
                image: registry.to_string(),
                reason: format!("token: {e}"),
            })?;
        let value = parsed
            .bearer()
            .ok_or_else(|| Error::InvalidResponse {
                image: registry.to_string(),
                reason: "token response without a token".into(),
            })?
            .to_string();
        // Docker's default lifetime is 60 s; renew a little early.
        let life = Duration::from_secs(parsed.expires_in.unwrap_or(60).max(60));
        Ok(Token {
            value,
            expires: started + life - Duration::from_secs(10),
        })
    }

    /// Sends `req` with authentication: retries connection failures, and on
    /// a 401 fetches a fresh token once (the registry may want another scope).
    /// A 401/403/404 or error answer becomes an [`Error`]; other statuses are
    /// the caller's to judge.
    pub(crate) fn send(&self, mut req: Req) -> Result<(Response<Body>, String)> {
        let ep = self.endpoint(req.registry, req.repository)?;
        let url = if req.target.contains("://") {
            req.target.clone()
        } else {
            format!("{}{}", ep.base, req.target)
        };
        let mut fresh = false;
        loop {
            let mut headers = req.headers.clone();
            if let Some(a) = self.authorization(&ep, &req, fresh)? {
                headers.push(("authorization", a));
            }
            let mut resp = self.send_raw(
                &ep,
                req.registry,
                req.method.clone(),
                &url,
                &headers,
                &mut req.body,
            )?;
            let status = resp.status().as_u16();
            if status == 401 {
                let challenge = header(&resp, "www-authenticate")
                    .and_then(|h| auth::parse_www_authenticate(&h));
                if !fresh && req.body.replayable() {
                    if let Some(c) = challenge.filter(|c| c.scheme == Scheme::Bearer) {
                        // Ask for what the registry says it wants next time.
                        if let Some(scope) = c.param("scope") {
                            for s in scope.split(' ') {
                                if !s.is_empty() && !req.scopes.iter().any(|h| h == s) {
                                    req.scopes.push(s.to_string());
                                }
                            }
                        }
                        if ep
                            .challenge
                            .as_ref()
                            .is_some_and(|e| e.scheme == Scheme::Bearer)
                        {
                            fresh = true;
                            drain(resp);
                            continue;
                        }
                    }
                }
            }
            if status >= 400 {
                let has_creds = self
                    .credentials_for(req.registry, req.repository)?
                    .is_some();
                let basic = ep
                    .challenge
                    .as_ref()
                    .is_some_and(|c| c.scheme == Scheme::Basic);
                return Err(status_error(&req, has_creds, basic, &mut resp));
            }
            return Ok((resp, url));
        }
    }

    /// One HTTP exchange, with the connection retries and transport errors mapped.
    pub(crate) fn send_raw(
        &self,
        ep: &Endpoint,
        registry: &str,
        method: Method,
        url: &str,
        headers: &[(&'static str, String)],
        body: &mut ReqBody,
    ) -> Result<Response<Body>> {
        let retries = self.inner.opts.retries;
        self.send_raw_with(ep, registry, method, url, headers, body, retries)
    }

    /// [`send_raw`](Self::send_raw) with `retries` connection retries.
    #[allow(clippy::too_many_arguments)]
    fn send_raw_with(
        &self,
        ep: &Endpoint,
        registry: &str,
        method: Method,
        url: &str,
        headers: &[(&'static str, String)],
        body: &mut ReqBody,
        retries: u32,
    ) -> Result<Response<Body>> {
        let agent = &ep.agent;
        let mut attempt = 0;
        loop {
            let mut builder = http::Request::builder().method(method.clone()).uri(url);
            for (k, v) in headers {
                builder = builder.header(*k, v.as_str());
            }
            let result = match body {
                ReqBody::Empty if method == Method::GET || method == Method::HEAD => {
                    agent.run(build_request(builder, SendBody::none(), registry, url)?)
                }
                // An explicit zero length: some servers reject a bodiless POST.
                ReqBody::Empty => agent.run(build_request(builder, &[][..], registry, url)?),
                ReqBody::Bytes(bytes) => agent.run(build_request(builder, *bytes, registry, url)?),
                ReqBody::Reader(r) => agent.run(build_request(
                    builder,
                    SendBody::from_reader(&mut **r),
                    registry,
                    url,
                )?),
            };
            match result {
                Ok(resp) => {
                    tracing::debug!("{method} {url}: {}", resp.status());
                    return Ok(resp);
                }
                Err(e) => {
                    let err = transport_error(registry, e);
                    attempt += 1;
                    if !err.is_connection() || !body.replayable() || attempt > retries {
                        return Err(err);
                    }
                    let delay = self.inner.opts.retry_delay;
                    // c/common's retry warning, word for word.
                    let msg = format!(
                        "Failed, retrying in {} ... ({}/{}). Error: {err}",
                        human_delay(delay),
                        attempt,
                        retries
                    );
                    match &self.inner.opts.warn {
                        Some(w) => w(&msg),
                        None => tracing::warn!("{msg}"),
                    }
                    std::thread::sleep(delay);
                }
            }
        }
    }
}

/// An agent with the client's timeouts and user agent and these TLS settings.
fn build_agent(opts: &ClientOptions, tls: TlsConfig) -> Agent {
    Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(opts.connect_timeout))
        .timeout_resolve(Some(opts.connect_timeout))
        .timeout_per_read(Some(opts.io_timeout))
        .timeout_per_write(Some(opts.io_timeout))
        .timeout_recv_response(Some(opts.io_timeout))
        .user_agent(opts.user_agent.as_str())
        .max_idle_connections_per_host(8)
        .tls_config(tls)
        .build()
        .into()
}

/// Where a registry's API lives: Docker Hub's name is not its API host.
pub fn api_host(registry: &str) -> &str {
    match registry {
        "docker.io" | "index.docker.io" => "registry-1.docker.io",
        other => other,
    }
}

fn build_request<B>(
    builder: http::request::Builder,
    body: B,
    registry: &str,
    url: &str,
) -> Result<http::Request<B>> {
    builder.body(body).map_err(|e| Error::InvalidResponse {
        image: registry.to_string(),
        reason: format!("bad request url {url}: {e}"),
    })
}

fn human_delay(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Maps a failure to exchange a request at all.
fn transport_error(registry: &str, e: ureq::Error) -> Error {
    let registry = registry.to_string();
    match e {
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            Error::ConnectionRefused { registry }
        }
        // std's resolver reports an unknown name as an uncategorized io error.
        ureq::Error::Io(io) if io.to_string().contains("failed to lookup address") => {
            let host = host_of(&registry).to_string();
            Error::UnknownHost { registry, host }
        }
        ureq::Error::HostNotFound => {
            let host = host_of(&registry).to_string();
            Error::UnknownHost { registry, host }
        }
        // rustls reports a handshake with a plain-http server as invalid
        // data ("received corrupt message"): a TLS failure, not worth a
        // retry, and the cue for an insecure registry to fall back to http.
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => Error::Tls {
            registry,
            reason: io.to_string().to_lowercase(),
        },
        ureq::Error::Io(io) => Error::Connection {
            registry,
            reason: crate::error::io_reason(&io),
        },
        ureq::Error::Timeout(t) => Error::Connection {
            registry,
            reason: format!("timeout: {t}").to_lowercase(),
        },
        ureq::Error::Tls(msg) => Error::Tls {
            registry,
            reason: msg.to_lowercase(),
        },
        ureq::Error::Rustls(e) => Error::Tls {
            registry,
            reason: e.to_string().to_lowercase(),
        },
        ureq::Error::Pem(e) => Error::Tls {
            registry,
            reason: e.to_string().to_lowercase(),
        },
        other => Error::Connection {
            registry,
            reason: other.to_string().to_lowercase(),
        },
    }
}

/// The host of `host:port` (or of `[v6]:port`).
fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    registry.rsplit_once(':').map_or(registry, |(h, _)| h)
}

/// Turns an error answer into the error a user reads.
/// `basic`: the registry uses basic auth, so a 401 despite credentials means
/// they are wrong (with tokens it means they lack access).
fn status_error(req: &Req, has_creds: bool, basic: bool, resp: &mut Response<Body>) -> Error {
    let status = resp.status().as_u16();
    let image = req.image.to_string();
    let body = read_body(resp, 64 << 10, req.registry).unwrap_or_default();
    let errors = parse_errors(&body);
    let code = errors.first().map(|(c, _)| c.as_str()).unwrap_or("");
    match (status, code) {
        (401, _) if has_creds && basic => Error::InvalidCredentials {
            image: auth_image(req),
        },
        (401, _) if has_creds => Error::Denied { image },
        (401, _) => Error::AuthenticationRequired {
            image: auth_image(req),
        },
        (403, _) | (_, "DENIED") => Error::Denied { image },
        (_, "MANIFEST_UNKNOWN") => Error::ManifestUnknown { image },
        (_, "BLOB_UNKNOWN") => Error::BlobUnknown { image },
        (_, "NAME_UNKNOWN") => Error::NameUnknown { image },
        (404, _) if req.not_found == NotFound::Manifest => Error::ManifestUnknown { image },
        (404, _) if req.not_found == NotFound::Blob => Error::BlobUnknown { image },
        _ => {
            let detail = match errors.first() {
                Some((code, msg)) => {
                    let code = code.to_lowercase().replace('_', " ");
                    if msg.is_empty() || msg.eq_ignore_ascii_case(&code) {
                        code
                    } else {
                        format!("{code}: {msg}")
                    }
                }
                None => format!(
                    "{} {} failed with status {status}",
                    req.method,
                    strip_query(&req.target)
                ),
            };
            Error::Registry {
                image,
                status,
                detail,
            }
        }
    }
}

/// `registry/repository`: what an authentication error is about.
fn auth_image(req: &Req) -> String {
    if req.repository.is_empty() {
        req.registry.to_string()
    } else {
        format!("{}/{}", req.registry, req.repository)
    }
}

fn strip_query(target: &str) -> &str {
    target.split('?').next().unwrap_or(target)
}

/// `(code, message)` pairs of a distribution error body
/// (`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`).
pub(crate) fn parse_errors(body: &[u8]) -> Vec<(String, String)> {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        errors: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    serde_json::from_slice::<Body>(body)
        .map(|b| {
            b.errors
                .into_iter()
                .map(|i| (i.code, i.message.lines().next().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn error_detail(resp: &mut Response<Body>) -> Option<String> {
    let body = resp
        .body_mut()
        .with_config()
        .limit(64 << 10)
        .read_to_vec()
        .ok()?;
    parse_errors(&body)
        .into_iter()
        .next()
        .map(|(c, m)| if m.is_empty() { c.to_lowercase() } else { m })
}

pub(crate) fn header(resp: &Response<Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Reads a small body whole; `limit` protects against a hostile server.
pub(crate) fn read_body(resp: &mut Response<Body>, limit: u64, registry: &str) -> Result<Vec<u8>> {
    resp.body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(|e| transport_error(registry, e))
}

/// Reads what is left of a body so that its connection goes back to the pool.
pub(crate) fn drain(mut resp: Response<Body>) {
    let _ = std::io::copy(
        &mut resp.body_mut().with_config().limit(1 << 20).reader(),
        &mut std::io::sink(),
    );
}

/// Percent-encodes a query component (RFC 3986 unreserved characters stay).
pub(crate) fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Resolves a `Location` header against the URL of the request that got it:
/// registries answer with absolute URLs, absolute paths or (rarely) relative ones.
pub fn resolve_location(request_url: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let (scheme, rest) = request_url
        .split_once("://")
        .unwrap_or(("https", request_url));
    if let Some(net) = location.strip_prefix("//") {
        return format!("{scheme}://{net}");
    }
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let origin = format!("{scheme}://{}", &rest[..authority_end]);
    if location.starts_with('/') {
        return format!("{origin}{location}");
    }
    let path = strip_query(&rest[authority_end..]);
    let dir = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "/",
    };
    if location.starts_with('?') {
        return format!("{origin}{path}{location}");
    }
    format!("{origin}{dir}{location}")
}

/// Appends a query parameter to a URL that may already have a query.
pub(crate) fn with_query(url: &str, key: &str, value: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{key}={}", encode_query(value))
}

/// `registry/repository:tag` or `registry/repository@sha256:...`.
pub fn image_name(registry: &str, repository: &str, reference: &str) -> String {
    if reference.contains(':') {
        format!("{registry}/{repository}@{reference}")
    } else {
        format!("{registry}/{repository}:{reference}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_locations() {
        let req = "http://127.0.0.1:5000/v2/me/app/blobs/uploads/";
        assert_eq!(
            resolve_location(req, "/v2/me/app/blobs/uploads/abc?_state=x"),
            "http://127.0.0.1:5000/v2/me/app/blobs/uploads/abc?_state=x"
        );
        assert_eq!(
            resolve_location(req, "https://up.example/x?y=1"),
            "https://up.example/x?y=1"
        );
        assert_eq!(
            resolve_location(req, "//cdn.example/b"),
            "http://cdn.example/b"
        );
        assert_eq!(
            resolve_location("https://r/v2/a/blobs/uploads/?mount=x", "abc"),
            "https://r/v2/a/blobs/uploads/abc"
        );
        assert_eq!(resolve_location("https://r", "abc"), "https://r/abc");
        assert_eq!(resolve_location("https://r/p?q", "?s=1"), "https://r/p?s=1");
    }

    #[test]
    fn builds_queries_and_names() {
        assert_eq!(
            encode_query("repository:me/app:pull"),
            "repository%3Ame%2Fapp%3Apull"
        );
        assert_eq!(
            with_query("http://r/u", "digest", "sha256:ab"),
            "http://r/u?digest=sha256%3Aab"
        );
        assert_eq!(
            with_query("http://r/u?_state=1", "digest", "x"),
            "http://r/u?_state=1&digest=x"
        );
        assert_eq!(
            image_name("localhost:5000", "me/app", "1"),
            "localhost:5000/me/app:1"
        );
        assert_eq!(
            image_name("localhost:5000", "me/app", "sha256:ab"),
            "localhost:5000/me/app@sha256:ab"
        );
        assert_eq!(api_host("docker.io"), "registry-1.docker.io");
        assert_eq!(api_host("localhost:5000"), "localhost:5000");
        assert_eq!(host_of("localhost:5000"), "localhost");
        assert_eq!(host_of("[::1]:5000"), "::1");
        assert_eq!(host_of("quay.io"), "quay.io");
    }

    #[test]
    fn parses_error_bodies() {
        let e = parse_errors(
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"1"}}]}"#,
        );
        assert_eq!(
            e,
            vec![("MANIFEST_UNKNOWN".into(), "manifest unknown".into())]
        );
        assert!(parse_errors(b"<html>").is_empty());
    }

    #[test]
    fn maps_transport_errors() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(
            transport_error("localhost:5000", ureq::Error::Io(refused)).to_string(),
            "pinging container registry localhost:5000: connection refused"
        );
        let lookup = std::io::Error::other(
            "failed to lookup address information: Name or service not known",
        );
        let e = transport_error("nosuch.example:5000", ureq::Error::Io(lookup));
        assert_eq!(
            e.to_string(),
            "pinging container registry nosuch.example:5000: lookup nosuch.example: no such host"
        );
        assert!(!e.is_connection(), "an unknown host is not retried");
        assert!(transport_error("r", ureq::Error::ConnectionFailed).is_connection());
        let tls = transport_error("r", ureq::Error::Tls("bad certificate"));
        assert!(tls.to_string().contains("--tls-verify=false"), "{tls}");
    }

    #[test]
    fn client_is_send_sync_and_cheap_to_clone() {
        fn check<T: Send + Sync + Clone>() {}
        check::<Client>();
        assert_eq!(human_delay(Duration::from_secs(1)), "1s");
        assert_eq!(human_delay(Duration::from_millis(10)), "10ms");
    }
}
