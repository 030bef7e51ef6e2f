//! Multi-lane SHA-256 against the `sha2` crate: two arbitrary messages (split where
//! the input says), hashed together, in a batch, as two streams split at arbitrary
//! points, and as a stream lane beside a batch; on every kernel this CPU has.
#![no_main]

use chunker_sha256::{Kernel, Sha256, MAX_LANES};
use libfuzzer_sys::fuzz_target;
use sha2::Digest as _;

fn reference(data: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(data).into()
}

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<7>() else {
        return;
    };
    let at = |i: usize, len: usize| usize::from(u16::from_le_bytes([head[i], head[i + 1]])) % (len + 1);
    let (a, b) = rest.split_at(at(0, rest.len()));
    let (sa, sb) = (at(2, a.len()), at(4, b.len()));
    let lanes = 1 + usize::from(head[6]) % MAX_LANES;
    let want = [reference(a), reference(b)];
    for kernel in Kernel::available() {
        assert_eq!(kernel.digest_array([a, b]), want);
        assert_eq!(
            kernel.digest_many_lanes(lanes, &[a, b, a]),
            vec![want[0], want[1], want[0]]
        );
        let (mut ha, mut hb) = (Sha256::with_kernel(kernel), Sha256::with_kernel(kernel));
        kernel.update_lanes(lanes, &mut [&mut ha, &mut hb], &[&a[..sa], &b[..sb]]);
        kernel.update_lanes(lanes, &mut [&mut ha, &mut hb], &[&a[sa..], &b[sb..]]);
        assert_eq!([ha.finalize(), hb.finalize()], want);
        let mut whole = Sha256::with_kernel(kernel);
        let mut out = Vec::new();
        kernel.digest_many_with_stream(lanes, &mut whole, a, &[&a[..sa], &a[sa..]], &mut out);
        kernel.digest_many_with_stream(lanes, &mut whole, b, &[b], &mut out);
        assert_eq!(out, vec![reference(&a[..sa]), reference(&a[sa..]), want[1]]);
        assert_eq!(whole.finalize(), reference(rest));
    }
});
