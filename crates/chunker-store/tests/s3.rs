//! The chunk store on a real S3 server: Ceph's radosgw, a one-node cluster on loopback that
//! this binary starts once, shares between its cases and stops at the end (also on a panic).
//!
//! Its own harness (`harness = false`): the cluster must outlive every case and stop before
//! the process exits, which libtest's threads and never-dropped statics cannot promise.
//! `cargo test -p chunker-store --test s3 [-- FILTER…]` runs the cases whose name contains a
//! filter; `-- --list` lists them. Without the Ceph tools the binary says SKIPPED and passes,
//! unless `CHUNKER_REQUIRE_S3` is set (scripts/test.sh sets it).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::ExitCode;
use std::time::Instant;

#[path = "support/rgw.rs"]
mod rgw;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use rgw::Rgw;

/// A case: its name and body. Each case uses its own key prefix in the shared bucket.
type Case = (&'static str, fn(&Rgw));

const CASES: &[Case] = &[
    ("object_store_against_radosgw", object_store_against_radosgw),
    (
        "object_store_multipart_against_radosgw",
        object_store_multipart_against_radosgw,
    ),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filters: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let selected: Vec<&Case> = CASES
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f)))
        .collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in &selected {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    if selected.is_empty() {
        println!("\nrunning 0 tests (filtered out {})", CASES.len());
        return ExitCode::SUCCESS;
    }
    let started = Instant::now();
    let Some(mut rgw) = Rgw::start_or_skip() else {
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
    println!("running {} tests", selected.len());
    let mut failed = Vec::new();
    for (name, case) in &selected {
        let t = Instant::now();
        let ok = catch_unwind(AssertUnwindSafe(|| case(&rgw))).is_ok();
        println!(
            "test {name} ... {} ({:.1} s)",
            if ok { "ok" } else { "FAILED" },
            t.elapsed().as_secs_f64()
        );
        if !ok {
            failed.push(*name);
        }
    }
    if !failed.is_empty() {
        rgw.keep();
    }
    let (dir, pgid) = (rgw.dir().to_owned(), rgw.pgid());
    let leftover_before = rgw.processes().len();
    drop(rgw);
    // The guard's own check: nothing of the cluster outlives it.
    let cluster = rgw::processes(&dir, pgid);
    if !cluster.is_empty() || leftover_before == 0 {
        println!("test cluster_stopped_on_drop ... FAILED (daemons before: {leftover_before}, after: {cluster:?})");
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

/// object_store 0.14 against radosgw: put, get, range get, head, list (flat and by
/// delimiter), create-only put honoured, delete; and the gateway's log agrees on the PUTs.
fn object_store_against_radosgw(rgw: &Rgw) {
    let s3 = rgw.object_store();
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

        let got = s3
            .get(&a)
            .await
            .expect("get a")
            .bytes()
            .await
            .expect("body of a");
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
        let kept = s3
            .get(&b)
            .await
            .expect("get b")
            .bytes()
            .await
            .expect("body of b");
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
    let s3 = rgw.object_store();
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
        let got = s3
            .get(&key)
            .await
            .expect("get")
            .bytes()
            .await
            .expect("body");
        assert!(
            got == data,
            "the multipart object reads back whole ({} bytes)",
            got.len()
        );
    });
    let puts = rgw.puts_under("proof-multipart/");
    assert_eq!(puts.len(), 3, "one PUT per part: {puts:?}");
}
