//! Go templates over JSON values, as `--format` takes them.
//!
//! Templates are executed by the `gtmpl` crate. Two of its habits differ from Go
//! and are corrected here: it prints slices and maps with Rust's `Debug` (we
//! append a hidden formatting function to every printing action so that they
//! come out as Go's `[a b]` and `map[k:v]`), and it has no `json`, `join`,
//! `upper`, `lower` helpers (added below, as Podman adds them).
//!
//! Known differences from Go that remain: `{{range}}` over a map visits its
//! keys in no fixed order (Go sorts them), `printf "%v"` of a map or of nested
//! slices uses gtmpl's own printing, and a missing field prints `<no value>`
//! when rendering (JSON cannot tell a struct from a map): [`validate`] catches
//! misspelt fields beforehand by checking the template against a [`Shape`].

use std::collections::HashMap;

use gtmpl::{Func, FuncError, Template, Value};

use super::table::header_name;
use super::Error;

/// The function appended to printing actions; the name cannot clash with a
/// user's identifiers because templates have no way to define functions.
const PRINT_FN: &str = "_skiff_print";

/// Renders the Go template `template` with `value` as dot.
///
/// `\t` and `\n` written literally (as a shell passes them) become a tab and a
/// newline, as in Podman.
pub fn render(template: &str, value: &serde_json::Value) -> Result<String, Error> {
    let text = unescape(template);
    let mut tmpl = Template::default();
    tmpl.add_funcs(FUNCS);
    tmpl.parse(rewrite_actions(&text)?)
        .map_err(|e| template_error(&e.to_string()))?;
    let ctx = gtmpl::Context::from(to_gtmpl(value));
    tmpl.render(&ctx)
        .map_err(|e| template_error(&e.to_string()))
}

pub(super) fn unescape(s: &str) -> String {
    methods(&s.replace("\\t", "\t").replace("\\n", "\n"))
}

