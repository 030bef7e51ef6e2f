//! Hash algorithms, 32-byte digests with their text forms, and a streaming
//! [`Hasher`].

use std::fmt;
use std::io;
use std::str::FromStr;

use super::nix32::{self, Nix32Error};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

/// A supported hash algorithm. Both produce 32-byte digests.
///
/// Parses case-insensitively from `"sha256"` or `"blake3"`; displays as its
/// lowercase [`name`](HashAlgorithm::name).
///
/// ```
/// use chunker::hash::HashAlgorithm;
///
/// assert_eq!(HashAlgorithm::default(), HashAlgorithm::Sha256);
/// assert_eq!("BLAKE3".parse::<HashAlgorithm>()?, HashAlgorithm::Blake3);
/// assert_eq!(HashAlgorithm::Blake3.to_string(), "blake3");
/// # Ok::<(), chunker::hash::AlgorithmParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// SHA-256 (FIPS 180-4), the hash Nix uses for NAR and file hashes.
    #[default]
    Sha256,
    /// BLAKE3 with its default 32-byte output.
    Blake3,
}

impl HashAlgorithm {
    /// The lowercase name used in text forms: `"sha256"` or `"blake3"`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Blake3 => "blake3",
        }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// Error from parsing a [`HashAlgorithm`]: the name is not a supported
/// algorithm.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown hash algorithm {name:?} (expected \"sha256\" or \"blake3\")")]
pub struct AlgorithmParseError {
    /// The name that was not recognised.
    pub name: String,
}

impl FromStr for HashAlgorithm {
    type Err = AlgorithmParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("sha256") {
            Ok(Self::Sha256)
        } else if s.eq_ignore_ascii_case("blake3") {
            Ok(Self::Blake3)
        } else {
            Err(AlgorithmParseError { name: s.to_owned() })
        }
    }
}

/// A text encoding of a [`Digest`], for [`Digest::encode`].
///
/// Parses case-insensitively from `"hex"`, `"nix32"` (or its alias
/// `"base32"`) and `"sri"`.
///
/// ```
/// use chunker::hash::Encoding;
///
/// assert_eq!(Encoding::default(), Encoding::Hex);
/// assert_eq!("base32".parse::<Encoding>()?, Encoding::Nix32);
/// # Ok::<(), chunker::hash::EncodingParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Encoding {
    /// Bare lowercase hexadecimal, 64 characters.
    #[default]
    Hex,
    /// Bare Nix base32, 52 characters (see [`nix32`](super::nix32)).
    Nix32,
    /// Subresource Integrity form, `<algorithm>-<padded standard base64>`.
    Sri,
}

impl Encoding {
    /// The canonical name: `"hex"`, `"nix32"` or `"sri"`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Hex => "hex",
            Self::Nix32 => "nix32",
            Self::Sri => "sri",
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// Error from parsing an [`Encoding`]: the name is not a supported encoding.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown digest encoding {name:?} (expected \"hex\", \"nix32\", \"base32\" or \"sri\")")]
pub struct EncodingParseError {
    /// The name that was not recognised.
    pub name: String,
}

impl FromStr for Encoding {
    type Err = EncodingParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let is = |name: &str| s.eq_ignore_ascii_case(name);
        if is("hex") {
            Ok(Self::Hex)
        } else if is("nix32") || is("base32") {
            Ok(Self::Nix32)
        } else if is("sri") {
            Ok(Self::Sri)
        } else {
            Err(EncodingParseError { name: s.to_owned() })
        }
    }
}

/// Error from parsing a [`Digest`] from text.
///
/// Positions and lengths count bytes of the *encoded part*, the text after
/// the `:` or `-` separator.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestParseError {
    /// The text before the separator is not a [`HashAlgorithm`] name.
    #[error("unknown hash algorithm {name:?} (expected \"sha256\" or \"blake3\")")]
    UnknownAlgorithm {
        /// The text before the separator.
        name: String,
    },
    /// The text has neither a `:` nor a `-` after the algorithm name.
    #[error("digest has no ':' or '-' after the algorithm name")]
    MissingSeparator,
    /// A 64-character hex part contains a non-hex character.
    #[error("invalid hex digit at position {position} of the digest")]
    InvalidHex {
        /// Index of the first invalid byte in the encoded part.
        position: usize,
    },
    /// A 44-character SRI part is not canonical padded standard base64 of
    /// exactly 32 bytes.
    #[error("invalid base64 in SRI digest")]
    InvalidBase64,
    /// The encoded part has a length that no accepted form has.
    ///
    /// Both fields count **characters of the encoded part** (not decoded
    /// bytes). After `:`, `expected` is 52 (the Nix base32 length; 64-character
    /// hex is accepted as well); after `-` (SRI), `expected` is 44.
    #[error("invalid digest length: {length} characters, expected {expected}")]
    InvalidLength {
        /// Length of the encoded part.
        length: usize,
        /// The length required (see the variant's documentation).
        expected: usize,
    },
    /// A 52-character part is not valid Nix base32.
    #[error(transparent)]
    Nix32(#[from] Nix32Error),
}

