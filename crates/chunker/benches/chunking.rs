//! Throughput benchmarks for `chunker`, with the `fastcdc` crate measured in the same run.
//!
//! ```text
//! cargo bench -p chunker --bench chunking                      # everything, 256 MiB inputs
//! CHUNKER_BENCH_MIB=32 cargo bench -p chunker --bench chunking -- --quick
//! cargo bench -p chunker --bench chunking -- 'cdc/'            # one group
//! ```
//!
//! Groups:
//! - `cdc`: boundary search alone, on deterministic random and text-like data from
//!   `chunker-testdata`: the `fastcdc` crate's `v2020` (`fastcdc-crate/...`) beside every
//!   kernel this CPU can run (`kernel:<name>/...`).
//! - `stream`: what a cache upload pays per byte: one-thread SHA-256, BLAKE3 and CDC on data in
//!   memory, chunk + digest over `Bytes` (`eager-*`), and chunk + digest streamed from a file
//!   (`stream-file-*`, read sizes 8 MiB and 8 KiB). The file lives in the temp directory and is
//!   removed when the group ends.
//! - `nix32`: Nix base32 of one SHA-256 digest, per call.
//!
//! Every row reports throughput (`Throughput::Bytes`, or calls for `nix32`). The input length is
//! `CHUNKER_BENCH_MIB` MiB (default 256), read once. When criterion runs the benches as tests
//! (`cargo test --all-targets`, each routine once) the default is 1 MiB instead, so that a test
//! run does not generate and write hundreds of MiB.
//!
//! The machines are shared and noisy: compare rows of one run, quote medians.

use std::cell::OnceCell;
use std::fs;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use chunker::cdc::Chunker;
use chunker::hash::nix32;
use chunker::{ChunkOptions, Config, HashAlgorithm, Kernel};
use chunker_testdata::{generate, Kind};
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};

/// Seed of every generated input, so runs compare.
const SEED: u64 = 0x6368_756e_6b65_7231;

/// The size triples measured: attic's (16K/64K/256K) and hestia's / ncps's (64K/256K/1M).
const CONFIGS: [(usize, usize, usize); 2] = [
    (16 << 10, 64 << 10, 256 << 10),
    (64 << 10, 256 << 10, 1 << 20),
];

/// Input length in bytes, from `CHUNKER_BENCH_MIB`; read on first use.
fn data_len() -> usize {
    static LEN: OnceLock<usize> = OnceLock::new();
    *LEN.get_or_init(|| {
        let mib = match std::env::var("CHUNKER_BENCH_MIB") {
            Ok(s) => s
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|&m| m > 0)
                .unwrap_or_else(|| panic!("CHUNKER_BENCH_MIB={s:?}: expected a positive integer")),
            Err(_) if benchmarking() => 256,
            Err(_) => 1,
        };
        mib << 20
    })
}

/// Whether criterion will measure (`cargo bench`), rather than run each routine once as a test.
fn benchmarking() -> bool {
    let mut bench = false;
    let mut test = false;
    for arg in std::env::args() {
        bench |= arg == "--bench";
        test |= arg == "--test";
    }
    bench && !test
}

/// Deterministic data of `kind`, generated on first use and kept for the whole run.
fn data(kind: Kind) -> &'static Bytes {
    static RANDOM: OnceLock<Bytes> = OnceLock::new();
    static TEXT: OnceLock<Bytes> = OnceLock::new();
    static BINARY: OnceLock<Bytes> = OnceLock::new();
    let cell = match kind {
        Kind::Random => &RANDOM,
        Kind::Text => &TEXT,
        Kind::Binary => &BINARY,
    };
    cell.get_or_init(|| Bytes::from(generate(kind, data_len(), SEED)))
}

/// `16K-64K-256K`: the row label of a size triple.
fn label((min, avg, max): (usize, usize, usize)) -> String {
    let size = |n: usize| {
        if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
            format!("{}M", n >> 20)
        } else {
            format!("{}K", n >> 10)
        }
    };
    format!("{}-{}-{}", size(min), size(avg), size(max))
}

fn config(sizes: (usize, usize, usize)) -> Config {
    Config::new(sizes.0, sizes.1, sizes.2).expect("benchmark configs are valid")
}

/// Criterion settings for inputs of hundreds of MiB on two shared cores: few, flat samples.
fn large_input_group<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group(name);
    // One iteration takes ~0.1 s at 256 MiB: linear sampling (1 + 2 + ... + 10 iterations) would
    // not fit the measurement time.
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Bytes(data_len() as u64));
    group
}

