//! lz4 frame format (what Nix writes for `compression=lz4`): encoding through
//! `lz4_flex`'s frame encoder; decoding through a sans-IO frame parser of ours over
//! `lz4_flex`'s block decoder, so that a stream cut anywhere — a block boundary
//! included — is an error rather than a shorter output.
//!
//! Frame layout (lz4 frame format 1.6.x): magic `04 22 4d 18`, FLG, BD, optional
//! content size (8) and dictionary ID (4), header checksum (byte 1 of the xxh32 of
//! the descriptor); blocks as `u32` size (high bit: stored) + data (+ xxh32); end mark
//! `0`; optional xxh32 of the content. Skippable frames `5x 2a 4d 18` + `u32` size.

use std::io::Write;

use lz4_flex::frame::{BlockMode, BlockSize, FrameEncoder, FrameInfo};

use super::{Codec, CompressionError};

const MAGIC: u32 = 0x184D_2204;
const LEGACY_MAGIC: u32 = 0x184C_2102;
const WINDOW: usize = 64 << 10;

fn corrupt(reason: &'static str) -> CompressionError {
    CompressionError::Corrupt {
        codec: Codec::Lz4,
        reason,
    }
}

/// Frame settings we write: independent blocks (the `lz4` CLI's default block mode)
/// of 64 KiB (small decoder buffers), content checksum on, content size when known.
pub(crate) fn frame_info(content_size: Option<u64>) -> FrameInfo {
    FrameInfo::new()
        .block_mode(BlockMode::Independent)
        .block_size(BlockSize::Max64KB)
        .content_checksum(true)
        .content_size(content_size)
}

/// Compress `data` as one lz4 frame, appended to `out`.
pub(crate) fn compress_into(data: &[u8], out: &mut Vec<u8>) -> Result<usize, CompressionError> {
    let start = out.len();
    let mut enc = FrameEncoder::with_frame_info(frame_info(Some(data.len() as u64)), &mut *out);
    enc.write_all(data)?;
    enc.finish().map_err(|e| CompressionError::Io(e.into()))?;
    Ok(out.len() - start)
}

// ---- xxh32 (the lz4 frame checksums) ----

const P1: u32 = 0x9E37_79B1;
const P2: u32 = 0x85EB_CA77;
const P3: u32 = 0xC2B2_AE3D;
const P4: u32 = 0x27D4_EB2F;
const P5: u32 = 0x1656_67B1;

/// Streaming xxh32 with seed 0.
#[derive(Clone)]
pub(crate) struct Xxh32 {
    acc: [u32; 4],
    buf: [u8; 16],
    buf_len: usize,
    total: u64,
}

fn round(acc: u32, lane: u32) -> u32 {
    acc.wrapping_add(lane.wrapping_mul(P2))
        .rotate_left(13)
        .wrapping_mul(P1)
}