/// Lowercase hex digits.
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Maps an ASCII byte to its hex value (both cases), or `0xff`.
const HEX_REVERSE: [u8; 256] = {
    let mut table = [0xff; 256];
    let mut i = 0;
    while i < 16 {
        table[HEX_DIGITS[i] as usize] = i as u8;
        table[HEX_DIGITS[i].to_ascii_uppercase() as usize] = i as u8;
        i += 1;
    }
    table
};

/// A 32-byte hash value tagged with the algorithm that produced it.
///
/// Text forms (all parse back with [`FromStr`]):
///
/// | method                           | example (SHA-256 of `""`)                                |
/// |----------------------------------|-----------------------------------------------------------|
/// | [`to_nix_string`], [`Display`]   | `sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73` |
/// | [`to_sri`]                       | `sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=`     |
/// | `sha256:` + [`to_hex`]           | `sha256:e3b0c442…52b855` (64 hex digits)                  |
///
/// [`to_nix_string`]: Digest::to_nix_string
/// [`to_sri`]: Digest::to_sri
/// [`to_hex`]: Digest::to_hex
/// [`Display`]: fmt::Display
///
/// Parsing accepts `<algorithm>:<52 nix32 chars>`, `<algorithm>:<64 hex
/// digits>` (either case) and `<algorithm>-<44 base64 chars>`; the algorithm
/// name is case-insensitive. Nix base32 itself is case-sensitive.
///
/// ```
/// use chunker::hash::{hash, Digest, HashAlgorithm};
///
/// let d = hash(HashAlgorithm::Sha256, b"");
/// assert_eq!(d.to_string(), "sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73");
/// assert_eq!(d.to_sri(), "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
/// let hex = format!("sha256:{}", d.to_hex());
/// for text in [d.to_nix_string(), d.to_sri(), hex] {
///     assert_eq!(text.parse::<Digest>()?, d);
/// }
/// # Ok::<(), chunker::hash::DigestParseError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: HashAlgorithm,
    bytes: [u8; 32],
}

impl Digest {
    /// Length of every digest in bytes.
    pub const LEN: usize = 32;

    /// Wraps raw digest bytes.
    ///
    /// ```
    /// use chunker::hash::{Digest, HashAlgorithm};
    ///
    /// let d = Digest::new(HashAlgorithm::Sha256, [0; Digest::LEN]);
    /// assert_eq!(d.to_nix32(), "0".repeat(52));
    /// ```
    pub const fn new(algorithm: HashAlgorithm, bytes: [u8; 32]) -> Self {
        Self { algorithm, bytes }
    }

    /// The algorithm that produced this digest.
    pub fn algorithm(&self) -> HashAlgorithm {
        self.algorithm
    }

