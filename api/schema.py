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
             "description": "Unix time in whole seconds; at most 300 s from the server clock."},
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
