//! `.containerignore` / `.dockerignore`: which paths of the build context
//! the build may see, with the semantics of moby/patternmatcher (what
//! Docker, BuildKit and buildah use):
//!
//! - one pattern a line; a line starting with `#` is a comment; blanks
//!   around a pattern are dropped; the pattern is cleaned like Go's
//!   `filepath.Clean` and a leading `/` removed (`/a/../b` is `b`);
//! - `*` is any run of characters but `/`, `?` one character but `/`,
//!   `[a-z]` / `[^a-z]` a class, `\` escapes; `**` is any number of
//!   directories (also none), `**` at the end matches everything below;
//! - a pattern that matches a directory excludes everything under it;
//! - `!pattern` re-includes what it matches; the last matching line wins.
//!
//! The patterns are compiled to regular expressions exactly as
//! patternmatcher does; `globset` is not used because its `**` and escape
//! rules differ (it refuses `a**b`, which Docker accepts).

use regex::Regex;

use super::Error;

/// Go's `filepath.Clean` on a slash path: no `.` parts, `..` folded, no
/// repeated or trailing slashes; "" becomes ".".
pub fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

#[derive(Debug, Clone)]
enum Match {
    Exact,
    /// `foo**`: everything that starts with the text before `**`.
    Prefix(String),
    /// `**foo` / `**/foo`: everything that ends with the text after `**`.
    Suffix(String),
    Regex(Regex),
}

#[derive(Debug, Clone)]
struct Pattern {
    text: String,
    exclusion: bool,
    matcher: Match,
}

impl Pattern {
    fn new(text: &str, exclusion: bool) -> Option<Pattern> {
        Some(Pattern {
            text: text.to_string(),
            exclusion,
            matcher: compile(text)?,
        })
    }

    fn matches(&self, path: &str) -> bool {
        match &self.matcher {
            Match::Exact => path == self.text,
            Match::Prefix(p) => path.starts_with(p.as_str()),
            Match::Suffix(s) => {
                path.ends_with(s.as_str()) || (s.starts_with('/') && path == &s[1..])
            }
            Match::Regex(re) => re.is_match(path),
        }
    }
}

/// patternmatcher's `compile`: the same match kinds and regular expression.
fn compile(pattern: &str) -> Option<Match> {
    #[derive(PartialEq)]
    enum Kind {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let mut re = String::from("^");
    let mut kind = Kind::Exact;
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut first = true;
    // Inside `[...]`: `^` first negates, `-` makes ranges, the rest is literal.
    let mut class: Option<usize> = None;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        if let Some(start) = class {
            match ch {
                ']' => {
                    re.push(']');
                    class = None;
                }
                '^' if i - 1 == start => re.push('^'),
                '-' => re.push('-'),
                '\\' => match chars.get(i) {
                    Some(n) => {
                        re.push_str(&regex::escape(&n.to_string()));
                        i += 1;
                    }
                    None => return None,
                },
                c => re.push_str(&regex::escape(&c.to_string())),
            }
            first = false;
            continue;
        }
        match ch {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i >= chars.len() {
                    if kind == Kind::Exact {
                        kind = Kind::Prefix;
                    } else {
                        re.push_str(".*");
                        kind = Kind::Regex;
                    }
                } else {
                    re.push_str("(.*/)?");
                    kind = Kind::Regex;
                }
                if first {
                    kind = Kind::Suffix;
                }
            }
            '*' => {
                re.push_str("[^/]*");
                kind = Kind::Regex;
            }
            '?' => {
                re.push_str("[^/]");
                kind = Kind::Regex;
            }
            '\\' => {
                match chars.get(i) {
                    Some(n) => {
                        re.push_str(&regex::escape(&n.to_string()));
                        i += 1;
                    }
                    // filepath.Match refuses a trailing backslash.
                    None => return None,
                }
                kind = Kind::Regex;
            }
            '[' => {
                re.push('[');
                class = Some(i);
                kind = Kind::Regex;
            }
            ']' => {
                re.push_str("\\]");
                kind = Kind::Regex;
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
        first = false;
    }
    // Go's filepath.Match would reject the pattern: an unclosed class.
    if class.is_some() {
        return None;
    }
    let compiled = Regex::new(&format!("{re}$")).ok()?;
    Some(match kind {
        Kind::Exact => Match::Exact,
        Kind::Prefix => Match::Prefix(pattern[..pattern.len() - 2].to_string()),
        Kind::Suffix => Match::Suffix(pattern[2..].to_string()),
        Kind::Regex => Match::Regex(compiled),
    })
}

/// The compiled patterns of an ignore file.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    patterns: Vec<Pattern>,
}

