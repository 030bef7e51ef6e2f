//! `chunker chunk` on the pipeline: the same rows whatever `--threads`, `--compress`
//! sizes that match the library's, exit codes.

mod common;

use chunker::compress::{Codec, Compressor};
use chunker::{ChunkOptions, Preset};
use chunker_testdata::support::TempDir;
use chunker_testdata::{generate, Kind};
use common::{run, s, stderr, stdout};

/// The output without the timing figures of the summary.
fn rows(args: &[&str]) -> String {
    let o = run(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    let out = stdout(&o);
    out.lines()
        .map(|l| {
            if l.starts_with("# chunks") {
                // "…, 0.123 s, 45.6 MB/s; …"
                let mut parts: Vec<&str> = l.split(", ").collect();
                parts.retain(|p| !p.ends_with(" s") && !p.contains("MB/s"));
                parts.join(", ")
            } else if let Some(j) = l.strip_prefix("],\"summary\":") {
                let mut v: serde_json::Value =
                    serde_json::from_str(j.strip_suffix('}').unwrap()).unwrap();
                v["seconds"] = 0.into();
                v["mb_per_s"] = 0.into();
                v.to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn output_is_the_same_whatever_the_threads() {
    let dir = TempDir::new("cli-pipeline");
    let data = generate(Kind::Text, 6_000_000, 3);
    let f = dir.file("in", &data);
    for extra in [
        &["--preset", "small", "--stream-hash", "sha256"][..],
        &["--preset", "small", "--format", "csv", "--hash", "blake3"],
        &[
            "--min",
            "1K",
            "--avg",
            "4K",
            "--max",
            "16K",
            "--format",
            "json",
            "--encoding",
            "nix32",
        ],
    ] {
        let mut base = vec!["chunk", s(&f), "--no-progress", "--no-read-ahead"];
        base.extend_from_slice(extra);
        let serial = rows(&base);
        assert!(serial.lines().count() > 20);
        for t in ["1", "2", "5"] {
            let mut args = vec!["chunk", s(&f), "--no-progress", "--threads", t];
            args.extend_from_slice(extra);
            assert_eq!(rows(&args), serial, "--threads {t} {extra:?}");
        }
    }
}

#[test]
fn compress_adds_sizes_equal_to_the_library() {
    let dir = TempDir::new("cli-pipeline-z");
    let data = generate(Kind::Text, 3_000_000, 4);
    let f = dir.file("in", &data);
    let o = run(&[
        "chunk",
        s(&f),
        "--preset",
        "small",
        "--compress",
        "zstd:7",
        "--threads",
        "2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let c = Compressor::with_level(Codec::Zstd, 7).unwrap();
    let mut total = 0;
    let mut n = 0;
    for (line, chunk) in out
        .lines()
        .zip(ChunkOptions::new(Preset::Small.config()).chunk_slice(&data))
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let z = c.compress(chunk.data).unwrap().len();
        assert_eq!(cols[0], chunk.info.offset.to_string());
        assert_eq!(cols[3], z.to_string(), "{line}");
        total += z;
        n += 1;
    }
    assert_eq!(out.lines().count(), n + 1);
    let summary = out.lines().last().unwrap();
    let ratio = total as f64 / data.len() as f64;
    assert!(
        summary.contains(&format!("; zstd {total} ({ratio:.3})")),
        "{summary}"
    );
}

#[test]
fn bad_compress_values_are_usage_errors() {
    for v in ["gzip", "zstd:99", "zstd:x", "none"] {
        let o = run(&["chunk", "-", "--compress", v]);
        assert_eq!(o.status.code(), Some(2), "{v}: {}", stderr(&o));
    }
}

#[test]
fn a_bad_threshold_variable_is_a_usage_error() {
    let dir = TempDir::new("cli-pipeline-env");
    let f = dir.file("in", b"hello");
    let o = common::bin()
        .args(["chunk", s(&f), "--threads", "2"])
        .env("CHUNKER_PARALLEL_THRESHOLD", "many")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("CHUNKER_PARALLEL_THRESHOLD=\"many\""), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
}
