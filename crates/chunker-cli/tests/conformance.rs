//! CLI conformance: every subcommand with bad, hostile and edge inputs.
//!
//! One table row per (command, input kind): a path that does not exist, a directory, a
//! FIFO whose writer writes nothing, `/dev/zero`, an empty file, a good input with
//! standard output on `/dev/full` or closed, and huge flag values. Each row asserts the
//! exit code, a one-line message on failure (and never a panic), bounded memory (peak
//! RSS of the child, sampled from `/proc/PID/status` while it runs) and that nothing is
//! left behind: in its working directory, its `TMPDIR`, the system temp dir, or (when
//! it failed) where it was asked to write. Rows whose input never ends (`chunk
//! /dev/zero`) must still be streaming, with bounded memory, when they are stopped.
//!
//! Where another change owns a command's exact behaviour, the row asserts only the
//! generic expectations ([`E::Fails`]: an error exit code with one line).

mod common;
use common::{bin, s};

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chunker_testdata::support::TempDir;
use chunker_testdata::{generate, Kind};

/// What a row expects.
#[derive(Debug, Clone, Copy, PartialEq)]
enum E {
    /// Exactly this exit code.
    Code(i32),
    /// A failure exit code (1..=6) with one line on stderr; the code is someone else's.
    Fails,
    /// Still running (streaming an endless input) when stopped after [`RUNS_FOR`].
    Runs,
    /// Any outcome but a panic, a hang or unbounded memory (behaviour not settled).
    Any,
}
use E::{Any, Code, Fails, Runs};

/// The input put where the command reads its file.
#[derive(Debug, Clone, Copy, PartialEq)]
enum In {
    Missing,
    Dir,
    /// A FIFO: the test opens it for writing, waits until the command has opened it (or
    /// exited), then closes it having written nothing.
    Fifo,
    Zero,
    Empty,
    /// A valid input for the command.
    Good,
}

/// Where standard output goes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Out {
    Null,
    Full,
    Closed,
}

/// How long an endless row runs before it is stopped; other rows must end well before
/// [`HANG`].
const RUNS_FOR: Duration = Duration::from_secs(2);
const HANG: Duration = Duration::from_secs(30);
/// Peak resident memory allowed to any row.
const MAX_RSS_KIB: u64 = 256 << 10;

/// Rows whose fix lands from another branch of issue 15 (unbounded reads in `dict`):
/// run once that branch is merged (then empty this list).
const FIXED_ON_ANOTHER_BRANCH: &[&str] = &["dict info /dev/zero", "dict train /dev/zero"];

/// Valid inputs, made once.
struct Fixtures {
    dir: TempDir,
    data: PathBuf,
    nar: PathBuf,
    zst: PathBuf,
    secret: PathBuf,
    public_key: String,
    narinfo: PathBuf,
    dict: PathBuf,
    empty: PathBuf,
}

fn fixtures() -> Fixtures {
    let dir = TempDir::new("conf-fix");
    let data = dir.file("data.bin", &generate(Kind::Text, 200_000, 7));
    let tree = dir.path("tree");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("f"), b"hello").unwrap();
    let nar = dir.file("good.nar", &ok(&["nar", "pack", s(&tree)]));
    let zst = dir.file("data.zst", &ok(&["compress", s(&data)]));
    let (secret, public) = (dir.path("sk"), dir.path("pk"));
    ok(&[
        "key",
        "generate",
        "conf.example.org-1",
        "--secret",
        s(&secret),
        "--public",
        s(&public),
    ]);
    let public_key = std::fs::read_to_string(&public).unwrap().trim().to_string();
    let hash = String::from_utf8(ok(&["hash", "--nar", s(&tree)])).unwrap();
    let hash = hash.split_whitespace().next().unwrap().to_string();
    let unsigned = dir.file(
        "unsigned.narinfo",
        format!(
            "StorePath: /nix/store/2jmiqxxd2z4ypk8am71rc6kffqzgma57-t\nURL: nar/x.nar\n\
             Compression: none\nNarHash: {hash}\nNarSize: 3\nReferences: \n"
        )
        .as_bytes(),
    );
    let narinfo = dir.file(
        "signed.narinfo",
        &ok(&["narinfo", "sign", "--key-file", s(&secret), s(&unsigned)]),
    );
    let dict = Path::new(env!("CARGO_MANIFEST_DIR")).join("../chunker/dicts/nar-v1.zdict");
    let empty = dir.file("empty", b"");
    Fixtures {
        dir,
        data,
        nar,
        zst,
        secret,
        public_key,
        narinfo,
        dict,
        empty,
    }
}

