//! Rough timing of parse-once/execute-many on a Helm-like deployment template (for a real
//! benchmark use the helmchart criterion bench). `cargo run -p gotemplate --example bench_render`

use std::time::Instant;

use gotemplate::{CallCtx, FuncError, Templates, Value};

const HELPERS: &str = r#"
{{- define "app.name" -}}{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}{{- end }}
{{- define "app.fullname" -}}
{{- if .Values.fullnameOverride }}{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}{{- end }}{{- end }}{{- end }}
{{- define "app.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "app.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}
{{- define "app.selectorLabels" -}}
app.kubernetes.io/name: {{ include "app.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
"#;

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "app.fullname" . }}
  labels:
    {{- include "app.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels:
      {{- include "app.selectorLabels" . | nindent 6 }}
  template:
    spec:
      containers:
        - name: {{ .Chart.Name }}
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
          ports:
            {{- range $i, $p := .Values.ports }}
            - name: port-{{ $i }}
              containerPort: {{ $p }}
            {{- end }}
          env:
            {{- range $k, $v := .Values.env }}
            - name: {{ $k | upper }}
              value: {{ $v | quote }}
            {{- end }}
          resources:
            {{- toJson .Values.resources | nindent 12 }}
"#;

fn main() {
    let mut t = Templates::with_sprig("gotpl");
    t.add_func("include", |ctx: &mut CallCtx<'_, '_>, a: &[Value]| {
        let name = a
            .first()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let data = a.get(1).cloned().unwrap_or(Value::Nil);
        ctx.include(&name, &data)
            .map(Value::from)
            .map_err(FuncError::from)
    });
    let start = Instant::now();
    if let Err(e) = t.parse("chart/templates/_helpers.tpl", HELPERS) {
        eprintln!("{e}");
        return;
    }
    if let Err(e) = t.parse("chart/templates/deployment.yaml", DEPLOYMENT) {
        eprintln!("{e}");
        return;
    }
    let parsed = start.elapsed();
    let data = Value::from_json_helm(&serde_json::json!({
        "Chart": {"Name": "app", "Version": "1.2.3", "AppVersion": "2.0"},
        "Release": {"Name": "release-name", "Service": "Helm"},
        "Values": {"replicaCount": 3, "image": {"repository": "nginx", "tag": ""},
                   "ports": [80, 443, 8080], "env": {"a": "1", "b": "two", "c": "x"},
                   "resources": {"limits": {"cpu": "100m", "memory": "128Mi"}}}
    }));
    let n = 2000;
    let start = Instant::now();
    let mut bytes = 0;
    for _ in 0..n {
        match t.execute("chart/templates/deployment.yaml", &data) {
            Ok(s) => bytes += s.len(),
            Err(e) => {
                eprintln!("{e}");
                return;
            }
        }
    }
    let el = start.elapsed();
    println!(
        "parse {:?}; execute {:?} per render ({} bytes)",
        parsed,
        el / n,
        bytes / n as usize
    );
    if let Ok(s) = t.execute("chart/templates/deployment.yaml", &data) {
        println!("{s}");
    }
}
