//! Finds the line of a YAML path (`oidc.staticClients[1].id`) in a spec's source, so
//! checks that run after parsing can still point at file:line.

use granit_parser::{Event, Parser};

/// A container being read: the path segment leading to it, and where it is.
enum Frame {
    Map { seg: String, key: Option<String> },
    Seq { seg: String, next: usize },
}

impl Frame {
    fn seg(&self) -> &str {
        match self {
            Frame::Map { seg, .. } | Frame::Seq { seg, .. } => seg,
        }
    }
}

/// `a.b[1].c` -> `["a", "b", "[1]", "c"]`.
fn segments(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (name, idx) = part.split_at(part.find('[').unwrap_or(part.len()));
        if !name.is_empty() {
            out.push(name.to_string());
        }
        out.extend(idx.split_inclusive(']').map(str::to_string));
    }
    out
}

/// The 1-based line of the node at `path` (of its key, for a mapping entry), if found.
pub(crate) fn line_of(src: &str, path: &str) -> Option<u64> {
    let want = segments(path);
    let mut stack: Vec<Frame> = Vec::new();
    for ev in Parser::new_from_str(src) {
        let (ev, span) = ev.ok()?;
        let line = span.start.line() as u64;
        let here = |stack: &[Frame], last: &str| {
            stack
                .iter()
                .skip(1)
                .map(Frame::seg)
                .chain([last])
                .eq(want.iter().map(String::as_str))
        };
        let starts = match &ev {
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                continue;
            }
            Event::Scalar(..)
            | Event::Alias(_)
            | Event::MappingStart(..)
            | Event::SequenceStart(..) => true,
            _ => false,
        };
        if !starts {
            continue;
        }
        // A scalar in key position names the next value.
        if let Some(Frame::Map {
            key: key @ None, ..
        }) = stack.last_mut()
        {
            if let Event::Scalar(k, ..) = &ev {
                *key = Some(k.to_string());
                let k = k.to_string();
                if here(&stack, &k) {
                    return Some(line);
                }
            }
            continue;
        }
        let seg = match stack.last_mut() {
            Some(Frame::Map { key, .. }) => key.take().unwrap_or_default(),
            Some(Frame::Seq { next, .. }) => {
                *next += 1;
                format!("[{}]", *next - 1)
            }
            None => String::new(),
        };
        if !stack.is_empty() && here(&stack, &seg) {
            return Some(line);
        }
        match ev {
            Event::MappingStart(..) => stack.push(Frame::Map { seg, key: None }),
            Event::SequenceStart(..) => stack.push(Frame::Seq { seg, next: 0 }),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_and_items() {
        let src = "a: 1\nb:\n  c:\n    - x\n    - id: y\n      z: 2\nd: {e: 3}\n";
        assert_eq!(line_of(src, "a"), Some(1));
        assert_eq!(line_of(src, "b.c"), Some(3));
        assert_eq!(line_of(src, "b.c[0]"), Some(4));
        assert_eq!(line_of(src, "b.c[1].id"), Some(5));
        assert_eq!(line_of(src, "b.c[1].z"), Some(6));
        assert_eq!(line_of(src, "d.e"), Some(7));
        assert_eq!(line_of(src, "b.c[2]"), None);
        assert_eq!(line_of(src, "nope"), None);
    }
}
