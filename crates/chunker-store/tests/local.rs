//! The store suite on a local directory.

mod suite;
mod support;

use support::local_store;

macro_rules! local {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            suite::$name(&local_store());
        }
    )*};
}

local!(
    round_trip_real_nars,
    compressed_inputs,
    dedup_two_versions,
    flipped_byte,
    missing_pack,
    hostile_objects,
    config_pinned,
    ranges,
    list_and_remove,
    crash_then_add,
    concurrent_identical_adds,
    puts_per_pack,
);
