//! Variable substitution and word splitting in Containerfile arguments, the
//! way BuildKit's shell lexer (`frontend/dockerfile/shell/lex.go`) does it:
//! `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`,
//! `${VAR+word}`, `${VAR:?msg}`, `${VAR?msg}`, `${VAR#pat}`, `${VAR##pat}`,
//! `${VAR%pat}`, `${VAR%%pat}`, `${VAR/pat/repl}`, `${VAR//pat/repl}`;
//! 'single quotes' keep everything literal, "double quotes" expand `$` and
//! let the escape character quote only `"`, `$` and itself; outside quotes
//! the escape character quotes any character.
//!
//! Which instructions are expanded, and with which variables, is decided by
//! the planner (`plan.rs`); this module only knows words and a lookup.

use std::collections::BTreeSet;

/// Why a word could not be expanded; the planner adds the file, line and
/// instruction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubstError {
    #[error("unexpected end of statement while looking for matching single-quote")]
    UnterminatedSingleQuote,
    #[error("unexpected end of statement while looking for matching double-quote")]
    UnterminatedDoubleQuote,
    #[error("syntax error: missing '}}'")]
    MissingBrace,
    #[error("syntax error: missing '/' in ${{}}")]
    MissingSlash,
    #[error("syntax error: bad substitution")]
    BadSubstitution,
    #[error("unsupported modifier ({0}) in substitution")]
    UnsupportedModifier(String),
    /// `${VAR?message}` / `${VAR:?message}` with VAR unset (or empty).
    #[error("{name}: {message}")]
    Required { name: String, message: String },
    #[error("invalid pattern ({0}) in substitution")]
    BadPattern(String),
}

/// Variable lookup: `Some(value)` when the variable is set.
pub trait Lookup {
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Lookup for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// A lookup where nothing is set.
pub fn no_vars(_: &str) -> Option<String> {
    None
}

/// The result of expanding one word.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expanded {
    /// The text with quotes removed and variables replaced.
    pub text: String,
    /// Names of variables referenced that were set.
    pub used: BTreeSet<String>,
    /// Names of variables referenced that were not set (they expand to "").
    pub unset: BTreeSet<String>,
}

/// The lexer's options, BuildKit's `shell.Lex` fields.
#[derive(Debug, Clone, Copy)]
pub struct Lexer {
    /// The escape character, `\` or `` ` `` (the `# escape=` directive).
    pub escape: char,
    /// Keep quote characters in the output (still honouring them).
    pub raw_quotes: bool,
    /// Keep escape characters in the output.
    pub raw_escapes: bool,
    /// Treat quotes as ordinary characters (heredoc bodies).
    pub skip_quotes: bool,
    /// Leave references to unset variables as written instead of "".
    pub skip_unset: bool,
}

impl Lexer {
    /// The lexer every expanding instruction uses.
    pub fn new(escape: char) -> Lexer {
        Lexer {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_quotes: false,
            skip_unset: false,
        }
    }

    /// Expands `word` into one string, keeping the whitespace between words
    /// (BuildKit's `ProcessWord`).
    pub fn word(&self, word: &str, vars: &dyn Lookup) -> Result<Expanded, SubstError> {
        let mut sw = Scan::new(self, word, vars);
        let (text, _) = sw.until(None, self.raw_escapes)?;
        Ok(Expanded {
            text,
            used: sw.used,
            unset: sw.unset,
        })
    }

    /// Expands `word` and splits the result into words on unquoted
    /// whitespace, after substitution (BuildKit's `ProcessWords`).
    pub fn words(&self, word: &str, vars: &dyn Lookup) -> Result<Vec<String>, SubstError> {
        let mut sw = Scan::new(self, word, vars);
        Ok(sw.until(None, self.raw_escapes)?.1)
    }
}

