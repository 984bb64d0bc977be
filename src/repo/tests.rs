use super::*;

#[test]
fn layout_and_listing() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    for n in ["b", "a"] {
        std::fs::create_dir_all(r.join(secrets_dir(n))).unwrap();
        std::fs::write(r.join(spec_path(n)), "x").unwrap();
    }
    std::fs::create_dir_all(r.join("installations/not-one")).unwrap();
    std::fs::write(r.join(secrets_dir("a")).join("z.sops.yaml"), "x").unwrap();
    std::fs::write(r.join(secrets_dir("a")).join("a.sops.yaml"), "x").unwrap();
    std::fs::write(r.join(secrets_dir("a")).join("kustomization.yaml"), "x").unwrap();
    assert_eq!(list_installations(r).unwrap(), vec!["a", "b"]);
    assert_eq!(
        secret_files(r, "a").unwrap(),
        vec!["a.sops.yaml", "z.sops.yaml"]
    );
    assert!(check_installations(r, &["a".into()]).is_ok());
    let e = check_installations(r, &["c".into()]).unwrap_err();
    assert!(
        e.to_string().contains("installations/c/installation.yaml"),
        "{e}"
    );
    std::fs::create_dir_all(r.join("templates/manifests")).unwrap();
    std::fs::write(r.join("templates/manifests/x.yaml"), "t").unwrap();
    assert_eq!(
        read_templates(r).unwrap().into_iter().collect::<Vec<_>>(),
        vec![("manifests/x.yaml".to_string(), "t".to_string())]
    );
    assert!(list_installations(&r.join("nope")).unwrap().is_empty());
}
