//! Each keyword, positive and negative, on small CRDs and on built-in kinds.

use serde_json::{json, Value};

use super::*;

/// A CRD `Widget` (example.com, served v1 and v2, not-served v0) with `schema` as v1.
fn crd(schema: Value) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets"},
            "scope": "Namespaced",
            "versions": [
                {"name": "v0", "served": false, "storage": false,
                 "schema": {"openAPIV3Schema": {"type": "object"}}},
                {"name": "v1", "served": true, "storage": true,
                 "schema": {"openAPIV3Schema": {
                     "type": "object",
                     "properties": {
                         "apiVersion": {"type": "string"},
                         "kind": {"type": "string"},
                         "metadata": {"type": "object"},
                         "spec": schema
                     }
                 }}},
                {"name": "v2", "served": true, "storage": false}
            ]
        }
    })
}

fn widget(spec: Value) -> Value {
    json!({
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "ns"},
        "spec": spec
    })
}

/// Violations of `spec` against the spec `schema`, as `path: message`.
fn errors(schema: Value, spec: Value) -> Vec<String> {
    let mut c = Catalog::new();
    c.add_crd(&crd(schema), None);
    c.validate(&widget(spec), None, false)
        .into_iter()
        .map(|v| format!("{}: {}", v.path, v.message))
        .collect()
}

fn assert_one(errs: &[String], needle: &str) {
    assert!(
        errs.len() == 1 && errs[0].contains(needle),
        "expected one error containing {needle:?}, got {errs:#?}"
    );
}

#[test]
fn unknown_field_at_depth_is_an_error() {
    let s = json!({"type": "object", "properties": {
        "a": {"type": "object", "properties": {"b": {"type": "object", "properties": {"c": {"type": "string"}}}}}
    }});
    assert!(errors(s.clone(), json!({"a": {"b": {"c": "x"}}})).is_empty());
    let e = errors(s, json!({"a": {"b": {"c": "x", "d": 1}}}));
    assert_eq!(e, vec!["spec.a.b.d: unknown field \"d\"".to_string()]);
}

#[test]
fn object_without_properties_is_empty_unless_preserved() {
    let e = errors(
        json!({"type": "object", "properties": {"x": {"type": "object"}}}),
        json!({"x": {"y": 1}}),
    );
    assert_one(&e, "spec.x.y: unknown field");
    let s = json!({"type": "object", "properties": {"x": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
        "properties": {"n": {"type": "integer"}}}}});
    assert!(errors(
        s.clone(),
        json!({"x": {"y": {"deep": [1, {"z": 2}]}, "n": 3}})
    )
    .is_empty());
    // Declared fields of a preserving object are still checked.
    assert_one(
        &errors(s, json!({"x": {"n": "three"}})),
        "spec.x.n: must be of type integer, got string",
    );
}

#[test]
fn wrong_type() {
    let s = json!({"type": "object", "properties": {
        "i": {"type": "integer"}, "n": {"type": "number"}, "b": {"type": "boolean"},
        "s": {"type": "string"}, "l": {"type": "array", "items": {"type": "string"}}}});
    assert!(errors(
        s.clone(),
        json!({"i": 3, "n": 2.5, "b": true, "s": "x", "l": ["a"]})
    )
    .is_empty());
    assert!(
        errors(s.clone(), json!({"n": 2})).is_empty(),
        "an integer is a number"
    );
    assert_one(
        &errors(s.clone(), json!({"i": 2.5})),
        "spec.i: must be of type integer, got number",
    );
    assert_one(
        &errors(s.clone(), json!({"b": "true"})),
        "must be of type boolean, got string",
    );
    assert_one(
        &errors(s.clone(), json!({"s": 1.33})),
        "spec.s: must be of type string, got number",
    );
    assert_one(
        &errors(s, json!({"l": ["a", 1]})),
        "spec.l[1]: must be of type string, got integer",
    );
}

#[test]
fn missing_required() {
    let s = json!({"type": "object", "required": ["url"], "properties": {
        "url": {"type": "string"},
        "ref": {"type": "object", "required": ["branch"], "properties": {"branch": {"type": "string"}}}}});
    assert!(errors(s.clone(), json!({"url": "x"})).is_empty());
    assert_eq!(
        errors(s, json!({"ref": {}})),
        vec![
            "spec.ref.branch: Required value".to_string(),
            "spec.url: Required value".to_string()
        ]
    );
}

#[test]
fn nullable() {
    let s = json!({"type": "object", "properties": {
        "a": {"type": "string", "nullable": true}, "b": {"type": "string"}}});
    assert!(errors(s.clone(), json!({"a": null})).is_empty());
    assert_one(
        &errors(s, json!({"b": null})),
        "spec.b: must be of type string, got null",
    );
}

