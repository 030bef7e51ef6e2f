//! `chunker bench pipeline`: the pipeline (file in, T threads) next to the one-thread
//! raw speed of each of its stages on the same chunks, same data, same run, and the
//! ratios to the ideal `T / (sum of 1 / raw stage)`. The `:mmap` rows map the file
//! instead of reading it. `raw:read` is the cost the read path adds (the kernel's copy
//! into read blocks), and the `*_with_read` ratios take it into the ideal.

use anyhow::Context;
use chunker::cdc::Chunker;
use chunker::compress::{Codec, Compressor};
use chunker::pipeline::Pipeline;
use chunker::{ChunkOptions, Config, HashAlgorithm};
use serde_json::json;

use super::{pipeline_data, print, time, Row};
use crate::cli::BenchPipelineArgs;
use crate::error::{Code, Result, WithCode};

pub(super) fn run(args: BenchPipelineArgs) -> Result<()> {
    let config = crate::cmd::config(&args.sizes)?;
    let threads = if args.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        args.threads
    };
    let (src, data) = pipeline_data(&args.file, &args.common)?;
    let name = src.name.clone();
    if args.thresholds {
        return thresholds(&args, config, threads, &name, &data);
    }
    let n = data.len() as u64;
    let chunker = Chunker::new(config);
    let spans: Vec<_> = chunker.spans(&data).collect();
    let tiny = Config::new(64, 256, 1024).expect("a valid configuration");
    let tiny_chunker = Chunker::new(tiny);
    let zstd3 = Compressor::with_level(Codec::Zstd, 3).expect("zstd level 3");
    let t = threads.to_string();
    let names = [
        ("raw:cdc", "1"),
        ("raw:sha256", "1"),
        ("raw:blake3", "1"),
        ("raw:zstd3", "1"),
        ("raw:cdc:tiny", "1"),
        ("raw:read", "1"),
        ("pipeline:sha256", &t),
        ("pipeline:blake3", &t),
        ("pipeline:sha256+zstd3", &t),
        ("pipeline:none:tiny", &t),
        ("pipeline:sha256:mmap", &t),
        ("pipeline:blake3:mmap", &t),
        #[cfg(feature = "metrics")]
        ("pipeline:sha256:metrics", &t),
    ];
    let mut rows: Vec<Row> = names.iter().map(|(r, _)| Row::new(*r, &name, n)).collect();
    let pipe = |options: ChunkOptions, z: Option<&Compressor>, mmap: bool| {
        let mut p = Pipeline::new(options).threads(threads).mmap(mmap);
        if let Some(z) = z {
            p = p.compress(z.clone());
        }
        let file = src
            .rewound()
            .with_context(|| format!("cannot read {name}"))
            .code(Code::Io)?;
        let count = || -> std::result::Result<usize, chunker::PipelineError> {
            let mut count = 0;
            for c in p.open_file(file)? {
                std::hint::black_box(c?.digest);
                count += 1;
            }
            Ok(count)
        };
        count()
            .with_context(|| format!("pipeline over {name}"))
            .code(Code::Io)
    };
    let messages: Vec<&[u8]> = spans
        .iter()
        .map(|sp| &data[sp.offset as usize..][..sp.length])
        .collect();
    let mut tiny_chunks = 0;
    // Read blocks as the pipeline's (16 MiB, a few in turn), touched before timing.
    let mut blocks: Vec<Vec<u8>> = (0..4).map(|_| vec![0u8; 16 << 20]).collect();
    for _ in 0..args.common.repeat {
        let (s, c) = time(|| chunker.spans(&data).count());
        rows[0].runs.push(s);
        rows[0].chunks = Some(c);
        // The library's fastest one-thread way: all chunks at once (SHA-256 in lanes).
        for (i, algorithm) in [(1, HashAlgorithm::Sha256), (2, HashAlgorithm::Blake3)] {
            let s = time(|| std::hint::black_box(chunker::hash::hash_many(algorithm, &messages))).0;
            rows[i].runs.push(s);
        }
        let mut out = Vec::new();
        let s = time(|| {
            for sp in &spans {
                out.clear();
                let _ = zstd3.compress_into(&data[sp.offset as usize..][..sp.length], &mut out);
            }
        })
        .0;
        rows[3].runs.push(s);
        let (s, c) = time(|| tiny_chunker.spans(&data).count());
        rows[4].runs.push(s);
        tiny_chunks = c;
        rows[5].runs.push(read_cost(&src, &name, &mut blocks)?);
        let opts = ChunkOptions::new(config);
        let cases = [
            (6, opts.hash(Some(HashAlgorithm::Sha256)), None, false),
            (7, opts.hash(Some(HashAlgorithm::Blake3)), None, false),
            (
                8,
                opts.hash(Some(HashAlgorithm::Sha256)),
                Some(&zstd3),
                false,
            ),
            (9, ChunkOptions::new(tiny).hash(None), None, false),
            (10, opts.hash(Some(HashAlgorithm::Sha256)), None, true),
            (11, opts.hash(Some(HashAlgorithm::Blake3)), None, true),
        ];
        for (i, o, z, mmap) in cases {
            let (s, c) = time(|| pipe(o, z, mmap));
            let c = c?;
            rows[i].runs.push(s);
            rows[i].chunks = Some(c);
        }
        // The same as pipeline:sha256 with a recorder counting every metric.
        #[cfg(feature = "metrics")]
        {
            let recorder = metrics_util::debugging::DebuggingRecorder::new();
            let o = opts.hash(Some(HashAlgorithm::Sha256));
            let (s, c) = metrics::with_local_recorder(&recorder, || time(|| pipe(o, None, false)));
            rows[12].runs.push(s);
            rows[12].chunks = Some(c?);
        }
    }
    let m: Vec<f64> = rows.iter().map(Row::median).collect();
    let tf = threads as f64;
    let ideal = |stages: &[f64]| tf / stages.iter().map(|g| 1.0 / g).sum::<f64>();
    let ideal_sha = ideal(&[m[0], m[1]]);
    let ideal_blake3 = ideal(&[m[0], m[2]]);
    let ideal_zstd = ideal(&[m[0], m[1], m[3]]);
    let ideal_sha_read = ideal(&[m[0], m[1], m[5]]);
    let ideal_blake3_read = ideal(&[m[0], m[2], m[5]]);
    let secs = |g: f64| n as f64 / (g * 1e9);
    #[cfg(feature = "metrics")]
    let metrics_ratio = Some(m[12] / m[6]);
    #[cfg(not(feature = "metrics"))]
    let metrics_ratio: Option<f64> = None;
    let overhead_ns = (secs(m[9]) - secs(m[4])) / tiny_chunks.max(1) as f64 * 1e9;
    let extra = json!({
        "threads": threads,
        "ideal_sha256_gbps": ideal_sha,
        "pipeline_sha256_vs_ideal": m[6] / ideal_sha,
        "ideal_blake3_gbps": ideal_blake3,
        "pipeline_blake3_vs_ideal": m[7] / ideal_blake3,
        "pipeline_sha256_mmap_vs_ideal": m[10] / ideal_sha,
        "ideal_sha256_with_read_gbps": ideal_sha_read,
        "pipeline_sha256_vs_ideal_with_read": m[6] / ideal_sha_read,
        "ideal_blake3_with_read_gbps": ideal_blake3_read,
        "pipeline_blake3_vs_ideal_with_read": m[7] / ideal_blake3_read,
        "pipeline_sha256_metrics_vs_off": metrics_ratio,
        "pipeline_blake3_mmap_vs_ideal": m[11] / ideal_blake3,
        "ideal_sha256_zstd3_gbps": ideal_zstd,
        "pipeline_sha256_zstd3_vs_ideal": m[8] / ideal_zstd,
        "pipeline_sha256_zstd3_mbps": m[8] * 1e3,
        "tiny_chunks": tiny_chunks,
        "pipeline_overhead_ns_per_tiny_chunk": overhead_ns,
    });
    print(
        args.common.format,
        "pipeline",
        &config,
        &rows,
        "raw:cdc",
        extra,
    )
}

