//! The Nix subcommands of the built `chunker` binary: `nar pack|unpack|ls`,
//! `hash --nar`, `chunk --nar`, `key generate`, `narinfo sign|verify`.

mod common;
use common::{bin, run, s};

use chunker_testdata::support::{have_nix, nix_output, TempDir};
use std::io::Write;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::{Output, Stdio};

fn run_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The binary may stop reading early (an invalid NAR): a broken pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(input);
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

fn nix(cmd: &str, args: &[&str]) -> Vec<u8> {
    nix_output(cmd, args, None)
}

fn tree(root: &Path) {
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    std::fs::write(root.join("bin/run"), b"#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(root.join("bin/run"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let big: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect();
    std::fs::write(root.join("data"), big).unwrap();
    symlink("data", root.join("link")).unwrap();
    symlink("/nowhere", root.join("dangling")).unwrap();
}

#[test]
fn nar_pack_unpack_ls_and_hash() {
    let t = TempDir::new("nar");
    tree(&t.path("tree"));
    let pack = run(&["nar", "pack", s(&t.path("tree"))]);
    assert_eq!(code(&pack), 0, "{}", String::from_utf8_lossy(&pack.stderr));
    let nar = pack.stdout;
    assert_eq!(&nar[8..21], b"nix-archive-1");
    let expected = chunker::nix::nar_hash(t.path("tree")).unwrap();
    assert_eq!(expected.nar_size, nar.len() as u64);

    // hash --nar: sha256:<nix32> and the size.
    let h = run(&["hash", "--nar", s(&t.path("tree"))]);
    assert_eq!(code(&h), 0);
    assert_eq!(
        text(&h),
        format!("{}\n{}\n", expected.nar_hash, expected.nar_size)
    );
    let j: serde_json::Value = serde_json::from_slice(
        &run(&["hash", "--nar", s(&t.path("tree")), "--format", "json"]).stdout,
    )
    .unwrap();
    assert_eq!(j["nar_size"], expected.nar_size);
    assert_eq!(j["nar_hash"], expected.nar_hash.to_string());
    assert_eq!(
        code(&run(&[
            "hash",
            "--nar",
            s(&t.path("tree")),
            "--algo",
            "blake3"
        ])),
        2
    );
    assert_eq!(code(&run(&["hash", "--nar", s(&t.path("missing"))])), 3);

    if have_nix() {
        let theirs = nix("nix-store", &["--dump", s(&t.path("tree"))]);
        assert!(
            theirs == nar,
            "chunker nar pack differs from nix-store --dump"
        );
        let nh = nix(
            "nix-hash",
            &["--type", "sha256", "--base32", s(&t.path("tree"))],
        );
        assert_eq!(
            String::from_utf8(nh).unwrap().trim(),
            expected.nar_hash.to_nix32()
        );
    }

    // unpack from a file and from stdin.
    std::fs::write(t.path("x.nar"), &nar).unwrap();
    let u = run(&["nar", "unpack", s(&t.path("x.nar")), s(&t.path("out1"))]);
    assert_eq!(code(&u), 0, "{}", String::from_utf8_lossy(&u.stderr));
    assert_eq!(chunker::nix::nar_hash(t.path("out1")).unwrap(), expected);
    let u = run_stdin(&["nar", "unpack", "-", s(&t.path("out2"))], &nar);
    assert_eq!(code(&u), 0);
    assert_eq!(chunker::nix::nar_hash(t.path("out2")).unwrap(), expected);
    // Existing target: I/O error, nothing touched.
    assert_eq!(
        code(&run(&[
            "nar",
            "unpack",
            s(&t.path("x.nar")),
            s(&t.path("out1"))
        ])),
        3
    );
    // Corrupt NAR: invalid data with the byte offset.
    let u = run_stdin(&["nar", "unpack", "-", s(&t.path("out3"))], &nar[..100]);
    assert_eq!(code(&u), 4);
    assert!(String::from_utf8_lossy(&u.stderr).contains("truncated at byte"));
    // Cut after some files were written: the partial tree is removed again.
    let u = run_stdin(
        &["nar", "unpack", "-", s(&t.path("out4"))],
        &nar[..nar.len() / 2],
    );
    assert_eq!(code(&u), 4);
    assert!(std::fs::symlink_metadata(t.path("out4")).is_err());

    // ls, text and JSON.
    let l = run(&["nar", "ls", s(&t.path("x.nar"))]);
    assert_eq!(code(&l), 0);
    assert_eq!(
        text(&l),
        "directory\t0\t/\n\
         directory\t0\t/bin\n\
         executable\t18\t/bin/run\n\
         symlink\t0\t/dangling -> /nowhere\n\
         regular\t3000000\t/data\n\
         directory\t0\t/empty\n\
         symlink\t0\t/link -> data\n"
    );
    let l = run_stdin(&["nar", "ls", "-", "--format", "json"], &nar);
    let j: serde_json::Value = serde_json::from_slice(&l.stdout).unwrap();
    assert_eq!(j["entries"].as_array().unwrap().len(), 7);
    assert_eq!(j["entries"][2]["type"], "executable");
    assert_eq!(j["entries"][3]["target"], "/nowhere");
    assert_eq!(j["nar_size"], nar.len());
    let mut bad = nar.clone();
    bad[8] = b'X';
    assert_eq!(code(&run_stdin(&["nar", "ls", "-"], &bad)), 4);
}

/// What `nar pack` writes, `nar ls` and `nar unpack` read: a 70-level tree (refused
/// with "nesting deeper than 64 levels" before) and one at the depth limit; a tree one
/// level deeper is refused by `nar pack` and `hash --nar`, not written unreadable.
#[test]
fn deep_trees_pack_and_read_back() {
    let t = TempDir::new("deep");
    let limit = chunker::nix::nar::MAX_DEPTH;
    for depth in [70, limit, limit + 1] {
        let root = t.path(&format!("tree{depth}"));
        let mut dir = root.clone();
        for _ in 1..depth {
            dir.push("d");
        }
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("f"), b"x").unwrap();
        let pack = run(&["nar", "pack", s(&root)]);
        let nar_file = t.path(&format!("{depth}.nar"));
        if depth == limit + 1 {
            let err = String::from_utf8_lossy(&pack.stderr);
            assert_eq!(code(&pack), 4, "{err}");
            assert!(
                err.contains(&format!("deeper than {limit} levels")),
                "{err}"
            );
            assert_eq!(err.lines().count(), 1, "{err}");
            assert_eq!(code(&run(&["hash", "--nar", s(&root)])), 4);
            continue;
        }
        assert_eq!(code(&pack), 0, "{}", String::from_utf8_lossy(&pack.stderr));
        std::fs::write(&nar_file, &pack.stdout).unwrap();
        let ls = run(&["nar", "ls", s(&nar_file)]);
        assert_eq!(code(&ls), 0, "{}", String::from_utf8_lossy(&ls.stderr));
        assert_eq!(text(&ls).lines().count(), depth + 1);
        let out = t.path(&format!("out{depth}"));
        let u = run(&["nar", "unpack", s(&nar_file), s(&out)]);
        assert_eq!(code(&u), 0, "{}", String::from_utf8_lossy(&u.stderr));
        assert_eq!(
            chunker::nix::nar_hash(&out).unwrap(),
            chunker::nix::nar_hash(&root).unwrap()
        );
    }
}

