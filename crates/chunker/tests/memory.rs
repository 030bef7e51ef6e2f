//! Memory stays bounded by a small multiple of the maximum chunk size (streams) or by
//! the budget plus a few read blocks (the pipeline, whose read blocks are reused),
//! whatever the input length, when the consumer drops chunks as it goes. One counting
//! allocator for both (it is global to this test binary).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};

use chunker::compress::{Codec, Compressor};
use chunker::pipeline::{Pipeline, Thresholds};
use chunker::{ChunkOptions, Config, HashAlgorithm};
use chunker_testdata::Rng;

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Allocations of 1 MiB or more (read blocks).
static LARGE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: delegates to the system allocator and only adds bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        if layout.size() >= 1 << 20 {
            LARGE.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The counters are global: tests that read them run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// An endless-looking pseudo-random reader of a given length.
struct Synthetic {
    left: u64,
    rng: Rng,
}

impl Read for Synthetic {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        self.rng.fill(&mut buf[..n]);
        self.left -= n as u64;
        Ok(n)
    }
}

/// Peak live bytes while streaming 8 MiB and 256 MiB (dropping each chunk at once),
/// with or without read-ahead.
fn peaks(cfg: Config, ahead: bool) -> Vec<usize> {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut peaks = Vec::new();
    for len in [8u64 << 20, 256 << 20] {
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let stream = ChunkOptions::new(cfg)
            .hash(Some(HashAlgorithm::Blake3))
            .stream(Synthetic {
                left: len,
                rng: Rng::new(1),
            })
            .stream_digest(HashAlgorithm::Sha256);
        let chunks: Box<dyn Iterator<Item = _>> = if ahead {
            Box::new(stream.read_ahead().unwrap())
        } else {
            Box::new(stream)
        };
        let mut total = 0u64;
        for c in chunks {
            total += c.unwrap().length as u64;
        }
        assert_eq!(total, len);
        peaks.push(PEAK.load(Ordering::Relaxed) - base);
    }
    peaks
}

fn check(peaks: &[usize], bound: usize, growth: usize) {
    eprintln!("peak live bytes: {peaks:?}, bound {bound}");
    for p in peaks {
        assert!(*p <= bound, "peak {p} > bound {bound}");
    }
    assert!(
        peaks[1] <= peaks[0] + growth,
        "peak grows with input: {peaks:?}"
    );
}

#[test]
fn peak_memory_is_independent_of_input_length() {
    let cfg = Config::new(16 << 10, 64 << 10, 256 << 10).unwrap();
    let max = cfg.max_size();
    // One block being filled (4 x max, or read size + max) plus the frozen one.
    let bound = 2 * (4 * max).max((1 << 20) + max) + (1 << 20);
    check(&peaks(cfg, false), bound, 1 << 20);
}

#[test]
fn read_ahead_peak_memory_is_independent_of_input_length() {
    let cfg = Config::new(16 << 10, 64 << 10, 256 << 10).unwrap();
    let max = cfg.max_size();
    // Blocks of max(2 x max, read size) + max bytes: one being read, one being cut, one
    // frozen, one handed over.
    let block = (2 * max).max(1 << 20) + max;
    check(&peaks(cfg, true), 4 * block + (1 << 20), block);
}

#[test]
fn pipeline_peak_memory_is_bounded_by_the_budget_whatever_the_length() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cfg = Config::new(16 << 10, 64 << 10, 256 << 10).unwrap();
    let budget = 8 << 20;
    let read_size = 1 << 20;
    let p = Pipeline::new(ChunkOptions::new(cfg).hash(Some(HashAlgorithm::Blake3)))
        .threads(2)
        .thresholds(Thresholds {
            chunks: 0,
            bytes: 0,
        })
        .budget(budget)
        .read_size(read_size)
        .compress(Compressor::with_level(Codec::Zstd, 1).unwrap())
        .stream_digest(HashAlgorithm::Sha256);
    let mut peaks = Vec::new();
    let mut blocks = Vec::new();
    for len in [16u64 << 20, 256 << 20] {
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let large = LARGE.load(Ordering::Relaxed);
        let mut total = 0u64;
        let mut out = p
            .reader(Synthetic {
                left: len,
                rng: Rng::new(1),
            })
            .unwrap();
        for c in out.by_ref() {
            total += c.unwrap().length as u64;
        }
        assert_eq!(total, len);
        assert!(out.summary().unwrap().digest.is_some());
        drop(out);
        peaks.push(PEAK.load(Ordering::Relaxed) - base);
        blocks.push(LARGE.load(Ordering::Relaxed) - large);
    }
    let block = read_size + cfg.max_size();
    // Blocks in flight (the budget, the block being read, two queued for the
    // whole-stream digest, one batch beyond the budget), as many again idle in the
    // pool's free list at most, and zstd's per-thread contexts.
    let bound = 2 * (budget + 4 * block) + (8 << 20);
    eprintln!("peak live bytes {peaks:?} (bound {bound}), blocks allocated {blocks:?}");
    for p in &peaks {
        assert!(*p <= bound, "peak {p} > bound {bound}");
    }
    // Blocks are reused: 256 MiB is over 200 reads; without the pool each would be a
    // new allocation.
    let reads = (256 << 20) / read_size;
    assert!(
        blocks[1] * 8 < reads,
        "blocks allocated {blocks:?} for {reads} reads"
    );
}
