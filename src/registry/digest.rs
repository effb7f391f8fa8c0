//! sha256 digests: naming content, checking a digest string, and hashing
//! while streaming so that nothing is read twice.

use std::io::{self, Read};

use sha2::{Digest as _, Sha256};

use super::error::{Error, Result};

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Checks that `digest` is `sha256:` and 64 lowercase hex digits: the only
/// algorithm registries use in practice, and a digest we cannot verify is
/// one we must not trust.
pub fn check_digest(image: &str, digest: &str) -> Result<()> {
    let ok = digest.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidDigest {
            image: image.to_string(),
            digest: digest.to_string(),
        })
    }
}

/// A reader that hashes what passes through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Bytes read so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// `sha256:<hex>` of everything read so far.
    pub fn digest(&self) -> String {
        format!("sha256:{}", hex::encode(self.hasher.clone().finalize()))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests() {
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let mut r = HashingReader::new(&b"hello"[..]);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(r.count(), 5);
        assert_eq!(r.digest(), sha256_digest(b"hello"));
    }

    #[test]
    fn checks_digest_strings() {
        check_digest("i", &sha256_digest(b"x")).unwrap();
        for bad in [
            "sha256:abc",
            "sha512:00",
            "latest",
            &sha256_digest(b"x").to_uppercase(),
        ] {
            let e = check_digest("reg/app", bad).unwrap_err().to_string();
            assert!(e.starts_with("reg/app: invalid digest"), "{e}");
        }
    }
}
