//! `chunker hash`: digests of files (several at once for SHA-256), or a NarHash.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use chunker::sha256::Sha256;
use chunker::{Digest, Encoding, HashAlgorithm, Hasher};
use serde_json::json;

use crate::cli::{HashArgs, HashFormat};
use crate::error::{write_err, Code, Result, WithCode};
use crate::{input, output};

/// Bytes read from each file per round of SHA-256 lanes.
const LANE_READ: u64 = 1 << 20;

pub fn run(args: HashArgs) -> Result<()> {
    if let Some(path) = &args.nar {
        return run_nar(path, &args);
    }
    let files: Vec<Option<PathBuf>> = if args.file.is_empty() {
        vec![None]
    } else {
        args.file.iter().cloned().map(Some).collect()
    };
    let stdin = files
        .iter()
        .filter(|f| f.as_deref().is_none_or(|p| p == Path::new("-")))
        .count();
    if stdin > 1 {
        return Err(anyhow::anyhow!(
            "standard input ('-') can be hashed only once"
        ))
        .code(Code::Usage);
    }
    let algo: HashAlgorithm = args.algo.into();
    let mut printer = Printer::new(args.format, args.encoding.into(), algo, files.len() > 1)?;
    match algo {
        HashAlgorithm::Sha256 => hash_in_lanes(&files, &mut printer)?,
        _ => {
            for file in &files {
                let input = input::open(file)?;
                let mut hasher = Hasher::new(algo);
                let size = hasher
                    .update_reader(input.reader)
                    .with_context(|| format!("cannot read {}", input.name))
                    .code(Code::Io)?;
                printer.row(file.as_deref(), &input.name, hasher.finalize(), size)?;
            }
        }
    }
    printer.finish()
}

/// One file being hashed in a SHA-256 lane.
struct Lane {
    index: usize,
    input: input::Input,
    hasher: Sha256,
    buf: Vec<u8>,
    eof: bool,
}

/// SHA-256 of `files`, as many at once as the kernel has lanes: each round reads the
/// next piece of every open file and advances their hashers together; a file that ends
/// frees its lane for the next one. Rows are printed in the order given.
fn hash_in_lanes(files: &[Option<PathBuf>], printer: &mut Printer) -> Result<()> {
    let kernel = chunker::sha256::Kernel::detect();
    let width = kernel.lanes();
    let mut lanes: Vec<Lane> = Vec::with_capacity(width);
    let mut next = 0;
    let mut finished: BTreeMap<usize, (String, Digest, u64)> = BTreeMap::new();
    let mut printed = 0;
    loop {
        while lanes.len() < width && next < files.len() {
            lanes.push(Lane {
                index: next,
                input: input::open(&files[next])?,
                hasher: Sha256::with_kernel(kernel),
                buf: Vec::with_capacity(LANE_READ as usize),
                eof: false,
            });
            next += 1;
        }
        if lanes.is_empty() {
            return Ok(());
        }
        for lane in &mut lanes {
            lane.buf.clear();
            let got = (&mut lane.input.reader)
                .take(LANE_READ)
                .read_to_end(&mut lane.buf)
                .with_context(|| format!("cannot read {}", lane.input.name))
                .code(Code::Io)?;
            lane.eof = (got as u64) < LANE_READ;
        }
        let (mut hashers, bufs): (Vec<&mut Sha256>, Vec<&[u8]>) = lanes
            .iter_mut()
            .map(|l| (&mut l.hasher, &l.buf[..]))
            .unzip();
        kernel.update_lanes(width, &mut hashers, &bufs);
        for lane in lanes.extract_if(.., |l| l.eof) {
            let digest = Digest::new(HashAlgorithm::Sha256, lane.hasher.finalize());
            finished.insert(lane.index, (lane.input.name, digest, lane.hasher.len()));
        }
        while let Some((name, digest, size)) = finished.remove(&printed) {
            printer.row(files[printed].as_deref(), &name, digest, size)?;
            printed += 1;
        }
    }
}

