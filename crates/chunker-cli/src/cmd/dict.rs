//! `chunker dict`: train a zstd dictionary on chunks of sample files; show one's ID.
//!
//! Memory is bounded by the flags, not by the inputs: a dictionary file is read up to
//! [`Dictionary::MAX_SIZE`], and training streams each sample file, keeping only the
//! chunks it samples (at most `--sample-bytes`).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chunker::compress::Dictionary;
use chunker::{ChunkOptions, Config};

use crate::cli::{DictCommand, DictTrainArgs};
use crate::error::{write_err, Code, Result, WithCode};
use crate::{input, output};

/// Read and check a dictionary file, never more than [`Dictionary::MAX_SIZE`] bytes
/// of it (`/dev/zero` is an error, not a memory bomb).
pub fn read_dictionary(path: &Path) -> Result<Dictionary> {
    let bytes = input::read_all(&Some(path.to_path_buf()), Dictionary::MAX_SIZE as u64)?;
    Dictionary::new(bytes)
        .with_context(|| format!("dictionary {}", path.display()))
        .code(Code::Data)
}

pub fn run(cmd: DictCommand) -> Result<()> {
    match cmd {
        DictCommand::Train(a) => train(a),
        DictCommand::Info { file } => {
            let d = read_dictionary(&file)?;
            let mut out = output::stdout();
            writeln!(out, "id\t{}\nsize\t{}", d.id(), d.as_bytes().len()).map_err(write_err)?;
            out.flush().map_err(write_err)
        }
    }
}

/// The sample files with their sizes, checked before anything is read: sampling
/// every k-th chunk needs the total up front, and only a regular file has a size
/// (and an end).
fn sized_files(files: &[PathBuf]) -> Result<Vec<(PathBuf, u64)>> {
    files
        .iter()
        .map(|path| {
            let meta = std::fs::metadata(path)
                .with_context(|| format!("cannot open {}", path.display()))
                .code(Code::Io)?;
            if !meta.is_file() {
                return Err(anyhow::anyhow!(
                    "{} is not a regular file (dict train samples regular files, whose \
                     sizes are known up front; save a stream to a file first)",
                    path.display()
                ))
                .code(Code::Io);
            }
            Ok((path.clone(), meta.len()))
        })
        .collect()
}

fn train(a: DictTrainArgs) -> Result<()> {
    let config = Config::new(a.chunk_min, a.chunk_avg, a.chunk_max).code(Code::Config)?;
    let options = ChunkOptions::new(config).hash(None);
    let files = sized_files(&a.files)?;
    let total: u64 = files.iter().map(|(_, len)| len).sum();
    // Every k-th chunk, evenly over all files, to stay under --sample-bytes; the
    // samples are copied out of the read buffers into one block (zstd trains on it
    // as is), which never grows past the budget.
    let budget = a.sample_bytes;
    let k = total.div_ceil(budget as u64).max(1);
    let mut data: Vec<u8> = Vec::with_capacity(total.min(budget as u64) as usize);
    let mut sizes: Vec<usize> = Vec::new();
    let mut seen = 0u64;
    let mut read = 0u64;
    'files: for (path, _) in &files {
        let file = input::open(&Some(path.clone()))?;
        for chunk in options.stream(file.reader) {
            let chunk = chunk
                .with_context(|| format!("cannot read {}", path.display()))
                .code(Code::Io)?;
            read += chunk.length as u64;
            let take = seen.is_multiple_of(k);
            seen += 1;
            if !take {
                continue;
            }
            if data.len() + chunk.length > budget {
                break 'files;
            }
            data.extend_from_slice(&chunk.payload);
            sizes.push(chunk.length);
        }
    }
    let dict = Dictionary::train_concatenated(&data, &sizes, a.max_size)
        .context("training the dictionary")
        .code(Code::Data)?;
    let summary = format!(
        "dictionary id {} size {} B from {} of {} chunks ({} B of {} B read of {} B) of {} file(s); chunks {}/{}/{}",
        dict.id(),
        dict.as_bytes().len(),
        sizes.len(),
        seen,
        data.len(),
        read,
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
