//! Registry commands: pull, push, login, logout, search.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;

use crate::format;
use crate::image::pull::{self, PullOptions, RegistryFlags};
use crate::image::push::{self, PushOptions};
use crate::image::reference::Reference;
use crate::registry::{Credentials, Platform};
use crate::{Context, Error, Result};

/// How to reach a registry: the flags `login` takes, and the part of
/// [`RegistryArgs`] without credentials.
#[derive(Debug, Clone, Default, Args)]
pub struct ConnectionArgs {
    /// Require HTTPS and verify certificates when contacting registries (default: registries.conf; loopback registries are insecure)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// Path of the authentication file
    #[arg(long, value_name = "PATH", env = "REGISTRY_AUTH_FILE")]
    pub authfile: Option<PathBuf>,
    /// Use certificates at the specified path to access the registry (*.crt CAs, *.cert/*.key client pairs)
    #[arg(long, value_name = "PATH")]
    pub cert_dir: Option<PathBuf>,
}

/// The flags every command that reaches a registry shares: pull, push,
/// search, run, create and build (Podman's names and meanings). Its `Debug`
/// never shows the `--creds` password.
#[derive(Debug, Clone, Default, Args)]
pub struct RegistryArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Credentials (USERNAME:PASSWORD) to use for authenticating to a registry
    #[arg(long, value_name = "USERNAME:PASSWORD", value_parser = CredsParser)]
    pub creds: Option<Credentials>,
    /// `Pathname` of signature policy file (not usually used)
    #[arg(long, value_name = "PATH", hide = true)]
    pub signature_policy: Option<PathBuf>,
}

/// Parses `--creds` with [`pull::parse_creds`]; its error, unlike clap's
/// usual one, does not repeat the value (it holds a password).
#[derive(Clone, Copy)]
struct CredsParser;

impl clap::builder::TypedValueParser for CredsParser {
    type Value = Credentials;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> std::result::Result<Credentials, clap::Error> {
        value
            .to_str()
            .ok_or_else(|| "not UTF-8".to_string())
            .and_then(pull::parse_creds)
            .map_err(|reason| {
                clap::Error::raw(
                    clap::error::ErrorKind::InvalidValue,
                    format!("invalid value for --creds: {reason}\n"),
                )
                .with_cmd(cmd)
            })
    }
}

impl ConnectionArgs {
    fn flags(&self) -> RegistryFlags {
        RegistryFlags {
            tls_verify: self.tls_verify,
            credentials: None,
            authfile: self.authfile.clone(),
            cert_dir: self.cert_dir.clone(),
            signature_policy: None,
        }
    }
}

impl RegistryArgs {
    /// The parsed flags, for [`PullOptions`] and the like.
    pub fn flags(&self) -> RegistryFlags {
        RegistryFlags {
            credentials: self.creds.clone(),
            signature_policy: self.signature_policy.clone(),
            ..self.connection.flags()
        }
    }
}

