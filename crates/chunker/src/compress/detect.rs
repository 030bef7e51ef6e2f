//! Format detection from magic bytes.

use super::{Codec, CompressionError};

/// Bytes of input [`detect`] looks at. Give it at least this many (or the whole input
/// when it is shorter); the streaming decoder reads until it has them, however short
/// the reads are.
pub const DETECT_LEN: usize = 6;

/// Identify the format of `prefix`, the first bytes of a stream (at least
/// [`DETECT_LEN`] bytes, or the whole input when it is shorter).
///
/// zstd (including skippable frames), xz, bzip2 and lz4 frames are recognised and
/// returned. gzip, lz4 legacy frames, `compress` (.Z), lzip, lzop, 7z and zip are
/// recognised and refused with [`CompressionError::Unsupported`]; anything else is
/// [`CompressionError::UnknownFormat`]. Uncompressed data is never assumed.
pub fn detect(prefix: &[u8]) -> Result<Codec, CompressionError> {
    let p = prefix;
    let starts = |m: &[u8]| p.len() >= m.len() && &p[..m.len()] == m;
    if starts(&[0x28, 0xB5, 0x2F, 0xFD]) {
        return Ok(Codec::Zstd);
    }
    if p.len() >= 4 && (0x50..=0x5F).contains(&p[0]) && p[1..4] == [0x2A, 0x4D, 0x18] {
        // Skippable frame (shared by zstd and lz4); the zstd decoder skips it.
        return Ok(Codec::Zstd);
    }
    if starts(&[0xFD, b'7', b'z', b'X', b'Z', 0x00]) {
        return Ok(Codec::Xz);
    }
    if starts(b"BZh") && p.len() >= 4 && (b'1'..=b'9').contains(&p[3]) {
        return Ok(Codec::Bzip2);
    }
    if starts(&[0x04, 0x22, 0x4D, 0x18]) {
        return Ok(Codec::Lz4);
    }
    let unsupported: &[(&[u8], &'static str)] = &[
        (&[0x1F, 0x8B], "gzip"),
        (&[0x1F, 0x9D], "compress (.Z)"),
        (&[0x02, 0x21, 0x4C, 0x18], "lz4 legacy frame"),
        (b"LZIP", "lzip"),
        (&[0x89, b'L', b'Z', b'O'], "lzop"),
        (&[b'7', b'z', 0xBC, 0xAF, 0x27, 0x1C], "7z"),
        (b"PK\x03\x04", "zip"),
    ];
    for (magic, format) in unsupported {
        if starts(magic) {
            return Err(CompressionError::Unsupported { format });
        }
    }
    Err(CompressionError::UnknownFormat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magics() {
        assert_eq!(
            detect(&[0x28, 0xB5, 0x2F, 0xFD, 0, 0]).unwrap(),
            Codec::Zstd
        );
        assert_eq!(detect(b"\xFD7zXZ\x00").unwrap(), Codec::Xz);
        assert_eq!(detect(b"BZh9").unwrap(), Codec::Bzip2);
        assert_eq!(detect(&[4, 0x22, 0x4D, 0x18, 0x64]).unwrap(), Codec::Lz4);
        assert!(matches!(
            detect(&[0x1F, 0x8B, 8, 0]),
            Err(CompressionError::Unsupported { format: "gzip" })
        ));
        assert!(matches!(
            detect(b"BZh0"),
            Err(CompressionError::UnknownFormat)
        ));
        assert!(matches!(
            detect(b"\xFD7z"),
            Err(CompressionError::UnknownFormat)
        ));
        assert!(matches!(detect(b""), Err(CompressionError::UnknownFormat)));
        assert!(matches!(
            detect(b"hello!"),
            Err(CompressionError::UnknownFormat)
        ));
    }
}
