use super::*;
use secrecy::ExposeSecret;

/// Seals by prefixing; keeps `existing` when it already seals the same plaintext.
pub struct FakeSealer;
impl Sealer for FakeSealer {
    fn seal(
        &self,
        _: &str,
        plain: &SecretBox<Vec<u8>>,
        existing: Option<&[u8]>,
    ) -> Result<Vec<u8>, SealError> {
        let sealed = [b"SEALED:".as_slice(), plain.expose_secret()].concat();
        Ok(match existing {
            Some(e) if e == sealed.as_slice() => e.to_vec(),
            _ => sealed,
        })
    }
}

fn setup() -> (tempfile::TempDir, FileSet) {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("m/sub")).unwrap();
    std::fs::write(d.path().join("m/keep.yaml"), "a: 1\n").unwrap();
    std::fs::write(d.path().join("m/change.yaml"), "b: 1\n").unwrap();
    std::fs::write(d.path().join("m/sub/gone.yaml"), "c: 1\n").unwrap();
    std::fs::write(d.path().join("outside.yaml"), "x\n").unwrap();
    let mut fs = FileSet::new();
    fs.plain("m/keep.yaml", "a: 1\n");
    fs.plain("m/change.yaml", "b: 2\n");
    fs.plain("m/new/added.yaml", "d: 1\n");
    fs.secret("s/x.sops.yaml", b"password: hunter2\n".to_vec());
    (d, fs)
}

/// Every file (with its content) and every directory, empty ones included.
fn snapshot(root: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, d: &Path, v: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                v.push((rel_path(root, &p) + "/", Vec::new()));
                walk(root, &p, v);
            } else {
                v.push((rel_path(root, &p), std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut v = Vec::new();
    walk(root, root, &mut v);
    v.sort();
    v
}

#[test]
fn plan_classifies_and_diffs_without_secret_text() {
    let (d, fs) = setup();
    let p = plan(d.path(), &fs, &["m/".into()], &FakeSealer).unwrap();
    let kinds: Vec<_> = p
        .entries()
        .iter()
        .map(|e| (e.path.as_str(), e.change))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("m/change.yaml", Change::Changed),
            ("m/keep.yaml", Change::Unchanged),
            ("m/new/added.yaml", Change::Added),
            ("m/sub/gone.yaml", Change::Removed),
            ("s/x.sops.yaml", Change::Added),
        ]
    );
    let diff = p.diff();
    assert!(
        diff.contains("--- a/m/change.yaml\n+++ b/m/change.yaml\n"),
        "{diff}"
    );
    assert!(diff.contains("-b: 1\n+b: 2\n"), "{diff}");
    assert!(diff.contains("s/x.sops.yaml: encrypted, added"), "{diff}");
    assert!(!diff.contains("hunter2"), "{diff}");
}

#[test]
fn apply_writes_then_second_plan_is_clean() {
    let (d, fs) = setup();
    let p = plan(d.path(), &fs, &["m/".into()], &FakeSealer).unwrap();
    assert_eq!(p.apply().unwrap(), 4);
    assert_eq!(
        std::fs::read_to_string(d.path().join("m/change.yaml")).unwrap(),
        "b: 2\n"
    );
    assert!(!d.path().join("m/sub").exists(), "emptied dir removed");
    assert!(
        d.path().join("outside.yaml").exists(),
        "outside owned paths untouched"
    );
    let again = plan(d.path(), &fs, &["m/".into()], &FakeSealer).unwrap();
    assert!(again.is_clean(), "{}", again.diff());
    // no temp or backup files left
    assert!(snapshot(d.path()).iter().all(|(p, _)| !p.contains(".mcb-")));
}

#[test]
fn failure_half_way_leaves_repo_as_it_was() {
    for fail_at in 0..4 {
        let (d, fs) = setup();
        let before = snapshot(d.path());
        let p = plan(d.path(), &fs, &["m/".into()], &FakeSealer).unwrap();
        let err = p
            .apply_with(&mut |i| {
                if i == fail_at {
                    Err(io::Error::other("injected"))
                } else {
                    Ok(())
                }
            })
            .unwrap_err();
        assert!(err.to_string().contains("injected"), "{err}");
        assert_eq!(snapshot(d.path()), before, "fail at step {fail_at}");
    }
}