impl Ignore {
    /// Reads an ignore file's text (moby's `ignorefile.ReadAll`); `name` is
    /// used in the error for a line that is not a valid pattern.
    pub fn parse(name: &str, text: &str) -> Result<Ignore, Error> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut patterns = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.starts_with('#') {
                continue;
            }
            let mut p = line.trim();
            if p.is_empty() {
                continue;
            }
            let exclusion = p.starts_with('!');
            if exclusion {
                p = p[1..].trim();
            }
            let bad = || Error::IgnorePattern {
                file: name.to_string(),
                line: n + 1,
                pattern: line.trim().to_string(),
            };
            if p.is_empty() {
                return Err(bad());
            }
            let mut cleaned = clean(p);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
            patterns.push(Pattern::new(&cleaned, exclusion).ok_or_else(bad)?);
        }
        Ok(Ignore { patterns })
    }

    /// True when no pattern is present.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// True when the path (relative to the context, slash-separated) is
    /// excluded: it or one of its parent directories matches a pattern,
    /// and no later `!` pattern matches it or a parent (patternmatcher's
    /// `MatchesOrParentMatches`).
    pub fn excluded(&self, rel_path: &str) -> bool {
        let path = clean(rel_path.trim_start_matches('/'));
        if path == "." {
            return false;
        }
        let parents: Vec<&str> = match path.rfind('/') {
            Some(p) => path[..p].split('/').collect(),
            None => Vec::new(),
        };
        let mut matched = false;
        for pat in &self.patterns {
            if pat.exclusion != matched {
                continue;
            }
            let mut hit = pat.matches(&path);
            if !hit {
                let mut prefix = String::new();
                for (i, dir) in parents.iter().enumerate() {
                    if i > 0 {
                        prefix.push('/');
                    }
                    prefix.push_str(dir);
                    if pat.matches(&prefix) {
                        hit = true;
                        break;
                    }
                }
            }
            if hit {
                matched = !pat.exclusion;
            }
        }
        matched
    }

    /// True when the build may see the path: the opposite of
    /// [`Ignore::excluded`]. The context root (`.`) is always included.
    pub fn included(&self, rel_path: &str) -> bool {
        !self.excluded(rel_path)
    }

    /// Whether a walk of the context must enter directory `rel_dir`: when
    /// it is included, or when it is excluded but a `!` pattern may
    /// re-include something below it (`build/` excluded, `!build/keep.txt`
    /// kept). Errs on the side of walking: a `!` pattern with `**` before
    /// or at the directory's depth always walks.
    pub fn walk_dir(&self, rel_dir: &str) -> bool {
        if self.included(rel_dir) {
            return true;
        }
        let dir = clean(rel_dir.trim_start_matches('/'));
        let parts: Vec<&str> = dir.split('/').collect();
        self.patterns
            .iter()
            .filter(|p| p.exclusion)
            .any(|p| may_match_below(&p.text, &parts))
    }
}

