//! The pipeline against the serial paths: equal cut points, digests, whole-stream
//! digests and payloads on random, text, binary and real-NAR data, many configurations,
//! 1..8 threads, every source kind and adversarial readers; compressed bytes decode to
//! the payload; errors (I/O, codec, panics) are one item at the right offset.

use std::io::{self, Cursor, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use chunker::compress::{Codec, Compressor, Decompressor, Dictionary};
use chunker::pipeline::{Fault, Pipeline, PipelineError, ProcessedChunk, Thresholds};
use chunker::{ChunkInfo, ChunkOptions, Config, HashAlgorithm, StreamError};
use chunker_testdata::support::TempDir;
use chunker_testdata::{generate, Kind, ScheduledReader};

const PARALLEL: Thresholds = Thresholds {
    chunks: 0,
    bytes: 0,
};

fn configs() -> Vec<Config> {
    [
        (64, 256, 1024),
        (1024, 6000, 16384),
        (4097, 16383, 65535),
        (16 << 10, 64 << 10, 256 << 10),
        (64 << 10, 256 << 10, 1 << 20),
    ]
    .into_iter()
    .map(|(min, avg, max)| Config::new(min, avg, max).unwrap())
    .collect()
}

/// The serial path's chunks.
fn serial(options: &ChunkOptions, data: &[u8]) -> Vec<ChunkInfo> {
    options
        .chunk_bytes(Bytes::copy_from_slice(data))
        .map(|c| c.info())
        .collect()
}

/// Every chunk's info, checking its payload (and compressed bytes) against `data`.
fn infos(chunks: impl IntoIterator<Item = ProcessedChunk>, data: &[u8]) -> Vec<ChunkInfo> {
    chunks
        .into_iter()
        .map(|c| {
            let start = c.offset as usize;
            assert_eq!(c.payload.len(), c.length);
            assert_eq!(
                &c.payload[..],
                &data[start..start + c.length],
                "payload at {start}"
            );
            if let Some(z) = &c.compressed {
                let back = Decompressor::new()
                    .codec(z.codec)
                    .decompress(&z.data)
                    .unwrap();
                assert_eq!(
                    back,
                    &c.payload[..],
                    "compressed chunk at {start} decodes to its payload"
                );
            }
            ChunkInfo {
                offset: c.offset,
                length: c.length,
                digest: c.digest,
            }
        })
        .collect()
}

#[derive(Debug, Clone, Copy)]
enum Source {
    Bytes,
    Cursor,
    File,
    /// 1-byte reads, `Interrupted`, odd sizes.
    Scheduled,
    /// A mapped file (default window).
    Mapped,
}

const SOURCES: [Source; 5] = [
    Source::Bytes,
    Source::Cursor,
    Source::File,
    Source::Scheduled,
    Source::Mapped,
];

fn run(p: &Pipeline, source: Source, data: &[u8], dir: &TempDir) -> chunker::ProcessedChunks {
    match source {
        Source::Bytes => p.bytes(Bytes::copy_from_slice(data)),
        Source::Cursor => p.reader(Cursor::new(data.to_vec())),
        Source::File => p.file(dir.file("input", data)),
        Source::Scheduled => p.reader(ScheduledReader::new(
            data.to_vec(),
            vec![1, 0, 7, 4093, 65536, 0, 300_001],
        )),
        Source::Mapped => p.clone().mmap(true).file(dir.file("input", data)),
    }
    .unwrap()
}

/// The pipeline's output (and summary) equals the serial path's.
fn check(p: &Pipeline, source: Source, data: &[u8], dir: &TempDir, what: &str) {
    let expected = serial(p.options(), data);
    let mut out = run(p, source, data, dir);
    let got: Vec<_> = out.by_ref().map(|c| c.expect("no error")).collect();
    assert_eq!(infos(got, data), expected, "{what} {source:?}");
    let summary = out.summary().expect("summary");
    assert_eq!(summary.length, data.len() as u64, "{what} {source:?}");
    assert_eq!(summary.chunks, expected.len() as u64, "{what} {source:?}");
    assert_eq!(
        summary.digest,
        Some(chunker::hash(HashAlgorithm::Sha256, data)),
        "{what} {source:?}: whole-stream digest"
    );
}

#[test]
fn equals_serial_on_generated_data_every_source_and_thread_count() {
    let dir = TempDir::new("pipeline-eq");
    for (ci, cfg) in configs().into_iter().enumerate() {
        for kind in Kind::ALL {
            let data = generate(kind, 2_500_000 + ci * 13, 40 + ci as u64);
            for threads in [1, 2, 3, 8] {
                let algo = if threads % 2 == 0 {
                    HashAlgorithm::Blake3
                } else {
                    HashAlgorithm::Sha256
                };
                let p = Pipeline::new(ChunkOptions::new(cfg).hash(Some(algo)))
                    .threads(threads)
                    .thresholds(PARALLEL)
                    .stream_digest(HashAlgorithm::Sha256);
                for source in SOURCES {
                    check(
                        &p,
                        source,
                        &data,
                        &dir,
                        &format!("cfg {ci} {kind} threads {threads}"),
                    );
                }
            }
        }
    }
}

#[test]
fn small_reads_small_budget_and_no_hashing() {
    let dir = TempDir::new("pipeline-small");
    let data = generate(Kind::Text, 3_000_000, 9);
    for cfg in configs() {
        let p = Pipeline::new(ChunkOptions::new(cfg).hash(None))
            .threads(2)
            .thresholds(PARALLEL)
            .read_size(4096)
            .budget(1)
            .stream_digest(HashAlgorithm::Sha256);
        for source in SOURCES {
            check(&p, source, &data, &dir, "read 4K, budget 1");
        }
    }
}

#[test]
fn edge_lengths() {
    let dir = TempDir::new("pipeline-edge");
    let cfg = Config::new(1024, 4096, 16384).unwrap();
    let p = Pipeline::new(ChunkOptions::new(cfg))
        .threads(2)
        .thresholds(PARALLEL)
        .stream_digest(HashAlgorithm::Sha256);
    for len in [0, 1, 1023, 1024, 16383, 16384, 16385, 4 * 16384 + 1] {
        let data = generate(Kind::Binary, len, len as u64);
        for source in SOURCES {
            check(&p, source, &data, &dir, &format!("len {len}"));
        }
    }
    // Uniform data: every chunk is cut at the maximum, spanning read blocks.
    let uniform = vec![0u8; 5_000_000];
    for source in SOURCES {
        check(
            &p.clone().read_size(5000),
            source,
            &uniform,
            &dir,
            "uniform",
        );
    }
}

#[test]
fn real_nars_from_nix() {
    let dir = TempDir::new("pipeline-nar");
    let mut checked = 0;
    for (path, max) in [("/usr/bin", 8 << 20), ("/usr/share/doc", 4 << 20)] {
        let Some(nar) = chunker_testdata::support::nix_dump_prefix(path.as_ref(), max) else {
            continue;
        };
        for cfg in configs() {
            let p = Pipeline::new(ChunkOptions::new(cfg))
                .threads(3)
                .thresholds(PARALLEL)
                .compress(Compressor::new(Codec::Zstd))
                .stream_digest(HashAlgorithm::Sha256);
            for source in SOURCES {
                check(&p, source, &nar, &dir, path);
            }
        }
        checked += 1;
    }
    if checked == 0 {
        eprintln!("skipped: no real NAR could be made here (run scripts/setup.sh for Nix)");
    }
}

#[test]
fn compressed_bytes_decode_to_the_payload_for_every_codec() {
    let dir = TempDir::new("pipeline-codec");
    let data = generate(Kind::Text, 1_500_000, 5);
    let cfg = Config::new(16 << 10, 64 << 10, 256 << 10).unwrap();
    let mut compressors = vec![
        Compressor::with_level(Codec::Zstd, 1).unwrap(),
        Compressor::with_level(Codec::Zstd, 19).unwrap(),
        Compressor::new(Codec::Zstd)
            .dictionary(Dictionary::nar_v1())
            .unwrap(),
        Compressor::new(Codec::None),
    ];
    for codec in [Codec::Lz4, Codec::Xz, Codec::Bzip2] {
        if codec.is_enabled() {
            compressors.push(Compressor::with_level(codec, *codec.levels().start()).unwrap());
        }
    }
    for c in compressors {
        let codec = c.codec();
        let p = Pipeline::new(ChunkOptions::new(cfg))
            .threads(2)
            .thresholds(PARALLEL)
            .compress(c)
            .stream_digest(HashAlgorithm::Sha256);
        for source in [Source::Bytes, Source::Cursor] {
            let mut n = 0;
            for chunk in run(&p, source, &data, &dir) {
                let chunk = chunk.unwrap();
                let z = chunk.compressed.as_ref().expect("compressed");
                assert_eq!(z.codec, codec);
                n += 1;
            }
            assert!(n > 5);
            check(&p, source, &data, &dir, codec.name());
        }
    }
}

#[test]
fn small_inputs_run_serially_and_equal_the_parallel_output() {
    let cfg = Config::new(1024, 4096, 16384).unwrap();
    let options = ChunkOptions::new(cfg);
    let data = generate(Kind::Random, 100_000, 3);
    let t = Thresholds {
        chunks: 1000,
        bytes: 0,
    };
    let small = Pipeline::new(options).thresholds(t).threads(2);
    let a = small.bytes(Bytes::from(data.clone())).unwrap();
    assert!(!a.is_parallel(), "100 KB / 4 KiB < 1000 chunks");
    let r = small.reader(Cursor::new(data.clone())).unwrap();
    assert!(!r.is_parallel());
    let big = Pipeline::new(options)
        .thresholds(Thresholds {
            chunks: 10,
            bytes: 50_000,
        })
        .threads(2);
    let b = big.bytes(Bytes::from(data.clone())).unwrap();
    assert!(b.is_parallel());
    let rb = big.reader(Cursor::new(data.clone())).unwrap();
    assert!(rb.is_parallel());
    let collect = |x: chunker::ProcessedChunks| infos(x.map(Result::unwrap), &data);
    let expected = serial(&options, &data);
    assert_eq!(collect(a), expected);
    assert_eq!(collect(r), expected);
    assert_eq!(collect(b), expected);
    assert_eq!(collect(rb), expected);
    // Exactly at the limit: parallel; one byte less: serial.
    let at = Pipeline::new(options).thresholds(Thresholds {
        chunks: 0,
        bytes: 100_000,
    });
    assert!(at.bytes(Bytes::from(data.clone())).unwrap().is_parallel());
    assert!(!at
        .bytes(Bytes::copy_from_slice(&data[1..]))
        .unwrap()
        .is_parallel());
}

#[test]
fn runs_on_the_callers_pool_even_from_inside_it() {
    let data = generate(Kind::Text, 2_000_000, 8);
    let options = ChunkOptions::new(Config::new(1024, 4096, 16384).unwrap());
    let expected = serial(&options, &data);
    for threads in [1, 2] {
        let pool = Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap(),
        );
        let p = Pipeline::new(options)
            .thread_pool(Arc::clone(&pool))
            .thresholds(PARALLEL)
            .budget(64 << 10);
        // From outside the pool.
        let got = p
            .reader(Cursor::new(data.clone()))
            .unwrap()
            .map(Result::unwrap);
        assert_eq!(infos(got, &data), expected);
        // From one of its threads (with one thread, blocking it would deadlock).
        let got: Vec<ChunkInfo> = pool.install(|| {
            let a = infos(
                p.bytes(Bytes::from(data.clone()))
                    .unwrap()
                    .map(Result::unwrap),
                &data,
            );
            let b = infos(
                p.reader(Cursor::new(data.clone()))
                    .unwrap()
                    .map(Result::unwrap),
                &data,
            );
            assert_eq!(a, b);
            a
        });
        assert_eq!(got, expected);
    }
    // The global pool.
    let p = Pipeline::new(options).global_pool().thresholds(PARALLEL);
    assert_eq!(
        infos(
            p.bytes(Bytes::from(data.clone()))
                .unwrap()
                .map(Result::unwrap),
            &data
        ),
        expected
    );
}

