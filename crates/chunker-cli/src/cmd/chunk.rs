//! `chunker chunk`.

use std::io::Write;
use std::time::Instant;

use chunker::pipeline::{Pipeline, PipelineError, ProcessedChunks};
use chunker::{Chunk, ChunkOptions, ChunkStream, Digest, Encoding, StreamSummary};
use serde_json::{json, Value};

use crate::cli::{ChunkArgs, Format};
use crate::error::{write_err, Code, Result};
use crate::{input, output, size};

pub fn run(args: ChunkArgs) -> Result<()> {
    let config = super::config(&args.sizes)?;
    let options = ChunkOptions::new(config).hash(args.hash.algorithm());
    let encoding: Encoding = args.encoding.into();
    let input = match &args.nar {
        // The NAR is produced on the fly and never written anywhere.
        Some(path) => input::Input {
            reader: Box::new(chunker::nix::Encoder::open(path).map_err(super::nar::pack_error)?),
            name: input::display(path),
            len: None,
        },
        None => input::open(&args.file)?,
    };
    let bar = output::progress(input.len, args.no_progress);
    let whole = match args.stream_hash {
        Some(a) => Some(a.into()),
        // The NarHash, from the same pass.
        None => args.nar.is_some().then_some(chunker::HashAlgorithm::Sha256),
    };
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mapped = args
        .file
        .as_ref()
        .filter(|f| args.mmap && f.as_os_str() != "-");
    let mut stream =
        if (args.no_read_ahead || cpus < 2) && args.compress.is_none() && mapped.is_none() {
            let mut stream = options.stream(input.reader).read_size(args.read_size);
            if let Some(a) = whole {
                stream = stream.stream_digest(a);
            }
            Stream::Plain(Box::new(stream))
        } else {
            let mut p = Pipeline::new(options)
                .threads(args.threads)
                .read_size(args.read_size);
            if let Some(a) = whole {
                p = p.stream_digest(a);
            }
            if let Some(c) = args.compress.clone() {
                p = p.compress(c);
            }
            let chunks = match mapped {
                Some(path) => p.mmap(true).file(path),
                None => p.reader(input.reader),
            }
            .map_err(|e| pipeline_error(e, &input.name))?;
            Stream::Pipeline(chunks, 0)
        };
    let mut compressed = 0u64;

    let mut out = output::stdout();
    let start = Instant::now();
    let (mut count, mut bytes, mut min, mut max) = (0u64, 0u64, u64::MAX, 0u64);
    match args.format {
        Format::Csv => writeln!(out, "offset,length,digest").map_err(write_err)?,
        Format::Json => write!(out, "{{\"chunks\":[").map_err(write_err)?,
        Format::Text => {}
    }
    while let Some(item) = stream.next() {
        let chunk = match item {
            Ok(c) => c,
            // Serialising PATH failed: the same message and code as `nar pack PATH`.
            Err(PipelineError::Read { source, .. }) if args.nar.is_some() => {
                return Err(super::nar::pack_error(chunker::nix::PackError::from_io(
                    source,
                )));
            }
            Err(e) => return Err(pipeline_error(e, &input.name)),
        };
        let digest = chunk.digest.map(|d| d.encode(encoding)).unwrap_or_default();
        let z = chunk.compressed;
        compressed += z.unwrap_or(0) as u64;
        match (args.format, z) {
            (Format::Text, None) => writeln!(out, "{}\t{}\t{}", chunk.offset, chunk.length, digest),
            (Format::Text, Some(z)) => {
                writeln!(out, "{}\t{}\t{}\t{z}", chunk.offset, chunk.length, digest)
            }
            (Format::Csv, None) => writeln!(out, "{},{},{}", chunk.offset, chunk.length, digest),
            (Format::Csv, Some(z)) => {
                writeln!(out, "{},{},{},{z}", chunk.offset, chunk.length, digest)
            }
            (Format::Json, _) => {
                let sep = if count == 0 { "" } else { "," };
                let d = chunk.digest.map(|d| d.encode(encoding));
                let mut row = json!({"offset": chunk.offset, "length": chunk.length, "digest": d});
                if let Some(z) = z {
                    row["compressed"] = json!(z);
                }
                write!(out, "{sep}\n{row}")
            }
        }
        .map_err(write_err)?;
        count += 1;
        let len = chunk.length as u64;
        bytes += len;
        min = min.min(len);
        max = max.max(len);
        bar.set_position(stream.position());
    }
    bar.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    let summary = stream.summary().expect("stream ended without error");
    let mean = if count == 0 {
        0.0
    } else {
        bytes as f64 / count as f64
    };
    let min = if count == 0 { 0 } else { min };
    let mbps = if secs > 0.0 {
        bytes as f64 / secs / 1e6
    } else {
        0.0
    };
    let stream_digest = summary.digest.map(|d| d.to_nix_string());
    match args.format {
        Format::Text => {
            write!(
                out,
                "# chunks {count}, bytes {bytes} ({}), mean {:.0}, min {min}, max {max}, \
                 {secs:.3} s, {mbps:.1} MB/s; sizes {}/{}/{}",
                size::human(bytes as f64),
                mean,
                config.min_size(),
                config.avg_size(),
                config.max_size(),
            )
            .map_err(write_err)?;
            if let Some(d) = &stream_digest {
                write!(out, "; stream {d}").map_err(write_err)?;
            }
            if let Some(c) = &args.compress {
                write!(
                    out,
                    "; {} {compressed} ({:.3})",
                    c.codec(),
                    ratio(bytes, compressed)
                )
                .map_err(write_err)?;
            }
            writeln!(out).map_err(write_err)?;
        }
        Format::Json => {
            let mut s = json!({
                "config": {"min": config.min_size(), "avg": config.avg_size(), "max": config.max_size()},
                "hash": args.hash.algorithm().map(|a| a.name()),
                "encoding": encoding.name(),
                "count": count,
                "bytes": bytes,
                "mean": mean,
                "min": min,
                "max": max,
                "seconds": secs,
                "mb_per_s": mbps,
                "stream_digest": stream_digest,
            });
            // The path as given, lossless (a `file_bytes` array when it is not UTF-8).
            let file = match (&args.nar, &args.file) {
                (Some(p), _) | (None, Some(p)) => p.as_os_str().as_encoded_bytes(),
                (None, None) => b"-",
            };
            if let Value::Object(m) = &mut s {
                output::json_name(m, "file", file);
            }
            if let Some(c) = &args.compress {
                s["compression"] = json!({
                    "codec": c.codec().name(),
                    "level": c.level(),
                    "bytes": compressed,
                    "ratio": ratio(bytes, compressed),
                });
            }
            writeln!(out, "\n],\"summary\":{s}}}").map_err(write_err)?;
        }
        Format::Csv => {}
    }
    out.flush().map_err(write_err)
}

