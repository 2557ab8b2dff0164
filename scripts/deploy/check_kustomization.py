"""Static checks of deploy/kubernetes/ that need no cluster (scripts/check-deploy.sh).

kustomize is not available here, so this checks what `kubectl apply -k` relies on:
the kustomization lists exactly the manifests present, its generator files exist, its
patch hits the ServiceAccount annotation, names and namespaces line up, and the two
Prometheus Operator objects (no CRD schema offline) carry the fields we use, with
metric names that burnwatch really registers (src/telemetry*.rs).
"""
import pathlib
import re
import sys

import yaml

root = pathlib.Path(sys.argv[1])
src = pathlib.Path(sys.argv[2])
errors = []


def check(ok, msg):
    if not ok:
        errors.append(msg)


def load(name):
    return yaml.safe_load((root / name).read_text())


k = load("kustomization.yaml")
present = sorted(p.name for p in root.glob("*.yaml") if p.name != "kustomization.yaml")
check(sorted(k["resources"]) == present,
      f"kustomization resources {sorted(k['resources'])} != files present {present}")
ns = k["namespace"]
check(ns == "burnwatch", f"namespace {ns}")

docs = {}
for name in k["resources"]:
    d = load(name)
    docs[d["kind"]] = d
    meta = d["metadata"]
    if d["kind"] != "Namespace":
        check(meta.get("namespace") == ns, f"{name}: namespace {meta.get('namespace')} != {ns}")

gens = k["configMapGenerator"]
check(len(gens) == 1, "one configMapGenerator")
gen = gens[0]
for f in gen["files"]:
    check((root / f).is_file(), f"configMapGenerator file {f} missing")
gen_keys = [pathlib.Path(f).name for f in gen["files"]]
check(len(set(gen_keys)) == len(gen_keys), f"duplicate ConfigMap keys {gen_keys}")
cfg_dir = root / "config"
on_disk = sorted(p.relative_to(root).as_posix() for p in cfg_dir.glob("*"))
check(sorted(gen["files"]) == on_disk, f"generator files {gen['files']} != {on_disk}")
config = yaml.safe_load((cfg_dir / "burnwatch.yaml").read_text())
check(sorted(config["specs"]) == sorted(x for x in gen_keys if x != "burnwatch.yaml"),
      f"config specs {config['specs']} != the generated spec keys")

sa = docs["ServiceAccount"]
role_key = "eks.amazonaws.com/role-arn"
check(role_key in sa["metadata"].get("annotations", {}), "ServiceAccount has no IRSA annotation")
patches = k.get("patches", [])
hits = [p for p in patches if p["target"] == {"kind": "ServiceAccount", "name": sa["metadata"]["name"]}]
check(len(hits) == 1, "one patch on the ServiceAccount")
if hits:
    ops = yaml.safe_load(hits[0]["patch"])
    check(ops[0]["path"] == "/metadata/annotations/" + role_key.replace("~", "~0").replace("/", "~1"),
          f"patch path {ops[0]['path']}")
    check(re.fullmatch(r"arn:aws:iam::\d{12}:role/.+", ops[0]["value"]) is not None,
          f"patch value {ops[0]['value']} is not a role ARN")

sts = docs["StatefulSet"]
spec = sts["spec"]
pod = spec["template"]["spec"]
check(spec["replicas"] == 2, "2 replicas")
check(pod["serviceAccountName"] == sa["metadata"]["name"], "StatefulSet uses the ServiceAccount")
check(any(v.get("configMap", {}).get("name") == gen["name"] for v in pod["volumes"]),
      "StatefulSet mounts the generated ConfigMap")
check([t["metadata"]["name"] for t in spec["volumeClaimTemplates"]] == ["data"], "one PVC template")
c = pod["containers"][0]
mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
check(mounts.get("/var/lib/burnwatch") == "data", "the store is on the PVC")
check(pathlib.PurePosixPath(config["storage"]["path"]).parent.as_posix() == "/var/lib/burnwatch",
      "storage.path is on the PVC")
check(mounts.get("/etc/burnwatch") == "config", "config at /etc/burnwatch")
check(config["listen"].endswith(":9464"), "listen on 9464")
images = {i["name"] for i in k.get("images", [])}
check(c["image"].split(":")[0] in images, "the image is set in kustomization images")
sec = c["securityContext"]
check(sec["runAsNonRoot"] and sec["runAsUser"] == 65532 and sec["readOnlyRootFilesystem"]
      and not sec["allowPrivilegeEscalation"] and sec["capabilities"]["drop"] == ["ALL"]
      and sec["seccompProfile"]["type"] == "RuntimeDefault", "container security context")
check(c["livenessProbe"]["httpGet"]["path"] == "/healthz", "liveness /healthz")
check(c["readinessProbe"]["httpGet"]["path"] == "/readyz", "readiness /readyz")
check(any(t["topologyKey"] == "topology.kubernetes.io/zone" for t in pod["topologySpreadConstraints"]),
      "spread across zones")
