//! Property test: whatever `toYaml` writes reads back as the same values (quoting, block
//! scalars and 80-column folding must never change content).

use gotemplate::{Map, Value};
use helmchart::yaml::{Numbers, parse, to_yaml, to_yaml_pretty};
use proptest::prelude::*;

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Bool),
        (-1_000_000_000i64..1_000_000_000).prop_map(|i| Value::Float(i as f64)),
        (-1.0e6f64..1.0e6).prop_map(Value::Float),
        // Strings mixing YAML indicators, spaces, line breaks, tabs, quotes and unicode.
        proptest::collection::vec(
            prop_oneof![
                Just(" ".to_string()),
                Just("\n".to_string()),
                Just("\t".to_string()),
                Just(": ".to_string()),
                Just(" #".to_string()),
                Just("-".to_string()),
                Just("'".to_string()),
                Just("\"".to_string()),
                Just("yes".to_string()),
                Just("0x1F".to_string()),
                Just("1.5".to_string()),
                Just("é".to_string()),
                Just("😀".to_string()),
                "[a-z]{1,12}".prop_map(String::from),
            ],
            0..40,
        )
        .prop_map(|parts| Value::str(parts.concat())),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::list),
            proptest::collection::btree_map("[a-zA-Z0-9_.: -]{0,10}", inner, 0..5)
                .prop_map(|m| Value::Map(Map::from_btree(m))),
        ]
    })
}

fn normalize(v: &Value) -> serde_json::Value {
    v.to_json()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn to_yaml_reads_back(v in value()) {
        let doc = Value::map([("k", v.clone())]);
        let text = to_yaml(&doc).expect("marshal");
        let back = parse(&text, Numbers::Float).expect("parses back");
        prop_assert_eq!(normalize(&back), normalize(&doc), "yaml was:\n{}", text);
        let pretty = to_yaml_pretty(&doc).expect("marshal pretty");
        let back = parse(&pretty, Numbers::Float).expect("pretty parses back");
        prop_assert_eq!(normalize(&back), normalize(&doc), "pretty yaml was:\n{}", pretty);
    }
}
