"""The Kubernetes manifests (deploy/k8s), checked without a cluster.

Each kustomization is rendered as ``kubectl apply -k`` renders it: by kustomize (the
``kustomize`` binary, or ``kubectl kustomize``) where one is installed, else by the small
renderer below, which does the part of kustomize these manifests use, refuses the rest, and
must render exactly what kustomize renders wherever both can run. Every object is validated
against the Kubernetes OpenAPI schemas that kubernetes-validate bundles (strict: an unknown
field is an error), at the oldest Kubernetes version supported here and the newest it knows;
KEDA's custom resources against deploy/k8s/schemas/. The other tests check what no schema
can: references resolve, selectors select, and the manifests agree with docker-compose.yml,
the Dockerfiles, the services' settings and the RQ queue names.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml
from jsonschema import Draft202012Validator
from rq import Queue

from contracts.jobs import WORKER_QUEUES
from core.settings import env_name
from gateway.settings import GatewaySettings
from trainer.settings import TrainerEnv, parse_args
from worker.settings import WorkerSettings

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
# The Secret the base names and never defines: the operator's (or an overlay's), in this format.
SECRET = "digits-secrets"
SECRET_EXAMPLE = K8S / "overlays" / "production" / "secrets.env.example"
SCHEMAS = K8S / "schemas"
KUSTOMIZATIONS = ["base", *sorted(f"overlays/{p.parent.name}" for p in (K8S / "overlays").glob("*/kustomization.yaml"))]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
OLDEST_KUBERNETES = "1.29"
KUBERNETES_VERSIONS = (OLDEST_KUBERNETES, kubernetes_validate.latest_version())
PART_OF = {"app.kubernetes.io/part-of": "digits"}
# What each of our containers runs (compose's `command`) and the settings that read its environment.
SETTINGS: dict[str, Any] = {"gateway": GatewaySettings, "worker": WorkerSettings, "train": TrainerEnv,
                             "seed": TrainerEnv}
CLUSTER_SCOPED = {"Namespace", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding",
                  "CustomResourceDefinition", "IngressClass", "PriorityClass", "ClusterTriggerAuthentication"}


# --- schemas -------------------------------------------------------------------------------

def _crd_validators() -> dict[tuple[str, str], Draft202012Validator]:
    """(apiVersion, kind) -> validator, from deploy/k8s/schemas/<group>/<kind>_<version>.json."""
    validators = {}
    for path in sorted(SCHEMAS.glob("*/*.json")):
        schema = json.loads(path.read_text())
        Draft202012Validator.check_schema(schema)
        kind = schema["properties"]["kind"]["const"]
        lower_kind, version = path.stem.rsplit("_", 1)
        assert lower_kind == kind.lower(), path
        validators[(f"{path.parent.name}/{version}", kind)] = Draft202012Validator(schema)
    return validators


CRD_VALIDATORS = _crd_validators()


def _where(path: Any) -> str:
    return "/".join(str(part) for part in path) or "(top)"


def schema_errors(obj: Any) -> list[str]:
    """Why ``obj`` is not a valid object of its kind; [] when it is."""
    if not isinstance(obj, dict) or not obj.get("apiVersion") or not obj.get("kind"):
        return [f"not a Kubernetes object (apiVersion and kind): {str(obj)[:80]}"]
    name = f"{obj['kind']}/{(obj.get('metadata') or {}).get('name')}"
    validator = CRD_VALIDATORS.get((obj["apiVersion"], obj["kind"]))
    if validator is not None:
        return [f"{name}: {_where(e.absolute_path)}: {e.message}" for e in validator.iter_errors(obj)]
    errors = []
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{name} (Kubernetes {version}): {_where(exc.absolute_path)}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            errors.append(f"{name}: {exc.message}")
    return errors


# --- rendering -----------------------------------------------------------------------------

class KustomizeError(Exception):
    """The kustomization cannot be rendered (or not by the renderer below)."""


def kustomize_command() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


def render_with_kustomize(directory: Path) -> list[dict]:
    command = kustomize_command()
    assert command is not None
    result = subprocess.run([*command, str(directory)], capture_output=True, text=True, timeout=120)
    if result.returncode:
        raise KustomizeError(result.stderr.strip())
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc is not None]


KUSTOMIZATION_FIELDS = {"apiVersion", "kind", "namespace", "resources", "configMapGenerator", "secretGenerator",
                        "images", "replicas", "patches"}


@dataclass
class _Level:
    objects: list[dict] = field(default_factory=list)
    hashed: set[tuple[str, str]] = field(default_factory=set)  # (kind, name) named with a hash at the end


def render_python(directory: Path) -> list[dict]:
    """kustomize build, for the fields in KUSTOMIZATION_FIELDS as these manifests use them."""
    level = _build(directory)
    renames = {}
    for obj in level.objects:
        key = (obj["kind"], obj["metadata"]["name"])
        if key in level.hashed:
            renames[key] = obj["metadata"]["name"] = f"{key[1]}-{_kustomize_hash(obj)}"
    for obj in level.objects:
        _rename_references(obj, renames)
    return level.objects


def _read(directory: Path, name: str) -> str:
    path = directory / name
    if not path.is_file():
        raise KustomizeError(f"{directory / 'kustomization.yaml'}: {name} not found")
    return path.read_text()


def _build(directory: Path) -> _Level:
    kustomization = yaml.safe_load(_read(directory, "kustomization.yaml")) or {}
    unknown = set(kustomization) - KUSTOMIZATION_FIELDS
    if unknown:
        raise KustomizeError(f"{directory}: this renderer does not do {sorted(unknown)}: render with kustomize")
    level = _Level()
    for entry in kustomization.get("resources", []):
        if (directory / entry).is_dir():
            sub = _build(directory / entry)
            level.objects += sub.objects
            level.hashed |= sub.hashed
        else:
            level.objects += [doc for doc in yaml.safe_load_all(_read(directory, entry)) if doc is not None]
    for kind, key in (("ConfigMap", "configMapGenerator"), ("Secret", "secretGenerator")):
        for generator in kustomization.get(key, []):
            _generate(directory, kind, generator, level)
    for patch in kustomization.get("patches", []):
        _patch(directory, level.objects, patch)
    namespace = kustomization.get("namespace")
    if namespace:
        for obj in level.objects:
            if obj["kind"] == "Namespace":
                obj["metadata"]["name"] = namespace  # as kustomize does
            elif obj["kind"] not in CLUSTER_SCOPED:
                obj["metadata"]["namespace"] = namespace
    for replicas in kustomization.get("replicas", []):
        targets = [o for o in level.objects if o["metadata"]["name"] == replicas["name"] and "replicas" in o["spec"]]
        if not targets:
            raise KustomizeError(f"replicas: nothing named {replicas['name']} has replicas")
        for obj in targets:
            obj["spec"]["replicas"] = replicas["count"]
    for image in kustomization.get("images", []):
        _set_image(level.objects, image)
    return level


def _generate(directory: Path, kind: str, generator: dict, level: _Level) -> None:
    options = generator.get("options", {})
    if set(generator) - {"name", "behavior", "files", "literals", "envs", "options"} \
            or set(options) - {"disableNameSuffixHash"}:
        raise KustomizeError(f"{generator['name']}: this renderer does not do {sorted(generator)} {options}")
    data: dict[str, str] = {}
    for literal in generator.get("literals", []):
        key, _, value = literal.partition("=")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        data[key] = value
    for entry in generator.get("files", []):
        key, sep, name = entry.partition("=")
        data[key if sep else Path(entry).name] = _read(directory, name if sep else entry)
    for name in generator.get("envs", []):
        for line in _read(directory, name).splitlines():
            line = line.lstrip()
            if not line or line.startswith("#"):
                continue
            key, sep, value = line.partition("=")
            if not sep:
                raise KustomizeError(f"{name}: {key}: a value from the environment is not done here")
            data[key] = value
    if kind == "Secret":
        data = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
    name = generator["name"]
    behavior = generator.get("behavior", "create")
    existing = next((o for o in level.objects if o["kind"] == kind and o["metadata"]["name"] == name), None)
    if behavior == "create":
        if existing is not None:
            raise KustomizeError(f"{kind} {name} exists already")
        obj: dict[str, Any] = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, "data": data}
        if kind == "Secret":
            obj["type"] = "Opaque"
        level.objects.append(obj)
    elif existing is None:
        raise KustomizeError(f"{kind} {name}: nothing to {behavior}")
    elif behavior == "replace":
        existing["data"] = data
    elif behavior == "merge":
        existing["data"] = {**existing.get("data", {}), **data}
    else:
        raise KustomizeError(f"{kind} {name}: behavior {behavior}")
    if options.get("disableNameSuffixHash"):
        level.hashed.discard((kind, name))
    else:
        level.hashed.add((kind, name))


def _kustomize_hash(obj: dict) -> str:
    """The suffix kustomize gives a generated ConfigMap or Secret (its api/hasher).

    kustomize looks the name up as the single field "metadata/name", never found: "" it is.
    """
    if obj["kind"] == "ConfigMap":
        encoded: dict[str, Any] = {"kind": "ConfigMap", "name": "", "data": obj.get("data", "")}
        if "binaryData" in obj:
            encoded["binaryData"] = obj["binaryData"]
    else:
        encoded = {"kind": "Secret", "type": obj.get("type", ""), "name": "", "data": obj.get("data", "")}
    text = json.dumps(encoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # Go's encoding/json escapes these.
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return hashlib.sha256(text.encode()).hexdigest()[:10].translate(str.maketrans("013ae", "ghkmt"))


def pod_specs(obj: dict) -> Iterator[dict]:
    spec = obj.get("spec") or {}
    if obj["kind"] == "Pod":
        yield spec
    elif obj["kind"] == "CronJob":
        yield spec["jobTemplate"]["spec"]["template"]["spec"]
    elif isinstance(spec.get("template"), dict):
        yield spec["template"]["spec"]


def containers(obj: dict) -> Iterator[dict]:
    for spec in pod_specs(obj):
        yield from spec.get("initContainers", [])
        yield from spec.get("containers", [])


def _rename_references(obj: dict, renames: dict[tuple[str, str], str]) -> None:
    """Point references to a generated ConfigMap or Secret at its hashed name (kustomize's
    nameReference, for the fields these manifests could use)."""
    def rename(kind: str, holder: dict | None, key: str) -> None:
        if holder and (kind, holder.get(key)) in renames:
            holder[key] = renames[(kind, holder[key])]

    for spec in pod_specs(obj):
        for volume in spec.get("volumes", []):
            rename("ConfigMap", volume.get("configMap"), "name")
            rename("Secret", volume.get("secret"), "secretName")
            for source in (volume.get("projected") or {}).get("sources", []):
                rename("ConfigMap", source.get("configMap"), "name")
                rename("Secret", source.get("secret"), "name")
        for secret in spec.get("imagePullSecrets", []):
            rename("Secret", secret, "name")
    for container in containers(obj):
        for var in container.get("env", []):
            rename("ConfigMap", (var.get("valueFrom") or {}).get("configMapKeyRef"), "name")
            rename("Secret", (var.get("valueFrom") or {}).get("secretKeyRef"), "name")
        for source in container.get("envFrom", []):
            rename("ConfigMap", source.get("configMapRef"), "name")
            rename("Secret", source.get("secretRef"), "name")
    if obj["kind"] == "Ingress":
        for tls in obj["spec"].get("tls", []):
            rename("Secret", tls, "secretName")


def _split_image(image: str) -> tuple[str, str | None]:
    if "@" in image:
        raise KustomizeError(f"{image}: digests are not done here")
    if ":" in image.rsplit("/", 1)[-1]:
        name, tag = image.rsplit(":", 1)
        return name, tag
    return image, None


def _set_image(objects: list[dict], image: dict) -> None:
    if set(image) - {"name", "newName", "newTag"}:
        raise KustomizeError(f"images: {image}: only newName and newTag are done here")
    for obj in objects:
        for container in containers(obj):
            name, tag = _split_image(container["image"])
            if name == image["name"]:
                tag = str(image.get("newTag", tag)) if image.get("newTag", tag) is not None else None
                container["image"] = str(image.get("newName", name)) + (f":{tag}" if tag else "")


def _patch(directory: Path, objects: list[dict], entry: dict) -> None:
    text = entry["patch"] if "patch" in entry else _read(directory, entry["path"])
    operations = yaml.safe_load(text)
    target = entry.get("target") or {}
    if set(entry) - {"patch", "path", "target"} or not isinstance(operations, list) or not target:
        raise KustomizeError(f"patches: only JSON 6902 patches with a target are done here: {entry}")
    if set(target) - {"group", "version", "kind", "name"}:
        raise KustomizeError(f"patches: target {target}: only group, version, kind and name are done here")

    def matches(obj: dict) -> bool:
        group, _, version = obj["apiVersion"].rpartition("/")
        wanted = {"group": group, "version": version, "kind": obj["kind"], "name": obj["metadata"]["name"]}
        return all(wanted[key] == value for key, value in target.items())

    matched = [obj for obj in objects if matches(obj)]
    if not matched:
        raise KustomizeError(f"patches: target {target} matches nothing")
    for obj in matched:
        for operation in operations:
            _json_patch(obj, operation)


def _json_patch(obj: dict, operation: dict) -> None:
    keys = [key.replace("~1", "/").replace("~0", "~") for key in operation["path"].split("/")[1:]]
    parent: Any = obj
    for key in keys[:-1]:
        parent = parent[int(key)] if isinstance(parent, list) else parent[key]
    last, op = keys[-1], operation["op"]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if op == "add":
            parent.insert(index, operation["value"])
        elif op == "replace":
            parent[index] = operation["value"]
        elif op == "remove":
            del parent[index]
        else:
            raise KustomizeError(f"patch op {op} is not done here")
    elif op == "add" or (op == "replace" and last in parent):
        parent[last] = operation["value"]
    elif op == "remove" and last in parent:
        del parent[last]
    else:
        raise KustomizeError(f"patch {operation}: cannot {op} {operation['path']}")


def render(directory: Path) -> list[dict]:
    return render_with_kustomize(directory) if kustomize_command() else render_python(directory)


def prepare_tree(destination: Path) -> Path:
    """A copy of deploy/k8s with each overlay's secret files made from their examples."""
    tree = destination / "k8s"
    shutil.copytree(K8S, tree)
    for example in tree.glob("overlays/*/*.example"):
        lines = []
        for line in example.read_text().splitlines():
            key, sep, value = line.partition("=")
            lines.append(f"{key}={value or 'test-' + key}" if sep and not line.startswith("#") else line)
        example.with_suffix("").write_text("\n".join(lines) + "\n")
    return tree


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepare_tree(tmp_path_factory.mktemp("deploy"))


