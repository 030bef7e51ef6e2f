//! The chunk store on a real S3 server: Ceph's radosgw, a one-node cluster on loopback that
//! this binary starts once, shares between its cases and stops at the end (also on a panic).
//! The cases: object_store 0.14 against the gateway, the store's shared suite (`tests/suite`,
//! the same checks `tests/local.rs` runs on a directory) on `s3://BUCKET/suite-…`, and the
//! PUTs of an ingest counted by the store's meter and by the gateway's own log.
//!
//! Its own harness (`harness = false`): the cluster must outlive every case and stop before
//! the process exits, which libtest's threads and never-dropped statics cannot promise.
//! `cargo test -p chunker-store --test s3 [-- FILTER…]` runs the cases whose name contains a
//! filter; `-- --list` lists them. Without the Ceph tools the binary says SKIPPED and passes,
//! unless `CHUNKER_REQUIRE_S3` is set (scripts/test.sh sets it). `CHUNKER_S3_PUT_MIB` sets
//! the size of the PUT-count ingest (default 128; docs/BENCHMARKS.md has the 1 GiB run).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::ExitCode;
use std::time::Instant;

mod gc_suite;
mod suite;
mod support;

#[path = "support/rgw.rs"]
mod rgw;

use bytes::Bytes;
use chunker_store::{Store, StoreConfig};
use chunker_testdata::{generate, Kind};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use rgw::Rgw;
use support::{TempDir, TestStore};

/// What a case gets: the gateway, and the suite's view of it.
struct Ctx {
    rgw: Rgw,
    ts: TestStore,
}

/// A case: its name and body. Each case uses its own key prefix in the shared bucket.
type Case = (&'static str, fn(&Ctx));

/// The shared suite's cases as table rows (`suite::with_cases!` lists them).
macro_rules! suite_rows {
    ($($name:ident),* $(,)?) => {[$((stringify!($name), (|c: &Ctx| suite::$name(&c.ts)) as fn(&Ctx))),*]};
}

const CASES: &[Case] = &[
    ("object_store_against_radosgw", |c| {
        object_store_against_radosgw(&c.rgw)
    }),
    ("object_store_multipart_against_radosgw", |c| {
        object_store_multipart_against_radosgw(&c.rgw)
    }),
    ("puts_counted_by_meter_and_gateway", |c| {
        puts_counted_by_meter_and_gateway(&c.rgw)
    }),
];

const SUITE: &[Case] = &suite::with_cases!(suite_rows);

/// GC and lock cases of `tests/gc_suite` on the gateway (import, dedup and simulate read
/// local trees and caches; the backend they write to is covered by the suite above).
macro_rules! gc_rows {
    ($($name:ident),* $(,)?) => {[$((stringify!($name), (|c: &Ctx| gc_suite::$name(&c.ts)) as fn(&Ctx))),*]};
}

const GC: &[Case] = &gc_rows!(
    gc_reclaims_after_grace,
    gc_after_crashed_ingest,
    gc_races_paused_ingest,
    stale_handle_after_gc,
    repack_sparse_packs,
    locks_exclusive_and_stale,
);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filters: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let all = CASES.iter().chain(SUITE).chain(GC);
    let selected: Vec<&Case> = all
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f)))
        .collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in &selected {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    if selected.is_empty() {
        println!(
            "\nrunning 0 tests (filtered out {})",
            CASES.len() + SUITE.len() + GC.len()
        );
        return ExitCode::SUCCESS;
    }
    let started = Instant::now();
    let Some(rgw) = Rgw::start_or_skip() else {
        return ExitCode::SUCCESS;
    };
    println!(
        "\nradosgw up in {:.1} s at {}",
        started.elapsed().as_secs_f64(),
        rgw.var("AWS_ENDPOINT_URL").unwrap_or("?")
    );
    // The store opens `s3://…` URLs with `AmazonS3Builder::from_env`: give this process the
    // gateway's environment, once, before any thread exists.
    for (key, value) in rgw.aws_env() {
        std::env::set_var(key, value);
    }
    let ts = TestStore {
        name: "s3",
        base: rgw.url("suite"),
        env: rgw
            .aws_env()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        scratch: TempDir::new("store-scratch-s3"),
        keep: None,
    };
    let mut ctx = Ctx { rgw, ts };
    println!("running {} tests", selected.len());
    let mut failed = Vec::new();
    for (name, case) in &selected {
        let t = Instant::now();
        let ok = catch_unwind(AssertUnwindSafe(|| case(&ctx))).is_ok();
        println!(
            "test {name} ... {} ({:.1} s)",
            if ok { "ok" } else { "FAILED" },
            t.elapsed().as_secs_f64()
        );
        if !ok {
            failed.push(*name);
        }
    }
    // The suite's stores were the gateway's: it logged their PUTs.
    if selected.iter().any(|case| SUITE.contains(case)) && ctx.rgw.puts_under("suite/").is_empty() {
        println!(
            "test suite_reached_the_gateway ... FAILED (no PUT under s3://{}/suite/)",
            ctx.rgw.bucket()
        );
        failed.push("suite_reached_the_gateway");
    }
    if !failed.is_empty() {
        ctx.rgw.keep();
    }
    let (dir, pgid) = (ctx.rgw.dir().to_owned(), ctx.rgw.pgid());
    let running = ctx.rgw.processes().len();
    let _ = std::fs::remove_dir_all(&ctx.ts.scratch.0);
    drop(ctx);
    // The guard's own check: its daemons ran, and nothing of the cluster outlives it.
    let left = rgw::processes(&dir, pgid);
    if running == 0 || !left.is_empty() {
        println!("test cluster_stopped_on_drop ... FAILED (processes before: {running}, after: {left:?})");
        failed.push("cluster_stopped_on_drop");
    }
    println!(
        "\ntest result: {}. {} passed; {} failed; total {:.1} s\n",
        if failed.is_empty() { "ok" } else { "FAILED" },
        selected.len()
            - failed
                .iter()
                .filter(|f| **f != "cluster_stopped_on_drop")
                .count(),
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        println!("failures: {}", failed.join(", "));
        ExitCode::FAILURE
    }
}