/// Podman's template methods, as the map lookups they are: `{{.Label "k"}}`
/// of `ps` (ListContainer.Label) reads `index .LabelMap "k"` ("" when
/// absent): `ps` templates see `.Labels` as Podman prints it, `k=v,...`,
/// and the map under this name of ours.
/// Only the text inside actions is rewritten.
fn methods(text: &str) -> String {
    static LABEL: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"(^|[\s(|])\.Label\s+("(?:[^"\\]|\\.)*"|`[^`]*`)"#)
            .expect("a valid pattern")
    });
    let Ok(actions) = scan_actions(text) else {
        return text.to_string();
    };
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for a in actions {
        out.push_str(&text[last..a.inner_start]);
        let inner = &text[a.inner_start..a.inner_end];
        // Compiling the pattern costs more than the rest of a `ps`: only
        // an action that names `.Label` pays for it.
        if inner.contains(".Label") {
            out.push_str(&LABEL.replace_all(inner, "${1}(index .LabelMap ${2})"));
        } else {
            out.push_str(inner);
        }
        last = a.inner_end;
    }
    out.push_str(&text[last..]);
    out
}

/// What a template is checked against before anything is printed: a sample
/// item holding every field the command prints (arrays with one element, so
/// that `range` bodies are checked too), and the Go type name Podman's error
/// names (`entities.ListContainer` for `ps`).
///
/// In the sample, an object with a key that starts with a capital letter is a
/// struct (a missing field is an error, as in Go); any other object is a map
/// (a missing key is fine: Go prints `<no value>`); `null` is a value whose
/// fields cannot be known and are not checked.
#[derive(Debug, Clone, Copy)]
pub struct Shape<'a> {
    type_name: &'a str,
    sample: Option<&'a serde_json::Value>,
    /// Table headers that are not the field's name split into words, as
    /// Podman's per-command overrides (`ID` -> `CONTAINER ID` for `ps`).
    headers: &'a [(&'a str, &'a str)],
}

impl<'a> Shape<'a> {
    /// Items shaped like `sample`, a value of Go type `type_name`.
    pub fn new(type_name: &'a str, sample: &'a serde_json::Value) -> Self {
        Shape {
            type_name,
            sample: Some(sample),
            headers: &[],
        }
    }

    /// The same shape with Podman's header overrides for `table` templates:
    /// pairs of field name and header text.
    pub fn with_headers(self, headers: &'a [(&'a str, &'a str)]) -> Self {
        Shape { headers, ..self }
    }

    /// The header of a `table` column showing `field`.
    pub(super) fn header(&self, field: &str) -> String {
        self.headers
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, h)| h.to_string())
            .unwrap_or_else(|| header_name(field))
    }

    /// Items whose fields are not known beforehand: only the syntax is checked.
    pub fn any(type_name: &'a str) -> Self {
        Shape {
            type_name,
            sample: None,
            headers: &[],
        }
    }
}

/// Checks a `--format` template without printing: it must parse (Go's
/// `template: ...` errors such as an unclosed action or `{{range}}` without a
/// value) and every field it reads must exist in `shape` (Podman: `can't
/// evaluate field Nope in type entities.ListContainer`). Errors are one line.
pub fn validate(template: &str, shape: &Shape) -> Result<(), Error> {
    let text = unescape(template);
    let mut tmpl = Template::default();
    tmpl.add_funcs(FUNCS);
    tmpl.parse(rewrite_actions(&text)?)
        .map_err(|e| template_error(&e.to_string()))?;
    if let Some(sample) = shape.sample {
        check_fields(&text, shape.type_name, sample)?;
    }
    Ok(())
}

/// What the checker knows of a value: the sample and its Go type name, or
/// nothing (the result of a function, a nil, a key a map may lack).
type Known<'a> = Option<(&'a serde_json::Value, String)>;

/// Walks the actions, following what dot is inside `range` and `with`, and
/// resolves every field chain against the sample.
fn check_fields(text: &str, type_name: &str, sample: &serde_json::Value) -> Result<(), Error> {
    let root: Known = Some((sample, type_name.to_string()));
    let mut dot = root.clone();
    let mut vars: HashMap<String, Known> = HashMap::from([("$".to_string(), root)]);
    // The dot outside each open block, restored by `else` and `end`.
    let mut outer: Vec<Known> = Vec::new();
    for a in scan_actions(text)? {
        let inner = text[a.inner_start..a.inner_end].trim();
        if inner.starts_with("/*") {
            continue;
        }
        let (first, rest) = match inner.find(|c: char| c.is_whitespace() || c == '(') {
            Some(i) => (&inner[..i], inner[i..].trim()),
            None => (inner, ""),
        };
        match first {
            "if" => {
                check_pipeline(rest, &dot, &vars)?;
                outer.push(dot.clone());
            }
            "range" | "with" => {
                let (names, pipe) = split_declaration(rest);
                let v = check_pipeline(pipe, &dot, &vars)?;
                let new_dot = if first == "range" { element(&v) } else { v };
                match names.as_slice() {
                    [one] => {
                        vars.insert(one.to_string(), new_dot.clone());
                    }
                    [index, elem] => {
                        vars.insert(index.to_string(), None);
                        vars.insert(elem.to_string(), new_dot.clone());
                    }
                    _ => {}
                }
                outer.push(dot.clone());
                dot = new_dot;
            }
            "else" => {
                if let Some(saved) = outer.last() {
                    dot = saved.clone();
                }
                if let Some(cond) = rest.strip_prefix("if") {
                    check_pipeline(cond, &dot, &vars)?;
                } else if let Some(pipe) = rest.strip_prefix("with") {
                    dot = check_pipeline(pipe, &dot, &vars)?;
                }
            }
            "end" => {
                if let Some(saved) = outer.pop() {
                    dot = saved;
                }
            }
            "define" | "block" => {
                outer.push(dot.clone());
                dot = None;
            }
            "template" | "break" | "continue" => {}
            _ => {
                let (names, pipe) = split_declaration(inner);
                let v = check_pipeline(pipe, &dot, &vars)?;
                if let [one] = names.as_slice() {
                    vars.insert(one.to_string(), v);
                }
            }
        }
    }
    Ok(())
}

/// `$i, $e := PIPE` -> (["$i", "$e"], "PIPE"); a pipeline without a
/// declaration (or with `=`, which assigns) gives no names.
fn split_declaration(s: &str) -> (Vec<&str>, &str) {
    let t = s.trim();
    if t.starts_with('$') {
        if let Some(k) = t.find(":=") {
            let names = t[..k].split(',').map(str::trim).collect();
            return (names, t[k + 2..].trim());
        }
    }
    (Vec::new(), t)
}

/// Splits `s` at top-level occurrences of `sep` (outside quotes and parentheses).
fn split_top(s: &str, sep: impl Fn(char) -> bool) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quote, mut escaped) = (0i32, None::<char>, false);
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' && q != '`' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '`' | '\'' => quote = Some(c),
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 && sep(c) => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

