//! `chunker compress`, `chunker decompress` and `chunker dict` as a user runs them.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use chunker_testdata::support::TempDir;
use chunker_testdata::{generate, Kind};

/// Start `chunker args` with `stdin`, stdout and stderr piped.
fn spawn(args: &[&str], stdin: Stdio) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_chunker"))
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn chunker")
}

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = spawn(args, Stdio::piped());
    let mut pipe = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn ok(o: Output) -> Vec<u8> {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

#[test]
fn round_trip_through_stdin_and_files() {
    let data = generate(Kind::Text, 300_000, 1);
    let dir = TempDir::new("rt");
    let input = dir.file("in.txt", &data);
    for codec in ["zstd", "lz4", "xz", "bzip2"] {
        let frame = ok(run(&["compress", "--codec", codec], &data));
        assert!(frame.len() < data.len() / 2, "{codec}");
        let from_file = ok(run(
            &["compress", input.to_str().unwrap(), "--codec", codec],
            b"",
        ));
        // A file's size is known and goes into zstd and lz4 frame headers; otherwise
        // file and stdin give the same stream.
        if matches!(codec, "xz" | "bzip2") {
            assert_eq!(
                from_file, frame,
                "{codec}: file and stdin give the same stream"
            );
        }
        assert_eq!(ok(run(&["decompress"], &from_file)), data, "{codec} file");
        assert_eq!(ok(run(&["decompress"], &frame)), data, "{codec} auto");
        assert_eq!(
            ok(run(&["decompress", "-", "--codec", codec], &frame)),
            data,
            "{codec}"
        );
    }
    let x1 = ok(run(&["compress", "--codec", "xz", "--level", "1"], &data));
    let x9 = ok(run(&["compress", "--codec", "xz", "--level", "9"], &data));
    assert!(x9.len() < x1.len());
}

#[test]
fn exit_codes() {
    let data = generate(Kind::Text, 100_000, 2);
    let frame = ok(run(&["compress"], &data));
    // Over the limit: exit 4, nothing beyond the limit written.
    let o = run(&["decompress", "--max-output", "64K"], &frame);
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.stdout.len() <= 64 << 10);
    assert!(String::from_utf8_lossy(&o.stderr).contains("exceeds the limit of 65536 bytes"));
    // Exactly the limit is fine.
    assert_eq!(
        ok(run(&["decompress", "--max-output", "100000"], &frame)),
        data
    );
    // Truncated: exit 4, an error, not a short success.
    let o = run(&["decompress"], &frame[..frame.len() - 5]);
    assert_eq!(o.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&o.stderr).contains("truncated"));
    // gzip is recognised and refused; unknown data too.
    let o = run(&["decompress"], &[0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3]);
    assert_eq!(o.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&o.stderr).contains("gzip"));
    assert_eq!(run(&["decompress"], b"plain text").status.code(), Some(4));
    // Bad level: usage error; missing file: I/O error.
    assert_eq!(
        run(&["compress", "--codec", "zstd", "--level", "40"], b"x")
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&["decompress", "/nonexistent/file.zst"], b"")
            .status
            .code(),
        Some(3)
    );
    assert_eq!(
        run(&["compress", "--codec", "gzip"], b"x").status.code(),
        Some(2)
    );
}

#[test]
fn auto_picks_a_fast_codec_for_incompressible_input() {
    let random = generate(Kind::Random, 200_000, 3);
    let o = run(&["compress", "--codec", "auto"], &random);
    assert!(String::from_utf8_lossy(&o.stderr).contains("auto: lz4"));
    let frame = ok(o);
    assert_eq!(ok(run(&["decompress"], &frame)), random);
    let text = generate(Kind::Text, 200_000, 3);
    let o = run(&["compress", "--codec", "auto"], &text);
    assert!(String::from_utf8_lossy(&o.stderr).contains("auto: zstd"));
    assert_eq!(ok(run(&["decompress"], &ok(o))), text);
}

