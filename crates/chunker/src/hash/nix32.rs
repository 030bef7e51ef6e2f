//! Nix base32 ("nix32"), the encoding Nix uses for store path hashes and
//! `sha256:` hashes in narinfo files.
//!
//! It is **not** RFC 4648 base32: the alphabet is
//! `0123456789abcdfghijklmnpqrsvwxyz` (no `e`, `o`, `u` or `t`), and the
//! input is read as one little-endian bit string. Character `k` counted from
//! the *end* of the output holds bits `5k..5k+4` of that string, so the first
//! character holds the highest (possibly partial) group of bits. There is no
//! padding character; `n` bytes always encode to [`encoded_len(n)`](encoded_len)
//! characters, and a SHA-256 digest (32 bytes) to 52.
//!
//! Decoding is strict: unknown characters (including uppercase letters),
//! lengths that no byte count encodes to, and set bits above the last input
//! byte (for SHA-256: a first character other than `0` or `1`) are errors.
//!
//! ```
//! use chunker::hash::nix32;
//!
//! assert_eq!(nix32::encode(&[0x1f]), "0z");
//! assert_eq!(nix32::decode("0z")?, [0x1f]);
//! assert_eq!(nix32::encoded_len(32), 52);
//! # Ok::<(), nix32::Nix32Error>(())
//! ```
//!
//! # Implementation
//!
//! Five input bytes are exactly eight output characters, so both directions
//! work on 5-byte groups held in a `u64`, starting from the end of the
//! encoded string (group `g` is bytes `5g..5g+5` and characters `8g..8g+8`
//! counted from the end). Only the last group of the input can be partial.
//!
//! Encoding loads each group with one 8-byte read where the input allows
//! (the last few bytes with one read ending at the input's end), and maps it
//! to characters two at a time through a 1024-entry table of character
//! pairs. A 32-byte input takes a copy of that code with constant lengths,
//! which the compiler unrolls. Decoding maps characters through a 256-entry
//! table and reports errors after the loop. The tests check both against a
//! bit-by-bit reference implementation.

/// The 32 characters of Nix base32, in digit order.
pub const ALPHABET: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";

/// Marks a byte that is not in [`ALPHABET`] in [`REVERSE`]. Its high bit is
/// set so that OR-ing looked-up values detects any invalid character.
const INVALID: u8 = 0xff;

/// Maps an ASCII byte to its digit value, or [`INVALID`].
const REVERSE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Characters needed for `n % 5` trailing bytes: `ceil(8 * r / 5)`.
const TAIL_CHARS: [usize; 5] = [0, 2, 4, 5, 7];

/// Number of characters that `nbytes` bytes encode to: `ceil(8 * nbytes / 5)`,
/// which is `(nbytes * 8 - 1) / 5 + 1` for non-empty input and 0 for empty.
///
/// Computed without overflow for every slice length.
///
/// ```
/// use chunker::hash::nix32::encoded_len;
///
/// assert_eq!(encoded_len(0), 0);
/// assert_eq!(encoded_len(1), 2);
/// assert_eq!(encoded_len(16), 26); // MD5
/// assert_eq!(encoded_len(20), 32); // SHA-1
/// assert_eq!(encoded_len(32), 52); // SHA-256
/// ```
pub const fn encoded_len(nbytes: usize) -> usize {
    (nbytes / 5) * 8 + TAIL_CHARS[nbytes % 5]
}

/// Number of bytes that a string of `nchars` characters decodes to, or `None`
/// if no byte count encodes to that many characters (lengths `≡ 1, 3, 6 mod 8`).
///
/// This is the inverse of [`encoded_len`].
///
/// ```
/// use chunker::hash::nix32::decoded_len;
///
/// assert_eq!(decoded_len(52), Some(32));
/// assert_eq!(decoded_len(0), Some(0));
/// assert_eq!(decoded_len(3), None);
/// ```
pub const fn decoded_len(nchars: usize) -> Option<usize> {
    let tail = match nchars % 8 {
        0 => 0,
        2 => 1,
        4 => 2,
        5 => 3,
        7 => 4,
        _ => return None,
    };
    Some((nchars / 8) * 5 + tail)
}

