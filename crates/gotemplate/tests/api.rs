//! The public API as the Helm renderer uses it: include, tpl, counters, objects, errors.

use std::sync::Arc;

use gotemplate::{CallCtx, ErrorKind, FuncError, MissingKey, Object, Templates, Value};

fn helm_set() -> Templates {
    let mut t = Templates::with_sprig("gotpl");
    t.set_missing_key(MissingKey::Zero);
    t.add_func_arity(
        "include",
        2,
        Some(2),
        |ctx: &mut CallCtx<'_, '_>, a: &[Value]| {
            let name = a[0].as_str().unwrap_or_default().to_string();
            let n = ctx.counter(&name);
            *n += 1;
            if *n > 10 {
                return Err(FuncError::Call(format!(
                    "rendering template has a nested reference name: {name}"
                )));
            }
            let r = ctx.include(&name, &a[1]);
            *ctx.counter(&name) -= 1;
            r.map(Value::from).map_err(FuncError::from)
        },
    );
    t.add_func_arity(
        "tpl",
        2,
        Some(2),
        |ctx: &mut CallCtx<'_, '_>, a: &[Value]| {
            let text = a[0].as_str().unwrap_or_default().to_string();
            let name = ctx.template_name().to_string();
            ctx.tpl(&name, &text, &a[1])
                .map(Value::from)
                .map_err(FuncError::from)
        },
    );
    t.add_func("where", |ctx: &mut CallCtx<'_, '_>, _: &[Value]| {
        Ok(Value::from(format!(
            "{}@{}",
            ctx.template_name(),
            ctx.file_name()
        )))
    });
    t
}

#[derive(Debug)]
struct Caps;
impl Object for Caps {
    fn type_name(&self) -> String {
        "chartutil.Capabilities".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        (name == "KubeVersion").then(|| Value::map([("Version", Value::from("v1.20.0"))]))
    }
    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        (name == "Has").then(|| {
            Ok(Value::Bool(
                args.first().and_then(Value::as_str) == Some("apps/v1"),
            ))
        })
    }
    fn format(&self) -> String {
        "{caps}".into()
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[test]
fn include_tpl_and_objects() {
    let mut t = helm_set();
    t.parse("c/templates/_h.tpl", r#"{{ define "name" }}{{ .Values.name | default "app" }}{{ end }}{{ define "w" }}{{ where }}{{ end }}"#)
        .unwrap();
    t.parse(
        "c/templates/a.yaml",
        r#"n={{ include "name" . }} t={{ tpl .Values.t . }} h={{ .Caps.Has "apps/v1" }} k={{ .Caps.KubeVersion.Version }} w={{ include "w" . }}"#,
    )
    .unwrap();
    let data = Value::map([
        (
            "Values",
            Value::from_json_helm(
                &serde_json::json!({"name": "x", "t": "{{ include \"name\" . }}-{{ .Values.name }}"}),
            ),
        ),
        ("Caps", Value::Object(Arc::new(Caps))),
    ]);
    assert_eq!(
        t.execute("c/templates/a.yaml", &data).unwrap(),
        "n=x t=x-x h=true k=v1.20.0 w=w@c/templates/_h.tpl"
    );
}

#[test]
fn recursion_counter_and_error_chain() {
    let mut t = helm_set();
    t.parse(
        "c/templates/a.yaml",
        "{{ define \"loop\" }}{{ include \"loop\" . }}{{ end }}x{{ include \"loop\" . }}",
    )
    .unwrap();
    let e = t.execute("c/templates/a.yaml", &Value::Nil).unwrap_err();
    let s = e.to_string();
    assert!(s.starts_with("template: c/templates/a.yaml:1:"), "{s}");
    assert!(
        s.contains("error calling include: template: c/templates/a.yaml:1:"),
        "{s}"
    );
    assert!(
        s.ends_with("rendering template has a nested reference name: loop"),
        "{s}"
    );
}

#[test]
fn helm_style_errors() {
    let mut t = helm_set();
    t.parse("c/templates/a.yaml", "a: 1\nb: {{ .Values.a.b }}")
        .unwrap();
    let data = Value::map([("Values", Value::empty_map())]);
    let e = t.execute("c/templates/a.yaml", &data).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Exec);
    assert_eq!(
        e.to_string(),
        "template: c/templates/a.yaml:2:13: executing \"c/templates/a.yaml\" at <.Values.a.b>: nil pointer evaluating interface {}.b"
    );
    assert_eq!(
        (e.file(), e.line(), e.column()),
        ("c/templates/a.yaml", 2, Some(13))
    );
    let e = t.parse("c/templates/b.yaml", "x\n{{ if }}").unwrap_err();
    assert_eq!(
        e.to_string(),
        "template: c/templates/b.yaml:2: missing value for if"
    );
    let e = t.execute("nope", &data).unwrap_err();
    assert_eq!(
        e.to_string(),
        "template: no template \"nope\" associated with template \"gotpl\""
    );
    t.parse("c/templates/f.yaml", "{{ fail \"boom\" }}")
        .unwrap();
    let e = t.execute("c/templates/f.yaml", &data).unwrap_err();
    assert_eq!(
        e.to_string(),
        "template: c/templates/f.yaml:1:3: executing \"c/templates/f.yaml\" at <fail \"boom\">: error calling fail: boom"
    );
}

#[test]
fn set_and_values_are_thread_safe() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Templates>();
    assert_send_sync::<Value>();
    let mut t = helm_set();
    t.parse("x", "{{ .n }}").unwrap();
    let t = Arc::new(t);
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let t = t.clone();
            std::thread::spawn(move || t.execute("x", &Value::map([("n", Value::Int(i))])))
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join().unwrap().unwrap(), i.to_string());
    }
}
