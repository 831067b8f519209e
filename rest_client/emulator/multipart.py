"""``multipart/form-data`` parsing for file uploads, standard library only (``cgi`` is gone in Python 3.13).

Why a small parser of our own rather than ``email.parser`` over the whole body: the email parser is
line-based and may rewrite line endings inside a part, while an uploaded JSONL file must keep its exact
bytes (the File object's ``bytes`` is the uploaded size, and the batch reads those very lines). The headers
of each part are still read by ``email``, which knows the quoting rules and RFC 2231 ``filename*=``.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from email.utils import collapse_rfc2231_value

from .wire import Body

CRLF = b"\r\n"


class MultipartError(ValueError):
    """The body is not the multipart/form-data its Content-Type announced."""


@dataclass(frozen=True)
class FormPart:
    """One form field: its name, its bytes exactly as sent, and the filename when it is a file."""

    name: str
    data: bytes | memoryview  # a view into a spooled upload (see server.py): never a second copy of a big file
    filename: str | None = None
    content_type: str | None = None

    def text(self) -> str:
        """A plain (non-file) field's value as text."""
        return bytes(self.data).decode("utf-8", "replace")


def form_boundary(content_type: str | None) -> str | None:
    """The boundary of a ``multipart/form-data`` Content-Type, or None for any other type."""
    if not content_type:
        return None
    header = Message()
    header["content-type"] = content_type
    if header.get_content_type() != "multipart/form-data":
        return None
    boundary = header.get_param("boundary")
    return collapse_rfc2231_value(boundary) if boundary else None


def parse_form_data(content_type: str | None, body: Body) -> dict[str, FormPart]:
    """The fields of a multipart/form-data body by name (the last one wins); ``MultipartError`` if malformed.

    ``body`` may be memory-mapped (a spooled upload): parts are then views into it, not copies."""
    boundary = form_boundary(content_type)
    if not boundary:
        raise MultipartError("The Content-Type must be multipart/form-data with a boundary.")
    delimiter = b"--" + boundary.encode("latin-1")
    position = body.find(delimiter)
    if position < 0:
        raise MultipartError("The multipart body does not contain its boundary.")
    parts: dict[str, FormPart] = {}
    while True:
        position += len(delimiter)
        if body[position : position + 2] == b"--":
            return parts  # the closing delimiter; anything after it is an epilogue
        line_end = body.find(CRLF, position)
        if line_end < 0:
            raise MultipartError("The multipart body ends inside a delimiter line.")
        start = line_end + 2
        if body[start : start + 2] == CRLF:
            head, data_start = b"", start + 2  # a part without headers
        else:
            head_end = body.find(CRLF + CRLF, start)
            if head_end < 0:
                raise MultipartError("A multipart part has no end of headers.")
            head, data_start = body[start:head_end], head_end + 4
        data_end = body.find(CRLF + delimiter, data_start)
        if data_end < 0:
            raise MultipartError("A multipart part is not terminated by the boundary.")
        data = body[data_start:data_end] if isinstance(body, bytes) else memoryview(body)[data_start:data_end]
        part = _part(head, data)
        if part is not None:
            parts[part.name] = part
        position = data_end + 2


def _part(head: bytes, data: bytes | memoryview) -> FormPart | None:
    """A FormPart from its header block; None for a part without a form-data name (ignored, like browsers do)."""
    # Clients send non-ASCII filenames as raw UTF-8 in the header; decode them as such, not as ASCII.
    headers = HeaderParser().parsestr(head.decode("utf-8", "replace"))
    name = headers.get_param("name", header="content-disposition")
    if not name:
        return None
    return FormPart(
        name=collapse_rfc2231_value(name),
        data=data,
        filename=headers.get_filename(),
        content_type=headers.get("content-type"),
    )
