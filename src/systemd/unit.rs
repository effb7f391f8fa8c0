//! The text of `generate systemd` units, modelled on Podman 5's templates:
//! pure functions of what is known about a container or pod, so that the
//! text is unit-tested here and the CLI only gathers the facts.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::{Error, Result};

/// The environment variable every generated unit sets to its own name
/// (`%n`): how `auto-update` finds the unit to restart. Podman's name, so
/// that tools written for Podman's units see skiff's too.
pub const UNIT_ENV: &str = "PODMAN_SYSTEMD_UNIT";

/// Seconds systemd waits beyond the container's stop timeout (Podman's
/// `minTimeoutStopSec`): `TimeoutStopSec=` is their sum.
const STOP_GRACE_SECS: u64 = 60;

/// The `Restart=` values systemd knows, the ones `--restart-policy` takes.
pub const RESTART_POLICIES: [&str; 7] = [
    "no",
    "on-success",
    "on-failure",
    "on-abnormal",
    "on-watchdog",
    "on-abort",
    "always",
];

/// Where the cidfile of a `--new` unit lives (systemd's runtime directory
/// and the unit's name).
const CIDFILE: &str = "%t/%n.ctr-id";

/// The options of `generate systemd` that shape the text.
#[derive(Debug, Clone)]
pub struct UnitOptions {
    /// Name units and commands by the container's name, not its id.
    pub use_name: bool,
    /// Units that create the container (`run`) and remove it when stopped.
    pub new: bool,
    /// Leave out the comment header (name, generator, time).
    pub no_header: bool,
    /// `Restart=`; None is `on-failure`, or with `new` the container's own
    /// `--restart` when it had one.
    pub restart_policy: Option<String>,
    /// `RestartSec=`, seconds.
    pub restart_sec: Option<u64>,
    /// `TimeoutStartSec=`, seconds.
    pub start_timeout: Option<u64>,
    /// Seconds `stop` waits before SIGKILL; None is the container's (10).
    pub stop_timeout: Option<u64>,
    pub container_prefix: String,
    pub pod_prefix: String,
    pub separator: String,
    pub after: Vec<String>,
    pub wants: Vec<String>,
    pub requires: Vec<String>,
    /// Extra `Environment=` lines (`--env KEY=VALUE`).
    pub env: Vec<String>,
}

impl Default for UnitOptions {
    fn default() -> Self {
        UnitOptions {
            use_name: false,
            new: false,
            no_header: false,
            restart_policy: None,
            restart_sec: None,
            start_timeout: None,
            stop_timeout: None,
            container_prefix: "container".into(),
            pod_prefix: "pod".into(),
            separator: "-".into(),
            after: Vec::new(),
            wants: Vec::new(),
            requires: Vec::new(),
            env: Vec::new(),
        }
    }
}

/// What the unit text needs of the machine: the skiff binary, the store's
/// runtime directory and the time for the header.
#[derive(Debug, Clone)]
pub struct Host {
    /// Absolute path of the skiff binary the units run.
    pub executable: String,
    /// `RequiresMountsFor=`: the runtime directory of the store.
    pub runroot: String,
    /// The header's time stamp; None leaves the line out.
    pub timestamp: Option<String>,
}

/// What is known of a container.
#[derive(Debug, Clone)]
pub struct ContainerFacts {
    pub id: String,
    pub name: String,
    /// Its `CreateCommand`, program first; empty when unknown.
    pub create_command: Vec<String>,
    /// Its environment (`KEY=VALUE`), for `-e KEY` taken from the caller's.
    pub env: Vec<String>,
    /// The supervisor's pid file (the non-`new` unit's `PIDFile=`).
    pub conmon_pidfile: String,
}

/// A pod and the containers in it (the infra container apart).
#[derive(Debug, Clone)]
pub struct PodFacts {
    pub id: String,
    pub name: String,
    /// Its `pod create` command line, program first; empty when unknown.
    pub create_command: Vec<String>,
    /// The infra container's supervisor pid file.
    pub infra_pidfile: String,
    pub containers: Vec<ContainerFacts>,
}

