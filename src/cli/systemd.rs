//! `generate systemd`: systemd units for a container or a pod, with
//! Podman 5's flags and unit text (skiff's binary in the `Exec*=` lines);
//! `systemd-generator`, the Quadlet-style systemd generator.

use std::path::PathBuf;

use clap::Args;

use crate::systemd::unit::{self, ContainerFacts, FlagTable, Host, PodFacts, UnitOptions};
use crate::{Context, Error, Result};

/// `--restart-policy`: one of systemd's `Restart=` values (Podman's error).
fn restart_policy(s: &str) -> std::result::Result<String, String> {
    if unit::RESTART_POLICIES.contains(&s) {
        Ok(s.to_string())
    } else {
        Err(format!("{s} is not a valid restart policy"))
    }
}

#[derive(Debug, Args)]
pub struct GenerateSystemdArgs {
    /// Use container/pod names instead of IDs
    #[arg(short, long)]
    pub name: bool,
    /// Create a new container or pod instead of starting an existing one
    #[arg(long)]
    pub new: bool,
    /// Generate .service files in the current directory instead of printing to stdout
    #[arg(short, long)]
    pub files: bool,
    /// Print the created units in the given format (json)
    #[arg(long)]
    pub format: Option<String>,
    /// Skip the header with the generator's name and version
    #[arg(long)]
    pub no_header: bool,
    /// Systemd restart-policy
    #[arg(long, value_parser = restart_policy, value_name = "POLICY")]
    pub restart_policy: Option<String>,
    /// Systemd restart-sec (seconds)
    #[arg(long, value_name = "SECONDS")]
    pub restart_sec: Option<u64>,
    /// Start timeout override (seconds)
    #[arg(long, value_name = "SECONDS")]
    pub start_timeout: Option<u64>,
    /// Stop timeout override (seconds)
    #[arg(short = 't', long, visible_alias = "time", value_name = "SECONDS")]
    pub stop_timeout: Option<u64>,
    /// Systemd unit name prefix for containers
    #[arg(long, default_value = "container", value_name = "PREFIX")]
    pub container_prefix: String,
    /// Systemd unit name prefix for pods
    #[arg(long, default_value = "pod", value_name = "PREFIX")]
    pub pod_prefix: String,
    /// Systemd unit name separator between name/id and prefix
    #[arg(long, default_value = "-", value_name = "SEP")]
    pub separator: String,
    /// Add dependencies order to the generated unit file (repeatable)
    #[arg(long, value_name = "UNIT")]
    pub after: Vec<String>,
    /// Add (weak) requirement dependencies to the generated unit file (repeatable)
    #[arg(long, value_name = "UNIT")]
    pub wants: Vec<String>,
    /// Similar to wants, but declares stronger requirement dependencies (repeatable)
    #[arg(long, value_name = "UNIT")]
    pub requires: Vec<String>,
    /// Set environment variables in the systemd unit files (KEY=VALUE)
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// The container or pod
    pub target: String,
}

/// The flags of `run` and `create` as clap knows them: which take a value.
fn create_flags() -> FlagTable {
    flag_table(crate::cli::container::RunArgs::augment_args(
        clap::Command::new("run"),
    ))
}

/// The flags of `pod create`, as [`create_flags`].
fn pod_create_flags() -> FlagTable {
    flag_table(crate::cli::pod::CreateArgs::augment_args(
        clap::Command::new("create"),
    ))
}

/// Which flags of `cmd` (and the global options, which may follow the
/// verb too) take a value.
fn flag_table(cmd: clap::Command) -> FlagTable {
    let mut t = FlagTable::default();
    let cmd = crate::cli::GlobalArgs::augment_args(cmd);
    for a in cmd.get_arguments() {
        let takes = a.get_action().takes_values();
        let mut longs: Vec<&str> = a.get_long().into_iter().collect();
        longs.extend(a.get_all_aliases().unwrap_or_default());
        for l in &longs {
            t.long.insert(l.to_string(), takes);
        }
        if let (Some(s), Some(l)) = (a.get_short(), a.get_long()) {
            t.short.insert(s, l.to_string());
        }
    }
    t
}

fn facts(ctx: &Context, c: &crate::state::container::Container) -> ContainerFacts {
    ContainerFacts {
        id: c.id.clone(),
        name: c.name.clone(),
        create_command: c.config.create_command.clone(),
        env: c.config.env.clone(),
        conmon_pidfile: crate::container::start::conmon_pidfile(ctx, c)
            .to_string_lossy()
            .into_owned(),
    }
}

