//! `mcb secrets`: the commands end to end (key sources, in-place writes, edit, set/unset,
//! errors and exit codes). Compatibility with the real sops is in `interop.rs`.

use crate::interop::{key, line_with, mcb_in, sops_in, AGE1, AGE2};
use crate::support::{run, TestEnv};

const DOC: &str = "{\n\t\"user\": \"admin\",\n\t\"password\": \"s3cret\",\n\t\"note_unencrypted\": \"hello\"\n}\n";

fn write(t: &TestEnv, name: &str, text: &str) {
    std::fs::write(t.path().join(name), text).unwrap();
}

fn read(t: &TestEnv, name: &str) -> String {
    std::fs::read_to_string(t.path().join(name)).unwrap()
}

/// `doc.json` encrypted in place for age1.
fn encrypted(t: &TestEnv) {
    write(t, "doc.json", DOC);
    let o = mcb_in(
        t,
        t.path(),
        &key("age1.txt"),
        &["encrypt", "-i", "--age", AGE1, "doc.json"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn encrypt_in_place_then_decrypt_to_stdout() {
    let t = TestEnv::new();
    encrypted(&t);
    let enc = read(&t, "doc.json");
    assert!(enc.contains("\"password\": \"ENC[AES256_GCM,"), "{enc}");
    assert!(enc.contains("\"note_unencrypted\": \"hello\""));
    assert!(!enc.contains("s3cret"));
    let o = mcb_in(&t, t.path(), &key("age1.txt"), &["decrypt", "doc.json"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), DOC);
    let o = mcb_in(
        &t,
        t.path(),
        &key("age1.txt"),
        &["decrypt", "--extract", r#"["password"]"#, "doc.json"],
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "s3cret");
}

#[test]
fn seeded_encrypt_is_reproducible_and_recipients_come_from_sops_yaml() {
    let t = TestEnv::new();
    write(&t, "doc.json", DOC);
    std::fs::create_dir_all(t.path().join("sub")).unwrap();
    write(&t, ".sops.yaml", &format!("creation_rules:\n  - path_regex: ^nomatch/\n    age: {AGE2}\n  - path_regex: doc\\.json$\n    age: {AGE1}\n    encrypted_regex: ^password$\n"));
    // Run from a subdirectory: the config is found upwards, the rule matches `doc.json`.
    let sub = t.path().join("sub");
    let a = mcb_in(&t, &sub, &key("age1.txt"), &["encrypt", "../doc.json"]);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    let text = String::from_utf8(a.stdout.clone()).unwrap();
    assert!(text.contains(AGE1) && !text.contains(AGE2), "{text}");
    assert!(
        text.contains("\"user\": \"admin\""),
        "encrypted_regex leaves user clear: {text}"
    );
    assert!(text.contains("\"encrypted_regex\": \"^password$\""));
    assert!(text.contains("\"lastmodified\": \"2026-11-25T12:00:00Z\""));
}

#[test]
fn key_sources_env_text_cmd_default_file_and_flag() {
    let t = TestEnv::new();
    encrypted(&t);
    let id = std::fs::read_to_string(key("age1.txt")).unwrap();
    let decrypt_with = |vars: &[(&str, &str)], extra: &[&str]| {
        let mut c = t.mcb();
        c.arg("secrets").arg("decrypt").args(extra).arg("doc.json");
        for (k, v) in vars {
            c.env(k, v);
        }
        run(c)
    };
    decrypt_with(&[("SOPS_AGE_KEY", &id)], &[]).ok();
    let cmd = format!("cat {}", key("age1.txt").display());
    decrypt_with(&[("SOPS_AGE_KEY_CMD", &cmd)], &[]).ok();
    decrypt_with(&[], &["--age-key-file", key("age1.txt").to_str().unwrap()]).ok();
    let none = decrypt_with(&[], &[]).fails_with(2);
    assert!(none.stderr.contains("no age identity"), "{}", none.stderr);
    assert!(none.stdout.is_empty());
    let wrong = decrypt_with(
        &[("SOPS_AGE_KEY_FILE", key("age2.txt").to_str().unwrap())],
        &[],
    )
    .fails_with(2);
    assert!(
        wrong.stderr.contains("doc.json") && wrong.stderr.contains("help:"),
        "{}",
        wrong.stderr
    );
    let dflt = t.home().join(".config/sops/age");
    std::fs::create_dir_all(&dflt).unwrap();
    std::fs::write(dflt.join("keys.txt"), &id).unwrap();
    decrypt_with(&[], &[]).ok();
}

#[test]
fn ssh_ed25519_identity_decrypts() {
    let t = TestEnv::new();
    let keyfile = t.path().join("id_ed25519");
    let mut c = t.command("ssh-keygen");
    c.args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&keyfile);
    run(c).ok();
    let public = std::fs::read_to_string(keyfile.with_extension("pub")).unwrap();
    let public: Vec<&str> = public.split_whitespace().take(2).collect();
    write(&t, "doc.json", DOC);
    let o = mcb_in(
        &t,
        t.path(),
        &key("age1.txt"),
        &["encrypt", "-i", "--age", &public.join(" "), "doc.json"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = mcb_in(&t, t.path(), &keyfile, &["decrypt", "doc.json"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        DOC,
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The real sops opens it with the same SSH key.
    let mut c = t.command(crate::support::tool("sops"));
    c.current_dir(t.path())
        .env("SOPS_AGE_SSH_PRIVATE_KEY_FILE", &keyfile)
        .args(["decrypt", "doc.json"]);
    assert_eq!(run(c).ok().stdout, DOC);
}

#[test]
fn tampered_file_fails_with_path_and_no_output_unless_ignore_mac() {
    let t = TestEnv::new();
    encrypted(&t);
    let enc = read(&t, "doc.json");
    // Move the password ciphertext to `user`: AES-GCM fails on the AAD.
    let pw = enc
        .lines()
        .find(|l| l.contains("\"password\""))
        .unwrap()
        .split_once(": ")
        .unwrap()
        .1
        .trim_end_matches(',')
        .to_owned();
    let moved: String = enc
        .lines()
        .map(|l| {
            if l.contains("\"user\"") {
                format!("\t\"user\": {pw},")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    write(&t, "moved.json", &moved);
    let o = mcb_in(
        &t,
        t.path(),
        &key("age1.txt"),
        &["decrypt", "doc.json", "moved.json"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        o.stdout.is_empty(),
        "no partial plaintext, not even of the good first file"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("moved.json") && err.contains("`user`"),
        "{err}"
    );
    // Changing a clear value breaks the MAC; --ignore-mac decrypts with a warning.
    write(&t, "mac.json", &enc.replace("\"hello\"", "\"changed\""));
    let o = mcb_in(&t, t.path(), &key("age1.txt"), &["decrypt", "mac.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("MAC mismatch"));
    let o = mcb_in(
        &t,
        t.path(),
        &key("age1.txt"),
        &["decrypt", "--ignore-mac", "mac.json"],
    );
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--ignore-mac"));
    // Malformed and non-UTF-8 input.
    write(&t, "bad.json", "{\"a\": ");
    let o = mcb_in(&t, t.path(), &key("age1.txt"), &["decrypt", "bad.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("bad.json: not valid JSON"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::write(t.path().join("bin.env"), b"A=\xff\n").unwrap();
    let o = mcb_in(
        &t,
        t.path(),
        &key("age1.txt"),
        &["encrypt", "--age", AGE1, "bin.env"],
    );
    assert_eq!(o.status.code(), Some(2));
    // Encrypting twice is refused.
    let o = mcb_in(
        &t,
        t.path(),
        &key("age1.txt"),
        &["encrypt", "--age", AGE1, "doc.json"],
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("already encrypted"));
}

#[test]
fn set_and_unset_in_place() {
    let t = TestEnv::new();
    encrypted(&t);
    let before = read(&t, "doc.json");
    let o = mcb_in(
        &t,
        t.path(),
        &key("age1.txt"),
        &["set", "doc.json", r#"["password"]"#, r#""new""#],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let after = read(&t, "doc.json");
    assert_eq!(
        line_with(&before, "\"user\""),
        line_with(&after, "\"user\"")
    );
    assert_ne!(
        line_with(&before, "\"password\""),
        line_with(&after, "\"password\"")
    );
    let o = mcb_in(
        &t,
        t.path(),
        &key("age1.txt"),
        &["unset", "doc.json", r#"["user"]"#],
    );
    assert!(o.status.success());
    let d = sops_in(&t, t.path(), &key("age1.txt"), &["decrypt", "doc.json"]);
    assert_eq!(
        String::from_utf8_lossy(&d.stdout),
        "{\n\t\"password\": \"new\",\n\t\"note_unencrypted\": \"hello\"\n}\n"
    );
    let o = mcb_in(
        &t,
        t.path(),
        &key("age1.txt"),
        &["unset", "doc.json", r#"["nope"]"#],
    );
    assert_eq!(o.status.code(), Some(2));
}

fn edit_with(t: &TestEnv, editor: &str) -> std::process::Output {
    let mut c = t.mcb();
    c.env("SOPS_AGE_KEY_FILE", key("age1.txt"))
        .env("EDITOR", editor)
        .args(["secrets", "edit", "doc.json"]);
    c.output().unwrap()
}

#[test]
fn edit_rewrites_only_on_change() {
    let t = TestEnv::new();
    encrypted(&t);
    let before = read(&t, "doc.json");
    // Issue 21 D12: no change exits 200, as sops does.
    let o = edit_with(&t, "true");
    assert_eq!(
        o.status.code(),
        Some(200),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut c = t.command(crate::support::tool("sops"));
    c.env("SOPS_AGE_KEY_FILE", key("age1.txt"))
        .env("EDITOR", "true")
        .args(["edit", "doc.json"]);
    assert_eq!(c.output().unwrap().status.code(), Some(200), "sops agrees");
    assert_eq!(
        read(&t, "doc.json"),
        before,
        "an unchanged edit leaves the bytes alone"
    );
    let o = edit_with(&t, "sed -i s/admin/root/");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let after = read(&t, "doc.json");
    assert_ne!(after, before);
    assert_eq!(
        line_with(&before, "\"password\""),
        line_with(&after, "\"password\"")
    );
    let d = sops_in(&t, t.path(), &key("age1.txt"), &["decrypt", "doc.json"]);
    assert!(String::from_utf8_lossy(&d.stdout).contains("\"user\": \"root\""));
    // A broken edit fails and leaves the file alone.
    let o = edit_with(&t, "sed -i s/{/[/");
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(read(&t, "doc.json"), after);
}

#[test]
fn updatekeys_rotate_and_status() {
    let t = TestEnv::new();
    encrypted(&t);
    write(
        &t,
        ".sops.yaml",
        &format!("creation_rules:\n  - age: {AGE1},{AGE2}\n"),
    );
    let o = mcb_in(&t, t.path(), &key("age1.txt"), &["updatekeys", "doc.json"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "without -y and no terminal it refuses"
    );
    let o = mcb_in(
        &t,
        t.path(),
        &key("age1.txt"),
        &["updatekeys", "-y", "doc.json"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let d = sops_in(&t, t.path(), &key("age2.txt"), &["decrypt", "doc.json"]);
    assert_eq!(String::from_utf8_lossy(&d.stdout), DOC);
    let before = read(&t, "doc.json");
    let o = mcb_in(
        &t,
        t.path(),
        &key("age2.txt"),
        &["rotate", "-i", "doc.json"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_ne!(read(&t, "doc.json"), before);
    let d = sops_in(&t, t.path(), &key("age1.txt"), &["decrypt", "doc.json"]);
    assert_eq!(String::from_utf8_lossy(&d.stdout), DOC);
    let mut c = t.mcb();
    c.args(["-o", "json", "secrets", "status", "doc.json"]);
    let r = run(c).ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v[0]["recipients"], serde_json::json!([[AGE1, AGE2]]));
    assert_eq!(v[0]["fullyEncrypted"], true);
    // A clear value where one is required: status exits 1 and names it.
    write(
        &t,
        "doc.json",
        &read(&t, "doc.json").replace(
            &read(&t, "doc.json")
                .lines()
                .find(|l| l.contains("\"user\""))
                .unwrap()
                .to_owned(),
            "\t\"user\": \"admin\",",
        ),
    );
    let mut c = t.mcb();
    c.args(["secrets", "status", "doc.json"]);
    let r = run(c).fails_with(1);
    assert!(r.stdout.contains("clear values at user"), "{}", r.stdout);
}

#[test]
fn help_teaches_with_examples() {
    let t = TestEnv::new();
    let mut c = t.mcb();
    c.args(["secrets", "--help"]);
    let r = run(c).ok();
    for s in ["Examples:", "--extract", "updatekeys", ".sops.yaml"] {
        assert!(r.stdout.contains(s), "{s}: {}", r.stdout);
    }
}

/// `text` with the `type:` of the ENC value on the line holding `needle` replaced by `ty`
/// (the tag is outside GCM: no key is needed to change it).
fn retag(text: &str, needle: &str, ty: &str) -> String {
    let line = line_with(text, needle);
    let at = line.rfind(",type:").expect("an ENC value");
    let end = at + line[at..].find(']').unwrap();
    text.replacen(
        line,
        &format!("{},type:{ty}{}", &line[..at], &line[end..]),
        1,
    )
}

/// Issue 21 D1: a value's `type:` tag is never trusted. `time` over a string holding a new
/// key, or over anything not RFC 3339, fails in both tools (sops exit 25) and names the file
/// and key path; a `bool` tag over "true" decrypts only with --ignore-mac and then prints
/// exactly what sops prints; the MAC's own type must be `str`.
#[test]
fn issue_21_d1_tampered_type_tag_is_refused_like_sops() {
    let t = TestEnv::new();
    write(
        &t,
        "doc.yaml",
        "role: \"viewer\\nadmin: true\"\nflag: \"true\"\nwhen: 2024-02-29T10:00:00+00:00\n",
    );
    mcb_in(
        &t,
        t.path(),
        &key("age1.txt"),
        &["encrypt", "-i", "--age", AGE1, "doc.yaml"],
    );
    let enc = read(&t, "doc.yaml");
    let both = |name: &str, args: &[&str]| {
        let mut a = vec!["decrypt"];
        a.extend_from_slice(args);
        a.push(name);
        (
            mcb_in(&t, t.path(), &key("age1.txt"), &a),
            sops_in(&t, t.path(), &key("age1.txt"), &a),
        )
    };
    for (needle, ty) in [
        ("role:", "time"),
        ("role:", "int"),
        ("role:", "float"),
        ("flag:", "time"),
        ("when:", "int"),
    ] {
        write(&t, "t.yaml", &retag(&enc, needle, ty));
        for flags in [&[][..], &["--ignore-mac"][..]] {
            let (m, s) = both("t.yaml", flags);
            assert_eq!(
                s.status.code(),
                Some(25),
                "sops on {needle} {ty}: {}",
                String::from_utf8_lossy(&s.stderr)
            );
            assert_eq!(m.status.code(), Some(2), "mcb on {needle} {ty} {flags:?}");
            assert!(m.stdout.is_empty(), "no plaintext on failure");
            let err = String::from_utf8_lossy(&m.stderr);
            let key = needle.trim_end_matches(':');
            assert!(
                err.contains("t.yaml")
                    && err.contains(&format!("`{key}`"))
                    && err.contains("recorded type"),
                "{err}"
            );
            assert!(!err.contains("admin"), "{err}");
        }
    }
    // A tag that fits the text: the MAC (over "true", not "True") catches it; with
    // --ignore-mac both print the same document.
    write(&t, "b.yaml", &retag(&enc, "flag:", "bool"));
    let (m, s) = both("b.yaml", &[]);
    assert_eq!((m.status.code(), s.status.code()), (Some(2), Some(51)));
    let (m, s) = both("b.yaml", &["--ignore-mac"]);
    assert!(s.status.success() && m.status.success());
    assert_eq!(
        String::from_utf8_lossy(&m.stdout),
        String::from_utf8_lossy(&s.stdout)
    );
    assert!(String::from_utf8_lossy(&m.stdout).contains("flag: true\n"));
    // The MAC must be a string.
    for ty in ["int", "comment", "time"] {
        write(&t, "m.yaml", &retag(&enc, "mac:", ty));
        let (m, s) = both("m.yaml", &[]);
        assert_eq!(s.status.code(), Some(51), "sops, MAC type {ty}");
        assert_eq!(m.status.code(), Some(2));
        let err = String::from_utf8_lossy(&m.stderr);
        assert!(
            err.contains("m.yaml") && err.contains("`sops:mac`"),
            "{err}"
        );
    }
}

/// Issue 21 D11: an error about SOPS_AGE_KEY_CMD names the variable, never its text (which
/// may hold a key or a token).
#[test]
fn issue_21_d11_key_cmd_text_never_in_errors() {
    let t = TestEnv::new();
    encrypted(&t);
    for cmd in [
        "sh -c \"echo AGE-SECRET-KEY-1TOKENTEXT >&2; exit 3\"",
        "echo not-a-key-TOKENTEXT",
        "/nonexistent/TOKENTEXT",
    ] {
        let mut c = t.mcb();
        c.args(["secrets", "decrypt", "doc.json"])
            .env("SOPS_AGE_KEY_CMD", cmd);
        let o = run(c).fails_with(2);
        assert!(o.stderr.contains("SOPS_AGE_KEY_CMD"), "{}", o.stderr);
        assert!(!o.stderr.contains("TOKENTEXT"), "{cmd}: {}", o.stderr);
    }
    // A working command that holds no recipient's key: the source is listed by name only.
    let mut c = t.mcb();
    let cmd = format!("sh -c \"cat {}\" TOKENTEXT", key("age2.txt").display());
    c.args(["secrets", "decrypt", "doc.json"])
        .env("SOPS_AGE_KEY_CMD", &cmd);
    let o = run(c).fails_with(2);
    assert!(
        o.stderr.contains("SOPS_AGE_KEY_CMD") && !o.stderr.contains("TOKENTEXT"),
        "{}",
        o.stderr
    );
}

/// Issue 24 item 7 / issue 21 D10: the secrets subcommands take sops' flags with sops'
/// meaning, after the subcommand: `--output FILE`, `-i`, `--indent`, `--filename-override`,
/// `set … -5`, `--value-stdin`, `unset --idempotent`; `-o json` before `secrets` still works.
#[test]
fn issue_24_secrets_take_sops_flags() {
    let t = TestEnv::new();
    write(&t, "doc.yaml", "a:\n  b: x\nport: 1\n");
    let ok = |args: &[&str]| {
        let o = mcb_in(&t, t.path(), &key("age1.txt"), args);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o
    };
    ok(&["encrypt", "--age", AGE1, "--output", "enc.yaml", "doc.yaml"]);
    assert!(read(&t, "enc.yaml").contains("ENC[AES256_GCM"));
    ok(&["decrypt", "--output", "plain.yaml", "enc.yaml"]);
    assert_eq!(read(&t, "plain.yaml"), "a:\n    b: x\nport: 1\n");
    // --indent and --output-type, as sops prints them. sops 3.11 honours --indent only in
    // its flag form (`sops --indent 2 -d`); its `decrypt` subcommand ignores the global flag.
    for (indent, args) in [
        (Some("2"), &["decrypt", "enc.yaml"][..]),
        (
            Some("3"),
            &["decrypt", "--output-type", "json", "enc.yaml"][..],
        ),
        (None, &["decrypt", "--output-type", "json", "enc.yaml"][..]),
    ] {
        let (mut m_args, mut s_args) = (args.to_vec(), args.to_vec());
        if let Some(n) = indent {
            m_args.splice(1..1, ["--indent", n]);
            s_args.splice(0..1, ["--indent", n, "-d"]);
        }
        let m = ok(&m_args);
        let s = sops_in(&t, t.path(), &key("age1.txt"), &s_args);
        assert_eq!(
            String::from_utf8_lossy(&m.stdout),
            String::from_utf8_lossy(&s.stdout),
            "{args:?}"
        );
    }
    // A negative number is a value, not a flag (sops stops parsing flags at the file name).
    ok(&["set", "enc.yaml", r#"["port"]"#, "-5"]);
    let m = ok(&["decrypt", "--extract", r#"["port"]"#, "enc.yaml"]);
    assert_eq!(String::from_utf8_lossy(&m.stdout), "-5\n");
    // The value from stdin, never on the command line.
    let mut c = t.mcb();
    c.env("SOPS_AGE_KEY_FILE", key("age1.txt"))
        .args([
            "secrets",
            "set",
            "--value-stdin",
            "enc.yaml",
            r#"["a"]["b"]"#,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"\"from-stdin\"").unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    let s = sops_in(
        &t,
        t.path(),
        &key("age1.txt"),
        &["decrypt", "--extract", r#"["a"]["b"]"#, "enc.yaml"],
    );
    assert_eq!(String::from_utf8_lossy(&s.stdout), "from-stdin");
    // unset: missing path fails unless --idempotent.
    let o = mcb_in(
        &t,
        t.path(),
        &key("age1.txt"),
        &["unset", "enc.yaml", r#"["nope"]"#],
    );
    assert_eq!(o.status.code(), Some(2));
    ok(&["unset", "--idempotent", "enc.yaml", r#"["nope"]"#]);
    // --output with -i is a usage error; --output with two files too.
    let o = mcb_in(
        &t,
        t.path(),
        &key("age1.txt"),
        &["decrypt", "-i", "--output", "x", "enc.yaml"],
    );
    assert_eq!(o.status.code(), Some(2));
    let o = mcb_in(
        &t,
        t.path(),
        &key("age1.txt"),
        &["decrypt", "--output", "x", "enc.yaml", "enc.yaml"],
    );
    assert_eq!(o.status.code(), Some(2));
    // --filename-override picks the format.
    std::fs::copy(t.path().join("enc.yaml"), t.path().join("enc.data")).unwrap();
    let m = ok(&["decrypt", "--filename-override", "x.yaml", "enc.data"]);
    assert!(String::from_utf8_lossy(&m.stdout).starts_with("a:\n"));
}

/// Issue 21 D2: `--extract` of a non-string prints what sops prints, in every output type.
#[test]
fn issue_21_d2_extract_non_strings_like_sops() {
    let t = TestEnv::new();
    write(
        &t,
        "doc.yaml",
        "f: false\nn: 6.02e+23\nz: null\nl:\n  - 1\n  - x\nm:\n  k: v\ni: 7\ns: text\n",
    );
    mcb_in(
        &t,
        t.path(),
        &key("age1.txt"),
        &["encrypt", "-i", "--age", AGE1, "doc.yaml"],
    );
    for k in ["f", "n", "z", "l", "m", "i", "s"] {
        for ty in ["yaml", "json", "dotenv", "ini"] {
            let path = format!("[\"{k}\"]");
            let args = [
                "decrypt",
                "--output-type",
                ty,
                "--extract",
                &path,
                "doc.yaml",
            ];
            let m = mcb_in(&t, t.path(), &key("age1.txt"), &args);
            let s = sops_in(&t, t.path(), &key("age1.txt"), &args);
            assert_eq!(
                m.status.success(),
                s.status.success(),
                "{k} {ty}: {}",
                String::from_utf8_lossy(&s.stderr)
            );
            if s.status.success() {
                assert_eq!(
                    String::from_utf8_lossy(&m.stdout),
                    String::from_utf8_lossy(&s.stdout),
                    "{k} {ty}"
                );
            }
        }
    }
}

/// Issue 21 D4, D5, D7, D8 against the real sops: an empty binary file both ways; two key
/// groups with shamir_threshold 1 refused by both; a comment inside `sops.age`; a
/// `lastmodified` written `+00:00` or `.000Z` read (and garbage refused) like sops.
#[test]
fn issue_21_d4_d5_d7_d8_metadata_edges_like_sops() {
    let t = TestEnv::new();
    let both = |args: &[&str]| {
        (
            mcb_in(&t, t.path(), &key("age1.txt"), args),
            sops_in(&t, t.path(), &key("age1.txt"), args),
        )
    };
    // D4: empty binary.
    write(&t, "empty.bin", "");
    let (m, s) = both(&["encrypt", "--age", AGE1, "empty.bin"]);
    assert!(m.status.success() && s.status.success());
    std::fs::write(t.path().join("m.bin"), &m.stdout).unwrap();
    std::fs::write(t.path().join("s.bin"), &s.stdout).unwrap();
    for f in ["m.bin", "s.bin"] {
        let (m, s) = both(&["decrypt", f]);
        assert!(
            m.status.success() && s.status.success(),
            "{f}: {}",
            String::from_utf8_lossy(&m.stderr)
        );
        assert_eq!((m.stdout.len(), s.stdout.len()), (0, 0), "{f}");
    }
    // D5: threshold 1 with two groups.
    write(&t, "doc.yaml", "a: 1\n");
    write(
        &t,
        ".sops.yaml",
        &format!("creation_rules:\n  - shamir_threshold: 1\n    key_groups:\n      - age: [{AGE1}]\n      - age: [{AGE2}]\n"),
    );
    let (m, s) = both(&["encrypt", "doc.yaml"]);
    assert!(
        !s.status.success() && !m.status.success(),
        "{}",
        String::from_utf8_lossy(&m.stdout)
    );
    std::fs::remove_file(t.path().join(".sops.yaml")).unwrap();
    // D7, D8 on a sops-written file.
    let (_, s) = both(&["encrypt", "--age", AGE1, "doc.yaml"]);
    let enc = String::from_utf8(s.stdout).unwrap();
    let lm = line_with(&enc, "lastmodified:").to_owned();
    let rec = line_with(&enc, "- recipient:").to_owned();
    let cases = [
        (
            enc.replacen(&rec, &format!("        # rotated\n{rec}"), 1),
            true,
        ),
        (enc.replacen(&lm, &lm.replace("Z\"", "+00:00\""), 1), true),
        (enc.replacen(&lm, &lm.replace("Z\"", ".000Z\""), 1), true),
        (
            enc.replacen(&lm, "    lastmodified: \"yesterday\"", 1),
            false,
        ),
    ];
    for (i, (text, ok)) in cases.iter().enumerate() {
        write(&t, "x.yaml", text);
        let (m, s) = both(&["decrypt", "x.yaml"]);
        assert_eq!(s.status.success(), *ok, "sops, case {i}");
        assert_eq!(
            m.status.success(),
            *ok,
            "mcb, case {i}: {}",
            String::from_utf8_lossy(&m.stderr)
        );
        assert_eq!(m.stdout, s.stdout, "case {i}");
    }
}

/// Issue #15 item 8: SIGINT or SIGTERM during `secrets edit` killed mcb and left the
/// decrypted file in the temporary directory. Now the directory (0700 while it exists) is
/// removed and the file is unchanged.
#[test]
fn issue_15_edit_removes_its_plaintext_on_sigint_and_sigterm() {
    for sig in ["INT", "TERM"] {
        let t = TestEnv::new();
        encrypted(&t);
        let before = read(&t, "doc.json");
        let tmp = t.path().join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let started = t.path().join("editor-started");
        let mut c = t.mcb();
        c.env("SOPS_AGE_KEY_FILE", key("age1.txt"))
            .env("TMPDIR", &tmp)
            .env(
                "EDITOR",
                format!("touch {} && exec sleep 30 #", started.display()),
            )
            .args(["secrets", "edit", "doc.json"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        let child = c.spawn().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !started.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "the editor never started"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let dirs: Vec<_> = std::fs::read_dir(&tmp)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(dirs.len(), 1, "{dirs:?}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dirs[0]).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let mut k = t.command("kill");
        k.arg(format!("-{sig}")).arg(child.id().to_string());
        run(k).ok();
        let out = child.wait_with_output().unwrap();
        assert!(!out.status.success(), "{sig}");
        assert_eq!(
            std::fs::read_dir(&tmp).unwrap().count(),
            0,
            "{sig}: plaintext left behind: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(read(&t, "doc.json"), before);
    }
}
