//! A real S3 server for the tests: a one-node Ceph cluster (one mon, one memstore osd, the
//! radosgw gateway) on free loopback ports, started by `scripts/rgw.sh` in a directory of
//! its own and stopped, daemon by daemon, when the [`Rgw`] guard drops — also when a test
//! panics, and (through a watcher reading the end of a pipe this process holds) when the
//! test process is killed outright.
//!
//! Without the Ceph tools, [`Rgw::start_or_skip`] prints a skip message and returns `None`,
//! unless `CHUNKER_REQUIRE_S3` is set (scripts/test.sh sets it): then the test fails.

#![allow(dead_code)]

use std::fs;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The script that starts and stops a cluster.
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/rgw.sh");

/// The tools `scripts/rgw.sh` needs (scripts/setup.sh installs them).
const TOOLS: &[&str] = &[
    "ceph-mon",
    "ceph-osd",
    "radosgw",
    "radosgw-admin",
    "monmaptool",
    "ceph",
];

/// A running cluster; dropping it stops every daemon it started.
pub struct Rgw {
    dir: PathBuf,
    /// The process group of the start script, its daemons and its watcher.
    pgid: u32,
    /// The write end of the watcher's stdin: the watcher stops the cluster at its end of
    /// file, i.e. when this process exits however it exits.
    watch: Option<ChildStdin>,
    env: Vec<(String, String)>,
    /// Keep the directory (logs) for a look after a failure.
    keep: bool,
}

/// One S3 request as the gateway logged it (`rgw ops log file path`).
#[derive(Debug, Clone)]
pub struct Op {
    /// The gateway's operation name: `put_obj`, `get_obj`, `list_bucket`, `delete_obj`, …
    pub operation: String,
    /// Method, path and protocol: `PUT /bucket/key HTTP/1.1`.
    pub uri: String,
    /// The HTTP status the gateway answered.
    pub http_status: u16,
    /// Bytes received with the request.
    pub bytes_received: u64,
}

impl Op {
    /// The request's method (`PUT`, `GET`, …).
    pub fn method(&self) -> &str {
        self.uri.split(' ').next().unwrap_or("")
    }

    /// The request's path (`/bucket/key`, query string included).
    pub fn path(&self) -> &str {
        self.uri.split(' ').nth(1).unwrap_or("")
    }
}

/// Whether the Ceph tools are installed (all of them, on `PATH`).
pub fn tools_present() -> bool {
    TOOLS.iter().all(|tool| {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
    })
}

impl Rgw {
    /// Start a cluster, or say why not and return `None` when the tools are missing and
    /// `CHUNKER_REQUIRE_S3` is unset. Panics when the start fails, or when the tools are
    /// missing and `CHUNKER_REQUIRE_S3` is set.
    pub fn start_or_skip() -> Option<Rgw> {
        if !tools_present() {
            let missing = "the Ceph tools (radosgw, ceph-mon, ceph-osd) are not installed";
            if std::env::var_os("CHUNKER_REQUIRE_S3").is_some() {
                panic!("CHUNKER_REQUIRE_S3 is set but {missing}: run scripts/setup.sh");
            }
            eprintln!("SKIPPED: S3 tests: {missing} (scripts/setup.sh installs them)");
            return None;
        }
        Some(Rgw::start().unwrap_or_else(|e| panic!("starting radosgw: {e}")))
    }

    /// Start a cluster in a new directory under the system's temporary directory. One retry:
    /// another cluster may have taken a port between its choice and its use.
    pub fn start() -> Result<Rgw, String> {
        match Rgw::start_once() {
            Ok(rgw) => Ok(rgw),
            Err(first) => Rgw::start_once().map_err(|e| format!("{first}; then, again: {e}")),
        }
    }

