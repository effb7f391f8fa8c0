//! The Quadlet-style generator: `.container`, `.pod`, `.volume`, `.network`
//! and `.kube` unit descriptions with Podman Quadlet's key names, turned
//! into `.service` units that run skiff. Pure: a description's text in, a
//! unit's text out; the CLI finds the files and writes the results.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::unit::{quote_arg, FlagTable, UNIT_ENV};
use crate::{Error, Result};

/// One section of a unit file: its name and its `Key=Value` lines in order
/// (a key may repeat).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub entries: Vec<(String, String)>,
}

/// Parses systemd's unit file syntax: `[Section]` headers, `Key=Value`
/// lines, `#`/`;` comments, a trailing backslash continuing a line.
/// Errors: a line outside any section, or one without `=`.
pub fn parse_unit(text: &str) -> std::result::Result<Vec<Section>, String> {
    let mut out: Vec<Section> = Vec::new();
    let mut pending = String::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with(';'))
        {
            continue;
        }
        if let Some(cont) = line.strip_suffix('\\') {
            pending.push_str(cont);
            pending.push(' ');
            continue;
        }
        let full = std::mem::take(&mut pending) + line;
        if full.starts_with('[') && full.ends_with(']') {
            out.push(Section {
                name: full[1..full.len() - 1].to_string(),
                entries: Vec::new(),
            });
            continue;
        }
        let Some((k, v)) = full.split_once('=') else {
            return Err(format!("line {}: not a Key=Value line: {full:?}", n + 1));
        };
        let Some(sec) = out.last_mut() else {
            return Err(format!("line {}: {k} is outside any section", n + 1));
        };
        sec.entries
            .push((k.trim().to_string(), v.trim().to_string()));
    }
    Ok(out)
}

/// Splits a value into words as systemd does for command lines: blanks
/// separate, double or single quotes group, a backslash escapes.
pub fn split_words(s: &str) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(ch) = chars.next() {
        match (ch, quote) {
            ('\\', _) => {
                let next = chars.next().ok_or("a value ends with a backslash")?;
                cur.push(match next {
                    'n' => '\n',
                    't' => '\t',
                    c => c,
                });
                in_word = true;
            }
            (q, None) if q == '"' || q == '\'' => {
                quote = Some(q);
                in_word = true;
            }
            (q, Some(open)) if q == open => quote = None,
            (c, None) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (c, _) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(format!("unbalanced quotes in {s:?}"));
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// What kind of description a file is, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Container,
    Pod,
    Volume,
    Network,
    Kube,
}

impl Kind {
    /// The kind of a file name (`web.container`), None for other files.
    pub fn of(file: &str) -> Option<Kind> {
        Some(match file.rsplit_once('.')?.1 {
            "container" => Kind::Container,
            "pod" => Kind::Pod,
            "volume" => Kind::Volume,
            "network" => Kind::Network,
            "kube" => Kind::Kube,
            _ => return None,
        })
    }

    /// The section holding the description (`[Container]`).
    fn section(self) -> &'static str {
        match self {
            Kind::Container => "Container",
            Kind::Pod => "Pod",
            Kind::Volume => "Volume",
            Kind::Network => "Network",
            Kind::Kube => "Kube",
        }
    }

    /// The service's name for a description's base name, as Quadlet's:
    /// `web` for web.container and web.kube, `data-volume` for data.volume.
    pub fn service(self, base: &str) -> String {
        match self {
            Kind::Container | Kind::Kube => base.to_string(),
            Kind::Pod => format!("{base}-pod"),
            Kind::Volume => format!("{base}-volume"),
            Kind::Network => format!("{base}-network"),
        }
    }
}

