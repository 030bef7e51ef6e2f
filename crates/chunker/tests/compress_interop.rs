//! Interoperability with the reference command-line tools (Debian packages `zstd`,
//! `xz-utils`, `bzip2`, `lz4`; `scripts/setup.sh` installs them): their streams decode
//! with ours, ours decode with theirs. A missing tool skips its cases with a message.

use std::io::Write;
use std::process::{Command, Stdio};

use chunker::compress::{Codec, CompressionError, Compressor, Decompressor};
use chunker_testdata::{generate, Kind};

fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        eprintln!(
            "SKIP: `{tool}` not installed (run scripts/setup.sh); its interop cases are skipped"
        );
    }
    ok
}

/// Run `tool args` with `input` on stdin; stdout.
fn pipe(tool: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn inputs() -> Vec<Vec<u8>> {
    let mut mixed = generate(Kind::Text, 200_000, 1);
    mixed.extend(generate(Kind::Binary, 150_000, 2));
    mixed.extend(generate(Kind::Random, 50_000, 3));
    vec![
        Vec::new(),
        b"x".to_vec(),
        generate(Kind::Text, 1000, 4),
        mixed,
    ]
}

fn theirs_to_ours(tool: &str, codec: Codec, variants: &[&[&str]]) {
    if !have(tool) {
        return;
    }
    for data in inputs() {
        for args in variants {
            let frame = pipe(tool, args, &data);
            let back = Decompressor::new()
                .decompress(&frame)
                .unwrap_or_else(|e| panic!("{tool} {args:?}: {e}"));
            assert_eq!(back, data, "{tool} {args:?} len {}", data.len());
            let back = Decompressor::new().codec(codec).decompress(&frame).unwrap();
            assert_eq!(back, data);
            let mut r = Decompressor::new().reader(&frame[..]).unwrap();
            let mut v = Vec::new();
            std::io::copy(&mut r, &mut v).unwrap();
            assert_eq!(v, data);
            // Their stream, cut short, is an error for us.
            if frame.len() > 1 {
                let r = Decompressor::new()
                    .codec(codec)
                    .decompress(&frame[..frame.len() - 1]);
                assert!(
                    matches!(
                        r,
                        Err(CompressionError::Truncated { .. } | CompressionError::Corrupt { .. })
                    ),
                    "{tool} {args:?} truncated: {:?}",
                    r.map(|v| v.len())
                );
            }
        }
    }
}

fn ours_to_theirs(tool: &str, codec: Codec) {
    if !have(tool) {
        return;
    }
    for data in inputs() {
        for level in [
            *codec.levels().start(),
            codec.default_level(),
            *codec.levels().end(),
        ] {
            let c = Compressor::with_level(codec, level).unwrap();
            let one = c.compress(&data).unwrap();
            assert_eq!(
                pipe(tool, &["-d", "-c"], &one),
                data,
                "{tool} -d of ours, level {level}"
            );
            let mut w = c.writer(Vec::new()).unwrap();
            for piece in data.chunks(3000) {
                w.write_all(piece).unwrap();
            }
            let streamed = w.finish().unwrap();
            assert_eq!(
                pipe(tool, &["-d", "-c"], &streamed),
                data,
                "{tool} -d of our stream"
            );
        }
    }
}

#[test]
fn zstd_cli() {
    theirs_to_ours(
        "zstd",
        Codec::Zstd,
        &[
            &["-c", "-q"],
            &["-1", "-c", "-q"],
            &["-19", "-c", "-q"],
            &["--no-check", "-c", "-q"],
            &["--ultra", "-22", "-c", "-q"],
        ],
    );
    ours_to_theirs("zstd", Codec::Zstd);
}

#[test]
fn xz_cli() {
    theirs_to_ours(
        "xz",
        Codec::Xz,
        &[
            &["-c"],
            &["-0", "-c"],
            &["-9", "-c"],
            &["-e", "-c"],
            &["--check=sha256", "-c"],
            &["--check=none", "-c"],
            &["-T2", "--block-size=65536", "-c"],
        ],
    );
    ours_to_theirs("xz", Codec::Xz);
}

#[test]
fn xz_levels_match_the_cli_closely() {
    // Our xz at level N is real LZMA2 at preset N: the same size as `xz -N` within 1 %.
    if !have("xz") {
        return;
    }
    let data = generate(Kind::Text, 300_000, 9);
    for level in [0, 6, 9] {
        let ours = Compressor::with_level(Codec::Xz, level)
            .unwrap()
            .compress(&data)
            .unwrap();
        let theirs = pipe("xz", &[&format!("-{level}"), "-c"], &data);
        let (a, b) = (ours.len() as f64, theirs.len() as f64);
        assert!(
            (a - b).abs() / b < 0.01,
            "level {level}: ours {a} vs xz {b}"
        );
        assert!(a < data.len() as f64 / 3.0);
    }
}

#[test]
fn bzip2_cli() {
    theirs_to_ours(
        "bzip2",
        Codec::Bzip2,
        &[&["-c"], &["-1", "-c"], &["-9", "-c"]],
    );
    ours_to_theirs("bzip2", Codec::Bzip2);
}

#[test]
fn lz4_cli() {
    theirs_to_ours(
        "lz4",
        Codec::Lz4,
        &[
            &["-c", "-q"],
            &["-9", "-c", "-q"],
            &["-BD", "-c", "-q"],
            &["-BX", "-c", "-q"],
            &["-B4", "-BD", "-c", "-q"],
            &["--content-size", "-c", "-q"],
            &["--no-frame-crc", "-c", "-q"],
        ],
    );
    ours_to_theirs("lz4", Codec::Lz4);
}

#[test]
fn concatenated_cli_streams() {
    for (tool, codec) in [
        ("zstd", Codec::Zstd),
        ("xz", Codec::Xz),
        ("bzip2", Codec::Bzip2),
        ("lz4", Codec::Lz4),
    ] {
        if !have(tool) {
            continue;
        }
        let (a, b) = (
            generate(Kind::Text, 5000, 1),
            generate(Kind::Binary, 7000, 2),
        );
        let mut frame = pipe(tool, &["-c"], &a);
        frame.extend(Compressor::new(codec).compress(&b).unwrap());
        let mut want = a.clone();
        want.extend_from_slice(&b);
        assert_eq!(
            Decompressor::new().decompress(&frame).unwrap(),
            want,
            "{tool}"
        );
        assert_eq!(pipe(tool, &["-d", "-c"], &frame), want, "{tool} -d");
    }
}
