//! Scalar values as sops encrypts and hashes them: the plaintext bytes of each [`Value`] and
//! the `type:` it records, following Go's `fmt`/`strconv` formatting (sops 3.11). Format-neutral;
//! each store has its own text syntax.

use super::tree::Value;

/// The `type:` name recorded in `ENC[...]` for a scalar, `None` for null and containers.
pub fn type_name(v: &Value) -> Option<&'static str> {
    Some(match v {
        Value::Str(_) => "str",
        Value::Int(_) => "int",
        Value::Float(_) => "float",
        Value::Bool(_) => "bool",
        Value::Time(_) => "time",
        Value::Comment(_) => "comment",
        Value::Null | Value::Map(_) | Value::List(_) => return None,
    })
}

/// The bytes sops encrypts and feeds to the MAC for a scalar (`None`: not a scalar).
pub fn to_text(v: &Value) -> Option<String> {
    Some(match v {
        Value::Str(s) | Value::Time(s) | Value::Comment(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format_float(*f),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Null | Value::Map(_) | Value::List(_) => return None,
    })
}

/// Rebuilds a scalar from decrypted text and its `type:`; `None` if the text does not fit.
pub fn from_text(ty: &str, text: String) -> Option<Value> {
    Some(match ty {
        "str" | "bytes" => Value::Str(text),
        "comment" => Value::Comment(text),
        "time" => Value::Time(text),
        "int" => Value::Int(text.parse().ok()?),
        "float" => Value::Float(parse_float(&text)?),
        // Go's strconv.ParseBool.
        "bool" => Value::Bool(match text.as_str() {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => true,
            "0" | "f" | "F" | "false" | "FALSE" | "False" => false,
            _ => return None,
        }),
        _ => return None,
    })
}

/// Go `strconv.FormatFloat(f, 'f', -1, 64)`: shortest round-trip digits, never an exponent.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        // Rust's Display is also shortest-round-trip and positional, and prints `-0`.
        format!("{f}")
    }
}

/// Parses Go's float text (`+Inf`, `-Inf`, `NaN` and decimals).
pub fn parse_float(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ if s
            .chars()
            .any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E') =>
        {
            None
        }
        _ => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_go_formatfloat_f() {
        for (f, s) in [
            (1.0, "1"),
            (1500000.0, "1500000"),
            (1e-7, "0.0000001"),
            (1.2345678901234569e23, "123456789012345690000000"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (-0.0, "-0"),
            (0.75, "0.75"),
        ] {
            assert_eq!(format_float(f), s);
            assert_eq!(parse_float(s).unwrap().to_bits(), f.to_bits(), "{s}");
        }
        assert!(parse_float("NaN").unwrap().is_nan());
        assert_eq!(parse_float("inf"), None);
    }

    #[test]
    fn scalars_round_trip_through_text() {
        for v in [
            Value::Bool(true),
            Value::Bool(false),
            Value::Int(-42),
            Value::Str("x".into()),
            Value::Time("2024-02-29T00:00:00Z".into()),
            Value::Comment(" c".into()),
        ] {
            let t = to_text(&v).unwrap();
            assert_eq!(from_text(type_name(&v).unwrap(), t), Some(v));
        }
        assert_eq!(to_text(&Value::Bool(true)).unwrap(), "True");
        assert_eq!(from_text("int", "x".into()), None);
        assert_eq!(from_text("weird", "x".into()), None);
    }
}
