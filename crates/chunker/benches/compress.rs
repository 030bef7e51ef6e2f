//! Compression benchmarks on real NAR data, each with its peer in the same run.
//!
//! ```text
//! cargo bench -p chunker --bench compress                 # all groups
//! cargo bench -p chunker --bench compress -- 'zstd-64k/'  # one group
//! CHUNKER_BENCH_NAR_MIB=4 cargo bench -p chunker --bench compress -- --quick
//! ```
//!
//! Inputs are NARs of directories of this machine made with `nix-store --dump` (Nix run
//! offline), the first `CHUNKER_BENCH_NAR_MIB` MiB (default 8) of each; without
//! `nix-store` the benches fall back to `chunker-testdata` text/binary and say so.
//!
//! Groups (throughput in input bytes):
//! - `zstd-64k`: level 3 on 64 KiB chunks of `/usr/libexec` + `/usr/lib/git-core`:
//!   `chunker` (`Compressor::compress_into`, pooled context) vs a hand-written loop over
//!   one reused `zstd::bulk::Compressor` (`compress_to_buffer`).
//! - `zstd-4k`: level 3 on 4 KiB chunks: `chunker` vs a fresh encoder per call, bulk
//!   (`zstd::bulk::compress`) and streaming (`zstd::stream::encode_all`).
//! - `adaptive`: 64 KiB chunks, half already compressed (the `.gz` files under
//!   `/usr/share/doc`, concatenated), half text (NAR of `/usr/share/perl`): `Adaptive`
//!   vs always zstd level 3. Total output sizes are printed.
//! - `dict-16k`: held-out 16 KiB NAR chunks (`/usr/sbin`, `/usr/libexec`,
//!   `/usr/share/perl`, `/usr/lib/git-core`: none used to train the shipped dictionary),
//!   level 3, the shipped `nar-v1` dictionary vs none. Total sizes are printed.

use std::hint::black_box;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use chunker::compress::{Adaptive, Codec, Compressor, Dictionary};
use chunker_testdata::{generate, Kind};
use criterion::{criterion_group, Criterion, Throughput};

fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn mib() -> usize {
    let default = if bench_mode() { 8 } else { 1 };
    std::env::var("CHUNKER_BENCH_NAR_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The first `mib()` MiB of `nix-store --dump dir`, or `None` without Nix.
fn nar(dir: &str) -> Option<Vec<u8>> {
    let mut child = Command::new("nix-store")
        .args(["--dump", dir])
        .env(
            "NIX_CONFIG",
            "substituters =\nexperimental-features = nix-command",
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut out = Vec::new();
    child
        .stdout
        .take()?
        .take((mib() << 20) as u64)
        .read_to_end(&mut out)
        .ok()?;
    let _ = child.kill();
    let _ = child.wait();
    (!out.is_empty()).then_some(out)
}

fn nars(dirs: &[&str], fallback: Kind) -> Vec<u8> {
    let mut all = Vec::new();
    for d in dirs {
        match nar(d) {
            Some(n) => all.extend(n),
            None => {
                eprintln!(
                    "note: no NAR of {d} (nix-store missing?); using chunker-testdata {fallback:?}"
                );
                all.extend(generate(fallback, mib() << 20, all.len() as u64));
            }
        }
    }
    all
}

fn gz_files() -> Vec<u8> {
    let mut paths = Vec::new();
    let mut stack = vec![std::path::PathBuf::from("/usr/share/doc")];
    while let Some(p) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&p) else {
            continue;
        };
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() && !path.is_symlink() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "gz") {
                paths.push(path);
            }
        }
    }
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        if out.len() >= mib() << 20 {
            break;
        }
        out.extend(std::fs::read(p).unwrap_or_default());
    }
    if out.len() < mib() << 20 {
        eprintln!("note: few .gz files under /usr/share/doc; padding with random bytes");
        out.extend(generate(Kind::Random, (mib() << 20) - out.len(), 5));
    }
    out.truncate(mib() << 20);
    out
}

fn bulk_data() -> &'static [u8] {
    static D: OnceLock<Vec<u8>> = OnceLock::new();
    D.get_or_init(|| nars(&["/usr/libexec", "/usr/lib/git-core"], Kind::Binary))
}

fn held_out() -> &'static [u8] {
    static D: OnceLock<Vec<u8>> = OnceLock::new();
    D.get_or_init(|| {
        nars(
            &[
                "/usr/sbin",
                "/usr/libexec",
                "/usr/share/perl",
                "/usr/lib/git-core",
            ],
            Kind::Binary,
        )
    })
}

