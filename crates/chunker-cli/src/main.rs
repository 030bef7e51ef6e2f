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

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

fn main() -> ExitCode {
    let parsed = with_exit_codes(cli::Cli::command())
        .try_get_matches()
        .and_then(|m| cli::Cli::from_arg_matches(&m));
    let args = match parsed {
        Ok(a) => a,
        Err(e) => {
            // Usage errors exit 2 with one line on stderr; a missing command shows help.
            let help = e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand;
            if e.use_stderr() && !help {
                let message = usage_line(&e.render().to_string());
                let _ = writeln!(std::io::stderr(), "chunker: {message}");
                return error::Code::Usage.into();
            }
            // --help and --version print to stdout and succeed; help that cannot be
            // written (`--help > /dev/full`) is an output error.
            if let Err(io) = e.print() {
                return error::write_err(io).report();
            }
            return if help {
                error::Code::Usage.into()
            } else {
                error::Code::Ok.into()
            };
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
    // Likewise a bad CHUNKER_SHA256_KERNEL.
    if let Err(e) = chunker::sha256::Kernel::from_env() {
        return error::CliError::new(
            error::Code::Config,
            anyhow::Error::new(e).context(format!("invalid {}", chunker::sha256::KERNEL_ENV)),
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

/// clap's usage error on one line: its message and tips, without the usage block
/// (`--help` has it).
fn usage_line(rendered: &str) -> String {
    let mut line = String::new();
    for l in rendered.lines().map(str::trim) {
        if l.is_empty() || l.starts_with("Usage:") || l.starts_with("For more information") {
            continue;
        }
        if !line.is_empty() {
            line.push_str(if line.ends_with(':') { " " } else { "; " });
        }
        line.push_str(l);
    }
    output::escape_message(&line)
}
