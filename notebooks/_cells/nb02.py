"""Cells of notebook 02: chat."""

from __future__ import annotations

from .common import CLEANUP, INTRO_RUNS_WHERE, md_table, setup_cell

NB02 = [
    ("md", """\
# 2 · Chat: roles, conversations, parameters

A chat payload is a list of **messages**, each with a `role`:

""" + md_table(
        ("role", "what it is for"),
        ("`system`", "instructions: tone, format, rules; comes first"),
        ("`user`", "what the person asks"),
        ("`assistant`", "what the model answered before: the model remembers nothing between calls, so *you* "
                        "send the conversation so far every time"),
    ) + "\n\n" + INTRO_RUNS_WHERE),
    ("code", setup_cell()),
    ("md", """\
## One message

A plain string is one user message. The result's display folds the request **as sent** (open "request as
sent"): `result.response.request.body` is exactly what went on the wire — rest_client adds nothing you did not
ask for."""),
    ("code", """\
import json

result = client.chat("What is the capital of France?", max_tokens=40)
print(json.loads(result.response.request.body))
result
"""),
    ("md", """\
## A system message"""),
    ("code", """\
messages = [
    {"role": "system", "content": "You are a concise assistant. Answer in one sentence."},
    {"role": "user", "content": "Why is the sky blue?"},
]
result = client.chat(messages, max_tokens=60)
result
"""),
    ("md", """\
## A multi-turn conversation

Append the assistant's answer, then ask the follow-up: the model sees the whole history. The price is in
`usage.prompt_tokens`, which grows with every turn — long conversations get trimmed or summarised."""),
    ("code", """\
messages.append({"role": "assistant", "content": result.text})
messages.append({"role": "user", "content": "And why are sunsets red?"})
follow_up = client.chat(messages, max_tokens=60)
print(follow_up.text)
print(f"{len(messages)} messages sent; prompt tokens {result.usage['prompt_tokens']} -> "
      f"{follow_up.usage['prompt_tokens']}")
"""),
    ("md", """\
A small helper keeps the history for you:"""),
    ("code", """\
def ask(conversation: list, question: str, **params) -> str:
    conversation.append({"role": "user", "content": question})
    answer = client.chat(conversation, **params).text
    conversation.append({"role": "assistant", "content": answer})
    return answer


conversation = [{"role": "system", "content": "You are a travel guide. Be brief."}]
print(ask(conversation, "Name one sight in Lisbon.", max_tokens=40))
print(ask(conversation, "How do I get there from the airport?", max_tokens=40))
print(len(conversation), "messages in the history")
"""),
    ("md", """\
## Parameters

They go into the JSON body exactly as you give them:

""" + md_table(
        ("parameter", "effect"),
        ("`max_tokens`", "caps the answer; when it is reached `finish_reason` is `\"length\"` (the text is cut)"),
        ("`temperature`", "0 = most predictable … 2 = most varied (default 1); tune this *or* `top_p`, not both"),
        ("`top_p`", "sample only from the most likely tokens making up this probability mass"),
        ("`n`", "several alternative answers (`choices`) in one call; each one is billed"),
        ("`stop`", "up to 4 strings; the answer ends *before* the first one (`finish_reason` `\"stop\"`)"),
        ("`seed`", "best-effort repeatable sampling"),
    ) + """

(The emulator's text is deterministic for a given prompt and honours `max_tokens`, `n` and `stop`; it accepts
`temperature` but does not change its text for it.)"""),
    ("code", """\
result = client.chat("Suggest a name for a cat.", n=3, max_tokens=12, temperature=1.0)
for choice in result.json()["choices"]:
    print(choice["index"], f"{choice['finish_reason']:7}", choice["message"]["content"])
"""),
    ("code", """\
result = client.chat("Count from one to ten in words, separated by commas.", stop=[","], max_tokens=30)
print(repr(result.text), "| finish_reason:", result.json()["choices"][0]["finish_reason"])
"""),
    ("md", """\
## Reading the answer

`result.text` is the first choice's content. The whole body has more: the `finish_reason` of each choice
(`stop`, `length`, `content_filter` when the *answer* was filtered, `tool_calls`), Azure's content filter
verdicts on the prompt and on each answer, and `usage` — the tokens you are billed for."""),
    ("code", """\
body = result.json()
print("id:", body["id"], "| model:", body["model"], "| system_fingerprint:", body.get("system_fingerprint"))
choice = body["choices"][0]
print("finish_reason:", choice["finish_reason"])
print("answer filter:", {name: r.get("severity", r.get("detected"))
                         for name, r in choice.get("content_filter_results", {}).items()})
print("prompt filter:", [p["prompt_index"] for p in body.get("prompt_filter_results", [])], "(prompt indexes)")
print("usage:", body["usage"]["prompt_tokens"], "prompt +", body["usage"]["completion_tokens"], "completion =",
      body["usage"]["total_tokens"], "tokens")
result  # the display: finish_reason and usage under the answer, the whole body folded ("response body")
"""),
    ("code", CLEANUP),
]
