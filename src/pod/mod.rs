//! Pods: containers that share namespaces held by an infra process. The
//! verbs (create, start, stop, rm, kube play) build on `state::pod` and
//! live here, one per file; today this holds the infra process itself.

pub mod infra;