/// Errors from decoding (and from [`encode_into`] given a wrong-sized buffer).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Nix32Error {
    /// A byte of the input is not in [`ALPHABET`]. Reported for the first
    /// such byte.
    #[error("invalid nix32 character '{}' at position {position}", byte.escape_ascii())]
    InvalidChar {
        /// Index of the byte in the encoded input.
        position: usize,
        /// The offending byte.
        byte: u8,
    },
    /// The encoded string (or the output buffer of [`encode_into`]) has the
    /// wrong length.
    ///
    /// For [`decode_into`] and [`encode_into`], `length` is the length of the
    /// string respectively buffer and `expected` the length required by the
    /// other argument. For [`decode`], `length` is a string length that no
    /// byte count encodes to and `expected` is the next valid length above it.
    #[error("invalid nix32 length {length}, expected {expected}")]
    InvalidLength {
        /// The length found.
        length: usize,
        /// The length required (see the variant's documentation).
        expected: usize,
    },
    /// The character at `position` sets bits above the last decoded byte.
    /// Only the first character can hold such bits, so `position` is 0.
    #[error("nix32 character at position {position} has non-zero unused high bits")]
    NonZeroPadding {
        /// Index of the character holding the unused bits.
        position: usize,
    },
}

/// The two characters of every 10-bit value (two digits, higher first),
/// packed little-endian in a `u16` so that storing it writes them in order.
const PAIRS: [u16; 1024] = {
    let mut table = [0u16; 1024];
    let mut i = 0;
    while i < 1024 {
        table[i] = u16::from_le_bytes([ALPHABET[i >> 5], ALPHABET[i & 31]]);
        i += 1;
    }
    table
};

/// Encodes one 5-byte group (`v` holds it little-endian in its low 40 bits)
/// as 8 characters, first character = highest bits: four lookups of two
/// characters each in [`PAIRS`].
#[inline(always)]
fn encode_group(v: u64) -> [u8; 8] {
    let pair = |shift: u32| u64::from(PAIRS[((v >> shift) & 0x3ff) as usize]);
    (pair(30) | pair(20) << 16 | pair(10) << 32 | pair(0) << 48).to_le_bytes()
}

/// Reads 8 bytes as a little-endian `u64`.
#[inline(always)]
fn load_u64(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes.try_into().expect("8 bytes"))
}

/// The body of [`encode_into`], once the lengths are checked:
/// `out.len() == encoded_len(bytes.len())`.
#[inline(always)]
fn write_groups(bytes: &[u8], out: &mut [u8]) {
    let len = out.len();
    let n = bytes.len();
    // Full groups with 8 readable bytes are loaded directly (`encode_group`
    // ignores the bits above 40): the groups at offsets up to `n - 8`.
    let direct = n.saturating_sub(3) / 5;
    // The `r` bytes after them (3..=7 when n >= 8): at most one more full
    // group, then a partial one. Loaded without a variable-length copy.
    let r = n - 5 * direct;
    let rest = if n >= 8 {
        load_u64(&bytes[n - 8..]) >> (8 * (8 - r))
    } else {
        let mut word = [0u8; 8];
        word[..n].copy_from_slice(bytes);
        u64::from_le_bytes(word)
    };
    let extra = r >= 5;
    let partial = if extra { rest >> 40 } else { rest };

    // The partial group gives the first `len % 8` characters (its leading
    // characters beyond those encode only zero bits). When `out` is at least
    // 8 long, store all 8 bytes at the front: the bytes past the head belong
    // to the first full group, written over them below.
    let head = len % 8;
    if head > 0 {
        let chars = (u64::from_le_bytes(encode_group(partial)) >> (8 * (8 - head))).to_le_bytes();
        if len >= 8 {
            out[..8].copy_from_slice(&chars);
        } else {
            out.copy_from_slice(&chars[..head]);
        }
    }
    let mut dsts = out[head..].rchunks_exact_mut(8);
    for (g, dst) in (0..direct).zip(&mut dsts) {
        dst.copy_from_slice(&encode_group(load_u64(&bytes[5 * g..5 * g + 8])));
    }
    if let Some(dst) = dsts.next() {
        debug_assert!(extra);
        dst.copy_from_slice(&encode_group(rest));
    }
}

