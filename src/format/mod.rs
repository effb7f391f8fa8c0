//! `--format` output, split by job: Go templates over JSON values
//! ([`template`]), aligned tables ([`table`]), and the human sizes, durations
//! and Go duration strings Podman reads and prints ([`units`]). This file
//! chooses between them for a `--format` value (`json`, `table TEMPLATE`, or a
//! template) and prints.

use std::io::Write;

pub mod table;
pub mod template;
pub mod units;

pub use table::{header_name, print_table, table_text};
pub use template::{render, validate, Shape};
pub use units::{
    bytes_size, human_ago, human_duration, human_size, human_size_4, human_size_compact,
    parse_go_duration,
};

/// A `--format` value that cannot be used; shown as `Error: template: ...`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("template: {0}")]
    Template(String),
}

/// Prints `items` according to a `--format` value: `json`, `table TEMPLATE`, or
/// a template rendered once per item.
///
/// A bare `table` has no template to derive columns from; callers that accept it
/// should substitute their default table first.
///
/// The template is checked against `shape` before anything is printed, so a
/// misspelt field or a broken template fails even when there are no items
/// (Podman: `can't evaluate field Nope in type ...`, exit 125).
pub fn print_formatted(
    format: &str,
    items: &[serde_json::Value],
    shape: &Shape,
) -> Result<(), Error> {
    let out = format_items(format, items, shape)?;
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`skiff ps --format ... | head -1`) is not an error worth reporting.
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    Ok(())
}

/// The text `print_formatted` prints.
pub fn format_items(
    format: &str,
    items: &[serde_json::Value],
    shape: &Shape,
) -> Result<String, Error> {
    format_items_headed(format, items, shape, true)
}

/// Like `format_items`, with `heading` false leaving out the header line of
/// a `table` template (`--noheading`).
pub fn format_items_headed(
    format: &str,
    items: &[serde_json::Value],
    shape: &Shape,
    heading: bool,
) -> Result<String, Error> {
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
        let text = template::unescape(rest.trim_start());
        validate(&text, shape)?;
        let headers = template::header_cells(&text, shape);
        let mut rows = Vec::new();
        for item in items {
            let rendered = render(&text, item)?;
            for line in rendered.lines() {
                rows.push(line.split('\t').map(str::to_string).collect());
            }
        }
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        return Ok(table_text(&headers, &rows, !heading));
    }
    validate(format, shape)?;
    let mut out = String::new();
    for item in items {
        out.push_str(&render(format, item)?);
        out.push('\n');
    }
    Ok(out)
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

fn to_pretty_json(v: &serde_json::Value) -> String {
    // Podman indents its JSON with four spaces.
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(v, &mut ser).expect("serialising a JSON value cannot fail");
    String::from_utf8(buf).expect("serde_json writes UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn any() -> Shape<'static> {
        Shape::any("item")
    }

    #[test]
    fn table_format() {
        let items = vec![
            json!({"ID": "dc10e583883b", "Names": "web", "CreatedAt": "1 second ago"}),
            json!({"ID": "0c1e58b97643", "Names": "a-much-longer-name", "CreatedAt": "now"}),
        ];
        let out =
            format_items(r"table {{.ID}}\t{{.Names}}\t{{.CreatedAt}}", &items, &any()).unwrap();
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
        assert_eq!(format_items("{{.ID}}", &items, &any()).unwrap(), "a\nb\n");
        let out = format_items("json", &items, &any()).unwrap();
        assert_eq!(
            out,
            "[\n    {\n        \"ID\": \"a\"\n    },\n    {\n        \"ID\": \"b\"\n    }\n]\n"
        );
        assert_eq!(format_items("json", &[], &any()).unwrap(), "[]\n");
        assert!(format_items("table", &items, &any()).is_err());
        // A template that only starts with the word is not a table.
        assert_eq!(
            format_items("tablet {{.ID}}", &items[..1], &any()).unwrap(),
            "tablet a\n"
        );
    }

    #[test]
    fn bad_templates_fail_before_any_output_even_with_no_items() {
        let sample = json!({"ID": "x", "Names": ["n"], "State": "running"});
        let shape = Shape::new("entities.ListContainer", &sample);
        for bad in [
            "{{.Nope}}",
            "table {{.ID}}\t{{.Nope}}",
            "{{.Names",
            "{{range}}",
            "{{end}}",
        ] {
            let e = format_items(bad, &[], &shape).unwrap_err().to_string();
            assert!(e.starts_with("template: "), "{bad}: {e}");
            assert!(!e.contains('\n'), "{bad}: {e}");
        }
        let e = format_items("{{.Nope}}", std::slice::from_ref(&sample), &shape)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("can't evaluate field Nope in type entities.ListContainer"),
            "{e}"
        );
        assert_eq!(format_items("{{.ID}}", &[], &shape).unwrap(), "");
        assert_eq!(format_items("json", &[], &shape).unwrap(), "[]\n");
    }
}
