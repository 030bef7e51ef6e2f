//! Compare store configs on sample NARs without writing a store: what each would
//! store, dedup and cost in packs and PUTs.
//!
//! ```
//! use chunker_store::{simulate::simulate, StoreConfig};
//!
//! let dir = std::env::temp_dir().join(format!("chunker-store-sim-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! std::fs::write(dir.join("a"), vec![1u8; 200_000])?;
//! let out = simulate(&[dir.clone(), dir.clone()], &[StoreConfig::default()])?;
//! assert_eq!(out[0].nars, 2);
//! assert_eq!(out[0].unique_bytes * 2, out[0].logical_bytes); // the second adds nothing
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chunker::pipeline::Pipeline;

use crate::add::{nar_reader, peek, BoxRead, NAR_START};
use crate::config::StoreConfig;
use crate::error::{Result, StoreError};

/// What one config would do with the samples, ingested in order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SimResult {
    /// The config.
    pub config: StoreConfig,
    /// Samples (NARs).
    pub nars: u64,
    /// Sum of the NAR sizes.
    pub logical_bytes: u64,
    /// Chunks over all NARs.
    pub chunks: u64,
    /// Distinct chunks.
    pub unique_chunks: u64,
    /// Bytes of the distinct chunks.
    pub unique_bytes: u64,
    /// Compressed bytes of the distinct chunks (the packs' frames).
    pub stored_bytes: u64,
    /// `logical_bytes / unique_bytes`.
    pub dedup_ratio: f64,
    /// `unique_bytes / stored_bytes`.
    pub compression_ratio: f64,
    /// Mean chunk size.
    pub mean_chunk: f64,
    /// Packs the ingests would write (each ingest closes its last pack).
    pub packs: u64,
    /// PUTs the ingests would make: packs, an index segment per ingest that adds
    /// chunks, a manifest and a lease per ingest.
    pub puts: u64,
    /// Seconds this config's pass took.
    pub seconds: f64,
}

/// Open `path` as a NAR stream as `store add` would: a NAR file (plain or compressed)
/// as it is, anything else packed into a NAR.
pub(crate) fn open_nar(path: &Path) -> Result<BoxRead> {
    let meta = std::fs::symlink_metadata(path).map_err(|source| StoreError::Input { source })?;
    if meta.is_file() {
        let file = std::fs::File::open(path).map_err(|source| StoreError::Input { source })?;
        let (head, reader) = peek(Box::new(file))?;
        if head.starts_with(NAR_START) || chunker::compress::detect(&head).is_ok() {
            return nar_reader(reader);
        }
    }
    let encoder =
        chunker::nix::Encoder::open(path).map_err(|source| StoreError::Pack { source })?;
    Ok(Box::new(encoder))
}

/// Run every config over the samples (files or directories, as `store add` takes
/// them), in order, as if each were ingested into an empty store of that config.
pub fn simulate(samples: &[PathBuf], configs: &[StoreConfig]) -> Result<Vec<SimResult>> {
    configs.iter().map(|c| simulate_one(samples, *c)).collect()
}

fn simulate_one(samples: &[PathBuf], config: StoreConfig) -> Result<SimResult> {
    let started = Instant::now();
    let mut seen: HashMap<[u8; 32], ()> = HashMap::new();
    let target = config.pack_target() as usize;
    let mut r = SimResult {
        config,
        nars: 0,
        logical_bytes: 0,
        chunks: 0,
        unique_chunks: 0,
        unique_bytes: 0,
        stored_bytes: 0,
        dedup_ratio: 0.0,
        compression_ratio: 0.0,
        mean_chunk: 0.0,
        packs: 0,
        puts: 0,
        seconds: 0.0,
    };
    for sample in samples {
        let nar: Box<dyn Read + Send> = open_nar(sample)?;
        let pipeline = Pipeline::new(config.chunk_options()).compress(config.compressor());
        let chunks = pipeline
            .reader(nar)
            .map_err(|source| StoreError::Pipeline { source })?;
        let mut open_pack = 0usize;
        let mut new = false;
        for item in chunks {
            let c = item.map_err(|source| StoreError::Pipeline { source })?;
            let digest = c.digest.expect("the store's chunk options digest");
            let clen = c.compressed.map_or(c.length, |f| f.data.len());
            r.chunks += 1;
            r.logical_bytes += c.length as u64;
            if seen.insert(*digest.as_bytes(), ()).is_some() {
                continue;
            }
            new = true;
            r.unique_chunks += 1;
            r.unique_bytes += c.length as u64;
            r.stored_bytes += clen as u64;
            open_pack += clen;
            if open_pack >= target {
                r.packs += 1;
                open_pack = 0;
            }
        }
        if open_pack > 0 {
            r.packs += 1;
        }
        r.nars += 1;
        r.puts += 2 + u64::from(new);
    }
    r.puts += r.packs;
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    r.dedup_ratio = ratio(r.logical_bytes, r.unique_bytes);
    r.compression_ratio = ratio(r.unique_bytes, r.stored_bytes);
    r.mean_chunk = ratio(r.logical_bytes, r.chunks);
    r.seconds = started.elapsed().as_secs_f64();
    Ok(r)
}
