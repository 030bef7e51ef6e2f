//! Memory stays bounded by a small multiple of the maximum chunk size, whatever the
//! input length, when the consumer drops chunks as it goes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};

use chunker::{ChunkOptions, Config, HashAlgorithm};
use chunker_testdata::Rng;

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: delegates to the system allocator and only adds bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
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
