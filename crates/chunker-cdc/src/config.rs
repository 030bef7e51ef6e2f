//! Chunking configuration: sizes, validation, presets and the derived masks.

use core::fmt;
use core::str::FromStr;

/// Smallest valid minimum chunk size (FastCDC v2020).
pub const MIN_SIZE_MIN: usize = 64;
/// Largest valid minimum chunk size (FastCDC v2020).
pub const MIN_SIZE_MAX: usize = 1 << 20;
/// Smallest valid average chunk size (FastCDC v2020).
pub const AVG_SIZE_MIN: usize = 256;
/// Largest valid average chunk size (FastCDC v2020).
pub const AVG_SIZE_MAX: usize = 4 << 20;
/// Smallest valid maximum chunk size (FastCDC v2020).
pub const MAX_SIZE_MIN: usize = 1024;
/// Largest valid maximum chunk size (FastCDC v2020).
pub const MAX_SIZE_MAX: usize = 16 << 20;

/// Judgement masks by number of effective bits (index = bits), as published with
/// FastCDC (destor C reference for 64 B..128 KiB, restic-FastCDC above). Entries 0..=4
/// are never selected for valid averages.
const MASKS: [u64; 26] = [
    0,
    0,
    0,
    0,
    0,
    0x0000_0000_0180_4110,
    0x0000_0000_0180_3110,
    0x0000_0000_1803_5100,
    0x0000_0018_0003_5300,
    0x0000_0190_0035_3000,
    0x0000_5900_0353_0000,
    0x0000_d900_0353_0000,
    0x0000_d901_0353_0000,
    0x0000_d903_0353_0000,
    0x0000_d903_1353_0000,
    0x0000_d90f_0353_0000,
    0x0000_d903_0353_7000,
    0x0000_d907_0353_7000,
    0x0000_d907_0753_7000,
    0x0000_d917_0753_7000,
    0x0000_d917_4753_7000,
    0x0000_d917_6753_7000,
    0x0000_d937_6753_7000,
    0x0000_d937_7753_7000,
    0x0000_d937_7757_7000,
    0x0000_db37_7757_7000,
];

/// Which size a [`ConfigError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SizeField {
    /// The minimum chunk size.
    Min,
    /// The average (target) chunk size.
    Avg,
    /// The maximum chunk size.
    Max,
}

impl fmt::Display for SizeField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SizeField::Min => "min",
            SizeField::Avg => "avg",
            SizeField::Max => "max",
        })
    }
}

/// Why a chunking configuration was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A size lies outside the range FastCDC v2020 supports.
    #[error("{field} size {value} is out of range: allowed {allowed_min}..={allowed_max} bytes")]
    OutOfRange {
        /// The offending field.
        field: SizeField,
        /// The value given.
        value: usize,
        /// Smallest allowed value.
        allowed_min: usize,
        /// Largest allowed value.
        allowed_max: usize,
    },
    /// The sizes are not ordered `min <= avg <= max`.
    #[error("sizes must satisfy min <= avg <= max, got min {min}, avg {avg}, max {max}")]
    Unordered {
        /// The minimum size given.
        min: usize,
        /// The average size given.
        avg: usize,
        /// The maximum size given.
        max: usize,
    },
}

/// A named size triple used by Nix binary caches in practice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Preset {
    /// 16 KiB / 64 KiB / 256 KiB — attic's sizes; the most dedup, the most chunks.
    Small,
    /// 64 KiB / 256 KiB / 1 MiB — hestia's and ncps's sizes; the default (see [`Config::default`]).
    #[default]
    Medium,
    /// 256 KiB / 1 MiB / 4 MiB — fewest chunks, smallest manifests.
    Large,
}

impl Preset {
    /// All presets, smallest first.
    pub const ALL: [Preset; 3] = [Preset::Small, Preset::Medium, Preset::Large];

    /// The `(min, avg, max)` sizes of this preset, in bytes.
    pub const fn sizes(self) -> (usize, usize, usize) {
        match self {
            Preset::Small => (16 << 10, 64 << 10, 256 << 10),
            Preset::Medium => (64 << 10, 256 << 10, 1 << 20),
            Preset::Large => (256 << 10, 1 << 20, 4 << 20),
        }
    }