#[test]
fn dict_train_compress_decompress() {
    let dir = TempDir::new("dict");
    let mut files = Vec::new();
    for i in 0..4 {
        files.push(dir.file(&format!("s{i}"), &generate(Kind::Text, 400_000, 10 + i)));
    }
    let dict = dir.0.join("d.zdict");
    let mut args = vec![
        "dict",
        "train",
        "-o",
        dict.to_str().unwrap(),
        "--max-size",
        "16K",
        "--chunk-avg",
        "4K",
        "--chunk-min",
        "1K",
        "--chunk-max",
        "16K",
    ];
    let names: Vec<String> = files
        .iter()
        .map(|f| f.to_str().unwrap().to_string())
        .collect();
    args.extend(names.iter().map(String::as_str));
    let summary = String::from_utf8(ok(run(&args, b""))).unwrap();
    assert!(summary.starts_with("dictionary id "), "{summary}");
    let info = String::from_utf8(ok(run(&["dict", "info", dict.to_str().unwrap()], b""))).unwrap();
    let id: u32 = info
        .lines()
        .next()
        .unwrap()
        .strip_prefix("id\t")
        .unwrap()
        .parse()
        .unwrap();
    assert!(summary.contains(&format!("id {id} ")));

    let data = generate(Kind::Text, 3000, 99);
    let with = ok(run(&["compress", "--dict", dict.to_str().unwrap()], &data));
    let without = ok(run(&["compress"], &data));
    assert!(with.len() < without.len());
    assert_eq!(
        ok(run(
            &["decompress", "--dict", dict.to_str().unwrap()],
            &with
        )),
        data
    );
    // Without the dictionary: a clear error naming the ID, exit 4.
    let o = run(&["decompress"], &with);
    assert_eq!(o.status.code(), Some(4));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&format!("unknown zstd dictionary id {id}"))
    );
    // Not a dictionary: exit 4.
    let bogus = dir.file("bogus", b"not a dictionary at all");
    assert_eq!(
        run(&["compress", "--dict", bogus.to_str().unwrap()], b"x")
            .status
            .code(),
        Some(4)
    );
}

#[test]
fn interop_with_the_zstd_cli_when_present() {
    if Command::new("zstd").arg("--version").output().is_err() {
        eprintln!("SKIP: zstd CLI not installed");
        return;
    }
    let data = generate(Kind::Binary, 100_000, 4);
    let ours = ok(run(
        &["compress", "--codec", "zstd", "--level", "19"],
        &data,
    ));
    let mut child = Command::new("zstd")
        .args(["-d", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&ours).unwrap();
    assert_eq!(child.wait_with_output().unwrap().stdout, data);
}

/// Bit flips across a frame: every one must be refused (exit 4) or, for a bit the
/// format ignores, give back exactly the input. Returns how many were refused.
fn assert_flips_detected(what: &str, frame: &[u8], data: &[u8]) -> usize {
    let mut positions: Vec<(usize, u8)> = (0..frame.len().min(14))
        .flat_map(|b| (0..8).map(move |bit| (b, bit)))
        .collect();
    let step = (frame.len() / 80).max(1);
    positions.extend((14..frame.len()).step_by(step).map(|b| (b, (b % 8) as u8)));
    positions.extend((frame.len().saturating_sub(4)..frame.len()).map(|b| (b, 3)));
    let mut refused = 0;
    for (byte, bit) in positions {
        let mut damaged = frame.to_vec();
        damaged[byte] ^= 1 << bit;
        let o = run(&["decompress"], &damaged);
        match o.status.code() {
            Some(4) => refused += 1,
            Some(0) => assert!(
                o.stdout == data,
                "{what}: bit {bit} of byte {byte} flipped: exit 0 with different output"
            ),
            other => panic!(
                "{what}: bit {bit} of byte {byte}: exit {other:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            ),
        }
    }
    refused
}

#[test]
fn every_bit_flip_in_our_zstd_frames_is_refused() {
    let dir = TempDir::new("flip");
    let random = generate(Kind::Random, 300_000, 20);
    let text = generate(Kind::Text, 300_000, 21);
    let file = dir.file("r", &random);
    let cases = [
        (
            "zstd stdin",
            ok(run(&["compress", "--codec", "zstd"], &random)),
            &random,
        ),
        (
            "zstd file",
            ok(run(&["compress", file.to_str().unwrap()], b"")),
            &random,
        ),
        (
            "auto",
            ok(run(&["compress", "--codec", "auto"], &text)),
            &text,
        ),
    ];
    for (what, frame, data) in &cases {
        assert_eq!(frame[..4], [0x28, 0xB5, 0x2F, 0xFD], "{what}: a zstd frame");
        assert!(assert_flips_detected(what, frame, data) > 0);
    }
    // The real tool sees the checksum, and the size where the input is a file.
    if Command::new("zstd").arg("--version").output().is_ok() {
        for (what, frame, _) in &cases {
            let path = dir.file("f.zst", frame);
            let o = Command::new("zstd").arg("-lv").arg(&path).output().unwrap();
            let listing = String::from_utf8_lossy(&o.stdout);
            assert!(listing.contains("Check: XXH64"), "{what}: {listing}");
            if *what == "zstd file" {
                assert!(listing.contains("(300000 B)"), "{what}: {listing}");
            }
        }
    } else {
        eprintln!("SKIP: zstd CLI not installed");
    }
    // --no-checksum leaves it out (Content_Checksum_flag, bit 2 of the frame header
    // descriptor), and the frame is 4 bytes shorter.
    let without = ok(run(&["compress", "--no-checksum"], &random));
    assert_eq!(without[4] & 0b100, 0);
    assert_eq!(cases[0].1[4] & 0b100, 0b100);
    assert_eq!(without.len() + 4, cases[0].1.len());
    assert_eq!(ok(run(&["decompress"], &without)), random);
}

#[test]
fn auto_with_a_level_works_on_every_input() {
    let random = generate(Kind::Random, 200_000, 22);
    let text = generate(Kind::Text, 200_000, 22);
    let o = run(&["compress", "--codec", "auto", "--level", "19"], &random);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        err.contains("auto: lz4") && err.contains("--level is zstd's"),
        "{err}"
    );
    assert_eq!(ok(run(&["decompress"], &ok(o))), random);
    let o = run(&["compress", "--codec", "auto", "--level", "19"], &text);
    let frame = ok(o);
    let default = ok(run(&["compress", "--codec", "auto"], &text));
    assert!(frame.len() < default.len(), "level 19 is used for zstd");
    assert_eq!(ok(run(&["decompress"], &frame)), text);
    // A level zstd does not have is a usage error whatever the input.
    for data in [&random, &text] {
        let o = run(&["compress", "--codec", "auto", "--level", "23"], data);
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("out of range for zstd"));
    }
}

