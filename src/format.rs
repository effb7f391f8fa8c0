//! `--format` Go templates, tables and JSON output (stub).

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("template: {0}")]
    Template(String),
}
