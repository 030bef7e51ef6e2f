//! The store's test suite, written once over a [`TestStore`] so that every backend runs
//! the same checks (`tests/local.rs`: a directory; an S3 server's test file: a bucket).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::Bytes;
use chunker::hash::{Digest, HashAlgorithm};
use chunker_store::{Backend, Store, StoreConfig, StoreError};
use chunker_testdata::support::{have_nix, nix_output};
use chunker_testdata::{generate, Kind};

use crate::support::TestStore;

/// Every case of the suite, in one list for every backend: `with_cases!(m)` expands to
/// `m! { case, case, … }` (`tests/local.rs` makes `#[test]`s of them, `tests/s3.rs` a table).
#[allow(unused_macros)] // tests/gc.rs uses the suite's helpers, not its cases
macro_rules! with_cases {
    ($m:ident) => {
        $m! {
            round_trip_real_nars,
            compressed_inputs,
            dedup_two_versions,
            flipped_byte,
            missing_pack,
            hostile_objects,
            config_pinned,
            ranges,
            list_and_remove,
            crash_then_add,
            concurrent_identical_adds,
            puts_per_pack,
        }
    };
}
#[allow(unused_imports)]
pub(crate) use with_cases;

/// Real trees whose NARs the round trip uses (the ones that exist here).
pub const REAL_TREES: &[&str] = &[
    "/usr/share/zoneinfo",
    "/usr/lib/x86_64-linux-gnu/perl-base",
    "/usr/share/perl",
];

fn sha256(b: &[u8]) -> Digest {
    chunker::hash(HashAlgorithm::Sha256, b)
}

/// A small-pack config (64 KiB packs) so that tests see several packs.
pub fn small_packs() -> StoreConfig {
    StoreConfig::new(
        chunker::Preset::Small.config(),
        HashAlgorithm::Sha256,
        3,
        64 << 10,
    )
    .unwrap()
}

/// Run a backend call for test setup (corrupting objects and the like).
pub fn with_backend<T>(url: &str, f: impl AsyncFnOnce(&Backend) -> T) -> T {
    let b = Backend::open(url, false).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(f(&b))
}

/// A synthetic tree: text and binary files.
pub fn make_tree(root: &Path, seed: u64, files: usize, size: usize) {
    std::fs::create_dir_all(root.join("sub")).unwrap();
    for i in 0..files {
        let kind = if i % 2 == 0 { Kind::Text } else { Kind::Binary };
        let name = if i % 3 == 0 {
            root.join("sub").join(format!("f{i}"))
        } else {
            root.join(format!("f{i}"))
        };
        std::fs::write(name, generate(kind, size, seed * 1000 + i as u64)).unwrap();
    }
}

fn dump(path: &Path) -> Vec<u8> {
    nix_output("nix-store", &[Path::new("--dump"), path], None)
}

/// Every real NAR comes back byte-identical; its key is Nix's NarHash; the `.nar.zst`
/// form decodes to the NAR and hashes to FileHash; a directory packed on the fly gives
/// the same key as its `nix-store --dump`.
pub fn round_trip_real_nars(ts: &TestStore) {
    if !have_nix() {
        return;
    }
    let url = ts.url("round-trip");
    let store = Store::init(&url, StoreConfig::default()).unwrap();
    let mut done = 0;
    for tree in REAL_TREES.iter().map(Path::new).filter(|p| p.exists()) {
        let nar = dump(tree);
        let file = ts.scratch.file("real.nar", &nar);
        let r = store.add_path(&file).unwrap();
        let nix = String::from_utf8(nix_output(
            "nix-hash",
            &[
                Path::new("--type"),
                Path::new("sha256"),
                Path::new("--base32"),
                tree,
            ],
            None,
        ))
        .unwrap();
        assert_eq!(r.key, nix.trim(), "{}", tree.display());
        assert_eq!(r.nar_size, nar.len() as u64);
        let mut back = Vec::new();
        store.cat(&format!("sha256:{}", r.key), &mut back).unwrap();
        assert!(back == nar, "{}: NAR differs", tree.display());
        let mut zst = Vec::new();
        store.cat_zst(&r.key, &mut zst).unwrap();
        assert_eq!(zst.len() as u64, r.file_size);
        assert_eq!(sha256(&zst), store.manifest(&r.key).unwrap().file_hash);
        let decoded = chunker::compress::Decompressor::new()
            .max_output(usize::MAX)
            .decompress(&zst)
            .unwrap();
        assert!(decoded == nar, "{}: .nar.zst differs", tree.display());
        // Packed on the fly: the same NAR, nothing new.
        let again = store.add_path(tree).unwrap();
        assert_eq!(again.key, r.key);
        assert!(again.existed);
        assert_eq!(again.new_bytes, 0);
        // The manifest and the ingest's lease (crate::lock).
        assert_eq!(again.requests.puts, 2, "only the manifest is PUT again");
        done += 1;
    }
    assert!(done > 0, "no real tree found");
    // A fresh handle sees it all, and verify agrees.
    let store = Store::open(&url).unwrap();
    let v = store.verify().unwrap();
    assert!(v.is_ok(), "{:?}", v.problems);
    assert_eq!(v.nars, done);
}

