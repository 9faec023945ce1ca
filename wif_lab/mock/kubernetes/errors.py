"""The API server's refusals: a ``metav1.Status`` body with the HTTP code it names.

Shapes as ``kubectl`` prints them (``--v=8`` shows the bodies): ``kind: Status``, ``status: Failure``, a
``message``, a machine-readable ``reason`` (``Invalid``, ``NotFound``, ``Unauthorized``, ``Forbidden``,
``MethodNotAllowed``, ``UnsupportedMediaType``, ``BadRequest``), ``details`` naming the object, and ``code``.
Field errors of an ``Invalid`` answer are ``details.causes`` entries (``FieldValueInvalid`` etc.).
"""

from __future__ import annotations

from typing import Any

from ..errors import MockRefusal

TOKEN_REQUEST_GROUP, TOKEN_REQUEST_KIND = "authentication.k8s.io", "TokenRequest"


class KubernetesStatus(MockRefusal):
    """One ``Status`` refusal; ``reason`` is the code the workload side keys its hints by."""

    def __init__(self, code: int, reason: str, message: str, *, details: dict[str, Any] | None = None) -> None:
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": message, "reason": reason}
        if details is not None:
            body["details"] = details
        body["code"] = code
        super().__init__(code, body)
        self.reason = reason
        self.message = message


class Unauthorized(KubernetesStatus):
    """No bearer, or one this API server cannot authenticate (wrong signature, expired, wrong audience)."""

    def __init__(self) -> None:
        super().__init__(401, "Unauthorized", "Unauthorized")


class Forbidden(KubernetesStatus):
    """Authenticated, but RBAC grants no ``create`` on ``serviceaccounts/token``."""

    def __init__(self, user: str, namespace: str, name: str) -> None:
        super().__init__(
            403, "Forbidden",
            f'serviceaccounts "{name}" is forbidden: User "{user}" cannot create resource "serviceaccounts/token" '
            f'in API group "" in the namespace "{namespace}"',
            details={"name": name, "kind": "serviceaccounts"},
        )


class NotFound(KubernetesStatus):
    def __init__(self, name: str, kind: str = "serviceaccounts") -> None:
        super().__init__(404, "NotFound", f'{kind} "{name}" not found', details={"name": name, "kind": kind})


class BadRequest(KubernetesStatus):
    """A body that is not a TokenRequest at all (not JSON, wrong kind)."""

    def __init__(self, message: str) -> None:
        super().__init__(400, "BadRequest", message)


class UnsupportedMediaType(KubernetesStatus):
    def __init__(self, content_type: str) -> None:
        super().__init__(415, "UnsupportedMediaType", f'the body of the request was in an unknown format - accepted '
                         f'media types include: application/json, application/yaml, '
                         f'application/vnd.kubernetes.protobuf (got "{content_type}")')


class Invalid(KubernetesStatus):
    """422: the TokenRequest (or pod) failed validation; one cause per field, as the API server lists them."""

    def __init__(self, causes: list[tuple[str, Any, str]], *, kind: str = TOKEN_REQUEST_KIND,
                 group: str = TOKEN_REQUEST_GROUP, name: str = "") -> None:
        listed = [{"reason": "FieldValueInvalid", "message": f"Invalid value: {_shown(value)}: {detail}",
                   "field": field} for field, value, detail in causes]
        summary = ", ".join(f"{c['field']}: {c['message']}" for c in listed)
        joined = summary if len(listed) == 1 else f"[{summary}]"
        qualified = f"{kind}.{group}" if group else kind  # core kinds have no group: `Pod "x" is invalid`
        super().__init__(422, "Invalid", f'{qualified} "{name}" is invalid: {joined}',
                         details={"name": name, "group": group, "kind": kind, "causes": listed})
        self.causes = listed


def _shown(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)
