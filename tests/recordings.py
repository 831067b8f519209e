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


def har_entry(interaction: Interaction) -> dict:
    """One recorded interaction as a HAR 1.2 entry, as a replay reads it (request as sent, answer as served)."""
    content_type = next((v for k, v in interaction.headers.items() if k.lower() == "content-type"), "")
    request: dict = {"method": interaction.method, "url": interaction.uri, "httpVersion": "HTTP/1.1", "cookies": [],
                     "headers": [{"name": "content-type", "value": "application/json"}], "queryString": [],
                     "headersSize": -1, "bodySize": len(interaction.request_body)}
    if interaction.request_body:
        request["postData"] = {"mimeType": "application/json", "text": interaction.request_body}
    return {
        "startedDateTime": "2024-04-25T10:00:00.000Z", "time": 0, "request": request,
        "response": {"status": interaction.status, "statusText": "", "httpVersion": "HTTP/1.1", "cookies": [],
                     "headers": [{"name": k, "value": v} for k, v in interaction.headers.items()],
                     "content": {"size": len(interaction.body), "mimeType": content_type, "text": interaction.body},
                     "redirectURL": "", "headersSize": -1, "bodySize": len(interaction.body)},
        "cache": {}, "timings": {"send": 0, "wait": 0, "receive": 0},
    }


def write_har(interactions: list[Interaction], path: Path) -> Path:
    """The interactions as a HAR file at ``path`` (in a test's temporary folder: the recordings stay in ../shared)."""
    archive = {"log": {"version": "1.2", "creator": {"name": "tests/recordings.py", "version": "1"}, "pages": [],
                       "entries": [har_entry(i) for i in interactions]}}
    path.write_text(json.dumps(archive, indent=1), encoding="utf-8")
    return path
