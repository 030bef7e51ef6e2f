//! zstd through libzstd, with per-thread pooled contexts.
//!
//! Creating a zstd context costs far more than compressing a small chunk, so one-shot
//! calls borrow a compression or decompression context from a per-thread pool and give
//! it back afterwards: after the first call on a thread, compressing into a buffer with
//! room (or decompressing into one) allocates nothing. Contexts with a dictionary loaded
//! are pooled per (dictionary, level); the dictionary's tables are built once per
//! context, not per frame.

use std::cell::RefCell;
use std::io::Cursor;

use zstd::zstd_safe::{
    self, CCtx, CParameter, DCtx, DParameter, InBuffer, OutBuffer, ResetDirective,
};

use super::dict::Dictionary;
use super::{Codec, CompressionError};

/// Dictionary contexts kept per thread (compression and decompression each).
const DICT_SLOTS: usize = 4;

struct Pool {
    dctx: Option<DCtx<'static>>,
    dctx_dict: Vec<(u64, DCtx<'static>)>,
    cctx: Option<(i32, CCtx<'static>)>,
    cctx_dict: Vec<((u64, i32), CCtx<'static>)>,
}

thread_local! {
    static POOL: RefCell<Pool> = const {
        RefCell::new(Pool { dctx: None, dctx_dict: Vec::new(), cctx: None, cctx_dict: Vec::new() })
    };
}

fn error(code: usize) -> CompressionError {
    let reason = zstd_safe::get_error_name(code);
    if reason.contains("memory") {
        CompressionError::MemoryLimit { codec: Codec::Zstd }
    } else {
        CompressionError::Corrupt {
            codec: Codec::Zstd,
            reason,
        }
    }
}

/// The largest window (log2) a frame may ask for under an output limit: zstd's own
/// default cap (2^27, what `zstd --ultra -22` writes), or the limit rounded up to a
/// power of two when larger (so `--long=31` frames decode under a 2 GiB limit). Window
/// memory is only touched as output is produced, so resident memory stays near the
/// output limit whatever a header claims.
fn window_log_max(limit: usize) -> u32 {
    let log = usize::BITS - limit.saturating_sub(1).leading_zeros();
    log.clamp(27, 31)
}

fn take_cctx(level: i32, dict: Option<&Dictionary>) -> Result<CCtx<'static>, CompressionError> {
    let pooled = POOL.with(|p| {
        let mut p = p.borrow_mut();
        match dict {
            None => p.cctx.take(),
            Some(d) => {
                let key = (d.instance(), level);
                let i = p.cctx_dict.iter().position(|(k, _)| *k == key)?;
                Some((level, p.cctx_dict.swap_remove(i).1))
            }
        }
    });
    let mut ctx = match pooled {
        Some((l, ctx)) if l == level => return Ok(ctx),
        Some((_, ctx)) => ctx,
        None => {
            let mut ctx =
                CCtx::try_create().ok_or(CompressionError::MemoryLimit { codec: Codec::Zstd })?;
            if let Some(d) = dict {
                ctx.load_dictionary(d.as_bytes()).map_err(error)?;
            }
            ctx
        }
    };
    ctx.set_parameter(CParameter::CompressionLevel(level))
        .map_err(error)?;
    Ok(ctx)
}

fn give_cctx(level: i32, dict: Option<&Dictionary>, ctx: CCtx<'static>) {
    let _ = POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        match dict {
            None => p.cctx = Some((level, ctx)),
            Some(d) => {
                if p.cctx_dict.len() >= DICT_SLOTS {
                    p.cctx_dict.remove(0);
                }
                p.cctx_dict.push(((d.instance(), level), ctx));
            }
        }
    });
}

/// Compress `data` as one zstd frame (content size recorded; a content checksum when
/// `checksum`; the dictionary's ID when one is given), appended to `out`. Returns the
/// bytes appended.
pub(crate) fn compress_into(
    level: i32,
    dict: Option<&Dictionary>,
    checksum: bool,
    data: &[u8],
    out: &mut Vec<u8>,
) -> Result<usize, CompressionError> {
    let mut ctx = take_cctx(level, dict)?;
    // Set on every call (a pooled context keeps the last caller's setting); setting a
    // parameter allocates nothing.
    if let Err(code) = ctx.set_parameter(CParameter::ChecksumFlag(checksum)) {
        give_cctx(level, dict, ctx);
        return Err(error(code));
    }
    let start = out.len();
    out.reserve(zstd_safe::compress_bound(data.len()));
    let mut cursor = Cursor::new(&mut *out);
    cursor.set_position(start as u64);
    let result = ctx.compress2(&mut cursor, data);
    give_cctx(level, dict, ctx);
    result.map_err(error)
}

