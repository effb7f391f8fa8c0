//! Typed instructions: each [`Node`]'s flags and arguments checked and
//! shaped (BuildKit's `frontend/dockerfile/instructions/parse.go` and the
//! line parsers). Values are kept as written; [`Instruction::expand`]
//! substitutes variables in exactly the fields the Dockerfile reference
//! allows, which the planner calls with the stage's variables.

use super::parser::{heredoc_marker, split_node, Heredoc, Node};
use super::{Reason, What};
use crate::format::parse_go_duration;

/// One instruction with its arguments shaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    From(From),
    Run(Run),
    Cmd(Command),
    Entrypoint(Command),
    /// `ENV k=v k2="v 2"` or `ENV k v`: pairs in order.
    Env(Vec<(String, String)>),
    /// `ARG name[=default] ...`.
    Arg(Vec<(String, Option<String>)>),
    Label(Vec<(String, String)>),
    Maintainer(String),
    /// Port specs as written (`80`, `53/udp`, `8000-8010/tcp`), one per word
    /// after substitution.
    Expose(Vec<String>),
    Volume(Vec<String>),
    User(String),
    Workdir(String),
    Copy(Transfer),
    Add(Transfer),
    /// The trigger instruction's text, as stored in the image's `OnBuild`
    /// list; it is parsed again (and substituted) in the child build.
    Onbuild(String),
    /// `SHELL ["executable", "param"]`.
    Shell(Vec<String>),
    StopSignal(String),
    Healthcheck(Healthcheck),
}

/// `FROM [--platform=p] image [AS name]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct From {
    /// The image reference, `scratch`, or an earlier stage's name or index.
    pub image: String,
    /// The stage name after `AS`, lower-cased.
    pub name: Option<String>,
    pub platform: Option<String>,
}

/// A command in exec form (a JSON string array) or shell form (text the
/// stage's SHELL runs, `/bin/sh -c` by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Exec(Vec<String>),
    Shell(String),
}

impl Command {
    /// The argument vector: exec form as is, shell form appended to `shell`
    /// (the stage's SHELL, `["/bin/sh", "-c"]` by default).
    pub fn argv(&self, shell: &[String]) -> Vec<String> {
        match self {
            Command::Exec(v) => v.clone(),
            Command::Shell(s) => {
                let mut v = shell.to_vec();
                v.push(s.clone());
                v
            }
        }
    }
}

/// `RUN [--mount=...]... [--network=...] [--security=...] command`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub command: Command,
    /// The `--mount` values as written; [`Run::mounts`] is their parsed,
    /// substituted form.
    pub mount_specs: Vec<String>,
    pub mounts: Vec<RunMount>,
    /// `--network=default|none|host`.
    pub network: Option<String>,
    /// `--security=sandbox|insecure`.
    pub security: Option<String>,
    /// Heredoc bodies (`RUN <<EOF`), passed to the command as BuildKit does.
    pub heredocs: Vec<Heredoc>,
}

/// The kinds of `RUN --mount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    Bind,
    Cache,
    Tmpfs,
    Secret,
    Ssh,
}

/// One `RUN --mount=type=...,target=...` (BuildKit's `commands_runmount.go`
/// keys and defaults: type bind, bind and secret read-only unless `rw`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMount {
    pub kind: MountKind,
    pub target: Option<String>,
    pub source: Option<String>,
    /// A stage name or index, or an image, for bind and cache mounts.
    pub from: Option<String>,
    pub readonly: bool,
    /// Cache or secret id.
    pub id: Option<String>,
    /// Cache sharing: `shared` (default), `private` or `locked`.
    pub sharing: Option<String>,
    /// File mode, octal in the text.
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Tmpfs size in bytes.
    pub size: Option<u64>,
    /// Secret or ssh mounts: fail when the secret is not given.
    pub required: bool,
    /// Secret mounts: also expose the secret in this environment variable.
    pub env: Option<String>,
}

/// `COPY` / `ADD` arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// `--from=stage|index|image` (COPY only).
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    /// `--link`: accepted; layers are always independent of their parent here.
    pub link: bool,
    /// `--checksum=sha256:...` (ADD of a URL).
    pub checksum: Option<String>,
    /// `--exclude=pattern`, repeatable.
    pub exclude: Vec<String>,
    /// `--parents` (COPY only).
    pub parents: bool,
    /// `--keep-git-dir` (ADD only).
    pub keep_git_dir: bool,
    /// `--unpack[=bool]` (ADD only): `None` when not given.
    pub unpack: Option<bool>,
    /// Source paths, globs or URLs, in order.
    pub sources: Vec<String>,
    /// Heredoc sources (`COPY <<EOF /path`), in order.
    pub inline: Vec<Heredoc>,
    pub dest: String,
}

/// `HEALTHCHECK NONE` or `HEALTHCHECK [options] CMD ...`, in the shape of
/// Docker's image config `Healthcheck` (durations in nanoseconds, 0 meaning
/// "inherit the default").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Healthcheck {
    None,
    Check {
        /// `["CMD", arg...]` (exec form) or `["CMD-SHELL", text]`.
        test: Vec<String>,
        interval: i64,
        timeout: i64,
        start_period: i64,
        start_interval: i64,
        retries: u32,
    },
}

/// Substitutes variables in a word, for [`Instruction::expand`].
pub trait Expander {
    /// One word, quotes removed, whitespace kept (BuildKit's `ProcessWord`).
    fn word(&mut self, s: &str) -> Result<String, Reason>;
    /// Several words, split after substitution (`ProcessWords`, for EXPOSE).
    fn words(&mut self, s: &str) -> Result<Vec<String>, Reason>;
    /// A heredoc body: `$` expanded, quotes left alone.
    fn body(&mut self, s: &str) -> Result<String, Reason>;
}

fn expand_all(v: &mut [String], ex: &mut dyn Expander) -> Result<(), Reason> {
    for s in v {
        *s = ex.word(s)?;
    }
    Ok(())
}

fn expand_opt(v: &mut Option<String>, ex: &mut dyn Expander) -> Result<(), Reason> {
    if let Some(s) = v {
        *s = ex.word(s)?;
    }
    Ok(())
}

