"""Execute the Python blocks of one docs page, in order, in one namespace: the other end of doc_runner.py.

Why a process of its own: a snippet may set process-wide state — OpenTelemetry's global tracer provider,
logging handlers, warning filters, environment variables, the working directory — that must not leak into the
tests sharing the pytest worker. One process per page keeps a page's blocks together (a later block uses the
names an earlier one defined) and pages apart.

Protocol: one JSON request per line on stdin (``{"code", "where", "cwd", "env"}``), one JSON answer per line on
the file descriptor given as ``argv[1]`` (``{"output", "error"}``: what the block printed, and its traceback
if it raised). End of stdin ends the process at once, even if a snippet left a thread running.

Standard library only, and nothing from tests/: it runs as a script, as a reader's interpreter would.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import traceback


def main() -> None:
    answers = os.fdopen(int(sys.argv[1]), "w", encoding="utf-8")
    sys.path.pop(0)  # this script's folder (tests/) is no part of a reader's interpreter
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for line in sys.stdin:
        request = json.loads(line)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        printed = io.StringIO()
        error = None
        try:
            with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
                exec(compile(request["code"], request["where"], "exec"), namespace)
        except (Exception, SystemExit) as exc:  # a snippet's sys.exit() is a failure too
            error = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        answers.write(json.dumps({"output": printed.getvalue(), "error": error}) + "\n")
        answers.flush()
    answers.close()
    os._exit(0)  # not sys.exit: a thread a snippet left running must not keep the page waiting


if __name__ == "__main__":
    main()