fn configure(c: &mut Criterion) -> Criterion {
    std::mem::take(c)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

fn zstd_bulk(c: &mut Criterion) {
    let data = bulk_data();
    let chunks: Vec<&[u8]> = data.chunks(64 << 10).collect();
    // The peers below write no content checksum (zstd's library default), so ours
    // leaves it out too here: the rows compare context handling, not the checksum.
    let ours = Compressor::new(Codec::Zstd).checksum(false);
    let mut g = c.benchmark_group("zstd-64k");
    g.throughput(Throughput::Bytes(data.len() as u64));
    let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(64 << 10));
    g.bench_function("chunker-compress_into", |b| {
        b.iter(|| {
            let mut total = 0;
            for ch in &chunks {
                out.clear();
                total += ours.compress_into(ch, &mut out).unwrap();
            }
            black_box(total)
        })
    });
    let mut z = zstd::bulk::Compressor::new(3).unwrap();
    let mut buf = Vec::with_capacity(zstd::zstd_safe::compress_bound(64 << 10));
    g.bench_function("reused-zstd-bulk-Compressor", |b| {
        b.iter(|| {
            let mut total = 0;
            for ch in &chunks {
                buf.clear();
                total += z.compress_to_buffer(ch, &mut buf).unwrap();
            }
            black_box(total)
        })
    });
    g.finish();

    let small: Vec<&[u8]> = data.chunks(4 << 10).collect();
    let mut g = c.benchmark_group("zstd-4k");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("chunker-compress_into", |b| {
        b.iter(|| {
            let mut total = 0;
            for ch in &small {
                out.clear();
                total += ours.compress_into(ch, &mut out).unwrap();
            }
            black_box(total)
        })
    });
    g.bench_function("fresh-stream-encoder-per-call", |b| {
        b.iter(|| {
            let mut total = 0;
            for ch in &small {
                total += zstd::stream::encode_all(*ch, 3).unwrap().len();
            }
            black_box(total)
        })
    });
    g.bench_function("fresh-encoder-per-call", |b| {
        b.iter(|| {
            let mut total = 0;
            for ch in &small {
                total += zstd::bulk::compress(ch, 3).unwrap().len();
            }
            black_box(total)
        })
    });
    g.finish();
}

fn adaptive(c: &mut Criterion) {
    let gz = gz_files();
    let text = nars(&["/usr/share/perl"], Kind::Text);
    let mut chunks: Vec<&[u8]> = Vec::new();
    for (a, b) in gz.chunks(64 << 10).zip(text.chunks(64 << 10)) {
        chunks.push(a);
        chunks.push(b);
    }
    let input: usize = chunks.iter().map(|c| c.len()).sum();
    let adaptive = Adaptive::new();
    let zstd3 = Compressor::new(Codec::Zstd);
    let mut out = Vec::with_capacity(128 << 10);
    let (mut size_a, mut size_z, mut stored) = (0usize, 0usize, 0usize);
    for ch in &chunks {
        out.clear();
        size_a += match adaptive.compress_into(ch, &mut out).unwrap() {
            Codec::None => {
                stored += 1;
                ch.len()
            }
            _ => out.len(),
        };
        out.clear();
        size_z += zstd3.compress_into(ch, &mut out).unwrap();
    }
    eprintln!(
        "adaptive: {} chunks, {input} B in; adaptive {size_a} B ({stored} stored), always-zstd {size_z} B",
        chunks.len()
    );
    let mut g = c.benchmark_group("adaptive");
    g.throughput(Throughput::Bytes(input as u64));
    g.bench_function("adaptive", |b| {
        b.iter(|| {
            let mut n = 0;
            for ch in &chunks {
                out.clear();
                n += adaptive.compress_into(ch, &mut out).unwrap() as usize;
            }
            black_box(n)
        })
    });
    g.bench_function("always-zstd-3", |b| {
        b.iter(|| {
            let mut n = 0;
            for ch in &chunks {
                out.clear();
                n += zstd3.compress_into(ch, &mut out).unwrap();
            }
            black_box(n)
        })
    });
    g.finish();
}

fn dictionary(c: &mut Criterion) {
    let data = held_out();
    let chunks: Vec<&[u8]> = data.chunks(16 << 10).collect();
    let plain = Compressor::new(Codec::Zstd);
    let dict = Compressor::new(Codec::Zstd)
        .dictionary(Dictionary::nar_v1())
        .unwrap();
    let mut out = Vec::with_capacity(32 << 10);
    let mut size = |c: &Compressor| {
        chunks
            .iter()
            .map(|ch| {
                out.clear();
                c.compress_into(ch, &mut out).unwrap()
            })
            .sum::<usize>()
    };
    let (p, d) = (size(&plain), size(&dict));
    eprintln!(
        "dict-16k: {} held-out chunks, {} B in; no dictionary {p} B, nar-v1 {d} B ({:.1} % smaller)",
        chunks.len(),
        data.len(),
        100.0 * (p as f64 - d as f64) / p as f64
    );
    let mut g = c.benchmark_group("dict-16k");
    g.throughput(Throughput::Bytes(data.len() as u64));
    for (name, comp) in [("no-dictionary", &plain), ("nar-v1", &dict)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut n = 0;
                for ch in &chunks {
                    out.clear();
                    n += comp.compress_into(ch, &mut out).unwrap();
                }
                black_box(n)
            })
        });
    }
    let prepared = zstd::dict::EncoderDictionary::copy(Dictionary::nar_v1().as_bytes(), 3);
    let mut z = zstd::bulk::Compressor::with_prepared_dictionary(&prepared).unwrap();
    let mut buf = Vec::with_capacity(32 << 10);
    g.bench_function("zstd-bulk-prepared-dictionary", |b| {
        b.iter(|| {
            let mut n = 0;
            for ch in &chunks {
                buf.clear();
                n += z.compress_to_buffer(ch, &mut buf).unwrap();
            }
            black_box(n)
        })
    });
    g.finish();
}

