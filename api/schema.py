"""OpenAPI: describe the HMAC headers as security schemes, and the error envelope."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers


class HmacSignatureScheme(OpenApiAuthenticationExtension):
    target_class = "merchants.api.authentication.HmacSignatureAuthentication"
    name = ["ApiKey", "Timestamp", "Signature"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "apiKey", "in": "header", "name": "X-Api-Key",
             "description": "Key id: fk_test_... or fk_live_..."},
            {"type": "apiKey", "in": "header", "name": "X-Timestamp",
             "description": "Unix time in milliseconds (13 digits) or whole seconds; at most 300 s from the "
                            "server clock. Milliseconds let identical requests in one second differ."},
            {"type": "apiKey", "in": "header", "name": "X-Signature",
             "description": "hex(HMAC-SHA256(secret, timestamp\\nMETHOD\\ntarget\\nhex(SHA256(body))))"},
        ]


ErrorEnvelope = inline_serializer(
    name="ErrorEnvelope",
    fields={
        "error": inline_serializer(
            name="Error",
            fields={
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "param": serializers.CharField(allow_null=True),
            },
        )
    },
)


# The error answers any operation may give besides its own (docs/api.md, "Errors"), added to
# every operation of the schema so that every status the API can return is documented.
_ERRORS_EVERYWHERE = {
    "400": "Malformed request or invalid parameter.",
    "401": "Missing, invalid or replayed signature; unknown or revoked key.",
    "414": "Request target too long.",
    "429": "Rate limited (see Retry-After).",
    "503": "Temporarily unavailable (see Retry-After).",
}
_ERRORS_WITH_PATH_ID = {"404": "No such object."}
_ERRORS_WITH_BODY = {
    "409": "Conflict with the object's state or an Idempotency-Key.",
    "413": "Request body too large.",
    "415": "Unsupported media type (send application/json).",
    "422": "Valid request the object's state cannot satisfy.",
}
_ENVELOPE = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message", "param"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "param": {"type": "string", "nullable": True}},
    }},
}


def document_errors(result, generator, request, public):
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ErrorEnvelope", _ENVELOPE)
    ref = {"$ref": "#/components/schemas/ErrorEnvelope"}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            errors = dict(_ERRORS_EVERYWHERE)
            if "{" in path:
                errors.update(_ERRORS_WITH_PATH_ID)
            if method in ("post", "put", "patch", "delete"):
                errors.update(_ERRORS_WITH_BODY)
            for code, description in errors.items():
                operation["responses"].setdefault(code, {
                    "description": description, "content": {"application/json": {"schema": ref}}})
    return result
