//! The sans-IO decoders of every codec behind one enum, and the bounded drivers over
//! them: into a `Vec` (growing, never past the limit), into a slice, and from a
//! reader ([`Decoder`]). Every driver enforces the output limit the same way: output
//! space handed to a decoder never reaches past the limit; once the limit is reached a
//! one-byte probe tells "exactly the limit" (the stream ends) from "more" (an error).

use std::io::{self, Read, Write};

#[cfg(feature = "bzip2")]
use super::bz2;
#[cfg(feature = "lz4")]
use super::lz4;
#[cfg(feature = "xz")]
use super::xz;
#[cfg(feature = "zstd")]
use super::zst;
use super::{detect, Codec, CompressionError, Decompressor, DETECT_LEN};

enum Inner {
    None,
    #[cfg(feature = "zstd")]
    Zstd(zst::Decoder),
    #[cfg(feature = "xz")]
    Xz(xz::Decoder),
    #[cfg(feature = "bzip2")]
    Bzip2(bz2::Decoder),
    #[cfg(feature = "lz4")]
    Lz4(lz4::Decoder),
}

impl Inner {
    /// The decoder for `codec`; `head` is the start of the input (for a zstd frame's
    /// dictionary ID).
    pub(crate) fn new(
        codec: Codec,
        head: &[u8],
        opts: &Decompressor,
    ) -> Result<Inner, CompressionError> {
        let _ = (head, opts);
        match codec {
            Codec::None => Ok(Inner::None),
            #[cfg(feature = "zstd")]
            Codec::Zstd => {
                let dict = match zst::dict_id(head) {
                    Some(id) => Some(opts.dictionaries.require(id)?.as_ref()),
                    None => None,
                };
                Ok(Inner::Zstd(zst::Decoder::new(dict, opts.max_output)?))
            }
            #[cfg(feature = "xz")]
            Codec::Xz => Ok(Inner::Xz(xz::Decoder::new(opts.max_output)?)),
            #[cfg(feature = "bzip2")]
            Codec::Bzip2 => Ok(Inner::Bzip2(bz2::Decoder::new())),
            #[cfg(feature = "lz4")]
            Codec::Lz4 => Ok(Inner::Lz4(lz4::Decoder::new())),
            #[allow(unreachable_patterns)]
            other => Err(CompressionError::Disabled { codec: other }),
        }
    }

    /// Decode from `input` into `out`; `last` says no input follows `input`.
    /// Returns (input consumed, output written).
    pub(crate) fn decode_slice(
        &mut self,
        input: &[u8],
        out: &mut [u8],
        last: bool,
    ) -> Result<(usize, usize), CompressionError> {
        let _ = last;
        match self {
            Inner::None => {
                let n = input.len().min(out.len());
                out[..n].copy_from_slice(&input[..n]);
                Ok((n, n))
            }
            #[cfg(feature = "zstd")]
            Inner::Zstd(d) => d.decode_slice(input, out),
            #[cfg(feature = "xz")]
            Inner::Xz(d) => d.decode_slice(input, out, last),
            #[cfg(feature = "bzip2")]
            Inner::Bzip2(d) => d.decode_slice(input, out),
            #[cfg(feature = "lz4")]
            Inner::Lz4(d) => d.decode_slice(input, out),
        }
    }

    /// Like [`Inner::decode_slice`], into the spare capacity of `out` (never grows it).
    pub(crate) fn decode_vec(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        last: bool,
    ) -> Result<(usize, usize), CompressionError> {
        let _ = last;
        match self {
            Inner::None => {
                let n = input.len().min(out.capacity() - out.len());
                out.extend_from_slice(&input[..n]);
                Ok((n, n))
            }
            #[cfg(feature = "zstd")]
            Inner::Zstd(d) => d.decode_vec(input, out),
            #[cfg(feature = "xz")]
            Inner::Xz(d) => d.decode_vec(input, out, last),
            #[cfg(feature = "bzip2")]
            Inner::Bzip2(d) => d.decode_vec(input, out),
            #[cfg(feature = "lz4")]
            Inner::Lz4(d) => d.decode_vec(input, out),
        }
    }

