//! Rendering behaviour on small in-memory charts (the `ChartFiles` map path a git tree uses).

use helmchart::{Chart, ChartFiles, RenderError, RenderOptions, render};

fn chart(files: &[(&str, &str)]) -> Chart {
    let cf = ChartFiles::from_map(
        files
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())),
    )
    .expect("files");
    Chart::load(&cf).expect("chart loads")
}

fn out(c: &Chart, opts: &RenderOptions) -> String {
    render(c, opts).expect("renders").to_helm_output()
}

const CHART_YAML: &str = "apiVersion: v2\nname: app\nversion: 1.2.3\nappVersion: \"4.5\"\n";

#[test]
fn builtin_objects_and_helm_functions() {
    let c = chart(&[
        ("Chart.yaml", CHART_YAML),
        (
            "values.yaml",
            "n: 1000000\nnum: 1000000\nlist: [a, b]\nnested: {k: v}\ntext: \"{{ .Release.Name }}-x\"\n",
        ),
        ("files/a.conf", "alpha\n"),
        ("files/b.conf", "beta\n"),
        (
            "templates/_h.tpl",
            "{{ define \"app.name\" }}{{ .Chart.Name }}-{{ .Chart.AppVersion }}{{ end }}",
        ),
        (
            "templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ include \"app.name\" . }}\ndata:\n  n: {{ .Values.n | quote }}\n  num: {{ .Values.num | quote }}\n  tpl: {{ tpl .Values.text . }}\n  tmpl: {{ .Template.Name }}\n  base: {{ .Template.BasePath }}\n  kube: {{ .Capabilities.KubeVersion }}\n  has: {{ .Capabilities.APIVersions.Has \"apps/v1\" | quote }}\n  rev: {{ .Release.Revision | quote }}\n  get: {{ .Files.Get \"files/a.conf\" | trim }}\n  lines: {{ .Files.Lines \"files/b.conf\" | first }}\n  nested: {{ toJson .Values.nested | squote }}\n{{ (.Files.Glob \"files/*.conf\").AsConfig | indent 2 }}\n  yaml: |\n{{ toYaml .Values.list | indent 4 }}\n",
        ),
        ("templates/NOTES.txt", "thanks {{ .Release.Name }}"),
    ]);
    let got = out(&c, &RenderOptions::default());
    // `n:` is the YAML 1.1 boolean `false` as a key (go-yaml v2), so `.Values.n` is missing,
    // exactly as with helm; `num` is a float64 and prints as 1e+06.
    let want = "---\n# Source: app/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-4.5\ndata:\n  n: \n  num: \"1e+06\"\n  tpl: release-name-x\n  tmpl: app/templates/cm.yaml\n  base: app/templates\n  kube: v1.36.0\n  has: \"true\"\n  rev: \"1\"\n  get: alpha\n  lines: beta\n  nested: '{\"k\":\"v\"}'\n  a.conf: |\n    alpha\n  b.conf: |\n    beta\n  yaml: |\n    - a\n    - b\n";
    assert_eq!(got, want);
}

#[test]
fn required_and_fail_read_like_helm() {
    let c = chart(&[
        ("Chart.yaml", CHART_YAML),
        (
            "templates/a.yaml",
            "x: {{ required \"set .Values.image\" .Values.image }}\n",
        ),
    ]);
    let err = render(&c, &RenderOptions::default())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "execution error at (app/templates/a.yaml:1:6): set .Values.image"
    );
    let c = chart(&[
        ("Chart.yaml", CHART_YAML),
        (
            "templates/a.yaml",
            "{{ if true }}\n  {{ fail \"boom\" }}{{ end }}",
        ),
    ]);
    let err = render(&c, &RenderOptions::default())
        .unwrap_err()
        .to_string();
    assert_eq!(err, "execution error at (app/templates/a.yaml:2:5): boom");
    let c = chart(&[
        ("Chart.yaml", CHART_YAML),
        ("templates/a.yaml", "x: {{ .Values.a.b }}\n"),
    ]);
    let err = render(&c, &RenderOptions::default())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "template: app/templates/a.yaml:1:13: executing \"app/templates/a.yaml\" at <.Values.a.b>: nil pointer evaluating interface {}.b"
    );
    let c = chart(&[
        ("Chart.yaml", CHART_YAML),
        ("templates/a.yaml", "{{ end }}"),
    ]);
    let err = render(&c, &RenderOptions::default())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "parse error at (app/templates/a.yaml:1): unexpected {{end}}"
    );
}

