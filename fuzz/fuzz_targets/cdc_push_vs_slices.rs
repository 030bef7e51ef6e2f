//! Arbitrary bytes, sizes and split points: the push chunker's cut points equal the
//! slice iterator's, for every available kernel, and cover the input exactly.
#![no_main]

use chunker_cdc::{Chunker, Kernel};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if input.len() < 8 {
        return;
    }
    let (head, data) = input.split_at(8);
    let Some(config) = chunker_fuzz::config_from(head[..6].try_into().unwrap(), 4096) else {
        return;
    };
    let step = 1 + usize::from(head[6]) * 37;
    let reference: Vec<_> = Chunker::with_kernel(config, Kernel::Portable)
        .unwrap()
        .spans(data)
        .collect();
    assert_eq!(
        reference.iter().map(|s| s.length).sum::<usize>(),
        data.len()
    );
    for kernel in Kernel::available() {
        let chunker = Chunker::with_kernel(config, kernel).unwrap();
        assert_eq!(
            chunker.spans(data).collect::<Vec<_>>(),
            reference,
            "{kernel}"
        );
        let mut push = chunker.push();
        let mut got = Vec::new();
        for piece in data.chunks(step) {
            got.extend(push.feed(piece));
        }
        got.extend(push.finish());
        assert_eq!(got, reference, "{kernel} push, step {step}");
    }
});
