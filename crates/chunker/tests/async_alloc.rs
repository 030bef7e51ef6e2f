//! `AsyncChunkStream` frees no block inside `poll`: giving megabytes back to the OS
//! takes up to milliseconds (measured by `chunker bench async`), so blocks are dropped
//! by a job on the offload instead. A counting allocator (global to this test binary)
//! sees every free of 1 MiB or more and whether it happened inside `poll_next_chunk`.
#![cfg(feature = "tokio")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use chunker::async_io::{AsyncChunkStream, Job, Offload};
use chunker::{ChunkOptions, HashAlgorithm};
use chunker_testdata::{generate, Kind};

struct Counting;

thread_local! {
    /// This thread is inside `poll_next_chunk`.
    static IN_POLL: Cell<bool> = const { Cell::new(false) };
}
/// Frees of 1 MiB or more, and those of them inside `poll_next_chunk`.
static BIG_FREES: AtomicUsize = AtomicUsize::new(0);
static BIG_FREES_IN_POLL: AtomicUsize = AtomicUsize::new(0);

// SAFETY: delegates to the system allocator and only adds bookkeeping (no allocation).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_free(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note_free(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

fn note_free(size: usize) {
    if size >= 1 << 20 {
        BIG_FREES.fetch_add(1, Ordering::Relaxed);
        if IN_POLL.with(Cell::get) {
            BIG_FREES_IN_POLL.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Jobs held until the test runs them (on this thread, between polls).
#[derive(Default)]
struct Held(Mutex<Vec<Job>>);

/// Stream `data` to the end, running the offload's jobs between polls; chunks are
/// dropped as they come (so their blocks can be freed). Returns the chunk count.
fn drain(data: &[u8], block: usize, digest: bool) -> usize {
    let held = Arc::new(Held::default());
    let h = Arc::clone(&held);
    let offload: Arc<dyn Offload> = Arc::new(move |job: Job| h.0.lock().unwrap().push(job));
    let mut s =
        AsyncChunkStream::tokio_with(data, ChunkOptions::default(), offload).block_size(block);
    if digest {
        s = s.stream_digest(HashAlgorithm::Sha256);
    }
    let waker = futures::task::noop_waker();
    let mut chunks = 0;
    loop {
        IN_POLL.with(|f| f.set(true));
        let item = s.poll_next_chunk(&mut Context::from_waker(&waker));
        IN_POLL.with(|f| f.set(false));
        match item {
            Poll::Ready(Some(c)) => {
                drop(c.unwrap());
                chunks += 1;
            }
            Poll::Ready(None) => break,
            Poll::Pending => {}
        }
        let jobs = std::mem::take(&mut *held.0.lock().unwrap());
        for job in jobs {
            job();
        }
    }
    assert!(s.summary().is_some());
    // What the end left for the offload (the last blocks) is freed there too.
    let jobs = std::mem::take(&mut *held.0.lock().unwrap());
    for job in jobs {
        job();
    }
    drop(s);
    chunks
}

#[test]
fn no_block_is_freed_inside_poll() {
    let data = generate(Kind::Random, 40 << 20, 14);
    for (block, digest) in [(4 << 20, false), (2 << 20, true)] {
        let before = BIG_FREES.load(Ordering::Relaxed);
        let chunks = drain(&data, block, digest);
        assert!(chunks > 100, "{chunks} chunks");
        // Every block the stream allocated was freed, none of them in `poll`.
        assert!(
            BIG_FREES.load(Ordering::Relaxed) - before >= 3,
            "blocks were freed"
        );
        assert_eq!(
            BIG_FREES_IN_POLL.load(Ordering::Relaxed),
            0,
            "block {block}"
        );
    }
}
