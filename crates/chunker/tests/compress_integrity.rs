//! Damage is detected: every zstd frame this crate writes (one-shot, into a buffer,
//! streaming, with a dictionary, through `Adaptive`) carries a content checksum by
//! default, so a flipped bit anywhere in a frame is an error when decoded — never
//! different bytes with success. The other codecs carry their own checks.

use std::io::{Read, Write};

use chunker::compress::{Adaptive, Codec, CompressionError, Compressor, Decompressor, Dictionary};
use chunker_testdata::{generate, Kind};

/// Bit positions to flip in a frame of `len` bytes: every bit of the first 24 and the
/// last 12 bytes (headers, block headers, checksum), and about 300 more spread over the
/// rest, the bit within the byte varying.
fn flip_positions(len: usize) -> Vec<(usize, u8)> {
    let mut out = Vec::new();
    for byte in (0..len.min(24)).chain(len.saturating_sub(12)..len) {
        for bit in 0..8 {
            out.push((byte, bit));
        }
    }
    let step = (len / 300).max(1);
    for (i, byte) in (24..len.saturating_sub(12)).step_by(step).enumerate() {
        out.push((byte, (i % 8) as u8));
    }
    out
}

/// Decode `frame` in the one-shot and the streaming form; they must agree.
fn decode(d: &Decompressor, frame: &[u8]) -> Result<Vec<u8>, CompressionError> {
    let one = d.decompress(frame);
    let streamed = d.reader(frame).and_then(|mut r| {
        let mut v = Vec::new();
        r.read_to_end(&mut v)?;
        Ok(v)
    });
    match (&one, &streamed) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "forms disagree"),
        (Err(_), Err(_)) => {}
        _ => panic!(
            "forms disagree: {:?} vs {:?}",
            one.as_ref().map(Vec::len),
            streamed.map(|v| v.len())
        ),
    }
    one
}

/// Flip each position in turn: decoding must fail, or (a bit the format ignores, such
/// as the unused bit of a zstd frame header) give back exactly `data`. Returns how many
/// flips were errors.
fn assert_every_flip_detected(what: &str, d: &Decompressor, frame: &[u8], data: &[u8]) -> usize {
    assert_eq!(decode(d, frame).unwrap(), data, "{what}: intact frame");
    let mut errors = 0;
    for (byte, bit) in flip_positions(frame.len()) {
        let mut damaged = frame.to_vec();
        damaged[byte] ^= 1 << bit;
        match decode(d, &damaged) {
            Err(_) => errors += 1,
            Ok(out) => assert!(
                out == data,
                "{what}: flipping bit {bit} of byte {byte} of {} decoded to different bytes \
                 ({} B) without an error",
                frame.len(),
                out.len()
            ),
        }
    }
    assert!(errors > 0);
    errors
}

fn zstd_frames(c: &Compressor, data: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let one = c.compress(data).unwrap();
    let mut into = Vec::with_capacity(data.len());
    c.compress_into(data, &mut into).unwrap();
    let mut w = c.writer(Vec::new()).unwrap();
    for piece in data.chunks(10_000) {
        w.write_all(piece).unwrap();
    }
    let streamed = w.finish().unwrap();
    let mut w = c.writer_sized(Vec::new(), Some(data.len() as u64)).unwrap();
    w.write_all(data).unwrap();
    let sized = w.finish().unwrap();
    vec![
        ("one-shot", one),
        ("into", into),
        ("writer", streamed),
        ("writer_sized", sized),
    ]
}

#[test]
fn every_zstd_path_writes_a_checksum_and_every_flip_is_detected() {
    let d = Decompressor::new();
    // Text compresses (compressed blocks); random data does not (raw blocks, where
    // only the checksum can tell a flipped payload bit).
    for (kind, data) in [
        ("text", generate(Kind::Text, 200_000, 1)),
        ("random", generate(Kind::Random, 100_000, 2)),
    ] {
        for (c, with) in [
            (Compressor::new(Codec::Zstd), "plain"),
            (Compressor::with_level(Codec::Zstd, 19).unwrap(), "level 19"),
            (
                Compressor::new(Codec::Zstd)
                    .dictionary(Dictionary::nar_v1())
                    .unwrap(),
                "dictionary",
            ),
        ] {
            assert!(c.has_checksum(), "on by default");
            for (form, frame) in zstd_frames(&c, &data) {
                let what = format!("{kind}, {with}, {form}");
                // Frame header descriptor bit 2: Content_Checksum_flag.
                assert_eq!(frame[4] & 0b100, 0b100, "{what}: no checksum flag");
                assert_every_flip_detected(&what, &d, &frame, &data);
            }
        }
    }
}