/// Checks the field chains of a pipeline and returns what its value is known
/// to be (only a lone field chain, variable or dot is known).
fn check_pipeline<'a>(
    pipe: &str,
    dot: &Known<'a>,
    vars: &HashMap<String, Known<'a>>,
) -> Result<Known<'a>, Error> {
    let commands = split_top(pipe, |c| c == '|');
    let mut value = None;
    for (ci, cmd) in commands.iter().enumerate() {
        let tokens = split_top(cmd, char::is_whitespace);
        let mut single = None;
        for token in &tokens {
            let v = check_operand(token, dot, vars)?;
            if tokens.len() == 1 {
                single = v;
            }
        }
        if ci + 1 == commands.len() && commands.len() == 1 {
            value = single;
        }
    }
    Ok(value)
}

/// One operand: `.A.B`, `$x.A`, `.`, `(PIPE)`, or a literal or function name.
fn check_operand<'a>(
    token: &str,
    dot: &Known<'a>,
    vars: &HashMap<String, Known<'a>>,
) -> Result<Known<'a>, Error> {
    if let Some(body) = token.strip_prefix('(') {
        // `(PIPE).Field`: what the parentheses give is not known.
        if let Some(close) = body.rfind(')') {
            check_pipeline(&body[..close], dot, vars)?;
        }
        return Ok(None);
    }
    if token == "." {
        return Ok(dot.clone());
    }
    if let Some(chain) = token.strip_prefix('.') {
        return resolve(token, dot.clone(), chain);
    }
    if token.starts_with('$') {
        let (name, chain) = match token.find('.') {
            Some(i) => (&token[..i], &token[i + 1..]),
            None => (token, ""),
        };
        let base = vars.get(name).cloned().flatten();
        return if chain.is_empty() {
            Ok(base)
        } else {
            resolve(token, base, chain)
        };
    }
    Ok(None)
}

/// Follows `A.B.C` from `base`, failing as Go does on a struct without the field.
fn resolve<'a>(token: &str, mut cur: Known<'a>, chain: &str) -> Result<Known<'a>, Error> {
    for field in chain.split('.') {
        let Some((v, type_name)) = cur else {
            return Ok(None);
        };
        cur = match v {
            serde_json::Value::Null => None,
            serde_json::Value::Object(m) if is_struct(m) => match m.get(field) {
                Some(child) => Some((child, field.to_string())),
                None => return Err(no_field(token, field, &type_name)),
            },
            serde_json::Value::Object(m) => m.get(field).map(|c| (c, field.to_string())),
            other => return Err(no_field(token, field, go_type(other))),
        };
    }
    Ok(cur)
}

fn no_field(token: &str, field: &str, type_name: &str) -> Error {
    Error::Template(format!(
        "executing at <{token}>: can't evaluate field {field} in type {type_name}"
    ))
}

/// A struct, as opposed to a map: Go field names are capitalised (Podman's
/// JSON also carries lowercase keys beside them, as `network ls` does).
fn is_struct(m: &serde_json::Map<String, serde_json::Value>) -> bool {
    m.keys()
        .any(|k| k.starts_with(|c: char| c.is_ascii_uppercase()))
}

/// What `range` sets dot to: the first element of the sample, if it has one.
fn element<'a>(v: &Known<'a>) -> Known<'a> {
    let (v, name) = v.as_ref()?;
    match v {
        serde_json::Value::Array(a) => a.first().map(|e| (e, name.clone())),
        serde_json::Value::Object(m) if !is_struct(m) => {
            m.values().next().map(|e| (e, name.clone()))
        }
        _ => None,
    }
}

fn go_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(n) if n.is_f64() => "float64",
        serde_json::Value::Number(_) => "int",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "[]interface {}",
        _ => "interface {}",
    }
}

fn template_error(msg: &str) -> Error {
    let msg = msg.strip_prefix("template: ").unwrap_or(msg);
    let one_line = msg.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut short: String = one_line.chars().take(300).collect();
    if short.len() < one_line.len() {
        short.push_str("...");
    }
    Error::Template(short)
}

/// One `{{ ... }}` action of a template, by byte offsets.
struct Action {
    start: usize,
    end: usize,
    /// The text between the delimiters and their trim markers.
    inner_start: usize,
    inner_end: usize,
}

