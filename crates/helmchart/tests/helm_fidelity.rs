//! Behaviours real-world charts rely on, each checked against what `helm template` v3.22
//! printed for the same template (the expected strings are its output).

use helmchart::{Chart, ChartFiles, RenderOptions, render};

const CHART_YAML: &str = "apiVersion: v2\nname: cls\nversion: 0.1.0\n";

/// Renders `template` (one ConfigMap's `data:` entries) with `values` and extra files; returns
/// the text under `data:`.
fn data(values: &str, template: &str, files: &[(&str, &str)]) -> String {
    let tpl = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n{template}");
    let mut all = vec![
        ("Chart.yaml".to_string(), CHART_YAML.as_bytes().to_vec()),
        ("values.yaml".to_string(), values.as_bytes().to_vec()),
        ("templates/cm.yaml".to_string(), tpl.into_bytes()),
    ];
    all.extend(
        files
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())),
    );
    let chart = Chart::load(&ChartFiles::from_map(all).expect("files")).expect("chart loads");
    let out = render(&chart, &RenderOptions::default())
        .expect("renders")
        .to_helm_output();
    out.split_once("\ndata:\n")
        .map(|(_, d)| d.to_string())
        .unwrap_or(out)
}

#[test]
fn capabilities_api_versions_is_a_list() {
    let got = data(
        "",
        r#"  has: {{ has "apps/v1" .Capabilities.APIVersions | quote }}
  sm: {{ has "monitoring.coreos.com/v1/ServiceMonitor" .Capabilities.APIVersions | quote }}
  method: {{ .Capabilities.APIVersions.Has "apps/v1/Deployment" | quote }}
  len: {{ len .Capabilities.APIVersions | quote }}
  range: {{ range $i, $v := .Capabilities.APIVersions }}{{ if lt $i 3 }}{{ $i }}={{ $v }};{{ end }}{{ end }}
  index: {{ index .Capabilities.APIVersions 0 | quote }}
  first: {{ first .Capabilities.APIVersions | quote }}
  kube: {{ .Capabilities.KubeVersion.Version }}-{{ .Capabilities.KubeVersion.Major }}-{{ .Capabilities.KubeVersion.Minor }}
"#,
        &[],
    );
    assert_eq!(
        got,
        r#"  has: "true"
  sm: "false"
  method: "false"
  len: "57"
  range: 0=v1;1=admissionregistration.k8s.io/v1;2=admissionregistration.k8s.io/v1alpha1;
  index: "v1"
  first: "v1"
  kube: v1.36.0-1-36
"#
    );
}

#[test]
fn files_glob_is_a_rangeable_map() {
    let files = [
        ("files/a.yaml", "a: 1\n"),
        ("files/b.yaml", "b: 2\nc: 3\n"),
        ("files/sub/l.txt", "x\ny\n"),
    ];
    let got = data(
        "",
        r#"  g1: "{{ range $path, $bytes := .Files.Glob "files/*.yaml" }}{{ $path }}={{ len $bytes }};{{ end }}"
  g2: {{ len (.Files.Glob "files/**") | quote }}
  g3: {{ (.Files.Glob "files/sub/*").Lines "files/sub/l.txt" | toJson | quote }}
  g4: {{ (.Files.Glob "files/*.yaml").Get "files/a.yaml" | quote }}
  g5: "{{ range $p, $_ := .Files.Glob "files/**" }}{{ base $p }},{{ end }}"
  g7: "{{ range .Files.Lines "files/sub/l.txt" }}[{{ . }}]{{ end }}"
  g8: {{ (.Files.Glob "files/*.yaml") | toJson | quote }}
{{ (.Files.Glob "files/*.yaml").AsConfig | indent 2 }}
"#,
        &files,
    );
    assert_eq!(
        got,
        r#"  g1: "files/a.yaml=5;files/b.yaml=10;"
  g2: "3"
  g3: "[\"x\",\"y\"]"
  g4: "a: 1\n"
  g5: "a.yaml,b.yaml,l.txt,"
  g7: "[x][y]"
  g8: "{\"files/a.yaml\":\"YTogMQo=\",\"files/b.yaml\":\"YjogMgpjOiAzCg==\"}"
  a.yaml: |
    a: 1
  b.yaml: |
    b: 2
    c: 3
"#
    );
}

#[test]
fn to_yaml_of_a_multiline_string_indents_the_block_under_the_key() {
    let values = "multi: |\n  line one\n  line two\nlead: \" lead\\nb\"\n";
    let got = data(
        values,
        r#"  inline: {{ toYaml .Values.multi | indent 4 }}
  quoted: {{ toYaml .Values.multi | quote }}
  lead: {{ toYaml .Values.lead | quote }}
  pretty: {{ toYamlPretty .Values.multi | quote }}
  long: {{ toYaml "the quick brown fox jumps over the lazy dog and keeps running far beyond the eighty column limit of go-yaml" | quote }}
"#,
        &[],
    );
    assert_eq!(
        got,
        r#"  inline:     |
      line one
      line two
  quoted: "|\n  line one\n  line two"
  lead: "|2-\n   lead\n  b"
  pretty: "|\n  line one\n  line two"
  long: "the quick brown fox jumps over the lazy dog and keeps running far beyond the eighty\n  column limit of go-yaml"
"#
    );
}

#[test]
fn yaml_1_1_scalars_in_values_from_yaml_and_to_yaml() {
    let values =
        "mode: 0755\nhex: 0x1F\nyesv: yes\nnov: no\nonv: on\noffv: off\nyv: y\ncfg:\n  n: 3\n";
    let got = data(
        values,
        r#"  mode: {{ .Values.mode | quote }}
  hex: {{ .Values.hex | quote }}
  bools: {{ list .Values.yesv .Values.nov .Values.onv .Values.offv .Values.yv | toJson | quote }}
  nkey: {{ toJson .Values.cfg | quote }}
  fy: {{ (fromYaml "m: 0755\nb: yes\nc: on\nd: 0x10\ne: 1_000") | toJson | quote }}
  ty: {{ toYaml (dict "a" "yes" "b" "on" "c" "0755" "d" "y" "e" "1_000" "f" "0x10") | quote }}
"#,
        &[],
    );
    assert_eq!(
        got,
        r#"  mode: "493"
  hex: "31"
  bools: "[true,false,true,false,true]"
  nkey: "{\"false\":3}"
  fy: "{\"b\":true,\"c\":true,\"d\":16,\"e\":1000,\"m\":493}"
  ty: "a: \"yes\"\nb: \"on\"\nc: \"0755\"\nd: \"y\"\ne: \"1_000\"\nf: \"0x10\""
"#
    );
}

#[test]
fn htpasswd_takes_user_and_password_like_helm_3() {
    let got = data(
        "",
        "  a: {{ htpasswd \"user\" \"pw\" | quote }}\n  b: {{ htpasswd \"a:b\" \"pw\" | quote }}\n",
        &[],
    );
    let mut lines = got.lines();
    let a = lines.next().unwrap_or_default();
    assert!(
        a.starts_with("  a: \"user:$2a$10$") && a.len() == "  a: \"user:".len() + 60 + 1,
        "{a}"
    );
    assert_eq!(lines.next(), Some("  b: \"invalid username: a:b\""));
}
