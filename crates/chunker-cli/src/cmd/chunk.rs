//! `chunker chunk`.

use std::io::Write;
use std::time::Instant;

use anyhow::Context;
use chunker::{
    Chunk, ChunkOptions, ChunkStream, Encoding, ReadAheadStream, StreamError, StreamSummary,
};
use serde_json::{json, Value};

use crate::cli::{ChunkArgs, Format};
use crate::error::{write_err, Code, Result, WithCode};
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
    let mut stream = options.stream(input.reader).read_size(args.read_size);
    if let Some(a) = args.stream_hash {
        stream = stream.stream_digest(a.into());
    } else if args.nar.is_some() {
        // The NarHash, from the same pass.
        stream = stream.stream_digest(chunker::HashAlgorithm::Sha256);
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut stream = if args.no_read_ahead || cpus < 2 {
        Stream::Plain(stream)
    } else {
        Stream::Ahead(
            stream
                .read_ahead()
                .context("cannot start the read-ahead thread")
                .code(Code::Failure)?,
        )
    };

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
            Err(StreamError::Read { source, .. }) if args.nar.is_some() => {
                return Err(super::nar::pack_error(chunker::nix::PackError::from_io(
                    source,
                )));
            }
            Err(e) => Err(e)
                .with_context(|| format!("reading {}", input.name))
                .code(Code::Io)?,
        };
        let digest = chunk.digest.map(|d| d.encode(encoding)).unwrap_or_default();
        match args.format {
            Format::Text => writeln!(out, "{}\t{}\t{}", chunk.offset, chunk.length, digest),
            Format::Csv => writeln!(out, "{},{},{}", chunk.offset, chunk.length, digest),
            Format::Json => {
                let sep = if count == 0 { "" } else { "," };
                let d = chunk.digest.map(|d| d.encode(encoding));
                write!(
                    out,
                    "{sep}\n{}",
                    json!({"offset": chunk.offset, "length": chunk.length, "digest": d})
                )
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
            writeln!(out, "\n],\"summary\":{s}}}").map_err(write_err)?;
        }
        Format::Csv => {}
    }
    out.flush().map_err(write_err)
}

/// The chunk stream, read on this thread or on a second one.
enum Stream<R> {
    Plain(ChunkStream<R>),
    Ahead(ReadAheadStream),
}

impl<R: std::io::Read> Stream<R> {
    fn position(&self) -> u64 {
        match self {
            Stream::Plain(s) => s.position(),
            Stream::Ahead(s) => s.position(),
        }
    }

    fn summary(&self) -> Option<StreamSummary> {
        match self {
            Stream::Plain(s) => s.summary(),
            Stream::Ahead(s) => s.summary(),
        }
    }
}

impl<R: std::io::Read> Iterator for Stream<R> {
    type Item = std::result::Result<Chunk, StreamError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Stream::Plain(s) => s.next(),
            Stream::Ahead(s) => s.next(),
        }
    }
}
