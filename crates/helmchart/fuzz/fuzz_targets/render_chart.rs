//! Fuzz target: a whole chart made of arbitrary bytes — Chart.yaml, values.yaml, a user values
//! file, a `--set` parameter, one template and one `_helpers.tpl` partial — is loaded and rendered
//! as `helm template` would. Loading or rendering may fail with an error, but must never panic,
//! hang or exhaust memory (scripts/fuzz runs it with a 10 s per-input and 2 GiB limit).
#![no_main]

use helmchart::{Chart, ChartFiles, RenderOptions, render};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct FuzzChart {
    chart_yaml: Vec<u8>,
    values_yaml: Vec<u8>,
    user_values: Vec<u8>,
    set: String,
    template: Vec<u8>,
    helpers: Vec<u8>,
    /// When false, Chart.yaml is replaced by a valid one so the fuzzer also reaches rendering.
    raw_chart_yaml: bool,
}

fuzz_target!(|input: FuzzChart| {
    let chart_yaml = if input.raw_chart_yaml {
        input.chart_yaml
    } else {
        b"apiVersion: v2\nname: fuzz\nversion: 0.1.0\n".to_vec()
    };
    let files = ChartFiles::from_map([
        ("Chart.yaml", chart_yaml),
        ("values.yaml", input.values_yaml),
        ("templates/t.yaml", input.template),
        ("templates/_helpers.tpl", input.helpers),
    ]);
    let Ok(files) = files else { return };
    let Ok(chart) = Chart::load(&files) else { return };
    let opts = RenderOptions {
        value_files: vec![("fuzz-values.yaml".into(), input.user_values)],
        set: if input.set.is_empty() { Vec::new() } else { vec![input.set] },
        ..RenderOptions::default()
    };
    let _ = render(&chart, &opts);
});
