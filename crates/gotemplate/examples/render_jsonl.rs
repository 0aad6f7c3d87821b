//! Differential-testing driver: reads JSON lines `{"t": template, "d": data, "m": missingkey}`
//! from stdin and writes `{"out": ..., "err": ...}` lines, the same protocol as the Go oracle
//! used to compare this crate with Go's text/template + Sprig (see `tools/go-oracle`).

use std::io::{BufRead, Write};

use gotemplate::{Templates, Value};

fn main() {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let resp = match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(req) => run(&req),
            Err(e) => serde_json::json!({"out": "", "err": format!("BADREQ {e}")}),
        };
        if writeln!(out, "{resp}").is_err() {
            break;
        }
    }
}

fn run(req: &serde_json::Value) -> serde_json::Value {
    let mut t = Templates::with_sprig("t");
    if let Some(m) = req["m"].as_str().filter(|m| !m.is_empty())
        && let Err(e) = t.option(&format!("missingkey={m}"))
    {
        return serde_json::json!({"out": "", "err": e});
    }
    let text = req["t"].as_str().unwrap_or_default();
    if let Err(e) = t.parse("t", text) {
        return serde_json::json!({"out": "", "err": e.to_string()});
    }
    let data = Value::from_json(&req["d"]);
    match t.execute("t", &data) {
        Ok(s) => serde_json::json!({"out": s, "err": ""}),
        Err(e) => serde_json::json!({"out": "", "err": e.to_string()}),
    }
}
