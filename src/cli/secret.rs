//! `secret create/ls/inspect/rm/exists`, with Podman's flags, columns and
//! JSON keys. Secret data is printed by `inspect --showsecret` only.

use std::path::Path;

use clap::{Args, Subcommand};

use crate::secret::{self, Secret};
use crate::{Context, Result};

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum SecretCommand {
    /// Create a new secret from a file or standard input
    Create(CreateArgs),
    /// List secrets
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more secrets
    Inspect(InspectArgs),
    /// Remove one or more secrets
    Rm(RmArgs),
    /// Check whether a secret exists (exit 0) or not (exit 1)
    Exists(ExistsArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Name of the secret
    pub name: String,
    /// File holding the secret's data, or - for standard input
    pub file: String,
    /// Secret driver (only file)
    #[arg(short, long, default_value = "file")]
    pub driver: String,
    /// Set metadata on the secret (KEY=VALUE)
    #[arg(short, long)]
    pub label: Vec<String>,
    /// Replace the data of an existing secret of that name
    #[arg(long)]
    pub replace: bool,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Filter output (name=, id=, label=)
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Pretty-print secrets with a Go template or as json
    #[arg(long)]
    pub format: Option<String>,
    /// Do not print the header row
    #[arg(short, long)]
    pub noheading: bool,
    /// Print only the secret ids
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Format the output with a Go template or as json
    #[arg(short, long)]
    pub format: Option<String>,
    /// Display the secret's data
    #[arg(long)]
    pub showsecret: bool,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    #[arg(required_unless_present = "all")]
    pub names: Vec<String>,
    /// Remove every secret
    #[arg(short, long)]
    pub all: bool,
    /// Do not fail when a secret does not exist
    #[arg(short, long)]
    pub ignore: bool,
}

#[derive(Debug, Args)]
pub struct ExistsArgs {
    pub name: String,
}

pub fn dispatch(ctx: &Context, c: SecretCommand) -> Result<i32> {
    match c {
        SecretCommand::Create(a) => create(ctx, a),
        SecretCommand::Ls(a) => ls(ctx, a),
        SecretCommand::Inspect(a) => inspect(ctx, a),
        SecretCommand::Rm(a) => rm(ctx, a),
        SecretCommand::Exists(a) => Ok(match secret::get(ctx, &a.name) {
            Ok(_) => 0,
            Err(secret::Error::NotFound(_)) | Err(secret::Error::Ambiguous(_)) => 1,
            Err(e) => return Err(e.into()),
        }),
    }
}

fn create(ctx: &Context, a: CreateArgs) -> Result<i32> {
    // The name is checked before the data is read.
    if !secret::valid_name(&a.name) {
        return Err(secret::Error::InvalidName(a.name).into());
    }
    let labels = crate::container::create::parse_labels(&a.label)?;
    let src = match a.file.as_str() {
        "-" => secret::Source::Stdin,
        p => secret::Source::File(Path::new(p)),
    };
    let data = secret::read_source(&a.name, src)?;
    let s = secret::create(
        ctx,
        &secret::CreateOptions {
            name: a.name,
            driver: a.driver,
            labels,
            replace: a.replace,
        },
        &data,
    )?;
    println!("{}", s.id);
    Ok(0)
}

/// A row of `secret ls` as its templates see it (Podman's field names).
fn ls_value(s: &Secret) -> serde_json::Value {
    serde_json::json!({
        "ID": s.id,
        "Name": s.name,
        "Driver": s.driver,
        "CreatedAt": crate::format::human_ago(s.created),
        "UpdatedAt": crate::format::human_ago(s.updated),
        "Labels": s.labels,
    })
}

fn ls(ctx: &Context, a: LsArgs) -> Result<i32> {
    let filters = a
        .filter
        .iter()
        .map(|f| secret::parse_filter(f))
        .collect::<secret::Result<Vec<_>>>()?;
    let now = chrono::Utc::now();
    let sample = ls_value(&Secret {
        id: String::new(),
        name: String::new(),
        driver: String::new(),
        driver_options: Default::default(),
        labels: Default::default(),
        created: now,
        updated: now,
    });
    let shape = crate::format::Shape::new("entities.SecretListReport", &sample);
    if let Some(f) = a.format.as_deref().filter(|_| !a.quiet) {
        crate::format::format_items(f, &[], &shape)?;
    }
    let list: Vec<Secret> = secret::list(ctx)?
        .into_iter()
        .filter(|s| secret::matches(&filters, s))
        .collect();
    if a.quiet {
        for s in &list {
            println!("{}", s.id);
        }
        return Ok(0);
    }
    let items: Vec<_> = list.iter().map(ls_value).collect();
    if let Some(f) = &a.format {
        crate::format::print_formatted(f, &items, &shape)?;
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|v| {
            ["ID", "Name", "Driver", "CreatedAt", "UpdatedAt"]
                .iter()
                .map(|k| v[k].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .collect();
    crate::format::print_table(
        &["ID", "NAME", "DRIVER", "CREATED", "UPDATED"],
        &rows,
        a.noheading,
    );
    Ok(0)
}

fn inspect(ctx: &Context, a: InspectArgs) -> Result<i32> {
    let mut items = Vec::new();
    for n in &a.names {
        let v = if a.showsecret {
            let (s, data) = secret::get_data(ctx, n)?;
            secret::inspect_json(&s, Some(&data))
        } else {
            secret::inspect_json(&secret::get(ctx, n)?, None)
        };
        items.push(v);
    }
    crate::cli::container::print_inspect(a.format.as_deref(), &items)
}

fn rm(ctx: &Context, a: RmArgs) -> Result<i32> {
    let names: Vec<String> = if a.all {
        secret::list(ctx)?.into_iter().map(|s| s.id).collect()
    } else {
        a.names
    };
    let mut code = 0;
    for n in &names {
        match secret::remove(ctx, n) {
            Ok(id) => println!("{id}"),
            Err(secret::Error::NotFound(_)) if a.ignore => {}
            Err(e) => {
                let e = crate::Error::from(e);
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