impl Instruction {
    /// The keyword, upper-case.
    pub fn keyword(&self) -> &'static str {
        match self {
            Instruction::From(_) => "FROM",
            Instruction::Run(_) => "RUN",
            Instruction::Cmd(_) => "CMD",
            Instruction::Entrypoint(_) => "ENTRYPOINT",
            Instruction::Env(_) => "ENV",
            Instruction::Arg(_) => "ARG",
            Instruction::Label(_) => "LABEL",
            Instruction::Maintainer(_) => "MAINTAINER",
            Instruction::Expose(_) => "EXPOSE",
            Instruction::Volume(_) => "VOLUME",
            Instruction::User(_) => "USER",
            Instruction::Workdir(_) => "WORKDIR",
            Instruction::Copy(_) => "COPY",
            Instruction::Add(_) => "ADD",
            Instruction::Onbuild(_) => "ONBUILD",
            Instruction::Shell(_) => "SHELL",
            Instruction::StopSignal(_) => "STOPSIGNAL",
            Instruction::Healthcheck(_) => "HEALTHCHECK",
        }
    }

    /// Substitutes variables where the Dockerfile reference allows it: ADD,
    /// COPY (sources, destination, `--chown`, `--chmod`, `--checksum`, and
    /// heredoc bodies whose delimiter was not quoted; `--from` is left to
    /// the planner, which substitutes it with ARG values only), ENV and LABEL (keys and values), EXPOSE, VOLUME, USER,
    /// WORKDIR, STOPSIGNAL, and RUN's `--mount` options. Never in RUN, CMD,
    /// ENTRYPOINT, SHELL or HEALTHCHECK commands (the shell expands those
    /// when they run), nor in ONBUILD triggers (expanded in the child
    /// build). FROM and ARG are substituted by the planner, which knows
    /// their scopes.
    pub fn expand(&mut self, ex: &mut dyn Expander) -> Result<(), Reason> {
        match self {
            Instruction::Env(kvs) | Instruction::Label(kvs) => {
                for (k, v) in kvs {
                    *k = ex.word(k)?;
                    *v = ex.word(v)?;
                }
            }
            Instruction::Copy(t) | Instruction::Add(t) => {
                expand_opt(&mut t.chown, ex)?;
                expand_opt(&mut t.chmod, ex)?;
                expand_opt(&mut t.checksum, ex)?;
                expand_all(&mut t.sources, ex)?;
                t.dest = ex.word(&t.dest)?;
                for h in &mut t.inline {
                    if h.expand {
                        h.content = ex.body(&h.content)?;
                    }
                }
            }
            Instruction::Expose(ports) => {
                let mut out = Vec::new();
                for p in ports.iter() {
                    out.extend(ex.words(p)?);
                }
                *ports = out;
            }
            Instruction::Volume(v) => {
                expand_all(v, ex)?;
                if v.iter().any(|s| s.trim().is_empty()) {
                    return Err(Reason::Invalid(
                        "VOLUME specified can not be an empty string".into(),
                    ));
                }
            }
            Instruction::User(s) | Instruction::Workdir(s) | Instruction::StopSignal(s) => {
                *s = ex.word(s)?;
            }
            Instruction::Run(r) => {
                let mut mounts = Vec::new();
                for spec in &r.mount_specs {
                    mounts.push(parse_mount(spec, &mut |v| ex.word(v))?);
                }
                r.mounts = mounts;
            }
            Instruction::From(_)
            | Instruction::Arg(_)
            | Instruction::Cmd(_)
            | Instruction::Entrypoint(_)
            | Instruction::Maintainer(_)
            | Instruction::Onbuild(_)
            | Instruction::Shell(_)
            | Instruction::Healthcheck(_) => {}
        }
        Ok(())
    }
}

/// The flags one instruction accepts, and their values once parsed.
struct Flags {
    given: Vec<(String, Option<String>)>,
}

impl Flags {
    /// Splits `--name[=value]` words and refuses names outside `allowed`
    /// (a trailing `*` in `allowed` marks a repeatable flag).
    fn parse(words: &[String], allowed: &[&str]) -> Result<Flags, Reason> {
        let mut given: Vec<(String, Option<String>)> = Vec::new();
        for w in words {
            let Some(body) = w.strip_prefix("--") else {
                return Err(Reason::Invalid(format!("arg should start with -- : {w}")));
            };
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (body.to_string(), None),
            };
            let repeatable = allowed.contains(&format!("{name}*").as_str());
            if !repeatable && !allowed.contains(&name.as_str()) {
                return Err(Reason::UnknownFlag(name));
            }
            if !repeatable && given.iter().any(|(n, _)| *n == name) {
                return Err(Reason::DuplicateFlag(name));
            }
            given.push((name, value));
        }
        Ok(Flags { given })
    }

    fn string(&self, name: &str) -> Result<Option<String>, Reason> {
        match self.given.iter().find(|(n, _)| n == name) {
            None => Ok(None),
            Some((_, None)) => Err(Reason::MissingFlagValue(name.into())),
            Some((_, Some(v))) => Ok(Some(v.clone())),
        }
    }

    fn strings(&self, name: &str) -> Result<Vec<String>, Reason> {
        self.given
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(n, v)| v.clone().ok_or_else(|| Reason::MissingFlagValue(n.clone())))
            .collect()
    }

    fn boolean(&self, name: &str) -> Result<Option<bool>, Reason> {
        match self.given.iter().find(|(n, _)| n == name) {
            None => Ok(None),
            Some((_, None)) => Ok(Some(true)),
            Some((_, Some(v))) => match v.to_ascii_lowercase().as_str() {
                "true" | "" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                _ => Err(Reason::BadBool {
                    flag: name.into(),
                    value: v.clone(),
                }),
            },
        }
    }
}

