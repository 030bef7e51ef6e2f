//! Arbitrary text as Nix secret keys, public keys and signatures: parsing never panics,
//! and whatever parses displays back to an equivalent value.
#![no_main]

use chunker::nix::{PublicKey, SecretKey, Signature};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    if let Ok(k) = text.parse::<SecretKey>() {
        let again: SecretKey = k.to_nix_string().parse().expect("round trip");
        assert_eq!(again.public_key(), k.public_key());
        let sig = k.sign(b"fingerprint");
        assert!(k.public_key().verify(b"fingerprint", &sig));
    }
    if let Ok(k) = text.parse::<PublicKey>() {
        assert_eq!(k.to_string().parse::<PublicKey>().expect("round trip"), k);
    }
    if let Ok(s) = text.parse::<Signature>() {
        assert_eq!(s.to_string().parse::<Signature>().expect("round trip"), s);
    }
});