#[test]
fn int_or_string() {
    let s = json!({"type": "object", "properties": {"p": {
        "x-kubernetes-int-or-string": true,
        "anyOf": [{"type": "integer"}, {"type": "string"}]}}});
    assert!(errors(s.clone(), json!({"p": 8080})).is_empty());
    assert!(errors(s.clone(), json!({"p": "http"})).is_empty());
    let e = errors(s, json!({"p": true}));
    assert!(
        e[0].contains("must be of type integer or string, got boolean"),
        "{e:?}"
    );
}

#[test]
fn embedded_resource() {
    let s = json!({"type": "object", "properties": {"template": {
        "type": "object", "x-kubernetes-embedded-resource": true,
        "properties": {"spec": {"type": "object", "properties": {"replicas": {"type": "integer"}}}}}}});
    let ok = json!({"template": {"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "labels": {"a": "b"}}, "spec": {"replicas": 1}}});
    assert!(errors(s.clone(), ok).is_empty());
    // metadata is ObjectMeta: unknown fields and wrong types there are errors.
    let e = errors(
        s.clone(),
        json!({"template": {"metadata": {"labels": {"a": 1}, "bogus": 1}}}),
    );
    assert_eq!(
        e,
        vec![
            "spec.template.metadata.bogus: unknown field \"bogus\"".to_string(),
            "spec.template.metadata.labels.a: must be of type string, got integer".to_string()
        ]
    );
    assert_one(
        &errors(s.clone(), json!({"template": {"kind": 3}})),
        "spec.template.kind: must be of type string",
    );
    assert_one(
        &errors(s, json!({"template": {"spec": {"x": 1}}})),
        "spec.template.spec.x: unknown field",
    );
}

#[test]
fn list_map_and_set() {
    let s = json!({"type": "object", "properties": {
        "ports": {"type": "array", "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["port", "protocol"],
            "items": {"type": "object", "required": ["port"], "properties": {
                "port": {"type": "integer"}, "protocol": {"type": "string", "default": "TCP"}}}},
        "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}}});
    assert!(errors(
        s.clone(),
        json!({"ports": [{"port": 80}, {"port": 80, "protocol": "UDP"}], "tags": ["a", "b"]})
    )
    .is_empty());
    // A key left out takes its default: TCP twice.
    assert_one(
        &errors(
            s.clone(),
            json!({"ports": [{"port": 80}, {"port": 80, "protocol": "TCP"}]}),
        ),
        "spec.ports[1]: Duplicate value: {port=80, protocol=\"TCP\"}",
    );
    assert_one(
        &errors(s, json!({"tags": ["a", "a"]})),
        "spec.tags[1]: Duplicate value: \"a\"",
    );
}

#[test]
fn additional_properties_map() {
    let s = json!({"type": "object", "properties": {"m": {"type": "object",
        "additionalProperties": {"type": "object", "properties": {"v": {"type": "string"}}}}}});
    assert!(errors(s.clone(), json!({"m": {"any": {"v": "x"}, "other": {}}})).is_empty());
    assert_one(
        &errors(s, json!({"m": {"k": {"w": "x"}}})),
        "spec.m.k.w: unknown field",
    );
}

#[test]
fn enum_pattern_bounds_lengths_formats() {
    let s = json!({"type": "object", "properties": {
        "e": {"type": "string", "enum": ["a", "b"]},
        "p": {"type": "string", "pattern": "^[a-z]+$"},
        "n": {"type": "integer", "minimum": 1, "maximum": 10},
        "x": {"type": "number", "minimum": 0, "exclusiveMinimum": true},
        "s": {"type": "string", "minLength": 2, "maxLength": 3},
        "l": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "integer"}},
        "d": {"type": "string", "format": "date-time"},
        "i": {"type": "integer", "format": "int32"},
        "m": {"type": "integer", "multipleOf": 5}}});
    let ok = json!({"e": "a", "p": "abc", "n": 10, "x": 0.1, "s": "ab", "l": [1],
        "d": "2025-01-01T00:00:00Z", "i": 7, "m": 15});
    assert!(errors(s.clone(), ok).is_empty());
    for (spec, needle) in [
        (
            json!({"e": "c"}),
            "spec.e: unsupported value \"c\": supported values: \"a\", \"b\"",
        ),
        (
            json!({"p": "ABC"}),
            "spec.p: \"ABC\" does not match the pattern ^[a-z]+$",
        ),
        (json!({"n": 0}), "spec.n: should be >= 1"),
        (json!({"n": 11}), "spec.n: should be <= 10"),
        (json!({"x": 0}), "spec.x: should be > 0"),
        (json!({"s": "a"}), "spec.s: must be at least 2 chars long"),
        (json!({"s": "abcd"}), "spec.s: may not be more than 3"),
        (json!({"l": []}), "spec.l: must have at least 1 items"),
        (json!({"l": [1, 2, 3]}), "spec.l: must have at most 2 items"),
        (
            json!({"d": "tomorrow"}),
            "spec.d: \"tomorrow\" is not a valid date-time",
        ),
        (
            json!({"i": 4_000_000_000u64}),
            "spec.i: 4000000000 does not fit in int32",
        ),
        (json!({"m": 7}), "spec.m: must be a multiple of 5"),
    ] {
        assert_one(&errors(s.clone(), spec), needle);
    }
}

#[test]
fn value_validations_in_one_of_any_of_all_of_not() {
    // Branches constrain values but declare no fields: `b` is declared at the top.
    let s = json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
        "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
        "not": {"required": ["c"]}});
    assert!(errors(s.clone(), json!({"a": "x"})).is_empty());
    assert_one(
        &errors(s.clone(), json!({"a": "x", "b": "y"})),
        "must match exactly one schema in oneOf, matches 2",
    );
    assert_one(&errors(s, json!({})), "matches 0");
    let s = json!({"type": "object", "properties": {"v": {"type": "string",
        "anyOf": [{"pattern": "^a"}, {"pattern": "^b"}], "allOf": [{"maxLength": 3}]}}});
    assert!(errors(s.clone(), json!({"v": "bcd"})).is_empty());
    assert_one(
        &errors(s.clone(), json!({"v": "cde"})),
        "spec.v: must match at least one of the schemas in anyOf",
    );
    assert_one(
        &errors(s, json!({"v": "abcd"})),
        "spec.v: may not be more than 3",
    );
}

#[test]
fn root_frame_metadata_and_versions() {
    let mut c = Catalog::new();
    c.add_crd(&crd(json!({"type": "object"})), None);
    let ok = widget(json!({}));
    assert!(c.validate(&ok, None, false).is_empty());
    // The root may hold apiVersion/kind/metadata/spec; anything else is unknown.
    let mut o = ok.clone();
    o["extra"] = json!(1);
    o["metadata"]["labels"] = json!({"a": 1});
    let v = c.validate(&o, None, false);
    let got: Vec<String> = v
        .iter()
        .map(|v| format!("{}: {}", v.path, v.message))
        .collect();
    assert_eq!(
        got,
        vec![
            "extra: unknown field \"extra\"".to_string(),
            "metadata.labels.a: must be of type string, got integer".to_string()
        ]
    );
    assert_eq!(
        v[0].to_string(),
        "Widget ns/w: extra: unknown field \"extra\""
    );
    // A name is required.
    let mut o = ok.clone();
    o["metadata"] = json!({"namespace": "ns"});
    assert_eq!(c.validate(&o, None, false)[0].path, "metadata.name");
    // v0 is not served; v2 is served without a schema (anything goes).
    let mut o = ok.clone();
    o["apiVersion"] = json!("example.com/v0");
    let v = c.validate(&o, None, false);
    assert_eq!(v[0].violation, ViolationKind::UnservedVersion);
    assert!(v[0].message.contains("served: v1, v2"), "{}", v[0].message);
    o["apiVersion"] = json!("example.com/v2");
    o["spec"] = json!({"anything": [1]});
    assert!(c.validate(&o, None, false).is_empty());
    // A kind nobody installs.
    let mut o = ok;
    o["kind"] = json!("Gadget");
    let v = c.validate(&o, None, false);
    assert_eq!(v[0].violation, ViolationKind::UnknownKind);
    assert!(v[0]
        .message
        .contains("nothing in the repo or vendor/ installs it"));
}

#[test]
fn crds_are_scoped_to_their_owner() {
    let mut c = Catalog::new();
    c.add_crd(
        &crd(json!({"type": "object", "properties": {"a": {"type": "string"}}})),
        Some("one"),
    );
    c.add_crd(
        &crd(json!({"type": "object", "properties": {"b": {"type": "string"}}})),
        Some("two"),
    );
    let w = widget(json!({"a": "x"}));
    assert!(c.validate(&w, Some("one"), false).is_empty());
    assert_eq!(c.validate(&w, Some("two"), false)[0].path, "spec.a");
    assert_eq!(
        c.validate(&w, Some("three"), false)[0].violation,
        ViolationKind::UnknownKind
    );
    // A repo-wide CRD is seen by everyone, an installation's own first.
    c.add_crd(
        &crd(json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})),
        None,
    );
    assert!(c.validate(&w, Some("three"), false).is_empty());
    assert_eq!(c.validate(&w, Some("two"), false)[0].path, "spec.a");
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "dex", "namespace": "dex", "labels": {"app": "dex"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "dex"}},
            "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {"app": "dex"}},
                "spec": {"containers": [{
                    "name": "dex", "image": "ghcr.io/dexidp/dex:v2.41.1",
                    "ports": [{"containerPort": 5556, "name": "http"}],
                    "resources": {"limits": {"memory": "128Mi", "cpu": 0.5}}
                }]}
            }
        }
    })
}