/// Finds the actions of a template, skipping `}}` inside quoted strings.
fn scan_actions(text: &str) -> Result<Vec<Action>, Error> {
    let b = text.as_bytes();
    let mut actions = Vec::new();
    let mut i = 0;
    while let Some(off) = text[i..].find("{{") {
        let start = i + off;
        let mut j = start + 2;
        let mut inner_start = j;
        if b.get(j) == Some(&b'-') && b.get(j + 1).is_some_and(|c| c.is_ascii_whitespace()) {
            inner_start = j + 1;
        }
        j = inner_start;
        let mut quote: Option<u8> = None;
        let close = loop {
            let Some(&c) = b.get(j) else {
                return Err(Error::Template(format!("unclosed action in {text:?}")));
            };
            match quote {
                Some(q) => {
                    if c == b'\\' && q != b'`' {
                        j += 1;
                    } else if c == q {
                        quote = None;
                    }
                }
                None => {
                    if c == b'"' || c == b'`' || c == b'\'' {
                        quote = Some(c);
                    } else if c == b'}' && b.get(j + 1) == Some(&b'}') {
                        break j;
                    }
                }
            }
            j += 1;
        };
        let mut inner_end = close;
        if close > inner_start
            && b[close - 1] == b'-'
            && close >= 2
            && b[close - 2].is_ascii_whitespace()
        {
            inner_end = close - 1;
        }
        actions.push(Action {
            start,
            end: close + 2,
            inner_start,
            inner_end,
        });
        i = close + 2;
    }
    Ok(actions)
}

const KEYWORDS: [&str; 10] = [
    "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
];

/// Whether an action prints its value (as opposed to control flow, comments and
/// variable declarations).
fn is_printing(inner: &str) -> bool {
    let t = inner.trim();
    if t.is_empty() || t.starts_with("/*") {
        return false;
    }
    let first = t
        .split(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or("");
    if KEYWORDS.contains(&first) {
        return false;
    }
    // `$x := ...` and `$x = ...` print nothing.
    if first.starts_with('$') {
        let rest = t[first.len()..].trim_start();
        if rest.starts_with(":=") || (rest.starts_with('=') && !rest.starts_with("==")) {
            return false;
        }
    }
    true
}

/// Prepares a template for gtmpl: appends the Go-style formatter to every
/// printing action, and turns `{{range P}}A{{else}}B{{end}}` into
/// `{{if P}}{{range P}}A{{end}}{{else}}B{{end}}` because gtmpl runs a range's
/// else branch even when the range had elements.
fn rewrite_actions(text: &str) -> Result<String, Error> {
    let actions = scan_actions(text)?;
    // Insertions before an action, by action index.
    let mut before: HashMap<usize, String> = HashMap::new();
    // Open blocks: (keyword, action index, index of a range's else).
    let mut stack: Vec<(&str, usize, Option<usize>)> = Vec::new();
    for (i, a) in actions.iter().enumerate() {
        let inner = text[a.inner_start..a.inner_end].trim();
        let first = inner
            .split(|c: char| c.is_whitespace() || c == '(')
            .next()
            .unwrap_or("");
        match first {
            "if" | "range" | "with" | "define" | "block" => stack.push((first, i, None)),
            "else" => {
                if let Some(top) = stack.last_mut() {
                    if top.0 == "range" && top.2.is_none() {
                        top.2 = Some(i);
                    }
                }
            }
            "end" => {
                if let Some(("range", r, Some(e))) = stack.pop() {
                    let ra = &actions[r];
                    let rinner = text[ra.inner_start..ra.inner_end].trim();
                    let pipe = rinner["range".len()..].trim();
                    let expr = match pipe.find(":=") {
                        Some(k) => pipe[k + 2..].trim(),
                        None => pipe,
                    };
                    let trim = |a: &Action| {
                        if a.inner_start > a.start + 2 {
                            "{{- "
                        } else {
                            "{{"
                        }
                    };
                    before.insert(r, format!("{}if {expr}}}}}", trim(ra)));
                    before.insert(e, format!("{}end}}}}", trim(&actions[e])));
                }
            }
            _ => {}
        }
    }
    let mut out = String::with_capacity(text.len() + 32);
    let mut last = 0;
    for (i, a) in actions.iter().enumerate() {
        out.push_str(&text[last..a.start]);
        if let Some(ins) = before.get(&i) {
            out.push_str(ins);
        }
        let inner = &text[a.inner_start..a.inner_end];
        if is_printing(inner) {
            out.push_str(&text[a.start..a.inner_end]);
            out.push_str(" | ");
            out.push_str(PRINT_FN);
            out.push(' ');
            out.push_str(&text[a.inner_end..a.end]);
        } else {
            out.push_str(&text[a.start..a.end]);
        }
        last = a.end;
    }
    out.push_str(&text[last..]);
    Ok(out)
}

/// The header cells of a `table` template: each action becomes the header of
/// the field it shows (`{{.CreatedAt}}` -> `CREATED AT`), control actions
/// vanish, literal text stays, and tabs separate the cells.
pub(super) fn header_cells(text: &str, shape: &Shape) -> Vec<String> {
    let Ok(actions) = scan_actions(text) else {
        return text.split('\t').map(str::to_string).collect();
    };
    let mut line = String::new();
    let mut last = 0;
    // Open blocks; inside a `range` or `with` the dot is an element, whose
    // fields make poor headers, so the block's own field names the column.
    let mut blocks: Vec<bool> = Vec::new();
    for a in actions {
        line.push_str(&text[last..a.start]);
        let inner = text[a.inner_start..a.inner_end].trim();
        let first = inner.split_whitespace().next().unwrap_or("");
        let in_element = blocks.iter().any(|&b| b);
        match first {
            "range" | "with" => {
                if !in_element {
                    if let Some(field) = last_field_name(inner) {
                        line.push_str(&shape.header(field));
                    }
                }
                blocks.push(true);
            }
            "if" | "define" | "block" => blocks.push(false),
            "end" => {
                blocks.pop();
            }
            _ if !in_element && is_printing(inner) => {
                if let Some(field) = last_field_name(inner) {
                    line.push_str(&shape.header(field));
                }
            }
            _ => {}
        }
        last = a.end;
    }
    line.push_str(&text[last..]);
    // A header spans one line even if the row template spans several.
    line.lines()
        .next()
        .unwrap_or("")
        .split('\t')
        .map(str::to_string)
        .collect()
}

/// The last name of the first field chain in an action: `json .Config.Env` -> `Env`.
fn last_field_name(inner: &str) -> Option<&str> {
    let b = inner.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'"' {
            // Skip string literals such as the key in `index .Labels "a.b"`.
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
        } else if b[i] == b'.' && b.get(i + 1).is_some_and(|c| c.is_ascii_alphabetic()) {
            let mut end = i + 1;
            let mut seg_start = end;
            while end < b.len()
                && (b[end].is_ascii_alphanumeric() || b[end] == b'_' || b[end] == b'.')
            {
                if b[end] == b'.' {
                    seg_start = end + 1;
                }
                end += 1;
            }
            return Some(&inner[seg_start..end]).filter(|s| !s.is_empty());
        }
        i += 1;
    }
    None
}

