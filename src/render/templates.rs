//! The template set: the built-in templates (embedded from `templates/` at build time)
//! with the config repo's overrides laid over them by path, compiled once into tera.

use std::collections::{BTreeMap, BTreeSet};

use super::secret::{Calls, Rendered};
use super::Error;

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/templates.rs"));
}

/// Compiled templates, ready to render any number of installations.
pub struct Templates {
    tera: tera::Tera,
    names: BTreeSet<String>,
    calls: Calls,
    // One render at a time: `calls` belongs to the template being rendered.
    busy: std::sync::Mutex<()>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("names", &self.names)
            .finish()
    }
}

impl Templates {
    /// The built-in templates only.
    pub fn builtin() -> Result<Self, Error> {
        Self::with_overrides(BTreeMap::new())
    }

    /// The built-in templates, each replaced by the override with the same path (relative
    /// to `templates/`, `/`-separated); overrides with new paths are added.
    pub fn with_overrides(overrides: BTreeMap<String, String>) -> Result<Self, Error> {
        let mut all: BTreeMap<String, String> = builtin::BUILTIN
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect();
        all.extend(overrides);
        let calls = Calls::default();
        let mut tera = tera::Tera::new();
        tera.autoescape_on(Vec::<&str>::new());
        // Functions and filters must be registered before templates are added (tera 2).
        let recorder = calls.clone();
        tera.register_function(
            "secret",
            move |kw: tera::Kwargs, _: &tera::State| -> tera::TeraResult<String> {
                let name = kw.must_get::<&str>("name")?;
                let key = kw.must_get::<&str>("key")?;
                Ok(recorder.record(name, key))
            },
        );
        // `{{ x | json }}`: any value as a JSON (hence YAML flow) scalar or collection.
        tera.register_filter(
            "json",
            |v: tera::Value, _: tera::Kwargs, _: &tera::State| -> tera::TeraResult<String> {
                let v = serde_json::to_value(&v).map_err(tera::Error::message)?;
                serde_json::to_string(&sorted(v)).map_err(tera::Error::message)
            },
        );
        for (name, content) in &all {
            if !is_template(name) {
                continue;
            }
            tera.add_raw_template(name, content)
                .map_err(|e| Error::Syntax {
                    template: name.clone(),
                    message: report(&e),
                })?;
        }
        let names = all.into_keys().filter(|n| is_template(n)).collect();
        Ok(Templates {
            tera,
            names,
            calls,
            busy: std::sync::Mutex::new(()),
        })
    }

    /// Template names in path order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// Whether a template with this path exists.
    pub fn contains(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    /// Renders one template; the error is tera's report.
    pub(crate) fn render(&self, name: &str, ctx: &serde_json::Value) -> Result<Rendered, String> {
        let ctx = tera::Context::from_serialize(ctx).map_err(|e| report(&e))?;
        let _one = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        self.calls.reset();
        let text = self.tera.render(name, &ctx).map_err(|e| report(&e))?;
        Ok(Rendered {
            text,
            calls: self.calls.take(),
        })
    }
}

/// Only YAML files in a subdirectory are templates; README files and the top-level example
/// spec are data.
fn is_template(name: &str) -> bool {
    name.contains('/') && (name.ends_with(".yaml") || name.ends_with(".yml"))
}

/// `v` with every object's keys in order: tera's maps do not keep an order, and output
/// must be the same bytes every run.
fn sorted(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            let m: std::collections::BTreeMap<String, serde_json::Value> =
                m.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            serde_json::Value::Object(m.into_iter().collect())
        }
        serde_json::Value::Array(a) => {
            serde_json::Value::Array(a.into_iter().map(sorted).collect())
        }
        v => v,
    }
}

/// tera's message with its causes.
fn report(e: &tera::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        s.push_str(&format!(": {c}"));
        src = c.source();
    }
    s
}
