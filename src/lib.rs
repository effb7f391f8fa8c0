//! skiff: a daemonless, rootless container engine with a Podman-compatible command line.
//!
//! The binary (`main.rs`) only parses the command line and maps errors to exit
//! codes; everything else lives in this library so that the supervisor, the
//! tests and the benchmarks use the same code.
#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod build;
pub mod cgroups;
pub mod cli;
pub mod config;
pub mod container;
pub mod context;
pub mod error;
pub mod events;
pub mod format;
pub mod image;
pub mod kube;
pub mod log;
pub mod network;
pub mod pod;
pub mod registry;
pub mod runtime;
pub mod secret;
pub mod state;
pub mod storage;
pub mod supervisor;
pub mod systemd;
pub mod volume;

pub use context::Context;
pub use error::{Error, Result};