/// Converts JSON to template values; objects become maps so that a missing key
/// prints `<no value>` as in Go instead of failing.
fn to_gtmpl(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Value::from(u)
            } else if let Some(i) = n.as_i64() {
                Value::from(i)
            } else {
                Value::from(n.as_f64().unwrap_or(0.0))
            }
        }
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Array(a) => Value::Array(a.iter().map(to_gtmpl).collect()),
        serde_json::Value::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| (k.clone(), to_gtmpl(v)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

/// Converts back for `{{json}}`. Key order is lost in the round trip, so
/// objects come out with sorted keys (as Go prints maps).
fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::NoValue | Value::Nil | Value::Function(_) => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                u.into()
            } else if let Some(i) = n.as_i64() {
                i.into()
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(serde_json::Value::Null, serde_json::Value::Number)
            }
        }
        Value::Array(a) => serde_json::Value::Array(a.iter().map(to_json).collect()),
        Value::Map(m) | Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            serde_json::Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), to_json(&m[k])))
                    .collect(),
            )
        }
    }
}

/// Go's `%v`: `[a b]` for slices, `map[k:v]` with sorted keys for maps.
fn go_string(v: &Value) -> String {
    match v {
        Value::NoValue => "<no value>".into(),
        Value::Nil => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Function(_) => "<func>".into(),
        Value::Array(a) => {
            let parts: Vec<String> = a.iter().map(go_string).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Map(m) | Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k}:{}", go_string(&m[k])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

fn arg<'a>(args: &'a [Value], i: usize, name: &str, n: usize) -> Result<&'a Value, FuncError> {
    args.get(i)
        .ok_or_else(|| FuncError::ExactlyXArgs(name.into(), n))
}

fn str_arg(args: &[Value], i: usize, name: &str, n: usize) -> Result<String, FuncError> {
    Ok(go_string(arg(args, i, name, n)?))
}

fn f_print(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(go_string(arg(args, 0, PRINT_FN, 1)?)))
}

fn f_json(args: &[Value]) -> Result<Value, FuncError> {
    let v = to_json(arg(args, 0, "json", 1)?);
    Ok(Value::String(v.to_string()))
}

