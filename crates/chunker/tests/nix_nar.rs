//! NAR encoder, reader and unpack: byte-exact with Nix 2.8 (`nix-store --dump`,
//! `nix-hash`, `nix-store --restore`), and typed errors on corrupt input.

use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

use chunker::nix::nar::{nar_hash_parallel, MAX_DEPTH, MAX_NAME_LEN};
use chunker::nix::{
    nar_hash, pack, unpack, Encoder, EntryKind, NarError, NarReader, PackError, UnpackError,
};
use chunker_testdata::support::{have_nix, nix_output, TempDir, NIX_CONFIG};

fn nix(cmd: &str, args: &[&OsStr]) -> Vec<u8> {
    nix_output(cmd, args, None)
}

fn nix_dump(path: &Path) -> Vec<u8> {
    nix("nix-store", &["--dump".as_ref(), path.as_os_str()])
}

fn nix_hash(path: &Path) -> String {
    let out = nix(
        "nix-hash",
        &[
            "--type".as_ref(),
            "sha256".as_ref(),
            "--base32".as_ref(),
            path.as_os_str(),
        ],
    );
    String::from_utf8(out).unwrap().trim().to_owned()
}

fn nix_restore(nar: &[u8], dest: &Path) {
    use std::io::Write;
    let mut child = Command::new("nix-store")
        .arg("--restore")
        .arg(dest)
        .env("NIX_CONFIG", NIX_CONFIG)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(nar).unwrap();
    assert!(child.wait().unwrap().success());
}

