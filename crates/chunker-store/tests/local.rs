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

suite::with_cases!(local);
