//! Arbitrary strings: decoding never panics, and whatever decodes re-encodes to the
//! same string.
#![no_main]

use chunker::hash::nix32;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Ok(s) = std::str::from_utf8(input) else {
        return;
    };
    if let Ok(bytes) = nix32::decode(s) {
        assert_eq!(nix32::encode(&bytes), s);
    }
});