    /// Stream padding consumed after the end of the last stream (xz only).
    fn padding(&self) -> u64 {
        match self {
            #[cfg(feature = "xz")]
            Inner::Xz(d) => d.padding(),
            _ => 0,
        }
    }

    /// The input so far ends at a stream boundary (at least one whole stream).
    pub(crate) fn is_complete(&self) -> bool {
        match self {
            Inner::None => true,
            #[cfg(feature = "zstd")]
            Inner::Zstd(d) => d.is_complete(),
            #[cfg(feature = "xz")]
            Inner::Xz(d) => d.is_complete(),
            #[cfg(feature = "bzip2")]
            Inner::Bzip2(d) => d.is_complete(),
            #[cfg(feature = "lz4")]
            Inner::Lz4(d) => d.is_complete(),
        }
    }
}

/// Longest stream start looked at to tell a next stream from trailing data.
const START_LEN: usize = 6;

/// Whether `bytes`, the first bytes after the end of a stream (xz: after its stream
/// padding), may begin another stream of `codec`: they agree with one of its magics
/// as far as they go.
fn may_start_stream(codec: Codec, bytes: &[u8]) -> bool {
    const SKIPPABLE: [u8; 4] = [0x50, 0x2A, 0x4D, 0x18];
    let agrees = |magic: &[u8]| bytes.iter().zip(magic).all(|(b, m)| b == m);
    let skippable = || {
        bytes.first().is_none_or(|b| b & 0xF0 == 0x50)
            && bytes.iter().zip(SKIPPABLE).skip(1).all(|(b, m)| *b == m)
    };
    match codec {
        Codec::Zstd => agrees(&[0x28, 0xB5, 0x2F, 0xFD]) || skippable(),
        Codec::Lz4 => agrees(&[0x04, 0x22, 0x4D, 0x18]) || skippable(),
        Codec::Xz => agrees(&[0xFD, b'7', b'z', b'X', b'Z', 0x00]),
        Codec::Bzip2 => agrees(b"BZh") && bytes.get(3).is_none_or(|b| (b'1'..=b'9').contains(b)),
        Codec::None => true,
    }
}

/// A codec's decoder with what the drivers need on top: the input position, and the
/// first bytes after the end of the last stream, so that bytes which cannot start
/// another stream are reported as [`CompressionError::TrailingData`] rather than as
/// a damaged or truncated stream.
pub(crate) struct Raw {
    inner: Inner,
    codec: Codec,
    consumed: u64,
    /// Where the last complete stream ended, if one did.
    ended_at: Option<u64>,
    /// The first bytes consumed after it (xz: after its zero padding).
    after: [u8; START_LEN],
    after_len: usize,
}

impl Raw {
    /// The decoder for `codec`; `head` is the start of the input (for a zstd frame's
    /// dictionary ID).
    pub(crate) fn new(
        codec: Codec,
        head: &[u8],
        opts: &Decompressor,
    ) -> Result<Raw, CompressionError> {
        Ok(Raw {
            inner: Inner::new(codec, head, opts)?,
            codec,
            consumed: 0,
            ended_at: None,
            after: [0; START_LEN],
            after_len: 0,
        })
    }

    /// Account for a call that consumed `used`.
    fn note(&mut self, used: &[u8]) {
        if self.ended_at.is_some() {
            let mut rest = used;
            if self.after_len == 0 && self.codec == Codec::Xz {
                let zeros = rest.iter().take_while(|&&b| b == 0).count();
                rest = &rest[zeros..];
            }
            let n = (START_LEN - self.after_len).min(rest.len());
            self.after[self.after_len..self.after_len + n].copy_from_slice(&rest[..n]);
            self.after_len += n;
        }
        self.consumed += used.len() as u64;
        if self.inner.is_complete() {
            // xz: the stream ended before its padding.
            self.ended_at = Some(self.consumed - self.inner.padding());
            self.after_len = 0;
        }
    }

