//! Arbitrary bytes as bzip2 input (limit 1 MiB): see `chunker_fuzz::check_decompressor`.
#![no_main]

#[allow(unused_imports)]
use chunker::compress::{Codec, Decompressor};
use chunker_fuzz::{check_decompressor, LIMIT};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let d = Decompressor::new().codec(Codec::Bzip2).max_output(LIMIT);
    check_decompressor(&d, input);
});
