"""A fast fake upstream LLM server speaking the OpenAI, Anthropic and Gemini wire formats.

Run it with ``python -m devtools.fake_upstream --host 127.0.0.1 --port 9100`` or
build the ASGI app with :func:`create_app`.  The official ``openai``,
``anthropic`` and ``google-genai`` SDKs pointed at it parse every reply.

Endpoints
    OpenAI     POST /v1/chat/completions (and /chat/completions), POST /v1/embeddings,
               GET /v1/models[/{id}]  (Anthropic shape when ``anthropic-version`` is sent)
    Responses  POST /v1/responses (and /responses): ``input`` string or items (message,
               function_call, function_call_output), function and namespace tools (offered as
               ``ns.name``, called with ``namespace``), the typed SSE event sequence when streaming
    Anthropic  POST /v1/messages, POST /v1/messages/count_tokens -> {"input_tokens": N}
    Gemini     POST /{v1beta|v1|v1alpha}/models/{model}:generateContent | :streamGenerateContent
               (SSE with ``?alt=sse``, else one JSON array) | :countTokens -> {"totalTokens": N}
               | :embedContent | :batchEmbedContents (the vectors of the OpenAI endpoint);
               the method is what follows the LAST colon.  GET /v1beta/models[/{model}].
    Control    POST /_fake/script {"faults": [fault, ...]}  queue, one fault per generation request
               POST /_fake/default {"fault": fault | null}  applied to every request while set
               POST /_fake/tools {"call": {"name", "arguments"}, "answer": "..."}  a scripted agent
                    turn (``{}`` clears it): while set, ``call`` is the only tool ever called, on a
                    request that offers it and holds no tool result yet; once the conversation holds a
                    tool result (always, without ``call``) the reply is ``answer`` when given, else
                    the usual text.  No other tool is called: side requests get text.
               POST /_fake/reset                           clear faults, plan, counters, last request
               GET  /_fake/stats -> {"requests", "by_path", "last_request": {"path",
               "headers" (all, lower-cased), "body"}, "queued_faults", "default_fault"}
               GET  /health -> 200
    Stats count requests to the provider endpoints above (not /health, /_fake/* or unknown
    routes); ``last_request.body`` is the parsed JSON (the raw text if not JSON).  Faults
    (scripted, default and in-prompt) only apply to the generation endpoints (chat
    completions, messages, generateContent, streamGenerateContent), never to embeddings,
    models or token counting, so those never consume a scripted fault.

Deterministic replies (same for all three formats)
    * Text: ``"Fake reply to: " + T`` where T is the text of the last user message with
      directives removed, whitespace collapsed to single spaces, first 200 characters
      (right-stripped); ``"Fake reply to:"`` when T is empty.  When the conversation ends
      with tool results (OpenAI ``tool`` messages, Anthropic ``tool_result`` blocks, Gemini
      ``functionResponse`` parts; several are joined with a space) the text is
      ``"Tool result received: " + R`` (same cleaning, first 200 chars).  A Gemini
      functionResponse's text is its ``result``/``output``/``content`` string if present,
      else the compact JSON of ``response``; a non-string tool result is compact JSON.
    * Tool calls: if the request defines tools, tool choice is not none, the conversation
      ends with a user message that is not a tool result, and no refuse/finish directive is
      given, the reply is a call to the first tool (or the forced one: OpenAI
      ``tool_choice.function.name``, Anthropic ``{"type": "tool"}``, Gemini ``ANY`` with
      ``allowedFunctionNames``); ``[[fake:tools=parallel]]`` calls every tool.  Arguments:
      each required property (all properties if none are required) from the JSON schema:
      enum -> first value, string "example", integer 1, number 1.5, boolean true,
      array [], object {}.  Ids ``call_<n>`` (OpenAI and Gemini ``functionCall.id``),
      ``toolu_<n>`` (Anthropic), n = 1, 2, ... within the reply.  No text accompanies
      tool calls.  Finish: tool_calls / tool_use / STOP.
    * JSON: when JSON is asked for (OpenAI ``response_format`` json_schema / json_object,
      Responses ``text.format``, Anthropic ``output_format`` / ``output_config.format``,
      Gemini ``responseJsonSchema`` / ``responseSchema`` / ``responseMimeType: application/json``)
      the text is an example document of the schema (every property; enum -> first value,
      arrays one item; upper-case Gemini types accepted), or ``{"reply": <text>}`` without one.
    * Schemas: an OpenAI, Responses or Anthropic request whose tool or response schema uses a
      type JSON Schema does not have (Gemini's upper-case ``OBJECT``) gets 400, as upstream.
    * Limits: ``max_tokens`` / ``max_completion_tokens`` / ``maxOutputTokens`` truncates
      the reply to that many words and finishes with length / max_tokens / MAX_TOKENS.
      Stop sequences (``stop`` / ``stop_sequences`` / ``stopSequences``) cut the text
      before the first occurrence (Anthropic stop_reason ``stop_sequence``).
    * Thinking: Anthropic ``thinking.type`` enabled/adaptive, or Gemini
      ``thinkingConfig.includeThoughts``, adds a thinking block / thought part with
      text "Let me think about this step by step." (Anthropic signature
      "ZmFrZS1zaWduYXR1cmU=").
    * Usage: W = whitespace-separated words (directives removed) of all system text,
      message text and tool-result text, min 1 (tool definitions and tool-call
      arguments are not counted).  Visible output O = words of the reply text +
      sum(len(compact arguments JSON) // 4) over tool calls, min 1.  C = cached
      directive (default 0), R = reasoning directive (default: 8, the thinking text's
      words, when thinking is on, else 0).
        OpenAI:    prompt_tokens = W + C, completion_tokens = O + R, total = sum,
                   prompt_tokens_details.cached_tokens = C,
                   completion_tokens_details.reasoning_tokens = R.
        Anthropic: input_tokens = W, cache_read_input_tokens = C,
                   cache_creation_input_tokens = 0, output_tokens = O + R.
        Gemini:    promptTokenCount = W + C, cachedContentTokenCount = C,
                   candidatesTokenCount = O, thoughtsTokenCount = R,
                   totalTokenCount = W + C + O + R.
      count_tokens / countTokens return W.
    * Streaming: one text chunk per word (``"word "``; the chunks concatenate to the
      non-stream text).  OpenAI: role chunk, content chunks, tool-call chunks (first
      carries id + name + "" arguments, then ~8-character argument fragments), finish
      chunk, usage chunk (empty choices) if ``stream_options.include_usage``, then
      ``data: [DONE]``.  Anthropic: message_start (usage with input tokens,
      output_tokens 1), per block content_block_start / content_block_delta
      (thinking_delta + signature_delta, text_delta, input_json_delta) /
      content_block_stop, a ping after the first block start, message_delta
      (stop_reason + full usage), message_stop.  Gemini: one GenerateContentResponse per
      word; the last carries the last word or all functionCall parts, finishReason and
      usageMetadata.
    * Ids: ``chatcmpl-fake-<k>``, ``msg_fake_<k>``, responseId ``fake-<k>`` where k
      counts replies since start/reset; ``created`` is the current time; the model is
      echoed from the request (Gemini: from the URL).
    * Refusal (``[[fake:refuse]]``): empty text, no tool calls; finish content_filter /
      refusal (empty content) / SAFETY (candidate without content, with safetyRatings).

Faults (a dict; keys combine)
    ``{"status": 429, "message": "...", "retry_after": 2}`` error reply in the family's
    shape (OpenAI ``{"error": {message, type, param, code}}``, Anthropic
    ``{"type": "error", "error": {type, message}}``, Google ``{"error": {code, message,
    status}}``), ``Retry-After`` header when retry_after is given;
    ``{"latency_ms": 200}`` delay before replying; ``{"chunk_delay_ms": 50}`` delay between
    stream events; ``{"cut_after": 3}`` stream: send 3 content chunks then close the
    connection (never the final chunk / [DONE] / message_stop), non-stream: close without
    a response; ``{"drop": true}`` close the connection without any response.

In-prompt directives (read from the final user turn: the last user message's text, or when
the conversation ends with tool results, those results plus any text in the same message)
    ``[[fake:status=500]]`` ``[[fake:message=...]]`` ``[[fake:retry_after=2]]``
    ``[[fake:latency_ms=200]]`` ``[[fake:chunk_delay_ms=50]]`` ``[[fake:cut_after=2]]``
    ``[[fake:drop]]`` ``[[fake:finish=length]]`` ``[[fake:refuse]]``
    ``[[fake:cached_tokens=7]]`` ``[[fake:reasoning_tokens=5]]`` ``[[fake:tools=parallel]]``.
    Directives override the scripted/default fault of the same key.

Embeddings
    64 dimensions by default (``dimensions`` honoured), unit vectors of signed counts of
    crc32-hashed character trigrams of the lower-cased, whitespace-collapsed text;
    ``encoding_format=base64`` gives little-endian float32.  usage tokens = words (min 1).
"""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from devtools.fake_upstream.app import FakeUpstreamApp
from devtools.fake_upstream.faults import FakeState

