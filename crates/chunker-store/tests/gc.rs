//! GC, import, simulate and dedup tests on a local directory (the functions in
//! `gc_suite` take a [`support::TestStore`], so an S3 harness can run them too).

mod gc_suite;
mod suite;
mod support;

use support::local_store;

macro_rules! local {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            gc_suite::$name(&local_store());
        }
    )*};
}

local!(
    gc_reclaims_after_grace,
    gc_after_crashed_ingest,
    gc_races_paused_ingest,
    stale_handle_after_gc,
    repack_sparse_packs,
    locks_exclusive_and_stale,
    import_file_and_http_cache,
    dedup_real_tree,
    simulate_matches_store,
);
