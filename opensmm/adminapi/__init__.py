"""The admin API: a token-authenticated JSON API for staff automations under
``/api/admin/v1/``, described by the OpenAPI document generated from the same Pydantic models
that validate its requests (``opensmm.adminapi.openapi``)."""
