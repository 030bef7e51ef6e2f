//! GC, locks, import/export, simulate and dedup checks over a [`TestStore`].
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Barrier;
use std::time::Duration;

use bytes::Bytes;
use chunker_store::lock::set_before_manifest_hook;
use chunker_store::{GcOptions, Store, StoreConfig, StoreError};
use chunker_testdata::support::{have_nix, nix_output, NIX_CONFIG};
use chunker_testdata::{generate, Kind};

use crate::suite::{make_tree, small_packs, with_backend};
use crate::support::TestStore;

fn now_gc() -> GcOptions {
    GcOptions::default().grace(Duration::ZERO).repack_below(0.0)
}

/// A fresh handle verifies the whole store (every pack, index entry and NAR).
fn assert_sound(url: &str) {
    let store = Store::open(url).unwrap();
    let v = store.verify().unwrap();
    assert!(v.is_ok(), "{:?}", v.problems);
    assert_eq!(store.stats(false).unwrap().missing_chunks, 0);
}

fn packs(url: &str) -> usize {
    with_backend(url, async |b| b.list("packs").await.unwrap().len())
}

/// Garbage (a removed NAR's exclusive chunks) is condemned by one run and deleted by the
/// next, only past the grace period; a dry run writes nothing and says how much.
pub fn gc_reclaims_after_grace(ts: &TestStore) {
    let (a, b) = (ts.scratch.path("gc-a"), ts.scratch.path("gc-b"));
    make_tree(&a, 21, 12, 100_000);
    make_tree(&b, 22, 12, 100_000);
    let url = ts.url("gc-reclaim");
    let store = Store::init(&url, small_packs()).unwrap();
    let ra = store.add_path(&a).unwrap();
    let rb = store.add_path(&b).unwrap();
    store.remove(&ra.key).unwrap();
    let before = store.stats(false).unwrap();
    // The default grace period (24 h): everything is young, nothing happens.
    let r = store.gc(GcOptions::default()).unwrap();
    assert_eq!((r.condemned_packs, r.deleted_packs), (0, 0), "{r:?}");
    assert_eq!(r.young_packs, r.packs);
    // A dry run with no grace period: reclaimable bytes, no writes.
    let dry = store.gc(now_gc().dry_run(true)).unwrap();
    assert!(dry.reclaimable_bytes >= ra.stored_bytes / 2, "{dry:?}");
    assert_eq!(dry.requests.puts + dry.requests.deletes, 0, "{dry:?}");
    assert_eq!(packs(&url) as u64, before.packs);
    // First run condemns, deletes nothing.
    let r1 = store.gc(now_gc()).unwrap();
    assert!(r1.condemned_packs > 0, "{r1:?}");
    assert_eq!(r1.deleted_packs, 0);
    assert_eq!(packs(&url) as u64, before.packs);
    assert_sound(&url);
    // The second deletes what the first condemned.
    let r2 = store.gc(now_gc()).unwrap();
    assert_eq!(r2.deleted_packs, r1.condemned_packs, "{r2:?}");
    assert!(r2.deleted_bytes > 0);
    assert_eq!(
        packs(&url) as u64,
        before.packs - r2.deleted_packs,
        "{r2:?}"
    );
    assert_sound(&url);
    let after = Store::open(&url).unwrap().stats(false).unwrap();
    assert!(after.stored_bytes < before.stored_bytes);
    assert!(after.stored_bytes >= rb.stored_bytes / 2);
    let mut back = Vec::new();
    Store::open(&url).unwrap().cat(&rb.key, &mut back).unwrap();
    assert_eq!(back.len() as u64, rb.nar_size);
    // A third run finds nothing more to do.
    let r3 = store.gc(now_gc()).unwrap();
    assert_eq!((r3.condemned_packs, r3.deleted_packs), (0, 0), "{r3:?}");
    assert_sound(&url);
}