    fn start_once() -> Result<Rgw, String> {
        static N: AtomicUsize = AtomicUsize::new(0);
        // The admin sockets live in DIR: keep it short (sun_path holds 108 bytes).
        let dir = std::env::temp_dir().join(format!(
            "chunker-rgw-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        let mut child = Command::new("bash")
            .arg(SCRIPT)
            .arg("start")
            .arg(&dir)
            .arg("--watch-stdin")
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("running {SCRIPT}: {e}"))?;
        let pgid = child.id();
        let watch = child.stdin.take();
        // The guard exists from here on, so a failure below still stops what started.
        let mut rgw = Rgw {
            dir,
            pgid,
            watch,
            env: Vec::new(),
            keep: false,
        };
        let mut out = String::new();
        let mut err = String::new();
        child
            .stdout
            .take()
            .expect("piped")
            .read_to_string(&mut out)
            .map_err(|e| e.to_string())?;
        child
            .stderr
            .take()
            .expect("piped")
            .read_to_string(&mut err)
            .map_err(|e| e.to_string())?;
        let status = child.wait().map_err(|e| e.to_string())?;
        if !status.success() {
            rgw.keep = true;
            return Err(format!(
                "rgw.sh start {}: {status}: {}",
                rgw.dir.display(),
                err.trim()
            ));
        }
        rgw.env = out
            .lines()
            .filter_map(|line| line.strip_prefix("export ")?.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        for key in [
            "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "RGW_BUCKET",
        ] {
            if rgw.var(key).is_none() {
                return Err(format!("rgw.sh start printed no {key}: {out}"));
            }
        }
        Ok(rgw)
    }

    /// The cluster's directory (config, logs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// One variable of the environment the start script printed.
    pub fn var(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The `AWS_*` environment for a client of this gateway (endpoint, keys, region, plain
    /// HTTP allowed), as `AmazonS3Builder::from_env` and the AWS tools read it.
    pub fn aws_env(&self) -> impl Iterator<Item = (&str, &str)> {
        self.env
            .iter()
            .filter(|(k, _)| k.starts_with("AWS_"))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The bucket made at start.
    pub fn bucket(&self) -> &str {
        self.var("RGW_BUCKET").expect("checked at start")
    }

    /// The store URL `s3://BUCKET/PREFIX`.
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket())
    }

    /// Every request the gateway has answered so far, as it logged them, oldest first.
    ///
    /// The gateway appends to its log after it answers, from a thread of its own: first a
    /// marker request (anonymous, refused, logged all the same) is sent and the log read
    /// until the marker is in it, so that every request answered before is too.
    pub fn ops(&self) -> Vec<Op> {
        static MARKER: AtomicUsize = AtomicUsize::new(0);
        let marker = format!(
            "/{}/chunker-ops-marker-{}",
            self.bucket(),
            MARKER.fetch_add(1, Ordering::Relaxed)
        );
        let endpoint = self.var("AWS_ENDPOINT_URL").expect("checked at start");
        let curl = Command::new("curl")
            .args(["-s", "-o", "/dev/null", &format!("{endpoint}{marker}")])
            .status();
        assert!(
            matches!(curl, Ok(s) if s.success()),
            "marker request {marker}: {curl:?}"
        );
        // A bound, not a timing claim: the marker shows within milliseconds.
        for _ in 0..1000 {
            let ops = self.read_ops();
            if ops.iter().any(|op| op.path() == marker) {
                return ops;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("the gateway did not log the marker request {marker} within 10 s");
    }

    /// The gateway's log as it is now: JSON objects, one a line — but requests answered at
    /// the same moment can share a line (radosgw 16.2 then leaves out the newline), so the
    /// text is read as a stream of objects. One being written, at the end, is left for later.
    fn read_ops(&self) -> Vec<Op> {
        let path = self.dir.join("log/ops.log");
        let text = fs::read_to_string(&path).unwrap_or_default();
        let mut ops = Vec::new();
        for op in serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>() {
            let op = match op {
                Ok(op) => op,
                Err(e) if e.is_eof() => break,
                Err(e) => panic!("{}: not JSON ({e})", path.display()),
            };
            let text = |key: &str| op[key].as_str().unwrap_or_default().to_owned();
            ops.push(Op {
                operation: text("operation"),
                uri: text("uri"),
                http_status: text("http_status").parse().unwrap_or(0),
                bytes_received: op["bytes_received"].as_u64().unwrap_or(0),
            });
        }
        ops
    }

    /// The successful `PUT`s of objects under `s3://BUCKET/PREFIX` the gateway has logged.
    pub fn puts_under(&self, prefix: &str) -> Vec<Op> {
        let under = format!("/{}/{prefix}", self.bucket());
        self.ops()
            .into_iter()
            .filter(|op| {
                op.method() == "PUT" && op.path().starts_with(&under) && op.http_status == 200
            })
            .collect()
    }

    /// Keep the cluster's directory (logs) after the drop, and say where it is.
    pub fn keep(&mut self) {
        self.keep = true;
    }

    /// The process group of the cluster's script, daemons and watcher.
    pub fn pgid(&self) -> u32 {
        self.pgid
    }

    /// The processes of this cluster still alive (see [`processes`]).
    pub fn processes(&self) -> Vec<(u32, String)> {
        processes(&self.dir, self.pgid)
    }
}

/// The live processes (pid, command line) of the cluster in `dir` whose script led process
/// group `pgid`, found through `/proc`: a command line naming the directory, or a member of
/// the group. Zombies do not count.
pub fn processes(dir: &Path, pgid: u32) -> Vec<(u32, String)> {
    let Ok(procs) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let needle = dir.to_string_lossy().into_owned();
    procs
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // After the command name in parentheses: state, ppid, pgrp.
            let mut rest = stat.get(stat.rfind(')')? + 2..)?.split(' ');
            let state = rest.next()?;
            let pgrp: u32 = rest.nth(1)?.parse().ok()?;
            let cmd = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            (state != "Z" && state != "X" && (pgrp == pgid || cmd.contains(&needle)))
                .then_some((pid, cmd))
        })
        .collect()
}

impl Drop for Rgw {
    fn drop(&mut self) {
        // The daemons, by pid (the script checks each is still ours), waiting until gone.
        let stopped = Command::new("bash")
            .arg(SCRIPT)
            .arg("stop")
            .arg(&self.dir)
            .status();
        if !matches!(stopped, Ok(s) if s.success()) {
            eprintln!(
                "rgw: `rgw.sh stop {}` failed: {stopped:?}",
                self.dir.display()
            );
        }
        // Whatever else is left of the group (the watcher): by pid, then wait until it has
        // exited (a process being torn down still shows in /proc for a moment).
        for (pid, _) in self.processes() {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
        }
        for _ in 0..500 {
            if self.processes().is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        drop(self.watch.take());
        if self.keep || std::thread::panicking() {
            eprintln!("rgw: logs kept in {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}
