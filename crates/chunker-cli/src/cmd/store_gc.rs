//! `chunker store gc|import|export|simulate`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use chunker::HashAlgorithm;
use chunker_store::simulate::simulate as run_simulate;
use chunker_store::{GcOptions, StoreConfig};
use clap::Args;
use serde_json::{json, Value};

use super::store::{open, print_json, requests_json, store_err};
use crate::cli::AlgoArg;
use crate::error::{write_err, CliError, Code, Result, WithCode};
use crate::output;
use crate::size::parse_size;

/// Arguments of `chunker store gc`.
#[derive(Debug, Args)]
pub struct GcArgs {
    /// Grace period: nothing younger is condemned, and what a run condemned is deleted
    /// by a later run only once this old (e.g. 24h, 30m, 90s, 0).
    #[arg(long, value_parser = parse_duration, default_value = "24h", value_name = "AGE")]
    pub grace: Duration,
    /// Repack packs whose live bytes are under this fraction of their size (0: never).
    #[arg(long, default_value_t = 0.5, value_name = "FRACTION")]
    pub repack_below: f64,
    /// Report what would be condemned, repacked and reclaimed; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Arguments of `chunker store import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The binary cache: a directory, `file://DIR` or `http(s)://…`.
    #[arg(value_name = "CACHE")]
    pub cache: String,
}

/// Arguments of `chunker store export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The directory to write the binary cache to (`nix copy --from file://DIR`).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// Arguments of `chunker store simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Chunk sizes to compare, MIN/AVG/MAX (e.g. 64K/256K/1M); repeat for several.
    /// Default: 16K/64K/256K, 64K/256K/1M and 256K/1M/4M.
    #[arg(long = "params", value_name = "MIN/AVG/MAX")]
    pub params: Vec<String>,
    /// Chunk digest.
    #[arg(long, value_enum, default_value_t = AlgoArg::Sha256)]
    pub digest: AlgoArg,
    /// zstd level.
    #[arg(long, default_value_t = chunker_store::config::DEFAULT_LEVEL, allow_negative_numbers = true)]
    pub level: i32,
    /// Pack target size.
    #[arg(long, value_parser = parse_size, default_value = "32M", value_name = "SIZE")]
    pub pack_target: usize,
    /// Sample NARs (files, compressed or not) or paths packed into NARs, in ingest order.
    #[arg(value_name = "PATH", required = true)]
    pub samples: Vec<PathBuf>,
}

/// `24h`, `30m`, `90s`, `2d`, or plain seconds.
fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: expected e.g. 24h, 30m, 90s"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("invalid duration {s:?}: unit must be s, m, h or d")),
    };
    n.checked_mul(mult)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("invalid duration {s:?}: too large"))
}

fn lines(out: &[(&str, String)]) -> Result<()> {
    let mut w = output::stdout();
    for (k, v) in out {
        writeln!(w, "{k:<20} {v}").map_err(write_err)?;
    }
    w.flush().map_err(write_err)
}

pub fn gc(url: &str, a: &GcArgs, json: bool) -> Result<()> {
    if !(0.0..=1.0).contains(&a.repack_below) {
        return Err(CliError::new(
            Code::Usage,
            anyhow::anyhow!("--repack-below must be within 0..=1"),
        ));
    }
    let store = open(url)?;
    let opts = GcOptions::default()
        .grace(a.grace)
        .repack_below(a.repack_below)
        .dry_run(a.dry_run);
    let r = store.gc(opts).map_err(store_err)?;
    let v = json!({
        "run_id": r.run_id,
        "dry_run": r.dry_run,
        "nars": r.nars,
        "live_chunks": r.live_chunks,
        "missing_chunks": r.missing_chunks,
        "packs": r.packs,
        "pack_bytes": r.pack_bytes,
        "young_packs": r.young_packs,
        "dead_packs": r.dead_packs,
        "condemned_packs": r.condemned_packs,
        "repacked_packs": r.repacked_packs,
        "new_packs": r.new_packs,
        "repacked_bytes": r.repacked_bytes,
        "deleted_packs": r.deleted_packs,
        "deleted_bytes": r.deleted_bytes,
        "deleted_segments": r.deleted_segments,
        "deleted_records": r.deleted_records,
        "rescued_packs": r.rescued_packs,
        "reclaimable_bytes": r.reclaimable_bytes,
        "deletable_bytes": r.deletable_bytes,
        "deletion_postponed": r.deletion_postponed,
        "broken_locks": r.broken_locks,
        "staging_files": r.staging_files,
        "staging_bytes": r.staging_bytes,
        "orphan_narinfos": r.orphan_narinfos,
        "segment": r.segment.map(|s| s.to_hex()),
        "requests": requests_json(&r.requests),
    });
    if json {
        return print_json(&v);
    }
    let mut out = vec![
        ("run", r.run_id.clone()),
        ("nars", r.nars.to_string()),
        ("live_chunks", r.live_chunks.to_string()),
        ("packs", format!("{} ({} bytes)", r.packs, r.pack_bytes)),
        ("dead_packs", r.dead_packs.to_string()),
        ("condemned_packs", r.condemned_packs.to_string()),
        (
            "repacked_packs",
            format!("{} into {}", r.repacked_packs, r.new_packs),
        ),
        (
            "deleted_packs",
            format!("{} ({} bytes)", r.deleted_packs, r.deleted_bytes),
        ),
        ("reclaimable_bytes", r.reclaimable_bytes.to_string()),
    ];
    // What this run did with the garbage it found besides packs.
    let verb = if r.dry_run || r.deletion_postponed.is_some() {
        "found"
    } else {
        "deleted"
    };
    if r.orphan_narinfos > 0 {
        out.push((
            "orphan_narinfos",
            format!(
                "{} {verb}: imported narinfos whose NAR was removed",
                r.orphan_narinfos
            ),
        ));
    }
    if r.staging_files > 0 {
        out.push((
            "staging_files",
            format!(
                "{} ({} bytes) {verb}: unfinished writes of killed processes",
                r.staging_files, r.staging_bytes
            ),
        ));
    }
    if r.dry_run {
        out.push(("deletable_now_bytes", r.deletable_bytes.to_string()));
    }
    if let Some(p) = &r.deletion_postponed {
        out.push(("deletion_postponed", p.clone()));
    }
    lines(&out)
}

