//! `chunker store …`: the chunk store (crate `chunker-store`) from the command line.

use std::io::{self, Read, Write};
use std::path::PathBuf;

use chunker::HashAlgorithm;
use chunker::PipelineError;
use chunker_store::{AddReport, Requests, Store, StoreConfig, StoreError};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::cli::{AlgoArg, BenchFormat, SizeArgs, EXIT_CODES};
use crate::error::{write_err, CliError, Code, Result, WithCode};
use crate::output;
use crate::size::parse_size;

/// The environment variable `--store` defaults to.
pub const STORE_ENV: &str = "CHUNKER_STORE";

/// Arguments of `chunker store`.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The store: a directory, `file://DIR`, or `s3://BUCKET/PREFIX` (endpoint, region and
    /// credentials from AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_ALLOW_HTTP). Default: $CHUNKER_STORE.
    #[arg(long, global = true, value_name = "URL")]
    pub store: Option<String>,
    /// Output format: text, or one JSON document.
    #[arg(long, global = true, value_enum, default_value_t = BenchFormat::Text)]
    pub format: BenchFormat,
    /// No progress bar.
    #[arg(long, global = true)]
    pub no_progress: bool,
    #[command(subcommand)]
    pub command: StoreCommand,
}

/// `chunker store` subcommands.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Create a store pinned to a config (chunk sizes, digest, zstd level, pack size).
    /// An existing store with the same config is left as it is; another config is
    /// refused (exit 5).
    #[command(after_help = EXIT_CODES)]
    Init {
        #[command(flatten)]
        sizes: SizeArgs,
        /// Chunk digest.
        #[arg(long, value_enum, default_value_t = AlgoArg::Sha256)]
        digest: AlgoArg,
        /// zstd level of the stored chunks.
        #[arg(long, default_value_t = chunker_store::config::DEFAULT_LEVEL, allow_negative_numbers = true)]
        level: i32,
        /// Pack target size (a pack is closed once it reaches it), e.g. 32M.
        #[arg(long, value_parser = parse_size, default_value = "32M", value_name = "SIZE")]
        pack_target: usize,
    },
    /// Ingest a NAR file (plain or compressed with zstd, xz, bzip2 or lz4), `-` for
    /// standard input, or a directory, symlink or other file packed into a NAR on the
    /// fly. Prints the key and the NarHash (`sha256:<nix32>`), then a `#` summary.
    #[command(after_help = EXIT_CODES)]
    Add {
        /// NAR file, path to pack, or `-`.
        #[arg(value_name = "PATH")]
        path: PathBuf,
    },
    /// Write a NAR to FILE (through a temporary file renamed once the NarHash verified:
    /// nothing is left at FILE on failure).
    #[command(after_help = EXIT_CODES)]
    Get {
        /// The NAR's key: `sha256:<nix32>` or the nix32 NarHash alone.
        #[arg(value_name = "KEY")]
        key: String,
        /// Where to write it.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Write a NAR (or a byte range of it, or its `.nar.zst` form) to stdout. Each
    /// chunk is verified before it is written; the NarHash (FileHash with --zst) is
    /// checked at the end. On failure the exit code is non-zero and stdout may have
    /// received a verified prefix, never a bad chunk.
    #[command(after_help = EXIT_CODES)]
    Cat {
        /// The NAR's key.
        #[arg(value_name = "KEY")]
        key: String,
        /// Bytes A-B (inclusive, as an HTTP range; `A-` to the end).
        #[arg(long, value_name = "A-B", conflicts_with = "zst")]
        range: Option<String>,
        /// The `.nar.zst` form: the stored zstd frames back to back.
        #[arg(long)]
        zst: bool,
    },
    /// List the NARs: key, NarSize, chunks.
    #[command(after_help = EXIT_CODES)]
    Ls,
    /// Delete a NAR's manifest (its chunks stay until a GC reclaims them).
    #[command(after_help = EXIT_CODES)]
    Rm {
        /// The NAR's key.
        #[arg(value_name = "KEY")]
        key: String,
    },
    /// Logical, unique and stored bytes, dedup and compression ratios, pack fill.
    #[command(after_help = EXIT_CODES)]
    Stats {
        /// Also each NAR's exclusive bytes (what deleting it would free).
        #[arg(long)]
        per_nar: bool,
    },
    /// Re-read every pack and check every chunk, the index and every NAR's NarHash;
    /// name what is bad (exit 6).
    #[command(after_help = EXIT_CODES)]
    Verify {
        /// First rebuild the index from the pack footers (one segment superseding all).
        #[arg(long)]
        rebuild_index: bool,
    },
    /// Garbage collection: mark from the manifests, repack sparse packs, condemn what
    /// is dead, delete what an earlier run condemned once past the grace period; past it
    /// too, delete unfinished writes of killed processes (local stores) and the narinfos
    /// of removed NARs.
    #[command(after_help = EXIT_CODES)]
    Gc(super::store_gc::GcArgs),
    /// Import a Nix binary cache (narinfo + NARs) from a directory or over HTTP;
    /// each NAR streams in (never held whole in memory); its NarHash and NarSize, and FileHash and
    /// FileSize when the narinfo has them, are checked before its manifest; each narinfo is kept.
    #[command(after_help = EXIT_CODES)]
    Import(super::store_gc::ImportArgs),
    /// Export the imported NARs as a binary cache directory (narinfo + `.nar.zst`).
    #[command(after_help = EXIT_CODES)]
    Export(super::store_gc::ExportArgs),
    /// Compare chunk sizes on sample NARs without a store: unique and stored bytes,
    /// dedup ratio, chunks, packs and PUTs per parameter set (no --store needed).
    #[command(after_help = EXIT_CODES)]
    Simulate(super::store_gc::SimulateArgs),
}