#[derive(Debug, Args)]
pub struct PullArgs {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Specify the platform for selecting the image (os/arch[/variant])
    #[arg(long)]
    pub platform: Option<String>,
    /// Use ARCH instead of the architecture of the machine
    #[arg(long)]
    pub arch: Option<String>,
    /// Use OS instead of the running OS
    #[arg(long)]
    pub os: Option<String>,
    /// Use VARIANT instead of the running architecture variant
    #[arg(long)]
    pub variant: Option<String>,
    /// Suppress output information when pulling images
    #[arg(short, long)]
    pub quiet: bool,
    /// Images to pull
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Compression format of layers that are not compressed yet: gzip or zstd
    #[arg(long, value_name = "FORMAT")]
    pub compression_format: Option<String>,
    /// Compression level: gzip 1-9 (default 5), zstd 1-20 (default 3)
    #[arg(long, value_name = "LEVEL")]
    pub compression_level: Option<u32>,
    /// Recompress every layer with --compression-format, even those already compressed
    #[arg(long)]
    pub force_compression: bool,
    /// Manifest type to push: oci (default) or v2s2 (Docker)
    #[arg(short, long)]
    pub format: Option<String>,
    /// Write the digest of the pushed image to this file
    #[arg(long, value_name = "PATH")]
    pub digestfile: Option<PathBuf>,
    /// Suppress output information when pushing images
    #[arg(short, long)]
    pub quiet: bool,
    /// Local image to push
    pub image: String,
    /// Destination (registry/repository[:tag], docker:// prefix allowed)
    pub destination: Option<String>,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    #[command(flatten)]
    pub registry: ConnectionArgs,
    /// Username for the registry
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password for the registry
    #[arg(short, long)]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long)]
    pub password_stdin: bool,
    /// Return the logged-in user for the registry
    #[arg(long)]
    pub get_login: bool,
    /// Registry to log in to
    pub registry_host: String,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Path of the authentication file
    #[arg(long, value_name = "PATH", env = "REGISTRY_AUTH_FILE")]
    pub authfile: Option<PathBuf>,
    /// Remove the cached credentials for all registries in the auth file
    #[arg(short, long)]
    pub all: bool,
    /// Registry to log out from
    pub registry_host: Option<String>,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// List the available tags of the repository
    #[arg(long)]
    pub list_tags: bool,
    /// Limit the number of results
    #[arg(long)]
    pub limit: Option<usize>,
    /// Do not truncate the output
    #[arg(long)]
    pub no_trunc: bool,
    /// Change the output format to JSON or a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// registry/term to search for
    pub term: String,
}

fn platform_of(a: &PullArgs) -> Result<Option<Platform>> {
    if a.platform.is_none() && a.arch.is_none() && a.os.is_none() && a.variant.is_none() {
        return Ok(None);
    }
    let mut p = match &a.platform {
        Some(s) => Platform::parse(s).ok_or_else(|| {
            Error::msg(format!(
                "invalid platform {s:?}: expected os/arch[/variant]"
            ))
        })?,
        None => Platform::host(),
    };
    if a.arch.is_some() || a.os.is_some() {
        let host = Platform::host();
        let os = a.os.clone().unwrap_or(p.os.clone());
        let arch = a.arch.clone().unwrap_or(p.architecture.clone());
        // A different architecture does not keep the host's variant.
        let variant = if arch == host.architecture {
            p.variant.clone()
        } else {
            None
        };
        p = Platform::new(&os, &arch, variant.as_deref());
    }
    if let Some(v) = &a.variant {
        p.variant = Some(v.clone());
    }
    Ok(Some(p))
}

pub fn pull(ctx: &Context, a: PullArgs) -> Result<i32> {
    let opts = PullOptions {
        registry: a.registry.flags(),
        platform: platform_of(&a)?,
        quiet: a.quiet,
    };
    for name in &a.images {
        let img = pull::pull(ctx, name, &opts)?;
        println!("{}", img.id);
        crate::events::Event::object(crate::events::Type::Image, "pull", &img.id, name).record(ctx);
    }
    Ok(0)
}

pub fn push(ctx: &Context, a: PushArgs) -> Result<i32> {
    let opts = PushOptions {
        registry: a.registry.flags(),
        compression: a.compression_format.clone(),
        force_compression: a.force_compression,
        compression_level: a.compression_level,
        format: a.format.clone(),
        quiet: a.quiet,
    };
    let digest = push::push(ctx, &a.image, a.destination.as_deref(), &opts)?;
    crate::events::Event::object(
        crate::events::Type::Image,
        "push",
        &digest,
        a.destination.as_deref().unwrap_or(&a.image),
    )
    .record(ctx);
    if let Some(p) = &a.digestfile {
        std::fs::write(p, &digest).map_err(|e| Error::msg(crate::error::io_msg("write", p, &e)))?;
    }
    Ok(0)
}

/// `localhost:5000`, `docker://localhost:5000/ns` or a URL -> the auth key.
fn registry_key(s: &str) -> String {
    let s = s
        .strip_prefix("docker://")
        .or_else(|| s.strip_prefix("https://"))
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    s.trim_end_matches('/').to_string()
}