pub fn import(url: &str, a: &ImportArgs, json: bool) -> Result<()> {
    let store = open(url)?;
    let r = store.import(&a.cache).map_err(store_err)?;
    let failed: Vec<String> = r
        .failed
        .iter()
        .map(|(n, e)| output::escape_message(&format!("{n}: {:#}", anyhow::anyhow!("{e}"))))
        .collect();
    if json {
        let list: Vec<Value> = r
            .imported
            .iter()
            .map(|i| {
                json!({"name": i.name, "store_path": i.store_path, "key": i.key,
                       "nar_size": i.nar_size, "new_bytes": i.new_bytes, "existed": i.existed})
            })
            .collect();
        print_json(&json!({"imported": list, "failed": failed,
                           "requests": requests_json(&r.requests)}))?;
    } else {
        let mut w = output::stdout();
        for i in &r.imported {
            writeln!(w, "{} {} {}", i.key, i.nar_size, i.store_path).map_err(write_err)?;
        }
        for f in &failed {
            writeln!(w, "failed: {f}").map_err(write_err)?;
        }
        writeln!(
            w,
            "# {} imported, {} failed",
            r.imported.len(),
            failed.len()
        )
        .map_err(write_err)?;
        w.flush().map_err(write_err)?;
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(
            Code::Data,
            anyhow::anyhow!("{} NARs could not be imported", failed.len()),
        ))
    }
}

pub fn export(url: &str, a: &ExportArgs, json: bool) -> Result<()> {
    let store = open(url)?;
    let n = store.export(&a.dir).map_err(store_err)?;
    if json {
        print_json(&json!({"exported": n, "dir": a.dir.to_string_lossy()}))
    } else {
        lines(&[("exported", n.to_string())])
    }
}

fn parse_params(s: &str) -> anyhow::Result<(usize, usize, usize)> {
    let parts: Vec<&str> = s.split('/').collect();
    let [a, b, c] = parts[..] else {
        anyhow::bail!("invalid --params {s:?}: expected MIN/AVG/MAX");
    };
    let p = |x: &str| parse_size(x).map_err(|e| anyhow::anyhow!("invalid --params {s:?}: {e}"));
    Ok((p(a)?, p(b)?, p(c)?))
}

pub fn simulate(a: &SimulateArgs, json: bool) -> Result<()> {
    let defaults = ["16K/64K/256K", "64K/256K/1M", "256K/1M/4M"];
    let params: Vec<String> = if a.params.is_empty() {
        defaults.iter().map(|s| s.to_string()).collect()
    } else {
        a.params.clone()
    };
    let digest: HashAlgorithm = a.digest.into();
    let mut configs = Vec::new();
    for p in &params {
        let (min, avg, max) = parse_params(p).code(Code::Usage)?;
        let chunking = chunker::Config::new(min, avg, max).code(Code::Config)?;
        configs.push(
            StoreConfig::new(chunking, digest, a.level, a.pack_target as u64).map_err(store_err)?,
        );
    }
    let results = run_simulate(&a.samples, &configs).map_err(store_err)?;
    let rows: Vec<Value> = results
        .iter()
        .zip(&params)
        .map(|(r, p)| {
            json!({"params": p, "min": r.config.chunking().min_size(),
                   "avg": r.config.chunking().avg_size(), "max": r.config.chunking().max_size(),
                   "level": r.config.level(), "pack_target": r.config.pack_target(),
                   "nars": r.nars, "logical_bytes": r.logical_bytes, "chunks": r.chunks,
                   "unique_chunks": r.unique_chunks, "unique_bytes": r.unique_bytes,
                   "stored_bytes": r.stored_bytes, "dedup_ratio": r.dedup_ratio,
                   "compression_ratio": r.compression_ratio, "mean_chunk": r.mean_chunk,
                   "packs": r.packs, "puts": r.puts, "seconds": r.seconds})
        })
        .collect();
    if json {
        return print_json(&json!({ "results": rows }));
    }
    let mut w = output::stdout();
    writeln!(
        w,
        "{:<16} {:>14} {:>14} {:>14} {:>8} {:>8} {:>10} {:>7} {:>7}",
        "params", "logical", "unique", "stored", "dedup", "compr", "chunks", "packs", "PUTs"
    )
    .map_err(write_err)?;
    for (r, p) in results.iter().zip(&params) {
        writeln!(
            w,
            "{:<16} {:>14} {:>14} {:>14} {:>8.3} {:>8.3} {:>10} {:>7} {:>7}",
            p,
            r.logical_bytes,
            r.unique_bytes,
            r.stored_bytes,
            r.dedup_ratio,
            r.compression_ratio,
            r.chunks,
            r.packs,
            r.puts
        )
        .map_err(write_err)?;
    }
    w.flush().map_err(write_err)
}
