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
//! lag the worst of all runs, p99 over all ticks of all runs; `per_run` (JSON) and the
//! `# run` lines (text) give each run with its idle row and the load average.
//!
//! Two 1 ms tickers run on the worker during each run:
//! - the interval task of the issue (`worst_lag_ms`, `p99_lag_ms`): a
//!   `tokio::time::interval`, each tick's lag against its deadline. Missed ticks fire at
//!   once with their old deadlines (`MissedTickBehavior::Burst`), so a stall of N ms
//!   counts as about N late ticks. tokio's timer has 1 ms ticks: it rounds a deadline up
//!   to the next tick and then sleeps whole ms from the current (truncated) one, so a
//!   tick fires 0–2 ms after its deadline even on an idle runtime — the floor that the
//!   `idle:ticker` row shows (median about 1 ms);
//! - a clock task (`clock_*`): a thread sleeps until each due instant (`start + k ms`,
//!   no tokio timer) and wakes a task on the worker, which records how late it ran
//!   against the due instant: what the runtime (and the OS) add, without the timer's
//!   rounding.
//!
//! Also per async row: the thread CPU time (and wall time) of every call of the
//! stream's `poll_next_chunk` on the worker (`max_poll_us`, `p99_poll_us`), and the
//! scheduler counters of the worker thread and of the offload threads from
//! `/proc/self/task/*` (CPU time, time runnable but waiting for a CPU, voluntary and
//! involuntary context switches), to see whether the worker loses its CPU.

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

/// One row's measurements, over all runs.
#[derive(Default)]
struct Row {
    /// GB/s per run.
    gbps: Vec<f64>,
    /// Ticks of every run.
    ticks: Ticks,
    /// Polls of every run.
    polls: Polls,
    placement: Placement,
}

impl Row {
    fn add(&mut self, ticks: Ticks, placement: Placement) {
        self.ticks.interval.extend(ticks.interval);
        self.ticks.clock.extend(ticks.clock);
        self.placement.worker.add(placement.worker);
        self.placement.offload.add(placement.offload);
    }

    /// The row's JSON: throughput (where measured), lags, polls, threads.
    fn json(&self, name: &str) -> serde_json::Value {
        let mut r = json!({
            "name": name,
            "worst_lag_ms": max(&self.ticks.interval),
            "p99_lag_ms": p99(&self.ticks.interval),
            "median_lag_ms": median(&self.ticks.interval),
            "ticks": self.ticks.interval.len(),
            "clock_worst_lag_ms": max(&self.ticks.clock),
            "clock_p99_lag_ms": p99(&self.ticks.clock),
            "clock_median_lag_ms": median(&self.ticks.clock),
            "clock_ticks": self.ticks.clock.len(),
            "worker": self.placement.worker.json(),
            "offload": self.placement.offload.json(),
        });
        if !self.gbps.is_empty() {
            r["gbps"] = json!(median(&self.gbps));
            r["gbps_min"] = json!(self.gbps.iter().copied().fold(f64::INFINITY, f64::min));
            r["gbps_max"] = json!(max(&self.gbps));
        }
        if !self.polls.cpu_us.is_empty() {
            r["polls"] = json!(self.polls.cpu_us.len());
            r["max_poll_us"] = json!(max(&self.polls.cpu_us));
            r["p99_poll_us"] = json!(p99(&self.polls.cpu_us));
            r["max_poll_wall_us"] = json!(max(&self.polls.wall_us));
            r["p99_poll_wall_us"] = json!(p99(&self.polls.wall_us));
        }
        r
    }
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

/// What the tickers of one run saw (lags in ms).
#[derive(Default)]
struct Ticks {
    /// `tokio::time::interval` (1 ms, `MissedTickBehavior::Burst`): lag of each tick
    /// against its deadline.
    interval: Vec<f64>,
    /// The clock task: lag of each wake against the instant it was due.
    clock: Vec<f64>,
}

/// The 1 ms interval task: `tokio::time::interval`, each tick's lag against its
/// deadline, until `stop`. tokio's timer rounds a deadline up to its next 1 ms tick and
/// sleeps in whole ms, so a tick fires 0–2 ms after its deadline on an idle runtime.
async fn interval_ticker(stop: Arc<AtomicBool>) -> Vec<f64> {
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.tick().await; // the first tick is immediate
    let mut lags = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let deadline = tick.tick().await;
        lags.push(deadline.elapsed().as_secs_f64() * 1e3);
    }
    lags
}

