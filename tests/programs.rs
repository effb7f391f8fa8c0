//! Every program that skiff, its tests, `.ci/` and `bench/` run comes from a
//! package that `.ci/setup` installs, or from one that every Debian or Ubuntu
//! machine has (Essential, or priority required: what `debootstrap
//! --variant=minbase` and the `debian` container images hold).
//!
//! The programs are found in the sources: in Rust, the literal (or the
//! `const`) given to `Command::new`, `helper::find`, `helper::lookup`,
//! `find_in_path`, `apply_with_helper` and `helper_info`, plus [`INDIRECT`];
//! in the shell scripts, the first word of every command (and the command
//! after wrappers such as `runuser ... --`, `timeout N`, `env -i ...`). Each
//! is located on this machine and mapped to its package with `dpkg -S`; a
//! package counts as installed by `.ci/setup` when it is in its `PACKAGES`
//! or in what those depend on (so `cc`, from gcc-12, is covered by gcc).
//!
//! Needs a Debian-based machine (dpkg) where the programs are installed, as
//! after `.ci/setup`. Rust's own tools (cargo, from rustup) are not looked at.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where programs are looked up: the system directories, in the order a
/// root PATH has them; /usr/local is left out, as nothing there is packaged.
const SEARCH: &[&str] = &["/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/// Programs that the sources run through a variable the scanner cannot
/// follow: (program, the file that names it).
const INDIRECT: &[(&str, &str)] = &[
    // `for helper in ["fusermount3", "fusermount"]` then find_in_path(helper)
    ("fusermount3", "src/storage/fuse.rs"),
];

/// Names the scanner finds that are no program to install: (name, why).
const IGNORED: &[(&str, &str)] = &[
    ("/proc/self/exe", "skiff itself (src/container/launch.rs)"),
    (
        "no-such-program-skiff",
        "a unit test's missing program (src/storage/fuse.rs)",
    ),
    (
        "apt-get",
        "the installer .ci/setup uses (apt is priority important, or required, \
         depending on how the machine was installed; setup names it when missing)",
    ),
];

/// Programs that scripts use only when the machine happens to have them
/// (behind `command -v`), which .ci/setup therefore need not install.
const OPTIONAL: &[&str] = &[
    // bench/ compares skiff with podman where podman is installed and works.
    "podman",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The packages in `.ci/setup`'s `PACKAGES=( ... )`, comments removed.
fn setup_packages(setup: &str) -> BTreeSet<String> {
    setup_array(setup, "PACKAGES")
}

/// The words of the array `NAME=( ... )` in `.ci/setup`, comments removed.
fn setup_array(setup: &str, name: &str) -> BTreeSet<String> {
    let open = format!("\n{name}=(");
    let start = setup
        .find(&open)
        .unwrap_or_else(|| panic!(".ci/setup has no {name}=( line"))
        + open.len();
    let mut packages = BTreeSet::new();
    for line in setup[start..].lines() {
        let code = line.split('#').next().unwrap_or("");
        let (code, closed) = match code.split_once(')') {
            Some((c, _)) => (c, true),
            None => (code, false),
        };
        packages.extend(code.split_whitespace().map(str::to_string));
        if closed {
            return packages;
        }
    }
    panic!("{name}=( is not closed in .ci/setup");
}

/// The virtual environment `.ci/setup` installs PyPI clients into (its
/// `VENV=` line) and those clients (`VENV_PACKAGES`), each of which installs
/// a program of its own name into `$VENV/bin`.
fn setup_venv() -> (String, BTreeSet<String>) {
    let setup = fs::read_to_string(root().join(".ci/setup")).unwrap();
    let dir = setup
        .lines()
        .find_map(|l| l.strip_prefix("VENV="))
        .expect(".ci/setup has no VENV= line")
        .trim()
        .to_string();
    (dir, setup_array(&setup, "VENV_PACKAGES"))
}

/// A program in the system directories: its path, or None.
fn locate(name: &str) -> Option<PathBuf> {
    if name.starts_with('/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    if name.is_empty() || name.contains('/') || name.starts_with('-') {
        return None;
    }
    SEARCH
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// What dpkg knows about one installed package.
#[derive(Default)]
struct Package {
    essential: bool,
    priority: String,
    /// Pre-Depends and Depends, every alternative named, without versions.
    depends: Vec<String>,
}

/// Every installed package, read with one `dpkg-query` call.
fn database() -> &'static BTreeMap<String, Package> {
    static DB: OnceLock<BTreeMap<String, Package>> = OnceLock::new();
    DB.get_or_init(|| {
        let out = Command::new("dpkg-query")
            .args([
                "-W",
                "-f",
                "${db:Status-Status}\t${Package}\t${Essential}\t${Priority}\t${Pre-Depends}, ${Depends}\n",
            ])
            .output()
            .expect("run dpkg-query (the test needs a Debian-based machine)");
        assert!(out.status.success(), "dpkg-query -W failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f.len() == 5 && f[0] == "installed").then_some(())?;
                // "a (>= 1), b:any | c" -> a, b, c
                let depends = f[4]
                    .split([',', '|'])
                    .filter_map(|d| d.split_whitespace().next())
                    .map(|d| d.split(':').next().unwrap_or(d).to_string())
                    .collect();
                let p = Package {
                    essential: f[2] == "yes",
                    priority: f[3].to_string(),
                    depends,
                };
                Some((f[1].to_string(), p))
            })
            .collect()
    })
}

/// The spellings under which dpkg may know `path`: dpkg records the path a
/// package ships (before /usr was merged, /bin/ip is /usr/bin/ip), never an
/// alternatives link, so the path and its target, each with and without /usr.
fn spellings(path: &Path) -> Vec<PathBuf> {
    let mut tries = vec![path.to_path_buf()];
    if let Ok(real) = fs::canonicalize(path) {
        tries.push(real);
    }
    for p in tries.clone() {
        let s = p.to_string_lossy().into_owned();
        match s.strip_prefix("/usr") {
            Some(rest) => tries.push(PathBuf::from(rest)),
            None => tries.push(PathBuf::from(format!("/usr{s}"))),
        }
    }
    tries
}

/// The package owning each of `paths` that dpkg knows, from one `dpkg -S`.
fn owners(paths: &[PathBuf]) -> BTreeMap<PathBuf, String> {
    let all: BTreeSet<PathBuf> = paths.iter().flat_map(|p| spellings(p)).collect();
    // dpkg -S exits 1 when some path is unknown and still prints the others.
    let out = Command::new("dpkg")
        .arg("-S")
        .args(&all)
        .output()
        .expect("run dpkg -S");
    let mut known = BTreeMap::new();
    // "pkg: /path" or "pkg1, pkg2: /path"; "diversion by ..." lines are skipped.
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        if l.starts_with("diversion") {
            continue;
        }
        if let Some((pkgs, path)) = l.split_once(": ") {
            let first = pkgs.split(", ").next().unwrap_or(pkgs);
            let pkg = first.split(':').next().unwrap_or(first);
            known.insert(PathBuf::from(path), pkg.to_string());
        }
    }
    paths
        .iter()
        .filter_map(|p| {
            let pkg = spellings(p).iter().find_map(|s| known.get(s).cloned())?;
            Some((p.clone(), pkg))
        })
        .collect()
}