/// A streaming zstd decoder over a pooled context (given back on drop). Decodes any
/// number of concatenated frames; skippable frames are skipped.
pub(crate) struct Decoder {
    ctx: Option<DCtx<'static>>,
    dict: Option<u64>,
    complete: bool,
    /// The first bytes of the frame being decoded (enough for its header; inline, so
    /// that a decoder allocates nothing).
    frame_head: [u8; FRAME_HEADER_MAX],
    frame_head_len: usize,
    /// Bytes decoded from the frame being decoded.
    frame_out: u64,
}

/// Longest zstd frame header.
const FRAME_HEADER_MAX: usize = 18;

impl Decoder {
    pub(crate) fn new(dict: Option<&Dictionary>, limit: usize) -> Result<Self, CompressionError> {
        let key = dict.map(Dictionary::instance);
        let pooled = POOL.with(|p| {
            let mut p = p.borrow_mut();
            match key {
                None => p.dctx.take(),
                Some(k) => {
                    let i = p.dctx_dict.iter().position(|(id, _)| *id == k)?;
                    Some(p.dctx_dict.swap_remove(i).1)
                }
            }
        });
        let mut ctx = match pooled {
            Some(mut ctx) => {
                ctx.reset(ResetDirective::SessionOnly).map_err(error)?;
                ctx
            }
            None => {
                let mut ctx = DCtx::try_create()
                    .ok_or(CompressionError::MemoryLimit { codec: Codec::Zstd })?;
                if let Some(d) = dict {
                    ctx.load_dictionary(d.as_bytes()).map_err(error)?;
                }
                ctx
            }
        };
        ctx.set_parameter(DParameter::WindowLogMax(window_log_max(limit)))
            .map_err(error)?;
        Ok(Decoder {
            ctx: Some(ctx),
            dict: key,
            complete: false,
            frame_head: [0; FRAME_HEADER_MAX],
            frame_head_len: 0,
            frame_out: 0,
        })
    }

    fn step<C: zstd_safe::WriteBuf + ?Sized>(
        &mut self,
        input: &[u8],
        out: &mut OutBuffer<'_, C>,
    ) -> Result<usize, CompressionError> {
        let ctx = self.ctx.as_mut().expect("context present until drop");
        let mut inb = InBuffer::around(input);
        let before = out.pos();
        let hint = ctx.decompress_stream(out, &mut inb).map_err(error)?;
        let (consumed, written) = (inb.pos(), out.pos() - before);
        // A call ends at most one frame, so the bytes consumed so far belong to it.
        let have = self.frame_head_len;
        let head = (FRAME_HEADER_MAX - have).min(consumed);
        self.frame_head[have..have + head].copy_from_slice(&input[..head]);
        self.frame_head_len += head;
        self.frame_out += written as u64;
        if hint == 0 {
            // libzstd's streaming path (taken when the output space is smaller than the
            // frame) accepts a frame whose blocks decode to less than the content size
            // its header declares, which the one-shot path rejects: check it here, so
            // that every form and output size gives the same answer.
            let header = &self.frame_head[..self.frame_head_len];
            if let Ok(Some(declared)) = zstd_safe::get_frame_content_size(header) {
                if declared != self.frame_out {
                    return Err(CompressionError::Corrupt {
                        codec: Codec::Zstd,
                        reason: "frame content size mismatch",
                    });
                }
            }
            self.frame_head_len = 0;
            self.frame_out = 0;
            self.complete = true;
        } else if consumed > 0 || written > 0 {
            self.complete = false;
        }
        Ok(consumed)
    }

    pub(crate) fn decode_slice(
        &mut self,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<(usize, usize), CompressionError> {
        let mut ob = OutBuffer::around(out);
        let c = self.step(input, &mut ob)?;
        Ok((c, ob.pos()))
    }

    pub(crate) fn decode_vec(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(usize, usize), CompressionError> {
        let before = out.len();
        let mut ob = OutBuffer::around_pos(out, before);
        let c = self.step(input, &mut ob)?;
        let after = ob.pos();
        Ok((c, after - before))
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.complete
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        let Some(ctx) = self.ctx.take() else { return };
        let key = self.dict;
        let _ = POOL.try_with(|p| {
            let mut p = p.borrow_mut();
            match key {
                None => p.dctx = Some(ctx),
                Some(k) => {
                    if p.dctx_dict.len() >= DICT_SLOTS {
                        p.dctx_dict.remove(0);
                    }
                    p.dctx_dict.push((k, ctx));
                }
            }
        });
    }
}

/// The content size declared in the first frame's header, if any.
pub(crate) fn content_size(input: &[u8]) -> Option<u64> {
    zstd_safe::get_frame_content_size(input).ok().flatten()
}

/// The dictionary ID declared in the first frame's header, if any.
pub(crate) fn dict_id(input: &[u8]) -> Option<u32> {
    zstd_safe::get_dict_id_from_frame(input).map(|id| id.get())
}
