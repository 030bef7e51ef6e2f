//! `chunker bench`: throughput of our code next to its peers, same data, same run.
//!
//! Rows of one table are measured interleaved (row A, row B, …, then again), so that
//! the noise of a shared machine hits them alike; the median of `--repeat` runs is
//! reported with the min and max.

use std::fs::File;
use std::hint::black_box;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, Context};
use chunker::cdc::Chunker;
use chunker::{hash, Chunk, ChunkOptions, Config, HashAlgorithm, Kernel, Span, StreamError};
use chunker_testdata::{generate, Kind};
use serde_json::{json, Value};

use crate::cli::{BenchCdcArgs, BenchCommand, BenchCommon, BenchFormat, BenchStreamArgs, DataArg};
use crate::error::{write_err, Code, Result, WithCode};
use crate::{input, output, size};

#[path = "bench_pipeline.rs"]
mod pipeline;

pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Pipeline(a) => pipeline::run(a),
        BenchCommand::Cdc(a) => cdc(a),
        BenchCommand::Stream(a) => stream(a),
        BenchCommand::Hash(a) => super::bench_hash::run(a),
        BenchCommand::Async(a) => super::bench_async::run(a),
        BenchCommand::Nix32 { format } => nix32(format),
    }
}

/// One measured row.
struct Row {
    name: String,
    data: String,
    bytes: u64,
    /// Seconds per run.
    runs: Vec<f64>,
    chunks: Option<usize>,
}

impl Row {
    fn new(name: impl Into<String>, data: &str, bytes: u64) -> Self {
        Row {
            name: name.into(),
            data: data.into(),
            bytes,
            runs: Vec::new(),
            chunks: None,
        }
    }
    fn gbps_sorted(&self) -> Vec<f64> {
        let mut v: Vec<f64> = self
            .runs
            .iter()
            .map(|s| self.bytes as f64 / s / 1e9)
            .collect();
        v.sort_by(f64::total_cmp);
        v
    }
    fn median(&self) -> f64 {
        let v = self.gbps_sorted();
        if v.is_empty() {
            return 0.0;
        }
        let m = v.len() / 2;
        if v.len() % 2 == 1 {
            v[m]
        } else {
            (v[m - 1] + v[m]) / 2.0
        }
    }
}

fn time<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let t = Instant::now();
    let r = black_box(f());
    (t.elapsed().as_secs_f64(), r)
}

pub(super) fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

fn kinds(d: DataArg) -> Vec<Kind> {
    match d {
        DataArg::Random => vec![Kind::Random],
        DataArg::Text => vec![Kind::Text],
        DataArg::Binary => vec![Kind::Binary],
        DataArg::All => Kind::ALL.to_vec(),
    }
}

/// The data sets: FILE's bytes (at most `--size` of them), or one generated buffer per
/// kind.
fn datasets(file: &Option<PathBuf>, common: &BenchCommon) -> Result<Vec<(String, Vec<u8>)>> {
    match file {
        Some(p) => {
            let bytes = read_capped(p, common.size)?;
            let name = p
                .file_name()
                .map_or_else(|| input::display(p), |n| input::display(Path::new(n)));
            Ok(vec![(name, bytes)])
        }
        None => Ok(kinds(common.data)
            .into_iter()
            .map(|k| (k.name().to_string(), generate(k, common.size, 42)))
            .collect()),
    }
}

