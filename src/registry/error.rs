//! The registry client's error type: one lowercase line that names the image
//! or registry it is about, the way Podman users read them.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nothing listens on the registry's port.
    #[error("pinging container registry {registry}: connection refused")]
    ConnectionRefused { registry: String },
    /// The registry's host name does not resolve.
    #[error("pinging container registry {registry}: lookup {host}: no such host")]
    UnknownHost { registry: String, host: String },
    /// Any other failure to reach the registry (reset, timeout, protocol).
    #[error("pinging container registry {registry}: {reason}")]
    Connection { registry: String, reason: String },
    /// The TLS handshake failed: the fix is the registry's CA in its
    /// certs.d directory, or `--tls-verify=false` for a test registry.
    #[error("pinging container registry {registry}: tls: {reason} (trust its CA in ~/.config/containers/certs.d/{registry}/ca.crt, or use --tls-verify=false)")]
    Tls { registry: String, reason: String },
    /// The registry wants credentials and we have none.
    #[error("{image}: authentication required")]
    AuthenticationRequired { image: String },
    /// The registry (or its token server) rejected the credentials we sent.
    #[error("{image}: invalid username/password")]
    InvalidCredentials { image: String },
    /// Authenticated, but not allowed to do this.
    #[error("{image}: requested access to the resource is denied")]
    Denied { image: String },
    #[error("{image}: manifest unknown")]
    ManifestUnknown { image: String },
    #[error("{image}: blob unknown")]
    BlobUnknown { image: String },
    #[error("{image}: repository name not known to registry")]
    NameUnknown { image: String },
    /// Any other error answer; `detail` is the registry's own code and message.
    #[error("{image}: {detail}")]
    Registry {
        image: String,
        status: u16,
        detail: String,
    },
    #[error("{image}: unsupported manifest media type {media_type:?}")]
    UnsupportedMediaType { image: String, media_type: String },
    /// Content whose sha256 differs from the digest that names it.
    #[error("{image}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        image: String,
        expected: String,
        actual: String,
    },
    #[error("{image}: invalid digest {digest:?}: only sha256 is supported")]
    InvalidDigest { image: String, digest: String },
    /// A manifest list / index without the wanted platform.
    #[error(
        "{image}: no image for platform {wanted} in the manifest list (available: {available})"
    )]
    NoMatchingPlatform {
        image: String,
        wanted: String,
        available: String,
    },
    /// A response we cannot make sense of (bad JSON, missing header).
    #[error("{image}: invalid registry response: {reason}")]
    InvalidResponse { image: String, reason: String },
    /// policy.json says `reject` for the image (Podman's "Source image rejected").
    #[error("source image rejected: running image docker://{image} is rejected by policy ({scope} in {file})")]
    PolicyRejected {
        image: String,
        scope: String,
        file: String,
    },
    /// policy.json requires a signature, which skiff cannot verify.
    #[error("docker://{image}: signature verification is not supported: policy requires {kind:?} ({scope} in {file})")]
    SignatureUnsupported {
        image: String,
        kind: String,
        scope: String,
        file: String,
    },
    /// A `docker-credential-NAME` helper failed (or is not installed).
    #[error("{helper} {action} for {server}: {reason}")]
    CredentialHelper {
        helper: String,
        action: String,
        server: String,
        reason: String,
    },
    /// The helper a configuration names is not installed.
    #[error("{helper} (the credential helper for {server}) is not installed: it is not in $PATH")]
    CredentialHelperMissing { helper: String, server: String },
    #[error("not logged into {registry}")]
    NotLoggedIn { registry: String },
    /// A configuration or credentials file that does not parse.
    #[error("parsing {}: {reason}", path.display())]
    ConfigFile { path: PathBuf, reason: String },
    /// Reading or writing a local file (auth.json) or the caller's writer.
    #[error("{context}: {reason}")]
    Io { context: String, reason: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// True for failures to reach the registry at all, the only ones worth a retry.
    pub fn is_connection(&self) -> bool {
        matches!(
            self,
            Error::ConnectionRefused { .. } | Error::Connection { .. }
        )
    }

    pub(crate) fn io(context: impl Into<String>, err: &std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            reason: crate::error::io_reason(err),
        }
    }
}
