//! The Containerfile's lines: parser directives, comments, line
//! continuations and heredocs, turned into one [`Node`] per instruction with
//! its keyword, its `--flags` and the rest of its text. What each
//! instruction's arguments mean is `instruction.rs`'s business.
//!
//! The rules are BuildKit's `frontend/dockerfile/parser` (which buildah uses
//! too): directives only before anything else, a comment line inside a
//! continuation is dropped, an empty continuation line is dropped with a
//! warning, leading blanks of continued lines are kept, a continuation at the
//! end of the file ends the instruction.

use super::substitute::{no_vars, Lexer};
use super::{Error, What};

/// A parsed Containerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The name errors use (`Containerfile`, `docker/Dockerfile.prod`).
    pub name: String,
    /// The escape and line-continuation character, `\` or `` ` ``.
    pub escape: char,
    /// The `# syntax=` directive's value; skiff has one front end and ignores
    /// it (the caller prints a note).
    pub syntax: Option<String>,
    pub nodes: Vec<Node>,
    /// Non-fatal findings, one line each (empty continuation lines).
    pub warnings: Vec<String>,
}

/// One instruction as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// First line (1-based) of the instruction.
    pub line: usize,
    /// The instruction keyword, upper-cased (`RUN`).
    pub keyword: String,
    /// Leading `--name[=value]` words, quotes and escapes removed.
    pub flags: Vec<String>,
    /// The text after the keyword and flags, trimmed.
    pub args: String,
    /// The instruction on one line, continuations joined, as buildah prints
    /// it in `STEP n/m: ...` and records it in history.
    pub original: String,
    /// Heredoc bodies in the order their markers appear.
    pub heredocs: Vec<Heredoc>,
}

/// A heredoc attached to an instruction (`RUN <<EOF`, `COPY <<-"EOF" /x`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word, quotes removed (`EOF`).
    pub name: String,
    /// The file descriptor written before `<<` (`3<<EOF`), 0 when none.
    pub fd: u32,
    /// False when any part of the delimiter was quoted: the body is then
    /// taken literally, never expanded.
    pub expand: bool,
    /// `<<-`: leading tabs are stripped from the body and the delimiter line.
    pub chomp: bool,
    /// The body, every line with its newline, tabs already stripped for `<<-`.
    pub content: String,
}

/// The keywords that may carry heredocs (BuildKit's `heredocDirectives`).
fn heredoc_keyword(k: &str) -> bool {
    matches!(k, "ADD" | "COPY" | "RUN")
}

/// Tracks the parser directives at the top of the file.
struct Directives {
    done: bool,
    seen: Vec<String>,
}

impl Directives {
    /// A directive found on this line: (name, value). Directives end at the
    /// first line that is not a `# key=value` comment with a known key.
    fn parse(&mut self, line: &str) -> Result<Option<(String, String)>, What> {
        if self.done {
            return Ok(None);
        }
        let Some(rest) = line.strip_prefix('#') else {
            self.done = true;
            return Ok(None);
        };
        let rest = rest.trim_start();
        let parsed = rest.split_once('=').and_then(|(k, v)| {
            let k = k.trim_end();
            let v = v.trim();
            let mut cs = k.chars();
            let ok = cs.next().is_some_and(|c| c.is_ascii_alphabetic())
                && cs.all(|c| c.is_ascii_alphanumeric())
                && !v.is_empty();
            ok.then(|| (k.to_ascii_lowercase(), v.to_string()))
        });
        let Some((key, value)) = parsed else {
            self.done = true;
            return Ok(None);
        };
        if !matches!(key.as_str(), "syntax" | "escape" | "check") {
            self.done = true;
            return Ok(None);
        }
        if self.seen.contains(&key) {
            return Err(What::DuplicateDirective(key));
        }
        self.seen.push(key.clone());
        Ok(Some((key, value)))
    }
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Removes a trailing continuation character (and blanks after it) unless
/// it is itself escaped; true when the line continues.
fn trim_continuation(line: &str, escape: char) -> (String, bool) {
    let t = line.trim_end_matches([' ', '\t']);
    if let Some(before) = t.strip_suffix(escape) {
        if before.is_empty() || !before.ends_with(escape) {
            return (before.to_string(), true);
        }
    }
    (line.to_string(), false)
}

/// Splits `text` into lines, each without its `\n` (and `\r`).
fn lines(text: &str) -> Vec<&str> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut v: Vec<&str> = text.split('\n').collect();
    if text.ends_with('\n') {
        v.pop();
    }
    v.into_iter()
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect()
}