/// Run a future on a fresh runtime (each case owns its runtime; nothing outlives the case).
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(f)
}

/// An `object_store` client for the gateway's bucket, configured explicitly (no environment).
fn object_store(rgw: &Rgw) -> object_store::aws::AmazonS3 {
    let var = |key| rgw.var(key).expect("checked at start");
    object_store::aws::AmazonS3Builder::new()
        .with_endpoint(var("AWS_ENDPOINT_URL"))
        .with_access_key_id(var("AWS_ACCESS_KEY_ID"))
        .with_secret_access_key(var("AWS_SECRET_ACCESS_KEY"))
        .with_region(var("AWS_REGION"))
        .with_bucket_name(rgw.bucket())
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .build()
        .expect("an S3 client for the local gateway")
}

/// The whole object at `path`.
async fn read(s3: &impl ObjectStore, path: &Path) -> Bytes {
    let got = s3
        .get(path)
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    got.bytes()
        .await
        .unwrap_or_else(|e| panic!("body of {path}: {e}"))
}

/// object_store 0.14 against radosgw: put, get, range get, head, list (flat and by
/// delimiter), create-only put honoured, delete; and the gateway's log agrees on the PUTs.
fn object_store_against_radosgw(rgw: &Rgw) {
    let s3 = object_store(rgw);
    let base = "proof";
    block_on(async {
        let data = Bytes::from(
            (0..300_000u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect::<Vec<u8>>(),
        );
        let a = Path::from(format!("{base}/packs/ab/a"));
        let b = Path::from(format!("{base}/index/b"));
        s3.put(&a, PutPayload::from_bytes(data.clone()))
            .await
            .expect("put a");
        s3.put(&b, PutPayload::from_static(b"index"))
            .await
            .expect("put b");

        let got = read(&s3, &a).await;
        assert_eq!(got, data, "GET returns the bytes PUT");
        let range = s3.get_range(&a, 1000..70_000).await.expect("range get");
        assert_eq!(
            range,
            data.slice(1000..70_000),
            "a Range GET returns exactly the range"
        );
        let ranges = s3
            .get_ranges(&a, &[0..10, 299_990..300_000])
            .await
            .expect("ranges");
        assert_eq!(
            ranges,
            vec![data.slice(0..10), data.slice(299_990..300_000)]
        );
        let meta = s3.head(&a).await.expect("head a");
        assert_eq!(meta.size, data.len() as u64);

        let mut all: Vec<String> = s3
            .list(Some(&Path::from(base)))
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .expect("list");
        all.sort();
        assert_eq!(all, [b.to_string(), a.to_string()]);
        let dirs = s3
            .list_with_delimiter(Some(&Path::from(base)))
            .await
            .expect("list by delimiter");
        let mut prefixes: Vec<String> = dirs
            .common_prefixes
            .iter()
            .map(ToString::to_string)
            .collect();
        prefixes.sort();
        assert_eq!(prefixes, [format!("{base}/index"), format!("{base}/packs")]);

        // Create-only writes: radosgw honours If-None-Match: *, the old bytes stay.
        let create = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        let again = s3
            .put_opts(&b, PutPayload::from_static(b"other"), create.clone())
            .await;
        assert!(
            matches!(again, Err(object_store::Error::AlreadyExists { .. })),
            "a create-only PUT over an existing object is refused: {again:?}"
        );
        let kept = read(&s3, &b).await;
        assert_eq!(kept.as_ref(), b"index");
        let fresh = Path::from(format!("{base}/manifests/c"));
        s3.put_opts(&fresh, PutPayload::from_static(b"new"), create)
            .await
            .expect("create-only PUT of a new key");

        s3.delete(&a).await.expect("delete a");
        let gone = s3.get(&a).await;
        assert!(
            matches!(gone, Err(object_store::Error::NotFound { .. })),
            "deleted: {gone:?}"
        );
        let left: Vec<_> = s3
            .list(Some(&Path::from(base)))
            .try_collect()
            .await
            .expect("list");
        assert_eq!(left.len(), 2);
    });
    // The server's side: 3 PUTs succeeded under the prefix (a, b, c); the refused one is 412.
    let puts = rgw.puts_under(&format!("{base}/"));
    assert_eq!(puts.len(), 3, "PUTs the gateway logged: {puts:?}");
    assert!(
        rgw.ops()
            .iter()
            .any(|op| op.method() == "PUT" && op.http_status == 412),
        "the refused create-only PUT is in the gateway's log as 412"
    );
}

/// A multipart upload (object_store's streaming write) arrives whole, and the gateway logs
/// its requests: the initiate POST, one PUT per part, the completing POST.
fn object_store_multipart_against_radosgw(rgw: &Rgw) {
    let s3 = object_store(rgw);
    let key = Path::from("proof-multipart/big");
    let part = 5 * 1024 * 1024;
    let data = Bytes::from(
        (0..2 * part + 123)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    block_on(async {
        let mut upload = s3.put_multipart(&key).await.expect("initiate");
        for chunk in [
            data.slice(..part),
            data.slice(part..2 * part),
            data.slice(2 * part..),
        ] {
            upload
                .put_part(PutPayload::from_bytes(chunk))
                .await
                .expect("part");
        }
        upload.complete().await.expect("complete");
        let got = read(&s3, &key).await;
        assert!(
            got == data,
            "the multipart object reads back whole ({} bytes)",
            got.len()
        );
    });
    let puts = rgw.puts_under("proof-multipart/");
    assert_eq!(puts.len(), 3, "one PUT per part: {puts:?}");
}

/// An ingest of unique (random) data with the default config: the PUTs the store's meter
/// counts are the PUTs the gateway logged, one per pack plus the index segment, the
/// manifest and the ingest lease (`locks/`; renewed only every 10 minutes), and the packs are as few as 32 MiB packs allow (≤ 64 PUTs per GiB).
fn puts_counted_by_meter_and_gateway(rgw: &Rgw) {
    let mib: usize = std::env::var("CHUNKER_S3_PUT_MIB")
        .map_or(128, |v| v.parse().expect("CHUNKER_S3_PUT_MIB: MiB"));
    let size = mib << 20;
    let prefix = format!("puts-{mib}m");
    let store = Store::init(&rgw.url(&prefix), StoreConfig::default()).expect("init");
    let before = rgw.puts_under(&format!("{prefix}/"));
    let data = generate(Kind::Random, size, 1602);
    let t = Instant::now();
    let r = store
        .add_nar_reader(std::io::Cursor::new(data))
        .expect("add");
    let secs = t.elapsed().as_secs_f64();
    let puts: Vec<_> = rgw
        .puts_under(&format!("{prefix}/"))
        .into_iter()
        .skip(before.len())
        .collect();
    let pack_puts = puts
        .iter()
        .filter(|op| {
            op.path()
                .starts_with(&format!("/{}/{prefix}/packs/", rgw.bucket()))
        })
        .count();
    println!(
        "  {mib} MiB random: {} packs, PUTs: meter {} gateway {} (packs {pack_puts}), {:.1} MiB PUT, {secs:.1} s ({:.0} MiB/s)",
        r.packs,
        r.requests.puts,
        puts.len(),
        r.requests.put_bytes as f64 / f64::from(1 << 20),
        mib as f64 / secs
    );
    assert_eq!(
        r.requests.puts,
        puts.len() as u64,
        "the meter agrees with the gateway: {puts:?}"
    );
    assert_eq!(r.packs, pack_puts as u64, "one PUT per pack");
    assert_eq!(
        r.requests.puts,
        r.packs + 3,
        "packs, the index segment, the manifest, the ingest lease"
    );
    let put_bytes: u64 = puts.iter().map(|op| op.bytes_received).sum();
    assert_eq!(
        r.requests.put_bytes, put_bytes,
        "bytes PUT: meter and gateway agree"
    );
    // 32 MiB packs of incompressible data: ceil(size / 32 MiB), one more for frame overhead.
    assert!(r.packs <= (size as u64).div_ceil(32 << 20) + 1, "{r:?}");
    assert!(
        r.requests.puts <= (size as u64).div_ceil(16 << 20).max(3),
        "more than 64 PUTs per GiB: {r:?}"
    );
}
