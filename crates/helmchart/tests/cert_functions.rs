//! Sprig's certificate functions inside a chart: a CA and a serving certificate generated with
//! `genCA` + `genSignedCert` into a TLS Secret render natively (no fallback to the helm binary),
//! and the certificates are real: openssl verifies the chain and the key pair.
//!
//! openssl is required (scripts/test-all installs it); the test fails when it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use gotemplate::Value;
use helmchart::yaml::{Numbers, parse_all};
use helmchart::{Chart, ChartFiles, RenderOptions, render};

const TEMPLATE: &str = r#"{{- $ca := genCA (printf "%s-ca" .Release.Name) 365 }}
{{- $cn := printf "%s.%s.svc" .Values.service .Release.Namespace }}
{{- $cert := genSignedCert $cn (list .Values.clusterIP) (list $cn .Values.service) 90 $ca }}
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-tls
type: kubernetes.io/tls
data:
  ca.crt: {{ $ca.Cert | b64enc }}
  tls.crt: {{ $cert.Cert | b64enc }}
  tls.key: {{ $cert.Key | b64enc }}
"#;

fn chart() -> Chart {
    let files = [
        (
            "Chart.yaml",
            "apiVersion: v2\nname: webhook\nversion: 0.1.0\n",
        ),
        ("values.yaml", "service: hook\nclusterIP: 10.96.0.10\n"),
        ("templates/secret.yaml", TEMPLATE),
    ];
    let cf = ChartFiles::from_map(
        files
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())),
    )
    .expect("chart files");
    Chart::load(&cf).expect("chart loads")
}

fn get(v: &Value, key: &str) -> Value {
    match v {
        Value::Map(m) => m.get(key).unwrap_or_else(|| panic!("no {key:?} in {v}")),
        other => panic!("not a map at {key:?}: {other}"),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        other => panic!("not a string: {other}"),
    }
}

/// Standard base64 (what `b64enc` writes), strict.
fn b64decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    assert!(s.len().is_multiple_of(4), "base64 length {}", s.len());
    let mut out = Vec::new();
    for chunk in s.as_bytes().chunks(4) {
        let mut n: u32 = 0;
        let mut pad = 0;
        for &c in chunk {
            n <<= 6;
            if c == b'=' {
                pad += 1;
            } else {
                let v = ALPHABET
                    .iter()
                    .position(|&a| a == c)
                    .unwrap_or_else(|| panic!("not base64: {c}"));
                n |= v as u32;
            }
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - pad]);
    }
    out
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn openssl(args: &[&str], dir: &Path) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "openssl is required by this test and could not be run ({e}): install it \
                 (scripts/test-all does: apt-get install openssl)"
            )
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "openssl {args:?} failed: {text}");
    text
}

