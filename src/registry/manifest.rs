//! Manifests as the registry serves them: media types, the few fields the
//! client needs (config, layers, the entries of a list), and choosing one
//! platform's image from a manifest list or OCI index.
//!
//! These are lenient serde structs rather than oci-spec's types because the
//! same code reads Docker schema2 and OCI documents, whose media types
//! oci-spec does not know; the image store can parse the returned bytes
//! with whatever types it keeps.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// The `Accept` header of a manifest GET: every type we can read.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// What a manifest document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A single image (Docker schema2 or OCI manifest).
    Image,
    /// A list of per-platform manifests (Docker manifest list or OCI index).
    List,
}

/// The kind of a media type; `None` for what we cannot read (schema1 among them).
pub fn kind_of(media_type: &str) -> Option<Kind> {
    match media_type {
        DOCKER_MANIFEST | OCI_MANIFEST => Some(Kind::Image),
        DOCKER_MANIFEST_LIST | OCI_INDEX => Some(Kind::List),
        _ => None,
    }
}

/// The media type of a manifest: the server's `Content-Type` when it is one
/// we know, else the document's `mediaType`, else guessed from its shape
/// (OCI allows both fields to be absent).
pub fn detect_media_type(content_type: Option<&str>, bytes: &[u8]) -> String {
    let ct = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim().to_string())
        .filter(|c| !c.is_empty());
    if let Some(ct) = &ct {
        if kind_of(ct).is_some() {
            return ct.clone();
        }
    }
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
        #[serde(rename = "schemaVersion")]
        schema_version: Option<u32>,
        manifests: Option<serde_json::Value>,
        layers: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<Probe>(bytes) {
        Ok(p) => match p.media_type {
            Some(mt) if !mt.is_empty() => mt,
            _ if p.schema_version == Some(1) => {
                "application/vnd.docker.distribution.manifest.v1+json".into()
            }
            _ if p.manifests.is_some() => OCI_INDEX.into(),
            _ if p.layers.is_some() => OCI_MANIFEST.into(),
            _ => ct.unwrap_or_default(),
        },
        Err(_) => ct.unwrap_or_default(),
    }
}

/// A content descriptor: what a manifest says about a blob or another manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An image manifest (Docker schema2 or OCI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageManifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A manifest list or OCI index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestList {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An operating system, CPU architecture and optional variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
}