    /// The preset's name as accepted by [`FromStr`]: `small`, `medium` or `large`.
    pub const fn name(self) -> &'static str {
        match self {
            Preset::Small => "small",
            Preset::Medium => "medium",
            Preset::Large => "large",
        }
    }

    /// The validated configuration of this preset.
    pub fn config(self) -> Config {
        let (min, avg, max) = self.sizes();
        Config::new(min, avg, max).expect("presets are valid")
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A preset name that is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown preset {name:?}: expected small (16K/64K/256K), medium (64K/256K/1M) or large (256K/1M/4M)")]
pub struct UnknownPreset {
    /// The name given.
    pub name: String,
}

impl FromStr for Preset {
    type Err = UnknownPreset;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "small" => Ok(Preset::Small),
            "medium" => Ok(Preset::Medium),
            "large" => Ok(Preset::Large),
            _ => Err(UnknownPreset { name: s.to_owned() }),
        }
    }
}

/// A validated FastCDC v2020 configuration (normalization level 1, standard gear table).
///
/// Cut points equal those of `fastcdc::v2020::FastCDC::new(data, min, avg, max)` for
/// every configuration this type accepts, odd sizes included: like the reference, the
/// scan works on byte pairs, so an odd `min` starts the scan one byte earlier, an odd
/// `avg` switches masks one byte earlier, and the last byte of an odd `max` (or of an
/// odd-length final chunk) is never a cut candidate.
///
/// ```
/// use chunker_cdc::{Config, ConfigError, SizeField};
///
/// let cfg = Config::builder().min(16 * 1024).avg(64 * 1024).max(256 * 1024).build()?;
/// assert_eq!(cfg.avg_size(), 65536);
///
/// let err = Config::new(16, 64 * 1024, 256 * 1024).unwrap_err();
/// assert!(matches!(err, ConfigError::OutOfRange { field: SizeField::Min, value: 16, .. }));
/// # Ok::<(), ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Config {
    min: u32,
    avg: u32,
    max: u32,
    mask_s: u64,
    mask_l: u64,
}

impl Default for Config {
    /// 64 KiB / 256 KiB / 1 MiB ([`Preset::Medium`]). Evidence: hestia measured dedup
    /// nearly flat from 64 KiB to 1 MiB averages, while a 256 KiB average cut manifest
    /// size by 26–35 % and chunking time by ~40 % against 64 KiB; ncps uses the same
    /// triple.
    fn default() -> Self {
        Preset::Medium.config()
    }
}

fn check(field: SizeField, value: usize, lo: usize, hi: usize) -> Result<(), ConfigError> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange {
            field,
            value,
            allowed_min: lo,
            allowed_max: hi,
        })
    }
}

/// `round(log2(v))` for `v >= 1`, exactly as the reference computes it in `f64`.
const fn log2_round(v: u32) -> u32 {
    let floor = 31 - v.leading_zeros();
    // round half up: compare v against 2^floor * sqrt(2), i.e. v^2 >= 2^(2*floor+1).
    let v2 = (v as u64) * (v as u64);
    if v2 >= 1u64 << (2 * floor + 1) {
        floor + 1
    } else {
        floor
    }
}

impl Config {
    /// Validate `min <= avg <= max` within the v2020 ranges.
    pub fn new(min: usize, avg: usize, max: usize) -> Result<Self, ConfigError> {
        check(SizeField::Min, min, MIN_SIZE_MIN, MIN_SIZE_MAX)?;
        check(SizeField::Avg, avg, AVG_SIZE_MIN, AVG_SIZE_MAX)?;
        check(SizeField::Max, max, MAX_SIZE_MIN, MAX_SIZE_MAX)?;
        if !(min <= avg && avg <= max) {
            return Err(ConfigError::Unordered { min, avg, max });
        }
        // In range, so these fit in u32.
        let (min, avg, max) = (min as u32, avg as u32, max as u32);
        let bits = log2_round(avg) as usize;
        Ok(Config {
            min,
            avg,
            max,
            mask_s: MASKS[bits + 1],
            mask_l: MASKS[bits - 1],
        })
    }

    /// Start a [`ConfigBuilder`] from the default sizes.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// Minimum chunk size in bytes (only the final chunk of a stream may be shorter).
    pub const fn min_size(&self) -> usize {
        self.min as usize
    }

    /// Target average chunk size in bytes.
    pub const fn avg_size(&self) -> usize {
        self.avg as usize
    }

    /// Maximum chunk size in bytes.
    pub const fn max_size(&self) -> usize {
        self.max as usize
    }

    /// The stricter mask used before the average point.
    pub const fn mask_small(&self) -> u64 {
        self.mask_s
    }

    /// The looser mask used after the average point.
    pub const fn mask_large(&self) -> u64 {
        self.mask_l
    }

