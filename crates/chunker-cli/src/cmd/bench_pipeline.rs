//! `chunker bench pipeline`: the pipeline (file in, T threads) next to the one-thread
//! raw speed of each of its stages on the same chunks, same data, same run, and the
//! ratios to the ideal `T / (sum of 1 / raw stage)`. The `:mmap` rows map the file
//! instead of reading it.

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
        let opts = ChunkOptions::new(config);
        let cases = [
            (5, opts.hash(Some(HashAlgorithm::Sha256)), None, false),
            (6, opts.hash(Some(HashAlgorithm::Blake3)), None, false),
            (
                7,
                opts.hash(Some(HashAlgorithm::Sha256)),
                Some(&zstd3),
                false,
            ),
            (8, ChunkOptions::new(tiny).hash(None), None, false),
            (9, opts.hash(Some(HashAlgorithm::Sha256)), None, true),
            (10, opts.hash(Some(HashAlgorithm::Blake3)), None, true),
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
            rows[11].runs.push(s);
            rows[11].chunks = Some(c?);
        }
    }
    let m: Vec<f64> = rows.iter().map(Row::median).collect();
    let tf = threads as f64;
    let ideal = |stages: &[f64]| tf / stages.iter().map(|g| 1.0 / g).sum::<f64>();
    let ideal_sha = ideal(&[m[0], m[1]]);
    let ideal_blake3 = ideal(&[m[0], m[2]]);
    let ideal_zstd = ideal(&[m[0], m[1], m[3]]);
    let secs = |g: f64| n as f64 / (g * 1e9);
    #[cfg(feature = "metrics")]
    let metrics_ratio = Some(m[11] / m[5]);
    #[cfg(not(feature = "metrics"))]
    let metrics_ratio: Option<f64> = None;
    let overhead_ns = (secs(m[8]) - secs(m[4])) / tiny_chunks.max(1) as f64 * 1e9;
    let extra = json!({
        "threads": threads,
        "ideal_sha256_gbps": ideal_sha,
        "pipeline_sha256_vs_ideal": m[5] / ideal_sha,
        "ideal_blake3_gbps": ideal_blake3,
        "pipeline_blake3_vs_ideal": m[6] / ideal_blake3,
        "pipeline_sha256_mmap_vs_ideal": m[9] / ideal_sha,
        "pipeline_sha256_metrics_vs_off": metrics_ratio,
        "pipeline_blake3_mmap_vs_ideal": m[10] / ideal_blake3,
        "ideal_sha256_zstd3_gbps": ideal_zstd,
        "pipeline_sha256_zstd3_vs_ideal": m[7] / ideal_zstd,
        "pipeline_sha256_zstd3_mbps": m[7] * 1e3,
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
