//! Go's own text/template test cases (from `../shared/conformance/go-text-template`), replayed.

use std::path::PathBuf;

use gotemplate::{Templates, Value};

fn conformance_dir() -> PathBuf {
    let dir = std::env::var_os("SEXTANT_CONFORMANCE_DIR").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/conformance"
            ))
        },
        PathBuf::from,
    );
    assert!(
        dir.is_dir(),
        "conformance directory {} is missing: set SEXTANT_CONFORMANCE_DIR or check out ../shared",
        dir.display()
    );
    dir
}

fn load(rel: &str) -> serde_json::Value {
    let p = conformance_dir().join(rel);
    let text =
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()))
}

/// Bar: the number of execution cases passing today (raise it, never lower it).
const EXEC_BAR: usize = 345;
/// Bar for the parse cases (error-or-not).
const PARSE_BAR: usize = 97;

fn run_case(c: &serde_json::Value) -> Result<(), String> {
    let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
    let mut t = Templates::new("root");
    if let Some(p) = c["predefined_templates"].as_str() {
        t.parse("predefined", p)
            .map_err(|e| format!("predefined: {e}"))?;
    }
    let want_err = c["expect_error"].as_bool().unwrap_or(false);
    let data = Value::from_json(&c["data"]);
    let got = t
        .parse(&s("name"), &s("template"))
        .and_then(|()| t.execute(&s("name"), &data));
    match got {
        Ok(out) if !want_err && out == s("expected") => Ok(()),
        Ok(out) => Err(format!(
            "got {out:?}, want {:?} (error: {want_err})",
            s("expected")
        )),
        Err(_) if want_err => Ok(()),
        Err(e) => Err(format!("error {e}, want {:?}", s("expected"))),
    }
}

#[test]
fn go_plain_data_cases() {
    let cases = load("go-text-template/plain_data_cases_go1.19.json");
    let cases = cases.as_array().expect("array of cases");
    let mut pass = 0;
    let mut fails = Vec::new();
    for c in cases {
        match std::panic::catch_unwind(|| run_case(c)) {
            Ok(Ok(())) => pass += 1,
            Ok(Err(e)) => fails.push(format!("{} {:?}: {e}", c["name"], c["template"])),
            Err(_) => fails.push(format!("{} {:?}: PANIC", c["name"], c["template"])),
        }
    }
    for f in &fails {
        println!("FAIL {f}");
    }
    println!("go-text-template plain data: {pass}/{} passed", cases.len());
    assert!(pass >= EXEC_BAR, "below the bar of {EXEC_BAR}");
}

#[test]
fn go_parse_cases() {
    let all = load("go-text-template/parse_lex_tests_go1.19.json");
    let cases = all["parseTests"].as_array().expect("parseTests array");
    let mut pass = 0;
    for c in cases {
        let text = c["template"].as_str().unwrap_or_default();
        let want_err = c["expect_error"].as_bool().unwrap_or(false);
        let mut t = Templates::new("root");
        // The Go test parses with the functions printf and contains available.
        t.add_func("contains", |_, _| Ok(Value::Nil));
        let got = t.parse(c["name"].as_str().unwrap_or("t"), text);
        if got.is_err() == want_err {
            pass += 1;
        } else {
            println!(
                "FAIL {} {text:?}: got {got:?}, want error {want_err}",
                c["name"]
            );
        }
    }
    println!("go-text-template parse: {pass}/{} passed", cases.len());
    assert!(pass >= PARSE_BAR, "below the bar of {PARSE_BAR}");
}

#[test]
fn go_newer_cases() {
    let cases = load("go-text-template/newer_go_cases_handcopied.json");
    let cases = cases.as_array().expect("array of cases");
    let mut pass = 0;
    for c in cases {
        match run_case(c) {
            Ok(()) => pass += 1,
            Err(e) => println!("FAIL {} {:?}: {e}", c["name"], c["template"]),
        }
    }
    println!(
        "go-text-template newer Go cases: {pass}/{} passed",
        cases.len()
    );
    assert_eq!(pass, cases.len(), "newer Go cases must all pass");
}