/// Parses a Containerfile. `name` is used in error messages
/// (`Containerfile:7: unknown instruction: FOO`). Instruction keywords are
/// checked here; their arguments by [`super::instruction::parse`].
pub fn parse(name: &str, text: &str) -> Result<Dockerfile, Error> {
    let at = |line: usize, what: What| Error::At {
        file: name.to_string(),
        line,
        what,
    };
    let lines = lines(text);
    let mut directives = Directives {
        done: false,
        seen: Vec::new(),
    };
    let mut escape = '\\';
    let mut syntax = None;
    let mut nodes = Vec::new();
    let mut warnings = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let lineno = i + 1;
        let first = lines[i].trim_start();
        i += 1;
        match directives.parse(first).map_err(|w| at(lineno, w))? {
            Some((k, v)) if k == "escape" => {
                if v != "\\" && v != "`" {
                    return Err(at(lineno, What::BadEscape(v)));
                }
                escape = v.chars().next().unwrap_or('\\');
                continue;
            }
            Some((k, v)) if k == "syntax" => {
                syntax = Some(v);
                continue;
            }
            Some(_) => continue,
            None => {}
        }
        if is_comment(first) {
            continue;
        }
        let (mut joined, mut more) = trim_continuation(first, escape);
        if !more && joined.trim().is_empty() {
            continue;
        }
        let mut empty_continuation = false;
        while more && i < lines.len() {
            let l = lines[i];
            i += 1;
            if is_comment(l) {
                continue;
            }
            if l.trim().is_empty() {
                empty_continuation = true;
                continue;
            }
            let (t, m) = trim_continuation(l, escape);
            joined.push_str(&t);
            more = m;
        }
        let original = joined.trim().to_string();
        if original.is_empty() {
            continue;
        }
        if empty_continuation {
            warnings.push(format!(
                "{name}:{lineno}: empty continuation line found in: {original}"
            ));
        }
        let mut node = split_node(&original, escape).map_err(|w| at(lineno, w))?;
        node.line = lineno;
        let target_kw = heredoc_target(&node, escape);
        if heredoc_keyword(&target_kw) && !looks_json(&node.args) && original.contains("<<") {
            for mut doc in heredocs_in(&original) {
                let mut content = String::new();
                let mut done = false;
                while i < lines.len() {
                    let l = lines[i];
                    i += 1;
                    let cmp = if doc.chomp {
                        l.trim_start_matches('\t')
                    } else {
                        l
                    };
                    if cmp == doc.name {
                        done = true;
                        break;
                    }
                    content.push_str(if doc.chomp { cmp } else { l });
                    content.push('\n');
                }
                if !done {
                    return Err(at(lineno, What::UnterminatedHeredoc));
                }
                doc.content = content;
                node.heredocs.push(doc);
            }
        }
        nodes.push(node);
    }
    if nodes.is_empty() {
        return Err(Error::Empty {
            file: name.to_string(),
        });
    }
    Ok(Dockerfile {
        name: name.to_string(),
        escape,
        syntax,
        nodes,
        warnings,
    })
}

/// The keyword whose heredoc rules apply: ONBUILD's trigger for ONBUILD.
fn heredoc_target(node: &Node, escape: char) -> String {
    if node.keyword == "ONBUILD" {
        return split_node(&node.args, escape)
            .map(|n| n.keyword)
            .unwrap_or_default();
    }
    node.keyword.clone()
}

/// True when `args` is a JSON array of strings (exec form), which never
/// carries heredocs.
fn looks_json(args: &str) -> bool {
    let t = args.trim_start();
    t.starts_with('[') && serde_json::from_str::<Vec<String>>(t).is_ok()
}

/// Splits one joined instruction line into keyword, flags and arguments
/// (BuildKit's `splitCommand` and `extractBuilderFlags`).
pub(crate) fn split_node(line: &str, escape: char) -> Result<Node, What> {
    let line = line.trim();
    let (kw, rest) = match line.find(|c: char| c.is_whitespace()) {
        Some(p) => (&line[..p], line[p..].trim_start()),
        None => (line, ""),
    };
    let (args, flags) = builder_flags(rest, escape);
    Ok(Node {
        line: 0,
        keyword: kw.to_ascii_uppercase(),
        flags,
        args: args.trim().to_string(),
        original: line.to_string(),
        heredocs: Vec::new(),
    })
}

