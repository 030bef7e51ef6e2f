//! Run the built `chunker` binary as a user would.

mod common;
use common::{bin, run, s, stderr, stdout};

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use chunker_testdata::support::TempDir;
use chunker_testdata::{generate, Kind};

fn reference(data: &[u8], min: u32, avg: u32, max: u32) -> Vec<(usize, usize)> {
    fastcdc::v2020::FastCDC::new(data, min, avg, max)
        .map(|c| (c.offset, c.length))
        .collect()
}

fn sha256_hex(data: &[u8]) -> String {
    chunker::hash(chunker::HashAlgorithm::Sha256, data).to_hex()
}

#[test]
fn chunk_text_rows_match_reference_and_summary() {
    let dir = TempDir::new("text");
    let data = generate(Kind::Text, 3_000_000, 1);
    let f = dir.file("in.txt", &data);
    let args = [
        "chunk",
        s(&f),
        "--min",
        "16K",
        "--avg",
        "64K",
        "--max",
        "256K",
    ];
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines: Vec<&str> = out.lines().collect();
    let summary = lines.pop().unwrap();
    let expected = reference(&data, 16384, 65536, 262144);
    assert_eq!(lines.len(), expected.len());
    for (line, (off, len)) in lines.iter().zip(&expected) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols[0], off.to_string());
        assert_eq!(cols[1], len.to_string());
        assert_eq!(cols[2], sha256_hex(&data[*off..off + len]));
    }
    assert!(
        summary.starts_with(&format!("# chunks {}, bytes 3000000", expected.len())),
        "{summary}"
    );
    assert!(summary.contains("MB/s"));
    // Reading on this thread only gives the same rows (read-ahead is the default).
    let o = run(&[&args[..], &["--no-read-ahead", "--read-size", "100K"]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let plain = stdout(&o);
    let mut plain: Vec<&str> = plain.lines().collect();
    plain.pop();
    assert_eq!(plain, lines);
}

#[test]
fn chunk_csv_and_json_formats() {
    let dir = TempDir::new("fmt");
    let data = generate(Kind::Binary, 1_000_000, 2);
    let f = dir.file("in.bin", &data);
    let expected = reference(&data, 4096, 16384, 65536);

    let o = run(&[
        "chunk",
        s(&f),
        "--format",
        "csv",
        "--min",
        "4K",
        "--avg",
        "16K",
        "--max",
        "64K",
        "--hash",
        "blake3",
        "--encoding",
        "nix32",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("offset,length,digest"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), expected.len());
    let (off, len) = expected[1];
    let d = chunker::hash(chunker::HashAlgorithm::Blake3, &data[off..off + len]).to_nix32();
    assert_eq!(rows[1], format!("{off},{len},{d}"));

    let o = run(&[
        "chunk",
        s(&f),
        "--format",
        "json",
        "--min",
        "4K",
        "--avg",
        "16K",
        "--max",
        "64K",
        "--hash",
        "none",
        "--stream-hash",
        "sha256",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    let chunks = v["chunks"].as_array().unwrap();
    assert_eq!(chunks.len(), expected.len());
    assert_eq!(chunks[0]["offset"], 0);
    assert_eq!(chunks[0]["length"], expected[0].1);
    assert!(chunks[0]["digest"].is_null());
    assert_eq!(v["summary"]["count"], expected.len());
    assert_eq!(v["summary"]["bytes"], 1_000_000);
    assert_eq!(
        v["summary"]["stream_digest"],
        chunker::hash(chunker::HashAlgorithm::Sha256, &data).to_nix_string()
    );
}

#[test]
fn chunk_reads_stdin_and_empty_input() {
    let data = generate(Kind::Random, 500_000, 3);
    let mut child = bin()
        .args(["chunk", "-", "--preset", "small", "--format", "csv"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = {
        let data = data.clone();
        std::thread::spawn(move || {
            for piece in data.chunks(777) {
                stdin.write_all(piece).unwrap();
            }
        })
    };
    let o = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert!(o.status.success());
    let rows = stdout(&o).lines().count() - 1;
    assert_eq!(rows, reference(&data, 16384, 65536, 262144).len());

    let dir = TempDir::new("empty");
    let f = dir.file("empty", b"");
    for fmt in ["text", "csv", "json"] {
        let o = run(&["chunk", s(&f), "--format", fmt]);
        assert!(o.status.success(), "{fmt}: {}", stderr(&o));
    }
    let o = run(&["chunk", s(&f), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["chunks"].as_array().unwrap().len(), 0);
}

#[test]
fn hash_matches_nix_vectors_and_encodings() {
    let dir = TempDir::new("hash");
    let empty = dir.file("empty", b"");
    let o = run(&["hash", s(&empty)]);
    assert_eq!(
        stdout(&o).trim(),
        "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"
    );
    let abc = dir.file("abc", b"abc");
    assert_eq!(
        stdout(&run(&["hash", s(&abc)])).trim(),
        "1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s"
    );
    assert_eq!(
        stdout(&run(&["hash", s(&abc), "--encoding", "hex"])).trim(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        stdout(&run(&["hash", s(&empty), "--encoding", "sri"])).trim(),
        "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    );
    let o = run(&["hash", s(&abc), "--algo", "blake3", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["algorithm"], "blake3");
    assert_eq!(v["size"], 3);
    assert_eq!(
        v["digest"],
        chunker::hash(chunker::HashAlgorithm::Blake3, b"abc").to_nix32()
    );
}

#[test]
fn hash_agrees_with_real_nix_hash() {
    if Command::new("nix-hash").arg("--version").output().is_err() {
        eprintln!("skipped: nix-hash not installed (run scripts/setup.sh)");
        return;
    }
    let dir = TempDir::new("nixhash");
    for (i, len) in [0usize, 1, 55, 56, 64, 1000, 123_457]
        .into_iter()
        .enumerate()
    {
        let f = dir.file(&format!("f{i}"), &generate(Kind::Random, len, i as u64));
        let nix = Command::new("nix-hash")
            .args(["--type", "sha256", "--flat", "--base32", s(&f)])
            .output()
            .unwrap();
        assert!(nix.status.success());
        assert_eq!(stdout(&run(&["hash", s(&f)])), stdout(&nix), "len {len}");
    }
}

#[test]
fn base32_encode_decode() {
    assert_eq!(
        stdout(&run(&["base32", "encode", "--hex", "1f"])).trim(),
        "0z"
    );
    assert_eq!(
        stdout(&run(&[
            "base32",
            "encode",
            "--hex",
            "8a12321522fd91efbd60ebb2481af88580f61600"
        ]))
        .trim(),
        "00bgd045z0d4icpbc2yyz4gx48ak44la"
    );
    assert_eq!(
        stdout(&run(&[
            "base32",
            "decode",
            "00bgd045z0d4icpbc2yyz4gx48ak44la"
        ]))
        .trim(),
        "8a12321522fd91efbd60ebb2481af88580f61600"
    );
    let o = run(&["base32", "decode", "0z", "--raw"]);
    assert_eq!(o.stdout, vec![0x1f]);
    let dir = TempDir::new("b32");
    let f = dir.file("abc", b"abc");
    assert_eq!(
        stdout(&run(&["base32", "encode", s(&f)])).trim(),
        chunker::hash::nix32::encode(b"abc")
    );
    for bad in ["0e", "8z", "0", "ZZ"] {
        let o = run(&["base32", "decode", bad]);
        assert_eq!(o.status.code(), Some(4), "{bad}: {}", stderr(&o));
        assert!(stderr(&o).starts_with("chunker: error:"), "{}", stderr(&o));
    }
    assert_eq!(
        run(&["base32", "encode", "--hex", "abc"]).status.code(),
        Some(4)
    );
    assert_eq!(
        run(&["base32", "encode", "--hex", "zz"]).status.code(),
        Some(4)
    );
}

#[test]
fn errors_have_distinct_exit_codes_and_no_panics() {
    let dir = TempDir::new("err");
    let f = dir.file("x", &generate(Kind::Random, 10_000, 4));
    let empty = dir.file("empty", b"");
    let cases: &[(&[&str], i32)] = &[
        (&["chunk", "/nonexistent/file"], 3),
        (&["chunk", "/"], 3),
        (&["hash", "/nonexistent/file"], 3),
        (&["hash", "--nar", "/nonexistent/file"], 3),
        (&["nar", "unpack", s(&f), "/nonexistent/dir/out"], 4),
        (&["chunk", s(&f), "--min", "10"], 5),
        (&["chunk", s(&f), "--max", "32M"], 5),
        (&["chunk", s(&f), "--min", "1M", "--avg", "64K"], 5),
        (&["chunk", s(&f), "--min", "abc"], 2),
        (&["chunk", s(&f), "--min", "99999999999999999999G"], 2),
        (&["chunk", s(&f), "--hash", "md5"], 2),
        (&["bench", "cdc", "--size", "0"], 2),
        (&["bench", "cdc", s(&empty)], 4),
        (&["bench", "stream", s(&empty)], 4),
        (&["frobnicate"], 2),
        (&[], 2),
    ];
    for (args, code) in cases {
        let o = run(args);
        assert_eq!(o.status.code(), Some(*code), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.is_empty(), "{args:?} explains itself");
        // Each cause is said once (an error's message does not repeat its source).
        assert!(err.matches("(os error").count() <= 1, "{args:?}: {err}");
    }
}

#[test]
fn kernel_environment_variable_is_checked() {
    let o = bin()
        .args(["base32", "encode", "--hex", "1f"])
        .env("CHUNKER_CDC_KERNEL", "quantum")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("CHUNKER_CDC_KERNEL"), "{}", stderr(&o));
    let o = bin()
        .args(["base32", "encode", "--hex", "1f"])
        .env("CHUNKER_CDC_KERNEL", "portable")
        .output()
        .unwrap();
    assert!(o.status.success());
}

#[test]
fn unreadable_file_is_an_io_error() {
    let dir = TempDir::new("perm");
    let f = dir.file("secret", b"data");
    // Root can read anything; a fifo with no writer would hang, so use a dangling symlink.
    let link = dir.0.join("dangling");
    std::os::unix::fs::symlink(dir.0.join("missing"), &link).unwrap();
    let o = run(&["chunk", s(&link)]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("dangling"));
    drop(f);
}

#[test]
fn broken_pipe_exits_quietly() {
    let dir = TempDir::new("pipe");
    let f = dir.file("big", &generate(Kind::Random, 20_000_000, 5));
    let mut child = bin()
        .args(["chunk", s(&f), "--min", "64", "--avg", "256", "--max", "1K"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    out.read_exact(&mut first).unwrap();
    drop(out);
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(o.status.code(), Some(0), "{err}");
}

#[test]
fn help_explains_commands_and_options() {
    let o = run(&["--help"]);
    assert!(o.status.success());
    let h = stdout(&o);
    for word in ["chunk", "hash", "base32", "bench", "Exit codes"] {
        assert!(h.contains(word), "{word} in --help");
    }
    let h = stdout(&run(&["chunk", "--help"]));
    for word in [
        "--min",
        "--avg",
        "--max",
        "--preset",
        "--hash",
        "--format",
        "16K/64K/256K",
        "progress",
    ] {
        assert!(h.contains(word), "{word} in chunk --help");
    }
}

#[test]
fn bench_cdc_smoke_json() {
    let o = run(&[
        "bench", "cdc", "--size", "2M", "--repeat", "1", "--data", "text", "--format", "json",
        "--preset", "small",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"fastcdc-crate"));
    assert!(names.contains(&"gearhash-crate"));
    assert!(names.contains(&"kernel:portable"));
    for r in v["results"].as_array().unwrap() {
        assert!(r["gbps"].as_f64().unwrap() > 0.0);
    }
}

/// A tree whose names would drive a terminal or forge rows if printed raw.
fn hostile_tree(dir: &TempDir) -> std::path::PathBuf {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let root = dir.path("hostile");
    std::fs::create_dir(&root).unwrap();
    let names: [&[u8]; 6] = [
        b"a\xff",
        b"a\xfe",
        b"esc\x1b]0;pwned\x07",
        b"row\nregular\t9\tforged",
        b"tab\there",
        b"back\\slash",
    ];
    for n in names {
        std::fs::write(root.join(OsStr::from_bytes(n)), b"x").unwrap();
    }
    std::os::unix::fs::symlink(OsStr::from_bytes(b"\x1b[31mred\xff"), root.join("link")).unwrap();
    root
}

#[test]
fn nar_ls_escapes_hostile_names_and_json_is_lossless() {
    let dir = TempDir::new("hostile");
    let root = hostile_tree(&dir);
    let o = run(&["nar", "pack", s(&root)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let nar = dir.file("h.nar", &o.stdout);

    let o = run(&["nar", "ls", s(&nar)]);
    assert!(o.status.success(), "{}", stderr(&o));
    // No control byte but the row and column separators, and valid UTF-8.
    assert!(
        !o.stdout
            .iter()
            .any(|&b| (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f),
        "raw control bytes in {:?}",
        String::from_utf8_lossy(&o.stdout)
    );
    let text = stdout(&o);
    let rows: Vec<&str> = text.lines().collect();
    // The root, six files and the symlink: one row each, three columns each.
    assert_eq!(rows.len(), 8, "{text}");
    for r in &rows {
        assert_eq!(r.split('\t').count(), 3, "{r:?}");
    }
    for shown in [
        "/a\\xff",
        "/a\\xfe",
        "/esc\\x1b]0;pwned\\x07",
        "/row\\nregular\\t9\\tforged",
        "/tab\\there",
        "/back\\\\slash",
        "/link -> \\x1b[31mred\\xff",
    ] {
        assert!(rows.iter().any(|r| r.ends_with(shown)), "{shown} in {text}");
    }

    let o = run(&["nar", "ls", s(&nar), "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let entries = v["entries"].as_array().unwrap();
    let bytes_of = |e: &serde_json::Value, key: &str| -> Vec<u8> {
        match e.get(key) {
            Some(s) => s.as_str().unwrap().as_bytes().to_vec(),
            None => e[format!("{key}_bytes")]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_u64().unwrap() as u8)
                .collect(),
        }
    };
    let paths: Vec<Vec<u8>> = entries.iter().map(|e| bytes_of(e, "path")).collect();
    for want in [
        &b"/a\xff"[..],
        b"/a\xfe",
        b"/esc\x1b]0;pwned\x07",
        b"/row\nregular\t9\tforged",
        b"/back\\slash",
    ] {
        assert!(paths.iter().any(|p| p == want), "{want:?} in {paths:?}");
    }
    let link = entries.iter().find(|e| e["path"] == "/link").unwrap();
    assert_eq!(bytes_of(link, "target"), b"\x1b[31mred\xff");
}

#[test]
fn chunk_json_file_is_lossless_and_errors_do_not_echo_controls() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = TempDir::new("jsonfile");
    let mut files = Vec::new();
    for n in [&b"in\xff"[..], b"in\xfe"] {
        let p = dir.0.join(OsStr::from_bytes(n));
        std::fs::write(&p, b"data").unwrap();
        files.push(p);
    }
    let mut shown = Vec::new();
    for f in &files {
        let o = bin()
            .arg("chunk")
            .arg(f)
            .args(["--format", "json"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let b: Vec<u8> = v["summary"]["file_bytes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_u64().unwrap() as u8)
            .collect();
        assert_eq!(b, f.as_os_str().as_bytes());
        shown.push(b);
    }
    assert_ne!(shown[0], shown[1]);
    // A UTF-8 name stays a plain string.
    let plain = dir.file("plain", b"data");
    let o = run(&["chunk", s(&plain), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["summary"]["file"], s(&plain));

    let o = run(&["chunk", "/nonexistent/\x1b]0;pwned\x07\nsecond line"]);
    assert_eq!(o.status.code(), Some(3));
    let err = stderr(&o);
    assert!(!err.contains('\x1b') && !err.contains('\x07'), "{err:?}");
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(err.contains("\\x1b]0;pwned\\x07\\nsecond line"), "{err:?}");
}

#[test]
fn read_size_is_bounded_and_sizes_are_documented() {
    let dir = TempDir::new("readsize");
    let f = dir.file("x", &generate(Kind::Random, 100_000, 9));
    for bad in ["0", "4095", "65M", "1000G"] {
        let o = run(&["chunk", s(&f), "--read-size", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", stderr(&o));
        assert!(stderr(&o).contains("4K..=64M"), "{bad}: {}", stderr(&o));
    }
    for good in ["4K", "64KB", "64KiB", "64M"] {
        let o = run(&["chunk", s(&f), "--read-size", good]);
        assert!(o.status.success(), "{good}: {}", stderr(&o));
    }
    let h = stdout(&run(&["chunk", "--help"]));
    assert!(
        h.contains("4K..=64M") && h.contains("powers of 1024"),
        "{h}"
    );
    assert!(stdout(&run(&["--help"])).contains("64KB and 64KiB all mean 65536"));
}

#[test]
fn json_mean_is_always_a_float() {
    let dir = TempDir::new("mean");
    let empty = dir.file("empty", b"");
    // 1 MB of random data in 64K/256K/1M chunks: a whole-number mean is likely.
    let even = dir.file("even", &[7u8; 4 << 20]);
    let odd = dir.file("odd", &generate(Kind::Random, 1_000_003, 1));
    for f in [&empty, &even, &odd] {
        let o = run(&["chunk", s(f), "--format", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(v["summary"]["mean"].is_f64(), "{}", v["summary"]);
    }
}

#[test]
fn help_that_cannot_be_written_fails() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = bin().arg("--help").stdout(full).output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    for args in [&["bench", "--help"][..], &["base32", "encode", "--help"]] {
        let h = stdout(&run(args));
        assert!(h.contains("Exit codes"), "{args:?}: {h}");
    }
    assert!(stdout(&run(&["base32", "encode", "--help"])).contains("64 MiB"));
}

#[test]
fn base32_messages_name_the_decoded_part() {
    let d = "1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s";
    let o = run(&["base32", "decode", &format!("sha256:{d}")]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let o = run(&["base32", "decode", &format!("sha256:{}", &d[1..])]);
    assert_eq!(o.status.code(), Some(4));
    assert!(
        stderr(&o).contains("length 51, expected 52"),
        "{}",
        stderr(&o)
    );
    let o = run(&["base32", "decode", "0äz"]);
    assert_eq!(o.status.code(), Some(4));
    assert!(stderr(&o).contains("'ä' at position 1"), "{}", stderr(&o));
}

#[test]
fn bench_stream_measures_every_data_kind() {
    let o = run(&[
        "bench", "stream", "--size", "64K", "--repeat", "1", "--format", "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut data: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["data"].as_str().unwrap())
        .collect();
    data.dedup();
    assert_eq!(data, ["random", "text", "binary"]);
    for kind in data {
        assert!(
            v["derived"][kind]["sha256_serial_bound_gbps"]
                .as_f64()
                .unwrap()
                > 0.0
        );
    }
    for r in v["results"].as_array().unwrap() {
        assert_eq!(r["bytes"], 65536, "{r}");
    }
}

#[test]
fn bench_stream_leaves_no_file_on_sigterm() {
    let dir = TempDir::new("sigterm");
    let mut child = bin()
        .args([
            "bench", "stream", "--size", "8M", "--repeat", "1000", "--data", "random",
        ])
        .env("TMPDIR", &dir.0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the data file is open (it shows in /proc/PID/fd), then SIGTERM.
    let fds = format!("/proc/{}/fd", child.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let open = std::fs::read_dir(&fds).unwrap().any(|e| {
            std::fs::read_link(e.unwrap().path())
                .is_ok_and(|t| t.to_string_lossy().contains("chunker-bench-"))
        });
        if open {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no data file opened");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Some writing and reading happen first.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(!status.success());
    let left: Vec<_> = std::fs::read_dir(&dir.0).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn progress_bar_never_mixes_with_rows_on_one_terminal() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: script(1) not installed");
        return;
    }
    let dir = TempDir::new("tty");
    let f = dir.file("in", &generate(Kind::Random, 300_000, 11));
    // Input of unknown size that pauses, so a bar would be drawn meanwhile.
    let feed = format!("(cat '{0}'; sleep 0.6; cat '{0}')", s(&f));
    let chunk = format!("'{}' chunk - --read-size 4K", env!("CARGO_BIN_EXE_chunker"));
    let on_tty = |redirect: &str| {
        let o = Command::new("script")
            .args(["-qec", &format!("{feed} | {chunk}{redirect}"), "/dev/null"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    // stdout and stderr on the same terminal: rows and summary, no bar.
    let both = on_tty("");
    assert!(both.contains("# chunks"), "{both:?}");
    assert!(!both.contains("[00:00:"), "bar among the rows: {both:?}");
    // stdout elsewhere: the bar is drawn on the terminal (this harness can see one).
    let bar = on_tty(" > /dev/null");
    assert!(bar.contains("[00:00:"), "{bar:?}");
}