for e in c.get("env", []):
    ref = e.get("valueFrom", {}).get("secretKeyRef")
    check(ref is None or ref.get("optional") is True, f"secret {e['name']} optional")


def seconds(d):
    m = re.fullmatch(r"(\d+)(ms|s|m|h)", d)
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


# Default from src/config/mod.rs when the file does not set it.
default_shutdown = re.search(r"fn default_shutdown_timeout\(\) -> Duration \{\s*Duration::from_secs\((\d+)\)",
                             (src / "config/mod.rs").read_text())
shutdown = seconds(config.get("outbox", {}).get("shutdown_timeout", f"{default_shutdown.group(1)}s"))
check(pod["terminationGracePeriodSeconds"] > shutdown,
      f"terminationGracePeriodSeconds {pod['terminationGracePeriodSeconds']} <= shutdown_timeout {shutdown}s")

svc = docs["Service"]
check(svc["spec"]["ports"][0]["port"] == 9464, "Service on 9464")
port_names = {p["name"] for p in svc["spec"]["ports"]}
pdb = docs["PodDisruptionBudget"]
check(pdb["spec"]["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items(),
      "PDB selects the pods")
np = docs["NetworkPolicy"]
check(np["spec"]["ingress"] == [{"from": [{"namespaceSelector": {"matchLabels": {
    "kubernetes.io/metadata.name": "monitoring"}}}], "ports": [{"protocol": "TCP", "port": 9464}]}],
      "ingress: 9464 from monitoring only")
egress_ports = sorted({p["port"] for r in np["spec"]["egress"] for p in r["ports"]})
check(egress_ports == [53, 443, 5432, 9093], f"egress ports {egress_ports}")
am = [r for r in np["spec"]["egress"] if any(p["port"] == 9093 for p in r["ports"])]
check(len(am) == 1 and am[0].get("to") == [{"namespaceSelector": {"matchLabels": {
    "kubernetes.io/metadata.name": "monitoring"}}}], "egress: Alertmanager (9093) in monitoring only")

# CRDs: the fields we use, as the Prometheus Operator (monitoring.coreos.com/v1) names them.
sm = docs["ServiceMonitor"]
check(sm["apiVersion"] == "monitoring.coreos.com/v1", "ServiceMonitor apiVersion")
check(sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items(),
      "ServiceMonitor selects the Service")
check(sm["spec"]["namespaceSelector"]["matchNames"] == [ns], "ServiceMonitor namespace")
for ep in sm["spec"]["endpoints"]:
    check(set(ep) <= {"port", "path", "interval", "scrapeTimeout"}, f"endpoint fields {set(ep)}")
    check(ep["port"] in port_names, f"endpoint port {ep['port']} not a Service port")
    check(ep["path"] == "/metrics", "scrapes /metrics")
pr = docs["PrometheusRule"]
check(pr["apiVersion"] == "monitoring.coreos.com/v1", "PrometheusRule apiVersion")
check(set(pr["spec"]) == {"groups"}, "PrometheusRule spec has groups only")
registered = set(re.findall(r'"(burnwatch_[a-z_]+)"', "".join(
    p.read_text() for p in [src / "telemetry.rs", *sorted((src / "telemetry").glob("*.rs"))])))
for g in pr["spec"]["groups"]:
    check(set(g) <= {"name", "interval", "rules"}, f"group fields {set(g)}")
    for r in g["rules"]:
        check(set(r) <= {"alert", "expr", "for", "labels", "annotations"}, f"rule fields {set(r)}")
        check(r["labels"]["severity"] in {"page", "ticket"}, f"{r['alert']}: severity")
        for m in re.findall(r"burnwatch_[a-z_]+", r["expr"]):
            base = m[:-len("_total")] if m.endswith("_total") else m
            check(base in registered, f"{r['alert']}: {m} is not a metric burnwatch registers")

# Every self-alert fires in some promtool test case, and the healthy case expects none.
tests = yaml.safe_load((root / "tests/prometheusrule-test.yaml").read_text())["tests"]
alerts = [r["alert"] for g in pr["spec"]["groups"] for r in g["rules"]]
fired = {t["alertname"] for case in tests for t in case.get("alert_rule_test", []) if t.get("exp_alerts")}
check(set(alerts) <= fired, f"self-alerts no promtool test fires: {sorted(set(alerts) - fired)}")
quiet = [case for case in tests if case["name"] == "a healthy replica fires nothing"]
check(len(quiet) == 1 and {t["alertname"] for t in quiet[0]["alert_rule_test"] if t["exp_alerts"] == []} == set(alerts),
      "the healthy case checks every self-alert stays quiet")

if errors:
    for e in errors:
        print(f"check-deploy: {e}", file=sys.stderr)
    sys.exit(1)
print(f"kustomization: {len(k['resources'])} manifests, {len(gen['files'])} config files, checks ok")
