//! The build plan: the stages a target needs, in dependency order, and per
//! stage the steps with every variable substituted, which the executor runs
//! one by one.
//!
//! Scoping follows the Dockerfile reference and buildah:
//! - ARGs before the first FROM are global: usable in FROM lines, and in a
//!   stage only after `ARG NAME` re-declares them there (taking the global
//!   value when the declaration has no default);
//! - `--build-arg` overrides an ARG's default where the ARG is declared;
//!   the proxy args (`HTTP_PROXY` etc.) need no declaration and reach RUN's
//!   environment only, never substitution, history or the cache key; the
//!   platform args (`TARGETARCH`, `BUILDPLATFORM`, ...) are predefined in
//!   the global scope;
//! - ENV values (the base image's and the stage's) take precedence over an
//!   ARG of the same name;
//! - ARGs are not inherited by a stage built FROM another stage (buildah;
//!   BuildKit inherits them);
//! - `COPY --from` and `RUN --mount=from=` are substituted with ARG values
//!   only (buildah; BuildKit refuses variables there), so the stages a
//!   build needs are known before any base image is pulled;
//! - only the target and the stages it needs are built (BuildKit's and
//!   buildah's `--skip-unused-stages` default), in file order, which is a
//!   dependency order because a stage can only read earlier stages.
//!
//! What the base image brings (its ENV, its ONBUILD triggers) is known only
//! once the executor has it, so [`Plan::steps`] takes them.

use std::collections::{BTreeMap, BTreeSet};

use super::instruction::{self, Expander, Instruction};
use super::parser::{self, Dockerfile, Node};
use super::substitute::Lexer;
use super::{Error, Reason, What};

/// ARGs every build may use without declaring them; they are passed to
/// RUN but excluded from history and from the cache key (Docker's
/// "predefined ARGs").
pub const PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// What the planner is told by the command line.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// `--build-arg` values, see [`build_args`].
    pub build_args: BTreeMap<String, String>,
    /// `--target`: the stage to build, by name; the last stage by default.
    pub target: Option<String>,
    /// `--platform` as `os/arch[/variant]`; the host's by default. Sets the
    /// predefined `TARGET*` args.
    pub platform: Option<String>,
}

/// Turns `--build-arg` values into a map: `NAME=VALUE` as given, a bare
/// `NAME` takes the value of that variable in `env` (the caller's
/// environment) and is dropped when it is not set, as Docker and buildah do.
pub fn build_args(
    values: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for v in values {
        match v.split_once('=') {
            Some((k, val)) => {
                out.insert(k.to_string(), val.to_string());
            }
            None => {
                if let Some(val) = env(v) {
                    out.insert(v.clone(), val);
                }
            }
        }
    }
    out
}

/// Where a stage starts, or what a `--from` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// `FROM scratch`: an empty root file system.
    Scratch,
    /// An image reference to resolve (pull when missing).
    Image(String),
    /// An earlier stage, by its position in the file (0-based).
    Stage(usize),
}

/// One stage of the file.
#[derive(Debug, Clone)]
pub struct Stage {
    /// Position in the file, 0-based.
    pub index: usize,
    /// The name after `AS`, lower-cased.
    pub name: Option<String>,
    /// The FROM image after substitution with the global args.
    pub base: Base,
    /// `--platform` after substitution.
    pub platform: Option<String>,
    /// Line of the FROM instruction.
    pub line: usize,
    /// Stages this one reads (its base, `COPY --from`, `RUN --mount=from=`),
    /// by file position, ascending.
    pub deps: Vec<usize>,
    /// The FROM line as written.
    from_text: String,
    /// The stage's other instructions, parsed, not substituted.
    body: Vec<(Node, Instruction)>,
}

/// One step of a stage, ready for the executor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Line in the Containerfile (0 for a base image's ONBUILD trigger).
    pub line: usize,
    /// The instruction as written on one line, which Podman prints
    /// (`STEP 3/7: COPY . /app`) and records in history.
    pub text: String,
    /// The instruction with variables substituted where allowed.
    pub instruction: Instruction,
    /// The ARG values this step's result depends on, sorted by name: for
    /// RUN every ARG in scope (they are its environment), otherwise those
    /// its substitution read. Part of the cache key; proxy args excluded.
    pub cache_args: Vec<(String, String)>,
    /// RUN only: the ARG values to add to the command's environment (ARGs
    /// in scope plus the proxy args given with `--build-arg`), sorted.
    pub run_env: Vec<(String, String)>,
    /// COPY/ADD `--from`, resolved.
    pub from: Option<Base>,
    /// RUN: each mount's `from=`, resolved, in mount order.
    pub mount_from: Vec<Option<Base>>,
    /// True for a trigger taken from the base image's ONBUILD list.
    pub triggered: bool,
}

impl Step {
    /// True when the step changes only the image config (no layer).
    pub fn empty_layer(&self) -> bool {
        !matches!(
            self.instruction,
            Instruction::Run(_) | Instruction::Copy(_) | Instruction::Add(_)
        )
    }

    /// The history `created_by` text, as buildah writes it: `/bin/sh -c
    /// CMDLINE` for RUN (prefixed with `|N K=V ...` when ARGs are in
    /// scope, heredoc bodies appended), `/bin/sh -c #(nop) COPY SUMMARY in
    /// DEST ` for COPY/ADD (`content` is the executor's digest summary of
    /// what was copied, e.g. `dir:3f2a...`), `/bin/sh -c #(nop) TEXT` else.
    pub fn created_by(&self, content: &str) -> String {
        match &self.instruction {
            Instruction::Run(r) => {
                let rest = self
                    .text
                    .split_once(char::is_whitespace)
                    .map(|(_, r)| r.trim_start())
                    .unwrap_or("");
                let mut out = if self.cache_args.is_empty() {
                    format!("/bin/sh -c {rest}")
                } else {
                    let kv: Vec<String> = self
                        .cache_args
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    format!("|{} {} /bin/sh -c {rest}", kv.len(), kv.join(" "))
                };
                for h in &r.heredocs {
                    out.push('\n');
                    out.push_str(h.content.trim());
                }
                out
            }
            Instruction::Copy(t) | Instruction::Add(t) => format!(
                "/bin/sh -c #(nop) {} {content} in {} ",
                self.instruction.keyword(),
                t.dest
            ),
            _ => format!("/bin/sh -c #(nop) {}", self.text),
        }
    }
}

