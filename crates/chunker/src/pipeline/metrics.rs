//! Pipeline metrics through the [`metrics`] facade (feature `metrics`; PAR-002).
//!
//! Handles are registered once per run, on the thread that starts it (so a recorder
//! installed for that thread with `metrics::with_local_recorder` sees the whole run);
//! workers count into a [`Tally`] and flush it once per batch, not once per chunk.
//!
//! | name | kind | what |
//! |---|---|---|
//! | `chunker_pipeline_chunks_total` | counter | chunks processed |
//! | `chunker_pipeline_bytes_total` | counter | bytes in those chunks |
//! | `chunker_pipeline_chunk_size_bytes` | histogram | each chunk's length |
//! | `chunker_pipeline_hashed_bytes_total` | counter | bytes digested per chunk |
//! | `chunker_pipeline_compressed_in_bytes_total` | counter | bytes compressed |
//! | `chunker_pipeline_compressed_out_bytes_total` | counter | compressed bytes out |
//! | `chunker_pipeline_errors_total` | counter, label `kind` | error items, by kind |

use metrics::{counter, histogram, Counter, Histogram};

use super::error::PipelineError;
use super::ProcessedChunk;

/// The run's handles.
#[derive(Debug, Clone)]
pub(super) struct Metrics {
    chunks: Counter,
    bytes: Counter,
    sizes: Histogram,
    hashed: Counter,
    compressed_in: Counter,
    compressed_out: Counter,
}

impl Metrics {
    /// Register the handles with the current recorder.
    pub(super) fn register() -> Metrics {
        Metrics {
            chunks: counter!("chunker_pipeline_chunks_total"),
            bytes: counter!("chunker_pipeline_bytes_total"),
            sizes: histogram!("chunker_pipeline_chunk_size_bytes"),
            hashed: counter!("chunker_pipeline_hashed_bytes_total"),
            compressed_in: counter!("chunker_pipeline_compressed_in_bytes_total"),
            compressed_out: counter!("chunker_pipeline_compressed_out_bytes_total"),
        }
    }

    /// Count one error item (rare: registered when it happens).
    pub(super) fn error(e: &PipelineError) {
        let kind = match e {
            PipelineError::Open { .. } => "open",
            PipelineError::Read { .. } => "read",
            PipelineError::Compress { .. } => "compress",
            PipelineError::Panicked { .. } => "panicked",
            PipelineError::InvalidEnv { .. } => "invalid_env",
            PipelineError::InvalidSetting { .. } => "invalid_setting",
            PipelineError::Spawn { .. } => "spawn",
            PipelineError::ThreadPool { .. } => "thread_pool",
        };
        counter!("chunker_pipeline_errors_total", "kind" => kind).increment(1);
    }
}

/// Counts of one batch, flushed at once.
#[derive(Debug, Default)]
pub(super) struct Tally {
    chunks: u64,
    bytes: u64,
    hashed: u64,
    compressed_in: u64,
    compressed_out: u64,
    sizes: Vec<usize>,
}

impl Tally {
    pub(super) fn add(&mut self, c: &ProcessedChunk) {
        self.chunks += 1;
        self.bytes += c.length as u64;
        self.sizes.push(c.length);
        if c.digest.is_some() {
            self.hashed += c.length as u64;
        }
        if let Some(z) = &c.compressed {
            self.compressed_in += c.length as u64;
            self.compressed_out += z.data.len() as u64;
        }
    }

    pub(super) fn flush(&mut self, m: &Metrics) {
        if self.chunks == 0 {
            return;
        }
        m.chunks.increment(self.chunks);
        m.bytes.increment(self.bytes);
        for &s in &self.sizes {
            m.sizes.record(s as f64);
        }
        if self.hashed > 0 {
            m.hashed.increment(self.hashed);
        }
        if self.compressed_in > 0 {
            m.compressed_in.increment(self.compressed_in);
            m.compressed_out.increment(self.compressed_out);
        }
        *self = Tally {
            sizes: std::mem::take(&mut self.sizes),
            ..Tally::default()
        };
        self.sizes.clear();
    }
}