#[test]
fn gen_ca_and_signed_cert_render_natively_into_a_tls_secret() {
    let opts = RenderOptions {
        namespace: "tools".into(),
        ..RenderOptions::default()
    };
    let rendered = render(&chart(), &opts).expect("renders natively");
    assert_eq!(rendered.docs.len(), 1);
    let doc = &rendered.docs[0];
    assert_eq!(doc.source, "webhook/templates/secret.yaml");
    assert_eq!(
        (doc.kind.as_str(), doc.name.as_str()),
        ("Secret", "release-name-tls")
    );

    let objs = parse_all(&doc.content, Numbers::Float).expect("valid YAML");
    assert_eq!(objs.len(), 1);
    let secret = &objs[0];
    assert_eq!(text(&get(secret, "type")), "kubernetes.io/tls");
    let data = get(secret, "data");
    let mut keys: Vec<String> = match &data {
        Value::Map(m) => m.read().keys().cloned().collect(),
        other => panic!("data is not a map: {other}"),
    };
    keys.sort();
    assert_eq!(keys, ["ca.crt", "tls.crt", "tls.key"]);
    let field = |k: &str| String::from_utf8(b64decode(&text(&get(&data, k)))).expect("PEM text");
    let (ca, crt, key) = (field("ca.crt"), field("tls.crt"), field("tls.key"));
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----\n"), "{ca}");
    assert!(crt.starts_with("-----BEGIN CERTIFICATE-----\n"), "{crt}");
    assert!(key.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
    assert_ne!(ca, crt);

    let dir = TempDir(
        std::env::temp_dir().join(format!("helmchart-cert-functions-{}", std::process::id())),
    );
    std::fs::create_dir_all(&dir.0).expect("temp dir");
    for (name, content) in [("ca.crt", &ca), ("tls.crt", &crt), ("tls.key", &key)] {
        std::fs::write(dir.0.join(name), content).expect("write");
    }
    let verify = openssl(&["verify", "-CAfile", "ca.crt", "tls.crt"], &dir.0);
    assert!(verify.contains("tls.crt: OK"), "{verify}");
    let info = openssl(&["x509", "-in", "tls.crt", "-noout", "-text"], &dir.0);
    assert!(info.contains("Subject: CN = hook.tools.svc"), "{info}");
    assert!(info.contains("Issuer: CN = release-name-ca"), "{info}");
    assert!(
        info.contains("DNS:hook.tools.svc, DNS:hook, IP Address:10.96.0.10"),
        "{info}"
    );
    assert!(info.contains("CA:FALSE"), "{info}");
    let ca_info = openssl(&["x509", "-in", "ca.crt", "-noout", "-text"], &dir.0);
    assert!(ca_info.contains("CA:TRUE"), "{ca_info}");
    let cert_pub = openssl(&["x509", "-in", "tls.crt", "-noout", "-pubkey"], &dir.0);
    let key_pub = openssl(&["pkey", "-in", "tls.key", "-pubout"], &dir.0);
    assert_eq!(cert_pub, key_pub, "tls.key is the key of tls.crt");
}

#[test]
fn cert_function_errors_name_the_template_position() {
    let files = [
        ("Chart.yaml", "apiVersion: v2\nname: bad\nversion: 0.1.0\n"),
        (
            "templates/secret.yaml",
            "a: 1\n{{ $c := genSelfSignedCert \"x\" (list \"300.1.1.1\") nil 3 }}\n",
        ),
    ];
    let cf = ChartFiles::from_map(
        files
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())),
    )
    .expect("chart files");
    let chart = Chart::load(&cf).expect("chart loads");
    let err = render(&chart, &RenderOptions::default())
        .expect_err("bad IP")
        .to_string();
    assert!(
        err.contains("bad/templates/secret.yaml:2:9: executing \"bad/templates/secret.yaml\""),
        "{err}"
    );
    assert!(
        err.contains("error calling genSelfSignedCert: error parsing ip: 300.1.1.1"),
        "{err}"
    );
}

#[test]
fn to_yaml_of_a_certificate_writes_its_json_fields_like_helm() {
    // Helm's toYaml marshals through encoding/json, so the certificate struct becomes a map
    // with its exported fields, not Go's `{Cert Key}` print form.
    let files = [
        ("Chart.yaml", "apiVersion: v2\nname: y\nversion: 0.1.0\n"),
        (
            "templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  ca.yaml: |\n{{ genCA \"yaml-ca\" 1 | toYaml | indent 4 }}\n",
        ),
    ];
    let cf = ChartFiles::from_map(
        files
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())),
    )
    .expect("chart files");
    let chart = Chart::load(&cf).expect("chart loads");
    let out = render(&chart, &RenderOptions::default())
        .expect("renders")
        .to_helm_output();
    assert!(
        out.contains("    Cert: |\n      -----BEGIN CERTIFICATE-----"),
        "{out}"
    );
    assert!(
        out.contains("    Key: |\n      -----BEGIN RSA PRIVATE KEY-----"),
        "{out}"
    );
    assert!(!out.contains("{Cert"), "{out}");
}
