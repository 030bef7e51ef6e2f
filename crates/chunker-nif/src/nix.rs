//! Nix: keys, signatures, narinfo and NarHash: `Chunker.Nix`.
//!
//! Keys cross as Nix's text forms (`name:base64`). Functions whose input size is the
//! caller's (messages, narinfo text) run on dirty CPU schedulers; `nar_hash` reads the
//! file system on a dirty I/O scheduler.

use chunker::nix::{NarInfo, PublicKey, SecretKey, Signature};
use rustler::{Binary, Encoder, Env, Term};

use crate::chunk::digest_binary;
use crate::error::{to_term, NifError};

fn text<'a>(bin: &Binary<'a>, what: &str) -> Result<&'a str, NifError> {
    std::str::from_utf8(bin.as_slice())
        .map_err(|_| NifError::invalid_encoding(format!("{what} is not UTF-8")))
}

/// `Chunker.Native.key_generate/1`: a new key pair named `name` from OS randomness →
/// `{:ok, {secret_text, public_text}}`.
#[rustler::nif]
fn key_generate<'a>(env: Env<'a>, name: Binary<'a>) -> Term<'a> {
    let result = text(&name, "key name").and_then(|name| {
        let secret = SecretKey::generate(name)?;
        let public = secret.public_key().to_string();
        Ok((secret.to_nix_string().as_str(), public).encode(env))
    });
    to_term(env, result)
}

/// `Chunker.Native.public_key/1`: the public key of a secret key text.
#[rustler::nif]
fn public_key<'a>(env: Env<'a>, secret: Binary<'a>) -> Term<'a> {
    let result = text(&secret, "secret key").and_then(|s| {
        let secret: SecretKey = s.parse()?;
        Ok(secret.public_key().to_string().encode(env))
    });
    to_term(env, result)
}

/// `Chunker.Native.public_key_parse/1`: validate a public key text → `{:ok, name}`.
#[rustler::nif]
fn public_key_parse<'a>(env: Env<'a>, public: Binary<'a>) -> Term<'a> {
    let result = text(&public, "public key").and_then(|s| {
        let public: PublicKey = s.parse()?;
        Ok(public.name().encode(env))
    });
    to_term(env, result)
}

/// `Chunker.Native.sign/2`: the `name:base64` signature of `message`.
#[rustler::nif(schedule = "DirtyCpu")]
fn sign<'a>(env: Env<'a>, secret: Binary<'a>, message: Binary<'a>) -> Term<'a> {
    let result = text(&secret, "secret key").and_then(|s| {
        let secret: SecretKey = s.parse()?;
        Ok(secret.sign(message.as_slice()).to_string().encode(env))
    });
    to_term(env, result)
}

/// `Chunker.Native.verify/3`: whether `signature` is `public`'s over `message`
/// (strict Ed25519; key names must match) → `{:ok, boolean}`.
#[rustler::nif(schedule = "DirtyCpu")]
fn verify<'a>(
    env: Env<'a>,
    public: Binary<'a>,
    message: Binary<'a>,
    signature: Binary<'a>,
) -> Term<'a> {
    let result = (|| {
        let public: PublicKey = text(&public, "public key")?.parse()?;
        let sig: Signature = text(&signature, "signature")?.parse()?;
        let ok = sig.key_name() == public.name() && public.verify(message.as_slice(), &sig);
        Ok(ok.encode(env))
    })();
    to_term(env, result)
}

fn narinfo(bin: &Binary<'_>) -> Result<NarInfo, NifError> {
    Ok(NarInfo::parse(text(bin, "narinfo")?)?)
}

/// `Chunker.Native.narinfo_fingerprint/1`: what a narinfo's signatures cover.
#[rustler::nif(schedule = "DirtyCpu")]
fn narinfo_fingerprint<'a>(env: Env<'a>, info: Binary<'a>) -> Term<'a> {
    let result = narinfo(&info).map(|i| i.fingerprint().encode(env));
    to_term(env, result)
}

/// `Chunker.Native.narinfo_sign/2`: the narinfo text signed with `secret` (as Nix
/// signs: references sorted, a signature by the same key name replaced).
#[rustler::nif(schedule = "DirtyCpu")]
fn narinfo_sign<'a>(env: Env<'a>, info: Binary<'a>, secret: Binary<'a>) -> Term<'a> {
    let result = (|| {
        let mut info = narinfo(&info)?;
        let secret: SecretKey = text(&secret, "secret key")?.parse()?;
        info.sign(&secret);
        Ok(info.to_string().encode(env))
    })();
    to_term(env, result)
}

/// `Chunker.Native.narinfo_verify/2`: how many signatures by the `trusted` public keys
/// verify → `{:ok, count}`; none is `{:error, {:verify_failed, _}}`.
#[rustler::nif(schedule = "DirtyCpu")]
fn narinfo_verify<'a>(env: Env<'a>, info: Binary<'a>, trusted: Vec<Binary<'a>>) -> Term<'a> {
    let result = (|| {
        let info = narinfo(&info)?;
        let keys = trusted
            .iter()
            .map(|k| Ok(text(k, "public key")?.parse::<PublicKey>()?))
            .collect::<Result<Vec<_>, NifError>>()?;
        Ok(info.verify(&keys)?.encode(env))
    })();
    to_term(env, result)
}

/// `Chunker.Native.nar_hash/1` on a dirty I/O scheduler: the NarHash (SHA-256, 32
/// bytes) and NarSize of the path → `{:ok, {hash, size}}`.
#[rustler::nif(schedule = "DirtyIo")]
fn nar_hash<'a>(env: Env<'a>, path: Binary<'a>) -> Term<'a> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::path::Path::new(std::ffi::OsStr::from_bytes(path.as_slice()));
    let result = chunker::nix::nar_hash(path)
        .map_err(NifError::from)
        .map(|s| (digest_binary(env, &s.nar_hash), s.nar_size).encode(env));
    to_term(env, result)
}