#[test]
fn one_shot_frames_record_the_content_size() {
    let data = generate(Kind::Text, 50_000, 3);
    let c = Compressor::new(Codec::Zstd);
    for (form, frame) in zstd_frames(&c, &data) {
        let declared = zstd::zstd_safe::get_frame_content_size(&frame).unwrap();
        let expect = (form != "writer").then_some(data.len() as u64);
        assert_eq!(declared, expect, "{form}");
    }
    // A sized writer given other than the size promised fails instead of writing a
    // frame whose header is wrong.
    for codec in [Codec::Zstd, Codec::Lz4] {
        let mut w = Compressor::new(codec)
            .writer_sized(Vec::new(), Some(data.len() as u64 + 1))
            .unwrap();
        let wrote = w.write_all(&data).and_then(|_| w.finish().map(drop));
        assert!(wrote.is_err(), "{codec}: size mismatch accepted");
    }
}

#[test]
fn adaptive_output_is_checked_too() {
    let d = Decompressor::new();
    let text = generate(Kind::Text, 100_000, 4);
    let random = generate(Kind::Random, 100_000, 5);
    let adaptive = Adaptive::new().fast(Some(Compressor::new(Codec::Lz4)));
    for (data, expect) in [(&text, Codec::Zstd), (&random, Codec::Lz4)] {
        let mut out = Vec::new();
        // lz4 may not save enough on random data; force it to keep the frame.
        let a = adaptive.clone().min_saving(0.0).unwrap();
        let codec = a.compress_into(data, &mut out).unwrap();
        if codec == Codec::None {
            assert_eq!(expect, Codec::Lz4, "text is compressed");
            continue;
        }
        assert_eq!(codec, expect);
        assert_every_flip_detected(&format!("adaptive {codec}"), &d, &out, data);
    }
}

#[test]
fn the_other_codecs_detect_every_flip() {
    let d = Decompressor::new();
    let data = generate(Kind::Text, 100_000, 6);
    for codec in [Codec::Lz4, Codec::Xz, Codec::Bzip2] {
        let frame = Compressor::new(codec).compress(&data).unwrap();
        assert_every_flip_detected(&codec.to_string(), &d, &frame, &data);
    }
}

#[test]
fn a_checksum_mismatch_is_a_typed_corrupt_error() {
    let data = generate(Kind::Random, 10_000, 7);
    let frame = Compressor::new(Codec::Zstd).compress(&data).unwrap();
    // The last 4 bytes are the checksum; damage it alone, the content decodes fine.
    let mut damaged = frame.clone();
    *damaged.last_mut().unwrap() ^= 1;
    let d = Decompressor::new();
    for e in [
        d.decompress(&damaged).unwrap_err(),
        d.decompress_to_slice(&damaged, &mut vec![0u8; 20_000])
            .unwrap_err(),
        {
            let mut w = d.writer(Vec::new());
            w.write_all(&damaged)
                .map_err(CompressionError::from)
                .and_then(|_| w.finish().map(drop))
                .unwrap_err()
        },
    ] {
        assert!(
            matches!(
                e,
                CompressionError::Corrupt {
                    codec: Codec::Zstd,
                    ..
                }
            ),
            "{e:?}"
        );
    }
}

#[test]
fn checksum_off_is_four_bytes_shorter_and_unchecked() {
    // Random data: stored as raw blocks, so a payload flip is visible only to a
    // checksum. Without one it decodes to different bytes: the reason for the default.
    let data = generate(Kind::Random, 10_000, 8);
    let off = Compressor::new(Codec::Zstd).checksum(false);
    assert!(!off.has_checksum());
    let with = Compressor::new(Codec::Zstd).compress(&data).unwrap();
    let without = off.compress(&data).unwrap();
    assert_eq!(with.len(), without.len() + 4);
    assert_eq!(without[4] & 0b100, 0);
    let mut w = off.writer(Vec::new()).unwrap();
    w.write_all(&data).unwrap();
    assert_eq!(w.finish().unwrap()[4] & 0b100, 0, "streaming too");
    let mut damaged = without.clone();
    damaged[5000] ^= 0x10;
    let out = Decompressor::new().decompress(&damaged).unwrap();
    assert_ne!(out, data);
    // A pooled context does not keep the setting for the next caller.
    let again = Compressor::new(Codec::Zstd).compress(&data).unwrap();
    assert_eq!(again, with);
}
