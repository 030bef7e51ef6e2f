//! `chunker bench async`: does chunking show up as latency for other tasks?
//!
//! On a tokio runtime with one worker thread, a task with a 1 ms interval records how
//! late each tick fires while a second task chunks `--size` bytes of random data with
//! SHA-256 digests (default options, 64K/256K/1M):
//! - `async:sha256`: [`AsyncChunkStream`] with its CPU work on tokio's blocking pool;
//! - `async-rayon:sha256`: the same with its CPU work on a one-thread rayon pool (the
//!   other offload a server could plug in: the pipeline's pool), to choose by measurement;
//! - `naive:sha256`: the same stream with its jobs run inside `poll` (cutting and
//!   hashing a block per poll on the worker: the "hash inside poll" design);
//! - `sync:sha256`: [`chunker::ChunkStream`] on the calling thread, no runtime: the
//!   throughput reference;
//! - `idle:ticker`: the ticker alone for as long as the `async` run took: the lag the
//!   machine itself adds (a busy shared machine preempts the worker thread).
//!
//! Rows are measured interleaved, `--repeat` times; throughput is the median, the worst
//! lag the worst of all runs, p99 over all ticks of all runs. Lag is measured against
//! each tick's deadline; missed ticks fire at once with their old deadlines, so a stall
//! of N ms counts as about N late ticks.

use std::io::{Cursor, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use bytes::Bytes;
use chunker::async_io::{AsyncChunkStream, Job, Offload};
use chunker::{ChunkInfo, ChunkOptions};
use chunker_testdata::{generate, Kind};
use serde_json::json;

use super::bench::cpu_model;
use crate::cli::{BenchAsyncArgs, BenchFormat};
use crate::error::{write_err, Code, Result, WithCode};
use crate::output;

/// One row's measurements.
#[derive(Default)]
struct Row {
    /// GB/s per run.
    gbps: Vec<f64>,
    /// Lag of every tick of every run, in ms (async rows only).
    lags: Vec<f64>,
    /// Worst lag of each run.
    worst: Vec<f64>,
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn p99(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n => v[((n * 99).div_ceil(100)).saturating_sub(1)],
    }
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(0.0, f64::max)
}

/// The ticker alone on a one-worker runtime for `secs`: the lag of each tick (ms).
fn run_idle(secs: f64) -> Result<Vec<f64>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .code(Code::Failure)?;
    Ok(rt.block_on(async move {
        let end = Instant::now() + Duration::from_secs_f64(secs);
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        tick.tick().await;
        let mut lags = Vec::new();
        while Instant::now() < end {
            let deadline = tick.tick().await;
            lags.push(deadline.elapsed().as_secs_f64() * 1e3);
        }
        lags
    }))
}

/// Where the stream's CPU work runs.
#[derive(Clone)]
enum Mode {
    /// tokio's blocking pool (`AsyncChunkStream::tokio`).
    Blocking,
    /// A rayon pool.
    Rayon(Arc<rayon::ThreadPool>),
    /// Inside `poll` (the naive peer).
    Inline,
}

/// Chunk `data` on a one-worker runtime beside the 1 ms ticker, the CPU work placed as
/// `mode` says. Seconds, chunk list, and the lag of each tick (ms).
fn run_async(
    data: &Bytes,
    options: ChunkOptions,
    mode: Mode,
) -> Result<(f64, Vec<ChunkInfo>, Vec<f64>)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .code(Code::Failure)?;
    let data = data.clone();
    rt.block_on(async move {
        let done = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&done);
        let ticker = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            tick.tick().await; // the first tick is immediate
            let mut lags = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let deadline = tick.tick().await;
                lags.push(deadline.elapsed().as_secs_f64() * 1e3);
            }
            lags
        });
        // Let the ticker arm its timer first.
        tokio::task::yield_now().await;
        let start = Instant::now();
        let chunking = tokio::spawn(async move {
            let reader = Cursor::new(data);
            let mut stream = match mode {
                Mode::Blocking => AsyncChunkStream::tokio(reader, options)?,
                Mode::Rayon(pool) => {
                    let offload: Arc<dyn Offload> = Arc::new(move |job: Job| pool.spawn(job));
                    AsyncChunkStream::tokio_with(reader, options, offload)
                }
                Mode::Inline => {
                    let inline: Arc<dyn Offload> = Arc::new(|job: Job| job());
                    AsyncChunkStream::tokio_with(reader, options, inline)
                }
            };
            let mut chunks = Vec::new();
            while let Some(c) = stream.next_chunk().await {
                chunks.push(c?.info());
            }
            anyhow::Ok(chunks)
        });
        let chunks = chunking.await.code(Code::Failure)?.code(Code::Failure)?;
        let secs = start.elapsed().as_secs_f64();
        done.store(true, Ordering::Relaxed);
        let lags = ticker.await.code(Code::Failure)?;
        Ok((secs, chunks, lags))
    })
}

