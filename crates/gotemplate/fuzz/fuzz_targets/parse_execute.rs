//! Fuzz target: any bytes as template text are parsed and, when they parse, executed against
//! Helm-like data with Sprig and `include`/`tpl` registered. Must never panic, hang or exhaust
//! memory (limits are lowered so each input runs quickly).
#![no_main]

use gotemplate::{CallCtx, FuncError, Templates, Value};
use libfuzzer_sys::fuzz_target;

fn set() -> Templates {
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
    // Key and certificate generation is random and takes up to seconds per call by design
    // (RSA 4096, DSA); a loop of them would read as a hang without being one.
    for slow in [
        "genPrivateKey",
        "genCA",
        "genSelfSignedCert",
        "genSignedCert",
    ] {
        t.remove_func(slow);
    }
    t.set_max_steps(100_000);
    t.set_max_output(1 << 20);
    t
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut t = set();
    if t.parse("fuzz", &text).is_ok() {
        let values = Value::from_json_helm(&serde_json::json!({
            "Values": {"a": [1, "x", null], "m": {"k": "v", "n": 3}, "s": "str", "b": true},
            "Release": {"Name": "r", "Namespace": "default"},
        }));
        let _ = t.execute("fuzz", &values);
    }
});
