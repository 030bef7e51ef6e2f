//! The pipeline's metrics (feature `metrics`) against a real recorder: the counts equal
//! what was processed, on the pool and on the serial path, and errors count by kind.
#![cfg(feature = "metrics")]

use std::collections::HashMap;

use bytes::Bytes;
use chunker::compress::{Codec, Compressor};
use chunker::pipeline::{Fault, Pipeline, ProcessedChunk, Thresholds};
use chunker::{ChunkOptions, Config, HashAlgorithm};
use chunker_testdata::{generate, Kind};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

/// Counters (by name and labels) and histogram values recorded while `f` runs.
fn recorded<T>(f: impl FnOnce() -> T) -> (T, HashMap<String, u64>, Vec<f64>) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let out = metrics::with_local_recorder(&recorder, f);
    let mut counters = HashMap::new();
    let mut sizes = Vec::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let mut name = key.name().to_string();
        for l in key.labels() {
            name += &format!("{{{}={}}}", l.key(), l.value());
        }
        match value {
            DebugValue::Counter(n) => {
                counters.insert(name, n);
            }
            DebugValue::Histogram(v) => sizes.extend(v.into_iter().map(|f| f.into_inner())),
            DebugValue::Gauge(_) => {}
        }
    }
    (out, counters, sizes)
}

fn expect(counters: &HashMap<String, u64>, name: &str) -> u64 {
    *counters.get(name).unwrap_or(&0)
}

#[test]
fn counts_equal_what_was_processed_parallel_and_serial() {
    let data = Bytes::from(generate(Kind::Text, 6_000_000, 3));
    let cfg = Config::new(16 << 10, 64 << 10, 256 << 10).unwrap();
    for (thresholds, parallel) in [
        (
            Thresholds {
                chunks: 0,
                bytes: 0,
            },
            true,
        ),
        (
            Thresholds {
                chunks: 0,
                bytes: u64::MAX,
            },
            false,
        ),
    ] {
        let p = Pipeline::new(ChunkOptions::new(cfg).hash(Some(HashAlgorithm::Sha256)))
            .threads(2)
            .thresholds(thresholds)
            .compress(Compressor::with_level(Codec::Zstd, 1).unwrap());
        let (chunks, counters, mut sizes) = recorded(|| {
            let out = p.reader(std::io::Cursor::new(data.to_vec())).unwrap();
            assert_eq!(out.is_parallel(), parallel);
            out.map(|c| c.unwrap()).collect::<Vec<ProcessedChunk>>()
        });
        let len = data.len() as u64;
        let zout: u64 = chunks
            .iter()
            .map(|c| c.compressed.as_ref().unwrap().data.len() as u64)
            .sum();
        assert_eq!(
            expect(&counters, "chunker_pipeline_chunks_total"),
            chunks.len() as u64
        );
        assert_eq!(expect(&counters, "chunker_pipeline_bytes_total"), len);
        assert_eq!(
            expect(&counters, "chunker_pipeline_hashed_bytes_total"),
            len
        );
        assert_eq!(
            expect(&counters, "chunker_pipeline_compressed_in_bytes_total"),
            len
        );
        assert_eq!(
            expect(&counters, "chunker_pipeline_compressed_out_bytes_total"),
            zout
        );
        let mut lengths: Vec<f64> = chunks.iter().map(|c| c.length as f64).collect();
        lengths.sort_by(f64::total_cmp);
        sizes.sort_by(f64::total_cmp);
        assert_eq!(sizes, lengths, "one histogram value per chunk, its length");
        assert!(!counters
            .keys()
            .any(|k| k.starts_with("chunker_pipeline_errors")));
    }
}

#[test]
fn errors_count_by_kind_and_hashing_off_hashes_nothing() {
    let data = generate(Kind::Random, 3_000_000, 9);
    let cfg = Config::new(16 << 10, 64 << 10, 256 << 10).unwrap();
    let serial: Vec<_> = ChunkOptions::new(cfg).chunk_slice(&data).collect();
    let at = serial[5].info.offset;
    let p = Pipeline::new(ChunkOptions::new(cfg).hash(None))
        .threads(2)
        .thresholds(Thresholds {
            chunks: 0,
            bytes: 0,
        })
        .compress(Compressor::new(Codec::Zstd))
        .fault(Fault::CodecErrorAt(at));
    let (items, counters, _) = recorded(|| {
        p.reader(std::io::Cursor::new(data.clone()))
            .unwrap()
            .collect::<Vec<_>>()
    });
    assert!(items.last().unwrap().is_err());
    assert_eq!(
        expect(&counters, "chunker_pipeline_errors_total{kind=compress}"),
        1
    );
    // The five before it at least (workers may have finished later batches too).
    assert!(expect(&counters, "chunker_pipeline_chunks_total") >= 5);
    assert_eq!(expect(&counters, "chunker_pipeline_hashed_bytes_total"), 0);
}
