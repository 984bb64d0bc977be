//! Tests of the facade: round trips per format, no-noise re-encryption, key rotation, bad
//! input never panicking.

use proptest::prelude::*;
use secrecy::ExposeSecret;

use super::*;
use crate::open::{open_streaming, open_whole};

/// The first line containing `needle` (to compare one value's ciphertext).
fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(needle))
        .expect("line present")
}

fn env(seed: u64) -> effects::Seeded {
    effects::Seeded::new(seed, time::macros::datetime!(2026-11-25 12:00 UTC))
}

fn key_and_ids(seed: u64) -> (AgeKey, Identities) {
    let k = generate_age_key(&env(seed));
    let ids = Identities::from_text(&k.identity).unwrap();
    (k, ids)
}

const JSON: &str = "{\n\t\"a\": \"x\",\n\t\"n\": 1.5,\n\t\"l\": [\n\t\ttrue,\n\t\tnull\n\t],\n\t\"m\": {\n\t\t\"k_unencrypted\": \"clear\"\n\t}\n}\n";
const DOTENV: &str = "#c\nA=1\nB=two words\n";
const INI: &str = "; about\n[s]\nkey = v\n";

#[test]
fn every_format_round_trips() {
    let (k, ids) = key_and_ids(1);
    let opts = EncryptOptions::for_recipients(&[&k.recipient]);
    let bin: &[u8] = b"\x00\xff\xfe raw";
    for (format, plain) in [
        (Format::Json, JSON.as_bytes()),
        (Format::Dotenv, DOTENV.as_bytes()),
        (Format::Ini, INI.as_bytes()),
        (Format::Binary, bin),
    ] {
        let enc = encrypt(&env(2), plain, format, &opts).unwrap();
        let dec = decrypt(&enc, format, &ids, DecryptOptions::default()).unwrap();
        assert_eq!(dec.expose_secret(), plain, "{format:?}");
        let info = inspect(&enc, format).unwrap();
        assert!(info.fully_encrypted(), "{format:?} {:?}", info.clear_values);
        assert_eq!(info.recipients, vec![vec![k.recipient.clone()]]);
        assert_eq!(info.version, "3.11.0");
        assert_eq!(info.lastmodified, "2026-11-25T12:00:00Z");
    }
}

#[test]
fn encrypting_twice_is_refused_and_wrong_key_fails() {
    let (k, _) = key_and_ids(1);
    let (_, other) = key_and_ids(9);
    let opts = EncryptOptions::for_recipients(&[&k.recipient]);
    let enc = encrypt(&env(2), JSON.as_bytes(), Format::Json, &opts).unwrap();
    assert!(matches!(
        encrypt(&env(2), &enc, Format::Json, &opts),
        Err(Error::AlreadyEncrypted { .. })
    ));
    assert!(matches!(
        decrypt(&enc, Format::Json, &other, DecryptOptions::default()),
        Err(Error::DataKey { .. })
    ));
    assert!(matches!(
        decrypt(
            JSON.as_bytes(),
            Format::Json,
            &other,
            DecryptOptions::default()
        ),
        Err(Error::MetadataNotFound { .. })
    ));
    assert!(matches!(
        encrypt(
            &env(2),
            JSON.as_bytes(),
            Format::Json,
            &EncryptOptions::default()
        ),
        Err(Error::NoRecipients { .. })
    ));
}

#[test]
fn reencrypt_without_change_is_byte_identical() {
    let (k, ids) = key_and_ids(1);
    let opts = EncryptOptions::for_recipients(&[&k.recipient]);
    let yaml = "# top\na: x\nl:\n    # in list\n    - 1\n    - true\n---\nb: 2.5\n";
    let bin: &[u8] = b"\x00\xff raw";
    for (format, plain) in [
        (Format::Json, JSON.as_bytes()),
        (Format::Yaml, yaml.as_bytes()),
        (Format::Dotenv, DOTENV.as_bytes()),
        (Format::Ini, INI.as_bytes()),
        (Format::Binary, bin),
    ] {
        let enc = encrypt(&env(2), plain, format, &opts).unwrap();
        // A later run with other randomness and clock: still no change.
        let later = effects::Seeded::new(77, time::macros::datetime!(2027-01-01 0:00 UTC));
        assert_eq!(
            reencrypt(&later, &enc, plain, format, &ids, &opts).unwrap(),
            enc,
            "{format:?}"
        );
        // And the plaintext it decrypts to re-encrypts to the same bytes too.
        let dec = decrypt(&enc, format, &ids, DecryptOptions::default()).unwrap();
        assert_eq!(
            reencrypt(&later, &enc, dec.expose_secret(), format, &ids, &opts).unwrap(),
            enc,
            "{format:?}"
        );
    }
}

