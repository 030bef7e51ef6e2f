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
    ok(&["store", "--store", s(&dir.path("store")), "init"]);
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

/// Commands that read a FILE: a label, the arguments (`{IN}` is the input), and the
/// expectation for each input kind, in the order missing, directory, FIFO, `/dev/zero`,
/// empty, then a good input with stdout on `/dev/full` (and closed: always 0). Words:
/// an exit code, `run` (streams until stopped), `fail` (a failure exit code, the exact
/// one someone else's call), `-` (not applicable).
#[rustfmt::skip]
const FILE_COMMANDS: &[(&str, &str, &str)] = &[
    ("chunk", "chunk {IN}", "3 3 0 run 0 3"),
    // The NAR of a FIFO or a device is refused: a NAR holds files, symlinks, directories.
    ("chunk --nar", "chunk --nar {IN}", "3 0 4 4 0 3"),
    ("hash", "hash {IN}", "3 3 0 run 0 3"),
    ("hash --nar", "hash --nar {IN}", "3 0 fail fail 0 3"),
    // Input is capped at 64 MiB.
    ("base32 encode", "base32 encode {IN}", "3 3 0 4 0 3"),
    // FILE is capped by --size; an empty one has nothing to measure.
    ("bench cdc", "bench cdc {IN} --size 1M --repeat 1 --threads 1", "3 3 4 4 4 3"),
    // Only a regular file: it is read several times.
    ("bench stream", "bench stream {IN} --repeat 1", "3 3 3 3 4 3"),
    ("nar pack", "nar pack {IN}", "3 0 4 4 0 3"),
    // Writes no stdout.
    ("nar unpack", "nar unpack {IN} {OUT}/tree", "3 3 4 4 4 -"),
    ("nar ls", "nar ls {IN}", "3 3 4 4 4 3"),
    ("narinfo sign", "narinfo sign --key-file {SECRET} {IN}", "3 3 4 4 4 3"),
    ("narinfo sign --key-file", "narinfo sign --key-file {IN} {NARINFO}", "3 3 fail fail fail -"),
    ("narinfo verify", "narinfo verify --public-key {PUBLIC} {IN}", "3 3 4 4 4 3"),
    ("compress", "compress {IN}", "3 3 0 run 0 3"),
    ("decompress", "decompress {IN}", "3 3 fail 4 fail 3"),
    ("dict train", "dict train {IN} -o {OUT}/d.zdict", "3 3 fail fail fail -"),
    ("dict info", "dict info {IN}", "3 3 fail fail fail 3"),
    ("key generate --secret", "key generate n-1 --secret {IN} --public {OUT}/pk", "fail fail fail fail fail -"),
    // A directory or an empty file is packed into a NAR, as `nar pack` does.
    ("store add", "store --store {STORE} add {IN}", "3 0 4 4 0 3"),
];

/// Other rows: a label, the arguments, the expectation (as in [`FILE_COMMANDS`], and
/// `any`: any outcome but a panic, a hang or unbounded memory). `{DATA}` is a valid
/// input file, `{ZST}` a zstd frame of it.
#[rustfmt::skip]
const OTHER_ROWS: &[(&str, &str, &str)] = &[
    // Commands without FILE, stdout on /dev/full and closed.
    ("bench nix32, stdout /dev/full", "bench nix32", "3"),
    ("base32 decode, stdout /dev/full", "base32 decode 0z", "3"),
    ("narinfo verify, stdout /dev/full", "narinfo verify --public-key {PUBLIC} {NARINFO}", "3"),
    ("nar unpack, stdout /dev/full", "nar unpack {NAR} {OUT}/tree", "0"),
    // Hostile and huge flag values.
    ("chunk --min huge", "chunk {DATA} --min 99999999999G", "2"),
    ("chunk --max 16M+1", "chunk {DATA} --max 16385K", "5"),
    ("chunk --read-size 0", "chunk {DATA} --read-size 0", "2"),
    ("chunk --read-size huge", "chunk {DATA} --read-size 1000G", "2"),
    ("bench cdc --size huge", "bench cdc --size 65G", "2"),
    ("bench cdc --repeat huge", "bench cdc --repeat 4294967296", "2"),
    ("bench cdc --threads huge", "bench cdc {DATA} --threads 99999999999999999999999", "2"),
    ("bench cdc FILE over --size", "bench cdc {DATA} --size 4K", "4"),
    ("bench stream --size huge", "bench stream --size 99999999999G", "2"),
    ("decompress --max-output huge", "decompress {DATA} --max-output 99999999999G", "2"),
    ("decompress --max-output 0", "decompress {ZST} --max-output 0", "4"),
    ("compress --level huge", "compress {DATA} --level 2147483647", "fail"),
    ("compress --threads huge", "compress {DATA} --codec xz --threads 4294967295", "fail"),
    ("dict train --max-size huge", "dict train {DATA} --max-size 64G -o {OUT}/d", "fail"),
    ("key generate long name", "key generate {LONG} --secret {OUT}/sk --public {OUT}/pk", "any"),
    ("base32 decode long", "base32 decode {LONG0}", "0"),
    ("base32 decode hostile", "base32 decode \u{1b}]0;x\u{7}", "4"),
    ("base32 encode --hex odd", "base32 encode --hex abc", "4"),
    ("narinfo verify key garbage", "narinfo verify --public-key x:AAAA {NARINFO}", "fail"),
    ("chunk empty json", "chunk {EMPTY} --format json", "0"),
    ("store stats, stdout /dev/full", "store --store {STORE} stats --format json", "3"),
    ("store cat hostile key", "store --store {STORE} cat \u{1b}]0;x\u{7}", "2"),
    ("store cat --range hostile", "store --store {STORE} cat 0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73 --range 9-", "fail"),
    ("store ls, no store", "store --store {OUT}/none ls", "1"),
];

