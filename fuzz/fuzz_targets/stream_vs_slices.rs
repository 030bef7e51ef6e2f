//! Arbitrary bytes, sizes and read schedules: `ChunkStream` and `ReadAheadStream` give
//! the chunks, digests and payloads of the in-memory slice path, whatever the readers
//! return per call (short reads, `Interrupted`).
#![no_main]

use chunker::{ChunkOptions, HashAlgorithm};
use chunker_testdata::ScheduledReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if input.len() < 12 {
        return;
    }
    let (head, data) = input.split_at(12);
    let Some(config) = chunker_fuzz::config_from(head[..6].try_into().unwrap(), 2048) else {
        return;
    };
    let read_size = 1 + usize::from(u16::from_le_bytes([head[6], head[7]]));
    // Zero entries mean `Interrupted`; keep at least one that makes progress.
    let mut pattern: Vec<usize> = head[8..12].iter().map(|&b| usize::from(b) * 13).collect();
    pattern.push(1 + usize::from(head[8]));
    let options = ChunkOptions::new(config).hash(Some(HashAlgorithm::Blake3));
    let expected: Vec<_> = options.chunk_slice(data).map(|c| c.info).collect();
    let reader = || ScheduledReader::new(data, pattern.clone());
    let check = |chunks: Vec<chunker::Chunk>, what: &str| {
        let infos: Vec<_> = chunks.iter().map(|c| c.info()).collect();
        assert_eq!(infos, expected, "{what}");
        for c in &chunks {
            let start = c.offset as usize;
            assert_eq!(
                &c.payload[..],
                &data[start..start + c.length],
                "{what} payload"
            );
        }
    };
    let plain = options.stream(reader()).read_size(read_size);
    check(plain.map(Result::unwrap).collect(), "ChunkStream");
    let ahead = options
        .stream(reader())
        .read_size(read_size)
        .read_ahead()
        .unwrap();
    check(ahead.map(Result::unwrap).collect(), "ReadAheadStream");
});
