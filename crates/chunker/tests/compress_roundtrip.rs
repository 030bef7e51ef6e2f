//! Every codec in every form: round trips, exact output limits, truncation at every
//! cut, detection under short reads, dictionaries, corrupt input, adaptive selection.

use std::io::{self, Read, Write};
use std::sync::Arc;

use chunker::compress::{
    classify, detect, Adaptive, Class, Codec, CompressionError, Compressor, Decompressor,
    Dictionary, DictionaryRegistry,
};
use chunker_testdata::{generate, Kind, Rng, ScheduledReader};

const CODECS: [Codec; 4] = [Codec::Zstd, Codec::Lz4, Codec::Xz, Codec::Bzip2];

fn read_all<R: Read>(mut r: R) -> Result<Vec<u8>, CompressionError> {
    let mut out = Vec::new();
    let mut buf = [0u8; 777];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

fn text(len: usize) -> Vec<u8> {
    generate(Kind::Text, len, 7)
}

/// Every form of decoding; all must agree.
fn decode_all_forms(d: &Decompressor, frame: &[u8]) -> Result<Vec<u8>, CompressionError> {
    let one = d.decompress(frame);
    let mut into = b"prefix".to_vec();
    let into_r = d.decompress_into(frame, &mut into).map(|n| {
        assert_eq!(&into[..6], b"prefix");
        assert_eq!(into.len(), 6 + n);
        into[6..].to_vec()
    });
    let mut slice = vec![0u8; d.limit().min(1 << 20) + 16];
    let slice_r = d
        .decompress_to_slice(frame, &mut slice)
        .map(|n| slice[..n].to_vec());
    let read_r = d.reader(frame).and_then(read_all);
    let bytes_r = d
        .reader(ScheduledReader::new(frame, vec![1, 0, 3, 1, 7, 0, 2]))
        .and_then(read_all);
    let write_r = (|| {
        let mut w = d.writer(Vec::new());
        for piece in frame.chunks(1000) {
            w.write_all(piece)?;
        }
        w.finish()
    })();
    let write1_r = (|| {
        let mut w = d.writer(Vec::new());
        for piece in frame.chunks(1) {
            w.write_all(piece)?;
        }
        w.finish()
    })();
    let results = [one, into_r, slice_r, read_r, bytes_r, write_r, write1_r];
    let first = format!("{:?}", results[0].as_ref().map(|v| v.len()).map_err(kind));
    for r in &results[1..] {
        assert_eq!(
            format!("{:?}", r.as_ref().map(|v| v.len()).map_err(kind)),
            first,
            "forms disagree"
        );
    }
    let [first, rest @ ..] = results;
    if let Ok(v) = &first {
        for r in rest {
            assert_eq!(&r.unwrap(), v);
        }
    }
    first
}

fn kind(e: &CompressionError) -> String {
    match e {
        CompressionError::SizeExceeded { limit } => format!("SizeExceeded({limit})"),
        CompressionError::Truncated { codec } => format!("Truncated({codec})"),
        CompressionError::Corrupt { codec, .. } => format!("Corrupt({codec})"),
        other => format!("{other}"),
    }
}

fn encode_all_forms(c: &Compressor, data: &[u8]) -> Vec<Vec<u8>> {
    let one = c.compress(data).unwrap();
    let mut into = b"xy".to_vec();
    let n = c.compress_into(data, &mut into).unwrap();
    assert_eq!(into.len(), 2 + n);
    let mut w = c.writer(Vec::new()).unwrap();
    for piece in data.chunks(1000) {
        w.write_all(piece).unwrap();
    }
    let streamed = w.finish().unwrap();
    vec![one, into[2..].to_vec(), streamed]
}

#[test]
fn round_trip_every_codec_every_form() {
    for codec in CODECS {
        for len in [0usize, 1, 100, 70_000] {
            let data = text(len);
            for frame in encode_all_forms(&Compressor::new(codec), &data) {
                assert_eq!(detect(&frame).unwrap(), codec);
                let auto = decode_all_forms(&Decompressor::new(), &frame).unwrap();
                assert_eq!(auto, data, "{codec} len {len}");
                let explicit = decode_all_forms(&Decompressor::new().codec(codec), &frame).unwrap();
                assert_eq!(explicit, data);
            }
        }
    }
}

#[test]
fn limit_exact_succeeds_one_more_fails() {
    for codec in CODECS {
        for len in [1usize, 1000, 70_000] {
            let data = text(len);
            for frame in encode_all_forms(&Compressor::new(codec), &data) {
                let ok = decode_all_forms(&Decompressor::new().max_output(len), &frame).unwrap();
                assert_eq!(ok, data);
                let err =
                    decode_all_forms(&Decompressor::new().max_output(len - 1), &frame).unwrap_err();
                assert!(
                    matches!(err, CompressionError::SizeExceeded { limit } if limit == len - 1),
                    "{codec} {len}: {err:?}"
                );
            }
        }
    }
    // The slice form: the slice's length is a limit too.
    let data = text(5000);
    let frame = Compressor::new(Codec::Zstd).compress(&data).unwrap();
    let mut exact = vec![0u8; 5000];
    assert_eq!(
        Decompressor::new()
            .decompress_to_slice(&frame, &mut exact)
            .unwrap(),
        5000
    );
    let mut short = vec![0u8; 4999];
    assert!(matches!(
        Decompressor::new().decompress_to_slice(&frame, &mut short),
        Err(CompressionError::SizeExceeded { limit: 4999 })
    ));
    // Codec::None is bounded too.
    let none = Decompressor::new().codec(Codec::None).max_output(10);
    assert_eq!(none.decompress(b"0123456789").unwrap(), b"0123456789");
    assert!(matches!(
        none.decompress(b"0123456789a"),
        Err(CompressionError::SizeExceeded { limit: 10 })
    ));
}

#[test]
fn truncated_is_an_error_at_every_cut() {
    for codec in CODECS {
        let data = text(3000);
        // Several blocks for lz4 would need > 64 KiB; the streamed frame has a
        // block boundary right before the end mark, the most dangerous cut.
        for frame in encode_all_forms(&Compressor::new(codec), &data) {
            let d = Decompressor::new().codec(codec);
            for cut in 0..frame.len() {
                let r = d.decompress(&frame[..cut]);
                assert!(
                    matches!(
                        r,
                        Err(CompressionError::Truncated { .. })
                            | Err(CompressionError::Corrupt { .. })
                    ),
                    "{codec} cut {cut}/{}: {:?}",
                    frame.len(),
                    r.map(|v| v.len())
                );
                if cut % 7 == 0 || cut + 8 > frame.len() {
                    let r = d.reader(&frame[..cut]).and_then(read_all);
                    assert!(r.is_err(), "{codec} reader cut {cut}");
                    let r = decode_all_forms(&d, &frame[..cut]);
                    assert!(r.is_err());
                }
            }
        }
    }
}

#[test]
fn lz4_cut_at_block_boundaries_of_a_multi_block_frame() {
    let data = text(300_000); // 5 blocks of 64 KiB
    let frame = Compressor::new(Codec::Lz4).compress(&data).unwrap();
    // Walk the blocks: header is 4 magic + FLG + BD + 8 content size + HC = 15.
    let mut pos = 15;
    let mut cuts = vec![pos];
    loop {
        let v = u32::from_le_bytes(frame[pos..pos + 4].try_into().unwrap());
        if v == 0 {
            cuts.push(pos + 4);
            break;
        }
        pos += 4 + (v & 0x7FFF_FFFF) as usize;
        cuts.push(pos);
    }
    assert!(cuts.len() >= 6);
    for cut in cuts {
        let r = Decompressor::new().decompress(&frame[..cut]);
        assert!(
            matches!(r, Err(CompressionError::Truncated { codec: Codec::Lz4 })),
            "cut {cut}: {r:?}"
        );
    }
}

#[test]
fn concatenated_streams_decode() {
    for codec in CODECS {
        let (a, b) = (text(5000), generate(Kind::Binary, 3000, 1));
        let c = Compressor::new(codec);
        let mut frame = c.compress(&a).unwrap();
        c.compress_into(&b, &mut frame).unwrap();
        let mut want = a.clone();
        want.extend_from_slice(&b);
        assert_eq!(
            decode_all_forms(&Decompressor::new(), &frame).unwrap(),
            want,
            "{codec}"
        );
        // Trailing garbage is not silently ignored.
        frame.extend_from_slice(b"garbage!");
        assert!(
            decode_all_forms(&Decompressor::new(), &frame).is_err(),
            "{codec}"
        );
    }
}

#[test]
fn detection_works_with_one_byte_reads() {
    let data = text(10_000);
    for codec in CODECS {
        let frame = Compressor::new(codec).compress(&data).unwrap();
        for pattern in [vec![1], vec![0, 1, 0, 2], vec![5, 1, 1]] {
            let dec = Decompressor::new()
                .reader(ScheduledReader::new(&frame[..], pattern))
                .unwrap();
            assert_eq!(dec.codec(), codec);
            assert_eq!(read_all(dec).unwrap(), data);
        }
    }
    let gzip = [
        0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let r = Decompressor::new().reader(ScheduledReader::new(&gzip[..], vec![1]));
    assert!(matches!(
        r.err(),
        Some(CompressionError::Unsupported { format: "gzip" })
    ));
    assert!(matches!(
        Decompressor::new().decompress(&gzip),
        Err(CompressionError::Unsupported { format: "gzip" })
    ));
    for junk in [&b""[..], b"x", b"hello world, not compressed"] {
        assert!(matches!(
            Decompressor::new().decompress(junk),
            Err(CompressionError::UnknownFormat)
        ));
        assert!(matches!(
            Decompressor::new().reader(junk).err(),
            Some(CompressionError::UnknownFormat)
        ));
    }
}

/// A zstd frame whose blocks decode to less than the content size its header declares.
/// libzstd's one-shot path rejects it, but its streaming path (taken when the output
/// space is smaller than the frame) accepted it: found by `fuzz/decompress_auto`.
#[test]
fn zstd_content_size_mismatch_is_corrupt_in_every_form() {
    let fuzzed: &[u8] = &[
        0x28, 0xb5, 0x2f, 0xfd, 0x50, 0x18, 0x40, 0x1f, 0x32, 0x73, 0x00, 0xec, 0x05, 0x00, 0x00,
    ];
    // Declares 200,000 bytes (4-byte field, 8 KiB window), holds one RLE block of 100.
    let mut big = vec![0x28, 0xb5, 0x2f, 0xfd, 0x80, 0x18];
    big.extend_from_slice(&200_000u32.to_le_bytes());
    big.extend_from_slice(&[0x23, 0x03, 0x00, b'x']);
    for frame in [fuzzed, &big[..]] {
        let d = Decompressor::new().max_output(1 << 20);
        let err = decode_all_forms(&d, frame).unwrap_err();
        assert!(matches!(err, CompressionError::Corrupt { .. }), "{err:?}");
        for size in [1usize, 999, 3686, 4096, 1 << 20] {
            let mut r = d.reader(frame).unwrap();
            let mut buf = vec![0u8; size];
            let end = loop {
                match r.read(&mut buf) {
                    Ok(0) => break Ok(()),
                    Ok(_) => {}
                    Err(e) => break Err(e),
                }
            };
            assert!(end.is_err(), "read size {size}: accepted");
        }
    }
}

#[test]
fn corrupt_input_is_an_error_not_a_panic() {
    let data = text(20_000);
    let mut rng = Rng::new(3);
    for codec in CODECS {
        let frame = Compressor::new(codec).compress(&data).unwrap();
        for _ in 0..200 {
            let mut bad = frame.clone();
            let i = rng.below(bad.len() as u64) as usize;
            bad[i] ^= 1 << rng.below(8);
            // Never a panic; never more than the limit; usually an error.
            if let Ok(v) = Decompressor::new().max_output(30_000).decompress(&bad) {
                assert!(v.len() <= 30_000);
            }
        }
    }
}

#[test]
fn levels_are_validated_and_xz_really_compresses() {
    assert!(matches!(
        Compressor::with_level(Codec::Zstd, 23),
        Err(CompressionError::InvalidLevel {
            codec: Codec::Zstd,
            level: 23,
            min: 1,
            max: 22
        })
    ));
    assert!(Compressor::with_level(Codec::Xz, 10).is_err());
    assert!(Compressor::with_level(Codec::Bzip2, 0).is_err());
    let data = text(200_000);
    let x0 = Compressor::with_level(Codec::Xz, 0)
        .unwrap()
        .compress(&data)
        .unwrap();
    let x9 = Compressor::with_level(Codec::Xz, 9)
        .unwrap()
        .compress(&data)
        .unwrap();
    assert!(
        x0.len() < data.len() / 3,
        "xz -0 {} of {}",
        x0.len(),
        data.len()
    );
    assert!(
        x9.len() < x0.len(),
        "level honoured: -9 {} < -0 {}",
        x9.len(),
        x0.len()
    );
    let b1 = Compressor::with_level(Codec::Bzip2, 1)
        .unwrap()
        .compress(&data)
        .unwrap();
    assert!(b1.len() < data.len() / 3);
    assert!(matches!(
        Compressor::new(Codec::Xz).dictionary(Dictionary::nar_v1()),
        Err(CompressionError::DictionaryUnsupported { codec: Codec::Xz })
    ));
}

#[test]
fn dictionaries_by_id() {
    let samples: Vec<Vec<u8>> = (0..400).map(|i| generate(Kind::Text, 2000, i)).collect();
    let dict = Arc::new(Dictionary::train(&samples, 8 << 10).unwrap());
    assert!(dict.as_bytes().len() <= 8 << 10);
    let data = generate(Kind::Text, 3000, 999);
    let c = Compressor::new(Codec::Zstd)
        .dictionary(dict.clone())
        .unwrap();
    let frame = c.compress(&data).unwrap();
    let plain = Compressor::new(Codec::Zstd).compress(&data).unwrap();
    assert!(
        frame.len() < plain.len(),
        "dict {} vs plain {}",
        frame.len(),
        plain.len()
    );
    // The builtin registry does not know it.
    let err = Decompressor::new().decompress(&frame).unwrap_err();
    assert!(
        matches!(err, CompressionError::UnknownDictionary { id } if id == dict.id()),
        "{err:?}"
    );
    let err = Decompressor::new().reader(&frame[..]).err().unwrap();
    assert!(matches!(err, CompressionError::UnknownDictionary { id } if id == dict.id()));
    let mut reg = DictionaryRegistry::builtin();
    reg.insert(dict.clone());
    let d = Decompressor::new().dictionaries(Arc::new(reg));
    assert_eq!(decode_all_forms(&d, &frame).unwrap(), data);
    // The shipped dictionary is in the default registry.
    let nar = Compressor::new(Codec::Zstd)
        .dictionary(Dictionary::nar_v1())
        .unwrap();
    let f = nar.compress(&data).unwrap();
    assert_eq!(decode_all_forms(&Decompressor::new(), &f).unwrap(), data);
    assert!(Dictionary::nar_v1().as_bytes().len() <= 112 << 10);
    assert!(matches!(
        Dictionary::new(vec![1u8; 100]),
        Err(CompressionError::InvalidDictionary)
    ));
}

#[test]
fn adaptive_picks_and_reports_the_codec() {
    let a = Adaptive::new();
    let random = generate(Kind::Random, 65536, 1);
    let txt = text(65536);
    assert!(matches!(classify(&random), Class::HighEntropy { .. }));
    assert_eq!(classify(&txt), Class::Compressible);
    let mut out = Vec::new();
    assert_eq!(a.compress_into(&random, &mut out).unwrap(), Codec::None);
    assert!(out.is_empty());
    assert_eq!(a.compress_into(&txt, &mut out).unwrap(), Codec::Zstd);
    assert_eq!(Decompressor::new().decompress(&out).unwrap(), txt);
    // Compressed formats by magic, whatever the entropy of the rest.
    let mut gz = vec![0x1F, 0x8B, 8, 0];
    gz.extend_from_slice(&txt[..1000]);
    assert_eq!(classify(&gz), Class::Compressed { format: "gzip" });
    // A fast codec for incompressible data; kept only when it saves enough.
    let fast = Adaptive::new().fast(Some(Compressor::new(Codec::Lz4)));
    out.clear();
    assert_eq!(fast.compress_into(&random, &mut out).unwrap(), Codec::None);
    assert!(out.is_empty());
    // The ratio rule on the main codec: text that barely compresses is stored.
    let strict = Adaptive::new().min_saving(0.99).unwrap();
    assert_eq!(strict.compress_into(&txt, &mut out).unwrap(), Codec::None);
    assert!(Adaptive::new().min_saving(1.0).is_err());
    let (codec, bytes) = Adaptive::new().compress(&txt).unwrap();
    assert_eq!(codec, Codec::Zstd);
    assert!(bytes.len() < txt.len());
}

#[test]
fn errors_cross_io_and_back() {
    let frame = Compressor::new(Codec::Xz).compress(&text(100)).unwrap();
    let mut r = Decompressor::new()
        .reader(&frame[..frame.len() - 3])
        .unwrap();
    let mut v = Vec::new();
    let e = r.read_to_end(&mut v).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    assert!(matches!(
        CompressionError::from(e),
        CompressionError::Truncated { codec: Codec::Xz }
    ));
}

#[test]
fn dictionary_sizes_are_bounded() {
    // A header-valid "dictionary" one byte over the cap is refused by size.
    let mut big = vec![0u8; Dictionary::MAX_SIZE + 1];
    big[..8].copy_from_slice(&[0x37, 0xA4, 0x30, 0xEC, 1, 0, 0, 0]);
    assert!(matches!(
        Dictionary::new(big),
        Err(CompressionError::DictionaryTooLarge { size, max })
            if size == Dictionary::MAX_SIZE as u64 + 1 && max == Dictionary::MAX_SIZE
    ));
    // Training: max_size 256 B..=MAX_SIZE; sizes must cover the data exactly.
    let samples: Vec<Vec<u8>> = (0..400).map(|i| text(1000 + i)).collect();
    for bad in [0, 255, Dictionary::MAX_SIZE + 1] {
        assert!(matches!(
            Dictionary::train(&samples, bad),
            Err(CompressionError::InvalidSetting {
                name: "max_size",
                ..
            })
        ));
    }
    let data: Vec<u8> = samples.concat();
    let sizes: Vec<usize> = samples.iter().map(Vec::len).collect();
    let short = &sizes[..sizes.len() - 1];
    assert!(matches!(
        Dictionary::train_concatenated(&data, short, 4096),
        Err(CompressionError::InvalidSetting { name: "sizes", .. })
    ));
    let overflow = [usize::MAX, 2];
    assert!(matches!(
        Dictionary::train_concatenated(&data, &overflow, 4096),
        Err(CompressionError::InvalidSetting { name: "sizes", .. })
    ));
    // Both forms train the same dictionary from the same samples.
    let a = Dictionary::train(&samples, 4096).unwrap();
    let b = Dictionary::train_concatenated(&data, &sizes, 4096).unwrap();
    assert_eq!(a.as_bytes(), b.as_bytes());
}

#[test]
fn trailing_data_is_named_as_such_in_every_form() {
    let data = text(70_000);
    let junk: [&[u8]; 5] = [
        b"garbage!",
        b"x",
        b"\0\0\0\0\0\0\0\0garbage",
        &[0xFD, b'7', b'z', b'X', b'Z', 0x01],
        &[0x28, 0xB5, 0x2F, 0xFE, 0, 0, 0, 0],
    ];
    for codec in CODECS {
        let frame = Compressor::new(codec).compress(&data).unwrap();
        for tail in junk {
            let input = [frame.as_slice(), tail].concat();
            for d in [Decompressor::new(), Decompressor::new().codec(codec)] {
                let e = decode_all_forms(&d, &input).unwrap_err();
                assert!(
                    matches!(e, CompressionError::TrailingData { codec: c, offset }
                        if c == codec && offset == frame.len() as u64),
                    "{codec} + {tail:?}: {e:?}"
                );
                assert!(e.to_string().starts_with("trailing data after the end"));
            }
        }
        // A second stream cut short is truncated, not trailing data; whole, it decodes.
        let two = [frame.as_slice(), &frame].concat();
        assert_eq!(
            decode_all_forms(&Decompressor::new(), &two).unwrap(),
            [data.clone(), data.clone()].concat()
        );
        let cut = &two[..frame.len() + 3];
        let e = decode_all_forms(&Decompressor::new(), cut).unwrap_err();
        assert!(
            matches!(e, CompressionError::Truncated { .. }),
            "{codec}: {e:?}"
        );
    }
    // xz stream padding (zero bytes, a multiple of four) is part of the format.
    let xz = Compressor::new(Codec::Xz).compress(&data).unwrap();
    let padded = [xz.as_slice(), &[0u8; 8]].concat();
    assert_eq!(
        decode_all_forms(&Decompressor::new(), &padded).unwrap(),
        data
    );
}