    /// The published mask with `log2(avg)` bits, between [`mask_small`](Self::mask_small)
    /// and [`mask_large`](Self::mask_large). FastCDC v2020 itself never tests it; it is
    /// what a single-mask gear chunker (no normalisation) would use for this average, and
    /// is offered for comparisons with such chunkers.
    ///
    /// ```
    /// let c = chunker_cdc::Config::new(16 << 10, 64 << 10, 256 << 10)?;
    /// assert_eq!(c.mask_normal().count_ones(), 16);
    /// # Ok::<(), chunker_cdc::ConfigError>(())
    /// ```
    pub const fn mask_normal(&self) -> u64 {
        MASKS[log2_round(self.avg) as usize]
    }

    /// First chunk-relative position whose hash is tested (`min` rounded down to even).
    pub(crate) const fn scan_start(&self) -> usize {
        (self.min & !1) as usize
    }

    /// First position tested with the large mask (`avg` rounded down to even).
    pub(crate) const fn mask_switch(&self) -> usize {
        (self.avg & !1) as usize
    }

    /// End (exclusive) of the positions ever tested (`max` rounded down to even).
    pub(crate) const fn scan_end(&self) -> usize {
        (self.max & !1) as usize
    }
}

/// Builder for [`Config`]; validation happens in [`ConfigBuilder::build`], in every
/// build profile.
///
/// ```
/// use chunker_cdc::{Config, Preset};
/// let cfg = Config::builder().preset(Preset::Small).max(128 * 1024).build().unwrap();
/// assert_eq!((cfg.min_size(), cfg.avg_size(), cfg.max_size()), (16384, 65536, 131072));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigBuilder {
    min: usize,
    avg: usize,
    max: usize,
}

impl Default for ConfigBuilder {
    fn default() -> Self {
        let (min, avg, max) = Preset::default().sizes();
        ConfigBuilder { min, avg, max }
    }
}

impl ConfigBuilder {
    /// Take all three sizes from a preset.
    pub fn preset(mut self, preset: Preset) -> Self {
        (self.min, self.avg, self.max) = preset.sizes();
        self
    }
    /// Set the minimum chunk size.
    pub fn min(mut self, bytes: usize) -> Self {
        self.min = bytes;
        self
    }
    /// Set the average chunk size.
    pub fn avg(mut self, bytes: usize) -> Self {
        self.avg = bytes;
        self
    }
    /// Set the maximum chunk size.
    pub fn max(mut self, bytes: usize) -> Self {
        self.max = bytes;
        self
    }
    /// Validate and build.
    pub fn build(self) -> Result<Config, ConfigError> {
        Config::new(self.min, self.avg, self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2_round_matches_float() {
        for v in (AVG_SIZE_MIN as u32..=70_000).chain([
            92_681,
            92_682,
            185_363,
            185_364,
            2_965_820,
            2_965_821,
            AVG_SIZE_MAX as u32,
        ]) {
            assert_eq!(log2_round(v), f64::from(v).log2().round() as u32, "v={v}");
        }
    }

    #[test]
    fn ranges_are_enforced_with_fields() {
        assert_eq!(
            Config::new(63, 1024, 4096),
            Err(ConfigError::OutOfRange {
                field: SizeField::Min,
                value: 63,
                allowed_min: 64,
                allowed_max: 1 << 20
            })
        );
        assert!(matches!(
            Config::new(64, 255, 4096),
            Err(ConfigError::OutOfRange {
                field: SizeField::Avg,
                value: 255,
                ..
            })
        ));
        assert!(matches!(
            Config::new(64, 256, 1023),
            Err(ConfigError::OutOfRange {
                field: SizeField::Max,
                value: 1023,
                ..
            })
        ));
        assert!(matches!(
            Config::new(64, 256, (16 << 20) + 1),
            Err(ConfigError::OutOfRange {
                field: SizeField::Max,
                ..
            })
        ));
        assert_eq!(
            Config::new(4096, 2048, 8192),
            Err(ConfigError::Unordered {
                min: 4096,
                avg: 2048,
                max: 8192
            })
        );
        assert!(Config::new(64, 256, 1024).is_ok());
        assert!(Config::new(1 << 20, 4 << 20, 16 << 20).is_ok());
        assert!(Config::new(usize::MAX, 1, 0).is_err());
    }

    #[test]
    fn presets_parse_and_validate() {
        for p in Preset::ALL {
            assert_eq!(p.name().parse::<Preset>().unwrap(), p);
            let c = p.config();
            assert_eq!((c.min_size(), c.avg_size(), c.max_size()), p.sizes());
        }
        assert!("huge".parse::<Preset>().is_err());
        assert_eq!(Config::default(), Preset::Medium.config());
    }
}