#[test]
fn builtin_kinds_validate_strictly() {
    let c = Catalog::new();
    assert!(c.validate(&deployment(), None, false).is_empty());
    let mut d = deployment();
    d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = json!("http");
    d["spec"]["template"]["spec"]["containers"][0]["bogus"] = json!(true);
    d["spec"]["replicas"] = json!("1");
    d["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = json!([1]);
    d["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] =
        json!("128Mb");
    let v = c.validate(&d, None, false);
    let got: Vec<String> = v
        .iter()
        .map(|v| format!("{}: {}", v.path, v.message))
        .collect();
    assert_eq!(got.len(), 5, "{got:#?}");
    assert!(
        got[0].starts_with("spec.replicas: must be of type integer, got string"),
        "{got:#?}"
    );
    assert!(
        got[1]
            .starts_with("spec.strategy.rollingUpdate.maxSurge: must be of type string or integer"),
        "{got:#?}"
    );
    assert_eq!(
        got[2],
        "spec.template.spec.containers[0].bogus: unknown field \"bogus\""
    );
    assert_eq!(got[3], "spec.template.spec.containers[0].ports[0].containerPort: must be of type integer, got string");
    assert!(got[4].starts_with("spec.template.spec.containers[0].resources.limits.memory: \"128Mb\" is not a valid quantity"), "{got:#?}");
    assert_eq!(v[0].kind, "Deployment");
    assert_eq!(
        (v[0].namespace.as_deref(), v[0].name.as_str()),
        (Some("dex"), "dex")
    );
}

#[test]
fn builtin_free_form_fields_and_nulls() {
    let c = Catalog::new();
    // A CRD validated as a built-in kind: its schema is JSONSchemaProps (recursive), and
    // `default`/`example` are free-form JSON.
    let mut w = crd(json!({"type": "object", "default": {"any": ["thing"]},
        "properties": {"description": {"type": "string"}}}));
    assert!(
        c.validate(&w, None, false).is_empty(),
        "{:#?}",
        c.validate(&w, None, false)
    );
    w["spec"]["versions"][1]["schema"]["openAPIV3Schema"]["properties"]["spec"]["typo"] = json!(1);
    let v = c.validate(&w, None, false);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert_eq!(
        v[0].path,
        "spec.versions[1].schema.openAPIV3Schema.properties.spec.typo"
    );
    // Built-in fields accept null (the API server reads it as unset).
    let mut d = deployment();
    d["metadata"]["creationTimestamp"] = Value::Null;
    d["spec"]["template"]["metadata"]["creationTimestamp"] = Value::Null;
    assert!(c.validate(&d, None, false).is_empty());
}

#[test]
fn sops_encrypted_secret() {
    let c = Catalog::new();
    let s = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "x", "namespace": "default"}, "type": "Opaque",
        "data": {"tls.crt": "ENC[AES256_GCM,data:abc=,iv:x,tag:y,type:str]"},
        "sops": {"mac": "ENC[...]", "lastmodified": "2025-01-01T00:00:00Z", "version": "3.11.0"}});
    assert!(c.validate(&s, None, true).is_empty());
    // Without the sops flag, the sops key is unknown and the value is not base64.
    let v = c.validate(&s, None, false);
    let paths: Vec<&str> = v.iter().map(|v| v.path.as_str()).collect();
    assert_eq!(paths, vec!["data[tls.crt]", "sops"]);
    // Encryption does not hide structure errors.
    let mut bad = s.clone();
    bad["metadata"]["nmae"] = json!("x");
    assert_eq!(c.validate(&bad, None, true)[0].path, "metadata.nmae");
}

#[test]
fn unknown_builtin_version_is_unknown_kind() {
    let c = Catalog::new();
    let mut d = deployment();
    d["apiVersion"] = json!("extensions/v1beta1");
    assert_eq!(
        c.validate(&d, None, false)[0].violation,
        ViolationKind::UnknownKind
    );
}

#[test]
fn catalog_is_shared_between_threads() {
    fn is_sync<T: Sync + Send>() {}
    is_sync::<Catalog>();
}