def env_file(text: str) -> dict[str, str]:
    """KEY=VALUE lines, as kustomize's envs and kubectl's --from-env-file read them."""
    pairs = (line.lstrip().partition("=") for line in text.splitlines())
    return {key: value for key, sep, value in pairs if sep and not key.startswith("#")}


def operator_secret(tree: Path) -> dict:
    """The Secret as `kubectl create secret generic digits-secrets --from-env-file` makes it."""
    values = env_file((tree / SECRET_EXAMPLE.relative_to(K8S)).with_suffix("").read_text())
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": SECRET, "namespace": "digits", "labels": PART_OF},
            "data": {key: base64.b64encode(value.encode()).decode() for key, value in values.items()}}


@pytest.fixture(scope="module")
def rendered(tree: Path) -> dict[str, list[dict]]:
    """Each kustomization's objects; the base's with the Secret it expects to find."""
    renders = {name: render(tree / name) for name in KUSTOMIZATIONS}
    assert not [o for o in renders["base"] if o["kind"] == "Secret"], "the base defines no Secret"
    renders["base"].append(operator_secret(tree))
    return renders


# --- helpers over rendered objects ---------------------------------------------------------

def one(objects: list[dict], kind: str, name: str | None = None) -> dict:
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def generated(objects: list[dict], kind: str, name: str) -> dict:
    """A generated ConfigMap or Secret, whatever its hash suffix."""
    found = [o for o in objects if o["kind"] == kind and re.fullmatch(rf"{name}(-[a-z0-9]{{10}})?",
                                                                       o["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def container(obj: dict, name: str) -> dict:
    found = [c for c in containers(obj) if c["name"] == name]
    assert len(found) == 1, f"{obj['kind']}/{obj['metadata']['name']} has no container {name}"
    return found[0]


def env_of(c: dict) -> dict[str, dict]:
    return {var["name"]: var for var in c.get("env", [])}


def secret_values(objects: list[dict]) -> dict[str, dict[str, str]]:
    return {o["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in (o.get("data") or {}).items()}
            for o in objects if o["kind"] == "Secret"}


def resolved_env(c: dict, objects: list[dict]) -> dict[str, str]:
    """The container's environment as the kubelet builds it: secrets read, $(VAR) expanded."""
    secrets = secret_values(objects)
    env: dict[str, str] = {}
    for var in c.get("env", []):
        if "value" in var:
            env[var["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), var["value"])
            continue
        ref = var["valueFrom"]["secretKeyRef"]
        values = secrets.get(ref["name"], {})
        if ref["key"] in values:
            env[var["name"]] = values[ref["key"]]
        else:
            assert ref.get("optional"), f"{var['name']}: secret {ref['name']} has no key {ref['key']}"
    return env


def selects(selector: dict[str, str], obj: dict) -> bool:
    labels = obj["spec"]["template"]["metadata"].get("labels", {})
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def workloads(objects: list[dict]) -> list[dict]:
    return [o for o in objects if any(True for _ in pod_specs(o))]


def quantity(value: str | int | float) -> float:
    units = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    match = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(value))
    assert match and match.group(2) in {"", *units}, f"not a quantity: {value}"
    return float(match.group(1)) * units.get(match.group(2), 1)


def compose_service(name: str) -> dict:
    return COMPOSE["services"][name]


# --- the files -----------------------------------------------------------------------------

def kustomization_problems(directory: Path) -> list[str]:
    """Manifests the kustomization does not list, and files it names that do not exist."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    problems = []
    named = {"kustomization.yaml", *(p["path"] for p in kustomization.get("patches", []) if "path" in p)}
    for entry in kustomization.get("resources", []):
        path = directory / entry
        if not (path.is_file() or (path / "kustomization.yaml").is_file()):
            problems.append(f"resource {entry} does not exist")
    unlisted = {p.name for p in directory.glob("*.y*ml")} - named - set(kustomization.get("resources", []))
    problems += [f"{name} is not listed in resources" for name in sorted(unlisted)]
    ignored = (directory / ".gitignore").read_text().split() if (directory / ".gitignore").is_file() else []
    for key in ("configMapGenerator", "secretGenerator"):
        for generator in kustomization.get(key, []):
            files = [entry.partition("=")[2] or entry for entry in generator.get("files", [])]
            for name in [*files, *generator.get("envs", [])]:
                if (directory / name).is_file():
                    continue
                # A secrets file is the operator's own: its example is committed, the file ignored.
                if name in generator.get("envs", []) and (directory / f"{name}.example").is_file() \
                        and name in ignored:
                    continue
                problems.append(f"{generator['name']}: {name} does not exist")
    return problems


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_every_kustomization_lists_its_manifests_and_its_files_exist(name):
    assert kustomization_problems(K8S / name) == []


def test_the_listing_check_catches_an_unlisted_manifest_and_a_missing_file(tmp_path):
    base = shutil.copytree(BASE, tmp_path / "base")
    (base / "forgotten.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
    (base / "serving-config" / "batching.config").unlink()
    assert kustomization_problems(base) == ["forgotten.yaml is not listed in resources",
                                            "serving-config: serving-config/batching.config does not exist"]


def test_serving_config_copies_are_serving_config_exactly():
    """kustomize cannot read ../../serving/config: the base keeps copies, and they must not drift."""
    originals = {p.name: p.read_bytes() for p in (ROOT / "serving" / "config").glob("*.config")}
    copies = {p.name: p.read_bytes() for p in (BASE / "serving-config").glob("*.config")}
    assert copies.keys() == originals.keys()
    drifted = [name for name in originals if copies[name] != originals[name]]
    assert not drifted, f"cp serving/config/*.config deploy/k8s/base/serving-config/ ({drifted} differ)"


def manifest_files() -> list[Path]:
    files = []
    for name in KUSTOMIZATIONS:
        kustomization = yaml.safe_load((K8S / name / "kustomization.yaml").read_text())
        files += [K8S / name / entry for entry in kustomization.get("resources", []) if (K8S / name / entry).is_file()]
    return files


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: str(p.relative_to(K8S)))
def test_every_manifest_file_validates_on_its_own(path):
    documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    assert documents
    assert [error for doc in documents for error in schema_errors(doc)] == []


# --- rendering and validation --------------------------------------------------------------

@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_rendered_objects_validate_against_the_kubernetes_and_keda_schemas(rendered, name):
    objects = rendered[name]
    assert [error for obj in objects for error in schema_errors(obj)] == []
    kinds = sorted(o["kind"] for o in objects)
    for kind, count in (("Namespace", 1), ("StatefulSet", 1), ("Job", 1), ("Deployment", 3), ("Service", 5),
                        ("HorizontalPodAutoscaler", 1), ("ScaledObject", 1), ("TriggerAuthentication", 1),
                        ("PersistentVolumeClaim", 1), ("ConfigMap", 1), ("Secret", 1), ("PodDisruptionBudget", 2)):
        assert kinds.count(kind) == count, f"{name}: {kind} x{kinds.count(kind)}"


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_the_python_renderer_renders_what_kustomize_renders(tree, name):
    if kustomize_command() is None:
        pytest.skip("no kustomize or kubectl here: the tests render with the Python renderer alone")

    def index(objects: list[dict]) -> dict[tuple, dict]:
        return {(o["apiVersion"], o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o
                for o in objects}

    assert index(render_python(tree / name)) == index(render_with_kustomize(tree / name))


def test_the_python_renderer_refuses_what_it_does_not_do(tmp_path):
    base = shutil.copytree(BASE, tmp_path / "base")
    kustomization = yaml.safe_load((base / "kustomization.yaml").read_text())
    (base / "kustomization.yaml").write_text(yaml.safe_dump({**kustomization, "commonLabels": {"a": "b"}}))
    with pytest.raises(KustomizeError, match="commonLabels"):
        render_python(base)
    (base / "kustomization.yaml").write_text(yaml.safe_dump({**kustomization, "resources": ["missing.yaml"]}))
    with pytest.raises(KustomizeError, match="missing.yaml not found"):
        render_python(base)


def _deployment(objects: list[dict]) -> dict:
    return one(objects, "Deployment", "gateway")


# Each breakage, and a word the validation error must contain.
BROKEN: dict[str, tuple[Callable[[list[dict]], dict], str]] = {
    "a field of the wrong type": (lambda objs: _set(_deployment(objs), ["spec", "replicas"], "two"),
                                  "spec/replicas: 'two' is not of type"),
    "an unknown field": (lambda objs: _set(_deployment(objs), ["spec", "template", "spec", "containers", 0,
                                                               "imagePullPolicyy"], "Always"),
                         "'imagePullPolicyy' was unexpected"),
    "a required field missing": (lambda objs: _drop(one(objs, "Service", "redis"), ["spec", "ports", 0, "port"]),
                                 "'port' is a required property"),
    "a removed API version": (lambda objs: _set(one(objs, "HorizontalPodAutoscaler"), ["apiVersion"],
                                                "autoscaling/v2beta2"), "Couldn't find schema"),
    "an unknown kind": (lambda objs: _set(one(objs, "Job"), ["kind"], "Jobb"), "Couldn't find schema"),
    "KEDA: a number where KEDA wants a string": (lambda objs: _set(
        one(objs, "ScaledObject"), ["spec", "triggers", 0, "metadata", "listLength"], 8), "listLength: 8 is not"),
    "KEDA: a misspelled field": (lambda objs: _set(one(objs, "ScaledObject"), ["spec", "maxReplicas"], 4),
                                 "'maxReplicas' was unexpected"),
    "KEDA: the scale target missing": (lambda objs: _drop(one(objs, "ScaledObject"), ["spec", "scaleTargetRef"]),
                                       "'scaleTargetRef' is a required property"),
    "KEDA: a redis trigger without listName": (lambda objs: _drop(
        one(objs, "ScaledObject"), ["spec", "triggers", 1, "metadata", "listName"]), "'listName' is a required"),
    "KEDA: a secret reference without its key": (lambda objs: _drop(
        one(objs, "TriggerAuthentication"), ["spec", "secretTargetRef", 0, "key"]), "'key' is a required property"),
}


def _set(obj: dict, path: list, value: Any) -> dict:
    node = obj
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return obj


def _drop(obj: dict, path: list) -> dict:
    node = obj
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return obj


@pytest.mark.parametrize("breakage", BROKEN, ids=list(BROKEN))
def test_a_broken_object_fails_validation(rendered, breakage):
    objects = copy.deepcopy(rendered["base"])
    breaks, expected = BROKEN[breakage]
    errors = schema_errors(breaks(objects))
    assert errors, f"{breakage} passed validation"
    assert all(expected in error for error in errors), errors


def test_a_broken_manifest_file_fails_the_rendered_check(tmp_path):
    tree = prepare_tree(tmp_path)
    gateway = tree / "base" / "gateway.yaml"
    gateway.write_text(gateway.read_text().replace("containerPort: 8080", 'containerPort: "8080"'))
    renders = [render_python(tree / "base")] + ([render_with_kustomize(tree / "base")] if kustomize_command() else [])
    for objects in renders:
        errors = [error for obj in objects for error in schema_errors(obj)]
        assert errors and all("containerPort" in error for error in errors), errors


# --- what the schemas cannot check ---------------------------------------------------------

@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_references_resolve_and_selectors_select(rendered, name):
    objects = rendered[name]
    namespace = one(objects, "Namespace")["metadata"]["name"]
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] not in CLUSTER_SCOPED} == {namespace}
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    data = {(o["kind"], o["metadata"]["name"]): set(o.get("data") or {}) for o in objects
            if o["kind"] in ("Secret", "ConfigMap")}
    for obj in workloads(objects):
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        spec = next(pod_specs(obj))
        if obj["kind"] != "Job":  # a Job makes its own selector
            assert selects(obj["spec"]["selector"]["matchLabels"], obj), where
        claims = {t["metadata"]["name"] for t in obj["spec"].get("volumeClaimTemplates", [])}
        volumes = {v["name"] for v in spec.get("volumes", [])} | claims
        for volume in spec.get("volumes", []):
            if "persistentVolumeClaim" in volume:
                assert ("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]) in names, where
            if "configMap" in volume:
                assert ("ConfigMap", volume["configMap"]["name"]) in names, where
        for c in containers(obj):
            assert {m["name"] for m in c.get("volumeMounts", [])} <= volumes, f"{where}/{c['name']}"
            for var in c.get("env", []):
                for kind, ref_key in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                    ref = (var.get("valueFrom") or {}).get(ref_key)
                    if ref and not ref.get("optional"):
                        assert ref["key"] in data.get((kind, ref["name"]), set()), f"{where}: {var['name']}"
    pods = workloads(objects)
    for service in [o for o in objects if o["kind"] == "Service"]:
        targets = [w for w in pods if selects(service["spec"]["selector"], w)]
        assert len(targets) == 1, f"Service {service['metadata']['name']} selects {len(targets)} workloads"
        port_names = {p["name"] for c in containers(targets[0]) for p in c.get("ports", [])}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names, service["metadata"]["name"]
    for budget in [o for o in objects if o["kind"] == "PodDisruptionBudget"]:
        assert any(selects(budget["spec"]["selector"]["matchLabels"], w) for w in pods), budget["metadata"]["name"]
    for scaler in [o for o in objects if o["kind"] in ("HorizontalPodAutoscaler", "ScaledObject")]:
        target = scaler["spec"]["scaleTargetRef"]
        assert (target.get("kind", "Deployment"), target["name"]) in names
        # An apply must not reset the count the autoscaler chose.
        assert "replicas" not in one(objects, target.get("kind", "Deployment"), target["name"])["spec"]
    for auth in [o for o in objects if o["kind"] == "TriggerAuthentication"]:
        for ref in auth["spec"]["secretTargetRef"]:
            assert ref["key"] in data.get(("Secret", ref["name"]), set()), ref
    for ingress in [o for o in objects if o["kind"] == "Ingress"]:
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                service = one(objects, "Service", backend["name"])
                assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}


def _dockerfile_uids() -> set[int]:
    return {int(uid) for path in ROOT.glob("*/Dockerfile")
            for uid in re.findall(r"useradd .*--uid (\d+)", path.read_text())}


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_every_pod_is_non_root_hardened_bounded_and_labelled(rendered, name):
    uids = _dockerfile_uids()
    assert len(uids) == 1, f"the Dockerfiles disagree on the user: {uids}"
    uid = uids.pop()
    objects = rendered[name]
    for obj in objects:
        if obj["kind"] not in ("ConfigMap", "Secret"):  # generated, unlabelled
            assert obj["metadata"].get("labels", {}).items() >= PART_OF.items(), f"{obj['kind']}/{obj['metadata']}"
    for obj in workloads(objects):
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        spec = next(pod_specs(obj))
        assert obj["spec"]["template"]["metadata"]["labels"].items() >= PART_OF.items(), where
        assert spec.get("automountServiceAccountToken") is False, where
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] == uid and pod["runAsGroup"] == uid, where
        assert pod["seccompProfile"]["type"] == "RuntimeDefault", where
        for c in containers(obj):
            what = f"{where}/{c['name']}"
            security = c["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, what
            assert security["capabilities"]["drop"] == ["ALL"], what
            assert security["readOnlyRootFilesystem"] is True, what
            resources = c["resources"]
            for resource in ("cpu", "memory"):
                request, limit = resources["requests"][resource], resources["limits"][resource]
                assert quantity(request) <= quantity(limit), f"{what}: {resource} {request} > {limit}"
            image_name, tag = _split_image(c["image"])
            assert tag and tag != "latest", f"{what}: {c['image']} needs a tag kustomize images: can change"
            if "digits" in image_name:  # Python: temporary files
                mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
                assert c["name"] == "numba-cache" or "/tmp" in mounts, what


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_images_are_composes_and_overlays_change_only_ours(rendered, name):
    images = {c["name"]: c["image"] for o in workloads(rendered[name]) for c in containers(o)}
    assert images["serving"] == compose_service("serving")["image"]  # tensorflow/serving:<same tag>
    assert images["redis"] == compose_service("redis")["image"]
    base_images = {_split_image(c["image"])[0] for o in workloads(rendered["base"]) for c in containers(o)}
    assert {"digits-trainer", "digits-worker", "digits-gateway"} <= base_images
    kustomization = yaml.safe_load((K8S / name / "kustomization.yaml").read_text())
    for image in kustomization.get("images", []):
        assert image["name"] in base_images, f"images: {image['name']} names no image of the base"
        assert image["name"].startswith("digits-"), "TF Serving and Redis keep compose's tags"


# Every 5 minutes TF Serving asks each gRPC client to reconnect, so that the workers' channels
# resolve the headless Service again and take new serving replicas into their round robin.
SERVING_ARGS_OF_OUR_OWN = [
    "--grpc_channel_arguments=grpc.max_connection_age_ms=300000,grpc.max_connection_age_grace_ms=30000",
]


def _serving(objects: list[dict]) -> dict:
    return one(objects, "Deployment", "serving")


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_serving_runs_as_compose_runs_it(rendered, name):
    objects = rendered[name]
    deployment = _serving(objects)
    serving = container(deployment, "serving")
    compose = compose_service("serving")
    assert serving["args"] == compose["command"] + SERVING_ARGS_OF_OUR_OWN
    # Ready = a version AVAILABLE in the REST model status, compose's healthcheck word for word
    # (compose writes a $ as $$).
    assert compose["healthcheck"]["test"][0] == "CMD"
    healthcheck = [word.replace("$$", "$") for word in compose["healthcheck"]["test"][1:]]
    assert serving["readinessProbe"]["exec"]["command"] == healthcheck
    assert "AVAILABLE" in serving["readinessProbe"]["exec"]["command"][-1]
    assert {"startupProbe", "livenessProbe"} <= set(serving)
    mounts = {m["mountPath"]: m for m in serving["volumeMounts"]}
    volumes = {v["name"]: v for v in next(pod_specs(deployment))["volumes"]}
    # compose: ./serving/config:/config:ro, models:/models:ro
    config = volumes[mounts["/config"]["name"]]["configMap"]["name"]
    files = set(generated(objects, "ConfigMap", "serving-config")["data"])
    assert config == generated(objects, "ConfigMap", "serving-config")["metadata"]["name"]
    assert "subPath" not in mounts["/config"]
    for arg in serving["args"]:
        match = re.fullmatch(r"--\w+_file=/config/(\S+)", arg)
        if match:
            assert match.group(1) in files, arg
    assert {"/config", "/models"} <= set(mounts) and mounts["/models"]["readOnly"] is True
    models = volumes[mounts["/models"]["name"]]["persistentVolumeClaim"]
    assert models == {"claimName": "models", "readOnly": True}
    ports = {p["name"]: p["containerPort"] for p in serving["ports"]}
    assert ports == {"grpc": 8500, "http": 8501}


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_workers_round_robin_over_a_headless_serving_service(rendered, name):
    objects = rendered[name]
    worker = container(one(objects, "Deployment", "worker"), "worker")
    env = env_of(worker)
    target = env["DIGITS_SERVING_TARGET"]["value"]
    match = re.fullmatch(r"dns:///([a-z0-9-]+):(\d+)", target)
    assert match, f"{target}: a dns:/// target, so that gRPC sees every address"
    service = one(objects, "Service", match.group(1))
    assert service["spec"]["clusterIP"] == "None", "headless: DNS answers with every pod's address"
    assert int(match.group(2)) in {p["port"] for p in service["spec"]["ports"]}
    assert selects(service["spec"]["selector"], _serving(objects))
    assert env["DIGITS_MODEL_LABEL"]["value"] == "stable"
    models_config = generated(objects, "ConfigMap", "serving-config")["data"]["models.config"]
    models = re.findall(r'^\s*name: "(\w+)"', models_config, re.M)
    assert models == [env["DIGITS_MODEL_NAME"]["value"], env["DIGITS_STRING_MODEL_NAME"]["value"]]
    assert models_config.count('version_labels { key: "stable"') == len(models), "every model has a stable version"


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_redis_keeps_compose_aof_on_a_volume_behind_the_secret_password(rendered, name):
    objects = rendered[name]
    statefulset = one(objects, "StatefulSet", "redis")
    redis = container(statefulset, "redis")
    compose = compose_service("redis")["command"]
    assert redis["args"][:len(compose)] == compose, "compose's redis-server flags first (AOF, everysec, no RDB)"
    assert {"--appendonly", "--appendfsync", "--requirepass"} <= set(redis["args"])
    assert redis["args"][redis["args"].index("--requirepass") + 1] == "$(REDIS_PASSWORD)"
    env = env_of(redis)
    password_ref = env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert env["REDISCLI_AUTH"]["valueFrom"]["secretKeyRef"] == password_ref
    for probe in ("readinessProbe", "livenessProbe"):
        assert "redis-cli ping" in " ".join(redis[probe]["exec"]["command"]), probe
    claims = {t["metadata"]["name"]: t for t in statefulset["spec"]["volumeClaimTemplates"]}
    data_mount = next(m for m in redis["volumeMounts"] if m["mountPath"] == "/data")
    assert claims[data_mount["name"]]["spec"]["accessModes"] == ["ReadWriteOnce"]
    password = secret_values(objects)[password_ref["name"]][password_ref["key"]]
    for deployment in ("worker", "gateway"):
        c = container(one(objects, "Deployment", deployment), deployment)
        url = urlsplit(resolved_env(c, objects)["DIGITS_REDIS_URL"])
        assert (url.scheme, url.password, url.path) == ("redis", password, "/0"), deployment
        service = one(objects, "Service", url.hostname)
        assert url.port in {p["port"] for p in service["spec"]["ports"]}
        assert selects(service["spec"]["selector"], statefulset)


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_keda_scales_the_workers_on_the_rq_queues(rendered, name):
    objects = rendered[name]
    scaled = one(objects, "ScaledObject")
    spec = scaled["spec"]
    assert (spec["scaleTargetRef"]["kind"], spec["scaleTargetRef"]["name"]) == ("Deployment", "worker")
    # /v1/predict waits for a worker: never zero.
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
    triggers = spec["triggers"]
    assert {t["type"] for t in triggers} == {"redis"}
    assert {t["metadata"]["listName"] for t in triggers} == \
        {Queue.redis_queue_namespace_prefix + queue for queue in WORKER_QUEUES}
    redis = one(objects, "Service", "redis")
    namespace = scaled["metadata"]["namespace"]
    secrets = secret_values(objects)
    for trigger in triggers:
        metadata = trigger["metadata"]
        assert not {"password", "passwordFromEnv"} & set(metadata), "the password comes from the Secret"
        # KEDA's operator resolves names from its own namespace.
        host, _, port = metadata["address"].rpartition(":")
        assert host == f"redis.{namespace}.svc.cluster.local", f"{metadata['address']}: not this namespace's Redis"
        assert int(port) in {p["port"] for p in redis["spec"]["ports"]}
        assert metadata.get("databaseIndex", "0") == "0"  # DIGITS_REDIS_URL's /0
        auth = one(objects, "TriggerAuthentication", trigger["authenticationRef"]["name"])
        refs = {ref["parameter"]: ref for ref in auth["spec"]["secretTargetRef"]}
        redis_password = env_of(container(one(objects, "StatefulSet", "redis"), "redis"))["REDIS_PASSWORD"]
        ref = redis_password["valueFrom"]["secretKeyRef"]
        assert secrets[refs["password"]["name"]][refs["password"]["key"]] == secrets[ref["name"]][ref["key"]]


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_gateway_probes_keys_serving_url_and_autoscaler(rendered, name):
    objects = rendered[name]
    deployment = one(objects, "Deployment", "gateway")
    gateway = container(deployment, "gateway")
    env = env_of(gateway)
    resolved = resolved_env(gateway, objects)
    port = next(p for p in gateway["ports"] if p["name"] == "http")["containerPort"]
    assert str(port) == resolved["DIGITS_GATEWAY_PORT"] and resolved["DIGITS_GATEWAY_HOST"] == "0.0.0.0"
    assert gateway["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert gateway["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert "secretKeyRef" in env["DIGITS_API_KEYS"]["valueFrom"] and resolved["DIGITS_API_KEYS"]
    rest = urlsplit(resolved["DIGITS_SERVING_REST_URL"])
    service = one(objects, "Service", rest.hostname)
    assert rest.port in {p["port"] for p in service["spec"]["ports"]}
    assert selects(service["spec"]["selector"], _serving(objects))
    models = next(m for m in gateway["volumeMounts"] if m["mountPath"] == resolved["DIGITS_MODEL_BASE"])
    assert models["readOnly"] is True
    hpa = one(objects, "HorizontalPodAutoscaler", "gateway")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "gateway"}
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_the_trainer_job_seeds_the_volume_serving_reads(rendered, name):
    objects = rendered[name]
    job = one(objects, "Job", "trainer")
    trainer = container(job, "trainer")
    assert trainer["command"] == compose_service("trainer")["command"] == ["digits", "seed"]
    assert next(pod_specs(job))["restartPolicy"] == "Never"
    base = resolved_env(trainer, objects)["DIGITS_MODEL_BASE"]
    mount = next(m for m in trainer["volumeMounts"] if m["mountPath"] == base)
    assert not mount.get("readOnly")
    claim = {v["name"]: v for v in next(pod_specs(job))["volumes"]}[mount["name"]]["persistentVolumeClaim"]
    pvc = one(objects, "PersistentVolumeClaim", claim["claimName"])
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"], "trainer, every serving pod and the gateway share it"
    assert f"base_path: \"{base}/digits\"" in generated(objects, "ConfigMap", "serving-config")["data"]["models.config"]


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_our_containers_run_compose_commands_and_their_settings_read_their_env(rendered, name):
    objects = rendered[name]
    seen = set()
    for obj in workloads(objects):
        for c in containers(obj):
            command = c.get("command", [])
            if command[:1] != ["digits"]:
                continue
            service = {"train": "trainer", "seed": "trainer"}.get(command[1], command[1])
            seen.add(service)
            assert command == compose_service(service)["command"], c["name"]
            settings = SETTINGS[command[1]]
            known = {env_name(n, f) for n, f in settings.model_fields.items()}
            unknown = {var for var in env_of(c) if var.startswith("DIGITS_")} - known
            assert not unknown, f"{c['name']}: {sorted(unknown)} are no settings of {settings.__name__}"
            env = resolved_env(c, objects)
            if command[1] == "train":
                parse_args(command[2:], environ=env)
            else:
                settings.from_env(env)  # raises, naming the variable, on a missing or malformed value
    assert seen == {"trainer", "worker", "gateway"}


def test_the_secret_example_names_every_key_the_pods_and_keda_read(tree):
    objects = render(tree / "base")
    wanted = {var["valueFrom"]["secretKeyRef"]["key"] for o in workloads(objects) for c in containers(o)
              for var in c.get("env", []) if "secretKeyRef" in var.get("valueFrom", {})}
    wanted |= {ref["key"] for o in objects if o["kind"] == "TriggerAuthentication"
               for ref in o["spec"]["secretTargetRef"]}
    names = {var["valueFrom"]["secretKeyRef"]["name"] for o in workloads(objects) for c in containers(o)
             for var in c.get("env", []) if "secretKeyRef" in var.get("valueFrom", {})}
    assert names == {SECRET}
    for example in {SECRET_EXAMPLE, *K8S.glob("overlays/*/*.example")}:
        assert wanted <= set(env_file(example.read_text())), example
        assert example.stem in (example.parent / ".gitignore").read_text().split(), "never commit the secrets"


def test_the_readme_section_names_paths_that_exist():
    readme = (ROOT / "README.md").read_text()
    assert readme.count("## Running at scale (Kubernetes)") == 1
    section = readme.split("## Running at scale (Kubernetes)", 1)[1].split("\n## ", 1)[0]
    assert "kubectl apply -k deploy/k8s/" in section
    for path in set(re.findall(r"deploy/k8s/[\w./-]*\w", section)):
        assert (ROOT / path).exists() or (ROOT / f"{path}.example").is_file(), path
