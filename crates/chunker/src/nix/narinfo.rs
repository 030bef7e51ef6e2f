//! narinfo files: the metadata a Nix binary cache serves for each store path.
//!
//! ```text
//! StorePath: /nix/store/2jmiqxxd2z4ypk8am71rc6kffqzgma57-t
//! URL: nar/1xmr8jicvzszfzpz46g37mlpvbzjl2wpwvl2b05psipssyp1sm8h.nar
//! Compression: none
//! FileHash: sha256:1xmr8jicvzszfzpz46g37mlpvbzjl2wpwvl2b05psipssyp1sm8h
//! FileSize: 120
//! NarHash: sha256:1xmr8jicvzszfzpz46g37mlpvbzjl2wpwvl2b05psipssyp1sm8h
//! NarSize: 120
//! References:
//! Deriver: hb09lmdvs22v5ianga0vgpi9k446q3kw-t.drv
//! Sig: test-1:hkJBP6kBF4J8FPyPjf1qgG7+DidBYZuztQLD0d8Esmziv/DCJCYtDkUhfalzRWy9oDi3z6ML1hJ6NDIdO7TCAg==
//! ```
//!
//! [`NarInfo::parse`] reads this like Nix does (unknown keys are ignored; a missing
//! `Compression` means `bzip2`), but rejects malformed lines with their line number.
//! [`Display`](std::fmt::Display) writes Nix's field order. A signature covers the
//! [fingerprint](NarInfo::fingerprint)
//! `1;<StorePath>;<NarHash>;<NarSize>;<references as full paths joined by ",">`.
//!
//! ```
//! use chunker::nix::{NarInfo, PublicKey};
//!
//! let text = "\
//! StorePath: /nix/store/syd87l2rxw8cbsxmxl853h0r6pdwhwjr-curl-7.82.0-bin
//! URL: nar/0i4p3ah7qk8dmz5ryxwswq0jrwm6xqqj7z4nvkmr4kl1b8a4lkxn.nar.xz
//! Compression: xz
//! NarHash: sha256:1b4sb93wp679q4zx9k1ignby1yna3z7c4c2ri3wphylbc2dwsys0
//! NarSize: 196040
//! References: 0jqd0rlxzra1rs38rdxl43yh6rxchgc6-curl-7.82.0 6w8g7njm4mck5dmjxws0z1xnrxvl81xa-glibc-2.34-115 j5jxw3iy7bbz4a57fh9g2xm2gxmyal8h-zlib-1.2.12 yxvjs9drzsphm9pcf42a4byzj1kb9m7k-openssl-1.1.1n
//! Sig: cache.nixos.org-1:TsTTb3WGTZKphvYdBHXwo6weVILmTytUjLB+vcX89fOjjRicCHmKA4RCPMVLkj6TMJ4GMX3HPVWRdD1hkeKZBQ==
//! ";
//! let info = NarInfo::parse(text)?;
//! let key: PublicKey = "cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=".parse()?;
//! assert_eq!(info.verify(&[key])?, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use super::keys::{KeyError, PublicKey, SecretKey, Signature};
use crate::hash::{Digest, HashAlgorithm};

/// Longest store path base name Nix accepts (32-character hash, `-`, 211-character name).
const MAX_BASE_NAME: usize = 32 + 1 + 211;

/// A narinfo that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NarInfoError {
    /// A line that is not `Key: Value`.
    #[error("narinfo line {line}: expected `Key: Value`")]
    Malformed {
        /// 1-based line number.
        line: usize,
    },
    /// A known field whose value is invalid.
    #[error("narinfo line {line}: invalid {field} {value:?}")]
    InvalidValue {
        /// 1-based line number.
        line: usize,
        /// The field name.
        field: &'static str,
        /// The value (cut to 200 bytes).
        value: String,
    },
    /// A `Sig:` value that is not `name:base64(64 bytes)`.
    #[error("narinfo line {line}: invalid Sig")]
    InvalidSignature {
        /// 1-based line number.
        line: usize,
        /// Why.
        #[source]
        source: KeyError,
    },
    /// A single-valued field given twice.
    #[error("narinfo line {line}: {field} given twice")]
    Duplicate {
        /// 1-based line number of the second occurrence.
        line: usize,
        /// The field name.
        field: &'static str,
    },
    /// A required field (StorePath, URL, NarHash, NarSize) is missing.
    #[error("narinfo has no {field}")]
    Missing {
        /// The field name.
        field: &'static str,
    },
}

/// Why a narinfo's signatures do not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The narinfo has no `Sig:` line.
    #[error("narinfo has no signature")]
    NoSignature,
    /// No signature is by a trusted key (matched by name).
    #[error("no signature by a trusted key (signed by: {})", names.join(", "))]
    Untrusted {
        /// The key names of the signatures present.
        names: Vec<String>,
    },
    /// A signature by a trusted key does not verify over the fingerprint.
    #[error("signature by {key_name} does not verify")]
    Invalid {
        /// The key name.
        key_name: String,
    },
}