/// `skiff login`, as Podman's: without `-u` and `-p` the stored login is
/// tried first; a missing username is asked for on stdin (`Username: `),
/// a missing password on the terminal without echo (`Password: `); without
/// a terminal the password must come from `-p` or `--password-stdin`.
pub fn login(_ctx: &Context, a: LoginArgs) -> Result<i32> {
    let key = registry_key(&a.registry_host);
    let registry = key.split('/').next().unwrap_or(&key).to_string();
    let client = a.registry.flags().client()?;
    let files = &client.options().auth_files;
    if a.get_login {
        return match files.lookup(&registry, None)? {
            Some(c) => {
                println!("{}", c.username);
                Ok(0)
            }
            None => Err(Error::msg(format!("not logged into {registry}"))),
        };
    }
    if a.password_stdin && a.password.is_some() {
        return Err(Error::msg(
            "can't specify both --password-stdin and --password",
        ));
    }
    if a.password_stdin && a.username.is_none() {
        return Err(Error::msg("must provide --username with --password-stdin"));
    }
    // The stored login matters only when no username was given.
    let stored = match a.username {
        None => files.lookup(&registry, None)?,
        Some(_) => None,
    };
    if let (None, None, false, Some(c)) = (&a.username, &a.password, a.password_stdin, &stored) {
        println!("Authenticating with existing credentials for {key}");
        if client.verify_credentials(&registry, c).is_ok() {
            println!("Existing credentials are valid. Already logged in to {registry}");
            return Ok(0);
        }
        println!("Existing credentials are invalid, please enter valid username and password");
    }
    let prompt_err = |what: &str, e: String| {
        Error::msg(format!(
            "getting username and password: reading {what}: {e}"
        ))
    };
    let username = match &a.username {
        Some(u) => u.clone(),
        None => {
            let previous = stored.as_ref().map(|c| c.username.as_str()).unwrap_or("");
            let typed = prompt_line(previous).map_err(|e| prompt_err("username", e))?;
            match typed.trim() {
                "" => previous.to_string(),
                t => t.to_string(),
            }
        }
    };
    let password = if a.password_stdin {
        let s = crate::error::read_bounded_text_from(
            std::io::stdin().lock(),
            "standard input",
            crate::error::USER_FILE_MAX,
        )?;
        s.trim_end_matches(['\n', '\r']).to_string()
    } else if let Some(p) = &a.password {
        p.clone()
    } else {
        prompt_password().map_err(|e| prompt_err("password", e))?
    };
    if username.is_empty() {
        return Err(Error::msg(format!("{registry}: the username is empty")));
    }
    if password.is_empty() {
        return Err(Error::msg(format!("{registry}: the password is empty")));
    }
    let creds = Credentials::new(username, password);
    client.verify_credentials(&registry, &creds)?;
    files.store(&key, &creds)?;
    println!("Login Succeeded!");
    Ok(0)
}

/// Prints `Username: ` (or `Username (PREVIOUS): `) and reads a line of
/// stdin, terminal or not, as Podman does; end of input is an error.
fn prompt_line(previous: &str) -> std::result::Result<String, String> {
    use std::io::{BufRead, Write};
    let mut out = std::io::stdout();
    let _ = match previous {
        "" => write!(out, "Username: "),
        p => write!(out, "Username ({p}): "),
    };
    let _ = out.flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) => Err("EOF".into()),
        Ok(_) => Ok(line),
        Err(e) => Err(crate::error::io_reason(&e)),
    }
}

/// Turns echo off, prints `Password: ` and reads a line from the terminal
/// on stdin (echo restored afterwards). Not a terminal: the error Podman gives.
fn prompt_password() -> std::result::Result<String, String> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    use std::io::{BufRead, Write};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err("inappropriate ioctl for device".into());
    }
    // Echo off before the prompt shows: what is typed as soon as it
    // appears is never echoed.
    let saved = tcgetattr(&stdin).map_err(|e| e.desc().to_string())?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    quiet.local_flags.insert(LocalFlags::ICANON);
    tcsetattr(&stdin, SetArg::TCSANOW, &quiet).map_err(|e| e.desc().to_string())?;
    let mut out = std::io::stdout();
    let _ = write!(out, "Password: ");
    let _ = out.flush();
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    let _ = tcsetattr(&stdin, SetArg::TCSANOW, &saved);
    // The Enter that was not echoed.
    let _ = writeln!(out);
    match read {
        Ok(0) => Err("EOF".into()),
        Ok(_) => Ok(line.trim_end_matches(['\n', '\r']).to_string()),
        Err(e) => Err(crate::error::io_reason(&e)),
    }
}

