//! The `skiff` binary: parse the command line, run the command, map the
//! outcome to an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    // The supervisor and the pod infra process are dispatched before the
    // command-line parser so that they never initialise the CLI's code and
    // data: they stay small in memory.
    let args: Vec<String> = std::env::args().collect();
    let code = match args.get(1).map(String::as_str) {
        Some("_supervise") => skiff::supervisor::main(&args[2..]),
        // The pod's infra process: no parser, nothing but its own loop.
        Some(skiff::pod::infra::SUBCOMMAND) => skiff::pod::infra::main(),
        // A published port's forwarder lives as long as its container, and
        // under a connection flood its memory is budgeted: no parser either.
        Some("_portfwd") => match skiff::network::portfwd::main(args[2..].to_vec()) {
            Ok(code) => code,
            Err(e) => {
                skiff::cli::report(&e);
                e.exit_code()
            }
        },
        _ => skiff::cli::main(),
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}
