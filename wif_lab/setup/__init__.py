"""Setup as code: the objects the guides have you click together, created from a TOML file.

:mod:`.anthropic` (issuer, service account, membership, rule through the official SDK's Admin API) and
:mod:`.okta` (app, authorization server audience, scope, access policy and rule through Okta's
Management API) are idempotent: objects are found by name and only what differs is changed. Both run
against the lab's mocks in the test suite before anyone runs them against a real account. The Azure
and Kubernetes parts are shell and manifests under ``setup/`` at the repository root.
"""
