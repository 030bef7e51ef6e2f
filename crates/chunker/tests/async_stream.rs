//! `AsyncChunkStream` against the synchronous `ChunkStream` under adversarial async
//! readers: `Pending` on every other poll, 1-byte and odd-sized reads, `Interrupted`,
//! errors mid-stream, EOF at every boundary class; on tokio and on a runtime-agnostic
//! executor; plus backpressure, the per-poll read bound, cancellation and lost jobs.
#![cfg(feature = "tokio")]

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use chunker::async_io::{AsyncChunkStream, Job, Offload};
use chunker::{ChunkInfo, ChunkOptions, Config, HashAlgorithm, StreamError, StreamSummary};
use chunker_testdata::{generate, Kind, ScheduledReader};
use futures::StreamExt;
use proptest::prelude::*;

/// An async reader that misbehaves on schedule: read sizes cycle through `pattern`
/// (0 = `Interrupted`), every other poll is `Pending` when `pending`, and reads fail
/// ("disk on fire") once `fail_at` bytes were returned. Implements both tokio's and
/// futures' `AsyncRead`.
struct Adversary {
    data: Arc<Vec<u8>>,
    pos: usize,
    pattern: Vec<usize>,
    call: usize,
    pending: bool,
    flip: bool,
    fail_at: Option<usize>,
    /// Counts live readers (to check that dropping the stream drops the reader).
    _alive: Option<Arc<()>>,
}

impl Adversary {
    fn new(data: &[u8], pattern: Vec<usize>, pending: bool) -> Self {
        Adversary {
            data: Arc::new(data.to_vec()),
            pos: 0,
            pattern,
            call: 0,
            pending,
            flip: false,
            fail_at: None,
            _alive: None,
        }
    }

    fn failing_at(mut self, at: Option<usize>) -> Self {
        self.fail_at = at;
        self
    }

    /// Copy the next scheduled read into `out` (of room `room`).
    fn step(&mut self, cx: &mut Context<'_>, room: usize) -> Poll<io::Result<(usize, usize)>> {
        if self.pending {
            self.flip = !self.flip;
            if self.flip {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
        let step = self.pattern[self.call % self.pattern.len()];
        self.call += 1;
        if step == 0 {
            return Poll::Ready(Err(io::ErrorKind::Interrupted.into()));
        }
        let mut end = self.data.len();
        if let Some(f) = self.fail_at {
            if self.pos >= f {
                return Poll::Ready(Err(io::Error::other("disk on fire")));
            }
            end = end.min(f);
        }
        let n = step.min(room).min(end - self.pos);
        let start = self.pos;
        self.pos += n;
        Poll::Ready(Ok((start, n)))
    }
}

impl tokio::io::AsyncRead for Adversary {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let (start, n) = std::task::ready!(self.step(cx, buf.remaining()))?;
        buf.put_slice(&self.data[start..start + n]);
        Poll::Ready(Ok(()))
    }
}

impl futures::io::AsyncRead for Adversary {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let (start, n) = std::task::ready!(self.step(cx, buf.len()))?;
        buf[..n].copy_from_slice(&self.data[start..start + n]);
        Poll::Ready(Ok(n))
    }
}

/// Everything a stream yields: chunks (payloads checked against the input), then the
/// error (offset, message of its source) if any, and the summary.
#[derive(Debug, PartialEq)]
struct Outcome {
    chunks: Vec<ChunkInfo>,
    error: Option<(u64, String)>,
    summary: Option<StreamSummary>,
}

fn record(item: Result<chunker::Chunk, StreamError>, data: &[u8], out: &mut Outcome) {
    match item {
        Ok(c) => {
            assert!(out.error.is_none(), "no chunk after the error");
            let start = c.offset as usize;
            assert_eq!(&c.payload[..], &data[start..start + c.length], "payload");
            out.chunks.push(c.info());
        }
        Err(e) => {
            assert!(out.error.is_none(), "one error");
            let StreamError::Read { offset, source } = e else {
                panic!("unexpected {e:?}")
            };
            out.error = Some((offset, source.to_string()));
        }
    }
}

fn empty() -> Outcome {
    Outcome {
        chunks: Vec::new(),
        error: None,
        summary: None,
    }
}

