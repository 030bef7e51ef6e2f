//! Exit codes and error reporting.

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;

/// The process exit codes, stable for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Success.
    Ok = 0,
    /// A failure not covered below.
    Failure = 1,
    /// Bad command-line usage (unknown flag, missing argument, unparsable value).
    Usage = 2,
    /// An input could not be opened or read, or output could not be written.
    Io = 3,
    /// Input data is invalid (bad base32, bad hex, bad digest string).
    Data = 4,
    /// Invalid chunking configuration (sizes out of range or unordered, unknown kernel).
    Config = 5,
    /// A signature or hash does not verify.
    Verify = 6,
}

impl From<Code> for ExitCode {
    fn from(c: Code) -> ExitCode {
        ExitCode::from(c as u8)
    }
}

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    pub code: Code,
    pub error: anyhow::Error,
}

impl CliError {
    pub fn new(code: Code, error: impl Into<anyhow::Error>) -> Self {
        CliError {
            code,
            error: error.into(),
        }
    }

    /// Print to stderr and give the exit code. A closed stdout (`chunker … | head`) is
    /// not an error: the reader has what it wanted, so exit 0 quietly.
    pub fn report(self) -> ExitCode {
        if self.is_broken_pipe() {
            return ExitCode::SUCCESS;
        }
        // One line, and nothing in a name quoted by the message can drive the terminal.
        let message = crate::output::escape_message(&format!("{:#}", self.error));
        // An unwritable stderr must not turn the error into a panic.
        let _ = writeln!(io::stderr(), "chunker: error: {message}");
        self.code.into()
    }

    fn is_broken_pipe(&self) -> bool {
        self.error.chain().any(|e| {
            e.downcast_ref::<io::Error>()
                .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
        })
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

pub type Result<T, E = CliError> = std::result::Result<T, E>;

/// Attach an exit code to any error.
pub trait WithCode<T> {
    fn code(self, code: Code) -> Result<T>;
}

impl<T, E: Into<anyhow::Error>> WithCode<T> for std::result::Result<T, E> {
    fn code(self, code: Code) -> Result<T> {
        self.map_err(|e| CliError::new(code, e))
    }
}

/// Writing to stdout failed (a closed pipe included, which `report` silences).
pub fn write_err(e: io::Error) -> CliError {
    CliError::new(Code::Io, anyhow::Error::new(e).context("writing output"))
}
