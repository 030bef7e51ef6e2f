//! Ed25519 keys and signatures in Nix's text formats.
//!
//! - secret key: `name:base64(64 bytes = 32-byte seed ‖ 32-byte public key)`
//!   (what `nix-store --generate-binary-cache-key` writes)
//! - public key: `name:base64(32 bytes)`
//! - signature (a narinfo `Sig:` value): `name:base64(64 bytes)`
//!
//! Ed25519 is deterministic: the same key over the same fingerprint gives the same
//! signature Nix writes. Verification is strict ([`ed25519_dalek::VerifyingKey::verify_strict`]:
//! no small-order keys, no malleable signatures).
//!
//! Parse errors never contain the text parsed: a secret key pasted where the public key
//! belongs is reported as [`KeyError::WrongKind`] ("this is a secret key; give the public
//! key"), not echoed.
//!
//! ```
//! use chunker::nix::{PublicKey, SecretKey};
//!
//! let secret = SecretKey::generate("cache.example.org-1")?;
//! let public: PublicKey = secret.public_key();
//! let sig = secret.sign(b"1;/nix/store/...");
//! assert!(public.verify(b"1;/nix/store/...", &sig));
//! assert!(!public.verify(b"something else", &sig));
//!
//! // Text forms round-trip.
//! let again: SecretKey = secret.to_nix_string().parse()?;
//! assert_eq!(again.public_key(), public);
//! assert_eq!(public.to_string().parse::<PublicKey>()?, public);
//! assert_eq!(sig.to_string().parse::<chunker::nix::Signature>()?, sig);
//! # Ok::<(), chunker::nix::KeyError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use zeroize::Zeroize;

/// A key or signature string that cannot be parsed or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// No `:` between the name and the base64 part.
    #[error("{what} has no ':' between name and key")]
    MissingColon {
        /// `"secret key"`, `"public key"` or `"signature"`.
        what: &'static str,
    },
    /// The name is empty or contains whitespace or control characters.
    #[error("{what} has an invalid name")]
    InvalidName {
        /// `"secret key"`, `"public key"` or `"signature"`.
        what: &'static str,
    },
    /// The part after `:` is not valid standard base64.
    #[error("{what} is not valid base64")]
    InvalidBase64 {
        /// `"secret key"`, `"public key"` or `"signature"`.
        what: &'static str,
    },
    /// The decoded bytes have the wrong length.
    #[error("{what} decodes to {length} bytes, expected {expected}")]
    InvalidLength {
        /// `"secret key"`, `"public key"` or `"signature"`.
        what: &'static str,
        /// Decoded length.
        length: usize,
        /// Required length.
        expected: usize,
    },
    /// The public half of a secret key does not belong to its seed, or a public key is
    /// not a valid curve point.
    #[error("{what} is not a valid Ed25519 key")]
    InvalidKey {
        /// `"secret key"` or `"public key"`.
        what: &'static str,
    },
    /// A key of another kind was given, e.g. a secret key where the public key belongs.
    /// Nothing of the key is in the message.
    #[error("this is a {given}; give the {what}")]
    WrongKind {
        /// What was expected: `"secret key"`, `"public key"` or `"signature"`.
        what: &'static str,
        /// What was given: `"secret key"` or `"public key"`.
        given: &'static str,
    },
    /// The operating system's random number generator failed.
    #[error("cannot get random bytes from the operating system: {reason}")]
    Random {
        /// The error, as text.
        reason: String,
    },
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Longest decoded value looked at: a secret key or a signature (64 bytes).
const MAX_DECODED: usize = 64;

/// The exact number of bytes canonical padded base64 `b64` decodes to, from its length
/// and padding alone (nothing is decoded); `None` if it cannot be canonical base64.
fn decoded_len(b64: &str) -> Option<usize> {
    if !b64.len().is_multiple_of(4) {
        return None;
    }
    let pad = b64.bytes().rev().take_while(|&c| c == b'=').count();
    if pad > 2 {
        return None;
    }
    (b64.len() / 4 * 3).checked_sub(pad)
}