fn bench_cdc(c: &mut Criterion) {
    let mut group = large_input_group(c, "cdc");
    for sizes in CONFIGS {
        let cfg = label(sizes);
        let (min, avg, max) = sizes;
        for kind in [Kind::Random, Kind::Text] {
            group.bench_function(format!("fastcdc-crate/{kind}/{cfg}"), |b| {
                let data = data(kind);
                let (min, avg, max) = (min as u32, avg as u32, max as u32);
                b.iter(|| {
                    let total: usize = fastcdc::v2020::FastCDC::new(data, min, avg, max)
                        .map(|chunk| chunk.length)
                        .sum();
                    black_box(total)
                });
            });
            for kernel in Kernel::available() {
                let chunker = Chunker::with_kernel(config(sizes), kernel)
                    .expect("Kernel::available lists kernels this CPU runs");
                group.bench_function(format!("kernel:{}/{kind}/{cfg}", kernel.name()), |b| {
                    let data = data(kind);
                    b.iter(|| {
                        let total: usize = chunker.spans(data).map(|span| span.length).sum();
                        black_box(total)
                    });
                });
            }
        }
    }
    group.finish();
}

/// A copy of an input in the temp directory, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn write(data: &[u8]) -> Self {
        let path = std::env::temp_dir().join(format!("chunker-bench-{}.bin", std::process::id()));
        fs::write(&path, data).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

fn bench_stream(c: &mut Criterion) {
    let mut group = large_input_group(c, "stream");
    let len = data_len();
    let input = || data(Kind::Random);
    // Written when the first file row runs, so a filter that skips them writes nothing.
    let file: OnceCell<TempFile> = OnceCell::new();
    let file_path = || &file.get_or_init(|| TempFile::write(input())).0;

    for (name, algorithm) in [
        ("sha256-raw", HashAlgorithm::Sha256),
        ("blake3-raw", HashAlgorithm::Blake3),
    ] {
        group.bench_function(name, |b| {
            let data = input();
            b.iter(|| chunker::hash(algorithm, black_box(data)));
        });
    }

    for sizes in [CONFIGS[1], CONFIGS[0]] {
        let cfg = label(sizes);

        let chunker = Chunker::new(config(sizes));
        group.bench_function(format!("cdc-raw/{cfg}"), |b| {
            let data = input();
            b.iter(|| {
                let total: usize = chunker.spans(data).map(|span| span.length).sum();
                black_box(total)
            });
        });

        for (name, algorithm) in [
            ("eager-sha256", HashAlgorithm::Sha256),
            ("eager-blake3", HashAlgorithm::Blake3),
        ] {
            let options = ChunkOptions::new(config(sizes)).hash(Some(algorithm));
            group.bench_function(format!("{name}/{cfg}"), |b| {
                let data = input();
                b.iter(|| black_box(options.chunk_bytes(data.clone()).count()));
            });
        }

        let file_rows = [
            (
                "stream-file-sha256-read8M",
                Some(HashAlgorithm::Sha256),
                8 << 20,
            ),
            (
                "stream-file-sha256-read8K",
                Some(HashAlgorithm::Sha256),
                8 << 10,
            ),
            (
                "stream-file-blake3-read8M",
                Some(HashAlgorithm::Blake3),
                8 << 20,
            ),
            ("stream-file-none-read8M", None, 8 << 20),
        ];
        for (name, algorithm, read_size) in file_rows {
            let options = ChunkOptions::new(config(sizes)).hash(algorithm);
            group.bench_function(format!("{name}/{cfg}"), |b| {
                let path = file_path();
                b.iter(|| {
                    let file = fs::File::open(path).expect("opening the benchmark file");
                    let mut total = 0usize;
                    for chunk in options.stream(file).read_size(read_size) {
                        total += chunk.expect("reading the benchmark file").length;
                    }
                    assert_eq!(total, len);
                    black_box(total)
                });
            });
        }
    }
    group.finish();
}

fn bench_nix32(c: &mut Criterion) {
    let mut group = c.benchmark_group("nix32");
    group.throughput(Throughput::Elements(1));
    let digest = chunker::hash(HashAlgorithm::Sha256, b"nix32 benchmark input");
    let encoded = digest.to_nix32();
    assert_eq!(encoded.len(), 52);

    group.bench_function("digest-to-nix32", |b| {
        b.iter(|| black_box(&digest).to_nix32())
    });
    group.bench_function("encode-32", |b| {
        let bytes: &[u8; 32] = digest.as_bytes();
        b.iter(|| nix32::encode(black_box(bytes)))
    });
    group.bench_function("decode-52", |b| {
        b.iter(|| nix32::decode(black_box(&encoded)).expect("valid nix32"))
    });
    group.finish();
}

fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = criterion();
    targets = bench_cdc, bench_stream, bench_nix32
}
criterion_main!(benches);