    /// The raw digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    fn hex_buf(&self) -> [u8; 64] {
        let mut buf = [0u8; 64];
        for (pair, &b) in buf.chunks_exact_mut(2).zip(&self.bytes) {
            pair[0] = HEX_DIGITS[usize::from(b >> 4)];
            pair[1] = HEX_DIGITS[usize::from(b & 15)];
        }
        buf
    }

    /// Bare lowercase hex, 64 characters.
    ///
    /// ```
    /// use chunker::hash::{hash, HashAlgorithm};
    ///
    /// assert_eq!(
    ///     hash(HashAlgorithm::Sha256, b"abc").to_hex(),
    ///     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    /// );
    /// ```
    pub fn to_hex(&self) -> String {
        ascii_string(&self.hex_buf())
    }

    /// Bare Nix base32, 52 characters.
    ///
    /// ```
    /// use chunker::hash::{hash, HashAlgorithm};
    ///
    /// assert_eq!(
    ///     hash(HashAlgorithm::Sha256, b"abc").to_nix32(),
    ///     "1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s"
    /// );
    /// ```
    pub fn to_nix32(&self) -> String {
        nix32::encode(&self.bytes)
    }

    /// Bare Nix base32 into a stack array: no allocation, for hot loops (writing
    /// manifests, building store paths). The bytes are ASCII.
    ///
    /// ```
    /// use chunker::hash::{hash, HashAlgorithm};
    ///
    /// let d = hash(HashAlgorithm::Sha256, b"abc");
    /// assert_eq!(&d.nix32_array()[..], d.to_nix32().as_bytes());
    /// ```
    pub fn nix32_array(&self) -> [u8; 52] {
        nix32::encode_32(&self.bytes)
    }

    /// Subresource Integrity form: `<algorithm>-<padded standard base64>`.
    ///
    /// ```
    /// use chunker::hash::{hash, HashAlgorithm};
    ///
    /// assert_eq!(
    ///     hash(HashAlgorithm::Sha256, b"").to_sri(),
    ///     "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    /// );
    /// ```
    pub fn to_sri(&self) -> String {
        let mut buf = [0u8; 44];
        let n = BASE64
            .encode_slice(self.bytes, &mut buf)
            .expect("32 bytes encode to 44 base64 characters");
        debug_assert_eq!(n, buf.len());
        let name = self.algorithm.name();
        let mut s = String::with_capacity(name.len() + 1 + buf.len());
        s.push_str(name);
        s.push('-');
        s.push_str(std::str::from_utf8(&buf).expect("base64 is ASCII"));
        s
    }

    /// The form Nix prints for `NarHash`: `<algorithm>:<nix32>`. The same as
    /// [`Display`](fmt::Display).
    ///
    /// ```
    /// use chunker::hash::{hash, HashAlgorithm};
    ///
    /// assert_eq!(
    ///     hash(HashAlgorithm::Sha256, b"abc").to_nix_string(),
    ///     "sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s"
    /// );
    /// ```
    pub fn to_nix_string(&self) -> String {
        let name = self.algorithm.name();
        let mut s = String::with_capacity(name.len() + 1 + nix32::encoded_len(Self::LEN));
        s.push_str(name);
        s.push(':');
        nix32::write_32(&self.bytes, &mut s).expect("writing to a String cannot fail");
        s
    }

    /// Encodes in the given form: bare hex, bare Nix base32, or SRI (which
    /// includes the algorithm name).
    ///
    /// ```
    /// use chunker::hash::{hash, Encoding, HashAlgorithm};
    ///
    /// let d = hash(HashAlgorithm::Sha256, b"");
    /// assert_eq!(d.encode(Encoding::Hex), d.to_hex());
    /// assert_eq!(d.encode(Encoding::Nix32), d.to_nix32());
    /// assert_eq!(d.encode(Encoding::Sri), d.to_sri());
    /// ```
    pub fn encode(&self, enc: Encoding) -> String {
        match enc {
            Encoding::Hex => self.to_hex(),
            Encoding::Nix32 => self.to_nix32(),
            Encoding::Sri => self.to_sri(),
        }
    }
}

/// Builds a `String` from ASCII bytes with one allocation.
fn ascii_string(ascii: &[u8]) -> String {
    std::str::from_utf8(ascii).expect("ASCII").to_owned()
}

impl fmt::Display for Digest {
    /// Writes `<algorithm>:<nix32>`, like [`Digest::to_nix_string`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.algorithm.name())?;
        f.write_str(":")?;
        nix32::write_32(&self.bytes, f)
    }
}

impl fmt::Debug for Digest {
    /// Writes `Digest(<algorithm>:<hex>)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.hex_buf();
        write!(
            f,
            "Digest({}:{})",
            self.algorithm.name(),
            std::str::from_utf8(&hex).expect("ASCII")
        )
    }
}

impl AsRef<[u8]> for Digest {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl FromStr for Digest {
    type Err = DigestParseError;

