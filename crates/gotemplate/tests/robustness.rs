//! No input makes the engine panic, loop forever, overflow the stack or exhaust memory.

use gotemplate::{CallCtx, FuncError, Templates, Value};
use proptest::prelude::*;

fn helm_like() -> Templates {
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
    t.add_func("tpl", |ctx: &mut CallCtx<'_, '_>, a: &[Value]| {
        let text = a
            .first()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let data = a.get(1).cloned().unwrap_or(Value::Nil);
        let name = ctx.template_name().to_string();
        ctx.tpl(&name, &text, &data)
            .map(Value::from)
            .map_err(FuncError::from)
    });
    t.set_max_steps(200_000);
    t.set_max_output(1 << 20);
    t
}

fn render(t: &mut Templates, text: &str) -> Result<String, String> {
    t.parse("x", text).map_err(|e| e.to_string())?;
    let data =
        Value::from_json_helm(&serde_json::json!({"a": [1, 2], "m": {"k": "v"}, "s": "str"}));
    t.execute("x", &data).map_err(|e| e.to_string())
}

/// Runs `f` on a thread with a 2 MiB stack (tokio's default worker stack size).
fn on_small_stack(
    f: impl FnOnce() -> Result<String, String> + Send + 'static,
) -> Result<String, String> {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .map_err(|e| e.to_string())?
        .join()
        .map_err(|_| "panicked".to_string())?
}

#[test]
fn recursion_is_an_error_not_a_stack_overflow() {
    let cases = [
        r#"{{define "a"}}{{template "a" .}}{{end}}{{template "a" .}}"#,
        r#"{{define "a"}}{{include "a" .}}{{end}}{{include "a" .}}"#,
        r#"{{define "a"}}{{tpl "{{include \"a\" .}}" .}}{{end}}{{include "a" .}}"#,
        r#"{{define "a"}}x{{template "a" .}}{{template "a" .}}{{end}}{{template "a" .}}"#,
    ];
    for c in cases {
        let r = on_small_stack(move || render(&mut helm_like(), c));
        let e = r.expect_err("recursion must fail");
        assert!(e.contains("depth") || e.contains("limit"), "{c}: {e}");
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let parens = format!("{{{{ {}1{} }}}}", "(".repeat(10_000), ")".repeat(10_000));
    let ifs = format!("{}x{}", "{{if 1}}".repeat(10_000), "{{end}}".repeat(10_000));
    let ranges = format!(
        "{}x{}",
        "{{range .a}}".repeat(5_000),
        "{{end}}".repeat(5_000)
    );
    for c in [parens, ifs, ranges] {
        let r = on_small_stack(move || render(&mut helm_like(), &c));
        let e = r.expect_err("deep nesting must fail");
        assert!(e.contains("nests more than"), "{e}");
    }
    // Reasonable nesting still works.
    let ok = format!("{}x{}", "{{if 1}}".repeat(50), "{{end}}".repeat(50));
    assert_eq!(
        on_small_stack(move || render(&mut helm_like(), &ok)),
        Ok("x".to_string())
    );
}

#[test]
fn cyclic_values_do_not_hang() {
    let c = r#"{{ $d := dict }}{{ $_ := set $d "a" $d }}{{ $_ := set $d "b" $d }}{{ $_ := set $d "c" $d }}"#;
    for tail in [
        "{{ $d }}",
        "{{ printf \"%v\" $d }}",
        "{{ toJson $d }}",
        "{{ deepCopy $d }}",
        "{{ deepEqual $d (deepCopy $d) }}",
        "{{ merge (dict \"a\" (dict)) $d }}",
        "{{ $d | toString | len }}",
    ] {
        let text = format!("{c}{tail}");
        let r = on_small_stack(move || render(&mut helm_like(), &text));
        assert!(
            r.as_ref().map_or(true, |s| s.len() <= 1 << 20),
            "{tail}: {} bytes",
            r.map(|s| s.len()).unwrap_or(0)
        );
    }
}

#[test]
fn huge_results_are_refused() {
    for c in [
        "{{ until 1000000000000 }}",
        "{{ repeat 1000000000000 \"x\" }}",
        "{{ untilStep 0 1000000000000 1 | len }}",
        "{{ seq 1 1000000000000 }}",
        "{{ indent 100000000000 \"x\" }}",
        "{{ randAlpha 100000000000 }}",
        r#"{{ $s := "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" }}{{ range until 100000 }}{{ $s }}{{ end }}"#,
    ] {
        let r = render(&mut helm_like(), c);
        assert!(
            r.is_err(),
            "{c} should fail, got {} bytes",
            r.map(|s| s.len()).unwrap_or(0)
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
        let _ = render(&mut helm_like(), &s);
    }

    #[test]
    fn template_like_text_never_panics(parts in proptest::collection::vec(prop_oneof![
        Just("{{"), Just("}}"), Just("{{-"), Just("-}}"), Just(" "), Just("."), Just(".a"), Just(".m.k"),
        Just("$"), Just("$x"), Just(":="), Just("="), Just("|"), Just("("), Just(")"), Just("\""),
        Just("`"), Just("'"), Just("if"), Just("else"), Just("end"), Just("range"), Just("with"),
        Just("define"), Just("template"), Just("block"), Just("break"), Just("continue"), Just("nil"),
        Just("1"), Just("-1.5e3"), Just("0x1F"), Just("'a'"), Just("\"s\""), Just("/*"), Just("*/"),
        Just("len"), Just("index"), Just("printf \"%d %s %v\""), Just("eq"), Just("and"), Just("or"),
        Just("slice"), Just("default"), Just("list"), Just("dict"), Just("until"), Just("include"),
        Just("tpl"), Just("toJson"), Just("set"), Just("merge"), Just("\n"), Just(","), Just("x"),
    ], 0..40)) {
        let s: String = parts.concat();
        let _ = render(&mut helm_like(), &s);
    }
}
