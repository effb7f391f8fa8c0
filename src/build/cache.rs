//! The build cache: which image a step produced from which parent, so a
//! rebuild reuses it (`--> Using cache <id>`) instead of running the step.
//!
//! A step's key is the sha256 of the parent image id, the instruction after
//! substitution, the ARG values it depends on, the image format, for
//! COPY/ADD a digest of the sources' bytes and metadata (never their
//! times), and for RUN its network and what its bind mounts show, as
//! buildah keys its layer cache. Entries live below the graph root as
//! `build-cache/<key>` files holding the image id, written atomically; this
//! module is their only writer. An entry whose image was removed is a miss.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::plan::Step;
use crate::image::{Image, ImageStore};
use crate::{Context, Result};

/// The cache of one graph root.
pub struct Cache {
    dir: PathBuf,
}

/// The key of a step: hex sha256.
pub fn key(parent: &str, step: &Step, content: &str, extra: &str) -> String {
    let mut h = Sha256::new();
    let mut field = |s: &str| {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    field(parent);
    field(&format!("{:?}", step.instruction));
    for (k, v) in &step.cache_args {
        field(k);
        field(v);
    }
    field(content);
    field(extra);
    hex::encode(h.finalize())
}

impl Cache {
    /// The cache below `ctx`'s graph root.
    pub fn new(ctx: &Context) -> Cache {
        Cache {
            dir: ctx.root.join("build-cache"),
        }
    }

    /// The image a step with this key made, if it is still stored.
    pub fn get(&self, store: &ImageStore, key: &str) -> Option<Image> {
        let id = std::fs::read_to_string(self.dir.join(key)).ok()?;
        store.load(id.trim()).ok()
    }

    /// Records that the step with this key made image `id`.
    pub fn put(&self, key: &str, id: &str) -> Result<()> {
        crate::state::atomic_write(&self.dir.join(key), id.as_bytes())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{parse, BuildOptions, Plan};

    fn steps(text: &str, args: &[(&str, &str)]) -> Vec<Step> {
        let opts = BuildOptions {
            build_args: args
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        };
        let p = Plan::new(&parse("Containerfile", text).unwrap(), &opts).unwrap();
        p.steps(0, &[], &[]).unwrap()
    }

    #[test]
    fn keys_follow_parent_text_args_and_content() {
        let a = steps("FROM b\nARG V=1\nRUN echo $V\n", &[]);
        let b = steps("FROM b\nARG V=1\nRUN echo $V\n", &[("V", "2")]);
        let k = key("p", &a[2], "", "");
        assert_eq!(k, key("p", &a[2], "", ""));
        assert_ne!(k, key("q", &a[2], "", ""), "parent");
        assert_ne!(k, key("p", &b[2], "", ""), "build arg");
        assert_ne!(k, key("p", &a[2], "file:x", ""), "content");
        let c = steps("FROM b\nARG V=1\nRUN echo $V   \n", &[]);
        let d = steps("FROM b\nARG V=1\nRUN echo $W\n", &[]);
        assert_eq!(key("p", &c[2], "", ""), k, "the same command");
        assert_ne!(key("p", &d[2], "", ""), k, "another command");
    }
}
