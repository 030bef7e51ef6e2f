//! Peak resident memory of the pipeline over a long generated stream with a consumer
//! that sleeps on every chunk: at most the budget plus 32 MiB (issue 11).
//!
//! The workload runs in a child process (this test binary, re-run with
//! `CHUNKER_RSS_CHILD` set), which prints its `VmHWM` from `/proc/self/status`: the peak
//! then covers the pipeline only, not the other tests. `CHUNKER_RSS_BYTES` sets the
//! stream's length (default 1 GiB; `docs/BENCHMARKS.md` records a 4 GiB run).

use std::io::Read;
use std::process::Command;
use std::time::Duration;

use chunker::pipeline::{Pipeline, DEFAULT_BUDGET};
use chunker::{ChunkOptions, HashAlgorithm, Preset};

/// `len` pseudo-random bytes, generated as they are read (no buffer of that size).
struct Generated {
    left: u64,
    state: u64,
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        for word in buf[..n].chunks_mut(8) {
            // xorshift64
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            word.copy_from_slice(&self.state.to_le_bytes()[..word.len()]);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmHWM line")
}

fn child(len: u64) {
    let before = vm_hwm_kib();
    let options = ChunkOptions::new(Preset::Medium.config()).hash(Some(HashAlgorithm::Sha256));
    let pipeline = Pipeline::new(options)
        .threads(2)
        .stream_digest(HashAlgorithm::Sha256);
    let mut total = 0u64;
    let mut chunks = pipeline
        .reader(Generated {
            left: len,
            state: 0x9e37_79b9_7f4a_7c15,
        })
        .expect("starts");
    for c in chunks.by_ref() {
        total += c.expect("no error").length as u64;
        std::thread::sleep(Duration::from_micros(100));
    }
    assert_eq!(total, len);
    assert_eq!(chunks.summary().expect("summary").length, len);
    println!("RSS before={before} peak={}", vm_hwm_kib());
}

#[test]
fn peak_rss_with_a_sleeping_consumer_stays_within_budget_plus_32_mib() {
    if let Ok(len) = std::env::var("CHUNKER_RSS_CHILD") {
        child(len.parse().expect("a length"));
        return;
    }
    let len: u64 = std::env::var("CHUNKER_RSS_BYTES")
        .ok()
        .map_or(1 << 30, |v| {
            v.parse().expect("CHUNKER_RSS_BYTES: a byte count")
        });
    let out = Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "--exact",
            "peak_rss_with_a_sleeping_consumer_stays_within_budget_plus_32_mib",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CHUNKER_RSS_CHILD", len.to_string())
        .output()
        .expect("the child runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("RSS ").map(|(_, r)| r))
        .expect("the child reports its peak");
    let field = |name: &str| -> u64 {
        line.split_whitespace()
            .find_map(|f| f.strip_prefix(name))
            .and_then(|v| v.parse().ok())
            .expect("a number")
    };
    let peak = field("peak=") * 1024;
    let bound = (DEFAULT_BUDGET + (32 << 20)) as u64;
    println!(
        "{len} bytes: peak RSS {} MiB (before the pipeline {} MiB), bound {} MiB",
        peak >> 20,
        (field("before=") * 1024) >> 20,
        bound >> 20
    );
    assert!(peak <= bound, "peak RSS {peak} > budget + 32 MiB = {bound}");
}
