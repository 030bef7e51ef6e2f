//! Opening FILE or standard input.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::error::{Code, Result, WithCode};
use crate::output;

/// An opened input: a reader (`Send`, so that it can be read on a second thread), its
/// display name (escaped with [`output::escape`], safe to print) and its length when
/// known.
pub struct Input {
    pub reader: Box<dyn Read + Send>,
    pub name: String,
    pub len: Option<u64>,
}

/// A path for messages and text output: see [`output::escape`].
pub fn display(path: &Path) -> String {
    output::escape(path.as_os_str().as_encoded_bytes())
}

fn is_stdin(path: &Option<PathBuf>) -> bool {
    path.as_deref().is_none_or(|p| p == Path::new("-"))
}

/// Open `path`, or standard input for `None` or `-`. Directories and unreadable paths
/// are an I/O error naming the path.
pub fn open(path: &Option<PathBuf>) -> Result<Input> {
    if is_stdin(path) {
        return Ok(Input {
            reader: Box::new(io::stdin()),
            name: "-".into(),
            len: None,
        });
    }
    let path = path.as_deref().expect("not stdin");
    let file = File::open(path)
        .with_context(|| format!("cannot open {}", display(path)))
        .code(Code::Io)?;
    let meta = file
        .metadata()
        .with_context(|| format!("cannot stat {}", display(path)))
        .code(Code::Io)?;
    if meta.is_dir() {
        return Err(anyhow::anyhow!("{} is a directory", display(path))).code(Code::Io);
    }
    Ok(Input {
        reader: Box::new(file),
        name: display(path),
        len: meta.is_file().then_some(meta.len()),
    })
}

/// Read a whole input into memory (for small inputs such as `base32 encode`), with a cap.
pub fn read_all(path: &Option<PathBuf>, cap: u64) -> Result<Vec<u8>> {
    let input = open(path)?;
    let mut buf = Vec::new();
    input
        .reader
        .take(cap + 1)
        .read_to_end(&mut buf)
        .with_context(|| format!("cannot read {}", input.name))
        .code(Code::Io)?;
    if buf.len() as u64 > cap {
        return Err(anyhow::anyhow!("{} is larger than {cap} bytes", input.name)).code(Code::Data);
    }
    Ok(buf)
}
