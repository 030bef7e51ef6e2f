//! Helpers shared by the CLI integration tests: run the built `chunker` binary.
// Each test crate uses a subset.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The built `chunker` binary.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_chunker"))
}

/// Run `chunker args` with no stdin.
pub fn run(args: &[&str]) -> Output {
    bin()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("spawn chunker")
}

/// Standard output as UTF-8.
pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 output")
}

/// Standard error, lossily.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A path as an argument.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
