"""In a real kernel, no way a notebook shows a secret lets one through: echo, print, display, f-string.

A small notebook gets every token, assertion, proof and key the way the lab's notebooks do (the
embedded lab, the runbook, the providers and scenario helpers), then shows each one every way a
learner might. Every output (streams, text/plain, text/html, text/markdown, errors) is scanned with
the patterns nbcheck applies to committed notebooks. A control cell that deliberately reveals a
token proves the scan can fail.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from wif_lab.kernel import SlicedPollKernelManager
from wif_lab.mock.stack import MockStack
from wif_lab.nbcheck import SECRET_PATTERNS

SETUP = '''
import wif_lab as wl
from pathlib import Path
from wif_lab.providers.okta import OktaClient, build_dpop_proof, new_dpop_key
from wif_lab.providers.azure_imds import ImdsClient
from wif_lab.providers.aks import read_token_file
from wif_lab.scenarios import aks as aks_lab, okta as okta_lab

rb = wl.open_runbook("mock")
okta = rb.settings("okta", issuer="", client_id="", private_key="", key_id="", scope="anthropic.access")
okta_client = OktaClient(okta.issuer, okta.client_id, private_key=okta.private_key, key_id=okta.key_id,
                         scope=okta.scope, verify=rb.verify)
assertion = okta_client.client_assertion()
okta_token = okta_client.fetch_token()
access_token = okta_token.access_token
dpop_proof = build_dpop_proof(new_dpop_key(), okta_client.token_endpoint)
inline_key = rb.settings("okta", private_key=Path(okta.private_key).read_text()).private_key

azure = rb.settings("azure", tenant_id="", resource="", client_id="", imds_url="")
imds_answer = ImdsClient(azure.resource, base_url=azure.imds_url, client_id=azure.client_id).get_token()
entra_token = imds_answer.access_token

pod = aks_lab.pod_settings(rb)
projected = read_token_file(pod.token_file)
aks_answer = aks_lab.workload_client(rb, pod).get_token()
aks_entra_token = aks_answer.access_token
direct_token = aks_lab.direct_token(rb)

from wif_lab.providers.kubernetes import read_token_file as read_cluster_token
from wif_lab.scenarios import kubernetes as k8s_lab
k8s_pod = k8s_lab.pod_settings(rb)
k8s_token = read_cluster_token(k8s_pod.token_file)
k8s_api = k8s_lab.api_server(rb, k8s_pod)  # holds the kubeconfig's admin bearer
k8s_issued = k8s_api.create_token("inference", "inference-worker", audiences=["https://api.anthropic.com"])

issuer = rb.register_issuer(name="okta-secrets", issuer_url=okta.issuer, jwks={"type": "discovery"})
service_account = rb.register_service_account(name="okta-secrets", description="secrets test")
rule = rb.register_rule(name="okta-secrets", issuer=issuer, service_account=service_account,
                        match={"subject_prefix": okta.client_id, "audience": "https://api.anthropic.com"},
                        token_lifetime_seconds=600)
result = rb.exchange(access_token)
claude_token = result.access_token
admin_token = rb.lab.connection.anthropic["admin_token"]
decoded_raw = wl.decode(access_token).raw
outcome = rb.try_exchange(okta_client.fetch_token().access_token, rule=rule, title="accepted")
'''

# Everything the setup obtains that holds a secret (directly, or as an object around one).
VARIABLES = ("assertion", "okta_token", "access_token", "dpop_proof", "inline_key", "imds_answer", "entra_token",
             "projected", "aks_answer", "aks_entra_token", "direct_token", "result", "claude_token", "admin_token",
             "decoded_raw", "outcome", "okta", "rb", "k8s_pod", "k8s_token", "k8s_api", "k8s_issued")

WAYS = (
    "{v}",  # the cell's last expression: echoed through the display hook
    "print({v})",
    "display({v})",
    "print(f'{v} = {{{v}}}')",
    "print(repr({v}), str({v}))",
    "[{v}], {{'value': {v}}}",
    "import logging; logging.getLogger('cell').warning('%s', {v})",
)

CONTROL = "print(access_token.reveal())"


def _texts(output: dict[str, Any]) -> list[str]:
    if output["output_type"] == "stream":
        return [output["text"]]
    if output["output_type"] == "error":
        return [output["evalue"], *output["traceback"]]
    data = output.get("data", {})
    return [json.dumps(data[kind]) if not isinstance(data[kind], str) else data[kind]
            for kind in ("text/plain", "text/html", "text/markdown") if kind in data]


def _leaks(cell: Any) -> list[str]:
    blob = "\n".join(text for output in cell.outputs for text in _texts(output))
    return [what for what, rx in SECRET_PATTERNS.items() if rx.search(blob)]


def test_no_way_of_showing_a_secret_leaks_it(lab: MockStack, state_dir: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WIF_LAB_CONNECTION", raising=False)
    monkeypatch.setenv("WIF_LAB_STATE_DIR", str(state_dir / "shared"))  # the session lab's warm keys and CA
    cells = [nbformat.v4.new_code_cell(SETUP)]
    shown = [(name, way.format(v=name)) for name in VARIABLES for way in WAYS]
    cells += [nbformat.v4.new_code_cell(source) for _, source in shown]
    cells.append(nbformat.v4.new_code_cell(CONTROL))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = NotebookClient(nb, timeout=120, kernel_name="python3", kernel_manager_class=SlicedPollKernelManager,
                            resources={"metadata": {"path": str(tmp_path)}}, allow_errors=False,
                            )
    client.execute()

    setup, *shown_cells, control = nb.cells
    assert not _leaks(setup)
    # Each way produced output (so the scan looked at something) and none of it holds a secret.
    empty = [source for (_, source), cell in zip(shown, shown_cells, strict=True) if not cell.outputs]
    assert not empty
    leaked = [f"{source!r}: {', '.join(_leaks(cell))}" for (_, source), cell in zip(shown, shown_cells, strict=True)
              if _leaks(cell)]
    assert not leaked, "\n".join(leaked)
    assert _leaks(control) == ["JWT with signature"]  # the scan does find a revealed token