/// The build: stages to run in order and what the front end noticed.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The Containerfile's name, for messages.
    pub file: String,
    pub escape: char,
    /// The `# syntax=` directive, ignored (the caller may note it).
    pub syntax: Option<String>,
    /// Every stage of the file, in file order.
    pub all: Vec<Stage>,
    /// The stages to build (file positions), in order; the last is the target.
    pub order: Vec<usize>,
    /// `--build-arg` names no ARG consumed (buildah warns about them).
    pub unused_build_args: Vec<String>,
    /// Parser warnings (empty continuation lines).
    pub warnings: Vec<String>,
    /// Global args (before the first FROM, plus the predefined platform
    /// args) with their values.
    globals: BTreeMap<String, Option<String>>,
    build_args: BTreeMap<String, String>,
}

/// The host platform in OCI terms (`linux/amd64`).
fn host_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "arm" => "arm",
        other => other,
    };
    format!("linux/{arch}")
}

/// Whether `p` (`os/arch[/variant]`) names the host's platform: the one
/// platform skiff builds for (it runs no emulator). `arm64/v8` is arm64.
pub fn is_host_platform(p: &str) -> bool {
    let host = host_platform();
    let mut parts = p.split('/');
    let (os, arch, variant) = (parts.next(), parts.next(), parts.next());
    let arch = match arch {
        Some("x86_64") => "amd64",
        Some("aarch64") => "arm64",
        Some(a) => a,
        None => return false,
    };
    let variant_ok = match variant {
        None | Some("") => true,
        Some("v8") => arch == "arm64",
        Some(_) => false,
    };
    os.is_some_and(|o| o.eq_ignore_ascii_case("linux"))
        && host == format!("linux/{arch}")
        && variant_ok
        && parts.next().is_none()
}

/// The refusal of a platform that is not the host's.
pub fn platform_unsupported(p: &str) -> String {
    format!(
        "--platform={p}: building for a platform other than the host's ({}) is not supported",
        host_platform()
    )
}

/// Whether an ADD source is a git repository, as BuildKit recognises one
/// (`git://`, `git@host:`, `ssh://`, or an http(s) URL whose path ends in
/// `.git`, a `#ref` after it or not).
fn is_git_source(s: &str) -> bool {
    if s.starts_with("git://") || s.starts_with("git@") || s.starts_with("ssh://") {
        return true;
    }
    (s.starts_with("http://") || s.starts_with("https://"))
        && s.split(['#', '?'])
            .next()
            .is_some_and(|p| p.trim_end_matches('/').ends_with(".git"))
}

/// `TARGETPLATFORM`, `TARGETOS`, ... for `prefix` (TARGET or BUILD).
fn platform_args(prefix: &str, platform: &str) -> Vec<(String, String)> {
    let mut parts = platform.splitn(3, '/');
    let os = parts.next().unwrap_or("linux");
    let arch = parts.next().unwrap_or("");
    let variant = parts.next().unwrap_or("");
    vec![
        (format!("{prefix}PLATFORM"), platform.to_string()),
        (format!("{prefix}OS"), os.to_string()),
        (format!("{prefix}ARCH"), arch.to_string()),
        (format!("{prefix}VARIANT"), variant.to_string()),
    ]
}

/// An [`Expander`] over a lookup; records which variables it read.
struct Scoped<'a> {
    lexer: Lexer,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    used: BTreeSet<String>,
}

impl Expander for Scoped<'_> {
    fn word(&mut self, s: &str) -> Result<String, Reason> {
        let e = self.lexer.word(s, &|k: &str| (self.lookup)(k))?;
        self.used.extend(e.used);
        Ok(e.text)
    }
    fn words(&mut self, s: &str) -> Result<Vec<String>, Reason> {
        let lookup = self.lookup;
        let used = std::cell::RefCell::new(BTreeSet::new());
        let words = self.lexer.words(s, &|k: &str| {
            let v = lookup(k);
            if v.is_some() {
                used.borrow_mut().insert(k.to_string());
            }
            v
        })?;
        self.used.extend(used.into_inner());
        Ok(words)
    }
    fn body(&mut self, s: &str) -> Result<String, Reason> {
        let mut lx = Lexer::new('\\');
        lx.skip_quotes = true;
        let e = lx.word(s, &|k: &str| (self.lookup)(k))?;
        self.used.extend(e.used);
        Ok(e.text)
    }
}

/// The variables of a stage as its steps run.
struct Scope<'a> {
    /// ENV values, base image first; a later entry wins.
    env: Vec<(String, String)>,
    /// Declared ARGs in order of declaration, with their values.
    args: Vec<(String, Option<String>)>,
    globals: &'a BTreeMap<String, Option<String>>,
    build_args: &'a BTreeMap<String, String>,
}