pub fn logout(_ctx: &Context, a: LogoutArgs) -> Result<i32> {
    let files = match &a.authfile {
        Some(p) => crate::registry::AuthFiles::single(p),
        None => crate::registry::AuthFiles::from_env(),
    };
    if a.all {
        files.remove_all()?;
        println!("Removed login credentials for all registries");
        return Ok(0);
    }
    let Some(host) = &a.registry_host else {
        return Err(Error::msg("registry must be given, or --all"));
    };
    let key = registry_key(host);
    files.remove(&key)?;
    println!("Removed login credentials for {key}");
    Ok(0)
}

/// The fields of a `search` result (Podman's `entities.ImageSearchReport`).
fn search_item(index: &str, name: &str, tag: &str) -> serde_json::Value {
    serde_json::json!({
        "Index": index, "Name": name, "Description": "", "Stars": 0,
        "Official": "", "Automated": "", "Tag": tag
    })
}

pub fn search(_ctx: &Context, a: SearchArgs) -> Result<i32> {
    if let Some(f) = a.format.as_deref().filter(|f| *f != "json") {
        // A bad template fails before the registry is asked.
        let sample = search_item("", "", "");
        format::validate(
            f,
            &format::Shape::new("entities.ImageSearchReport", &sample),
        )?;
    }
    let term = registry_key(&a.term);
    let (registry, what) = match term.split_once('/') {
        Some((r, w)) if r.contains('.') || r.contains(':') || r == "localhost" => {
            (r.to_string(), w.to_string())
        }
        _ => {
            let conf = crate::registry::RegistriesConf::load()?;
            match conf.search_registries().first() {
                Some(r) => (r.clone(), term.clone()),
                None => {
                    return Err(Error::msg(format!(
                        "{term}: no registry given and no unqualified-search registries are defined in {}",
                        conf.files_display()
                    )))
                }
            }
        }
    };
    let client = a.registry.flags().client()?;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut items = Vec::new();
    if a.list_tags {
        let r = Reference::parse(&format!("{registry}/{what}"))?;
        if r.tag.is_some() || r.digest.is_some() {
            return Err(Error::msg(format!(
                "{}: --list-tags takes a repository without a tag",
                a.term
            )));
        }
        let mut tags = client.list_tags(&registry, &r.path)?;
        if let Some(n) = a.limit {
            tags.truncate(n);
        }
        for t in tags {
            let name = format!("{registry}/{}", r.path);
            items.push(search_item(&registry, &name, &t));
            rows.push(vec![name, t]);
        }
        return print_search(&a, &["NAME", "TAG"], rows, items);
    }
    let needle = what.to_lowercase();
    let mut repos: Vec<String> = client
        .catalog(&registry)?
        .into_iter()
        .filter(|r| r.to_lowercase().contains(&needle))
        .collect();
    repos.sort();
    if let Some(n) = a.limit {
        repos.truncate(n);
    }
    for r in repos {
        let name = format!("{registry}/{r}");
        items.push(search_item(&registry, &name, ""));
        rows.push(vec![name, String::new()]);
    }
    print_search(&a, &["NAME", "DESCRIPTION"], rows, items)
}

fn print_search(
    a: &SearchArgs,
    headers: &[&str],
    rows: Vec<Vec<String>>,
    items: Vec<serde_json::Value>,
) -> Result<i32> {
    match a.format.as_deref() {
        Some("json") => {
            println!(
                "{}",
                serde_json::to_string_pretty(&items).unwrap_or_default()
            );
        }
        Some(f) => {
            let sample = search_item("", "", "");
            let shape = format::Shape::new("entities.ImageSearchReport", &sample);
            format::print_formatted(f, &items, &shape)?
        }
        None => format::print_table(headers, &rows, false),
    }
    Ok(0)
}
