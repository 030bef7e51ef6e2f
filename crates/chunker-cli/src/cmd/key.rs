//! `chunker key generate`.
//!
//! Both files are new: an existing file is never overwritten (unlike
//! `nix-store --generate-binary-cache-key`, which replaces it), so a key in use cannot be
//! lost by a mistyped command. Both paths are checked before anything is written; each
//! file is written to a temporary file in its target directory (the secret one created
//! with mode 0600), synced, then linked to its name, which fails rather than replace a
//! file that appeared meanwhile (a file system without hard links fails cleanly here).
//! On any failure, every file this run created is removed: no secret key without its
//! public key is left behind.

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use chunker::nix::SecretKey;

use crate::cli::KeyCommand;
use crate::error::{CliError, Code, Result, WithCode};

pub fn run(c: KeyCommand) -> Result<()> {
    match c {
        KeyCommand::Generate {
            name,
            secret,
            public,
        } => {
            let key = SecretKey::generate(&name).code(Code::Usage)?;
            let secret_id = target(&secret)?;
            let public_id = target(&public)?;
            if secret_id == public_id {
                return Err(CliError::new(
                    Code::Usage,
                    anyhow!(
                        "--secret and --public name the same file ({})",
                        secret.display()
                    ),
                ));
            }
            // Like Nix: no trailing newline.
            let secret_tmp = Temp::write(&secret, key.to_nix_string().as_bytes(), 0o600)?;
            let public_tmp = Temp::write(&public, key.public_key().to_string().as_bytes(), 0o644)?;
            let secret_done = secret_tmp.publish()?;
            public_tmp.publish().inspect_err(|_| {
                // Best effort: the public key could not be written, so take back the
                // secret one this run created (the name was ours: `link` made it).
                let _ = fs::remove_file(&secret_done);
            })?;
            Ok(())
        }
    }
}

/// Where `path` points, for comparing two of them: its directory resolved and its file
/// name. Fails when the directory does not exist or the file does.
fn target(path: &Path) -> Result<(PathBuf, OsString)> {
    let cannot = |e: io::Error| {
        CliError::new(
            Code::Io,
            anyhow::Error::new(e).context(format!("cannot create {}", path.display())),
        )
    };
    let file_name = path.file_name().ok_or_else(|| {
        CliError::new(
            Code::Usage,
            anyhow!("{} is not a file name", path.display()),
        )
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = fs::canonicalize(dir).map_err(cannot)?;
    if fs::symlink_metadata(path).is_ok() {
        return Err(CliError::new(
            Code::Io,
            anyhow!(
                "{} already exists (keys are never overwritten)",
                path.display()
            ),
        ));
    }
    Ok((dir, file_name.to_owned()))
}

/// A temporary file next to its destination, removed on drop.
struct Temp {
    tmp: PathBuf,
    dest: PathBuf,
}

impl Temp {
    /// Create a new temporary file in `dest`'s directory with `mode` and write `data`.
    fn write(dest: &Path, data: &[u8], mode: u32) -> Result<Temp> {
        let name = dest.file_name().unwrap_or_default().to_string_lossy();
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let mut attempt = 0u32;
        let (file, tmp) = loop {
            let tmp = dest.with_file_name(format!(
                ".{name}.tmp-{}-{stamp:x}-{attempt}",
                std::process::id()
            ));
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&tmp)
            {
                Ok(f) => break (f, tmp),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("cannot create {}", dest.display()))
                        .code(Code::Io)
                }
            }
        };
        let temp = Temp {
            tmp,
            dest: dest.to_owned(),
        };
        let mut file = file;
        file.write_all(data)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", dest.display()))
            .code(Code::Io)?;
        Ok(temp)
    }

    /// Give the file its name; fails if that name exists (a hard link never replaces).
    /// Returns the name.
    fn publish(&self) -> Result<PathBuf> {
        fs::hard_link(&self.tmp, &self.dest)
            .map_err(|e| match e.kind() {
                io::ErrorKind::AlreadyExists => anyhow!(
                    "{} already exists (keys are never overwritten)",
                    self.dest.display()
                ),
                _ => {
                    anyhow::Error::new(e).context(format!("cannot create {}", self.dest.display()))
                }
            })
            .code(Code::Io)?;
        Ok(self.dest.clone())
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.tmp);
    }
}
