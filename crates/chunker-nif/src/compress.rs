//! Compression: `Chunker.Compress`. Both directions run on dirty CPU schedulers:
//! a slow codec at a high level spends milliseconds even on small inputs.

use chunker::compress::{Codec, Compressor, Decompressor};
use rustler::{Binary, Encoder, Env, Term};

use crate::chunk::owned_binary;
use crate::error::{to_term, NifError};

fn codec(name: &str) -> Result<Codec, NifError> {
    let codec: Codec = name
        .parse()
        .map_err(|e: chunker::compress::UnknownCodec| NifError::invalid_option(e.to_string()))?;
    Ok(codec)
}

/// `Chunker.Native.compress/3`: `data` with codec `name` at `level` (`nil`: the codec's
/// default) → `{:ok, compressed}`.
#[rustler::nif(schedule = "DirtyCpu")]
fn compress<'a>(env: Env<'a>, data: Binary<'a>, name: String, level: Option<i32>) -> Term<'a> {
    let result = codec(&name).and_then(|codec| {
        let compressor = match level {
            Some(level) => Compressor::with_level(codec, level)?,
            None => Compressor::new(codec),
        };
        let out = compressor.compress(data.as_slice())?;
        Ok(owned_binary(env, out).encode(env))
    });
    to_term(env, result)
}

/// `Chunker.Native.decompress/3`: decode `data` (codec `name`, or detected from the
/// magic bytes when `nil`), producing at most `max_output` bytes → `{:ok, bytes}`;
/// more is `{:error, {:size_exceeded, _}}`.
#[rustler::nif(schedule = "DirtyCpu")]
fn decompress<'a>(
    env: Env<'a>,
    data: Binary<'a>,
    max_output: u64,
    name: Option<String>,
) -> Term<'a> {
    let result = (|| {
        let limit = usize::try_from(max_output).unwrap_or(usize::MAX);
        let mut d = Decompressor::new().max_output(limit);
        if let Some(name) = name {
            d = d.codec(codec(&name)?);
        }
        let out = d.decompress(data.as_slice())?;
        Ok(owned_binary(env, out).encode(env))
    })();
    to_term(env, result)
}