/// FILE's bytes in memory, refused (exit 4) when they are more than `cap` (`--size`):
/// a regular file by its length before reading, anything else (a pipe, `/dev/zero`)
/// after reading at most `cap + 1` bytes. An empty file has no throughput to measure.
fn read_capped(path: &Path, cap: usize) -> Result<Vec<u8>> {
    let file = input::open(&Some(path.to_path_buf()))?;
    let too_big = || {
        anyhow!(
            "{} is larger than --size {} ({cap} bytes); pass a larger --size (at most 64G)",
            file.name,
            size::human(cap as f64)
        )
    };
    if file.len.is_some_and(|l| l > cap as u64) {
        return Err(too_big()).code(Code::Data);
    }
    let mut bytes = Vec::with_capacity(file.len.map_or(0, |l| l as usize));
    let name = file.name.clone();
    file.reader
        .take(cap as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {name}"))
        .code(Code::Io)?;
    if bytes.len() > cap {
        return Err(too_big()).code(Code::Data);
    }
    if bytes.is_empty() {
        return Err(anyhow!("{name} is empty: nothing to measure")).code(Code::Data);
    }
    Ok(bytes)
}

fn config_json(c: &Config) -> Value {
    json!({"min": c.min_size(), "avg": c.avg_size(), "max": c.max_size()})
}

fn fastcdc_spans(data: &[u8], c: &Config) -> Vec<Span> {
    fastcdc::v2020::FastCDC::new(
        data,
        c.min_size() as u32,
        c.avg_size() as u32,
        c.max_size() as u32,
    )
    .map(|ch| Span {
        offset: ch.offset as u64,
        length: ch.length,
    })
    .collect()
}

fn print(
    format: BenchFormat,
    title: &str,
    config: &Config,
    rows: &[Row],
    baseline: &str,
    extra: Value,
) -> Result<()> {
    let mut out = output::stdout();
    let base = |data: &str| {
        rows.iter()
            .find(|r| r.name == baseline && r.data == data)
            .map(Row::median)
    };
    match format {
        BenchFormat::Json => {
            let results: Vec<Value> = rows
                .iter()
                .map(|r| {
                    let v = r.gbps_sorted();
                    json!({
                        "name": r.name,
                        "data": r.data,
                        "bytes": r.bytes,
                        "gbps": r.median(),
                        "gbps_min": v.first(),
                        "gbps_max": v.last(),
                        "runs": r.runs.len(),
                        "chunks": r.chunks,
                        "ratio_vs_baseline": base(&r.data).map(|b| r.median() / b),
                    })
                })
                .collect();
            let doc = json!({
                "bench": title,
                "cpu": cpu_model(),
                "config": config_json(config),
                "baseline": baseline,
                "results": results,
                "derived": extra,
            });
            writeln!(out, "{doc}").map_err(write_err)?;
        }
        BenchFormat::Text => {
            writeln!(
                out,
                "# chunker bench {title} — {} — sizes {}/{}/{} — median of {} runs (min..max)",
                cpu_model(),
                config.min_size(),
                config.avg_size(),
                config.max_size(),
                rows.first().map_or(0, |r| r.runs.len())
            )
            .map_err(write_err)?;
            writeln!(
                out,
                "{:<10} {:<44} {:>8} {:>17} {:>10}",
                "data", "name", "GB/s", "(min..max)", "vs base"
            )
            .map_err(write_err)?;
            for r in rows {
                let v = r.gbps_sorted();
                let ratio = base(&r.data)
                    .map(|b| format!("{:.2}x", r.median() / b))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{:<10} {:<44} {:>8.3} {:>17} {:>10}",
                    r.data,
                    r.name,
                    r.median(),
                    format!(
                        "({:.2}..{:.2})",
                        v.first().copied().unwrap_or(0.0),
                        v.last().copied().unwrap_or(0.0)
                    ),
                    ratio
                )
                .map_err(write_err)?;
            }
            if !extra.is_null() {
                writeln!(out, "# derived: {extra}").map_err(write_err)?;
            }
        }
    }
    out.flush().map_err(write_err)
}

fn cdc(args: BenchCdcArgs) -> Result<()> {
    let config = super::config(&args.sizes)?;
    let sets = datasets(&args.file, &args.common)?;
    let kernels: Vec<Kernel> = Kernel::available().collect();
    let threads = match args.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .code(Code::Failure)?;
    // The multi-core rows use the default (fastest) kernel.
    let par = Chunker::new(config);
    let mut rows = Vec::new();
    for (name, data) in &sets {
        // Same cut points first: a fast wrong answer is worthless.
        let reference: Vec<Span> = fastcdc_spans(data, &config);
        for &k in &kernels {
            let ours: Vec<Span> = Chunker::with_kernel(config, k)
                .code(Code::Config)?
                .spans(data)
                .collect();
            if ours != reference {
                return Err(anyhow!(
                    "kernel {k} disagrees with the fastcdc crate on {name}"
                ))
                .code(Code::Failure);
            }
        }
        if threads > 1 && pool.install(|| par.spans_parallel(data)) != reference {
            return Err(anyhow!(
                "the multi-core search disagrees with the fastcdc crate on {name}"
            ))
            .code(Code::Failure);
        }
        let n = data.len() as u64;
        let mut set_rows = vec![Row::new("fastcdc-crate", name, n)];
        let gear_row = set_rows.len();
        set_rows.push(Row::new("gearhash-crate", name, n));
        let first_kernel_row = set_rows.len();
        set_rows.extend(
            kernels
                .iter()
                .map(|k| Row::new(format!("kernel:{k}"), name, n)),
        );
        let par_row = set_rows.len();
        if threads > 1 {
            let label = format!("kernel:{}:threads={threads}", par.kernel());
            set_rows.push(Row::new(label, name, n));
        }
        for _ in 0..args.common.repeat {
            let (s, c) = time(|| fastcdc_count(data, &config));
            set_rows[0].runs.push(s);
            set_rows[0].chunks = Some(c);
            let (s, c) = time(|| gearhash_count(data, &config));
            set_rows[gear_row].runs.push(s);
            set_rows[gear_row].chunks = Some(c);
            for (i, &k) in kernels.iter().enumerate() {
                let chunker = Chunker::with_kernel(config, k).code(Code::Config)?;
                let (s, c) = time(|| chunker.spans(data).count());
                set_rows[first_kernel_row + i].runs.push(s);
                set_rows[first_kernel_row + i].chunks = Some(c);
            }
            if threads > 1 {
                let (s, c) = time(|| pool.install(|| par.spans_parallel(data).len()));
                set_rows[par_row].runs.push(s);
                set_rows[par_row].chunks = Some(c);
            }
        }
        rows.extend(set_rows);
    }
    print(
        args.common.format,
        "cdc",
        &config,
        &rows,
        "fastcdc-crate",
        Value::Null,
    )
}

