//! Multi-lane SHA-256: several independent messages hashed in one interleaved loop.
//!
//! ```
//! let digests = chunker_sha256::digest_many(&[&b"abc"[..], b"", &[7u8; 100_000]]);
//! assert_eq!(digests.len(), 3);
//! assert_eq!(digests[0], chunker_sha256::digest(b"abc"));
//! assert_eq!(
//!     digests[1][..4],
//!     [0xe3, 0xb0, 0xc4, 0x42], // SHA-256 of "" is e3b0c442…
//! );
//!
//! // Streams advanced together: the digest of a whole stream plus its pieces.
//! let data = vec![42u8; 300_000];
//! let mut whole = chunker_sha256::Sha256::new();
//! let pieces: Vec<&[u8]> = data.chunks(70_000).collect();
//! let piece_digests = chunker_sha256::digest_many_with_stream(&mut whole, &data, &pieces);
//! assert_eq!(whole.finalize(), chunker_sha256::digest(&data));
//! assert_eq!(piece_digests[4], chunker_sha256::digest(&data[280_000..]));
//! ```
//!
//! # Why lanes
//! On x86-64 with the SHA extensions, one SHA-256 stream is a chain of dependent
//! `sha256rnds2` instructions: each waits for the previous one, so the CPU's round unit
//! sits mostly idle. Rounds of *different* messages are independent, so hashing two to
//! four messages in one loop runs them in the time of about one (measured figures in
//! `docs/BENCHMARKS.md`). Chunk digests are independent messages, and the digest of the
//! whole stream can run as one more lane over the same bytes.
//!
//! # Forms
//! - [`digest`], [`digest_x2`], [`digest_x4`]: one-shot, messages of any lengths (the
//!   blocks they have in common are interleaved, the longer ones finished with fewer
//!   lanes, each padded on its own).
//! - [`digest_many`]: a batch; when a lane's message ends, that lane takes the next one
//!   at once, as multi-buffer job managers do. Digests come back in input order.
//! - [`Sha256`]: a streaming hasher; [`update_lanes`] advances several together, and
//!   [`digest_many_with_stream`] hashes a batch while one stream takes the batch's
//!   bytes as one more lane.
//! - [`Kernel`]: every form as a method with the kernel chosen by the caller (tests and
//!   benchmarks); the free functions use [`Kernel::detect`].
//!
//! # Kernels
//! `shani` (x86-64 SHA extensions, up to [`MAX_LANES`] lanes), `shani-avx2` (the same
//! rounds with part of the message schedule computed in AVX2 registers, eight blocks at
//! a time; slower than `shani` on the machine measured, so never chosen by detection)
//! and `portable` (the `sha2` crate, one message after another). Detection runs once;
//! the environment variable `CHUNKER_SHA256_KERNEL=portable|shani|shani-avx2` overrides
//! it (read once). All kernels give the digests of FIPS 180-4, bit for bit those of
//! `sha2`.
//!
//! `unsafe` code is confined to the SHA-NI kernels (`src/shani.rs`,
//! `src/shani_avx2.rs`): their vector loads and stores, and the calls into them from the
//! dispatch point after the CPU check.

#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![cfg_attr(not(target_arch = "x86_64"), forbid(unsafe_code))]

mod kernel;
mod lanes;
#[cfg(target_arch = "x86_64")]
mod shani;
#[cfg(target_arch = "x86_64")]
mod shani_avx2;

pub use kernel::{Kernel, KernelError, KERNEL_ENV, MAX_LANES};

use lanes::{output, run, Job, H0};

/// The SHA-256 digest of `data`.
///
/// ```
/// assert_eq!(
///     chunker_sha256::digest(b"abc")[..4],
///     [0xba, 0x78, 0x16, 0xbf],
/// );
/// ```
pub fn digest(data: &[u8]) -> [u8; 32] {
    Kernel::detect().digest(data)
}

/// The digests of two messages of any lengths, hashed together.
pub fn digest_x2(a: &[u8], b: &[u8]) -> [[u8; 32]; 2] {
    Kernel::detect().digest_array([a, b])
}

/// The digests of four messages of any lengths, hashed together.
pub fn digest_x4(messages: [&[u8]; 4]) -> [[u8; 32]; 4] {
    Kernel::detect().digest_array(messages)
}

/// The digests of `messages`, in order, on the detected kernel's best number of lanes.
pub fn digest_many<M: AsRef<[u8]>>(messages: &[M]) -> Vec<[u8; 32]> {
    let kernel = Kernel::detect();
    kernel.digest_many_lanes(kernel.lanes(), messages)
}

/// Feed `inputs[i]` to `hashers[i]` for every `i`, the hashers advanced together.
///
/// # Panics
/// If the slices differ in length.
pub fn update_lanes(hashers: &mut [&mut Sha256], inputs: &[&[u8]]) {
    let kernel = Kernel::detect();
    kernel.update_lanes(kernel.lanes(), hashers, inputs);
}

/// The digests of `messages` while `stream` takes `stream_input` as one more lane
/// (typically the same bytes: chunk digests and the whole stream's digest in one pass),
/// on [`Kernel::stream_lanes`] lanes.
pub fn digest_many_with_stream<M: AsRef<[u8]>>(
    stream: &mut Sha256,
    stream_input: &[u8],
    messages: &[M],
) -> Vec<[u8; 32]> {
    let kernel = Kernel::detect();
    let mut out = Vec::with_capacity(messages.len());
    let lanes = kernel.stream_lanes();
    kernel.digest_many_with_stream(lanes, stream, stream_input, messages, &mut out);
    out
}

impl Kernel {
    /// The SHA-256 digest of `data`, on this kernel (one lane).
    pub fn digest(self, data: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        run(self, 1, [(0, Job::message(data))], |_, s| out = output(s));
        out
    }