/// A JSON array of strings, BuildKit's `parseJSON`: `Ok(None)` when the
/// text is not a JSON array (then it is shell form), an error when it is
/// one with something other than strings in it.
fn json_array(args: &str) -> Result<Option<Vec<String>>, Reason> {
    let t = args.trim_start();
    if !t.starts_with('[') {
        return Ok(None);
    }
    let Ok(values) = serde_json::from_str::<Vec<serde_json::Value>>(t) else {
        return Ok(None);
    };
    values
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(Reason::NotStringArray),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Exec form or shell form.
fn command(args: &str) -> Result<Command, Reason> {
    Ok(match json_array(args)? {
        Some(v) => Command::Exec(v),
        None => Command::Shell(args.to_string()),
    })
}

/// A JSON array, else the words between blanks (COPY, ADD, VOLUME).
fn json_or_words(args: &str) -> Result<Vec<String>, Reason> {
    Ok(match json_array(args)? {
        Some(v) => v,
        None => args.split_whitespace().map(str::to_string).collect(),
    })
}

/// Words split on blanks with their quotes kept, BuildKit's `parseWords`
/// (ENV, LABEL and ARG; the quotes go when the values are substituted).
fn quoted_words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut blank_ok = false;
    let mut quote: Option<char> = None;
    let mut chars = rest.chars().peekable();
    let mut in_word = false;
    while let Some(c) = chars.next() {
        match quote {
            None => {
                if c.is_whitespace() {
                    if in_word && (blank_ok || !cur.is_empty()) {
                        words.push(std::mem::take(&mut cur));
                    }
                    in_word = false;
                    blank_ok = false;
                    continue;
                }
                in_word = true;
                if c == '\'' || c == '"' {
                    quote = Some(c);
                    blank_ok = true;
                }
                if c == escape {
                    match chars.next() {
                        None => continue,
                        Some(n) => {
                            cur.push(c);
                            cur.push(n);
                            continue;
                        }
                    }
                }
                cur.push(c);
            }
            Some(q) => {
                if c == q {
                    quote = None;
                }
                if c == escape && q != '\'' {
                    match chars.next() {
                        None => {
                            quote = None;
                            continue;
                        }
                        Some(n) => {
                            cur.push(c);
                            cur.push(n);
                            continue;
                        }
                    }
                }
                cur.push(c);
            }
        }
    }
    if in_word && (blank_ok || !cur.is_empty()) {
        words.push(cur);
    }
    words
}

/// `ENV`/`LABEL` pairs: `k=v k2="v 2"`, or the legacy `k the rest`.
fn name_values(args: &str, escape: char, what: &str) -> Result<Vec<(String, String)>, Reason> {
    let words = quoted_words(args, escape);
    let Some(first) = words.first() else {
        return Err(Reason::NoArguments);
    };
    let pairs = if !first.contains('=') {
        let Some((k, v)) = args.split_once(|c: char| c.is_whitespace()) else {
            return Err(Reason::Invalid(format!("{what} must have two arguments")));
        };
        vec![(k.to_string(), v.trim_start().to_string())]
    } else {
        let mut out = Vec::new();
        for w in &words {
            let Some((k, v)) = w.split_once('=') else {
                return Err(Reason::Invalid(format!(
                    "syntax error - can't find = in {w:?}. Must be of the form: name=value"
                )));
            };
            out.push((k.to_string(), v.to_string()));
        }
        out
    };
    if pairs.iter().any(|(k, _)| k.is_empty()) {
        return Err(Reason::Invalid(format!("{what} names can not be blank")));
    }
    Ok(pairs)
}

fn one_string(args: &str) -> Result<String, Reason> {
    if args.is_empty() {
        return Err(Reason::NotOneArgument);
    }
    Ok(args.to_string())
}

/// A positive Go duration for a HEALTHCHECK option, in nanoseconds; 0
/// when the option is not given.
fn interval(name: &str, value: Option<String>) -> Result<i64, Reason> {
    let Some(v) = value.filter(|v| !v.is_empty()) else {
        return Ok(0);
    };
    let ns = parse_go_duration(&v).map_err(|e| Reason::Invalid(format!("--{name}: {e}")))?;
    if ns != 0 && ns < 1_000_000 {
        return Err(Reason::Invalid(format!(
            "interval --{name} cannot be less than 1ms"
        )));
    }
    Ok(ns)
}

fn healthcheck(node: &Node) -> Result<Healthcheck, Reason> {
    let args = node.args.as_str();
    let (typ, rest) = match args.find(char::is_whitespace) {
        Some(p) => (&args[..p], args[p..].trim_start()),
        None => (args, ""),
    };
    if typ.is_empty() {
        return Err(Reason::NoArguments);
    }
    match typ.to_ascii_uppercase().as_str() {
        "NONE" => {
            if !rest.is_empty() || !node.flags.is_empty() {
                return Err(Reason::Invalid(
                    "HEALTHCHECK NONE takes no arguments".into(),
                ));
            }
            Ok(Healthcheck::None)
        }
        "CMD" => {
            let f = Flags::parse(
                &node.flags,
                &[
                    "interval",
                    "timeout",
                    "start-period",
                    "start-interval",
                    "retries",
                ],
            )?;
            let test = match command(rest)? {
                Command::Exec(v) if v.is_empty() => Vec::new(),
                Command::Exec(v) => [vec!["CMD".to_string()], v].concat(),
                Command::Shell(s) if s.is_empty() => Vec::new(),
                Command::Shell(s) => vec!["CMD-SHELL".to_string(), s],
            };
            if test.is_empty() {
                return Err(Reason::Invalid(
                    "missing command after HEALTHCHECK CMD".into(),
                ));
            }
            let retries = match f.string("retries")? {
                None => 0,
                Some(r) => {
                    let n: i64 = r
                        .parse()
                        .map_err(|_| Reason::Invalid(format!("invalid --retries {r:?}")))?;
                    if n < 0 {
                        return Err(Reason::Invalid(format!(
                            "--retries cannot be negative ({n})"
                        )));
                    }
                    u32::try_from(n)
                        .map_err(|_| Reason::Invalid(format!("invalid --retries {r:?}")))?
                }
            };
            Ok(Healthcheck::Check {
                test,
                interval: interval("interval", f.string("interval")?)?,
                timeout: interval("timeout", f.string("timeout")?)?,
                start_period: interval("start-period", f.string("start-period")?)?,
                start_interval: interval("start-interval", f.string("start-interval")?)?,
                retries,
            })
        }
        _ => Err(Reason::Invalid(format!(
            "unknown type {typ:?} in HEALTHCHECK (try CMD)"
        ))),
    }
}

