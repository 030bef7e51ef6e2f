//! `chunker base32 encode|decode`.

use std::io::Write;

use anyhow::anyhow;
use chunker::hash::nix32::{self, Nix32Error};
use chunker::HashAlgorithm;

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

/// Decodes `s`, skipping a `sha256:`/`blake3:` prefix; errors speak of the part decoded
/// and show a non-ASCII character whole (`'ä'`, not its first byte).
fn decode(s: &str) -> Result<Vec<u8>> {
    let (prefix, part) = match s.split_once(':') {
        Some((algo, rest)) if algo.parse::<HashAlgorithm>().is_ok() => (Some(algo), rest),
        _ => (None, s),
    };
    nix32::decode(part)
        .map_err(|e| match e {
            Nix32Error::InvalidChar { position, .. } => {
                // The first invalid byte starts a character: all before it are ASCII.
                let c = part[position..].chars().next().unwrap_or_default();
                anyhow!("invalid nix32 character {c:?} at position {position}")
            }
            e => anyhow::Error::new(e),
        })
        .map_err(|e| match prefix {
            Some(p) => e.context(format!("decoding the part after \"{p}:\"")),
            None => e,
        })
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
            let bytes = decode(string.trim())?;
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
