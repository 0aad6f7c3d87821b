//! No input makes the renderer panic: arbitrary text as Chart.yaml, values, templates, value
//! files and `--set` parameters ends in `Ok` or a `RenderError`.

use helmchart::{Chart, ChartFiles, RenderOptions, render};
use proptest::prelude::*;

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("{{".to_string()),
        Just("}}".to_string()),
        Just("{{- ".to_string()),
        Just(" -}}".to_string()),
        Just(".Values.a".to_string()),
        Just("include \"x\" .".to_string()),
        Just("tpl .Values.t .".to_string()),
        Just("define \"x\"".to_string()),
        Just("end".to_string()),
        Just("range".to_string()),
        Just("toYaml".to_string()),
        Just("fromYaml".to_string()),
        Just(" | ".to_string()),
        Just("\n---\n".to_string()),
        Just(": ".to_string()),
        Just("- ".to_string()),
        Just("&a *a".to_string()),
        Just("[".to_string()),
        Just("\"".to_string()),
        "[ -~]{0,8}".prop_map(String::from),
        any::<String>(),
    ]
}

fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(fragment(), 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn arbitrary_inputs_never_panic(
        chart_yaml in prop_oneof![Just("apiVersion: v2\nname: c\nversion: 1.0.0\n".to_string()), text()],
        values in text(),
        tpl in text(),
        helper in text(),
        value_file in text(),
        set in "[a-z\\[\\]0-9.=,{}\\\\]{0,20}",
    ) {
        let files = vec![
            ("Chart.yaml".to_string(), chart_yaml.into_bytes()),
            ("values.yaml".to_string(), values.into_bytes()),
            ("templates/a.yaml".to_string(), tpl.into_bytes()),
            ("templates/_h.tpl".to_string(), helper.into_bytes()),
        ];
        let Ok(cf) = ChartFiles::from_map(files) else { return Ok(()) };
        let Ok(chart) = Chart::load(&cf) else { return Ok(()) };
        let opts = RenderOptions {
            value_files: vec![("f.yaml".into(), value_file.into_bytes())],
            set: vec![set],
            ..RenderOptions::default()
        };
        let _ = render(&chart, &opts).map(|r| r.to_helm_output());
    }
}
