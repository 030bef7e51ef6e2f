//! Arbitrary bytes as a chunk-store index segment: parsing never panics; whatever
//! parses encodes back to the same segment.
#![no_main]

use chunker_store::IndexSegment;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if let Ok(seg) = IndexSegment::decode(input) {
        let (_, bytes) = seg.encode();
        let again = IndexSegment::decode(&bytes).expect("an encoded segment parses");
        assert_eq!(again.entries, seg.entries);
        assert_eq!(again.supersedes, seg.supersedes);
    }
});