/// An ingest that stopped after writing packs (a crash before its segment and
/// manifest), another ingest, then GC: the orphan packs are reclaimed, nothing live is
/// deleted; the stopped ingest then runs again and completes.
pub fn gc_after_crashed_ingest(ts: &TestStore) {
    let (x, y) = (ts.scratch.path("gc-crash-x"), ts.scratch.path("gc-crash-y"));
    make_tree(&x, 23, 10, 200_000);
    make_tree(&y, 30, 4, 100_000);
    let url = ts.url("gc-crash");
    let store = Store::init(&url, small_packs()).unwrap();
    let fault = chunker_store::AddFault {
        stop_after_packs: Some(3),
    };
    assert!(store.add_path_with(&x, fault).is_err());
    let orphans = packs(&url);
    assert!(orphans >= 3);
    let ry = Store::open(&url).unwrap().add_path(&y).unwrap();
    let g1 = store.gc(now_gc()).unwrap();
    assert_eq!(g1.condemned_packs as usize, orphans, "{g1:?}");
    let g2 = store.gc(now_gc()).unwrap();
    assert_eq!(g2.deleted_packs as usize, orphans, "{g2:?}");
    assert_sound(&url);
    let s = Store::open(&url).unwrap().stats(false).unwrap();
    assert_eq!(s.stored_bytes, ry.stored_bytes, "{s:?}");
    // The interrupted NAR, again: it completes and reads back.
    let rx = Store::open(&url).unwrap().add_path(&x).unwrap();
    assert_eq!(rx.new_bytes, rx.nar_size);
    assert_sound(&url);
}

/// GC runs (zero grace) while an ingest is paused between its pack/segment writes and
/// its manifest, the ingest deduplicating against chunks an earlier run condemned:
/// nothing its manifest references is deleted, before or after it commits.
pub fn gc_races_paused_ingest(ts: &TestStore) {
    let a = ts.scratch.path("race-a");
    make_tree(&a, 24, 10, 150_000);
    let url = ts.url("gc-race");
    let store = Store::init(&url, small_packs()).unwrap();
    let ra = store.add_path(&a).unwrap();
    store.remove(&ra.key).unwrap();
    let g = store.gc(now_gc()).unwrap();
    assert!(g.condemned_packs > 0, "{g:?}");
    // The same tree plus a new file: dedups against the condemned chunks, adds packs.
    std::fs::write(a.join("extra"), generate(Kind::Random, 300_000, 77)).unwrap();
    let sync: &'static Barrier = Box::leak(Box::new(Barrier::new(2)));
    let hook: &'static (dyn Fn() + Sync) = Box::leak(Box::new(move || {
        sync.wait(); // paused: packs and segment written, no manifest yet
        sync.wait(); // go on
    }));
    set_before_manifest_hook(&url, Some(hook));
    let ingest = {
        let (url, a) = (url.clone(), a.clone());
        std::thread::spawn(move || Store::open(&url).unwrap().add_path(&a))
    };
    sync.wait();
    let gc = Store::open(&url).unwrap();
    for _ in 0..3 {
        let r = gc.gc(now_gc()).unwrap();
        assert_eq!(r.deleted_packs, 0, "{r:?}");
        assert!(r.deletion_postponed.is_some(), "{r:?}");
    }
    sync.wait();
    let rb = ingest.join().unwrap().unwrap();
    set_before_manifest_hook(&url, None);
    assert!(rb.new_bytes < rb.nar_size, "it deduplicated: {rb:?}");
    for _ in 0..3 {
        gc.gc(now_gc()).unwrap();
    }
    assert_sound(&url);
    let mut back = Vec::new();
    Store::open(&url).unwrap().cat(&rb.key, &mut back).unwrap();
    assert_eq!(back.len() as u64, rb.nar_size);
}

/// A handle opened before a GC deleted packs ingests afterwards: it re-reads the index
/// instead of deduplicating against chunks that are gone.
pub fn stale_handle_after_gc(ts: &TestStore) {
    let a = ts.scratch.path("stale-a");
    make_tree(&a, 25, 8, 150_000);
    let url = ts.url("gc-stale");
    let store = Store::init(&url, small_packs()).unwrap();
    let ra = store.add_path(&a).unwrap();
    store.remove(&ra.key).unwrap();
    let old = Store::open(&url).unwrap(); // its index has A's chunks
    store.gc(now_gc()).unwrap();
    let r = store.gc(now_gc()).unwrap();
    assert!(r.deleted_packs > 0, "{r:?}");
    let again = old.add_path(&a).unwrap();
    assert_eq!(again.key, ra.key);
    assert_eq!(again.new_bytes, again.nar_size, "{again:?}");
    assert_sound(&url);
}

