//! `chunker narinfo sign|verify`.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::{anyhow, Context};
use chunker::nix::keys::Zeroizing;
use chunker::nix::{NarInfo, PublicKey, SecretKey};

use crate::cli::NarinfoCommand;
use crate::error::{write_err, CliError, Code, Result, WithCode};
use crate::{input, output};

/// Larger narinfo files are refused.
const MAX_NARINFO: u64 = 1 << 20;

pub fn run(c: NarinfoCommand) -> Result<()> {
    match c {
        NarinfoCommand::Sign { key_file, narinfo } => {
            let key = read_secret(&key_file)?;
            let mut info = read_narinfo(narinfo)?;
            info.sign(&key);
            let mut out = output::stdout();
            write!(out, "{info}").map_err(write_err)?;
            out.flush().map_err(write_err)
        }
        NarinfoCommand::Verify {
            public_key,
            narinfo,
        } => {
            // The value is never shown: it may be a secret key pasted by mistake.
            let many = public_key.len() > 1;
            let keys = public_key
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    k.parse::<PublicKey>()
                        .with_context(|| match many {
                            true => format!("invalid --public-key (#{})", i + 1),
                            false => "invalid --public-key".to_owned(),
                        })
                        .code(Code::Usage)
                })
                .collect::<Result<Vec<_>>>()?;
            let info = read_narinfo(narinfo)?;
            let n = info
                .verify(&keys)
                .with_context(|| format!("{} does not verify", info.store_path))
                .code(Code::Verify)?;
            let mut out = output::stdout();
            writeln!(out, "{}: {n} valid signature(s)", info.store_path).map_err(write_err)?;
            out.flush().map_err(write_err)
        }
    }
}

fn read_narinfo(path: PathBuf) -> Result<NarInfo> {
    let bytes = input::read_all(&Some(path.clone()), MAX_NARINFO)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow!("{} is not UTF-8", path.display()))
        .code(Code::Data)?;
    NarInfo::parse(&text)
        .with_context(|| format!("parsing {}", path.display()))
        .code(Code::Data)
}

fn read_secret(path: &PathBuf) -> Result<SecretKey> {
    // Capacity for the whole cap up front: no reallocation leaves copies behind.
    let mut text = Zeroizing::new(String::with_capacity(4097));
    std::fs::File::open(path)
        .and_then(|f| f.take(4096).read_to_string(&mut text))
        .with_context(|| format!("cannot read {}", path.display()))
        .code(Code::Io)?;
    text.parse::<SecretKey>()
        .with_context(|| format!("invalid secret key in {}", path.display()))
        .map_err(|e| CliError::new(Code::Data, e))
}
