//! Where the shared suite (`tests/suite`) runs: a [`TestStore`] hands out fresh store URLs
//! (and the environment a child process needs to reach them). `local_store()` is a
//! temporary directory; an S3 server's harness can make one for `s3://bucket/prefix`.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

pub use chunker_testdata::support::TempDir;

/// A place for test stores.
pub struct TestStore {
    /// What the test binary calls it in messages (`local`, `s3`).
    pub name: &'static str,
    /// Store URLs are `{base}/{test name}-{n}` (a directory or `s3://bucket/prefix`).
    pub base: String,
    /// Environment for child processes (AWS_* for S3).
    pub env: Vec<(String, String)>,
    /// Scratch space for input trees and NAR files.
    pub scratch: TempDir,
    /// Keeps a local base directory alive.
    pub keep: Option<TempDir>,
}

static N: AtomicUsize = AtomicUsize::new(0);

impl TestStore {
    /// A fresh, empty store URL.
    pub fn url(&self, test: &str) -> String {
        let n = N.fetch_add(1, Ordering::Relaxed);
        format!("{}/{test}-{n}", self.base)
    }
}

/// Stores in a temporary directory.
pub fn local_store() -> TestStore {
    let dir = TempDir::new("store-local");
    TestStore {
        name: "local",
        base: dir.0.to_str().expect("UTF-8 temp dir").to_string(),
        env: Vec::new(),
        scratch: TempDir::new("store-scratch"),
        keep: Some(dir),
    }
}