/// Run a fixture-making command that must succeed; its stdout.
fn ok(args: &[&str]) -> Vec<u8> {
    let o = bin().args(args).stdin(Stdio::null()).output().unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

/// One row: a label, argument templates (`{IN}` is the input's path, `{OUT}` a path in
/// the row's output directory), the input kind, stdout, and the expectation.
struct Row {
    label: String,
    args: Vec<String>,
    input: In,
    out: Out,
    expect: E,
}

/// A command template and its expectation per input kind:
/// `[missing, directory, FIFO, /dev/zero, empty]` and the good input with stdout on
/// `/dev/full`. `None` = the kind does not apply.
type Spec = (&'static str, &'static [&'static str], [Option<E>; 6]);

fn specs() -> Vec<Spec> {
    // A command that prints nothing on success cannot fail on /dev/full.
    let quiet = None;
    vec![
        (
            "chunk",
            &["chunk", "{IN}"],
            [
                Some(Code(3)),
                Some(Code(3)),
                Some(Code(0)),
                Some(Runs),
                Some(Code(0)),
                Some(Code(3)),
            ],
        ),
        // The NAR of a FIFO or a device is refused: NAR holds files, symlinks, directories.
        (
            "chunk --nar",
            &["chunk", "--nar", "{IN}"],
            [
                Some(Code(3)),
                Some(Code(0)),
                Some(Code(4)),
                Some(Code(4)),
                Some(Code(0)),
                Some(Code(3)),
            ],
        ),
        (
            "hash",
            &["hash", "{IN}"],
            [
                Some(Code(3)),
                Some(Code(3)),
                Some(Code(0)),
                Some(Runs),
                Some(Code(0)),
                Some(Code(3)),
            ],
        ),
        (
            "hash --nar",
            &["hash", "--nar", "{IN}"],
            [
                Some(Code(3)),
                Some(Code(0)),
                Some(Fails),
                Some(Fails),
                Some(Code(0)),
                Some(Code(3)),
            ],
        ),
        // Input is capped at 64 MiB.
        (
            "base32 encode",
            &["base32", "encode", "{IN}"],
            [
                Some(Code(3)),
                Some(Code(3)),
                Some(Code(0)),
                Some(Code(4)),
                Some(Code(0)),
                Some(Code(3)),
            ],
        ),
        // Files are capped by --size; an empty one has nothing to measure.
        (
            "bench cdc",
            &[
                "bench",
                "cdc",
                "{IN}",
                "--size",
                "1M",
                "--repeat",
                "1",
                "--threads",
                "1",
            ],
            [
                Some(Code(3)),
                Some(Code(3)),
                Some(Code(4)),
                Some(Code(4)),
                Some(Code(4)),
                Some(Code(3)),
            ],
        ),
        // Only a regular file: it is read several times.
        (
            "bench stream",
            &["bench", "stream", "{IN}", "--repeat", "1"],
            [
                Some(Code(3)),
                Some(Code(3)),
                Some(Code(3)),
                Some(Code(3)),
                Some(Code(4)),
                Some(Code(3)),
            ],
        ),
        (
            "nar pack",
            &["nar", "pack", "{IN}"],
            [
                Some(Code(3)),
                Some(Code(0)),
                Some(Code(4)),
                Some(Code(4)),
                Some(Code(0)),
                Some(Code(3)),
            ],
        ),
        (
            "nar unpack",
            &["nar", "unpack", "{IN}", "{OUT}/tree"],
            [
                Some(Code(3)),
                Some(Code(3)),
                Some(Code(4)),
                Some(Code(4)),
                Some(Code(4)),
                quiet,
            ],
        ),
        (
            "nar ls",
            &["nar", "ls", "{IN}"],
            [
                Some(Code(3)),
                Some(Code(3)),
                Some(Code(4)),
                Some(Code(4)),
                Some(Code(4)),
                Some(Code(3)),
            ],
        ),
        (
            "narinfo sign",
            &["narinfo", "sign", "--key-file", "{SECRET}", "{IN}"],
            [
                Some(Code(3)),
                Some(Code(3)),
                Some(Code(4)),
                Some(Code(4)),
                Some(Code(4)),
                Some(Code(3)),
            ],
        ),
        (
            "narinfo sign --key-file",
            &["narinfo", "sign", "--key-file", "{IN}", "{NARINFO}"],
            [
                Some(Code(3)),
                Some(Code(3)),
                Some(Fails),
                Some(Fails),
                Some(Fails),
                None,
            ],
        ),
        (
            "narinfo verify",
            &["narinfo", "verify", "--public-key", "{PUBLIC}", "{IN}"],
            [
                Some(Code(3)),
                Some(Code(3)),
                Some(Code(4)),
                Some(Code(4)),
                Some(Code(4)),
                Some(Code(3)),
            ],
        ),
        (
            "compress",
            &["compress", "{IN}"],
            [
                Some(Code(3)),
                Some(Code(3)),
                Some(Code(0)),
                Some(Runs),
                Some(Code(0)),
                Some(Code(3)),
            ],
        ),
        (
            "decompress",
            &["decompress", "{IN}"],
            [
                Some(Code(3)),
                Some(Code(3)),
                Some(Fails),
                Some(Code(4)),
                Some(Fails),
                Some(Code(3)),
            ],
        ),
        (
            "dict train",
            &["dict", "train", "{IN}", "-o", "{OUT}/d.zdict"],
            [
                Some(Code(3)),
                Some(Code(3)),
                Some(Fails),
                Some(Fails),
                Some(Fails),
                quiet,
            ],
        ),
        (
            "dict info",
            &["dict", "info", "{IN}"],
            [
                Some(Code(3)),
                Some(Code(3)),
                Some(Fails),
                Some(Fails),
                Some(Fails),
                Some(Code(3)),
            ],
        ),
        (
            "key generate --secret",
            &[
                "key", "generate", "n-1", "--secret", "{IN}", "--public", "{OUT}/pk",
            ],
            [
                Some(Fails),
                Some(Fails),
                Some(Fails),
                Some(Fails),
                Some(Fails),
                None,
            ],
        ),
    ]
}

fn rows(fx: &Fixtures) -> Vec<Row> {
    let mut rows = Vec::new();
    let good = |label: &str| -> Option<PathBuf> {
        Some(match label {
            "chunk --nar" | "hash --nar" | "nar pack" => fx.dir.path("tree"),
            "nar unpack" | "nar ls" => fx.nar.clone(),
            "narinfo sign" => fx.dir.path("unsigned.narinfo"),
            "narinfo verify" => fx.narinfo.clone(),
            "decompress" => fx.zst.clone(),
            "dict info" => fx.dict.clone(),
            "narinfo sign --key-file" | "key generate --secret" | "dict train" => return None,
            _ => fx.data.clone(),
        })
    };
    for (label, args, expect) in specs() {
        let kinds = [
            In::Missing,
            In::Dir,
            In::Fifo,
            In::Zero,
            In::Empty,
            In::Good,
        ];
        for (i, (kind, e)) in kinds.into_iter().zip(expect).enumerate() {
            let Some(e) = e else { continue };
            let out = if i == 5 { Out::Full } else { Out::Null };
            let input = match kind {
                In::Good => match good(label) {
                    Some(p) => p.display().to_string(),
                    None => continue,
                },
                _ => "{IN}".to_string(),
            };
            rows.push(Row {
                label: format!("{label} {}", kind_name(kind, out)),
                args: args.iter().map(|a| a.replace("{IN}", &input)).collect(),
                input: kind,
                out,
                expect: e,
            });
            // A closed stdout: the output is dropped, the command still succeeds.
            if kind == In::Good && good(label).is_some() {
                let args = rows.last().unwrap().args.clone();
                rows.push(Row {
                    label: format!("{label} good, stdout closed"),
                    args,
                    input: In::Good,
                    out: Out::Closed,
                    expect: Code(0),
                });
            }
        }
    }
    // Commands without a FILE, stdout on /dev/full and closed.
    for (label, args) in [
        ("bench nix32", &["bench", "nix32"][..]),
        ("base32 decode", &["base32", "decode", "0z"]),
        (
            "nar unpack good",
            &["nar", "unpack", s(&fx.nar), "{OUT}/tree"],
        ),
        (
            "narinfo verify good",
            &[
                "narinfo",
                "verify",
                "--public-key",
                &fx.public_key,
                s(&fx.narinfo),
            ],
        ),
    ] {
        for (out, e) in [(Out::Full, Code(3)), (Out::Closed, Code(0))] {
            // unpack writes no stdout.
            let e = if label == "nar unpack good" {
                Code(0)
            } else {
                e
            };
            rows.push(Row {
                label: format!("{label}, stdout {out:?}"),
                args: args.iter().map(|a| a.to_string()).collect(),
                input: In::Good,
                out,
                expect: e,
            });
        }
    }
    // Hostile and huge flag values.
    let data = s(&fx.data);
    let long_name = "n".repeat(100_000);
    let long_b32 = "0".repeat(100_000);
    let cases: Vec<(&str, Vec<&str>, E)> = vec![
        (
            "chunk --min huge",
            vec!["chunk", data, "--min", "99999999999G"],
            Code(2),
        ),
        (
            "chunk --max 16M+1",
            vec!["chunk", data, "--max", "16385K"],
            Code(5),
        ),
        (
            "chunk --read-size 0",
            vec!["chunk", data, "--read-size", "0"],
            Code(2),
        ),
        (
            "chunk --read-size huge",
            vec!["chunk", data, "--read-size", "1000G"],
            Code(2),
        ),
        (
            "bench cdc --size huge",
            vec!["bench", "cdc", "--size", "65G"],
            Code(2),
        ),
        (
            "bench cdc --repeat huge",
            vec!["bench", "cdc", "--repeat", "4294967296"],
            Code(2),
        ),
        (
            "bench cdc --threads huge",
            vec!["bench", "cdc", data, "--threads", "99999999999999999999999"],
            Code(2),
        ),
        (
            "bench stream --size huge",
            vec!["bench", "stream", "--size", "99999999999G"],
            Code(2),
        ),
        (
            "decompress --max-output huge",
            vec!["decompress", data, "--max-output", "99999999999G"],
            Code(2),
        ),
        (
            "decompress --max-output 0",
            vec!["decompress", s(&fx.zst), "--max-output", "0"],
            Code(4),
        ),
        (
            "compress --level huge",
            vec!["compress", data, "--level", "2147483647"],
            Fails,
        ),
        (
            "compress --threads huge",
            vec!["compress", data, "--codec", "xz", "--threads", "4294967295"],
            Fails,
        ),
        (
            "dict train --max-size huge",
            vec!["dict", "train", data, "--max-size", "64G", "-o", "{OUT}/d"],
            Fails,
        ),
        (
            "key generate long name",
            vec![
                "key", "generate", &long_name, "--secret", "{OUT}/sk", "--public", "{OUT}/pk",
            ],
            Any,
        ),
        (
            "base32 decode long",
            vec!["base32", "decode", &long_b32],
            Code(0),
        ),
        (
            "base32 decode hostile",
            vec!["base32", "decode", "\u{1b}]0;x\u{7}"],
            Code(4),
        ),
        (
            "base32 encode --hex odd",
            vec!["base32", "encode", "--hex", "abc"],
            Code(4),
        ),
        (
            "narinfo verify secret as public",
            vec![
                "narinfo",
                "verify",
                "--public-key",
                "x:AAAA",
                s(&fx.narinfo),
            ],
            Fails,
        ),
        (
            "chunk empty file json",
            vec!["chunk", s(&fx.empty), "--format", "json"],
            Code(0),
        ),
    ];
    for (label, args, e) in cases {
        rows.push(Row {
            label: label.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
            input: In::Good,
            out: Out::Null,
            expect: e,
        });
    }
    rows
}

fn kind_name(kind: In, out: Out) -> &'static str {
    match (kind, out) {
        (In::Missing, _) => "missing",
        (In::Dir, _) => "directory",
        (In::Fifo, _) => "fifo",
        (In::Zero, _) => "/dev/zero",
        (In::Empty, _) => "empty",
        (In::Good, Out::Full) => "good, stdout /dev/full",
        (In::Good, _) => "good",
    }
}

/// Peak resident memory of a running process, KiB.
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Whether process `pid` has `path` open.
fn has_open(pid: u32, path: &Path) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
        fds.flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t == path))
    })
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Run one row; an error message when it does not conform.
fn check(row: &Row, fx: &Fixtures, n: usize) -> Result<(), String> {
    let base = fx.dir.path(&format!("row{n}"));
    let (cwd, tmp, out_dir) = (base.join("cwd"), base.join("tmp"), base.join("out"));
    for d in [&cwd, &tmp, &out_dir] {
        std::fs::create_dir_all(d).unwrap();
    }
    let input: PathBuf = match row.input {
        In::Missing => base.join("does-not-exist/file"),
        In::Dir => base.join("cwd"),
        In::Fifo => {
            let p = base.join("fifo");
            let st = Command::new("mkfifo").arg(&p).status().unwrap();
            assert!(st.success());
            p
        }
        In::Zero => "/dev/zero".into(),
        In::Empty => fx.empty.clone(),
        In::Good => PathBuf::new(),
    };
    let args: Vec<String> = row
        .args
        .iter()
        .map(|a| {
            a.replace("{IN}", &input.display().to_string())
                .replace("{OUT}", &out_dir.display().to_string())
                .replace("{SECRET}", s(&fx.secret))
                .replace("{NARINFO}", s(&fx.narinfo))
                .replace("{PUBLIC}", &fx.public_key)
        })
        .collect();
    // Opened read-write, the FIFO does not block us and has a writer for the child.
    let mut fifo_writer = (row.input == In::Fifo).then(|| {
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(&input)
            .unwrap()
    });
    let stderr_path = base.join("stderr");
    let stdout: Stdio = match row.out {
        Out::Null | Out::Closed => Stdio::null(),
        Out::Full => OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
            .into(),
    };
    let mut cmd = if row.out == Out::Closed {
        // Standard output closed (fd 1 not open at all).
        let mut c = Command::new("sh");
        c.args([
            "-c",
            "exec \"$0\" \"$@\" >&-",
            env!("CARGO_BIN_EXE_chunker"),
        ]);
        c.args(&args);
        c
    } else {
        let mut c = bin();
        c.args(&args);
        c
    };
    let mut child = cmd
        .current_dir(&cwd)
        .env("TMPDIR", &tmp)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    let start = Instant::now();
    let limit = if row.expect == Runs { RUNS_FOR } else { HANG };
    let mut peak = 0;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        peak = peak.max(vm_hwm(pid).unwrap_or(0));
        if fifo_writer.is_some() && has_open(pid, &input) {
            // Nothing written: the reader sees end of input once we close.
            fifo_writer = None;
        }
        // Over the bound: stop it at once (it would take the machine's memory).
        if start.elapsed() > limit || peak > MAX_RSS_KIB {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let mut problems = Vec::new();
    if err.contains("panicked") || err.contains("RUST_BACKTRACE") {
        problems.push("panicked".to_string());
    }
    if peak > MAX_RSS_KIB {
        problems.push(format!("peak RSS {peak} KiB > {MAX_RSS_KIB} KiB"));
    }
    let code = status.and_then(|s| s.code());
    match (row.expect, status) {
        (_, None) if peak > MAX_RSS_KIB => {}
        (Runs, None) => {}
        (Runs, Some(st)) => problems.push(format!("ended ({st}) instead of streaming")),
        (_, None) => problems.push(format!("still running after {HANG:?}")),
        (Code(c), Some(_)) if code != Some(c) => {
            problems.push(format!("exit {code:?}, expected {c}"))
        }
        (Fails, Some(_)) if !matches!(code, Some(1..=6)) => {
            problems.push(format!("exit {code:?}, expected a failure code"))
        }
        _ => {}
    }
    if matches!(code, Some(1..=6)) {
        let lines: Vec<&str> = err.lines().collect();
        if lines.len() != 1 || !lines[0].starts_with("chunker: ") {
            problems.push(format!("stderr is not one `chunker: …` line: {err:?}"));
        }
        if err.chars().any(|c| c.is_control() && c != '\n') {
            problems.push(format!("control characters on stderr: {err:?}"));
        }
    }
    // Nothing left behind.
    for (what, dir) in [("working directory", &cwd), ("TMPDIR", &tmp)] {
        let left = entries(dir);
        if !left.is_empty() {
            problems.push(format!("left in its {what}: {left:?}"));
        }
    }
    if code != Some(0) && status.is_some() {
        let left = entries(&out_dir);
        if !left.is_empty() {
            problems.push(format!("failed but left outputs: {left:?}"));
        }
    }
    let system_tmp = std::env::temp_dir();
    let pid_tag = format!("-{pid}");
    let strays: Vec<String> = entries(&system_tmp)
        .into_iter()
        .filter(|e| e.contains(&pid_tag) && e.starts_with("chunker-bench"))
        .collect();
    if !strays.is_empty() {
        problems.push(format!("left in {}: {strays:?}", system_tmp.display()));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} ({}): {}",
            row.label,
            args.join(" ").chars().take(200).collect::<String>(),
            problems.join("; ")
        ))
    }
}

#[test]
fn every_subcommand_conforms_on_bad_hostile_and_edge_inputs() {
    let fx = fixtures();
    let rows: Vec<Row> = rows(&fx)
        .into_iter()
        .filter(|r| !FIXED_ON_ANOTHER_BRANCH.contains(&r.label.as_str()))
        .collect();
    // Every subcommand is covered.
    let help = String::from_utf8(ok(&["--help"])).unwrap();
    for line in help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
    {
        let Some(name) = line.split_whitespace().next() else {
            break;
        };
        if name == "help" || !line.starts_with("  ") {
            break;
        }
        assert!(
            rows.iter()
                .any(|r| r.args.first().is_some_and(|a| a == name)),
            "no row for `{name}`"
        );
    }
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some(row) = rows.get(n) else { break };
                if let Err(e) = check(row, &fx, n) {
                    failures.lock().unwrap().push(e);
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} rows do not conform:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}
