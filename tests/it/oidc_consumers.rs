//! Issue #23 item 2: every consumer of a Dex static client gets the client's credentials in
//! the same commit as Dex, and at no moment do Dex and a consumer disagree.
//!
//! No Kubernetes API server or Flux can run here, so a small stand-in replays what Flux
//! does with the commits `init -> rotate (merged) -> rotate --finish (merged)` of the
//! example installation: the layers and their order come from the rendered `sync.yaml`
//! (`dependsOn`, `wait`, `path`), with kustomize-controller's rule that a Kustomization is
//! applied at a revision only once each one it depends on is Ready at that same revision
//! (fluxcd/kustomize-controller `checkDependencies`). Every interleaving of layer applies,
//! Dex pod replacements (surge first: a new pod starts before an old one stops), Dex pod
//! restarts and consumer restarts is explored; each Dex pod's client table is what its config and the
//! `dex-clients` Secret in the cluster held when it started (Dex reads `secretEnv` once).
//! Each commit's files are read from git and decrypted with the real sops. Whether a Dex
//! replica accepts a consumer's client id and secret is asked of the real oidc-provider
//! given that replica's client table.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use base64::Engine;
use serde_json::Value;

use crate::creds::secret_authenticates;
use crate::dex::{get, helm_template};
use crate::init::git;
use crate::rotate::{installation, merge_on_remote, rotate};
use crate::support::{node_modules, run, tool, Service, TestEnv};

const INSTALLATION: &str = "installations/demo";
/// The example's Grafana consumer and its keys.
const CONSUMER: &str = "secrets/oidc-consumers/monitoring.grafana-oidc.sops.yaml";
const ID_KEY: &str = "GF_AUTH_GENERIC_OAUTH_CLIENT_ID";
const SECRET_KEY: &str = "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET";
/// Dex's replicas (the rendered Deployment's `replicas`).
const REPLICAS: usize = 2;

/// One Flux Kustomization of `sync.yaml`.
#[derive(Debug, Clone)]
struct Layer {
    depends_on: Vec<String>,
    wait: bool,
}

/// A client id and its secret (`None`: a public client).
type Creds = (String, Option<String>);
/// The clients one Dex pod serves: id -> secret (`None`: public).
type Table = BTreeMap<String, Option<String>>;
/// Every (pod table, consumer credentials) pair met, with the first trace reaching it.
type Met = BTreeMap<(Table, Creds), Vec<String>>;

/// What one commit of main tells Flux.
#[derive(Debug, Clone)]
struct Revision {
    layers: BTreeMap<String, Layer>,
    /// the layers holding `dex-clients`, Dex, and the consumers' Secrets
    secrets_layer: String,
    dex_layer: String,
    consumers_layer: String,
    /// Dex's `staticClients`: id -> `secretEnv` (`None`: public)
    dex_config: BTreeMap<String, Option<String>>,
    /// `dex-clients`, decrypted: env var -> value
    dex_env: BTreeMap<String, String>,
    /// the Grafana consumer's Secret, decrypted
    consumer: Creds,
    /// Dex's HelmRelease
    release: Value,
}

/// `path` at commit `rev` of `repo`.
fn show(t: &TestEnv, repo: &Path, rev: &str, path: &str) -> String {
    git(t, repo, &["show", &format!("{rev}:{INSTALLATION}/{path}")])
}

/// The data of a SOPS-encrypted Secret at `rev`, decrypted by the real sops.
fn secret_data(
    t: &TestEnv,
    repo: &Path,
    key: &Path,
    rev: &str,
    path: &str,
) -> BTreeMap<String, String> {
    let file = t
        .path()
        .join(format!("{}.sops.yaml", rev.replace('/', "-")));
    std::fs::write(&file, show(t, repo, rev, path)).unwrap();
    let mut c = t.command(tool("sops"));
    c.env("SOPS_AGE_KEY_FILE", key)
        .args(["decrypt", "--output-type", "json"])
        .arg(&file);
    let v: Value = serde_json::from_str(&run(c).ok().stdout).unwrap();
    v["data"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, b64)| {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64.as_str().unwrap())
                .unwrap();
            (k.clone(), String::from_utf8(raw).unwrap())
        })
        .collect()
}