fn all(c: &mut Criterion) {
    let mut c = configure(c);
    zstd_bulk(&mut c);
    adaptive(&mut c);
    dictionary(&mut c);
}

/// Instruction counts instead of times, for a noisy machine: with
/// `CHUNKER_COMPRESS_ONLY=<case>` the binary runs one case `CHUNKER_COMPRESS_REPEAT`
/// times (default 20) and exits; run it under `valgrind --tool=callgrind` once with the
/// case and once with `none` (setup only) and subtract. Cases: `ours-64k`,
/// `bulk-64k`, `ours-4k`, `fresh-4k`, `fresh-stream-4k`, `adaptive`, `zstd-mix`, `plain-16k`, `dict-16k`.
/// `CHUNKER_COMPRESS_ONLY=a,b` times two cases interleaved (a, b, a, b, …) and prints
/// their medians and ratio.
fn only(case: &str) {
    let repeat: usize = std::env::var("CHUNKER_COMPRESS_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let bulk = bulk_data();
    let (c64, c4): (Vec<&[u8]>, Vec<&[u8]>) = (
        bulk.chunks(64 << 10).collect(),
        bulk.chunks(4 << 10).collect(),
    );
    let gz = gz_files();
    let text = nars(&["/usr/share/perl"], Kind::Text);
    let mix: Vec<&[u8]> = gz
        .chunks(64 << 10)
        .zip(text.chunks(64 << 10))
        .flat_map(|(a, b)| [a, b])
        .collect();
    let held = held_out();
    let c16: Vec<&[u8]> = held.chunks(16 << 10).collect();
    let ours = Compressor::new(Codec::Zstd);
    let dict = Compressor::new(Codec::Zstd)
        .dictionary(Dictionary::nar_v1())
        .unwrap();
    let adaptive = Adaptive::new();
    let mut z = zstd::bulk::Compressor::new(3).unwrap();
    let mut out = Vec::with_capacity(256 << 10);
    let mut n = 0usize;
    let mut run = |case: &str| match case {
        "ours-64k" => c64.iter().for_each(|c| {
            out.clear();
            n += ours.compress_into(c, &mut out).unwrap()
        }),
        "bulk-64k" => c64.iter().for_each(|c| {
            out.clear();
            n += z.compress_to_buffer(c, &mut out).unwrap()
        }),
        "ours-4k" => c4.iter().for_each(|c| {
            out.clear();
            n += ours.compress_into(c, &mut out).unwrap()
        }),
        "fresh-stream-4k" => c4
            .iter()
            .for_each(|c| n += zstd::stream::encode_all(*c, 3).unwrap().len()),
        "fresh-4k" => c4
            .iter()
            .for_each(|c| n += zstd::bulk::compress(c, 3).unwrap().len()),
        "adaptive" => mix.iter().for_each(|c| {
            out.clear();
            n += adaptive.compress_into(c, &mut out).unwrap() as usize
        }),
        "zstd-mix" => mix.iter().for_each(|c| {
            out.clear();
            n += ours.compress_into(c, &mut out).unwrap()
        }),
        "plain-16k" => c16.iter().for_each(|c| {
            out.clear();
            n += ours.compress_into(c, &mut out).unwrap()
        }),
        "dict-16k" => c16.iter().for_each(|c| {
            out.clear();
            n += dict.compress_into(c, &mut out).unwrap()
        }),
        _ => {}
    };
    if let Some((a, b)) = case.split_once(',') {
        // Interleaved timing: a, b, a, b, ... so that load hits both alike; medians.
        let (mut ta, mut tb) = (Vec::new(), Vec::new());
        for _ in 0..repeat {
            let t = std::time::Instant::now();
            run(a);
            ta.push(t.elapsed().as_secs_f64());
            let t = std::time::Instant::now();
            run(b);
            tb.push(t.elapsed().as_secs_f64());
        }
        ta.sort_by(f64::total_cmp);
        tb.sort_by(f64::total_cmp);
        let (ma, mb) = (ta[ta.len() / 2], tb[tb.len() / 2]);
        println!(
            "{a}: median {:.2} ms; {b}: median {:.2} ms; {b}/{a} = {:.3}",
            ma * 1e3,
            mb * 1e3,
            mb / ma
        );
        return;
    }
    for _ in 0..repeat {
        run(case);
    }
    println!("{case}: {n}");
}

criterion_group!(benches, all);

fn main() {
    if let Ok(case) = std::env::var("CHUNKER_COMPRESS_ONLY") {
        only(&case);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