/// The listed packages and everything they depend on, as installed here.
fn closure(packages: &BTreeSet<String>) -> BTreeSet<String> {
    let db = database();
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = packages.iter().cloned().collect();
    while let Some(p) = todo.pop() {
        if !seen.insert(p.clone()) {
            continue;
        }
        if let Some(pkg) = db.get(&p) {
            todo.extend(pkg.depends.iter().filter(|d| !seen.contains(*d)).cloned());
        }
    }
    seen
}

/// Rust sources under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The first string literal in `text` before any ')' ends the call, or the
/// value of a `const NAME: &str = "..."` in `file` when the argument is NAME.
fn first_argument(text: &str, file: &str) -> Option<String> {
    let arg = text.trim_start();
    let program = |s: &str| {
        let ok = !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._+-/".contains(c));
        ok.then(|| s.to_string())
    };
    if let Some(rest) = arg.strip_prefix('"') {
        return rest.split('"').next().and_then(program);
    }
    let ident: String = arg
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if ident.is_empty() || !ident.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
        return None;
    }
    let decl = format!("const {ident}: &str = \"");
    let at = file.find(&decl)? + decl.len();
    file[at..].split('"').next().and_then(program)
}

/// Programs run by the Rust sources under src/ and tests/: (program, where).
fn rust_programs() -> Vec<(String, String)> {
    const CALLS: &[&str] = &[
        "Command::new(",
        "helper::find(",
        "helper::lookup(",
        "find_in_path(",
        "apply_with_helper(",
        "helper_info(",
    ];
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    rust_files(&root().join("tests"), &mut files);
    let mut found = Vec::new();
    for f in files {
        let text = fs::read_to_string(&f).unwrap();
        let rel = f.strip_prefix(root()).unwrap().display().to_string();
        for call in CALLS {
            for (at, _) in text.match_indices(call) {
                // A clap command definition names a subcommand, not a program.
                if *call == "Command::new(" && text[..at].ends_with("clap::") {
                    continue;
                }
                let after = &text[at + call.len()..];
                if let Some(p) = first_argument(after, &text) {
                    let line = text[..at].lines().count();
                    found.push((p, format!("{rel}:{line}")));
                }
            }
        }
    }
    for (p, file) in INDIRECT {
        let text = fs::read_to_string(root().join(file)).unwrap();
        assert!(
            text.contains(&format!("\"{p}\"")),
            "INDIRECT is stale: {file} no longer names \"{p}\""
        );
        found.push((p.to_string(), file.to_string()));
    }
    found
}