#[test]
fn values_precedence_null_deletion_and_set() {
    let c = chart(&[
        ("Chart.yaml", CHART_YAML),
        ("values.yaml", "a: 1\nb: {x: 1, y: 2}\nc: keep\n"),
        ("templates/v.yaml", "{{ toYaml .Values }}\n"),
    ]);
    let opts = RenderOptions {
        value_files: vec![
            ("one.yaml".into(), b"a: 2\nb: {y: null, z: 3}\n".to_vec()),
            ("two.yaml".into(), b"a: 3\nenabled: yes\n".to_vec()),
        ],
        set: vec!["a=4,big=1000000".into()],
        set_string: vec!["s=007".into()],
        ..RenderOptions::default()
    };
    let got = out(&c, &opts);
    assert_eq!(
        got,
        "---\n# Source: app/templates/v.yaml\na: 4\nb:\n  x: 1\n  z: 3\nbig: 1000000\nc: keep\nenabled: true\ns: \"007\"\n"
    );
    let bad = RenderOptions {
        set: vec!["a".into()],
        ..RenderOptions::default()
    };
    assert_eq!(
        render(&c, &bad).unwrap_err().to_string(),
        "failed parsing --set data: key \"a\" has no value"
    );
    let bad = RenderOptions {
        value_files: vec![("bad.yaml".into(), b"a: [1\n".to_vec())],
        ..RenderOptions::default()
    };
    let e = render(&c, &bad).unwrap_err().to_string();
    assert!(e.starts_with("failed to parse bad.yaml: "), "{e}");
}

#[test]
fn subcharts_conditions_alias_globals_and_import_values() {
    let c = chart(&[
        (
            "Chart.yaml",
            "apiVersion: v2\nname: top\nversion: 0.1.0\ndependencies:\n- name: sub\n  version: ~1.0.0\n  alias: first\n  import-values: [data]\n- name: sub\n  version: ~1.0.0\n  alias: second\n  condition: second.enabled\n- name: off\n  version: 0.1.0\n  tags: [extras]\n",
        ),
        (
            "values.yaml",
            "global: {region: eu}\nsecond: {enabled: false}\ntags: {extras: false}\n",
        ),
        (
            "templates/top.yaml",
            "imported: {{ .Values.shared }}\nsubs: {{ keys .Subcharts | sortAlpha | join \",\" }}\n",
        ),
        (
            "charts/sub/Chart.yaml",
            "apiVersion: v2\nname: sub\nversion: 1.0.3\n",
        ),
        (
            "charts/sub/values.yaml",
            "exports: {data: {shared: from-sub}}\n",
        ),
        (
            "charts/sub/templates/s.yaml",
            "name: {{ .Chart.Name }}\nregion: {{ .Values.global.region }}\n",
        ),
        (
            "charts/off/Chart.yaml",
            "apiVersion: v2\nname: off\nversion: 0.1.0\n",
        ),
        ("charts/off/templates/o.yaml", "off: true\n"),
    ]);
    let got = out(&c, &RenderOptions::default());
    assert_eq!(
        got,
        "---\n# Source: top/charts/first/templates/s.yaml\nname: first\nregion: eu\n---\n# Source: top/templates/top.yaml\nimported: from-sub\nsubs: first\n"
    );
}