#[test]
fn chunk_nar_equals_chunking_the_nar_file() {
    let t = TempDir::new("chunk");
    tree(&t.path("tree"));
    let nar = run(&["nar", "pack", s(&t.path("tree"))]).stdout;
    std::fs::write(t.path("x.nar"), &nar).unwrap();
    let args = ["--preset", "small", "--format", "json"];
    let direct = run(&[
        &["chunk", s(&t.path("x.nar")), "--stream-hash", "sha256"][..],
        &args,
    ]
    .concat());
    let via = run(&[&["chunk", "--nar", s(&t.path("tree"))][..], &args].concat());
    assert_eq!(code(&via), 0, "{}", String::from_utf8_lossy(&via.stderr));
    let a: serde_json::Value = serde_json::from_slice(&direct.stdout).unwrap();
    let b: serde_json::Value = serde_json::from_slice(&via.stdout).unwrap();
    assert_eq!(a["chunks"], b["chunks"]);
    assert!(a["chunks"].as_array().unwrap().len() > 10);
    let expected = chunker::nix::nar_hash(t.path("tree")).unwrap();
    assert_eq!(b["summary"]["stream_digest"], expected.nar_hash.to_string());
    assert_eq!(b["summary"]["bytes"], expected.nar_size);
    // Text summary carries the NarHash.
    let via = run(&["chunk", "--nar", s(&t.path("tree"))]);
    assert!(text(&via).contains(&format!("stream {}", expected.nar_hash)));
    // A missing path is named, not "read failed at offset 24".
    let missing = run(&["chunk", "--nar", s(&t.path("missing"))]);
    assert_eq!(code(&missing), 3);
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr),
        format!(
            "chunker: error: cannot read {}: No such file or directory (os error 2)\n",
            t.path("missing").display()
        )
    );
    assert!(missing.stdout.is_empty());
    let missing = run(&["nar", "pack", s(&t.path("missing"))]);
    assert_eq!(code(&missing), 3);
    assert!(missing.stdout.is_empty());
    assert_eq!(code(&run(&["chunk", "x", "--nar", s(&t.path("tree"))])), 2);
}

