//! Arbitrary bytes as a chunk-store manifest (both the stored zstd form and the
//! decompressed form): parsing never panics and allocates within the format's caps;
//! whatever parses encodes back to a manifest that parses to the same value.
#![no_main]

use chunker_store::Manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let _ = Manifest::decode(input);
    if let Ok(m) = Manifest::decode_raw(input) {
        let again = Manifest::decode(&m.encode()).expect("an encoded manifest parses");
        assert_eq!(again, m);
        let offsets = m.offsets();
        assert_eq!(offsets.last().copied(), Some(m.nar_size));
    }
});