/// Compressed NARs (zstd, xz, bzip2, lz4 CLIs) are decompressed first: same key.
pub fn compressed_inputs(ts: &TestStore) {
    let tree = ts.scratch.path("compressed-tree");
    make_tree(&tree, 7, 4, 100_000);
    let store = Store::init(&ts.url("compressed"), StoreConfig::default()).unwrap();
    let plain = store.add_path(&tree).unwrap();
    let mut nar = Vec::new();
    store.cat(&plain.key, &mut nar).unwrap();
    let nar_file = ts.scratch.file("c.nar", &nar);
    for (tool, ext) in [
        ("zstd", "zst"),
        ("xz", "xz"),
        ("bzip2", "bz2"),
        ("lz4", "lz4"),
    ] {
        let out = ts.scratch.path(&format!("c.nar.{ext}"));
        let ok = Command::new(tool)
            .arg("-c")
            .arg(&nar_file)
            .stdout(std::fs::File::create(&out).unwrap())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped {tool}: not installed");
            continue;
        }
        let r = store.add_path(&out).unwrap();
        assert_eq!(r.key, plain.key, "{tool}");
        assert!(r.existed, "{tool}");
        // And from a reader (stdin-like).
        let r = store
            .add_reader(std::fs::File::open(&out).unwrap())
            .unwrap();
        assert_eq!(r.key, plain.key, "{tool} reader");
    }
}

/// Two versions of a tree: the second is stored for less than 20% of its size, and the
/// stats agree with a recount from the manifests.
pub fn dedup_two_versions(ts: &TestStore) {
    let v1 = ts.scratch.path("v1");
    make_tree(&v1, 1, 64, 400_000);
    let v2 = ts.scratch.path("v2");
    make_tree(&v2, 1, 64, 400_000);
    // Change a few files: one rewritten, one appended to, one new.
    std::fs::write(v2.join("f1"), generate(Kind::Binary, 400_000, 99)).unwrap();
    let mut f4 = std::fs::read(v2.join("f4")).unwrap();
    f4.extend_from_slice(b"appended line\n");
    std::fs::write(v2.join("f4"), f4).unwrap();
    std::fs::write(v2.join("new"), b"a new file").unwrap();
    let store = Store::init(&ts.url("dedup"), StoreConfig::default()).unwrap();
    let a = store.add_path(&v1).unwrap();
    let b = store.add_path(&v2).unwrap();
    assert_ne!(a.key, b.key);
    assert_eq!(a.new_bytes, a.nar_size, "{a:?}");
    assert!(
        (b.new_bytes as f64) < 0.2 * b.nar_size as f64,
        "second version stored {} of {} bytes",
        b.new_bytes,
        b.nar_size
    );
    let s = store.stats(true).unwrap();
    assert_eq!(s.nars, 2);
    assert_eq!(s.logical_bytes, a.nar_size + b.nar_size);
    // Recount from the manifests.
    let mut distinct = std::collections::HashMap::new();
    for m in store.manifests().unwrap() {
        for (d, l) in &m.chunks {
            distinct.insert(*d, *l);
        }
    }
    let unique: u64 = distinct.values().map(|&l| u64::from(l)).sum();
    assert_eq!(s.unique_bytes, unique);
    assert_eq!(s.unique_bytes, a.new_bytes + b.new_bytes);
    assert_eq!(s.stored_bytes, a.stored_bytes + b.stored_bytes);
    assert!(s.dedup_ratio > 1.6, "{s:?}");
    assert_eq!(s.missing_chunks, 0);
    let nb = s.per_nar.iter().find(|n| n.key == b.key).unwrap();
    assert!(
        nb.exclusive_bytes > 0 && nb.exclusive_bytes <= b.new_bytes,
        "{nb:?}"
    );
}