pub fn run(a: StoreArgs) -> Result<()> {
    if let StoreCommand::Simulate(s) = &a.command {
        return super::store_gc::simulate(s, a.format == BenchFormat::Json);
    }
    let url = match a.store.clone().or_else(|| std::env::var(STORE_ENV).ok()) {
        Some(u) if !u.is_empty() => u,
        _ => {
            return Err(CliError::new(
                Code::Usage,
                anyhow::anyhow!("no store given: use --store URL or set {STORE_ENV}"),
            ))
        }
    };
    let json = a.format == BenchFormat::Json;
    match a.command {
        StoreCommand::Init {
            sizes,
            digest,
            level,
            pack_target,
        } => {
            let chunking = super::config(&sizes)?;
            let digest: HashAlgorithm = digest.into();
            let config =
                StoreConfig::new(chunking, digest, level, pack_target as u64).map_err(store_err)?;
            let store = Store::init(&url, config).map_err(store_err)?;
            let c = store.config();
            if json {
                print_json(&json!({
                    "store": url,
                    "min": c.chunking().min_size(),
                    "avg": c.chunking().avg_size(),
                    "max": c.chunking().max_size(),
                    "digest": c.digest().name(),
                    "codec": "zstd",
                    "level": c.level(),
                    "pack_target": c.pack_target(),
                    "format_version": chunker_store::config::FORMAT_VERSION,
                }))
            } else {
                println_out(&format!("{url}: {c}"))
            }
        }
        StoreCommand::Add { path } => add(&url, path, json, a.no_progress),
        StoreCommand::Get { key, file } => {
            let store = open(&url)?;
            let r = store.get_to_file(&key, &file).map_err(store_err)?;
            if json {
                print_json(
                    &json!({"key": key, "bytes": r.bytes, "chunks": r.chunks, "requests": r.requests}),
                )
            } else {
                Ok(())
            }
        }
        StoreCommand::Cat { key, range, zst } => cat(&url, &key, range, zst, a.no_progress),
        StoreCommand::Ls => {
            let store = open(&url)?;
            let ms = store.manifests().map_err(store_err)?;
            if json {
                let list: Vec<Value> = ms
                    .iter()
                    .map(|m| {
                        json!({"key": m.key(), "nar_hash": m.nar_hash.to_nix_string(),
                               "nar_size": m.nar_size, "file_size": m.file_size,
                               "chunks": m.chunks.len()})
                    })
                    .collect();
                print_json(&json!({ "nars": list }))
            } else {
                let mut out = output::stdout();
                for m in &ms {
                    writeln!(out, "{} {} {}", m.key(), m.nar_size, m.chunks.len())
                        .map_err(write_err)?;
                }
                out.flush().map_err(write_err)
            }
        }
        StoreCommand::Rm { key } => {
            let store = open(&url)?;
            store.remove(&key).map_err(store_err)?;
            if json {
                print_json(&json!({"removed": key}))
            } else {
                Ok(())
            }
        }
        StoreCommand::Stats { per_nar } => {
            let store = open(&url)?;
            let s = store.stats(per_nar).map_err(store_err)?;
            let mut v = json!({
                "nars": s.nars,
                "logical_bytes": s.logical_bytes,
                "unique_bytes": s.unique_bytes,
                "unique_chunks": s.unique_chunks,
                "live_stored_bytes": s.live_stored_bytes,
                "stored_bytes": s.stored_bytes,
                "packs": s.packs,
                "indexed_chunks": s.indexed_chunks,
                "missing_chunks": s.missing_chunks,
                "dedup_ratio": s.dedup_ratio,
                "compression_ratio": s.compression_ratio,
                "pack_fill": s.pack_fill,
            });
            if per_nar {
                v["per_nar"] = s
                    .per_nar
                    .iter()
                    .map(|n| {
                        json!({"key": n.key, "nar_size": n.nar_size, "chunks": n.chunks,
                               "exclusive_bytes": n.exclusive_bytes,
                               "exclusive_stored_bytes": n.exclusive_stored_bytes})
                    })
                    .collect();
            }
            if json {
                print_json(&v)
            } else {
                let mut out = output::stdout();
                let mut line = |k: &str, val: String| writeln!(out, "{k:<18} {val}");
                let w = (|| {
                    line("nars", s.nars.to_string())?;
                    line("logical_bytes", s.logical_bytes.to_string())?;
                    line("unique_bytes", s.unique_bytes.to_string())?;
                    line("stored_bytes", s.stored_bytes.to_string())?;
                    line("live_stored_bytes", s.live_stored_bytes.to_string())?;
                    line("packs", s.packs.to_string())?;
                    line("dedup_ratio", format!("{:.3}", s.dedup_ratio))?;
                    line("compression_ratio", format!("{:.3}", s.compression_ratio))?;
                    line("pack_fill", format!("{:.3}", s.pack_fill))?;
                    for n in &s.per_nar {
                        line(
                            "nar",
                            format!("{} {} exclusive {}", n.key, n.nar_size, n.exclusive_bytes),
                        )?;
                    }
                    Ok(())
                })();
                w.map_err(write_err)?;
                out.flush().map_err(write_err)
            }
        }
        StoreCommand::Gc(g) => super::store_gc::gc(&url, &g, json),
        StoreCommand::Import(i) => super::store_gc::import(&url, &i, json),
        StoreCommand::Export(e) => super::store_gc::export(&url, &e, json),
        StoreCommand::Simulate(_) => unreachable!("handled above"),
        StoreCommand::Verify { rebuild_index } => {
            let store = open(&url)?;
            if rebuild_index {
                store.rebuild_index().map_err(store_err)?;
            }
            let r = store.verify().map_err(store_err)?;
            let problems: Vec<String> = r
                .problems
                .iter()
                .map(|p| {
                    output::escape_message(&format!(
                        "{}: {:#}",
                        p.object,
                        anyhow::Error::new(copy_err(&p.error))
                    ))
                })
                .collect();
            if json {
                print_json(
                    &json!({"ok": r.is_ok(), "packs": r.packs, "chunks": r.chunks,
                                   "nars": r.nars, "pack_bytes": r.pack_bytes,
                                   "problems": problems}),
                )?;
            } else {
                let mut out = output::stdout();
                for p in &problems {
                    writeln!(out, "bad: {p}").map_err(write_err)?;
                }
                writeln!(
                    out,
                    "# {} packs, {} chunks, {} NARs checked, {} problems",
                    r.packs,
                    r.chunks,
                    r.nars,
                    problems.len()
                )
                .map_err(write_err)?;
                out.flush().map_err(write_err)?;
            }
            if r.is_ok() {
                Ok(())
            } else {
                Err(CliError::new(
                    Code::Verify,
                    anyhow::anyhow!("verification failed: {} problems", problems.len()),
                ))
            }
        }
    }
}

