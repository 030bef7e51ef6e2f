//! Deterministic inputs for tests and benchmarks: the same seed gives the same bytes
//! on every machine, so figures and cut points can be compared across runs.
//!
//! ```
//! use chunker_testdata::{generate, Kind};
//! let a = generate(Kind::Text, 1000, 7);
//! assert_eq!(a, generate(Kind::Text, 1000, 7));
//! assert_eq!(a.len(), 1000);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use core::fmt;
use core::str::FromStr;

/// A small, fast, deterministic PRNG (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5851_f42d_4c95_7f2d)
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n > 0`).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Fill `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for c in &mut chunks {
            c.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rem = chunks.into_remainder();
        let last = self.next_u64().to_le_bytes();
        rem.copy_from_slice(&last[..rem.len()]);
    }
}

/// The kind of data to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Uniformly random bytes (incompressible; like already-compressed files).
    Random,
    /// English-like text: words from a fixed vocabulary, punctuation and line breaks,
    /// with some repeated lines (like source code and docs).
    Text,
    /// Structured binary: little-endian integer tables, zero runs, repeated records and
    /// short random stretches (like object files and archives).
    Binary,
}

impl Kind {
    /// All kinds.
    pub const ALL: [Kind; 3] = [Kind::Random, Kind::Text, Kind::Binary];

    /// Name as accepted by [`FromStr`].
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Random => "random",
            Kind::Text => "text",
            Kind::Binary => "binary",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown data kind {s:?} (random, text, binary)"))
    }
}

const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "with",
    "was",
    "on",
    "be",
    "by",
    "this",
    "are",
    "from",
    "or",
    "at",
    "an",
    "which",
    "not",
    "have",
    "store",
    "path",
    "nix",
    "derivation",
    "build",
    "output",
    "hash",
    "chunk",
    "cache",
    "binary",
    "archive",
    "function",
    "return",
    "let",
    "in",
    "import",
    "package",
    "version",
    "lib",
    "share",
    "include",
    "struct",
    "impl",
    "fn",
    "pub",
    "use",
    "const",
    "static",
    "value",
    "error",
    "result",
    "string",
    "buffer",
    "stream",
    "reader",
    "writer",
    "compress",
    "signature",
    "public",
    "key",
    "manifest",
    "reference",
    "closure",
    "system",
    "linux",
];

/// `len` bytes of the given kind from `seed`.
pub fn generate(kind: Kind, len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed ^ (kind as u64) << 56);
    let mut out = Vec::with_capacity(len + 64);
    match kind {
        Kind::Random => {
            out.resize(len, 0);
            rng.fill(&mut out);
        }
        Kind::Text => {
            let mut lines: Vec<Vec<u8>> = Vec::new();
            while out.len() < len {
                // One line in eight repeats an earlier line, as in code and logs.
                if !lines.is_empty() && rng.below(8) == 0 {
                    let l = &lines[rng.below(lines.len() as u64) as usize];
                    out.extend_from_slice(l);
                    continue;
                }
                let mut line = Vec::new();
                let indent = rng.below(4) * 4;
                line.resize(indent as usize, b' ');
                for w in 0..(3 + rng.below(12)) {
                    if w > 0 {
                        line.push(b' ');
                    }
                    let word = WORDS[rng.below(WORDS.len() as u64) as usize];
                    line.extend_from_slice(word.as_bytes());
                    if rng.below(10) == 0 {
                        line.extend_from_slice(format!("{}", rng.below(10_000)).as_bytes());
                    }
                }
                line.push(if rng.below(3) == 0 { b'.' } else { b';' });
                line.push(b'\n');
                out.extend_from_slice(&line);
                if lines.len() < 4096 {
                    lines.push(line);
                }
            }
        }
        Kind::Binary => {
            let mut records: Vec<Vec<u8>> = Vec::new();
            while out.len() < len {
                match rng.below(5) {
                    0 => {
                        let n = 16 + rng.below(2048) as usize;
                        out.resize(out.len() + n, 0);
                    }
                    1 => {
                        let base = rng.next_u64() >> 40;
                        for k in 0..(8 + rng.below(512)) {
                            out.extend_from_slice(&(base + k * 16).to_le_bytes());
                        }
                    }
                    2 if !records.is_empty() => {
                        let r = &records[rng.below(records.len() as u64) as usize];
                        out.extend_from_slice(r);
                    }
                    _ => {
                        let n = 32 + rng.below(4096) as usize;
                        let mut rec = vec![0u8; n];
                        rng.fill(&mut rec);
                        out.extend_from_slice(&rec);
                        if records.len() < 256 {
                            records.push(rec);
                        }
                    }
                }
            }
        }
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_distinct() {
        for k in Kind::ALL {
            let a = generate(k, 100_000, 1);
            assert_eq!(a.len(), 100_000);
            assert_eq!(a, generate(k, 100_000, 1));
            assert_ne!(a, generate(k, 100_000, 2));
        }
        assert_ne!(
            generate(Kind::Text, 1000, 1),
            generate(Kind::Binary, 1000, 1)
        );
    }
}

