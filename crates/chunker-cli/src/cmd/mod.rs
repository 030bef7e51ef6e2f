//! One module per subcommand.

mod base32;
mod bench;
mod bench_async;
mod bench_hash;
mod chunk;
mod compress;
mod dict;
mod hash;
mod key;
mod nar;
mod narinfo;
pub mod store;
pub mod store_gc;

use chunker::{Config, Preset};

use crate::cli::{Cli, Command, SizeArgs};
use crate::error::{Code, Result, WithCode};

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Chunk(a) => chunk::run(a),
        Command::Hash(a) => hash::run(a),
        Command::Base32(c) => base32::run(c),
        Command::Bench(c) => bench::run(c),
        Command::Nar(c) => nar::run(c),
        Command::Key(c) => key::run(c),
        Command::Narinfo(c) => narinfo::run(c),
        Command::Compress(a) => compress::compress(a),
        Command::Decompress(a) => compress::decompress(a),
        Command::Dict(c) => dict::run(c),
        Command::Store(a) => store::run(a),
    }
}

/// The validated configuration from a preset and per-size overrides.
pub fn config(sizes: &SizeArgs) -> Result<Config> {
    let preset: Preset = sizes.preset.into();
    let mut b = Config::builder().preset(preset);
    if let Some(v) = sizes.min {
        b = b.min(v);
    }
    if let Some(v) = sizes.avg {
        b = b.avg(v);
    }
    if let Some(v) = sizes.max {
        b = b.max(v);
    }
    b.build().code(Code::Config)
}