/// A problem's error as text (errors are not `Clone`; the message is what is shown).
fn copy_err(e: &StoreError) -> std::io::Error {
    use std::error::Error;
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    std::io::Error::other(msg)
}

pub(crate) fn open(url: &str) -> Result<Store> {
    Store::open(url).map_err(store_err)
}

/// The exit code for a store error.
pub(crate) fn store_err(e: StoreError) -> CliError {
    let code = match &e {
        e if e.is_verification() => Code::Verify,
        StoreError::Url { .. } | StoreError::BadKey { .. } | StoreError::BadRange { .. } => {
            Code::Usage
        }
        StoreError::AlreadyInitialized { .. }
        | StoreError::ConfigMismatch { .. }
        | StoreError::InvalidConfig { .. } => Code::Config,
        StoreError::Backend { .. } | StoreError::Input { .. } | StoreError::Output { .. } => {
            Code::Io
        }
        StoreError::Pipeline { source } => match source {
            PipelineError::Read { .. } | PipelineError::Open { .. } => Code::Io,
            PipelineError::InvalidEnv { .. } => Code::Config,
            _ => Code::Failure,
        },
        StoreError::Compression { .. } | StoreError::Import { .. } => Code::Data,
        _ => Code::Failure,
    };
    match e {
        StoreError::Output { source } => write_err(source),
        StoreError::Pack { source } => super::nar::pack_error(source),
        e => CliError::new(code, e),
    }
}

