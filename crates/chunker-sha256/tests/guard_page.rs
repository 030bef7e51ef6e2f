//! Reads stop at the end of the message: messages placed flush against an unreadable
//! page hash without a fault, on every kernel and lane count.
#![cfg(unix)]

use chunker_sha256::{Kernel, Sha256};
use sha2::Digest as _;

/// Two pages mapped; the second made inaccessible. Unmapped on drop.
struct Guarded {
    ptr: *mut libc::c_void,
    page: usize,
}

impl Guarded {
    fn new() -> Guarded {
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap();
        // SAFETY: an anonymous private mapping of two pages, checked below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                2 * page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(ptr, libc::MAP_FAILED);
        // SAFETY: the second page lies inside the mapping just made.
        let rc =
            unsafe { libc::mprotect(ptr.cast::<u8>().add(page).cast(), page, libc::PROT_NONE) };
        assert_eq!(rc, 0);
        Guarded { ptr, page }
    }

    /// The readable page.
    fn page(&mut self) -> &mut [u8] {
        // SAFETY: the first page is mapped read-write and owned by `self`.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.cast::<u8>(), self.page) }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`.
        unsafe { libc::munmap(self.ptr, 2 * self.page) };
    }
}

/// `sha2`'s digest of a copy of `data` (away from the guard page).
fn reference(data: &[u8]) -> [u8; 32] {
    let copy = data.to_vec();
    sha2::Sha256::digest(&copy).into()
}

#[test]
fn reads_stop_at_the_guard_page() {
    let mut g = Guarded::new();
    let page = g.page();
    for (i, b) in page.iter_mut().enumerate() {
        *b = (i * 131 + 7) as u8;
    }
    let page: &[u8] = page;
    let n = page.len();
    for kernel in Kernel::available() {
        for len in (0..=300).chain([1000, 4095, n]) {
            let msg = &page[n - len..];
            let want: [u8; 32] = reference(msg);
            assert_eq!(kernel.digest(msg), want, "{kernel} len {len}");
            let other = &page[n - len / 2..];
            let want_other: [u8; 32] = reference(other);
            assert_eq!(kernel.digest_array([msg, other]), [want, want_other]);
            assert_eq!(
                kernel.digest_array([other, msg, other, msg]),
                [want_other, want, want_other, want]
            );
            let mut h = Sha256::with_kernel(kernel);
            h.update(&msg[..len / 3]);
            h.update(&msg[len / 3..]);
            assert_eq!(h.finalize(), want);
        }
    }
}
