//! `chunker bench async`: a small smoke run has the rows and fields the issue asks for.

use std::process::Command;

#[test]
fn json_rows_and_fields() {
    let out = Command::new(env!("CARGO_BIN_EXE_chunker"))
        .args([
            "bench", "async", "--size", "8M", "--repeat", "1", "--format", "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = doc["results"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "async:sha256",
            "async-rayon:sha256",
            "naive:sha256",
            "idle:ticker",
            "sync:sha256"
        ]
    );
    for i in [0, 1, 2, 4] {
        assert!(rows[i]["gbps"].as_f64().unwrap() > 0.0, "{}", rows[i]);
    }
    for r in &rows[..4] {
        for t in ["", "clock_"] {
            let worst = r[format!("{t}worst_lag_ms")].as_f64().unwrap();
            let p99 = r[format!("{t}p99_lag_ms")].as_f64().unwrap();
            let median = r[format!("{t}median_lag_ms")].as_f64().unwrap();
            assert!(worst >= p99 && p99 >= median && median >= 0.0, "{r}");
            assert!(r[format!("{t}ticks")].as_u64().unwrap() > 0, "{r}");
        }
        // The runtime's worker ran (its counters come from /proc on Linux).
        if cfg!(target_os = "linux") {
            assert!(r["worker"]["cpu_ms"].as_f64().unwrap() > 0.0, "{r}");
        }
    }
    // The stream's polls, timed on the worker: the naive peer hashes inside them.
    for r in &rows[..3] {
        let max = r["max_poll_us"].as_f64().unwrap();
        let p99 = r["p99_poll_us"].as_f64().unwrap();
        assert!(max >= p99 && p99 > 0.0, "{r}");
        assert!(r["max_poll_wall_us"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["polls"].as_u64().unwrap() > 0, "{r}");
    }
    assert!(rows[3].get("max_poll_us").is_none(), "idle: no stream");
    // Only the offloading rows use a second thread for the CPU work.
    if cfg!(target_os = "linux") {
        let offload = |i: usize| rows[i]["offload"]["cpu_ms"].as_f64().unwrap();
        assert!(offload(2) < offload(0), "{} {}", rows[0], rows[2]);
    }
    assert_eq!(doc["bytes"], 8 << 20);
}

#[test]
fn bad_size_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_chunker"))
        .args(["bench", "async", "--size", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
