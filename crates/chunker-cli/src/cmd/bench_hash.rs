//! `chunker bench hash`: SHA-256 lanes next to the `sha2` and `blake3` crates.
//!
//! Every row hashes the same messages (64 KiB, then 1 MiB) one by one or in lanes;
//! rows are measured interleaved (each row once, then again, `--repeat` times) so the
//! noise of a shared machine hits them alike, and the median is reported.

use std::hint::black_box;
use std::io::{Read, Write};
use std::time::Instant;

use anyhow::{anyhow, Context};
use chunker::sha256::Kernel;
use serde_json::{json, Value};
use sha2::Digest as _;

use crate::cli::{BenchFormat, BenchHashArgs};
use crate::error::{write_err, Code, Result, WithCode};
use crate::output;

/// Message sizes measured.
const SIZES: [usize; 2] = [64 << 10, 1 << 20];
/// Lane counts measured for each lane kernel.
const LANES: [usize; 5] = [1, 2, 3, 4, 8];
/// The most of FILE read.
const FILE_CAP: u64 = 64 << 20;

/// How one row hashes a batch of messages.
#[derive(Clone, Copy)]
enum Method {
    Sha2Crate,
    Lanes(Kernel, usize),
    Blake3Crate,
}

impl Method {
    fn name(self) -> String {
        match self {
            Method::Sha2Crate => "sha2-crate".into(),
            Method::Lanes(k, n) => format!("sha256x{n}:{k}"),
            Method::Blake3Crate => "blake3-crate".into(),
        }
    }

    fn run(self, msgs: &[&[u8]]) -> u8 {
        match self {
            Method::Sha2Crate => msgs.iter().fold(0, |a, m| a ^ sha2::Sha256::digest(m)[0]),
            Method::Lanes(k, n) => k.digest_many_lanes(n, msgs).iter().fold(0, |a, d| a ^ d[0]),
            Method::Blake3Crate => msgs.iter().fold(0, |a, m| {
                a ^ chunker::hash(chunker::HashAlgorithm::Blake3, m).as_bytes()[0]
            }),
        }
    }
}

pub fn run(args: BenchHashArgs) -> Result<()> {
    let total = args.size.max(SIZES[SIZES.len() - 1]);
    let (data, source) = data(&args, total)?;
    let kernel = Kernel::fastest();
    let mut methods = vec![Method::Sha2Crate];
    methods.extend(LANES.iter().map(|&n| Method::Lanes(kernel, n)));
    methods.push(Method::Blake3Crate);
    // The other lane kernels this CPU has (slower, never detected), after the rest.
    for other in Kernel::available().filter(|k| *k != kernel && *k != Kernel::Portable) {
        methods.extend(LANES.iter().map(|&n| Method::Lanes(other, n)));
    }

    let mut results = Vec::new();
    let mut ratios = serde_json::Map::new();
    for size in SIZES {
        let msgs: Vec<&[u8]> = data.chunks_exact(size).collect();
        let bytes = (msgs.len() * size) as f64;
        let mut runs = vec![Vec::new(); methods.len()];
        for _ in 0..args.repeat {
            for (m, r) in methods.iter().zip(&mut runs) {
                let t = Instant::now();
                black_box(m.run(black_box(&msgs)));
                r.push(bytes / t.elapsed().as_secs_f64() / 1e9);
            }
        }
        let medians: Vec<f64> = runs.iter_mut().map(|r| median(r)).collect();
        for ((m, r), med) in methods.iter().zip(&runs).zip(&medians) {
            results.push(json!({
                "name": m.name(),
                "size": size,
                "messages": msgs.len(),
                "gbps": med,
                "gbps_min": r[0],
                "gbps_max": r[r.len() - 1],
                "vs_sha2_crate": med / medians[0],
            }));
        }
        let best = medians[1..=LANES.len()].iter().copied().fold(0.0, f64::max);
        ratios.insert(
            format!("best_lanes_vs_sha2_crate_{}K", size >> 10),
            json!(best / medians[0]),
        );
    }
    let mut out = output::stdout();
    match args.format {
        BenchFormat::Json => writeln!(
            out,
            "{}",
            json!({
                "bench": "hash",
                "cpu": super::bench::cpu_model(),
                "data": source,
                "kernel": kernel.name(),
                "repeat": args.repeat,
                "results": results,
                "ratios": Value::Object(ratios),
            })
        ),
        BenchFormat::Text => {
            let mut s = format!(
                "# bench hash: {source}, kernel {kernel}, median of {}\n",
                args.repeat
            );
            for r in &results {
                s += &format!(
                    "{:<20} {:>5} KiB  {:6.3} GB/s ({:.3}..{:.3})  {:.2}x sha2-crate\n",
                    r["name"].as_str().unwrap_or(""),
                    r["size"].as_u64().unwrap_or(0) >> 10,
                    r["gbps"].as_f64().unwrap_or(0.0),
                    r["gbps_min"].as_f64().unwrap_or(0.0),
                    r["gbps_max"].as_f64().unwrap_or(0.0),
                    r["vs_sha2_crate"].as_f64().unwrap_or(0.0),
                );
            }
            write!(out, "{s}")
        }
    }
    .map_err(write_err)?;
    out.flush().map_err(write_err)
}

/// `total` bytes: FILE's first bytes (repeated when it is shorter), or random bytes.
fn data(args: &BenchHashArgs, total: usize) -> Result<(Vec<u8>, String)> {
    let Some(path) = &args.file else {
        return Ok((
            chunker_testdata::generate(chunker_testdata::Kind::Random, total, 42),
            "random".into(),
        ));
    };
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(FILE_CAP.min(total as u64)).read_to_end(&mut head))
        .with_context(|| format!("cannot read {}", path.display()))
        .code(Code::Io)?;
    if head.is_empty() {
        return Err(anyhow!("{} is empty: nothing to measure", path.display())).code(Code::Data);
    }
    let data: Vec<u8> = head.iter().copied().cycle().take(total).collect();
    Ok((data, path.display().to_string()))
}

/// Sorts `v` and returns its median.
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}
