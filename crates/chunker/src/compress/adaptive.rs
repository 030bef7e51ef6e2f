//! Adaptive compression: spend CPU only where it pays.
//!
//! A chunk is classified cheaply — magic bytes of compressed and media formats at its
//! start, then the order-0 entropy of a sample (at most [`Adaptive::sample_size`]
//! bytes, taken from four places across the chunk). Incompressible chunks are stored
//! (or given to a fast codec, when one is set); the others are compressed with the main
//! codec, and the result is kept only when it saves at least
//! [`Adaptive::min_saving`] of the input. The codec actually used is returned so the
//! caller can record it (`Codec::None`: store the input as it is).

use super::{Codec, CompressionError, Compressor};

/// What [`classify`] decided.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Class {
    /// Worth compressing.
    Compressible,
    /// Starts with the magic bytes of a compressed or media format.
    Compressed {
        /// The format recognised (e.g. `"gzip"`, `"png"`).
        format: &'static str,
    },
    /// The sample's entropy is at or above the threshold.
    HighEntropy {
        /// Estimated bits per byte of the sample (0..=8).
        bits_per_byte: f32,
    },
}

impl Class {
    /// `Compressed` or `HighEntropy`.
    pub fn is_incompressible(&self) -> bool {
        !matches!(self, Class::Compressible)
    }
}

/// Formats that do not compress further, by their leading bytes.
fn compressed_format(data: &[u8]) -> Option<&'static str> {
    const MAGICS: &[(&[u8], &str)] = &[
        (&[0x1F, 0x8B], "gzip"),
        (&[0x28, 0xB5, 0x2F, 0xFD], "zstd"),
        (&[0xFD, b'7', b'z', b'X', b'Z', 0], "xz"),
        (b"BZh", "bzip2"),
        (&[0x04, 0x22, 0x4D, 0x18], "lz4"),
        (&[0x89, b'P', b'N', b'G'], "png"),
        (&[0xFF, 0xD8, 0xFF], "jpeg"),
        (b"GIF8", "gif"),
        (b"PK\x03\x04", "zip"),
        (&[b'7', b'z', 0xBC, 0xAF], "7z"),
        (b"OggS", "ogg"),
        (b"fLaC", "flac"),
        (b"ID3", "mp3"),
        (b"wOF2", "woff2"),
        (b"wOFF", "woff"),
    ];
    for (magic, name) in MAGICS {
        if data.starts_with(magic) {
            return Some(name);
        }
    }
    if data.len() >= 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        return Some("webp");
    }
    if data.len() >= 12 && &data[4..8] == b"ftyp" {
        return Some("mp4");
    }
    None
}

/// Order-0 entropy in bits per byte of up to `sample` bytes of `data`, taken as four
/// equal windows spread over it.
fn entropy(data: &[u8], sample: usize) -> f32 {
    let mut counts = [0u32; 256];
    let mut n = 0usize;
    if data.len() <= sample {
        for &b in data {
            counts[b as usize] += 1;
        }
        n = data.len();
    } else {
        let window = (sample / 4).max(1);
        let stride = (data.len() - window) / 3;
        for k in 0..4 {
            for &b in &data[k * stride..k * stride + window] {
                counts[b as usize] += 1;
            }
            n += window;
        }
    }
    if n == 0 {
        return 0.0;
    }
    let nf = n as f32;
    let sum: f32 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| (c as f32) * (c as f32).log2())
        .sum();
    (nf.log2() - sum / nf).max(0.0)
}

/// Classify `data` with the default settings of [`Adaptive::new`].
pub fn classify(data: &[u8]) -> Class {
    Adaptive::new().classify(data)
}

/// Adaptive compression settings: classify, then skip, use a fast codec, or compress
/// and keep the output only when it saves at least [`Adaptive::min_saving`].
#[derive(Debug, Clone)]
pub struct Adaptive {
    main: Compressor,
    fast: Option<Compressor>,
    min_saving: f64,
    entropy_threshold: f32,
    sample_size: usize,
}

impl Default for Adaptive {
    fn default() -> Self {
        Adaptive::new()
    }
}

impl Adaptive {
    /// zstd level 3 for compressible chunks, store incompressible ones, keep output
    /// that saves at least 3 %, entropy threshold 7.6 bits/byte over a 4 KiB sample.
    pub fn new() -> Adaptive {
        Adaptive {
            main: Compressor::new(Codec::Zstd),
            fast: None,
            min_saving: 0.03,
            entropy_threshold: 7.6,
            sample_size: 4096,
        }
    }

