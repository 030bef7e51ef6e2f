//! `chunker base32 encode|decode`.

use std::io::Write;

use anyhow::anyhow;
use chunker::hash::nix32;

use crate::cli::Base32Command;
use crate::error::{write_err, Code, Result, WithCode};
use crate::{input, output};

/// Inputs to `encode` are digests or keys, not bulk data.
const ENCODE_MAX_BYTES: u64 = 64 << 20;

fn parse_hex(s: &str) -> Result<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return Err(anyhow!("hex string has odd length {}", s.len())).code(Code::Data);
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| anyhow!("invalid hex at position {i}"))
        })
        .collect::<Result<Vec<u8>, _>>()
        .code(Code::Data)
}

pub fn run(cmd: Base32Command) -> Result<()> {
    let mut out = output::stdout();
    match cmd {
        Base32Command::Encode { file, hex } => {
            let bytes = match hex {
                Some(h) => parse_hex(&h)?,
                None => input::read_all(&file, ENCODE_MAX_BYTES)?,
            };
            writeln!(out, "{}", nix32::encode(&bytes)).map_err(write_err)?;
        }
        Base32Command::Decode { string, raw } => {
            let bytes = nix32::decode(string.trim()).code(Code::Data)?;
            if raw {
                out.write_all(&bytes).map_err(write_err)?;
            } else {
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                writeln!(out, "{hex}").map_err(write_err)?;
            }
        }
    }
    out.flush().map_err(write_err)
}