fn revision(t: &TestEnv, repo: &Path, key: &Path, rev: &str) -> Revision {
    let sync = show(t, repo, rev, "manifests/sync.yaml");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&sync).unwrap();
    let mut layers = BTreeMap::new();
    let mut by_path = BTreeMap::new();
    for d in docs.iter().filter(|d| d["kind"] == "Kustomization") {
        let name = d["metadata"]["name"].as_str().unwrap().to_owned();
        let depends_on = d["spec"]["dependsOn"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| x["name"].as_str().unwrap().to_owned())
            .collect();
        let wait = d["spec"]["wait"].as_bool().unwrap_or(false);
        let path = d["spec"]["path"].as_str().unwrap();
        by_path.insert(path.trim_start_matches("./").to_owned(), name.clone());
        layers.insert(name, Layer { depends_on, wait });
    }
    let layer_of = |p: &str| {
        by_path
            .get(&format!("{INSTALLATION}/{p}"))
            .unwrap_or_else(|| panic!("no Flux Kustomization applies {p}: {by_path:?}"))
            .clone()
    };
    // Dex's config: the `config` value of its HelmRelease.
    let release: Vec<Value> =
        serde_saphyr::from_multiple(&show(t, repo, rev, "manifests/apps/dex/release.yaml"))
            .unwrap();
    let release = release
        .into_iter()
        .find(|d| d["kind"] == "HelmRelease")
        .unwrap();
    let dex_config = release["spec"]["values"]["config"]["staticClients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let id = c["id"].as_str().unwrap().to_owned();
            let env = c["secretEnv"].as_str().map(str::to_owned);
            assert_eq!(env.is_none(), c["public"] == true, "{c}");
            (id, env)
        })
        .collect();
    let consumer = secret_data(t, repo, key, rev, CONSUMER);
    Revision {
        secrets_layer: layer_of("secrets"),
        dex_layer: layer_of("manifests/apps"),
        consumers_layer: layer_of("secrets/oidc-consumers"),
        layers,
        dex_config,
        dex_env: secret_data(t, repo, key, rev, "secrets/dex-clients.sops.yaml"),
        consumer: (consumer[ID_KEY].clone(), Some(consumer[SECRET_KEY].clone())),
        release,
    }
}

impl Revision {
    /// The table of a Dex pod starting with this config while `env` is in the cluster; an
    /// error when a confidential client's variable is missing (Dex would not start).
    fn table(&self, env: &BTreeMap<String, String>) -> Result<Table, String> {
        self.dex_config
            .iter()
            .map(|(id, var)| match var {
                None => Ok((id.clone(), None)),
                Some(v) => env
                    .get(v)
                    .map(|s| (id.clone(), Some(s.clone())))
                    .ok_or_else(|| format!("a Dex pod starts without {v} (client {id})")),
            })
            .collect()
    }
}

/// The cluster as the stand-in sees it, between revision `from` and `to`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct State {
    /// layer -> index of the revision it last applied
    applied: BTreeMap<String, usize>,
    /// Dex's pods: (revision of their config, their client table)
    pods: Vec<(usize, Table)>,
    /// the consumer's running process: the credentials it read at its start
    consumer_running: Creds,
}

/// The replay of one merge: revisions `revs[from]` -> `revs[to]`, as Flux may apply them.
struct Replay<'a> {
    revs: &'a [Revision],
    to: usize,
    /// every (pod table, consumer credentials) pair met, with the first trace reaching it
    met: Met,
    /// failures of the stand-in itself (a pod that cannot start), with their trace
    broken: Vec<String>,
    seen: BTreeSet<State>,
}