/// How a key becomes arguments of skiff's command.
#[derive(Debug, Clone, Copy)]
enum Map {
    /// One `--flag VALUE` per key.
    Flag(&'static str),
    /// Each blank-separated word of the value as `--flag WORD`.
    EachWord(&'static str),
    /// `--flag` when the value is true.
    Bool(&'static str),
    /// Handled by the converter itself.
    Own,
}

/// The keys of `[Container]` skiff supports, with Quadlet's names.
const CONTAINER_KEYS: &[(&str, Map)] = &[
    ("Image", Map::Own),
    ("Exec", Map::Own),
    ("Entrypoint", Map::Flag("--entrypoint")),
    ("Environment", Map::EachWord("--env")),
    ("EnvironmentFile", Map::Flag("--env-file")),
    ("PublishPort", Map::Flag("--publish")),
    ("ExposeHostPort", Map::Flag("--expose")),
    ("Volume", Map::Own),
    ("Mount", Map::Flag("--mount")),
    ("Tmpfs", Map::Flag("--tmpfs")),
    ("Network", Map::Own),
    ("NetworkAlias", Map::Flag("--network-alias")),
    ("Pod", Map::Own),
    ("User", Map::Own),
    ("Group", Map::Own),
    ("WorkingDir", Map::Flag("--workdir")),
    ("Label", Map::EachWord("--label")),
    ("HostName", Map::Flag("--hostname")),
    ("DNS", Map::Flag("--dns")),
    ("DNSSearch", Map::Flag("--dns-search")),
    ("DNSOption", Map::Flag("--dns-option")),
    ("AddHost", Map::Flag("--add-host")),
    ("AddCapability", Map::EachWord("--cap-add")),
    ("DropCapability", Map::EachWord("--cap-drop")),
    ("ReadOnly", Map::Bool("--read-only")),
    ("NoNewPrivileges", Map::Own),
    ("SeccompProfile", Map::Own),
    ("Secret", Map::Flag("--secret")),
    ("Ulimit", Map::Flag("--ulimit")),
    ("StopSignal", Map::Flag("--stop-signal")),
    ("HealthCmd", Map::Flag("--health-cmd")),
    ("HealthInterval", Map::Flag("--health-interval")),
    ("HealthRetries", Map::Flag("--health-retries")),
    ("HealthStartPeriod", Map::Flag("--health-start-period")),
    ("HealthTimeout", Map::Flag("--health-timeout")),
    ("HealthOnFailure", Map::Flag("--health-on-failure")),
    ("Notify", Map::Own),
    ("ContainerName", Map::Own),
    ("AutoUpdate", Map::Own),
    ("PodmanArgs", Map::Own),
];

const POD_KEYS: &[(&str, Map)] = &[
    ("PodName", Map::Own),
    ("PublishPort", Map::Flag("--publish")),
    ("Network", Map::Own),
    ("Label", Map::EachWord("--label")),
    ("DNS", Map::Flag("--dns")),
    ("DNSSearch", Map::Flag("--dns-search")),
    ("DNSOption", Map::Flag("--dns-option")),
    ("AddHost", Map::Flag("--add-host")),
    ("HostName", Map::Flag("--hostname")),
    ("PodmanArgs", Map::Own),
];

const VOLUME_KEYS: &[(&str, Map)] = &[
    ("VolumeName", Map::Own),
    ("Label", Map::EachWord("--label")),
    ("Driver", Map::Flag("--driver")),
    ("Options", Map::Own),
    ("PodmanArgs", Map::Own),
];

const NETWORK_KEYS: &[(&str, Map)] = &[
    ("NetworkName", Map::Own),
    ("Label", Map::EachWord("--label")),
    ("Subnet", Map::Flag("--subnet")),
    ("Gateway", Map::Flag("--gateway")),
    ("Internal", Map::Bool("--internal")),
    ("Driver", Map::Flag("--driver")),
    ("PodmanArgs", Map::Own),
];

const KUBE_KEYS: &[(&str, Map)] = &[
    ("Yaml", Map::Own),
    ("ConfigMap", Map::Flag("--configmap")),
    ("Network", Map::Own),
    ("PodmanArgs", Map::Own),
];

/// What the converter needs to know of the machine.
#[derive(Debug, Clone)]
pub struct Env {
    /// The skiff binary the units run.
    pub executable: String,
    /// The flags skiff's `run` knows (to refuse keys it cannot honour).
    pub run_flags: FlagTable,
    /// The directory of the description (relative Yaml=, EnvironmentFile=).
    pub dir: String,
}

/// A generated unit: the service's name (without `.service`), its text and
/// the targets that want it (`WantedBy=`/`RequiredBy=` of `[Install]`, as
/// `.wants`/`.requires` links since generated units cannot be enabled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    pub service: String,
    pub text: String,
    pub wanted_by: Vec<String>,
    pub required_by: Vec<String>,
}

fn is_true(v: &str) -> bool {
    matches!(v, "true" | "yes" | "1" | "on")
}

/// The name a `.volume`/`.network`/`.pod` reference stands for, and the
/// service that makes it: `data.volume` is volume systemd-data made by
/// data-volume.service (Quadlet's default names; `names` holds the
/// VolumeName=/NetworkName=/PodName= the other files chose).
fn reference(
    value: &str,
    kind: Kind,
    names: &BTreeMap<String, String>,
) -> Option<(String, String)> {
    let ext = match kind {
        Kind::Volume => ".volume",
        Kind::Network => ".network",
        Kind::Pod => ".pod",
        _ => return None,
    };
    let base = value.strip_suffix(ext)?;
    let file = format!("{base}{ext}");
    let name = names
        .get(&file)
        .cloned()
        .unwrap_or_else(|| format!("systemd-{base}"));
    Some((name, kind.service(base)))
}

/// Converts one description. `file`: its name (`web.container`);
/// `names`: the object names chosen by the other descriptions (file name ->
/// name). Errors, one line each as Quadlet's: an unknown key, a missing
/// Image (or Yaml), a key whose flag this skiff does not have.
pub fn convert(
    file: &str,
    text: &str,
    env: &Env,
    names: &BTreeMap<String, String>,
) -> Result<Generated> {
    let fail = |m: String| Error::msg(format!("converting \"{file}\": {m}"));
    let kind = Kind::of(file)
        .ok_or_else(|| fail("not a .container, .pod, .volume, .network or .kube file".into()))?;
    let base = file.rsplit_once('.').map_or(file, |(b, _)| b);
    let sections = parse_unit(text).map_err(fail)?;
    let keys = match kind {
        Kind::Container => CONTAINER_KEYS,
        Kind::Pod => POD_KEYS,
        Kind::Volume => VOLUME_KEYS,
        Kind::Network => NETWORK_KEYS,
        Kind::Kube => KUBE_KEYS,
    };
    let own: Vec<(String, String)> = sections
        .iter()
        .filter(|s| s.name == kind.section())
        .flat_map(|s| s.entries.iter().cloned())
        .collect();
    let mut args: Vec<String> = Vec::new();
    let mut deps: Vec<String> = Vec::new();
    let get = |k: &str| {
        own.iter()
            .rev()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let words = |v: &str| split_words(v).map_err(fail);
    for (k, v) in &own {
        let map = keys
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, m)| *m)
            .ok_or_else(|| {
                fail(format!(
                    "unsupported key '{k}' in group '{}' in {}/{file}",
                    kind.section(),
                    env.dir
                ))
            })?;
        let flag = match map {
            Map::Flag(f) | Map::EachWord(f) | Map::Bool(f) => f,
            Map::Own => continue,
        };
        if kind == Kind::Container && !env.run_flags.long.contains_key(&flag[2..]) {
            return Err(fail(format!(
                "key '{k}' needs {flag}, which this skiff's run does not have"
            )));
        }
        match map {
            Map::Flag(f) => args.extend([f.to_string(), v.clone()]),
            Map::EachWord(f) => {
                for w in words(v)? {
                    args.extend([f.to_string(), w]);
                }
            }
            Map::Bool(f) if is_true(v) => args.push(f.to_string()),
            _ => {}
        }
    }
    let referenced = |value: &str, k: Kind, deps: &mut Vec<String>| -> String {
        match reference(value, k, names) {
            Some((name, service)) => {
                deps.push(format!("{service}.service"));
                name
            }
            None => value.to_string(),
        }
    };
    let exe = env.executable.as_str();
    let mut service: Vec<String> = Vec::new();
    match kind {
        Kind::Container => {
            let image = get("Image").ok_or_else(|| fail("no Image key specified".into()))?;
            for (k, v) in &own {
                match k.as_str() {
                    "Volume" => {
                        let v = match v.split_once(':') {
                            Some((src, rest)) => {
                                format!("{}:{rest}", referenced(src, Kind::Volume, &mut deps))
                            }
                            None => v.clone(),
                        };
                        args.extend(["--volume".into(), v]);
                    }
                    "Network" => {
                        let n = referenced(v, Kind::Network, &mut deps);
                        args.extend(["--network".into(), n]);
                    }
                    "Pod" => {
                        let p = referenced(v, Kind::Pod, &mut deps);
                        args.extend(["--pod".into(), p]);
                    }
                    "NoNewPrivileges" if is_true(v) => {
                        args.extend(["--security-opt".into(), "no-new-privileges".into()]);
                    }
                    "SeccompProfile" => {
                        args.extend(["--security-opt".into(), format!("seccomp={v}")])
                    }
                    "AutoUpdate" => {
                        args.extend(["--label".into(), format!("io.containers.autoupdate={v}")])
                    }
                    _ => {}
                }
            }
            match (get("User"), get("Group")) {
                (Some(u), Some(g)) => args.extend(["--user".into(), format!("{u}:{g}")]),
                (Some(u), None) => args.extend(["--user".into(), u]),
                (None, Some(_)) => return Err(fail("Group set without User".into())),
                (None, None) => {}
            }
            let notify = match get("Notify").as_deref() {
                Some("healthy") => "healthy",
                Some(v) if is_true(v) => "container",
                _ => "conmon",
            };
            let name = get("ContainerName").unwrap_or_else(|| "systemd-%N".into());
            let mut run = vec![
                exe.to_string(),
                "run".into(),
                "--name".into(),
                name,
                "--cidfile=%t/%N.cid".into(),
                "--replace".into(),
                "--rm".into(),
                format!("--sdnotify={notify}"),
                "-d".into(),
            ];
            run.extend(args);
            if let Some(extra) = get("PodmanArgs") {
                run.extend(words(&extra)?);
            }
            run.push(image);
            if let Some(exec) = get("Exec") {
                run.extend(words(&exec)?);
            }
            let rm = format!("{exe} rm -v -f -i --cidfile=%t/%N.cid");
            service.extend([
                format!("Environment={UNIT_ENV}=%n"),
                "KillMode=mixed".into(),
                format!("ExecStop={rm}"),
                format!("ExecStopPost=-{rm}"),
                "Delegate=yes".into(),
                "Type=notify".into(),
                "NotifyAccess=all".into(),
                "SyslogIdentifier=%N".into(),
                format!("ExecStart={}", command_line(&run)),
            ]);
        }
        Kind::Pod => {
            let name = get("PodName").unwrap_or_else(|| format!("systemd-{base}"));
            for (k, v) in &own {
                if k == "Network" {
                    let n = referenced(v, Kind::Network, &mut deps);
                    args.extend(["--network".into(), n]);
                }
            }
            let mut create = vec![
                exe.to_string(),
                "pod".into(),
                "create".into(),
                "--name".into(),
                name.clone(),
            ];
            create.extend(args);
            if let Some(extra) = get("PodmanArgs") {
                create.extend(words(&extra)?);
            }
            let q = quote_arg(&name);
            service.extend([
                format!("Environment={UNIT_ENV}=%n"),
                "Type=oneshot".into(),
                "RemainAfterExit=yes".into(),
                format!("ExecStartPre=-{exe} pod rm -f {q}"),
                format!("ExecStartPre={}", command_line(&create)),
                format!("ExecStart={exe} pod start {q}"),
                format!("ExecStop={exe} pod stop -t 10 {q}"),
                format!("ExecStopPost=-{exe} pod rm -f {q}"),
            ]);
        }
        Kind::Volume | Kind::Network => {
            let (noun, key) = if kind == Kind::Volume {
                ("volume", "VolumeName")
            } else {
                ("network", "NetworkName")
            };
            let name = get(key).unwrap_or_else(|| format!("systemd-{base}"));
            let mut create = vec![
                exe.to_string(),
                noun.into(),
                "create".into(),
                "--ignore".into(),
            ];
            create.extend(args);
            if let Some(opts) = get("Options").filter(|_| kind == Kind::Volume) {
                create.extend(["--opt".into(), opts]);
            }
            if let Some(extra) = get("PodmanArgs") {
                create.extend(words(&extra)?);
            }
            create.push(name);
            service.extend([
                "Type=oneshot".into(),
                "RemainAfterExit=yes".into(),
                format!("ExecStart={}", command_line(&create)),
            ]);
        }
        Kind::Kube => {
            let yaml = get("Yaml").ok_or_else(|| fail("no Yaml key specified".into()))?;
            let yaml = if Path::new(&yaml).is_absolute() {
                yaml
            } else {
                format!("{}/{yaml}", env.dir)
            };
            for (k, v) in &own {
                if k == "Network" {
                    let n = referenced(v, Kind::Network, &mut deps);
                    args.extend(["--network".into(), n]);
                }
            }
            let mut play = vec![
                exe.to_string(),
                "kube".into(),
                "play".into(),
                "--replace".into(),
            ];
            play.extend(args);
            if let Some(extra) = get("PodmanArgs") {
                play.extend(words(&extra)?);
            }
            play.push(yaml.clone());
            service.extend([
                format!("Environment={UNIT_ENV}=%n"),
                "Type=oneshot".into(),
                "RemainAfterExit=yes".into(),
                format!("ExecStart={}", command_line(&play)),
                format!("ExecStop={exe} kube down {}", quote_arg(&yaml)),
            ]);
        }
    }
    Ok(render(file, env, &sections, kind, base, &deps, &service))
}

fn command_line(words: &[String]) -> String {
    words
        .iter()
        .map(|w| quote_arg(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The unit: the file's own sections passed through (its description's
/// section left out), `[Unit]` with the source and the dependencies on the
/// volumes, networks and pods it names, `[Service]` with the commands.
fn render(
    file: &str,
    env: &Env,
    sections: &[Section],
    kind: Kind,
    base: &str,
    deps: &[String],
    service: &[String],
) -> Generated {
    let mut out = format!("# Automatically generated by skiff systemd-generator from {file}\n");
    fn of<'a>(
        sections: &'a [Section],
        name: &'a str,
    ) -> impl Iterator<Item = &'a (String, String)> {
        sections
            .iter()
            .filter(move |s| s.name == name)
            .flat_map(|s| s.entries.iter())
    }
    out.push_str("\n[Unit]\n");
    for (k, v) in of(sections, "Unit") {
        let _ = writeln!(out, "{k}={v}");
    }
    let _ = writeln!(out, "SourcePath={}/{file}", env.dir);
    if !deps.is_empty() {
        let _ = writeln!(out, "Requires={}\nAfter={}", deps.join(" "), deps.join(" "));
    }
    out.push_str("\n[Service]\n");
    for (k, v) in of(sections, "Service") {
        let _ = writeln!(out, "{k}={v}");
    }
    for line in service {
        let _ = writeln!(out, "{line}");
    }
    let mut wanted_by = Vec::new();
    let mut required_by = Vec::new();
    for s in sections
        .iter()
        .filter(|s| !matches!(s.name.as_str(), "Unit" | "Service") && s.name != kind.section())
    {
        let _ = write!(out, "\n[{}]\n", s.name);
        for (k, v) in &s.entries {
            let _ = writeln!(out, "{k}={v}");
            if s.name == "Install" {
                // Target names only, as Podman's quadlet takes them: a
                // value with a `/` would put links outside the output.
                let list = split_words(v)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|t| !t.contains('/'));
                match k.as_str() {
                    "WantedBy" => wanted_by.extend(list),
                    "RequiredBy" => required_by.extend(list),
                    _ => {}
                }
            }
        }
    }
    Generated {
        service: kind.service(base),
        text: out,
        wanted_by,
        required_by,
    }
}

/// The object names that `.volume`, `.network` and `.pod` files choose
/// (VolumeName=, NetworkName=, PodName=), by file name, for the references
/// of the others.
pub fn chosen_names(files: &[(String, String)]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (file, text) in files {
        let key = match Kind::of(file) {
            Some(Kind::Volume) => "VolumeName",
            Some(Kind::Network) => "NetworkName",
            Some(Kind::Pod) => "PodName",
            _ => continue,
        };
        if let Ok(sections) = parse_unit(text) {
            if let Some((_, v)) = sections
                .iter()
                .flat_map(|s| s.entries.iter())
                .rfind(|(k, _)| k == key)
            {
                out.insert(file.clone(), v.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        let mut run_flags = FlagTable::default();
        for f in [
            "env",
            "publish",
            "volume",
            "network",
            "pod",
            "user",
            "workdir",
            "label",
            "read-only",
            "env-file",
        ] {
            run_flags.long.insert(f.into(), true);
        }
        Env {
            executable: "/usr/bin/skiff".into(),
            run_flags,
            dir: "/home/u/.config/containers/systemd".into(),
        }
    }

    #[test]
    fn install_targets_with_a_slash_are_left_out() {
        let text = "[Container]\nImage=localhost/busybox\n\n[Install]\nWantedBy=default.target ../../../tmp/x\nRequiredBy=/etc/y a.target\n";
        let g = convert("w.container", text, &env(), &BTreeMap::new()).unwrap();
        assert_eq!(g.wanted_by, ["default.target"]);
        assert_eq!(g.required_by, ["a.target"]);
    }

    #[test]
    fn a_container_becomes_a_notify_service() {
        let text = "[Unit]\nDescription=Web\n\n[Container]\nImage=localhost/busybox\nExec=httpd -f -p 80 -h \"/w w\"\nPublishPort=8080:80\nVolume=data.volume:/data\nNetwork=appnet.network\nEnvironment=A=1 \"B=2 3\"\nAutoUpdate=registry\nPodmanArgs=--tmpfs /t\n\n[Service]\nRestart=always\n\n[Install]\nWantedBy=default.target multi-user.target\n";
        let mut names = BTreeMap::new();
        names.insert("appnet.network".to_string(), "app".to_string());
        let g = convert("web.container", text, &env(), &names).unwrap();
        assert_eq!(g.service, "web");
        assert_eq!(g.wanted_by, ["default.target", "multi-user.target"]);
        assert!(g.text.contains("\n[Unit]\nDescription=Web\nSourcePath=/home/u/.config/containers/systemd/web.container\nRequires=data-volume.service appnet-network.service\nAfter=data-volume.service appnet-network.service\n"), "{}", g.text);
        assert!(
            g.text.contains(
                "\n[Service]\nRestart=always\nEnvironment=PODMAN_SYSTEMD_UNIT=%n\nKillMode=mixed\n"
            ),
            "{}",
            g.text
        );
        assert!(
            g.text.contains("\nType=notify\nNotifyAccess=all\n"),
            "{}",
            g.text
        );
        let start = g
            .text
            .lines()
            .find(|l| l.starts_with("ExecStart="))
            .unwrap();
        assert_eq!(
            start,
            "ExecStart=/usr/bin/skiff run --name systemd-%N --cidfile=%t/%N.cid --replace --rm --sdnotify=conmon -d --publish 8080:80 --env A=1 --env \"B=2 3\" --volume systemd-data:/data --network app --label io.containers.autoupdate=registry --tmpfs /t localhost/busybox httpd -f -p 80 -h \"/w w\""
        );
        assert!(g
            .text
            .contains("\n[Install]\nWantedBy=default.target multi-user.target\n"));
        assert!(!g.text.contains("[Container]"));
    }

    #[test]
    fn bad_descriptions_are_one_line_each() {
        let e = convert(
            "a.container",
            "[Container]\nImage=x\nFoo=1\n",
            &env(),
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "converting \"a.container\": unsupported key 'Foo' in group 'Container' in /home/u/.config/containers/systemd/a.container");
        let e = convert(
            "a.container",
            "[Container]\nExec=true\n",
            &env(),
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "converting \"a.container\": no Image key specified"
        );
        let e = convert(
            "a.container",
            "[Container]\nImage=x\nHealthCmd=true\n",
            &env(),
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("needs --health-cmd"), "{e}");
        let e = convert("a.container", "Image=x\n", &env(), &BTreeMap::new()).unwrap_err();
        assert!(e.to_string().contains("outside any section"), "{e}");
    }

    #[test]
    fn volumes_networks_pods_and_kube() {
        let g = convert(
            "data.volume",
            "[Volume]\nLabel=a=b\n",
            &env(),
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(g.service, "data-volume");
        assert!(
            g.text.contains(
                "\nExecStart=/usr/bin/skiff volume create --ignore --label a=b systemd-data\n"
            ),
            "{}",
            g.text
        );
        let g = convert(
            "n.network",
            "[Network]\nNetworkName=app\nSubnet=10.9.0.0/24\nInternal=true\n",
            &env(),
            &BTreeMap::new(),
        )
        .unwrap();
        assert!(g.text.contains("ExecStart=/usr/bin/skiff network create --ignore --subnet 10.9.0.0/24 --internal app\n"), "{}", g.text);
        let g = convert(
            "p.pod",
            "[Pod]\nPublishPort=8080:80\n",
            &env(),
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(g.service, "p-pod");
        assert!(
            g.text.contains(
                "ExecStartPre=/usr/bin/skiff pod create --name systemd-p --publish 8080:80\n"
            ),
            "{}",
            g.text
        );
        let g = convert("k.kube", "[Kube]\nYaml=k.yaml\n", &env(), &BTreeMap::new()).unwrap();
        assert!(g.text.contains("ExecStart=/usr/bin/skiff kube play --replace /home/u/.config/containers/systemd/k.yaml\n"), "{}", g.text);
    }

    #[test]
    fn words_split_as_systemd_splits_them() {
        assert_eq!(
            split_words("a \"b c\" 'd e' f\\ g").unwrap(),
            ["a", "b c", "d e", "f g"]
        );
        assert!(split_words("\"open").is_err());
        assert_eq!(split_words("").unwrap(), Vec::<String>::new());
    }
}
