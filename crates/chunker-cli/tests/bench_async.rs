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
        let worst = r["worst_lag_ms"].as_f64().unwrap();
        let p99 = r["p99_lag_ms"].as_f64().unwrap();
        assert!(worst >= p99 && p99 >= 0.0, "{r}");
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
