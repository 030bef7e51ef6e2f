//! `chunker dict`: train a zstd dictionary on chunks of sample files; show one's ID.

use std::io::Write;

use anyhow::Context;
use chunker::compress::Dictionary;
use chunker::{ChunkOptions, Config};

use crate::cli::{DictCommand, DictTrainArgs};
use crate::error::{write_err, Code, Result, WithCode};
use crate::output;

pub fn run(cmd: DictCommand) -> Result<()> {
    match cmd {
        DictCommand::Train(a) => train(a),
        DictCommand::Info { file } => {
            let bytes = std::fs::read(&file)
                .with_context(|| format!("cannot read {}", file.display()))
                .code(Code::Io)?;
            let d = Dictionary::new(bytes)
                .with_context(|| format!("{}", file.display()))
                .code(Code::Data)?;
            let mut out = output::stdout();
            writeln!(out, "id\t{}\nsize\t{}", d.id(), d.as_bytes().len()).map_err(write_err)?;
            out.flush().map_err(write_err)
        }
    }
}

fn train(a: DictTrainArgs) -> Result<()> {
    let config = Config::new(a.chunk_min, a.chunk_avg, a.chunk_max).code(Code::Config)?;
    let options = ChunkOptions::new(config).hash(None);
    let mut files = Vec::new();
    for path in &a.files {
        let data = std::fs::read(path)
            .with_context(|| format!("cannot read {}", path.display()))
            .code(Code::Io)?;
        files.push(data);
    }
    let total: usize = files.iter().map(Vec::len).sum();
    // Every k-th chunk, evenly over all files, to stay under --sample-bytes.
    let k = total.div_ceil(a.sample_bytes.max(1)).max(1);
    let mut samples: Vec<&[u8]> = Vec::new();
    let mut i = 0usize;
    for data in &files {
        for chunk in options.chunk_slice(data) {
            if i.is_multiple_of(k) {
                samples.push(chunk.data);
            }
            i += 1;
        }
    }
    let sample_bytes: usize = samples.iter().map(|s| s.len()).sum();
    let dict = Dictionary::train(&samples, a.max_size)
        .context("training the dictionary")
        .code(Code::Data)?;
    let summary = format!(
        "dictionary id {} size {} B from {} of {} chunks ({} B of {} B) of {} file(s); chunks {}/{}/{}",
        dict.id(),
        dict.as_bytes().len(),
        samples.len(),
        i,
        sample_bytes,
        total,
        files.len(),
        a.chunk_min,
        a.chunk_avg,
        a.chunk_max
    );
    match &a.output {
        Some(path) => {
            std::fs::write(path, dict.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))
                .code(Code::Io)?;
            let mut out = output::stdout();
            writeln!(out, "{summary}").map_err(write_err)?;
            out.flush().map_err(write_err)
        }
        None => {
            let mut out = output::stdout();
            out.write_all(dict.as_bytes()).map_err(write_err)?;
            out.flush().map_err(write_err)?;
            eprintln!("chunker: {summary}");
            Ok(())
        }
    }
}