fn fastcdc_count(data: &[u8], c: &Config) -> usize {
    fastcdc::v2020::FastCDC::new(
        data,
        c.min_size() as u32,
        c.avg_size() as u32,
        c.max_size() as u32,
    )
    .count()
}

/// The `gearhash` crate's SIMD `next_match` (SSE4.2/AVX2/NEON, chosen by the crate at
/// run time) in the same loop as FastCDC without normalisation: skip `min` bytes, search
/// with the single mask of `log2(avg)` bits, cut at the match or at `max`. Its cut
/// points differ from FastCDC's (one mask, no byte pairs), so only speed is compared.
fn gearhash_count(data: &[u8], c: &Config) -> usize {
    let mask = c.mask_normal();
    let (min, max) = (c.min_size(), c.max_size());
    let mut hasher = gearhash::Hasher::default();
    let mut offset = 0;
    let mut chunks = 0;
    while offset < data.len() {
        let rest = &data[offset..];
        let len = if rest.len() <= min {
            rest.len()
        } else {
            let window = &rest[min..rest.len().min(max)];
            hasher.set_hash(0);
            hasher
                .next_match(window, mask)
                .map_or(window.len() + min, |at| min + at)
        };
        offset += len;
        chunks += 1;
    }
    chunks
}

/// `bench stream` keeps at most this many bytes of its data in memory, for the in-memory
/// rows; the stream rows read the whole file.
const STREAM_SAMPLE_MAX: usize = 256 << 20;

/// Generated data is written in blocks of this size after the sample.
const STREAM_BLOCK: usize = 16 << 20;

/// The data of `bench stream`: an open file (read again for every stream row), its
/// length and its first bytes in memory.
struct StreamData {
    name: String,
    file: File,
    len: u64,
    sample: Vec<u8>,
}

impl StreamData {
    /// The handle, rewound: each stream row reads the file from the start.
    fn rewound(&self) -> std::io::Result<File> {
        let mut f = self.file.try_clone()?;
        f.seek(SeekFrom::Start(0))?;
        Ok(f)
    }
}

/// A regular, non-empty FILE (it is read several times; a FIFO or `/dev/zero` is not).
fn stream_file(path: &Path) -> Result<StreamData> {
    let shown = input::display(path);
    // Checked before opening: opening a FIFO would wait for a writer.
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot open {shown}"))
        .code(Code::Io)?;
    if !meta.is_file() {
        return Err(anyhow!(
            "{shown} is not a regular file (the benchmark reads it several times)"
        ))
        .code(Code::Io);
    }
    if meta.len() == 0 {
        return Err(anyhow!("{shown} is empty: nothing to measure")).code(Code::Data);
    }
    let file = File::open(path)
        .with_context(|| format!("cannot open {shown}"))
        .code(Code::Io)?;
    let want = meta.len().min(STREAM_SAMPLE_MAX as u64);
    let mut sample = Vec::with_capacity(want as usize);
    (&file)
        .take(want)
        .read_to_end(&mut sample)
        .with_context(|| format!("cannot read {shown}"))
        .code(Code::Io)?;
    let name = path
        .file_name()
        .map_or_else(|| shown.clone(), |n| input::display(Path::new(n)));
    Ok(StreamData {
        name,
        file,
        len: meta.len(),
        sample,
    })
}

