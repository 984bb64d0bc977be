//! Scalar values as sops encrypts and hashes them: the plaintext bytes of each [`Value`] and
//! the `type:` it records, following Go's `fmt`/`strconv` formatting (sops 3.11). Format-neutral;
//! each store has its own text syntax.
//!
//! Decrypted text is never trusted to match its `type:` tag (the tag is not authenticated):
//! [`from_text`] parses every typed value as sops' `aes/cipher.go` does (`strconv.Atoi`,
//! `ParseFloat`, `ParseBool`, `time.UnmarshalText`) and refuses what Go refuses, so a value
//! whose tag was changed can never reach an emitter as raw text.

use super::tree::Value;

/// A timestamp, only ever built from parsed fields: its text is Go's `time.MarshalText`
/// (RFC 3339, fraction only when non-zero, `Z` for a zero offset), so it is always a safe
/// plain scalar in every store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp(String);

/// The fields of a timestamp as parsed (yaml.v3's layouts or RFC 3339).
#[derive(Debug, Clone, Copy, Default)]
pub struct TimeParts {
    /// 0..=9999
    pub year: u32,
    /// 1..=12
    pub month: u32,
    /// 1..=31
    pub day: u32,
    /// 0..=23
    pub hour: u32,
    /// 0..=59
    pub min: u32,
    /// 0..=59
    pub sec: u32,
    /// 0..1e9
    pub nanos: u32,
    /// Zone offset in minutes east of UTC.
    pub offset: i32,
}

impl TimeParts {
    /// The timestamp these fields name, written as Go's `MarshalText` does.
    pub fn marshal(&self) -> Timestamp {
        let mut out = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.min, self.sec
        );
        if self.nanos != 0 {
            let frac = format!("{:09}", self.nanos);
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
        if self.offset == 0 {
            out.push('Z');
        } else {
            let sign = if self.offset < 0 { '-' } else { '+' };
            let a = self.offset.unsigned_abs();
            out.push_str(&format!("{sign}{:02}:{:02}", a / 60, a % 60));
        }
        Timestamp(out)
    }
}

impl Timestamp {
    /// Go's `time.Time.UnmarshalText` (strict RFC 3339, Go >= 1.20): `YYYY-MM-DDTHH:MM:SS`,
    /// an optional `.` fraction (digits past nine dropped), `Z` or `±HH:MM`; every field in
    /// range (day by month and leap year). `None` for anything else.
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        let b = s.as_bytes();
        if b.len() < 19 {
            return None;
        }
        let num = |r: std::ops::Range<usize>, max: u32| -> Option<u32> {
            let mut n = 0u32;
            for &c in &b[r] {
                if !c.is_ascii_digit() {
                    return None;
                }
                n = n * 10 + u32::from(c - b'0');
            }
            (n <= max).then_some(n)
        };
        let mut t = TimeParts {
            year: num(0..4, 9999)?,
            month: num(5..7, 12)?,
            ..Default::default()
        };
        t.day = num(8..10, 31)?;
        t.hour = num(11..13, 23)?;
        t.min = num(14..16, 59)?;
        t.sec = num(17..19, 59)?;
        if t.month == 0 || t.day == 0 || t.day > days_in(t.month, t.year) {
            return None;
        }
        if (b[4], b[7], b[10], b[13], b[16]) != (b'-', b'-', b'T', b':', b':') {
            return None;
        }
        let mut i = 19;
        if b.len() >= i + 2 && b[i] == b'.' && b[i + 1].is_ascii_digit() {
            let start = i + 1;
            i = start;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let digits = &s[start..i.min(start + 9)];
            t.nanos = digits.parse::<u32>().ok()? * 10u32.pow(9 - digits.len() as u32);
        }
        match &b[i..] {
            [b'Z'] => {}
            [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
                let hh = num(i + 1..i + 3, 23)?;
                let mm = num(i + 4..i + 6, 59)?;
                let off = (hh * 60 + mm) as i32;
                t.offset = if *sign == b'-' { -off } else { off };
            }
            _ => return None,
        }
        Some(t.marshal())
    }

    /// Go's `time.Parse(time.RFC3339, s).Format(time.RFC3339)`: as [`Self::parse_rfc3339`],
    /// then written without the fraction (how sops uses `lastmodified`).
    pub fn parse_rfc3339_seconds(s: &str) -> Option<String> {
        let t = Self::parse_rfc3339(s)?;
        let text = t.as_str();
        Some(match text.find('.') {
            Some(dot) => {
                let zone = dot + text[dot..].find(|c: char| !c.is_ascii_digit() && c != '.')?;
                format!("{}{}", &text[..dot], &text[zone..])
            }
            None => text.to_owned(),
        })
    }

    /// The `MarshalText` form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Days in a month of the proleptic Gregorian calendar.
