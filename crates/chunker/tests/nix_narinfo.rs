//! narinfo parsing/rendering, fingerprints, Ed25519 keys and signatures: equal to what
//! Nix 2.8 writes (`nix-store --generate-binary-cache-key`, `nix copy --to file://`).

use std::path::Path;

use chunker::nix::{KeyError, NarInfo, NarInfoError, PublicKey, SecretKey, Signature, VerifyError};
use chunker_testdata::support::{have_nix, nix_output, TempDir};

/// The cache.nixos.org vector from docs (REFERENCE.md).
const CURL: &str = "\
StorePath: /nix/store/syd87l2rxw8cbsxmxl853h0r6pdwhwjr-curl-7.82.0-bin
URL: nar/0i4p3ah7qk8dmz5ryxwswq0jrwm6xqqj7z4nvkmr4kl1b8a4lkxn.nar.xz
Compression: xz
NarHash: sha256:1b4sb93wp679q4zx9k1ignby1yna3z7c4c2ri3wphylbc2dwsys0
NarSize: 196040
References: 0jqd0rlxzra1rs38rdxl43yh6rxchgc6-curl-7.82.0 6w8g7njm4mck5dmjxws0z1xnrxvl81xa-glibc-2.34-115 j5jxw3iy7bbz4a57fh9g2xm2gxmyal8h-zlib-1.2.12 yxvjs9drzsphm9pcf42a4byzj1kb9m7k-openssl-1.1.1n
Sig: cache.nixos.org-1:TsTTb3WGTZKphvYdBHXwo6weVILmTytUjLB+vcX89fOjjRicCHmKA4RCPMVLkj6TMJ4GMX3HPVWRdD1hkeKZBQ==
";
const CURL_FINGERPRINT: &str = "1;/nix/store/syd87l2rxw8cbsxmxl853h0r6pdwhwjr-curl-7.82.0-bin;sha256:1b4sb93wp679q4zx9k1ignby1yna3z7c4c2ri3wphylbc2dwsys0;196040;/nix/store/0jqd0rlxzra1rs38rdxl43yh6rxchgc6-curl-7.82.0,/nix/store/6w8g7njm4mck5dmjxws0z1xnrxvl81xa-glibc-2.34-115,/nix/store/j5jxw3iy7bbz4a57fh9g2xm2gxmyal8h-zlib-1.2.12,/nix/store/yxvjs9drzsphm9pcf42a4byzj1kb9m7k-openssl-1.1.1n";
const CACHE_NIXOS_ORG: &str = "cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=";

#[test]
fn cache_nixos_org_vector_verifies() {
    let info = NarInfo::parse(CURL).unwrap();
    assert_eq!(info.fingerprint(), CURL_FINGERPRINT);
    let key: PublicKey = CACHE_NIXOS_ORG.parse().unwrap();
    assert_eq!(info.verify(std::slice::from_ref(&key)), Ok(1));
    assert!(key.verify(CURL_FINGERPRINT.as_bytes(), &info.sigs[0]));

    // Anything signed changes: no longer verifies.
    let mut t = info.clone();
    t.nar_size += 1;
    assert_eq!(
        t.verify(std::slice::from_ref(&key)),
        Err(VerifyError::Invalid {
            key_name: "cache.nixos.org-1".into()
        })
    );
    let mut t = info.clone();
    t.references.pop();
    assert!(t.verify(std::slice::from_ref(&key)).is_err());
    // The order the references are listed in is not signed: Nix sorts them.
    let mut t = info.clone();
    t.references.swap(0, 1);
    t.references.reverse();
    assert_eq!(t.fingerprint(), CURL_FINGERPRINT);
    assert_eq!(t.verify(std::slice::from_ref(&key)), Ok(1));
    // A reference replaced (same count) does not verify in any order.
    let mut t = info.clone();
    t.references[1] = "6w8g7njm4mck5dmjxws0z1xnrxvl81xa-glibc-2.34-116".into();
    t.references.reverse();
    assert!(t.verify(std::slice::from_ref(&key)).is_err());
    // Unsigned fields do not matter.
    let mut t = info.clone();
    t.url = "nar/other.nar".into();
    t.compression = "none".into();
    assert_eq!(t.verify(std::slice::from_ref(&key)), Ok(1));
    // Other keys.
    let other = SecretKey::generate("cache.nixos.org-1")
        .unwrap()
        .public_key();
    assert!(info.verify(&[other]).is_err());
    let stranger = SecretKey::generate("someone-else").unwrap().public_key();
    assert_eq!(
        info.verify(&[stranger]),
        Err(VerifyError::Untrusted {
            names: vec!["cache.nixos.org-1".into()]
        })
    );
    let mut t = info.clone();
    t.sigs.clear();
    assert_eq!(t.verify(&[key]), Err(VerifyError::NoSignature));
    // Rendering keeps Nix's order and the parsed values.
    assert_eq!(info.to_string(), CURL);
}

