//! `chunker hash` with several files (SHA-256 lanes across files) and every option
//! honoured or rejected (issue 15 item 9).

mod common;
use common::{run, s, stderr, stdout};

use chunker_testdata::support::TempDir;
use chunker_testdata::{generate, Kind};
use sha2::Digest as _;

fn sha256_hex(data: &[u8]) -> String {
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn several_files_one_line_each_in_order() {
    let dir = TempDir::new("hash-many");
    // Lengths that end in different rounds of lanes (1 MiB per read), more files than lanes.
    let lens = [
        0usize,
        5,
        3 << 20,
        64,
        (1 << 20) + 1,
        1 << 20,
        100_000,
        2_500_000,
        1,
    ];
    let mut paths = Vec::new();
    let mut want = String::new();
    for (i, len) in lens.iter().enumerate() {
        let data = generate(Kind::Binary, *len, i as u64);
        let p = dir.0.join(format!("f{i}"));
        std::fs::write(&p, &data).unwrap();
        want += &format!("{}  {}\n", sha256_hex(&data), p.display());
        paths.push(p);
    }
    let mut args = vec!["hash", "--encoding", "hex"];
    args.extend(paths.iter().map(|p| s(p)));
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), want);

    // JSON: one document listing every file in order.
    args.extend(["--format", "json"]);
    let o = run(&args);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let files = j["files"].as_array().unwrap();
    assert_eq!(files.len(), lens.len());
    for (f, (p, len)) in files.iter().zip(paths.iter().zip(lens)) {
        assert_eq!(f["file"], p.display().to_string());
        assert_eq!(f["size"], len as u64);
        assert_eq!(f["encoding"], "hex");
    }

    // An unreadable file in the list: exit 3, naming it.
    let o = run(&["hash", s(&paths[0]), "/nonexistent/x", s(&paths[1])]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("/nonexistent/x"), "{}", stderr(&o));
    // Standard input twice is a usage error.
    assert_eq!(run(&["hash", "-", "-"]).status.code(), Some(2));
}

#[test]
fn csv_format_is_csv() {
    let dir = TempDir::new("hash-csv");
    let a = dir.0.join("a,b");
    std::fs::write(&a, b"abc").unwrap();
    let o = run(&["hash", s(&a), "--format", "csv", "--encoding", "hex"]);
    assert!(o.status.success());
    assert_eq!(
        stdout(&o),
        format!(
            "file,algorithm,digest,size\n\"{}\",sha256,{},3\n",
            a.display(),
            sha256_hex(b"abc")
        )
    );
}

#[test]
fn nar_honours_encoding_and_format() {
    let dir = TempDir::new("hash-nar");
    let tree = dir.0.join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("f"), b"hello").unwrap();
    let want = chunker::nix::nar_hash(&tree).unwrap();
    let d = want.nar_hash;
    for (enc, text) in [
        ("nix32", d.to_nix_string()),
        ("hex", format!("sha256:{}", d.to_hex())),
        ("sri", d.to_sri()),
    ] {
        let o = run(&["hash", "--nar", s(&tree), "--encoding", enc]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(stdout(&o), format!("{text}\n{}\n", want.nar_size), "{enc}");
        // Every printed form parses back to the same digest.
        assert_eq!(text.parse::<chunker::Digest>().unwrap(), d);
        let o = run(&[
            "hash",
            "--nar",
            s(&tree),
            "--encoding",
            enc,
            "--format",
            "json",
        ]);
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(j["nar_hash"], text);
        assert_eq!(j["encoding"], enc);
    }
    let o = run(&["hash", "--nar", s(&tree), "--format", "csv"]);
    assert_eq!(
        stdout(&o),
        format!(
            "path,nar_hash,nar_size\n{},{},{}\n",
            tree.display(),
            d,
            want.nar_size
        )
    );
    assert_eq!(
        run(&["hash", "--nar", s(&tree), "--algo", "blake3"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn help_describes_only_what_hash_prints() {
    let o = run(&["hash", "--help"]);
    let help = stdout(&o);
    assert!(!help.contains("summary line"), "{help}");
    assert!(help.contains("file,algorithm,digest,size"), "{help}");
}

#[test]
fn sha256_kernel_override() {
    let dir = TempDir::new("hash-kernel");
    let f = dir.0.join("f");
    let data = generate(Kind::Text, 300_000, 9);
    std::fs::write(&f, &data).unwrap();
    for kernel in ["portable", "shani"] {
        let o = common::bin()
            .args(["hash", "--encoding", "hex", s(&f), s(&f)])
            .env("CHUNKER_SHA256_KERNEL", kernel)
            .output()
            .unwrap();
        if !chunker::sha256::Kernel::from_name(kernel).is_ok_and(|k| k.is_available()) {
            eprintln!("skipped: kernel {kernel} is not available on this CPU");
            assert_eq!(o.status.code(), Some(5));
            continue;
        }
        let line = format!("{}  {}\n", sha256_hex(&data), f.display());
        assert_eq!(stdout(&o), line.repeat(2), "{kernel}");
    }
    let o = common::bin()
        .args(["hash", s(&f)])
        .env("CHUNKER_SHA256_KERNEL", "avx9")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(5));
    assert!(
        stderr(&o).contains("CHUNKER_SHA256_KERNEL"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn hostile_file_names_are_escaped_in_text_and_lossless_in_json() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = TempDir::new("hash-names");
    let a = dir.0.join(OsStr::from_bytes(b"a\xff\x1b]0;x\x07"));
    let b = dir.0.join(OsStr::from_bytes(b"a\xfe\nforged"));
    std::fs::write(&a, b"one").unwrap();
    std::fs::write(&b, b"two").unwrap();
    let o = common::bin()
        .args(["hash", "--encoding", "hex"])
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // Text: one row per file, no raw control bytes, the two names told apart.
    assert_eq!(o.stdout.iter().filter(|&&c| c == b'\n').count(), 2);
    assert!(!o.stdout.iter().any(|&c| c == 0x1b || c == 0x07));
    let text = stdout(&o);
    assert!(text.contains("a\\xff\\x1b]0;x\\x07"), "{text}");
    assert!(text.contains("a\\xfe\\nforged"), "{text}");
    // JSON: the exact bytes of each name.
    let o = common::bin()
        .args(["hash", "--format", "json"])
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let files = j["files"].as_array().unwrap();
    for (f, p) in files.iter().zip([&a, &b]) {
        let bytes: Vec<u8> = f["file_bytes"]
            .as_array()
            .unwrap_or_else(|| panic!("no file_bytes in {f}"))
            .iter()
            .map(|v| v.as_u64().unwrap() as u8)
            .collect();
        assert_eq!(bytes, p.as_os_str().as_bytes());
    }
}
