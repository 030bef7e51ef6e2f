//! `chunker store gc|simulate` through the binary: kill -9 of an ingest, then ingest
//! again and GC.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use chunker_testdata::support::TempDir;
use chunker_testdata::{generate, Kind};

fn chunker(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chunker"))
        .args(args)
        .env_remove("CHUNKER_STORE")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok_json(args: &[&str]) -> serde_json::Value {
    let out = chunker(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A store with 64 KiB packs.
fn init_small(store: &str) {
    ok_json(&[
        "store",
        "init",
        "--store",
        store,
        "--pack-target",
        "64K",
        "--format",
        "json",
    ]);
}

fn count_files(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.map(|e| e.unwrap().path())
        .map(|p| if p.is_dir() { count_files(&p) } else { 1 })
        .sum()
}

/// `store gc --grace 0 [--dry-run] --format json` on store `s`.
fn gc_json(s: &str, dry_run: bool) -> serde_json::Value {
    let mut args = vec![
        "store", "gc", "--store", s, "--grace", "0", "--format", "json",
    ];
    if dry_run {
        args.push("--dry-run");
    }
    ok_json(&args)
}

/// Files named `NAME#DIGITS` under `dir` (unfinished local writes).
fn staging_files(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.map(|e| e.unwrap().path())
        .map(|p| {
            if p.is_dir() {
                staging_files(&p)
            } else {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                usize::from(
                    name.rsplit_once('#').is_some_and(|(_, n)| {
                        !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
                    }),
                )
            }
        })
        .sum()
}

#[test]
fn kill_9_during_add_then_add_and_gc() {
    let tmp = TempDir::new("store-kill");
    let store = tmp.path("store");
    let s = store.to_str().unwrap();
    let input = tmp.file("input.bin", &generate(Kind::Random, 96 << 20, 31));
    let input = input.to_str().unwrap();
    init_small(s);
    let mut child = Command::new(env!("CARGO_BIN_EXE_chunker"))
        .args(["store", "add", "--store", s, "--no-progress", input])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut waited = 0;
    while count_files(&store.join("packs")) < 3 && waited < 6000 {
        std::thread::sleep(Duration::from_millis(10));
        waited += 1;
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the ingest finished before it was killed"
    );
    assert!(count_files(&store.join("manifests")) == 0);
    let orphans = count_files(&store.join("packs"));
    assert!(orphans >= 3);
    // The killed ingest's lease is still there.
    assert_eq!(count_files(&store.join("locks")), 1);
    // Another NAR; then GC: the killed ingest's packs are garbage.
    let other = tmp.file("other.bin", &generate(Kind::Random, 4 << 20, 32));
    let add = ok_json(&[
        "store",
        "add",
        "--store",
        s,
        "--format",
        "json",
        other.to_str().unwrap(),
    ]);
    // An unfinished write (as a kill between writing and renaming leaves it; the kill
    // above may or may not have left one): a dry run finds it, a GC deletes it.
    let staged = store.join("packs").join("00").join("00ff#3");
    std::fs::create_dir_all(staged.parent().unwrap()).unwrap();
    std::fs::write(&staged, b"half a pack").unwrap();
    let dry = gc_json(s, true);
    assert!(dry["staging_files"].as_u64().unwrap() >= 1, "{dry}");
    assert!(staged.exists());
    let g1 = gc_json(s, false);
    assert_eq!(g1["staging_files"], dry["staging_files"], "{g1}");
    assert!(!staged.exists());
    assert_eq!(staging_files(&store), 0, "no staging file is left");
    assert_eq!(g1["broken_locks"].as_array().unwrap().len(), 1, "{g1}");
    // (A pack being written at the kill may be left as a staging file, not a pack.)
    let condemned = g1["condemned_packs"].as_u64().unwrap() as usize;
    assert!(condemned > 0 && condemned <= orphans, "{g1}");
    assert_eq!(g1["deleted_packs"], 0);
    let g2 = gc_json(s, false);
    assert_eq!(g2["deleted_packs"], g1["condemned_packs"], "{g2}");
    let v = chunker(&["store", "verify", "--store", s]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    let st = ok_json(&["store", "stats", "--store", s, "--format", "json"]);
    assert_eq!(st["missing_chunks"], 0);
    assert_eq!(st["stored_bytes"], add["stored_bytes"], "{st}");
    // The killed ingest again, to the end; everything reads back.
    let again = ok_json(&["store", "add", "--store", s, "--format", "json", input]);
    let key = again["key"].as_str().unwrap().to_string();
    let v = chunker(&["store", "verify", "--store", s]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    let back = tmp.path("back.nar");
    let get = chunker(&["store", "get", "--store", s, &key, back.to_str().unwrap()]);
    assert!(get.status.success());
    assert_eq!(
        std::fs::metadata(&back).unwrap().len(),
        again["nar_size"].as_u64().unwrap()
    );
    assert_eq!(count_files(&store.join("locks")), 0);
}

#[test]
fn gc_dry_run_and_simulate_json() {
    let tmp = TempDir::new("store-gc-cli");
    let store = tmp.path("store");
    let s = store.to_str().unwrap();
    let a = tmp.file("a.bin", &generate(Kind::Binary, 3 << 20, 1));
    let b = tmp.file("b.bin", &generate(Kind::Binary, 3 << 20, 2));
    init_small(s);
    let ra = ok_json(&[
        "store",
        "add",
        "--store",
        s,
        "--format",
        "json",
        a.to_str().unwrap(),
    ]);
    ok_json(&[
        "store",
        "add",
        "--store",
        s,
        "--format",
        "json",
        b.to_str().unwrap(),
    ]);
    let key = ra["key"].as_str().unwrap();
    assert!(chunker(&["store", "rm", "--store", s, key])
        .status
        .success());
    let dry = gc_json(s, true);
    assert_eq!(dry["dry_run"], true);
    assert!(dry["reclaimable_bytes"].as_u64().unwrap() >= ra["stored_bytes"].as_u64().unwrap() / 2);
    assert_eq!(count_files(&store.join("condemned")), 0);
    // Bad usage.
    assert_eq!(
        chunker(&["store", "gc", "--store", s, "--grace", "5x"])
            .status
            .code(),
        Some(2)
    );
    let sim = ok_json(&[
        "store",
        "simulate",
        "--format",
        "json",
        "--params",
        "16K/64K/256K",
        "--params",
        "64K/256K/1M",
        a.to_str().unwrap(),
        a.to_str().unwrap(),
    ]);
    let rows = sim["results"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for r in rows {
        assert_eq!(r["nars"], 2);
        assert!(
            (r["dedup_ratio"].as_f64().unwrap() - 2.0).abs() < 1e-9,
            "{r}"
        );
    }
    let bad = chunker(&[
        "store",
        "simulate",
        "--params",
        "1M/256K/64K",
        a.to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(5));
}