/// Takes the leading `--flag` words off `line`; gives the rest and the
/// flags with their quotes and escapes removed. A bare `--` ends the flags.
fn builder_flags(line: &str, escape: char) -> (String, Vec<String>) {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut flags = Vec::new();
    let mut i = 0;
    loop {
        while i < chars.len() && chars[i].1.is_whitespace() {
            i += 1;
        }
        if i >= chars.len() {
            return (String::new(), flags);
        }
        let start = chars[i].0;
        if !(chars[i].1 == '-' && chars.get(i + 1).map(|c| c.1) == Some('-')) {
            return (line[start..].to_string(), flags);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        let mut quoted = false;
        while i < chars.len() {
            let c = chars[i].1;
            match quote {
                None if c.is_whitespace() => break,
                None if c == '\'' || c == '"' => {
                    quote = Some(c);
                    quoted = true;
                }
                Some(q) if c == q => quote = None,
                _ if c == escape => {
                    if i + 1 < chars.len() {
                        i += 1;
                        word.push(chars[i].1);
                    }
                }
                _ => word.push(c),
            }
            i += 1;
        }
        if word == "--" && !quoted {
            return (
                chars
                    .get(i)
                    .map(|c| line[c.0..].to_string())
                    .unwrap_or_default(),
                flags,
            );
        }
        if quoted || !word.is_empty() {
            flags.push(word);
        }
    }
}

/// The heredoc markers on an instruction line, bodies still empty.
fn heredocs_in(line: &str) -> Vec<Heredoc> {
    let mut raw = Lexer::new('\\');
    raw.raw_quotes = true;
    raw.raw_escapes = true;
    raw.skip_unset = true;
    let words = raw.words(line, &no_vars).unwrap_or_default();
    words.iter().filter_map(|w| heredoc_marker(w)).collect()
}

/// Parses `[n]<<[-]WORD` (BuildKit's `ParseHeredoc`); `None` when `word`
/// is not a heredoc marker.
pub(crate) fn heredoc_marker(word: &str) -> Option<Heredoc> {
    let digits = word.chars().take_while(char::is_ascii_digit).count();
    let rest = word[digits..].strip_prefix("<<")?;
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let rest = rest.trim_start();
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let fd = word[..digits].parse().unwrap_or(0);
    let mut lx = Lexer::new('\\');
    lx.skip_unset = true;
    let plain = lx.words(rest, &no_vars).ok()?;
    if plain.len() != 1 {
        return None;
    }
    lx.raw_quotes = true;
    let raw = lx.words(rest, &no_vars).ok()?;
    let quotes = |s: &str| s.matches(['\'', '"']).count();
    Some(Heredoc {
        name: plain[0].clone(),
        fd,
        expand: quotes(&plain[0]) == quotes(raw.first()?),
        chomp,
        content: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Dockerfile {
        parse("Containerfile", text).unwrap()
    }

    fn err(text: &str) -> String {
        parse("Containerfile", text).unwrap_err().to_string()
    }

    #[test]
    fn keywords_flags_and_args() {
        let d =
            p("from  busybox AS build\nrun --mount=type=cache,target=/c --network=none echo hi\n");
        assert_eq!(d.nodes.len(), 2);
        assert_eq!(d.nodes[0].keyword, "FROM");
        assert_eq!(d.nodes[0].args, "busybox AS build");
        assert_eq!(d.nodes[0].line, 1);
        assert_eq!(d.nodes[1].keyword, "RUN");
        assert_eq!(
            d.nodes[1].flags,
            ["--mount=type=cache,target=/c", "--network=none"]
        );
        assert_eq!(d.nodes[1].args, "echo hi");
        assert_eq!(d.nodes[1].line, 2);
        assert_eq!(
            d.nodes[1].original,
            "run --mount=type=cache,target=/c --network=none echo hi"
        );
    }

    #[test]
    fn flags_with_quotes_and_double_dash() {
        let n = split_node(r#"COPY --chown="a b" --from=x -- --weird /d"#, '\\').unwrap();
        assert_eq!(n.flags, ["--chown=a b", "--from=x"]);
        assert_eq!(n.args, "--weird /d");
        let n = split_node("RUN", '\\').unwrap();
        assert!(n.flags.is_empty() && n.args.is_empty());
    }

    #[test]
    fn comments_and_blank_lines() {
        let d = p("# a comment\n\n   # indented comment\nFROM x\n\n# c\nRUN a # not a comment\n");
        assert_eq!(d.nodes.len(), 2);
        assert_eq!(d.nodes[1].args, "a # not a comment");
        assert_eq!(d.nodes[1].line, 7);
    }

    #[test]
    fn continuations() {
        let d = p(
            "FROM x\nRUN echo a && \\\n    echo b \\  \n# comment inside\n\n    && echo c\nCMD x\\\\\n",
        );
        assert_eq!(
            d.nodes[1].original,
            "RUN echo a &&     echo b     && echo c"
        );
        assert_eq!(d.nodes[1].line, 2);
        assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
        assert!(d.warnings[0].contains("empty continuation line"));
        // An escaped escape character does not continue the line.
        assert_eq!(d.nodes[2].args, "x\\\\");
        // A continuation at the end of the file ends the instruction.
        let d = p("FROM x\nRUN a \\");
        assert_eq!(d.nodes[1].args, "a");
        // A lone continuation character on its own line.
        let d = p("FROM x\nRUN a \\\n\\\nb");
        assert_eq!(d.nodes[1].args, "a b");
    }

    #[test]
    fn directives() {
        let d =
            p("# syntax=docker/dockerfile:1\n# escape=`\nFROM x\nRUN a `\n  b\nCOPY c:\\x \\y\n");
        assert_eq!(d.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert_eq!(d.escape, '`');
        assert_eq!(d.nodes[1].args, "a   b");
        assert_eq!(d.nodes[2].args, "c:\\x \\y");
        // After an instruction, a blank line or another comment, a
        // directive is only a comment.
        for text in [
            "FROM x\n# escape=`\nRUN a `\n",
            "\n# escape=`\nFROM x\nRUN a `\n",
            "# hello\n# escape=`\nFROM x\nRUN a `\n",
        ] {
            let d = p(text);
            assert_eq!(d.escape, '\\', "{text}");
            assert_eq!(d.nodes.last().unwrap().args, "a `", "{text}");
        }
        assert_eq!(p("#ESCAPE = `\nFROM x").escape, '`');
        assert_eq!(
            err("# escape=\\\n# escape=`\nFROM x"),
            "Containerfile:2: only one escape parser directive can be used"
        );
        assert_eq!(
            err("# escape=x\nFROM x"),
            "Containerfile:1: invalid escape token 'x' does not match ` or \\"
        );
        // A byte-order mark is not part of the first line.
        assert_eq!(p("\u{feff}# escape=`\nFROM x").escape, '`');
    }

    #[test]
    fn heredocs() {
        let d = p("FROM x\nRUN <<EOF\necho $HOME\n  indented\nEOF\nCMD y\n");
        let h = &d.nodes[1].heredocs;
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].name, "EOF");
        assert!(h[0].expand && !h[0].chomp);
        assert_eq!(h[0].content, "echo $HOME\n  indented\n");
        assert_eq!(d.nodes[2].keyword, "CMD");
        assert_eq!(d.nodes[2].line, 6);

        let d = p("FROM x\nRUN <<-\"EOT\" bash\n\t\techo a\n\tEOT\n");
        let h = &d.nodes[1].heredocs[0];
        assert!(h.chomp && !h.expand);
        assert_eq!(h.name, "EOT");
        assert_eq!(h.content, "echo a\n");

        let d = p("FROM x\nCOPY <<A <<'B' /dest/\na\nA\nb\nB\n");
        let h = &d.nodes[1].heredocs;
        assert_eq!((h[0].name.as_str(), h[0].content.as_str()), ("A", "a\n"));
        assert_eq!((h[1].name.as_str(), h[1].content.as_str()), ("B", "b\n"));
        assert!(h[0].expand && !h[1].expand);

        let d = p("FROM x\nRUN 3<<E cat /dev/fd/3\nx\nE\n");
        assert_eq!(d.nodes[1].heredocs[0].fd, 3);

        // Not a heredoc: exec form, other instructions, `<<` inside a word.
        let d = p("FROM x\nRUN [\"sh\", \"<<EOF\"]\nLABEL a=<<EOF\nRUN a<<b\n");
        assert!(d.nodes.iter().all(|n| n.heredocs.is_empty()));
        assert_eq!(d.nodes.len(), 4);

        // ONBUILD RUN <<EOF carries its heredoc too.
        let d = p("FROM x\nONBUILD RUN <<EOF\necho hi\nEOF\n");
        assert_eq!(d.nodes[1].heredocs[0].content, "echo hi\n");

        assert_eq!(
            err("FROM x\nRUN <<EOF\necho hi\n"),
            "Containerfile:2: unterminated heredoc"
        );
    }

    #[test]
    fn empty_files() {
        for text in ["", "\n\n", "# only\n# comments\n", "# syntax=x\n"] {
            assert_eq!(err(text), "Containerfile: file with no instructions");
        }
    }

    #[test]
    fn continuation_corner_cases() {
        let d = p("FROM x\nRUN a\\\n  b\\\nc\nRUN d \\\n\ne \\\n\nf\nRUN g \\\n# note\n\n# note 2\n\nh i\n");
        let args: Vec<&str> = d.nodes.iter().map(|n| n.args.as_str()).collect();
        assert_eq!(args, ["x", "a  bc", "d e f", "g h i"]);
        assert_eq!(d.warnings.len(), 2);
        // Old-style LABEL keeps its escapes for substitution to handle.
        let d = p("FROM x\nLABEL maintainer Jo \\\\Doe <jo@example.com>\\\"\n");
        assert_eq!(
            d.nodes[1].args,
            "maintainer Jo \\\\Doe <jo@example.com>\\\""
        );
    }

    #[test]
    fn crlf_lines() {
        let d = p("FROM x\r\nRUN a \\\r\n  b\r\n");
        assert_eq!(d.nodes[1].args, "a   b");
    }
}
