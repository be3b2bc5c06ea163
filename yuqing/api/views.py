"""The API's documentation page, rendered here from the OpenAPI document.

Swagger UI would load scripts from a CDN and run inline code; this page needs neither, so it
works on an offline intranet under the strict Content-Security-Policy.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from yuqing.api.api import api
from yuqing.core.permissions import require


def _resolve(schema: Any, components: dict[str, Any]) -> Any:
    """Inline ``$ref``s (one level deep is what our schemas use) for reading on the page."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            return _resolve(components.get(ref.rsplit("/", 1)[-1], {}), components)
        return {k: _resolve(v, components) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_resolve(v, components) for v in schema]
    return schema


@require("monitor.view")
def docs(request: HttpRequest) -> HttpResponse:
    schema = api.get_openapi_schema()
    components = schema.get("components", {}).get("schemas", {})
    operations = []
    for path, methods in schema.get("paths", {}).items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "parameters": op.get("parameters", []),
                    "body": json.dumps(
                        _resolve(body.get("schema"), components), ensure_ascii=False, indent=2
                    )
                    if body
                    else "",
                    "responses": [
                        (
                            code,
                            json.dumps(
                                _resolve(
                                    r.get("content", {}).get("application/json", {}).get("schema"),
                                    components,
                                ),
                                ensure_ascii=False,
                                indent=2,
                            ),
                        )
                        for code, r in op.get("responses", {}).items()
                    ],
                }
            )
    return render(
        request,
        "api/docs.html",
        {
            "info": schema.get("info", {}),
            "operations": operations,
            "openapi_url": reverse("api:v1:openapi-json"),
        },
    )