/// One generated unit: its service name (without `.service`) and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub name: String,
    pub text: String,
}

/// Which flags of `run`/`create` take a value: long names, and short
/// letters with the long name they stand for. Built by the CLI from its own
/// definitions, so that a stored command line splits exactly as it parsed.
#[derive(Debug, Clone, Default)]
pub struct FlagTable {
    /// Long name -> whether it takes a value.
    pub long: BTreeMap<String, bool>,
    /// Short letter -> its long name.
    pub short: BTreeMap<char, String>,
}

/// A unit's service name: `prefix SEP name`, or the name alone when the
/// prefix is empty (Podman's `getServiceName`).
pub fn service_name(prefix: &str, sep: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}{sep}{name}")
    }
}

/// Quotes one argument for an `Exec*=` line as Podman does: `$` and `%`
/// doubled (systemd expands them), double quotes around an argument with
/// blanks or quotes, backslashes doubled otherwise.
pub fn escape_arg(arg: &str) -> String {
    quote_arg(&arg.replace('$', "$$").replace('%', "%%"))
}

/// Quotes one argument for an `Exec*=` line, leaving `%` specifiers and
/// `$` variables for systemd to expand (what a unit description's author
/// wrote, as Quadlet passes them on). Control characters are written as C
/// escapes inside quotes: systemd ends a line at a carriage return as at a
/// newline, so a raw one would start a directive of the value's choosing.
/// A lone `;` is written `\;`, else systemd reads it as a command separator.
pub fn quote_arg(a: &str) -> String {
    if a == ";" {
        return "\\;".to_string();
    }
    if a.contains([' ', '"', '\'']) || a.chars().any(char::is_control) {
        let mut q = String::from("\"");
        for ch in a.chars() {
            match ch {
                '"' => q.push_str("\\\""),
                '\\' => q.push_str("\\\\"),
                '\n' => q.push_str("\\n"),
                '\t' => q.push_str("\\t"),
                '\r' => q.push_str("\\r"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        q.push_str(&format!("\\x{b:02x}"));
                    }
                }
                c => q.push(c),
            }
        }
        q.push('"');
        q
    } else {
        a.replace('\\', "\\\\")
    }
}

/// Joins a command line, each option on a continuation line of its own
/// (Podman's `formatOptions`).
fn format_command(words: &[String]) -> String {
    let mut out = String::new();
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            out.push_str(if w.starts_with('-') { " \\\n\t" } else { " " });
        }
        out.push_str(w);
    }
    out
}

/// One option of a command line as given: its long name (None for the
/// image and what follows) and its words.
#[derive(Debug, Clone)]
struct Given {
    names: Vec<String>,
    /// The value, when the option has one.
    value: Option<String>,
    words: Vec<String>,
}

/// Splits the words after `run`/`create` into options and the rest (image
/// and command). Errors: an option the table does not know.
fn split_options(words: &[String], flags: &FlagTable) -> Result<(Vec<Given>, Vec<String>)> {
    let unknown = |w: &str| {
        Error::msg(format!(
            "container's create command has an unknown option \"{w}\""
        ))
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        if w == "--" || !w.starts_with('-') || w == "-" {
            break;
        }
        let mut g = Given {
            names: Vec::new(),
            value: None,
            words: vec![w.clone()],
        };
        if let Some(long) = w.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let takes = *flags.long.get(name).ok_or_else(|| unknown(w))?;
            g.names.push(name.to_string());
            g.value = inline.clone();
            if takes && inline.is_none() {
                i += 1;
                let v = words.get(i).cloned().unwrap_or_default();
                g.words.push(v.clone());
                g.value = Some(v);
            }
        } else {
            let letters: Vec<char> = w[1..].chars().collect();
            for (k, ch) in letters.iter().enumerate() {
                let name = flags.short.get(ch).ok_or_else(|| unknown(w))?;
                g.names.push(name.clone());
                if flags.long.get(name).copied().unwrap_or(false) {
                    let rest: String = letters[k + 1..].iter().collect();
                    if rest.is_empty() {
                        i += 1;
                        let v = words.get(i).cloned().unwrap_or_default();
                        g.words.push(v.clone());
                        g.value = Some(v);
                    } else {
                        g.value = Some(rest);
                    }
                    break;
                }
            }
        }
        out.push(g);
        i += 1;
    }
    Ok((out, words[i.min(words.len())..].to_vec()))
}

