//! `chunker store …` through the built binary: keys against Nix, JSON output, exit
//! codes, and a `kill -9` in the middle of an ingest.

mod common;
use common::{bin, run, s, stderr, stdout};

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use chunker_testdata::support::{have_nix, nix_output, TempDir};
use chunker_testdata::{generate, Kind};

fn json(o: &std::process::Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_str(&stdout(o)).unwrap()
}

fn files_under(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                files_under(&p)
            } else {
                1
            }
        })
        .sum()
}

#[test]
fn add_prints_nix_narhash_and_cat_round_trips() {
    if !have_nix() {
        return;
    }
    let t = TempDir::new("cli-store");
    let store = t.path("s");
    let tree = Path::new("/usr/share/zoneinfo");
    if !tree.exists() {
        eprintln!("skipped: no {}", tree.display());
        return;
    }
    let o = run(&["store", "--store", s(&store), "init"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["store", "--store", s(&store), "add", s(tree)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let first = stdout(&o).lines().next().unwrap().to_string();
    let nix = String::from_utf8(nix_output(
        "nix-hash",
        &["--type", "sha256", "--base32", s(tree)],
        None,
    ))
    .unwrap();
    let nix = nix.trim();
    assert_eq!(first, format!("{nix} sha256:{nix}"));
    // cat = nix-store --dump.
    let o = bin()
        .args(["store", "cat", &format!("sha256:{nix}")])
        .env("CHUNKER_STORE", s(&store))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout == nix_output("nix-store", &["--dump", s(tree)], None));
    let st = json(&run(&[
        "store",
        "--store",
        s(&store),
        "stats",
        "--format",
        "json",
    ]));
    assert_eq!(st["nars"], 1);
    assert_eq!(st["logical_bytes"], o.stdout.len() as u64);
    assert_eq!(st["unique_bytes"], o.stdout.len() as u64);
    assert!(st["stored_bytes"].as_u64().unwrap() > 0);
    let ls = json(&run(&[
        "store",
        "--store",
        s(&store),
        "ls",
        "--format",
        "json",
    ]));
    assert_eq!(ls["nars"][0]["key"], nix);
    // Usage and lookup errors.
    assert_eq!(
        run(&["store", "--store", s(&store), "cat", "nope"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&["store", "cat", nix]).status.code(),
        Some(2),
        "no --store"
    );
    let o = run(&["store", "--store", s(&store), "init", "--avg", "64K"]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
}

#[test]
fn verify_names_a_flipped_chunk_and_exits_6() {
    let t = TempDir::new("cli-store-flip");
    let store = t.path("s");
    let input = t.file("in", &generate(Kind::Text, 3 << 20, 5));
    assert!(run(&[
        "store",
        "--store",
        s(&store),
        "init",
        "--preset",
        "small",
        "--pack-target",
        "64K"
    ])
    .status
    .success());
    let add = json(&run(&[
        "store",
        "--store",
        s(&store),
        "add",
        s(&input),
        "--format",
        "json",
    ]));
    let key = add["key"].as_str().unwrap().to_string();
    assert!(add["packs"].as_u64().unwrap() > 2, "{add}");
    // Flip one byte in the middle of some pack's frames.
    let mut packs = Vec::new();
    for d in std::fs::read_dir(store.join("packs")).unwrap().flatten() {
        for p in std::fs::read_dir(d.path()).unwrap().flatten() {
            packs.push(p.path());
        }
    }
    packs.sort();
    let mut bytes = std::fs::read(&packs[0]).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0x10;
    std::fs::write(&packs[0], bytes).unwrap();
    let o = run(&["store", "--store", s(&store), "verify"]);
    assert_eq!(o.status.code(), Some(6), "{}", stdout(&o));
    assert!(stdout(&o).contains("bad: packs/"), "{}", stdout(&o));
    assert!(stdout(&o).contains("is corrupt"), "{}", stdout(&o));
    let out = t.path("out.nar");
    let o = run(&["store", "--store", s(&store), "get", &key, s(&out)]);
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    assert!(stderr(&o).contains("chunk "), "{}", stderr(&o));
    assert!(!out.exists());
}

/// `kill -9` of an ingest that has written some packs, then the same ingest again: it
/// completes, and every manifest's chunks are there (verify passes).
#[test]
fn kill_9_mid_ingest_then_add_again() {
    let t = TempDir::new("cli-store-kill");
    let store = t.path("s");
    assert!(run(&[
        "store",
        "--store",
        s(&store),
        "init",
        "--preset",
        "small",
        "--pack-target",
        "64K"
    ])
    .status
    .success());
    let data = generate(Kind::Binary, 24 << 20, 9);
    let mut child = bin()
        .args(["store", "--store", s(&store), "add", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Feed the first part, then wait (without closing stdin) until packs appear.
    stdin.write_all(&data[..8 << 20]).unwrap();
    let packs = store.join("packs");
    let start = Instant::now();
    while files_under(&packs) < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no packs written"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    drop(stdin);
    assert!(std::fs::read_dir(store.join("manifests")).map_or(true, |mut d| d.next().is_none()));
    // Again (the same bytes on stdin), to the end.
    let mut again = bin()
        .args([
            "store",
            "--store",
            s(&store),
            "add",
            "-",
            "--format",
            "json",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    again.stdin.take().unwrap().write_all(&data).unwrap();
    let add = json(&again.wait_with_output().unwrap());
    assert!(add["packs"].as_u64().unwrap() > 0, "{add}");
    assert_eq!(add["nar_size"], 24u64 << 20);
    let o = run(&["store", "--store", s(&store), "verify", "--format", "json"]);
    let v = json(&o);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["nars"], 1);
    let o = run(&[
        "store",
        "--store",
        s(&store),
        "cat",
        add["key"].as_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert!(o.stdout == data);
}