impl Replay<'_> {
    fn rev(&self) -> &Revision {
        &self.revs[self.to]
    }

    /// Ready at the target revision: applied, and (with `wait`) Dex rolled out.
    fn ready(&self, s: &State, layer: &str) -> bool {
        let r = self.rev();
        s.applied.get(layer) == Some(&self.to)
            && (layer != r.dex_layer
                || !r.layers[layer].wait
                || s.pods.iter().all(|(c, _)| *c == self.to))
    }

    /// The `dex-clients` in the cluster now.
    fn env<'s>(&'s self, s: &State) -> &'s BTreeMap<String, String> {
        &self.revs[s.applied[&self.rev().secrets_layer]].dex_env
    }

    /// The consumer Secret in the cluster now.
    fn consumer_secret(&self, s: &State) -> Creds {
        self.revs[s.applied[&self.rev().consumers_layer]]
            .consumer
            .clone()
    }

    fn record(&mut self, s: &State, trace: &[String]) {
        for (_, table) in &s.pods {
            for creds in [self.consumer_secret(s), s.consumer_running.clone()] {
                self.met
                    .entry((table.clone(), creds))
                    .or_insert_with(|| trace.to_vec());
            }
        }
    }

    fn explore(&mut self, s: State, trace: &mut Vec<String>) {
        if !self.seen.insert(s.clone()) {
            return;
        }
        self.record(&s, trace);
        let r = self.rev().clone();
        // Flux applies a layer at the new revision once its dependencies are Ready there.
        for (name, layer) in &r.layers {
            if s.applied.get(name) == Some(&self.to)
                || !layer.depends_on.iter().all(|d| self.ready(&s, d))
            {
                continue;
            }
            let mut next = s.clone();
            next.applied.insert(name.clone(), self.to);
            trace.push(format!("apply {name}"));
            self.explore(next, trace);
            trace.pop();
        }
        // Dex's rolling update: a new pod starts (reading the Secret now in the cluster),
        // then an old one stops.
        if s.applied.get(&r.dex_layer) == Some(&self.to) {
            if let Some(old) = s.pods.iter().position(|(c, _)| *c != self.to) {
                match r.table(self.env(&s)) {
                    Err(e) => self.broken.push(format!("{e} after: {}", trace.join(", "))),
                    Ok(table) => {
                        let mut surge = s.clone();
                        surge.pods.push((self.to, table));
                        trace.push("start a new Dex pod".into());
                        self.record(&surge, trace);
                        let mut next = surge;
                        next.pods.remove(old);
                        next.pods.sort();
                        trace.push("stop an old Dex pod".into());
                        self.explore(next, trace);
                        trace.truncate(trace.len() - 2);
                    }
                }
            }
        }
        // Any Dex pod may restart (a crash, a drained node): its config, the Secret now.
        let configs: BTreeSet<usize> = s.pods.iter().map(|(c, _)| *c).collect();
        for c in configs {
            match self.revs[c].table(self.env(&s)) {
                Err(e) => self.broken.push(format!("{e} after: {}", trace.join(", "))),
                Ok(table) => {
                    let mut next = s.clone();
                    let i = next.pods.iter().position(|(x, _)| *x == c).unwrap();
                    next.pods[i] = (c, table);
                    next.pods.sort();
                    trace.push(format!("a Dex pod of revision {c} restarts"));
                    self.explore(next, trace);
                    trace.pop();
                }
            }
        }
        // The consumer restarts with the Secret in the cluster (any time after a change).
        let secret = self.consumer_secret(&s);
        if s.consumer_running != secret {
            let mut next = s.clone();
            next.consumer_running = secret;
            trace.push("the consumer restarts".into());
            self.explore(next, trace);
            trace.pop();
        }
    }
}

/// The converged cluster at revision `i`: every layer applied, every pod and the
/// consumer started from it.
fn converged(revs: &[Revision], i: usize) -> State {
    let r = &revs[i];
    let table = r.table(&r.dex_env).unwrap();
    State {
        applied: r.layers.keys().map(|l| (l.clone(), i)).collect(),
        pods: vec![(i, table); REPLICAS],
        consumer_running: r.consumer.clone(),
    }
}

/// Replays every merge of `revs` (each from the converged previous one); returns every
/// (pod table, consumer credentials) pair met, with a trace, and the stand-in's failures.
fn replay(revs: &[Revision]) -> (Met, Vec<String>) {
    let mut met = BTreeMap::new();
    let mut broken = Vec::new();
    for to in 1..revs.len() {
        let mut r = Replay {
            revs,
            to,
            met: BTreeMap::new(),
            broken: Vec::new(),
            seen: BTreeSet::new(),
        };
        r.explore(converged(revs, to - 1), &mut vec![format!("merge {to}")]);
        met.append(&mut r.met);
        broken.append(&mut r.broken);
    }
    (met, broken)
}

/// Whether a Dex pod with `table` accepts `creds`, by the stand-in's own lookup.
fn accepts(table: &Table, creds: &Creds) -> bool {
    table.get(&creds.0) == Some(&creds.1)
}

