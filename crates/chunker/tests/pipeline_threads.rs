//! Dropping a pipeline midway stops every thread it started: the reader, the
//! whole-stream digest and its own pool. Its own test binary (one test), so that no
//! other test's threads are counted.

use std::io::Cursor;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chunker::compress::{Codec, Compressor};
use chunker::pipeline::{Pipeline, Thresholds};
use chunker::{ChunkOptions, Config, HashAlgorithm};
use chunker_testdata::{generate, Kind};

/// Threads of this process whose name starts with "chunker-pipe" (the pipeline names
/// its reader, digest and pool threads so).
fn pipeline_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("chunker-pipe"))
        .count()
}

/// Wait (up to a minute) until `n` pipeline threads are listed.
fn wait_for(n: usize, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while pipeline_threads() != n {
        assert!(
            Instant::now() < deadline,
            "{what}: {} pipeline threads, not {n}",
            pipeline_threads()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The reader and digest threads are joined before `drop` returns; rayon's pool
/// threads are joined up to their last instruction (the exit handler), after which the
/// kernel may list them for a moment longer: wait (up to a minute) for that.
fn assert_all_stopped(what: &str) {
    wait_for(0, what);
}

#[cfg(target_os = "linux")]
#[test]
fn dropping_midway_stops_every_thread() {
    assert_eq!(pipeline_threads(), 0);
    let data = generate(Kind::Text, 16 << 20, 1);
    let options = ChunkOptions::new(Config::new(1024, 4096, 16384).unwrap());
    let all = Thresholds {
        chunks: 0,
        bytes: 0,
    };
    let p = Pipeline::new(options)
        .threads(4)
        .thresholds(all)
        .budget(1 << 20)
        .read_size(64 << 10)
        .compress(Compressor::new(Codec::Zstd))
        .stream_digest(HashAlgorithm::Sha256);
    for take in [0, 1, 100, 1000] {
        let mut out = p.reader(Cursor::new(data.clone())).unwrap();
        for _ in 0..take {
            out.next().unwrap().unwrap();
        }
        // The reader, the digest and the 4 pool threads are running (a new thread
        // names itself once it runs: wait for that).
        wait_for(6, &format!("take {take}"));
        drop(out);
        assert_all_stopped(&format!("reader source, {take} taken"));

        let mut out = p.bytes(Bytes::from(data.clone())).unwrap();
        for _ in 0..take {
            out.next().unwrap().unwrap();
        }
        drop(out);
        assert_all_stopped(&format!("bytes source, {take} taken"));
    }
    // Run to the end: the threads stop too.
    let mut out = p.reader(Cursor::new(data.clone())).unwrap();
    assert!(out.by_ref().all(|c| c.is_ok()));
    assert!(out.summary().is_some());
    assert_all_stopped("after the end");
}
