//! The validating walk over a value and a compiled [`Arena`], with the API server's
//! `fieldValidation=Strict` semantics: an undeclared field is an error unless the schema
//! preserves unknown fields; CEL rules (`x-kubernetes-validations`) are not evaluated.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::compile::{ty, Arena, Extra, Id, ListType, Node};
use super::format;

/// One problem at a path inside the object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    /// Field path like the API server writes it: `spec.containers[0].image`,
    /// `metadata.labels[app.kubernetes.io/name]`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Walk settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Walk {
    /// A SOPS-encrypted document: an `ENC[…]` string stands for any scalar, unchecked.
    pub sops: bool,
}

struct Ctx<'a> {
    arena: &'a Arena,
    walk: Walk,
    out: Vec<Problem>,
}

/// Checks `value` against node `id`; `structural` is false inside `allOf`/`anyOf`/`oneOf`/
/// `not`, which constrain values but do not declare fields.
pub(crate) fn check(arena: &Arena, id: Id, value: &Value, path: &str, walk: Walk) -> Vec<Problem> {
    let mut c = Ctx {
        arena,
        walk,
        out: Vec::new(),
    };
    c.value(id, value, path, true);
    c.out
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else if key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
    {
        format!("{path}.{key}")
    } else {
        format!("{path}[{key}]")
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if is_integer(v) || n.is_i64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn is_integer(v: &Value) -> bool {
    match v {
        Value::Number(n) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

fn expected(types: u8) -> String {
    let names = [
        (ty::OBJECT, "object"),
        (ty::ARRAY, "array"),
        (ty::STRING, "string"),
        (ty::NUMBER, "number"),
        (ty::INTEGER, "integer"),
        (ty::BOOLEAN, "boolean"),
    ];
    let mut out: Vec<&str> = Vec::new();
    for (bit, name) in names {
        if types & bit != 0 && !(bit == ty::INTEGER && types & ty::NUMBER != 0) {
            out.push(name);
        }
    }
    out.join(" or ")
}

fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(57).map_or(s.len(), |(i, _)| i)]
        )
    } else {
        s
    }
}

