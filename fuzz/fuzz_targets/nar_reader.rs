//! Arbitrary bytes as a NAR: the reader never panics, never allocates beyond its
//! limits, and every error names an offset within the input.
#![no_main]

use std::io::Read;

use chunker::nix::{EntryKind, NarReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let mut reader = NarReader::new(input);
    let mut buf = [0u8; 64];
    loop {
        match reader.next_entry() {
            Ok(Some(e)) => {
                assert!(e.depth <= chunker::nix::nar::MAX_DEPTH);
                if let EntryKind::Regular { size, .. } = e.kind {
                    // Read a little of every other file; the rest is skipped.
                    if size % 2 == 0 {
                        let _ = reader.contents().read(&mut buf);
                    }
                }
            }
            Ok(None) => {
                assert!(reader.position() <= input.len() as u64);
                break;
            }
            Err(e) => {
                assert!(e.offset() <= input.len() as u64, "{e}");
                break;
            }
        }
    }
});