    /// Parses `<algorithm>:<nix32>`, `<algorithm>:<hex>` or
    /// `<algorithm>-<base64>` (SRI). See [`DigestParseError`] for the checks.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let sep = s
            .find([':', '-'])
            .ok_or(DigestParseError::MissingSeparator)?;
        let (name, rest) = (&s[..sep], &s[sep + 1..]);
        let algorithm = name
            .parse::<HashAlgorithm>()
            .map_err(|e| DigestParseError::UnknownAlgorithm { name: e.name })?;
        let rest = rest.as_bytes();
        let mut bytes = [0u8; Self::LEN];
        if s.as_bytes()[sep] == b'-' {
            const SRI_LEN: usize = 44;
            if rest.len() != SRI_LEN {
                return Err(DigestParseError::InvalidLength {
                    length: rest.len(),
                    expected: SRI_LEN,
                });
            }
            // 44 characters may decode to up to 33 bytes without padding.
            let mut buf = [0u8; 33];
            match BASE64.decode_slice(rest, &mut buf) {
                Ok(Self::LEN) => bytes.copy_from_slice(&buf[..Self::LEN]),
                _ => return Err(DigestParseError::InvalidBase64),
            }
        } else if rest.len() == 2 * Self::LEN {
            for (i, (out, pair)) in bytes.iter_mut().zip(rest.chunks_exact(2)).enumerate() {
                let hi = HEX_REVERSE[usize::from(pair[0])];
                let lo = HEX_REVERSE[usize::from(pair[1])];
                if hi > 15 {
                    return Err(DigestParseError::InvalidHex { position: 2 * i });
                }
                if lo > 15 {
                    return Err(DigestParseError::InvalidHex {
                        position: 2 * i + 1,
                    });
                }
                *out = (hi << 4) | lo;
            }
        } else if rest.len() == nix32::encoded_len(Self::LEN) {
            nix32::decode_into(rest, &mut bytes)?;
        } else {
            return Err(DigestParseError::InvalidLength {
                length: rest.len(),
                expected: nix32::encoded_len(Self::LEN),
            });
        }
        Ok(Self::new(algorithm, bytes))
    }
}

/// Hashes `data` in one call.
///
/// ```
/// use chunker::hash::{hash, HashAlgorithm};
///
/// let d = hash(HashAlgorithm::Blake3, b"");
/// assert_eq!(
///     d.to_hex(),
///     "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
/// );
/// ```
pub fn hash(algorithm: HashAlgorithm, data: &[u8]) -> Digest {
    let bytes = match algorithm {
        HashAlgorithm::Sha256 => chunker_sha256::digest(data),
        HashAlgorithm::Blake3 => *blake3::hash(data).as_bytes(),
    };
    Digest::new(algorithm, bytes)
}

/// Hashes each of `messages`; the digests come back in the same order.
///
/// SHA-256 hashes several messages at once in one interleaved loop (see the
/// `chunker-sha256` crate: on x86-64 with the SHA extensions that is about twice
/// the speed of one message after another); BLAKE3 hashes them one by one.
///
/// ```
/// use chunker::hash::{hash, hash_many, HashAlgorithm};
///
/// let messages = [&b"abc"[..], b"", &[7u8; 10_000]];
/// let digests = hash_many(HashAlgorithm::Sha256, &messages);
/// for (d, m) in digests.iter().zip(messages) {
///     assert_eq!(*d, hash(HashAlgorithm::Sha256, m));
/// }
/// ```
pub fn hash_many<M: AsRef<[u8]>>(algorithm: HashAlgorithm, messages: &[M]) -> Vec<Digest> {
    match algorithm {
        HashAlgorithm::Sha256 => chunker_sha256::digest_many(messages)
            .into_iter()
            .map(|d| Digest::new(algorithm, d))
            .collect(),
        HashAlgorithm::Blake3 => messages
            .iter()
            .map(|m| hash(algorithm, m.as_ref()))
            .collect(),
    }
}

/// Digests of `messages` with `algorithm` (none when `None`), while `whole` takes
/// `whole_input`: when both are SHA-256, the whole-stream digest runs as one more lane
/// beside the messages.
pub(crate) fn hash_many_and_update<M: AsRef<[u8]>>(
    algorithm: Option<HashAlgorithm>,
    messages: &[M],
    whole: Option<&mut Hasher>,
    whole_input: &[u8],
) -> Option<Vec<Digest>> {
    match (algorithm, whole) {
        (
            Some(HashAlgorithm::Sha256),
            Some(Hasher {
                inner: Inner::Sha256(h),
            }),
        ) => Some(
            chunker_sha256::digest_many_with_stream(h, whole_input, messages)
                .into_iter()
                .map(|d| Digest::new(HashAlgorithm::Sha256, d))
                .collect(),
        ),
        (algorithm, whole) => {
            if let Some(h) = whole {
                h.update(whole_input);
            }
            algorithm.map(|a| hash_many(a, messages))
        }
    }
}