fn lane(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

impl Xxh32 {
    pub(crate) fn new() -> Self {
        Xxh32 {
            acc: [P1.wrapping_add(P2), P2, 0, 0u32.wrapping_sub(P1)],
            buf: [0; 16],
            buf_len: 0,
            total: 0,
        }
    }

    fn stripe(&mut self, s: &[u8]) {
        for (i, a) in self.acc.iter_mut().enumerate() {
            *a = round(*a, lane(&s[4 * i..]));
        }
    }

    pub(crate) fn update(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        if self.buf_len > 0 {
            let take = (16 - self.buf_len).min(data.len());
            self.buf[self.buf_len..self.buf_len + take].copy_from_slice(&data[..take]);
            self.buf_len += take;
            data = &data[take..];
            if self.buf_len < 16 {
                return;
            }
            let b = self.buf;
            self.stripe(&b);
            self.buf_len = 0;
        }
        let mut chunks = data.chunks_exact(16);
        for s in &mut chunks {
            self.stripe(s);
        }
        let rest = chunks.remainder();
        self.buf[..rest.len()].copy_from_slice(rest);
        self.buf_len = rest.len();
    }

    pub(crate) fn digest(&self) -> u32 {
        let [a, b, c, d] = self.acc;
        let mut h = if self.total >= 16 {
            a.rotate_left(1)
                .wrapping_add(b.rotate_left(7))
                .wrapping_add(c.rotate_left(12))
                .wrapping_add(d.rotate_left(18))
        } else {
            P5
        };
        h = h.wrapping_add(self.total as u32);
        let tail = &self.buf[..self.buf_len];
        let mut words = tail.chunks_exact(4);
        for w in &mut words {
            h = h
                .wrapping_add(lane(w).wrapping_mul(P3))
                .rotate_left(17)
                .wrapping_mul(P4);
        }
        for &byte in words.remainder() {
            h = h
                .wrapping_add(u32::from(byte).wrapping_mul(P5))
                .rotate_left(11)
                .wrapping_mul(P1);
        }
        h ^= h >> 15;
        h = h.wrapping_mul(P2);
        h ^= h >> 13;
        h = h.wrapping_mul(P3);
        h ^ (h >> 16)
    }
}

/// xxh32 of `data`, seed 0.
pub(crate) fn xxh32(data: &[u8]) -> u32 {
    let mut h = Xxh32::new();
    h.update(data);
    h.digest()
}

// ---- sans-IO frame decoder ----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Expecting a frame magic (between frames).
    Magic,
    /// Expecting the rest of the descriptor after FLG + BD (`acc` holds magic..BD).
    Descriptor,
    BlockSize,
    Block {
        len: usize,
        stored: bool,
    },
    ContentChecksum,
    SkippableSize,
    Skip {
        left: u64,
    },
}

struct Frame {
    linked: bool,
    block_checksum: bool,
    content_checksum: bool,
    content_size: Option<u64>,
    max_block: usize,
    hasher: Xxh32,
    produced: u64,
}

/// Where decoded bytes go; never allocates.
pub(crate) trait Sink {
    fn space(&self) -> usize;
    fn put(&mut self, data: &[u8]);
}

pub(crate) struct SliceSink<'a> {
    pub(crate) buf: &'a mut [u8],
    pub(crate) pos: usize,
}

impl Sink for SliceSink<'_> {
    fn space(&self) -> usize {
        self.buf.len() - self.pos
    }
    fn put(&mut self, data: &[u8]) {
        self.buf[self.pos..self.pos + data.len()].copy_from_slice(data);
        self.pos += data.len();
    }
}

impl Sink for Vec<u8> {
    fn space(&self) -> usize {
        self.capacity() - self.len()
    }
    fn put(&mut self, data: &[u8]) {
        self.extend_from_slice(data);
    }
}

/// A streaming lz4 frame decoder. Concatenated and skippable frames are accepted;
/// legacy frames and frames needing a dictionary are refused.
pub(crate) struct Decoder {
    state: State,
    need: usize,
    acc: Vec<u8>,
    frame: Option<Frame>,
    block: Vec<u8>,
    ready: std::ops::Range<usize>,
    history: Vec<u8>,
    seen_frame: bool,
}

impl Decoder {
    pub(crate) fn new() -> Self {
        Decoder {
            state: State::Magic,
            need: 4,
            acc: Vec::new(),
            frame: None,
            block: Vec::new(),
            ready: 0..0,
            history: Vec::new(),
            seen_frame: false,
        }
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.seen_frame
            && self.state == State::Magic
            && self.acc.is_empty()
            && self.ready.is_empty()
    }

