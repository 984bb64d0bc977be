//! Spec validation: every checked installation has an `installation.yaml` that is a valid
//! spec. Until the spec module is part of this build, "valid" means: it parses, and names
//! `apiVersion: mcb/v1alpha1` and `kind: Installation`.

use serde_json::Value;

use super::{Finding, RepoFile};

const RULE: &str = "spec-invalid";

/// Checks the spec of each installation in `names`.
pub fn check(files: &[RepoFile], names: &[String]) -> Vec<Finding> {
    let mut out = Vec::new();
    for n in names {
        let path = format!("installations/{n}/installation.yaml");
        let Some(f) = files.iter().find(|f| f.path == path) else {
            let f = RepoFile::new(path, Vec::new());
            out.push(Finding::error(
                &f,
                None,
                RULE,
                "the installation has no spec: restore installation.yaml from git, or remove the directory",
            ));
            continue;
        };
        if let Err((line, msg)) = validate(f.text()) {
            out.push(Finding::error(f, line, RULE, format!("{msg}; `mcb schema` prints every field")));
        }
    }
    out
}

fn validate(text: &str) -> Result<(), (Option<usize>, String)> {
    let doc: Value = serde_saphyr::from_str(text).map_err(|e| {
        (
            e.location().map(|l| l.line() as usize),
            e.without_snippet().to_string().lines().next().unwrap_or("").to_owned(),
        )
    })?;
    let field = |k: &str| doc.get(k).and_then(Value::as_str);
    let line_of = |k: &str| text.lines().position(|l| l.starts_with(&format!("{k}:"))).map(|i| i + 1);
    for (k, want) in [("apiVersion", "mcb/v1alpha1"), ("kind", "Installation")] {
        if field(k) != Some(want) {
            return Err((line_of(k), format!("`{k}` must be `{want}`")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_rules() {
        assert!(validate("apiVersion: mcb/v1alpha1\nkind: Installation\nname: a\n").is_ok());
        assert_eq!(validate("apiVersion: v1\nkind: Installation\n").unwrap_err().0, Some(1));
        assert!(validate("a: [\n").is_err());
        let none = check(&[], &["a".into()]);
        assert_eq!(none[0].file, "installations/a/installation.yaml");
    }
}
