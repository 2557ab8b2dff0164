//! `burnwatch validate` end to end: exit codes, summaries and FILE:LINE:COL messages.

use crate::support::{burnwatch, repo};

#[test]
fn platform_specs_are_valid() {
    let out = burnwatch()
        .current_dir(repo())
        .arg("validate")
        .output()
        .expect("run burnwatch");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("SLOs in 3 files are valid"), "{stdout}");
}