/// Deterministic bytes.
fn bytes(n: usize, seed: u32) -> Vec<u8> {
    (0..n as u32)
        .map(|i| (i.wrapping_mul(2654435761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

fn write(path: &Path, data: &[u8], exec: bool) {
    std::fs::write(path, data).unwrap();
    let mode = if exec { 0o755 } else { 0o644 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A tree with every kind of node Nix cares about.
fn make_tree(root: &Path) {
    std::fs::create_dir_all(root).unwrap();
    for (i, n) in [0usize, 1, 7, 8, 9, 15, 16, 17, 4095, 65_537, (1 << 20) + 3]
        .into_iter()
        .enumerate()
    {
        write(&root.join(format!("size-{n}")), &bytes(n, i as u32), false);
    }
    write(&root.join("exec"), b"#!/bin/sh\necho hi\n", true);
    write(&root.join("empty-exec"), b"", true);
    // Only the owner-execute bit counts.
    write(&root.join("group-exec"), b"x", false);
    std::fs::set_permissions(
        root.join("group-exec"),
        std::fs::Permissions::from_mode(0o654),
    )
    .unwrap();
    write(&root.join("owner-exec-only"), b"y", false);
    std::fs::set_permissions(
        root.join("owner-exec-only"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    symlink("size-1", root.join("link")).unwrap();
    symlink("/nonexistent/dangling/target", root.join("dangling")).unwrap();
    symlink("..", root.join("dotdot-link")).unwrap();
    std::fs::create_dir(root.join("empty-dir")).unwrap();
    // Bytewise order: uppercase < '-' ... check mixed names, non-ASCII, non-UTF-8.
    let names: [&[u8]; 10] = [
        b"B",
        b"a",
        b"a.b",
        b"a-b",
        b"_",
        b"Z",
        "\u{e4}rger".as_bytes(),
        "\u{65e5}\u{672c}".as_bytes(),
        b"\xff\xfe-not-utf8",
        b"with space",
    ];
    let d = root.join("names");
    std::fs::create_dir(&d).unwrap();
    for (i, n) in names.iter().enumerate() {
        write(&d.join(OsStr::from_bytes(n)), &bytes(i, 7), i % 2 == 0);
    }
    // Deep nesting.
    let mut deep = root.join("deep");
    for i in 0..40 {
        deep.push(format!("d{i}"));
    }
    std::fs::create_dir_all(&deep).unwrap();
    write(&deep.join("leaf"), b"leaf", false);
    symlink("../../..", deep.join("up")).unwrap();
}

#[test]
fn bytes_and_hash_equal_nix() {
    if !have_nix() {
        return;
    }
    let t = TempDir::new("equal");
    make_tree(&t.path("tree"));
    write(&t.path("file"), b"hello\n", false);
    write(&t.path("file-exec"), b"", true);
    symlink("nowhere", t.path("root-link")).unwrap();
    std::fs::create_dir(t.path("empty")).unwrap();
    for name in [
        "tree",
        "file",
        "file-exec",
        "root-link",
        "empty",
        "tree/deep",
    ] {
        let path = t.path(name);
        let theirs = nix_dump(&path);
        let mut ours = Vec::new();
        let summary = pack(&path, &mut ours).unwrap();
        assert!(
            ours == theirs,
            "{name}: NAR bytes differ from nix-store --dump"
        );
        assert_eq!(summary.nar_size, theirs.len() as u64);
        assert_eq!(summary.nar_hash.to_nix32(), nix_hash(&path), "{name}");
        assert_eq!(nar_hash(&path).unwrap(), summary);
        assert_eq!(nar_hash_parallel(&path).unwrap(), summary, "{name}");
        // Any read size gives the same bytes.
        for step in [1usize, 7, 8, 4096] {
            let mut enc = Encoder::new(&path);
            let mut out = Vec::new();
            let mut buf = vec![0u8; step];
            loop {
                let n = enc.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..n]);
            }
            assert!(out == theirs, "{name}, read size {step}");
            assert_eq!(enc.position(), out.len() as u64);
        }
    }
}

#[test]
fn round_trips_through_nix_restore_and_ours() {
    if !have_nix() {
        return;
    }
    let t = TempDir::new("roundtrip");
    make_tree(&t.path("tree"));
    let theirs = nix_dump(&t.path("tree"));
    let mut ours = Vec::new();
    let summary = pack(t.path("tree"), &mut ours).unwrap();

    // Nix restores our NAR to the same tree.
    nix_restore(&ours, &t.path("by-nix"));
    assert_eq!(nar_hash(t.path("by-nix")).unwrap(), summary);
    // We restore Nix's NAR to the same tree, and Nix agrees.
    unpack(&theirs[..], t.path("by-us")).unwrap();
    assert_eq!(nix_dump(&t.path("by-us")), theirs);
    assert_eq!(nix_hash(&t.path("by-us")), summary.nar_hash.to_nix32());
    // Executable bits survive.
    let mode = std::fs::metadata(t.path("by-us/exec"))
        .unwrap()
        .permissions()
        .mode();
    assert_ne!(mode & 0o100, 0);
    let link = std::fs::read_link(t.path("by-us/dangling")).unwrap();
    assert_eq!(link, Path::new("/nonexistent/dangling/target"));
}

#[test]
fn reader_walks_every_node() {
    let t = TempDir::new("walk");
    make_tree(&t.path("tree"));
    let mut nar = Vec::new();
    pack(t.path("tree"), &mut nar).unwrap();
    let mut r = NarReader::new(&nar[..]);
    let mut seen = Vec::new();
    let mut total = 0u64;
    while let Some(e) = r.next_entry().unwrap() {
        let path = e.path.to_vec();
        let depth = e.depth;
        assert_eq!(
            depth,
            if path.is_empty() {
                0
            } else {
                path.split(|&c| c == b'/').count()
            }
        );
        match e.kind {
            EntryKind::Regular { size, executable } => {
                let fs_path = t.path("tree").join(OsStr::from_bytes(&path));
                let mut data = Vec::new();
                // Read some files, skip others.
                if path.len() % 2 == 0 {
                    r.contents().read_to_end(&mut data).unwrap();
                    assert_eq!(data, std::fs::read(&fs_path).unwrap());
                }
                total += size;
                let mode = std::fs::metadata(&fs_path).unwrap().permissions().mode();
                assert_eq!(executable, mode & 0o100 != 0);
            }
            EntryKind::Symlink { target } => {
                let fs_path = t.path("tree").join(OsStr::from_bytes(&path));
                assert_eq!(
                    target,
                    std::fs::read_link(fs_path).unwrap().as_os_str().as_bytes()
                );
            }
            EntryKind::Directory => {}
            _ => unreachable!(),
        }
        seen.push(path);
    }
    assert_eq!(r.position(), nar.len() as u64);
    assert!(total > 1 << 20);
    assert!(seen.iter().any(|p| p.ends_with(b"deep/d0/d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/d11/d12/d13/d14/d15/d16/d17/d18/d19/d20/d21/d22/d23/d24/d25/d26/d27/d28/d29/d30/d31/d32/d33/d34/d35/d36/d37/d38/d39/leaf")));
    assert!(seen.contains(&b"names/\xff\xfe-not-utf8".to_vec()));

    // A reader that returns one byte at a time sees the same entries.
    struct OneByte<'a>(&'a [u8]);
    impl Read for OneByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() || buf.is_empty() {
                return Ok(0);
            }
            buf[0] = self.0[0];
            self.0 = &self.0[1..];
            Ok(1)
        }
    }
    let mut r = NarReader::new(OneByte(&nar));
    let mut again = Vec::new();
    while let Some(e) = r.next_entry().unwrap() {
        again.push(e.path.to_vec());
    }
    assert_eq!(again, seen);
}

#[test]
fn unpack_refuses_existing_target_and_restores_single_nodes() {
    let t = TempDir::new("unpack");
    write(&t.path("f"), b"data", true);
    let mut nar = Vec::new();
    let s = pack(t.path("f"), &mut nar).unwrap();
    unpack(&nar[..], t.path("g")).unwrap();
    assert_eq!(std::fs::read(t.path("g")).unwrap(), b"data");
    assert_eq!(nar_hash(t.path("g")).unwrap(), s);
    assert!(matches!(
        unpack(&nar[..], t.path("g")),
        Err(UnpackError::Exists { .. })
    ));
    std::fs::create_dir(t.path("dir")).unwrap();
    assert!(matches!(
        unpack(&nar[..], t.path("dir")),
        Err(UnpackError::Exists { .. })
    ));
    symlink("x", t.path("l")).unwrap();
    let mut nar = Vec::new();
    pack(t.path("l"), &mut nar).unwrap();
    unpack(&nar[..], t.path("l2")).unwrap();
    assert_eq!(std::fs::read_link(t.path("l2")).unwrap(), Path::new("x"));
}

/// A failed unpack removes the target it created (it did not exist before), whatever
/// the NAR held when it failed; an existing target is never touched.
#[test]
fn failed_unpack_leaves_nothing() {
    let t = TempDir::new("unpack-fail");
    make_tree(&t.path("tree"));
    let mut nar = Vec::new();
    pack(t.path("tree"), &mut nar).unwrap();
    // Cut at many points: after the root header, inside names, inside file contents,
    // just before the end.
    let cuts = (1..40)
        .map(|k| 120 + k * (nar.len() - 128) / 40)
        .chain([nar.len() - 8, nar.len() - 1]);
    for (i, cut) in cuts.enumerate() {
        let dest = t.path(&format!("d{i}"));
        let e = unpack(&nar[..cut], &dest).unwrap_err();
        assert!(
            matches!(e, UnpackError::Nar(NarError::Truncated { .. })),
            "cut {cut}: {e}"
        );
        assert!(
            std::fs::symlink_metadata(&dest).is_err(),
            "cut {cut}: {} left behind",
            dest.display()
        );
    }
    // A single file cut short, and an invalid entry deep in a directory.
    let mut one = Vec::new();
    write(&t.path("f"), &bytes(5000, 1), false);
    pack(t.path("f"), &mut one).unwrap();
    assert!(unpack(&one[..one.len() - 100], t.path("g")).is_err());
    assert!(std::fs::symlink_metadata(t.path("g")).is_err());
    let e = unpack(&dir_nar(&[b"a", b"b", b"b"])[..], t.path("h")).unwrap_err();
    assert!(
        matches!(e, UnpackError::Nar(NarError::Unsorted { .. })),
        "{e}"
    );
    assert!(std::fs::symlink_metadata(t.path("h")).is_err());
    // An existing target: refused and left as it was.
    std::fs::create_dir(t.path("mine")).unwrap();
    std::fs::write(t.path("mine/keep"), b"k").unwrap();
    assert!(matches!(
        unpack(&nar[..], t.path("mine")),
        Err(UnpackError::Exists { .. })
    ));
    assert_eq!(std::fs::read(t.path("mine/keep")).unwrap(), b"k");
    // The whole NAR still unpacks.
    unpack(&nar[..], t.path("whole")).unwrap();
    assert_eq!(
        nar_hash(t.path("whole")).unwrap(),
        nar_hash(t.path("tree")).unwrap()
    );
}

/// Many files across many batches, files just under, at and over the small-file limit
/// and the batch size, and a large file last: the parallel hash equals the sequential
/// one (whose bytes equal Nix's, above) on every subtree and on the whole.
#[test]
fn parallel_hash_equals_sequential() {
    let t = TempDir::new("par");
    let root = t.path("tree");
    for d in 0..30u32 {
        let dir = root.join(format!("d{d:02}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..120u32 {
            let n = ((d * 131 + f * 17) % 3000) as usize;
            write(
                &dir.join(format!("f{f:03}")),
                &bytes(n, d * 1000 + f),
                f % 9 == 0,
            );
        }
        symlink("f000", dir.join("link")).unwrap();
    }
    let sizes = [
        (256 << 10) - 1,
        256 << 10,
        (256 << 10) + 1,
        (1 << 20) - 1,
        1 << 20,
        (1 << 20) + 1,
        (5 << 20) + 3,
    ];
    std::fs::create_dir(root.join("big")).unwrap();
    for (i, n) in sizes.into_iter().enumerate() {
        write(
            &root.join(format!("big/{i}.bin")),
            &bytes(n, i as u32),
            false,
        );
    }
    std::fs::create_dir(root.join("empty")).unwrap();
    write(&root.join("zz-last-large"), &bytes(3 << 20, 99), true);
    for sub in [
        "tree",
        "tree/big",
        "tree/d07",
        "tree/empty",
        "tree/zz-last-large",
    ] {
        let path = t.path(sub);
        assert_eq!(
            nar_hash_parallel(&path).unwrap(),
            nar_hash(&path).unwrap(),
            "{sub}"
        );
    }
}

#[test]
fn parallel_hash_reports_the_first_error_like_the_encoder() {
    let t = TempDir::new("par-err");
    let root = t.path("d");
    std::fs::create_dir(&root).unwrap();
    // Enough files before the first bad node to fill several batches.
    for i in 0..40 {
        write(&root.join(format!("a{i:02}")), &bytes(100_000, i), false);
    }
    let _first = std::os::unix::net::UnixListener::bind(root.join("b-sock")).unwrap();
    let _second = std::os::unix::net::UnixListener::bind(root.join("c-sock")).unwrap();
    let seq = pack(&root, io::sink()).unwrap_err();
    let par = nar_hash_parallel(&root).unwrap_err();
    assert!(
        matches!(&par, PackError::UnsupportedType { kind: "socket", path } if path.ends_with("b-sock")),
        "{par}"
    );
    assert_eq!(par.to_string(), seq.to_string());
    let err = nar_hash_parallel(t.path("missing")).unwrap_err();
    assert!(matches!(err, PackError::Read { .. }), "{err}");
}

#[test]
fn unsupported_file_types_are_errors() {
    let t = TempDir::new("socket");
    std::fs::create_dir(t.path("d")).unwrap();
    let _sock = std::os::unix::net::UnixListener::bind(t.path("d/sock")).unwrap();
    let err = pack(t.path("d"), io::sink()).unwrap_err();
    assert!(
        matches!(&err, PackError::UnsupportedType { kind: "socket", path } if path.ends_with("sock")),
        "{err}"
    );
    let err = pack(t.path("missing"), io::sink()).unwrap_err();
    assert!(matches!(err, PackError::Read { .. }), "{err}");
}

/// A root that cannot be read: `Encoder::open` says so up front, naming the path, and
/// the lazy `Encoder::new` fails its first read without producing any byte.
#[test]
fn unreadable_root_is_reported_before_any_byte() {
    let t = TempDir::new("root");
    let missing = t.path("missing");
    let err = Encoder::open(&missing).unwrap_err();
    assert!(
        matches!(&err, PackError::Read { path, source } if *path == missing && source.kind() == io::ErrorKind::NotFound),
        "{err}"
    );
    let mut lazy = Encoder::new(&missing);
    let mut buf = [0u8; 64];
    let err = PackError::from_io(lazy.read(&mut buf).unwrap_err());
    assert!(matches!(err, PackError::Read { .. }), "{err}");
    assert_eq!(lazy.position(), 0);
    assert_eq!(lazy.read(&mut buf).unwrap(), 0);
    // A FIFO root is refused before it is opened (opening would block).
    let fifo = t.path("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    assert!(matches!(
        Encoder::open(&fifo),
        Err(PackError::UnsupportedType { kind: "fifo", .. })
    ));
    // A readable root: the same bytes either way.
    write(&t.path("f"), b"abc", false);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    Encoder::open(t.path("f"))
        .unwrap()
        .read_to_end(&mut a)
        .unwrap();
    Encoder::new(t.path("f")).read_to_end(&mut b).unwrap();
    assert_eq!(a, b);
    assert_eq!(&a[8..21], b"nix-archive-1");
}

// ---- hand-built NARs -------------------------------------------------------------

fn s(out: &mut Vec<u8>, v: &[u8]) {
    out.extend_from_slice(&(v.len() as u64).to_le_bytes());
    out.extend_from_slice(v);
    out.resize(out.len().next_multiple_of(8), 0);
}

fn toks(out: &mut Vec<u8>, list: &[&[u8]]) {
    for t in list {
        s(out, t);
    }
}

/// A NAR of a directory whose entries are regular files with these names.
fn dir_nar(names: &[&[u8]]) -> Vec<u8> {
    let mut n = Vec::new();
    toks(&mut n, &[b"nix-archive-1", b"(", b"type", b"directory"]);
    for name in names {
        toks(&mut n, &[b"entry", b"(", b"name", name, b"node"]);
        toks(
            &mut n,
            &[b"(", b"type", b"regular", b"contents", b"", b")", b")"],
        );
    }
    s(&mut n, b")");
    n
}

fn read_all(nar: &[u8]) -> Result<usize, NarError> {
    let mut r = NarReader::new(nar);
    let mut n = 0;
    while let Some(e) = r.next_entry()? {
        if let EntryKind::Regular { .. } = e.kind {
            io::copy(&mut r.contents(), &mut io::sink())
                .map_err(|e| *e.into_inner().unwrap().downcast::<NarError>().unwrap())?;
        }
        n += 1;
    }
    Ok(n)
}

#[test]
fn hand_built_nars_parse() {
    assert_eq!(read_all(&dir_nar(&[b"a", b"b", b"c"])).unwrap(), 4);
    assert_eq!(read_all(&dir_nar(&[])).unwrap(), 1);
    // Trailing bytes after the NAR are not read.
    let mut n = dir_nar(&[b"a"]);
    n.extend_from_slice(b"trailing");
    assert_eq!(read_all(&n).unwrap(), 2);
}

#[test]
fn invalid_names_are_rejected_with_offsets() {
    // magic (24) "(" "type" (16 each) "directory" (24) "entry" "(" "name" (16 each).
    let name_offset = 24 + 16 + 16 + 24 + 16 + 16 + 16;
    for bad in [&b""[..], b".", b"..", b"a/b", b"/", b"a\0b"] {
        match read_all(&dir_nar(&[bad])) {
            Err(NarError::InvalidName { name, offset }) => {
                assert_eq!(name, bad);
                assert_eq!(offset, name_offset);
            }
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    for names in [
        &[&b"b"[..], b"a"][..],
        &[b"a", b"a"],
        &[b"a", b"B"],
        &[b"ab", b"a"],
    ] {
        assert!(
            matches!(read_all(&dir_nar(names)), Err(NarError::Unsorted { .. })),
            "{names:?}"
        );
    }
    let long = vec![b'x'; MAX_NAME_LEN + 1];
    match read_all(&dir_nar(&[&long])) {
        Err(NarError::TooLong { length, limit, .. }) => {
            assert_eq!(length, 256);
            assert_eq!(limit, 255);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(read_all(&dir_nar(&[&vec![b'x'; MAX_NAME_LEN]])).unwrap(), 2);
}

#[test]
fn corrupt_nars_are_typed_errors() {
    let good = dir_nar(&[b"a", b"b"]);
    // Every truncation is Truncated (at the start of the incomplete item, at most 8
    // bytes back), never a clean end.
    for len in 0..good.len() {
        match read_all(&good[..len]) {
            Err(NarError::Truncated { offset }) => {
                assert!(
                    offset <= len as u64 && offset + 8 > len as u64 - len.min(8) as u64,
                    "{len}: {offset}"
                )
            }
            other => panic!("prefix {len}: {other:?}"),
        }
    }
    // Bad magic.
    let mut bad = good.clone();
    bad[8] = b'N';
    assert!(matches!(
        read_all(&bad),
        Err(NarError::UnexpectedToken { offset: 0, .. })
    ));
    // Non-zero padding after the magic.
    let mut bad = good.clone();
    bad[23] = 1;
    assert!(matches!(
        read_all(&bad),
        Err(NarError::NonZeroPadding { offset: 21 })
    ));
    // Every single-byte corruption gives an error or a valid NAR, never a panic.
    for i in 0..good.len() {
        for v in [0u8, 1, 0xff, b'a'] {
            let mut bad = good.clone();
            bad[i] = v;
            let _ = read_all(&bad);
        }
    }
    // A huge string length is rejected before allocating.
    let mut n = Vec::new();
    toks(
        &mut n,
        &[b"nix-archive-1", b"(", b"type", b"symlink", b"target"],
    );
    n.extend_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        read_all(&n),
        Err(NarError::TooLong {
            what: "symlink target",
            ..
        })
    ));
    // A huge file is fine to declare, but truncated.
    let mut n = Vec::new();
    toks(
        &mut n,
        &[b"nix-archive-1", b"(", b"type", b"regular", b"contents"],
    );
    n.extend_from_slice(&u64::MAX.to_le_bytes());
    n.extend_from_slice(b"abc");
    assert!(matches!(
        read_all(&n),
        Err(NarError::Truncated { offset: 99 })
    ));
    // Empty symlink target.
    let mut n = Vec::new();
    toks(
        &mut n,
        &[
            b"nix-archive-1",
            b"(",
            b"type",
            b"symlink",
            b"target",
            b"",
            b")",
        ],
    );
    assert!(matches!(read_all(&n), Err(NarError::InvalidTarget { .. })));
    // Unknown type.
    let mut n = Vec::new();
    toks(&mut n, &[b"nix-archive-1", b"(", b"type", b"fifo", b")"]);
    match read_all(&n) {
        Err(NarError::UnexpectedToken { found, offset, .. }) => {
            assert_eq!(found.as_deref(), Some(&b"fifo"[..]));
            assert_eq!(offset, 24 + 16 + 16);
        }
        other => panic!("{other:?}"),
    }
    // Errors display their offset.
    let e = read_all(&good[..30]).unwrap_err();
    // The "(" string starting at byte 24 is cut short.
    assert_eq!(e.to_string(), "NAR truncated at byte 24");
    assert_eq!(e.offset(), 24);
}

#[test]
fn depth_is_limited() {
    fn nested(levels: usize) -> Vec<u8> {
        let mut n = Vec::new();
        toks(&mut n, &[b"nix-archive-1", b"(", b"type", b"directory"]);
        for _ in 0..levels {
            toks(
                &mut n,
                &[
                    b"entry",
                    b"(",
                    b"name",
                    b"d",
                    b"node",
                    b"(",
                    b"type",
                    b"directory",
                ],
            );
        }
        for _ in 0..levels {
            toks(&mut n, &[b")", b")"]);
        }
        s(&mut n, b")");
        n
    }
    // Far above real trees (Nix 2.8 restores any depth; the old limit of 64 refused a
    // 70-level tree we had written).
    const { assert!(MAX_DEPTH >= 1024) };
    assert_eq!(read_all(&nested(70)).unwrap(), 71);
    assert_eq!(read_all(&nested(MAX_DEPTH - 1)).unwrap(), MAX_DEPTH);
    assert_eq!(read_all(&nested(MAX_DEPTH)).unwrap(), MAX_DEPTH + 1);
    match read_all(&nested(MAX_DEPTH + 1)) {
        Err(NarError::TooDeep { limit, offset }) => {
            assert_eq!(limit, MAX_DEPTH);
            // At the "entry" one level too deep: the magic and the root's header
            // (24 + 16 + 16 + 24 bytes), then MAX_DEPTH levels of 136 bytes ("entry"
            // "(" "name" "d" "node" "(" "type": 16 each, "directory": 24).
            assert_eq!(offset as usize, 80 + MAX_DEPTH * 136);
        }
        other => panic!("{other:?}"),
    }
    // A hostile NAR nested 100,000 levels: refused at the limit, in constant stack.
    let e = read_all(&nested(100_000)).unwrap_err();
    assert!(matches!(e, NarError::TooDeep { .. }), "{e}");
}

/// A directory chain with its deepest entry (a file) `depth` components below `root`.
fn deep_tree(root: &Path, depth: usize) {
    let mut dir = root.to_path_buf();
    for _ in 1..depth {
        dir.push("d");
    }
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("f"), b"bottom").unwrap();
}

/// We read every NAR we write: the writers refuse what the reader would. At the limit
/// a tree packs, reads, unpacks, and equals Nix both ways; one level more is refused by
/// every writer, and Nix's NAR of it by the reader, with typed errors.
#[test]
fn depth_limit_is_the_same_for_writers_and_reader() {
    let t = TempDir::new("deep");
    for depth in [70, MAX_DEPTH] {
        let root = t.path(&format!("ok{depth}"));
        deep_tree(&root, depth);
        let mut nar = Vec::new();
        let summary = pack(&root, &mut nar).unwrap();
        assert_eq!(nar_hash_parallel(&root).unwrap(), summary);
        let mut r = NarReader::new(&nar[..]);
        let mut deepest = 0;
        while let Some(e) = r.next_entry().unwrap() {
            deepest = deepest.max(e.depth);
        }
        assert_eq!(deepest, depth);
        let out = t.path(&format!("out{depth}"));
        unpack(&nar[..], &out).unwrap();
        assert_eq!(nar_hash(&out).unwrap(), summary);
        if have_nix() {
            assert!(
                nix_dump(&root) == nar,
                "depth {depth}: differs from nix-store --dump"
            );
            let theirs = t.path(&format!("nix{depth}"));
            nix_restore(&nar, &theirs);
            assert_eq!(nar_hash(&theirs).unwrap(), summary);
        }
    }

    let root = t.path("over");
    deep_tree(&root, MAX_DEPTH + 1);
    let too_deep = |e: PackError| match e {
        PackError::TooDeep { path, limit } => {
            assert_eq!(limit, MAX_DEPTH);
            assert_eq!(
                path.components().count(),
                root.components().count() + MAX_DEPTH + 1
            );
        }
        other => panic!("{other}"),
    };
    too_deep(pack(&root, io::sink()).unwrap_err());
    too_deep(nar_hash(&root).unwrap_err());
    too_deep(nar_hash_parallel(&root).unwrap_err());
    let mut enc = Encoder::new(&root);
    let e = io::copy(&mut enc, &mut io::sink()).unwrap_err();
    too_deep(PackError::from_io(e));
    if have_nix() {
        // Nix writes it; the reader refuses it (and unpack creates nothing it keeps).
        let nar = nix_dump(&root);
        let e = read_all(&nar).unwrap_err();
        assert!(
            matches!(e, NarError::TooDeep { limit, .. } if limit == MAX_DEPTH),
            "{e}"
        );
    }
}

#[test]
fn unpack_never_escapes() {
    let t = TempDir::new("escape");
    // A symlink "a" to outside, then a duplicate entry "a" as a directory with a file:
    // rejected as unsorted before anything is written through the link.
    let mut n = Vec::new();
    toks(&mut n, &[b"nix-archive-1", b"(", b"type", b"directory"]);
    toks(&mut n, &[b"entry", b"(", b"name", b"a", b"node"]);
    let outside = t.path("outside");
    std::fs::create_dir(&outside).unwrap();
    toks(
        &mut n,
        &[
            b"(",
            b"type",
            b"symlink",
            b"target",
            outside.as_os_str().as_bytes(),
            b")",
            b")",
        ],
    );
    toks(
        &mut n,
        &[
            b"entry",
            b"(",
            b"name",
            b"a",
            b"node",
            b"(",
            b"type",
            b"directory",
        ],
    );
    toks(&mut n, &[b"entry", b"(", b"name", b"evil", b"node"]);
    toks(
        &mut n,
        &[b"(", b"type", b"regular", b"contents", b"pwned", b")", b")"],
    );
    toks(&mut n, &[b")", b")", b")"]);
    let err = unpack(&n[..], t.path("dest")).unwrap_err();
    assert!(
        matches!(err, UnpackError::Nar(NarError::Unsorted { .. })),
        "{err}"
    );
    assert!(!outside.join("evil").exists());
    // The tree begun before the error (the symlink) is removed, the link not followed.
    assert!(std::fs::symlink_metadata(t.path("dest")).is_err());
    assert!(outside.is_dir());
    for bad in [&b".."[..], b"../x", b"/etc"] {
        let n = dir_nar(&[bad]);
        let dest = t.path(&format!("dest-{}", bad.len()));
        assert!(unpack(&n[..], &dest).is_err());
    }
    assert!(!t.path("x").exists());
}