/// `generate systemd`: the units of a container, or of a pod and its
/// containers. Errors: an unknown name (Podman's wording), `--new` for a
/// container without its create command, a pod without infra container.
pub fn generate(ctx: &Context, a: GenerateSystemdArgs) -> Result<i32> {
    if let Some(f) = a.format.as_deref().filter(|f| *f != "json") {
        return Err(Error::msg(format!("unsupported format \"{f}\": use json")));
    }
    let o = UnitOptions {
        use_name: a.name,
        new: a.new,
        no_header: a.no_header,
        restart_policy: a.restart_policy.clone(),
        restart_sec: a.restart_sec,
        start_timeout: a.start_timeout,
        stop_timeout: a.stop_timeout,
        container_prefix: a.container_prefix.clone(),
        pod_prefix: a.pod_prefix.clone(),
        separator: a.separator.clone(),
        after: a.after.clone(),
        wants: a.wants.clone(),
        requires: a.requires.clone(),
        env: a.env.clone(),
    };
    let host = Host {
        executable: std::env::current_exe()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "/usr/bin/skiff".into()),
        runroot: ctx.runroot.to_string_lossy().into_owned(),
        timestamp: Some(
            chrono::Utc::now()
                .format("%a %b %e %H:%M:%S UTC %Y")
                .to_string(),
        ),
    };
    let flags = create_flags();
    let units = match crate::container::lookup(ctx, &a.target) {
        Ok(c) => vec![unit::container_unit(
            &facts(ctx, &c),
            &o,
            &host,
            &flags,
            None,
        )?],
        Err(ce) => {
            let pod = crate::pod::lookup(ctx, &a.target).map_err(|pe| {
                Error::msg(format!(
                    "{} does not refer to a container or pod: {pe}: {ce}",
                    a.target
                ))
            })?;
            let members = crate::pod::members(ctx, &pod.id)?;
            let infra = members.iter().find(|c| c.config.infra).ok_or_else(|| {
                Error::msg(format!(
                    "generating systemd unit files: Pod {:?} has no infra container",
                    pod.name
                ))
            })?;
            let p = PodFacts {
                id: pod.id.clone(),
                name: pod.name.clone(),
                create_command: pod.config.create_command.clone(),
                infra_pidfile: crate::container::start::conmon_pidfile(ctx, infra)
                    .to_string_lossy()
                    .into_owned(),
                containers: members
                    .iter()
                    .filter(|c| !c.config.infra)
                    .map(|c| facts(ctx, c))
                    .collect(),
            };
            unit::pod_units(&p, &o, &host, &flags, &pod_create_flags())?
        }
    };
    if a.files {
        let dir = std::env::current_dir()?;
        let mut written = serde_json::Map::new();
        let mut paths = Vec::new();
        for u in &units {
            let path: PathBuf = dir.join(format!("{}.service", u.name));
            crate::state::atomic_write(&path, u.text.as_bytes())?;
            written.insert(u.name.clone(), path.to_string_lossy().into_owned().into());
            paths.push(path);
        }
        if a.format.is_some() {
            println!("{:#}", serde_json::Value::Object(written));
        } else {
            for p in paths {
                println!("{}", p.display());
            }
        }
        return Ok(0);
    }
    if a.format.is_some() {
        let map: serde_json::Map<String, serde_json::Value> =
            units.into_iter().map(|u| (u.name, u.text.into())).collect();
        println!("{:#}", serde_json::Value::Object(map));
    } else {
        for u in units {
            println!("{}", u.text);
        }
    }
    Ok(0)
}

#[derive(Debug, Args)]
pub struct GeneratorArgs {
    /// Generate user units (from $XDG_CONFIG_HOME/containers/systemd)
    #[arg(long)]
    pub user: bool,
    /// Print the units instead of writing them
    #[arg(long)]
    pub dryrun: bool,
    /// Output directories as systemd passes them (normal, early, late); units go to the first
    pub dirs: Vec<PathBuf>,
}

/// Where unit descriptions are read from, first wins for a file name:
/// `QUADLET_UNIT_DIRS` (colon-separated) when set, else Quadlet's user or
/// system directories.
fn description_dirs(user: bool) -> Vec<PathBuf> {
    if let Some(v) = std::env::var_os("QUADLET_UNIT_DIRS").filter(|v| !v.is_empty()) {
        return std::env::split_paths(&v).collect();
    }
    if !user {
        return [
            "/run/containers/systemd",
            "/etc/containers/systemd",
            "/usr/share/containers/systemd",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_default();
    let uid = nix::unistd::getuid();
    vec![
        config.join("containers/systemd"),
        PathBuf::from(format!("/etc/containers/systemd/users/{uid}")),
        PathBuf::from("/etc/containers/systemd/users"),
    ]
}

/// The descriptions found: (file name, directory, text), one per name.
fn descriptions(dirs: &[PathBuf]) -> Vec<(String, PathBuf, String)> {
    let mut out: Vec<(String, PathBuf, String)> = Vec::new();
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(d) else {
            continue;
        };
        let mut names: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| crate::systemd::quadlet::Kind::of(n).is_some())
            .collect();
        names.sort();
        for n in names {
            if out.iter().any(|(m, _, _)| *m == n) {
                continue;
            }
            match crate::error::read_capped_text(&d.join(&n), crate::error::USER_FILE_MAX) {
                Ok(t) => out.push((n, d.clone(), t)),
                Err(e) => eprintln!("Error: {}", crate::error::io_msg("read", &d.join(&n), &e)),
            }
        }
    }
    out
}