fn expectation(word: &str) -> Option<E> {
    match word {
        "-" => None,
        "run" => Some(Runs),
        "fail" => Some(Fails),
        "any" => Some(Any),
        code => Some(Code(code.parse().expect("an exit code"))),
    }
}

fn rows(fx: &Fixtures) -> Vec<Row> {
    let mut rows = Vec::new();
    let row = |label: String, args: &str, input, out, expect| Row {
        label,
        args: args.split_whitespace().map(String::from).collect(),
        input,
        out,
        expect,
    };
    let kinds = [In::Missing, In::Dir, In::Fifo, In::Zero, In::Empty];
    for &(label, args, expect) in FILE_COMMANDS {
        let mut words = expect.split_whitespace().map(expectation);
        for (kind, e) in kinds.into_iter().zip(words.by_ref()) {
            if let Some(e) = e {
                rows.push(row(
                    format!("{label} {}", kind_name(kind)),
                    args,
                    kind,
                    Out::Null,
                    e,
                ));
            }
        }
        if let Some(e) = words.next().flatten() {
            let args = args.replace("{IN}", s(&good_input(fx, label)));
            for (out, e) in [(Out::Full, e), (Out::Closed, Code(0))] {
                let label = format!("{label} good, stdout {out:?}");
                rows.push(row(label, &args, In::Good, out, e));
            }
        }
    }
    for &(label, args, expect) in OTHER_ROWS {
        let e = expectation(expect).expect("applies");
        let out = if label.contains("/dev/full") {
            rows.push(row(
                label.replace("/dev/full", "closed"),
                args,
                In::Good,
                Out::Closed,
                Code(0),
            ));
            Out::Full
        } else {
            Out::Null
        };
        rows.push(row(label.to_string(), args, In::Good, out, e));
    }
    rows
}

/// A valid input for a command of [`FILE_COMMANDS`].
fn good_input(fx: &Fixtures, label: &str) -> PathBuf {
    match label {
        "chunk --nar" | "hash --nar" | "nar pack" => fx.dir.path("tree"),
        "nar ls" => fx.nar.clone(),
        "narinfo sign" => fx.dir.path("unsigned.narinfo"),
        "narinfo verify" => fx.narinfo.clone(),
        "decompress" => fx.zst.clone(),
        "dict info" => fx.dict.clone(),
        _ => fx.data.clone(),
    }
}

fn kind_name(kind: In) -> &'static str {
    match kind {
        In::Missing => "missing",
        In::Dir => "directory",
        In::Fifo => "fifo",
        In::Zero => "/dev/zero",
        In::Empty => "empty",
        In::Good => "good",
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
                .replace("{DATA}", s(&fx.data))
                .replace("{ZST}", s(&fx.zst))
                .replace("{NAR}", s(&fx.nar))
                .replace("{EMPTY}", s(&fx.empty))
                .replace("{LONG0}", &"0".repeat(100_000))
                .replace("{LONG}", &"n".repeat(100_000))
                .replace("{STORE}", s(&fx.dir.path("store")))
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
    let rows: Vec<Row> = rows(&fx);
    assert!(rows.len() > 100, "the table has {} rows", rows.len());
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