/// The contents of a narinfo file.
///
/// Fields hold what the file says; references keep their listed order (the
/// [fingerprint](NarInfo::fingerprint) sorts them, as Nix does; [`sign`](NarInfo::sign)
/// also sorts the list itself, so the file lists them as Nix writes them).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NarInfo {
    /// Full store path, e.g. `/nix/store/<hash>-<name>`.
    pub store_path: String,
    /// Where the (compressed) NAR is, relative to the cache root.
    pub url: String,
    /// `none`, `xz`, `bzip2`, `zstd`, `br`, `lz4`, … (`bzip2` when the file omits it).
    pub compression: String,
    /// Hash of the file at `url`.
    pub file_hash: Option<Digest>,
    /// Size of the file at `url`.
    pub file_size: Option<u64>,
    /// SHA-256 of the uncompressed NAR.
    pub nar_hash: Digest,
    /// Size of the uncompressed NAR.
    pub nar_size: u64,
    /// Store path base names this path refers to.
    pub references: Vec<String>,
    /// Base name of the deriver (`.drv`), if known.
    pub deriver: Option<String>,
    /// The system it was built for, if given.
    pub system: Option<String>,
    /// Signatures, in file order.
    pub sigs: Vec<Signature>,
    /// Content address (`fixed:r:sha256:…`, `text:sha256:…`), if any.
    pub ca: Option<String>,
}

fn cut(value: &str) -> String {
    let mut end = value.len().min(200);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    value[..end].to_owned()
}

/// A store path base name: 32 Nix base32 characters, `-`, a name of allowed characters.
fn valid_base_name(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() > 33
        && b.len() <= MAX_BASE_NAME
        && b[32] == b'-'
        && b[..32]
            .iter()
            .all(|c| crate::hash::nix32::ALPHABET.contains(c))
        && b[33..]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || b"+-._?=".contains(&c))
}

fn valid_store_path(s: &str) -> bool {
    match s.rsplit_once('/') {
        Some((dir, base)) => dir.starts_with('/') && valid_base_name(base),
        None => false,
    }
}

impl NarInfo {
    /// A narinfo for an uncompressed NAR at `nar/<nix32 nar hash>.nar`, without
    /// references or signatures.
    ///
    /// ```
    /// use chunker::nix::NarInfo;
    /// let hash = chunker::hash(chunker::HashAlgorithm::Sha256, b"nar bytes");
    /// let info = NarInfo::new("/nix/store/2jmiqxxd2z4ypk8am71rc6kffqzgma57-t", hash, 9);
    /// assert_eq!(info.url, format!("nar/{}.nar", hash.to_nix32()));
    /// assert_eq!(info.compression, "none");
    /// ```
    pub fn new(store_path: impl Into<String>, nar_hash: Digest, nar_size: u64) -> NarInfo {
        NarInfo {
            store_path: store_path.into(),
            url: format!("nar/{}.nar", nar_hash.to_nix32()),
            compression: "none".into(),
            file_hash: Some(nar_hash),
            file_size: Some(nar_size),
            nar_hash,
            nar_size,
            references: Vec::new(),
            deriver: None,
            system: None,
            sigs: Vec::new(),
            ca: None,
        }
    }