/// A 1 ms clock that does not go through tokio's timer: a thread that sleeps until
/// each due instant (`start + k ms`) and wakes a task on the runtime, which records
/// how late it ran (against the due instant, so the clock thread's own wake-up
/// latency counts too). Returns the task; the clock stops at `stop`.
fn clock_ticker(stop: Arc<AtomicBool>) -> Result<tokio::task::JoinHandle<Vec<f64>>> {
    let notify = Arc::new(tokio::sync::Notify::new());
    let (tx, rx) = std::sync::mpsc::channel::<Instant>();
    let wake = Arc::clone(&notify);
    std::thread::Builder::new()
        .name("bench-async-clock".into())
        .spawn(move || {
            let start = Instant::now();
            let mut k = 1u32;
            while !stop.load(Ordering::Relaxed) {
                let due = start + Duration::from_millis(k.into());
                if let Some(d) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(d);
                }
                let _ = tx.send(due);
                wake.notify_one();
                k += 1;
            }
            drop(tx);
            wake.notify_one();
        })
        .code(Code::Failure)?;
    Ok(tokio::spawn(async move {
        let mut lags = Vec::new();
        loop {
            notify.notified().await;
            let now = Instant::now();
            loop {
                match rx.try_recv() {
                    Ok(due) => lags.push(now.saturating_duration_since(due).as_secs_f64() * 1e3),
                    Err(std::sync::mpsc::TryRecvError::Empty) => break,
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => return lags,
                }
            }
        }
    }))
}

/// One run's lags: worst and p99 of each ticker.
fn lag_summary(t: &Ticks) -> serde_json::Value {
    json!({
        "worst_lag_ms": max(&t.interval),
        "p99_lag_ms": p99(&t.interval),
        "clock_worst_lag_ms": max(&t.clock),
        "clock_p99_lag_ms": p99(&t.clock),
    })
}

/// The 1-minute load average (`/proc/loadavg`), where there is one.
fn load_average() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Scheduler counters of one thread (from `/proc/self/task/TID`).
#[derive(Debug, Clone, Copy, Default)]
struct Sched {
    /// On-CPU time, ns.
    run_ns: u64,
    /// Time runnable but waiting for a CPU, ns.
    wait_ns: u64,
    voluntary: u64,
    involuntary: u64,
}

impl Sched {
    fn since(self, before: Sched) -> Sched {
        Sched {
            run_ns: self.run_ns.saturating_sub(before.run_ns),
            wait_ns: self.wait_ns.saturating_sub(before.wait_ns),
            voluntary: self.voluntary.saturating_sub(before.voluntary),
            involuntary: self.involuntary.saturating_sub(before.involuntary),
        }
    }

    fn add(&mut self, o: Sched) {
        self.run_ns += o.run_ns;
        self.wait_ns += o.wait_ns;
        self.voluntary += o.voluntary;
        self.involuntary += o.involuntary;
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "cpu_ms": self.run_ns as f64 / 1e6,
            "runqueue_wait_ms": self.wait_ns as f64 / 1e6,
            "voluntary_switches": self.voluntary,
            "involuntary_switches": self.involuntary,
        })
    }
}

/// This thread's id (`/proc/thread-self` links to `PID/task/TID`).
fn own_tid() -> Option<u64> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// Every thread of this process: id, name and counters (empty where /proc is missing).
fn threads() -> Vec<(u64, String, Sched)> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in dir.flatten() {
        let Some(tid) = e.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        let path = e.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let mut s = Sched::default();
        if let Ok(t) = std::fs::read_to_string(path.join("schedstat")) {
            let mut f = t.split_whitespace().map(|v| v.parse().unwrap_or(0));
            s.run_ns = f.next().unwrap_or(0);
            s.wait_ns = f.next().unwrap_or(0);
        }
        if let Ok(t) = std::fs::read_to_string(path.join("status")) {
            for line in t.lines() {
                let num = |l: &str| l.split_whitespace().nth(1).and_then(|v| v.parse().ok());
                if line.starts_with("voluntary_ctxt_switches") {
                    s.voluntary = num(line).unwrap_or(0);
                } else if line.starts_with("nonvoluntary_ctxt_switches") {
                    s.involuntary = num(line).unwrap_or(0);
                }
            }
        }
        out.push((tid, name.trim().to_string(), s));
    }
    out
}

