"""Load the real Azure OpenAI traffic in ../shared/azure-openai-recordings (VCR YAML and SDK JSON records)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

SKIP_HEADERS = {"content-length", "transfer-encoding", "content-encoding", "connection"}


@dataclass(frozen=True)
class Interaction:
    file: str
    index: int
    method: str
    uri: str
    request_body: str
    status: int
    headers: dict[str, str]
    body: str

    @property
    def name(self) -> str:
        return f"{self.file}#{self.index}"

    @property
    def is_stream(self) -> bool:
        return self.body.lstrip().startswith("data:")

    def replay_headers(self) -> dict[str, str]:
        """Headers to send again from a test server (framing headers are the server's own business)."""
        return {k: v for k, v in self.headers.items() if k.lower() not in SKIP_HEADERS}


def load_interactions(shared_dir: Path) -> list[Interaction]:
    root = shared_dir / "azure-openai-recordings"
    out: list[Interaction] = []
    for path in sorted(root.rglob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for i, item in enumerate(data["interactions"]):
            req, resp = item["request"], item["response"]
            body = resp["body"]["string"] if isinstance(resp["body"], dict) else resp["body"]
            headers = {k: (v[0] if isinstance(v, list) else v) for k, v in resp["headers"].items()}
            out.append(Interaction(str(path.relative_to(root)), i, req["method"], req["uri"], req.get("body") or "",
                                   resp["status"]["code"], headers, body or ""))
    for path in sorted(root.rglob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for i, entry in enumerate(data["Entries"]):
            body = entry["ResponseBody"]
            out.append(Interaction(str(path.relative_to(root)), i, entry["RequestMethod"], entry["RequestUri"],
                                   json.dumps(entry.get("RequestBody")), entry["StatusCode"],
                                   dict(entry["ResponseHeaders"]),
                                   body if isinstance(body, str) else json.dumps(body)))
    return out