    /// `e`, or `TrailingData` when it came from bytes after the end of a stream that
    /// cannot start another one. `pending`: input offered to the failing call.
    fn explain(&self, e: CompressionError, pending: &[u8]) -> CompressionError {
        let Some(offset) = self.ended_at else {
            return e;
        };
        if !matches!(
            e,
            CompressionError::Corrupt { .. } | CompressionError::Truncated { .. }
        ) {
            return e;
        }
        let mut start = [0u8; START_LEN];
        let mut n = 0;
        for &b in self.after[..self.after_len].iter().chain(pending) {
            if n == START_LEN {
                break;
            }
            if n == 0 && b == 0 && self.codec == Codec::Xz {
                continue;
            }
            start[n] = b;
            n += 1;
        }
        if n > 0 && !may_start_stream(self.codec, &start[..n]) {
            CompressionError::TrailingData {
                codec: self.codec,
                offset,
            }
        } else {
            e
        }
    }

    /// Record the outcome of a decoder call on `input`.
    fn track(
        &mut self,
        input: &[u8],
        result: Result<(usize, usize), CompressionError>,
    ) -> Result<(usize, usize), CompressionError> {
        match result {
            Ok((c, w)) => {
                self.note(&input[..c]);
                Ok((c, w))
            }
            Err(e) => Err(self.explain(e, input)),
        }
    }

    /// Decode from `input` into `out`; `last` says no input follows `input`.
    /// Returns (input consumed, output written).
    pub(crate) fn decode_slice(
        &mut self,
        input: &[u8],
        out: &mut [u8],
        last: bool,
    ) -> Result<(usize, usize), CompressionError> {
        let result = self.inner.decode_slice(input, out, last);
        self.track(input, result)
    }

    /// Like [`Raw::decode_slice`], into the spare capacity of `out` (never grows it).
    pub(crate) fn decode_vec(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        last: bool,
    ) -> Result<(usize, usize), CompressionError> {
        let result = self.inner.decode_vec(input, out, last);
        self.track(input, result)
    }

    /// The input so far ends at a stream boundary (at least one whole stream).
    pub(crate) fn is_complete(&self) -> bool {
        self.inner.is_complete()
    }

    /// A call made no progress although it had output space.
    fn stalled(&self, codec: Codec, input_left: bool) -> Result<(), CompressionError> {
        if input_left {
            Err(CompressionError::Corrupt {
                codec,
                reason: "decoder made no progress",
            })
        } else if self.is_complete() {
            Ok(())
        } else {
            Err(self.explain(CompressionError::Truncated { codec }, &[]))
        }
    }
}

/// One-byte probe once `limit` bytes are out: does the stream end here?
fn probe(
    raw: &mut Raw,
    codec: Codec,
    input: &[u8],
    pos: &mut usize,
    limit: usize,
    last: bool,
) -> Result<bool, CompressionError> {
    let mut one = [0u8; 1];
    let (c, w) = raw.decode_slice(&input[*pos..], &mut one, last)?;
    *pos += c;
    if w > 0 {
        return Err(CompressionError::SizeExceeded { limit });
    }
    if c == 0 {
        if !last && *pos == input.len() {
            return Ok(false);
        }
        raw.stalled(codec, *pos < input.len())?;
        return Ok(true);
    }
    Ok(false)
}