impl Platform {
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: os.to_string(),
            architecture: normalize_arch(architecture).to_string(),
            variant: variant.filter(|v| !v.is_empty()).map(str::to_string),
            os_version: None,
        }
    }

    /// The platform this binary runs on, in OCI's names (`linux/amd64`).
    pub fn host() -> Platform {
        let (arch, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "x86" => ("386", None),
            "aarch64" => ("arm64", None),
            "arm" => ("arm", Some("v7")),
            "powerpc64" if cfg!(target_endian = "little") => ("ppc64le", None),
            "s390x" => ("s390x", None),
            "riscv64" => ("riscv64", None),
            "loongarch64" => ("loong64", None),
            other => (other, None),
        };
        Platform::new("linux", arch, variant)
    }

    /// `--platform os/arch[/variant]`; `None` when it is not of that shape.
    pub fn parse(s: &str) -> Option<Platform> {
        let parts: Vec<&str> = s.split('/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return None;
        }
        match parts.as_slice() {
            [os, arch] => Some(Platform::new(os, arch, None)),
            [os, arch, variant] => Some(Platform::new(os, arch, Some(variant))),
            _ => None,
        }
    }

    /// The variant with the defaults OCI implies filled in (`arm64` is `v8`),
    /// so that `linux/arm64` and `linux/arm64/v8` compare equal.
    fn normalized_variant(&self) -> Option<&str> {
        match (self.architecture.as_str(), self.variant.as_deref()) {
            ("arm64", None) => Some("v8"),
            (_, v) => v,
        }
    }

    /// How well `candidate` serves a request for `self`: `None` when it cannot,
    /// higher is better (an exact variant beats an unspecified one).
    pub fn match_score(&self, candidate: &Platform) -> Option<u8> {
        if self.os != candidate.os || self.architecture != normalize_arch(&candidate.architecture) {
            return None;
        }
        match (self.normalized_variant(), candidate.normalized_variant()) {
            (Some(want), Some(have)) if want == have => Some(2),
            (Some(_), Some(_)) => None,
            // A request without a variant takes any; an image without one
            // claims to run on every variant.
            (None, Some(_)) | (Some(_), None) => Some(1),
            (None, None) => Some(2),
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// Go's names for what other tools call x86_64 or aarch64.
fn normalize_arch(arch: &str) -> &str {
    match arch {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        "i386" | "i686" => "386",
        other => other,
    }
}

impl ManifestList {
    /// The entry for `wanted`, or the list of platforms there are
    /// (`linux/amd64, linux/arm64/v8`) for the error message.
    pub fn select(&self, wanted: &Platform) -> Result<&Descriptor, String> {
        let mut best: Option<(u8, &Descriptor)> = None;
        for d in &self.manifests {
            let Some(p) = &d.platform else { continue };
            if let Some(score) = wanted.match_score(p) {
                if best.is_none_or(|(s, _)| score > s) {
                    best = Some((score, d));
                }
            }
        }
        match best {
            Some((_, d)) => Ok(d),
            None => Err(self.platforms()),
        }
    }

    /// The platforms listed, without BuildKit's `unknown/unknown` attestations.
    pub fn platforms(&self) -> String {
        let list: Vec<String> = self
            .manifests
            .iter()
            .filter_map(|d| d.platform.as_ref())
            .filter(|p| p.os != "unknown")
            .map(Platform::to_string)
            .collect();
        if list.is_empty() {
            "none".into()
        } else {
            list.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(platforms: &[(&str, &str, Option<&str>)]) -> ManifestList {
        ManifestList {
            schema_version: 2,
            media_type: Some(OCI_INDEX.into()),
            manifests: platforms
                .iter()
                .enumerate()
                .map(|(i, (os, arch, v))| Descriptor {
                    media_type: OCI_MANIFEST.into(),
                    digest: format!("sha256:{i:064}"),
                    size: 1,
                    platform: Some(Platform::new(os, arch, *v)),
                    urls: vec![],
                    annotations: BTreeMap::new(),
                })
                .collect(),
            annotations: BTreeMap::new(),
        }
    }

    #[test]
    fn selects_platform() {
        let l = list(&[
            ("linux", "amd64", None),
            ("linux", "arm", Some("v6")),
            ("linux", "arm", Some("v7")),
            ("linux", "arm64", Some("v8")),
            ("unknown", "unknown", None),
        ]);
        let pick = |p: &str| {
            l.select(&Platform::parse(p).unwrap())
                .map(|d| d.digest.clone())
        };
        assert_eq!(pick("linux/amd64").unwrap(), format!("sha256:{:064}", 0));
        assert_eq!(pick("linux/arm/v7").unwrap(), format!("sha256:{:064}", 2));
        assert_eq!(pick("linux/arm64").unwrap(), format!("sha256:{:064}", 3));
        assert_eq!(
            pick("linux/aarch64/v8").unwrap(),
            format!("sha256:{:064}", 3)
        );
        // Without a variant the first arm entry is as good as any.
        assert_eq!(pick("linux/arm").unwrap(), format!("sha256:{:064}", 1));
        assert_eq!(
            pick("linux/s390x").unwrap_err(),
            "linux/amd64, linux/arm/v6, linux/arm/v7, linux/arm64/v8"
        );
        assert!(pick("windows/amd64").is_err());
        assert!(pick("linux/arm/v5").is_err());
    }

    #[test]
    fn exact_variant_beats_unspecified() {
        let l = list(&[("linux", "arm", None), ("linux", "arm", Some("v7"))]);
        let d = l
            .select(&Platform::new("linux", "arm", Some("v7")))
            .unwrap();
        assert_eq!(d.digest, format!("sha256:{:064}", 1));
    }

    #[test]
    fn parses_platforms() {
        assert_eq!(
            Platform::parse("linux/amd64").unwrap().to_string(),
            "linux/amd64"
        );
        assert_eq!(
            Platform::parse("linux/x86_64").unwrap().architecture,
            "amd64"
        );
        assert_eq!(
            Platform::parse("linux/arm/v7").unwrap().variant.as_deref(),
            Some("v7")
        );
        assert!(Platform::parse("linux").is_none());
        assert!(Platform::parse("linux//v7").is_none());
        assert!(Platform::parse("a/b/c/d").is_none());
        let host = Platform::host();
        assert_eq!(host.os, "linux");
        if cfg!(target_arch = "x86_64") {
            assert_eq!(host.to_string(), "linux/amd64");
        }
    }

    #[test]
    fn detects_media_types() {
        assert_eq!(
            detect_media_type(
                Some("application/vnd.oci.image.index.v1+json; charset=utf-8"),
                b"{}"
            ),
            OCI_INDEX
        );
        assert_eq!(
            detect_media_type(
                Some("application/json"),
                br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}"#
            ),
            DOCKER_MANIFEST
        );
        assert_eq!(
            detect_media_type(None, br#"{"schemaVersion":2,"manifests":[]}"#),
            OCI_INDEX
        );
        assert_eq!(
            detect_media_type(None, br#"{"schemaVersion":2,"config":{},"layers":[]}"#),
            OCI_MANIFEST
        );
        let v1 = detect_media_type(None, br#"{"schemaVersion":1,"fsLayers":[]}"#);
        assert_eq!(kind_of(&v1), None);
        assert_eq!(kind_of(DOCKER_MANIFEST_LIST), Some(Kind::List));
        assert_eq!(kind_of(OCI_MANIFEST), Some(Kind::Image));
    }

    #[test]
    fn parses_docker_manifest() {
        let m: ImageManifest = serde_json::from_str(
            r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
               "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":3,"digest":"sha256:aa"},
               "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":5,"digest":"sha256:bb"}]}"#,
        )
        .unwrap();
        assert_eq!(m.config.digest, "sha256:aa");
        assert_eq!(m.layers[0].size, 5);
        assert_eq!(m.layers[0].media_type, DOCKER_LAYER_GZIP);
    }
}