impl Scope<'_> {
    fn arg(&self, k: &str) -> Option<String> {
        self.args
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .and_then(|(_, v)| v.clone())
    }

    fn get(&self, k: &str) -> Option<String> {
        self.env
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .or_else(|| self.arg(k))
    }

    fn set_env(&mut self, k: &str, v: &str) {
        self.env.retain(|(n, _)| n != k);
        self.env.push((k.to_string(), v.to_string()));
    }

    /// Declares an ARG: a `--build-arg` wins, then the default (already
    /// substituted), then the global value.
    fn declare(&mut self, k: &str, default: Option<String>) {
        let v = self
            .build_args
            .get(k)
            .cloned()
            .or(default)
            .or_else(|| self.globals.get(k).cloned().flatten());
        self.args.retain(|(n, _)| n != k);
        self.args.push((k.to_string(), v));
    }

    /// ARG values in scope, sorted by name.
    fn arg_values(&self) -> Vec<(String, String)> {
        let m: BTreeMap<&String, &String> = self
            .args
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
            .collect();
        m.into_iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

impl Plan {
    /// Plans a parsed Containerfile: checks every instruction, splits the
    /// stages, substitutes FROM lines with the global args, and picks the
    /// stages `--target` needs.
    pub fn new(df: &Dockerfile, opts: &BuildOptions) -> Result<Plan, Error> {
        let file = df.name.as_str();
        let platform = opts.platform.clone().unwrap_or_else(host_platform);
        let mut globals: BTreeMap<String, Option<String>> = BTreeMap::new();
        for (k, v) in platform_args("TARGET", &platform)
            .into_iter()
            .chain(platform_args("BUILD", &host_platform()))
        {
            globals.insert(k, Some(v));
        }
        let mut consumed: BTreeSet<String> = BTreeSet::new();
        let mut all: Vec<Stage> = Vec::new();
        let lexer = Lexer::new(df.escape);
        for node in &df.nodes {
            let ins = instruction::parse(node, df.escape).map_err(|what| Error::At {
                file: file.to_string(),
                line: node.line,
                what,
            })?;
            let err = |reason: Reason| Error::instruction(file, node.line, &node.keyword, reason);
            match ins {
                Instruction::From(f) => {
                    let lookup = |k: &str| globals.get(k).cloned().flatten();
                    let mut ex = Scoped {
                        lexer,
                        lookup: &lookup,
                        used: BTreeSet::new(),
                    };
                    let image = ex.word(&f.image).map_err(err)?;
                    let platform = f
                        .platform
                        .as_deref()
                        .map(|p| ex.word(p))
                        .transpose()
                        .map_err(err)?;
                    if image.is_empty() {
                        return Err(err(Reason::Invalid(format!(
                            "base name ({}) should not be blank",
                            f.image
                        ))));
                    }
                    let index = all.len();
                    let base = stage_ref(&image, &all, index, true).map_err(err)?;
                    if let Some(n) = &f.name {
                        if all.iter().any(|s| s.name.as_deref() == Some(n)) {
                            return Err(err(Reason::Stage(format!("duplicate stage name {n:?}"))));
                        }
                    }
                    all.push(Stage {
                        index,
                        name: f.name,
                        base,
                        platform,
                        line: node.line,
                        deps: Vec::new(),
                        from_text: node.original.clone(),
                        body: Vec::new(),
                    });
                }
                Instruction::Arg(pairs) if all.is_empty() => {
                    for (k, default) in pairs {
                        let lookup = |k: &str| globals.get(k).cloned().flatten();
                        let mut ex = Scoped {
                            lexer,
                            lookup: &lookup,
                            used: BTreeSet::new(),
                        };
                        let k = ex.word(&k).map_err(err)?;
                        let default = default.map(|d| ex.word(&d)).transpose().map_err(err)?;
                        let v = opts.build_args.get(&k).cloned().or(default);
                        consumed.insert(k.clone());
                        globals.insert(k, v);
                    }
                }
                other => match all.last_mut() {
                    Some(stage) => stage.body.push((node.clone(), other)),
                    None => {
                        return Err(Error::At {
                            file: file.to_string(),
                            line: node.line,
                            what: What::BeforeFrom(node.keyword.clone()),
                        })
                    }
                },
            }
        }
        let Some(last) = all.len().checked_sub(1) else {
            return Err(Error::At {
                file: file.to_string(),
                line: df.nodes.last().map(|n| n.line).unwrap_or(1),
                what: What::NoStage,
            });
        };
        let target = match &opts.target {
            None => last,
            Some(t) => {
                let lower = t.to_ascii_lowercase();
                all.iter()
                    .position(|s| s.name.as_deref() == Some(lower.as_str()))
                    .ok_or_else(|| Error::UnknownTarget { target: t.clone() })?
            }
        };
        let mut plan = Plan {
            file: file.to_string(),
            escape: df.escape,
            syntax: df.syntax.clone(),
            all,
            order: Vec::new(),
            unused_build_args: Vec::new(),
            warnings: df.warnings.clone(),
            globals,
            build_args: opts.build_args.clone(),
        };
        // Walk the dependencies from the target; a stage only reads earlier
        // ones, so file order is a valid build order.
        let mut needed = BTreeSet::new();
        let mut todo = vec![target];
        while let Some(i) = todo.pop() {
            if !needed.insert(i) {
                continue;
            }
            let (deps, args) = plan.scan_deps(i)?;
            consumed.extend(args);
            plan.all[i].deps = deps.clone();
            todo.extend(deps);
        }
        plan.order = needed.into_iter().collect();
        plan.unused_build_args = opts
            .build_args
            .keys()
            .filter(|k| !consumed.contains(*k) && !PROXY_ARGS.contains(&k.as_str()))
            .filter(|k| !plan.globals.contains_key(*k))
            .cloned()
            .collect();
        plan.check_supported()?;
        Ok(plan)
    }

    /// Refuses, before anything is built, what the stages to build ask for
    /// and skiff does not do (never accepted and ignored): a FROM
    /// `--platform` other than the host's, `RUN --mount=type=ssh`, `RUN
    /// --security=insecure`, ADD of a git repository, and `--checksum` on
    /// a source that is not an http(s) URL (BuildKit refuses that too).
    fn check_supported(&self) -> Result<(), Error> {
        for stage in self.stages() {
            if let Some(p) = stage.platform.as_deref().filter(|p| !is_host_platform(p)) {
                return Err(Error::instruction(
                    &self.file,
                    stage.line,
                    "FROM",
                    Reason::Invalid(platform_unsupported(p)),
                ));
            }
            for (node, ins) in &stage.body {
                let no = |what: String| {
                    Err(Error::instruction(
                        &self.file,
                        node.line,
                        &node.keyword,
                        Reason::Invalid(format!("{what} is not supported")),
                    ))
                };
                match ins {
                    Instruction::Run(r) => {
                        if r.mounts
                            .iter()
                            .any(|m| m.kind == instruction::MountKind::Ssh)
                        {
                            return no("--mount=type=ssh (ssh agent forwarding)".into());
                        }
                        if r.security.as_deref() == Some("insecure") {
                            return no("--security=insecure".into());
                        }
                    }
                    Instruction::Add(t) | Instruction::Copy(t) => {
                        if let Some(git) = t.sources.iter().find(|s| is_git_source(s)) {
                            return no(format!("a git repository as a source ({git})"));
                        }
                        let url =
                            |s: &String| s.starts_with("http://") || s.starts_with("https://");
                        if t.checksum.is_some() && !t.sources.iter().all(url) {
                            return Err(Error::instruction(
                                &self.file,
                                node.line,
                                &node.keyword,
                                Reason::Invalid(
                                    "checksum can't be specified for non-HTTP(S) sources".into(),
                                ),
                            ));
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// The stages to build, in order; the last is the target.
    pub fn stages(&self) -> impl Iterator<Item = &Stage> {
        self.order.iter().map(|&i| &self.all[i])
    }

    /// The target stage.
    pub fn target(&self) -> &Stage {
        &self.all[*self.order.last().unwrap_or(&0)]
    }

    /// The header Podman prints before a step: `STEP 2/5: RUN make`, with a
    /// `[stage/stages] ` prefix when more than one stage is built.
    pub fn header(&self, stage: usize, step: usize, steps: usize, text: &str) -> String {
        let pos = self.order.iter().position(|&i| i == stage).unwrap_or(0) + 1;
        if self.order.len() > 1 {
            format!("[{pos}/{}] STEP {step}/{steps}: {text}", self.order.len())
        } else {
            format!("STEP {step}/{steps}: {text}")
        }
    }

    /// The stages stage `i` reads, and the ARG names it declares. Only ARG
    /// values are needed for `--from`, so no base image is involved.
    fn scan_deps(&self, i: usize) -> Result<(Vec<usize>, Vec<String>), Error> {
        let stage = &self.all[i];
        let mut deps = BTreeSet::new();
        if let Base::Stage(b) = stage.base {
            deps.insert(b);
        }
        let mut scope = self.scope(Vec::new());
        let mut declared = Vec::new();
        for (node, ins) in &stage.body {
            let err = |r: Reason| Error::instruction(&self.file, node.line, &node.keyword, r);
            match ins {
                Instruction::Arg(pairs) => {
                    for (k, d) in pairs {
                        // A default that cannot be substituted without the
                        // base image is simply unknown here.
                        let d = d.as_ref().and_then(|d| {
                            Lexer::new(self.escape)
                                .word(d, &|k: &str| scope.arg(k))
                                .ok()
                                .map(|e| e.text)
                        });
                        scope.declare(k, d);
                        declared.push(k.clone());
                    }
                }
                Instruction::Copy(t) | Instruction::Add(t) => {
                    if let Some(Base::Stage(s)) = self
                        .resolve_from(t.from.as_deref(), &scope, i)
                        .map_err(err)?
                    {
                        deps.insert(s);
                    }
                }
                Instruction::Run(r) => {
                    for spec in &r.mount_specs {
                        let m = instruction::parse_mount(spec, &mut |v| {
                            Ok(Lexer::new(self.escape)
                                .word(v, &|k: &str| scope.arg(k))
                                .map(|e| e.text)
                                .unwrap_or_else(|_| v.to_string()))
                        })
                        .map_err(err)?;
                        if let Some(Base::Stage(s)) = self
                            .resolve_from(m.from.as_deref(), &scope, i)
                            .map_err(err)?
                        {
                            deps.insert(s);
                        }
                    }
                }
                _ => {}
            }
        }
        Ok((deps.into_iter().collect(), declared))
    }

    fn scope(&self, env: Vec<(String, String)>) -> Scope<'_> {
        Scope {
            env,
            args: Vec::new(),
            globals: &self.globals,
            build_args: &self.build_args,
        }
    }

    /// A `--from` value substituted with ARG values and resolved.
    fn resolve_from(
        &self,
        from: Option<&str>,
        scope: &Scope,
        current: usize,
    ) -> Result<Option<Base>, Reason> {
        let Some(from) = from else {
            return Ok(None);
        };
        let v = Lexer::new(self.escape)
            .word(from, &|k: &str| scope.arg(k))?
            .text;
        if v.is_empty() {
            return Err(Reason::Stage(format!("--from value {from:?} is empty")));
        }
        stage_ref(&v, &self.all, current, false).map(Some)
    }

    /// The steps of stage `index` (a file position from [`Plan::order`]),
    /// FROM first, with every variable substituted. `base_env` is the base
    /// image's (or base stage's) `Env` (`K=V` strings); `triggers` its
    /// `OnBuild` list, run right after FROM as buildah does.
    pub fn steps(
        &self,
        index: usize,
        base_env: &[String],
        triggers: &[String],
    ) -> Result<Vec<Step>, Error> {
        let stage = &self.all[index];
        let env = base_env
            .iter()
            .map(|e| match e.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (e.clone(), String::new()),
            })
            .collect();
        let mut scope = self.scope(env);
        let from_ins = Instruction::From(instruction::From {
            image: match &stage.base {
                Base::Image(s) => s.clone(),
                Base::Scratch => "scratch".into(),
                Base::Stage(i) => self.all[*i].name.clone().unwrap_or_else(|| i.to_string()),
            },
            name: stage.name.clone(),
            platform: stage.platform.clone(),
        });
        let mut steps = vec![Step {
            line: stage.line,
            text: stage.from_text.clone(),
            instruction: from_ins,
            cache_args: Vec::new(),
            run_env: Vec::new(),
            from: Some(stage.base.clone()),
            mount_from: Vec::new(),
            triggered: false,
        }];
        let mut trigger_body = Vec::new();
        for (n, t) in triggers.iter().enumerate() {
            let name = format!(
                "{} (ONBUILD trigger {} of the base image)",
                self.file,
                n + 1
            );
            let df = parser::parse(&name, t)?;
            for node in df.nodes {
                let ins = instruction::parse(&node, df.escape).map_err(|what| Error::At {
                    file: name.clone(),
                    line: node.line,
                    what,
                })?;
                trigger_body.push((name.clone(), node, ins));
            }
        }
        let body = trigger_body
            .into_iter()
            .map(|(f, n, i)| (f, true, n, i))
            .chain(
                stage
                    .body
                    .iter()
                    .map(|(n, i)| (self.file.clone(), false, n.clone(), i.clone())),
            );
        for (file, triggered, node, mut ins) in body {
            let err = |r: Reason| Error::instruction(&file, node.line, &node.keyword, r);
            let mut cache_args = Vec::new();
            let mut run_env = Vec::new();
            let mut from = None;
            let mut mount_from = Vec::new();
            if let Instruction::Copy(t) | Instruction::Add(t) = &mut ins {
                if let Some(raw) = t.from.take() {
                    let v = Lexer::new(self.escape)
                        .word(&raw, &|k: &str| scope.arg(k))
                        .map_err(|e| err(e.into()))?;
                    for u in &v.used {
                        cache_args.push((u.clone(), scope.arg(u).unwrap_or_default()));
                    }
                    from = self.resolve_from(Some(&raw), &scope, index).map_err(err)?;
                    t.from = Some(v.text);
                }
            }
            if let Instruction::Arg(pairs) = &mut ins {
                for (k, d) in pairs.iter_mut() {
                    let (nk, nd, used) = {
                        let lookup = |x: &str| scope.get(x);
                        let mut ex = Scoped {
                            lexer: Lexer::new(self.escape),
                            lookup: &lookup,
                            used: BTreeSet::new(),
                        };
                        let nk = ex.word(k).map_err(err)?;
                        let nd = d.as_deref().map(|d| ex.word(d)).transpose().map_err(err)?;
                        (nk, nd, ex.used)
                    };
                    scope.declare(&nk, nd);
                    *k = nk.clone();
                    *d = scope.arg(&nk);
                    for u in used {
                        if let Some(v) = scope.arg(&u) {
                            cache_args.push((u, v));
                        }
                    }
                    if let Some(v) = scope.arg(&nk) {
                        cache_args.push((nk, v));
                    }
                }
            } else {
                let used = {
                    let lookup = |x: &str| scope.get(x);
                    let mut ex = Scoped {
                        lexer: Lexer::new(self.escape),
                        lookup: &lookup,
                        used: BTreeSet::new(),
                    };
                    ins.expand(&mut ex).map_err(err)?;
                    ex.used
                };
                // Only values that came from ARGs matter to the cache key;
                // ENV values are in the parent's config already.
                let from_env = |k: &str| scope.env.iter().any(|(n, _)| n == k);
                for u in used {
                    if !from_env(&u) {
                        if let Some(v) = scope.arg(&u) {
                            cache_args.push((u, v));
                        }
                    }
                }
                match &ins {
                    Instruction::Env(kvs) => {
                        for (k, v) in kvs {
                            scope.set_env(k, v);
                        }
                    }
                    Instruction::Run(r) => {
                        for m in &r.mounts {
                            mount_from.push(match &m.from {
                                Some(f) => stage_ref(f, &self.all, index, false)
                                    .map(Some)
                                    .map_err(err)?,
                                None => None,
                            });
                        }
                        cache_args = scope.arg_values();
                        run_env = scope.arg_values();
                        for p in PROXY_ARGS {
                            if let Some(v) = self.build_args.get(p) {
                                if !run_env.iter().any(|(k, _)| k == p) {
                                    run_env.push((p.to_string(), v.clone()));
                                }
                            }
                        }
                        run_env.sort();
                    }
                    _ => {}
                }
            }
            cache_args.sort();
            cache_args.dedup();
            // A reference the dependency scan did not see (a mount's `from`
            // spelled with the base image's ENV) would read an unbuilt stage.
            for b in from.iter().chain(mount_from.iter().flatten()) {
                if let Base::Stage(s) = b {
                    if !stage.deps.contains(s) && stage.base != Base::Stage(*s) {
                        return Err(err(Reason::Stage(format!(
                            "stage {s} is referenced through the environment; use an ARG"
                        ))));
                    }
                }
            }
            steps.push(Step {
                line: if triggered { 0 } else { node.line },
                text: node.original.clone(),
                instruction: ins,
                cache_args,
                run_env,
                from,
                mount_from,
                triggered,
            });
        }
        Ok(steps)
    }
}

/// Resolves a stage reference: an earlier stage's name (any case) or
/// index, `scratch` for FROM, else an image reference. A reference to the
/// current or a later stage is an error (a stage can only read what was
/// built before it).
fn stage_ref(v: &str, all: &[Stage], current: usize, is_from: bool) -> Result<Base, Reason> {
    let lower = v.to_ascii_lowercase();
    if let Some(i) = all
        .iter()
        .take(current)
        .position(|s| s.name.as_deref() == Some(lower.as_str()))
    {
        return Ok(Base::Stage(i));
    }
    if let Ok(n) = v.parse::<usize>() {
        if n < current {
            return Ok(Base::Stage(n));
        }
        return Err(Reason::Stage(format!(
            "stage index {n} does not refer to an earlier stage"
        )));
    }
    if !is_from {
        if let Some(s) = all[current..]
            .iter()
            .find(|s| s.name.as_deref() == Some(lower.as_str()))
        {
            return Err(Reason::Stage(format!(
                "stage {:?} is not built before this one (line {})",
                lower, s.line
            )));
        }
    }
    if is_from && v == "scratch" {
        return Ok(Base::Scratch);
    }
    Ok(Base::Image(v.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::instruction::{Command, Healthcheck, MountKind};

    fn plan_with(text: &str, args: &[(&str, &str)], target: Option<&str>) -> Result<Plan, Error> {
        let df = parser::parse("Containerfile", text)?;
        let opts = BuildOptions {
            build_args: args
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            target: target.map(str::to_string),
            platform: Some("linux/arm64/v8".into()),
        };
        Plan::new(&df, &opts)
    }

    fn plan(text: &str) -> Plan {
        plan_with(text, &[], None).unwrap()
    }

    #[test]
    fn what_skiff_cannot_do_is_refused_before_building() {
        let host = host_platform();
        assert!(is_host_platform(&host) && is_host_platform(&host.replacen("linux", "Linux", 1)));
        assert!(!is_host_platform("windows/amd64") && !is_host_platform("linux"));
        let other = if host == "linux/arm64" {
            "linux/amd64"
        } else {
            "linux/arm64"
        };
        assert!(!is_host_platform(other));
        let refused = |text: &str| plan_with(text, &[], None).unwrap_err().to_string();
        let e = refused(&format!("FROM --platform={other} busybox\n"));
        assert!(
            e.starts_with(&format!(
                "Containerfile:1: FROM: --platform={other}: building for a platform other"
            )),
            "{e}"
        );
        plan(&format!("FROM --platform={host} busybox\nRUN true\n"));
        let e = refused("FROM busybox\nRUN --mount=type=ssh ssh-add -l\n");
        assert_eq!(
            e,
            "Containerfile:2: RUN: --mount=type=ssh (ssh agent forwarding) is not supported"
        );
        let e = refused("FROM busybox\nRUN --security=insecure true\n");
        assert_eq!(
            e,
            "Containerfile:2: RUN: --security=insecure is not supported"
        );
        for git in [
            "https://github.com/moby/buildkit.git#v0.10.1",
            "git@github.com:moby/buildkit.git",
            "git://h/r",
        ] {
            let e = refused(&format!("FROM busybox\nADD {git} /src\n"));
            assert!(
                e.contains("a git repository as a source") && e.contains(git),
                "{e}"
            );
        }
        let e = refused("FROM busybox\nADD --checksum=sha256:00 a.tar /x\n");
        assert_eq!(
            e,
            "Containerfile:2: ADD: checksum can't be specified for non-HTTP(S) sources"
        );
        // Only the stages built are checked.
        plan_with(
            "FROM busybox AS a\nRUN --mount=type=ssh true\nFROM busybox AS b\n",
            &[],
            Some("b"),
        )
        .unwrap();
        assert!(!is_git_source("https://example.com/a.tar.gz") && !is_git_source("src.git/"));
    }

    /// The target stage's steps with no base environment.
    fn steps(p: &Plan) -> Vec<Step> {
        p.steps(p.target().index, &[], &[]).unwrap()
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn kv(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const MULTI: &str = "\
ARG GO=1.22
FROM golang:${GO} AS build
WORKDIR /src
COPY . .
RUN go build -o /out/app

FROM alpine AS unused
RUN echo never

FROM build AS test
RUN go test ./...

FROM scratch AS runtime
COPY --from=build /out/app /app
COPY --from=0 /etc/ssl /etc/ssl
ENTRYPOINT [\"/app\"]
";

    #[test]
    fn only_needed_stages_in_order() {
        let p = plan(MULTI);
        assert_eq!(p.all.len(), 4);
        assert_eq!(p.order, [0, 3]);
        assert_eq!(p.all[0].base, Base::Image("golang:1.22".into()));
        assert_eq!(p.all[0].name.as_deref(), Some("build"));
        assert_eq!(p.all[2].base, Base::Stage(0));
        assert_eq!(p.all[3].base, Base::Scratch);
        assert_eq!(p.all[3].deps, [0]);
        let st = steps(&p);
        assert_eq!(st.len(), 4);
        assert_eq!(st[1].from, Some(Base::Stage(0)));
        assert_eq!(st[2].from, Some(Base::Stage(0)));
        assert_eq!(
            p.header(3, 2, 4, &st[1].text),
            "[2/2] STEP 2/4: COPY --from=build /out/app /app"
        );

        let p = plan_with(MULTI, &[("GO", "1.21")], Some("TEST")).unwrap();
        assert_eq!(p.order, [0, 2]);
        assert_eq!(p.all[0].base, Base::Image("golang:1.21".into()));
        assert!(p.unused_build_args.is_empty());

        let p = plan_with(MULTI, &[], Some("unused")).unwrap();
        assert_eq!(p.order, [1]);
        assert_eq!(
            p.header(1, 1, 2, "FROM alpine AS unused"),
            "STEP 1/2: FROM alpine AS unused"
        );

        let e = plan_with(MULTI, &[], Some("nope")).unwrap_err().to_string();
        assert_eq!(e, "target stage \"nope\" could not be found");
    }

    #[test]
    fn run_mount_from_creates_a_dependency() {
        let p = plan(
            "FROM busybox AS tools\nFROM busybox AS other\nFROM busybox\n\
             RUN --mount=type=bind,from=tools,source=/bin,target=/t ls /t\n",
        );
        assert_eq!(p.order, [0, 2]);
        let st = steps(&p);
        assert_eq!(st[1].mount_from, [Some(Base::Stage(0))]);
        let Instruction::Run(r) = &st[1].instruction else {
            panic!()
        };
        assert_eq!(r.mounts[0].kind, MountKind::Bind);
    }

    #[test]
    fn from_by_index_and_bad_references() {
        let p = plan("FROM busybox\nRUN a\nFROM 0\nRUN b\n");
        assert_eq!(p.all[1].base, Base::Stage(0));
        assert_eq!(p.order, [0, 1]);
        for (text, want) in [
            (
                "FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\n",
                "Containerfile:2: COPY: stage \"b\" is not built before this one (line 3)",
            ),
            (
                "FROM busybox\nCOPY --from=0 /x /x\n",
                "Containerfile:2: COPY: stage index 0 does not refer to an earlier stage",
            ),
            (
                "FROM a AS x\nFROM b AS X\n",
                "Containerfile:2: FROM: duplicate stage name \"x\"",
            ),
            (
                "ARG B\nFROM ${B}\n",
                "Containerfile:2: FROM: base name (${B}) should not be blank",
            ),
            (
                "RUN echo\nFROM x\n",
                "Containerfile:1: RUN: no build stage in current context (only ARG may come before the first FROM)",
            ),
            (
                "ARG A\n",
                "Containerfile:1: no FROM instruction: a Containerfile needs at least one stage",
            ),
            ("FROM x\n\nFOO bar\n", "Containerfile:3: unknown instruction: FOO"),
            ("FROM x\nCOPY a\n", "Containerfile:2: COPY: requires at least two arguments: one or more sources and a destination"),
        ] {
            // The first stage is the target where the error lives there.
            let target = text.starts_with("FROM busybox AS a").then_some("a");
            let e = plan_with(text, &[], target).unwrap_err().to_string();
            assert_eq!(e, want, "{text}");
        }
    }

    #[test]
    fn arg_scoping() {
        let text = "\
ARG VERSION=1
ARG BASE=busybox:${VERSION}
FROM ${BASE}
RUN echo $VERSION
ARG VERSION
LABEL v=$VERSION base=${BASE:-none}
ARG LOCAL=l-${VERSION}
ENV LOCAL=env-wins
WORKDIR /w/$LOCAL
";
        let p = plan(text);
        assert_eq!(p.all[0].base, Base::Image("busybox:1".into()));
        let st = steps(&p);
        // RUN before the stage declares VERSION: no ARGs in scope.
        assert!(st[1].cache_args.is_empty());
        assert!(st[1].run_env.is_empty());
        assert_eq!(
            st[2].instruction,
            Instruction::Arg(vec![("VERSION".into(), Some("1".into()))])
        );
        // A global not re-declared in the stage is not visible.
        assert_eq!(
            st[3].instruction,
            Instruction::Label(kv(&[("v", "1"), ("base", "none")]))
        );
        assert_eq!(st[3].cache_args, kv(&[("VERSION", "1")]));
        assert_eq!(
            st[4].instruction,
            Instruction::Arg(vec![("LOCAL".into(), Some("l-1".into()))])
        );
        assert_eq!(
            st[6].instruction,
            Instruction::Workdir("/w/env-wins".into())
        );
        assert!(st[6].cache_args.is_empty(), "ENV values are not build args");

        let p = plan_with(
            text,
            &[("VERSION", "2"), ("LOCAL", "cli"), ("EXTRA", "x")],
            None,
        )
        .unwrap();
        assert_eq!(p.all[0].base, Base::Image("busybox:2".into()));
        let st = steps(&p);
        assert_eq!(
            st[3].instruction,
            Instruction::Label(kv(&[("v", "2"), ("base", "none")]))
        );
        assert_eq!(
            st[4].instruction,
            Instruction::Arg(vec![("LOCAL".into(), Some("cli".into()))])
        );
        assert_eq!(p.unused_build_args, ["EXTRA"]);
    }

    #[test]
    fn run_is_not_substituted_but_sees_args() {
        let p = plan_with(
            "FROM busybox\nARG A=1\nARG B\nRUN echo $A ${B:-x} > /f\nRUN [\"echo\", \"$A\"]\n",
            &[("HTTP_PROXY", "http://p:3128"), ("B", "2")],
            None,
        )
        .unwrap();
        assert!(p.unused_build_args.is_empty(), "{:?}", p.unused_build_args);
        let st = steps(&p);
        let Instruction::Run(r) = &st[3].instruction else {
            panic!()
        };
        assert_eq!(r.command, Command::Shell("echo $A ${B:-x} > /f".into()));
        assert_eq!(st[3].cache_args, kv(&[("A", "1"), ("B", "2")]));
        assert_eq!(
            st[3].run_env,
            kv(&[("A", "1"), ("B", "2"), ("HTTP_PROXY", "http://p:3128")])
        );
        assert_eq!(
            st[3].created_by(""),
            "|2 A=1 B=2 /bin/sh -c echo $A ${B:-x} > /f"
        );
        let Instruction::Run(r) = &st[4].instruction else {
            panic!()
        };
        assert_eq!(r.command, Command::Exec(s(&["echo", "$A"])));
    }

    #[test]
    fn base_image_env_and_env_forms() {
        let p = plan(
            "FROM golang\nWORKDIR $GOPATH/src/app\nENV A=1 B=\"two words\" C='$A' D=\"$A\" E=\\$A\n\
             ENV OLD legacy form $A\nUSER ${UID:-1000}:${GID:-1000}\nEXPOSE $PORTS 9090\n\
             VOLUME [\"$GOPATH/cache\"]\nSTOPSIGNAL $SIG\nCMD echo $A\n",
        );
        let st = p
            .steps(
                0,
                &s(&[
                    "GOPATH=/go",
                    "PATH=/usr/bin",
                    "PORTS=80/tcp 53/udp",
                    "SIG=SIGQUIT",
                ]),
                &[],
            )
            .unwrap();
        assert_eq!(
            st[1].instruction,
            Instruction::Workdir("/go/src/app".into())
        );
        assert_eq!(
            st[2].instruction,
            Instruction::Env(kv(&[
                ("A", "1"),
                ("B", "two words"),
                ("C", "$A"),
                ("D", ""),
                ("E", "$A")
            ]))
        );
        // Within one ENV line every value sees the values before the line.
        assert_eq!(
            st[3].instruction,
            Instruction::Env(kv(&[("OLD", "legacy form 1")]))
        );
        assert_eq!(st[4].instruction, Instruction::User("1000:1000".into()));
        assert_eq!(
            st[5].instruction,
            Instruction::Expose(s(&["80/tcp", "53/udp", "9090"]))
        );
        assert_eq!(st[6].instruction, Instruction::Volume(s(&["/go/cache"])));
        assert_eq!(st[7].instruction, Instruction::StopSignal("SIGQUIT".into()));
        assert_eq!(
            st[8].instruction,
            Instruction::Cmd(Command::Shell("echo $A".into()))
        );
        assert!(st.iter().skip(1).all(|x| x.empty_layer()));
        assert_eq!(st[8].created_by(""), "/bin/sh -c #(nop) CMD echo $A");
    }

    #[test]
    fn copy_substitution_and_heredoc_bodies() {
        let p = plan(
            "FROM busybox\nARG DEST=/app\nARG OWNER=1:1\nCOPY --chown=$OWNER src/ ${DEST}/\n\
             COPY <<EOF <<'RAW' $DEST/conf/\nname=$DEST 'q'\nEOF\nkeep=$DEST\nRAW\n",
        );
        let st = steps(&p);
        let Instruction::Copy(t) = &st[3].instruction else {
            panic!()
        };
        assert_eq!(t.chown.as_deref(), Some("1:1"));
        assert_eq!(t.sources, s(&["src/"]));
        assert_eq!(t.dest, "/app/");
        assert_eq!(st[3].cache_args, kv(&[("DEST", "/app"), ("OWNER", "1:1")]));
        assert_eq!(
            st[3].created_by("dir:abc"),
            "/bin/sh -c #(nop) COPY dir:abc in /app/ "
        );
        assert!(!st[3].empty_layer());
        let Instruction::Copy(t) = &st[4].instruction else {
            panic!()
        };
        assert_eq!(t.inline[0].content, "name=/app 'q'\n");
        assert_eq!(t.inline[1].content, "keep=$DEST\n");
        assert_eq!(t.dest, "/app/conf/");
    }

    #[test]
    fn copy_from_with_an_arg() {
        let p = plan(
            "ARG SRC=builder\nFROM busybox AS builder\nFROM busybox AS other\nFROM busybox\nARG SRC\nCOPY --from=$SRC /a /a\n",
        );
        assert_eq!(p.order, [0, 2]);
        let st = steps(&p);
        assert_eq!(st[2].from, Some(Base::Stage(0)));
        let p = plan_with(
            "ARG SRC=builder\nFROM busybox AS builder\nFROM busybox AS other\nFROM busybox\nARG SRC\nCOPY --from=$SRC /a /a\n",
            &[("SRC", "other")],
            None,
        )
        .unwrap();
        assert_eq!(p.order, [1, 2]);
        // An image, not a stage.
        let p = plan("FROM busybox\nCOPY --from=docker.io/library/alpine:3 /etc/os-release /x\n");
        assert_eq!(
            steps(&p)[1].from,
            Some(Base::Image("docker.io/library/alpine:3".into()))
        );
    }

    #[test]
    fn substitution_errors_name_the_line() {
        let p = plan("FROM busybox\nENV A=\"${B:?must be set}\"\n");
        let e = p.steps(0, &[], &[]).unwrap_err().to_string();
        assert_eq!(e, "Containerfile:2: ENV: B: must be set");
        let e = plan_with("FROM busybox\nWORKDIR \"unterminated\n", &[], None)
            .unwrap()
            .steps(0, &[], &[])
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "Containerfile:2: WORKDIR: unexpected end of statement while looking for matching double-quote"
        );
        let e = plan_with("ARG X\nFROM ${X:?nobase}\n", &[], None)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "Containerfile:2: FROM: X: nobase");
    }

    #[test]
    fn predefined_platform_args() {
        let p = plan(
            "FROM --platform=$BUILDPLATFORM busybox AS b\nARG TARGETARCH\nARG TARGETVARIANT\nRUN echo $TARGETARCH\nLABEL arch=$TARGETARCH/$TARGETVARIANT os=$TARGETOS\n",
        );
        assert_eq!(p.all[0].platform.as_deref(), Some(host_platform().as_str()));
        let st = steps(&p);
        assert_eq!(
            st[4].instruction,
            Instruction::Label(kv(&[("arch", "arm64/v8"), ("os", "")]))
        );
    }

    #[test]
    fn onbuild_parent_and_child() {
        let parent = plan("FROM busybox\nONBUILD COPY . /app/src\nONBUILD RUN echo built $NAME\n");
        let st = steps(&parent);
        assert_eq!(
            st[1].instruction,
            Instruction::Onbuild("COPY . /app/src".into())
        );
        assert_eq!(
            st[1].created_by(""),
            "/bin/sh -c #(nop) ONBUILD COPY . /app/src"
        );
        let triggers: Vec<String> = st[1..]
            .iter()
            .map(|s| match &s.instruction {
                Instruction::Onbuild(t) => t.clone(),
                _ => panic!(),
            })
            .collect();
        let child = plan("FROM parent\nENV NAME=child\nCMD [\"/app/src/run\"]\n");
        let st = child.steps(0, &[], &triggers).unwrap();
        assert_eq!(st.len(), 5);
        assert!(st[1].triggered && st[2].triggered && !st[3].triggered);
        assert_eq!(st[1].text, "COPY . /app/src");
        assert_eq!(st[1].line, 0);
        let Instruction::Copy(t) = &st[1].instruction else {
            panic!()
        };
        assert_eq!(t.dest, "/app/src");
        let bad = child
            .steps(0, &[], &s(&["FOO bar"]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            bad,
            "Containerfile (ONBUILD trigger 1 of the base image):1: unknown instruction: FOO"
        );
    }

    #[test]
    fn backtick_escape_file() {
        let p = plan(
            "# escape=`\nFROM mcr.microsoft.com/windows/nanoserver\nWORKDIR c:\\app\nCOPY testfile.txt c:\\\nRUN dir c:\\ `\n    && echo done\nENV P=c:\\tools `\n    Q=`$x\n",
        );
        let st = steps(&p);
        assert_eq!(st[1].instruction, Instruction::Workdir("c:\\app".into()));
        let Instruction::Copy(t) = &st[2].instruction else {
            panic!()
        };
        assert_eq!(t.dest, "c:\\");
        assert_eq!(st[3].text, "RUN dir c:\\     && echo done");
        assert_eq!(
            st[4].instruction,
            Instruction::Env(kv(&[("P", "c:\\tools"), ("Q", "$x")]))
        );
    }

    #[test]
    fn heredoc_run_and_healthcheck() {
        let p = plan(
            "FROM busybox\nRUN <<EOF\nset -e\necho hi > /greeting\nEOF\n\
             HEALTHCHECK --interval=5s CMD [\"cat\", \"/greeting\"]\nHEALTHCHECK NONE\n",
        );
        let st = steps(&p);
        let Instruction::Run(r) = &st[1].instruction else {
            panic!()
        };
        assert_eq!(r.command, Command::Shell("<<EOF".into()));
        assert_eq!(r.heredocs[0].content, "set -e\necho hi > /greeting\n");
        assert_eq!(
            st[1].created_by(""),
            "/bin/sh -c <<EOF\nset -e\necho hi > /greeting"
        );
        assert_eq!(st[2].line, 6);
        assert!(matches!(
            &st[2].instruction,
            Instruction::Healthcheck(Healthcheck::Check {
                interval: 5_000_000_000,
                ..
            })
        ));
        assert_eq!(
            st[3].instruction,
            Instruction::Healthcheck(Healthcheck::None)
        );
    }

    #[test]
    fn build_arg_values() {
        let env = |k: &str| (k == "FROM_ENV").then(|| "e".to_string());
        let m = build_args(&s(&["A=1", "B=", "FROM_ENV", "MISSING", "C=x=y"]), &env);
        assert_eq!(
            m.into_iter().collect::<Vec<_>>(),
            kv(&[("A", "1"), ("B", ""), ("C", "x=y"), ("FROM_ENV", "e")])
        );
    }

    /// A tutorial-style web app: the steps Podman prints.
    #[test]
    fn web_app_headers() {
        let p = plan(
            "FROM busybox:latest\nLABEL maintainer=\"me\"\nWORKDIR /www\nCOPY index.html .\n\
             RUN adduser -D web && chown -R web /www\nUSER web\nEXPOSE 8080\n\
             CMD [\"httpd\", \"-f\", \"-p\", \"8080\"]\n",
        );
        let st = steps(&p);
        let headers: Vec<String> = st
            .iter()
            .enumerate()
            .map(|(i, s)| p.header(0, i + 1, st.len(), &s.text))
            .collect();
        assert_eq!(
            headers,
            [
                "STEP 1/8: FROM busybox:latest",
                "STEP 2/8: LABEL maintainer=\"me\"",
                "STEP 3/8: WORKDIR /www",
                "STEP 4/8: COPY index.html .",
                "STEP 5/8: RUN adduser -D web && chown -R web /www",
                "STEP 6/8: USER web",
                "STEP 7/8: EXPOSE 8080",
                "STEP 8/8: CMD [\"httpd\", \"-f\", \"-p\", \"8080\"]",
            ]
        );
        assert_eq!(
            st[1].instruction,
            Instruction::Label(kv(&[("maintainer", "me")]))
        );
    }
}
