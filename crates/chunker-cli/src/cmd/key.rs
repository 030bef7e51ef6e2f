//! `chunker key generate`.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;
use chunker::nix::SecretKey;

use crate::cli::KeyCommand;
use crate::error::{Code, Result, WithCode};

pub fn run(c: KeyCommand) -> Result<()> {
    match c {
        KeyCommand::Generate {
            name,
            secret,
            public,
        } => {
            let key = SecretKey::generate(&name).code(Code::Usage)?;
            // Like Nix: no trailing newline.
            write_new(&secret, key.to_nix_string().as_bytes(), 0o600)?;
            write_new(&public, key.public_key().to_string().as_bytes(), 0o644)
        }
    }
}

/// Create `path` (never overwriting) with `mode` and write `data`.
fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))
        .code(Code::Io)?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
        .code(Code::Io)
}
