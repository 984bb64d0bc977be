//! Scalar typing exactly as Go yaml.v3 (`resolve.go`, `time.Parse`, `strconv`) does it for
//! sops, and the reverse: Go's `FormatFloat(f, 'g', -1, 64)` and `time.MarshalText` text.
//! Pure functions on strings; no YAML structure here.
//!
//! Size: a table of Go's scalar rules (bool, int, float, timestamp forms), each small.

use crate::scalar::{days_in, TimeParts, Timestamp};
use crate::Value;

/// What a scalar's text resolves to, before it becomes a [`Value`].
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer in [2^63, 2^64): Go yields `uint64`, which sops cannot encrypt.
    Uint,
    Float(f64),
    /// Go `MarshalText` (RFC 3339 with nanoseconds trimmed) of the timestamp.
    Time(Timestamp),
    Str,
    /// The merge key `<<` (plain).
    Merge,
}

impl Resolved {
    /// The yaml.v3 short tag of this resolution.
    pub(super) fn tag(&self) -> &'static str {
        match self {
            Resolved::Null => "null",
            Resolved::Bool(_) => "bool",
            Resolved::Int(_) | Resolved::Uint => "int",
            Resolved::Float(_) => "float",
            Resolved::Time(_) => "timestamp",
            Resolved::Str => "str",
            Resolved::Merge => "merge",
        }
    }

    /// The tree value (`text` is the scalar text, used for strings).
    pub(super) fn into_value(self, text: &str) -> Option<Value> {
        Some(match self {
            Resolved::Null => Value::Null,
            Resolved::Bool(b) => Value::Bool(b),
            Resolved::Int(i) => Value::Int(i),
            Resolved::Uint => return None,
            Resolved::Float(f) => Value::Float(f),
            Resolved::Time(t) => Value::Time(t),
            Resolved::Str | Resolved::Merge => Value::Str(text.to_owned()),
        })
    }
}

/// yaml.v3 `resolve("", s)`: the type a plain scalar `s` has. `timestamps` is false when the
/// scalar carries an explicit tag other than `!!timestamp` (Go only tries timestamps then).
pub(super) fn resolve_plain(s: &str, timestamps: bool) -> Resolved {
    let hint = match s.as_bytes().first() {
        None => b'N',
        Some(b'+' | b'-') => b'S',
        Some(b'0'..=b'9') => b'D',
        Some(b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~') => b'M',
        Some(b'.') => b'.',
        Some(_) => {
            return if s == "<<" {
                Resolved::Merge
            } else {
                Resolved::Str
            }
        }
    };
    match s {
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        _ => {}
    }
    match hint {
        b'.' => parse_go_float(s).map_or(Resolved::Str, Resolved::Float),
        b'D' | b'S' => {
            if timestamps {
                if let Some(t) = parse_timestamp(s) {
                    return Resolved::Time(t);
                }
            }
            let plain: String = s.chars().filter(|&c| c != '_').collect();
            if let Some(i) = parse_go_int(&plain) {
                return Resolved::Int(i);
            }
            if parse_go_uint(&plain).is_some() {
                return Resolved::Uint;
            }
            if is_yaml_style_float(&plain) {
                if let Some(f) = parse_go_float(&plain) {
                    return Resolved::Float(f);
                }
            }
            Resolved::Str
        }
        _ => Resolved::Str,
    }
}

/// Go `strconv.ParseUint(s, 0, 64)`: base from the prefix (`0x`, `0o`, `0b`, `0` octal).
fn parse_go_uint(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let (base, digits) = if b[0] == b'0' && b.len() >= 3 {
        match b[1].to_ascii_lowercase() {
            b'b' => (2, &b[2..]),
            b'o' => (8, &b[2..]),
            b'x' => (16, &b[2..]),
            _ => (8, &b[1..]),
        }
    } else if b[0] == b'0' {
        (8, &b[1..])
    } else {
        (10, b)
    };
    let mut n: u64 = 0;
    for &c in digits {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'z' | b'A'..=b'Z' => c.to_ascii_lowercase() - b'a' + 10,
            _ => return None,
        };
        if u64::from(d) >= base {
            return None;
        }
        n = n.checked_mul(base)?.checked_add(u64::from(d))?;
    }
    Some(n)
}

/// Go `strconv.ParseInt(s, 0, 64)`.
fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let u = parse_go_uint(rest)?;
    if neg {
        if u > 1 << 63 {
            None
        } else {
            Some((u as i64).wrapping_neg())
        }
    } else {
        i64::try_from(u).ok()
    }
}

