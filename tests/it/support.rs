//! Helpers shared by the integration tests: the built binary, temp dirs, and the services
//! `scripts/test.sh` starts.

#![allow(dead_code)]

use std::path::PathBuf;

/// The `burnwatch` binary under test.
pub fn burnwatch() -> assert_cmd::Command {
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_burnwatch"))
}

/// Repository root (for `slo-specs/`, fixtures, runbooks).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture under `tests/fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    repo().join("tests/fixtures").join(rel)
}

/// The value of a `BURNWATCH_TEST_*` variable that `scripts/test.sh` exports for a
/// service. A missing service fails the test: a test that needs a component never passes
/// without it. Run the suite through `scripts/test.sh`, which installs and starts them.
pub fn service(var: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{var} is not set: this test needs a real component started by scripts/test.sh \
             (run `scripts/test.sh`, or start the service and export {var})"
        ),
    }
}
