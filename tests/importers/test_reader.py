"""Reading configuration: multi-document YAML, Lists, JSON, and every kind of bad input."""

from __future__ import annotations

import json

import pytest

from expert.errors import InputError
from expert.importers import import_paths, reader
from tests.importers.helpers import loop, run

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx
          livenessProbe:
            httpGet: {path: /, port: 80}
"""


def test_multi_document_file_keeps_lines_per_document(tmp_path):
    result = run(
        tmp_path,
        {"all.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---" + DEPLOYMENT},
    )
    src = result.provenance["loops[0].name"]
    assert src.file.endswith("all.yaml")
    assert src.line == 16  # the livenessProbe line of the second document
    assert any("ConfigMap x" in s for s in result.skipped)


def test_kubectl_list_items_are_imported(tmp_path):
    import yaml

    item = yaml.safe_load(DEPLOYMENT)
    text = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [item]})
    result = run(tmp_path, {"list.yaml": text})
    assert loop(result, "web-liveness")["actuations"] == ["restart"]


def test_json_manifest_is_read(tmp_path):
    import yaml

    text = json.dumps(yaml.safe_load(DEPLOYMENT), indent="\t")  # tabs: not YAML
    result = run(tmp_path, {"deploy.json": text})
    assert loop(result, "web-liveness")["deadline"] == "30s"


def test_unrendered_helm_template_names_file_and_helm_template(tmp_path):
    (tmp_path / "deploy.yaml").write_text(
        "kind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n"
    )
    with pytest.raises(InputError) as exc:
        import_paths([tmp_path])
    text = str(exc.value)
    assert "deploy.yaml:3" in text and "helm template" in text


def test_argo_placeholders_are_not_mistaken_for_helm(tmp_path):
    doc = "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: a}\n"
    doc += "spec:\n  metrics:\n    - provider:\n"
    doc += "        prometheus: {query: 'x{svc=\"{{args.service-name}}\"}'}\n"
    result = run(tmp_path, {"analysis.yaml": doc})  # read (kept for Rollouts), not refused
    assert not result.skipped and not result.problems


def test_malformed_yaml_gives_file_and_line(tmp_path):
    (tmp_path / "bad.yaml").write_text("kind: Service\nmetadata:\n  name: [unclosed\n")
    with pytest.raises(InputError) as exc:
        import_paths([tmp_path])
    assert exc.value.problems[0].source.endswith("bad.yaml")
    assert exc.value.problems[0].line is not None


def test_too_many_files_is_a_clear_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "MAX_FILES", 3)
    for i in range(5):
        (tmp_path / f"f{i}.yaml").write_text("kind: ConfigMap\n")
    with pytest.raises(InputError) as exc:
        import_paths([tmp_path])
    assert "more than 3 configuration files" in str(exc.value)


def test_too_large_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "MAX_FILE_BYTES", 100)
    (tmp_path / "big.yaml").write_text("a: b\n" * 50)
    with pytest.raises(InputError) as exc:
        import_paths([tmp_path])
    assert "the limit is" in str(exc.value)


def test_missing_path_is_reported(tmp_path):
    with pytest.raises(InputError) as exc:
        import_paths([tmp_path / "nope"])
    assert "not found" in str(exc.value)


def test_empty_file_and_hidden_directories_are_ignored(tmp_path):
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.yaml").write_text("{{ .Values.broken }}")
    result = run(tmp_path, {})
    assert result.assessment["loops"] == []


def test_yaml_aliases_are_refused_with_a_line(tmp_path):
    (tmp_path / "a.yaml").write_text("a: &x {b: 1}\nc: *x\n")
    with pytest.raises(InputError) as exc:
        import_paths([tmp_path])
    assert "aliases" in str(exc.value)
