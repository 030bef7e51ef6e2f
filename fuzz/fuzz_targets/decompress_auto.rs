//! Arbitrary bytes as any format, detected from the magic bytes input, with a 1 MiB output limit: decoding never panics,
//! never returns more than the limit, and every form (one-shot, into a slice, streaming
//! with odd read and write sizes) agrees.
#![no_main]

use std::io::Read;

#[allow(unused_imports)]
use chunker::compress::{Codec, CompressionError, Decompressor};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 1 << 20;

fuzz_target!(|input: &[u8]| {
    let d = Decompressor::new().max_output(LIMIT);
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
});
