"""The OpenAI Responses API (`POST /v1/responses`) translated to and from the domain.

`request` turns a Responses body into a `ChatRequest` plus the `ResponsesContext` the encoders
need to give the client back what it asked for (namespaced tool names restored, hosted tools
dropped, echoed settings); `response` builds the `response` object; `stream` emits the typed
event sequence with `sequence_number`. Pure functions: no I/O, no clock (ids and times are
passed in).
"""
