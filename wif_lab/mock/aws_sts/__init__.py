"""A faithful mock of AWS STS ``GetWebIdentityToken`` (outbound web identity federation), laid out as
moto lays out a service: :mod:`.models` (the account, its roles, sessions and tokens), :mod:`.responses`
(the query protocol and the routes), :mod:`.errors` (STS's XML error answers), :mod:`.sigv4` (the
signature check, on botocore's signer) and :mod:`.service` (the mock the lab runs).
"""

from .errors import StsError
from .models import Account, Role, Session
from .service import SPEC, StsMock

__all__ = ["SPEC", "Account", "Role", "Session", "StsError", "StsMock"]
