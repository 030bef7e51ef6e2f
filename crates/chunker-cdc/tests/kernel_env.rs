//! `CHUNKER_CDC_KERNEL` is read once per process, so this file holds a single test (one
//! test binary = one process): a bad override is reported by `Kernel::from_env` and
//! ignored by `Kernel::detect`, which falls back to the fastest kernel.

use chunker_cdc::{Kernel, KernelError, KERNEL_ENV};

#[test]
fn unknown_override_is_an_error_not_a_crash() {
    std::env::set_var(KERNEL_ENV, "no-such-kernel");
    assert_eq!(
        Kernel::from_env(),
        Err(KernelError::Unknown {
            name: "no-such-kernel".into()
        })
    );
    assert_eq!(Kernel::detect(), Kernel::fastest());
    // Read once: later changes are not seen.
    std::env::set_var(KERNEL_ENV, "portable");
    assert!(Kernel::from_env().is_err());
    assert_eq!(Kernel::detect(), Kernel::fastest());
}
