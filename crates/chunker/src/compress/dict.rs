//! zstd dictionaries: training, the shipped NAR dictionary and a registry by ID.
//!
//! Small chunks compress poorly on their own: each starts with an empty history. A
//! dictionary trained on typical content primes that history. Frames written with a
//! dictionary carry its ID in the header; decoding looks the ID up in a
//! [`DictionaryRegistry`] and fails with [`CompressionError::UnknownDictionary`] when it
//! is not there.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use super::CompressionError;

/// The shipped dictionary: trained on 16 KiB-average FastCDC chunks of NARs of
/// Debian software (see `crates/chunker/dicts/README.md` for exactly how).
static NAR_V1: &[u8] = include_bytes!("../../dicts/nar-v1.zdict");

static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(1);

#[cfg(feature = "zstd")]
fn check_max_size(max_size: usize) -> Result<(), CompressionError> {
    if (256..=Dictionary::MAX_SIZE).contains(&max_size) {
        Ok(())
    } else {
        Err(CompressionError::InvalidSetting {
            name: "max_size",
            reason: "a dictionary has 256 bytes to 16 MiB (Dictionary::MAX_SIZE)",
        })
    }
}

#[cfg(feature = "zstd")]
fn training_error(e: std::io::Error) -> CompressionError {
    CompressionError::Training {
        reason: match e.kind() {
            std::io::ErrorKind::OutOfMemory => "out of memory",
            _ => "zstd could not train on these samples (too few or too small?)",
        },
    }
}

/// A zstd dictionary with a non-zero ID.
pub struct Dictionary {
    id: u32,
    bytes: Box<[u8]>,
    /// Unique per `Dictionary` value: keys the per-thread context pools, so two
    /// dictionaries that share an ID never share a context.
    #[cfg_attr(not(feature = "zstd"), allow(dead_code))]
    instance: u64,
}

impl Dictionary {
    /// The largest dictionary accepted: 16 MiB. zstd's trainer defaults to 112 KiB
    /// and dictionaries pay off up to a few hundred KiB; a larger "dictionary" is a
    /// wrong file, and each pooled context holds a copy of its tables.
    pub const MAX_SIZE: usize = 16 << 20;

