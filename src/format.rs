//! `--format` output: Go templates over JSON values, aligned tables, JSON arrays,
//! and the human sizes and durations Podman prints.
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
//! instead of failing (JSON cannot tell a struct from a map).

use std::collections::HashMap;
use std::io::Write;

use gtmpl::{Func, FuncError, Template, Value};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("template: {0}")]
    Template(String),
}

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

/// Prints `items` according to a `--format` value: `json`, `table TEMPLATE`, or
/// a template rendered once per item.
///
/// A bare `table` has no template to derive columns from; callers that accept it
/// should substitute their default table first.
pub fn print_formatted(format: &str, items: &[serde_json::Value]) -> Result<(), Error> {
    let out = format_items(format, items)?;
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`skiff ps --format ... | head -1`) is not an error worth reporting.
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    Ok(())
}

/// The text `print_formatted` prints.
pub fn format_items(format: &str, items: &[serde_json::Value]) -> Result<String, Error> {
    if format.trim() == "json" {
        return Ok(to_pretty_json(&serde_json::Value::Array(items.to_vec())) + "\n");
    }
    if let Some(rest) = strip_table_prefix(format) {
        if rest.trim().is_empty() {
            // Podman shows the command's default table; only the caller knows it.
            return Err(Error::Template(
                "\"table\" needs columns after it, e.g. --format \"table {{.ID}}\\t{{.Names}}\""
                    .into(),
            ));
        }
        let text = unescape(rest.trim_start());
        let headers = header_cells(&text);
        let mut rows = Vec::new();
        for item in items {
            let rendered = render(&text, item)?;
            for line in rendered.lines() {
                rows.push(line.split('\t').map(str::to_string).collect());
            }
        }
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        return Ok(table_text(&headers, &rows, false));
    }
    let mut out = String::new();
    for item in items {
        out.push_str(&render(format, item)?);
        out.push('\n');
    }
    Ok(out)
}

/// Prints an aligned table the way Podman's tabwriter does: each column is as
/// wide as its widest cell plus two spaces, and at least 12; the last column is
/// not padded.
pub fn print_table(headers: &[&str], rows: &[Vec<String>], noheading: bool) {
    let out = table_text(headers, rows, noheading);
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
}

/// The text `print_table` prints.
pub fn table_text(headers: &[&str], rows: &[Vec<String>], noheading: bool) -> String {
    const MIN_WIDTH: usize = 12;
    const PADDING: usize = 2;
    let mut lines: Vec<Vec<&str>> = Vec::with_capacity(rows.len() + 1);
    if !noheading && !headers.is_empty() {
        lines.push(headers.to_vec());
    }
    lines.extend(rows.iter().map(|r| r.iter().map(String::as_str).collect()));
    let mut widths: Vec<usize> = Vec::new();
    for line in &lines {
        // The last cell of a line ends the line, not a column: it does not widen it.
        for (i, cell) in line.iter().enumerate().take(line.len().saturating_sub(1)) {
            let w = (cell.chars().count() + PADDING).max(MIN_WIDTH);
            if i >= widths.len() {
                widths.resize(i + 1, 0);
            }
            widths[i] = widths[i].max(w);
        }
    }
    let mut out = String::new();
    for line in &lines {
        let mut s = String::new();
        for (i, cell) in line.iter().enumerate() {
            s.push_str(cell);
            if i + 1 < line.len() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                s.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    }
    out
}

/// Decimal size with three significant digits and a space before the unit, as
/// `podman images` prints it: `2.13 MB`, `12 B`.
pub fn human_size(bytes: u64) -> String {
    let (num, unit) = size_parts(bytes);
    format!("{num} {unit}")
}

/// The same without the space, as `podman ps --size` prints it: `1.98MB`, `12B`.
pub fn human_size_compact(bytes: u64) -> String {
    let (num, unit) = size_parts(bytes);
    format!("{num}{unit}")
}

fn size_parts(bytes: u64) -> (String, &'static str) {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut size = bytes as f64;
    let mut i = 0;
    while size >= 1000.0 && i < UNITS.len() - 1 {
        size /= 1000.0;
        i += 1;
    }
    let mut num = three_digits(size);
    // go-units prints 999999 bytes as `1e+03kB`; rounding up to the next unit reads better.
    if num == "1000" && i < UNITS.len() - 1 {
        num = "1".to_string();
        i += 1;
    }
    (num, UNITS[i])
}

/// Go's `%.3g` for 0 <= x < 1000, without the exponent form.
fn three_digits(x: f64) -> String {
    let decimals = if x >= 100.0 {
        0
    } else if x >= 10.0 {
        1
    } else {
        2
    };
    let mut s = format!("{x:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    s
}

/// How long ago `t` was: `About an hour ago`.
pub fn human_ago(t: chrono::DateTime<chrono::Utc>) -> String {
    let secs = (chrono::Utc::now() - t).num_seconds();
    format!("{} ago", human_duration(secs))
}

/// A duration in words, as Docker's go-units `HumanDuration` says it.
pub fn human_duration(secs: i64) -> String {
    if secs < 1 {
        return "Less than a second".into();
    }
    if secs == 1 {
        return "1 second".into();
    }
    if secs < 60 {
        return format!("{secs} seconds");
    }
    let minutes = secs / 60;
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    // Go's Duration.Round(time.Hour): halves round away from zero.
    let hours = (secs + 1800) / 3600;
    if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", secs / 3600 / 24 / 365)
    }
}

/// Splits a Go field name into the words of a table header:
/// `CreatedAt` -> `CREATED AT`, `ImageID` -> `IMAGE ID`.
pub fn header_name(field: &str) -> String {
    let chars: Vec<char> = field.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' {
            out.push(' ');
            continue;
        }
        if i > 0 && c.is_uppercase() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                out.push(' ');
            }
        }
        out.extend(c.to_uppercase());
    }
    out
}

