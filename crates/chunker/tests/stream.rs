//! `ChunkStream` against the eager paths and the `fastcdc` crate, under adversarial
//! readers: 1-byte reads, random short reads, `Interrupted`, failures.

use std::io::{self, Read};

use bytes::Bytes;
use chunker::{ChunkInfo, ChunkOptions, Config, HashAlgorithm, StreamError};
use chunker_testdata::{generate, Kind, Rng, ScheduledReader};
use proptest::prelude::*;

fn reference(data: &[u8], cfg: &Config, algo: Option<HashAlgorithm>) -> Vec<ChunkInfo> {
    fastcdc::v2020::FastCDC::new(
        data,
        cfg.min_size() as u32,
        cfg.avg_size() as u32,
        cfg.max_size() as u32,
    )
    .map(|c| ChunkInfo {
        offset: c.offset as u64,
        length: c.length,
        digest: algo.map(|a| chunker::hash(a, &data[c.offset..c.offset + c.length])),
    })
    .collect()
}

fn collect(
    stream: impl Iterator<Item = Result<chunker::Chunk, StreamError>>,
    data: &[u8],
) -> Vec<ChunkInfo> {
    stream
        .map(|c| {
            let c = c.expect("no error");
            assert_eq!(c.payload.len(), c.length);
            let start = c.offset as usize;
            assert_eq!(
                &c.payload[..],
                &data[start..start + c.length],
                "payload bytes"
            );
            c.info()
        })
        .collect()
}

