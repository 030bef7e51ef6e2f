//! Command-line definitions.

use std::path::PathBuf;

use chunker::{Encoding, HashAlgorithm, Preset};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::size::{parse_bench_size, parse_read_size, parse_size};

pub const EXIT_CODES: &str = "\
Exit codes:
  0  success (also when stdout is closed early, e.g. piped into `head`)
  1  other failure
  2  usage error (unknown option, missing or unparsable value)
  3  input could not be opened or read, or output could not be written
  4  invalid input data (bad base32, hex or digest string; corrupt, truncated or
     over-limit compressed data)
  5  invalid chunking configuration (sizes out of range or unordered)
  6  a signature or hash does not verify";

/// Content-defined chunking (FastCDC, cut points identical to the `fastcdc` crate's
/// v2020), hashing and Nix encodings for binary caches.
///
/// Sizes (`--min`, `--read-size`, `--size`, …) are bytes, or a number with K, M or G:
/// powers of 1024, so 64K, 64KB and 64KiB all mean 65536. FILE may be a FIFO; like
/// `cat`, the command then waits for a writer. Names from data (NAR entries, symlink
/// targets, paths) are escaped in text output (`\n`, `\t`, `\\`, `\xNN` for control
/// characters and bytes that are not UTF-8); in JSON a name that is not UTF-8 is written
/// as `<key>_bytes`, an array of its byte values, instead of the string `<key>`.
#[derive(Debug, Parser)]
#[command(name = "chunker", version, after_help = EXIT_CODES, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Cut a file into content-defined chunks and print one row per chunk.
    ///
    /// Rows are `offset length digest`. Text output ends with a summary line starting
    /// with `#` (count, mean/min/max size, bytes, throughput); `--format csv` has a
    /// header row `offset,length,digest`; `--format json` prints one JSON document
    /// (its summary's `mean` is always a float, also `0.0` for no chunks).
    /// A progress bar is drawn on stderr for large inputs when stderr is a terminal.
    #[command(after_help = EXIT_CODES)]
    Chunk(ChunkArgs),
    /// Hash files (flat, their bytes as they are) and print the digests.
    ///
    /// `chunker hash FILE` equals `nix-hash --type sha256 --flat --base32 FILE`. With
    /// several files, one line each in the order given, `DIGEST  FILE` as `sha256sum`
    /// lists them; SHA-256 hashes several files at once (in lanes).
    #[command(after_help = EXIT_CODES)]
    Hash(HashArgs),
    /// Nix base32 ("nix32") encoding and decoding, exactly as Nix does it.
    #[command(subcommand, after_help = EXIT_CODES)]
    Base32(Base32Command),
    /// Measure throughput against peers in the same run (see docs/BENCHMARKS.md).
    #[command(subcommand, after_help = EXIT_CODES)]
    Bench(BenchCommand),
    /// NAR archives: pack a path (= `nix-store --dump`), unpack, list.
    #[command(subcommand, after_help = EXIT_CODES)]
    Nar(NarCommand),
    /// Ed25519 signing keys in Nix's formats.
    #[command(subcommand, after_help = EXIT_CODES)]
    Key(KeyCommand),
    /// Sign and verify narinfo files.
    #[command(subcommand, after_help = EXIT_CODES)]
    Narinfo(NarinfoCommand),
    /// Compress a file (or stdin) to stdout: zstd, lz4 (frame format), xz, bzip2, or
    /// auto (zstd, or lz4 when the start of the input looks incompressible).
    #[command(after_help = EXIT_CODES)]
    Compress(CompressArgs),
    /// Decompress a file (or stdin) to stdout. The format is detected from magic bytes
    /// (zstd, xz, bzip2, lz4; gzip and others are refused); output is capped by
    /// --max-output; a truncated or corrupt stream fails with exit code 4.
    #[command(after_help = EXIT_CODES)]
    Decompress(DecompressArgs),
    /// zstd dictionaries: train one from sample files (cut into chunks), show one's ID.
    #[command(subcommand, after_help = EXIT_CODES)]
    Dict(DictCommand),
    /// A deduplicated chunk store of NARs on a directory or S3-compatible storage:
    /// init, add, get, cat, ls, rm, stats, verify.
    #[command(after_help = EXIT_CODES)]
    Store(crate::cmd::store::StoreArgs),
}