/// The chunks a `ChunkStream` yields before the error, and the error's offset.
fn stream_until_error(
    options: &ChunkOptions,
    data: &[u8],
    fail_at: usize,
) -> (Vec<ChunkInfo>, u64) {
    let mut infos = Vec::new();
    for c in options.stream(ScheduledReader::new(data.to_vec(), vec![4096]).failing_at(fail_at)) {
        match c {
            Ok(c) => infos.push(c.info()),
            Err(StreamError::Read { offset, .. }) => return (infos, offset),
            Err(e) => panic!("{e}"),
        }
    }
    panic!("no error");
}

/// Items until the end: the chunks, then the error (exactly one, last).
fn until_error(out: &mut chunker::ProcessedChunks, data: &[u8]) -> (Vec<ChunkInfo>, PipelineError) {
    let mut chunks = Vec::new();
    let mut error = None;
    for item in out {
        assert!(error.is_none(), "nothing after the error");
        match item {
            Ok(c) => chunks.push(c),
            Err(e) => error = Some(e),
        }
    }
    (infos(chunks, data), error.expect("an error item"))
}

#[test]
fn a_read_error_is_one_item_at_its_offset() {
    let cfg = Config::new(1024, 4096, 16384).unwrap();
    let options = ChunkOptions::new(cfg);
    let data = generate(Kind::Random, 3_000_000, 12);
    for fail_at in [0, 1, 5000, 1_000_000, 2_999_999] {
        let (expected, offset) = stream_until_error(&options, &data, fail_at);
        assert_eq!(offset, fail_at as u64);
        for thresholds in [PARALLEL, Thresholds::default()] {
            for threads in [1, 4] {
                let p = Pipeline::new(options)
                    .threads(threads)
                    .thresholds(thresholds)
                    .read_size(64 << 10);
                let mut out = p
                    .reader(ScheduledReader::new(data.clone(), vec![4096]).failing_at(fail_at))
                    .unwrap();
                let (chunks, e) = until_error(out.by_ref(), &data);
                assert_eq!(chunks, expected, "fail at {fail_at}");
                match &e {
                    PipelineError::Read { offset, source } => {
                        assert_eq!(*offset, fail_at as u64);
                        assert_eq!(source.to_string(), "disk on fire");
                    }
                    other => panic!("{other}"),
                }
                assert!(out.summary().is_none());
                assert!(out.next().is_none());
            }
        }
    }
}

