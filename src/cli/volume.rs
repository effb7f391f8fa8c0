//! `volume create/ls/inspect/exists/rm/prune/export/import`, with Podman's
//! flags, columns, JSON keys and exit codes.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::container;
use crate::state::container::Container;
use crate::volume::{self, filter, Volume};
use crate::{Context, Error, Result};

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum VolumeCommand {
    /// Create a new volume
    Create(CreateArgs),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more volumes
    Inspect(InspectArgs),
    /// Check whether a volume exists (exit 0) or not (exit 1)
    Exists(ExistsArgs),
    /// Remove one or more volumes
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove volumes no container uses
    Prune(PruneArgs),
    /// Export a volume's contents as a tar archive
    Export(ExportArgs),
    /// Import the contents of a tar archive into a volume
    Import(ImportArgs),
}

impl VolumeCommand {
    /// Volume data holds files owned by subordinate ids: only the user
    /// namespace reads, writes and deletes them.
    pub fn needs_userns(&self) -> bool {
        matches!(
            self,
            VolumeCommand::Rm(_)
                | VolumeCommand::Prune(_)
                | VolumeCommand::Export(_)
                | VolumeCommand::Import(_)
        )
    }
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Name of the volume (default: a random 64-hex name)
    pub name: Option<String>,
    /// Volume driver (only local)
    #[arg(short, long, default_value = "local")]
    pub driver: String,
    /// Set metadata on the volume (KEY=VALUE)
    #[arg(short, long)]
    pub label: Vec<String>,
    /// Set driver-specific options: type=tmpfs|none, device=, o=, uid=, gid=, nocopy
    #[arg(short, long)]
    pub opt: Vec<String>,
    /// Do not fail when the volume already exists
    #[arg(long)]
    pub ignore: bool,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Filter output (name=, label=, label!=, driver=, dangling=, until=, since=)
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Pretty-print volumes with a Go template or as json
    #[arg(long)]
    pub format: Option<String>,
    /// Do not print the header row
    #[arg(short, long)]
    pub noheading: bool,
    /// Print only the volume names
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[arg(required_unless_present = "all")]
    pub names: Vec<String>,
    /// Inspect every volume
    #[arg(short, long)]
    pub all: bool,
    /// Format the output with a Go template or as json
    #[arg(short, long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExistsArgs {
    pub name: String,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    #[arg(required_unless_present = "all")]
    pub names: Vec<String>,
    /// Remove every volume
    #[arg(short, long)]
    pub all: bool,
    /// Remove the containers that use the volume too
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Only prune volumes that match (name=, label=, label!=, driver=, until=, since=)
    #[arg(long)]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    pub name: String,
    /// Write to this file instead of standard output
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    pub name: String,
    /// A tar archive, or - for standard input
    pub source: String,
}

pub fn dispatch(ctx: &Context, c: VolumeCommand) -> Result<i32> {
    match c {
        VolumeCommand::Create(a) => create(ctx, a),
        VolumeCommand::Ls(a) => ls(ctx, a),
        VolumeCommand::Inspect(a) => inspect(ctx, a),
        VolumeCommand::Exists(a) => Ok(match volume::get(ctx, &a.name) {
            Ok(_) => 0,
            Err(volume::Error::NotFound(_)) => 1,
            Err(e) => return Err(e.into()),
        }),
        VolumeCommand::Rm(a) => rm(ctx, a),
        VolumeCommand::Prune(a) => prune(ctx, a),
        VolumeCommand::Export(a) => export(ctx, a),
        VolumeCommand::Import(a) => {
            let src = match a.source.as_str() {
                "-" => volume::Source::Stdin,
                p => volume::Source::File(std::path::Path::new(p)),
            };
            volume::import(ctx, &a.name, src)?;
            Ok(0)
        }
    }
}

fn create(ctx: &Context, a: CreateArgs) -> Result<i32> {
    let v = volume::create(
        ctx,
        &volume::CreateOptions {
            name: a.name,
            driver: a.driver,
            labels: crate::container::create::parse_labels(&a.label)?,
            options: a.opt,
            ignore_existing: a.ignore,
            anonymous: false,
        },
    )?;
    println!("{}", v.name);
    Ok(0)
}

/// The containers in `v.users` that still exist: a user whose container
/// was removed without saying so does not keep the volume in use.
fn live_users(ctx: &Context, v: &Volume) -> Vec<Container> {
    let store = container::store(ctx);
    v.users
        .iter()
        .filter_map(|id| store.load(id).ok().flatten())
        .collect()
}

/// `volume inspect`'s object for `v` (see `volume::inspect_json`), with
/// MountCount the running containers that use it, as Podman counts.
pub fn inspect_item(ctx: &Context, v: &Volume) -> serde_json::Value {
    let running = live_users(ctx, v)
        .iter()
        .filter(|c| {
            matches!(
                container::effective_status(c),
                crate::state::container::Status::Running | crate::state::container::Status::Paused
            )
        })
        .count();
    volume::inspect_json(ctx, v, running)
}

/// A volume shaped like every one `ls` and `inspect` print, for checking
/// templates before any output.
fn sample(ctx: &Context) -> serde_json::Value {
    let v = Volume {
        name: "sample".into(),
        driver: "local".into(),
        created: chrono::Utc::now(),
        labels: BTreeMap::new(),
        options: BTreeMap::new(),
        anonymous: true,
        needs_copy_up: true,
        needs_chown: true,
        users: Vec::new(),
    };
    volume::inspect_json(ctx, &v, 0)
}