/// Words that start commands in a shell script and are not the script's
/// own functions: a light tokenizer that knows quotes, `$( )`, backquotes,
/// here-documents, comments, redirections and `for` word lists. Single-quoted
/// text (awk programs, commands run inside containers) is not looked into.
fn shell_commands(script: &str) -> Vec<(String, usize)> {
    // Here-document bodies and comment lines are dropped, line numbers kept.
    let mut lines = Vec::new();
    let mut heredoc: Option<String> = None;
    let mut joined: Vec<(usize, String)> = Vec::new();
    let mut continued = false;
    for (n, line) in script.lines().enumerate() {
        match joined.last_mut() {
            Some((_, last)) if continued => last.push_str(line),
            _ => joined.push((n, line.to_string())),
        }
        continued = line.ends_with('\\');
        if continued {
            joined.last_mut().unwrap().1.pop();
        }
    }
    for (n, line) in &joined {
        let (n, line) = (*n, line.as_str());
        if let Some(end) = &heredoc {
            if line.trim() == end {
                heredoc = None;
            }
            continue;
        }
        if let Some(at) = line.find("<<") {
            let tag: String = line[at + 2..]
                .trim_start_matches(['-', '~'])
                .trim_start()
                .trim_start_matches(['\'', '"'])
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !tag.is_empty() {
                heredoc = Some(tag);
            }
        }
        lines.push((n + 1, line));
    }
    // One text again, so that quotes may span lines; each character's line.
    let mut chars = Vec::new();
    let mut line_of = Vec::new();
    for (n, line) in lines {
        for c in line.chars().chain(['\n']) {
            chars.push(c);
            line_of.push(n);
        }
    }
    let mut words: Vec<(Vec<String>, usize)> = Vec::new();
    split_commands(&chars, 0, &line_of, &mut words);
    let functions: BTreeSet<String> = script
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let name = l.split("()").next()?;
            (l.contains("()") && !name.is_empty() && !name.contains(char::is_whitespace))
                .then(|| name.to_string())
        })
        .collect();
    let mut out = Vec::new();
    for (cmd, n) in words {
        command_programs(&cmd, &functions, n, &mut out);
    }
    out
}