#[test]
fn reencrypt_with_a_change_keeps_other_ciphertexts() {
    let (k, ids) = key_and_ids(1);
    let opts = EncryptOptions::for_recipients(&[&k.recipient]);
    let enc = encrypt(&env(2), JSON.as_bytes(), Format::Json, &opts).unwrap();
    let changed = JSON.replace("\"x\"", "\"y\"");
    let later = effects::Seeded::new(77, time::macros::datetime!(2027-01-01 0:00 UTC));
    let out = reencrypt(&later, &enc, changed.as_bytes(), Format::Json, &ids, &opts).unwrap();
    let (old, new) = (
        String::from_utf8(enc).unwrap(),
        String::from_utf8(out.clone()).unwrap(),
    );
    assert_ne!(line_with(&old, "\"a\""), line_with(&new, "\"a\""));
    assert_eq!(line_with(&old, "\"n\""), line_with(&new, "\"n\""));
    assert_eq!(
        line_with(&old, "\"enc\""),
        line_with(&new, "\"enc\""),
        "same data key wrapping"
    );
    assert!(new.contains("2027-01-01T00:00:00Z"));
    assert_eq!(
        decrypt(&out, Format::Json, &ids, DecryptOptions::default())
            .unwrap()
            .expose_secret(),
        changed.as_bytes()
    );
}

#[test]
fn reencrypt_with_new_recipients_rewraps_only() {
    let (k, ids) = key_and_ids(1);
    let (k2, ids2) = key_and_ids(5);
    let opts = EncryptOptions::for_recipients(&[&k.recipient]);
    let enc = encrypt(&env(2), JSON.as_bytes(), Format::Json, &opts).unwrap();
    let both = EncryptOptions::for_recipients(&[&k.recipient, &k2.recipient]);
    let out = reencrypt(&env(3), &enc, JSON.as_bytes(), Format::Json, &ids, &both).unwrap();
    let info = inspect(&out, Format::Json).unwrap();
    assert_eq!(info.recipients, both.key_groups);
    assert_eq!(info.lastmodified, "2026-11-25T12:00:00Z");
    assert_eq!(
        decrypt(&out, Format::Json, &ids2, DecryptOptions::default())
            .unwrap()
            .expose_secret(),
        JSON.as_bytes()
    );
    // updatekeys is the same operation.
    let up = updatekeys(&env(3), &enc, Format::Json, &ids, &both).unwrap();
    assert!(decrypt(&up, Format::Json, &ids2, DecryptOptions::default()).is_ok());
}

#[test]
fn rotate_changes_the_data_key_not_the_content() {
    let (k, ids) = key_and_ids(1);
    let opts = EncryptOptions::for_recipients(&[&k.recipient]);
    let enc = encrypt(&env(2), JSON.as_bytes(), Format::Json, &opts).unwrap();
    let rot = rotate_data_key(&env(8), &enc, Format::Json, &ids).unwrap();
    let (old, new) = (
        String::from_utf8(enc).unwrap(),
        String::from_utf8(rot.clone()).unwrap(),
    );
    assert_ne!(line_with(&old, "\"a\""), line_with(&new, "\"a\""));
    assert_eq!(
        decrypt(&rot, Format::Json, &ids, DecryptOptions::default())
            .unwrap()
            .expose_secret(),
        JSON.as_bytes()
    );
}

#[test]
fn shamir_groups_need_the_threshold() {
    let keys: Vec<_> = (10..13).map(key_and_ids).collect();
    let opts = EncryptOptions {
        key_groups: keys
            .iter()
            .map(|(k, _)| vec![k.recipient.clone()])
            .collect(),
        shamir_threshold: 2,
        ..Default::default()
    };
    let enc = encrypt(&env(2), JSON.as_bytes(), Format::Json, &opts).unwrap();
    assert!(matches!(
        decrypt(&enc, Format::Json, &keys[0].1, DecryptOptions::default()),
        Err(Error::DataKey { .. })
    ));
    let two = format!(
        "{}\n{}\n",
        generate_age_key(&env(10)).identity.expose_secret(),
        generate_age_key(&env(12)).identity.expose_secret()
    );
    let ids = Identities::from_text(&secrecy::SecretString::from(two)).unwrap();
    assert_eq!(
        decrypt(&enc, Format::Json, &ids, DecryptOptions::default())
            .unwrap()
            .expose_secret(),
        JSON.as_bytes()
    );
    assert_eq!(inspect(&enc, Format::Json).unwrap().shamir_threshold, 2);
}

