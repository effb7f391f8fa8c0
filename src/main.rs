//! The `skiff` binary: parse the command line, run the command, map the
//! outcome to an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    let code = skiff::cli::main();
    ExitCode::from(code.clamp(0, 255) as u8)
}