/// Encodes `bytes` into `out`, which must be exactly
/// [`encoded_len(bytes.len())`](encoded_len) bytes long. Writes ASCII only,
/// and allocates nothing.
///
/// # Errors
///
/// [`Nix32Error::InvalidLength`] (with `length = out.len()`) if `out` has the
/// wrong length; `out` is then left untouched.
///
/// ```
/// use chunker::hash::nix32;
///
/// let mut buf = [0u8; 4];
/// nix32::encode_into(&[0xff, 0x00], &mut buf)?;
/// assert_eq!(&buf, b"007z");
/// # Ok::<(), nix32::Nix32Error>(())
/// ```
pub fn encode_into(bytes: &[u8], out: &mut [u8]) -> Result<(), Nix32Error> {
    let len = encoded_len(bytes.len());
    if out.len() != len {
        return Err(Nix32Error::InvalidLength {
            length: out.len(),
            expected: len,
        });
    }
    if let Ok(digest) = <&[u8; 32]>::try_from(bytes) {
        // SHA-256 and BLAKE3 digests: the straight-line form.
        out.copy_from_slice(&encode_32(digest));
    } else {
        write_groups(bytes, out);
    }
    Ok(())
}

/// Encodes `bytes` as a Nix base32 string.
///
/// ```
/// use chunker::hash::nix32;
///
/// // SHA-1 of the empty string, as `nix-hash --type sha1 --base32` prints it.
/// let sha1_empty = [
///     0xda, 0x39, 0xa3, 0xee, 0x5e, 0x6b, 0x4b, 0x0d, 0x32, 0x55,
///     0xbf, 0xef, 0x95, 0x60, 0x18, 0x90, 0xaf, 0xd8, 0x07, 0x09,
/// ];
/// assert_eq!(nix32::encode(&sha1_empty), "143xibwh31h9bvxzalr0sjvbbvpa6ffs");
/// assert_eq!(nix32::encode(&[]), "");
/// ```
pub fn encode(bytes: &[u8]) -> String {
    if let Ok(digest) = <&[u8; 32]>::try_from(bytes) {
        // The common case (SHA-256, BLAKE3): a stack buffer, one allocation.
        return std::str::from_utf8(&encode_32(digest))
            .expect("nix32 output is ASCII")
            .to_owned();
    }
    let mut buf = vec![0u8; encoded_len(bytes.len())];
    encode_into(bytes, &mut buf).expect("buffer has encoded_len bytes");
    String::from_utf8(buf).expect("nix32 output is ASCII")
}

/// Encodes a 32-byte value (a SHA-256 or BLAKE3 digest) into a stack buffer.
///
/// 52 characters = 6 full groups of 8 plus 4: groups 0..=4 (bytes 5g..5g+5) are
/// loaded as 8 bytes each straight from the input; groups 5 and 6 (bytes 25..30
/// and 30..32) come from one load of bytes 24..32. Each group is written once,
/// at its final place.
#[inline]
pub(crate) fn encode_32(bytes: &[u8; 32]) -> [u8; 52] {
    let mut out = [0u8; 52];
    for g in 0..5 {
        out[44 - 8 * g..52 - 8 * g]
            .copy_from_slice(&encode_group(load_u64(&bytes[5 * g..5 * g + 8])));
    }
    let last = load_u64(&bytes[24..32]);
    out[4..12].copy_from_slice(&encode_group(last >> 8));
    // Group 6 holds 16 bits: its first 4 characters encode zero bits; keep the last 4.
    out[..4].copy_from_slice(&encode_group(last >> 48)[4..]);
    out
}

