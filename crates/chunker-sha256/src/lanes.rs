//! The lane scheduler: whatever the messages' lengths, keep up to `width` lanes busy.
//!
//! Each piece of work (a [`Job`]) is a run of 64-byte blocks in up to three segments:
//! one owned block carried over from a streaming buffer, the message's whole blocks
//! (borrowed, never copied), and one or two owned padding blocks. The scheduler puts
//! one job in each lane, compresses the blocks all lanes have in common in one kernel
//! call, and when a lane's job ends, hands its state back and takes the next job at
//! once; with no job left, the remaining lanes go on with fewer lanes.

use crate::kernel::{Kernel, MAX_LANES};

/// The initial hash value of FIPS 180-4 §5.3.3.
pub(crate) const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// One lane's work: `head`, then `body`, then `tail`, with the state to start from.
#[derive(Clone)]
pub(crate) struct Job<'a> {
    pub(crate) state: [u32; 8],
    head: [[u8; 64]; 1],
    head_at: usize,
    head_len: usize,
    body: &'a [[u8; 64]],
    tail: [[u8; 64]; 2],
    tail_at: usize,
    tail_len: usize,
}

impl<'a> Job<'a> {
    /// Blocks `body` from `state`, with no head and no tail.
    pub(crate) fn new(state: [u32; 8], body: &'a [[u8; 64]]) -> Self {
        Job {
            state,
            head: [[0; 64]],
            head_at: 0,
            head_len: 0,
            body,
            tail: [[0; 64]; 2],
            tail_at: 0,
            tail_len: 0,
        }
    }

    /// The whole of `message`, padded.
    pub(crate) fn message(message: &'a [u8]) -> Self {
        let (body, rest) = message.as_chunks::<64>();
        Job::new(H0, body).with_padding(rest, message.len() as u64)
    }

    /// Process `block` first.
    pub(crate) fn with_head(mut self, block: [u8; 64]) -> Self {
        self.head = [block];
        self.head_len = 1;
        self
    }

    /// End with the last `rest` (< 64) bytes of a message of `total` bytes and its
    /// padding: 0x80, zeros, the length in bits as a 64-bit big-endian number.
    pub(crate) fn with_padding(mut self, rest: &[u8], total: u64) -> Self {
        debug_assert!(rest.len() < 64);
        let mut buf = [0u8; 128];
        buf[..rest.len()].copy_from_slice(rest);
        buf[rest.len()] = 0x80;
        let len = if rest.len() < 56 { 64 } else { 128 };
        buf[len - 8..len].copy_from_slice(&total.wrapping_mul(8).to_be_bytes());
        let (blocks, _) = buf.as_chunks::<64>();
        self.tail = [blocks[0], blocks[1]];
        self.tail_len = len / 64;
        self
    }

    /// The blocks still to do in the current segment (empty when the job is done).
    fn current(&self) -> &[[u8; 64]] {
        if self.head_at < self.head_len {
            &self.head[self.head_at..self.head_len]
        } else if !self.body.is_empty() {
            self.body
        } else {
            &self.tail[self.tail_at..self.tail_len]
        }
    }

    fn advance(&mut self, n: usize) {
        if self.head_at < self.head_len {
            self.head_at += n;
        } else if !self.body.is_empty() {
            self.body = &self.body[n..];
        } else {
            self.tail_at += n;
        }
    }
}

/// Run `jobs` (each tagged with an id) on `width` lanes (clamped to 1..=MAX_LANES);
/// `done(id, state)` gets each job's final state as soon as it ends, so in the order
/// jobs end, not the order given.
pub(crate) fn run<'a>(
    kernel: Kernel,
    width: usize,
    jobs: impl IntoIterator<Item = (usize, Job<'a>)>,
    mut done: impl FnMut(usize, [u32; 8]),
) {
    let width = width.clamp(1, MAX_LANES);
    let mut jobs = jobs.into_iter();
    let mut lanes: [Option<(usize, Job<'a>)>; MAX_LANES] = Default::default();
    loop {
        for lane in &mut lanes[..width] {
            loop {
                match lane {
                    Some((id, job)) if job.current().is_empty() => {
                        done(*id, job.state);
                        *lane = None;
                    }
                    Some(_) => break,
                    None => match jobs.next() {
                        Some(next) => *lane = Some(next),
                        None => break,
                    },
                }
            }
        }
        let mut states = [[0u32; 8]; MAX_LANES];
        let mut blocks: [&[[u8; 64]]; MAX_LANES] = [&[]; MAX_LANES];
        let mut active = 0;
        let mut nblocks = usize::MAX;
        for (_, job) in lanes[..width].iter().flatten() {
            states[active] = job.state;
            blocks[active] = job.current();
            nblocks = nblocks.min(blocks[active].len());
            active += 1;
        }
        if active == 0 {
            return;
        }
        kernel.compress(&mut states[..active], &blocks[..active], nblocks);
        for (state, (_, job)) in states.iter().zip(lanes[..width].iter_mut().flatten()) {
            job.state = *state;
            job.advance(nblocks);
        }
    }
}

/// The digest of a final state: its words big-endian.
pub(crate) fn output(state: [u32; 8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (bytes, word) in out.chunks_exact_mut(4).zip(state) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
    out
}