#[test]
fn tampering_is_caught_and_ignore_mac_only_skips_the_mac() {
    let (k, ids) = key_and_ids(1);
    let opts = EncryptOptions::for_recipients(&[&k.recipient]);
    let enc =
        String::from_utf8(encrypt(&env(2), JSON.as_bytes(), Format::Json, &opts).unwrap()).unwrap();
    // Swap the order of two entries: every value still opens, only the MAC catches it.
    let lines: Vec<&str> = enc.lines().collect();
    let (ia, iin) = (
        lines.iter().position(|l| l.contains("\"a\"")).unwrap(),
        lines.iter().position(|l| l.contains("\"n\"")).unwrap(),
    );
    let mut swapped: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
    let a = swapped[ia].clone();
    swapped[ia] = swapped[iin].clone();
    swapped[iin] = a;
    let swapped = swapped.join("\n");
    let r = decrypt(
        swapped.as_bytes(),
        Format::Json,
        &ids,
        DecryptOptions::default(),
    );
    assert!(matches!(r, Err(Error::MacMismatch { .. })), "{:?}", r.err());
    assert!(decrypt(
        swapped.as_bytes(),
        Format::Json,
        &ids,
        DecryptOptions { ignore_mac: true }
    )
    .is_ok());
    // A flipped ciphertext character fails GCM with the key path.
    let pos = enc.find("\"a\": \"ENC[AES256_GCM,data:").unwrap() + 26;
    let mut bytes = enc.clone().into_bytes();
    bytes[pos] = if bytes[pos] == b'A' { b'B' } else { b'A' };
    let e = decrypt(
        &bytes,
        Format::Json,
        &ids,
        DecryptOptions { ignore_mac: true },
    )
    .err()
    .unwrap();
    assert!(
        matches!(&e, Error::Value { key_path, fault: ValueFault::Tampered, .. } if key_path == "a"),
        "{e}"
    );
}

