"""Mock GitHub Actions OIDC: the runner's token service and GitHub's issuer (see :mod:`.service`)."""

from .errors import TokenServiceRefusal
from .models import ISSUER, Job, Repository
from .service import SPEC, GitHubActionsMock

__all__ = ["ISSUER", "SPEC", "GitHubActionsMock", "Job", "Repository", "TokenServiceRefusal"]