/// Packs under the liveness threshold are repacked: live frames copied into new packs,
/// the old ones condemned and then deleted; every NAR still reads back.
pub fn repack_sparse_packs(ts: &TestStore) {
    let (ab, b) = (ts.scratch.path("rp-ab"), ts.scratch.path("rp-b"));
    make_tree(&ab, 26, 12, 60_000);
    make_tree(&b, 26, 12, 60_000);
    // b: every other file of ab.
    for i in (0..12).step_by(2) {
        let name = if i % 3 == 0 {
            b.join("sub").join(format!("f{i}"))
        } else {
            b.join(format!("f{i}"))
        };
        std::fs::remove_file(name).unwrap();
    }
    let url = ts.url("gc-repack");
    let store = Store::init(&url, small_packs()).unwrap();
    let rab = store.add_path(&ab).unwrap();
    let rb = store.add_path(&b).unwrap();
    store.remove(&rab.key).unwrap();
    let before = store.stats(false).unwrap();
    let opts = GcOptions::default().grace(Duration::ZERO).repack_below(0.9);
    let r1 = store.gc(opts).unwrap();
    assert!(r1.repacked_packs > 0 && r1.new_packs > 0, "{r1:?}");
    assert!(r1.repacked_bytes > 0);
    assert_sound(&url);
    let r2 = store.gc(opts).unwrap();
    assert!(r2.deleted_packs >= r1.repacked_packs, "{r1:?} {r2:?}");
    assert_sound(&url);
    let after = Store::open(&url).unwrap().stats(false).unwrap();
    assert!(after.pack_fill > before.pack_fill, "{before:?} {after:?}");
    assert!(after.stored_bytes < before.stored_bytes);
    let mut back = Vec::new();
    Store::open(&url).unwrap().cat(&rb.key, &mut back).unwrap();
    assert_eq!(back.len() as u64, rb.nar_size);
}

fn lock_record(kind: &str, owner: &str, expires: u64) -> Bytes {
    Bytes::from(format!(
        "chunker-store lock 1\nkind: {kind}\nowner: {owner}\ncreated: 1\nexpires: {expires}\n"
    ))
}

