//! `deploy/iam-policy.json` allows exactly the AWS operations burnwatch calls.
//!
//! The test scans `src/` for SDK operation calls (`.get_metric_data()`, `.list_jobs()`, …):
//! the operation names come from the SDK crates themselves (their `src/operation/`
//! folders, located with `cargo metadata`), so a newly added call of any operation of any
//! AWS SDK crate in use is found. It fails when the code calls an operation the policy
//! does not allow, and when the policy allows an action the code never calls (least
//! privilege).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::repo;

/// SDK crate → IAM service prefix.
const PREFIXES: &[(&str, &str)] = &[
    ("aws-sdk-cloudwatch", "cloudwatch"),
    ("aws-sdk-sfn", "states"),
    ("aws-sdk-batch", "batch"),
    ("aws-sdk-rds", "rds"),
    ("aws-sdk-sns", "sns"),
    ("aws-sdk-secretsmanager", "secretsmanager"),
    ("aws-sdk-sts", "sts"),
];

/// IAM actions that are not SDK operation calls (none yet; e.g. `rds-db:connect` for IAM
/// database authentication belongs here when the probe uses it).
/// Actions the policy needs that are not SDK calls: `rds-db:connect` authorises the IAM
/// token a database probe signs locally (`aws_sdk_rds::auth_token`) and presents to
/// PostgreSQL.
const NON_SDK_ACTIONS: &[&str] = &["rds-db:connect"];

/// `{crate name (aws_sdk_x): (iam prefix, {operation snake name})}` for the SDK crates.
fn sdk_operations() -> BTreeMap<String, (String, BTreeSet<String>)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Only the host's packages: others (Windows-only crates) may not be downloaded.
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc)
        .arg("-vV")
        .output()
        .expect("run rustc -vV");
    let host = String::from_utf8_lossy(&version.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .expect("rustc -vV names the host");
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--filter-platform",
            &host,
        ])
        .current_dir(repo())
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let mut ops = BTreeMap::new();
    for pkg in meta["packages"].as_array().expect("packages") {
        let name = pkg["name"].as_str().unwrap_or_default();
        let Some((_, prefix)) = PREFIXES.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        let manifest = PathBuf::from(pkg["manifest_path"].as_str().unwrap_or_default());
        let dir = manifest.parent().unwrap().join("src/operation");
        let names: BTreeSet<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.len() > 5,
            "{name}: operations not found in {}",
            dir.display()
        );
        ops.insert(name.replace('-', "_"), (prefix.to_string(), names));
    }
    assert!(
        ops.contains_key("aws_sdk_cloudwatch"),
        "SDK crates not found: {:?}",
        ops.keys()
    );
    ops
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Normalised `prefix:operation` (lowercase, no underscores) of every call in `src/`,
/// with the file it was found in.
fn calls_in_src() -> BTreeMap<String, String> {
    let ops = sdk_operations();
    let call = regex::Regex::new(r"\.([a-z][a-z0-9_]*)\(\)").unwrap();
    let mut files = Vec::new();
    rust_files(&repo().join("src"), &mut files);
    let mut found = BTreeMap::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        // Crates the file names; a file naming none could call any.
        let named: Vec<_> = ops.keys().filter(|c| text.contains(c.as_str())).collect();
        let candidates: Vec<_> = if named.is_empty() {
            ops.keys().collect()
        } else {
            named
        };
        for cap in call.captures_iter(&text) {
            let m = &cap[1];
            for c in &candidates {
                let (prefix, names) = &ops[c.as_str()];
                if names.contains(m) {
                    found.insert(
                        format!("{prefix}:{}", m.replace('_', "")),
                        f.strip_prefix(repo()).unwrap_or(&f).display().to_string(),
                    );
                }
            }
        }
    }
    found
}

fn policy_actions() -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo().join("deploy/iam-policy.json")).expect("policy");
    let policy: serde_json::Value = serde_json::from_str(&text).expect("policy is JSON");
    let mut actions = BTreeSet::new();
    for st in policy["Statement"].as_array().expect("Statement list") {
        assert_eq!(st["Effect"], "Allow", "only Allow statements are expected");
        assert!(
            st["Resource"].is_string(),
            "every statement names its resources"
        );
        for a in st["Action"].as_array().expect("Action list") {
            let a = a.as_str().expect("action string");
            assert!(!a.contains('*'), "{a}: wildcards are not least privilege");
            actions.insert(a.to_ascii_lowercase());
        }
    }
    actions
}

#[test]
fn iam_policy_allows_exactly_the_calls_burnwatch_makes() {
    let calls = calls_in_src();
    let allowed = policy_actions();
    let normalise = |a: &str| a.to_ascii_lowercase();
    // The scanner must see the calls we know exist, or it proves nothing.
    for known in [
        "cloudwatch:getmetricdata",
        "states:listexecutions",
        "batch:listjobs",
        "rds:describeevents",
    ] {
        assert!(
            calls.contains_key(known),
            "scanner missed {known}: {calls:?}"
        );
    }
    let missing: Vec<_> = calls
        .iter()
        .filter(|(c, _)| !allowed.contains(&normalise(c)))
        .map(|(c, f)| format!("{c} (called in {f})"))
        .collect();
    assert!(
        missing.is_empty(),
        "deploy/iam-policy.json does not allow: {missing:?}"
    );
    let unused: Vec<_> = allowed
        .iter()
        .filter(|a| !calls.contains_key(a.as_str()) && !NON_SDK_ACTIONS.contains(&a.as_str()))
        .collect();
    assert!(
        unused.is_empty(),
        "deploy/iam-policy.json allows actions burnwatch never calls: {unused:?}"
    );
}
