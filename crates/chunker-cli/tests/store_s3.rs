//! `chunker store` on a real S3 server (Ceph's radosgw on loopback, started and stopped by
//! the chunk store's test harness): init, add (a directory and a NAR on stdin), cat, get, ls,
//! stats and verify with `--store s3://BUCKET/PREFIX`, the endpoint and keys given in the
//! child's environment only, as the AWS tools take them. Without the Ceph tools it says
//! SKIPPED and passes, unless `CHUNKER_REQUIRE_S3` is set (scripts/test.sh sets it).

mod common;

#[path = "../../chunker-store/tests/support/rgw.rs"]
mod rgw;

use std::io::Write;
use std::process::{Output, Stdio};

use chunker_testdata::support::TempDir;
use chunker_testdata::{generate, Kind};
use common::{bin, s, stderr, stdout};

/// Run `chunker store ARGS --store URL` with the gateway's `AWS_*` environment and `stdin`.
fn store(rgw: &rgw::Rgw, url: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = bin()
        .arg("store")
        .args(args)
        .args(["--store", url, "--no-progress"])
        .env_remove("CHUNKER_STORE")
        .envs(rgw.aws_env())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn chunker");
    let mut input = child.stdin.take().expect("piped");
    // Written from a thread that owns the pipe and closes it, so the child sees its end.
    let output = std::thread::scope(|scope| {
        scope.spawn(move || input.write_all(stdin));
        child.wait_with_output().expect("wait for chunker")
    });
    assert!(
        output.status.success(),
        "chunker store {args:?}: {}",
        stderr(&output)
    );
    output
}

#[test]
fn store_commands_on_s3() {
    let Some(rgw) = rgw::Rgw::start_or_skip() else {
        return;
    };
    let url = rgw.url("cli");
    let tmp = TempDir::new("store-s3-cli");
    let tree = tmp.path("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("text"), generate(Kind::Text, 700_000, 1)).unwrap();
    std::fs::write(tree.join("sub/binary"), generate(Kind::Binary, 500_000, 2)).unwrap();
    std::fs::write(tree.join("sub/random"), generate(Kind::Random, 300_000, 3)).unwrap();
    let mut nar = Vec::new();
    chunker::nix::nar::pack(&tree, &mut nar).unwrap();

    store(&rgw, &url, &["init"], b"");
    // A directory packed on the fly: `KEY sha256:NIX32`, then a `#` summary.
    let added = stdout(&store(&rgw, &url, &["add", s(&tree)], b""));
    let first = added.lines().next().unwrap_or_default();
    let (key, nar_hash) = first.split_once(' ').expect("KEY NARHASH");
    assert_eq!(nar_hash, format!("sha256:{key}"), "{added}");
    // The same NAR on stdin: the same key, nothing new stored.
    let again = store(&rgw, &url, &["add", "-", "--format", "json"], &nar);
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["key"], key);
    assert_eq!(again["existed"], true);
    assert_eq!(again["new_bytes"], 0);

    let cat = store(&rgw, &url, &["cat", key], b"");
    assert!(
        cat.stdout == nar,
        "cat: {} bytes, the NAR has {}",
        cat.stdout.len(),
        nar.len()
    );
    let file = tmp.path("got.nar");
    store(&rgw, &url, &["get", key, s(&file)], b"");
    assert!(
        std::fs::read(&file).unwrap() == nar,
        "get wrote another NAR"
    );
    assert!(stdout(&store(&rgw, &url, &["ls"], b"")).contains(key));
    let stats = store(&rgw, &url, &["stats", "--format", "json"], b"");
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(stats["logical_bytes"], nar.len() as u64, "{stats}");
    assert_eq!(stats["unique_bytes"], nar.len() as u64, "{stats}");
    store(&rgw, &url, &["verify"], b"");

    // All of it went through the gateway: it logged the packs and the manifest.
    let puts = rgw.puts_under("cli/");
    let manifest = format!("/{}/cli/manifests/{key}", rgw.bucket());
    assert!(
        puts.iter().any(|op| op.path() == manifest),
        "no PUT of {manifest}: {puts:?}"
    );
    assert!(
        puts.iter().any(|op| op.path().contains("/cli/packs/")),
        "no pack PUT: {puts:?}"
    );
}
