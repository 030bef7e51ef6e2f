//! bzip2 through the `bzip2` crate (the pure-Rust libbzip2 port).

use bzip2::{Action, Compress, Compression, Decompress, Error, Status};

use super::{Codec, CompressionError};

fn error(e: Error) -> CompressionError {
    let reason = match e {
        Error::Data => "data integrity error (CRC or block structure)",
        Error::DataMagic => "not a bzip2 stream",
        Error::Sequence => "bzip2 sequence error",
        Error::Param => "bzip2 parameter error",
    };
    CompressionError::Corrupt {
        codec: Codec::Bzip2,
        reason,
    }
}

/// Compress `data` as one bzip2 stream at `level` (1..=9, the block size in 100 kB),
/// appended to `out`.
pub(crate) fn compress_into(
    level: u32,
    data: &[u8],
    out: &mut Vec<u8>,
) -> Result<usize, CompressionError> {
    let mut c = Compress::new(Compression::new(level), 30);
    let start = out.len();
    let mut pos = 0;
    loop {
        if out.len() == out.capacity() {
            out.reserve((data.len() - pos) / 2 + 4096);
        }
        let before = c.total_in();
        let status = c
            .compress_vec(&data[pos..], out, Action::Finish)
            .map_err(error)?;
        pos += (c.total_in() - before) as usize;
        if status == Status::StreamEnd {
            return Ok(out.len() - start);
        }
    }
}

/// A streaming bzip2 decoder; concatenated streams (as `bzip2 -d` and `pbzip2` accept)
/// are decoded one after the other.
pub(crate) struct Decoder {
    inner: Decompress,
    stream_done: bool,
}

impl Decoder {
    pub(crate) fn new() -> Self {
        Decoder {
            inner: Decompress::new(false),
            stream_done: false,
        }
    }

    fn prepare(&mut self, input: &[u8]) {
        if self.stream_done && !input.is_empty() {
            self.inner = Decompress::new(false);
            self.stream_done = false;
        }
    }

    fn account(&mut self, status: Status, i: u64, o: u64) -> (usize, usize) {
        if status == Status::StreamEnd {
            self.stream_done = true;
        }
        (
            (self.inner.total_in() - i) as usize,
            (self.inner.total_out() - o) as usize,
        )
    }

    pub(crate) fn decode_slice(
        &mut self,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<(usize, usize), CompressionError> {
        self.prepare(input);
        if self.stream_done {
            return Ok((0, 0));
        }
        let (i, o) = (self.inner.total_in(), self.inner.total_out());
        let status = self.inner.decompress(input, out).map_err(error)?;
        Ok(self.account(status, i, o))
    }

    pub(crate) fn decode_vec(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(usize, usize), CompressionError> {
        self.prepare(input);
        if self.stream_done {
            return Ok((0, 0));
        }
        let (i, o) = (self.inner.total_in(), self.inner.total_out());
        let status = self.inner.decompress_vec(input, out).map_err(error)?;
        Ok(self.account(status, i, o))
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.stream_done
    }
}
