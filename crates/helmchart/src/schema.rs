//! `values.schema.json` validation: the JSON Schema subset Helm charts use (draft 4–2020-12
//! keywords `type`, `properties`, `required`, `additionalProperties`, `patternProperties`
//! (names only by prefix/exact), `items`, `enum`, `const`, `minimum`, `maximum`,
//! `exclusiveMinimum`, `exclusiveMaximum`, `multipleOf`, `minLength`, `maxLength`, `minItems`,
//! `maxItems`, `uniqueItems`, `minProperties`, `maxProperties`, `allOf`, `anyOf`, `oneOf`,
//! `not`, `if`/`then`/`else`, local `$ref` (`#/definitions/...`, `#/$defs/...`)). Remote
//! `$ref`s are refused as [`crate::RenderError::Unsupported`]-worthy input by reporting an error.
//! `pattern` and `format` are not checked (no regex engine here): schemas relying on them
//! validate less strictly than Helm.

use gotemplate::{Map, Value};
use serde_json::Value as J;

use crate::chart::Chart;

/// Validates the coalesced values of a chart and its subcharts; `Err` holds Helm's
/// per-chart report (`chart:\n- at '/path': message`).
pub fn validate_chart(chart: &Chart, values: &Map) -> Result<(), String> {
    let mut report = String::new();
    if let Some(schema) = &chart.schema {
        let schema: J = serde_json::from_slice(schema).map_err(|e| {
            format!(
                "{}:\nvalues.schema.json is not valid JSON: {e}",
                chart.name()
            )
        })?;
        let mut errs = Vec::new();
        let data = Value::Map(values.clone()).to_json();
        check(&schema, &schema, &data, "", &mut errs, 0);
        if !errs.is_empty() {
            report.push_str(&format!("{}:\n", chart.name()));
            for e in errs {
                report.push_str(&format!("- {e}\n"));
            }
        }
    }
    for sub in &chart.dependencies {
        let sv = match values.get(sub.name()) {
            Some(Value::Map(m)) => m,
            _ => Map::new(),
        };
        if let Err(e) = validate_chart(sub, &sv) {
            report.push_str(&e);
        }
    }
    if report.is_empty() {
        Ok(())
    } else {
        Err(report)
    }
}

/// The first `$ref` of a schema (or of a subchart's schema) that points outside the document
/// (`https://...`, `other.json#/x`): Helm would fetch it, the native renderer refuses.
pub fn remote_ref(chart: &Chart) -> Option<(String, String)> {
    fn find(v: &J) -> Option<String> {
        match v {
            J::Object(o) => {
                if let Some(J::String(r)) = o.get("$ref")
                    && !r.starts_with('#')
                {
                    return Some(r.clone());
                }
                o.values().find_map(find)
            }
            J::Array(a) => a.iter().find_map(find),
            _ => None,
        }
    }
    if let Some(schema) = &chart.schema
        && let Ok(j) = serde_json::from_slice::<J>(schema)
        && let Some(r) = find(&j)
    {
        return Some((r, format!("{}/values.schema.json", chart.full_path())));
    }
    chart.dependencies.iter().find_map(remote_ref)
}

fn type_of(v: &J) -> &'static str {
    match v {
        J::Null => "null",
        J::Bool(_) => "boolean",
        J::Number(n) => {
            if n.as_f64().is_some_and(|f| f.fract() == 0.0) {
                "integer"
            } else {
                "number"
            }
        }
        J::String(_) => "string",
        J::Array(_) => "array",
        J::Object(_) => "object",
    }
}

fn type_matches(want: &str, v: &J) -> bool {
    let t = type_of(v);
    want == t || (want == "number" && t == "integer")
}

fn resolve<'a>(root: &'a J, r: &str) -> Option<&'a J> {
    let path = r.strip_prefix('#')?;
    if path.is_empty() {
        return Some(root);
    }
    root.pointer(path)
}

fn is_valid(root: &J, schema: &J, v: &J, depth: usize) -> bool {
    let mut e = Vec::new();
    check(root, schema, v, "", &mut e, depth);
    e.is_empty()
}

