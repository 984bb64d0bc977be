use super::*;
use clap::Parser;

#[derive(Debug, Parser)]
struct T {
    #[command(flatten)]
    p: PublishArgs,
}

fn parse(args: &[&str]) -> PublishArgs {
    T::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
        .unwrap()
        .p
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn err(args: &[&str]) -> UsageError {
    parse(args).resolve(no_env).unwrap_err()
}

#[test]
fn defaults_commit_without_push() {
    let p = parse(&[]).resolve(no_env).unwrap();
    assert!(p.git.commit && !p.git.dry_run);
    assert!(p.git.push.is_none() && p.pr.is_none());
}

#[test]
fn invalid_combinations_are_usage_errors_with_help() {
    let e = err(&["--pr"]);
    assert_eq!(e.message, "--pr needs --push");
    assert_eq!(e.help.as_deref(), Some("add --push, or drop --pr"));
    assert_eq!(err(&["--ssh-key", "/k"]).message, "--ssh-key needs --push");
    assert_eq!(
        err(&["--accept-new-host-key"]).message,
        "--accept-new-host-key needs --push"
    );
    assert_eq!(err(&["--push", "--draft"]).message, "--draft needs --pr");
    assert_eq!(
        err(&["--push", "--label", "x"]).message,
        "--label needs --pr"
    );
    assert_eq!(
        err(&["--push", "--github-api", "http://127.0.0.1:1"]).message,
        "--github-api needs --pr"
    );
    // a dry run with --push plans the push and the PR (issue 24 item 2)
    let p = parse(&["--push", "--dry-run"]).resolve(no_env).unwrap();
    assert!(p.git.dry_run && !p.git.commit && p.git.push.is_some());
    assert_eq!(
        err(&["--push", "--no-commit"]).message,
        "--no-commit cannot be combined with --push"
    );
    assert!(err(&["--author", "jane"]).message.contains("Name <email>"));
    assert!(err(&["--push", "--ssh-key", "/nonexistent/k"])
        .message
        .contains("no such file"));
    assert!(err(&["--push", "--pr", "--github-repo", "x"])
        .message
        .contains("cannot tell the GitHub repository"));
    assert!(err(&["--push", "--pr", "--github-api", "ftp://x"])
        .message
        .contains("not an http(s) URL"));
}

#[test]
fn full_set_resolves_into_library_options() {
    let key = tempfile::NamedTempFile::new().unwrap();
    let key_arg = key.path().to_str().unwrap();
    let args = parse(&[
        "--push",
        "--pr",
        "--base",
        "release",
        "--remote",
        "upstream",
        "--github-api",
        "http://127.0.0.1:9/api/v3",
        "--github-repo",
        "acme/fleet",
        "--author",
        "Jane Doe <jane@example.com>",
        "--ssh-key",
        key_arg,
        "--known-hosts",
        "/kh",
        "--accept-new-host-key",
        "--draft",
        "--label",
        "mcb",
        "--label",
        "security",
    ]);
    let env = |k: &str| (k == "GITHUB_TOKEN").then(|| "tok".to_owned());
    let p = args.resolve(env).unwrap();
    assert_eq!(p.git.base.as_deref(), Some("release"));
    assert_eq!(p.git.author.as_ref().unwrap().email, "jane@example.com");
    let push = p.git.push.unwrap();
    assert_eq!(push.remote, "upstream");
    assert!(push.auth.token.is_some() && push.auth.accept_new_host_key);
    assert_eq!(
        push.auth.known_hosts.as_deref(),
        Some(std::path::Path::new("/kh"))
    );
    let pr = p.pr.unwrap();
    assert_eq!(pr.repo.unwrap().to_string(), "acme/fleet");
    // the push takes GH_TOKEN too, first, as the API does (it took only GITHUB_TOKEN)
    let env = |k: &str| match k {
        "GH_TOKEN" => Some("gh".to_owned()),
        "GITHUB_TOKEN" => Some("github".to_owned()),
        _ => None,
    };
    let push = parse(&["--push"]).resolve(env).unwrap().git.push.unwrap();
    let token = push.auth.token.expect("a push token");
    assert_eq!(secrecy::ExposeSecret::expose_secret(&token), "gh");
    assert!(pr.draft);
    assert_eq!(pr.labels, ["mcb", "security"]);
}

#[test]
fn forge_auth_from_environment() {
    assert!(matches!(
        forge_auth(|k| (k == "GITHUB_TOKEN").then(|| "t".into())),
        Ok(Auth::Token(_))
    ));
    // gh's variable too (issue #24 item 7), and first as in gh.
    match forge_auth(|k| match k {
        "GH_TOKEN" => Some("gh".into()),
        "GITHUB_TOKEN" => Some("github".into()),
        _ => None,
    }) {
        Ok(Auth::Token(t)) => assert_eq!(secrecy::ExposeSecret::expose_secret(&t), "gh"),
        other => panic!("{other:?}"),
    }
    let e = forge_auth(no_env).unwrap_err();
    assert!(e.help.unwrap().contains("GITHUB_TOKEN"));
    let pem = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(pem.path(), "PEM").unwrap();
    let path = pem.path().to_str().unwrap().to_owned();
    let env = move |k: &str| match k {
        "GITHUB_APP_ID" => Some("12".to_owned()),
        "GITHUB_APP_PRIVATE_KEY_FILE" => Some(path.clone()),
        _ => None,
    };
    match forge_auth(env).unwrap() {
        Auth::App {
            app_id,
            installation_id,
            ..
        } => assert_eq!((app_id, installation_id), (12, None)),
        other => panic!("{other:?}"),
    }
    let e = forge_auth(|k| match k {
        "GITHUB_APP_ID" => Some("abc".into()),
        "GITHUB_APP_PRIVATE_KEY_FILE" => Some("/x".into()),
        _ => None,
    })
    .unwrap_err();
    assert!(e.message.contains("GITHUB_APP_ID"), "{}", e.message);
}