pub fn days_in(month: u32, year: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

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
        Value::Str(s) | Value::Comment(s) => s.clone(),
        Value::Time(t) => t.as_str().to_owned(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format_float(*f),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Null | Value::Map(_) | Value::List(_) => return None,
    })
}

/// Rebuilds a scalar from decrypted text and its `type:` as sops' cipher does; `None` if
/// the text does not parse as that type (sops fails the same way).
pub fn from_text(ty: &str, text: String) -> Option<Value> {
    Some(match ty {
        "str" | "bytes" => Value::Str(text),
        "comment" => Value::Comment(text),
        "time" => Value::Time(Timestamp::parse_rfc3339(&text)?),
        "int" => Value::Int(parse_atoi(&text)?),
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

/// Go `strconv.Atoi`: an optional sign and decimal digits only, in range of int64.
fn parse_atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Go `strconv.ParseFloat(s, 64)` for decimal text: `Inf`, `Infinity` and `NaN` in any case
/// (signed but NaN), decimals with an exponent; out of range is an error, as in Go.
/// Hexadecimal floats (`0x1p-2`), which Go also reads, are refused: sops never writes them.
pub fn parse_float(s: &str) -> Option<f64> {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = unsigned.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Some(if s.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if lower == "nan" {
        return (unsigned.len() == s.len()).then_some(f64::NAN);
    }
    let b = unsigned.as_bytes();
    let mut i = 0;
    let mut digits = 0;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
        digits += usize::from(b[i].is_ascii_digit());
        i += 1;
    }
    if digits == 0 || unsigned[..i].matches('.').count() > 1 {
        return None;
    }
    if i < b.len() {
        if !matches!(b[i], b'e' | b'E') {
            return None;
        }
        let exp = unsigned[i + 1..]
            .strip_prefix(['+', '-'])
            .unwrap_or(&unsigned[i + 1..]);
        if exp.is_empty() || !exp.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
    }
    let f: f64 = s.parse().ok()?;
    f.is_finite().then_some(f)
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
        assert_eq!(parse_float("infinit"), None);
    }

    #[test]
    fn scalars_round_trip_through_text() {
        for v in [
            Value::Bool(true),
            Value::Bool(false),
            Value::Int(-42),
            Value::Str("x".into()),
            Value::Time(Timestamp::parse_rfc3339("2024-02-29T00:00:00Z").unwrap()),
            Value::Comment(" c".into()),
        ] {
            let t = to_text(&v).unwrap();
            assert_eq!(from_text(type_name(&v).unwrap(), t), Some(v));
        }
        assert_eq!(to_text(&Value::Bool(true)).unwrap(), "True");
        assert_eq!(from_text("int", "x".into()), None);
        assert_eq!(from_text("weird", "x".into()), None);
    }

    /// D1 (issue 21): the `type:` tag is not authenticated, so a tampered tag must not turn
    /// text into another type unchecked.
    #[test]
    fn typed_text_is_parsed_as_go_does() {
        for (ty, text) in [
            ("time", "viewer\nadmin: true"),
            ("time", "2024-02-30T00:00:00Z"),
            ("time", "2024-02-29 00:00:00Z"),
            ("time", "2024-02-29T00:00:00"),
            ("time", "2024-02-29T1:00:00Z"),
            ("time", "2024-02-29T00:00:00+24:00"),
            ("time", "2024-02-29T00:00:00,5Z"),
            ("int", "1_000"),
            ("int", "0x10"),
            ("int", " 1"),
            ("int", "99999999999999999999"),
            ("float", "1e400"),
            ("float", "1_0.5"),
            ("float", "0x1p-2"),
            ("float", "-nan"),
            ("float", "1.2.3"),
            ("bool", "yes"),
        ] {
            assert_eq!(from_text(ty, text.into()), None, "{ty} {text:?}");
        }
        let time = |s: &str| to_text(&from_text("time", s.into()).unwrap()).unwrap();
        assert_eq!(time("2024-02-29T00:00:00.000Z"), "2024-02-29T00:00:00Z");
        assert_eq!(time("2024-02-29T00:00:00+00:00"), "2024-02-29T00:00:00Z");
        assert_eq!(
            time("2024-02-29T00:00:00.1234567891-05:30"),
            "2024-02-29T00:00:00.123456789-05:30"
        );
        assert_eq!(from_text("int", "+5".into()), Some(Value::Int(5)));
        assert_eq!(from_text("int", "-007".into()), Some(Value::Int(-7)));
        for (text, f) in [
            ("inf", f64::INFINITY),
            ("-Infinity", f64::NEG_INFINITY),
            (".5", 0.5),
            ("5.", 5.0),
            ("1E3", 1000.0),
        ] {
            assert_eq!(
                from_text("float", text.into()),
                Some(Value::Float(f)),
                "{text}"
            );
        }
        assert_eq!(from_text("bool", "t".into()), Some(Value::Bool(true)));
    }
}
