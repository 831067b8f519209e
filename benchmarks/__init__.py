"""Side-by-side measurements of rest_client against the ways people call Azure OpenAI from Python (issue 6).

Run ``python -m benchmarks`` (or ``python benchmarks/run.py``) from the repository root; ``--quick`` for a
smoke run, ``--help`` for the options. One process, one run, the same servers for every contender:

- per call (percall.py): N sequential chat calls — ``http.client`` keep-alive (the floor), a bare
  ``requests.Session`` (the baseline every ratio is against), the classic notebook pattern, the openai SDK,
  ``rest_client.Client`` — with TCP connections and credential calls counted for each; on the emulator
  (realistic server work) and on a loopback server that answers from pre-built bytes (client cost laid bare);
- token single flight (tokens.py): 16 threads, cold cache, an ``az`` that takes 0.5 s;
- start-up (startup.py): whole processes, medians;
- streaming (streaming.py): first content chunk written by the server → yielded by the client;
- profile (profiling.py): where rest_client's per-call time goes, next to the requests.Session it wraps.

Why it is fair: every contender authenticates the same way (Entra ID through the same fake ``az`` first on
PATH; the servers refuse any other token), sends the same payload with the same timeouts, ends each call with
the answer text, and is timed in interleaved rounds so machine noise falls on all alike. Network: 127.0.0.1
only; every loop is bounded. Not part of the test suite (timings depend on the machine);
tests/test_benchmarks_smoke.py only checks that ``--quick`` runs and that the counted goals hold.
"""