fn f_join(args: &[Value]) -> Result<Value, FuncError> {
    let sep = str_arg(args, 1, "join", 2)?;
    let joined = match arg(args, 0, "join", 2)? {
        Value::Array(a) => a.iter().map(go_string).collect::<Vec<_>>().join(&sep),
        Value::Nil | Value::NoValue => String::new(),
        other => go_string(other),
    };
    Ok(Value::String(joined))
}

fn f_upper(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(str_arg(args, 0, "upper", 1)?.to_uppercase()))
}

fn f_lower(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(str_arg(args, 0, "lower", 1)?.to_lowercase()))
}

fn f_title(args: &[Value]) -> Result<Value, FuncError> {
    let s = str_arg(args, 0, "title", 1)?;
    let mut out = String::with_capacity(s.len());
    let mut at_word_start = true;
    for c in s.chars() {
        if at_word_start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_word_start = c.is_whitespace();
    }
    Ok(Value::String(out))
}

fn f_split(args: &[Value]) -> Result<Value, FuncError> {
    let s = str_arg(args, 0, "split", 2)?;
    let sep = str_arg(args, 1, "split", 2)?;
    let parts: Vec<Value> = if sep.is_empty() {
        s.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        s.split(sep.as_str())
            .map(|p| Value::String(p.to_string()))
            .collect()
    };
    Ok(Value::Array(parts))
}

fn f_truncate(args: &[Value]) -> Result<Value, FuncError> {
    let s = str_arg(args, 0, "truncate", 2)?;
    let n = match arg(args, 1, "truncate", 2)? {
        Value::Number(n) => n.as_u64().unwrap_or(0) as usize,
        _ => return Err(FuncError::UnableToConvertFromValue),
    };
    Ok(Value::String(s.chars().take(n).collect()))
}

/// Go's `len`, which gtmpl lacks for maps.
fn f_len(args: &[Value]) -> Result<Value, FuncError> {
    let n = match arg(args, 0, "len", 1)? {
        Value::Array(a) => a.len(),
        Value::Map(m) | Value::Object(m) => m.len(),
        Value::String(s) => s.len(),
        Value::Nil | Value::NoValue => 0,
        other => {
            return Err(FuncError::Generic(format!(
                "len of {} is not defined",
                go_string(other)
            )))
        }
    };
    Ok(Value::from(n as u64))
}

/// Go's `index`: a missing map key gives the zero value (for Podman's string
/// maps, an empty string), an index out of range is an error.
fn f_index(args: &[Value]) -> Result<Value, FuncError> {
    let mut cur = arg(args, 0, "index", 2)?.clone();
    if args.len() < 2 {
        return Err(FuncError::AtLeastXArgs("index".into(), 2));
    }
    for key in &args[1..] {
        cur = match (&cur, key) {
            (Value::Array(a), Value::Number(n)) => {
                let i = n.as_u64().unwrap_or(u64::MAX) as usize;
                a.get(i).cloned().ok_or_else(|| {
                    FuncError::Generic(format!("error calling index: index out of range: {n}"))
                })?
            }
            (Value::Map(m) | Value::Object(m), k) => m
                .get(&go_string(k))
                .cloned()
                .unwrap_or_else(|| Value::String(String::new())),
            (Value::Nil | Value::NoValue, _) => Value::String(String::new()),
            (c, k) => {
                return Err(FuncError::Generic(format!(
                    "error calling index: cannot index {} with {}",
                    go_string(c),
                    go_string(k)
                )))
            }
        };
    }
    Ok(cur)
}