/// Could `pattern` match a path strictly below the directory `dir`?
fn may_match_below(pattern: &str, dir: &[&str]) -> bool {
    let pat: Vec<&str> = pattern.split('/').collect();
    for (i, d) in dir.iter().enumerate() {
        let Some(p) = pat.get(i) else {
            return false;
        };
        if p.contains("**") {
            return true;
        }
        match Pattern::new(p, false) {
            Some(one) if one.matches(d) => {}
            _ => return false,
        }
    }
    pat.len() > dir.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ig(text: &str) -> Ignore {
        Ignore::parse(".dockerignore", text).unwrap()
    }

    #[test]
    fn clean_like_go() {
        for (i, o) in [
            ("", "."),
            (".", "."),
            ("a/./b", "a/b"),
            ("a//b/", "a/b"),
            ("a/../b", "b"),
            ("../a", "../a"),
            ("a/../..", ".."),
            ("/../a", "/a"),
            ("/", "/"),
            ("./a/b/../c", "a/c"),
        ] {
            assert_eq!(clean(i), o, "{i}");
        }
    }

    #[test]
    fn simple_globs() {
        let i = ig("*.md\n!README.md\ntemp?\n/secret\n# comment\n  \nbuild/\n");
        assert!(i.excluded("notes.md"));
        assert!(i.included("README.md"));
        assert!(i.included("docs/notes.md"), "* does not cross /");
        assert!(i.excluded("temp1"));
        assert!(i.included("temp12"));
        assert!(i.excluded("secret"));
        assert!(
            i.excluded("secret/key"),
            "a matched directory hides its contents"
        );
        assert!(i.excluded("build"));
        assert!(i.excluded("build/out/x.o"));
        assert!(i.included("src/main.rs"));
        assert!(i.included("."));
        assert!(i.included("# comment"));
    }

    #[test]
    fn double_star() {
        let i = ig("**/*.go\n");
        assert!(i.excluded("a.go"));
        assert!(i.excluded("x/y/z.go"));
        assert!(i.included("x/y/z.rs"));
        let i = ig("a/**/b\n");
        assert!(i.excluded("a/b"));
        assert!(i.excluded("a/x/y/b"));
        assert!(i.excluded("a/x/b/c"), "b's contents too");
        assert!(i.included("a/xb"));
        let i = ig("dist**\n");
        assert!(i.excluded("dist"));
        assert!(i.excluded("distribution"));
        assert!(i.excluded("dist/a/b"));
        let i = ig("**\n!keep\n");
        assert!(i.excluded("a/b"));
        assert!(i.included("keep"));
        let i = ig("**foo\n");
        assert!(i.excluded("barfoo"));
        assert!(i.excluded("a/foo"));
        let i = ig("a**b\n");
        assert!(i.excluded("a/x/b"));
        assert!(i.excluded("ab"));
    }

    #[test]
    fn exceptions_and_order() {
        let i = ig("*\n!src\nsrc/*.tmp\n");
        assert!(i.excluded("Makefile"));
        assert!(i.included("src"));
        assert!(i.included("src/main.c"));
        assert!(i.excluded("src/x.tmp"));
        // The last matching line wins.
        let i = ig("!a.txt\n*.txt\n");
        assert!(i.excluded("a.txt"));
        // An exception below an excluded directory re-includes that file only.
        let i = ig("node_modules\n!node_modules/keep/**\n");
        assert!(i.excluded("node_modules/other/x.js"));
        assert!(i.included("node_modules/keep/x.js"));
    }

    #[test]
    fn classes_and_escapes() {
        let i = ig("[abc].txt\n[^x]y\nq\\*\n");
        assert!(i.excluded("a.txt"));
        assert!(i.included("d.txt"));
        assert!(i.excluded("zy"));
        assert!(i.included("xy"));
        assert!(i.excluded("q*"));
        assert!(i.included("qq"));
        let i = ig("a.b\n(x)|y\n");
        assert!(i.excluded("a.b"));
        assert!(i.included("axb"), ". is literal");
        assert!(i.excluded("(x)|y"));
    }

    #[test]
    fn cleaning_and_leading_slash() {
        let i = ig("/a/../b\n./c/\n!/d\n");
        assert!(i.excluded("b"));
        assert!(i.excluded("c/x"));
        assert!(i.excluded("/b"), "the path is cleaned too");
        assert!(i.excluded("./b/"));
    }

    #[test]
    fn bad_patterns_name_the_line() {
        for text in ["ok\n[abc\n", "ok\n!\n", "ok\nabc\\\n"] {
            let e = Ignore::parse(".dockerignore", text)
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with(".dockerignore:2: invalid ignore pattern"),
                "{e}"
            );
        }
    }

    #[test]
    fn directory_pruning() {
        let i = ig("build\n!build/keep.txt\nvendor\ntmp\n!**/*.keep\n");
        assert!(!i.included("build"));
        assert!(i.walk_dir("build"), "an exception lives below build/");
        assert!(i.included("build/keep.txt"));
        assert!(i.excluded("build/other.txt"));
        assert!(i.walk_dir("vendor"), "**/*.keep may match below vendor/");
        let i = ig("build\n!build/keep/x\nvendor\n");
        assert!(
            !i.walk_dir("vendor"),
            "nothing can be re-included below vendor/"
        );
        assert!(i.walk_dir("build"));
        assert!(i.walk_dir("build/keep"));
        assert!(!i.walk_dir("build/other"));
        assert!(i.walk_dir("src"), "included directories are walked");
        let i = ig("a\n!a/*/c\n");
        assert!(i.walk_dir("a/b"));
        assert!(i.excluded("a/b/d"));
        assert!(i.included("a/b/c"));
    }
}
