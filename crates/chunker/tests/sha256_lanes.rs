//! Chunk digests and whole-stream digests computed in SHA-256 lanes equal the `sha2`
//! crate's, on every chunking path (in-memory, streaming, read-ahead), for every
//! combination of chunk and stream algorithm, under awkward read patterns.

use bytes::Bytes;
use chunker::hash::{hash_many, HashAlgorithm};
use chunker::{ChunkOptions, Config, Digest};
use chunker_testdata::{generate, Kind, ScheduledReader};
use sha2::Digest as _;

fn sha2(data: &[u8]) -> Digest {
    Digest::new(HashAlgorithm::Sha256, sha2::Sha256::digest(data).into())
}

fn blake3(data: &[u8]) -> Digest {
    Digest::new(HashAlgorithm::Blake3, *blake3::hash(data).as_bytes())
}

fn reference(alg: HashAlgorithm, data: &[u8]) -> Digest {
    match alg {
        HashAlgorithm::Sha256 => sha2(data),
        _ => blake3(data),
    }
}

const ALGS: [Option<HashAlgorithm>; 3] = [
    None,
    Some(HashAlgorithm::Sha256),
    Some(HashAlgorithm::Blake3),
];

#[test]
fn hash_many_equals_sha2() {
    let data = generate(Kind::Binary, 300_000, 7);
    let msgs: Vec<&[u8]> = (0..200)
        .map(|i| &data[i * 13..i * 13 + i * i * 7 % 9000])
        .collect();
    let got = hash_many(HashAlgorithm::Sha256, &msgs);
    let want: Vec<Digest> = msgs.iter().map(|m| sha2(m)).collect();
    assert_eq!(got, want);
    let got = hash_many(HashAlgorithm::Blake3, &msgs);
    assert_eq!(got, msgs.iter().map(|m| blake3(m)).collect::<Vec<_>>());
    assert!(hash_many::<&[u8]>(HashAlgorithm::Sha256, &[]).is_empty());
}

#[test]
fn every_path_every_algorithm_pair() {
    let config = Config::new(2048, 8192, 32768).unwrap();
    for (kind, len) in [
        (Kind::Text, 3_000_000),
        (Kind::Random, 1_000_003),
        (Kind::Binary, 5000),
    ] {
        let data = generate(kind, len, 3);
        for chunk_alg in ALGS {
            let options = ChunkOptions::new(config).hash(chunk_alg);
            // In memory.
            let mem: Vec<_> = options.chunk_bytes(Bytes::from(data.clone())).collect();
            let mut at = 0;
            for c in &mem {
                assert_eq!(c.offset, at as u64);
                assert_eq!(&c.payload[..], &data[at..at + c.length]);
                assert_eq!(c.digest, chunk_alg.map(|a| reference(a, &c.payload)));
                at += c.length;
            }
            assert_eq!(at, data.len());
            // Borrowed slices (digests in batches too).
            let slice: Vec<_> = options.chunk_slice(&data).collect();
            assert_eq!(slice.len(), mem.len());
            for (s, c) in slice.iter().zip(&mem) {
                let info = (s.info.offset, s.info.length, s.info.digest);
                assert_eq!(info, (c.offset, c.length, c.digest));
                assert_eq!(s.data, &c.payload[..]);
            }
            for stream_alg in ALGS {
                for (pattern, read_size) in [
                    (vec![1_000_000], 1 << 20),
                    (vec![1, 7, 65_536, 3], 8192),
                    (vec![100_003], 1 << 16),
                ] {
                    let make = || {
                        let s = options
                            .stream(ScheduledReader::new(&data[..], pattern.clone()))
                            .read_size(read_size);
                        match stream_alg {
                            Some(a) => s.stream_digest(a),
                            None => s,
                        }
                    };
                    let mut plain = make();
                    let chunks: Vec<_> = plain.by_ref().map(Result::unwrap).collect();
                    assert_eq!(
                        chunks, mem,
                        "{kind:?} {chunk_alg:?} {stream_alg:?} {pattern:?}"
                    );
                    let summary = plain.summary().unwrap();
                    assert_eq!(summary.digest, stream_alg.map(|a| reference(a, &data)));
                    let mut ahead = make().read_ahead().unwrap();
                    let chunks: Vec<_> = ahead.by_ref().map(Result::unwrap).collect();
                    assert_eq!(chunks, mem, "ahead {kind:?} {chunk_alg:?} {stream_alg:?}");
                    assert_eq!(ahead.summary(), Some(summary));
                }
            }
        }
    }
}