#[test]
fn rules_select_what_is_encrypted() {
    let (k, ids) = key_and_ids(1);
    let doc =
        "{\n\t\"data\": {\n\t\t\"x\": \"s\"\n\t},\n\t\"meta\": {\n\t\t\"name\": \"n\"\n\t}\n}\n";
    let opts = EncryptOptions {
        rule: Some(CryptRule::EncryptedRegex("^data$".into())),
        mac_only_encrypted: true,
        ..EncryptOptions::for_recipients(&[&k.recipient])
    };
    let enc =
        String::from_utf8(encrypt(&env(2), doc.as_bytes(), Format::Json, &opts).unwrap()).unwrap();
    assert!(enc.contains("\"name\": \"n\""), "{enc}");
    assert!(!enc.contains("\"x\": \"s\""));
    assert!(enc.contains("\"encrypted_regex\": \"^data$\""));
    // mac_only_encrypted: the clear value may be edited.
    let edited = enc.replace("\"name\": \"n\"", "\"name\": \"other\"");
    assert!(decrypt(
        edited.as_bytes(),
        Format::Json,
        &ids,
        DecryptOptions::default()
    )
    .is_ok());
    // A clear value where an encrypted one is required.
    let forged = enc
        .lines()
        .map(|l| {
            if l.contains("\"x\"") {
                "\t\t\"x\": \"s\"".to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(matches!(
        decrypt(
            forged.as_bytes(),
            Format::Json,
            &ids,
            DecryptOptions::default()
        ),
        Err(Error::Value {
            fault: ValueFault::NotEncrypted,
            ..
        })
    ));
    assert_eq!(
        inspect(forged.as_bytes(), Format::Json)
            .unwrap()
            .clear_values,
        vec!["data:x".to_owned()]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn loaders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let ids = Identities::empty();
        for f in [Format::Json, Format::Dotenv, Format::Ini, Format::Yaml, Format::Binary] {
            let _ = load_plain(&bytes, f);
            let _ = inspect(&bytes, f);
            let _ = decrypt(&bytes, f, &ids, DecryptOptions::default());
        }
    }

    #[test]
    fn text_loaders_never_panic(s in "[\\[\\]=;#a-z:\" \n{},0-9\\\\]{0,120}") {
        for f in [Format::Json, Format::Dotenv, Format::Ini, Format::Yaml] {
            let _ = load_plain(s.as_bytes(), f);
            let _ = inspect(s.as_bytes(), f);
        }
    }
}

/// The project's `fixtures/sops-vectors`.
fn vectors_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/sops-vectors")
}

fn vector(rel: &str) -> Vec<u8> {
    std::fs::read(vectors_dir().join(rel)).unwrap()
}

#[test]
fn truncated_vectors_fail_or_give_the_whole_plaintext() {
    let ids = Identities::from_text(&secrecy::SecretString::from(
        String::from_utf8(vector("keys/age1.txt")).unwrap(),
    ))
    .unwrap();
    for (rel, format) in [
        ("cases/negatives/base.sops.yaml", Format::Yaml),
        ("cases/json_nested/json_nested.sops.json", Format::Json),
        ("cases/dotenv/dotenv.sops.env", Format::Dotenv),
        ("cases/ini/ini.sops.ini", Format::Ini),
        ("cases/binary_blob/binary_blob.sops.bin", Format::Binary),
    ] {
        let full = vector(rel);
        let want = decrypt(&full, format, &ids, DecryptOptions::default()).unwrap();
        // Every cut point, stepping so the test stays fast.
        for cut in (0..full.len()).step_by(7) {
            if let Ok(got) = decrypt(&full[..cut], format, &ids, DecryptOptions::default()) {
                assert_eq!(
                    got.expose_secret(),
                    want.expose_secret(),
                    "{rel} cut at {cut} decrypted to something else"
                );
            }
        }
    }
}

/// Every identity of the vectors (some files need two for their Shamir groups).
fn all_vector_ids() -> Identities {
    let text: String = ["keys/age1.txt", "keys/age2.txt", "keys/age3.txt"]
        .iter()
        .map(|k| String::from_utf8(vector(k)).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    Identities::from_text(&secrecy::SecretString::from(text)).unwrap()
}

/// The vectors' encrypted YAML files, by path.
fn yaml_vectors() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(vectors_dir().join("cases")).unwrap() {
        for f in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            let p = f.unwrap().path();
            if p.to_string_lossy().ends_with(".sops.yaml") {
                out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The streaming decryption (values decrypted as the parser reads them) gives exactly what the
/// whole-tree decryption gives - content, MAC, metadata, IVs kept - or steps aside; over every
/// YAML vector and mutants of each data line (deleted, doubled, anchors and an alias added).
#[test]
fn streaming_decryption_agrees_with_the_whole_tree_or_steps_aside() {
    let ids = all_vector_ids();
    let mut streamed = Vec::new();
    for (name, file) in yaml_vectors() {
        let text = String::from_utf8(file.clone()).unwrap();
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        // The file with some lines replaced.
        let with = |changes: &[(usize, &str)]| -> Vec<u8> {
            let line = |k: usize| changes.iter().find(|c| c.0 == k).map_or(lines[k], |c| c.1);
            (0..lines.len()).map(line).collect::<String>().into_bytes()
        };
        let mut variants = vec![(String::from("as is"), file)];
        // The data lines (a changed metadata line fails the same way on both paths).
        let data_lines = lines
            .iter()
            .position(|l| l.starts_with("sops:"))
            .unwrap_or(0);
        for i in 0..data_lines {
            let mut deleted = lines.clone();
            deleted.remove(i);
            variants.push((format!("line {i} deleted"), deleted.concat().into_bytes()));
            let doubled = format!("{0}{0}", lines[i]);
            variants.push((format!("line {i} doubled"), with(&[(i, &doubled)])));
            // An anchor on a scalar, on a collection, and an alias of that collection.
            let scalar = lines[i].replacen(": ", ": &x ", 1);
            variants.push((format!("line {i}: scalar anchor"), with(&[(i, &scalar)])));
            let collection = lines[i].replacen(":\n", ": &y\n", 1);
            variants.push((
                format!("line {i}: collection anchor"),
                with(&[(i, &collection)]),
            ));
            let later = (i + 1..lines.len()).find_map(|k| Some((k, lines[k].split_once(": ")?.0)));
            if let Some((k, key)) = later {
                let alias = format!("{key}: *y\n");
                let v = with(&[(i, &collection), (k, &alias)]);
                variants.push((format!("line {i}: alias at {k}"), v));
            }
        }
        for (what, enc) in variants {
            let modes: &[bool] = if what == "as is" {
                &[false, true]
            } else {
                &[false]
            };
            for &keep_ivs in modes {
                let Some(s) = open_streaming(&enc, Format::Yaml, &ids, keep_ivs) else {
                    continue;
                };
                let w = open_whole(&enc, Format::Yaml, &ids, keep_ivs)
                    .unwrap_or_else(|e| panic!("{name} {what}: streamed, but whole fails: {e}"));
                assert!(s.content.same_as(&w.content), "{name} {what}: content");
                assert_eq!(s.mac, w.mac, "{name} {what}: MAC");
                assert_eq!(s.meta, w.meta, "{name} {what}: metadata");
                assert!(s.ivs == w.ivs, "{name} {what}: IVs");
                if what == "as is" && !keep_ivs {
                    streamed.push(name.rsplit('/').next().unwrap().to_owned());
                }
            }
        }
    }
    // Files sops wrote stream (the ones with a comment rule, and the negatives whose values
    // or keys do not open, take the whole-tree path).
    for f in [
        "k8s_secret.sops.yaml",
        "yaml_multidoc.sops.yaml",
        "yaml_comments.sops.yaml",
        "yaml_anchors.sops.yaml",
        "key_groups_shamir.sops.yaml",
        "mac_only_encrypted.sops.yaml",
    ] {
        assert!(
            streamed.iter().any(|s| s == f),
            "{f} did not stream: {streamed:?}"
        );
    }
}