/// What a decoded value of the wrong length is, judged by its bytes, for an error that
/// names it without showing it: a secret key (seed ‖ matching public key) or, when a
/// secret key was wanted, a public key.
fn kind_of(bytes: &[u8], wanted: &'static str) -> Option<&'static str> {
    if let Ok(pair) = <&[u8; 64]>::try_from(bytes) {
        if SigningKey::from_keypair_bytes(pair).is_ok() {
            return Some("secret key");
        }
    }
    if let Ok(public) = <&[u8; 32]>::try_from(bytes) {
        if wanted == "secret key" && VerifyingKey::from_bytes(public).is_ok() {
            return Some("public key");
        }
    }
    None
}

/// Split `name:base64` and decode into `out`, which must be exactly filled. Errors never
/// contain any of `s`: it may be a secret key given where a public one belongs.
fn decode_into(s: &str, what: &'static str, out: &mut [u8]) -> Result<String, KeyError> {
    let (name, b64) = s
        .trim()
        .split_once(':')
        .ok_or(KeyError::MissingColon { what })?;
    if !valid_name(name) {
        return Err(KeyError::InvalidName { what });
    }
    // The length is known before decoding; only values up to 64 bytes are decoded.
    let length = decoded_len(b64).ok_or(KeyError::InvalidBase64 { what })?;
    let wrong_length = KeyError::InvalidLength {
        what,
        length,
        expected: out.len(),
    };
    if length > MAX_DECODED {
        return Err(wrong_length);
    }
    let mut buf = Zeroizing::new([0u8; MAX_DECODED]);
    let n = BASE64
        .decode_slice(b64, &mut buf[..])
        .map_err(|_| KeyError::InvalidBase64 { what })?;
    if n != out.len() {
        return Err(match kind_of(&buf[..n], what) {
            Some(given) => KeyError::WrongKind { what, given },
            None => wrong_length,
        });
    }
    out.copy_from_slice(&buf[..n]);
    Ok(name.to_owned())
}

/// An Ed25519 signing key with its Nix name. The key material is zeroized on drop and
/// never printed by `Debug`.
#[derive(Clone)]
pub struct SecretKey {
    name: String,
    key: SigningKey,
}

impl SecretKey {
    /// A new key from the operating system's random number generator.
    pub fn generate(name: &str) -> Result<SecretKey, KeyError> {
        if !valid_name(name) || name.contains(':') {
            return Err(KeyError::InvalidName { what: "secret key" });
        }
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut seed[..]).map_err(|e| KeyError::Random {
            reason: e.to_string(),
        })?;
        Ok(SecretKey {
            name: name.to_owned(),
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// A key from its 32-byte seed.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<SecretKey, KeyError> {
        if !valid_name(name) || name.contains(':') {
            return Err(KeyError::InvalidName { what: "secret key" });
        }
        Ok(SecretKey {
            name: name.to_owned(),
            key: SigningKey::from_bytes(seed),
        })
    }

    /// The key's name (the part before `:`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// Sign `message` (for a narinfo: its fingerprint).
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature {
            name: self.name.clone(),
            bytes: self.key.sign(message).to_bytes(),
        }
    }

    /// The Nix file form `name:base64(seed ‖ public)`, in a buffer zeroized on drop.
    pub fn to_nix_string(&self) -> Zeroizing<String> {
        let mut pair = Zeroizing::new(self.key.to_keypair_bytes());
        let mut s = Zeroizing::new(String::with_capacity(self.name.len() + 1 + 88));
        s.push_str(&self.name);
        s.push(':');
        BASE64.encode_string(&pair[..], &mut s);
        pair.zeroize();
        s
    }
}

impl FromStr for SecretKey {
    type Err = KeyError;

    /// Parse `name:base64(64 bytes)` as written by `nix-store --generate-binary-cache-key`
    /// (surrounding whitespace ignored). The public half must match the seed.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let what = "secret key";
        let mut pair = Zeroizing::new([0u8; 64]);
        let name = decode_into(s, what, &mut pair[..])?;
        let key =
            SigningKey::from_keypair_bytes(&pair).map_err(|_| KeyError::InvalidKey { what })?;
        Ok(SecretKey { name, key })
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("name", &self.name)
            .field(
                "public",
                &BASE64.encode(self.key.verifying_key().as_bytes()),
            )
            .finish_non_exhaustive()
    }
}

/// An Ed25519 public key with its Nix name; displays as `name:base64`.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    name: String,
    key: VerifyingKey,
}

impl PublicKey {
    /// The key's name (the part before `:`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 32 key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// Whether `signature` is a valid strict Ed25519 signature of `message` by this key
    /// and carries this key's name.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> bool {
        signature.name == self.name
            && self
                .key
                .verify_strict(
                    message,
                    &ed25519_dalek::Signature::from_bytes(&signature.bytes),
                )
                .is_ok()
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;

    /// Parse `name:base64(32 bytes)` (surrounding whitespace ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let what = "public key";
        let mut bytes = [0u8; 32];
        let name = decode_into(s, what, &mut bytes)?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::InvalidKey { what })?;
        Ok(PublicKey { name, key })
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, BASE64.encode(self.key.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

/// A named Ed25519 signature, a narinfo `Sig:` value; displays as `name:base64`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Signature {
    name: String,
    bytes: [u8; 64],
}

impl Signature {
    /// The name of the key that made it.
    pub fn key_name(&self) -> &str {
        &self.name
    }

    /// The 64 signature bytes.
    pub fn as_bytes(&self) -> &[u8; 64] {
        &self.bytes
    }
}

impl FromStr for Signature {
    type Err = KeyError;

    /// Parse `name:base64(64 bytes)` (surrounding whitespace ignored). A secret key has
    /// the same form: one is refused ([`KeyError::WrongKind`]) rather than taken for a
    /// signature and published.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let what = "signature";
        let mut bytes = Zeroizing::new([0u8; 64]);
        let name = decode_into(s, what, &mut bytes[..])?;
        if kind_of(&bytes[..], what).is_some() {
            return Err(KeyError::WrongKind {
                what,
                given: "secret key",
            });
        }
        Ok(Signature {
            name,
            bytes: *bytes,
        })
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, BASE64.encode(self.bytes))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({self})")
    }
}

/// Re-exported so callers can hold secret key text in a buffer that is wiped on drop.
pub use zeroize::Zeroizing;