/// Writes one generated unit into `out` (temp file and rename: systemd
/// never reads half a unit) with the `.wants`/`.requires` links its
/// `[Install]` asks for.
fn install(out: &std::path::Path, g: &crate::systemd::quadlet::Generated) -> Result<()> {
    let file = format!("{}.service", g.service);
    crate::state::atomic_write(&out.join(&file), g.text.as_bytes())?;
    let links = g
        .wanted_by
        .iter()
        .map(|t| (t, "wants"))
        .chain(g.required_by.iter().map(|t| (t, "requires")));
    for (target, kind) in links {
        let dir = out.join(format!("{target}.{kind}"));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::msg(crate::error::io_msg("mkdir", &dir, &e)))?;
        let link = dir.join(&file);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(format!("../{file}"), &link)
            .map_err(|e| Error::msg(crate::error::io_msg("symlink", &link, &e)))?;
    }
    Ok(())
}

/// `systemd-generator`: converts every description found; one line on
/// stderr for each that cannot be (that file is skipped, nothing of it
/// written), exit 125 then, after the others are written.
pub fn generator(a: GeneratorArgs) -> Result<i32> {
    let out = match (a.dirs.first(), a.dryrun) {
        (Some(d), _) => Some(d.clone()),
        (None, true) => None,
        (None, false) => {
            return Err(Error::msg(
                "systemd-generator: give the output directory, or --dryrun",
            ))
        }
    };
    let found = descriptions(&description_dirs(a.user));
    let pairs: Vec<(String, String)> = found
        .iter()
        .map(|(n, _, t)| (n.clone(), t.clone()))
        .collect();
    let names = crate::systemd::quadlet::chosen_names(&pairs);
    let executable = std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "/usr/bin/skiff".into());
    let run_flags = create_flags();
    let mut code = 0;
    for (file, dir, text) in &found {
        let env = crate::systemd::quadlet::Env {
            executable: executable.clone(),
            run_flags: run_flags.clone(),
            dir: dir.to_string_lossy().into_owned(),
        };
        let res = crate::systemd::quadlet::convert(file, text, &env, &names).and_then(|g| {
            match &out {
                Some(o) if !a.dryrun => install(o, &g)?,
                _ => print!("---{}.service---\n{}\n", g.service, g.text),
            }
            Ok(())
        });
        if let Err(e) = res {
            crate::cli::report(&e);
            code = crate::error::EXIT_ENGINE;
        }
    }
    Ok(code)
}

#[derive(Debug, Args)]
pub struct AutoUpdateArgs {
    /// Check for pending updates
    #[arg(long)]
    pub dry_run: bool,
    /// Change the output format to JSON or a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Rollback to the previous image if the update fails
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub rollback: bool,
}

/// `auto-update`: Podman's table (UNIT, CONTAINER, IMAGE, POLICY, UPDATED)
/// or `--format`; each container that could not be checked or updated is
/// reported on stderr and makes the exit code 125.
pub fn auto_update(ctx: &Context, a: AutoUpdateArgs) -> Result<i32> {
    let sample = serde_json::json!({
        "Unit": "", "Container": "", "ContainerID": "", "ContainerName": "",
        "Image": "", "Policy": "", "Updated": "",
    });
    let shape = crate::format::Shape::new("entities.AutoUpdateReport", &sample);
    if let Some(f) = &a.format {
        // A broken template fails before anything is checked.
        crate::format::format_items(f, &[], &shape)?;
    }
    let (reports, errors) = crate::systemd::autoupdate::auto_update(ctx, a.dry_run, a.rollback)?;
    if let Some(f) = &a.format {
        let items: Vec<serde_json::Value> = reports
            .iter()
            .map(|r| serde_json::to_value(r).unwrap_or_default())
            .collect();
        crate::format::print_formatted(f, &items, &shape)?;
    } else {
        let rows: Vec<Vec<String>> = reports
            .iter()
            .map(|r| {
                vec![
                    r.unit.clone(),
                    r.container.clone(),
                    r.image.clone(),
                    r.policy.clone(),
                    r.updated.clone(),
                ]
            })
            .collect();
        crate::format::print_table(
            &["UNIT", "CONTAINER", "IMAGE", "POLICY", "UPDATED"],
            &rows,
            false,
        );
    }
    for e in &errors {
        crate::cli::report(e);
    }
    Ok(if errors.is_empty() {
        0
    } else {
        crate::error::EXIT_ENGINE
    })
}