#[test]
fn settings_for_another_codec_are_usage_errors() {
    let dir = TempDir::new("usage");
    let dict = dir.file(
        "d",
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../chunker/dicts/nar-v1.zdict"
        ))
        .unwrap(),
    );
    let cases: &[&[&str]] = &[
        &["compress", "--codec", "zstd", "--threads", "4"],
        &["compress", "--codec", "auto", "--threads", "2"],
        &["compress", "--codec", "xz", "--threads", "0"],
        &[
            "compress",
            "--codec",
            "lz4",
            "--dict",
            dict.to_str().unwrap(),
        ],
    ];
    for args in cases {
        let o = run(args, b"data");
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("xz_threads"), "{args:?}: {err}");
        let said = err.lines().filter(|l| l.contains("error")).count();
        assert_eq!(said, 1, "{args:?}: one message: {err}");
        assert!(o.stdout.is_empty(), "{args:?}");
    }
    let o = run(&["compress", "--codec", "zstd", "--threads", "4"], b"data");
    assert!(String::from_utf8_lossy(&o.stderr).contains("--threads applies to --codec xz only"));
    ok(run(
        &["compress", "--codec", "xz", "--threads", "1"],
        b"data",
    ));
}

/// Peak resident memory (KiB) of a child, polled from /proc (`None` where there is
/// none); the child is killed once it passes `kill_kib` or `timeout`, so a memory
/// bomb fails the test instead of the machine.
struct Peak {
    out: Output,
    peak_kib: Option<u64>,
    killed: Option<&'static str>,
}

