//! Hashing and Nix base32: `Chunker.Hash`.

use chunker::hash::{nix32, Digest, HashAlgorithm};
use rustler::{Atom, Binary, Encoder, Env, Term};

use crate::atoms;
use crate::chunk::{algorithm, digest_binary, owned_binary};
use crate::error::{to_term, NifError};

fn hash_impl<'a>(env: Env<'a>, data: Binary<'a>, algo: Atom) -> Term<'a> {
    let result = algorithm(algo).and_then(|a| {
        let a = a.ok_or_else(|| NifError::invalid_option("hash must be :sha256 or :blake3"))?;
        Ok(digest_binary(env, &chunker::hash(a, data.as_slice())).encode(env))
    });
    to_term(env, result)
}

normal_and_dirty! {
    /// `Chunker.Native.hash/2` (`hash_dirty/2`): `{:ok, <<32 bytes>>}`.
    hash / hash_dirty => hash_impl<'a>(data: Binary<'a>, algo: Atom)
}

fn nix32_encode_impl<'a>(env: Env<'a>, data: Binary<'a>) -> Term<'a> {
    owned_binary(env, nix32::encode(data.as_slice()).into_bytes()).encode(env)
}

normal_and_dirty! {
    /// `Chunker.Native.nix32_encode/1` (`nix32_encode_dirty/1`): the Nix base32 text.
    nix32_encode / nix32_encode_dirty => nix32_encode_impl<'a>(data: Binary<'a>)
}

fn nix32_decode_impl<'a>(env: Env<'a>, text: Binary<'a>) -> Term<'a> {
    let result = std::str::from_utf8(text.as_slice())
        .map_err(|_| NifError::invalid_encoding("nix32 text is not UTF-8"))
        .and_then(|s| Ok(nix32::decode(s)?))
        .map(|bytes| owned_binary(env, bytes).encode(env));
    to_term(env, result)
}

normal_and_dirty! {
    /// `Chunker.Native.nix32_decode/1` (`nix32_decode_dirty/1`): `{:ok, bytes}`.
    nix32_decode / nix32_decode_dirty => nix32_decode_impl<'a>(text: Binary<'a>)
}

fn algorithm_atom(a: HashAlgorithm) -> Atom {
    match a {
        HashAlgorithm::Blake3 => atoms::blake3(),
        _ => atoms::sha256(),
    }
}

/// `Chunker.Native.digest_parse/1`: `sha256:<nix32>`, `sha256:<hex>` or
/// `sha256-<base64>` (likewise `blake3`) → `{:ok, {algorithm, <<32 bytes>>}}`.
#[rustler::nif]
fn digest_parse<'a>(env: Env<'a>, text: Binary<'a>) -> Term<'a> {
    let result = std::str::from_utf8(text.as_slice())
        .map_err(|_| NifError::invalid_encoding("digest text is not UTF-8"))
        .and_then(|s| {
            s.parse::<Digest>()
                .map_err(|e| NifError::invalid_digest(&e))
        })
        .map(|d| (algorithm_atom(d.algorithm()), digest_binary(env, &d)).encode(env));
    to_term(env, result)
}

/// `Chunker.Native.digest_format/2`: `<<32 bytes>>` of `algorithm` as the
/// `algorithm:<nix32>` text Nix writes (a NarHash).
#[rustler::nif]
fn digest_format<'a>(env: Env<'a>, algo: Atom, bytes: Binary<'a>) -> Term<'a> {
    let result = algorithm(algo).and_then(|a| {
        let a =
            a.ok_or_else(|| NifError::invalid_option("algorithm must be :sha256 or :blake3"))?;
        let raw: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| NifError::invalid_option("a digest is 32 bytes"))?;
        Ok(Digest::new(a, raw).to_string().encode(env))
    });
    to_term(env, result)
}