/// Incremental hasher over either algorithm.
///
/// Feed data with [`update`](Hasher::update), [`update_reader`](Hasher::update_reader)
/// or through [`io::Write`] (so [`io::copy`] works), then read the digest with
/// [`finalize`](Hasher::finalize), which does not consume the hasher.
///
/// ```
/// use chunker::hash::{hash, HashAlgorithm, Hasher};
///
/// let mut h = Hasher::new(HashAlgorithm::Sha256);
/// h.update(b"a").update(b"bc");
/// assert_eq!(h.finalize(), hash(HashAlgorithm::Sha256, b"abc"));
///
/// let mut h = Hasher::new(HashAlgorithm::Blake3);
/// let n = std::io::copy(&mut &b"abc"[..], &mut h)?;
/// assert_eq!(n, 3);
/// assert_eq!(h.finalize(), hash(HashAlgorithm::Blake3, b"abc"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Hasher {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Sha256(chunker_sha256::Sha256),
    // Boxed: a blake3 hasher is ~2 KiB, a SHA-256 state ~100 bytes.
    Blake3(Box<blake3::Hasher>),
}

/// Size of the buffer [`Hasher::update_reader`] reads into.
const READ_BUF_LEN: usize = 64 * 1024;

impl Hasher {
    /// A hasher with no data fed yet.
    pub fn new(algorithm: HashAlgorithm) -> Self {
        let inner = match algorithm {
            HashAlgorithm::Sha256 => Inner::Sha256(chunker_sha256::Sha256::new()),
            HashAlgorithm::Blake3 => Inner::Blake3(Box::new(blake3::Hasher::new())),
        };
        Self { inner }
    }

    /// The algorithm this hasher computes.
    pub fn algorithm(&self) -> HashAlgorithm {
        match self.inner {
            Inner::Sha256(_) => HashAlgorithm::Sha256,
            Inner::Blake3(_) => HashAlgorithm::Blake3,
        }
    }

    /// Feeds `data`; returns `self` for chaining.
    pub fn update(&mut self, data: &[u8]) -> &mut Self {
        match &mut self.inner {
            Inner::Sha256(h) => h.update(data),
            Inner::Blake3(h) => {
                h.update(data);
            }
        }
        self
    }

    /// The digest of everything fed so far. Does not consume or change the
    /// hasher, so more data may follow.
    pub fn finalize(&self) -> Digest {
        let bytes = match &self.inner {
            Inner::Sha256(h) => h.finalize(),
            Inner::Blake3(h) => *h.finalize().as_bytes(),
        };
        Digest::new(self.algorithm(), bytes)
    }

    /// Forgets all data fed so far, as if newly created.
    pub fn reset(&mut self) {
        match &mut self.inner {
            Inner::Sha256(h) => h.reset(),
            Inner::Blake3(h) => {
                h.reset();
            }
        }
    }

