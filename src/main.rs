//! The `skiff` binary: parse the command line, run the command, map the
//! outcome to an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    // The supervisor is dispatched before the command-line parser so that it
    // never initialises the CLI's code and data: it stays small in memory.
    let args: Vec<String> = std::env::args().collect();
    let code = if args.get(1).map(String::as_str) == Some("_supervise") {
        skiff::supervisor::main(&args[2..])
    } else {
        skiff::cli::main()
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}
