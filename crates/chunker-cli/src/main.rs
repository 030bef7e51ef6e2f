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

use clap::Parser;

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            // --help and --version print to stdout and succeed; usage errors exit 2.
            let code = if e.use_stderr() {
                error::Code::Usage
            } else {
                error::Code::Ok
            };
            let _ = e.print();
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