/// A flipped byte inside a stored frame: `cat` fails naming the chunk (and never writes
/// it), `verify` names it.
pub fn flipped_byte(ts: &TestStore) {
    let tree = ts.scratch.path("flip-tree");
    make_tree(&tree, 3, 8, 300_000);
    let url = ts.url("flip");
    let store = Store::init(&url, small_packs()).unwrap();
    let r = store.add_path(&tree).unwrap();
    let mut good = Vec::new();
    store.cat(&r.key, &mut good).unwrap();
    let m = store.manifest(&r.key).unwrap();
    // The middle chunk's frame: flip a byte in its middle.
    let (victim, _) = m.chunks[m.chunks.len() / 2];
    let loc = *store.index().get(&victim).unwrap();
    let path = loc.pack.path();
    with_backend(&url, async |b| {
        let mut bytes = b.get(&path).await.unwrap().unwrap().to_vec();
        bytes[(loc.offset + u64::from(loc.clen) / 2) as usize] ^= 0x40;
        b.put(&path, Bytes::from(bytes), false).await.unwrap();
    });
    let store = Store::open(&url).unwrap();
    let mut out = Vec::new();
    let e = store.cat(&r.key, &mut out).unwrap_err();
    match &e {
        StoreError::CorruptChunk { digest, pack, .. } => {
            assert_eq!(*digest, victim);
            assert_eq!(*pack, path);
        }
        e => panic!("expected CorruptChunk, got {e:?}"),
    }
    assert!(e.is_verification());
    assert!(e.to_string().contains(&victim.to_string()), "{e}");
    // What was written is the verified prefix before the bad chunk, never the chunk.
    let bad_at: u64 = m.offsets()[m.chunks.iter().position(|c| c.0 == victim).unwrap()];
    assert!(out.len() as u64 <= bad_at, "{} > {bad_at}", out.len());
    assert_eq!(out[..], good[..out.len()]);
    // get to a file leaves nothing.
    let file = ts.scratch.path("flip-out.nar");
    assert!(store.get_to_file(&r.key, &file).is_err());
    assert!(!file.exists());
    let v = store.verify().unwrap();
    assert!(!v.is_ok());
    let named = v.problems.iter().any(|p| {
        matches!(&p.error, StoreError::CorruptChunk { digest, .. } if *digest == victim)
            && p.object == path
    });
    assert!(named, "{:?}", v.problems);
    assert!(v
        .problems
        .iter()
        .any(|p| p.object == format!("manifests/{}", r.key)));
}

/// A missing pack: reads fail naming the pack and a chunk in it.
pub fn missing_pack(ts: &TestStore) {
    let tree = ts.scratch.path("missing-tree");
    make_tree(&tree, 4, 6, 200_000);
    let url = ts.url("missing");
    let store = Store::init(&url, small_packs()).unwrap();
    let r = store.add_path(&tree).unwrap();
    let m = store.manifest(&r.key).unwrap();
    let loc = *store.index().get(&m.chunks[1].0).unwrap();
    with_backend(&url, async |b| b.delete(&loc.pack.path()).await.unwrap());
    let store = Store::open(&url).unwrap();
    let e = store.cat(&r.key, &mut Vec::new()).unwrap_err();
    match &e {
        StoreError::MissingPack { pack, digest } => {
            assert_eq!(*pack, loc.pack.path());
            assert!(m.chunks.iter().any(|c| c.0 == *digest));
        }
        e => panic!("expected MissingPack, got {e:?}"),
    }
    let v = store.verify().unwrap();
    assert!(v.problems.iter().any(
        |p| matches!(&p.error, StoreError::MissingPack { pack, .. } if *pack == loc.pack.path())
    ));
}