fn valid_stage_name(name: &str) -> bool {
    let mut cs = name.chars();
    cs.next().is_some_and(|c| c.is_ascii_lowercase())
        && cs.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

fn from(node: &Node) -> Result<From, Reason> {
    let f = Flags::parse(&node.flags, &["platform"])?;
    let words: Vec<&str> = node.args.split_whitespace().collect();
    let name = match words.as_slice() {
        [_] => None,
        [_, as_, name] if as_.eq_ignore_ascii_case("as") => {
            let lower = name.to_ascii_lowercase();
            if !valid_stage_name(&lower) {
                return Err(Reason::Invalid(format!(
                    "invalid name for build stage: {name:?}, name can't start with a number or contain symbols"
                )));
            }
            Some(lower)
        }
        _ => {
            return Err(Reason::Invalid(
                "requires either one or three arguments: image [AS name]".into(),
            ))
        }
    };
    Ok(From {
        image: words[0].to_string(),
        name,
        platform: f.string("platform")?,
    })
}

fn transfer(node: &Node, add: bool) -> Result<Transfer, Reason> {
    let allowed: &[&str] = if add {
        &[
            "chown",
            "chmod",
            "link",
            "checksum",
            "keep-git-dir",
            "unpack",
            "exclude*",
        ]
    } else {
        &["chown", "chmod", "from", "link", "exclude*", "parents"]
    };
    let f = Flags::parse(&node.flags, allowed)?;
    let args = json_or_words(&node.args)?;
    if args.len() < 2 {
        return Err(Reason::NoDestination);
    }
    let (srcs, dest) = args.split_at(args.len() - 1);
    let dest = dest[0].clone();
    if heredoc_marker(&dest).is_some() {
        return Err(Reason::Invalid(
            "cannot accept a heredoc as a destination".into(),
        ));
    }
    let mut sources = Vec::new();
    let mut inline = Vec::new();
    for s in srcs {
        match heredoc_marker(s) {
            Some(m) => {
                let doc = node.heredocs.iter().find(|h| h.name == m.name).cloned();
                inline.push(doc.unwrap_or(m));
            }
            None => sources.push(s.clone()),
        }
    }
    Ok(Transfer {
        from: f.string("from")?,
        chown: f.string("chown")?,
        chmod: f.string("chmod")?,
        link: f.boolean("link")?.unwrap_or(false),
        checksum: f.string("checksum")?,
        exclude: f.strings("exclude")?,
        parents: f.boolean("parents")?.unwrap_or(false),
        keep_git_dir: f.boolean("keep-git-dir")?.unwrap_or(false),
        unpack: f.boolean("unpack")?,
        sources,
        inline,
        dest,
    })
}

/// Splits a `--mount` value into its comma-separated fields; a field may
/// be double-quoted to hold commas (`"src=a,b"`), as in CSV.
fn csv_fields(spec: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = spec.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn parse_bool(key: &str, v: &str) -> Result<bool, Reason> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "t" | "true" => Ok(true),
        "0" | "f" | "false" => Ok(false),
        _ => Err(Reason::Invalid(format!("invalid value for {key}: {v}"))),
    }
}