#[test]
fn tgz_subchart_library_and_crds() {
    // A subchart packed as .tgz in memory.
    let mut tar_bytes = Vec::new();
    {
        let gz = flate2::write::GzEncoder::new(&mut tar_bytes, flate2::Compression::default());
        let mut b = tar::Builder::new(gz);
        for (p, d) in [
            (
                "lib/Chart.yaml",
                "apiVersion: v2\nname: lib\nversion: 0.0.1\ntype: library\n",
            ),
            (
                "lib/templates/_x.tpl",
                "{{ define \"lib.x\" }}from-lib{{ end }}",
            ),
            ("lib/templates/ignored.yaml", "should: not-render\n"),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(d.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, p, d.as_bytes()).expect("append");
        }
        b.into_inner().expect("tar").finish().expect("gz");
    }
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("Chart.yaml".into(), CHART_YAML.as_bytes().to_vec()),
        (
            "templates/a.yaml".into(),
            b"x: {{ include \"lib.x\" . }}\n".to_vec(),
        ),
        (
            "crds/crd.yaml".into(),
            b"kind: CustomResourceDefinition\n".to_vec(),
        ),
        (".helmignore".into(), b"*.md\n".to_vec()),
        ("README.md".into(), b"ignored".to_vec()),
    ];
    files.push(("charts/lib-0.0.1.tgz".into(), tar_bytes));
    let c = Chart::load(&ChartFiles::from_map(files).expect("files")).expect("loads");
    assert!(
        c.files.iter().all(|f| f.name != "README.md"),
        ".helmignore applies"
    );
    let opts = RenderOptions {
        include_crds: true,
        ..RenderOptions::default()
    };
    assert_eq!(
        out(&c, &opts),
        "---\n# Source: app/crds/crd.yaml\nkind: CustomResourceDefinition\n\n---\n# Source: app/templates/a.yaml\nx: from-lib\n"
    );
    let lib = chart(&[(
        "Chart.yaml",
        "apiVersion: v2\nname: l\nversion: 1.0.0\ntype: library\n",
    )]);
    assert_eq!(
        render(&lib, &RenderOptions::default())
            .unwrap_err()
            .to_string(),
        "library charts are not installable"
    );
}

#[test]
fn schema_validation_and_unsupported_remote_refs() {
    let c = chart(&[
        ("Chart.yaml", CHART_YAML),
        ("values.yaml", "replicas: 1\n"),
        (
            "values.schema.json",
            r#"{"type":"object","properties":{"replicas":{"type":"integer"}}}"#,
        ),
        ("templates/a.yaml", "r: {{ .Values.replicas }}\n"),
    ]);
    let bad = RenderOptions {
        set_string: vec!["replicas=two".into()],
        ..RenderOptions::default()
    };
    let e = render(&c, &bad).unwrap_err();
    assert!(matches!(e, RenderError::Schema(_)), "{e}");
    assert!(
        e.to_string()
            .contains("app:\n- at '/replicas': got string, want integer"),
        "{e}"
    );
    let remote = chart(&[
        ("Chart.yaml", CHART_YAML),
        (
            "values.schema.json",
            r#"{"$ref":"https://example.com/s.json"}"#,
        ),
    ]);
    assert!(matches!(
        render(&remote, &RenderOptions::default()),
        Err(RenderError::Unsupported { .. })
    ));
}

#[test]
fn hooks_last_tests_skippable_and_install_order() {
    let c = chart(&[
        ("Chart.yaml", CHART_YAML),
        (
            "templates/all.yaml",
            "kind: Deployment\nmetadata: {name: d}\n---\nkind: Pod\nmetadata:\n  name: t\n  annotations: {helm.sh/hook: test}\n---\nkind: Namespace\nmetadata: {name: n}\n---\n# only a comment\n",
        ),
    ]);
    let got = out(&c, &RenderOptions::default());
    let sources: Vec<&str> = got
        .lines()
        .filter(|l| l.starts_with("kind") || l.starts_with("# only"))
        .collect();
    assert_eq!(
        sources,
        vec![
            "kind: Namespace",
            "kind: Deployment",
            "# only a comment",
            "kind: Pod"
        ]
    );
    let skip = RenderOptions {
        skip_tests: true,
        ..RenderOptions::default()
    };
    assert!(!out(&c, &skip).contains("kind: Pod"));
}

#[test]
fn runaway_templates_stop_with_an_error() {
    let c = chart(&[
        ("Chart.yaml", CHART_YAML),
        (
            "templates/a.yaml",
            "{{ define \"loop\" }}{{ include \"loop\" . }}{{ end }}{{ include \"loop\" . }}",
        ),
    ]);
    assert!(render(&c, &RenderOptions::default()).is_err());
    let c = chart(&[
        ("Chart.yaml", CHART_YAML),
        ("values.yaml", "t: \"{{ tpl .Values.t . }}\"\n"),
        ("templates/a.yaml", "{{ tpl .Values.t . }}"),
    ]);
    assert!(render(&c, &RenderOptions::default()).is_err());
}
