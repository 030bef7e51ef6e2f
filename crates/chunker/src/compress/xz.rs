//! xz through liblzma: real LZMA2 compression at the requested preset, optionally with
//! liblzma's multithreaded encoder (cargo feature `xz-parallel`).

use liblzma::stream::{Action, Check, Error, Status, Stream};

use super::{Codec, CompressionError};

/// Decoder memory allowed whatever the output limit: enough for `xz -9` (64 MiB
/// dictionary). Above it the limit itself is the bound.
pub const DECODER_MEMORY_FLOOR: u64 = 96 << 20;

fn error(e: Error) -> CompressionError {
    let reason = match e {
        Error::MemLimit | Error::Mem => return CompressionError::MemoryLimit { codec: Codec::Xz },
        Error::Data => "compressed data is corrupt",
        Error::Format => "not an xz stream",
        Error::Options => "unsupported options",
        Error::NoCheck => "no integrity check",
        Error::UnsupportedCheck => "unsupported integrity check",
        Error::Program => "liblzma programming error",
    };
    CompressionError::Corrupt {
        codec: Codec::Xz,
        reason,
    }
}

fn encoder(level: u32, threads: u32) -> Result<Stream, CompressionError> {
    #[cfg(feature = "xz-parallel")]
    if threads > 1 {
        return liblzma::stream::MtStreamBuilder::new()
            .threads(threads)
            .preset(level)
            .check(Check::Crc64)
            .encoder()
            .map_err(error);
    }
    let _ = threads;
    Stream::new_easy_encoder(level, Check::Crc64).map_err(error)
}

/// Compress `data` as one xz stream (CRC64 check), appended to `out`.
pub(crate) fn compress_into(
    level: u32,
    threads: u32,
    data: &[u8],
    out: &mut Vec<u8>,
) -> Result<usize, CompressionError> {
    let mut stream = encoder(level, threads)?;
    let start = out.len();
    let mut pos = 0;
    loop {
        if out.len() == out.capacity() {
            out.reserve((data.len() - pos) / 2 + 4096);
        }
        let before = stream.total_in();
        let status = stream
            .process_vec(&data[pos..], out, Action::Finish)
            .map_err(error)?;
        pos += (stream.total_in() - before) as usize;
        if status == Status::StreamEnd {
            return Ok(out.len() - start);
        }
    }
}

/// The encoder stream for [`super::Encoder`].
pub(crate) fn encoder_stream(level: u32, threads: u32) -> Result<Stream, CompressionError> {
    encoder(level, threads)
}

/// A streaming xz decoder: concatenated streams with stream padding between them
/// (handled here, one liblzma stream decoder per stream, so that the end of each
/// stream is seen), every check liblzma knows.
pub(crate) struct Decoder {
    stream: Stream,
    memlimit: u64,
    /// A stream has ended and no byte of another has been decoded since.
    complete: bool,
    /// Zero bytes after the end of the last stream (stream padding).
    padding: u64,
}

impl Decoder {
    pub(crate) fn new(limit: usize) -> Result<Self, CompressionError> {
        let memlimit = (limit as u64).max(DECODER_MEMORY_FLOOR);
        Ok(Decoder {
            stream: Stream::new_stream_decoder(memlimit, 0).map_err(error)?,
            memlimit,
            complete: false,
            padding: 0,
        })
    }

    /// Between streams: skip stream padding; at the first other byte start a new
    /// stream. Returns the input bytes consumed.
    fn between(&mut self, input: &[u8]) -> Result<usize, CompressionError> {
        if !self.complete {
            return Ok(0);
        }
        let zeros = input.iter().take_while(|&&b| b == 0).count();
        self.padding += zeros as u64;
        if zeros < input.len() {
            if !self.padding.is_multiple_of(4) {
                return Err(CompressionError::Corrupt {
                    codec: Codec::Xz,
                    reason: "stream padding is not a multiple of four bytes",
                });
            }
            self.stream = Stream::new_stream_decoder(self.memlimit, 0).map_err(error)?;
            self.complete = false;
            self.padding = 0;
        }
        Ok(zeros)
    }

    /// Skip padding / start a stream, then run `process` on the rest of `input`.
    fn run(
        &mut self,
        input: &[u8],
        last: bool,
        process: impl FnOnce(&mut Stream, &[u8], Action) -> Result<Status, Error>,
    ) -> Result<(usize, usize), CompressionError> {
        let skipped = self.between(input)?;
        if self.complete {
            return Ok((skipped, 0));
        }
        let (i, o) = (self.stream.total_in(), self.stream.total_out());
        let action = if last { Action::Finish } else { Action::Run };
        let status = process(&mut self.stream, &input[skipped..], action).map_err(error)?;
        if status == Status::StreamEnd {
            self.complete = true;
        }
        let c = (self.stream.total_in() - i) as usize;
        Ok((skipped + c, (self.stream.total_out() - o) as usize))
    }

    pub(crate) fn decode_slice(
        &mut self,
        input: &[u8],
        out: &mut [u8],
        last: bool,
    ) -> Result<(usize, usize), CompressionError> {
        self.run(input, last, |s, inp, a| s.process(inp, out, a))
    }

    pub(crate) fn decode_vec(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        last: bool,
    ) -> Result<(usize, usize), CompressionError> {
        self.run(input, last, |s, inp, a| s.process_vec(inp, out, a))
    }

    /// Zero bytes consumed after the end of the last stream (0 inside a stream).
    pub(crate) fn padding(&self) -> u64 {
        if self.complete {
            self.padding
        } else {
            0
        }
    }

    /// At the end of a stream, with whole padding after it.
    pub(crate) fn is_complete(&self) -> bool {
        self.complete && self.padding.is_multiple_of(4)
    }
}
