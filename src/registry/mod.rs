//! The registry client: Docker Registry HTTP API v2 / OCI distribution.
//!
//! It speaks in plain values (`registry` host[:port], `repository`,
//! `reference` tag or digest) so that it does not depend on how the image
//! module parses references, and it never touches the local image store:
//! manifests come back as bytes with their media type and digest, blobs are
//! streamed into a caller's writer (or read through a verifying reader).
//!
//! ```text
//! let client = Client::new(ClientOptions { tls_verify: Some(false), ..Default::default() });
//! let image = client.resolve_image("localhost:5000", "me/app", "1", &Platform::host())?;
//! for layer in &image.parsed.layers {
//!     client.fetch_blob("localhost:5000", "me/app", &layer.digest, &mut file)?;
//! }
//! ```

pub mod auth;
mod blobs;
mod catalog;
pub mod certs;
pub mod client;
pub mod cred_helper;
pub mod digest;
pub mod error;
pub mod manifest;
mod manifests;
pub mod policy;
pub mod registries_conf;
pub mod short_name_aliases;

pub use auth::{AuthFiles, Credentials};
pub use blobs::{BlobReader, Uploaded};
pub use client::{image_name, Client, ClientOptions};
pub use digest::sha256_digest;
pub use error::{Error, Result};
pub use manifest::{Descriptor, ImageManifest, ManifestList, Platform};
pub use manifests::{FetchedManifest, ResolvedImage};
pub use policy::Policy;
pub use registries_conf::RegistriesConf;
