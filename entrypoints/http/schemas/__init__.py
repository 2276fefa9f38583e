"""Pydantic request and response models for the typed HTTP edges off the hot path (admin API,
`/v1/select-model`). They document the OpenAPI schema and turn JSON into application types; the
chat routes keep their hand-written parsers, which are faster."""