/// Hostile objects in the store are typed errors, not panics.
pub fn hostile_objects(ts: &TestStore) {
    let url = ts.url("hostile");
    let store = Store::init(&url, StoreConfig::default()).unwrap();
    let key = "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73";
    with_backend(&url, async |b| {
        b.put(
            &format!("manifests/{key}"),
            Bytes::from_static(b"garbage"),
            false,
        )
        .await
        .unwrap();
    });
    assert!(matches!(
        store.manifest(key),
        Err(StoreError::Format { .. })
    ));
    assert!(matches!(store.stats(false), Err(StoreError::Format { .. })));
    // A valid manifest under another NAR's name.
    let tree = ts.scratch.file("hostile-file", b"x");
    let r = store.add_path(&tree).unwrap();
    with_backend(&url, async |b| {
        let m = b
            .get(&format!("manifests/{}", r.key))
            .await
            .unwrap()
            .unwrap();
        b.put(&format!("manifests/{key}"), m, false).await.unwrap();
    });
    assert!(matches!(
        store.manifest(key),
        Err(StoreError::Format { .. })
    ));
    // A manifest whose chunks are all there but whose NarHash is not theirs: the chunks
    // verify, the NarHash does not.
    let real = store.manifest(&r.key).unwrap();
    let fake_hash = Digest::new(HashAlgorithm::Sha256, [3; 32]);
    let fake = chunker_store::Manifest::new(
        *store.config(),
        real.nar_size,
        fake_hash,
        real.file_size,
        real.file_hash,
        real.chunks.clone(),
    );
    with_backend(&url, async |b| {
        b.put(&fake.path(), Bytes::from(fake.encode()), false)
            .await
            .unwrap();
    });
    match store.cat(&fake.key(), &mut Vec::new()) {
        Err(StoreError::NarHashMismatch { key, actual }) => {
            assert_eq!((key, actual), (fake.key(), real.nar_hash));
        }
        r => panic!("expected NarHashMismatch, got {r:?}"),
    }
    with_backend(&url, async |b| b.delete(&fake.path()).await.unwrap());
    // A garbage index segment: opening the store names it.
    let seg = format!("index/{}", "ab".repeat(32));
    with_backend(&url, async |b| {
        b.put(
            &seg,
            Bytes::from_static(b"chstidx\0\x01\0\0\0\0\xff\xff\xff\xff"),
            false,
        )
        .await
        .unwrap();
    });
    match Store::open(&url) {
        Err(StoreError::Format { path, .. }) => assert_eq!(path, seg),
        r => panic!("expected a Format error, got {r:?}"),
    }
    // A garbage config.
    with_backend(&url, async |b| {
        b.put("config", Bytes::from_static(b"chstcfg\0\x09\0\0\0"), false)
            .await
            .unwrap();
    });
    assert!(matches!(Store::open(&url), Err(StoreError::Format { .. })));
    // Not a store at all.
    assert!(matches!(
        Store::open(&ts.url("nothing-here")),
        Err(StoreError::NotInitialized { .. })
    ));
    assert!(matches!(
        store.manifest("sha256:xyz"),
        Err(StoreError::BadKey { .. })
    ));
}

/// The config is pinned: another one is refused at open and at init.
pub fn config_pinned(ts: &TestStore) {
    let url = ts.url("config");
    Store::init(&url, StoreConfig::default()).unwrap();
    assert!(Store::init(&url, StoreConfig::default()).is_ok());
    assert!(matches!(
        Store::init(&url, small_packs()),
        Err(StoreError::AlreadyInitialized { .. })
    ));
    assert!(matches!(
        Store::open_with(&url, small_packs()),
        Err(StoreError::ConfigMismatch { .. })
    ));
    let blake = StoreConfig::new(
        chunker::Preset::Medium.config(),
        HashAlgorithm::Blake3,
        3,
        32 << 20,
    )
    .unwrap();
    // A BLAKE3 store works end to end.
    let url = ts.url("blake3");
    let store = Store::init(&url, blake).unwrap();
    let tree = ts.scratch.path("blake-tree");
    make_tree(&tree, 5, 3, 100_000);
    let r = store.add_path(&tree).unwrap();
    let m = store.manifest(&r.key).unwrap();
    assert_eq!(m.chunks[0].0.algorithm(), HashAlgorithm::Blake3);
    assert!(store.verify().unwrap().is_ok());
}

/// Byte ranges equal slices of the NAR.
pub fn ranges(ts: &TestStore) {
    let tree = ts.scratch.path("range-tree");
    make_tree(&tree, 6, 6, 250_000);
    let store = Store::init(&ts.url("ranges"), small_packs()).unwrap();
    let r = store.add_path(&tree).unwrap();
    let mut nar = Vec::new();
    store.cat(&r.key, &mut nar).unwrap();
    let n = nar.len() as u64;
    let offsets = store.manifest(&r.key).unwrap().offsets();
    let mut cases = vec![(0, 0), (0, n - 1), (n - 1, n - 1), (1, 100), (0, n + 100)];
    for &o in offsets.iter().skip(1).take(4) {
        cases.extend([(o - 1, o), (o, o), (o - 1, o + 70_000)]);
    }
    for (a, b) in cases {
        let mut out = Vec::new();
        store.cat_range(&r.key, a, b, &mut out).unwrap();
        let end = (b + 1).min(n) as usize;
        assert!(out[..] == nar[a as usize..end], "range {a}-{b}");
    }
    assert!(matches!(
        store.cat_range(&r.key, n, n + 5, &mut Vec::new()),
        Err(StoreError::BadRange { .. })
    ));
    assert!(matches!(
        store.cat_range(&r.key, 10, 5, &mut Vec::new()),
        Err(StoreError::BadRange { .. })
    ));
}

