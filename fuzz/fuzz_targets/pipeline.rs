//! Arbitrary bytes, sizes, read schedules, budgets, thread counts and an optional
//! injected read failure: the pipeline gives the chunks, digests, payloads and
//! whole-stream digest of the in-memory slice path from every source, and a failing
//! reader ends it with one error at the failure's offset after the chunks a
//! `ChunkStream` yields.
#![no_main]

use std::sync::OnceLock;

use bytes::Bytes;
use chunker::pipeline::{Pipeline, PipelineError, Thresholds};
use chunker::{ChunkOptions, HashAlgorithm};
use chunker_testdata::ScheduledReader;
use libfuzzer_sys::fuzz_target;

/// One small pool for every run (the owned-pool path is covered by the tests).
fn pool() -> std::sync::Arc<rayon::ThreadPool> {
    static POOL: OnceLock<std::sync::Arc<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        std::sync::Arc::new(rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap())
    })
    .clone()
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 14 {
        return;
    }
    let (head, data) = input.split_at(14);
    let Some(config) = chunker_fuzz::config_from(head[..6].try_into().unwrap(), 2048) else {
        return;
    };
    let read_size = 1 + usize::from(u16::from_le_bytes([head[6], head[7]]));
    let mut pattern: Vec<usize> = head[8..11].iter().map(|&b| usize::from(b) * 13).collect();
    pattern.push(1 + usize::from(head[8]));
    let budget = usize::from(head[11]) << 8;
    let fail_at = (head[12] & 1 == 1).then(|| usize::from(head[13]) * 37 % (data.len() + 1));
    let thresholds = if head[12] & 2 == 2 {
        Thresholds { chunks: 0, bytes: 0 }
    } else {
        Thresholds { chunks: 4, bytes: 1024 }
    };
    let options = ChunkOptions::new(config).hash(Some(HashAlgorithm::Blake3));
    let pipeline = Pipeline::new(options)
        .thread_pool(pool())
        .budget(budget)
        .read_size(read_size)
        .thresholds(thresholds)
        .stream_digest(HashAlgorithm::Sha256);
    let mut reader = ScheduledReader::new(data, pattern.clone());
    if let Some(f) = fail_at {
        reader = reader.failing_at(f);
    }
    // The serial stream is the oracle (it stops at a failure the same way).
    let mut stream = options.stream(reader.clone());
    let expected: Vec<_> = stream.by_ref().filter_map(Result::ok).map(|c| c.info()).collect();
    let mut runs = vec![("reader", pipeline.reader(reader).unwrap())];
    if fail_at.is_none() {
        runs.push(("bytes", pipeline.bytes(Bytes::copy_from_slice(data)).unwrap()));
    }
    for (what, mut out) in runs {
        let mut infos = Vec::new();
        let mut error = None;
        for item in out.by_ref() {
            assert!(error.is_none(), "{what}: an item after the error");
            match item {
                Ok(c) => {
                    let start = c.offset as usize;
                    assert_eq!(&c.payload[..], &data[start..start + c.length], "{what} payload");
                    infos.push(chunker::ChunkInfo { offset: c.offset, length: c.length, digest: c.digest });
                }
                Err(e) => error = Some(e),
            }
        }
        assert_eq!(infos, expected, "{what}");
        match (fail_at, error) {
            (None, None) => {
                let s = out.summary().unwrap();
                assert_eq!(s.length, data.len() as u64);
                assert_eq!(s.digest, Some(chunker::hash(HashAlgorithm::Sha256, data)));
            }
            (Some(f), Some(PipelineError::Read { offset, .. })) => assert_eq!(offset, f as u64),
            (f, e) => panic!("{what}: fail_at {f:?}, error {e:?}"),
        }
    }
});