/// Parses one `RUN --mount` value, substituting each option's value with
/// `expand` (BuildKit's `parseMount`).
pub fn parse_mount(
    spec: &str,
    expand: &mut dyn FnMut(&str) -> Result<String, Reason>,
) -> Result<RunMount, Reason> {
    let mut m = RunMount {
        kind: MountKind::Bind,
        target: None,
        source: None,
        from: None,
        readonly: false,
        id: None,
        sharing: None,
        mode: None,
        uid: None,
        gid: None,
        size: None,
        required: false,
        env: None,
    };
    let mut ro_auto = true;
    let bad = |what: &str, v: &str| Reason::Invalid(format!("invalid value {v} for {what}"));
    for field in csv_fields(spec) {
        if field.is_empty() {
            continue;
        }
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), Some(v)),
            None => (field.to_ascii_lowercase(), None),
        };
        let Some(raw) = value else {
            match key.as_str() {
                "readonly" | "ro" => {
                    m.readonly = true;
                    ro_auto = false;
                }
                "readwrite" | "rw" => {
                    m.readonly = false;
                    ro_auto = false;
                }
                "required" if matches!(m.kind, MountKind::Secret | MountKind::Ssh) => {
                    m.required = true
                }
                "required" => {
                    return Err(Reason::Invalid(format!(
                        "unexpected key 'required' for mount type '{}'",
                        kind_name(m.kind)
                    )))
                }
                _ => {
                    return Err(Reason::Invalid(format!(
                        "invalid field '{field}' must be a key=value pair"
                    )))
                }
            }
            continue;
        };
        let value = expand(raw)?;
        match key.as_str() {
            "type" => {
                m.kind = match value.to_ascii_lowercase().as_str() {
                    "bind" => MountKind::Bind,
                    "cache" => MountKind::Cache,
                    "tmpfs" => MountKind::Tmpfs,
                    "secret" => MountKind::Secret,
                    "ssh" => MountKind::Ssh,
                    _ => {
                        return Err(Reason::Invalid(format!(
                        "unsupported mount type {value:?} (use bind, cache, tmpfs, secret or ssh)"
                    )))
                    }
                }
            }
            "from" => m.from = Some(value),
            "source" | "src" => m.source = Some(value),
            "target" | "dst" | "destination" => m.target = Some(value),
            "readonly" | "ro" => {
                m.readonly = parse_bool(&key, &value)?;
                ro_auto = false;
            }
            "readwrite" | "rw" => {
                m.readonly = !parse_bool(&key, &value)?;
                ro_auto = false;
            }
            "required" if matches!(m.kind, MountKind::Secret | MountKind::Ssh) => {
                m.required = parse_bool(&key, &value)?
            }
            "size" if m.kind == MountKind::Tmpfs => {
                m.size = Some(ram_in_bytes(&value).ok_or_else(|| bad("size", &value))?)
            }
            "required" | "size" => {
                return Err(Reason::Invalid(format!(
                    "unexpected key '{key}' for mount type '{}'",
                    kind_name(m.kind)
                )))
            }
            "id" => m.id = Some(value),
            "sharing" => {
                let v = value.to_ascii_lowercase();
                if !matches!(v.as_str(), "shared" | "private" | "locked") {
                    return Err(Reason::Invalid(format!(
                        "unsupported sharing value {value:?} (use shared, private or locked)"
                    )));
                }
                m.sharing = Some(v);
            }
            "mode" => {
                m.mode = Some(u32::from_str_radix(&value, 8).map_err(|_| bad("mode", &value))?)
            }
            "uid" => m.uid = Some(value.parse().map_err(|_| bad("uid", &value))?),
            "gid" => m.gid = Some(value.parse().map_err(|_| bad("gid", &value))?),
            "env" => m.env = Some(value),
            _ => {
                return Err(Reason::Invalid(format!(
                    "unexpected key '{key}' in '{field}'"
                )))
            }
        }
    }
    let file_info = matches!(
        m.kind,
        MountKind::Secret | MountKind::Ssh | MountKind::Cache
    );
    if !file_info {
        for (set, what) in [
            (m.mode.is_some(), "mode"),
            (m.uid.is_some(), "uid"),
            (m.gid.is_some(), "gid"),
        ] {
            if set {
                return Err(Reason::Invalid(format!(
                    "{what} not allowed for {:?} type mounts",
                    kind_name(m.kind)
                )));
            }
        }
    }
    if ro_auto {
        m.readonly = !matches!(m.kind, MountKind::Cache | MountKind::Tmpfs);
    }
    if m.kind == MountKind::Secret {
        if m.from.is_some() {
            return Err(Reason::Invalid(
                "secret mount should not have a from".into(),
            ));
        }
        if m.sharing.is_some() {
            return Err(Reason::Invalid(
                "secret mount should not define sharing".into(),
            ));
        }
        if m.source.is_none() && m.target.is_none() && m.id.is_none() {
            return Err(Reason::Invalid(
                "invalid secret mount: one of id, source, target required".into(),
            ));
        }
        if m.source.is_some() && m.id.is_some() {
            return Err(Reason::Invalid("both source and id can't be set".into()));
        }
    }
    if m.sharing.is_some() && m.kind != MountKind::Cache {
        return Err(Reason::Invalid(format!(
            "invalid cache sharing set for {} mount",
            kind_name(m.kind)
        )));
    }
    if m.target.is_none() && !matches!(m.kind, MountKind::Secret | MountKind::Ssh) {
        return Err(Reason::Invalid(format!(
            "{} mount requires a target",
            kind_name(m.kind)
        )));
    }
    Ok(m)
}

/// A size like Docker's `units.RAMInBytes`: a number (fractions allowed)
/// and an optional binary unit `b`, `k`, `m`, `g`, `t`, `p` (with or
/// without a trailing `b` / `ib`, any case): `64m` is 64 MiB.
fn ram_in_bytes(s: &str) -> Option<u64> {
    let lower = s.trim().to_ascii_lowercase();
    let num_len = lower
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(num_len);
    let n: f64 = num.parse().ok()?;
    let unit = unit.trim_end_matches("ib").trim_end_matches('b');
    let mult: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return None,
    };
    let v = n * mult as f64;
    (v.is_finite() && v >= 0.0 && v < u64::MAX as f64).then_some(v as u64)
}

fn kind_name(k: MountKind) -> &'static str {
    match k {
        MountKind::Bind => "bind",
        MountKind::Cache => "cache",
        MountKind::Tmpfs => "tmpfs",
        MountKind::Secret => "secret",
        MountKind::Ssh => "ssh",
    }
}

fn run(node: &Node) -> Result<Run, Reason> {
    let f = Flags::parse(&node.flags, &["mount*", "network", "security"])?;
    let mount_specs = f.strings("mount")?;
    // Check the options' shape now; values with variables are checked again
    // once substituted.
    let mut mounts = Vec::new();
    for spec in &mount_specs {
        mounts.push(parse_mount(spec, &mut |v| Ok(v.to_string()))?);
    }
    let network = f.string("network")?;
    if let Some(n) = &network {
        if !matches!(n.as_str(), "default" | "none" | "host") {
            return Err(Reason::Invalid(format!(
                "unsupported network mode {n:?} (use default, none or host)"
            )));
        }
    }
    let security = f.string("security")?;
    if let Some(s) = &security {
        if !matches!(s.as_str(), "sandbox" | "insecure") {
            return Err(Reason::Invalid(format!(
                "unsupported security mode {s:?} (use sandbox or insecure)"
            )));
        }
    }
    let command = command(&node.args)?;
    if matches!(&command, Command::Shell(s) if s.is_empty()) {
        return Err(Reason::NoArguments);
    }
    Ok(Run {
        command,
        mount_specs,
        mounts,
        network,
        security,
        heredocs: node.heredocs.clone(),
    })
}

