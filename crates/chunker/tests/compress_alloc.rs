//! The bulk zstd path allocates nothing per call after a thread's first call: pooled
//! compression and decompression contexts, caller buffers reused. A counting global
//! allocator proves it; libzstd's own allocations are routed through it (the
//! dev-dependency enables zstd's `with-rust-allocator`), so they count too.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use chunker::compress::{Codec, Compressor, Decompressor, Dictionary};
use chunker_testdata::{generate, Kind};

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: the thread-local may be gone while a thread is being torn down.
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: delegates to the system allocator and only adds bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations<F: FnMut()>(mut f: F) -> usize {
    let before = ALLOCS.with(Cell::get);
    f();
    ALLOCS.with(Cell::get) - before
}

#[test]
fn bulk_zstd_allocates_nothing_per_call_after_warm_up() {
    let chunks: Vec<Vec<u8>> = (0..8)
        .map(|i| {
            generate(
                if i % 2 == 0 { Kind::Text } else { Kind::Binary },
                64 << 10,
                i,
            )
        })
        .collect();
    let plain = Compressor::new(Codec::Zstd);
    let with_dict = Compressor::new(Codec::Zstd)
        .dictionary(Dictionary::nar_v1())
        .unwrap();
    // Checksums are on by default; off must not cost a context either.
    let unchecked = Compressor::new(Codec::Zstd).checksum(false);
    let level9 = Compressor::with_level(Codec::Zstd, 9).unwrap();
    let dec = Decompressor::new().codec(Codec::Zstd).max_output(1 << 20);
    let auto = Decompressor::new();
    let mut frame = Vec::with_capacity(128 << 10);
    let mut back = Vec::with_capacity(128 << 10);
    let mut slice = vec![0u8; 128 << 10];
    let mut round = |c: &Compressor, data: &[u8]| {
        frame.clear();
        c.compress_into(data, &mut frame).unwrap();
        back.clear();
        dec.decompress_into(&frame, &mut back).unwrap();
        assert_eq!(back, data);
        back.clear();
        auto.decompress_into(&frame, &mut back).unwrap();
        let n = dec.decompress_to_slice(&frame, &mut slice).unwrap();
        assert_eq!(&slice[..n], data);
    };
    // Warm-up: the first calls on this thread create the pooled contexts.
    for c in [&plain, &with_dict] {
        for data in &chunks {
            round(c, data);
        }
    }
    for c in [&plain, &with_dict, &unchecked] {
        let n = allocations(|| {
            for _ in 0..10 {
                for data in &chunks {
                    round(c, data);
                }
            }
        });
        assert_eq!(
            n,
            0,
            "allocations per 80 calls after warm-up (dictionary: {}, checksum: {})",
            c.dictionary_ref().is_some(),
            c.has_checksum()
        );
    }
    // Sanity: the counter does see allocations (a fresh Vec, and a context the first
    // time a level is used).
    assert!(allocations(|| drop(level9.compress(&chunks[0]).unwrap())) > 0);
    // ...and libzstd's own: creating a bare context allocates only inside libzstd.
    assert!(allocations(|| drop(zstd::zstd_safe::DCtx::create())) > 0);
}