/// Writes the nix32 encoding of a 32-byte value to a formatter without
/// allocating.
pub(crate) fn write_32(bytes: &[u8; 32], f: &mut impl std::fmt::Write) -> std::fmt::Result {
    f.write_str(std::str::from_utf8(&encode_32(bytes)).expect("nix32 output is ASCII"))
}

/// Decodes 8 characters (first = highest bits) into a 40-bit group value.
/// Returns the value and the OR of all looked-up table entries (high bit set
/// if any character was invalid).
#[inline(always)]
fn decode_group(chars: &[u8]) -> (u64, u8) {
    let mut v = 0u64;
    let mut seen = 0u8;
    for &c in chars {
        let d = REVERSE[c as usize];
        seen |= d;
        v = (v << 5) | u64::from(d & 31);
    }
    (v, seen)
}

/// Decodes `s` into `out`, which decides the expected length: `s` must be
/// exactly [`encoded_len(out.len())`](encoded_len) bytes long.
///
/// # Errors
///
/// - [`Nix32Error::InvalidLength`] with `length = s.len()` and
///   `expected = encoded_len(out.len())`;
/// - [`Nix32Error::InvalidChar`] for the first byte not in [`ALPHABET`];
/// - [`Nix32Error::NonZeroPadding`] if the first character sets bits above
///   the last byte.
///
/// On error the contents of `out` are unspecified.
///
/// ```
/// use chunker::hash::nix32::{self, Nix32Error};
///
/// let mut out = [0u8; 2];
/// nix32::decode_into(b"007z", &mut out)?;
/// assert_eq!(out, [0xff, 0x00]);
/// assert_eq!(
///     nix32::decode_into(b"0z", &mut out),
///     Err(Nix32Error::InvalidLength { length: 2, expected: 4 })
/// );
/// # Ok::<(), Nix32Error>(())
/// ```
pub fn decode_into(s: &[u8], out: &mut [u8]) -> Result<(), Nix32Error> {
    let len = encoded_len(out.len());
    if s.len() != len {
        return Err(Nix32Error::InvalidLength {
            length: s.len(),
            expected: len,
        });
    }
    let mut seen = 0u8;
    let (head, body) = s.split_at(len % 8);
    let mut groups = out.chunks_exact_mut(5);
    for (dst, chars) in (&mut groups).zip(body.rchunks_exact(8)) {
        let (v, bits) = decode_group(chars);
        seen |= bits;
        dst.copy_from_slice(&v.to_le_bytes()[..5]);
    }
    let tail = groups.into_remainder();
    let mut overflow = 0u64;
    if !tail.is_empty() {
        let (v, bits) = decode_group(head);
        seen |= bits;
        tail.copy_from_slice(&v.to_le_bytes()[..tail.len()]);
        overflow = v >> (8 * tail.len());
    }
    if seen & 0x80 != 0 {
        let position = s
            .iter()
            .position(|&c| REVERSE[c as usize] == INVALID)
            .expect("an invalid byte was seen");
        return Err(Nix32Error::InvalidChar {
            position,
            byte: s[position],
        });
    }
    if overflow != 0 {
        return Err(Nix32Error::NonZeroPadding { position: 0 });
    }
    Ok(())
}

