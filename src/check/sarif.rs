//! A [`Report`] as SARIF 2.1.0 for code-scanning upload: the minimal valid log (one run,
//! the rule table, one result per finding with its file and line). Deterministic.

use serde_json::{json, Value};

use super::{Report, Rule, Severity};

/// The schema URI SARIF consumers expect.
pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The SARIF log for `report`.
pub fn to_sarif(report: &Report) -> Value {
    let rules: Vec<Value> = Rule::ALL
        .iter()
        .map(|r| json!({ "id": r.id(), "shortDescription": { "text": r.description() } }))
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut r = json!({
                "ruleId": f.rule.id(),
                "ruleIndex": Rule::ALL.iter().position(|r| *r == f.rule).unwrap_or(0),
                "level": match f.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "message": { "text": f.message },
            });
            if !f.file.is_empty() {
                let mut loc = json!({ "artifactLocation": { "uri": f.file } });
                if let Some(l) = f.line {
                    loc["region"] = json!({ "startLine": l });
                }
                r["locations"] = json!([{ "physicalLocation": loc }]);
            }
            r
        })
        .collect();
    json!({
        "version": "2.1.0",
        "$schema": SCHEMA,
        "runs": [{
            "tool": { "driver": {
                "name": "mcb",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{Finding, RepoFile};

    #[test]
    fn sarif_has_required_shape() {
        let f = RepoFile::new("installations/a/x.yaml", Vec::new());
        let report = Report {
            findings: vec![
                Finding::error(&f, Some(3), Rule::PlaintextSecret, "m"),
                Finding::warning(
                    &RepoFile::new("", Vec::new()),
                    None,
                    Rule::KustomizeBuild,
                    "w",
                ),
            ],
            ..Report::default()
        };
        let s = to_sarif(&report);
        assert_eq!(s["version"], "2.1.0");
        let run = &s["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "mcb");
        let r0 = &run["results"][0];
        assert_eq!(r0["ruleId"], "plaintext-secret");
        assert_eq!(r0["level"], "error");
        assert_eq!(
            r0["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "installations/a/x.yaml"
        );
        assert_eq!(
            r0["locations"][0]["physicalLocation"]["region"]["startLine"],
            3
        );
        let idx = r0["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(
            run["tool"]["driver"]["rules"][idx]["id"],
            "plaintext-secret"
        );
        assert!(run["results"][1].get("locations").is_none());
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            serde_json::to_string(&to_sarif(&report)).unwrap()
        );
    }
}