__all__ = ["FakeState", "FakeUpstreamApp", "create_app", "running_in_thread", "serve"]


def create_app(state: FakeState | None = None) -> FakeUpstreamApp:
    """Build the ASGI application (a fresh :class:`FakeState` unless one is given)."""
    return FakeUpstreamApp(state)


def server_config(app: Any, host: str, port: int, **overrides: Any) -> Any:
    """A quiet, fast ``uvicorn.Config`` (httptools/uvloop when installed)."""
    import uvicorn

    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "http": "httptools" if importlib.util.find_spec("httptools") else "h11",
        "loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        "log_level": "warning",
        "access_log": False,
        "lifespan": "off",
        "proxy_headers": False,
        "server_header": False,
        "backlog": 4096,
    }
    options.update(overrides)
    return uvicorn.Config(app, **options)


def serve(host: str, port: int) -> None:
    """Run the fake upstream with uvicorn until interrupted."""
    import uvicorn

    uvicorn.Server(server_config(create_app(), host, port)).run()


@contextlib.contextmanager
def serving_in_thread(app: Any, host: str = "127.0.0.1", **overrides: Any) -> Iterator[str]:
    """Serve any ASGI app with uvicorn on a free port in a background thread while the block
    runs; yields its base URL. `overrides` go to `server_config`."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(server_config(app, host, port, **overrides))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


@contextlib.contextmanager
def running_in_thread(state: FakeState | None = None, host: str = "127.0.0.1") -> Iterator[tuple[str, FakeState]]:
    """Serve a fake upstream on a free port in a background thread while the block runs.

    Yields (base URL, state): the state is the live one, so a test may reset or script it.
    """
    state = state or FakeState()
    with serving_in_thread(create_app(state), host) as url:
        yield url, state