/// Counters of the runtime's worker (this thread) and of all other threads but the
/// clock's (the offload: the blocking pool or the rayon thread), over one run.
#[derive(Default, Clone, Copy)]
struct Placement {
    worker: Sched,
    offload: Sched,
}

fn placement(before: &[(u64, String, Sched)], after: &[(u64, String, Sched)]) -> Placement {
    let me = own_tid();
    let mut p = Placement::default();
    for (tid, name, s) in after {
        let was = (before.iter())
            .find(|(t, ..)| t == tid)
            .map_or_else(Sched::default, |b| b.2);
        let d = s.since(was);
        if Some(*tid) == me {
            p.worker.add(d);
        } else if name != "bench-async-clock" {
            p.offload.add(d);
        }
    }
    p
}

/// Thread CPU time of the calling thread, ns.
fn thread_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    (t.tv_sec as u64) * 1_000_000_000 + t.tv_nsec as u64
}

/// The duration of each call of the stream's `poll_next_chunk` on the worker: thread
/// CPU time and wall time, µs.
#[derive(Default)]
struct Polls {
    cpu_us: Vec<f64>,
    wall_us: Vec<f64>,
}

/// The ticker alone on a one-worker runtime for `secs`.
fn run_idle(secs: f64) -> Result<(Ticks, Placement)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .code(Code::Failure)?;
    rt.block_on(async move {
        let stop = Arc::new(AtomicBool::new(false));
        let before = threads();
        let interval = tokio::spawn(interval_ticker(Arc::clone(&stop)));
        let clock = clock_ticker(Arc::clone(&stop))?;
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        stop.store(true, Ordering::Relaxed);
        let ticks = Ticks {
            interval: interval.await.code(Code::Failure)?,
            clock: clock.await.code(Code::Failure)?,
        };
        Ok((ticks, placement(&before, &threads())))
    })
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

/// One async run's results.
struct AsyncRun {
    secs: f64,
    chunks: Vec<ChunkInfo>,
    ticks: Ticks,
    polls: Polls,
    placement: Placement,
}

