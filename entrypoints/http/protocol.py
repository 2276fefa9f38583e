"""uvicorn's httptools protocol with a bound on the request head (request line and headers).

httptools buffers a header however long it is, so a client could make the gateway hold
megabytes per connection before any handler runs. Past `MAX_HEAD_BYTES` the connection gets a
431 in the caller's family error shape and is closed. Each `data_received` call brings at most
one socket read (256 KiB with asyncio), so what is held stays near the bound.
"""

from __future__ import annotations

from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from entrypoints.http.errors import error_body, family_for_path

MAX_HEAD_BYTES = 64 * 1024


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0

    def data_received(self, data: bytes) -> None:
        counted = self._in_head
        super().data_received(data)
        if counted and self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
                self._refuse_head()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True  # the next request on this keep-alive connection

    def _refuse_head(self) -> None:
        path = self.url.split(b"?", 1)[0].decode("latin-1")
        message = f"request line and headers exceed {MAX_HEAD_BYTES} bytes"
        body = orjson.dumps(error_body(family_for_path(path), "invalid_request", message))
        self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
                             b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body))
        self.transport.close()
