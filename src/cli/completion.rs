//! `completion`: the shell completion script for bash, zsh, fish or
//! PowerShell, generated from the command definitions (clap_complete), as
//! `podman completion SHELL` prints its own.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::{Error, Result};

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// Output the completion to file rather than stdout
    #[arg(short, long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The shell to complete for: bash, zsh, fish or powershell
    #[arg(value_name = "SHELL", value_parser = ["bash", "zsh", "fish", "powershell"])]
    pub shell: String,
}

/// Prints (or writes to `--file`) the script for the shell. Errors: the file
/// cannot be written (nothing is left half-written: it is renamed into place).
pub fn completion(a: CompletionArgs) -> Result<i32> {
    use clap_complete::Shell;
    let shell = match a.shell.as_str() {
        "bash" => Shell::Bash,
        "zsh" => Shell::Zsh,
        "fish" => Shell::Fish,
        _ => Shell::PowerShell,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut super::command(), "skiff", &mut script);
    match a.file {
        None => {
            let _ = std::io::stdout().write_all(&script);
        }
        Some(path) => {
            let tmp = path.with_extension("skiff-tmp");
            std::fs::write(&tmp, &script)
                .and_then(|()| std::fs::rename(&tmp, &path))
                .map_err(|e| {
                    let _ = std::fs::remove_file(&tmp);
                    Error::msg(crate::error::io_msg("write", &path, &e))
                })?;
        }
    }
    Ok(0)
}
