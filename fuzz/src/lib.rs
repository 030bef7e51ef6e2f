//! Shared checks for the fuzz targets.

use std::io::Read;

use chunker::compress::{CompressionError, Decompressor};

/// A chunking configuration from six input bytes: `min` in 64..64+spread, `avg` up to
/// 2·spread above it, `max` up to 4·spread above that; `None` when invalid.
pub fn config_from(head: &[u8; 6], spread: usize) -> Option<chunker_cdc::Config> {
    let field = |i: usize| usize::from(u16::from_le_bytes([head[i], head[i + 1]]));
    let min = 64 + field(0) % spread;
    let avg = min.max(256) + field(2) % (2 * spread);
    let max = avg.max(1024) + field(4) % (4 * spread);
    chunker_cdc::Config::new(min, avg, max).ok()
}

/// Output limit of the decompression targets.
pub const LIMIT: usize = 1 << 20;

/// Decoding arbitrary bytes never panics, never returns more than the limit, and every
/// form (one-shot, into a slice, streaming reader with odd read sizes, writer fed odd
/// pieces) agrees.
pub fn check_decompressor(d: &Decompressor, input: &[u8]) {
    let one = d.decompress(input);
    if let Ok(v) = &one {
        assert!(v.len() <= LIMIT);
    }
    let mut slice = vec![0u8; LIMIT];
    let two = d
        .decompress_to_slice(input, &mut slice)
        .map(|n| slice[..n].to_vec());
    let three = d.reader(input).and_then(|mut r| {
        let mut out = Vec::new();
        let mut buf = [0u8; 999];
        loop {
            match r.read(&mut buf) {
                Ok(0) => return Ok(out),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => return Err(CompressionError::from(e)),
            }
        }
    });
    let four = (|| {
        let mut w = d.writer(Vec::new());
        for piece in input.chunks(777) {
            std::io::Write::write_all(&mut w, piece)?;
        }
        w.finish()
    })();
    if one.is_ok() != four.is_ok() || (one.is_ok() && one.as_ref().ok() != four.as_ref().ok()) {
        panic!("writer form disagrees");
    }
    match (&one, &two, &three) {
        (Ok(a), Ok(b), Ok(c)) => {
            assert_eq!(a, b);
            assert_eq!(a, c);
        }
        (Err(_), Err(_), Err(_)) => {}
        _ => panic!(
            "forms disagree: {:?} {:?} {:?}",
            one.as_ref().map(Vec::len),
            two.as_ref().map(Vec::len),
            three.as_ref().map(Vec::len)
        ),
    }
}