/// Chunk `data` on a one-worker runtime beside the 1 ms tickers, the CPU work placed
/// as `mode` says.
fn run_async(
    data: &Bytes,
    options: ChunkOptions,
    block_size: Option<usize>,
    mode: Mode,
) -> Result<AsyncRun> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .code(Code::Failure)?;
    let data = data.clone();
    rt.block_on(async move {
        let stop = Arc::new(AtomicBool::new(false));
        let before = threads();
        let interval = tokio::spawn(interval_ticker(Arc::clone(&stop)));
        let clock = clock_ticker(Arc::clone(&stop))?;
        // Let the tickers arm their timers first.
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
            if let Some(b) = block_size {
                stream = stream.block_size(b);
            }
            let mut chunks = Vec::new();
            let mut polls = Polls::default();
            loop {
                // Time each poll of the stream alone (not this loop's bookkeeping).
                let next = std::future::poll_fn(|cx| {
                    let (cpu, wall) = (thread_cpu_ns(), Instant::now());
                    let r = stream.poll_next_chunk(cx);
                    let (cpu, wall) = (thread_cpu_ns().saturating_sub(cpu), wall.elapsed());
                    polls.cpu_us.push(cpu as f64 / 1e3);
                    polls.wall_us.push(wall.as_secs_f64() * 1e6);
                    r
                })
                .await;
                match next {
                    Some(c) => chunks.push(c?.info()),
                    None => break,
                }
            }
            anyhow::Ok((chunks, polls))
        });
        let (chunks, polls) = chunking.await.code(Code::Failure)?.code(Code::Failure)?;
        let secs = start.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        let ticks = Ticks {
            interval: interval.await.code(Code::Failure)?,
            clock: clock.await.code(Code::Failure)?,
        };
        let placement = placement(&before, &threads());
        Ok(AsyncRun {
            secs,
            chunks,
            ticks,
            polls,
            placement,
        })
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
    let mut per_run = Vec::new();
    for _ in 0..args.repeat {
        let mut this = json!({"load": load_average()});
        let start = Instant::now();
        let chunks: Vec<ChunkInfo> = options
            .stream(&data[..])
            .map(|c| c.map(|c| c.info()))
            .collect::<std::result::Result<_, _>>()
            .code(Code::Failure)?;
        sync.gbps.push(gb / start.elapsed().as_secs_f64());
        this["sync_gbps"] = json!(gb / start.elapsed().as_secs_f64());
        let want = reference.get_or_insert(chunks);
        for (row, name, mode) in [
            (&mut asynk, "async", Mode::Blocking),
            (&mut on_rayon, "async-rayon", Mode::Rayon(Arc::clone(&pool))),
            (&mut naive, "naive", Mode::Inline),
        ] {
            let blocking = matches!(mode, Mode::Blocking);
            let run = run_async(&data, options, args.block_size, mode)?;
            // Same chunks first: a fast wrong answer is worthless.
            if &run.chunks != want {
                return Err(anyhow!(
                    "the async stream's chunks differ from the sync path's"
                ))
                .code(Code::Failure);
            }
            row.gbps.push(gb / run.secs);
            this[name] = lag_summary(&run.ticks);
            this[name]["gbps"] = json!(gb / run.secs);
            row.polls.cpu_us.extend(run.polls.cpu_us);
            row.polls.wall_us.extend(run.polls.wall_us);
            row.add(run.ticks, run.placement);
            if blocking {
                // The machine's own floor, right after: the tickers alone.
                let (ticks, placement) = run_idle(run.secs)?;
                this["idle"] = lag_summary(&ticks);
                idle.add(ticks, placement);
            }
        }
        per_run.push(this);
    }
    let results = vec![
        asynk.json("async:sha256"),
        on_rayon.json("async-rayon:sha256"),
        naive.json("naive:sha256"),
        idle.json("idle:ticker"),
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
                "per_run": per_run,
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
                "{:<20} {:>7} {:>17} {:>17} {:>15}",
                "name", "GB/s", "lag ms worst/p99", "clock worst/p99", "poll µs max/p99"
            )
            .map_err(write_err)?;
            for r in &results {
                let f = |k: &str, d: usize| {
                    r[k].as_f64()
                        .map_or("-".to_string(), |v| format!("{v:.d$}"))
                };
                let pair = |a: &str, b: &str, d: usize| format!("{}/{}", f(a, d), f(b, d));
                writeln!(
                    out,
                    "{:<20} {:>7} {:>17} {:>17} {:>15}",
                    r["name"].as_str().unwrap_or_default(),
                    f("gbps", 3),
                    pair("worst_lag_ms", "p99_lag_ms", 2),
                    pair("clock_worst_lag_ms", "clock_p99_lag_ms", 2),
                    pair("max_poll_us", "p99_poll_us", 0),
                )
                .map_err(write_err)?;
            }
            writeln!(out, "# async vs sync throughput: {ratio:.2}x").map_err(write_err)?;
            for (i, r) in per_run.iter().enumerate() {
                let f =
                    |v: &serde_json::Value| v.as_f64().map_or("-".into(), |v| format!("{v:.2}"));
                writeln!(
                    out,
                    "# run {} (load {}): async {} GB/s, lag worst {} ms (idle {}), clock worst {} ms (idle {}); sync {} GB/s",
                    i + 1,
                    f(&r["load"]),
                    f(&r["async"]["gbps"]),
                    f(&r["async"]["worst_lag_ms"]),
                    f(&r["idle"]["worst_lag_ms"]),
                    f(&r["async"]["clock_worst_lag_ms"]),
                    f(&r["idle"]["clock_worst_lag_ms"]),
                    f(&r["sync_gbps"]),
                )
                .map_err(write_err)?;
            }
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