/// `size` bytes of `kind` in a temporary file that is unlinked as soon as it is created,
/// so that nothing is left behind however the process ends (SIGTERM, SIGKILL, a
/// panic). It is written block by block; only the first block (the sample) is kept.
fn stream_generated(kind: Kind, size: usize) -> Result<StreamData> {
    let path = std::env::temp_dir().join(format!("chunker-bench-{}.bin", std::process::id()));
    let shown = input::display(&path);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("cannot create {shown}"))
        .code(Code::Io)?;
    std::fs::remove_file(&path)
        .with_context(|| format!("cannot remove {shown}"))
        .code(Code::Io)?;
    let sample = generate(kind, size.min(STREAM_SAMPLE_MAX), 42);
    let mut written = sample.len();
    let mut w = std::io::BufWriter::new(&mut file);
    let mut write = |block: &[u8]| {
        w.write_all(block)
            .with_context(|| format!("cannot write {shown}"))
            .code(Code::Io)
    };
    write(&sample)?;
    let mut seed = 43;
    while written < size {
        let block = generate(kind, (size - written).min(STREAM_BLOCK), seed);
        write(&block)?;
        written += block.len();
        seed += 1;
    }
    w.flush()
        .with_context(|| format!("cannot write {shown}"))
        .code(Code::Io)?;
    drop(w);
    Ok(StreamData {
        name: kind.name().to_string(),
        file,
        len: size as u64,
        sample,
    })
}

fn stream(args: BenchStreamArgs) -> Result<()> {
    let config = super::config(&args.sizes)?;
    let mut rows = Vec::new();
    let mut derived = serde_json::Map::new();
    let mut measure = |data: StreamData| -> Result<()> {
        let (set_rows, extra) = stream_rows(&config, &data, args.common.repeat)?;
        rows.extend(set_rows);
        derived.insert(data.name.clone(), extra);
        Ok(())
    };
    match &args.file {
        Some(p) => measure(stream_file(p)?)?,
        // One data set at a time: each file is gone before the next is made.
        None => {
            for kind in kinds(args.common.data) {
                measure(stream_generated(kind, args.common.size)?)?;
            }
        }
    }
    print(
        args.common.format,
        "stream",
        &config,
        &rows,
        "sha256-raw",
        Value::Object(derived),
    )
}

/// The data of `bench pipeline`: FILE (a regular file of at most `--size` bytes) or
/// `--size` bytes of the first `--data` kind in an unlinked temporary file (nothing is
/// left behind however the process ends); the pipeline rows read the file, the raw
/// one-thread rows run on the same bytes in memory.
fn pipeline_data(file: &Option<PathBuf>, common: &BenchCommon) -> Result<(StreamData, Vec<u8>)> {
    let src = match file {
        Some(p) => {
            let src = stream_file(p)?;
            if src.len > common.size as u64 {
                return Err(anyhow!(
                    "{} is larger than --size {} ({} bytes); pass a larger --size (at most 64G)",
                    input::display(p),
                    size::human(common.size as f64),
                    common.size
                ))
                .code(Code::Data);
            }
            src
        }
        None => stream_generated(kinds(common.data)[0], common.size)?,
    };
    let mut data = Vec::with_capacity(src.len as usize);
    src.rewound()
        .and_then(|mut f| f.read_to_end(&mut data))
        .with_context(|| format!("cannot read {}", src.name))
        .code(Code::Io)?;
    Ok((src, data))
}