/// Seconds to read the whole file with `read` into `blocks` in turn (16 MiB reads): the
/// kernel's copy out of the page cache that the read path adds to the stages.
fn read_cost(src: &super::StreamData, name: &str, blocks: &mut [Vec<u8>]) -> Result<f64> {
    use std::io::Read;
    let mut file = src
        .rewound()
        .with_context(|| format!("cannot read {name}"))
        .code(Code::Io)?;
    let t = std::time::Instant::now();
    let mut i = 0;
    loop {
        let block = &mut blocks[i % blocks.len()];
        let n = file
            .read(block)
            .with_context(|| format!("cannot read {name}"))
            .code(Code::Io)?;
        if n == 0 {
            break;
        }
        i += 1;
    }
    Ok(t.elapsed().as_secs_f64())
}

/// Serial (thresholds never reached) vs pipeline (always) on prefixes of `data` of
/// 4 KiB..16 MiB read through a reader, each timed over enough runs for ~50 ms, the
/// two alternated. Rows `threshold:serial:SIZE` and `threshold:pipeline:SIZE`.
fn thresholds(
    args: &BenchPipelineArgs,
    config: Config,
    threads: usize,
    name: &str,
    data: &[u8],
) -> Result<()> {
    use chunker::pipeline::Thresholds;
    let options = ChunkOptions::new(config).hash(Some(HashAlgorithm::Sha256));
    let never = Thresholds {
        chunks: u64::MAX,
        bytes: u64::MAX,
    };
    let always = Thresholds {
        chunks: 0,
        bytes: 0,
    };
    let sizes = [
        4usize << 10,
        16 << 10,
        64 << 10,
        256 << 10,
        1 << 20,
        2 << 20,
        4 << 20,
        16 << 20,
    ];
    let sizes: Vec<usize> = sizes.into_iter().filter(|&s| s <= data.len()).collect();
    let mut rows = Vec::new();
    let run = |t: Thresholds, input: &[u8], n: usize| -> Result<()> {
        let p = Pipeline::new(options).threads(threads).thresholds(t);
        for _ in 0..n {
            for c in p
                .reader(std::io::Cursor::new(input.to_vec()))
                .context("pipeline")
                .code(Code::Io)?
            {
                std::hint::black_box(c.context("pipeline").code(Code::Io)?.digest);
            }
        }
        Ok(())
    };
    for &size in &sizes {
        let input = &data[..size];
        // Runs per timing: about 50 ms of serial work at 1 GB/s, at least one.
        let n = (50_000_000 / size).max(1);
        let mut serial = Row::new(format!("threshold:serial:{size}"), name, (size * n) as u64);
        let mut pipe = Row::new(
            format!("threshold:pipeline:{size}"),
            name,
            (size * n) as u64,
        );
        for _ in 0..args.common.repeat {
            let (s, r) = time(|| run(never, input, n));
            r?;
            serial.runs.push(s);
            let (s, r) = time(|| run(always, input, n));
            r?;
            pipe.runs.push(s);
        }
        rows.push(serial);
        rows.push(pipe);
    }
    let ratios: serde_json::Map<String, serde_json::Value> = rows
        .chunks(2)
        .zip(&sizes)
        .map(|(r, size)| {
            (
                format!("pipeline_vs_serial_{size}"),
                json!(r[1].median() / r[0].median()),
            )
        })
        .collect();
    print(
        args.common.format,
        "pipeline",
        &config,
        &rows,
        "threshold:serial:4096",
        json!({ "threads": threads, "ratios": ratios }),
    )
}
