#!/usr/bin/env python3
"""A recording stand-in for `kubectl` talking to a fresh cluster.

No Kubernetes API server can run on the test machines, so `mcb bootstrap --apply` is tested
against this script instead. It keeps the cluster's state in $FAKE_KUBECTL_STATE (a JSON
file) and enforces what a real API server does to a bootstrap on a fresh cluster:

- `apply --server-side -f -`: every object of a custom kind (a group that is not built in)
  needs its CustomResourceDefinition applied AND Established first, else the whole apply
  fails like kubectl ("no matches for kind ... ensure CRDs are installed first"); a
  namespaced object needs its Namespace. Applying the same object again is fine.
- a CRD becomes Established only when someone waits for it (`wait
  --for=condition=Established crd/NAME`): time passes only while waiting.
- `rollout status deployment/NAME`: succeeds for an applied Deployment, unless listed in
  $FAKE_KUBECTL_ROLLOUT_FAIL (comma-separated), then it times out.
- `wait --for=condition=Ready RESOURCE/NAME`: the object must exist and the controllers it
  needs rolled out (source-controller for sources, kustomize-controller for
  Kustomizations); $FAKE_KUBECTL_NOT_READY (comma-separated resource/name) times out.
- `get RESOURCE/NAME -o json`: the object with status conditions; a Ready=False one with
  $FAKE_KUBECTL_MESSAGE for objects that are not ready.

Every call is appended to $FAKE_KUBECTL_STATE.log as one line: the arguments and, for apply,
the objects as kind/namespace/name (never their content: two are secrets).
"""
import json
import os
import sys

import yaml

BUILTIN_GROUPS = {"", "v1", "apps", "rbac.authorization.k8s.io", "networking.k8s.io",
                  "apiextensions.k8s.io", "policy", "batch"}
CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole",
                  "ClusterRoleBinding"}
NEEDS = {"gitrepositories.source.toolkit.fluxcd.io": "source-controller",
         "kustomizations.kustomize.toolkit.fluxcd.io": "kustomize-controller"}

state_file = os.environ["FAKE_KUBECTL_STATE"]
log_file = state_file + ".log"


def load():
    if os.path.exists(state_file):
        with open(state_file) as f:
            return json.load(f)
    return {"objects": {}, "crds": {}, "rolledOut": []}


def save(s):
    with open(state_file, "w") as f:
        json.dump(s, f, indent=1, sort_keys=True)


def log(line):
    with open(log_file, "a") as f:
        f.write(line + "\n")


def fail(msg, code=1):
    sys.stderr.write(msg + "\n")
    sys.exit(code)


def env_list(name):
    return [x for x in os.environ.get(name, "").split(",") if x]


def group_of(api_version):
    return api_version.split("/")[0] if "/" in api_version else ""


def key(resource, ns, name):
    return f"{resource}/{ns or ''}/{name}"


def resource_of(state, obj):
    """`plural.group` for custom kinds (from the CRD), `kind` lower-case for built-ins."""
    group = group_of(obj["apiVersion"])
    if group in BUILTIN_GROUPS:
        return obj["kind"].lower()
    for name, crd in state["crds"].items():
        if crd["group"] == group and crd["kind"] == obj["kind"]:
            return name
    return None


def apply(state, args):
    docs = [d for d in yaml.safe_load_all(sys.stdin.read()) if d]
    names = []
    # Validate the whole stream first, as kubectl resolves every mapping before applying.
    for d in docs:
        group = group_of(d["apiVersion"])
        ns = d["metadata"].get("namespace")
        if d["kind"] not in CLUSTER_SCOPED and ns is None:
            fail(f"error: {d['kind']}/{d['metadata']['name']} has no namespace")
        if group not in BUILTIN_GROUPS:
            crd = resource_of(state, d)
            if crd is None or not state["crds"][crd]["established"]:
                fail(f'error: resource mapping not found for name: "{d["metadata"]["name"]}" '
                     f'namespace: "{ns}" from "STDIN": no matches for kind "{d["kind"]}" in version '
                     f'"{d["apiVersion"]}"\nensure CRDs are installed first')
        if ns is not None and key("namespace", None, ns) not in state["objects"] \
                and not any(x["kind"] == "Namespace" and x["metadata"]["name"] == ns for x in docs):
            fail(f'Error from server (NotFound): namespaces "{ns}" not found')
    for d in docs:
        ns = d["metadata"].get("namespace")
        if d["kind"] == "CustomResourceDefinition":
            spec = d["spec"]
            state["crds"].setdefault(d["metadata"]["name"], {
                "group": spec["group"], "kind": spec["names"]["kind"], "established": False})
        state["objects"][key(resource_of(state, d), ns, d["metadata"]["name"])] = {
            "kind": d["kind"], "apiVersion": d["apiVersion"]}
        names.append(f"{d['kind']}/{ns or '-'}/{d['metadata']['name']}")
    log(" ".join(args) + " :: " + " ".join(names))
    print(f"{len(docs)} objects serverside-applied")


def ns_of(args):
    return args[args.index("-n") + 1] if "-n" in args else None


def ready(state, resource, ns, name):
    if key(resource, ns, name) not in state["objects"]:
        return False
    if f"{resource}/{name}" in env_list("FAKE_KUBECTL_NOT_READY"):
        return False
    controller = NEEDS.get(resource)
    return controller is None or controller in state["rolledOut"]


def main():
    args = sys.argv[1:]
    if "--kubeconfig" in args:
        i = args.index("--kubeconfig")
        args = args[:i] + args[i + 2:]
    state = load()
    ns = ns_of(args)
    if "apply" in args:
        if "--server-side" not in args:
            fail("error: the stand-in only accepts server-side apply")
        apply(state, args)
    elif "wait" in args and "--for=condition=Established" in args:
        log(" ".join(args))
        for a in args:
            if a.startswith("crd/"):
                n = a[len("crd/"):]
                if n not in state["crds"]:
                    fail(f'Error from server (NotFound): customresourcedefinitions "{n}" not found')
                state["crds"][n]["established"] = True
    elif "rollout" in args:
        log(" ".join(args))
        target = next(a for a in args if a.startswith("deployment/"))
        name = target.split("/", 1)[1]
        if key("deployment", ns, name) not in state["objects"]:
            fail(f'Error from server (NotFound): deployments.apps "{name}" not found')
        if name in env_list("FAKE_KUBECTL_ROLLOUT_FAIL"):
            fail(f'error: timed out waiting for the condition')
        if name not in state["rolledOut"]:
            state["rolledOut"].append(name)
    elif "wait" in args and "--for=condition=Ready" in args:
        log(" ".join(args))
        target = args[-1]
        resource, name = target.split("/", 1)
        if not ready(state, resource, ns, name):
            save(state)
            fail(f"error: timed out waiting for the condition on {target}")
    elif "get" in args:
        log(" ".join(args))
        target = args[args.index("get") + 1]
        resource, name = target.split("/", 1)
        if key(resource, ns, name) not in state["objects"]:
            fail(f'Error from server (NotFound): {resource} "{name}" not found')
        ok = ready(state, resource, ns, name)
        cond = {"type": "Ready", "status": "True" if ok else "False",
                "reason": "Succeeded" if ok else "GitOperationFailed",
                "message": "stored artifact" if ok else os.environ.get("FAKE_KUBECTL_MESSAGE", "not ready")}
        print(json.dumps({"metadata": {"name": name, "namespace": ns},
                          "status": {"conditions": [cond]}}))
    else:
        fail("fake-kubectl: unsupported call: " + " ".join(args), 2)
    save(state)


main()