pub fn run(args: BenchAsyncArgs) -> Result<()> {
    let options = ChunkOptions::default();
    let data = Bytes::from(generate(Kind::Random, args.size, 42));
    let gb = data.len() as f64 / 1e9;
    let (mut sync, mut asynk, mut naive) = (Row::default(), Row::default(), Row::default());
    let mut on_rayon = Row::default();
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(|_| "bench-async-rayon".into())
            .build()
            .code(Code::Failure)?,
    );
    let mut idle = Row::default();
    let mut reference: Option<Vec<ChunkInfo>> = None;
    for _ in 0..args.repeat {
        let start = Instant::now();
        let chunks: Vec<ChunkInfo> = options
            .stream(&data[..])
            .map(|c| c.map(|c| c.info()))
            .collect::<std::result::Result<_, _>>()
            .code(Code::Failure)?;
        sync.gbps.push(gb / start.elapsed().as_secs_f64());
        let want = reference.get_or_insert(chunks);
        for (row, mode) in [
            (&mut asynk, Mode::Blocking),
            (&mut on_rayon, Mode::Rayon(Arc::clone(&pool))),
            (&mut naive, Mode::Inline),
        ] {
            let blocking = matches!(mode, Mode::Blocking);
            let (secs, chunks, lags) = run_async(&data, options, mode)?;
            // Same chunks first: a fast wrong answer is worthless.
            if &chunks != want {
                return Err(anyhow!(
                    "the async stream's chunks differ from the sync path's"
                ))
                .code(Code::Failure);
            }
            row.gbps.push(gb / secs);
            row.worst.push(max(&lags));
            row.lags.extend(lags);
            if blocking {
                let lags = run_idle(secs)?;
                idle.worst.push(max(&lags));
                idle.lags.extend(lags);
            }
        }
    }
    let lag_row = |name: &str, r: &Row| {
        json!({
            "name": name,
            "gbps": median(&r.gbps),
            "gbps_min": r.gbps.iter().copied().fold(f64::INFINITY, f64::min),
            "gbps_max": max(&r.gbps),
            "worst_lag_ms": max(&r.worst),
            "p99_lag_ms": p99(&r.lags),
            "ticks": r.lags.len(),
        })
    };
    let results = vec![
        lag_row("async:sha256", &asynk),
        lag_row("async-rayon:sha256", &on_rayon),
        lag_row("naive:sha256", &naive),
        json!({
            "name": "idle:ticker",
            "worst_lag_ms": max(&idle.worst),
            "p99_lag_ms": p99(&idle.lags),
            "ticks": idle.lags.len(),
        }),
        json!({
            "name": "sync:sha256",
            "gbps": median(&sync.gbps),
            "gbps_min": sync.gbps.iter().copied().fold(f64::INFINITY, f64::min),
            "gbps_max": max(&sync.gbps),
        }),
    ];
    let ratio = median(&asynk.gbps) / median(&sync.gbps);
    let mut out = output::stdout();
    match args.format {
        BenchFormat::Json => {
            let c = options.config();
            let doc = json!({
                "bench": "async",
                "cpu": cpu_model(),
                "config": {"min": c.min_size(), "avg": c.avg_size(), "max": c.max_size()},
                "bytes": data.len(),
                "runs": args.repeat,
                "results": results,
                "derived": {"async_vs_sync": ratio},
            });
            writeln!(out, "{doc}").map_err(write_err)?;
        }
        BenchFormat::Text => {
            writeln!(
                out,
                "# chunker bench async — {} — {} bytes, SHA-256, one-worker runtime, 1 ms ticker — {} runs",
                cpu_model(),
                data.len(),
                args.repeat
            )
            .map_err(write_err)?;
            writeln!(
                out,
                "{:<20} {:>8} {:>14} {:>12}",
                "name", "GB/s", "worst lag ms", "p99 lag ms"
            )
            .map_err(write_err)?;
            for r in &results {
                let f = |k: &str| r[k].as_f64().map_or("-".to_string(), |v| format!("{v:.3}"));
                writeln!(
                    out,
                    "{:<20} {:>8} {:>14} {:>12}",
                    r["name"].as_str().unwrap_or_default(),
                    f("gbps"),
                    f("worst_lag_ms"),
                    f("p99_lag_ms")
                )
                .map_err(write_err)?;
            }
            writeln!(out, "# async vs sync throughput: {ratio:.2}x").map_err(write_err)?;
        }
    }
    out.flush().map_err(write_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let v: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(p99(&v), 198.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(max(&[0.5, 2.5, 1.0]), 2.5);
        assert_eq!(p99(&[]), 0.0);
    }
}
