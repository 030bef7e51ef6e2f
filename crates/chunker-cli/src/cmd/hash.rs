//! `chunker hash`.

use std::io::Write;

use anyhow::Context;
use chunker::{Encoding, HashAlgorithm, Hasher};
use serde_json::json;

use crate::cli::{Format, HashArgs};
use crate::error::{write_err, Code, Result, WithCode};
use crate::{input, output};

pub fn run(args: HashArgs) -> Result<()> {
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