/// Decode all of `input`, appending at most `limit` bytes to `out`. `hint`: the
/// expected output size when the header declares it.
pub(crate) fn decode_vec(
    raw: &mut Raw,
    codec: Codec,
    input: &[u8],
    out: &mut Vec<u8>,
    limit: usize,
    hint: Option<u64>,
) -> Result<usize, CompressionError> {
    let start = out.len();
    let result = (|| {
        if let Some(h) = hint {
            if h > limit as u64 {
                return Err(CompressionError::SizeExceeded { limit });
            }
        }
        let mut pos = 0;
        let mut first = true;
        loop {
            let produced = out.len() - start;
            if produced > limit {
                return Err(CompressionError::SizeExceeded { limit });
            }
            if out.len() == out.capacity() {
                if produced == limit {
                    if probe(raw, codec, input, &mut pos, limit, true)? {
                        return Ok(produced);
                    }
                    continue;
                }
                let want = match (first, hint) {
                    (true, Some(h)) => h as usize,
                    (true, None) => input.len().saturating_mul(4).max(16 << 10),
                    (false, _) => produced.max(64 << 10),
                };
                first = false;
                out.reserve_exact(want.clamp(1, limit - produced));
            }
            let (c, w) = raw.decode_vec(&input[pos..], out, true)?;
            pos += c;
            if c == 0 && w == 0 {
                raw.stalled(codec, pos < input.len())?;
                let produced = out.len() - start;
                return if produced > limit {
                    Err(CompressionError::SizeExceeded { limit })
                } else {
                    Ok(produced)
                };
            }
        }
    })();
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Decode all of `input` into `out`, at most `min(limit, out.len())` bytes.
pub(crate) fn decode_slice(
    raw: &mut Raw,
    codec: Codec,
    input: &[u8],
    out: &mut [u8],
    limit: usize,
) -> Result<usize, CompressionError> {
    let limit = limit.min(out.len());
    let mut pos = 0;
    let mut produced = 0;
    loop {
        if produced == limit {
            if probe(raw, codec, input, &mut pos, limit, true)? {
                return Ok(produced);
            }
            continue;
        }
        let (c, w) = raw.decode_slice(&input[pos..], &mut out[produced..limit], true)?;
        pos += c;
        produced += w;
        if c == 0 && w == 0 {
            raw.stalled(codec, pos < input.len())?;
            return Ok(produced);
        }
    }
}

/// Input buffer of the streaming decoder.
const READ_BUF: usize = 64 << 10;

/// A streaming decoder: reads compressed bytes from `R`, yields decompressed bytes,
/// never more than the limit (an error past it), and an error — never a short output —
/// when the input ends inside a stream. Works whatever the read sizes of `R`.
///
/// Errors come out of [`Read::read`] as [`io::Error`]s wrapping a
/// [`CompressionError`]; `CompressionError::from(e)` gets it back.
pub struct Decoder<R> {
    inner: R,
    raw: Raw,
    codec: Codec,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    eof: bool,
    done: bool,
    produced: usize,
    limit: usize,
}

fn read_retry<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

impl<R: Read> Decoder<R> {
    pub(crate) fn new(mut inner: R, opts: &Decompressor) -> Result<Self, CompressionError> {
        let mut buf = vec![0u8; READ_BUF].into_boxed_slice();
        // Read the header however short the reads: enough for detection and for a
        // zstd frame header (dictionary ID), or the whole input if shorter.
        let want = DETECT_LEN.max(ZSTD_HEADER);
        let mut end = 0;
        let mut eof = false;
        while end < want {
            let n = read_retry(&mut inner, &mut buf[end..])?;
            if n == 0 {
                eof = true;
                break;
            }
            end += n;
        }
        let codec = match opts.codec {
            Some(c) => c,
            None => detect(&buf[..end.min(DETECT_LEN)])?,
        };
        let raw = Raw::new(codec, &buf[..end], opts)?;
        Ok(Decoder {
            inner,
            raw,
            codec,
            buf,
            start: 0,
            end,
            eof,
            done: false,
            produced: 0,
            limit: opts.max_output,
        })
    }

    /// The codec being decoded (detected or given).
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Decompressed bytes returned so far.
    pub fn produced(&self) -> usize {
        self.produced
    }

    /// The underlying reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    fn fill(&mut self) -> io::Result<()> {
        if self.start == self.end && !self.eof {
            self.start = 0;
            self.end = read_retry(&mut self.inner, &mut self.buf)?;
            self.eof = self.end == 0;
        }
        Ok(())
    }

    fn read_inner(&mut self, out: &mut [u8]) -> Result<usize, CompressionError> {
        if out.is_empty() || self.done {
            return Ok(0);
        }
        loop {
            self.fill()?;
            let input = &self.buf[self.start..self.end];
            let remaining = self.limit - self.produced;
            let mut one = [0u8; 1];
            let room = out.len().min(remaining);
            let dst: &mut [u8] = if remaining == 0 {
                &mut one
            } else {
                &mut out[..room]
            };
            let (c, w) = self.raw.decode_slice(input, dst, self.eof)?;
            self.start += c;
            if w > 0 {
                if remaining == 0 {
                    return Err(CompressionError::SizeExceeded { limit: self.limit });
                }
                self.produced += w;
                return Ok(w);
            }
            if c == 0 {
                let input_left = self.start < self.end;
                if !input_left && !self.eof {
                    continue;
                }
                self.raw.stalled(self.codec, input_left)?;
                self.done = true;
                return Ok(0);
            }
        }
    }
}

