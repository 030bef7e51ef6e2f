//! `chunker hash`.

use std::io::Write;

use anyhow::Context;
use chunker::{Encoding, HashAlgorithm, Hasher};
use serde_json::json;

use crate::cli::{Format, HashArgs};
use crate::error::{write_err, Code, Result, WithCode};
use crate::{input, output};

pub fn run(args: HashArgs) -> Result<()> {
    if let Some(path) = &args.nar {
        return run_nar(path, &args);
    }
    let algo: HashAlgorithm = args.algo.into();
    let encoding: Encoding = args.encoding.into();
    let input = input::open(&args.file)?;
    let mut hasher = Hasher::new(algo);
    let size = hasher
        .update_reader(input.reader)
        .with_context(|| format!("reading {}", input.name))
        .code(Code::Io)?;
    let digest = hasher.finalize();
    let mut out = output::stdout();
    match args.format {
        Format::Json => writeln!(
            out,
            "{}",
            json!({
                "file": input.name,
                "algorithm": algo.name(),
                "encoding": encoding.name(),
                "digest": digest.encode(encoding),
                "size": size,
            })
        ),
        Format::Text | Format::Csv => writeln!(out, "{}", digest.encode(encoding)),
    }
    .map_err(write_err)?;
    out.flush().map_err(write_err)
}

/// `chunker hash --nar PATH`: the NarHash and NarSize, in one pass, nothing written.
fn run_nar(path: &std::path::Path, args: &HashArgs) -> Result<()> {
    if HashAlgorithm::from(args.algo) != HashAlgorithm::Sha256 {
        return Err(anyhow::anyhow!(
            "--nar hashes with sha256 (NarHash is SHA-256)"
        ))
        .code(Code::Usage);
    }
    let s = chunker::nix::nar::nar_hash_parallel(path).map_err(super::nar::pack_error)?;
    let mut out = output::stdout();
    match args.format {
        Format::Json => writeln!(
            out,
            "{}",
            json!({
                "path": path.display().to_string(),
                "nar_hash": s.nar_hash.to_nix_string(),
                "nar_size": s.nar_size,
            })
        ),
        Format::Text | Format::Csv => {
            writeln!(out, "{}\n{}", s.nar_hash.to_nix_string(), s.nar_size)
        }
    }
    .map_err(write_err)?;
    out.flush().map_err(write_err)
}
