//! `chunker compress` and `chunker decompress`: streaming, stdout.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use chunker::compress::{
    classify, Class, Codec, CompressionError, Compressor, Decompressor, Dictionary,
    DictionaryRegistry,
};

use crate::cli::{CodecArg, CompressArgs, DecompressArgs};
use crate::error::{write_err, CliError, Code, Result, WithCode};
use crate::{input, output};

/// Bytes looked at by `--codec auto` to choose.
const AUTO_SAMPLE: usize = 64 << 10;

fn codec(arg: CodecArg) -> Option<Codec> {
    match arg {
        CodecArg::Zstd => Some(Codec::Zstd),
        CodecArg::Lz4 => Some(Codec::Lz4),
        CodecArg::Xz => Some(Codec::Xz),
        CodecArg::Bzip2 => Some(Codec::Bzip2),
        CodecArg::Auto => None,
    }
}

/// The exit code of a library error: bad settings are usage errors, I/O is I/O, the
/// rest is about the data.
fn code_of(e: &CompressionError) -> Code {
    match e {
        CompressionError::Io(_) => Code::Io,
        CompressionError::InvalidLevel { .. }
        | CompressionError::InvalidSetting { .. }
        | CompressionError::DictionaryUnsupported { .. }
        | CompressionError::Disabled { .. } => Code::Usage,
        _ => Code::Data,
    }
}

fn lib_err(e: CompressionError, what: impl FnOnce() -> String) -> CliError {
    let code = code_of(&e);
    CliError::new(code, anyhow::Error::new(e).context(what()))
}

fn load_dict(path: &Option<PathBuf>) -> Result<Option<Arc<Dictionary>>> {
    let Some(p) = path else { return Ok(None) };
    Ok(Some(Arc::new(super::dict::read_dictionary(p)?)))
}

/// Read until `buf` is full or the input ends.
fn fill(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

pub fn compress(args: CompressArgs) -> Result<()> {
    // Settings first, before any input is read: a bad combination is a usage error
    // whatever the input.
    if args.threads != 1 && args.codec != CodecArg::Xz {
        return Err(anyhow::anyhow!(
            "--threads applies to --codec xz only (the other codecs here are single-threaded)"
        ))
        .code(Code::Usage);
    }
    if let Some(level) = args.level {
        // With auto the level is zstd's; lz4 (chosen for incompressible input) has one.
        let checked = codec(args.codec).unwrap_or(Codec::Zstd);
        Compressor::with_level(checked, level).map_err(|e| lib_err(e, || "--level".into()))?;
    }
    if args.dict.is_some() && !matches!(args.codec, CodecArg::Zstd | CodecArg::Auto) {
        return Err(anyhow::anyhow!(
            "--dict applies to --codec zstd (or auto) only"
        ))
        .code(Code::Usage);
    }
    let dict = load_dict(&args.dict)?;
    let mut input = input::open(&args.file)?;
    let name = input.name.clone();
    let mut head = vec![0u8; AUTO_SAMPLE];
    let n = fill(&mut input.reader, &mut head)
        .with_context(|| format!("reading {name}"))
        .code(Code::Io)?;
    head.truncate(n);
    let codec = match codec(args.codec) {
        Some(c) => c,
        None => {
            let class = classify(&head);
            let chosen = if class.is_incompressible() {
                Codec::Lz4
            } else {
                Codec::Zstd
            };
            let why = match class {
                Class::Compressed { format } => format!("starts like {format}"),
                Class::HighEntropy { bits_per_byte } => {
                    format!("entropy {bits_per_byte:.2} bits/byte")
                }
                _ => "compressible".to_string(),
            };
            let unused = match (args.level, &dict) {
                _ if chosen == Codec::Zstd => "",
                (Some(_), Some(_)) => "; --level and --dict are zstd's, not used",
                (Some(_), None) => "; --level is zstd's, not used",
                (None, Some(_)) => "; --dict is zstd's, not used",
                (None, None) => "",
            };
            eprintln!("chunker: auto: {chosen} ({why}{unused})");
            chosen
        }
    };
    let level = match args.level {
        Some(l) if codec == Codec::Zstd || args.codec != CodecArg::Auto => l,
        _ => codec.default_level(),
    };
    let mut c = Compressor::with_level(codec, level)
        .map_err(|e| lib_err(e, || "--level".into()))?
        .checksum(!args.no_checksum);
    if let Some(d) = dict.filter(|_| codec == Codec::Zstd) {
        c = c
            .dictionary(d)
            .map_err(|e| lib_err(e, || "--dict".into()))?;
    }
    if args.threads != 1 {
        c = c
            .xz_threads(args.threads)
            .map_err(|e| lib_err(e, || "--threads".into()))?;
    }
    // A regular file's length goes into the frame header (zstd, lz4); a file that
    // changes while it is read is then an error, not a frame with a wrong size.
    // Length 0 is taken as unknown: /proc and /sys files say 0 and have content.
    let size = input.len.filter(|&len| len > 0);
    let mut enc = c
        .writer_sized(output::stdout(), size)
        .map_err(|e| lib_err(e, || "starting the encoder".into()))?;
    // The size promised to the encoder must hold: say so if the file changed.
    let changed = |read: u64| {
        let len = size.unwrap_or(0);
        CliError::new(
            Code::Io,
            anyhow::anyhow!("{name} changed while being read ({len} bytes, then {read})"),
        )
    };
    let mut read = head.len() as u64;
    if size.is_some_and(|len| read > len) {
        return Err(changed(read));
    }
    enc.write_all(&head).map_err(write_err)?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match input.reader.read(&mut buf) {
            Ok(0) if size.is_some_and(|len| read != len) => return Err(changed(read)),
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(CliError::new(
                    Code::Io,
                    anyhow::Error::new(e).context(format!("reading {name}")),
                ))
            }
        };
        read += n as u64;
        if size.is_some_and(|len| read > len) {
            return Err(changed(read));
        }
        enc.write_all(&buf[..n]).map_err(write_err)?;
    }
    let mut out = enc.finish().map_err(write_err)?;
    out.flush().map_err(write_err)
}

pub fn decompress(args: DecompressArgs) -> Result<()> {
    let input = input::open(&args.file)?;
    let name = input.name.clone();
    let mut d = Decompressor::new().max_output(args.max_output);
    if let Some(c) = codec(args.codec) {
        d = d.codec(c);
    }
    if let Some(dict) = load_dict(&args.dict)? {
        let mut reg = DictionaryRegistry::builtin();
        reg.insert(dict);
        d = d.dictionaries(Arc::new(reg));
    }
    let mut dec = d
        .reader(input.reader)
        .map_err(|e| lib_err(e, || format!("decompressing {name}")))?;
    let mut out = output::stdout();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match dec.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let e = CompressionError::from(e);
                let what = if matches!(e, CompressionError::Io(_)) {
                    "reading"
                } else {
                    "decompressing"
                };
                return Err(lib_err(e, || format!("{what} {name}")));
            }
        };
        out.write_all(&buf[..n]).map_err(write_err)?;
    }
    out.flush().map_err(write_err)
}
