//! Kubernetes YAML: the objects `kube play` runs and `kube generate`
//! writes, parsed and produced here as plain data (no pod is touched).
//!
//! YAML goes through `serde_yaml_ng`, a maintained fork of the archived
//! `serde_yaml` with the same API (already skiff's YAML emitter for `info`;
//! `serde_yml` had soundness problems and `yaml-rust2` has no serde layer).
//! The Kubernetes types are our own serde structs, limited to the fields
//! skiff supports, rather than `k8s-openapi`: that crate's hundreds of
//! generated types cost minutes of build time for the few we read, and
//! every field we do not support must be reported anyway, which
//! `serde_ignored` does with our structs by naming each one's path.
//!
//! - `types.rs`: the objects and their fields;
//! - `parse.rs`: multi-document parsing, warnings and one-line errors;
//! - `command.rs`: command/args against the image's ENTRYPOINT/CMD;
//! - `generate.rs`: Pod, Deployment and Service YAML from a pod description;
//! - `play.rs`: documents into the plan of pods and containers `kube play` makes;
//! - `apply.rs`: that plan made real (`kube play`) and undone (`kube down`);
//! - `describe.rs`: pod and container records as what `generate.rs` reads.

pub mod apply;
pub mod command;
pub mod describe;
pub mod generate;
pub mod parse;
pub mod play;
pub mod types;

pub use parse::{parse, Document, Parsed};

/// What is wrong with a YAML file, in one line naming the document (1-based,
/// in `---` order), the object and the field.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The text is not YAML, or a field has the wrong type (bad
    /// indentation shows up here, with its line and column).
    #[error("kube yaml: document {doc}: {msg}")]
    Yaml { doc: usize, msg: String },
    #[error("kube yaml: document {doc}: no kind: not a Kubernetes object")]
    NoKind { doc: usize },
    #[error(
        "kube yaml: document {doc}: unknown kind {kind:?}: skiff plays Pod, Deployment, DaemonSet, Job, ConfigMap, Secret, PersistentVolumeClaim and Service"
    )]
    UnknownKind { doc: usize, kind: String },
    #[error("kube yaml: document {doc} ({kind} {name:?}): {field} is required")]
    Missing {
        doc: usize,
        kind: String,
        name: String,
        field: String,
    },
    #[error("kube yaml: document {doc} ({kind} {name:?}): container {container:?} has no image")]
    NoImage {
        doc: usize,
        kind: String,
        name: String,
        container: String,
    },
    #[error(
        "kube yaml: document {doc} ({kind} {name:?}): the container name {container:?} is used twice"
    )]
    DuplicateContainer {
        doc: usize,
        kind: String,
        name: String,
        container: String,
    },
    #[error("kube yaml: document {doc} ({kind} {name:?}): {what}")]
    Invalid {
        doc: usize,
        kind: String,
        name: String,
        what: String,
    },
    #[error("kube yaml: no Kubernetes object in the file")]
    Empty,
}