/// The synchronous path: `ChunkStream` with the same failure point.
fn sync(data: &[u8], options: ChunkOptions, fail_at: Option<usize>) -> Outcome {
    let mut reader = ScheduledReader::new(data.to_vec(), vec![4096]);
    if let Some(f) = fail_at {
        reader = reader.failing_at(f);
    }
    let mut s = options.stream(reader).stream_digest(HashAlgorithm::Blake3);
    let mut out = empty();
    for item in s.by_ref() {
        record(item, data, &mut out);
    }
    out.summary = s.summary();
    out
}

/// The async path on a tokio runtime with the blocking pool.
fn on_tokio(data: &[u8], options: ChunkOptions, reader: Adversary, block: usize) -> Outcome {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut s = AsyncChunkStream::tokio(reader, options)
            .unwrap()
            .block_size(block)
            .stream_digest(HashAlgorithm::Blake3);
        let mut out = empty();
        while let Some(item) = s.next().await {
            record(item, data, &mut out);
        }
        assert!(s.next().await.is_none(), "stays ended");
        out.summary = s.summary();
        out
    })
}

/// The runtime-agnostic path: a `futures-io` reader on `futures`' executor, with jobs
/// on a thread each.
fn on_futures(data: &[u8], options: ChunkOptions, reader: Adversary, block: usize) -> Outcome {
    let offload: Arc<dyn Offload> = Arc::new(|job: Job| {
        std::thread::spawn(job);
    });
    futures::executor::block_on(async {
        let mut s = AsyncChunkStream::futures(reader, options, offload)
            .block_size(block)
            .stream_digest(HashAlgorithm::Blake3);
        let mut out = empty();
        while let Some(item) = s.next_chunk().await {
            record(item, data, &mut out);
        }
        out.summary = s.summary();
        out
    })
}

fn small() -> ChunkOptions {
    ChunkOptions::new(Config::new(1024, 4096, 16384).unwrap())
}

/// Run every reader schedule on both paths against the sync outcome.
fn check(data: &[u8], options: ChunkOptions, fail_at: Option<usize>, block: usize) {
    let want = sync(data, options, fail_at);
    let schedules: [(&[usize], bool); 5] = [
        (&[1 << 20], false),
        (&[1 << 20], true),
        (&[1], true),
        (&[7, 0, 4093, 1, 65536, 0], true),
        (&[3, 1500, 17], false),
    ];
    for (pattern, pending) in schedules {
        if pattern == [1] && data.len() > 200_000 {
            continue;
        }
        let reader = || Adversary::new(data, pattern.to_vec(), pending).failing_at(fail_at);
        let what = format!(
            "len {} fail {fail_at:?} block {block} pattern {pattern:?} pending {pending}",
            data.len()
        );
        assert_eq!(
            on_tokio(data, options, reader(), block),
            want,
            "tokio: {what}"
        );
        assert_eq!(
            on_futures(data, options, reader(), block),
            want,
            "futures: {what}"
        );
    }
}

#[test]
fn eof_at_every_boundary_class() {
    let options = small();
    let cfg = *options.config();
    let (min, max) = (cfg.min_size(), cfg.max_size());
    let block = 2 * max; // the smallest block: most block boundaries
    let data = generate(Kind::Binary, 6 * block + 3 * max, 7);
    // Cut points of the full data: ending the input at, just before and just after a
    // cut exercises the odd-remainder and last-chunk rules.
    let cuts: Vec<usize> = options
        .chunk_slice(&data)
        .map(|c| (c.info.offset as usize) + c.info.length)
        .take(3)
        .collect();
    let mut lens = vec![
        0,
        1,
        2,
        min - 1,
        min,
        min + 1,
        max - 1,
        max,
        max + 1,
        block - 1,
        block,
        block + 1,
        block + max,
        2 * block,
        2 * block + 1,
        data.len(),
    ];
    for c in cuts {
        lens.extend([c - 1, c, c + 1]);
    }
    for len in lens {
        check(&data[..len], options, None, block);
    }
}

#[test]
fn errors_mid_stream() {
    let options = small();
    let max = options.config().max_size();
    let block = 2 * max;
    let data = generate(Kind::Random, 5 * block, 11);
    for fail_at in [0, 1, 5000, max, block - 1, block, block + 1, 3 * block + 77] {
        check(&data, options, Some(fail_at), block);
    }
}

