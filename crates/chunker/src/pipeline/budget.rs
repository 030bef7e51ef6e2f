//! The byte budget for data in flight: chunks handed to workers and their compressed
//! output, until the consumer takes them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};

#[derive(Debug)]
pub(super) struct Budget {
    limit: usize,
    state: Mutex<State>,
    changed: Condvar,
    /// `state.cancelled`, readable without the lock.
    cancelled: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    in_flight: usize,
    cancelled: bool,
}

impl Budget {
    pub(super) fn new(limit: usize) -> Budget {
        Budget {
            limit,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            cancelled: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wait until `n` more bytes fit (or nothing is in flight, so that one batch larger
    /// than the budget still moves); false once cancelled.
    pub(super) fn acquire(&self, n: usize) -> bool {
        let mut s = self.lock();
        while !s.cancelled && s.in_flight > 0 && s.in_flight + n > self.limit {
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        if s.cancelled {
            return false;
        }
        s.in_flight += n;
        true
    }

    /// Take `n` bytes if they fit now.
    pub(super) fn try_acquire(&self, n: usize) -> bool {
        let mut s = self.lock();
        if s.cancelled || (s.in_flight > 0 && s.in_flight + n > self.limit) {
            return false;
        }
        s.in_flight += n;
        true
    }

    /// Count `n` more bytes without waiting (compressed output).
    pub(super) fn add(&self, n: usize) {
        self.lock().in_flight += n;
    }

    pub(super) fn release(&self, n: usize) {
        let mut s = self.lock();
        s.in_flight = s.in_flight.saturating_sub(n);
        drop(s);
        self.changed.notify_all();
    }

    pub(super) fn cancel(&self) {
        self.lock().cancelled = true;
        self.cancelled.store(true, Ordering::Relaxed);
        self.changed.notify_all();
    }

    pub(super) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }
}