#[test]
fn a_codec_error_and_a_worker_panic_are_one_item_at_the_chunk() {
    let cfg = Config::new(1024, 4096, 16384).unwrap();
    let options = ChunkOptions::new(cfg);
    let data = generate(Kind::Text, 2_000_000, 14);
    let all = serial(&options, &data);
    for k in [0, 1, all.len() / 2, all.len() - 1] {
        let at = all[k].offset;
        for fault in [Fault::PanicAt(at), Fault::CodecErrorAt(at)] {
            for (source, thresholds) in [
                (Source::Bytes, PARALLEL),
                (Source::Cursor, PARALLEL),
                (
                    Source::Bytes,
                    Thresholds {
                        chunks: u64::MAX,
                        bytes: 0,
                    },
                ),
            ] {
                let p = Pipeline::new(options)
                    .threads(3)
                    .thresholds(thresholds)
                    .compress(Compressor::new(Codec::Lz4))
                    .fault(fault);
                let dir = TempDir::new("pipeline-fault");
                let (chunks, e) = until_error(&mut run(&p, source, &data, &dir), &data);
                assert_eq!(chunks, all[..k], "{fault:?} {source:?}");
                match (fault, &e) {
                    (
                        Fault::PanicAt(_),
                        PipelineError::Panicked {
                            stage,
                            offset,
                            message,
                        },
                    ) => {
                        assert_eq!((*stage, *offset), ("worker", at));
                        assert!(message.contains("injected"), "{message}");
                    }
                    (Fault::CodecErrorAt(_), PipelineError::Compress { offset, length, .. }) => {
                        assert_eq!((*offset, *length), (at, all[k].length));
                    }
                    _ => panic!("{fault:?}: {e}"),
                }
                assert_eq!(e.offset(), Some(at));
            }
        }
    }
}

