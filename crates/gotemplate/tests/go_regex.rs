//! Sprig's regex functions follow Go's RE2 syntax and semantics, not the `regex` crate's: every
//! expected value here is what `helm template` v3.22 (Go's regexp) printed for the same call.

use gotemplate::{Templates, Value};

fn run(tpl: &str) -> String {
    let mut t = Templates::with_sprig("t");
    t.parse("t", tpl).expect("parses");
    t.execute("t", &Value::Nil).expect("executes")
}

#[test]
fn classes_follow_go() {
    // `\w-\.` inside a class: `\w`, a literal `-`, a literal `.` (the regex crate rejects it).
    assert_eq!(run(r#"{{ regexMatch "^[\\w-\\.]+$" "mymaster" }}"#), "true");
    assert_eq!(
        run(r#"{{ regexMatch "^[\\w-\\.]+$" "my-master.0" }}"#),
        "true"
    );
    assert_eq!(run(r#"{{ regexMatch "^[\\d-z]+$" "1-z" }}"#), "true");
    assert_eq!(run(r#"{{ regexMatch "^[^\\D]+$" "123" }}"#), "true");
    assert_eq!(run(r#"{{ regexMatch "^[\\-\\]x]+$" "]-x" }}"#), "true");
    assert_eq!(run(r#"{{ regexMatch "^[a-]+$" "a-" }}"#), "true");
    assert_eq!(run(r#"{{ regexMatch "^[-a]+$" "a-" }}"#), "true");
    // `[`, `&&` and `~` are literals in a Go class (nesting / set operators in Rust's).
    assert_eq!(run(r#"{{ regexMatch "^[[a]+$" "[a" }}"#), "true");
    assert_eq!(run(r#"{{ regexMatch "^[a&&b]+$" "&a" }}"#), "true");
    assert_eq!(
        run(r#"{{ regexFindAll "[[:alpha:]]+" "ab1cd2" -1 | join "," }}"#),
        "ab,cd"
    );
    assert_eq!(run(r#"{{ regexMatch "[[:^digit:]]" "1a" }}"#), "true");
    assert_eq!(run(r#"{{ regexMatch "^\\pL+$" "héllo" }}"#), "true");
}

#[test]
fn perl_classes_and_boundaries_are_ascii() {
    assert_eq!(run(r#"{{ regexMatch "^\\w+$" "héllo" }}"#), "false");
    // Go's \s is [\t\n\f\r ]: no vertical tab.
    assert_eq!(run("{{ regexMatch \"^[\\\\s]+$\" \"\\v\" }}"), "false");
    assert_eq!(run("{{ regexMatch \"^\\\\s+$\" \" \\t\" }}"), "true");
    assert_eq!(
        run(r#"{{ regexReplaceAll "\\b" "ab cd" "|" }}"#),
        "|ab| |cd|"
    );
}

#[test]
fn go_only_syntax() {
    assert_eq!(run(r#"{{ regexMatch "^\\Qa.b\\E$" "a.b" }}"#), "true");
    assert_eq!(run(r#"{{ regexMatch "^\\Qa.b\\E$" "axb" }}"#), "false");
    assert_eq!(run(r#"{{ regexMatch "^\\141$" "a" }}"#), "true");
    // A `{` that starts no repetition is literal; `\<` is `<`, not a word boundary.
    assert_eq!(run(r#"{{ regexMatch "^a{,2}$" "a{,2}" }}"#), "true");
    assert_eq!(run(r#"{{ regexMatch "^\\<a\\>$" "<a>" }}"#), "true");
    assert_eq!(run(r#"{{ regexMatch "^a~b#c d$" "a~b#c d" }}"#), "true");
    assert_eq!(
        run(r#"{{ regexFindAll "(?i)K" "kK" -1 | join "," }}"#),
        "k,K"
    );
    assert_eq!(run(r#"{{ regexMatch "(?i)^ABC$" "abc" }}"#), "true");
    assert_eq!(
        run("{{ regexReplaceAll \"(?s)a.b\" \"a\\nb\" \"X\" }}"),
        "X"
    );
    assert_eq!(
        run("{{ regexReplaceAll \"(?m)^\" \"a\\nb\" \"> \" }}"),
        "> a\n> b"
    );
    // An invalid expression: regexMatch is false, mustRegexMatch fails with Go's wording.
    assert_eq!(run(r#"{{ regexMatch "[" "x" }}"#), "false");
    let mut t = Templates::with_sprig("t");
    t.parse("t", r#"{{ mustRegexMatch "a\\1" "x" }}"#)
        .expect("parses");
    let e = t.execute("t", &Value::Nil).expect_err("invalid escape");
    assert!(
        e.to_string()
            .contains("error parsing regexp: invalid escape sequence: `\\1`"),
        "{e}"
    );
}

#[test]
fn replacement_follows_go_expand() {
    assert_eq!(
        run(r#"{{ regexReplaceAll "(?P<first>\\w+) (\\w+)" "hello world" "${first}-$2" }}"#),
        "hello-world"
    );
    // `$1W` names group "1W" (longest name), which does not exist: empty.
    assert_eq!(
        run(r#"{{ regexReplaceAll "a(x*)b" "-ab-axxb-" "$1W" }}"#),
        "---"
    );
    assert_eq!(
        run(r#"{{ regexReplaceAll "(\\w+)" "foo bar" "$1x" }}"#),
        " "
    );
    assert_eq!(
        run(r#"{{ regexReplaceAll "(\\w+)" "foo bar" "${1}x" }}"#),
        "foox barx"
    );
    assert_eq!(
        run(r#"{{ regexReplaceAll "(a)(b)?" "ab a" "[$2]" }}"#),
        "[b] []"
    );
    assert_eq!(
        run(r#"{{ regexReplaceAll "(?P<x>a)" "a" "${x}${nope}$" }}"#),
        "a$"
    );
    assert_eq!(run(r#"{{ regexReplaceAll "x" "axb" "${1" }}"#), "a${1b");
    assert_eq!(run(r#"{{ regexReplaceAll "(a)|b" "ab" "<$1>" }}"#), "<a><>");
    assert_eq!(
        run(r#"{{ regexReplaceAll "(\\w)(\\w)" "abcd" "$2$1" }}"#),
        "badc"
    );
    assert_eq!(
        run(r#"{{ regexReplaceAllLiteral "a(x*)b" "-ab-axxb-" "$1" }}"#),
        "-$1-$1-"
    );
}

#[test]
fn empty_matches_follow_go() {
    assert_eq!(run(r#"{{ regexReplaceAll "a*" "baaac" "X" }}"#), "XbXcX");
    assert_eq!(
        run(r#"{{ regexFindAll "a*" "baaac" -1 | toJson }}"#),
        r#"["","aaa",""]"#
    );
    assert_eq!(
        run(r#"{{ regexSplit "a*" "baaac" -1 | toJson }}"#),
        r#"["b","c"]"#
    );
    assert_eq!(run(r#"{{ regexReplaceAll "" "aé" "-" }}"#), "-a-é-");
    assert_eq!(run(r#"{{ regexReplaceAll "$" "abc" "!" }}"#), "abc!");
    assert_eq!(run(r#"{{ regexFind "é+" "aééb" }}"#), "éé");
    assert_eq!(
        run(r#"{{ regexSplit "\\s+" "a b  c" -1 | toJson }}"#),
        r#"["a","b","c"]"#
    );
}
