//! Throughput of every lane count against the `sha2` crate, same run, alternating
//! rounds, medians: `cargo run --release -p chunker-sha256 --example lanes [SIZE] [ROUNDS] [TOTAL]`
//! (TOTAL bytes per row, default 64 MiB; small for `valgrind --tool=callgrind`).

use std::time::Instant;

use chunker_sha256::{Kernel, MAX_LANES};
use sha2::Digest as _;

fn main() {
    let mut args = std::env::args().skip(1);
    let size: usize = args.next().map_or(64 << 10, |s| s.parse().expect("SIZE"));
    let rounds: usize = args.next().map_or(9, |s| s.parse().expect("ROUNDS"));
    let kernels: Vec<Kernel> = Kernel::available()
        .filter(|k| *k != Kernel::Portable)
        .collect();
    let total: usize = args.next().map_or(64 << 20, |s| s.parse().expect("TOTAL"));
    let count = (total / size.max(1)).max(1);
    let data: Vec<u8> = (0..size * count)
        .map(|i| ((i * 2_654_435_761) >> 13) as u8)
        .collect();
    let msgs: Vec<&[u8]> = data.chunks(size).collect();
    let mut rows: Vec<(String, Vec<f64>)> = vec![("sha2-crate".into(), vec![])];
    let mut runs = vec![];
    for &kernel in &kernels {
        for lanes in 1..=MAX_LANES {
            rows.push((format!("{kernel}x{lanes}"), vec![]));
            runs.push((kernel, lanes));
        }
    }
    let mut sink = 0u8;
    for _ in 0..rounds {
        let t = Instant::now();
        for m in &msgs {
            sink ^= sha2::Sha256::digest(m)[0];
        }
        rows[0]
            .1
            .push(data.len() as f64 / t.elapsed().as_secs_f64() / 1e9);
        for (&(kernel, lanes), row) in runs.iter().zip(rows.iter_mut().skip(1)) {
            let t = Instant::now();
            sink ^= kernel.digest_many_lanes(lanes, &msgs)[0][0];
            row.1
                .push(data.len() as f64 / t.elapsed().as_secs_f64() / 1e9);
        }
    }
    let base = median(&mut rows[0].1.clone());
    println!("message {size} bytes, {count} messages, {rounds} rounds (sink {sink})");
    for (name, v) in &mut rows {
        let m = median(v);
        println!("{name:16} {m:6.3} GB/s  {:.2}x sha2", m / base);
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