fn run_measured(args: &[&str], kill_kib: u64, timeout: std::time::Duration) -> Peak {
    let mut child = spawn(args, Stdio::null());
    let status_path = format!("/proc/{}/status", child.id());
    let started = std::time::Instant::now();
    let mut peak: Option<u64> = None;
    let mut killed = None;
    // Drain the pipes on threads so that a chatty child cannot block.
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut so, &mut v).ok();
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut se, &mut v).ok();
        v
    });
    let status = loop {
        if let Some(kib) = std::fs::read_to_string(&status_path).ok().and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_string();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        }) {
            peak = Some(peak.map_or(kib, |p: u64| p.max(kib)));
            if kib > kill_kib && killed.is_none() {
                killed = Some("memory");
                let _ = child.kill();
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > timeout && killed.is_none() {
            killed = Some("timeout");
            let _ = child.kill();
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    Peak {
        out: Output {
            status,
            stdout: t_out.join().unwrap(),
            stderr: t_err.join().unwrap(),
        },
        peak_kib: peak,
        killed,
    }
}

#[test]
fn dict_commands_refuse_endless_inputs_in_bounded_memory() {
    let limit_kib = 96 << 10;
    let dir = TempDir::new("dictzero");
    let out = dir.path("d.zdict");
    let cases: [(&[&str], i32, &str); 3] = [
        (
            &["dict", "info", "/dev/zero"],
            4,
            "larger than 16777216 bytes",
        ),
        (
            &["dict", "train", "/dev/zero", "-o", out.to_str().unwrap()],
            3,
            "/dev/zero is not a regular file",
        ),
        (
            &["compress", "--dict", "/dev/zero"],
            4,
            "larger than 16777216 bytes",
        ),
    ];
    for (args, code, says) in cases {
        let p = run_measured(args, limit_kib, std::time::Duration::from_secs(20));
        let err = String::from_utf8_lossy(&p.out.stderr).to_string();
        assert_eq!(
            p.killed, None,
            "{args:?}: killed (peak {:?} KiB)",
            p.peak_kib
        );
        assert_eq!(p.out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        println!("{args:?}: peak {:?} KiB", p.peak_kib);
    }
    assert!(!out.exists(), "nothing written");
    // A directory and a missing file: I/O errors naming them, before any training.
    let o = run(
        &[
            "dict",
            "train",
            dir.0.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(o.status.code(), Some(3));
    let o = run(
        &[
            "dict",
            "train",
            "/nonexistent/x",
            "-o",
            out.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/x"));
}

#[test]
fn dict_train_memory_follows_the_sample_budget_not_the_input() {
    let dir = TempDir::new("dictbig");
    // 96 MiB of text in 8 files; a 4 MiB sample budget.
    let mut names = Vec::new();
    for i in 0..8 {
        let f = dir.file(&format!("s{i}"), &generate(Kind::Text, 12 << 20, 40 + i));
        names.push(f.to_str().unwrap().to_string());
    }
    let out = dir.path("d.zdict");
    let mut args = vec![
        "dict",
        "train",
        "--sample-bytes",
        "4M",
        "--max-size",
        "16K",
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend(names.iter().map(String::as_str));
    let p = run_measured(&args, 256 << 10, std::time::Duration::from_secs(120));
    let summary = String::from_utf8_lossy(&p.out.stdout).to_string();
    assert_eq!(p.killed, None);
    assert!(
        p.out.status.success(),
        "{}",
        String::from_utf8_lossy(&p.out.stderr)
    );
    // Samples from every part of the input, within the budget.
    let taken: u64 = summary
        .split(" B of ")
        .next()
        .and_then(|s| s.rsplit('(').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(taken <= 4 << 20 && taken > 3 << 20, "{summary}");
    assert!(
        summary.contains(&format!("read of {} B", 96 << 20)),
        "{summary}"
    );
    assert!(summary.contains("of 8 file(s)"), "{summary}");
    // Peak memory: the budget plus the trainer and buffers, far below the input.
    if let Some(kib) = p.peak_kib {
        println!("dict train, 96 MiB input, 4 MiB samples: peak {kib} KiB");
        assert!(
            kib < 40 << 10,
            "peak RSS {kib} KiB for a 4 MiB sample budget"
        );
    }
    assert_eq!(
        dictionary_id(&out),
        summary.split_whitespace().nth(2).unwrap()
    );
}

fn dictionary_id(path: &std::path::Path) -> String {
    let b = std::fs::read(path).unwrap();
    u32::from_le_bytes([b[4], b[5], b[6], b[7]]).to_string()
}

#[test]
fn dict_flag_values_are_usage_errors() {
    let dir = TempDir::new("dictflags");
    let f = dir.file("s", &generate(Kind::Text, 100_000, 50));
    let f = f.to_str().unwrap();
    for args in [
        ["--max-size", "0"],
        ["--max-size", "255"],
        ["--max-size", "17M"],
        ["--sample-bytes", "0"],
        ["--sample-bytes", "3G"],
        ["--max-size", "12X"],
    ] {
        let o = run(&["dict", "train", f, args[0], args[1]], b"");
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(args[0]), "{args:?}: {err}");
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn trailing_garbage_is_called_trailing_data() {
    let data = generate(Kind::Text, 50_000, 60);
    for codec in ["zstd", "lz4", "xz", "bzip2"] {
        let mut frame = ok(run(&["compress", "--codec", codec], &data));
        let end = frame.len();
        frame.extend_from_slice(b"garbage");
        let o = run(&["decompress"], &frame);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(4), "{codec}: {err}");
        assert!(
            err.contains(&format!(
                "trailing data after the end of the {codec} stream at byte {end}"
            )),
            "{codec}: {err}"
        );
        assert!(!err.contains("truncated"), "{codec}: {err}");
    }
}

#[test]
fn files_whose_size_is_not_their_length_still_compress() {
    // /proc files say 0 bytes and have content; an empty file is empty. Neither may
    // trip the size promised to the encoder.
    let dir = TempDir::new("sizes");
    let empty = dir.file("empty", b"");
    for codec in ["zstd", "lz4", "xz", "bzip2"] {
        let frame = ok(run(
            &["compress", empty.to_str().unwrap(), "--codec", codec],
            b"",
        ));
        assert!(ok(run(&["decompress"], &frame)).is_empty(), "{codec}");
        if std::path::Path::new("/proc/self/status").exists() {
            let frame = ok(run(
                &["compress", "/proc/self/status", "--codec", codec],
                b"",
            ));
            let back = ok(run(&["decompress"], &frame));
            assert!(back.starts_with(b"Name:"), "{codec}");
        }
    }
}