/// Checks a node's flags and arguments and gives its typed instruction.
/// Keywords are case-insensitive; an unknown one is an error naming it.
pub fn parse(node: &Node, escape: char) -> Result<Instruction, What> {
    let kw = node.keyword.as_str();
    let wrap = |reason: Reason| What::Instruction {
        instruction: kw.to_string(),
        reason,
    };
    let no_flags =
        || -> Result<(), What> { Flags::parse(&node.flags, &[]).map(|_| ()).map_err(wrap) };
    let args = node.args.as_str();
    let need_args = || {
        if args.is_empty() {
            Err(wrap(Reason::NoArguments))
        } else {
            Ok(())
        }
    };
    let ins = match kw {
        "FROM" => Instruction::From(from(node).map_err(wrap)?),
        "RUN" => Instruction::Run(run(node).map_err(wrap)?),
        "CMD" | "ENTRYPOINT" => {
            no_flags()?;
            need_args()?;
            let c = command(args).map_err(wrap)?;
            if kw == "CMD" {
                Instruction::Cmd(c)
            } else {
                Instruction::Entrypoint(c)
            }
        }
        "SHELL" => {
            no_flags()?;
            match json_array(args).map_err(wrap)? {
                Some(v) if !v.is_empty() => Instruction::Shell(v),
                Some(_) => return Err(wrap(Reason::NoArguments)),
                None => {
                    return Err(wrap(Reason::Invalid(
                        "requires the arguments to be in JSON form".into(),
                    )))
                }
            }
        }
        "ENV" | "LABEL" => {
            no_flags()?;
            let pairs = name_values(args, escape, kw).map_err(wrap)?;
            if kw == "ENV" {
                Instruction::Env(pairs)
            } else {
                Instruction::Label(pairs)
            }
        }
        "ARG" => {
            no_flags()?;
            let words = quoted_words(args, escape);
            if words.is_empty() {
                return Err(wrap(Reason::NoArguments));
            }
            let mut out = Vec::new();
            for w in words {
                let (k, v) = match w.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (w, None),
                };
                if k.is_empty() {
                    return Err(wrap(Reason::Invalid("ARG names can not be blank".into())));
                }
                out.push((k, v));
            }
            Instruction::Arg(out)
        }
        "MAINTAINER" => {
            no_flags()?;
            Instruction::Maintainer(one_string(args).map_err(wrap)?)
        }
        "EXPOSE" => {
            no_flags()?;
            need_args()?;
            Instruction::Expose(args.split_whitespace().map(str::to_string).collect())
        }
        "VOLUME" => {
            no_flags()?;
            let v = json_or_words(args).map_err(wrap)?;
            if v.is_empty() {
                return Err(wrap(Reason::NoArguments));
            }
            if v.iter().any(|s| s.trim().is_empty()) {
                return Err(wrap(Reason::Invalid(
                    "VOLUME specified can not be an empty string".into(),
                )));
            }
            Instruction::Volume(v)
        }
        "USER" | "WORKDIR" | "STOPSIGNAL" => {
            no_flags()?;
            let s = one_string(args).map_err(wrap)?;
            match kw {
                "USER" => Instruction::User(s),
                "WORKDIR" => Instruction::Workdir(s),
                _ => Instruction::StopSignal(s),
            }
        }
        "COPY" => Instruction::Copy(transfer(node, false).map_err(wrap)?),
        "ADD" => Instruction::Add(transfer(node, true).map_err(wrap)?),
        "ONBUILD" => {
            no_flags()?;
            need_args()?;
            let mut child = split_node(args, escape).map_err(|w| match w {
                What::Instruction { reason, .. } => wrap(reason),
                other => other,
            })?;
            match child.keyword.as_str() {
                "ONBUILD" => {
                    return Err(wrap(Reason::Invalid(
                        "chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into(),
                    )))
                }
                "FROM" | "MAINTAINER" => {
                    return Err(wrap(Reason::Invalid(format!(
                        "{} isn't allowed as an ONBUILD trigger",
                        child.keyword
                    ))))
                }
                _ => {}
            }
            child.heredocs = node.heredocs.clone();
            parse(&child, escape)?;
            let mut text = node.args.clone();
            for h in &node.heredocs {
                text.push('\n');
                text.push_str(&h.content);
                text.push_str(&h.name);
            }
            Instruction::Onbuild(text)
        }
        "HEALTHCHECK" => Instruction::Healthcheck(healthcheck(node).map_err(wrap)?),
        _ => return Err(What::UnknownInstruction(kw.to_string())),
    };
    Ok(ins)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::parser;

    fn one(text: &str) -> Instruction {
        let d = parser::parse("Containerfile", text).unwrap();
        parse(&d.nodes[0], d.escape).unwrap()
    }

    fn fail(text: &str) -> String {
        let d = parser::parse("Containerfile", text).unwrap();
        parse(&d.nodes[0], d.escape).unwrap_err().to_string()
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn from_forms() {
        assert_eq!(
            one("FROM --platform=linux/arm64 busybox:1.36 as Build"),
            Instruction::From(From {
                image: "busybox:1.36".into(),
                name: Some("build".into()),
                platform: Some("linux/arm64".into()),
            })
        );
        assert_eq!(
            one("from scratch"),
            Instruction::From(From {
                image: "scratch".into(),
                name: None,
                platform: None
            })
        );
        assert!(fail("FROM a AS").contains("one or three arguments"));
        assert!(fail("FROM a b c").contains("one or three arguments"));
        assert!(fail("FROM a AS 1x").contains("invalid name for build stage"));
        assert_eq!(fail("FROM --foo=1 a"), "FROM: unknown flag: --foo");
    }

    #[test]
    fn run_cmd_entrypoint_forms() {
        let Instruction::Run(r) = one("RUN echo \"$HOME\" && ls") else {
            panic!()
        };
        assert_eq!(r.command, Command::Shell("echo \"$HOME\" && ls".into()));
        let Instruction::Run(r) = one(r#"RUN ["echo", "$HOME"]"#) else {
            panic!()
        };
        assert_eq!(r.command, Command::Exec(s(&["echo", "$HOME"])));
        // Not valid JSON: shell form.
        assert_eq!(
            one("CMD [ -f /x ]"),
            Instruction::Cmd(Command::Shell("[ -f /x ]".into()))
        );
        assert_eq!(
            one("ENTRYPOINT [\"/bin/app\"]"),
            Instruction::Entrypoint(Command::Exec(s(&["/bin/app"])))
        );
        assert_eq!(one("CMD []"), Instruction::Cmd(Command::Exec(vec![])));
        assert_eq!(
            fail("CMD [\"a\", 1]"),
            "CMD: when using JSON array syntax, arrays must be comprised of strings only"
        );
        assert_eq!(fail("RUN"), "RUN: requires at least one argument");
        assert_eq!(
            Command::Shell("ls".into()).argv(&s(&["/bin/sh", "-c"])),
            s(&["/bin/sh", "-c", "ls"])
        );
    }

    #[test]
    fn run_flags() {
        let Instruction::Run(r) = one(
            "RUN --mount=type=cache,target=/root/.cache,id=pip,sharing=locked,mode=0755,uid=1 \
             --mount=type=bind,from=build,source=/out,target=/in \
             --mount=type=tmpfs,target=/tmp,size=64m \
             --mount=type=secret,id=tok,env=TOKEN,required \
             --network=none make",
        ) else {
            panic!()
        };
        assert_eq!(r.mounts.len(), 4);
        let c = &r.mounts[0];
        assert_eq!(c.kind, MountKind::Cache);
        assert_eq!(c.target.as_deref(), Some("/root/.cache"));
        assert_eq!(c.id.as_deref(), Some("pip"));
        assert_eq!(c.sharing.as_deref(), Some("locked"));
        assert_eq!(c.mode, Some(0o755));
        assert_eq!(c.uid, Some(1));
        assert!(!c.readonly);
        let b = &r.mounts[1];
        assert_eq!(b.kind, MountKind::Bind);
        assert_eq!(b.from.as_deref(), Some("build"));
        assert!(b.readonly, "bind mounts are read-only by default");
        assert_eq!(r.mounts[2].size, Some(64 * 1024 * 1024));
        let sec = &r.mounts[3];
        assert!(sec.required && sec.readonly);
        assert_eq!(sec.env.as_deref(), Some("TOKEN"));
        assert_eq!(r.network.as_deref(), Some("none"));
        assert_eq!(r.command, Command::Shell("make".into()));

        let Instruction::Run(r) = one("RUN --mount=target=/src,rw true") else {
            panic!()
        };
        assert!(!r.mounts[0].readonly);
        for (text, want) in [
            ("RUN --mount=type=nfs,target=/x a", "unsupported mount type"),
            (
                "RUN --mount=type=bind,target=/x,mode=0644 a",
                "mode not allowed",
            ),
            (
                "RUN --mount=type=bind,target=/x,bogus=1 a",
                "unexpected key 'bogus'",
            ),
            (
                "RUN --mount=type=bind,target=/x,required a",
                "unexpected key 'required'",
            ),
            ("RUN --mount=type=secret a", "one of id, source, target"),
            (
                "RUN --mount=type=secret,id=a,from=b a",
                "should not have a from",
            ),
            (
                "RUN --mount=type=tmpfs,target=/t,sharing=locked a",
                "invalid cache sharing",
            ),
            ("RUN --mount=type=cache a", "requires a target"),
            ("RUN --network=bridge a", "unsupported network mode"),
            ("RUN --network a", "missing a value on flag: --network"),
            ("RUN --network=none --network=host a", "duplicate flag"),
            ("RUN --chown=1 a", "unknown flag: --chown"),
        ] {
            let e = fail(text);
            assert!(e.contains(want), "{text}: {e}");
            assert!(e.starts_with("RUN: "), "{e}");
        }
    }

    #[test]
    fn env_and_label_forms() {
        assert_eq!(
            one(r#"ENV A=1 B="two words" C='x y' D=a\ b"#),
            Instruction::Env(vec![
                ("A".into(), "1".into()),
                ("B".into(), "\"two words\"".into()),
                ("C".into(), "'x y'".into()),
                ("D".into(), "a\\ b".into()),
            ])
        );
        assert_eq!(
            one("ENV GREETING hello   big world"),
            Instruction::Env(vec![("GREETING".into(), "hello   big world".into())])
        );
        assert_eq!(
            one("LABEL \"com.example.vendor\"=\"ACME\" version=1.0"),
            Instruction::Label(vec![
                ("\"com.example.vendor\"".into(), "\"ACME\"".into()),
                ("version".into(), "1.0".into()),
            ])
        );
        assert_eq!(
            one("ENV E="),
            Instruction::Env(vec![("E".into(), "".into())])
        );
        assert!(fail("ENV A").contains("ENV must have two arguments"));
        assert!(fail("ENV A=1 B").contains("can't find = in \"B\""));
        assert!(fail("LABEL =x").contains("LABEL names can not be blank"));
        assert_eq!(fail("ENV"), "ENV: requires at least one argument");
    }

    #[test]
    fn arg_forms() {
        assert_eq!(
            one("ARG A B=2 C= D=\"x y\""),
            Instruction::Arg(vec![
                ("A".into(), None),
                ("B".into(), Some("2".into())),
                ("C".into(), Some("".into())),
                ("D".into(), Some("\"x y\"".into())),
            ])
        );
        assert!(fail("ARG =1").contains("ARG names can not be blank"));
        assert!(fail("ARG").contains("requires at least one argument"));
    }

    #[test]
    fn copy_and_add() {
        let Instruction::Copy(t) =
            one("COPY --from=build --chown=app:app --chmod=0755 --link a b* /dst/")
        else {
            panic!()
        };
        assert_eq!(t.from.as_deref(), Some("build"));
        assert_eq!(t.chown.as_deref(), Some("app:app"));
        assert_eq!(t.chmod.as_deref(), Some("0755"));
        assert!(t.link);
        assert_eq!(t.sources, s(&["a", "b*"]));
        assert_eq!(t.dest, "/dst/");
        let Instruction::Copy(t) = one(r#"COPY ["a file", "dir with space/"]"#) else {
            panic!()
        };
        assert_eq!(t.sources, s(&["a file"]));
        assert_eq!(t.dest, "dir with space/");
        let Instruction::Add(t) =
            one("ADD --checksum=sha256:abc --unpack=false https://example.com/x.tar.gz /x")
        else {
            panic!()
        };
        assert_eq!(t.checksum.as_deref(), Some("sha256:abc"));
        assert_eq!(t.unpack, Some(false));
        assert_eq!(
            fail("COPY a"),
            "COPY: requires at least two arguments: one or more sources and a destination"
        );
        assert_eq!(fail("ADD --from=x a b"), "ADD: unknown flag: --from");
        assert_eq!(
            fail("COPY --checksum=x a b"),
            "COPY: unknown flag: --checksum"
        );
        assert!(fail("COPY --link=maybe a b").contains("expecting boolean value"));
        assert!(fail("COPY a <<EOF\nx\nEOF\n").contains("heredoc as a destination"));
    }

    #[test]
    fn copy_heredoc_sources() {
        let Instruction::Copy(t) = one("COPY <<A <<\"B\" /etc/\nhello $X\nA\nlit $X\nB\n") else {
            panic!()
        };
        assert!(t.sources.is_empty());
        assert_eq!(t.inline.len(), 2);
        assert_eq!(t.inline[0].name, "A");
        assert_eq!(t.inline[0].content, "hello $X\n");
        assert!(t.inline[0].expand);
        assert!(!t.inline[1].expand);
        assert_eq!(t.dest, "/etc/");
    }

    #[test]
    fn simple_instructions() {
        assert_eq!(
            one("EXPOSE 80 443/tcp 53/udp"),
            Instruction::Expose(s(&["80", "443/tcp", "53/udp"]))
        );
        assert_eq!(
            one(r#"VOLUME ["/data", "/logs"]"#),
            Instruction::Volume(s(&["/data", "/logs"]))
        );
        assert_eq!(
            one("VOLUME /data /logs"),
            Instruction::Volume(s(&["/data", "/logs"]))
        );
        assert_eq!(one("USER app:app"), Instruction::User("app:app".into()));
        assert_eq!(
            one("workdir /srv/app"),
            Instruction::Workdir("/srv/app".into())
        );
        assert_eq!(
            one("STOPSIGNAL SIGTERM"),
            Instruction::StopSignal("SIGTERM".into())
        );
        assert_eq!(
            one("MAINTAINER Jane <jane@example.com>"),
            Instruction::Maintainer("Jane <jane@example.com>".into())
        );
        assert_eq!(
            one(r#"SHELL ["/bin/bash", "-o", "pipefail", "-c"]"#),
            Instruction::Shell(s(&["/bin/bash", "-o", "pipefail", "-c"]))
        );
        assert!(fail("SHELL /bin/bash -c").contains("JSON form"));
        assert_eq!(fail("USER"), "USER: requires exactly one argument");
        assert_eq!(fail("WORKDIR --x=1 /a"), "WORKDIR: unknown flag: --x");
        assert!(fail("VOLUME [\"\"]").contains("can not be an empty string"));
        assert_eq!(
            parser::parse("f", "FOO bar")
                .map(|d| parse(&d.nodes[0], d.escape).unwrap_err().to_string())
                .unwrap(),
            "unknown instruction: FOO"
        );
    }

    #[test]
    fn onbuild() {
        assert_eq!(
            one("ONBUILD COPY . /app/src"),
            Instruction::Onbuild("COPY . /app/src".into())
        );
        assert_eq!(
            one("ONBUILD RUN <<EOF\necho hi\nEOF\n"),
            Instruction::Onbuild("RUN <<EOF\necho hi\nEOF".into())
        );
        assert!(fail("ONBUILD ONBUILD RUN x").contains("isn't allowed"));
        assert!(fail("ONBUILD FROM x").contains("FROM isn't allowed"));
        assert!(fail("ONBUILD MAINTAINER x").contains("isn't allowed"));
        assert_eq!(fail("ONBUILD FOO x"), "unknown instruction: FOO");
        assert_eq!(
            fail("ONBUILD COPY a"),
            "COPY: requires at least two arguments: one or more sources and a destination"
        );
    }

    #[test]
    fn healthcheck_forms() {
        assert_eq!(
            one("HEALTHCHECK NONE"),
            Instruction::Healthcheck(Healthcheck::None)
        );
        assert_eq!(
            one("HEALTHCHECK --interval=30s --timeout=3s --start-period=1m --start-interval=500ms --retries=3 CMD curl -f http://localhost/ || exit 1"),
            Instruction::Healthcheck(Healthcheck::Check {
                test: s(&["CMD-SHELL", "curl -f http://localhost/ || exit 1"]),
                interval: 30_000_000_000,
                timeout: 3_000_000_000,
                start_period: 60_000_000_000,
                start_interval: 500_000_000,
                retries: 3,
            })
        );
        let Instruction::Healthcheck(Healthcheck::Check { test, interval, .. }) =
            one(r#"healthcheck cmd ["/bin/check", "-q"]"#)
        else {
            panic!()
        };
        assert_eq!(test, s(&["CMD", "/bin/check", "-q"]));
        assert_eq!(interval, 0);
        for (text, want) in [
            ("HEALTHCHECK NONE x", "takes no arguments"),
            ("HEALTHCHECK CMD", "missing command"),
            ("HEALTHCHECK CMD-SHELL x", "unknown type \"CMD-SHELL\""),
            ("HEALTHCHECK --interval=1x CMD a", "invalid duration \"1x\""),
            (
                "HEALTHCHECK --timeout=10us CMD a",
                "cannot be less than 1ms",
            ),
            ("HEALTHCHECK --retries=-1 CMD a", "cannot be negative"),
            ("HEALTHCHECK --retries=x CMD a", "invalid --retries"),
            ("HEALTHCHECK --foo=1 CMD a", "unknown flag: --foo"),
        ] {
            let e = fail(text);
            assert!(
                e.starts_with("HEALTHCHECK: ") && e.contains(want),
                "{text}: {e}"
            );
        }
    }

    #[test]
    fn quoted_words_keep_quotes() {
        assert_eq!(
            quoted_words(r#"a="b c" d='e f' g\ h "" x"#, '\\'),
            s(&[r#"a="b c""#, "d='e f'", "g\\ h", "\"\"", "x"])
        );
    }

    #[test]
    fn sizes() {
        for (v, want) in [
            ("64m", Some(64 << 20)),
            ("1.5k", Some(1536)),
            ("10", Some(10)),
            ("2GiB", Some(2 << 30)),
            ("3kb", Some(3072)),
            ("x", None),
            ("1q", None),
        ] {
            assert_eq!(ram_in_bytes(v), want, "{v}");
        }
    }

    #[test]
    fn csv_mount_fields() {
        assert_eq!(
            csv_fields(r#"type=bind,"source=a,b",target=/x"#),
            s(&["type=bind", "source=a,b", "target=/x"])
        );
    }
}