    /// Parse narinfo text. Lines are `Key: Value`; unknown keys are ignored, blank
    /// lines skipped, the last newline optional. Required: StorePath, URL, NarHash
    /// (SHA-256), NarSize.
    pub fn parse(text: &str) -> Result<NarInfo, NarInfoError> {
        let mut store_path = None;
        let mut url = None;
        let mut compression = None;
        let mut file_hash = None;
        let mut file_size = None;
        let mut nar_hash = None;
        let mut nar_size = None;
        let mut references = None;
        let mut deriver = None;
        let mut system = None;
        let mut sigs = Vec::new();
        let mut ca = None;

        fn set<T>(
            slot: &mut Option<T>,
            v: T,
            line: usize,
            field: &'static str,
        ) -> Result<(), NarInfoError> {
            if slot.is_some() {
                return Err(NarInfoError::Duplicate { line, field });
            }
            *slot = Some(v);
            Ok(())
        }

        for (i, raw) in text.split('\n').enumerate() {
            let line = i + 1;
            if raw.trim().is_empty() {
                continue;
            }
            let (key, value) = match raw.split_once(": ") {
                Some(kv) => kv,
                None => match raw.strip_suffix(':') {
                    Some(k) if !k.contains(':') => (k, ""),
                    _ => return Err(NarInfoError::Malformed { line }),
                },
            };
            if key.is_empty() || key.contains(char::is_whitespace) {
                return Err(NarInfoError::Malformed { line });
            }
            let invalid = |field: &'static str| NarInfoError::InvalidValue {
                line,
                field,
                value: cut(value),
            };
            let hash = |field: &'static str| -> Result<Digest, NarInfoError> {
                match value.parse::<Digest>() {
                    Ok(d) if d.algorithm() == HashAlgorithm::Sha256 => Ok(d),
                    _ => Err(invalid(field)),
                }
            };
            let number = |field: &'static str| -> Result<u64, NarInfoError> {
                if value.is_empty() || !value.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(invalid(field));
                }
                value.parse::<u64>().map_err(|_| invalid(field))
            };
            match key {
                "StorePath" => {
                    if !valid_store_path(value) {
                        return Err(invalid("StorePath"));
                    }
                    set(&mut store_path, value.to_owned(), line, "StorePath")?;
                }
                "URL" => {
                    if value.is_empty() {
                        return Err(invalid("URL"));
                    }
                    set(&mut url, value.to_owned(), line, "URL")?;
                }
                "Compression" => set(&mut compression, value.to_owned(), line, "Compression")?,
                "FileHash" => set(&mut file_hash, hash("FileHash")?, line, "FileHash")?,
                "FileSize" => set(&mut file_size, number("FileSize")?, line, "FileSize")?,
                "NarHash" => set(&mut nar_hash, hash("NarHash")?, line, "NarHash")?,
                "NarSize" => {
                    let n = number("NarSize")?;
                    if n == 0 {
                        return Err(invalid("NarSize"));
                    }
                    set(&mut nar_size, n, line, "NarSize")?;
                }
                "References" => {
                    let refs: Vec<String> = value
                        .split(' ')
                        .filter(|r| !r.is_empty())
                        .map(str::to_owned)
                        .collect();
                    if !refs.iter().all(|r| valid_base_name(r)) {
                        return Err(invalid("References"));
                    }
                    set(&mut references, refs, line, "References")?;
                }
                "Deriver" => {
                    let d = if value == "unknown-deriver" {
                        None
                    } else if valid_base_name(value) {
                        Some(value.to_owned())
                    } else {
                        return Err(invalid("Deriver"));
                    };
                    set(&mut deriver, d, line, "Deriver")?;
                }
                "System" => set(&mut system, value.to_owned(), line, "System")?,
                "Sig" => sigs.push(
                    value
                        .parse::<Signature>()
                        .map_err(|source| NarInfoError::InvalidSignature { line, source })?,
                ),
                "CA" => set(&mut ca, value.to_owned(), line, "CA")?,
                _ => {} // unknown keys are ignored, as Nix does
            }
        }
        let missing = |field| NarInfoError::Missing { field };
        Ok(NarInfo {
            store_path: store_path.ok_or(missing("StorePath"))?,
            url: url.ok_or(missing("URL"))?,
            compression: compression
                .filter(|c: &String| !c.is_empty())
                .unwrap_or_else(|| "bzip2".into()),
            file_hash,
            file_size,
            nar_hash: nar_hash.ok_or(missing("NarHash"))?,
            nar_size: nar_size.ok_or(missing("NarSize"))?,
            references: references.unwrap_or_default(),
            deriver: deriver.flatten(),
            system,
            sigs,
            ca,
        })
    }

    /// The store directory: the `StorePath` without its base name (`/nix/store`).
    pub fn store_dir(&self) -> &str {
        self.store_path.rsplit_once('/').map_or("", |(dir, _)| dir)
    }

    /// What a signature covers, as Nix computes it:
    /// `1;<StorePath>;<NarHash>;<NarSize>;<references as full paths joined by ",">`,
    /// the references sorted bytewise and without duplicates (Nix holds them as a set, so
    /// the order a narinfo lists them in does not matter), no trailing newline.
    ///
    /// ```
    /// use chunker::nix::NarInfo;
    /// let hash = chunker::hash(chunker::HashAlgorithm::Sha256, b"");
    /// let mut info = NarInfo::new("/nix/store/2jmiqxxd2z4ypk8am71rc6kffqzgma57-t", hash, 120);
    /// assert_eq!(
    ///     info.fingerprint(),
    ///     "1;/nix/store/2jmiqxxd2z4ypk8am71rc6kffqzgma57-t;\
    ///      sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73;120;"
    /// );
    /// info.references.push("vb09lmdvs22v5ianga0vgpi9k446q3kw-b".into());
    /// info.references.push("hb09lmdvs22v5ianga0vgpi9k446q3kw-a".into());
    /// assert!(info.fingerprint().ends_with(
    ///     ";120;/nix/store/hb09lmdvs22v5ianga0vgpi9k446q3kw-a,/nix/store/vb09lmdvs22v5ianga0vgpi9k446q3kw-b"
    /// ));
    /// ```
    pub fn fingerprint(&self) -> String {
        let mut refs: Vec<&str> = self.references.iter().map(String::as_str).collect();
        refs.sort_unstable();
        refs.dedup();
        self.fingerprint_of(&refs)
    }

    /// The fingerprint with the references in the order the narinfo lists them, which
    /// some old cache.nixos.org entries were signed over. [`verify`](NarInfo::verify)
    /// accepts a signature over either form.
    pub fn fingerprint_listed_order(&self) -> String {
        let refs: Vec<&str> = self.references.iter().map(String::as_str).collect();
        self.fingerprint_of(&refs)
    }

    fn fingerprint_of(&self, refs: &[&str]) -> String {
        let dir = self.store_dir();
        let mut s = format!("1;{};{};{};", self.store_path, self.nar_hash, self.nar_size);
        for (i, r) in refs.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(dir);
            s.push('/');
            s.push_str(r);
        }
        s
    }

    /// Sign as Nix does: sort (and dedupe) the references, sign the fingerprint, and
    /// replace any signature by a key of the same name. Signatures stay sorted as Nix
    /// writes them.
    ///
    /// ```
    /// use chunker::nix::{NarInfo, SecretKey};
    /// let key = SecretKey::generate("cache.example.org-1")?;
    /// let hash = chunker::hash(chunker::HashAlgorithm::Sha256, b"nar");
    /// let mut info = NarInfo::new("/nix/store/2jmiqxxd2z4ypk8am71rc6kffqzgma57-t", hash, 3);
    /// info.sign(&key);
    /// assert_eq!(info.verify(&[key.public_key()])?, 1);
    /// info.nar_size = 4;
    /// assert!(info.verify(&[key.public_key()]).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sign(&mut self, key: &SecretKey) {
        self.references.sort();
        self.references.dedup();
        let sig = key.sign(self.fingerprint().as_bytes());
        self.sigs.retain(|s| s.key_name() != key.name());
        self.sigs.push(sig);
        self.sigs.sort_by_cached_key(|s| s.to_string());
    }

    /// Check the signatures against `trusted` keys (matched by name). Returns how many
    /// verify; an error when none does.
    ///
    /// A signature is accepted over the [fingerprint](NarInfo::fingerprint) Nix computes
    /// (references sorted, so a narinfo whose `References:` line is reordered still
    /// verifies, as it does for `nix store verify`) or over the
    /// [listed order](NarInfo::fingerprint_listed_order) (how some old cache.nixos.org
    /// entries were signed). Both cover the same store path, NarHash, NarSize and
    /// reference set; only the order of the references differs.
    pub fn verify(&self, trusted: &[PublicKey]) -> Result<usize, VerifyError> {
        if self.sigs.is_empty() {
            return Err(VerifyError::NoSignature);
        }
        let sorted = self.fingerprint();
        let listed = self.fingerprint_listed_order();
        let fps: &[&str] = if listed == sorted {
            &[&sorted]
        } else {
            &[&sorted, &listed]
        };
        let mut good = 0;
        let mut bad = None;
        for sig in &self.sigs {
            for key in trusted.iter().filter(|k| k.name() == sig.key_name()) {
                if fps.iter().any(|fp| key.verify(fp.as_bytes(), sig)) {
                    good += 1;
                } else if bad.is_none() {
                    bad = Some(sig.key_name().to_owned());
                }
            }
        }
        match (good, bad) {
            (0, Some(key_name)) => Err(VerifyError::Invalid { key_name }),
            (0, None) => Err(VerifyError::Untrusted {
                names: self.sigs.iter().map(|s| s.key_name().to_owned()).collect(),
            }),
            (n, _) => Ok(n),
        }
    }
}

impl fmt::Display for NarInfo {
    /// The narinfo text in Nix's field order, each line ending in `\n`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "StorePath: {}", self.store_path)?;
        writeln!(f, "URL: {}", self.url)?;
        writeln!(f, "Compression: {}", self.compression)?;
        if let Some(h) = &self.file_hash {
            writeln!(f, "FileHash: {h}")?;
        }
        if let Some(n) = self.file_size {
            writeln!(f, "FileSize: {n}")?;
        }
        writeln!(f, "NarHash: {}", self.nar_hash)?;
        writeln!(f, "NarSize: {}", self.nar_size)?;
        writeln!(f, "References: {}", self.references.join(" "))?;
        if let Some(d) = &self.deriver {
            writeln!(f, "Deriver: {d}")?;
        }
        if let Some(s) = &self.system {
            writeln!(f, "System: {s}")?;
        }
        for s in &self.sigs {
            writeln!(f, "Sig: {s}")?;
        }
        if let Some(ca) = &self.ca {
            writeln!(f, "CA: {ca}")?;
        }
        Ok(())
    }
}
