//! The test helper `assert_schema_valid` itself: it must fail on a broken manifest, or the
//! render tests that rely on it prove nothing.

use crate::support::{assert_schema_valid, TestEnv};

#[test]
#[should_panic(expected = "spec.template.spec.containers[0].imagePullPolicyy: unknown field")]
fn assert_schema_valid_fails_on_an_unknown_field() {
    let t = TestEnv::new();
    let f = t.path().join("d.yaml");
    std::fs::write(
        &f,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  selector: {}\n  template:\n    spec:\n      containers:\n      - name: c\n        imagePullPolicyy: Always\n",
    )
    .unwrap();
    assert_schema_valid(&[&f]);
}

#[test]
fn assert_schema_valid_reads_directories_and_their_crds() {
    let t = TestEnv::new();
    let d = t.path().join("m");
    std::fs::create_dir_all(d.join("sub")).unwrap();
    std::fs::write(
        d.join("crd.yaml"),
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: ws.example.com\nspec:\n  group: example.com\n  names: {kind: W, plural: ws}\n  scope: Cluster\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("sub/w.yaml"),
        "apiVersion: example.com/v1\nkind: W\nmetadata:\n  name: w\nspec: {a: 1}\n---\napiVersion: example.com/v1\nkind: Nope\nmetadata:\n  name: n\n---\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n",
    )
    .unwrap();
    let v = assert_schema_valid(&[&d]);
    assert_eq!(v.count("W"), 1);
    assert_eq!(v.count("CustomResourceDefinition"), 1);
    assert_eq!(v.unknown_kinds, vec!["example.com/v1 Nope".to_string()]);
}
