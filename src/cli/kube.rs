//! `kube play`, `kube down` and `kube generate`, with Podman's flags and
//! output; Podman's older spellings `play kube` and `generate kube` too.

use clap::{Args, Subcommand};

use crate::kube::{apply, describe, generate};
use crate::{Context, Error, Result};

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum KubeCommand {
    /// Create pods and containers from Kubernetes YAML
    Play(PlayArgs),
    /// Remove the pods a Kubernetes YAML file describes
    Down(DownArgs),
    /// Generate Kubernetes YAML from pods or containers
    Generate(GenerateArgs),
}

/// `skiff play kube` (Podman's older spelling of `kube play`).
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum PlayCommand {
    /// Create pods and containers from Kubernetes YAML
    Kube(PlayArgs),
}

/// `skiff generate kube` (Podman's older spelling of `kube generate`) and
/// `skiff generate systemd`.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum GenerateCommand {
    /// Generate Kubernetes YAML from pods or containers
    Kube(GenerateArgs),
    /// Generate systemd units for a container or pod
    Systemd(Box<crate::cli::systemd::GenerateSystemdArgs>),
}

#[derive(Debug, Args)]
pub struct PlayArgs {
    /// The YAML file, or - for standard input
    pub file: String,
    /// Replace pods of the same names that exist
    #[arg(long)]
    pub replace: bool,
    /// Start the pods after creating them
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub start: bool,
    /// Connect the pods to this network
    #[arg(long)]
    pub network: Vec<String>,
    /// YAML files holding ConfigMaps the pods read (comma-separated or repeated)
    #[arg(long, value_delimiter = ',')]
    pub configmap: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// The YAML file, or - for standard input
    pub file: String,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// One pod, or containers (not in a pod)
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Also generate a Service for the published ports
    #[arg(short, long)]
    pub service: bool,
    /// The kind to generate: pod or deployment
    #[arg(short, long, default_value = "pod", value_parser = ["pod", "deployment"])]
    pub r#type: String,
    /// Write to this file instead of standard output
    #[arg(short, long)]
    pub filename: Option<std::path::PathBuf>,
}

impl KubeCommand {
    /// play and down create and remove containers, inside the user namespace.
    pub fn needs_userns(&self) -> bool {
        !matches!(self, KubeCommand::Generate(_))
    }
}

pub fn dispatch(ctx: &Context, c: KubeCommand) -> Result<i32> {
    match c {
        // Podman's kube play fails as the engine (125) whatever went wrong,
        // a port in use included (126 is run's).
        KubeCommand::Play(a) => play(ctx, a).map_err(|e| match e {
            Error::Code { code, msg } if code == crate::error::EXIT_CANNOT_INVOKE => {
                Error::msg(msg)
            }
            e => e,
        }),
        KubeCommand::Down(a) => down(ctx, a),
        KubeCommand::Generate(a) => generate_yaml(ctx, a),
    }
}

/// The text of FILE, or of standard input for `-`.
fn read_input(file: &str) -> Result<String> {
    use crate::error::{read_bounded_text, read_bounded_text_from, USER_FILE_MAX};
    if file == "-" {
        return read_bounded_text_from(std::io::stdin().lock(), "standard input", USER_FILE_MAX);
    }
    read_bounded_text(std::path::Path::new(file), USER_FILE_MAX)
}

pub fn play(ctx: &Context, a: PlayArgs) -> Result<i32> {
    let text = read_input(&a.file)?;
    let configmaps = a
        .configmap
        .iter()
        .map(|f| Ok((f.clone(), read_input(f)?)))
        .collect::<Result<Vec<_>>>()?;
    let report = apply::play(
        ctx,
        &text,
        &apply::PlayOptions {
            replace: a.replace,
            start: a.start,
            network: a.network,
            configmaps,
            defaults: super::run_flags::conf_defaults()?,
        },
    )?;
    let mut out = String::new();
    for v in &report.volumes {
        out.push_str(&format!("Volume:\n{v}\n\n"));
    }
    for (pod, containers) in &report.pods {
        out.push_str(&format!("Pod:\n{pod}\n"));
        match containers.len() {
            0 => {}
            1 => out.push_str("Container:\n"),
            _ => out.push_str("Containers:\n"),
        }
        for c in containers {
            out.push_str(&format!("{c}\n"));
        }
        out.push('\n');
    }
    print!("{out}");
    Ok(0)
}

pub fn down(ctx: &Context, a: DownArgs) -> Result<i32> {
    let text = read_input(&a.file)?;
    let r = apply::down(ctx, &text)?;
    let mut out = String::new();
    for (title, list) in [
        ("Pods stopped:", &r.stopped),
        ("Pods removed:", &r.removed),
        ("Volumes removed:", &r.volumes),
    ] {
        if !list.is_empty() || title != "Volumes removed:" {
            out.push_str(title);
            out.push('\n');
            for id in list {
                out.push_str(id);
                out.push('\n');
            }
        }
    }
    print!("{out}");
    Ok(0)
}

pub fn generate_yaml(ctx: &Context, a: GenerateArgs) -> Result<i32> {
    let kind = match a.r#type.as_str() {
        "deployment" => generate::Kind::Deployment,
        _ => generate::Kind::Pod,
    };
    let description = match crate::pod::lookup(ctx, &a.names[0]) {
        Ok(pod) if a.names.len() == 1 => describe::pod(ctx, &pod)?,
        Ok(pod) => {
            return Err(Error::msg(format!(
                "kube generate: {} is a pod: name one pod, or containers",
                pod.name
            )))
        }
        Err(_) => {
            let store = crate::container::store(ctx);
            let list = a
                .names
                .iter()
                .map(|n| store.lookup(n).map_err(Error::from))
                .collect::<Result<Vec<_>>>()?;
            if let Some(c) = list.iter().find(|c| !c.config.pod.is_empty()) {
                return Err(Error::msg(format!(
                    "kube generate: container {} is in a pod: generate the pod instead",
                    c.name
                )));
            }
            describe::containers(ctx, &list)?
        }
    };
    let yaml = generate::generate(&description, kind, a.service);
    match &a.filename {
        Some(f) => {
            std::fs::write(f, yaml).map_err(|e| Error::msg(crate::error::io_msg("write", f, &e)))?
        }
        None => print!("{yaml}"),
    }
    Ok(0)
}
