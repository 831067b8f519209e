"""A ``multipart/form-data`` request body that streams a file from disk: form fields + the file + the end.

Why not ``urllib3.encode_multipart_formdata``: it builds the whole body in memory — for a 200 MB batch file a
second 200 MB copy. ``MultipartBody`` is a seekable binary file object of known length: requests sends it with
a ``Content-Length`` in blocks, and ``Client.request`` rewinds it for each attempt, so a retry resends it whole.
The part headers are rendered by urllib3's ``RequestField`` (its quoting of names and filenames), and the bytes
are exactly those ``encode_multipart_formdata`` would produce for the same boundary.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

from urllib3.fields import RequestField
from urllib3.filepost import choose_boundary


def _part_head(boundary: str, name: str, filename: str | None = None, content_type: str | None = None) -> bytes:
    field = RequestField(name=name, data=b"", filename=filename)
    field.make_multipart(content_type=content_type)
    return f"--{boundary}\r\n".encode("latin-1") + field.render_headers().encode("utf-8")


class MultipartBody(io.RawIOBase):
    """``fields`` as plain form fields, then ``file_field`` holding the file at ``path`` (read in blocks)."""

    def __init__(self, fields: Mapping[str, str], file_field: str, path: str | os.PathLike[str], *,
                 filename: str | None = None, content_type: str = "application/jsonl") -> None:
        super().__init__()
        boundary = choose_boundary()
        self.content_type = f"multipart/form-data; boundary={boundary}"
        head = b"".join(_part_head(boundary, k, None, None) + v.encode("utf-8") + b"\r\n" for k, v in fields.items())
        head += _part_head(boundary, file_field, filename or Path(path).name, content_type)
        tail = f"\r\n--{boundary}--\r\n".encode("latin-1")
        self._file: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by close(), like any file object
        size = os.fstat(self._file.fileno()).st_size
        self._segments: list[tuple[int, int, BinaryIO]] = []  # (start, length, source)
        start = 0
        for length, source in ((len(head), io.BytesIO(head)), (size, self._file), (len(tail), io.BytesIO(tail))):
            self._segments.append((start, length, source))
            start += length
        self._length, self._position = start, 0

    def __len__(self) -> int:
        return self._length

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._length}[whence]
        self._position = min(max(0, base + offset), self._length)
        return self._position

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        for start, length, source in self._segments:
            if start <= self._position < start + length:
                source.seek(self._position - start)
                want = min(len(buffer), start + length - self._position)
                data = source.read(want)
                buffer[: len(data)] = data
                self._position += len(data)
                return len(data)
        return 0

    def close(self) -> None:
        self._file.close()
        super().close()
