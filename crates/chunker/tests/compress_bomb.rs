//! Decompression bombs: small inputs that expand to 2 GiB are refused under a 64 MiB
//! limit by every codec and every form, quickly and without memory beyond about the
//! limit. Times and peak-RSS growth are printed (`--nocapture`), not asserted on time.

use std::io::{self, Read};
use std::time::Instant;

use chunker::compress::{Codec, CompressionError, Compressor, Decompressor};

const LIMIT: usize = 64 << 20;
const TOTAL: u64 = 2 << 30;

/// A zstd frame of RLE blocks: 16384 × 128 KiB = 2 GiB from 64 KiB, no content size.
fn zstd_rle_bomb() -> Vec<u8> {
    let mut f = vec![0x28, 0xB5, 0x2F, 0xFD, 0x00, 7 << 3]; // no FCS; window 2^17
    let blocks = TOTAL / (128 << 10);
    for i in 0..blocks {
        let last = u32::from(i + 1 == blocks);
        let header = (128u32 << 10) << 3 | 1 << 1 | last; // RLE block of 128 KiB
        f.extend_from_slice(&header.to_le_bytes()[..3]);
        f.push(b'a');
    }
    f
}

/// 128 copies of one stream of 16 MiB of zeros: 2 GiB in all.
fn concatenated_bomb(codec: Codec) -> Vec<u8> {
    let level = if codec == Codec::Xz {
        0
    } else {
        codec.default_level()
    };
    let one = Compressor::with_level(codec, level)
        .unwrap()
        .compress(&vec![0u8; 16 << 20])
        .unwrap();
    one.repeat((TOTAL / (16 << 20)) as usize)
}

fn status_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Reset the peak RSS (Linux: `echo 5 > /proc/self/clear_refs`); returns RSS now.
fn reset_peak() -> Option<u64> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    status_kib("VmRSS:")
}

fn check(
    name: &str,
    codec: Codec,
    frame: &[u8],
    form: &str,
    f: impl FnOnce() -> Result<u64, CompressionError>,
) {
    let rss = reset_peak();
    let t = Instant::now();
    let r = f();
    let elapsed = t.elapsed();
    let grew = rss.and_then(|before| Some(status_kib("VmHWM:")?.saturating_sub(before)));
    println!(
        "{name:<14} {form:<7} input {:>9} B -> refused in {:>7.1} ms, peak RSS +{} MiB",
        frame.len(),
        elapsed.as_secs_f64() * 1e3,
        grew.map_or("?".into(), |k| (k / 1024).to_string())
    );
    assert!(
        matches!(r, Err(CompressionError::SizeExceeded { limit: LIMIT })),
        "{name} {form}: {:?}",
        r.map_err(|e| e.to_string())
    );
    if let Some(k) = grew {
        assert!(
            k * 1024 < 2 * LIMIT as u64,
            "{name} {form}: peak RSS grew by {k} KiB"
        );
    }
    let _ = codec;
}

#[test]
fn two_gib_bombs_are_refused_under_a_64_mib_limit() {
    let mut bombs = vec![("zstd-rle", Codec::Zstd, zstd_rle_bomb())];
    for codec in [Codec::Zstd, Codec::Lz4, Codec::Xz, Codec::Bzip2] {
        bombs.push((codec.name(), codec, concatenated_bomb(codec)));
    }
    let d = Decompressor::new().max_output(LIMIT);
    for (name, codec, frame) in &bombs {
        check(name, *codec, frame, "vec", || {
            d.decompress(frame).map(|v| v.len() as u64)
        });
        check(name, *codec, frame, "read", || {
            let mut r = d.reader(&frame[..])?;
            io::copy(&mut r, &mut io::sink()).map_err(CompressionError::from)
        });
        check(name, *codec, frame, "write", || {
            let mut w = d.writer(io::sink());
            for piece in frame.chunks(64 << 10) {
                io::Write::write_all(&mut w, piece)?;
            }
            w.finish().map(|_| 0)
        });
        check(name, *codec, frame, "read1", || {
            // Tiny output reads: the limit is still exact.
            let mut r = d.reader(&frame[..])?;
            let mut buf = [0u8; 4096];
            let mut total = 0u64;
            loop {
                match r.read(&mut buf[..1 + (total % 4093) as usize]) {
                    Ok(0) => return Ok(total),
                    Ok(n) => total += n as u64,
                    Err(e) => return Err(e.into()),
                }
            }
        });
    }
    // A zstd frame that declares its 2 GiB content size is refused before decoding.
    let mut declared = vec![0x28, 0xB5, 0x2F, 0xFD, 0b1000_0000, 7 << 3];
    declared[4] = 0b1000_0000; // FCS field 4 bytes, not single segment
    declared.extend_from_slice(&(u32::MAX).to_le_bytes());
    declared.extend_from_slice(&[0x03, 0x00, 0x10, b'a']);
    check("zstd-declared", Codec::Zstd, &declared, "vec", || {
        d.decompress(&declared).map(|v| v.len() as u64)
    });
}