    /// The codec for compressible chunks.
    pub fn compressor(mut self, main: Compressor) -> Adaptive {
        self.main = main;
        self
    }

    /// A fast codec to try on incompressible chunks instead of storing them (e.g. lz4);
    /// `None` stores them.
    pub fn fast(mut self, fast: Option<Compressor>) -> Adaptive {
        self.fast = fast;
        self
    }

    /// The smallest saving (fraction of the input, `0.0..1.0`) for which the compressed
    /// form is kept.
    pub fn min_saving(mut self, ratio: f64) -> Result<Adaptive, CompressionError> {
        if !(0.0..1.0).contains(&ratio) {
            return Err(CompressionError::InvalidSetting {
                name: "min_saving",
                reason: "must be in 0.0..1.0",
            });
        }
        self.min_saving = ratio;
        Ok(self)
    }

    /// Entropy (bits per byte, `0.0..=8.0`) at or above which a chunk is treated as
    /// incompressible. `8.0` all but turns the check off: a sample reaches it only when
    /// every byte value is exactly equally frequent.
    pub fn entropy_threshold(mut self, bits: f32) -> Result<Adaptive, CompressionError> {
        if !(0.0..=8.0).contains(&bits) {
            return Err(CompressionError::InvalidSetting {
                name: "entropy_threshold",
                reason: "must be in 0.0..=8.0",
            });
        }
        self.entropy_threshold = bits;
        Ok(self)
    }

    /// Bytes sampled for the entropy estimate (at least 64).
    pub fn sample_size(mut self, bytes: usize) -> Result<Adaptive, CompressionError> {
        if bytes < 64 {
            return Err(CompressionError::InvalidSetting {
                name: "sample_size",
                reason: "must be at least 64",
            });
        }
        self.sample_size = bytes;
        Ok(self)
    }

    /// Classify `data`: magic bytes first, then the entropy of a sample.
    pub fn classify(&self, data: &[u8]) -> Class {
        if let Some(format) = compressed_format(data) {
            return Class::Compressed { format };
        }
        let bits = entropy(data, self.sample_size);
        if bits >= self.entropy_threshold {
            Class::HighEntropy {
                bits_per_byte: bits,
            }
        } else {
            Class::Compressible
        }
    }

    fn worth(&self, input: usize, output: usize) -> bool {
        (output as f64) <= (input as f64) * (1.0 - self.min_saving)
    }

    /// Compress `data` appending to `out` and return the codec used. `Codec::None`
    /// means nothing was appended: store `data` itself.
    pub fn compress_into(&self, data: &[u8], out: &mut Vec<u8>) -> Result<Codec, CompressionError> {
        let compressor = if self.classify(data).is_incompressible() {
            match &self.fast {
                Some(fast) => fast,
                None => return Ok(Codec::None),
            }
        } else {
            &self.main
        };
        let start = out.len();
        let n = compressor.compress_into(data, out)?;
        if compressor.codec() != Codec::None && self.worth(data.len(), n) {
            Ok(compressor.codec())
        } else {
            out.truncate(start);
            Ok(Codec::None)
        }
    }

    /// Like [`Adaptive::compress_into`], returning the bytes to store (the input itself
    /// for `Codec::None`).
    pub fn compress<'a>(
        &self,
        data: &'a [u8],
    ) -> Result<(Codec, std::borrow::Cow<'a, [u8]>), CompressionError> {
        let mut out = Vec::new();
        match self.compress_into(data, &mut out)? {
            Codec::None => Ok((Codec::None, std::borrow::Cow::Borrowed(data))),
            codec => Ok((codec, std::borrow::Cow::Owned(out))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_known_inputs() {
        assert_eq!(entropy(&[7u8; 5000], 4096), 0.0);
        let two: Vec<u8> = (0..5000).map(|i| (i % 2) as u8).collect();
        assert!((entropy(&two, 4096) - 1.0).abs() < 1e-3);
        let all: Vec<u8> = (0..8192u32).map(|i| i as u8).collect();
        assert!((entropy(&all, 8192) - 8.0).abs() < 1e-3);
    }

    #[test]
    fn magic_classes() {
        assert_eq!(
            classify(&[0x1F, 0x8B, 8, 0, 0]),
            Class::Compressed { format: "gzip" }
        );
        assert_eq!(
            classify(b"\x00\x00\x00\x18ftypmp42"),
            Class::Compressed { format: "mp4" }
        );
        assert_eq!(classify(&b"hello world ".repeat(100)), Class::Compressible);
    }
}