    /// Reads `r` to its end and feeds everything read; returns the number of
    /// bytes hashed.
    ///
    /// Reads through one 64 KiB heap buffer allocated per call, and retries
    /// reads that fail with [`io::ErrorKind::Interrupted`].
    ///
    /// # Errors
    ///
    /// The first other error from `r`. The data read before it has been fed.
    ///
    /// ```
    /// use chunker::hash::{hash, HashAlgorithm, Hasher};
    ///
    /// let data = vec![7u8; 200_000];
    /// let mut h = Hasher::new(HashAlgorithm::Sha256);
    /// assert_eq!(h.update_reader(&data[..])?, 200_000);
    /// assert_eq!(h.finalize(), hash(HashAlgorithm::Sha256, &data));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn update_reader(&mut self, mut r: impl io::Read) -> io::Result<u64> {
        let mut buf = vec![0u8; READ_BUF_LEN];
        let mut total = 0u64;
        loop {
            match r.read(&mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => {
                    self.update(&buf[..n]);
                    total += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hasher")
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

impl io::Write for Hasher {
    /// Feeds all of `buf`; never fails.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.update(buf);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA256_EMPTY_HEX: &str =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const SHA256_EMPTY_NIX32: &str = "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73";
    const SHA256_EMPTY_SRI: &str = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    const SHA256_ABC_HEX: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const SHA256_ABC_NIX32: &str = "1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s";
    const BLAKE3_EMPTY_HEX: &str =
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";
    const BLAKE3_ABC_HEX: &str = "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85";

    fn parse(s: &str) -> Result<Digest, DigestParseError> {
        s.parse()
    }

    #[test]
    fn algorithm_names() {
        use HashAlgorithm::*;
        assert_eq!(HashAlgorithm::default(), Sha256);
        for (alg, name) in [(Sha256, "sha256"), (Blake3, "blake3")] {
            assert_eq!(alg.name(), name);
            assert_eq!(alg.to_string(), name);
            assert_eq!(name.parse::<HashAlgorithm>(), Ok(alg));
            assert_eq!(name.to_uppercase().parse::<HashAlgorithm>(), Ok(alg));
        }
        assert_eq!("Sha256".parse::<HashAlgorithm>(), Ok(Sha256));
        for bad in ["", "sha-256", "sha1", "md5", " sha256", "blake2b"] {
            assert_eq!(
                bad.parse::<HashAlgorithm>(),
                Err(AlgorithmParseError {
                    name: bad.to_owned()
                })
            );
        }
        assert_eq!(
            "md5".parse::<HashAlgorithm>().unwrap_err().to_string(),
            "unknown hash algorithm \"md5\" (expected \"sha256\" or \"blake3\")"
        );
        assert!(Sha256 < Blake3);
    }

    #[test]
    fn encoding_names() {
        assert_eq!(Encoding::default(), Encoding::Hex);
        for (s, e) in [
            ("hex", Encoding::Hex),
            ("HEX", Encoding::Hex),
            ("nix32", Encoding::Nix32),
            ("base32", Encoding::Nix32),
            ("Base32", Encoding::Nix32),
            ("sri", Encoding::Sri),
            ("SRI", Encoding::Sri),
        ] {
            assert_eq!(s.parse::<Encoding>(), Ok(e), "{s}");
        }
        for e in [Encoding::Hex, Encoding::Nix32, Encoding::Sri] {
            assert_eq!(e.to_string().parse::<Encoding>(), Ok(e));
        }
        for bad in ["", "base64", "nix", "hex "] {
            assert_eq!(
                bad.parse::<Encoding>(),
                Err(EncodingParseError {
                    name: bad.to_owned()
                })
            );
        }
    }

    #[test]
    fn known_digests() {
        let d = hash(HashAlgorithm::Sha256, b"");
        assert_eq!(d.algorithm(), HashAlgorithm::Sha256);
        assert_eq!(d.to_hex(), SHA256_EMPTY_HEX);
        assert_eq!(d.to_nix32(), SHA256_EMPTY_NIX32);
        assert_eq!(d.to_sri(), SHA256_EMPTY_SRI);
        assert_eq!(d.to_nix_string(), format!("sha256:{SHA256_EMPTY_NIX32}"));
        assert_eq!(d.to_string(), d.to_nix_string());
        assert_eq!(
            format!("{d:?}"),
            format!("Digest(sha256:{SHA256_EMPTY_HEX})")
        );
        assert_eq!(d.as_ref(), d.as_bytes());

        let d = hash(HashAlgorithm::Sha256, b"abc");
        assert_eq!(d.to_hex(), SHA256_ABC_HEX);
        assert_eq!(d.to_nix32(), SHA256_ABC_NIX32);

        let d = hash(HashAlgorithm::Blake3, b"");
        assert_eq!(d.to_hex(), BLAKE3_EMPTY_HEX);
        assert_eq!(d.to_string(), format!("blake3:{}", d.to_nix32()));
        assert!(d.to_sri().starts_with("blake3-"));
        assert_eq!(hash(HashAlgorithm::Blake3, b"abc").to_hex(), BLAKE3_ABC_HEX);
    }

    #[test]
    fn encode_dispatch() {
        let d = hash(HashAlgorithm::Blake3, b"x");
        assert_eq!(d.encode(Encoding::Hex), d.to_hex());
        assert_eq!(d.encode(Encoding::Nix32), d.to_nix32());
        assert_eq!(d.encode(Encoding::Sri), d.to_sri());
        assert_eq!(d.encode(Encoding::default()), d.to_hex());
    }

    #[test]
    fn parse_all_forms() {
        for alg in [HashAlgorithm::Sha256, HashAlgorithm::Blake3] {
            for data in [&b""[..], b"abc", &[0xffu8; 1000]] {
                let d = hash(alg, data);
                let forms = [
                    d.to_nix_string(),
                    format!("{alg}:{}", d.to_hex()),
                    format!("{alg}:{}", d.to_hex().to_uppercase()),
                    d.to_sri(),
                    format!("{}:{}", alg.name().to_uppercase(), d.to_nix32()),
                ];
                for f in forms {
                    assert_eq!(parse(&f), Ok(d), "{f}");
                }
            }
        }
        // Extremes round-trip through every form.
        for bytes in [[0u8; 32], [0xff; 32]] {
            let d = Digest::new(HashAlgorithm::Sha256, bytes);
            assert_eq!(parse(&d.to_string()), Ok(d));
            assert_eq!(parse(&d.to_sri()), Ok(d));
            assert_eq!(parse(&format!("sha256:{}", d.to_hex())), Ok(d));
        }
    }

    #[test]
    fn parse_errors() {
        use DigestParseError as E;
        assert_eq!(parse(""), Err(E::MissingSeparator));
        assert_eq!(parse(SHA256_EMPTY_NIX32), Err(E::MissingSeparator));
        assert_eq!(
            parse(&format!("md5:{SHA256_EMPTY_NIX32}")),
            Err(E::UnknownAlgorithm { name: "md5".into() })
        );
        assert_eq!(
            parse(&format!(":{SHA256_EMPTY_NIX32}")),
            Err(E::UnknownAlgorithm { name: "".into() })
        );
        // The first ':' or '-' is the separator.
        assert_eq!(
            parse("sha-256:00"),
            Err(E::UnknownAlgorithm { name: "sha".into() })
        );

        // Lengths count characters after the separator.
        assert_eq!(
            parse("sha256:"),
            Err(E::InvalidLength {
                length: 0,
                expected: 52
            })
        );
        assert_eq!(
            parse(&format!("sha256:{}", &SHA256_EMPTY_HEX[1..])),
            Err(E::InvalidLength {
                length: 63,
                expected: 52
            })
        );
        assert_eq!(
            parse(&format!("sha256:{SHA256_EMPTY_NIX32}0")),
            Err(E::InvalidLength {
                length: 53,
                expected: 52
            })
        );
        assert_eq!(
            parse(&SHA256_EMPTY_SRI[..SHA256_EMPTY_SRI.len() - 1]),
            Err(E::InvalidLength {
                length: 43,
                expected: 44
            })
        );
        assert_eq!(
            parse("sha256-"),
            Err(E::InvalidLength {
                length: 0,
                expected: 44
            })
        );

        // Hex: position within the encoded part; both digits of a pair checked.
        let mut hex = SHA256_EMPTY_HEX.to_owned();
        hex.replace_range(10..11, "g");
        assert_eq!(
            parse(&format!("sha256:{hex}")),
            Err(E::InvalidHex { position: 10 })
        );
        let mut hex = SHA256_EMPTY_HEX.to_owned();
        hex.replace_range(63..64, "x");
        assert_eq!(
            parse(&format!("sha256:{hex}")),
            Err(E::InvalidHex { position: 63 })
        );
        // 64 bytes but not 64 ASCII characters.
        let hex = format!("é{}", &SHA256_EMPTY_HEX[2..]);
        assert_eq!(
            parse(&format!("sha256:{hex}")),
            Err(E::InvalidHex { position: 0 })
        );

        // Nix32 errors pass through with positions in the encoded part.
        assert_eq!(
            parse("sha256:2mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"),
            Err(E::Nix32(Nix32Error::NonZeroPadding { position: 0 }))
        );
        assert_eq!(
            parse("sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c7e"),
            Err(E::Nix32(Nix32Error::InvalidChar {
                position: 51,
                byte: b'e'
            }))
        );
        assert_eq!(
            parse(&format!("sha256:{}", SHA256_EMPTY_NIX32.to_uppercase())),
            Err(E::Nix32(Nix32Error::InvalidChar {
                position: 1,
                byte: b'M'
            }))
        );

        // Base64: invalid characters, URL-safe alphabet, wrong padding.
        for bad in [
            "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU!",
            "sha256-47DEQpj8HBSa-_TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFUA",
            "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuF==",
            "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=",
        ] {
            assert_eq!(parse(bad), Err(E::InvalidBase64), "{bad}");
        }
    }

    #[test]
    fn parse_error_messages() {
        use DigestParseError as E;
        let cases: [(E, &str); 6] = [
            (
                E::UnknownAlgorithm { name: "md5".into() },
                "unknown hash algorithm \"md5\" (expected \"sha256\" or \"blake3\")",
            ),
            (
                E::MissingSeparator,
                "digest has no ':' or '-' after the algorithm name",
            ),
            (
                E::InvalidHex { position: 3 },
                "invalid hex digit at position 3 of the digest",
            ),
            (E::InvalidBase64, "invalid base64 in SRI digest"),
            (
                E::InvalidLength {
                    length: 3,
                    expected: 52,
                },
                "invalid digest length: 3 characters, expected 52",
            ),
            (
                E::Nix32(Nix32Error::NonZeroPadding { position: 0 }),
                "nix32 character at position 0 has non-zero unused high bits",
            ),
        ];
        for (e, msg) in cases {
            assert_eq!(e.to_string(), msg);
        }
        let e: DigestParseError = Nix32Error::NonZeroPadding { position: 0 }.into();
        assert!(matches!(e, E::Nix32(_)));
    }

    #[test]
    fn hasher_matches_one_shot() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 31 + i / 7) as u8).collect();
        for alg in [HashAlgorithm::Sha256, HashAlgorithm::Blake3] {
            let expected = hash(alg, &data);
            let mut h = Hasher::new(alg);
            assert_eq!(h.algorithm(), alg);
            assert_eq!(h.finalize(), hash(alg, b""));
            for chunk in data.chunks(7777) {
                h.update(chunk);
            }
            assert_eq!(h.finalize(), expected);
            // finalize does not consume or disturb the state.
            assert_eq!(h.finalize(), expected);
            let snapshot = h.clone();
            h.update(b"more");
            let mut more = data.clone();
            more.extend_from_slice(b"more");
            assert_eq!(h.finalize(), hash(alg, &more));
            assert_eq!(snapshot.finalize(), expected);

            h.reset();
            assert_eq!(h.finalize(), hash(alg, b""));
            h.update(b"abc");
            assert_eq!(h.finalize(), hash(alg, b"abc"));
        }
    }

    #[test]
    fn hasher_io() {
        use std::io::Write as _;
        let data: Vec<u8> = (0..200_001u32).map(|i| (i ^ (i >> 9)) as u8).collect();
        for alg in [HashAlgorithm::Sha256, HashAlgorithm::Blake3] {
            let mut h = Hasher::new(alg);
            assert_eq!(h.update_reader(&data[..]).unwrap(), data.len() as u64);
            assert_eq!(h.finalize(), hash(alg, &data));

            let mut h = Hasher::new(alg);
            assert_eq!(io::copy(&mut &data[..], &mut h).unwrap(), data.len() as u64);
            assert_eq!(h.finalize(), hash(alg, &data));

            let mut h = Hasher::new(alg);
            assert_eq!(h.write(&data[..10]).unwrap(), 10);
            h.write_all(&data[10..]).unwrap();
            h.flush().unwrap();
            assert_eq!(h.finalize(), hash(alg, &data));
            assert_eq!(
                format!("{h:?}"),
                format!("Hasher {{ algorithm: {alg:?}, .. }}")
            );
        }
    }

    /// A reader that returns short reads of varying size, `Interrupted`
    /// every third call, and optionally a hard error after `fail_after` bytes.
    struct Awkward<'a> {
        data: &'a [u8],
        calls: usize,
        fail_after: Option<usize>,
        served: usize,
    }