/// `keys`, `remove`: rm deletes the manifest only.
pub fn list_and_remove(ts: &TestStore) {
    let store = Store::init(&ts.url("ls"), StoreConfig::default()).unwrap();
    let a = store.add_path(&ts.scratch.file("ls-a", b"a")).unwrap();
    let b = store.add_path(&ts.scratch.file("ls-b", b"b")).unwrap();
    let mut want = vec![a.key.clone(), b.key.clone()];
    want.sort();
    assert_eq!(store.keys().unwrap(), want);
    store.remove(&a.key).unwrap();
    assert_eq!(store.keys().unwrap(), vec![b.key.clone()]);
    assert!(matches!(
        store.remove(&a.key),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.cat(&a.key, &mut Vec::new()),
        Err(StoreError::NotFound { .. })
    ));
    // Its chunks are still stored: adding it again writes no pack.
    let again = store.add_path(&ts.scratch.path("ls-a")).unwrap();
    assert_eq!(again.packs, 0);
    assert!(!again.existed);
}

/// An ingest that stops after some packs (as a crash would) leaves no manifest; the next
/// ingest stores it completely; every manifest's chunks are then present.
pub fn crash_then_add(ts: &TestStore) {
    let tree = ts.scratch.path("crash-tree");
    make_tree(&tree, 8, 10, 200_000);
    let url = ts.url("crash");
    let store = Store::init(&url, small_packs()).unwrap();
    let fault = chunker_store::AddFault {
        stop_after_packs: Some(2),
    };
    assert!(store.add_path_with(&tree, fault).is_err());
    assert!(store.keys().unwrap().is_empty());
    let store = Store::open(&url).unwrap();
    let r = store.add_path(&tree).unwrap();
    assert!(r.packs > 0);
    let v = store.verify().unwrap();
    assert!(v.is_ok(), "{:?}", v.problems);
    assert_eq!(v.nars, 1);
}

/// Two handles ingest the same NAR at once: both succeed, the store verifies.
pub fn concurrent_identical_adds(ts: &TestStore) {
    let tree = ts.scratch.path("concurrent-tree");
    make_tree(&tree, 9, 8, 200_000);
    let url = ts.url("concurrent");
    Store::init(&url, small_packs()).unwrap();
    let keys: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let (url, tree) = (url.clone(), tree.clone());
                s.spawn(move || Store::open(&url).unwrap().add_path(&tree).unwrap().key)
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(keys[0], keys[1]);
    let store = Store::open(&url).unwrap();
    let v = store.verify().unwrap();
    assert!(v.is_ok(), "{:?}", v.problems);
}

/// PUTs: one per pack, plus the index segment, the manifest and the ingest lease; ~40 MiB
/// into 32 MiB packs is 2 packs.
pub fn puts_per_pack(ts: &TestStore) {
    let data = generate(Kind::Random, 40 << 20, 11);
    let store = Store::init(&ts.url("puts"), StoreConfig::default()).unwrap();
    let r = store.add_nar_reader(std::io::Cursor::new(data)).unwrap();
    assert_eq!(r.packs, 2, "{r:?}");
    // Packs, the index segment, the manifest, and the ingest's lease (crate::lock).
    assert_eq!(r.requests.puts, r.packs + 3, "{r:?}");
    assert!(r.stored_bytes >= 40 << 20);
    // Rebuilding the index from the footers gives the same locations.
    let before = store.index();
    store.rebuild_index().unwrap();
    let after = store.index();
    assert_eq!(before.len(), after.len());
    for (d, l) in before.iter() {
        let d = Digest::new(HashAlgorithm::Sha256, *d);
        assert_eq!(after.get(&d), Some(l));
    }
    assert_eq!(after.segments().len(), 1);
    let mut back = Vec::new();
    store.cat(&r.key, &mut back).unwrap();
    assert_eq!(back.len(), 40 << 20);
}

/// The path of a real tree for benchmarks and CLI tests.
pub fn first_real_tree() -> Option<PathBuf> {
    REAL_TREES.iter().map(PathBuf::from).find(|p| p.exists())
}