/// A reader for adversarial-read tests: returns at most `pattern[i]` bytes on its
/// `i`-th call (the pattern cycles); a 0 in the pattern returns `Interrupted` instead.
/// With [`ScheduledReader::failing_at`] it fails with an error once it has returned that
/// many bytes. Owns its bytes, so it can move to another thread.
///
/// ```
/// use std::io::Read;
/// use chunker_testdata::ScheduledReader;
///
/// let mut r = ScheduledReader::new(b"hello".to_vec(), vec![2, 0]);
/// let mut buf = [0u8; 8];
/// assert_eq!(r.read(&mut buf).unwrap(), 2);
/// assert_eq!(r.read(&mut buf).unwrap_err().kind(), std::io::ErrorKind::Interrupted);
/// assert_eq!(r.read(&mut buf).unwrap(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct ScheduledReader {
    data: Vec<u8>,
    pos: usize,
    pattern: Vec<usize>,
    call: usize,
    fail_at: Option<usize>,
}

impl ScheduledReader {
    /// A reader over `data` with the given read-size pattern (not empty).
    pub fn new(data: impl Into<Vec<u8>>, pattern: Vec<usize>) -> Self {
        assert!(
            !pattern.is_empty(),
            "a read pattern needs at least one entry"
        );
        ScheduledReader {
            data: data.into(),
            pos: 0,
            pattern,
            call: 0,
            fail_at: None,
        }
    }

    /// Fail with `io::ErrorKind::Other` ("disk on fire") once `bytes` bytes have been
    /// returned.
    pub fn failing_at(mut self, bytes: usize) -> Self {
        self.fail_at = Some(bytes);
        self
    }
}

