//! The one integration-test binary (one link step instead of one per file). Each module
//! covers one theme and talks to real components started by `scripts/test.sh`.

mod sources;
mod support;
mod validate;
