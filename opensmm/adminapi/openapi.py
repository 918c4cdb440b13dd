"""The OpenAPI 3.1 document of the admin API, made from the registered operations and their
Pydantic models (the ones that validate the requests): it cannot drift from what is served."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from opensmm.adminapi.framework import PREFIX, Operation, Operations
from opensmm.adminapi.schemas import ErrorAnswer
from opensmm.db.types import MAX_ID

REF = "#/components/schemas/{model}"

ERRORS = {
    "401": "No token, or an unknown or revoked one",
    "403": "A read token on an operation that writes",
    "404": "No such object (or path)",
    "413": "The body is larger than 64 KiB",
    "422": "The query or body is not valid (invalid), or a rule refused it (refused)",
    "429": "Too many requests (see Retry-After)",
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorAnswer")}}},
    }


def _parameters(operation: Operation) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}
        for name in operation.params
    ]
    if operation.query is not None:
        schema = operation.query.model_json_schema(ref_template=REF)
        required = set(schema.get("required", []))
        for name, prop in schema["properties"].items():
            param: dict[str, Any] = {"name": name, "in": "query", "required": name in required,
                                     "schema": {k: v for k, v in prop.items()
                                                if k not in ("title", "description")}}
            if "description" in prop:
                param["description"] = prop["description"]
            params.append(param)
    return params


def _operation(op: Operation) -> dict[str, Any]:
    errors = ["401", "403", "404", "422", "429"]
    if op.body is not None:
        errors.insert(3, "413")
    spec: dict[str, Any] = {
        "operationId": op.name,
        "summary": op.summary,
        "description": f"Scope: {op.scope}.",
        "tags": [op.path.split("/")[1]],
        "security": [{"bearer": []}],
        "parameters": _parameters(op),
        "responses": {
            str(op.status): {
                "description": "OK",
                "content": {"application/json": {
                    "schema": {"$ref": REF.format(model=op.answer.__name__)}
                }},
            },
            **{code: _error(ERRORS[code]) for code in errors},
        },
    }
    if op.body is not None:
        spec["requestBody"] = {
            "required": True,
            "content": {"application/json": {
                "schema": {"$ref": REF.format(model=op.body.__name__)}
            }},
        }
    return spec


def document(operations: Operations) -> dict[str, Any]:
    models: list[tuple[type[BaseModel], Any]] = [(ErrorAnswer, "serialization")]
    for op in operations.all:
        models.append((op.answer, "serialization"))
        if op.body is not None:
            models.append((op.body, "validation"))
    _, schemas = models_json_schema(list(dict.fromkeys(models)), ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations.all:
        paths.setdefault(PREFIX + op.path, {})[op.method.lower()] = _operation(op)
    paths[PREFIX + "/openapi.json"] = {"get": {
        "operationId": "openapi",
        "summary": "This document.",
        "tags": ["openapi"],
        "security": [],
        "responses": {"200": {"description": "OpenAPI 3.1",
                              "content": {"application/json": {"schema": {"type": "object"}}}}},
    }}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "opensmm admin API",
            "version": "1",
            "description": (
                "For staff automations. Send `Authorization: Bearer TOKEN` (a token from "
                "`opensmm admin-token create NAME --scope read|write`): read tokens may only "
                "GET. Every refusal is `{\"error\": {\"code\": ..., \"message\": ...}}` with its "
                "HTTP status. Money is a decimal string with at most five decimals."
            ),
        },
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas.get("$defs", {}),
        },
        "paths": paths,
    }


@cache
def served_document() -> dict[str, Any]:
    """The document of the operations served (made once per process)."""
    from opensmm.adminapi.routes import operations

    return document(operations)