#[test]
fn stream_equals_eager_and_reference_under_adversarial_reads() {
    let configs = [
        Config::new(64, 256, 1024).unwrap(),
        Config::new(1024, 6000, 16384).unwrap(),
        Config::new(4097, 16383, 65535).unwrap(),
        Config::new(16 << 10, 64 << 10, 256 << 10).unwrap(),
    ];
    let patterns: Vec<Vec<usize>> = vec![
        vec![1],
        vec![0, 1, 0, 3],
        vec![7, 0, 4093, 1],
        vec![65536],
        vec![1 << 20],
    ];
    for (ci, cfg) in configs.iter().enumerate() {
        for kind in Kind::ALL {
            let len = if ci == 0 { 40_000 } else { 700_000 + ci };
            let data = generate(kind, len, ci as u64);
            for algo in [
                None,
                Some(HashAlgorithm::Sha256),
                Some(HashAlgorithm::Blake3),
            ] {
                let expected = reference(&data, cfg, algo);
                let opts = ChunkOptions::new(*cfg).hash(algo);
                let eager: Vec<ChunkInfo> = opts
                    .chunk_bytes(Bytes::from(data.clone()))
                    .map(|c| c.info())
                    .collect();
                assert_eq!(eager, expected, "eager bytes");
                let slices: Vec<ChunkInfo> = opts.chunk_slice(&data).map(|c| c.info).collect();
                assert_eq!(slices, expected, "eager slice");
                for pattern in &patterns {
                    if pattern == &[1] && data.len() > 100_000 {
                        continue;
                    }
                    for read_size in [1usize, 8192, 1 << 20] {
                        if read_size == 1 && data.len() > 100_000 {
                            continue;
                        }
                        let stream = || {
                            opts.stream(ScheduledReader::new(&data[..], pattern.clone()))
                                .read_size(read_size)
                        };
                        assert_eq!(
                            collect(stream(), &data),
                            expected,
                            "stream {kind} cfg {ci} pattern {pattern:?} read {read_size}"
                        );
                        assert_eq!(
                            collect(stream().read_ahead().unwrap(), &data),
                            expected,
                            "read-ahead {kind} cfg {ci} pattern {pattern:?} read {read_size}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn empty_input_gives_no_chunks_and_empty_digest() {
    let opts = ChunkOptions::default();
    let mut stream = opts
        .stream(io::empty())
        .stream_digest(HashAlgorithm::Sha256);
    assert!(stream.next().is_none());
    assert!(stream.next().is_none());
    let summary = stream.summary().unwrap();
    assert_eq!(summary.length, 0);
    assert_eq!(summary.chunks, 0);
    assert_eq!(
        summary.digest.unwrap().to_nix32(),
        "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"
    );
    assert_eq!(opts.chunk_bytes(Bytes::new()).count(), 0);
    assert_eq!(opts.chunk_slice(&[]).count(), 0);
}

#[test]
fn whole_stream_digest_in_the_same_pass() {
    let data = generate(Kind::Text, 5_000_000, 1);
    for algo in [HashAlgorithm::Sha256, HashAlgorithm::Blake3] {
        for chunk_hash in [None, Some(HashAlgorithm::Blake3)] {
            let stream = || {
                ChunkOptions::new(Config::default())
                    .hash(chunk_hash)
                    .stream(ScheduledReader::new(&data[..], vec![100_003]))
                    .stream_digest(algo)
            };
            let mut plain = stream();
            let n = plain.by_ref().map(|c| c.unwrap().length).sum::<usize>();
            assert_eq!(n, data.len());
            let s = plain.summary().unwrap();
            assert_eq!(s.length, data.len() as u64);
            assert_eq!(s.digest, Some(chunker::hash(algo, &data)));
            let mut ahead = stream().read_ahead().unwrap();
            let n = ahead.by_ref().map(|c| c.unwrap().length).sum::<usize>();
            assert_eq!(n, data.len());
            assert_eq!(ahead.summary(), Some(s));
            assert_eq!(ahead.position(), data.len() as u64);
        }
    }
}

#[test]
fn io_error_is_one_item_and_ends_the_stream() {
    let cfg = Config::new(1024, 4096, 16384).unwrap();
    let data = generate(Kind::Random, 300_000, 5);
    let expected = reference(&data, &cfg, Some(HashAlgorithm::Sha256));
    for (fail_at, ahead) in [0usize, 1, 5000, 123_456, 299_999]
        .into_iter()
        .flat_map(|f| [(f, false), (f, true)])
    {
        let reader = ScheduledReader::new(&data[..], vec![3000, 0, 17]).failing_at(fail_at);
        let plain = ChunkOptions::new(cfg).stream(reader).read_size(8192);
        let mut stream: Box<dyn Iterator<Item = Result<chunker::Chunk, StreamError>>> = if ahead {
            Box::new(plain.read_ahead().unwrap())
        } else {
            Box::new(plain)
        };
        let mut got = Vec::new();
        let mut errors = 0;
        for item in stream.by_ref() {
            match item {
                Ok(c) => {
                    assert_eq!(errors, 0, "no chunk after the error");
                    got.push(c.info());
                }
                Err(e) => {
                    errors += 1;
                    let StreamError::Read { offset, .. } = &e else {
                        panic!("unexpected {e:?}")
                    };
                    assert_eq!(*offset, fail_at as u64, "error offset");
                    assert_eq!(e.kind(), io::ErrorKind::Other);
                    // The cause is the error's source, not repeated in its message.
                    let source = std::error::Error::source(&e).expect("a source");
                    assert!(source.to_string().contains("disk on fire"));
                    assert!(!e.to_string().contains("disk on fire"));
                }
            }
        }
        assert_eq!(
            errors, 1,
            "exactly one error (fail_at {fail_at}, ahead {ahead})"
        );
        assert!(stream.next().is_none());
        // Every chunk yielded is a true chunk, and they end at or before the failure.
        assert_eq!(&expected[..got.len()], &got[..]);
        let covered: u64 = got.iter().map(|c| c.length as u64).sum();
        assert!(covered <= fail_at as u64);
        // No silent truncation: the chunks before the failure are all there.
        let complete = expected
            .iter()
            .take_while(|c| c.offset + c.length as u64 + 1 < fail_at as u64)
            .count();
        assert!(
            got.len() >= complete.saturating_sub(1),
            "got {} of {complete}",
            got.len()
        );
    }
}

#[test]
fn io_error_leaves_no_summary() {
    let data = generate(Kind::Random, 100_000, 5);
    let reader = ScheduledReader::new(&data[..], vec![3000]).failing_at(50_000);
    let mut plain = ChunkOptions::default().stream(reader);
    assert!(plain.by_ref().any(|c| c.is_err()));
    assert!(plain.summary().is_none(), "no summary after an error");
    let reader = ScheduledReader::new(&data[..], vec![3000]).failing_at(50_000);
    let mut ahead = ChunkOptions::default().stream(reader).read_ahead().unwrap();
    assert!(ahead.by_ref().any(|c| c.is_err()));
    assert!(ahead.next().is_none());
    assert!(ahead.summary().is_none(), "no summary after an error");
}

#[test]
fn read_ahead_reports_a_panicking_reader_and_refuses_a_started_stream() {
    struct Panics(usize);
    impl Read for Panics {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                panic!("reader exploded");
            }
            let n = buf.len().min(self.0).min(1000);
            buf[..n].fill(7);
            self.0 -= n;
            Ok(n)
        }
    }
    let cfg = Config::new(64, 256, 1024).unwrap();
    let mut stream = ChunkOptions::new(cfg)
        .stream(Panics(10_000))
        .read_ahead()
        .unwrap();
    let items: Vec<_> = stream.by_ref().collect();
    let last = items.last().unwrap();
    assert!(
        matches!(last, Err(e) if std::error::Error::source(e).is_some_and(|s| s.to_string().contains("panicked"))),
        "a reader panic is an error, never a silent end: {last:?}"
    );
    assert!(stream.summary().is_none());

    let data = generate(Kind::Random, 100_000, 1);
    let mut started = ChunkOptions::new(cfg).stream(ScheduledReader::new(&data[..], vec![4096]));
    assert!(started.next().is_some());
    let err = started.read_ahead().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn payloads_are_slices_of_one_block() {
    let cfg = Config::new(1024, 4096, 16384).unwrap();
    let data = generate(Kind::Random, 2_000_000, 8);
    let chunks: Vec<_> = ChunkOptions::new(cfg)
        .stream(&data[..])
        .map(Result::unwrap)
        .collect();
    let ahead: Vec<_> = ChunkOptions::new(cfg)
        .stream(ScheduledReader::new(&data[..], vec![1 << 20]))
        .read_ahead()
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ahead, chunks);
    // Consecutive chunks from the same block are adjacent in memory: no per-chunk copy.
    for (what, chunks) in [("one thread", &chunks), ("read-ahead", &ahead)] {
        let adjacent = chunks
            .windows(2)
            .filter(|w| w[0].payload.as_ptr().wrapping_add(w[0].length) == w[1].payload.as_ptr())
            .count();
        assert!(
            adjacent * 10 >= chunks.len() * 9,
            "{what}: {adjacent} of {}",
            chunks.len()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn stream_equals_eager_for_random_read_schedules(
        seed in any::<u64>(),
        len in 0usize..400_000,
        pattern in prop::collection::vec(0usize..70_000, 1..10),
        read_size in prop::sample::select(vec![1usize, 13, 4096, 65_536, 1 << 20]),
        min in 64usize..5000,
    ) {
        prop_assume!(pattern.iter().any(|&p| p > 0));
        prop_assume!(read_size > 1 || len < 50_000);
        let cfg = Config::new(min, (min * 3).max(256), (min * 9).max(1024)).unwrap();
        let data = generate(Kind::Binary, len, seed);
        let opts = ChunkOptions::new(cfg).hash(Some(HashAlgorithm::Blake3));
        let expected = reference(&data, &cfg, Some(HashAlgorithm::Blake3));
        let got = collect(opts.stream(ScheduledReader::new(&data[..], pattern.clone())).read_size(read_size), &data);
        prop_assert_eq!(&got, &expected);
        let ahead = opts.stream(ScheduledReader::new(&data[..], pattern)).read_size(read_size).read_ahead().unwrap();
        prop_assert_eq!(collect(ahead, &data), expected);
    }
}

#[test]
fn random_pattern_reader_many_seeds() {
    // Random split points drawn per read, many seeds.
    struct RandomReads<'a>(&'a [u8], Rng);
    impl Read for RandomReads<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.1.below(5) == 0 {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = (1 + self.1.below(30_000) as usize)
                .min(buf.len())
                .min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let cfg = Config::new(2000, 8000, 30_000).unwrap();
    for seed in 0..20 {
        let data = generate(Kind::Text, 500_000 + seed as usize * 997, seed);
        let expected = reference(&data, &cfg, None);
        let got = collect(
            ChunkOptions::new(cfg)
                .hash(None)
                .stream(RandomReads(&data, Rng::new(seed)))
                .read_size(50_000),
            &data,
        );
        assert_eq!(got, expected, "seed {seed}");
    }
}

/// Read-ahead blocks are `max(2 × max, read size)` bytes: with a 1 KiB maximum, a cut
/// lands on or next to a block boundary many times per stream, including cuts held back
/// by the odd-remainder rule until the next block arrives.
#[test]
fn read_ahead_block_boundaries_many_seeds() {
    let cfg = Config::new(64, 256, 1024).unwrap();
    for seed in 0..60 {
        let kind = Kind::ALL[seed as usize % Kind::ALL.len()];
        let data = generate(kind, 150_000 + seed as usize * 37, seed);
        let expected = reference(&data, &cfg, Some(HashAlgorithm::Blake3));
        let ahead = ChunkOptions::new(cfg)
            .hash(Some(HashAlgorithm::Blake3))
            .stream(ScheduledReader::new(&data[..], vec![999, 0, 1, 4096]))
            .read_size(1000)
            .read_ahead()
            .unwrap();
        assert_eq!(collect(ahead, &data), expected, "seed {seed}");
    }
}
