//! The `format`s that are cheap to check exactly (the ones Kubernetes objects use most);
//! any other format is accepted, as an unknown format is by the API server.

use base64::Engine as _;
use serde_json::Value;

/// Why `s` is not a valid `format`, or `None` when it is (or the format is not checked).
pub(crate) fn check_string(format: &str, s: &str) -> Option<&'static str> {
    let ok = match format {
        "byte" => base64::engine::general_purpose::STANDARD.decode(s).is_ok(),
        "date-time" | "datetime" => {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
        }
        "date" => {
            time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).is_ok()
        }
        "ipv4" => s.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => s.parse::<std::net::Ipv6Addr>().is_ok(),
        "cidr" => s.split_once('/').is_some_and(|(ip, bits)| {
            let max = if ip.parse::<std::net::Ipv4Addr>().is_ok() {
                32
            } else if ip.parse::<std::net::Ipv6Addr>().is_ok() {
                128
            } else {
                return false;
            };
            bits.parse::<u8>().is_ok_and(|b| b <= max)
        }),
        "uuid" => uuid(s),
        "quantity" => quantity(s),
        _ => true,
    };
    (!ok).then_some(match format {
        "byte" => "not base64",
        "date-time" | "datetime" => "not an RFC 3339 date-time",
        "date" => "not a YYYY-MM-DD date",
        "cidr" => "not an address/prefix-length",
        "quantity" => "not a quantity like 128Mi, 0.5 or 500m",
        _ => "malformed",
    })
}

/// A resource quantity as apimachinery parses it: a signed decimal number, then a binary
/// suffix (`Ki`…`Ei`), a decimal SI suffix (`n u m k M G T P E`) or an exponent (`e3`).
fn quantity(s: &str) -> bool {
    let end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || ((c == '+' || c == '-') && i == 0)))
        .map_or(s.len(), |(i, _)| i);
    let (num, suffix) = s.split_at(end);
    let digits = num.trim_start_matches(['+', '-']);
    let number = !digits.is_empty()
        && digits != "."
        && digits.matches('.').count() <= 1
        && digits.bytes().any(|b| b.is_ascii_digit());
    let exponent = |x: &str| {
        let x = x.trim_start_matches(['+', '-']);
        !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit())
    };
    number
        && (matches!(
            suffix,
            "" | "Ki"
                | "Mi"
                | "Gi"
                | "Ti"
                | "Pi"
                | "Ei"
                | "n"
                | "u"
                | "m"
                | "k"
                | "M"
                | "G"
                | "T"
                | "P"
                | "E"
        ) || suffix.strip_prefix(['e', 'E']).is_some_and(exponent))
}

fn uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Why a number is out of range for an `int32`/`int64` format, or `None`.
pub(crate) fn check_number(format: &str, v: &Value) -> Option<String> {
    let (lo, hi) = match format {
        "int32" => (i32::MIN as f64, i32::MAX as f64),
        "int64" => (i64::MIN as f64, i64::MAX as f64),
        _ => return None,
    };
    let x = v.as_f64()?;
    (x < lo || x > hi).then(|| format!("{v} does not fit in {format}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(check_string("byte", "YWJj"), None);
        assert!(check_string("byte", "%%%").is_some());
        assert_eq!(check_string("date-time", "2025-01-02T03:04:05Z"), None);
        assert!(check_string("date-time", "yesterday").is_some());
        assert_eq!(check_string("cidr", "10.0.0.0/8"), None);
        assert_eq!(check_string("cidr", "fd00::/64"), None);
        assert!(check_string("cidr", "10.0.0.0/33").is_some());
        assert!(check_string("ipv4", "10.0.0").is_some());
        assert_eq!(
            check_string("uuid", "6e7b2f2b-0000-4000-8000-000000000000"),
            None
        );
        assert!(check_string("uuid", "6e7b2f2b").is_some());
        assert_eq!(check_string("hostname", "anything"), None);
        for q in ["128Mi", "0.5", "500m", "1", "+1.5e3", "2E", ".5Gi", "1e-3"] {
            assert_eq!(check_string("quantity", q), None, "{q}");
        }
        for q in ["128Mb", "", "Mi", "1.2.3", "1 Gi", "5e", "."] {
            assert!(check_string("quantity", q).is_some(), "{q}");
        }
        assert!(check_number("int32", &Value::from(1u64 << 33)).is_some());
        assert_eq!(check_number("int64", &Value::from(1u64 << 33)), None);
    }
}
