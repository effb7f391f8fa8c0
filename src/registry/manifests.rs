//! Fetching and storing manifests: GET with every media type we read,
//! digest checks, and resolving a manifest list to one platform's image.

use ureq::http::Method;

use super::auth::repository_scope;
use super::client::{header, image_name, read_body, Client, NotFound, Req, ReqBody};
use super::digest::{check_digest, sha256_digest};
use super::error::{Error, Result};
use super::manifest::{self, ImageManifest, Kind, ManifestList, Platform};

/// Manifests are small; anything bigger than this is not one (containers/image
/// uses the same bound).
const MAX_MANIFEST: u64 = 4 << 20;

/// A manifest exactly as the registry served it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedManifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
    /// sha256 of `bytes`: the manifest digest (`RepoDigests`).
    pub digest: String,
}

impl FetchedManifest {
    pub fn kind(&self) -> Option<Kind> {
        manifest::kind_of(&self.media_type)
    }
}

/// One platform's image, found from a tag or digest.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    /// The image manifest.
    pub manifest: FetchedManifest,
    pub parsed: ImageManifest,
    /// The manifest list or index it was chosen from, if any.
    pub list: Option<FetchedManifest>,
}

impl Client {
    /// `GET /v2/<repository>/manifests/<reference>`. When `reference` is a
    /// digest the bytes must hash to it; a tag's answer is checked against the
    /// `Docker-Content-Digest` header when the registry sends one.
    pub fn get_manifest(
        &self,
        registry: &str,
        repository: &str,
        reference: &str,
    ) -> Result<FetchedManifest> {
        let image = image_name(registry, repository, reference);
        let by_digest = reference.contains(':');
        if by_digest {
            check_digest(&image, reference)?;
        }
        let mut req = Req::new(Method::GET, registry, repository, &image);
        req.target = format!("/v2/{repository}/manifests/{reference}");
        req.scopes = vec![repository_scope(repository, "pull")];
        req.headers = vec![("accept", manifest::MANIFEST_ACCEPT.to_string())];
        req.not_found = NotFound::Manifest;
        let (mut resp, _) = self.send(req)?;
        let content_type = header(&resp, "content-type");
        let served_digest = header(&resp, "docker-content-digest");
        let bytes = read_body(&mut resp, MAX_MANIFEST, registry)?;
        let digest = sha256_digest(&bytes);
        let expected = if by_digest {
            Some(reference.to_string())
        } else {
            served_digest.filter(|d| d.starts_with("sha256:"))
        };
        if let Some(expected) = expected {
            if expected != digest {
                return Err(Error::DigestMismatch {
                    image,
                    expected,
                    actual: digest,
                });
            }
        }
        let media_type = manifest::detect_media_type(content_type.as_deref(), &bytes);
        if manifest::kind_of(&media_type).is_none() {
            return Err(Error::UnsupportedMediaType { image, media_type });
        }
        Ok(FetchedManifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// `HEAD` of a manifest: its digest and media type when it exists, without
    /// downloading it (`--pull=newer`, `push` skipping what is there).
    pub fn head_manifest(
        &self,
        registry: &str,
        repository: &str,
        reference: &str,
    ) -> Result<Option<(String, String)>> {
        let image = image_name(registry, repository, reference);
        let mut req = Req::new(Method::HEAD, registry, repository, &image);
        req.target = format!("/v2/{repository}/manifests/{reference}");
        req.scopes = vec![repository_scope(repository, "pull")];
        req.headers = vec![("accept", manifest::MANIFEST_ACCEPT.to_string())];
        match self.send(req) {
            Ok((resp, _)) => Ok(Some((
                header(&resp, "docker-content-digest").unwrap_or_default(),
                header(&resp, "content-type").unwrap_or_default(),
            ))),
            Err(Error::Registry { status: 404, .. } | Error::ManifestUnknown { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The image manifest for `platform`: fetches `reference`, and when it
    /// is a manifest list or index, picks the platform's entry and fetches
    /// that by digest.
    pub fn resolve_image(
        &self,
        registry: &str,
        repository: &str,
        reference: &str,
        platform: &Platform,
    ) -> Result<ResolvedImage> {
        let image = image_name(registry, repository, reference);
        let top = self.get_manifest(registry, repository, reference)?;
        let (manifest, list) = match top.kind() {
            Some(Kind::Image) => (top, None),
            _ => {
                let parsed: ManifestList =
                    serde_json::from_slice(&top.bytes).map_err(|e| Error::InvalidResponse {
                        image: image.clone(),
                        reason: format!("manifest list: {e}"),
                    })?;
                let entry =
                    parsed
                        .select(platform)
                        .map_err(|available| Error::NoMatchingPlatform {
                            image: image.clone(),
                            wanted: platform.to_string(),
                            available,
                        })?;
                let child = self.get_manifest(registry, repository, &entry.digest)?;
                if child.kind() != Some(Kind::Image) {
                    return Err(Error::UnsupportedMediaType {
                        image,
                        media_type: child.media_type,
                    });
                }
                (child, Some(top))
            }
        };
        let parsed: ImageManifest =
            serde_json::from_slice(&manifest.bytes).map_err(|e| Error::InvalidResponse {
                image: image.clone(),
                reason: format!("manifest: {e}"),
            })?;
        Ok(ResolvedImage {
            manifest,
            parsed,
            list,
        })
    }

    /// `PUT /v2/<repository>/manifests/<reference>`; returns the digest of
    /// `bytes`, which is what the registry now serves under that reference.
    pub fn put_manifest(
        &self,
        registry: &str,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<String> {
        let image = image_name(registry, repository, reference);
        let digest = sha256_digest(bytes);
        if reference.contains(':') && reference != digest {
            return Err(Error::DigestMismatch {
                image,
                expected: reference.to_string(),
                actual: digest,
            });
        }
        let mut req = Req::new(Method::PUT, registry, repository, &image);
        req.target = format!("/v2/{repository}/manifests/{reference}");
        req.scopes = vec![repository_scope(repository, "pull,push")];
        req.headers = vec![("content-type", media_type.to_string())];
        req.body = ReqBody::Bytes(bytes);
        let (resp, _) = self.send(req)?;
        super::client::drain(resp);
        Ok(digest)
    }
}