/// Builds words as characters arrive: unquoted whitespace separates words,
/// quoted or escaped characters never do.
#[derive(Default)]
struct Words {
    buf: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, ch: char) {
        if ch.is_whitespace() {
            if self.in_word && !self.buf.is_empty() {
                self.words.push(std::mem::take(&mut self.buf));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(ch);
        }
    }
    fn add_raw_char(&mut self, ch: char) {
        self.buf.push(ch);
        self.in_word = true;
    }
    fn add_string(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }
    fn add_raw_string(&mut self, s: &str) {
        self.buf.push_str(s);
        self.in_word = true;
    }
    fn finish(mut self) -> Vec<String> {
        if !self.buf.is_empty() {
            self.words.push(std::mem::take(&mut self.buf));
        }
        self.words
    }
}

struct Scan<'a> {
    lx: &'a Lexer,
    chars: Vec<char>,
    pos: usize,
    vars: &'a dyn Lookup,
    used: BTreeSet<String>,
    unset: BTreeSet<String>,
}

impl<'a> Scan<'a> {
    fn new(lx: &'a Lexer, s: &str, vars: &'a dyn Lookup) -> Scan<'a> {
        Scan {
            lx,
            chars: s.chars().collect(),
            pos: 0,
            vars,
            used: BTreeSet::new(),
            unset: BTreeSet::new(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn get(&mut self, name: &str) -> Option<String> {
        let v = self.vars.get(name);
        if v.is_some() {
            self.used.insert(name.to_string());
        } else {
            self.unset.insert(name.to_string());
        }
        v
    }

    /// Reads up to `stop` (consumed) or the end; gives the text and its words.
    fn until(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), SubstError> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                self.next();
                return Ok((result, words.finish()));
            }
            match ch {
                '$' => {
                    let v = self.dollar()?;
                    result.push_str(&v);
                    words.add_string(&v);
                }
                '<' => {
                    let v = self.possible_heredoc();
                    result.push_str(&v);
                    words.add_raw_string(&v);
                }
                '\'' if !self.lx.skip_quotes => {
                    let v = self.single_quote()?;
                    result.push_str(&v);
                    words.add_raw_string(&v);
                }
                '"' if !self.lx.skip_quotes => {
                    let v = self.double_quote(raw_escapes)?;
                    result.push_str(&v);
                    words.add_raw_string(&v);
                }
                _ => {
                    self.next();
                    if ch == self.lx.escape {
                        if raw_escapes {
                            words.add_raw_char(ch);
                            result.push(ch);
                        }
                        let Some(n) = self.next() else { break };
                        words.add_raw_char(n);
                        result.push(n);
                    } else {
                        words.add_char(ch);
                        result.push(ch);
                    }
                }
            }
        }
        match stop {
            // The callers turn this into the message they need.
            Some(_) => Err(SubstError::MissingBrace),
            None => Ok((result, words.finish())),
        }
    }

    fn single_quote(&mut self) -> Result<String, SubstError> {
        let mut out = String::new();
        let q = self.next().unwrap_or('\'');
        if self.lx.raw_quotes {
            out.push(q);
        }
        loop {
            match self.next() {
                None => return Err(SubstError::UnterminatedSingleQuote),
                Some('\'') => {
                    if self.lx.raw_quotes {
                        out.push('\'');
                    }
                    return Ok(out);
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quote(&mut self, raw_escapes: bool) -> Result<String, SubstError> {
        let mut out = String::new();
        let q = self.next().unwrap_or('"');
        if self.lx.raw_quotes {
            out.push(q);
        }
        loop {
            match self.peek() {
                None => return Err(SubstError::UnterminatedDoubleQuote),
                Some('"') => {
                    self.next();
                    if self.lx.raw_quotes {
                        out.push('"');
                    }
                    return Ok(out);
                }
                Some('$') => {
                    let v = self.dollar()?;
                    out.push_str(&v);
                }
                Some(_) => {
                    let mut ch = self.next().unwrap_or_default();
                    if ch == self.lx.escape {
                        if raw_escapes {
                            out.push(ch);
                        }
                        match self.peek() {
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.lx.escape => {
                                ch = n;
                                self.next();
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(ch);
                }
            }
        }
    }

    /// `<<` followed by blanks stays one word (`<< EOF`), so heredoc markers
    /// can be found in the split words.
    fn possible_heredoc(&mut self) -> String {
        self.next();
        if self.peek() != Some('<') {
            return "<".into();
        }
        self.next();
        let mut out = String::from("<<");
        while let Some(c @ ('\t' | '\r' | ' ')) = self.peek() {
            out.push(c);
            self.next();
        }
        out
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && ch.is_ascii_digit() {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    name.push(d);
                    self.next();
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.next();
                return ch.to_string();
            }
            if !ch.is_alphanumeric() && ch != '_' {
                break;
            }
            name.push(ch);
            self.next();
        }
        name
    }

    fn dollar(&mut self) -> Result<String, SubstError> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(match self.get(&name) {
                Some(v) => v,
                None if self.lx.skip_unset => format!("${name}"),
                None => String::new(),
            });
        }
        self.next();
        match self.peek() {
            None => return Err(SubstError::MissingBrace),
            Some('{' | '}' | ':') => return Err(SubstError::BadSubstitution),
            _ => {}
        }
        let name = self.name();
        let Some(mut ch) = self.next() else {
            return Err(SubstError::MissingBrace);
        };
        let mut modifier = ch.to_string();
        let mut null_is_unset = false;
        match ch {
            '}' => {
                return Ok(match self.get(&name) {
                    Some(v) => v,
                    None if self.lx.skip_unset => format!("${{{name}}}"),
                    None => String::new(),
                })
            }
            ':' => {
                null_is_unset = true;
                ch = self.next().ok_or(SubstError::MissingBrace)?;
                modifier.push(ch);
                if !matches!(ch, '+' | '-' | '?') {
                    return Err(SubstError::UnsupportedModifier(modifier));
                }
            }
            '+' | '-' | '?' | '#' | '%' => {}
            '/' => return self.replace(&name),
            _ => return Err(SubstError::UnsupportedModifier(modifier)),
        }
        let raw = ch == '#' || ch == '%';
        let word = self.stop_on('}', raw, SubstError::MissingBrace)?;
        let value = self.get(&name);
        let Some(value) = value else {
            if self.lx.skip_unset {
                return Ok(format!("${{{name}{modifier}{word}}}"));
            }
            return match ch {
                '-' => Ok(word),
                '?' => Err(SubstError::Required {
                    name,
                    message: if word.is_empty() {
                        "is not allowed to be unset".into()
                    } else {
                        word
                    },
                }),
                _ => Ok(String::new()),
            };
        };
        let empty = null_is_unset && value.is_empty();
        match ch {
            '-' => Ok(if empty { word } else { value }),
            '+' => Ok(if empty { String::new() } else { word }),
            '?' if empty => Err(SubstError::Required {
                name,
                message: if word.is_empty() {
                    "is not allowed to be empty".into()
                } else {
                    word
                },
            }),
            '?' => Ok(value),
            _ => {
                let (greedy, pat) = match word.strip_prefix(ch) {
                    Some(p) => (true, p.to_string()),
                    None => (false, word),
                };
                if ch == '%' {
                    trim_suffix(&pat, &value, greedy)
                } else {
                    trim_prefix(&pat, &value, greedy)
                }
            }
        }
    }

    /// Reads to `stop`, turning a missing stop into `missing`.
    fn stop_on(
        &mut self,
        stop: char,
        raw: bool,
        missing: SubstError,
    ) -> Result<String, SubstError> {
        match self.until(Some(stop), raw) {
            Ok((w, _)) => Ok(w),
            Err(SubstError::MissingBrace) if self.peek().is_none() => Err(missing),
            Err(e) => Err(e),
        }
    }

    /// `${VAR/pattern/replacement}` and `${VAR//pattern/replacement}`.
    fn replace(&mut self, name: &str) -> Result<String, SubstError> {
        let all = self.peek() == Some('/');
        if all {
            self.next();
        }
        let pattern = self.stop_on('/', true, SubstError::MissingSlash)?;
        let replacement = self.stop_on('}', true, SubstError::MissingBrace)?;
        let Some(value) = self.get(name) else {
            if self.lx.skip_unset {
                return Ok(format!("${{{name}/{pattern}/{replacement}}}"));
            }
            return Ok(String::new());
        };
        let re = shell_pattern(&pattern, true, false)?;
        Ok(if all {
            re.replace_all(&value, regex::NoExpand(&replacement))
                .into_owned()
        } else {
            re.replace(&value, regex::NoExpand(&replacement))
                .into_owned()
        })
    }
}

/// A shell wildcard pattern (`*`, `?`, `\` escapes; no bracket
/// expressions, as BuildKit) as a regular expression.
fn shell_pattern(pattern: &str, greedy: bool, anchored: bool) -> Result<regex::Regex, SubstError> {
    let bad = || SubstError::BadPattern(pattern.to_string());
    let mut out = String::from(if anchored { "^" } else { "" });
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str(if greedy { ".*" } else { ".*?" }),
            '?' => out.push('.'),
            '\\' => match chars.peek() {
                // `}` and `/` are escaped for the ${} syntax, not the pattern.
                Some('}' | '/') => {}
                Some(&n @ ('*' | '?' | '\\')) => {
                    chars.next();
                    out.push_str(&regex::escape(&n.to_string()));
                }
                _ => return Err(bad()),
            },
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    regex::Regex::new(&out).map_err(|_| bad())
}

fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> Result<String, SubstError> {
    let re = shell_pattern(pattern, greedy, true)?;
    Ok(match re.find(value) {
        Some(m) => value[m.end()..].to_string(),
        None => value.to_string(),
    })
}

/// The shortest (or longest) matching suffix removed: the pattern and the
/// value are reversed so that a leftmost match finds it.
fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> Result<String, SubstError> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut rev: Vec<char> = Vec::with_capacity(chars.len());
    let mut i = 0;
    // Reverse the pattern but keep each escape before the character it quotes.
    let mut units: Vec<Vec<char>> = Vec::new();
    while i < chars.len() {
        if chars[i] == '\\' && i + 1 < chars.len() {
            units.push(vec![chars[i], chars[i + 1]]);
            i += 2;
        } else {
            units.push(vec![chars[i]]);
            i += 1;
        }
    }
    for u in units.into_iter().rev() {
        rev.extend(u);
    }
    let rev_pattern: String = rev.into_iter().collect();
    let rev_value: String = value.chars().rev().collect();
    let trimmed = trim_prefix(&rev_pattern, &rev_value, greedy)?;
    Ok(trimmed.chars().rev().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| m.get(k).cloned()
    }

    fn word(s: &str) -> String {
        let vars = env(&[
            ("PWD", "/home"),
            ("SHELL", "bash"),
            ("KOREAN", "한국어"),
            ("NULL", ""),
            ("V", "a.b.c.tar.gz"),
        ]);
        Lexer::new('\\').word(s, &vars).unwrap().text
    }

    #[test]
    fn plain_and_braced_references() {
        for (input, want) in [
            ("hello", "hello"),
            ("he'll'o", "hello"),
            ("he\"ll\"o", "hello"),
            ("he\\'llo", "he'llo"),
            ("$PWD", "/home"),
            ("${PWD}", "/home"),
            ("$PWD/x", "/home/x"),
            ("${PWD}x", "/homex"),
            ("$PWDx", ""),
            ("\\$PWD", "$PWD"),
            ("'$PWD'", "$PWD"),
            ("\"$PWD\"", "/home"),
            ("\"\\$PWD\"", "$PWD"),
            ("\"a\\b\"", "a\\b"),
            ("\"a\\\"b\"", "a\"b"),
            ("'a\\b'", "a\\b"),
            ("$", "$"),
            ("a$", "a$"),
            ("$.x", "$.x"),
            ("${KOREAN}", "한국어"),
            ("$UNSET", ""),
            ("${UNSET}", ""),
            ("x\\", "x"),
            ("a b  c", "a b  c"),
        ] {
            assert_eq!(word(input), want, "{input}");
        }
    }

    #[test]
    fn modifiers() {
        for (input, want) in [
            ("${UNSET:-def}", "def"),
            ("${NULL:-def}", "def"),
            ("${NULL-def}", ""),
            ("${UNSET-def}", "def"),
            ("${SHELL:-def}", "bash"),
            ("${SHELL:+alt}", "alt"),
            ("${NULL:+alt}", ""),
            ("${NULL+alt}", "alt"),
            ("${UNSET+alt}", ""),
            ("${UNSET:-$PWD/x}", "/home/x"),
            ("${UNSET:-'$PWD'}", "$PWD"),
            ("${SHELL:?oops}", "bash"),
            ("${V#*.}", "b.c.tar.gz"),
            ("${V##*.}", "gz"),
            ("${V%.*}", "a.b.c.tar"),
            ("${V%%.*}", "a"),
            ("${V/./_}", "a_b.c.tar.gz"),
            ("${V//./_}", "a_b_c_tar_gz"),
            ("${UNSET//./_}", ""),
        ] {
            assert_eq!(word(input), want, "{input}");
        }
    }

    #[test]
    fn errors_are_named() {
        let lx = Lexer::new('\\');
        for (input, want) in [
            ("'abc", SubstError::UnterminatedSingleQuote),
            ("\"abc", SubstError::UnterminatedDoubleQuote),
            ("${PWD", SubstError::MissingBrace),
            ("${", SubstError::MissingBrace),
            ("${}", SubstError::BadSubstitution),
            ("${:x}", SubstError::BadSubstitution),
            ("${X:=y}", SubstError::UnsupportedModifier(":=".into())),
            ("${X!}", SubstError::UnsupportedModifier("!".into())),
            ("${X:-abc", SubstError::MissingBrace),
            ("${X/abc", SubstError::MissingSlash),
            (
                "${X?}",
                SubstError::Required {
                    name: "X".into(),
                    message: "is not allowed to be unset".into(),
                },
            ),
            (
                "${X:?need X}",
                SubstError::Required {
                    name: "X".into(),
                    message: "need X".into(),
                },
            ),
        ] {
            assert_eq!(lx.word(input, &no_vars), Err(want), "{input}");
        }
        let e = env(&[("E", "")]);
        assert!(matches!(
            lx.word("${E:?}", &e),
            Err(SubstError::Required { .. })
        ));
        assert_eq!(lx.word("${E?}", &e).unwrap().text, "");
    }

    #[test]
    fn words_split_after_substitution() {
        let lx = Lexer::new('\\');
        let vars = env(&[("PORTS", "80 443/udp"), ("Q", "a b")]);
        assert_eq!(
            lx.words("$PORTS 8080", &vars).unwrap(),
            ["80", "443/udp", "8080"]
        );
        assert_eq!(lx.words("\"$Q\" c", &vars).unwrap(), ["a b", "c"]);
        assert_eq!(lx.words("a\\ b c", &vars).unwrap(), ["a b", "c"]);
        assert_eq!(lx.words("  ", &vars).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn backtick_escape() {
        let lx = Lexer::new('`');
        assert_eq!(lx.word("c:\\dir", &no_vars).unwrap().text, "c:\\dir");
        assert_eq!(lx.word("`$X", &no_vars).unwrap().text, "$X");
        assert_eq!(lx.word("\"a`\"b\"", &no_vars).unwrap().text, "a\"b");
    }

    #[test]
    fn tracks_used_and_unset_names() {
        let lx = Lexer::new('\\');
        let vars = env(&[("A", "1")]);
        let e = lx.word("$A ${B:-x} '$C'", &vars).unwrap();
        assert_eq!(e.text, "1 x $C");
        assert_eq!(e.used.into_iter().collect::<Vec<_>>(), ["A"]);
        assert_eq!(e.unset.into_iter().collect::<Vec<_>>(), ["B"]);
    }

    #[test]
    fn raw_modes() {
        let mut lx = Lexer::new('\\');
        lx.raw_quotes = true;
        lx.skip_unset = true;
        assert_eq!(
            lx.word("\"a b\" $X ${Y}", &no_vars).unwrap().text,
            "\"a b\" $X ${Y}"
        );
        let mut body = Lexer::new('\\');
        body.skip_quotes = true;
        let vars = env(&[("N", "1")]);
        assert_eq!(
            body.word("echo '$N' \"$N\"", &vars).unwrap().text,
            "echo '1' \"1\""
        );
        // `<< EOF` stays one word, so heredoc markers can be found.
        assert_eq!(
            Lexer::new('\\').words("RUN << EOF cat", &no_vars).unwrap(),
            ["RUN", "<< EOF", "cat"]
        );
    }
}