fn ls(ctx: &Context, a: LsArgs) -> Result<i32> {
    let filters = filter::parse_all(&a.filter)?;
    let sample = sample(ctx);
    let shape = crate::format::Shape::new("entities.VolumeListReport", &sample);
    if let Some(f) = a.format.as_deref().filter(|_| !a.quiet) {
        // A broken template fails before anything is listed.
        crate::format::format_items(f, &[], &shape)?;
    }
    let vols: Vec<Volume> = volume::list(ctx)?
        .into_iter()
        .filter(|v| filter::matches(&filters, v, !live_users(ctx, v).is_empty()))
        .collect();
    if a.quiet {
        for v in &vols {
            println!("{}", v.name);
        }
        return Ok(0);
    }
    if let Some(f) = &a.format {
        let items: Vec<_> = vols
            .iter()
            .map(|v| volume::template_view(inspect_item(ctx, v)))
            .collect();
        crate::format::print_formatted(f, &items, &shape)?;
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = vols
        .iter()
        .map(|v| vec![v.driver.clone(), v.name.clone()])
        .collect();
    crate::format::print_table(&["DRIVER", "VOLUME NAME"], &rows, a.noheading);
    Ok(0)
}

fn inspect(ctx: &Context, a: InspectArgs) -> Result<i32> {
    let vols = if a.all {
        volume::list(ctx)?
    } else {
        a.names
            .iter()
            .map(|n| volume::get(ctx, n))
            .collect::<volume::Result<Vec<_>>>()?
    };
    let items: Vec<_> = vols.iter().map(|v| inspect_item(ctx, v)).collect();
    if let Some(f) = &a.format {
        let sample = sample(ctx);
        crate::format::validate(
            f,
            &crate::format::Shape::new("define.InspectVolumeData", &sample),
        )?;
    }
    crate::cli::container::print_inspect(a.format.as_deref(), &items)
}

/// Removes one volume: refused while containers use it (exit 2), unless
/// `force`, which removes those containers first (as Podman).
fn remove_one(ctx: &Context, name: &str, force: bool) -> Result<()> {
    let v = volume::get(ctx, name)?;
    let users = live_users(ctx, &v);
    if !users.is_empty() {
        if !force {
            let ids: Vec<&str> = users.iter().map(|c| &c.id[..12]).collect();
            return Err(volume::Error::InUse {
                name: v.name,
                users: ids.join(", "),
            }
            .into());
        }
        for c in &users {
            container::remove::remove(ctx, c, true)?;
        }
    }
    Ok(volume::remove(ctx, &v.name)?)
}

fn rm(ctx: &Context, a: RmArgs) -> Result<i32> {
    let names: Vec<String> = if a.all {
        volume::list(ctx)?.into_iter().map(|v| v.name).collect()
    } else {
        a.names
    };
    let mut code = 0;
    for name in &names {
        match remove_one(ctx, name, a.force) {
            Ok(()) => println!("{name}"),
            // Podman: -f passes over a volume that does not exist.
            Err(e) if a.force && e.is_no_such() => {}
            Err(e) => {
                // Podman: a volume that does not exist is exit 1.
                let e = Error::with_code(e.rm_exit_code(), e.to_string());
                if names.len() == 1 {
                    return Err(e);
                }
                crate::cli::report(&e);
                code = e.exit_code();
            }
        }
    }
    Ok(code)
}

fn prune(ctx: &Context, a: PruneArgs) -> Result<i32> {
    let filters = filter::parse_all(&a.filter)?;
    let unused: Vec<Volume> = volume::list(ctx)?
        .into_iter()
        .filter(|v| live_users(ctx, v).is_empty() && filter::matches(&filters, v, false))
        .collect();
    if unused.is_empty() {
        return Ok(0);
    }
    if !a.force {
        let names: String = unused.iter().map(|v| format!("{}\n", v.name)).collect();
        let warning = format!(
            "WARNING! This will remove all volumes not used by at least one container. The following volumes will be removed:\n{names}"
        );
        if !crate::cli::system::confirm(&warning) {
            return Ok(0);
        }
    }
    let mut last = None;
    for v in unused {
        match volume::remove(ctx, &v.name) {
            Ok(()) => println!("{}", v.name),
            Err(e) => {
                if let Some(prev) = last.replace(Error::from(e)) {
                    crate::cli::report(&prev);
                }
            }
        }
    }
    match last {
        Some(e) => Err(e),
        None => Ok(0),
    }
}

fn export(ctx: &Context, a: ExportArgs) -> Result<i32> {
    match &a.output {
        Some(p) => volume::export_to_file(ctx, &a.name, p)?,
        None => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                return Err(Error::msg(
                    "cannot write to terminal, use command-line redirection or the --output flag",
                ));
            }
            let w = volume::export(ctx, &a.name, std::io::BufWriter::new(stdout.lock()))?;
            let mut out = w.into_inner().map_err(|e| Error::Io(e.into_error()))?;
            std::io::Write::flush(&mut out)?;
        }
    }
    Ok(0)
}