/// Compressed size over input size.
fn ratio(bytes: u64, compressed: u64) -> f64 {
    if bytes == 0 {
        1.0
    } else {
        compressed as f64 / bytes as f64
    }
}

/// A pipeline error with its exit code: a read error is I/O; a bad threshold variable
/// is usage; the rest are failures.
fn pipeline_error(e: PipelineError, name: &str) -> crate::error::CliError {
    let code = match &e {
        PipelineError::Read { .. } | PipelineError::Open { .. } => Code::Io,
        PipelineError::InvalidEnv { .. } => Code::Usage,
        _ => Code::Failure,
    };
    if code == Code::Usage {
        return crate::error::CliError::new(code, e);
    }
    crate::error::CliError::new(
        code,
        anyhow::Error::new(e).context(format!("reading {name}")),
    )
}

/// One output row.
struct Row {
    offset: u64,
    length: usize,
    digest: Option<Digest>,
    /// Compressed size, with `--compress`.
    compressed: Option<usize>,
}

impl From<Chunk> for Row {
    fn from(c: Chunk) -> Row {
        Row {
            offset: c.offset,
            length: c.length,
            digest: c.digest,
            compressed: None,
        }
    }
}

/// The chunks: a stream on this thread, or the pipeline (reads on a thread of its own,
/// digests and compression on a pool) with the bytes handed out so far.
enum Stream<R> {
    Plain(Box<ChunkStream<R>>),
    Pipeline(ProcessedChunks, u64),
}

impl<R: std::io::Read> Stream<R> {
    fn position(&self) -> u64 {
        match self {
            Stream::Plain(s) => ChunkStream::position(s),
            Stream::Pipeline(_, p) => *p,
        }
    }

    fn summary(&self) -> Option<StreamSummary> {
        match self {
            Stream::Plain(s) => s.summary(),
            Stream::Pipeline(s, _) => s.summary(),
        }
    }
}

impl<R: std::io::Read> Iterator for Stream<R> {
    type Item = std::result::Result<Row, PipelineError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Stream::Plain(s) => Some(match s.next()? {
                Ok(c) => Ok(c.into()),
                Err(chunker::StreamError::Read { offset, source }) => {
                    Err(PipelineError::Read { offset, source })
                }
                Err(e) => Err(PipelineError::Read {
                    offset: ChunkStream::position(s),
                    source: std::io::Error::other(e),
                }),
            }),
            Stream::Pipeline(s, pos) => Some(s.next()?.map(|c| {
                *pos = c.offset + c.length as u64;
                Row {
                    offset: c.offset,
                    length: c.length,
                    digest: c.digest,
                    compressed: c.compressed.map(|z| z.data.len()),
                }
            })),
        }
    }
}