static FUNCS: &[(&str, Func)] = &[
    ("len", f_len as Func),
    ("index", f_index as Func),
    (PRINT_FN, f_print as Func),
    ("json", f_json as Func),
    ("join", f_join as Func),
    ("upper", f_upper as Func),
    ("lower", f_lower as Func),
    ("title", f_title as Func),
    ("split", f_split as Func),
    ("truncate", f_truncate as Func),
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_method_reads_the_label_map() {
        let v = json!({"LabelMap": {"app": "web"}});
        assert_eq!(render(r#"{{ .Label "app" }}"#, &v).unwrap(), "web");
        assert_eq!(render(r#"{{.Label "nope"}}|"#, &v).unwrap(), "|");
        // Text outside actions is left alone.
        assert_eq!(render(r#".Label "app""#, &v).unwrap(), r#".Label "app""#);
    }

    fn container() -> serde_json::Value {
        json!({
            "Id": "dc10e583883b0000",
            "Names": ["web"],
            "Args": ["httpd", "-f", "-p", "80"],
            "Labels": {"app": "web", "tier.name": "front"},
            "State": {"Status": "running", "Pid": 42, "Running": true, "ExitCode": 0},
            "Config": {"Env": ["PATH=/bin", "TERM=xterm"], "Cmd": ["httpd"], "Entrypoint": null},
            "Size": 1.5,
        })
    }

    #[test]
    fn renders_fields_and_nested_fields() {
        let v = container();
        assert_eq!(render("{{.Id}}", &v).unwrap(), "dc10e583883b0000");
        assert_eq!(
            render("{{.State.Status}} {{.State.Pid}}", &v).unwrap(),
            "running 42"
        );
        assert_eq!(render("{{.State.Running}}", &v).unwrap(), "true");
        assert_eq!(render("{{.Size}}", &v).unwrap(), "1.5");
        assert_eq!(render("{{.Missing}}", &v).unwrap(), "<no value>");
        assert_eq!(render("{{.Config.Entrypoint}}", &v).unwrap(), "<nil>");
    }

    #[test]
    fn prints_slices_and_maps_like_go() {
        let v = container();
        assert_eq!(
            render("{{.Config.Env}}", &v).unwrap(),
            "[PATH=/bin TERM=xterm]"
        );
        assert_eq!(
            render("{{.Labels}}", &v).unwrap(),
            "map[app:web tier.name:front]"
        );
        assert_eq!(
            render("{{.State}}", &v).unwrap(),
            "map[ExitCode:0 Pid:42 Running:true Status:running]"
        );
    }

    #[test]
    fn range_index_if() {
        let v = container();
        assert_eq!(
            render("{{range .Config.Env}}<{{.}}>{{end}}", &v).unwrap(),
            "<PATH=/bin><TERM=xterm>"
        );
        assert_eq!(
            render("{{range $i, $e := .Args}}{{$i}}={{$e}} {{end}}", &v).unwrap(),
            "0=httpd 1=-f 2=-p 3=80 "
        );
        assert_eq!(render(r#"{{index .Labels "app"}}"#, &v).unwrap(), "web");
        assert_eq!(
            render(r#"{{index .Labels "tier.name"}}"#, &v).unwrap(),
            "front"
        );
        assert_eq!(render("{{index .Args 1}}", &v).unwrap(), "-f");
        assert_eq!(
            render("{{if .State.Running}}up{{else}}down{{end}}", &v).unwrap(),
            "up"
        );
        assert_eq!(
            render("{{if .Missing}}yes{{else}}no{{end}}", &v).unwrap(),
            "no"
        );
        assert_eq!(
            render(r#"{{if eq .State.Status "running"}}R{{end}}"#, &v).unwrap(),
            "R"
        );
        assert_eq!(
            render("{{- .Id -}}  {{- /* c */ -}}", &v).unwrap(),
            "dc10e583883b0000"
        );
        assert_eq!(render("{{$s := .State}}{{$s.Pid}}", &v).unwrap(), "42");
        assert_eq!(
            render("{{range .Args}}{{.}}{{else}}none{{end}}", &v).unwrap(),
            "httpd-f-p80"
        );
        assert_eq!(
            render(
                "{{with .State}}{{range .Missing}}x{{else}}-{{end}}{{end}}",
                &v
            )
            .unwrap(),
            "-"
        );
        assert_eq!(
            render(
                "a {{- range $i, $x := .Nothing }} {{$x}} {{- else }} none {{- end }} b",
                &v
            )
            .unwrap(),
            "a none b"
        );
        assert_eq!(
            render("{{with .State}}{{.Status}}{{end}}", &v).unwrap(),
            "running"
        );
    }

    #[test]
    fn helper_functions() {
        let v = container();
        assert_eq!(
            render(r#"{{join .Args " "}}"#, &v).unwrap(),
            "httpd -f -p 80"
        );
        assert_eq!(render("{{upper .State.Status}}", &v).unwrap(), "RUNNING");
        assert_eq!(render("{{lower \"AbC\"}}", &v).unwrap(), "abc");
        assert_eq!(render("{{.State.Status | upper}}", &v).unwrap(), "RUNNING");
        assert_eq!(
            render(r#"{{printf "%s/%d" .State.Status .State.Pid}}"#, &v).unwrap(),
            "running/42"
        );
        assert_eq!(render(r#"{{printf "%q" "}}"}}"#, &v).unwrap(), "}}");
        assert_eq!(
            render(r#"{{range split "a,b" ","}}[{{.}}]{{end}}"#, &v).unwrap(),
            "[a][b]"
        );
        assert_eq!(render("{{truncate .Id 4}}", &v).unwrap(), "dc10");
        assert_eq!(render("{{len .Args}}", &v).unwrap(), "4");
        assert_eq!(render("{{len .Labels}}", &v).unwrap(), "2");
        assert_eq!(render(r#"{{index .Labels "nokey"}}"#, &v).unwrap(), "");
        assert!(render("{{index .Args 9}}", &v).is_err());
    }

    #[test]
    fn json_function() {
        let v = container();
        assert_eq!(
            render("{{json .Config}}", &v).unwrap(),
            r#"{"Cmd":["httpd"],"Entrypoint":null,"Env":["PATH=/bin","TERM=xterm"]}"#
        );
        let whole: serde_json::Value =
            serde_json::from_str(&render("{{json .}}", &v).unwrap()).unwrap();
        assert_eq!(whole, v);
        assert_eq!(render("{{json .Names}}", &v).unwrap(), r#"["web"]"#);
    }

    #[test]
    fn escapes_become_tabs_and_newlines() {
        let v = container();
        assert_eq!(
            render(r"{{.Id}}\t{{.State.Status}}\n", &v).unwrap(),
            "dc10e583883b0000\trunning\n"
        );
    }

    #[test]
    fn template_errors_are_one_line() {
        let v = container();
        for bad in ["{{.Id", "{{range .Args}}", "{{nosuchfn .Id}}", "{{end}}"] {
            let e = render(bad, &v).unwrap_err();
            let msg = e.to_string();
            assert!(msg.starts_with("template: "), "{msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
    }

    #[test]
    fn header_cells_name_fields() {
        assert_eq!(
            header_cells(
                "{{.ID}}\t{{.State.Status}}\t{{json .Labels}}\tx{{.Size}}",
                &Shape::any("t")
            ),
            vec!["ID", "STATUS", "LABELS", "xSIZE"]
        );
        assert_eq!(
            header_cells(
                "{{index .Labels \"a.b\"}}\t{{range .Names}}{{.}}{{end}}",
                &Shape::any("t")
            ),
            vec!["LABELS", "NAMES"]
        );
    }

    fn check(t: &str) -> Result<(), Error> {
        validate(t, &Shape::new("define.InspectContainerData", &container()))
    }

    #[test]
    fn validate_checks_fields_against_the_shape() {
        for good in [
            "{{.Id}}",
            "{{.State.Status}} {{.State.Pid}}",
            "{{range .Config.Env}}{{.}}{{end}}",
            "{{range $i, $e := .Args}}{{$i}}={{$e}}{{end}}",
            r#"{{index .Labels "app"}} {{.Labels.anything}}"#,
            "{{with .State}}{{.Status}}{{else}}{{.Id}}{{end}}",
            "{{if .State.Running}}{{.Id}}{{else if .Size}}x{{end}}",
            "{{$s := .State}}{{$s.Pid}} {{$.Id}}",
            "{{json .Config}} {{.State.Status | upper}} {{(.State).Anything}}",
            "{{.Config.Entrypoint.Anything}}",
            r#"{{printf "%s {{.Nope}}" .Id}}"#,
            "{{/* .Nope */}}",
        ] {
            assert!(check(good).is_ok(), "{good}: {:?}", check(good));
        }
        let cases = [
            (
                "{{.Nope}}",
                "<.Nope>: can't evaluate field Nope in type define.InspectContainerData",
            ),
            ("{{.State.Nope}}", "can't evaluate field Nope in type State"),
            ("{{.Id.Nope}}", "can't evaluate field Nope in type string"),
            (
                "{{range .Config.Env}}{{.Nope}}{{end}}",
                "field Nope in type string",
            ),
            ("{{with .State}}{{.Id}}{{end}}", "field Id in type State"),
            ("{{if .Nope}}x{{end}}", "field Nope"),
            ("{{$s := .State}}{{$s.Nope}}", "field Nope in type State"),
            ("{{json .Nope}}", "field Nope"),
            ("{{upper (.Nope)}}", "field Nope"),
            ("{{.Id | printf \"%s\" .Nope}}", "field Nope"),
        ];
        for (bad, want) in cases {
            let e = check(bad).unwrap_err().to_string();
            assert!(
                e.starts_with("template: ") && e.contains(want),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn validate_rejects_broken_syntax() {
        for bad in [
            "{{.Id",
            "{{range}}",
            "{{range .Args}}",
            "{{end}}",
            "{{nosuchfn .Id}}",
            "{{if}}{{end}}",
        ] {
            let e = validate(bad, &Shape::any("x")).unwrap_err().to_string();
            assert!(
                e.starts_with("template: ") && !e.contains('\n'),
                "{bad}: {e}"
            );
        }
    }
}
