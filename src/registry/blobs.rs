//! Blobs (layers and configs): existence checks, downloads verified by
//! sha256 while they stream, and uploads (cross-repository mount, one PUT
//! for small blobs, PATCH for large ones streamed from a reader).

use std::io::{self, Read, Write};

use sha2::{Digest as _, Sha256};
use ureq::http::Method;
use ureq::BodyReader;

use super::auth::repository_scope;
use super::client::{drain, header, resolve_location, with_query, Client, NotFound, Req, ReqBody};
use super::digest::{check_digest, HashingReader};
use super::error::{Error, Result};

/// What [`Client::push_blob`] had to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uploaded {
    /// The registry linked the blob from another repository; nothing was sent.
    Mounted,
    /// The bytes were uploaded.
    Uploaded,
}

/// A blob download that checks the blob's digest as it is read. The check
/// happens at the end of the stream: read to EOF (or call [`finish`](Self::finish))
/// before trusting anything made from it.
pub struct BlobReader {
    inner: BodyReader<'static>,
    hasher: Sha256,
    expected: String,
    image: String,
    registry: String,
    size: Option<u64>,
    read: u64,
    verified: bool,
}

impl BlobReader {
    /// The size the registry announced, for progress bars.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// Reads whatever the consumer left unread (a tar reader stops at its
    /// end-of-archive blocks, a decompressor at its trailer) and verifies
    /// the digest; returns the blob's size.
    pub fn finish(mut self) -> Result<u64> {
        let mut buf = [0u8; 64 << 10];
        loop {
            match self.read(&mut buf) {
                Ok(0) => return Ok(self.read),
                Ok(_) => {}
                Err(e) => return Err(self.into_error(e)),
            }
        }
    }

    /// Our error behind an `io::Error` from `read`, or a connection error.
    pub fn into_error(&self, e: io::Error) -> Error {
        reader_error(&self.registry, e)
    }

    fn verify(&mut self) -> io::Result<()> {
        let actual = format!("sha256:{}", hex::encode(self.hasher.clone().finalize()));
        if actual != self.expected {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                Error::DigestMismatch {
                    image: self.image.clone(),
                    expected: self.expected.clone(),
                    actual,
                },
            ));
        }
        self.verified = true;
        Ok(())
    }
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.verified || buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.verify()?;
            return Ok(0);
        }
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

/// Unwraps the [`Error`] a [`BlobReader`] put inside an `io::Error`.
fn reader_error(registry: &str, e: io::Error) -> Error {
    if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        return *e
            .into_inner()
            .expect("checked above")
            .downcast::<Error>()
            .expect("checked above");
    }
    Error::Connection {
        registry: registry.to_string(),
        reason: crate::error::io_reason(&e),
    }
}