/// Chunk sizes: a preset, optionally overridden per size.
#[derive(Debug, Args, Clone)]
pub struct SizeArgs {
    /// Size preset: small = 16K/64K/256K (attic), medium = 64K/256K/1M (hestia, ncps;
    /// the default), large = 256K/1M/4M.
    #[arg(long, value_enum, default_value_t = PresetArg::Medium)]
    pub preset: PresetArg,
    /// Minimum chunk size (64..=1M), e.g. 16K. Overrides the preset's.
    #[arg(long, value_parser = parse_size, value_name = "SIZE")]
    pub min: Option<usize>,
    /// Average (target) chunk size (256..=4M), e.g. 64K. Overrides the preset's.
    #[arg(long, value_parser = parse_size, value_name = "SIZE")]
    pub avg: Option<usize>,
    /// Maximum chunk size (1K..=16M), e.g. 256K. Overrides the preset's.
    #[arg(long, value_parser = parse_size, value_name = "SIZE")]
    pub max: Option<usize>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PresetArg {
    Small,
    Medium,
    Large,
}

impl From<PresetArg> for Preset {
    fn from(p: PresetArg) -> Preset {
        match p {
            PresetArg::Small => Preset::Small,
            PresetArg::Medium => Preset::Medium,
            PresetArg::Large => Preset::Large,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HashArg {
    Sha256,
    Blake3,
    /// No digests (fastest; rows have an empty digest).
    None,
}

impl HashArg {
    pub fn algorithm(self) -> Option<HashAlgorithm> {
        match self {
            HashArg::Sha256 => Some(HashAlgorithm::Sha256),
            HashArg::Blake3 => Some(HashAlgorithm::Blake3),
            HashArg::None => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AlgoArg {
    Sha256,
    Blake3,
}

impl From<AlgoArg> for HashAlgorithm {
    fn from(a: AlgoArg) -> HashAlgorithm {
        match a {
            AlgoArg::Sha256 => HashAlgorithm::Sha256,
            AlgoArg::Blake3 => HashAlgorithm::Blake3,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EncodingArg {
    /// Lowercase hexadecimal.
    Hex,
    /// Nix base32 (what Nix prints in store paths and narinfo files).
    Nix32,
    /// Subresource Integrity: `sha256-<base64>`.
    Sri,
}

impl From<EncodingArg> for Encoding {
    fn from(e: EncodingArg) -> Encoding {
        match e {
            EncodingArg::Hex => Encoding::Hex,
            EncodingArg::Nix32 => Encoding::Nix32,
            EncodingArg::Sri => Encoding::Sri,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable rows plus a `#` summary line.
    Text,
    /// One JSON document.
    Json,
    /// Comma-separated values with a header row.
    Csv,
}

#[derive(Debug, Args)]
pub struct ChunkArgs {
    /// File to chunk; `-` or nothing reads standard input.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub sizes: SizeArgs,
    /// Digest of each chunk.
    #[arg(long, value_enum, default_value_t = HashArg::Sha256)]
    pub hash: HashArg,
    /// How digests are written.
    #[arg(long, value_enum, default_value_t = EncodingArg::Hex)]
    pub encoding: EncodingArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also hash the whole input in the same pass (like a NarHash) and report it in the
    /// summary.
    #[arg(long, value_enum, value_name = "ALGO")]
    pub stream_hash: Option<AlgoArg>,
    /// Chunk the NAR serialisation of PATH (as `nix-store --dump` writes it) instead of
    /// FILE, without writing the NAR anywhere; the summary carries its NarHash.
    #[arg(long, value_name = "PATH", conflicts_with = "file")]
    pub nar: Option<PathBuf>,
    /// Bytes per read from the input, 4K..=64M (K/M = powers of 1024; 64KB = 64KiB =
    /// 65536).
    #[arg(long, value_parser = parse_read_size, default_value = "1M", value_name = "SIZE")]
    pub read_size: usize,
    /// Read on the calling thread only. By default, with two or more CPUs, the input is
    /// read on a second thread while the first cuts and hashes (same output).
    #[arg(long)]
    pub no_read_ahead: bool,
    /// Never draw a progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Threads hashing (and compressing) chunks; 0 = one per CPU. The output is the
    /// same whatever the number.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub threads: usize,
    /// Also compress each chunk (zstd, lz4, xz, bzip2; optional level, e.g. zstd:19):
    /// adds its compressed size to each row and the ratio to the summary.
    #[arg(long, value_name = "CODEC[:LEVEL]", value_parser = parse_codec_level)]
    pub compress: Option<chunker::compress::Compressor>,
}

/// `CODEC[:LEVEL]`, the level checked against the codec's range.
fn parse_codec_level(s: &str) -> Result<chunker::compress::Compressor, String> {
    use chunker::compress::{Codec, Compressor};
    let (name, level) = match s.split_once(':') {
        Some((n, l)) => (
            n,
            Some(l.parse::<i32>().map_err(|_| format!("bad level {l:?}"))?),
        ),
        None => (s, None),
    };
    let codec: Codec = name
        .parse()
        .map_err(|e: chunker::compress::UnknownCodec| e.to_string())?;
    if codec == Codec::None {
        return Err("none is not a compression codec here".into());
    }
    let level = level.unwrap_or(codec.default_level());
    Compressor::with_level(codec, level).map_err(|e| e.to_string())
}

#[derive(Debug, Args)]
pub struct HashArgs {
    /// Files to hash, in order; `-` or nothing reads standard input (once).
    #[arg(value_name = "FILE", conflicts_with = "nar")]
    pub file: Vec<PathBuf>,
    /// Hash the NAR serialisation of PATH instead (its NarHash, = `nix-hash --type
    /// sha256 --base32 PATH`); prints `sha256:<nix32>` and the NAR size.
    #[arg(long, value_name = "PATH")]
    pub nar: Option<PathBuf>,
    /// Hash algorithm (--nar: sha256 only).
    #[arg(long, value_enum, default_value_t = AlgoArg::Sha256)]
    pub algo: AlgoArg,
    /// Output encoding: nix32 and hex print the bare digest, sri prints `sha256-…`.
    /// With --nar: `sha256:<nix32>`, `sha256:<hex>` or `sha256-<base64>`.
    #[arg(long, value_enum, default_value_t = EncodingArg::Nix32)]
    pub encoding: EncodingArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = HashFormat::Text)]
    pub format: HashFormat,
}

/// What `hash` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HashFormat {
    /// One file: the digest alone. Several: `DIGEST  FILE` per line. --nar: the
    /// NarHash, then the NAR size, on two lines.
    Text,
    /// One file (or --nar): one JSON object with the digest, algorithm, encoding and
    /// size. Several: `{"files":[…]}` with one such object per file, in order.
    Json,
    /// A header row `file,algorithm,digest,size` (--nar: `path,nar_hash,nar_size`),
    /// then one row per file.
    Csv,
}

#[derive(Debug, Subcommand)]
pub enum Base32Command {
    /// Encode bytes: the raw bytes of FILE (or stdin; at most 64 MiB, more is exit
    /// code 4), or of `--hex`.
    Encode {
        /// File whose bytes to encode; `-` or nothing reads standard input.
        #[arg(value_name = "FILE", conflicts_with = "hex")]
        file: Option<PathBuf>,
        /// Encode these bytes, given in hexadecimal, instead of reading input.
        #[arg(long, value_name = "HEX")]
        hex: Option<String>,
    },
    /// Decode a Nix base32 string; prints the bytes as hex (or raw with --raw). A
    /// `sha256:` or `blake3:` prefix (as in a NarHash) is skipped.
    Decode {
        /// The base32 string (e.g. a 52-character SHA-256).
        #[arg(value_name = "STRING")]
        string: String,
        /// Write the decoded bytes to stdout as they are.
        #[arg(long)]
        raw: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Boundary detection: every kernel of ours (and the multi-core search) next to the
    /// `fastcdc` crate, same data, same run; cut points are checked equal first.
    Cdc(BenchCdcArgs),
    /// ChunkStream over a file (read + cut + digest) next to raw cut and hash speeds.
    ///
    /// Without FILE, each `--data` kind is written to a temporary file that is unlinked
    /// at once (nothing is left behind, however the run ends). The raw rows measure the
    /// first 256 MiB at most, held in memory; the stream rows read the whole file.
    Stream(BenchStreamArgs),
    /// SHA-256 in lanes (2, 3, 4 messages at once) next to the `sha2` and `blake3`
    /// crates, on the same 64 KiB and 1 MiB messages in the same run.
    Hash(BenchHashArgs),
    /// Async chunking (SHA-256) on a one-worker tokio runtime: a 1 ms ticker's worst and
    /// p99 lag, next to a naive hash-inside-poll stream, and the sync path's throughput.
    Async(BenchAsyncArgs),
    /// The pipeline over a file (T threads) next to each stage's one-thread raw speed
    /// on the same chunks, with the ratios to the ideal T / (sum of 1 / raw stage).
    Pipeline(BenchPipelineArgs),
    /// Nix base32 encoding of a 32-byte digest, in nanoseconds per call (into a stack
    /// array, and into a new String).
    Nix32 {
        /// Output format.
        #[arg(long, value_enum, default_value_t = BenchFormat::Text)]
        format: BenchFormat,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DataArg {
    Random,
    Text,
    Binary,
    /// All three generated kinds, one after the other.
    All,
}

#[derive(Debug, Args)]
pub struct BenchCommon {
    /// Bytes of generated data per kind, 4K..=64G. With FILE, `bench cdc` holds FILE in
    /// memory and refuses one larger than this (exit code 4); `bench stream` ignores it.
    #[arg(long, value_parser = parse_bench_size, default_value = "256M", value_name = "SIZE")]
    pub size: usize,
    /// Kind of generated data (ignored with FILE).
    #[arg(long, value_enum, default_value_t = DataArg::All)]
    pub data: DataArg,
    /// Repetitions per row; the median is reported.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = BenchFormat::Text)]
    pub format: BenchFormat,
}

#[derive(Debug, Args)]
pub struct BenchCdcArgs {
    /// Benchmark on this file's bytes (for example a real NAR) instead of generated data.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Threads for the multi-core rows (`kernel:<name>:threads=<n>`); 0 = all CPUs,
    /// 1 = no multi-core rows.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    #[command(flatten)]
    pub sizes: SizeArgs,
    #[command(flatten)]
    pub common: BenchCommon,
}

#[derive(Debug, Args)]
pub struct BenchStreamArgs {
    /// Stream this regular file instead of a generated temporary one.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub sizes: SizeArgs,
    #[command(flatten)]
    pub common: BenchCommon,
}

#[derive(Debug, Args)]
pub struct BenchHashArgs {
    /// Cut the messages from this file (its first 64 MiB) instead of random bytes.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Bytes hashed per row and message size, 4K..=64G (at least one message).
    #[arg(long, value_parser = parse_bench_size, default_value = "32M", value_name = "SIZE")]
    pub size: usize,
    /// Repetitions per row; the median is reported.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = BenchFormat::Text)]
    pub format: BenchFormat,
}

#[derive(Debug, Args)]
pub struct BenchAsyncArgs {
    /// Bytes of generated (random) data, 4K..=64G.
    #[arg(long, value_parser = parse_bench_size, default_value = "1G", value_name = "SIZE")]
    pub size: usize,
    /// Repetitions per row; medians (and the worst lag of all runs) are reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = BenchFormat::Text)]
    pub format: BenchFormat,
}

#[derive(Debug, Args)]
pub struct BenchPipelineArgs {
    /// Run on this file (for example a real NAR) instead of a generated temporary one.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Threads of the pipeline rows; 0 = all CPUs.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    #[command(flatten)]
    pub sizes: SizeArgs,
    #[command(flatten)]
    pub common: BenchCommon,
}

#[derive(Debug, Subcommand)]
pub enum NarCommand {
    /// Write the NAR of PATH to stdout (byte-identical to `nix-store --dump PATH`).
    Pack {
        /// File, symlink or directory to serialise.
        #[arg(value_name = "PATH")]
        path: PathBuf,
    },
    /// Restore a NAR as DIR, which must not exist (= `nix-store --restore DIR`).
    Unpack {
        /// The NAR; `-` reads standard input.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Where to create the tree.
        #[arg(value_name = "DIR")]
        dest: PathBuf,
    },
    /// List the entries of a NAR (validating it).
    Ls {
        /// The NAR; `-` or nothing reads standard input.
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
        /// Output format: text rows `type size path [-> target]`, or one JSON document.
        #[arg(long, value_enum, default_value_t = BenchFormat::Text)]
        format: BenchFormat,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Generate a key pair from OS randomness (like `nix-store
    /// --generate-binary-cache-key NAME SECRET PUBLIC`).
    /// Neither file may exist (a key is never overwritten); on any failure neither is
    /// left behind.
    Generate {
        /// Key name, e.g. `cache.example.org-1`.
        #[arg(value_name = "NAME")]
        name: String,
        /// File to create for the secret key (mode 0600; never overwritten).
        #[arg(long, value_name = "FILE")]
        secret: PathBuf,
        /// File to create for the public key.
        #[arg(long, value_name = "FILE")]
        public: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum NarinfoCommand {
    /// Sign a narinfo (references sorted, as Nix does) and print it.
    Sign {
        /// Secret key file in Nix's format (`name:base64`).
        #[arg(long, value_name = "FILE")]
        key_file: PathBuf,
        /// The narinfo; `-` reads standard input.
        #[arg(value_name = "NARINFO")]
        narinfo: PathBuf,
    },
    /// Exit 0 only when a signature by one of the keys verifies (exit 6 otherwise).
    Verify {
        /// Trusted public key `name:base64` (repeatable).
        #[arg(long, value_name = "KEY", required = true)]
        public_key: Vec<String>,
        /// The narinfo; `-` reads standard input.
        #[arg(value_name = "NARINFO")]
        narinfo: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CodecArg {
    Zstd,
    Lz4,
    Xz,
    Bzip2,
    /// compress: zstd, or lz4 when the first 64 KiB look incompressible (compressed
    /// or media magic bytes, high entropy); decompress: detect from magic bytes.
    Auto,
}

#[derive(Debug, Args)]
pub struct CompressArgs {
    /// File to compress; `-` or nothing reads standard input.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Codec.
    #[arg(long, value_enum, default_value_t = CodecArg::Zstd)]
    pub codec: CodecArg,
    /// Level (zstd 1..=22, default 3; xz 0..=9, default 6; bzip2 1..=9, default 9;
    /// lz4 1). With `--codec auto` the level is zstd's (checked as such up front) and
    /// is not used when auto picks lz4 for incompressible input.
    #[arg(long, value_name = "N")]
    pub level: Option<i32>,
    /// zstd dictionary file (e.g. from `chunker dict train`, at most 16M); frames
    /// carry its ID. With `--codec zstd` or `auto` only (not used when auto picks lz4).
    #[arg(long, value_name = "FILE")]
    pub dict: Option<PathBuf>,
    /// xz encoder threads, with `--codec xz` only (needs a build with the
    /// `xz-parallel` feature for > 1).
    #[arg(long, default_value_t = 1, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: u32,
    /// Leave the content checksum out of zstd frames (4 bytes each). Only where
    /// something else verifies the output (a chunk digest, a NarHash): without the
    /// checksum a damaged frame can decode to wrong bytes with exit 0. lz4, xz and
    /// bzip2 always carry theirs.
    #[arg(long)]
    pub no_checksum: bool,
}

#[derive(Debug, Args)]
pub struct DecompressArgs {
    /// File to decompress; `-` or nothing reads standard input.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Expected format; auto detects it from the magic bytes.
    #[arg(long, value_enum, default_value_t = CodecArg::Auto)]
    pub codec: CodecArg,
    /// Refuse to write more than this many bytes (exit code 4), e.g. 64M.
    #[arg(long, value_parser = parse_size, default_value = "4G", value_name = "SIZE")]
    pub max_output: usize,
    /// zstd dictionary file to decode frames that name its ID (in addition to the
    /// shipped NAR dictionary).
    #[arg(long, value_name = "FILE")]
    pub dict: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum DictCommand {
    /// Train a zstd dictionary on content-defined chunks of FILEs (e.g. NARs from
    /// `nix-store --dump`); writes it to --output (or stdout) and reports its ID.
    Train(DictTrainArgs),
    /// Print a dictionary's ID and size (a dictionary has at most 16M).
    Info {
        /// The dictionary file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct DictTrainArgs {
    /// Sample files (regular files: their sizes are needed up front); each is cut
    /// into chunks, which are sampled.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Where to write the dictionary; stdout when absent.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Largest dictionary size (256 B to 16M).
    #[arg(long, value_parser = parse_dict_max_size, default_value = "112K", value_name = "SIZE")]
    pub max_size: usize,
    /// Minimum sample chunk size.
    #[arg(long, value_parser = parse_size, default_value = "4K", value_name = "SIZE")]
    pub chunk_min: usize,
    /// Average sample chunk size (match the chunks the dictionary will compress).
    #[arg(long, value_parser = parse_size, default_value = "16K", value_name = "SIZE")]
    pub chunk_avg: usize,
    /// Maximum sample chunk size.
    #[arg(long, value_parser = parse_size, default_value = "64K", value_name = "SIZE")]
    pub chunk_max: usize,
    /// Cap on the total bytes of samples (1K to 2G); when the chunks add up to more,
    /// every k-th chunk is taken (evenly over all files). Memory is about this much
    /// plus the trainer's, whatever the size of the FILEs.
    #[arg(long, value_parser = parse_dict_sample_bytes, default_value = "32M", value_name = "SIZE")]
    pub sample_bytes: usize,
}

/// Largest `--sample-bytes`: 2 GiB, inside what zstd's trainer accepts (under 4 GiB
/// of samples) and already far more than a dictionary needs (~100× its size).
const MAX_SAMPLE_BYTES: usize = 2 << 30;

/// `--max-size`: a size from 256 B to `Dictionary::MAX_SIZE` (16 MiB).
fn parse_dict_max_size(s: &str) -> Result<usize, String> {
    let n = parse_size(s)?;
    if (256..=chunker::compress::Dictionary::MAX_SIZE).contains(&n) {
        Ok(n)
    } else {
        Err(format!(
            "{s:?} is out of range: a dictionary has 256 B to 16M"
        ))
    }
}

/// `--sample-bytes`: a size from 1K to 2G.
fn parse_dict_sample_bytes(s: &str) -> Result<usize, String> {
    let n = parse_size(s)?;
    if (1 << 10..=MAX_SAMPLE_BYTES).contains(&n) {
        Ok(n)
    } else {
        Err(format!("{s:?} is out of range: samples total 1K to 2G"))
    }
}
