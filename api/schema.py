"""OpenAPI: describe the HMAC headers as security schemes, and the error envelope."""

import json
import re
from pathlib import Path

from django.conf import settings
from django.urls import reverse
from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
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


class AliasedChoiceFieldExtension(OpenApiSerializerFieldExtension):
    """An api.fields.AliasedChoiceField's enum: its choices, then the aliases it also takes."""
    target_class = "api.fields.AliasedChoiceField"

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        aliases = [alias for alias in field.aliases if alias not in field.choices]
        schema = {"type": "string", "enum": [*field.choices, *aliases]}
        if aliases:
            schema["description"] = "Also taken: " + ", ".join(
                f"`{alias}` for `{field.aliases[alias]}`" for alias in aliases) + "."
        return schema


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


# --- Examples in every operation's description (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]) ---
#
# Each signed operation gets a copyable curl example (with the `sign` helper of README.md,
# "Signing requests") and a Python example with fluxa_client, both built here from the schema
# itself: the method, the path, a `limit` when the list takes one, and a request body made of
# the required fields (and the ones a request usually carries) with the values below. The same
# body becomes the request body's `example`, which the docs page's "Try it out" starts from.

EXAMPLE_BASE_URL = "http://127.0.0.1:8000"

# Values by field name, for fields whose schema has no `example`. Ethereum because it is the
# network the README's examples and the payout address below belong to.
FIELD_EXAMPLES: dict[str, object] = {
    "amount": "100",
    "currency": "USDT",
    "network": "ethereum",
    "merchant_order_id": "order-1001",
    "address": "0x9858EfFD232B4033E47d90003D41EC34EcaEda94",
    "url": "https://shop.example/fluxa",
    "enabled_events": ["order.paid"],
    "status": "paid",
    "reason": "customer asked",
    "overlap_seconds": 86400,
    "name": "Blue mug",
    "price": "12.50",
}
# Optional fields worth showing in an example all the same (routing and the merchant's own id).
USUAL_FIELDS = {"network", "merchant_order_id", "enabled_events"}
# Path parameters: a shell variable in the curl example, a Python variable in the other.
PATH_PARAM_EXAMPLES = {"order_id": "ord_...", "event_id": "evt_...", "endpoint_id": "we_...",
                       "network": "ethereum", "product_id": "prd_...", "link_id": "pl_..."}

SIGN_HELPER_NOTE = (
    'Signed with the `sign` helper of README.md, "Signing requests" (set `BASE`, `KEY_ID` and '
    "`SECRET` first):"
)


def _resolve(schema: dict, components: dict) -> dict:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _example_value(name: str, schema: dict, components: dict):
    schema = _resolve(schema, components)
    if "example" in schema:
        return schema["example"]
    if name in FIELD_EXAMPLES:
        return FIELD_EXAMPLES[name]
    if "enum" in schema:
        return next(value for value in schema["enum"] if value not in ("", None))
    if "default" in schema:
        return schema["default"]
    if "oneOf" in schema:
        return _example_value(name, schema["oneOf"][0], components)
    kind = schema.get("type")
    if kind == "object":
        return example_body(schema, components)
    if kind == "array":
        return [_example_value(name, schema.get("items", {}), components)]
    return {"integer": 1, "number": 1, "boolean": True}.get(kind, "...")


def example_body(schema: dict, components: dict) -> dict:
    """The required fields of a request body, and the usual optional ones, with example values."""
    schema = _resolve(schema, components)
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))
    chosen = [name for name in properties if name in required or name in USUAL_FIELDS]
    if not chosen:  # all optional (a PATCH): the fields an example value is known for
        chosen = [name for name in properties
                  if name in FIELD_EXAMPLES or "example" in _resolve(properties[name], components)]
    return {name: _example_value(name, properties[name], components) for name in chosen}


def _py(value) -> str:
    """A Python literal in the style of the examples (double quotes, like the JSON)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_py(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_py(v) for v in value) + "]"
    if isinstance(value, bool) or value is None:
        return repr(value)
    return json.dumps(value)


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def curl_example(method: str, path: str, path_params: list[str], query: dict, body: dict | None) -> str:
    target = path
    for name in path_params:
        target = target.replace("{" + name + "}", "${" + name.upper() + "}")
    if query:
        target += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    lines = [f"{name.upper()}={PATH_PARAM_EXAMPLES.get(name, '...')}" for name in path_params]
    headers = '-H "X-Api-Key: $KEY_ID" -H "X-Timestamp: $ts" -H "X-Signature: $sig"'
    if body is None:
        lines.append(f'sign {method} "{target}" ""')
        curl = f'curl -s -X {method} "$BASE{target}" {headers}' if method != "GET" else \
            f'curl -s "$BASE{target}" {headers}'
    else:
        lines.append("body=" + _shell_quote(json.dumps(body, separators=(",", ":"))))
        lines.append(f'sign {method} "{target}" "$body"')
        curl = (f'curl -s -X {method} "$BASE{target}" -H "Content-Type: application/json" \\\n'
                f'  {headers} -d "$body"')
    lines.append(curl)
    return "\n".join(lines)


def python_example(method: str, path: str, path_params: list[str], query: dict, body: dict | None) -> str:
    lines = ["from fluxa_client import FluxaClient", "",
             f'client = FluxaClient("{EXAMPLE_BASE_URL}", key_id="fk_test_...", secret="...")']
    lines += [f'{name} = "{PATH_PARAM_EXAMPLES.get(name, "...")}"' for name in path_params]
    target = f'f"{path}"' if path_params else f'"{path}"'
    args = [f'"{method}"', target]
    if query:
        args.append(f"params={_py(query)}")
    if body is not None:
        args.append(f"json_body={_py(body)}")
    lines.append(f"status, body = client.request({', '.join(args)})")
    return "\n".join(lines)


def _inherited_docstrings() -> set[str]:
    """Docstrings of base classes that drf-spectacular would show as the description of every
    view or serializer without one of its own (it reads the first docstring up the MRO)."""
    from drf_spectacular.plumbing import get_doc

    from api.base import MerchantAPIView
    from api.fields import FieldsCopiedOnceMixin, UtcModelSerializer

    return {get_doc(cls) for cls in (MerchantAPIView, FieldsCopiedOnceMixin, UtcModelSerializer)}


def _sign_helper() -> str | None:
    """The README's `sign` shell function, which every curl example calls."""
    readme = Path(settings.BASE_DIR) / "README.md"
    found = re.search(r"^sign\(\) \{.*?^\}", readme.read_text(), re.S | re.M) if readme.is_file() else None
    return found.group(0) if found else None