    impl io::Read for Awkward<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(3) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            if self.fail_after.is_some_and(|n| self.served >= n) {
                return Err(io::Error::other("boom"));
            }
            let n = (self.calls * 997 % 5000 + 1)
                .min(buf.len())
                .min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            self.served += n;
            Ok(n)
        }
    }

    #[test]
    fn update_reader_short_and_interrupted_reads() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        for alg in [HashAlgorithm::Sha256, HashAlgorithm::Blake3] {
            let mut h = Hasher::new(alg);
            let r = Awkward {
                data: &data,
                calls: 0,
                fail_after: None,
                served: 0,
            };
            assert_eq!(h.update_reader(r).unwrap(), data.len() as u64);
            assert_eq!(h.finalize(), hash(alg, &data));

            let mut h = Hasher::new(alg);
            let mut r = Awkward {
                data: &data,
                calls: 0,
                fail_after: Some(10_000),
                served: 0,
            };
            let err = h.update_reader(&mut r).unwrap_err();
            assert_eq!(err.to_string(), "boom");
            // Everything served before the error was hashed.
            assert_eq!(h.finalize(), hash(alg, &data[..r.served]));
        }
    }

    #[test]
    fn ordering_and_equality() {
        let a = Digest::new(HashAlgorithm::Sha256, [0xff; 32]);
        let b = Digest::new(HashAlgorithm::Blake3, [0; 32]);
        assert!(a < b, "algorithm orders first");
        assert_ne!(
            Digest::new(HashAlgorithm::Sha256, [1; 32]),
            Digest::new(HashAlgorithm::Blake3, [1; 32])
        );
        assert_eq!(Digest::LEN, 32);
    }
}
