"""STS's error answers: the query protocol's XML envelope, one class per error code.

Every refusal is ``<ErrorResponse><Error><Type>Sender</Type><Code>…</Code><Message>…</Message></Error>
<RequestId>…</RequestId></ErrorResponse>`` (``text/xml``, header ``x-amzn-RequestId``); botocore's
``QueryParser`` reads ``Code`` and ``Message`` from it and raises ``ClientError``. The codes and statuses of
the three ``GetWebIdentityToken`` errors come from botocore's STS model (``OutboundWebIdentityFederation
DisabledException`` 403, ``SessionDurationEscalationException`` 403, ``JWTPayloadSizeExceededException`` 400);
the authentication codes are the AWS "common errors" of every query API (``MissingAuthenticationToken``,
``IncompleteSignature``, ``InvalidClientTokenId``, ``SignatureDoesNotMatch``, ``ExpiredToken``), with the
messages STS is seen to send. Messages marked [inferred] are the lab's wording where no real one is recorded.
"""

from __future__ import annotations

import re
import uuid
from xml.etree import ElementTree

from starlette.responses import Response

from ..errors import MockRefusal

NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
IAM_NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/"
XML = "text/xml"
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str) -> str:
    """``value`` with the characters XML 1.0 cannot carry replaced (echoed input must stay well-formed)."""
    return _NOT_XML.sub("\ufffd", value)


def xml_document(root: ElementTree.Element) -> bytes:
    return ElementTree.tostring(root, encoding="unicode").encode("utf-8")


class StsError(MockRefusal):
    """One STS refusal: its code is a class attribute (as moto does), the message is per instance."""

    code = "InternalFailure"
    status = 500
    fault = "Receiver"
    namespace = NAMESPACE

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        self.code = code or type(self).code
        self.message = message
        self.request_id = str(uuid.uuid4())
        super().__init__(status or type(self).status, {"Code": self.code, "Message": message},
                         headers={"x-amzn-RequestId": self.request_id})

    def body_xml(self) -> bytes:
        root = ElementTree.Element("ErrorResponse", xmlns=self.namespace)
        error = ElementTree.SubElement(root, "Error")
        ElementTree.SubElement(error, "Type").text = self.fault
        ElementTree.SubElement(error, "Code").text = self.code
        ElementTree.SubElement(error, "Message").text = xml_text(self.message)
        ElementTree.SubElement(root, "RequestId").text = self.request_id
        return xml_document(root)

    def response(self) -> Response:
        return Response(self.body_xml(), status_code=self.status, media_type=XML, headers=self.headers)


class SenderError(StsError):
    fault = "Sender"


# --- authentication (every query API) ------------------------------------------------------------


class MissingAuthenticationToken(SenderError):
    code, status = "MissingAuthenticationToken", 403


class IncompleteSignature(SenderError):
    code, status = "IncompleteSignature", 400


class InvalidClientTokenId(SenderError):
    code, status = "InvalidClientTokenId", 403


class SignatureDoesNotMatch(SenderError):
    code, status = "SignatureDoesNotMatch", 403


class ExpiredToken(SenderError):
    code, status = "ExpiredToken", 400


# --- the request ---------------------------------------------------------------------------------


class InvalidAction(SenderError):
    code, status = "InvalidAction", 400


class ValidationError(SenderError):
    code, status = "ValidationError", 400


# --- GetWebIdentityToken's own (botocore's STS model) -------------------------------------------


class OutboundWebIdentityFederationDisabled(SenderError):
    code, status = "OutboundWebIdentityFederationDisabledException", 403


class SessionDurationEscalation(SenderError):
    code, status = "SessionDurationEscalationException", 403


class JWTPayloadSizeExceeded(SenderError):
    code, status = "JWTPayloadSizeExceededException", 400


# --- IAM's outbound-federation switch (botocore's IAM model) -----------------------------------------


class FeatureEnabled(SenderError):
    code, status, namespace = "FeatureEnabled", 409, IAM_NAMESPACE


class FeatureDisabled(SenderError):
    code, status, namespace = "FeatureDisabled", 404, IAM_NAMESPACE


class IamInvalidAction(InvalidAction):
    namespace = IAM_NAMESPACE


# --- messages ------------------------------------------------------------------------------------

MISSING_AUTH = "Request is missing Authentication Token"
BAD_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"
SIGNATURE_MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your AWS "
                      "Secret Access Key and signing method. Consult the service documentation for details.")
FEDERATION_DISABLED = ("Outbound web identity federation is not enabled for this account. Enable it with "
                       "iam:EnableOutboundWebIdentityFederation before calling GetWebIdentityToken.")  # [inferred]
ALREADY_ENABLED = "Outbound web identity federation is already enabled for this account."  # [inferred]
NOT_ENABLED = "Outbound web identity federation is not enabled for this account."  # [inferred]
DURATION_ESCALATION = ("The requested DurationSeconds ({requested}) would outlive the caller's session, which "
                       "expires in {left} seconds.")  # [inferred]
PAYLOAD_TOO_LARGE = ("The token payload would be {size} bytes, more than the {limit} allowed. Send fewer or shorter "
                     "Tags.")  # [inferred]


def validation_error(problems: list[str]) -> ValidationError:
    """STS's (Coral's) validation message: the count, then each constraint that failed."""
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    return ValidationError(f"{count} validation {noun} detected: " + "; ".join(problems))