#[test]
fn keys_sign_verify() {
    let t = TempDir::new("keys");
    let g = run(&[
        "key",
        "generate",
        "cache.example.org-1",
        "--secret",
        s(&t.path("sk")),
        "--public",
        s(&t.path("pk")),
    ]);
    assert_eq!(code(&g), 0, "{}", String::from_utf8_lossy(&g.stderr));
    let mode = std::fs::metadata(t.path("sk"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let pk = std::fs::read_to_string(t.path("pk")).unwrap();
    assert!(pk.starts_with("cache.example.org-1:") && !pk.ends_with('\n'));
    // Never overwrites.
    let again = run(&[
        "key",
        "generate",
        "x",
        "--secret",
        s(&t.path("sk")),
        "--public",
        s(&t.path("pk2")),
    ]);
    assert_eq!(code(&again), 3);

    let hash = chunker::hash(chunker::HashAlgorithm::Sha256, b"nar");
    let unsigned = format!(
        "StorePath: /nix/store/2jmiqxxd2z4ypk8am71rc6kffqzgma57-t\nURL: nar/x.nar\nCompression: none\nNarHash: {hash}\nNarSize: 3\nReferences: zzmiqxxd2z4ypk8am71rc6kffqzgma57-b 2jmiqxxd2z4ypk8am71rc6kffqzgma57-t\n"
    );
    std::fs::write(t.path("unsigned.narinfo"), &unsigned).unwrap();
    let signed = run(&[
        "narinfo",
        "sign",
        "--key-file",
        s(&t.path("sk")),
        s(&t.path("unsigned.narinfo")),
    ]);
    assert_eq!(
        code(&signed),
        0,
        "{}",
        String::from_utf8_lossy(&signed.stderr)
    );
    let signed = text(&signed);
    // References sorted, one Sig line.
    assert!(signed.contains(
        "References: 2jmiqxxd2z4ypk8am71rc6kffqzgma57-t zzmiqxxd2z4ypk8am71rc6kffqzgma57-b\n"
    ));
    assert_eq!(signed.matches("\nSig: cache.example.org-1:").count(), 1);
    std::fs::write(t.path("signed.narinfo"), &signed).unwrap();

    let v = run(&[
        "narinfo",
        "verify",
        "--public-key",
        &pk,
        s(&t.path("signed.narinfo")),
    ]);
    assert_eq!(code(&v), 0, "{}", String::from_utf8_lossy(&v.stderr));
    // The References line reordered still verifies: Nix signs the sorted set (and
    // `nix store verify` accepts such a narinfo).
    let reordered = signed.replace(
        "References: 2jmiqxxd2z4ypk8am71rc6kffqzgma57-t zzmiqxxd2z4ypk8am71rc6kffqzgma57-b\n",
        "References: zzmiqxxd2z4ypk8am71rc6kffqzgma57-b 2jmiqxxd2z4ypk8am71rc6kffqzgma57-t\n",
    );
    assert_ne!(reordered, signed);
    let v = run_stdin(
        &["narinfo", "verify", "--public-key", &pk, "-"],
        reordered.as_bytes(),
    );
    assert_eq!(code(&v), 0, "{}", String::from_utf8_lossy(&v.stderr));
    // Unsigned, tampered, or the wrong key: exit 6.
    assert_eq!(
        code(&run(&[
            "narinfo",
            "verify",
            "--public-key",
            &pk,
            s(&t.path("unsigned.narinfo"))
        ])),
        6
    );
    let tampered = signed.replace("NarSize: 3", "NarSize: 4");
    assert_eq!(
        code(&run_stdin(
            &["narinfo", "verify", "--public-key", &pk, "-"],
            tampered.as_bytes()
        )),
        6
    );
    let other = "cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=";
    assert_eq!(
        code(&run(&[
            "narinfo",
            "verify",
            "--public-key",
            other,
            s(&t.path("signed.narinfo"))
        ])),
        6
    );
    // Either of several keys is enough.
    assert_eq!(
        code(&run(&[
            "narinfo",
            "verify",
            "--public-key",
            other,
            "--public-key",
            &pk,
            s(&t.path("signed.narinfo"))
        ])),
        0
    );
    // The secret key given as the public key: said so, never echoed.
    let sk = std::fs::read_to_string(t.path("sk")).unwrap();
    let secret_b64 = sk.split_once(':').unwrap().1;
    for args in [
        vec!["--public-key", &sk],
        vec!["--public-key", &pk, "--public-key", &sk],
        vec!["--public-key", secret_b64],
    ] {
        let v = run(&[
            &["narinfo", "verify"][..],
            &args,
            &[s(&t.path("signed.narinfo"))],
        ]
        .concat());
        let err = String::from_utf8_lossy(&v.stderr);
        assert_eq!(code(&v), 2, "{err}");
        assert!(!err.contains(&secret_b64[..16]), "secret echoed: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    let v = run(&[
        "narinfo",
        "verify",
        "--public-key",
        &sk,
        s(&t.path("signed.narinfo")),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&v.stderr),
        "chunker: error: invalid --public-key: this is a secret key; give the public key\n"
    );
    // And the other way round.
    let v = run(&[
        "narinfo",
        "sign",
        "--key-file",
        s(&t.path("pk")),
        s(&t.path("unsigned.narinfo")),
    ]);
    assert_eq!(code(&v), 4);
    assert!(
        String::from_utf8_lossy(&v.stderr).ends_with("this is a public key; give the secret key\n")
    );
    // Bad inputs.
    assert_eq!(
        code(&run(&[
            "narinfo",
            "verify",
            "--public-key",
            "garbage",
            s(&t.path("signed.narinfo"))
        ])),
        2
    );
    assert_eq!(
        code(&run_stdin(
            &["narinfo", "verify", "--public-key", &pk, "-"],
            b"StorePath /x\n"
        )),
        4
    );
    std::fs::write(t.path("badkey"), "name:notbase64").unwrap();
    assert_eq!(
        code(&run(&[
            "narinfo",
            "sign",
            "--key-file",
            s(&t.path("badkey")),
            s(&t.path("unsigned.narinfo"))
        ])),
        4
    );

    // The cache.nixos.org vector verifies through the CLI.
    let curl = "StorePath: /nix/store/syd87l2rxw8cbsxmxl853h0r6pdwhwjr-curl-7.82.0-bin\nURL: nar/x.nar.xz\nCompression: xz\nNarHash: sha256:1b4sb93wp679q4zx9k1ignby1yna3z7c4c2ri3wphylbc2dwsys0\nNarSize: 196040\nReferences: 0jqd0rlxzra1rs38rdxl43yh6rxchgc6-curl-7.82.0 6w8g7njm4mck5dmjxws0z1xnrxvl81xa-glibc-2.34-115 j5jxw3iy7bbz4a57fh9g2xm2gxmyal8h-zlib-1.2.12 yxvjs9drzsphm9pcf42a4byzj1kb9m7k-openssl-1.1.1n\nSig: cache.nixos.org-1:TsTTb3WGTZKphvYdBHXwo6weVILmTytUjLB+vcX89fOjjRicCHmKA4RCPMVLkj6TMJ4GMX3HPVWRdD1hkeKZBQ==\n";
    assert_eq!(
        code(&run_stdin(
            &["narinfo", "verify", "--public-key", other, "-"],
            curl.as_bytes()
        )),
        0
    );
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// `key generate` checks both paths first and leaves nothing behind when it fails: no
/// secret key without its public key, no temporary file, an existing file untouched.
#[test]
fn key_generate_fails_cleanly() {
    let t = TempDir::new("keygen");
    let dir = t.path("d");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let gen = |secret: &Path, public: &Path| {
        run(&[
            "key",
            "generate",
            "k-1",
            "--secret",
            s(secret),
            "--public",
            s(public),
        ])
    };
    let one_line = |o: &Output| {
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(err.lines().count(), 1, "{err}");
        err
    };

    // The public file exists: refused, the secret is not written, the file untouched.
    std::fs::write(dir.join("pk"), "keep").unwrap();
    let o = gen(&dir.join("sk"), &dir.join("pk"));
    assert_eq!(listing(&dir), ["pk", "sub"]);
    assert_eq!(code(&o), 3);
    assert!(one_line(&o).contains("already exists"));
    assert_eq!(std::fs::read_to_string(dir.join("pk")).unwrap(), "keep");
    // The secret file exists: likewise.
    let o = gen(&dir.join("pk"), &dir.join("pk2"));
    assert_eq!(code(&o), 3);
    assert_eq!(listing(&dir), ["pk", "sub"]);
    assert_eq!(std::fs::read_to_string(dir.join("pk")).unwrap(), "keep");
    std::fs::remove_file(dir.join("pk")).unwrap();

    // Both paths the same file, spelled alike or not: a usage error, nothing written.
    for (a, b) in [
        (dir.join("sk"), dir.join("sk")),
        (dir.join("sk"), dir.join("sub/../sk")),
        (dir.join("sk"), dir.join("./sk")),
    ] {
        let o = gen(&a, &b);
        assert_eq!(code(&o), 2, "{}", one_line(&o));
        assert!(one_line(&o).contains("same file"));
        assert_eq!(listing(&dir), ["sub"]);
    }

    // The public file cannot be created (no such directory; a file as its directory).
    std::fs::write(dir.join("plain"), "").unwrap();
    for public in [dir.join("missing/pk"), dir.join("plain/pk")] {
        let o = gen(&dir.join("sk"), &public);
        assert_eq!(code(&o), 3, "{}", one_line(&o));
        one_line(&o);
        assert_eq!(listing(&dir), ["plain", "sub"]);
    }
    // Nor the secret one.
    let o = gen(&dir.join("missing/sk"), &dir.join("pk"));
    assert_eq!(code(&o), 3);
    assert_eq!(listing(&dir), ["plain", "sub"]);

    // Success: both files, the secret one 0600, nothing else.
    let o = gen(&dir.join("sk"), &dir.join("sub/pk"));
    assert_eq!(code(&o), 0, "{}", one_line(&o));
    assert_eq!(listing(&dir), ["plain", "sk", "sub"]);
    assert_eq!(listing(&dir.join("sub")), ["pk"]);
    let mode = std::fs::metadata(dir.join("sk"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let sk: chunker::nix::SecretKey = std::fs::read_to_string(dir.join("sk"))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        sk.public_key().to_string(),
        std::fs::read_to_string(dir.join("sub/pk")).unwrap()
    );
}

#[test]
fn nix_keys_work_with_our_cli() {
    if !have_nix() {
        return;
    }
    let t = TempDir::new("nixkeys");
    nix(
        "nix-store",
        &[
            "--generate-binary-cache-key",
            "nix-made-1",
            s(&t.path("sk")),
            s(&t.path("pk")),
        ],
    );
    let hash = chunker::hash(chunker::HashAlgorithm::Sha256, b"nar");
    std::fs::write(
        t.path("n.narinfo"),
        format!("StorePath: /nix/store/2jmiqxxd2z4ypk8am71rc6kffqzgma57-t\nURL: nar/x.nar\nNarHash: {hash}\nNarSize: 3\n"),
    )
    .unwrap();
    let signed = run(&[
        "narinfo",
        "sign",
        "--key-file",
        s(&t.path("sk")),
        s(&t.path("n.narinfo")),
    ]);
    assert_eq!(code(&signed), 0);
    let pk = std::fs::read_to_string(t.path("pk")).unwrap();
    assert_eq!(
        code(&run_stdin(
            &["narinfo", "verify", "--public-key", &pk, "-"],
            &signed.stdout
        )),
        0
    );
}
