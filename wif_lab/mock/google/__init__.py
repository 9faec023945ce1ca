"""Google Cloud in the lab: Google's issuer (:mod:`.accounts`, https) and the Compute Engine / GKE
metadata server that hands out its ID tokens (:mod:`.metadata`, plain http), over one model of
projects, service accounts, VMs and pods (:mod:`.model`)."""

from .accounts import ISSUER, GoogleAccounts
from .errors import MISSING_AUDIENCE, MISSING_FLAVOR, MetadataRefusal
from .metadata import IDENTITY_PATH, MetadataServer
from .model import GoogleCloud, Host, ServiceAccount

__all__ = ["IDENTITY_PATH", "ISSUER", "MISSING_AUDIENCE", "MISSING_FLAVOR", "GoogleAccounts", "GoogleCloud", "Host",
           "MetadataRefusal", "MetadataServer", "ServiceAccount"]
