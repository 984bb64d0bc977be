//! sops' tree paths (`["data"]["x"]`, `["list"][0]`) for `--extract`, `set` and `unset`.

use super::tree::{Branch, Item, Value};

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `["key"]`
    Key(String),
    /// `[0]`
    Index(usize),
}

/// Parses `["a"][0]['b']`; `Err` says what is wrong.
pub fn parse(path: &str) -> Result<Vec<Step>, String> {
    let mut out = Vec::new();
    let mut rest = path.trim();
    while !rest.is_empty() {
        let r = rest
            .strip_prefix('[')
            .ok_or("each step must start with `[`")?;
        if let Some(q @ ('"' | '\'')) = r.chars().next() {
            let body = &r[1..];
            let end = body.find(q).ok_or("unterminated quoted key")?;
            out.push(Step::Key(body[..end].to_owned()));
            rest = body[end + 1..]
                .strip_prefix(']')
                .ok_or("expected `]` after a quoted key")?;
        } else {
            let end = r.find(']').ok_or("expected `]`")?;
            let n = r[..end]
                .trim()
                .parse()
                .map_err(|_| "a step is neither a quoted key nor a list index")?;
            out.push(Step::Index(n));
            rest = &r[end + 1..];
        }
    }
    if out.is_empty() {
        return Err("the path is empty".into());
    }
    Ok(out)
}

/// The value at `path` in a document.
pub fn get<'a>(doc: &'a Branch, path: &[Step]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let Step::Key(k) = first else { return None };
    let mut v = doc.get(k)?;
    for s in rest {
        v = match (s, v) {
            (Step::Key(k), Value::Map(b)) => b.get(k)?,
            (Step::Index(i), Value::List(l)) => l.get(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

/// Sets the value at `path`, creating maps on the way (sops `set`); a list index may be at
/// most the list's length (append).
pub fn set(doc: &mut Branch, path: &[Step], value: Value) -> Result<(), String> {
    let (first, rest) = path.split_first().ok_or("the path is empty")?;
    let Step::Key(k) = first else {
        return Err("the top level is a map: start with a key".into());
    };
    if doc.get(k).is_none() {
        doc.0.push(Item::Entry(k.clone(), Value::Null));
    }
    set_in(doc.get_mut(k).expect("present"), rest, value)
}

fn set_in(slot: &mut Value, path: &[Step], value: Value) -> Result<(), String> {
    let Some((first, rest)) = path.split_first() else {
        *slot = value;
        return Ok(());
    };
    match first {
        Step::Key(k) => {
            if !matches!(slot, Value::Map(_)) {
                *slot = Value::Map(Branch::default());
            }
            let Value::Map(b) = slot else { unreachable!() };
            if b.get(k).is_none() {
                b.0.push(Item::Entry(k.clone(), Value::Null));
            }
            set_in(b.get_mut(k).expect("present"), rest, value)
        }
        Step::Index(i) => {
            let Value::List(l) = slot else {
                return Err(format!("index [{i}] on a value that is not a list"));
            };
            if *i == l.len() {
                l.push(Value::Null);
            }
            let item = l
                .get_mut(*i)
                .ok_or(format!("index [{i}] is past the end of the list"))?;
            set_in(item, rest, value)
        }
    }
}

/// Removes the value at `path` (sops `unset`); `Err` if it does not exist.
pub fn unset(doc: &mut Branch, path: &[Step]) -> Result<(), String> {
    let missing = || "no value at this path".to_owned();
    let (last, parents) = path.split_last().ok_or("the path is empty")?;
    if parents.is_empty() {
        let Step::Key(k) = last else {
            return Err(missing());
        };
        return doc.remove(k).map(|_| ()).ok_or_else(missing);
    }
    let mut v = match &parents[0] {
        Step::Key(k) => doc.get_mut(k).ok_or_else(missing)?,
        Step::Index(_) => return Err(missing()),
    };
    for s in &parents[1..] {
        v = match (s, v) {
            (Step::Key(k), Value::Map(b)) => b.get_mut(k).ok_or_else(missing)?,
            (Step::Index(i), Value::List(l)) => l.get_mut(*i).ok_or_else(missing)?,
            _ => return Err(missing()),
        };
    }
    match (last, v) {
        (Step::Key(k), Value::Map(b)) => b.remove(k).map(|_| ()).ok_or_else(missing),
        (Step::Index(i), Value::List(l)) if *i < l.len() => {
            l.remove(*i);
            Ok(())
        }
        _ => Err(missing()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_get_set_unset() {
        let p = parse(r#"["a"]['b'][0]"#).unwrap();
        assert_eq!(
            p,
            [Step::Key("a".into()), Step::Key("b".into()), Step::Index(0)]
        );
        assert!(parse("a").is_err());
        assert!(parse(r#"["a""#).is_err());
        let mut d = Branch::default();
        set(
            &mut d,
            &parse(r#"["a"]["b"]"#).unwrap(),
            Value::List(vec![]),
        )
        .unwrap();
        set(&mut d, &p, Value::Int(1)).unwrap();
        assert_eq!(get(&d, &p), Some(&Value::Int(1)));
        unset(&mut d, &p).unwrap();
        assert_eq!(get(&d, &p), None);
        assert!(unset(&mut d, &p).is_err());
    }
}