#[test]
fn default_options_and_text() {
    // The default 64K/256K/1M configuration and the default block size.
    let data = generate(Kind::Text, 9 << 20, 3);
    check(
        &data,
        ChunkOptions::default(),
        None,
        chunker::async_io::DEFAULT_BLOCK_SIZE,
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn equals_sync_under_random_schedules(
        len in 0usize..120_000,
        seed in any::<u64>(),
        pattern in prop::collection::vec(0usize..40_000, 1..6),
        pending in any::<bool>(),
        fail in prop::option::of(0usize..130_000),
        extra_block in 0usize..40_000,
    ) {
        // A schedule of only `Interrupted` never makes progress: give it one byte.
        let mut pattern = pattern;
        if pattern.iter().all(|&p| p == 0) {
            pattern.push(1);
        }
        let data = generate(Kind::Binary, len, seed);
        let options = small();
        let block = 2 * options.config().max_size() + extra_block;
        let want = sync(&data, options, fail);
        let reader = || Adversary::new(&data, pattern.clone(), pending).failing_at(fail);
        prop_assert_eq!(&on_tokio(&data, options, reader(), block), &want);
        prop_assert_eq!(&on_futures(&data, options, reader(), block), &want);
    }
}

/// An offload that keeps jobs until the test runs them.
#[derive(Default)]
struct Held(Mutex<Vec<Job>>);

impl Held {
    fn take(&self) -> Vec<Job> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn hold(held: &Arc<Held>) -> Arc<dyn Offload> {
    let h = Arc::clone(held);
    Arc::new(move |job: Job| h.0.lock().unwrap().push(job))
}

fn poll_once<S: chunker::async_io::AsyncSource + Unpin>(
    s: &mut AsyncChunkStream<S>,
) -> Poll<Option<Result<chunker::Chunk, StreamError>>> {
    let waker = futures::task::noop_waker();
    s.poll_next_chunk(&mut Context::from_waker(&waker))
}

#[test]
fn backpressure_bounds_reading() {
    // While the job is not run, the stream reads the block in the job and one more,
    // and then nothing however often it is polled.
    let options = small();
    let block = 2 * options.config().max_size();
    let data = generate(Kind::Random, 20 * block, 5);
    let held = Arc::new(Held::default());
    let mut s = AsyncChunkStream::tokio_with(&data[..], options, hold(&held)).block_size(block);
    let mut jobs_run = 0;
    let first = 'outer: loop {
        for _ in 0..100 {
            match poll_once(&mut s) {
                Poll::Pending => {}
                Poll::Ready(Some(Ok(c))) => break 'outer c,
                other => panic!("unexpected {other:?}"),
            }
        }
        // One block in the job (or done with), one read ahead.
        assert_eq!(s.position(), (jobs_run + 2) * block as u64);
        let jobs = held.take();
        assert_eq!(jobs.len(), 1, "one job in flight");
        for job in jobs {
            job();
        }
        jobs_run += 1;
    };
    // A block's chunks are final once the next block is cut.
    assert_eq!((first.offset, jobs_run), (0, 2));
    assert_eq!(
        held.take().len(),
        1,
        "the next job started with the handout"
    );
}

#[test]
fn one_poll_reads_a_bounded_amount() {
    // An always-ready reader with 64 MiB: one poll copies at most 64 KiB, then yields
    // (waking itself), so no poll does long work.
    let data = vec![7u8; 64 << 20];
    let woken = Arc::new(AtomicUsize::new(0));
    let waker = futures::task::waker(Arc::new(CountWake(Arc::clone(&woken))));
    let held = Arc::new(Held::default());
    let mut s = AsyncChunkStream::tokio_with(&data[..], ChunkOptions::default(), hold(&held));
    assert!(s
        .poll_next_chunk(&mut Context::from_waker(&waker))
        .is_pending());
    assert_eq!(s.position(), 64 << 10);
    assert_eq!(
        woken.load(Ordering::SeqCst),
        1,
        "it yielded, asking to be polled again"
    );
}

struct CountWake(Arc<AtomicUsize>);

impl futures::task::ArcWake for CountWake {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn drop_stops_the_work() {
    let options = small();
    let block = 2 * options.config().max_size();
    let data = generate(Kind::Random, 10 * block, 9);
    let held = Arc::new(Held::default());
    let alive = Arc::new(());
    let mut reader = Adversary::new(&data, vec![1 << 20], false);
    reader._alive = Some(Arc::clone(&alive));
    let mut s = AsyncChunkStream::tokio_with(reader, options, hold(&held)).block_size(block);
    assert!(poll_once(&mut s).is_pending());
    let jobs = held.take();
    assert_eq!(jobs.len(), 1);
    assert_eq!(Arc::strong_count(&alive), 2);
    drop(s);
    assert_eq!(
        Arc::strong_count(&alive),
        1,
        "the reader is dropped with the stream"
    );
    // The abandoned job runs to nothing and starts no other.
    for job in jobs {
        job();
    }
    assert!(held.take().is_empty());
}

#[test]
fn a_lost_job_is_an_error() {
    let options = small();
    let data = generate(Kind::Random, 100_000, 1);
    let dropper: Arc<dyn Offload> = Arc::new(|job: Job| drop(job));
    let mut s = AsyncChunkStream::tokio_with(&data[..], options, dropper);
    // A few polls read the input (each yields after 64 KiB); then the job is lost.
    let mut item = poll_once(&mut s);
    for _ in 0..4 {
        if item.is_ready() {
            break;
        }
        item = poll_once(&mut s);
    }
    let Poll::Ready(Some(Err(e))) = item else {
        panic!("an error, not {item:?}")
    };
    assert!(matches!(e, StreamError::Offload { offset: 0, .. }), "{e:?}");
    assert!(e.to_string().contains("did not complete"));
    assert!(matches!(poll_once(&mut s), Poll::Ready(None)));
    assert_eq!(s.summary(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_streams_at_once_on_the_blocking_pool() {
    let options = small();
    let tasks: Vec<_> = (0..8u64)
        .map(|seed| {
            tokio::spawn(async move {
                let data = generate(Kind::Binary, 300_000 + seed as usize * 777, seed);
                let mut s = AsyncChunkStream::tokio(&data[..], options)
                    .unwrap()
                    .stream_digest(HashAlgorithm::Sha256);
                let mut got = Vec::new();
                while let Some(c) = s.next().await {
                    got.push(c.unwrap().info());
                }
                let want: Vec<_> = options.chunk_slice(&data).map(|c| c.info).collect();
                assert_eq!(got, want);
                assert_eq!(
                    s.summary().unwrap().digest,
                    Some(chunker::hash(HashAlgorithm::Sha256, &data))
                );
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

#[cfg(unix)]
#[test]
fn a_yield_lets_the_runtime_poll_its_driver() {
    // On a current-thread runtime, a stream that reads an always-ready reader yields
    // after each 64 KiB; the runtime must see to its driver (timers, I/O) before it
    // polls the stream again, not only every 61 polls: a task waiting for a socket
    // that is already readable runs after the stream's first poll.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let seen = rt.block_on(async {
        let (tx, rx) = tokio::net::UnixStream::pair().unwrap();
        assert_eq!(tx.try_write(b"x").unwrap(), 1);
        let polls = Arc::new(AtomicUsize::new(0));
        let p = Arc::clone(&polls);
        let waiter = tokio::spawn(async move {
            rx.readable().await.unwrap();
            p.load(Ordering::SeqCst)
        });
        let held = Arc::new(Held::default());
        let offload = hold(&held);
        let p = Arc::clone(&polls);
        let _reading = tokio::spawn(async move {
            let data = vec![5u8; 64 << 20];
            let mut s = AsyncChunkStream::tokio_with(&data[..], ChunkOptions::default(), offload);
            // The jobs are held: the stream reads two blocks (128 polls) and waits.
            std::future::poll_fn(|cx| {
                p.fetch_add(1, Ordering::SeqCst);
                s.poll_next_chunk(cx)
            })
            .await
            .map(|c| c.map(|c| c.info()))
        });
        waiter.await.unwrap()
    });
    assert!(
        (1..=2).contains(&seen),
        "the socket's task ran after {seen} polls of the stream"
    );
}
