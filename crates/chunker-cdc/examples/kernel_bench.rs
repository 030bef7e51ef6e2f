//! Quick single-core throughput of every available kernel:
//! `cargo run --release -p chunker-cdc --example kernel_bench -- [MiB] [repeat] [kernel]`.
//! Prints GB/s (best of `repeat`, kernels interleaved) per data kind and preset. For callgrind, pass a kernel name to
//! run only that kernel once (`fastcdc` runs the fastcdc crate instead).

use chunker_cdc::{Chunker, Kernel, Preset};
use chunker_testdata::{generate, Kind};

/// This thread's CPU time in seconds: the machine is shared, so wall time is noisy.
fn cpu_time() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0);
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mib: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(32);
    let repeat: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    let only = args.get(3).map(String::as_str);
    if only == Some("fastcdc") {
        // The peer, for instruction counts under callgrind.
        for kind in Kind::ALL {
            let data = generate(kind, mib << 20, 42);
            for preset in [Preset::Small, Preset::Medium] {
                let c = preset.config();
                let n = fastcdc::v2020::FastCDC::new(
                    &data,
                    c.min_size() as u32,
                    c.avg_size() as u32,
                    c.max_size() as u32,
                )
                .count();
                println!("{:<7} {:<7} fastcdc chunks={n}", kind.name(), preset.name());
            }
        }
        return;
    }
    let only: Option<Kernel> = only.map(|s| s.parse().expect("kernel name"));
    let kernels: Vec<Kernel> = match only {
        Some(k) => vec![k],
        None => Kernel::available().collect(),
    };
    for kind in Kind::ALL {
        let data = generate(kind, mib << 20, 42);
        for preset in [Preset::Small, Preset::Medium] {
            let mut line = format!("{:<7} {:<7}", kind.name(), preset.name());
            let mut counts = Vec::new();
            // Interleave the kernels and keep the best run: the machine is shared.
            let mut best = vec![f64::INFINITY; kernels.len()];
            for _ in 0..repeat {
                for (i, &k) in kernels.iter().enumerate() {
                    let chunker = Chunker::with_kernel(preset.config(), k).expect("available");
                    let t = cpu_time();
                    counts.push(chunker.spans(&data).count());
                    best[i] = best[i].min(cpu_time() - t);
                }
            }
            for (k, t) in kernels.iter().zip(&best) {
                line += &format!("  {k}={:.2}", data.len() as f64 / t / 1e9);
            }
            if counts.is_empty() {
                continue;
            }
            assert!(counts.windows(2).all(|w| w[0] == w[1]), "kernels disagree");
            println!("{line}  chunks={}", counts[0]);
        }
    }
}