impl std::io::Read for ScheduledReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let step = self.pattern[self.call % self.pattern.len()];
        self.call += 1;
        if step == 0 {
            return Err(std::io::ErrorKind::Interrupted.into());
        }
        let mut end = self.data.len();
        if let Some(f) = self.fail_at {
            if self.pos >= f {
                return Err(std::io::Error::other("disk on fire"));
            }
            end = end.min(f);
        }
        let n = step.min(buf.len()).min(end - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Helpers shared by the integration tests: temporary directories and the Nix oracle.
pub mod support {
    use std::path::PathBuf;
    use std::process::{Command, Stdio};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The Nix base32 vectors of REFERENCE.md (checked with nix-hash 2.8): `(hex, nix32)`
    /// for sha256(""), sha256("abc"), a 20-byte value, one byte, empty input, sha1("")
    /// and md5("").
    pub const NIX32_REFERENCE_VECTORS: &[(&str, &str)] = &[
        (
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73",
        ),
        (
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s",
        ),
        (
            "8a12321522fd91efbd60ebb2481af88580f61600",
            "00bgd045z0d4icpbc2yyz4gx48ak44la",
        ),
        ("1f", "0z"),
        ("", ""),
        (
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "143xibwh31h9bvxzalr0sjvbbvpa6ffs",
        ),
        (
            "d41d8cd98f00b204e9800998ecf8427e",
            "3y8bwfr609h3lh9ch0izcqq7fl",
        ),
    ];

    /// Run Nix offline: no substituters (never the network), `nix` command enabled.
    pub const NIX_CONFIG: &str = "substituters =\nexperimental-features = nix-command";

    /// A fresh directory under the system temp dir, removed on drop.
    #[derive(Debug)]
    pub struct TempDir(pub PathBuf);

    impl TempDir {
        /// A new empty directory; `tag` makes its name readable.
        pub fn new(tag: &str) -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let p =
                std::env::temp_dir().join(format!("chunker-test-{tag}-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).expect("create temp dir");
            TempDir(p)
        }

        /// A path inside the directory.
        pub fn path(&self, rel: &str) -> PathBuf {
            self.0.join(rel)
        }

        /// Write a file inside the directory and return its path.
        pub fn file(&self, name: &str, data: &[u8]) -> PathBuf {
            let p = self.path(name);
            std::fs::write(&p, data).expect("write temp file");
            p
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Run a Nix command offline (with [`NIX_CONFIG`], no stdin), in `dir` if given;
    /// panics with its stderr unless it succeeds; returns its stdout.
    pub fn nix_output<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(
        cmd: &str,
        args: &[S],
        dir: Option<&std::path::Path>,
    ) -> Vec<u8> {
        let mut c = Command::new(cmd);
        c.args(args)
            .env("NIX_CONFIG", NIX_CONFIG)
            .stdin(Stdio::null());
        if let Some(d) = dir {
            c.current_dir(d);
        }
        let out = c.output().expect("run a Nix command");
        assert!(
            out.status.success(),
            "{cmd} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// The first `max` bytes of the NAR that real Nix writes for `path` (`nix-store
    /// --dump`), or all of it if shorter: real-world NAR bytes (headers, ELF files, text)
    /// for tests. `None`, with a message saying why the caller skips, where Nix or the
    /// path is missing.
    pub fn nix_dump_prefix(path: &std::path::Path, max: usize) -> Option<Vec<u8>> {
        use std::io::Read;
        if !path.exists() {
            eprintln!("skipped: {} does not exist here", path.display());
            return None;
        }
        if !have_nix() {
            return None;
        }
        let mut child = Command::new("nix-store")
            .arg("--dump")
            .arg(path)
            .env("NIX_CONFIG", NIX_CONFIG)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // Its complaints, if any, go to the test's output.
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nix-store --dump");
        let mut out = Vec::with_capacity(max);
        let mut stdout = child.stdout.take().expect("piped stdout");
        (&mut stdout)
            .take(max as u64)
            .read_to_end(&mut out)
            .expect("read nix-store --dump");
        if out.len() == max {
            // Enough: stop it (before closing the pipe, so that it does not report a
            // broken pipe) rather than read the rest.
            let _ = child.kill();
            let _ = child.wait();
            drop(stdout);
        } else {
            let status = child.wait().expect("wait for nix-store");
            assert!(
                status.success(),
                "nix-store --dump {}: {status}",
                path.display()
            );
        }
        assert!(
            out.starts_with(b"\x0d\0\0\0\0\0\0\0nix-archive-1"),
            "nix-store --dump {} wrote no NAR",
            path.display()
        );
        Some(out)
    }

    /// Whether `nix-store` runs here; prints why the caller skips when it does not.
    pub fn have_nix() -> bool {
        let found = Command::new("nix-store")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            eprintln!("skipped: nix-store not found (run scripts/setup.sh)");
        }
        found
    }
}
