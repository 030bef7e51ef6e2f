//! Arbitrary bytes, sizes and read schedules: `ChunkStream` and `ReadAheadStream` give
//! the chunks, digests and payloads of the in-memory slice path, whatever the readers
//! return per call (short reads, `Interrupted`).
#![no_main]

use std::io::{self, Read};

use chunker::{ChunkOptions, Config, HashAlgorithm};
use libfuzzer_sys::fuzz_target;

/// Returns at most `pattern[i]` bytes on call `i` (cycled); 0 means `Interrupted`.
struct Schedule {
    data: Vec<u8>,
    pos: usize,
    pattern: Vec<usize>,
    call: usize,
}

impl Read for Schedule {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let step = self.pattern[self.call % self.pattern.len()];
        self.call += 1;
        if step == 0 {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = step.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 12 {
        return;
    }
    let (head, data) = input.split_at(12);
    let min = 64 + usize::from(u16::from_le_bytes([head[0], head[1]])) % 2048;
    let avg = min.max(256) + usize::from(u16::from_le_bytes([head[2], head[3]])) % 4096;
    let max = avg.max(1024) + usize::from(u16::from_le_bytes([head[4], head[5]])) % 8192;
    let Ok(config) = Config::new(min, avg, max) else {
        return;
    };
    let read_size = 1 + usize::from(u16::from_le_bytes([head[6], head[7]]));
    // Zero entries mean `Interrupted`; keep at least one that makes progress.
    let mut pattern: Vec<usize> = head[8..12].iter().map(|&b| usize::from(b) * 13).collect();
    pattern.push(1 + usize::from(head[8]));
    let options = ChunkOptions::new(config).hash(Some(HashAlgorithm::Blake3));
    let expected: Vec<_> = options.chunk_slice(data).map(|c| c.info).collect();
    let reader = || Schedule {
        data: data.to_vec(),
        pos: 0,
        pattern: pattern.clone(),
        call: 0,
    };
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