/// A live GC lock keeps another GC out (typed error); an expired one, or one of a
/// process that is gone, is broken; a live ingest lease postpones deletion.
pub fn locks_exclusive_and_stale(ts: &TestStore) {
    let a = ts.scratch.path("lock-a");
    make_tree(&a, 27, 4, 100_000);
    let url = ts.url("gc-locks");
    let store = Store::init(&url, small_packs()).unwrap();
    let ra = store.add_path(&a).unwrap();
    store.remove(&ra.key).unwrap();
    let far = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let me = format!("elsewhere:{}", std::process::id());
    with_backend(&url, async |b| {
        b.put("locks/gc-other", lock_record("gc", &me, far), false)
            .await
            .unwrap();
    });
    match store.gc(now_gc()) {
        Err(StoreError::Locked { lock, .. }) => assert_eq!(lock, "locks/gc-other"),
        other => panic!("{other:?}"),
    }
    // Our own lock was removed again: only the other one is there.
    assert_eq!(store.locks().unwrap().len(), 1);
    // Expired: broken. A live ingest lease from another host: deletion postponed.
    with_backend(&url, async |b| {
        b.put("locks/gc-other", lock_record("gc", &me, 5), false)
            .await
            .unwrap();
        b.put("locks/ingest-x", lock_record("ingest", &me, far), false)
            .await
            .unwrap();
    });
    let r1 = store.gc(now_gc()).unwrap();
    assert_eq!(r1.broken_locks, vec!["locks/gc-other".to_string()]);
    let r2 = store.gc(now_gc()).unwrap();
    assert!(r2.deletion_postponed.is_some(), "{r2:?}");
    assert_eq!(r2.deleted_packs, 0);
    // The lease's process on this host is gone (pid beyond any real one): stale.
    let gone = format!("{}:4294967295", hostname());
    with_backend(&url, async |b| {
        b.put("locks/ingest-x", lock_record("ingest", &gone, far), false)
            .await
            .unwrap();
    });
    let r3 = store.gc(now_gc()).unwrap();
    assert_eq!(r3.broken_locks, vec!["locks/ingest-x".to_string()]);
    assert!(r3.deleted_packs > 0, "{r3:?}");
    assert!(store.locks().unwrap().is_empty());
    assert_sound(&url);
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// A store path made with `nix-store --add` of a tree.
fn store_path(tree: &Path) -> String {
    let out = nix_output("nix-store", &[Path::new("--add"), tree], None);
    String::from_utf8(out).unwrap().trim().to_string()
}

fn nix_copy(args: &[&str]) {
    let out = Command::new("nix")
        .args(["copy", "--no-check-sigs"])
        .args(args)
        .env("NIX_CONFIG", NIX_CONFIG)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "nix copy {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `python3 -m http.server` serving `dir` on a free loopback port; killed by PID on drop.
struct HttpServer(std::process::Child, u16);

impl HttpServer {
    fn start(dir: &Path) -> Option<HttpServer> {
        let port = free_port();
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .arg("--directory")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let s = HttpServer(child, port);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A cache written by `nix copy --to file://DIR` imports from the directory and over
/// HTTP: keys are the narinfos' NarHashes, NARs read back as `nix-store --dump` writes
/// them, narinfos are kept; a NAR that does not match its narinfo is refused with no
/// manifest; the store re-exported as a cache is accepted by `nix copy --from`.
pub fn import_file_and_http_cache(ts: &TestStore) {
    if !have_nix() {
        return;
    }
    let (t1, t2) = (ts.scratch.path("imp-1"), ts.scratch.path("imp-2"));
    make_tree(&t1, 28, 6, 80_000);
    make_tree(&t2, 28, 6, 80_000);
    std::fs::write(t2.join("changed"), b"v2").unwrap();
    let paths = [store_path(&t1), store_path(&t2)];
    let cache = ts.scratch.path("cache");
    for p in &paths {
        nix_copy(&["--to", &format!("file://{}", cache.display()), p]);
    }
    let url = ts.url("import");
    let store = Store::init(&url, StoreConfig::default()).unwrap();
    let r = store
        .import(&format!("file://{}", cache.display()))
        .unwrap();
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(r.imported.len(), 2);
    for p in &paths {
        let i = r.imported.iter().find(|i| &i.store_path == p).unwrap();
        let nar = nix_output("nix-store", &["--dump", p], None);
        let mut back = Vec::new();
        store.cat(&i.key, &mut back).unwrap();
        assert!(back == nar, "{p}");
        let kept = with_backend(&url, async |b| {
            b.get(&format!("narinfo/{}", i.name))
                .await
                .unwrap()
                .unwrap()
        });
        let orig = std::fs::read(cache.join(format!("{}.narinfo", i.name))).unwrap();
        assert_eq!(kept.as_ref(), orig.as_slice());
    }
    // Over HTTP into a fresh store: the same keys.
    if let Some(server) = HttpServer::start(&cache) {
        let url2 = ts.url("import-http");
        let s2 = Store::init(&url2, StoreConfig::default()).unwrap();
        let r2 = s2
            .import(&format!("http://127.0.0.1:{}/", server.1))
            .unwrap();
        drop(server);
        assert!(r2.failed.is_empty(), "{:?}", r2.failed);
        let mut k1: Vec<_> = r.imported.iter().map(|i| i.key.clone()).collect();
        let mut k2: Vec<_> = r2.imported.iter().map(|i| i.key.clone()).collect();
        k1.sort();
        k2.sort();
        assert_eq!(k1, k2);
        assert_sound(&url2);
    } else {
        eprintln!("skipped the HTTP import: python3 -m http.server did not start");
    }
    // A narinfo whose NarHash is another NAR's: refused, no manifest.
    let bad = ts.scratch.path("bad-cache");
    std::fs::create_dir_all(bad.join("nar")).unwrap();
    let i0 = &r.imported[0];
    let i1 = &r.imported[1];
    let text = std::fs::read_to_string(cache.join(format!("{}.narinfo", i0.name))).unwrap();
    let other = std::fs::read_to_string(cache.join(format!("{}.narinfo", i1.name))).unwrap();
    let hash_line = |t: &str| {
        t.lines()
            .find(|l| l.starts_with("NarHash:"))
            .unwrap()
            .to_string()
    };
    let forged = text.replace(&hash_line(&text), &hash_line(&other));
    std::fs::write(bad.join(format!("{}.narinfo", i0.name)), forged).unwrap();
    let nar_url = text.lines().find_map(|l| l.strip_prefix("URL: ")).unwrap();
    std::fs::copy(cache.join(nar_url), bad.join(nar_url)).unwrap();
    let url3 = ts.url("import-bad");
    let s3 = Store::init(&url3, StoreConfig::default()).unwrap();
    let r3 = s3.import(bad.to_str().unwrap()).unwrap();
    assert_eq!((r3.imported.len(), r3.failed.len()), (0, 1));
    assert!(s3.keys().unwrap().is_empty());
    // A forged FileHash, a FileSize shorter than the file (refused while the NAR streams
    // in), a narinfo over 1 MiB: each refused with its reason, no manifest.
    let field = |t: &str, key: &str| t.lines().find(|l| l.starts_with(key)).unwrap().to_string();
    let file_size: u64 = field(&text, "FileSize: ")["FileSize: ".len()..]
        .parse()
        .unwrap();
    let cases = [
        (
            "filehash",
            text.replace(&field(&text, "FileHash:"), &field(&other, "FileHash:")),
            "FileHash",
        ),
        (
            "filesize",
            text.replace(
                &field(&text, "FileSize:"),
                &format!("FileSize: {}", file_size / 2),
            ),
            "is longer than",
        ),
        (
            "huge",
            format!("{text}{}", "X-Padding: 0\n".repeat(100_000)),
            "larger than 1 MiB",
        ),
    ];
    for (tag, narinfo, reason) in cases {
        let dir = ts.scratch.path(&format!("bad-{tag}"));
        std::fs::create_dir_all(dir.join("nar")).unwrap();
        std::fs::write(dir.join(format!("{}.narinfo", i0.name)), narinfo).unwrap();
        std::fs::copy(cache.join(nar_url), dir.join(nar_url)).unwrap();
        let u = ts.url(&format!("import-bad-{tag}"));
        let s = Store::init(&u, StoreConfig::default()).unwrap();
        let r = s.import(dir.to_str().unwrap()).unwrap();
        assert_eq!((r.imported.len(), r.failed.len()), (0, 1), "{tag}");
        let why = format!("{:?}", r.failed[0].1);
        assert!(why.contains(reason), "{tag}: {why}");
        assert!(s.keys().unwrap().is_empty(), "{tag}");
    }
    // Export, and let Nix copy from it into another cache (NarHash checked by Nix).
    let out = ts.scratch.path("exported");
    assert_eq!(store.export(&out).unwrap(), 2);
    let dest = ts.scratch.path("dest");
    for p in &paths {
        nix_copy(&[
            "--from",
            &format!("file://{}", out.display()),
            "--to",
            &format!("file://{}", dest.display()),
            p,
        ]);
    }
    let copied = std::fs::read_dir(&dest)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".narinfo")
        })
        .count();
    assert_eq!(copied, 2);
    // Removing a NAR makes the narinfo kept for it garbage: a GC deletes that one only.
    let (gone, kept) = (&r.imported[0], &r.imported[1]);
    store.remove(&gone.key).unwrap();
    let dry = store.gc(now_gc().dry_run(true)).unwrap();
    assert_eq!(dry.orphan_narinfos, 1, "{dry:?}");
    let g = store.gc(now_gc()).unwrap();
    assert_eq!(g.orphan_narinfos, 1, "{g:?}");
    let (a, b) = with_backend(&url, async |be| {
        (
            be.get(&format!("narinfo/{}", gone.name)).await.unwrap(),
            be.get(&format!("narinfo/{}", kept.name)).await.unwrap(),
        )
    });
    assert!(a.is_none(), "the removed NAR's narinfo is deleted");
    assert!(b.is_some(), "the other narinfo stays");
    assert_eq!(store.gc(now_gc()).unwrap().orphan_narinfos, 0);
}

fn copy_tree(from: &Path, to: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

/// Two versions of a real tree (/usr/share/perl, a few files changed): the second is
/// stored for under 20% of its size; stats agree with a recount from the manifests.
pub fn dedup_real_tree(ts: &TestStore) {
    let src = Path::new("/usr/share/perl");
    if !src.is_dir() {
        eprintln!("skipped: no /usr/share/perl");
        return;
    }
    let (v1, v2) = (ts.scratch.path("perl-1"), ts.scratch.path("perl-2"));
    copy_tree(src, &v1);
    copy_tree(src, &v2);
    // Change a few files: the first three regular files found get a line appended,
    // one is replaced, one new file.
    let mut files: Vec<PathBuf> = Vec::new();
    let mut stack = vec![v2.clone()];
    while let Some(d) = stack.pop() {
        let mut es: Vec<_> = std::fs::read_dir(&d).unwrap().map(|e| e.unwrap()).collect();
        es.sort_by_key(|e| e.file_name());
        for e in es {
            let t = e.file_type().unwrap();
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() && files.len() < 4 {
                files.push(e.path());
            }
        }
    }
    for f in &files[..3] {
        let mut b = std::fs::read(f).unwrap();
        b.extend_from_slice(b"\n# changed\n");
        std::fs::write(f, b).unwrap();
    }
    std::fs::write(&files[3], generate(Kind::Text, 50_000, 5)).unwrap();
    std::fs::write(v2.join("NEW"), b"new file").unwrap();
    let url = ts.url("dedup-real");
    let store = Store::init(&url, StoreConfig::default()).unwrap();
    let a = store.add_path(&v1).unwrap();
    let b = store.add_path(&v2).unwrap();
    assert_ne!(a.key, b.key);
    assert!(
        (b.new_bytes as f64) < 0.2 * b.nar_size as f64,
        "second version stored {} new bytes of {}",
        b.new_bytes,
        b.nar_size
    );
    let s = store.stats(true).unwrap();
    let mut distinct = std::collections::HashMap::new();
    let mut logical = 0;
    for m in store.manifests().unwrap() {
        logical += m.nar_size;
        for (d, l) in &m.chunks {
            distinct.insert(*d, *l);
        }
    }
    assert_eq!(s.logical_bytes, logical);
    assert_eq!(
        s.unique_bytes,
        distinct.values().map(|&l| u64::from(l)).sum::<u64>()
    );
    assert_eq!(s.unique_bytes, a.new_bytes + b.new_bytes);
    assert_eq!(s.stored_bytes, a.stored_bytes + b.stored_bytes);
    let nb = s.per_nar.iter().find(|n| n.key == b.key).unwrap();
    assert!(
        (nb.exclusive_bytes as f64) < 0.2 * b.nar_size as f64,
        "{nb:?}"
    );
    eprintln!(
        "dedup_real_tree: NAR {} bytes; second version new {} bytes ({:.2}%); dedup ratio {:.3}",
        b.nar_size,
        b.new_bytes,
        100.0 * b.new_bytes as f64 / b.nar_size as f64,
        s.dedup_ratio
    );
}

/// `simulate` predicts what a real store does with the same samples and config.
pub fn simulate_matches_store(ts: &TestStore) {
    let (v1, v2) = (ts.scratch.path("sim-1"), ts.scratch.path("sim-2"));
    make_tree(&v1, 29, 10, 120_000);
    make_tree(&v2, 29, 10, 120_000);
    std::fs::write(v2.join("f3"), generate(Kind::Binary, 120_000, 3)).unwrap();
    let config = small_packs();
    let sim = chunker_store::simulate::simulate(&[v1.clone(), v2.clone()], &[config]).unwrap();
    let sim = &sim[0];
    let store = Store::init(&ts.url("simulate"), config).unwrap();
    let a = store.add_path(&v1).unwrap();
    let b = store.add_path(&v2).unwrap();
    let s = store.stats(false).unwrap();
    assert_eq!(sim.logical_bytes, s.logical_bytes);
    assert_eq!(sim.unique_bytes, s.unique_bytes);
    assert_eq!(sim.unique_chunks, s.unique_chunks);
    assert_eq!(sim.chunks, a.chunks + b.chunks);
    assert_eq!(sim.packs, a.packs + b.packs);
    assert_eq!(sim.puts, a.requests.puts + b.requests.puts);
    assert!(sim.dedup_ratio > 1.5, "{sim:?}");
}