/// Decodes a Nix base32 string; the byte count follows from its length
/// (see [`decoded_len`]).
///
/// # Errors
///
/// - [`Nix32Error::InvalidLength`] if no byte count encodes to `s.len()`
///   characters (`expected` is then the next valid length);
/// - [`Nix32Error::InvalidChar`] and [`Nix32Error::NonZeroPadding`] as in
///   [`decode_into`].
///
/// ```
/// use chunker::hash::nix32::{self, Nix32Error};
///
/// let bytes = nix32::decode("0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73")?;
/// assert_eq!(bytes.len(), 32);
/// // The first character of a 32-byte value carries only 1 bit.
/// assert_eq!(
///     nix32::decode("2mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"),
///     Err(Nix32Error::NonZeroPadding { position: 0 })
/// );
/// assert!(matches!(nix32::decode("0E"), Err(Nix32Error::InvalidChar { position: 1, byte: b'E' })));
/// # Ok::<(), Nix32Error>(())
/// ```
pub fn decode(s: &str) -> Result<Vec<u8>, Nix32Error> {
    let s = s.as_bytes();
    let Some(n) = decoded_len(s.len()) else {
        // Invalid lengths are 1, 3 or 6 mod 8; the next valid one is one more.
        return Err(Nix32Error::InvalidLength {
            length: s.len(),
            expected: s.len() + 1,
        });
    };
    let mut out = vec![0u8; n];
    decode_into(s, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The reference algorithm, bit by bit as REFERENCE.md states it.
    fn reference_encode(bytes: &[u8]) -> String {
        let len = encoded_len(bytes.len());
        let mut s = String::with_capacity(len);
        for n in (0..len).rev() {
            let b = n * 5;
            let (i, j) = (b / 8, b % 8);
            let mut c = u32::from(bytes[i]) >> j;
            if i + 1 < bytes.len() {
                c |= u32::from(bytes[i + 1]) << (8 - j);
            }
            s.push(char::from(ALPHABET[(c & 31) as usize]));
        }
        s
    }

    /// Reference decoder: sets bit by bit, rejects bits past the end.
    fn reference_decode(s: &str, n: usize) -> Option<Vec<u8>> {
        let mut out = vec![0u8; n];
        for (k, c) in s.bytes().rev().enumerate() {
            let d = ALPHABET.iter().position(|&a| a == c)?;
            for bit in 0..5 {
                if d >> bit & 1 == 1 {
                    let b = 5 * k + bit;
                    *out.get_mut(b / 8)? |= 1 << (b % 8);
                }
            }
        }
        Some(out)
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn reference_vectors() {
        for &(h, n32) in chunker_testdata::support::NIX32_REFERENCE_VECTORS {
            let bytes = hex(h);
            assert_eq!(encode(&bytes), n32, "encode {h}");
            assert_eq!(reference_encode(&bytes), n32, "reference encode {h}");
            assert_eq!(decode(n32).unwrap(), bytes, "decode {n32}");
        }
    }

    #[test]
    fn lengths() {
        for n in 0..200usize {
            let expected = if n == 0 { 0 } else { (n * 8 - 1) / 5 + 1 };
            assert_eq!(encoded_len(n), expected, "n = {n}");
            assert_eq!(decoded_len(expected), Some(n));
        }
        for len in 0..400usize {
            match decoded_len(len) {
                Some(n) => assert_eq!(encoded_len(n), len),
                None => assert!(matches!(len % 8, 1 | 3 | 6), "len = {len}"),
            }
        }
        // No overflow for the largest possible slice lengths.
        let max = isize::MAX as usize;
        assert!(encoded_len(max) > max);
        assert_eq!(decoded_len(encoded_len(max)), Some(max));
    }

    #[test]
    fn reverse_table() {
        for b in 0..=255u8 {
            match ALPHABET.iter().position(|&a| a == b) {
                Some(d) => assert_eq!(usize::from(REVERSE[usize::from(b)]), d),
                None => assert_eq!(REVERSE[usize::from(b)], INVALID),
            }
        }
    }

    #[test]
    fn encode_into_wrong_length() {
        let mut buf = [b'#'; 51];
        assert_eq!(
            encode_into(&[0; 32], &mut buf),
            Err(Nix32Error::InvalidLength {
                length: 51,
                expected: 52
            })
        );
        assert_eq!(buf, [b'#'; 51], "untouched on error");
        assert_eq!(
            encode_into(&[], &mut [0u8; 1]),
            Err(Nix32Error::InvalidLength {
                length: 1,
                expected: 0
            })
        );
        encode_into(&[], &mut []).unwrap();
    }

    #[test]
    fn decode_invalid_length() {
        for (len, expected) in [(1, 2), (3, 4), (6, 7), (9, 10), (51, 52), (54, 55)] {
            let s = "0".repeat(len);
            assert_eq!(
                decode(&s),
                Err(Nix32Error::InvalidLength {
                    length: len,
                    expected
                }),
                "len {len}"
            );
            assert!(decoded_len(expected).is_some());
        }
        let mut out = [0u8; 32];
        assert_eq!(
            decode_into(&[b'0'; 51], &mut out),
            Err(Nix32Error::InvalidLength {
                length: 51,
                expected: 52
            })
        );
        // A valid length for another size is still wrong for decode_into.
        assert_eq!(
            decode_into(&[b'0'; 32], &mut out),
            Err(Nix32Error::InvalidLength {
                length: 32,
                expected: 52
            })
        );
    }

    #[test]
    fn decode_invalid_chars() {
        let good = "1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s";
        for bad in [
            b'e',
            b'o',
            b'u',
            b't',
            b'B',
            b'Z',
            b'0' - 1,
            b' ',
            0,
            0x80,
            0xff,
        ] {
            for position in [0, 1, 7, 8, 20, 43, 44, 51] {
                let mut s = good.as_bytes().to_vec();
                s[position] = bad;
                let mut out = [0u8; 32];
                assert_eq!(
                    decode_into(&s, &mut out),
                    Err(Nix32Error::InvalidChar {
                        position,
                        byte: bad
                    }),
                    "{bad:#x} at {position}"
                );
                if let Ok(s) = std::str::from_utf8(&s) {
                    assert_eq!(
                        decode(s),
                        Err(Nix32Error::InvalidChar {
                            position,
                            byte: bad
                        })
                    );
                }
            }
        }
        // Uppercase versions of valid characters are rejected too.
        assert_eq!(
            decode(&good.to_uppercase()),
            Err(Nix32Error::InvalidChar {
                position: 1,
                byte: b'B'
            })
        );
        // The first of several invalid characters is reported, and invalid
        // characters win over non-zero padding.
        assert_eq!(
            decode("zzzzeeee"),
            Err(Nix32Error::InvalidChar {
                position: 4,
                byte: b'e'
            })
        );
        assert_eq!(
            decode("ze"),
            Err(Nix32Error::InvalidChar {
                position: 1,
                byte: b'e'
            })
        );
        // Non-ASCII UTF-8 is rejected at its first byte.
        assert_eq!(
            decode("00é"),
            Err(Nix32Error::InvalidChar {
                position: 2,
                byte: 0xc3
            })
        );
    }

    #[test]
    fn decode_nonzero_padding() {
        // For each tail size, the largest valid first character and the next.
        // Unused bits in the first character: 8n bits in ceil(8n/5) chars.
        for n in 1..=40usize {
            let len = encoded_len(n);
            let unused = len * 5 - n * 8;
            let max_first = 31 >> unused;
            let mut s = vec![b'z'; len];
            s[0] = ALPHABET[max_first];
            let mut out = vec![0u8; n];
            decode_into(&s, &mut out).unwrap();
            assert!(out.iter().all(|&b| b == 0xff), "n = {n}");
            if unused > 0 {
                s[0] = ALPHABET[max_first + 1];
                assert_eq!(
                    decode_into(&s, &mut out),
                    Err(Nix32Error::NonZeroPadding { position: 0 }),
                    "n = {n}"
                );
            }
        }
        for first in "23456789abcdfghijklmnpqrsvwxyz".chars() {
            let s = format!("{first}mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73");
            assert_eq!(decode(&s), Err(Nix32Error::NonZeroPadding { position: 0 }));
        }
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            Nix32Error::InvalidChar {
                position: 3,
                byte: b'e'
            }
            .to_string(),
            "invalid nix32 character 'e' at position 3"
        );
        assert_eq!(
            Nix32Error::InvalidChar {
                position: 0,
                byte: 0xc3
            }
            .to_string(),
            "invalid nix32 character '\\xc3' at position 0"
        );
        assert_eq!(
            Nix32Error::InvalidLength {
                length: 3,
                expected: 4
            }
            .to_string(),
            "invalid nix32 length 3, expected 4"
        );
        assert_eq!(
            Nix32Error::NonZeroPadding { position: 0 }.to_string(),
            "nix32 character at position 0 has non-zero unused high bits"
        );
    }

    #[test]
    fn every_length_matches_reference() {
        for n in 0..=100usize {
            assert_eq!(encode(&vec![0; n]), "0".repeat(encoded_len(n)));
            let ones = vec![0xff; n];
            assert_eq!(encode(&ones), reference_encode(&ones), "n = {n}");
            assert_eq!(decode(&encode(&ones)).unwrap(), ones);
            let mixed: Vec<u8> = (0..n).map(|i| (i * 151 + 7) as u8 ^ (n as u8)).collect();
            assert_eq!(encode(&mixed), reference_encode(&mixed), "n = {n}");
            assert_eq!(decode(&encode(&mixed)).unwrap(), mixed);
            // Unaligned input: a subslice starting at an odd address.
            let mut shifted = vec![0u8];
            shifted.extend_from_slice(&mixed);
            assert_eq!(encode(&shifted[1..]), reference_encode(&mixed));
        }
    }

    proptest! {
        #[test]
        fn fast_encode_matches_reference(bytes in proptest::collection::vec(any::<u8>(), 0..=100)) {
            prop_assert_eq!(encode(&bytes), reference_encode(&bytes));
        }

        #[test]
        fn decode_inverts_encode(bytes in proptest::collection::vec(any::<u8>(), 0..=300)) {
            let s = encode(&bytes);
            prop_assert_eq!(s.len(), encoded_len(bytes.len()));
            prop_assert_eq!(decode(&s).unwrap(), bytes);
        }

        #[test]
        fn decode_matches_reference(s in "[0-9a-z]{0,70}") {
            let ours = decode(&s);
            match decoded_len(s.len()) {
                None => prop_assert!(
                    matches!(ours, Err(Nix32Error::InvalidLength { .. })),
                    "expected InvalidLength error"
                ),
                Some(n) => match reference_decode(&s, n) {
                    Some(bytes) => prop_assert_eq!(ours.unwrap(), bytes),
                    None => prop_assert!(ours.is_err()),
                },
            }
        }
    }

    /// Throwaway timing of the 32-byte encode; prints, never asserts.
    /// Run with `cargo test --release -p chunker --lib nix32_encode_timing -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing only; run explicitly with --ignored --nocapture"]
    fn nix32_encode_timing() {
        use std::hint::black_box;
        use std::time::Instant;
        const ITERS: u32 = 10_000_000;
        let digest: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x5a);
        let time = |f: &mut dyn FnMut()| {
            let start = Instant::now();
            for _ in 0..ITERS {
                f();
            }
            start.elapsed().as_secs_f64() * 1e9 / f64::from(ITERS)
        };
        let s = encode(&digest);
        for round in 1..=3 {
            let mut buf = [0u8; 52];
            let into_ns = time(&mut || {
                encode_into(black_box(&digest), black_box(&mut buf)).unwrap();
            });
            let string_ns = time(&mut || {
                black_box(encode(black_box(&digest)));
            });
            let alloc_ns = time(&mut || {
                black_box(String::with_capacity(black_box(52)));
            });
            let reference_ns = time(&mut || {
                black_box(reference_encode(black_box(&digest)));
            });
            let decode_ns = time(&mut || {
                let mut out = [0u8; 32];
                decode_into(black_box(s.as_bytes()), &mut out).unwrap();
                black_box(out);
            });
            eprintln!(
                "nix32 timing round {round}, 32 bytes, {ITERS} iterations: \
                 encode_into {into_ns:.1} ns, encode (String) {string_ns:.1} ns \
                 (of which an empty 52-byte String alloc+free alone {alloc_ns:.1} ns), \
                 reference per-char encode {reference_ns:.1} ns, decode_into {decode_ns:.1} ns"
            );
        }
    }
}