/// Bytes of a zstd frame header (the most a dictionary ID can need).
const ZSTD_HEADER: usize = 18;

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.read_inner(out).map_err(io::Error::from)
    }
}

/// A streaming decoder on the writing side: compressed bytes written to it come out
/// decompressed in the inner writer, never more than the limit (an error past it).
/// [`DecompressWriter::finish`] checks that the input ended at the end of a stream
/// ([`CompressionError::Truncated`] otherwise) and returns the inner writer.
///
/// Errors come out of [`Write::write`] as [`io::Error`]s wrapping a
/// [`CompressionError`]; `CompressionError::from(e)` gets it back.
pub struct DecompressWriter<W: Write> {
    inner: W,
    opts: Decompressor,
    raw: Option<(Codec, Raw)>,
    head: Vec<u8>,
    buf: Box<[u8]>,
    produced: usize,
}

impl<W: Write> DecompressWriter<W> {
    pub(crate) fn new(inner: W, opts: &Decompressor) -> Self {
        DecompressWriter {
            inner,
            opts: opts.clone(),
            raw: None,
            head: Vec::new(),
            buf: vec![0u8; READ_BUF].into_boxed_slice(),
            produced: 0,
        }
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Decompressed bytes written to the inner writer so far.
    pub fn produced(&self) -> usize {
        self.produced
    }

    /// Create the decoder from the buffered head; feed the head to it.
    fn start(&mut self, last: bool) -> Result<(), CompressionError> {
        let codec = match self.opts.codec {
            Some(c) => c,
            None => detect(&self.head[..self.head.len().min(DETECT_LEN)])?,
        };
        let raw = Raw::new(codec, &self.head, &self.opts)?;
        self.raw = Some((codec, raw));
        let head = std::mem::take(&mut self.head);
        self.feed(&head, last)
    }

    fn feed(&mut self, input: &[u8], last: bool) -> Result<(), CompressionError> {
        let (codec, raw) = self.raw.as_mut().expect("started");
        let limit = self.opts.max_output;
        let mut pos = 0;
        loop {
            let remaining = limit - self.produced;
            let room = if remaining == 0 {
                1
            } else {
                remaining.min(self.buf.len())
            };
            let (c, w) = raw.decode_slice(&input[pos..], &mut self.buf[..room], last)?;
            pos += c;
            if w > 0 {
                if remaining == 0 {
                    return Err(CompressionError::SizeExceeded { limit });
                }
                self.inner.write_all(&self.buf[..w])?;
                self.produced += w;
            } else if c == 0 {
                if pos < input.len() {
                    return Err(CompressionError::Corrupt {
                        codec: *codec,
                        reason: "decoder made no progress",
                    });
                }
                return Ok(());
            }
        }
    }

    fn write_inner(&mut self, data: &[u8]) -> Result<(), CompressionError> {
        if self.raw.is_none() {
            self.head.extend_from_slice(data);
            if self.head.len() >= DETECT_LEN.max(ZSTD_HEADER) {
                self.start(false)?;
            }
            return Ok(());
        }
        self.feed(data, false)
    }

    /// End of input: decode what is left, check the stream is complete, flush, and
    /// return the inner writer.
    pub fn finish(mut self) -> Result<W, CompressionError> {
        if self.raw.is_none() {
            self.start(true)?;
        }
        self.feed(&[], true)?;
        let (codec, raw) = self.raw.as_ref().expect("started");
        raw.stalled(*codec, false)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for DecompressWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.write_inner(data).map_err(io::Error::from)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
