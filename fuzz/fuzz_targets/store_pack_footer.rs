//! Arbitrary bytes as the tail of a chunk-store pack: parsing never panics; parsed
//! entries tile the frame area; the first bytes of the input choose the pack length
//! claimed (at least the tail's), so footers that point before the tail are tried too.
#![no_main]

use chunker_store::pack::{parse_footer, tail_len, TRAILER_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if input.len() < 2 {
        return;
    }
    let extra = u64::from(u16::from_le_bytes([input[0], input[1]]));
    let tail = &input[2..];
    for pack_len in [tail.len() as u64, tail.len() as u64 + extra] {
        if tail.len() >= TRAILER_LEN {
            let _ = tail_len(&tail[tail.len() - TRAILER_LEN..], pack_len);
        }
        if let Ok(entries) = parse_footer(tail, pack_len) {
            let mut next = 0u64;
            for e in &entries {
                assert_eq!(e.offset, next);
                assert!(e.clen > 0 && e.len > 0);
                next += u64::from(e.clen);
            }
            assert!(next <= pack_len);
        }
    }
});