/// Splits `chars` (which start at `base` in the script; `line_of` gives each
/// character's line) into simple commands, lists of words with the line they
/// start on, recursing into `$( )` and backquotes. Quoted text becomes a
/// marker that names no program.
fn split_commands(
    chars: &[char],
    base: usize,
    line_of: &[usize],
    out: &mut Vec<(Vec<String>, usize)>,
) {
    let mut cur: Vec<String> = Vec::new();
    let mut start = 0;
    let mut word = String::new();
    let mut i = 0;
    let flush_word = |word: &mut String, cur: &mut Vec<String>| {
        if !word.is_empty() {
            cur.push(std::mem::take(word));
        }
    };
    let end_command = |cur: &mut Vec<String>, start: usize, out: &mut Vec<_>| {
        if !cur.is_empty() {
            out.push((std::mem::take(cur), line_of[base + start]));
        }
    };
    while i < chars.len() {
        let c = chars[i];
        if cur.is_empty() && word.is_empty() {
            start = i;
        }
        match c {
            '\'' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&c| c == '\'')
                    .map_or(chars.len(), |p| i + 1 + p);
                word.push_str("'q'");
                i = end + 1;
                continue;
            }
            '"' => {
                let mut j = i + 1;
                while j < chars.len() && chars[j] != '"' {
                    if chars[j] == '\\' {
                        j += 1;
                    } else if chars[j] == '$' && chars.get(j + 1) == Some(&'(') {
                        let end = matching_paren(chars, j + 1);
                        let inner = &chars[(j + 2).min(end)..end];
                        split_commands(inner, base + j + 2, line_of, out);
                        j = end;
                    }
                    j += 1;
                }
                word.push_str("\"q\"");
                i = j + 1;
                continue;
            }
            '$' if chars.get(i + 1) == Some(&'{') => {
                // ${...}: a parameter expansion, part of the word.
                let end = chars[i..]
                    .iter()
                    .position(|&c| c == '}')
                    .map_or(chars.len(), |p| i + p);
                word.push_str("$q");
                i = end + 1;
                continue;
            }
            '$' if chars.get(i + 1) == Some(&'(') => {
                let end = matching_paren(chars, i + 1);
                let inner = &chars[(i + 2).min(end)..end];
                split_commands(inner, base + i + 2, line_of, out);
                word.push_str("$q");
                i = end + 1;
                continue;
            }
            '`' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&c| c == '`')
                    .map_or(chars.len(), |p| i + 1 + p);
                split_commands(&chars[i + 1..end], base + i + 1, line_of, out);
                word.push_str("$q");
                i = end + 1;
                continue;
            }
            '\\' => {
                word.push('\\');
                i += 2;
                continue;
            }
            '#' if word.is_empty() => {
                // A comment, to the end of the line.
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            ' ' | '\t' => flush_word(&mut word, &mut cur),
            '(' if word.ends_with('=') => {
                // NAME=( ... ): an array of words, not commands.
                i = matching_paren(chars, i) + 1;
                word.push_str("()");
                continue;
            }
            '\n' | ';' | '|' | '&' | '(' | ')' | '{' | '}' => {
                flush_word(&mut word, &mut cur);
                end_command(&mut cur, start, out);
            }
            '<' | '>' => {
                // A redirection: the next word is a file, not a command.
                flush_word(&mut word, &mut cur);
                while i + 1 < chars.len() && matches!(chars[i + 1], '<' | '>' | '&') {
                    i += 1;
                }
                word.push_str(">q");
            }
            _ => word.push(c),
        }
        i += 1;
    }
    flush_word(&mut word, &mut cur);
    end_command(&mut cur, start, out);
}

/// The index of the ')' that closes the '(' at `open`.
fn matching_paren(chars: &[char], open: usize) -> usize {
    let mut depth = 0;
    for (k, &c) in chars.iter().enumerate().skip(open) {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return k;
                }
            }
            _ => {}
        }
    }
    chars.len()
}