/// The real oidc-provider serving each distinct Dex table: asks it for every pair.
fn provider_verdicts(t: &TestEnv, met: &Met) -> BTreeMap<(Table, Creds), bool> {
    let tables: BTreeSet<&Table> = met.keys().map(|(t, _)| t).collect();
    let mut out = BTreeMap::new();
    for (i, table) in tables.into_iter().enumerate() {
        let clients: Vec<Value> = table
            .iter()
            .filter_map(|(id, s)| {
                s.as_ref()
                    .map(|s| serde_json::json!({"client_id": id, "client_secret": s}))
            })
            .collect();
        let dir = t.path().join(format!("oidc-{i}"));
        let nm = node_modules();
        let clients = serde_json::to_string(&clients).unwrap();
        let svc = Service::start(
            "oidc-provider.sh",
            &dir,
            &["0", "unused"],
            &[
                ("OIDC_NODE_MODULES", nm.to_str().unwrap()),
                ("OIDC_STATIC_CLIENTS", &clients),
            ],
        );
        let issuer = svc.var("OIDC_ISSUER").to_owned();
        for (tbl, creds) in met.keys().filter(|(x, _)| x == table) {
            let ok = match &creds.1 {
                Some(secret) => secret_authenticates(&issuer, &creds.0, secret),
                None => tbl.get(&creds.0) == Some(&None),
            };
            out.insert((tbl.clone(), creds.clone()), ok);
        }
    }
    out
}

/// `mcb check`'s findings of the rules about spec, inventory, manifests and consumers:
/// (rule, file).
fn consistency_findings(t: &TestEnv, repo: &Path) -> Vec<(String, String)> {
    let mut c = t.mcb();
    c.arg("--repo")
        .arg(repo)
        .args(["check", "-o", "json", "--kubectl"])
        .arg(tool("kubectl"));
    let r = run(c);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
            (s("rule"), s("file"))
        })
        .filter(|(rule, _)| {
            ["render-drift", "oidc-consumer-secret", "kustomize-build"].contains(&rule.as_str())
        })
        .collect()
}

