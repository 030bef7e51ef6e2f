//! Arbitrary text as a narinfo: parsing never panics, and whatever parses renders to
//! text that parses back to the same value.
#![no_main]

use chunker::nix::NarInfo;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    if let Ok(info) = NarInfo::parse(text) {
        let rendered = info.to_string();
        let again = NarInfo::parse(&rendered).expect("rendered narinfo parses");
        assert_eq!(again, info);
        let _ = info.fingerprint();
    }
});