/// The rows of one data set and the ratios derived from them.
fn stream_rows(config: &Config, data: &StreamData, repeat: u32) -> Result<(Vec<Row>, Value)> {
    let name = &data.name;
    let (n, sample) = (data.len, &data.sample[..]);
    let sample_n = sample.len() as u64;
    let chunker = Chunker::new(*config);
    // (chunk digest, read size, read on a second thread, whole-stream digest)
    let sha = Some(HashAlgorithm::Sha256);
    let streams: [(Option<HashAlgorithm>, usize, bool, Option<HashAlgorithm>); 10] = [
        (sha, 8 << 20, false, None),
        (sha, 8 << 10, false, None),
        (Some(HashAlgorithm::Blake3), 8 << 20, false, None),
        (None, 8 << 20, false, None),
        (None, 8 << 10, false, None),
        (None, 1 << 20, false, None),
        (None, 1 << 20, true, None),
        (sha, 1 << 20, true, None),
        // Chunk digests and the NarHash over the same bytes (SHA-256 lanes side by side).
        (sha, 1 << 20, false, sha),
        (sha, 1 << 20, true, sha),
    ];
    let mut rows = vec![
        Row::new(
            format!("cdc-raw:kernel:{}", chunker.kernel()),
            name,
            sample_n,
        ),
        Row::new("sha256-raw", name, sample_n),
        Row::new("blake3-raw", name, sample_n),
    ];
    for (h, rs, ahead, whole) in streams {
        let hn = h.map_or("none", |a| a.name());
        let wn = whole.map_or(String::new(), |a| format!("+stream={}", a.name()));
        let rsn = if rs >= 1 << 20 {
            format!("{}M", rs >> 20)
        } else {
            format!("{}K", rs >> 10)
        };
        let mode = if ahead { ":ahead" } else { "" };
        rows.push(Row::new(
            format!("stream:{hn}{wn}:read={rsn}{mode}"),
            name,
            n,
        ));
    }
    for _ in 0..repeat {
        let (s, c) = time(|| chunker.spans(sample).count());
        rows[0].runs.push(s);
        rows[0].chunks = Some(c);
        rows[1]
            .runs
            .push(time(|| hash(HashAlgorithm::Sha256, sample)).0);
        rows[2]
            .runs
            .push(time(|| hash(HashAlgorithm::Blake3, sample)).0);
        for (i, &(h, rs, ahead, whole)) in streams.iter().enumerate() {
            let file = data
                .rewound()
                .with_context(|| format!("cannot read {name}"))
                .code(Code::Io)?;
            let opts = ChunkOptions::new(*config).hash(h);
            let count = |chunks: &mut dyn Iterator<Item = Result<Chunk, StreamError>>| {
                let mut count = 0;
                for c in chunks {
                    black_box(c?.digest);
                    count += 1;
                }
                Ok::<usize, StreamError>(count)
            };
            let (s, c) = time(|| {
                let mut stream = opts.stream(file).read_size(rs);
                if let Some(a) = whole {
                    stream = stream.stream_digest(a);
                }
                if ahead {
                    let mut stream = stream.read_ahead().map_err(|e| StreamError::Read {
                        offset: 0,
                        source: e,
                    })?;
                    count(&mut stream)
                } else {
                    count(&mut { stream })
                }
            });
            let c = c.code(Code::Io)?;
            rows[3 + i].runs.push(s);
            rows[3 + i].chunks = Some(c);
        }
    }
    let cdc = rows[0].median();
    let sha = rows[1].median();
    let combined = 1.0 / (1.0 / cdc + 1.0 / sha);
    let s8m = rows[3].median();
    let s8k = rows[4].median();
    let extra = json!({
        "sha256_serial_bound_gbps": combined,
        "stream_sha256_8M_vs_bound": s8m / combined,
        "stream_sha256_8K_vs_8M": s8k / s8m,
        "stream_none_8M_vs_cdc_raw": rows[6].median() / cdc,
        "stream_none_1M_vs_cdc_raw": rows[8].median() / cdc,
        "stream_none_1M_ahead_vs_cdc_raw": rows[9].median() / cdc,
        "stream_sha256_1M_ahead_vs_bound": rows[10].median() / combined,
    });
    Ok((rows, extra))
}

/// Nanoseconds per call of `f` over `n` calls, 7 runs, sorted.
fn measure_ns(n: u32, f: impl Fn()) -> Vec<f64> {
    let mut ns = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        ns.push(t.elapsed().as_nanos() as f64 / f64::from(n));
    }
    ns.sort_by(f64::total_cmp);
    ns
}

fn nix32(format: BenchFormat) -> Result<()> {
    let d = hash(HashAlgorithm::Sha256, b"chunker");
    const N: u32 = 2_000_000;
    let rows = [
        (
            "nix32-encode-32B-array",
            measure_ns(N, || {
                black_box(black_box(&d).nix32_array());
            }),
        ),
        (
            "nix32-encode-32B-string",
            measure_ns(N, || {
                black_box(black_box(&d).to_nix32());
            }),
        ),
    ];
    let mut out = output::stdout();
    match format {
        BenchFormat::Json => {
            let results: Vec<Value> = rows
                .iter()
                .map(|(name, ns)| {
                    json!({"name": name, "ns_per_op": ns[ns.len() / 2], "ns_min": ns[0], "ns_max": ns[ns.len() - 1]})
                })
                .collect();
            writeln!(
                out,
                "{}",
                json!({"bench": "nix32", "cpu": cpu_model(), "results": results})
            )
            .map_err(write_err)?;
        }
        BenchFormat::Text => {
            for (name, ns) in &rows {
                writeln!(
                    out,
                    "{name:<26} median {:.1} ns ({:.1}..{:.1}) — {}",
                    ns[ns.len() / 2],
                    ns[0],
                    ns[ns.len() - 1],
                    cpu_model()
                )
                .map_err(write_err)?;
            }
        }
    }
    out.flush().map_err(write_err)
}
