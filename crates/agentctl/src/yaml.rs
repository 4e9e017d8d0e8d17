//! `-o yaml`: a JSON value written as block-style YAML.
//!
//! Strings are always written double-quoted with JSON's escapes (a JSON string is a
//! valid YAML double-quoted scalar), so no value can turn into another type (`no`,
//! `1e3`, `null`) or break the document. Keys are plain when they are simple words,
//! quoted otherwise. Empty objects and lists are `{}` and `[]`.

use serde_json::Value;
use std::fmt::Write;

/// `v` as a YAML document, ending with a newline.
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => object(m, 0, &mut out),
        Value::Array(a) if !a.is_empty() => array(a, 0, &mut out),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

fn key(k: &str) -> String {
    let plain = !k.is_empty()
        && k.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !matches!(
            k.to_ascii_lowercase().as_str(),
            "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
        );
    if plain {
        k.to_owned()
    } else {
        Value::String(k.to_owned()).to_string()
    }
}

fn is_block(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    }
}

fn object(m: &serde_json::Map<String, Value>, indent: usize, out: &mut String) {
    for (k, v) in m {
        let _ = write!(out, "{:indent$}{}:", "", key(k));
        if is_block(v) {
            out.push('\n');
            match v {
                Value::Object(inner) => object(inner, indent + 2, out),
                Value::Array(items) => array(items, indent + 2, out),
                _ => {}
            }
        } else {
            let _ = writeln!(out, " {}", scalar(v));
        }
    }
}

fn array(items: &[Value], indent: usize, out: &mut String) {
    for v in items {
        let _ = write!(out, "{:indent$}-", "");
        match v {
            Value::Object(inner) if !inner.is_empty() => {
                // The first key on the dash's line, the rest under it.
                let mut first = String::new();
                object(inner, indent + 2, &mut first);
                out.push(' ');
                out.push_str(first.trim_start());
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                array(inner, indent + 2, out);
            }
            other => {
                let _ = writeln!(out, " {}", scalar(other));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn block_style_with_quoted_strings() {
        let v = json!({"id": "j1", "no": "no", "n": 3, "tags": ["a", "b"], "empty": {},
                       "nodes": [{"ip": "1.2.3.4", "res": {"CPU": 4}}], "x y": null});
        assert_eq!(
            to_yaml(&v),
            "empty: {}\nid: \"j1\"\n\"n\": 3\n\"no\": \"no\"\nnodes:\n  - ip: \"1.2.3.4\"\n    res:\n      CPU: 4\ntags:\n  - \"a\"\n  - \"b\"\n\"x y\": null\n"
        );
        assert_eq!(to_yaml(&json!("a\nb")), "\"a\\nb\"\n");
        assert_eq!(to_yaml(&json!([[1], []])), "-\n  - 1\n- []\n");
    }
}
