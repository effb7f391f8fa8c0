//! Aligned tables as Podman's tabwriter prints them, and the header names
//! derived from Go field names.

use std::io::Write;

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

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn header_names() {
        assert_eq!(header_name("ID"), "ID");
        assert_eq!(header_name("CreatedAt"), "CREATED AT");
        assert_eq!(header_name("ImageID"), "IMAGE ID");
        assert_eq!(header_name("Names"), "NAMES");
        assert_eq!(header_name("OCIRuntime"), "OCI RUNTIME");
        assert_eq!(header_name("IPAddress"), "IP ADDRESS");
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
}