impl Client {
    /// `HEAD /v2/<repository>/blobs/<digest>`: the blob's size when the
    /// registry has it.
    pub fn blob_exists(
        &self,
        registry: &str,
        repository: &str,
        digest: &str,
    ) -> Result<Option<u64>> {
        let image = format!("{registry}/{repository}@{digest}");
        check_digest(&image, digest)?;
        let mut req = Req::new(Method::HEAD, registry, repository, &image);
        req.target = format!("/v2/{repository}/blobs/{digest}");
        req.scopes = vec![repository_scope(repository, "pull")];
        match self.send(req) {
            Ok((resp, _)) => Ok(Some(
                header(&resp, "content-length")
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(0),
            )),
            Err(Error::Registry { status: 404, .. } | Error::BlobUnknown { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Starts downloading a blob; redirects (to a CDN) are followed.
    pub fn open_blob(&self, registry: &str, repository: &str, digest: &str) -> Result<BlobReader> {
        let image = format!("{registry}/{repository}@{digest}");
        check_digest(&image, digest)?;
        let mut req = Req::new(Method::GET, registry, repository, &image);
        req.target = format!("/v2/{repository}/blobs/{digest}");
        req.scopes = vec![repository_scope(repository, "pull")];
        req.not_found = NotFound::Blob;
        let (resp, _) = self.send(req)?;
        let size = header(&resp, "content-length").and_then(|l| l.parse().ok());
        Ok(BlobReader {
            inner: resp.into_body().into_reader(),
            hasher: Sha256::new(),
            expected: digest.to_string(),
            image,
            registry: registry.to_string(),
            size,
            read: 0,
            verified: false,
        })
    }

    /// Downloads a blob into `out`, verifying its digest; returns its size.
    /// On error `out` may hold part of the blob: the caller discards it.
    pub fn fetch_blob(
        &self,
        registry: &str,
        repository: &str,
        digest: &str,
        out: &mut dyn Write,
    ) -> Result<u64> {
        let mut reader = self.open_blob(registry, repository, digest)?;
        let mut buf = vec![0u8; 256 << 10];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => return Ok(reader.bytes_read()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(reader.into_error(e)),
            };
            out.write_all(&buf[..n])
                .map_err(|e| Error::io(format!("writing blob {digest}"), &e))?;
        }
    }

    /// Uploads a blob of `digest` from `data`. With `mount_from` (another
    /// repository of the same registry that has it) the registry is first
    /// asked to link it instead. `size`, when known, picks one PUT for small
    /// blobs; larger or unknown sizes stream through PATCH without holding
    /// the blob in memory. The data is hashed on the way and the upload is
    /// abandoned if it does not match `digest`.
    pub fn push_blob(
        &self,
        registry: &str,
        repository: &str,
        digest: &str,
        size: Option<u64>,
        data: &mut dyn Read,
        mount_from: Option<&str>,
    ) -> Result<Uploaded> {
        let image = format!("{registry}/{repository}@{digest}");
        check_digest(&image, digest)?;
        let opts = self.options();
        let from = mount_from.filter(|f| *f != repository);
        let Some(mut location) =
            self.start_upload(registry, repository, &image, from.map(|f| (f, digest)))?
        else {
            return Ok(Uploaded::Mounted);
        };

        let small = size.is_some_and(|s| s <= opts.monolithic_upload_max);
        if small {
            let mut buf = Vec::with_capacity(size.unwrap_or(0) as usize);
            data.take(opts.monolithic_upload_max + 1)
                .read_to_end(&mut buf)
                .map_err(|e| Error::io(format!("reading blob {digest}"), &e))?;
            let actual = super::digest::sha256_digest(&buf);
            if actual != digest {
                self.abandon_upload(registry, repository, &image, &location);
                return Err(Error::DigestMismatch {
                    image,
                    expected: digest.to_string(),
                    actual,
                });
            }
            self.finish_upload(registry, repository, &image, &location, digest, &buf)?;
            return Ok(Uploaded::Uploaded);
        }

        let mut hashing = HashingReader::new(data);
        self.send_body(
            registry,
            repository,
            &image,
            &mut location,
            size,
            &mut hashing,
        )?;
        let actual = hashing.digest();
        if actual != digest || size.is_some_and(|s| s != hashing.count()) {
            self.abandon_upload(registry, repository, &image, &location);
            return Err(Error::DigestMismatch {
                image,
                expected: digest.to_string(),
                actual,
            });
        }
        self.finish_upload(registry, repository, &image, &location, digest, &[])?;
        Ok(Uploaded::Uploaded)
    }

    /// Uploads a blob whose digest is known only once all of it has been
    /// read, such as a layer compressed while it is sent: the digest,
    /// computed from the bytes as they go, is named in the closing PUT.
    /// `what` names the blob in errors. Returns the digest and the size.
    pub fn push_blob_streamed(
        &self,
        registry: &str,
        repository: &str,
        what: &str,
        data: &mut dyn Read,
    ) -> Result<(String, u64)> {
        let image = format!("{registry}/{repository} ({what})");
        let mut location = self
            .start_upload(registry, repository, &image, None)?
            .ok_or_else(|| Error::InvalidResponse {
                image: image.clone(),
                reason: "upload answered as a mount that was not asked for".into(),
            })?;
        let mut hashing = HashingReader::new(data);
        self.send_body(
            registry,
            repository,
            &image,
            &mut location,
            None,
            &mut hashing,
        )?;
        let digest = hashing.digest();
        self.finish_upload(registry, repository, &image, &location, &digest, &[])?;
        Ok((digest, hashing.count()))
    }

    /// Opens an upload session (POST), asking to mount `(from, digest)` from
    /// another repository when given; None when the registry mounted it.
    fn start_upload(
        &self,
        registry: &str,
        repository: &str,
        image: &str,
        mount: Option<(&str, &str)>,
    ) -> Result<Option<String>> {
        let mut req = Req::new(Method::POST, registry, repository, image);
        req.target = format!("/v2/{repository}/blobs/uploads/");
        req.scopes = vec![repository_scope(repository, "pull,push")];
        if let Some((from, digest)) = mount {
            req.target = format!("{}?mount={digest}&from={from}", req.target);
            req.scopes.push(repository_scope(from, "pull"));
        }
        let (resp, url) = self.send(req)?;
        let status = resp.status().as_u16();
        let location = header(&resp, "location");
        drain(resp);
        if status == 201 {
            return Ok(None);
        }
        self.upload_location(image, &url, location).map(Some)
    }

    /// Sends the body of an upload: one streamed PATCH, or PATCHes of the
    /// configured chunk size. The session is dropped on failure.
    fn send_body(
        &self,
        registry: &str,
        repository: &str,
        image: &str,
        location: &mut String,
        size: Option<u64>,
        data: &mut dyn Read,
    ) -> Result<()> {
        let result = match self.options().upload_chunk_size {
            None => self
                .patch(registry, repository, image, location, size, data, None)
                .map(|l| *location = l),
            Some(chunk) => {
                self.patch_chunks(registry, repository, image, location, chunk.max(1), data)
            }
        };
        if result.is_err() {
            self.abandon_upload(registry, repository, image, location);
        }
        result
    }

    fn upload_location(&self, image: &str, url: &str, location: Option<String>) -> Result<String> {
        location
            .map(|l| resolve_location(url, &l))
            .ok_or_else(|| Error::InvalidResponse {
                image: image.to_string(),
                reason: "upload started without a location".into(),
            })
    }

    /// One PATCH carrying `len` bytes (all of `data` when `None`, streamed);
    /// returns where the upload continues.
    #[allow(clippy::too_many_arguments)]
    fn patch(
        &self,
        registry: &str,
        repository: &str,
        image: &str,
        location: &str,
        len: Option<u64>,
        data: &mut dyn Read,
        range: Option<(u64, u64)>,
    ) -> Result<String> {
        let mut req = Req::new(Method::PATCH, registry, repository, image);
        req.target = location.to_string();
        req.scopes = vec![repository_scope(repository, "pull,push")];
        req.headers = vec![("content-type", "application/octet-stream".to_string())];
        if let Some(len) = len {
            req.headers.push(("content-length", len.to_string()));
        }
        if let Some((start, end)) = range {
            req.headers
                .push(("content-range", format!("{start}-{end}")));
        }
        req.body = ReqBody::Reader(data);
        let (resp, url) = self.send(req)?;
        let next = header(&resp, "location");
        drain(resp);
        self.upload_location(image, &url, next)
    }

    /// PATCHes of at most `chunk` bytes, each with its `Content-Range`; one
    /// chunk is in memory at a time.
    fn patch_chunks(
        &self,
        registry: &str,
        repository: &str,
        image: &str,
        location: &mut String,
        chunk: u64,
        data: &mut dyn Read,
    ) -> Result<()> {
        let mut buf = Vec::with_capacity(chunk.min(64 << 20) as usize);
        let mut offset = 0u64;
        loop {
            buf.clear();
            data.take(chunk)
                .read_to_end(&mut buf)
                .map_err(|e| Error::io(format!("reading {image}"), &e))?;
            if buf.is_empty() {
                return Ok(());
            }
            let len = buf.len() as u64;
            *location = self.patch(
                registry,
                repository,
                image,
                location,
                Some(len),
                &mut &buf[..],
                Some((offset, offset + len - 1)),
            )?;
            offset += len;
            if len < chunk {
                return Ok(());
            }
        }
    }

    /// The closing `PUT ?digest=`, with the last (or only) bytes.
    fn finish_upload(
        &self,
        registry: &str,
        repository: &str,
        image: &str,
        location: &str,
        digest: &str,
        body: &[u8],
    ) -> Result<()> {
        let mut req = Req::new(Method::PUT, registry, repository, image);
        req.target = with_query(location, "digest", digest);
        req.scopes = vec![repository_scope(repository, "pull,push")];
        req.headers = vec![("content-type", "application/octet-stream".to_string())];
        req.body = ReqBody::Bytes(body);
        let (resp, _) = self.send(req)?;
        drain(resp);
        Ok(())
    }

    /// Best effort: tells the registry to drop an upload we gave up on.
    fn abandon_upload(&self, registry: &str, repository: &str, image: &str, location: &str) {
        let mut req = Req::new(Method::DELETE, registry, repository, image);
        req.target = location.to_string();
        req.scopes = vec![repository_scope(repository, "pull,push")];
        if let Ok((resp, _)) = self.send(req) {
            drain(resp);
        }
    }
}