/// A reader that panics once it has returned `at` bytes.
struct Panicking {
    inner: Cursor<Vec<u8>>,
    at: u64,
}

impl Read for Panicking {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.inner.position() >= self.at {
            panic!("reader exploded");
        }
        let room = (self.at - self.inner.position()) as usize;
        let n = buf.len().min(room);
        self.inner.read(&mut buf[..n])
    }
}

#[test]
fn a_panicking_reader_is_an_error_item() {
    let options = ChunkOptions::new(Config::new(1024, 4096, 16384).unwrap());
    let data = generate(Kind::Random, 2_000_000, 2);
    let p = Pipeline::new(options).threads(2).thresholds(PARALLEL);
    let mut out = p
        .reader(Panicking {
            inner: Cursor::new(data.clone()),
            at: 1_234_567,
        })
        .unwrap();
    let (chunks, e) = until_error(&mut out, &data);
    let (expected, _) = stream_until_error(&options, &data, 1_234_567);
    assert_eq!(chunks, expected);
    match e {
        PipelineError::Panicked {
            stage: "reader",
            offset,
            message,
        } => {
            assert_eq!(offset, 1_234_567);
            assert_eq!(message, "reader exploded");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn a_missing_file_is_an_open_error() {
    let p = Pipeline::new(ChunkOptions::default());
    match p.file("/nonexistent/chunker-pipeline") {
        Err(PipelineError::Open { path, source }) => {
            assert_eq!(path, std::path::Path::new("/nonexistent/chunker-pipeline"));
            assert_eq!(source.kind(), io::ErrorKind::NotFound);
        }
        other => panic!("{other:?}"),
    }
}

/// Counts the bytes read from it.
struct Counted {
    left: u64,
    read: Arc<AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        buf[..n].fill(0x5a ^ (self.left as u8));
        self.left -= n as u64;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A consumer that stops taking chunks stalls the reader: what is read stays within
/// the budget plus one read and one maximum chunk, however long it waits.
#[test]
fn a_slow_consumer_stalls_the_reader() {
    let cfg = Config::new(16 << 10, 64 << 10, 256 << 10).unwrap();
    let budget = 4 << 20;
    let read_size = 1 << 20;
    let read = Arc::new(AtomicU64::new(0));
    let p = Pipeline::new(ChunkOptions::new(cfg))
        .threads(2)
        .thresholds(PARALLEL)
        .budget(budget)
        .read_size(read_size);
    let mut out = p
        .reader(Counted {
            left: 1 << 30,
            read: Arc::clone(&read),
        })
        .unwrap();
    let mut taken = 0u64;
    for _ in 0..3 {
        taken += out.next().unwrap().unwrap().length as u64;
    }
    // Give an unbounded pipeline time to read far more than the bound (a slow machine
    // only makes the bound easier to meet).
    std::thread::sleep(std::time::Duration::from_millis(300));
    let bound = taken + (budget + read_size + cfg.max_size() + super_batch()) as u64;
    let got = read.load(Ordering::Relaxed);
    assert!(
        got <= bound,
        "read {got} bytes with {taken} taken; bound {bound}"
    );
    drop(out);
    // Dropping stopped the reader: nothing more is read.
    let after = read.load(Ordering::Relaxed);
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(read.load(Ordering::Relaxed), after);
}

/// One batch may exceed the budget when nothing else is in flight.
fn super_batch() -> usize {
    chunker::pipeline::BATCH_BYTES + (256 << 10)
}

#[test]
fn sink_form_stops_at_the_sinks_error() {
    let data = generate(Kind::Text, 1_000_000, 4);
    let p = Pipeline::new(ChunkOptions::new(Config::new(1024, 4096, 16384).unwrap()))
        .threads(2)
        .thresholds(PARALLEL);
    #[derive(Debug)]
    enum E {
        Pipeline(#[allow(dead_code)] PipelineError),
        Enough,
    }
    impl From<PipelineError> for E {
        fn from(e: PipelineError) -> E {
            E::Pipeline(e)
        }
    }
    let mut n = 0;
    let r = p.reader(Cursor::new(data.clone())).unwrap().sink(|_| {
        n += 1;
        if n == 10 {
            Err(E::Enough)
        } else {
            Ok(())
        }
    });
    assert!(matches!(r, Err(E::Enough)));
    assert_eq!(n, 10);
    let mut total = 0;
    let summary = p
        .bytes(Bytes::from(data))
        .unwrap()
        .sink(|c| {
            total += c.length;
            Ok::<_, E>(())
        })
        .unwrap();
    assert_eq!((summary.length, total), (1_000_000, 1_000_000));
}

/// Inputs long enough for read blocks of 4 MiB and more, which are cut on the pool
/// (segments cut in parallel, stitched): the cut points equal the serial path's on every
/// kind of data, on uniform bytes (where the segments' speculation never meets the true
/// cut points) and with tiny and large chunks, for files and readers.
#[test]
fn large_blocks_cut_on_the_pool_equal_serial() {
    let dir = TempDir::new("pipeline-large");
    let mut inputs: Vec<(String, Vec<u8>)> = Kind::ALL
        .iter()
        .map(|&k| (k.to_string(), generate(k, 21_000_000, 7)))
        .collect();
    inputs.push(("uniform".into(), vec![0x61; 19_000_001]));
    for (ci, (min, avg, max)) in [(64, 256, 1024), (64 << 10, 256 << 10, 1 << 20)]
        .into_iter()
        .enumerate()
    {
        let cfg = Config::new(min, avg, max).unwrap();
        for (name, data) in &inputs {
            for threads in [2, 3] {
                let p = Pipeline::new(ChunkOptions::new(cfg).hash(Some(HashAlgorithm::Blake3)))
                    .threads(threads)
                    .thresholds(PARALLEL)
                    .stream_digest(HashAlgorithm::Sha256);
                for source in [Source::File, Source::Scheduled, Source::Mapped] {
                    check(
                        &p,
                        source,
                        data,
                        &dir,
                        &format!("cfg {ci} {name} threads {threads}"),
                    );
                }
            }
        }
    }
}

/// Mapped files in windows of every size, also smaller than a maximum chunk: the cut
/// points across window edges equal the serial path's.
#[test]
fn mapped_windows_of_any_size_equal_serial() {
    let dir = TempDir::new("pipeline-map");
    let mut inputs: Vec<(String, Vec<u8>)> = Kind::ALL
        .iter()
        .map(|&k| (k.to_string(), generate(k, 6_000_000, 11)))
        .collect();
    inputs.push(("uniform".into(), vec![0x3c; 5_000_003]));
    for cfg in configs() {
        for (name, data) in &inputs {
            for window in [4096, 100_000, 1 << 20, 3 << 20] {
                let p = Pipeline::new(ChunkOptions::new(cfg).hash(Some(HashAlgorithm::Sha256)))
                    .threads(2)
                    .thresholds(PARALLEL)
                    .stream_digest(HashAlgorithm::Sha256)
                    .map_window(window);
                let what = format!("{cfg:?} {name} window {window}");
                check(&p, Source::File, data, &dir, &what);
            }
        }
    }
}

/// A FIFO is not mapped: it is read, with the same output.
#[test]
fn mapping_a_fifo_falls_back_to_reads() {
    let dir = TempDir::new("pipeline-fifo");
    let path = dir.path("fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
    let data = generate(Kind::Text, 3_000_000, 5);
    let writer = {
        let (path, data) = (path.clone(), data.clone());
        std::thread::spawn(move || std::fs::write(path, data).unwrap())
    };
    let options = ChunkOptions::new(Config::new(16 << 10, 64 << 10, 256 << 10).unwrap());
    let p = Pipeline::new(options)
        .threads(2)
        .thresholds(PARALLEL)
        .mmap(true);
    let got: Vec<_> = p.file(&path).unwrap().map(|c| c.unwrap()).collect();
    writer.join().unwrap();
    assert_eq!(infos(got, &data), serial(p.options(), &data));
}
