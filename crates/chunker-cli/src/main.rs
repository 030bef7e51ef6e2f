//! `chunker`: content-defined chunking, hashing and Nix encodings from the command line.
//!
//! A thin driver: arguments → the `chunker` library → text, CSV or JSON. No algorithms
//! live here.
#![forbid(unsafe_code)]

mod cli;
mod cmd;
mod error;
mod input;
mod output;
mod size;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

fn main() -> ExitCode {
    let parsed = with_exit_codes(cli::Cli::command())
        .try_get_matches()
        .and_then(|m| cli::Cli::from_arg_matches(&m));
    let args = match parsed {
        Ok(a) => a,
        Err(e) => {
            // --help and --version print to stdout and succeed; usage errors exit 2.
            let code = if e.use_stderr() {
                error::Code::Usage
            } else {
                error::Code::Ok
            };
            // Help that cannot be written (`--help > /dev/full`) is an output error.
            if let Err(io) = e.print() {
                if code == error::Code::Ok {
                    return error::write_err(io).report();
                }
            }
            return code.into();
        }
    };
    // A bad CHUNKER_CDC_KERNEL is a configuration error, not a silent fallback.
    if let Err(e) = chunker::Kernel::from_env() {
        return error::CliError::new(
            error::Code::Config,
            anyhow::Error::new(e).context(format!("invalid {}", chunker::cdc::KERNEL_ENV)),
        )
        .report();
    }
    match cmd::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}

/// Every command's `--help`, sub-subcommands included, ends with the exit codes.
fn with_exit_codes(c: clap::Command) -> clap::Command {
    c.after_help(cli::EXIT_CODES)
        .mut_subcommands(with_exit_codes)
}
