//! The threshold environment variables: read once per process; a bad value is a clear
//! error. Its own test binary, since it sets the environment before the first read.

use bytes::Bytes;
use chunker::pipeline::{Pipeline, PipelineError, Thresholds, THRESHOLD_BYTES_ENV, THRESHOLD_ENV};
use chunker::ChunkOptions;

#[test]
fn a_bad_value_is_an_error_naming_the_variable_and_read_once() {
    std::env::set_var(THRESHOLD_ENV, "12");
    std::env::set_var(THRESHOLD_BYTES_ENV, "lots");
    match Thresholds::from_env() {
        Err(PipelineError::InvalidEnv {
            variable, value, ..
        }) => {
            assert_eq!((variable, value.as_str()), (THRESHOLD_BYTES_ENV, "lots"));
        }
        other => panic!("{other:?}"),
    }
    let p = Pipeline::new(ChunkOptions::default());
    let e = p.bytes(Bytes::from_static(b"abc")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid CHUNKER_PARALLEL_THRESHOLD_BYTES=\"lots\": expected a non-negative integer"
    );
    // Explicit thresholds do not read the environment.
    assert!(p
        .clone()
        .thresholds(Thresholds {
            chunks: 0,
            bytes: 0
        })
        .bytes(Bytes::from_static(b"abc"))
        .is_ok());
    // Read once: later changes are not seen.
    std::env::set_var(THRESHOLD_BYTES_ENV, "5");
    assert!(Thresholds::from_env().is_err());
}