/// Some old cache.nixos.org narinfos were signed over the references in their listed
/// (unsorted) order: such a signature verifies too, and only in that order.
#[test]
fn signature_over_listed_order_verifies() {
    let key = SecretKey::generate("legacy-1").unwrap();
    let mut info = NarInfo::parse(CURL).unwrap();
    info.sigs.clear();
    info.references.reverse();
    let listed = info.fingerprint_listed_order();
    assert_ne!(listed, info.fingerprint());
    assert_eq!(info.fingerprint(), CURL_FINGERPRINT);
    info.sigs.push(key.sign(listed.as_bytes()));
    assert_eq!(info.verify(&[key.public_key()]), Ok(1));
    // Another unsorted order is neither the listed nor the sorted one.
    info.references.swap(0, 1);
    assert_eq!(
        info.verify(&[key.public_key()]),
        Err(VerifyError::Invalid {
            key_name: "legacy-1".into()
        })
    );
    // Duplicates are one reference to Nix (a set), as in sign().
    let mut info = NarInfo::parse(CURL).unwrap();
    let first = info.references[0].clone();
    info.references.push(first);
    assert_eq!(info.fingerprint(), CURL_FINGERPRINT);
}

#[test]
fn parse_rules() {
    // Unknown keys ignored; missing Compression means bzip2; blank lines skipped; the
    // final newline optional; "unknown-deriver" means none.
    let text = "StorePath: /nix/store/2jmiqxxd2z4ypk8am71rc6kffqzgma57-t\nURL: nar/x.nar.bz2\n\nFoo: bar\nNarHash: sha256:1xmr8jicvzszfzpz46g37mlpvbzjl2wpwvl2b05psipssyp1sm8h\nNarSize: 120\nReferences:\nDeriver: unknown-deriver\nSystem: x86_64-linux";
    let info = NarInfo::parse(text).unwrap();
    assert_eq!(info.compression, "bzip2");
    assert_eq!(info.deriver, None);
    assert_eq!(info.system.as_deref(), Some("x86_64-linux"));
    assert!(info.references.is_empty());
    assert_eq!(info.store_dir(), "/nix/store");
    assert!(info.fingerprint().ends_with(";120;"));
    // Hex and SRI hashes are accepted.
    let hex = text.replace(
        "sha256:1xmr8jicvzszfzpz46g37mlpvbzjl2wpwvl2b05psipssyp1sm8h",
        &format!("sha256:{}", info.nar_hash.to_hex()),
    );
    assert_eq!(NarInfo::parse(&hex).unwrap().nar_hash, info.nar_hash);
    let sri = text.replace(
        "sha256:1xmr8jicvzszfzpz46g37mlpvbzjl2wpwvl2b05psipssyp1sm8h",
        &info.nar_hash.to_sri(),
    );
    assert_eq!(NarInfo::parse(&sri).unwrap().nar_hash, info.nar_hash);

    let cases: Vec<(String, NarInfoError)> = vec![
        (
            text.replace("Foo: bar", "no colon here"),
            NarInfoError::Malformed { line: 4 },
        ),
        (
            text.replace("Foo: bar", "Foo:bar"),
            NarInfoError::Malformed { line: 4 },
        ),
        (
            text.replace("NarSize: 120", "NarSize: 12x"),
            NarInfoError::InvalidValue {
                line: 6,
                field: "NarSize",
                value: "12x".into(),
            },
        ),
        (
            text.replace("NarSize: 120", "NarSize: 0"),
            NarInfoError::InvalidValue {
                line: 6,
                field: "NarSize",
                value: "0".into(),
            },
        ),
        (
            text.replace("NarSize: 120", "NarSize: -1"),
            NarInfoError::InvalidValue {
                line: 6,
                field: "NarSize",
                value: "-1".into(),
            },
        ),
        (
            text.replace("sha256:1xmr", "md5:1xmr"),
            NarInfoError::InvalidValue {
                line: 5,
                field: "NarHash",
                value: "md5:1xmr8jicvzszfzpz46g37mlpvbzjl2wpwvl2b05psipssyp1sm8h".into(),
            },
        ),
        (
            text.replace("URL: nar/x.nar.bz2", "URL: a\nURL: b"),
            NarInfoError::Duplicate {
                line: 3,
                field: "URL",
            },
        ),
        (
            text.replace("NarSize: 120\n", ""),
            NarInfoError::Missing { field: "NarSize" },
        ),
        (
            text.replace(
                "StorePath: /nix/store/2jmiqxxd2z4ypk8am71rc6kffqzgma57-t\n",
                "",
            ),
            NarInfoError::Missing { field: "StorePath" },
        ),
        (
            text.replace("2jmiqxxd2z4ypk8am71rc6kffqzgma57-t", "not-a-store-path"),
            NarInfoError::InvalidValue {
                line: 1,
                field: "StorePath",
                value: "/nix/store/not-a-store-path".into(),
            },
        ),
        (
            text.replace("References:", "References: ../../etc"),
            NarInfoError::InvalidValue {
                line: 7,
                field: "References",
                value: "../../etc".into(),
            },
        ),
    ];
    for (t, want) in cases {
        assert_eq!(NarInfo::parse(&t), Err(want.clone()), "{t}");
        assert!(want.to_string().starts_with("narinfo"));
    }
    match NarInfo::parse(&format!("{text}\nSig: k:notbase64!")) {
        Err(NarInfoError::InvalidSignature { line: 10, source }) => {
            assert_eq!(source, KeyError::InvalidBase64 { what: "signature" })
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn key_formats() {
    let k = SecretKey::from_seed("test-1", &[7u8; 32]).unwrap();
    let text = k.to_nix_string();
    assert!(text.starts_with("test-1:"));
    let back: SecretKey = text.parse().unwrap();
    assert_eq!(back.public_key(), k.public_key());
    assert!(
        !format!("{k:?}").contains(&text[7..]),
        "Debug leaks the secret"
    );
    // Public half must match the seed.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut pair = b64.decode(&text[7..]).unwrap();
    pair[40] ^= 1;
    assert!(matches!(
        format!("test-1:{}", b64.encode(&pair)).parse::<SecretKey>(),
        Err(KeyError::InvalidKey { .. })
    ));
    assert_eq!(
        "test-1".parse::<SecretKey>().unwrap_err(),
        KeyError::MissingColon { what: "secret key" }
    );
    assert_eq!(
        ":AAAA".parse::<PublicKey>().unwrap_err(),
        KeyError::InvalidName { what: "public key" }
    );
    assert_eq!(
        format!("n:{}", b64.encode([1u8; 31]))
            .parse::<PublicKey>()
            .unwrap_err(),
        KeyError::InvalidLength {
            what: "public key",
            length: 31,
            expected: 32
        }
    );
    assert!(format!("n:{}", "A".repeat(100_000))
        .parse::<Signature>()
        .is_err());
    // The exact decoded length, not an estimate (a 64-byte value is 88 characters).
    assert_eq!(
        format!("n:{}", b64.encode([1u8; 66]))
            .parse::<PublicKey>()
            .unwrap_err(),
        KeyError::InvalidLength {
            what: "public key",
            length: 66,
            expected: 32
        }
    );

    // A key of the wrong kind is named, never shown.
    let secret_text = k.to_nix_string();
    let public_text = k.public_key().to_string();
    let e = secret_text.parse::<PublicKey>().unwrap_err();
    assert_eq!(
        e,
        KeyError::WrongKind {
            what: "public key",
            given: "secret key"
        }
    );
    assert_eq!(e.to_string(), "this is a secret key; give the public key");
    assert!(!format!("{e:?}").contains(&secret_text[7..]));
    assert_eq!(
        public_text.parse::<SecretKey>().unwrap_err(),
        KeyError::WrongKind {
            what: "secret key",
            given: "public key"
        }
    );
    // A secret key in a Sig: line is refused, not published as a signature.
    assert_eq!(
        secret_text.parse::<Signature>().unwrap_err(),
        KeyError::WrongKind {
            what: "signature",
            given: "secret key"
        }
    );
    // A signature (64 bytes, not a key pair) given as a public key: just the length.
    let sig = k.sign(b"m").to_string();
    assert_eq!(
        sig.parse::<PublicKey>().unwrap_err(),
        KeyError::InvalidLength {
            what: "public key",
            length: 64,
            expected: 32
        }
    );
    // No error message of any malformed form carries the key's base64.
    let b = &secret_text[7..];
    for bad in [
        secret_text.to_string(),
        b.to_owned(),
        format!("test-1:{}", &b[..b.len() - 4]),
        format!("test-1:{b}AAAA"),
        format!("test 1:{b}"),
        format!("test-1:{}", b.replace('=', "!")),
    ] {
        for e in [
            bad.parse::<PublicKey>().map(drop).unwrap_err(),
            bad.parse::<Signature>().map(drop).unwrap_err(),
        ] {
            assert!(!e.to_string().contains(&b[..20]), "{e}");
            assert!(!format!("{e:?}").contains(&b[..20]), "{e:?}");
        }
    }
    assert!(SecretKey::generate("bad:name").is_err());
    assert!(SecretKey::generate("").is_err());
    // Two generated keys differ.
    let a = SecretKey::generate("x").unwrap();
    let b = SecretKey::generate("x").unwrap();
    assert_ne!(a.public_key(), b.public_key());
}

// ---- against Nix -----------------------------------------------------------------

fn run(cmd: &str, args: &[&str], dir: &Path) -> String {
    String::from_utf8(nix_output(cmd, args, Some(dir))).unwrap()
}

/// Build an input-addressed path that refers to two others.
fn build_with_reference(dir: &Path) -> String {
    let expr = r#"let dep = n: derivation { name = "chunker-test-dep-${n}"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "echo ${n} > $out"]; }; in derivation { name = "chunker-test-top"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "echo ${dep "a"} ${dep "b"} > $out"]; }"#;
    run(
        "nix-build",
        &["--no-out-link", "--option", "sandbox", "false", "-E", expr],
        dir,
    )
    .trim()
    .to_owned()
}

#[test]
fn our_signature_equals_nix_copy() {
    if !have_nix() {
        return;
    }
    let t = TempDir::new("sig");
    let dir = &t.0;
    let path = build_with_reference(dir);
    run(
        "nix-store",
        &["--generate-binary-cache-key", "chunker-test-1", "sk", "pk"],
        dir,
    );
    let url = format!(
        "file://{}/cache?compression=none&secret-key={}/sk",
        dir.display(),
        dir.display()
    );
    run("nix", &["copy", "--to", &url, &path], dir);
    let base = path.rsplit('/').next().unwrap();
    let hash_part = &base[..32];
    let written = std::fs::read_to_string(dir.join(format!("cache/{hash_part}.narinfo"))).unwrap();
    let info = NarInfo::parse(&written).unwrap();
    // Byte-identical rendering of what Nix wrote.
    assert_eq!(info.to_string(), written);
    assert_eq!(info.references.len(), 2, "{written}");
    let secret: SecretKey = std::fs::read_to_string(dir.join("sk"))
        .unwrap()
        .parse()
        .unwrap();
    let public: PublicKey = std::fs::read_to_string(dir.join("pk"))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(secret.public_key(), public);
    assert_eq!(info.verify(std::slice::from_ref(&public)), Ok(1));

    // Re-sign with our code: the same Sig, byte for byte.
    let mut ours = info.clone();
    ours.sigs.clear();
    ours.sign(&secret);
    assert_eq!(ours.sigs, info.sigs);
    assert_eq!(ours.to_string(), written);
    // And over a fingerprint directly.
    assert_eq!(
        secret.sign(info.fingerprint().as_bytes()).to_string(),
        info.sigs[0].to_string()
    );
    // The References line reordered: `nix store verify` still accepts the signature
    // (Nix signs the sorted set), and so do we.
    let narinfo = dir.join(format!("cache/{hash_part}.narinfo"));
    let reordered = written.replace(
        &format!("References: {}", info.references.join(" ")),
        &format!(
            "References: {}",
            info.references
                .iter()
                .rev()
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        ),
    );
    assert_ne!(reordered, written);
    std::fs::write(&narinfo, &reordered).unwrap();
    let store = format!("file://{}/cache", dir.display());
    let pk = std::fs::read_to_string(dir.join("pk")).unwrap();
    let nix_verify = |dir: &Path| {
        std::process::Command::new("nix")
            .args(["store", "verify", "--store", &store])
            .args(["--trusted-public-keys", &pk, &path])
            .env("NIX_CONFIG", chunker_testdata::support::NIX_CONFIG)
            .current_dir(dir)
            .output()
            .unwrap()
    };
    let o = nix_verify(dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let parsed = NarInfo::parse(&reordered).unwrap();
    assert_eq!(parsed.verify(std::slice::from_ref(&public)), Ok(1));
    // The oracle does check: a reference dropped fails for Nix and for us.
    let dropped = written.replace(&format!(" {}", info.references[1]), "");
    assert_ne!(dropped, written);
    std::fs::write(&narinfo, &dropped).unwrap();
    assert!(!nix_verify(dir).status.success());
    assert!(NarInfo::parse(&dropped)
        .unwrap()
        .verify(std::slice::from_ref(&public))
        .is_err());
    std::fs::write(&narinfo, &written).unwrap();

    // NarHash/NarSize equal ours.
    let summary = chunker::nix::nar_hash(&path).unwrap();
    assert_eq!(info.nar_hash, summary.nar_hash);
    assert_eq!(info.nar_size, summary.nar_size);
}
