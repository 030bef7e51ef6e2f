//! Helpers shared by the kernel test crates.

use chunker_cdc::Kernel;

/// The kernels this CPU can run; the others are reported, never silently passed.
pub fn kernels() -> Vec<Kernel> {
    let mut ks = Vec::new();
    for &k in Kernel::ALL {
        if k.is_available() {
            ks.push(k);
        } else {
            eprintln!("skipped: kernel {k} is not available on this CPU");
        }
    }
    assert!(ks.contains(&Kernel::Portable));
    ks
}