    /// The digests of `N` messages of any lengths on `N` lanes (at most
    /// [`MAX_LANES`] at a time).
    pub fn digest_array<const N: usize>(self, messages: [&[u8]; N]) -> [[u8; 32]; N] {
        let mut out = [[0u8; 32]; N];
        let jobs = messages.iter().map(|m| Job::message(m)).enumerate();
        run(self, N, jobs, |i, s| out[i] = output(s));
        out
    }

    /// The digests of `messages`, in order, on `lanes` lanes (clamped to
    /// 1..=[`MAX_LANES`]); a lane whose message ends takes the next one.
    pub fn digest_many_lanes<M: AsRef<[u8]>>(self, lanes: usize, messages: &[M]) -> Vec<[u8; 32]> {
        let mut out = vec![[0u8; 32]; messages.len()];
        let jobs = messages
            .iter()
            .map(|m| Job::message(m.as_ref()))
            .enumerate();
        run(self, lanes, jobs, |i, s| out[i] = output(s));
        out
    }

    /// Append the digests of `messages` to `out` while `stream` takes `stream_input`,
    /// on `lanes` lanes. The stream's lane starts first, so a long stream input overlaps
    /// the whole batch.
    pub fn digest_many_with_stream<M: AsRef<[u8]>>(
        self,
        lanes: usize,
        stream: &mut Sha256,
        stream_input: &[u8],
        messages: &[M],
        out: &mut Vec<[u8; 32]>,
    ) {
        let base = out.len();
        out.resize(base + messages.len(), [0; 32]);
        let stream_job = stream.update_job(stream_input).map(|j| (usize::MAX, j));
        let jobs = messages
            .iter()
            .map(|m| Job::message(m.as_ref()))
            .enumerate();
        run(self, lanes, stream_job.into_iter().chain(jobs), |i, s| {
            if i == usize::MAX {
                stream.state = s;
            } else {
                out[base + i] = output(s);
            }
        });
    }

    /// Feed `inputs[i]` to `hashers[i]` for every `i` on `lanes` lanes.
    ///
    /// # Panics
    /// If the slices differ in length.
    pub fn update_lanes(self, lanes: usize, hashers: &mut [&mut Sha256], inputs: &[&[u8]]) {
        assert_eq!(hashers.len(), inputs.len(), "one input per hasher");
        let jobs: Vec<(usize, Job<'_>)> = hashers
            .iter_mut()
            .zip(inputs)
            .enumerate()
            .filter_map(|(i, (h, input))| h.update_job(input).map(|j| (i, j)))
            .collect();
        run(self, lanes, jobs, |i, s| hashers[i].state = s);
    }
}

/// A streaming SHA-256 hasher.
///
/// [`update`](Sha256::update) on its own runs one lane; [`update_lanes`] and
/// [`digest_many_with_stream`] advance several hashers (or a hasher and a batch) in
/// one interleaved loop.
///
/// ```
/// use chunker_sha256::Sha256;
///
/// let mut h = Sha256::new();
/// h.update(b"a");
/// h.update(b"bc");
/// assert_eq!(h.finalize(), chunker_sha256::digest(b"abc"));
/// ```
#[derive(Clone)]
pub struct Sha256 {
    kernel: Kernel,
    state: [u32; 8],
    buf: [u8; 64],
    buf_len: usize,
    len: u64,
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sha256")
            .field("kernel", &self.kernel)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Sha256 {
    /// A hasher on the detected kernel.
    pub fn new() -> Self {
        Self::with_kernel(Kernel::detect())
    }

    /// A hasher whose own [`update`](Sha256::update) and
    /// [`finalize`](Sha256::finalize) use `kernel`.
    pub fn with_kernel(kernel: Kernel) -> Self {
        Sha256 {
            kernel,
            state: H0,
            buf: [0; 64],
            buf_len: 0,
            len: 0,
        }
    }

    /// Bytes fed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing has been fed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Feed `data`.
    pub fn update(&mut self, data: &[u8]) {
        if let Some(job) = self.update_job(data) {
            let mut state = self.state;
            run(self.kernel, 1, [(0, job)], |_, s| state = s);
            self.state = state;
        }
    }

    /// The digest of everything fed so far; the hasher is unchanged and may go on.
    pub fn finalize(&self) -> [u8; 32] {
        let job = Job::new(self.state, &[]).with_padding(&self.buf[..self.buf_len], self.len);
        let mut out = [0u8; 32];
        run(self.kernel, 1, [(0, job)], |_, s| out = output(s));
        out
    }

    /// Start again from nothing.
    pub fn reset(&mut self) {
        *self = Self::with_kernel(self.kernel);
    }

    /// Account for `data` now: buffer what does not fill a block, and return the job
    /// that compresses the rest (`None` when there is none); its final state is this
    /// hasher's new state.
    fn update_job<'a>(&mut self, data: &'a [u8]) -> Option<Job<'a>> {
        self.len = self.len.wrapping_add(data.len() as u64);
        let mut data = data;
        let mut head = None;
        if self.buf_len > 0 {
            let take = (64 - self.buf_len).min(data.len());
            self.buf[self.buf_len..self.buf_len + take].copy_from_slice(&data[..take]);
            self.buf_len += take;
            data = &data[take..];
            if self.buf_len < 64 {
                return None;
            }
            head = Some(self.buf);
            self.buf_len = 0;
        }
        let (body, rest) = data.as_chunks::<64>();
        self.buf[..rest.len()].copy_from_slice(rest);
        self.buf_len = rest.len();
        match head {
            Some(block) => Some(Job::new(self.state, body).with_head(block)),
            None if body.is_empty() => None,
            None => Some(Job::new(self.state, body)),
        }
    }
}