/// `mcb check` on the work tree finds no drift between spec, inventory and manifests,
/// every consumer has its Secret (and no other is there), every kustomization builds.
fn consistent(t: &TestEnv, repo: &Path) {
    let bad = consistency_findings(t, repo);
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn check_finds_a_missing_and_an_orphaned_consumer_secret() {
    let (t, repo, _key) = installation();
    let dir = repo.join(INSTALLATION).join("secrets/oidc-consumers");
    let grafana = dir.join("monitoring.grafana-oidc.sops.yaml");
    let orphan = dir.join("tools.old-app.sops.yaml");
    std::fs::rename(&grafana, &orphan).unwrap();
    let found = consistency_findings(&t, &repo);
    let rule = |f: &str| {
        found
            .iter()
            .any(|(r, file)| r == "oidc-consumer-secret" && file.ends_with(f))
    };
    assert!(rule("installation.yaml"), "the missing one: {found:?}");
    assert!(rule("tools.old-app.sops.yaml"), "the orphan: {found:?}");
}

#[test]
fn static_client_rotation_has_no_moment_where_dex_and_a_consumer_disagree() {
    let (t, repo, key) = installation();
    let key_arg = key.to_str().unwrap();
    git(&t, &repo, &["push", "-q", "origin", "main"]);
    let mut revs = vec![revision(&t, &repo, &key, "main")];
    // init: the consumer holds the client Dex serves; kubectl is public (no secret).
    let r0 = &revs[0];
    assert_eq!(
        r0.dex_config.get("kubectl"),
        Some(&None),
        "{:?}",
        r0.dex_config
    );
    assert!(
        r0.dex_env.keys().all(|k| !k.contains("KUBECTL")),
        "{:?}",
        r0.dex_env.keys()
    );
    assert!(accepts(&r0.table(&r0.dex_env).unwrap(), &r0.consumer));

    // rotate: nothing reaches the cluster before the merge (Flux syncs main).
    rotate(
        &t,
        &repo,
        &["--only", "oidc/grafana", "--age-key-file", key_arg],
    )
    .ok();
    let branch = "mcb/rotate-demo-oidc-grafana";
    assert_eq!(
        revision(&t, &repo, &key, "origin/main").consumer,
        r0.consumer
    );
    merge_on_remote(&t, &repo, branch);
    git(&t, &repo, &["fetch", "-q", "origin"]);
    revs.push(revision(&t, &repo, &key, "origin/main"));
    let (old, new) = (revs[0].consumer.clone(), revs[1].consumer.clone());
    assert_ne!(old.0, new.0, "a new client id per rotation");
    assert_ne!(old.1, new.1, "a new secret");
    let served: BTreeSet<&String> = revs[1].dex_config.keys().collect();
    assert!(
        served.contains(&old.0) && served.contains(&new.0),
        "{served:?}"
    );
    consistent(&t, &repo);
    // A second rotation before --finish is refused; the API server's kubectl client is
    // public and has nothing to rotate.
    let r = rotate(
        &t,
        &repo,
        &["--only", "oidc/grafana", "--age-key-file", key_arg],
    );
    assert!(r.fails_with(2).stderr.contains("not finished"));
    let r = rotate(
        &t,
        &repo,
        &["--only", "oidc/kubectl", "--age-key-file", key_arg],
    );
    assert!(!r.status.success(), "{}", r.stdout);

    // finish: Dex stops serving the old id.
    git(&t, &repo, &["switch", "-q", "main"]);
    git(&t, &repo, &["merge", "-q", "--ff-only", "origin/main"]);
    let mut c = t.mcb();
    c.arg("--repo")
        .arg(&repo)
        .args(["rotate", "demo", "--finish", "--age-key-file", key_arg]);
    run(c).ok();
    merge_on_remote(&t, &repo, "mcb/rotate-demo-finish");
    git(&t, &repo, &["fetch", "-q", "origin"]);
    revs.push(revision(&t, &repo, &key, "origin/main"));
    assert!(
        !revs[2].dex_config.contains_key(&old.0),
        "{:?}",
        revs[2].dex_config
    );
    assert_eq!(revs[2].consumer, new);
    consistent(&t, &repo);

    // Dex rolls at each merge: the chart (rendered by Helm's engine with each commit's
    // values) annotates the pod template with its config's checksum, which the served ids
    // change.
    let templates: Vec<Value> = revs
        .iter()
        .map(|r| {
            let objs = helm_template(&t, &r.release);
            let d = get(&objs, "Deployment", "dex");
            d["spec"]["template"]["metadata"]["annotations"].clone()
        })
        .collect();
    assert_ne!(templates[0], templates[1], "Dex rolls on the rotation");
    assert_ne!(templates[1], templates[2], "Dex rolls on --finish");

    let (met, broken) = replay(&revs);
    assert!(broken.is_empty(), "{broken:#?}");
    let verdicts = provider_verdicts(&t, &met);
    for ((table, creds), trace) in &met {
        let ok = verdicts[&(table.clone(), creds.clone())];
        assert_eq!(
            ok,
            accepts(table, creds),
            "the stand-in agrees with the provider"
        );
        assert!(
            ok,
            "a Dex pod serving {:?} rejects the consumer's client {} after: {}",
            table.keys().collect::<Vec<_>>(),
            creds.0,
            trace.join(", ")
        );
        assert_eq!(table.get("kubectl"), Some(&None), "kubectl stays public");
    }
    eprintln!(
        "replayed {} merges: {} (pod table, consumer credentials) pairs, all accepted",
        revs.len() - 1,
        met.len()
    );

    // The replay finds a window when there is one: consumers applied without waiting for
    // Dex, or Dex's layer Ready before its rollout ends.
    for (what, edit) in [
        (
            "consumers not after Dex",
            (|r: &mut Revision| {
                let c = r.consumers_layer.clone();
                r.layers.get_mut(&c).unwrap().depends_on.clear();
            }) as fn(&mut Revision),
        ),
        ("Dex's layer without wait", |r: &mut Revision| {
            let d = r.dex_layer.clone();
            r.layers.get_mut(&d).unwrap().wait = false;
        }),
    ] {
        let mut bad = revs.clone();
        bad.iter_mut().for_each(edit);
        let (met, _) = replay(&bad);
        assert!(
            met.iter().any(|((t, c), _)| !accepts(t, c)),
            "{what}: the replay must find a pod rejecting the consumer"
        );
    }
}