pub(crate) fn print_json(v: &Value) -> Result<()> {
    let mut out = output::stdout();
    serde_json::to_writer(&mut out, v)
        .map_err(io::Error::from)
        .map_err(write_err)?;
    writeln!(out).map_err(write_err)?;
    out.flush().map_err(write_err)
}

fn println_out(s: &str) -> Result<()> {
    let mut out = output::stdout();
    writeln!(out, "{s}").map_err(write_err)?;
    out.flush().map_err(write_err)
}

pub(crate) fn requests_json(r: &Requests) -> Value {
    json!({"put": r.puts, "put_bytes": r.put_bytes, "get": r.gets, "range_get": r.range_gets,
           "get_bytes": r.get_bytes, "head": r.heads, "list": r.lists, "delete": r.deletes,
           "total": r.total()})
}

/// Counts bytes read into a progress bar.
struct Counting<R> {
    inner: R,
    bar: indicatif::ProgressBar,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

fn add(url: &str, path: PathBuf, json: bool, no_progress: bool) -> Result<()> {
    let store = open(url)?;
    let report: AddReport = if path.as_os_str() == "-" {
        let bar = output::progress(None, no_progress);
        let r = store.add_reader(Counting {
            inner: io::stdin(),
            bar: bar.clone(),
        });
        bar.finish_and_clear();
        r
    } else {
        let bar = output::progress(None, no_progress);
        let b = bar.clone();
        let r = store.add_path_progress(&path, move |n| b.inc(n));
        bar.finish_and_clear();
        r
    }
    .map_err(store_err)?;
    let nar_hash = report.nar_hash.to_nix_string();
    if json {
        print_json(&json!({
            "key": report.key,
            "nar_hash": nar_hash,
            "nar_size": report.nar_size,
            "chunks": report.chunks,
            "new_chunks": report.new_chunks,
            "new_bytes": report.new_bytes,
            "stored_bytes": report.stored_bytes,
            "packs": report.packs,
            "file_size": report.file_size,
            "existed": report.existed,
            "requests": requests_json(&report.requests),
        }))
    } else {
        println_out(&format!(
            "{} {nar_hash}\n# {} bytes, {} chunks, {} new unique bytes, {} stored bytes, {} packs, {} requests ({} PUT)",
            report.key,
            report.nar_size,
            report.chunks,
            report.new_bytes,
            report.stored_bytes,
            report.packs,
            report.requests.total(),
            report.requests.puts
        ))
    }
}

/// Counts bytes written into a progress bar.
struct CountingWriter<W> {
    inner: W,
    bar: indicatif::ProgressBar,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn cat(url: &str, key: &str, range: Option<String>, zst: bool, no_progress: bool) -> Result<()> {
    let store = open(url)?;
    let parsed = match &range {
        None => None,
        Some(r) => Some(parse_range(r).code(Code::Usage)?),
    };
    let m = store.manifest(key).map_err(store_err)?;
    let bar = output::progress(
        Some(if zst { m.file_size } else { m.nar_size }),
        no_progress,
    );
    let mut out = CountingWriter {
        inner: io::BufWriter::with_capacity(1 << 20, io::stdout().lock()),
        bar: bar.clone(),
    };
    let r = match parsed {
        Some((a, b)) => store.cat_range(key, a, b, &mut out),
        None if zst => store.cat_zst(key, &mut out),
        None => store.cat(key, &mut out),
    };
    bar.finish_and_clear();
    r.map(|_| ()).map_err(store_err)
}

fn parse_range(s: &str) -> anyhow::Result<(u64, u64)> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| anyhow::anyhow!("invalid range {s:?}: expected A-B or A-"))?;
    let a: u64 = a
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid range {s:?}: bad start"))?;
    let b: u64 = if b.is_empty() {
        u64::MAX
    } else {
        b.parse()
            .map_err(|_| anyhow::anyhow!("invalid range {s:?}: bad end"))?
    };
    Ok((a, b))
}
