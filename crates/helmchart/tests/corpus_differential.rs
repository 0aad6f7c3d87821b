//! Differential test on real-world charts: every chart of the shared chart corpus
//! (`../shared/charts/corpus/`, see its SOURCES.tsv) rendered natively and by the real
//! `helm template` (Helm v3.22), compared object by object and byte for byte.
//!
//! Cases per chart: its default values; the values file kept here under `tests/corpus/<chart>.yaml`
//! that turns on its optional features (ingress, autoscaling, monitoring, persistence, extra env —
//! every chart must have one); and the chart's own `ci/*.yaml` values files where it ships them.
//!
//! Charts that generate random passwords or certificates differ from run to run even under
//! helm. helm is therefore run twice: the lines (and object fields) that differ between its own
//! two runs are masked in all three outputs before comparing; everything else must match.
//!
//! Prints the counts; fails when they drop below the recorded bars.

mod common;

use std::path::Path;

use helmchart::HelmFlavor;

/// Cases whose objects are identical (after masking helm's own randomness) when the bar was
/// last raised, and cases identical byte for byte.
const OBJECTS_BAR: usize = 96;
const BYTES_BAR: usize = 96;

#[test]
fn corpus_native_matches_helm() {
    let native = |argv: &[String]| {
        let r = common::helm_template(argv, Path::new("/"), HelmFlavor::V3);
        if r.failed {
            Err(r.output)
        } else {
            Ok(r.output)
        }
    };
    let (same_objects, same_bytes, _) = common::corpus::run(&native);
    assert!(
        same_objects >= OBJECTS_BAR,
        "identical objects below the bar: {same_objects} < {OBJECTS_BAR}"
    );
    assert!(
        same_bytes >= BYTES_BAR,
        "byte-identical cases below the bar: {same_bytes} < {BYTES_BAR}"
    );
}