/// The programs one simple command runs.
fn command_programs(
    cmd: &[String],
    functions: &BTreeSet<String>,
    n: usize,
    out: &mut Vec<(String, usize)>,
) {
    const KEYWORDS: &[&str] = &[
        "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "in", "esac",
        "[[", "]]", "function", "local", "export", "declare", "readonly", "time",
    ];
    // Wrappers whose later words name the program they run.
    const WRAPPERS: &[&str] = &[
        "exec", "runuser", "setpriv", "sudo", "env", "timeout", "nice", "ionice", "xargs", "nohup",
        "setsid", "unshare", "nsenter", "chroot",
    ];
    let mut words = cmd.iter().map(String::as_str).peekable();
    let mut after_wrapper = false;
    let mut after_function = false;
    while let Some(w) = words.next() {
        if w == "for" || w == "case" || w == "select" {
            return; // a word list or a case subject, not a command
        }
        if KEYWORDS.contains(&w) || w.contains('=') && !after_wrapper && !w.starts_with('=') {
            continue; // keywords and leading assignments
        }
        if w == "command" {
            if words.peek().is_some_and(|n| n.starts_with('-')) {
                return; // command -v NAME: a presence check
            }
            continue;
        }
        if after_function && locate(w).is_none() {
            return; // show skiff ps: the function runs skiff, not ps
        }
        if after_wrapper && (w.starts_with('-') || w.contains('=') || locate(w).is_none()) {
            continue; // options, their values, variables
        }
        if functions.contains(w) {
            // The script's own function; a wrapper-like one (as_user, show)
            // runs its first argument, which is looked at next.
            after_function = true;
            continue;
        }
        after_function = false;
        if !is_builtin(w) && !w.contains(['"', '\'', '$', '>', '*', '?', '[']) {
            out.push((w.to_string(), n));
        }
        if WRAPPERS.contains(&w) {
            after_wrapper = true;
            continue;
        }
        return;
    }
}

/// Whether bash runs `word` itself (a builtin or a keyword).
fn is_builtin(word: &str) -> bool {
    static BUILTINS: OnceLock<BTreeSet<String>> = OnceLock::new();
    BUILTINS
        .get_or_init(|| {
            let out = Command::new("bash")
                .args(["-c", "compgen -b; compgen -k"])
                .output()
                .expect("run bash");
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_string)
                .collect()
        })
        .contains(word)
}

/// Programs run by the scripts in .ci/ and bench/: (program, where).
fn script_programs() -> Vec<(String, String)> {
    let mut found = Vec::new();
    for dir in [".ci", "bench"] {
        let mut entries: Vec<PathBuf> = fs::read_dir(root().join(dir))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        entries.sort();
        for f in entries {
            let text = fs::read_to_string(&f).unwrap();
            if !text.starts_with("#!") || !text.lines().next().unwrap().contains("sh") {
                continue;
            }
            let rel = f.strip_prefix(root()).unwrap().display().to_string();
            for (p, n) in shell_commands(&text) {
                found.push((p, format!("{rel}:{n}")));
            }
        }
    }
    found
}

/// What is wrong with `programs` given the packages `.ci/setup` installs:
/// one line per program whose package is neither installed by setup nor on
/// every machine. `strict`: a program not installed here is an error too.
fn problems(
    packages: &BTreeSet<String>,
    programs: &[(String, String)],
    strict: bool,
) -> Vec<String> {
    let listed = closure(packages);
    let (venv, venv_packages) = setup_venv();
    let mut by_program: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut bad = Vec::new();
    for (p, at) in programs {
        // A PyPI client in .ci/setup's virtual environment: listed there,
        // and installed here when the check is strict.
        if let Some(name) = p.strip_prefix(&format!("{venv}/bin/")) {
            if !venv_packages.contains(name) {
                bad.push(format!(
                    "{p} (run at {at}) is in {venv} but .ci/setup's VENV_PACKAGES does not install {name}"
                ));
            } else if strict && locate(p).is_none() {
                bad.push(format!(
                    "{p} (run at {at}) is not installed here: run .ci/setup"
                ));
            }
            continue;
        }
        if !OPTIONAL.contains(&p.as_str()) && !IGNORED.iter().any(|(q, _)| q == p) {
            by_program.entry(p).or_default().push(at);
        }
    }
    let located: BTreeMap<&str, PathBuf> = by_program
        .keys()
        .filter_map(|p| Some((*p, locate(p)?)))
        .collect();
    let paths: Vec<PathBuf> = located.values().cloned().collect();
    let owner = owners(&paths);
    let db = database();
    for (p, places) in by_program {
        let places = places.join(", ");
        let Some(path) = located.get(p) else {
            if strict {
                bad.push(format!(
                    "{p} (run at {places}) is not installed here, so its package is unknown"
                ));
            }
            continue;
        };
        let Some(pkg) = owner.get(path) else {
            bad.push(format!(
                "{p} ({}, run at {places}) belongs to no Debian package",
                path.display()
            ));
            continue;
        };
        let (essential, priority) = db
            .get(pkg)
            .map_or((false, ""), |d| (d.essential, d.priority.as_str()));
        if !(essential || priority == "required" || listed.contains(pkg)) {
            bad.push(format!(
                "{p} (run at {places}) comes from package {pkg} ({priority}), \
                 which .ci/setup's PACKAGES does not install"
            ));
        }
    }
    bad
}

