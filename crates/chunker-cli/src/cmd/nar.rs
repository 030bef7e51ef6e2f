//! `chunker nar pack|unpack|ls`.

use std::io::{self, Read, Write};
use std::path::PathBuf;

use anyhow::Context;
use chunker::nix::{self, EntryKind, NarError, NarReader, PackError, UnpackError};
use serde_json::json;

use crate::cli::{BenchFormat, NarCommand};
use crate::error::{write_err, CliError, Code, Result, WithCode};
use crate::{input, output};

pub fn run(c: NarCommand) -> Result<()> {
    match c {
        NarCommand::Pack { path } => pack(path),
        NarCommand::Unpack { file, dest } => unpack(file, dest),
        NarCommand::Ls { file, format } => ls(file, format),
    }
}

/// Exit code for a failure to serialise a path.
pub fn pack_error(e: PackError) -> CliError {
    match e {
        PackError::Write(io) => write_err(io),
        e @ (PackError::UnsupportedType { .. } | PackError::TooDeep { .. }) => {
            CliError::new(Code::Data, e)
        }
        e => CliError::new(Code::Io, e),
    }
}

/// Exit code for an unreadable or invalid NAR.
fn nar_error(e: NarError, name: &str) -> CliError {
    let code = match e {
        NarError::Io { .. } => Code::Io,
        _ => Code::Data,
    };
    CliError::new(
        code,
        anyhow::Error::new(e).context(format!("reading {name}")),
    )
}

fn pack(path: PathBuf) -> Result<()> {
    // Like `nix-store --dump`: no NarHash here (use `hash --nar`), just the bytes.
    let mut encoder = nix::Encoder::open(&path).map_err(pack_error)?;
    let mut buf = vec![0u8; 256 << 10];
    let mut out = io::stdout().lock();
    loop {
        let n = encoder
            .read(&mut buf)
            .map_err(|e| pack_error(PackError::from_io(e)))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).map_err(write_err)?;
    }
    out.flush().map_err(write_err)
}

fn unpack(file: PathBuf, dest: PathBuf) -> Result<()> {
    let input = input::open(&Some(file))?;
    // On failure the library has removed DEST again, or says it could not.
    match nix::unpack(input.reader, &dest) {
        Ok(()) => Ok(()),
        Err(UnpackError::Nar(e)) => Err(nar_error(e, &input.name)),
        Err(e) => {
            let code = match e.cause() {
                UnpackError::Nar(NarError::Io { .. }) => Code::Io,
                UnpackError::Nar(_) => Code::Data,
                _ => Code::Io,
            };
            Err(CliError::new(code, e))
        }
    }
}

fn ls(file: Option<PathBuf>, format: BenchFormat) -> Result<()> {
    let input = input::open(&file)?;
    let name = input.name.clone();
    let mut reader = NarReader::new(input.reader);
    let mut out = output::stdout();
    let mut first = true;
    if format == BenchFormat::Json {
        write!(out, "{{\"entries\":[").map_err(write_err)?;
    }
    while let Some(e) = reader.next_entry().map_err(|e| nar_error(e, &name))? {
        // Names are untrusted: escaped in text, lossless in JSON (see `output`).
        let path = [b"/", e.path].concat();
        let (kind, size, target) = match e.kind {
            EntryKind::Directory => ("directory", None, None),
            EntryKind::Regular { executable, size } => (
                if executable { "executable" } else { "regular" },
                Some(size),
                None,
            ),
            EntryKind::Symlink { target } => ("symlink", None, Some(target)),
            _ => ("unknown", None, None),
        };
        match format {
            BenchFormat::Text => {
                let path = output::escape(&path);
                write!(out, "{kind}\t{}\t{path}", size.unwrap_or(0)).map_err(write_err)?;
                if let Some(t) = target {
                    write!(out, " -> {}", output::escape(t)).map_err(write_err)?;
                }
                writeln!(out).map_err(write_err)?;
            }
            BenchFormat::Json => {
                let sep = if first { "" } else { "," };
                let mut v = serde_json::Map::new();
                output::json_name(&mut v, "path", &path);
                v.insert("type".into(), json!(kind));
                if let Some(s) = size {
                    v.insert("size".into(), json!(s));
                }
                if let Some(t) = target {
                    output::json_name(&mut v, "target", t);
                }
                write!(out, "{sep}\n{}", serde_json::Value::Object(v)).map_err(write_err)?;
            }
        }
        first = false;
    }
    if format == BenchFormat::Json {
        writeln!(out, "\n],\"nar_size\":{}}}", reader.position()).map_err(write_err)?;
    }
    out.flush().context("writing output").code(Code::Io)
}