impl Ctx<'_> {
    fn problem(&mut self, path: &str, message: String) {
        self.out.push(Problem {
            path: path.to_owned(),
            message,
        });
    }

    fn value(&mut self, id: Id, v: &Value, path: &str, structural: bool) {
        let arena = self.arena;
        let n = &arena.nodes[id];
        if v.is_null() {
            if !n.nullable && n.types != 0 {
                self.problem(
                    path,
                    format!(
                        "must be of type {}, got null (not nullable: the API server drops it)",
                        expected(n.types)
                    ),
                );
            }
            return;
        }
        if self.walk.sops && v.as_str().is_some_and(|s| s.starts_with("ENC[")) {
            return;
        }
        if !self.type_ok(n, v) {
            let want = if n.int_or_string {
                "integer or string".to_owned()
            } else {
                expected(n.types)
            };
            self.problem(
                path,
                format!("must be of type {want}, got {}", type_name(v)),
            );
            return;
        }
        if !n.enumeration.is_empty() && !n.enumeration.contains(v) {
            let supported: Vec<String> = n.enumeration.iter().map(show).collect();
            self.problem(
                path,
                format!(
                    "unsupported value {}: supported values: {}",
                    show(v),
                    supported.join(", ")
                ),
            );
        }
        match v {
            Value::Object(m) => self.object(n, m, path, structural),
            Value::Array(a) => self.array(n, a, path, structural),
            Value::String(s) => self.string(n, s, path),
            Value::Number(_) => self.number(n, v, path),
            _ => {}
        }
        for &b in &n.all_of {
            self.value(b, v, path, false);
        }
        if !n.any_of.is_empty() && !n.any_of.iter().any(|&b| self.passes(b, v, path)) {
            self.problem(
                path,
                "must match at least one of the schemas in anyOf".into(),
            );
        }
        if !n.one_of.is_empty() {
            let matching = n
                .one_of
                .iter()
                .filter(|&&b| self.passes(b, v, path))
                .count();
            if matching != 1 {
                self.problem(
                    path,
                    format!("must match exactly one schema in oneOf, matches {matching}"),
                );
            }
        }
        if let Some(b) = n.not {
            if self.passes(b, v, path) {
                self.problem(path, "must not match the schema in not".into());
            }
        }
    }

    /// Whether `v` satisfies node `b` as a value validation (no field declarations).
    fn passes(&self, b: Id, v: &Value, path: &str) -> bool {
        let mut c = Ctx {
            arena: self.arena,
            walk: self.walk,
            out: Vec::new(),
        };
        c.value(b, v, path, false);
        c.out.is_empty()
    }

    fn type_ok(&self, n: &Node, v: &Value) -> bool {
        if n.int_or_string {
            return v.is_string() || is_integer(v);
        }
        if n.types == 0 {
            return true;
        }
        let bit = match v {
            Value::Object(_) => ty::OBJECT,
            Value::Array(_) => ty::ARRAY,
            Value::String(_) => ty::STRING,
            Value::Bool(_) => ty::BOOLEAN,
            Value::Number(_) if is_integer(v) => ty::INTEGER,
            Value::Number(_) => ty::NUMBER,
            Value::Null => return true,
        };
        n.types & bit != 0
    }

    fn object(&mut self, n: &Node, m: &Map<String, Value>, path: &str, structural: bool) {
        for r in &n.required {
            if !m.contains_key(r) {
                self.problem(&join(path, r), "Required value".into());
            }
        }
        if let Some(min) = n.min_properties {
            if (m.len() as u64) < min {
                self.problem(path, format!("must have at least {min} properties"));
            }
        }
        if let Some(max) = n.max_properties {
            if m.len() as u64 > max {
                self.problem(path, format!("must have at most {max} properties"));
            }
        }
        for (k, v) in m {
            let p = join(path, k);
            if let Some(id) = n.property(k) {
                self.value(id, v, &p, structural);
                continue;
            }
            if n.embedded && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                self.embedded_frame(k, v, &p);
                continue;
            }
            match n.extra {
                Extra::Schema(id) => self.value(id, v, &p, structural),
                Extra::Open => {}
                Extra::Closed if !structural || n.preserve_unknown => {}
                Extra::Closed => self.problem(&p, format!("unknown field \"{k}\"")),
            }
        }
    }

    /// `apiVersion`, `kind` and `metadata` of an embedded resource (not declared by the
    /// schema, always allowed, `metadata` checked as ObjectMeta).
    fn embedded_frame(&mut self, k: &str, v: &Value, p: &str) {
        match (k, v) {
            ("metadata", _) => {
                if let Some(meta) = self.arena.object_meta {
                    self.value(meta, v, p, true);
                }
            }
            (_, Value::String(_)) => {}
            _ => self.problem(p, format!("must be of type string, got {}", type_name(v))),
        }
    }

    fn array(&mut self, n: &Node, a: &[Value], path: &str, structural: bool) {
        if let Some(min) = n.min_items {
            if (a.len() as u64) < min {
                self.problem(path, format!("must have at least {min} items"));
            }
        }
        if let Some(max) = n.max_items {
            if a.len() as u64 > max {
                self.problem(path, format!("must have at most {max} items"));
            }
        }
        if let Some(items) = n.items {
            for (i, v) in a.iter().enumerate() {
                self.value(items, v, &format!("{path}[{i}]"), structural);
            }
        }
        let unique = n.unique_items || n.list_type == ListType::Set;
        if unique {
            let mut seen = HashSet::new();
            for (i, v) in a.iter().enumerate() {
                if !seen.insert(v.to_string()) {
                    self.problem(
                        &format!("{path}[{i}]"),
                        format!("Duplicate value: {}", show(v)),
                    );
                }
            }
        }
        if let ListType::Map(keys) = &n.list_type {
            let arena = self.arena;
            let item = n.items.map(|i| &arena.nodes[i]);
            let mut seen = HashSet::new();
            for (i, v) in a.iter().enumerate() {
                let key: Vec<Value> = keys
                    .iter()
                    .map(|k| {
                        v.get(k).cloned().unwrap_or_else(|| {
                            item.and_then(|it| it.property(k))
                                .and_then(|id| arena.nodes[id].default.clone())
                                .unwrap_or(Value::Null)
                        })
                    })
                    .collect();
                let shown: Vec<String> = keys
                    .iter()
                    .zip(&key)
                    .map(|(k, v)| format!("{k}={}", show(v)))
                    .collect();
                if !seen.insert(Value::Array(key).to_string()) {
                    self.problem(
                        &format!("{path}[{i}]"),
                        format!("Duplicate value: {{{}}}", shown.join(", ")),
                    );
                }
            }
        }
    }

    fn string(&mut self, n: &Node, s: &str, path: &str) {
        let len = s.chars().count() as u64;
        if let Some(min) = n.min_length {
            if len < min {
                self.problem(path, format!("must be at least {min} chars long"));
            }
        }
        if let Some(max) = n.max_length {
            if len > max {
                self.problem(path, format!("may not be more than {max} bytes"));
            }
        }
        if let Some(re) = &n.pattern {
            if !re.is_match(s) {
                self.problem(
                    path,
                    format!(
                        "{} does not match the pattern {}",
                        show(&Value::String(s.into())),
                        re.as_str()
                    ),
                );
            }
        }
        if let Some(f) = &n.format {
            if let Some(why) = format::check_string(f, s) {
                self.problem(
                    path,
                    format!(
                        "{} is not a valid {f}: {why}",
                        show(&Value::String(s.into()))
                    ),
                );
            }
        }
    }

    fn number(&mut self, n: &Node, v: &Value, path: &str) {
        let Some(x) = v.as_f64() else { return };
        if let Some((min, excl)) = n.minimum {
            if x < min || (excl && x == min) {
                let op = if excl { ">" } else { ">=" };
                self.problem(path, format!("should be {op} {min}"));
            }
        }
        if let Some((max, excl)) = n.maximum {
            if x > max || (excl && x == max) {
                let op = if excl { "<" } else { "<=" };
                self.problem(path, format!("should be {op} {max}"));
            }
        }
        if let Some(m) = n.multiple_of {
            if m != 0.0 && (x / m).fract() != 0.0 {
                self.problem(path, format!("must be a multiple of {m}"));
            }
        }
        if let Some(f) = &n.format {
            if let Some(why) = format::check_number(f, v) {
                self.problem(path, why);
            }
        }
    }
}
