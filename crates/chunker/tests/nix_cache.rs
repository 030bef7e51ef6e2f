//! End to end: a `file://` binary cache written entirely by us (NARs, narinfos signed
//! with our key) is accepted by `nix copy --from … --trusted-public-keys …`; a tampered
//! signature, NarHash or NarSize is rejected by Nix.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use chunker::compress::Codec;
use chunker::nix::{pack, NarInfo, SecretKey};
use chunker_testdata::support::{have_nix, TempDir, NIX_CONFIG};

fn nix(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .env("NIX_CONFIG", NIX_CONFIG)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// An input-addressed path (signatures are checked for those) with two references.
fn build() -> String {
    let expr = r#"let dep = n: derivation { name = "chunker-cache-dep-${n}"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "/bin/mkdir -p $out/bin; echo ${n} > $out/data; echo '#!/bin/sh' > $out/bin/run; /bin/chmod +x $out/bin/run; /bin/ln -s data $out/link"]; }; in derivation { name = "chunker-cache-top"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "echo ${dep "a"} ${dep "b"} > $out"]; }"#;
    ok(nix(
        "nix-build",
        &["--no-out-link", "--option", "sandbox", "false", "-E", expr],
    ))
    .trim()
    .to_owned()
}

/// Write a signed cache for the closure of `path` at `cache`, with `edit` applied to
/// the top path's narinfo after signing.
fn write_cache(cache: &Path, path: &str, key: &SecretKey, edit: impl Fn(&mut NarInfo)) {
    write_cache_with(cache, path, key, Codec::None, edit);
}

/// [`write_cache`] with every NAR compressed with `codec` (narinfo `Compression`, `URL`,
/// `FileHash`, `FileSize` set accordingly).
fn write_cache_with(
    cache: &Path,
    path: &str,
    key: &SecretKey,
    codec: Codec,
    edit: impl Fn(&mut NarInfo),
) {
    std::fs::create_dir_all(cache.join("nar")).unwrap();
    std::fs::write(cache.join("nix-cache-info"), "StoreDir: /nix/store\n").unwrap();
    let closure = ok(nix("nix-store", &["-qR", path]));
    for p in closure.lines() {
        let refs = ok(nix("nix-store", &["-q", "--references", p]));
        let mut nar = Vec::new();
        let s = pack(p, &mut nar).unwrap();
        let mut info = NarInfo::new(p, s.nar_hash, s.nar_size);
        if codec != Codec::None {
            let file = chunker::compress::compress(codec, &nar).unwrap();
            let file_hash = chunker::hash(chunker::HashAlgorithm::Sha256, &file);
            info.compression = codec.name().to_owned();
            info.url = format!("nar/{}.nar{}", file_hash.to_nix32(), codec.extension());
            info.file_hash = Some(file_hash);
            info.file_size = Some(file.len() as u64);
            nar = file;
        }
        std::fs::write(cache.join(&info.url), &nar).unwrap();
        info.references = refs
            .lines()
            .map(|r| r.rsplit('/').next().unwrap().to_owned())
            .collect();
        info.sign(key);
        if p == path {
            edit(&mut info);
        }
        let base = p.rsplit('/').next().unwrap();
        std::fs::write(
            cache.join(format!("{}.narinfo", &base[..32])),
            info.to_string(),
        )
        .unwrap();
    }
}

/// A change made to a narinfo after signing it.
type Edit = Box<dyn Fn(&mut NarInfo)>;

fn copy_from(cache: &Path, store: &Path, path: &str, public: &str) -> Output {
    nix(
        "nix",
        &[
            "copy",
            "--from",
            &format!("file://{}", cache.display()),
            "--to",
            store.to_str().unwrap(),
            path,
            "--trusted-public-keys",
            public,
        ],
    )
}

#[test]
fn nix_accepts_our_cache_and_rejects_tampering() {
    if !have_nix() {
        return;
    }
    let t = TempDir::new("e2e");
    let path = build();
    let key = SecretKey::generate("chunker-e2e-1").unwrap();
    let public = key.public_key().to_string();

    // Accepted as written.
    write_cache(&t.0.join("good"), &path, &key, |_| {});
    let out = copy_from(&t.0.join("good"), &t.0.join("store-good"), &path, &public);
    assert!(
        out.status.success(),
        "nix copy rejected our cache: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let copied = t.0.join("store-good").join(path.trim_start_matches('/'));
    assert!(copied.exists(), "{}", copied.display());

    // With a different trusted key it is refused.
    let other = SecretKey::generate("chunker-e2e-1")
        .unwrap()
        .public_key()
        .to_string();
    let out = copy_from(&t.0.join("good"), &t.0.join("store-other"), &path, &other);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("lacks a valid signature"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Tampered signature, NarHash, NarSize; a missing signature.
    let edits: [(&str, Edit); 4] = [
        (
            "sig",
            Box::new(|i: &mut NarInfo| {
                let s = i.sigs[0].to_string();
                // Flip one base64 character of the signature.
                let pos = s.len() - 10;
                let c = if &s[pos..pos + 1] == "A" { "B" } else { "A" };
                let tampered = format!("{}{}{}", &s[..pos], c, &s[pos + 1..]);
                i.sigs[0] = tampered.parse().unwrap();
            }),
        ),
        (
            "narhash",
            Box::new(|i: &mut NarInfo| {
                i.nar_hash = chunker::hash(chunker::HashAlgorithm::Sha256, b"other");
            }),
        ),
        ("narsize", Box::new(|i: &mut NarInfo| i.nar_size += 8)),
        ("nosig", Box::new(|i: &mut NarInfo| i.sigs.clear())),
    ];
    for (tag, edit) in edits {
        let cache = t.0.join(format!("bad-{tag}"));
        write_cache(&cache, &path, &key, edit);
        let out = copy_from(&cache, &t.0.join(format!("store-{tag}")), &path, &public);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{tag}: tampered cache accepted");
        assert!(err.contains("lacks a valid signature"), "{tag}: {err}");
    }
}

/// NARs compressed by us with each codec are read by Nix; a corrupt compressed NAR is
/// refused.
#[test]
fn nix_reads_our_compressed_caches() {
    if !have_nix() {
        return;
    }
    let t = TempDir::new("e2e-codecs");
    let path = build();
    let key = SecretKey::generate("chunker-e2e-2").unwrap();
    let public = key.public_key().to_string();
    for codec in [Codec::Zstd, Codec::Xz, Codec::Bzip2, Codec::Lz4] {
        let cache = t.0.join(format!("cache-{}", codec.name()));
        write_cache_with(&cache, &path, &key, codec, |_| {});
        let store = t.0.join(format!("store-{}", codec.name()));
        let out = copy_from(&cache, &store, &path, &public);
        assert!(
            out.status.success(),
            "{}: nix copy rejected our cache: {}",
            codec.name(),
            String::from_utf8_lossy(&out.stderr)
        );
        let copied = store.join(path.trim_start_matches('/'));
        assert!(copied.exists(), "{}: {}", codec.name(), copied.display());

        // Corrupt the middle of every compressed NAR: Nix must refuse the copy.
        for entry in std::fs::read_dir(cache.join("nar")).unwrap() {
            let f = entry.unwrap().path();
            let mut bytes = std::fs::read(&f).unwrap();
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0x55;
            std::fs::write(&f, bytes).unwrap();
        }
        let store = t.0.join(format!("store-bad-{}", codec.name()));
        let out = copy_from(&cache, &store, &path, &public);
        assert!(
            !out.status.success(),
            "{}: corrupt compressed NAR accepted",
            codec.name()
        );
    }
}