/// yaml.v3's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go `strconv.ParseFloat(s, 64)` for decimal text (the only form yaml.v3 hands it):
/// underscores between digits allowed, overflow to infinity is an error.
fn parse_go_float(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let mut saw_digit = false;
    let mut saw_dot = false;
    while i < b.len() {
        match b[i] {
            b'0'..=b'9' => saw_digit = true,
            b'_' => {}
            b'.' if !saw_dot => saw_dot = true,
            _ => break,
        }
        i += 1;
    }
    if !saw_digit {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if !b.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    if i != b.len() || (s.contains('_') && !underscore_ok(s)) {
        return None;
    }
    let clean: String = s.chars().filter(|&c| c != '_').collect();
    let f: f64 = clean.parse().ok()?;
    f.is_finite().then_some(f)
}

/// Go `strconv.underscoreOK`: every `_` sits between digits.
fn underscore_ok(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let mut saw = b'^';
    for &c in s.as_bytes() {
        if c.is_ascii_digit() {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
    }
    saw != b'_'
}

/// yaml.v3 `parseTimestamp`: Go `time.Parse` with the layouts
/// `2006-1-2T15:4:5.999999999Z07:00` (also lower-case `t`), `2006-1-2 15:4:5.999999999`
/// (UTC) and `2006-1-2` (UTC). Returns the MarshalText form.
pub(super) fn parse_timestamp(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    // Go's quick check: exactly four digits, then '-'.
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    let mut p = Cursor { b, i: 5 };
    let year: u32 = s[..4].parse().ok()?;
    let month = p.num()?;
    p.lit(b'-')?;
    let day = p.num()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut t = TimeParts {
        year,
        month,
        day,
        ..Default::default()
    };
    let zoned = match p.peek() {
        None => true,
        Some(b'T' | b't') => {
            p.i += 1;
            false
        }
        Some(b' ') => {
            while p.peek() == Some(b' ') {
                p.i += 1;
            }
            false
        }
        Some(_) => return None,
    };
    if !zoned {
        let with_zone = b[p.i - 1] != b' ';
        t.hour = p.num()?;
        p.lit(b':')?;
        t.min = p.num()?;
        p.lit(b':')?;
        t.sec = p.num()?;
        if t.hour >= 24 || t.min >= 60 || t.sec >= 60 {
            return None;
        }
        if matches!(p.peek(), Some(b'.' | b',')) && b.get(p.i + 1).is_some_and(u8::is_ascii_digit) {
            p.i += 1;
            let start = p.i;
            while p.peek().is_some_and(|c| c.is_ascii_digit()) {
                p.i += 1;
            }
            // Go keeps nine digits and drops the rest.
            let digits = &s[start..p.i.min(start + 9)];
            t.nanos = digits.parse::<u32>().ok()? * 10u32.pow(9 - digits.len() as u32);
        }
        if with_zone {
            match p.peek() {
                Some(b'Z') => p.i += 1,
                Some(sign @ (b'+' | b'-')) => {
                    let z = b.get(p.i..p.i + 6)?;
                    if z[3] != b':' || ![z[1], z[2], z[4], z[5]].iter().all(u8::is_ascii_digit) {
                        return None;
                    }
                    let hh = u32::from(z[1] - b'0') * 10 + u32::from(z[2] - b'0');
                    let mm = u32::from(z[4] - b'0') * 10 + u32::from(z[5] - b'0');
                    if hh > 24 || mm > 60 {
                        return None;
                    }
                    let off = (hh * 60 + mm) as i32;
                    t.offset = if sign == b'-' { -off } else { off };
                    p.i += 6;
                }
                _ => return None,
            }
        }
    }
    if p.i != b.len() || day > days_in(month, year) {
        return None;
    }
    Some(t.marshal())
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Go `getnum(s, false)`: one or two digits.
    fn num(&mut self) -> Option<u32> {
        let d0 = self.peek().filter(u8::is_ascii_digit)?;
        self.i += 1;
        let mut n = u32::from(d0 - b'0');
        if let Some(d1) = self.peek().filter(u8::is_ascii_digit) {
            self.i += 1;
            n = n * 10 + u32::from(d1 - b'0');
        }
        Some(n)
    }

    fn lit(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }
}

/// Go `strconv.FormatFloat(f, 'g', -1, 64)` as yaml.v3 writes it (`.inf`, `-.inf`, `.nan`).
pub(super) fn format_float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    // Rust's `{:e}` gives the shortest round-trip digits, as Go's shortest mode does.
    let e = format!("{:e}", f.abs());
    let (mant, exp) = e.split_once('e').expect("{:e} has an exponent");
    let digits: String = mant.chars().filter(|&c| c != '.').collect();
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    let nd = digits.len() as i32;
    let mut out = String::new();
    if f.is_sign_negative() {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if nd > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let sign = if exp < 0 { '-' } else { '+' };
        out.push_str(&format!("e{sign}{:02}", exp.unsigned_abs()));
    } else {
        let dp = exp + 1; // digits before the decimal point
        if dp <= 0 {
            out.push('0');
        } else {
            for k in 0..dp {
                out.push(
                    digits
                        .as_bytes()
                        .get(k as usize)
                        .map_or('0', |&c| c as char),
                );
            }
        }
        if nd > dp {
            out.push('.');
            for k in dp..nd {
                out.push(if k < 0 {
                    '0'
                } else {
                    digits.as_bytes()[k as usize] as char
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn plain_scalars_type_like_go() {
        let cases: &[(&str, Resolved)] = &[
            ("true", Resolved::Bool(true)),
            ("True", Resolved::Bool(true)),
            ("FALSE", Resolved::Bool(false)),
            ("yes", Resolved::Str),
            ("on", Resolved::Str),
            ("y", Resolved::Str),
            ("", Resolved::Null),
            ("~", Resolved::Null),
            ("Null", Resolved::Null),
            ("nULL", Resolved::Str),
            ("42", Resolved::Int(42)),
            ("-17", Resolved::Int(-17)),
            ("+5", Resolved::Int(5)),
            ("0", Resolved::Int(0)),
            ("0755", Resolved::Int(493)),
            ("0o17", Resolved::Int(15)),
            ("0x1F", Resolved::Int(31)),
            ("0b101", Resolved::Int(5)),
            ("-0x10", Resolved::Int(-16)),
            ("1_000", Resolved::Int(1000)),
            ("08", Resolved::Float(8.0)),
            ("9223372036854775807", Resolved::Int(i64::MAX)),
            ("-9223372036854775808", Resolved::Int(i64::MIN)),
            ("9223372036854775808", Resolved::Uint),
            ("18446744073709551615", Resolved::Uint),
            (
                "18446744073709551616",
                Resolved::Float(18446744073709551616.0),
            ),
            ("1.0", Resolved::Float(1.0)),
            ("1e3", Resolved::Float(1000.0)),
            (".5", Resolved::Float(0.5)),
            ("1.", Resolved::Float(1.0)),
            ("-.inf", Resolved::Float(f64::NEG_INFINITY)),
            ("1e400", Resolved::Str),
            ("1e", Resolved::Str),
            ("0x", Resolved::Str),
            ("1.2.3", Resolved::Str),
            ("12:30", Resolved::Str),
            ("<<", Resolved::Merge),
            ("-", Resolved::Str),
            ("2024-02-29", Resolved::Time(ts("2024-02-29T00:00:00Z"))),
            (
                "2024-02-29T13:14:15Z",
                Resolved::Time(ts("2024-02-29T13:14:15Z")),
            ),
            (
                "2024-02-29 13:14:15",
                Resolved::Time(ts("2024-02-29T13:14:15Z")),
            ),
            (
                "2024-02-29T13:14:15.123456789+05:30",
                Resolved::Time(ts("2024-02-29T13:14:15.123456789+05:30")),
            ),
            (
                "2024-2-3t1:2:3.50-00:00",
                Resolved::Time(ts("2024-02-03T01:02:03.5Z")),
            ),
            ("2024-02-29T13:14:15", Resolved::Str),
            ("2023-02-29", Resolved::Str),
            ("2024-13-01", Resolved::Str),
            ("2024-02-29T24:00:00Z", Resolved::Str),
        ];
        for (text, want) in cases {
            let got = resolve_plain(text, true);
            match (&got, want) {
                (Resolved::Float(a), Resolved::Float(b)) if a.is_nan() && b.is_nan() => {}
                _ => assert_eq!(&got, want, "resolving {text:?}"),
            }
        }
        assert!(matches!(resolve_plain(".nan", true), Resolved::Float(f) if f.is_nan()));
        // Without timestamp typing (an explicit tag) a date is just text.
        assert_eq!(resolve_plain("2024-02-29", false), Resolved::Str);
    }

    #[test]
    fn floats_format_like_go_g() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1"),
            (1000.0, "1000"),
            (3.25159, "3.25159"),
            (-0.25, "-0.25"),
            (1500000.0, "1.5e+06"),
            (123456.0, "123456"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e-7, "1e-07"),
            (1.5e300, "1.5e+300"),
            (123456789012345678901234.0, "1.2345678901234569e+23"),
            (-0.0, "-0"),
            (0.0, "0"),
            (f64::INFINITY, ".inf"),
            (f64::NEG_INFINITY, "-.inf"),
            (f64::NAN, ".nan"),
            (100000000.0, "1e+08"),
            (0.000123, "0.000123"),
        ];
        for (f, want) in cases {
            assert_eq!(format_float(*f), *want, "formatting {f}");
        }
    }
}