    pub(crate) fn decode_slice(
        &mut self,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<(usize, usize), CompressionError> {
        let mut sink = SliceSink { buf: out, pos: 0 };
        let c = self.decode(input, &mut sink)?;
        Ok((c, sink.pos))
    }

    pub(crate) fn decode_vec(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(usize, usize), CompressionError> {
        let before = out.len();
        let c = self.decode(input, out)?;
        Ok((c, out.len() - before))
    }

    fn flush<S: Sink>(&mut self, sink: &mut S) {
        let n = self.ready.len().min(sink.space());
        sink.put(&self.block[self.ready.start..self.ready.start + n]);
        self.ready.start += n;
    }

    /// Consume input and write output until the input is used up or the sink is full.
    /// Returns the input bytes consumed.
    /// A call ends at most one frame: it returns at a frame's end, so that the caller
    /// sees the boundary (and can tell trailing data from a next frame).
    fn decode<S: Sink>(&mut self, input: &[u8], sink: &mut S) -> Result<usize, CompressionError> {
        let mut pos = 0;
        let space = sink.space();
        loop {
            self.flush(sink);
            if !self.ready.is_empty() {
                return Ok(pos);
            }
            if self.is_complete() && (pos > 0 || sink.space() != space) {
                return Ok(pos);
            }
            if let State::Skip { left } = self.state {
                let take = (left.min((input.len() - pos) as u64)) as usize;
                pos += take;
                let left = left - take as u64;
                if left > 0 {
                    return Ok(pos);
                }
                self.end_frame();
                continue;
            }
            // Gather `need` bytes for the next unit.
            let take = (self.need - self.acc.len()).min(input.len() - pos);
            self.acc.extend_from_slice(&input[pos..pos + take]);
            pos += take;
            if self.acc.len() < self.need {
                return Ok(pos);
            }
            self.unit()?;
        }
    }

    fn expect(&mut self, state: State, need: usize) {
        self.state = state;
        self.need = need;
        self.acc.clear();
    }

    fn end_frame(&mut self) {
        self.frame = None;
        self.history.clear();
        self.seen_frame = true;
        self.expect(State::Magic, 4);
    }

    /// Process one complete unit in `acc`.
    fn unit(&mut self) -> Result<(), CompressionError> {
        match self.state {
            State::Magic => {
                let magic = u32::from_le_bytes(self.acc[..4].try_into().expect("4 bytes"));
                if magic == MAGIC {
                    // FLG and BD first, to learn the descriptor's length.
                    self.state = State::Descriptor;
                    self.need = 6;
                } else if magic & 0xFFFF_FFF0 == 0x184D_2A50 {
                    self.expect(State::SkippableSize, 4);
                } else if magic == LEGACY_MAGIC {
                    return Err(CompressionError::Unsupported {
                        format: "lz4 legacy frame",
                    });
                } else {
                    return Err(corrupt("bad frame magic"));
                }
            }
            State::SkippableSize => {
                let len = u32::from_le_bytes(self.acc[..4].try_into().expect("4 bytes"));
                self.expect(
                    State::Skip {
                        left: u64::from(len),
                    },
                    0,
                );
            }
            State::Descriptor => {
                let (flg, bd) = (self.acc[4], self.acc[5]);
                if flg >> 6 != 0b01 {
                    return Err(corrupt("unsupported frame version"));
                }
                if flg & 0b10 != 0 || bd & 0b1000_1111 != 0 {
                    return Err(corrupt("reserved descriptor bits set"));
                }
                let len = 4
                    + 2
                    + if flg & 0b1000 != 0 { 8 } else { 0 }
                    + if flg & 1 != 0 { 4 } else { 0 }
                    + 1;
                if self.acc.len() < len {
                    self.need = len;
                    return Ok(());
                }
                let hc = (xxh32(&self.acc[4..len - 1]) >> 8) as u8;
                if hc != self.acc[len - 1] {
                    return Err(corrupt("header checksum mismatch"));
                }
                if flg & 1 != 0 {
                    return Err(CompressionError::Unsupported {
                        format: "lz4 frame with dictionary",
                    });
                }
                let max_block = match (bd >> 4) & 7 {
                    4 => 64 << 10,
                    5 => 256 << 10,
                    6 => 1 << 20,
                    7 => 4 << 20,
                    _ => return Err(corrupt("invalid block maximum size")),
                };
                let content_size = (flg & 0b1000 != 0)
                    .then(|| u64::from_le_bytes(self.acc[6..14].try_into().expect("8 bytes")));
                self.frame = Some(Frame {
                    linked: flg & 0b10_0000 == 0,
                    block_checksum: flg & 0b1_0000 != 0,
                    content_checksum: flg & 0b100 != 0,
                    content_size,
                    max_block,
                    hasher: Xxh32::new(),
                    produced: 0,
                });
                if self.block.len() < max_block {
                    self.block.resize(max_block, 0);
                }
                self.history.clear();
                self.expect(State::BlockSize, 4);
            }
            State::BlockSize => {
                let v = u32::from_le_bytes(self.acc[..4].try_into().expect("4 bytes"));
                let frame = self.frame.as_ref().expect("in a frame");
                if v == 0 {
                    if let Some(size) = frame.content_size {
                        if size != frame.produced {
                            return Err(corrupt("content size mismatch"));
                        }
                    }
                    if frame.content_checksum {
                        self.expect(State::ContentChecksum, 4);
                    } else {
                        self.end_frame();
                    }
                    return Ok(());
                }
                let len = (v & 0x7FFF_FFFF) as usize;
                if len > frame.max_block {
                    return Err(corrupt("block larger than the frame's maximum"));
                }
                let extra = if frame.block_checksum { 4 } else { 0 };
                self.expect(
                    State::Block {
                        len,
                        stored: v >> 31 == 1,
                    },
                    len + extra,
                );
            }
            State::Block { len, stored } => {
                let frame = self.frame.as_mut().expect("in a frame");
                let data = &self.acc[..len];
                if frame.block_checksum {
                    let want =
                        u32::from_le_bytes(self.acc[len..len + 4].try_into().expect("4 bytes"));
                    if xxh32(data) != want {
                        return Err(corrupt("block checksum mismatch"));
                    }
                }
                let out = &mut self.block[..frame.max_block];
                let n = if stored {
                    out[..len].copy_from_slice(data);
                    len
                } else if frame.linked && !self.history.is_empty() {
                    lz4_flex::block::decompress_into_with_dict(data, out, &self.history)
                        .map_err(|_| corrupt("invalid lz4 block"))?
                } else {
                    lz4_flex::block::decompress_into(data, out)
                        .map_err(|_| corrupt("invalid lz4 block"))?
                };
                frame.produced += n as u64;
                if let Some(size) = frame.content_size {
                    if frame.produced > size {
                        return Err(corrupt("content size mismatch"));
                    }
                }
                if frame.content_checksum {
                    frame.hasher.update(&out[..n]);
                }
                if frame.linked {
                    self.history.extend_from_slice(&out[..n]);
                    if self.history.len() > WINDOW {
                        let cut = self.history.len() - WINDOW;
                        self.history.drain(..cut);
                    }
                }
                self.ready = 0..n;
                self.expect(State::BlockSize, 4);
            }
            State::ContentChecksum => {
                let want = u32::from_le_bytes(self.acc[..4].try_into().expect("4 bytes"));
                let frame = self.frame.as_ref().expect("in a frame");
                if frame.hasher.digest() != want {
                    return Err(corrupt("content checksum mismatch"));
                }
                self.end_frame();
            }
            State::Skip { .. } => unreachable!("handled in decode"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xxh32_vectors() {
        // Reference values of XXH32 with seed 0.
        assert_eq!(xxh32(b""), 0x02CC_5D05);
        assert_eq!(xxh32(b"a"), 0x550D_7456);
        assert_eq!(xxh32(b"abc"), 0x32D1_53FF);
        let long: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let mut h = Xxh32::new();
        for piece in long.chunks(7) {
            h.update(piece);
        }
        assert_eq!(h.digest(), xxh32(&long));
    }
}