def _tag_guides(tags: set[str]) -> list[dict]:
    """Each tag, described by a link to the guide section about it: the first section of
    docs/api.md whose title names the tag's first word, else the first of docs/webhooks.md
    that names any of its words (webhook_endpoints: "Endpoints")."""
    from api.docs import guide

    def sections(name: str) -> list[dict]:
        try:
            return guide(name)[2]
        except Exception:  # a deployment without docs/: no links
            return []

    found = []
    for tag in sorted(tags):
        words = [word.rstrip("s") for word in tag.split("_")]
        candidates = [("api", section) for section in sections("api") if words[0] in section["name"].lower()]
        candidates += [("webhooks", section) for section in sections("webhooks")
                       if any(word in section["name"].lower() for word in words)]
        if candidates:
            name, section = candidates[0]
            url = reverse("guide", args=[name]) + "#" + section["id"]
            found.append({"name": tag, "description": f'Guide: [docs/{name}.md, "{section["name"]}"]({url})'})
    return found


def add_examples_hook(result, generator, request, public):
    """Postprocessing hook: drops inherited base-class docstrings, appends the curl and Python
    examples to every signed operation's description, links each tag to its guide section, and
    puts the `sign` helper and the guide's address in the page's introduction."""
    inherited = _inherited_docstrings()
    components = result.get("components", {}).get("schemas", {})
    for component in components.values():
        if component.get("description") in inherited:
            del component["description"]
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if operation.get("description") in inherited:
                operation["description"] = ""
            if not operation.get("security"):
                continue
            method = method.upper()
            params = operation.get("parameters", [])
            path_params = [p["name"] for p in params if p["in"] == "path"]
            query = {"limit": 10} if any(p["in"] == "query" and p["name"] == "limit" for p in params) else {}
            query.update({p["name"]: FIELD_EXAMPLES.get(p["name"], "...") for p in params
                          if p["in"] == "query" and p.get("required")})
            body = None
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                media = content["application/json"]
                body = media.get("example") or example_body(media["schema"], components)
                media["example"] = body
            parts = [operation.get("description", "").strip(),
                     "**curl** — " + SIGN_HELPER_NOTE,
                     "```sh\n" + curl_example(method, path, path_params, query, body) + "\n```",
                     "**Python** — with `fluxa_client.py` (standard library only):",
                     "```python\n" + python_example(method, path, path_params, query, body) + "\n```"]
            operation["description"] = "\n\n".join(part for part in parts if part)
    tags = {tag for operations in result.get("paths", {}).values() for op in operations.values()
            for tag in op.get("tags", ())}
    result["tags"] = _tag_guides(tags) or result.get("tags", [])
    helper = _sign_helper()
    info = result.setdefault("info", {})
    intro = [info.get("description", ""),
             f"The guide: [docs/api.md]({reverse('guide', args=['api'])}); signing: "
             f"[README.md, \"Signing requests\"]({reverse('guide', args=['README'])}#signing-requests)."]
    if helper:
        intro += ["The curl examples call this `sign` helper (README.md); set `BASE`, `KEY_ID` and "
                  "`SECRET` first:", "```sh\n" + helper + "\n```"]
    info["description"] = "\n\n".join(part for part in intro if part)
    return result


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
            if method == "post" and operation.get("security"):
                parameters = operation.setdefault("parameters", [])
                names = {p.get("name") for p in parameters if isinstance(p, dict)}
                parameters += [p for p in _IDEMPOTENCY_HEADERS if p["name"] not in names]
    return result


# Every signed POST takes an idempotency key (api/idempotency.py), under either name.
_IDEMPOTENCY_HEADERS = [
    {"in": "header", "name": "Idempotency-Key", "required": False, "schema": {"type": "string", "maxLength": 255},
     "description": "Replays the stored response of an earlier request with the same key and body "
                    "(24 hours); another body with the same key is 409 idempotency_key_reused."},
    {"in": "header", "name": "X-Idempotency-Key", "required": False, "schema": {"type": "string", "maxLength": 255},
     "description": "The same header under the peers' name: one key whichever name carries it (both with "
                    "different values: 400)."},
]