    /// Wrap the bytes of a zstd dictionary (as `zstd --train` or
    /// [`Dictionary::train`] write them). Raw-content dictionaries (no header, ID 0)
    /// are refused: frames must name their dictionary. More than
    /// [`Dictionary::MAX_SIZE`] bytes is [`CompressionError::DictionaryTooLarge`].
    pub fn new(bytes: impl Into<Box<[u8]>>) -> Result<Self, CompressionError> {
        let bytes = bytes.into();
        if bytes.len() > Self::MAX_SIZE {
            return Err(CompressionError::DictionaryTooLarge {
                size: bytes.len() as u64,
                max: Self::MAX_SIZE,
            });
        }
        if bytes.len() < 8 || bytes[..4] != [0x37, 0xA4, 0x30, 0xEC] {
            return Err(CompressionError::InvalidDictionary);
        }
        let id = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        if id == 0 {
            return Err(CompressionError::InvalidDictionary);
        }
        Ok(Dictionary {
            id,
            bytes,
            instance: NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// Train a dictionary of at most `max_size` bytes (256 B..=[`Dictionary::MAX_SIZE`])
    /// on `samples` (for example chunks of NARs) with zstd's trainer. zstd wants many
    /// samples: roughly 100× the dictionary size in total. The samples are copied
    /// together first; [`Dictionary::train_concatenated`] takes them already so.
    #[cfg(feature = "zstd")]
    pub fn train<S: AsRef<[u8]>>(samples: &[S], max_size: usize) -> Result<Self, CompressionError> {
        check_max_size(max_size)?;
        Dictionary::new(zstd::dict::from_samples(samples, max_size).map_err(training_error)?)
    }

    /// Like [`Dictionary::train`], with the samples laid end to end in `data` (no
    /// copy): `sizes` are their lengths, in order, and must add up to `data.len()`.
    ///
    /// ```
    /// use chunker::compress::Dictionary;
    ///
    /// let mut data = Vec::new();
    /// let mut sizes = Vec::new();
    /// for i in 0..2000 {
    ///     let sample = format!("{{\"name\":\"pkg-{i}\",\"version\":\"1.{}\",\"deps\":[]}}", i % 7);
    ///     data.extend_from_slice(sample.as_bytes());
    ///     sizes.push(sample.len());
    /// }
    /// let dict = Dictionary::train_concatenated(&data, &sizes, 4096)?;
    /// assert!(dict.as_bytes().len() <= 4096);
    /// # Ok::<(), chunker::compress::CompressionError>(())
    /// ```
    #[cfg(feature = "zstd")]
    pub fn train_concatenated(
        data: &[u8],
        sizes: &[usize],
        max_size: usize,
    ) -> Result<Self, CompressionError> {
        check_max_size(max_size)?;
        let total = sizes.iter().try_fold(0usize, |t, &n| t.checked_add(n));
        if total != Some(data.len()) {
            return Err(CompressionError::InvalidSetting {
                name: "sizes",
                reason: "the sample sizes must add up to the length of the data",
            });
        }
        Dictionary::new(zstd::dict::from_continuous(data, sizes, max_size).map_err(training_error)?)
    }

    /// The shipped dictionary for NAR chunks (ID in [`Dictionary::id`]).
    pub fn nar_v1() -> Arc<Dictionary> {
        static D: OnceLock<Arc<Dictionary>> = OnceLock::new();
        D.get_or_init(|| Arc::new(Dictionary::new(NAR_V1).expect("shipped dictionary is valid")))
            .clone()
    }

    /// The ID written into frames compressed with this dictionary.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The dictionary's bytes (a zstd dictionary file).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    #[cfg_attr(not(feature = "zstd"), allow(dead_code))]
    pub(crate) fn instance(&self) -> u64 {
        self.instance
    }
}

impl std::fmt::Debug for Dictionary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dictionary")
            .field("id", &self.id)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// Dictionaries by ID, for decoding frames that name one.
#[derive(Debug, Clone, Default)]
pub struct DictionaryRegistry {
    dicts: Vec<Arc<Dictionary>>,
}

impl DictionaryRegistry {
    /// An empty registry: frames naming a dictionary fail to decode.
    pub fn new() -> Self {
        DictionaryRegistry::default()
    }

    /// A registry holding the shipped dictionaries ([`Dictionary::nar_v1`]).
    pub fn builtin() -> Self {
        DictionaryRegistry {
            dicts: vec![Dictionary::nar_v1()],
        }
    }

    /// The registry every decoder uses unless told otherwise: [`Self::builtin`].
    pub(crate) fn shared_builtin() -> Arc<DictionaryRegistry> {
        static R: OnceLock<Arc<DictionaryRegistry>> = OnceLock::new();
        R.get_or_init(|| Arc::new(DictionaryRegistry::builtin()))
            .clone()
    }

    /// Add a dictionary; one already registered under the same ID is replaced and
    /// returned.
    pub fn insert(&mut self, dict: Arc<Dictionary>) -> Option<Arc<Dictionary>> {
        match self.dicts.iter_mut().find(|d| d.id == dict.id) {
            Some(slot) => Some(std::mem::replace(slot, dict)),
            None => {
                self.dicts.push(dict);
                None
            }
        }
    }

    /// The dictionary with this ID.
    pub fn get(&self, id: u32) -> Option<&Arc<Dictionary>> {
        self.dicts.iter().find(|d| d.id == id)
    }

    /// The dictionary with this ID, or [`CompressionError::UnknownDictionary`].
    pub fn require(&self, id: u32) -> Result<&Arc<Dictionary>, CompressionError> {
        self.get(id)
            .ok_or(CompressionError::UnknownDictionary { id })
    }

    /// The IDs registered.
    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.dicts.iter().map(|d| d.id)
    }
}
