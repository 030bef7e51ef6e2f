//! Bounded little-endian reading and writing shared by the binary formats.

use chunker::hash::{Digest, HashAlgorithm};

use crate::error::{FormatError, ObjectKind};

/// A cursor over untrusted bytes: every read is checked against what remains.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    kind: ObjectKind,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(kind: ObjectKind, data: &'a [u8]) -> Self {
        Reader { data, pos: 0, kind }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        if n > self.remaining() {
            return Err(FormatError::Truncated {
                object: self.kind,
                needed: n as u64,
                remaining: self.remaining() as u64,
            });
        }
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, FormatError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn i32(&mut self) -> Result<i32, FormatError> {
        Ok(i32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, FormatError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A count of records of `record` bytes each that must fit in what remains (and
    /// under `max`), checked before anything is allocated for them.
    pub(crate) fn count(
        &mut self,
        what: &'static str,
        record: usize,
        max: u64,
    ) -> Result<usize, FormatError> {
        let n = u64::from(self.u32()?);
        if n > max {
            return Err(FormatError::TooMany {
                object: self.kind,
                what,
                count: n,
                max,
            });
        }
        let need = n.saturating_mul(record as u64);
        if need > self.remaining() as u64 {
            return Err(FormatError::Truncated {
                object: self.kind,
                needed: need,
                remaining: self.remaining() as u64,
            });
        }
        Ok(n as usize)
    }

    pub(crate) fn magic(&mut self, magic: &[u8; 8], versions: &[u32]) -> Result<u32, FormatError> {
        if self.bytes(8)? != magic {
            return Err(FormatError::BadMagic { object: self.kind });
        }
        let version = self.u32()?;
        if !versions.contains(&version) {
            return Err(FormatError::UnsupportedVersion {
                object: self.kind,
                version,
            });
        }
        Ok(version)
    }

    pub(crate) fn digest(&mut self, algorithm: HashAlgorithm) -> Result<Digest, FormatError> {
        Ok(Digest::new(algorithm, self.array()?))
    }

    pub(crate) fn algorithm(&mut self) -> Result<HashAlgorithm, FormatError> {
        let code = self.u8()?;
        algorithm_from_code(code).ok_or(FormatError::Invalid {
            object: self.kind,
            reason: "unknown digest algorithm code",
        })
    }

    pub(crate) fn end(&self) -> Result<(), FormatError> {
        if self.remaining() != 0 {
            return Err(FormatError::Invalid {
                object: self.kind,
                reason: "trailing bytes after the last record",
            });
        }
        Ok(())
    }

    pub(crate) fn invalid(&self, reason: &'static str) -> FormatError {
        FormatError::Invalid {
            object: self.kind,
            reason,
        }
    }
}

pub(crate) fn algorithm_code(a: HashAlgorithm) -> u8 {
    match a {
        HashAlgorithm::Blake3 => 1,
        _ => 0,
    }
}

pub(crate) fn algorithm_from_code(c: u8) -> Option<HashAlgorithm> {
    match c {
        0 => Some(HashAlgorithm::Sha256),
        1 => Some(HashAlgorithm::Blake3),
        _ => None,
    }
}

/// Appending writer for the formats.
pub(crate) trait Put {
    fn put_u8(&mut self, v: u8);
    fn put_u32(&mut self, v: u32);
    fn put_i32(&mut self, v: i32);
    fn put_u64(&mut self, v: u64);
}

impl Put for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_i32(&mut self, v: i32) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_le_bytes());
    }
}