fn strip_table_prefix(format: &str) -> Option<&str> {
    let t = format.trim_start();
    let rest = t.strip_prefix("table")?;
    if rest.is_empty() || rest.starts_with(char::is_whitespace) {
        Some(rest)
    } else {
        None
    }
}

fn unescape(s: &str) -> String {
    s.replace("\\t", "\t").replace("\\n", "\n")
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

fn to_pretty_json(v: &serde_json::Value) -> String {
    // Podman indents its JSON with four spaces.
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(v, &mut ser).expect("serialising a JSON value cannot fail");
    String::from_utf8(buf).expect("serde_json writes UTF-8")
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
fn header_cells(text: &str) -> Vec<String> {
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
                        line.push_str(&header_name(field));
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
                    line.push_str(&header_name(field));
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
    fn header_names() {
        assert_eq!(header_name("ID"), "ID");
        assert_eq!(header_name("CreatedAt"), "CREATED AT");
        assert_eq!(header_name("ImageID"), "IMAGE ID");
        assert_eq!(header_name("Names"), "NAMES");
        assert_eq!(header_name("OCIRuntime"), "OCI RUNTIME");
        assert_eq!(header_name("IPAddress"), "IP ADDRESS");
        assert_eq!(
            header_cells("{{.ID}}\t{{.State.Status}}\t{{json .Labels}}\tx{{.Size}}"),
            vec!["ID", "STATUS", "LABELS", "xSIZE"]
        );
        assert_eq!(
            header_cells("{{index .Labels \"a.b\"}}\t{{range .Names}}{{.}}{{end}}"),
            vec!["LABELS", "NAMES"]
        );
    }

    #[test]
    fn table_format() {
        let items = vec![
            json!({"ID": "dc10e583883b", "Names": "web", "CreatedAt": "1 second ago"}),
            json!({"ID": "0c1e58b97643", "Names": "a-much-longer-name", "CreatedAt": "now"}),
        ];
        let out = format_items(r"table {{.ID}}\t{{.Names}}\t{{.CreatedAt}}", &items).unwrap();
        assert_eq!(
            out,
            "ID            NAMES               CREATED AT\n\
             dc10e583883b  web                 1 second ago\n\
             0c1e58b97643  a-much-longer-name  now\n"
        );
    }

    #[test]
    fn plain_and_json_formats() {
        let items = vec![json!({"ID": "a"}), json!({"ID": "b"})];
        assert_eq!(format_items("{{.ID}}", &items).unwrap(), "a\nb\n");
        let out = format_items("json", &items).unwrap();
        assert_eq!(
            out,
            "[\n    {\n        \"ID\": \"a\"\n    },\n    {\n        \"ID\": \"b\"\n    }\n]\n"
        );
        assert_eq!(format_items("json", &[]).unwrap(), "[]\n");
        assert!(format_items("table", &items).is_err());
        // A template that only starts with the word is not a table.
        assert_eq!(
            format_items("tablet {{.ID}}", &items[..1]).unwrap(),
            "tablet a\n"
        );
    }

    #[test]
    fn tables_align_like_podman() {
        let rows = vec![vec![
            "localhost/busybox".to_string(),
            "latest".to_string(),
            "569ab07b4f07".to_string(),
            "About an hour ago".to_string(),
            "2.13 MB".to_string(),
        ]];
        let out = table_text(
            &["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
            &rows,
            false,
        );
        assert_eq!(
            out,
            "REPOSITORY         TAG         IMAGE ID      CREATED            SIZE\n\
             localhost/busybox  latest      569ab07b4f07  About an hour ago  2.13 MB\n"
        );
        let out = table_text(&["A", "B"], &rows, true);
        assert!(out.starts_with("localhost/busybox  latest"));
        // A last column that is empty leaves no trailing spaces.
        let out = table_text(&["NAME", "PORTS"], &[vec!["x".into(), "".into()]], false);
        assert_eq!(out, "NAME        PORTS\nx\n");
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(12), "12 B");
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1000), "1 kB");
        assert_eq!(human_size(12_345), "12.3 kB");
        assert_eq!(human_size(123_456), "123 kB");
        assert_eq!(human_size(2_130_000), "2.13 MB");
        assert_eq!(human_size(999_999), "1 MB");
        assert_eq!(human_size(5_000_000_000), "5 GB");
        assert_eq!(human_size_compact(1_980_000), "1.98MB");
        assert_eq!(human_size_compact(12), "12B");
        assert_eq!(human_size_compact(u64::MAX), "18.4EB");
    }

    #[test]
    fn durations() {
        assert_eq!(human_duration(-5), "Less than a second");
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(59), "59 seconds");
        assert_eq!(human_duration(60), "About a minute");
        assert_eq!(human_duration(119), "About a minute");
        assert_eq!(human_duration(120), "2 minutes");
        assert_eq!(human_duration(3599), "59 minutes");
        assert_eq!(human_duration(3600), "About an hour");
        assert_eq!(human_duration(5399), "About an hour");
        assert_eq!(human_duration(5400), "2 hours");
        assert_eq!(human_duration(47 * 3600), "47 hours");
        assert_eq!(human_duration(48 * 3600), "2 days");
        assert_eq!(human_duration(14 * 86400), "2 weeks");
        assert_eq!(human_duration(60 * 86400), "2 months");
        assert_eq!(human_duration(730 * 86400), "2 years");
        let t = chrono::Utc::now() - chrono::Duration::hours(1);
        assert_eq!(human_ago(t), "About an hour ago");
        assert_eq!(human_ago(chrono::Utc::now()), "Less than a second ago");
    }
}
