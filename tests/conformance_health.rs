//! Conformance of `sextant::engine::health` with gitops-engine's health tests.
//!
//! Reads `argo-health-core/expected.json` (fixture path -> expected status and message) from the
//! shared conformance directory at test time. Every status must match; messages are derived from
//! a port of the Go code (not asserted upstream except one), so their count is printed and a
//! regression below the measured figure fails too.

use std::path::PathBuf;

use serde_json::Value;
use sextant::engine::health::{HealthStatus, assess};

fn conformance_dir() -> PathBuf {
    let dir = std::env::var_os("SEXTANT_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../shared/conformance"
            ))
        });
    assert!(
        dir.is_dir(),
        "conformance directory {} is missing: set SEXTANT_CONFORMANCE_DIR to the shared conformance suites",
        dir.display()
    );
    dir
}

#[test]
fn argo_health_core() {
    let root = conformance_dir().join("argo-health-core");
    let expected_path = root.join("expected.json");
    let text = std::fs::read_to_string(&expected_path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", expected_path.display()));
    let expected: serde_json::Map<String, Value> = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not a JSON object: {e}", expected_path.display()));

    let (mut status_ok, mut message_ok, mut total) = (0, 0, 0);
    let mut failures = Vec::new();
    for (fixture, exp) in &expected {
        total += 1;
        let path = root.join(fixture);
        let yaml = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        // Go's sigs.k8s.io/yaml keeps the last of duplicate keys; one upstream fixture has them.
        let options = serde_saphyr::options! {
            duplicate_keys: serde_saphyr::options::DuplicateKeyPolicy::LastWins,
        };
        let obj: Value = serde_saphyr::from_str_with_options(&yaml, options)
            .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
        let got = assess(&obj);
        let want_status = exp["status"].as_str().map(|s| {
            HealthStatus::parse(s).unwrap_or_else(|| panic!("{fixture}: unknown status {s}"))
        });
        let want_message = exp["message"].as_str();
        let got_status = got.as_ref().map(|h| h.status);
        let got_message = got.as_ref().map(|h| h.message.as_str());
        if got_status == want_status {
            status_ok += 1;
        } else {
            failures.push(format!(
                "{fixture}: status {got_status:?}, expected {want_status:?}"
            ));
        }
        if got_message == want_message {
            message_ok += 1;
        } else {
            println!("message mismatch {fixture}: got {got_message:?}, expected {want_message:?}");
        }
    }
    println!("argo-health-core: statuses {status_ok}/{total}, messages {message_ok}/{total}");
    assert!(
        failures.is_empty(),
        "status mismatches:\n{}",
        failures.join("\n")
    );
    assert_eq!(total, 53, "expected.json should hold 53 cases");
    assert_eq!(message_ok, total, "message regressions (see output above)");
}