fn check(root: &J, schema: &J, v: &J, at: &str, errs: &mut Vec<String>, depth: usize) {
    if depth > 64 {
        errs.push(format!("at '{at}': schema nesting too deep"));
        return;
    }
    let loc = if at.is_empty() {
        String::new()
    } else {
        at.to_string()
    };
    let at_s = |m: String| format!("at '{loc}': {m}");
    let s = match schema {
        J::Bool(false) => {
            errs.push(at_s("false schema".into()));
            return;
        }
        J::Object(o) => o,
        _ => return,
    };
    if let Some(J::String(r)) = s.get("$ref") {
        match resolve(root, r) {
            Some(target) => check(root, target, v, at, errs, depth + 1),
            None => errs.push(at_s(format!("cannot resolve $ref {r:?}"))),
        }
    }
    match s.get("type") {
        Some(J::String(t)) if !type_matches(t, v) => {
            errs.push(at_s(format!("got {}, want {t}", type_of(v))));
            return;
        }
        Some(J::Array(ts)) => {
            let ok = ts
                .iter()
                .any(|t| t.as_str().is_some_and(|t| type_matches(t, v)));
            if !ok {
                let want: Vec<&str> = ts.iter().filter_map(|t| t.as_str()).collect();
                errs.push(at_s(format!(
                    "got {}, want {}",
                    type_of(v),
                    want.join(" or ")
                )));
                return;
            }
        }
        _ => {}
    }
    if let Some(J::Array(options)) = s.get("enum")
        && !options.iter().any(|o| json_eq(o, v))
    {
        let opts: Vec<String> = options.iter().map(|o| o.to_string()).collect();
        errs.push(at_s(format!("value must be one of {}", opts.join(", "))));
    }
    if let Some(c) = s.get("const")
        && !json_eq(c, v)
    {
        errs.push(at_s(format!("value must be {c}")));
    }
    if let J::Number(n) = v {
        let x = n.as_f64().unwrap_or(0.0);
        let num = |k: &str| s.get(k).and_then(|m| m.as_f64());
        if let Some(m) = num("minimum")
            && x < m
        {
            errs.push(at_s(format!("minimum: got {x}, want {m}")));
        }
        if let Some(m) = num("maximum")
            && x > m
        {
            errs.push(at_s(format!("maximum: got {x}, want {m}")));
        }
        if let Some(m) = num("exclusiveMinimum")
            && x <= m
        {
            errs.push(at_s(format!("exclusiveMinimum: got {x}, want {m}")));
        }
        if let Some(m) = num("exclusiveMaximum")
            && x >= m
        {
            errs.push(at_s(format!("exclusiveMaximum: got {x}, want {m}")));
        }
        if let Some(m) = num("multipleOf")
            && m > 0.0
            && (x / m).fract().abs() > 1e-9
        {
            errs.push(at_s(format!("multipleOf: {x} is not a multiple of {m}")));
        }
    }
    if let J::String(st) = v {
        let len = st.chars().count() as u64;
        if let Some(m) = s.get("minLength").and_then(J::as_u64)
            && len < m
        {
            errs.push(at_s(format!("minLength: got {len}, want {m}")));
        }
        if let Some(m) = s.get("maxLength").and_then(J::as_u64)
            && len > m
        {
            errs.push(at_s(format!("maxLength: got {len}, want {m}")));
        }
    }
    if let J::Array(items) = v {
        let n = items.len() as u64;
        if let Some(m) = s.get("minItems").and_then(J::as_u64)
            && n < m
        {
            errs.push(at_s(format!("minItems: got {n}, want {m}")));
        }
        if let Some(m) = s.get("maxItems").and_then(J::as_u64)
            && n > m
        {
            errs.push(at_s(format!("maxItems: got {n}, want {m}")));
        }
        if s.get("uniqueItems") == Some(&J::Bool(true)) {
            for i in 0..items.len() {
                for j in i + 1..items.len() {
                    if json_eq(&items[i], &items[j]) {
                        errs.push(at_s(format!("items at {i} and {j} are equal")));
                    }
                }
            }
        }
        match s.get("items") {
            Some(J::Array(tuple)) => {
                for (i, (it, sch)) in items.iter().zip(tuple.iter()).enumerate() {
                    check(root, sch, it, &format!("{at}/{i}"), errs, depth + 1);
                }
            }
            Some(sch) => {
                for (i, it) in items.iter().enumerate() {
                    check(root, sch, it, &format!("{at}/{i}"), errs, depth + 1);
                }
            }
            None => {}
        }
    }
    if let J::Object(obj) = v {
        if let Some(J::Array(req)) = s.get("required") {
            let missing: Vec<String> = req
                .iter()
                .filter_map(|r| r.as_str())
                .filter(|r| !obj.contains_key(*r))
                .map(|r| format!("'{r}'"))
                .collect();
            if !missing.is_empty() {
                let word = if missing.len() == 1 {
                    "property"
                } else {
                    "properties"
                };
                errs.push(at_s(format!("missing {word} {}", missing.join(", "))));
            }
        }
        let n = obj.len() as u64;
        if let Some(m) = s.get("minProperties").and_then(J::as_u64)
            && n < m
        {
            errs.push(at_s(format!("minProperties: got {n}, want {m}")));
        }
        if let Some(m) = s.get("maxProperties").and_then(J::as_u64)
            && n > m
        {
            errs.push(at_s(format!("maxProperties: got {n}, want {m}")));
        }
        let props = s.get("properties").and_then(J::as_object);
        let pattern_props = s.get("patternProperties").and_then(J::as_object);
        let mut extra = Vec::new();
        for (k, x) in obj {
            let child = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
            let mut covered = false;
            if let Some(p) = props.and_then(|p| p.get(k)) {
                covered = true;
                check(root, p, x, &child, errs, depth + 1);
            }
            if pattern_props.is_some_and(|pp| !pp.is_empty()) {
                // Without a regex engine a pattern property counts as covering every key.
                covered = true;
            }
            if !covered {
                match s.get("additionalProperties") {
                    Some(J::Bool(false)) => extra.push(format!("'{k}'")),
                    Some(sch @ J::Object(_)) => check(root, sch, x, &child, errs, depth + 1),
                    _ => {}
                }
            }
        }
        if !extra.is_empty() {
            errs.push(at_s(format!(
                "additional properties {} not allowed",
                extra.join(", ")
            )));
        }
    }
    if let Some(J::Array(all)) = s.get("allOf") {
        for sch in all {
            check(root, sch, v, at, errs, depth + 1);
        }
    }
    if let Some(J::Array(any)) = s.get("anyOf")
        && !any.iter().any(|sch| is_valid(root, sch, v, depth + 1))
    {
        errs.push(at_s("anyOf failed".into()));
    }
    if let Some(J::Array(one)) = s.get("oneOf") {
        let n = one
            .iter()
            .filter(|sch| is_valid(root, sch, v, depth + 1))
            .count();
        if n != 1 {
            errs.push(at_s(format!("oneOf failed: {n} subschemas matched")));
        }
    }
    if let Some(not) = s.get("not")
        && is_valid(root, not, v, depth + 1)
    {
        errs.push(at_s("not failed".into()));
    }
    if let Some(cond) = s.get("if") {
        if is_valid(root, cond, v, depth + 1) {
            if let Some(t) = s.get("then") {
                check(root, t, v, at, errs, depth + 1);
            }
        } else if let Some(e) = s.get("else") {
            check(root, e, v, at, errs, depth + 1);
        }
    }
}

fn json_eq(a: &J, b: &J) -> bool {
    match (a, b) {
        (J::Number(x), J::Number(y)) => x.as_f64() == y.as_f64(),
        (J::Array(x), J::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_common_keywords() {
        let schema = serde_json::json!({
            "type": "object",
            "required": ["image"],
            "properties": {
                "replicas": {"type": "integer", "minimum": 1},
                "image": {"$ref": "#/definitions/image"}
            },
            "definitions": {"image": {"type": "object", "required": ["repository"]}}
        });
        let ok = serde_json::json!({"replicas": 2.0, "image": {"repository": "x"}});
        let bad = serde_json::json!({"replicas": "two", "image": {}});
        let mut e = Vec::new();
        check(&schema, &schema, &ok, "", &mut e, 0);
        assert!(e.is_empty(), "{e:?}");
        check(&schema, &schema, &bad, "", &mut e, 0);
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            e.iter()
                .any(|m| m.contains("/replicas") && m.contains("want integer"))
        );
    }
}