/// Writes the rows of `hash` in the chosen format.
struct Printer {
    out: std::io::BufWriter<std::io::Stdout>,
    format: HashFormat,
    encoding: Encoding,
    algo: HashAlgorithm,
    several: bool,
    json: Vec<serde_json::Value>,
}

impl Printer {
    fn new(
        format: HashFormat,
        encoding: Encoding,
        algo: HashAlgorithm,
        several: bool,
    ) -> Result<Self> {
        let mut out = output::stdout();
        if format == HashFormat::Csv {
            writeln!(out, "file,algorithm,digest,size").map_err(write_err)?;
        }
        Ok(Printer {
            out,
            format,
            encoding,
            algo,
            several,
            json: Vec::new(),
        })
    }

    /// One file's row; `name` is its escaped display form (text and CSV), `file` the
    /// path itself (`None`: standard input), written losslessly in JSON.
    fn row(&mut self, file: Option<&Path>, name: &str, digest: Digest, size: u64) -> Result<()> {
        let text = digest.encode(self.encoding);
        match self.format {
            HashFormat::Text if self.several => {
                writeln!(self.out, "{text}  {name}")
            }
            HashFormat::Text => writeln!(self.out, "{text}"),
            HashFormat::Csv => writeln!(
                self.out,
                "{},{},{text},{size}",
                csv_field(name),
                self.algo.name()
            ),
            HashFormat::Json => {
                let mut row = serde_json::Map::new();
                output::json_name(&mut row, "file", raw_name(file));
                row.insert("algorithm".into(), self.algo.name().into());
                row.insert("encoding".into(), self.encoding.name().into());
                row.insert("digest".into(), text.into());
                row.insert("size".into(), size.into());
                self.json.push(row.into());
                Ok(())
            }
        }
        .map_err(write_err)
    }

    fn finish(mut self) -> Result<()> {
        if self.format == HashFormat::Json {
            let doc = if self.several {
                json!({ "files": self.json })
            } else {
                self.json.pop().unwrap_or(serde_json::Value::Null)
            };
            writeln!(self.out, "{doc}").map_err(write_err)?;
        }
        self.out.flush().map_err(write_err)
    }
}

/// The bytes of a path as given (`-` for standard input).
fn raw_name(file: Option<&Path>) -> &[u8] {
    file.map_or(b"-", |p| p.as_os_str().as_encoded_bytes())
}

/// A CSV field: quoted (with `"` doubled) when it holds a separator, quote or line
/// break.
fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}

/// `chunker hash --nar PATH`: the NarHash and NarSize, in one pass, nothing written.
fn run_nar(path: &Path, args: &HashArgs) -> Result<()> {
    if HashAlgorithm::from(args.algo) != HashAlgorithm::Sha256 {
        return Err(anyhow::anyhow!(
            "--nar hashes with sha256 (NarHash is SHA-256)"
        ))
        .code(Code::Usage);
    }
    let encoding: Encoding = args.encoding.into();
    let s = chunker::nix::nar::nar_hash_parallel(path).map_err(super::nar::pack_error)?;
    let nar_hash = match encoding {
        Encoding::Sri => s.nar_hash.to_sri(),
        Encoding::Hex => format!("{}:{}", s.nar_hash.algorithm(), s.nar_hash.to_hex()),
        _ => s.nar_hash.to_nix_string(),
    };
    let mut out = output::stdout();
    let name = input::display(path);
    match args.format {
        HashFormat::Json => {
            let mut row = serde_json::Map::new();
            output::json_name(&mut row, "path", raw_name(Some(path)));
            row.insert("nar_hash".into(), nar_hash.into());
            row.insert("encoding".into(), encoding.name().into());
            row.insert("nar_size".into(), s.nar_size.into());
            writeln!(out, "{}", serde_json::Value::from(row))
        }
        HashFormat::Csv => writeln!(
            out,
            "path,nar_hash,nar_size\n{},{nar_hash},{}",
            csv_field(&name),
            s.nar_size
        ),
        HashFormat::Text => writeln!(out, "{nar_hash}\n{}", s.nar_size),
    }
    .map_err(write_err)?;
    out.flush().map_err(write_err)
}