impl Given {
    fn is(&self, name: &str) -> bool {
        self.names.len() == 1 && self.names[0] == name
    }

    fn has(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// A boolean option's value: `--x` or `--x=true` is true.
    fn flag_on(&self) -> bool {
        !matches!(self.value.as_deref(), Some("false"))
    }
}

/// The header and the `[Unit]` section up to the user's dependencies.
fn head(out: &mut String, service: &str, o: &UnitOptions, host: &Host) {
    let _ = writeln!(out, "# {service}.service");
    if !o.no_header {
        let _ = writeln!(
            out,
            "# autogenerated by skiff {}",
            env!("CARGO_PKG_VERSION")
        );
        if let Some(t) = &host.timestamp {
            let _ = writeln!(out, "# {t}");
        }
    }
    let _ = write!(
        out,
        "\n[Unit]\nDescription=skiff {service}.service\nDocumentation=man:skiff-generate-systemd(1)\nWants=network-online.target\nAfter=network-online.target\nRequiresMountsFor={}\n",
        host.runroot
    );
}

fn user_dependencies(out: &mut String, o: &UnitOptions) {
    if o.wants.is_empty() && o.after.is_empty() && o.requires.is_empty() {
        return;
    }
    out.push_str("\n# User-defined dependencies\n");
    for (key, list) in [
        ("Wants", &o.wants),
        ("After", &o.after),
        ("Requires", &o.requires),
    ] {
        if !list.is_empty() {
            let _ = writeln!(out, "{key}={}", list.join(" "));
        }
    }
}

/// The `[Service]` lines every unit starts with: its name in the
/// environment, extra variables, the restart policy and timeouts.
fn service_head(
    out: &mut String,
    o: &UnitOptions,
    extra_env: &[String],
    restart: &str,
    burst: Option<&str>,
) {
    let _ = writeln!(out, "\n[Service]\nEnvironment={UNIT_ENV}=%n");
    if !extra_env.is_empty() {
        let _ = writeln!(out, "Environment={}", extra_env.join(" "));
    }
    for e in &o.env {
        let _ = writeln!(out, "Environment={}", escape_arg(e));
    }
    let _ = writeln!(out, "Restart={restart}");
    if let Some(s) = o.restart_sec {
        let _ = writeln!(out, "RestartSec={s}");
    }
    if let Some(b) = burst {
        let _ = writeln!(out, "StartLimitBurst={b}");
    }
    if let Some(t) = o.start_timeout.filter(|t| *t != 0) {
        let _ = writeln!(out, "TimeoutStartSec={t}");
    }
    let _ = writeln!(out, "TimeoutStopSec={}", STOP_GRACE_SECS + stop_timeout(o));
}

fn stop_timeout(o: &UnitOptions) -> u64 {
    o.stop_timeout.unwrap_or(10)
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The unit of one container. `bound_to`: the pod unit it belongs to.
/// Errors: `new` for a container without a usable create command.
pub fn container_unit(
    c: &ContainerFacts,
    o: &UnitOptions,
    host: &Host,
    flags: &FlagTable,
    bound_to: Option<&str>,
) -> Result<Unit> {
    let shown = if o.use_name { &c.name } else { &c.id };
    let service = service_name(&o.container_prefix, &o.separator, shown);
    let t = stop_timeout(o).to_string();
    let exe = host.executable.as_str();
    let mut restart = o
        .restart_policy
        .clone()
        .unwrap_or_else(|| "on-failure".into());
    let mut burst = None;
    let mut extra_env = Vec::new();
    let (start, stop, stop_post, tail) = if o.new {
        let pod_id_file = bound_to.map(pod_id_file);
        let (start, from_run) = new_start_command(c, flags, exe, pod_id_file.as_deref())?;
        if o.restart_policy.is_none() {
            if let Some(p) = from_run.restart {
                let (policy, max) = p
                    .split_once(':')
                    .map_or((p.as_str(), None), |(a, b)| (a, Some(b)));
                restart = if policy == "unless-stopped" {
                    "always".into()
                } else {
                    policy.to_string()
                };
                burst = max.map(str::to_string);
            }
        }
        extra_env = from_run.env_from_caller;
        // The create command's global options (`--root`, ...) in every
        // line, as Podman's RootFlags: stop and rm must find the container
        // in the store run made it in.
        let with_global = |verb: &[&str]| {
            let mut w = vec![exe.to_string()];
            w.extend(from_run.global.iter().cloned());
            w.extend(words(verb));
            w
        };
        let cidfile = format!("--cidfile={CIDFILE}");
        let stop = with_global(&["stop", "--ignore", "-t", &t, &cidfile]);
        let post = with_global(&["rm", "-f", "--ignore", "-t", &t, &cidfile]);
        (
            start,
            stop,
            post,
            "Type=notify\nNotifyAccess=all\n".to_string(),
        )
    } else {
        let start = words(&[exe, "start", shown]);
        let stop = words(&[exe, "stop", "-t", &t, shown]);
        let tail = format!("PIDFile={}\nType=forking\n", c.conmon_pidfile);
        (start, stop.clone(), stop, tail)
    };
    let mut out = String::new();
    head(&mut out, &service, o, host);
    if let Some(pod) = bound_to {
        let _ = writeln!(out, "BindsTo={pod}.service\nAfter={pod}.service");
    }
    user_dependencies(&mut out, o);
    service_head(&mut out, o, &extra_env, &restart, burst.as_deref());
    let _ = write!(
        out,
        "ExecStart={}\nExecStop={}\nExecStopPost={}\n{tail}\n[Install]\nWantedBy=default.target\n",
        format_command(&start),
        format_command(&stop),
        format_command(&stop_post)
    );
    Ok(Unit {
        name: service,
        text: out,
    })
}

/// What the create command said that the unit takes over.
#[derive(Debug, Default)]
struct FromRun {
    /// `--restart` (systemd restarts the container in a `new` unit).
    restart: Option<String>,
    /// `Environment=` lines for `-e KEY` without a value: the value the
    /// container got from the caller's environment.
    env_from_caller: Vec<String>,
    /// The global options before the verb, escaped for an `Exec*=` line.
    global: Vec<String>,
}

/// `run` as the unit's `ExecStart=`: the create command's global options
/// and its own, without those the unit sets itself (`--cidfile`,
/// `--pidfile`, `--conmon-pidfile`, `--rm`, `--restart`; `--sdnotify=ignore`
/// becomes conmon, or Type=notify would never be ready), detached and
/// replacing a container of its name, as Podman's `--new` units. In a pod
/// unit's container (`pod_id_file`), `--pod` becomes `--pod-id-file` of
/// the pod the pod unit creates.
fn new_start_command(
    c: &ContainerFacts,
    flags: &FlagTable,
    exe: &str,
    pod_id_file: Option<&str>,
) -> Result<(Vec<String>, FromRun)> {
    let cmd = &c.create_command;
    let verb = cmd
        .iter()
        .skip(1)
        .position(|w| w == "run" || w == "create")
        .map(|i| i + 1)
        .ok_or_else(|| {
            Error::msg(format!(
                "cannot use --new on container {}: its create command is unknown or has no run or create: {cmd:?}",
                c.id
            ))
        })?;
    let (given, rest) = split_options(&cmd[verb + 1..], flags)?;
    let mut from = FromRun::default();
    let mut kept: Vec<String> = Vec::new();
    let (mut detach, mut named, mut replace, mut notify_set) = (false, false, false, false);
    for g in given {
        if g.is("rm") || g.is("cidfile") || g.is("pidfile") || g.is("conmon-pidfile") {
            continue;
        }
        if pod_id_file.is_some() && (g.is("pod") || g.is("pod-id-file")) {
            continue;
        }
        if g.is("restart") {
            from.restart = g.value.clone();
            continue;
        }
        if g.is("sdnotify") {
            if g.value.as_deref() == Some("ignore") {
                continue;
            }
            notify_set = true;
        }
        if g.has("detach") {
            if !g.flag_on() {
                continue;
            }
            detach = true;
        }
        if g.is("replace") {
            if !g.flag_on() {
                continue;
            }
            replace = true;
        }
        named |= g.is("name");
        if g.names.last().map(String::as_str) == Some("env") {
            if let Some(key) = g.value.as_deref().filter(|v| !v.contains('=')) {
                from.env_from_caller.extend(
                    c.env
                        .iter()
                        .filter(|e| e.split_once('=').map(|(k, _)| k) == Some(key))
                        .map(|e| escape_arg(e)),
                );
            }
        }
        kept.extend(g.words);
    }
    let mut start = vec![exe.to_string()];
    from.global = cmd[1..verb].iter().map(|w| escape_arg(w)).collect();
    start.extend(from.global.iter().cloned());
    start.extend(words(&["run", &format!("--cidfile={CIDFILE}"), "--rm"]));
    if let Some(f) = pod_id_file {
        start.extend(words(&["--pod-id-file", f]));
    }
    if !notify_set {
        start.push("--sdnotify=conmon".into());
    }
    if !detach {
        start.push("-d".into());
    }
    if named && !replace {
        start.push("--replace".into());
    }
    start.extend(kept.iter().chain(rest.iter()).map(|w| escape_arg(w)));
    Ok((start, from))
}

/// The file a `--new` pod unit keeps its pod's id in (`%t/SERVICE.pod-id`,
/// Podman's): written by `pod create`, read by the pod's and its
/// containers' commands.
fn pod_id_file(service: &str) -> String {
    format!("%t/{service}.pod-id")
}

/// The `--new` pod unit's `pod create` (its `ExecStartPre=`): the pod's
/// create command again, as Podman's: the infra supervisor's pid file and
/// the pod id file the unit's, `--exit-policy=stop` unless given,
/// `--replace` when named. Also the global options, for the other lines.
fn new_pod_create_command(
    p: &PodFacts,
    pod_flags: &FlagTable,
    exe: &str,
    pidfile: &str,
    idfile: &str,
) -> Result<(Vec<String>, Vec<String>)> {
    let cmd = &p.create_command;
    let at = cmd
        .windows(2)
        .position(|w| w[0] == "pod" && w[1] == "create")
        .filter(|i| *i >= 1)
        .ok_or_else(|| {
            Error::msg(format!(
                "cannot use --new on pod {}: its create command is unknown or is not pod create: {cmd:?}",
                p.name
            ))
        })?;
    let global: Vec<String> = cmd[1..at].iter().map(|w| escape_arg(w)).collect();
    let (given, rest) = split_options(&cmd[at + 2..], pod_flags)?;
    let (mut named, mut replace, mut policy) = (false, false, false);
    let mut kept = Vec::new();
    for g in given {
        if g.is("pod-id-file") || g.is("infra-conmon-pidfile") {
            continue;
        }
        if g.is("replace") {
            if !g.flag_on() {
                continue;
            }
            replace = true;
        }
        named |= g.is("name");
        policy |= g.is("exit-policy");
        kept.extend(g.words);
    }
    let mut start = vec![exe.to_string()];
    start.extend(global.iter().cloned());
    start.extend(words(&[
        "pod",
        "create",
        "--infra-conmon-pidfile",
        pidfile,
        "--pod-id-file",
        idfile,
    ]));
    if !policy {
        start.push("--exit-policy=stop".into());
    }
    start.extend(kept.iter().chain(rest.iter()).map(|w| escape_arg(w)));
    if named && !replace {
        start.push("--replace".into());
    }
    Ok((start, global))
}

/// The units of a pod: one per container (bound to the pod's) and the pod's
/// own, which starts and stops them all. Without `new`, Podman's units of
/// the existing pod (`pod start NAME`, the infra supervisor's pid file);
/// with `new`, the pod unit creates the pod (`pod create --pod-id-file`)
/// and removes it when stopped, and its containers' units run in it by
/// `run --pod-id-file`, as Podman's. `pod_flags`: those of `pod create`.
/// Errors: `new` for a pod or container without a usable create command.
pub fn pod_units(
    p: &PodFacts,
    o: &UnitOptions,
    host: &Host,
    flags: &FlagTable,
    pod_flags: &FlagTable,
) -> Result<Vec<Unit>> {
    let shown = if o.use_name { &p.name } else { &p.id };
    let service = service_name(&o.pod_prefix, &o.separator, shown);
    let pidfile = format!("%t/{service}.pid");
    let idfile = pod_id_file(&service);
    // The pod's own command first: its error before its containers'.
    let new_pod = if o.new {
        Some(new_pod_create_command(
            p,
            pod_flags,
            &host.executable,
            &pidfile,
            &idfile,
        )?)
    } else {
        None
    };
    let mut units = Vec::new();
    for c in &p.containers {
        units.push(container_unit(c, o, host, flags, Some(&service))?);
    }
    let members: BTreeSet<&str> = units.iter().map(|u| u.name.as_str()).collect();
    let t = stop_timeout(o).to_string();
    let exe = host.executable.as_str();
    let mut out = String::new();
    head(&mut out, &service, o, host);
    if !members.is_empty() {
        let list: Vec<String> = members.iter().map(|m| format!("{m}.service")).collect();
        let _ = writeln!(out, "Wants={}\nBefore={}", list.join(" "), list.join(" "));
    }
    user_dependencies(&mut out, o);
    let restart = o
        .restart_policy
        .clone()
        .unwrap_or_else(|| "on-failure".into());
    service_head(&mut out, o, &[], &restart, None);
    if let Some((create, global)) = new_pod {
        let pod = |verb: &[&str]| {
            let mut w = vec![exe.to_string()];
            w.extend(global.iter().cloned());
            w.push("pod".into());
            w.extend(words(verb));
            format_command(&w)
        };
        let _ = write!(
            out,
            "ExecStartPre={}\nExecStartPre={}\nExecStart={}\nExecStop={}\nExecStopPost={}\nPIDFile={pidfile}\nType=forking\n\n[Install]\nWantedBy=default.target\n",
            format_command(&words(&["/bin/rm", "-f", &pidfile, &idfile])),
            format_command(&create),
            pod(&["start", "--pod-id-file", &idfile]),
            pod(&["stop", "--ignore", "--pod-id-file", &idfile, "-t", &t]),
            pod(&["rm", "--ignore", "-f", "--pod-id-file", &idfile]),
        );
    } else {
        let stop = words(&[exe, "pod", "stop", "-t", &t, shown]);
        let _ = write!(
            out,
            "ExecStart={}\nExecStop={}\nExecStopPost={}\nPIDFile={}\nType=forking\n\n[Install]\nWantedBy=default.target\n",
            format_command(&words(&[exe, "pod", "start", shown])),
            format_command(&stop),
            format_command(&stop),
            p.infra_pidfile
        );
    }
    units.push(Unit {
        name: service,
        text: out,
    });
    Ok(units)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> FlagTable {
        let mut t = FlagTable::default();
        for (name, takes) in [
            ("detach", false),
            ("name", true),
            ("env", true),
            ("rm", false),
            ("replace", false),
            ("cidfile", true),
            ("restart", true),
            ("sdnotify", true),
            ("tty", false),
            ("interactive", false),
            ("publish", true),
        ] {
            t.long.insert(name.into(), takes);
        }
        for (ch, name) in [
            ('d', "detach"),
            ('e', "env"),
            ('t', "tty"),
            ('i', "interactive"),
            ('p', "publish"),
        ] {
            t.short.insert(ch, name.into());
        }
        t
    }

    fn host() -> Host {
        Host {
            executable: "/usr/bin/skiff".into(),
            runroot: "/run/user/1000/skiff".into(),
            timestamp: None,
        }
    }

    fn ctr(cmd: &[&str]) -> ContainerFacts {
        ContainerFacts {
            id: "0123456789ab".into(),
            name: "web".into(),
            create_command: words(cmd),
            env: vec!["TOKEN=s3cret".into(), "PATH=/bin".into()],
            conmon_pidfile: "/run/user/1000/skiff/containers/0123456789ab/conmon.pid".into(),
        }
    }

    #[test]
    fn new_unit_runs_the_create_command_again() {
        let o = UnitOptions {
            use_name: true,
            new: true,
            no_header: true,
            ..Default::default()
        };
        let c = ctr(&[
            "skiff",
            "--root",
            "/s",
            "run",
            "-dit",
            "--rm",
            "--cidfile",
            "/x",
            "--name",
            "web",
            "-e",
            "TOKEN",
            "--restart=on-failure:3",
            "-p",
            "8080:80",
            "busybox",
            "httpd",
            "-f",
        ]);
        let u = container_unit(&c, &o, &host(), &table(), None).unwrap();
        assert_eq!(u.name, "container-web");
        assert_eq!(
            u.text,
            "# container-web.service

[Unit]
Description=skiff container-web.service
Documentation=man:skiff-generate-systemd(1)
Wants=network-online.target
After=network-online.target
RequiresMountsFor=/run/user/1000/skiff

[Service]
Environment=PODMAN_SYSTEMD_UNIT=%n
Environment=TOKEN=s3cret
Restart=on-failure
StartLimitBurst=3
TimeoutStopSec=70
ExecStart=/usr/bin/skiff \\
\t--root /s run \\
\t--cidfile=%t/%n.ctr-id \\
\t--rm \\
\t--sdnotify=conmon \\
\t--replace \\
\t-dit \\
\t--name web \\
\t-e TOKEN \\
\t-p 8080:80 busybox httpd \\
\t-f
ExecStop=/usr/bin/skiff \\
\t--root /s stop \\
\t--ignore \\
\t-t 10 \\
\t--cidfile=%t/%n.ctr-id
ExecStopPost=/usr/bin/skiff \\
\t--root /s rm \\
\t-f \\
\t--ignore \\
\t-t 10 \\
\t--cidfile=%t/%n.ctr-id
Type=notify
NotifyAccess=all

[Install]
WantedBy=default.target
"
        );
    }

    #[test]
    fn plain_unit_starts_and_stops_by_name_with_the_supervisor_pid_file() {
        let o = UnitOptions {
            use_name: true,
            no_header: true,
            stop_timeout: Some(5),
            restart_policy: Some("always".into()),
            restart_sec: Some(3),
            start_timeout: Some(30),
            after: vec!["a.service".into()],
            wants: vec!["w.service".into()],
            requires: vec!["r.service".into()],
            env: vec!["A=b c".into()],
            container_prefix: "ctr".into(),
            separator: "_".into(),
            ..Default::default()
        };
        let u = container_unit(&ctr(&[]), &o, &host(), &table(), None).unwrap();
        assert_eq!(u.name, "ctr_web");
        let service = u.text.split("[Service]").nth(1).unwrap();
        assert_eq!(
            service,
            "
Environment=PODMAN_SYSTEMD_UNIT=%n
Environment=\"A=b c\"
Restart=always
RestartSec=3
TimeoutStartSec=30
TimeoutStopSec=65
ExecStart=/usr/bin/skiff start web
ExecStop=/usr/bin/skiff stop \\
\t-t 5 web
ExecStopPost=/usr/bin/skiff stop \\
\t-t 5 web
PIDFile=/run/user/1000/skiff/containers/0123456789ab/conmon.pid
Type=forking

[Install]
WantedBy=default.target
"
        );
        assert!(u.text.contains(
            "\n# User-defined dependencies\nWants=w.service\nAfter=a.service\nRequires=r.service\n"
        ));
    }

    #[test]
    fn new_keeps_explicit_detach_replace_and_sdnotify_and_drops_ignore() {
        let o = UnitOptions {
            new: true,
            ..Default::default()
        };
        let c = ctr(&[
            "skiff",
            "container",
            "create",
            "--sdnotify=container",
            "--replace",
            "--name=web",
            "busybox",
        ]);
        let u = container_unit(&c, &o, &host(), &table(), None).unwrap();
        assert!(u.name == "container-0123456789ab", "{}", u.name);
        assert!(u.text.contains("ExecStart=/usr/bin/skiff container run \\\n\t--cidfile=%t/%n.ctr-id \\\n\t--rm \\\n\t-d \\\n\t--sdnotify=container \\\n\t--replace \\\n\t--name=web busybox\n"), "{}", u.text);
        let c = ctr(&[
            "skiff",
            "run",
            "--sdnotify",
            "ignore",
            "-d",
            "busybox",
            "sh",
            "-c",
            "echo $HOME 100%",
        ]);
        let u = container_unit(&c, &o, &host(), &table(), None).unwrap();
        assert!(
            u.text.contains(
                "\t--sdnotify=conmon \\\n\t-d busybox sh \\\n\t-c \"echo $$HOME 100%%\"\n"
            ),
            "{}",
            u.text
        );
        let e = container_unit(&ctr(&["skiff", "import", "x"]), &o, &host(), &table(), None)
            .unwrap_err();
        assert!(e.to_string().contains("cannot use --new"), "{e}");
        let e = container_unit(
            &ctr(&["skiff", "run", "--bogus", "x"]),
            &o,
            &host(),
            &table(),
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown option \"--bogus\""), "{e}");
    }

    #[test]
    fn pod_units_bind_their_containers() {
        let o = UnitOptions {
            use_name: true,
            no_header: true,
            ..Default::default()
        };
        let p = PodFacts {
            id: "feedbeef".into(),
            name: "app".into(),
            infra_pidfile: "/r/infra.pid".into(),
            create_command: Vec::new(),
            containers: vec![ctr(&[])],
        };
        let units = pod_units(&p, &o, &host(), &table(), &table()).unwrap();
        let names: Vec<&str> = units.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["container-web", "pod-app"]);
        assert!(units[0]
            .text
            .contains("\nBindsTo=pod-app.service\nAfter=pod-app.service\n"));
        assert!(units[1]
            .text
            .contains("\nWants=container-web.service\nBefore=container-web.service\n"));
        assert!(units[1]
            .text
            .contains("ExecStart=/usr/bin/skiff pod start app\n"));
        assert!(units[1]
            .text
            .contains("PIDFile=/r/infra.pid\nType=forking\n"));
        // --new needs the pod's create command.
        let e = pod_units(
            &p,
            &UnitOptions { new: true, ..o },
            &host(),
            &table(),
            &table(),
        );
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("cannot use --new on pod app"));
    }

    #[test]
    fn arguments_are_escaped_as_systemd_reads_them() {
        assert_eq!(escape_arg("plain"), "plain");
        assert_eq!(escape_arg("a b"), "\"a b\"");
        assert_eq!(escape_arg("say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(escape_arg("$X%i"), "$$X%%i");
        assert_eq!(escape_arg("a\\b"), "a\\\\b");
        // A carriage return would end the line for systemd: it stays inside
        // the quoted argument, as every other control character.
        assert_eq!(
            escape_arg("x\rExecStartPre=/tmp/evil"),
            "\"x\\rExecStartPre=/tmp/evil\""
        );
        assert_eq!(escape_arg("a\u{1b}[2J\u{85}"), "\"a\\x1b[2J\\xc2\\x85\"");
        assert_eq!(escape_arg(";"), "\\;");
        assert_eq!(escape_arg("a;"), "a;");
    }
}