/// The packages `.ci/setup` installs.
fn packages() -> BTreeSet<String> {
    setup_packages(&fs::read_to_string(root().join(".ci/setup")).unwrap())
}

#[test]
fn rust_sources_run_only_programs_that_setup_installs() {
    let programs = rust_programs();
    // The scanner sees the programs it must: a scanner that finds nothing
    // passes everything.
    for p in [
        "nft",
        "ip",
        "pasta",
        "slirp4netns",
        "newuidmap",
        "htpasswd",
        "cc",
        "/opt/skiff-venv/bin/kubernetes-validate",
    ] {
        assert!(
            programs.iter().any(|(q, _)| q == p),
            "the scanner no longer finds {p}: {programs:?}"
        );
    }
    let bad = problems(&packages(), &programs, true);
    assert!(bad.is_empty(), "\n{}", bad.join("\n"));
}

#[test]
fn scripts_run_only_programs_that_setup_installs() {
    let programs = script_programs();
    for p in ["pgrep", "ps", "curl", "runuser", "sysctl"] {
        assert!(
            programs.iter().any(|(q, _)| q == p),
            "the scanner no longer finds {p}: {programs:?}"
        );
    }
    // A word that names no program here is not one (a skiff subcommand, a
    // case pattern); Rust's own literals are held to stricter account above.
    let bad = problems(&packages(), &programs, false);
    assert!(bad.is_empty(), "\n{}", bad.join("\n"));
}

#[test]
fn the_check_fails_when_setup_leaves_a_package_out() {
    let mut programs = rust_programs();
    programs.extend(script_programs());
    for (pkg, program) in [("nftables", "nft"), ("procps", "pgrep"), ("curl", "curl")] {
        let mut without = packages();
        assert!(without.remove(pkg), ".ci/setup does not list {pkg}");
        let bad = problems(&without, &programs, false);
        assert!(
            bad.iter()
                .any(|l| l.starts_with(&format!("{program} ")) && l.contains(pkg)),
            "without {pkg} in PACKAGES the check did not name {program}: {bad:?}"
        );
    }
}

#[test]
fn a_venv_program_that_setup_does_not_list_is_named() {
    let (venv, _) = setup_venv();
    let program = format!("{venv}/bin/not-a-listed-client");
    let bad = problems(
        &packages(),
        &[(program.clone(), "tests/x.rs".to_string())],
        false,
    );
    assert!(
        bad.len() == 1 && bad[0].starts_with(&program) && bad[0].contains("VENV_PACKAGES"),
        "{bad:?}"
    );
}

#[test]
fn shell_tokenizer_finds_commands() {
    let script = "#!/bin/bash\n\
        say() { printf '%s' \"$1\"; }\n\
        x=$(pgrep -u me) && ps -o pid | awk '{print $1}'\n\
        as_user() { runuser -u u -- env -i A=1 \"$@\"; }\n\
        show() { :; }\n\
        show skiff run busybox sh -c 'curl inside a container'\n\
        show skiff ps\n\
        for t in curl python3; do command -v \"$t\"; done\n\
        cat >f <<'EOF'\nwget inside a here-document\nEOF\n\
        timeout 5 nft list ruleset # nc in a comment\n\
        LIST=(gcc\n  wget # a package\n)\n\
        r='echo\nnetstat -ltn in a container'\n";
    let got: Vec<String> = shell_commands(script).into_iter().map(|(p, _)| p).collect();
    for want in [
        "pgrep", "ps", "awk", "runuser", "env", "nft", "timeout", "cat",
    ] {
        assert!(got.iter().any(|g| g == want), "{want} missing from {got:?}");
    }
    for not in [
        "curl", "wget", "nc", "python3", "say", "show", "print", "gcc", "netstat",
    ] {
        assert!(!got.iter().any(|g| g == not), "{not} wrongly in {got:?}");
    }
}
