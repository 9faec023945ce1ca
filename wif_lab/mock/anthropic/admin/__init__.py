"""The Admin API for workload identity federation: issuers, rules, service accounts, memberships.

Follows platform.claude.com "Manage WIF via API" (wif-admin-api) and wif-reference, and the
docstrings of the ``anthropic`` 2.10 SDK resources ``organization.federation.{issuers,rules}``,
``organization.service_accounts`` and ``organization.workspaces``. Every route needs an OAuth
bearer token whose scope includes ``org:admin`` (Admin API keys are refused); updates are POST to
the resource path, archive is ``POST …/archive`` with an empty body, lists page with an opaque
``page`` cursor and answer ``{"data": [...], "next_page": cursor|null}``.

Records live in the store in exactly the JSON shape returned here, so the token endpoint and
``wif_lab.rules.evaluate`` read the same dicts a notebook gets back from the SDK.

Where the lab departs from the real service, on purpose:

- URL rules (wif-reference "URL validation"): a URL Anthropic dials (``issuer_url`` in discovery
  mode without ``discovery_base``, ``jwks.discovery_base``, ``jwks.url``) must be https on port 443
  with a public DNS host. The lab waives the port and public-host parts for the loopback hosts
  ``127.0.0.1``, ``localhost`` and ``[::1]`` only, because the lab's issuers listen on loopback
  ports. "Public" is judged by syntax (no IP literal, a dotted name outside private suffixes such as
  ``.local`` / ``.internal``); nothing is resolved. ``issuer_url`` must be https in every mode.
- Every HTTP caller is an OAuth caller, so rules with a scope other than ``workspace:developer`` /
  ``workspace:inference`` get 403 here, as without a Console session. :class:`FederationAdmin`
  takes a :class:`Caller` with ``console=True`` for lab set-up code that plays the Console.
- The lab admin's token (no federation rule behind it) counts as an interactive credential, so it
  may create ``admin``-role service accounts; a federated token may not.

Workspace membership of a rule's target (the docs' current revision, wif-reference and
wif-admin-api): a rule's ``workspace_id`` on create and on update must name a workspace the target
service account belongs to (every account belongs to the default workspace), else 400
``invalid_request_error``; changing only ``target`` re-checks the rule's ``workspace_id`` against the
new account. The ``anthropic`` 2.10 docstrings still describe the older behaviour (membership checked
only at exchange time); the lab follows the docs.

Decisions where the references are silent:

- Enabling more workspaces through ``/federation_rules/{id}/workspaces`` does not check membership
  (the docs name only the rule's ``workspace_id``; the SDK docstring says it is not checked); the
  exchange checks it, as it does for every rule.
- Removing a membership is never refused, even when a live rule names that workspace: exchanges bound
  to it are denied from then on (reason ``not_workspace_member``). The docs say only that tokens can
  act in a workspace while the account is a member.

- Names are unique per resource type among live records; archiving frees a name (archive is the
  only way to retire a record, and "create a new one instead" is the documented advice).
- A reference to an unknown or archived object *in the request body* is 400
  ``invalid_request_error``; an unknown id *in the path* is 404 ``not_found_error``.
- Lists are newest first (documented for service accounts, applied to issuers and rules too).
- A rule's legacy ``workspace_id`` mirrors the enablement made by create/update ``workspace_id``
  and is cleared when that enablement is removed, so removing it really stops exchanges there.
- ``GET /v1/organizations/workspaces`` leaves the default workspace out unless
  ``include_default=true``.
"""

from __future__ import annotations

from .operations import FederationAdmin, workspace_json
from .routes import Call, admin_endpoint, admin_routes
from .validation import AdminError, Caller, bad_request

__all__ = ["AdminError", "Call", "Caller", "FederationAdmin", "admin_endpoint", "admin_routes", "bad_request",
           "workspace_json"]
