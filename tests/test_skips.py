"""Every skip of the suite honours RUNG_REQUIRE_SERVICES=1: a test that needs a service, a
browser or a bundled model skips only through `tests.conftest.service_missing`, which fails it
instead when the flag is set."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
SKIP = re.compile(r"pytest\.skip\(|importorskip\(|mark\.skip(if)?\b|pytest\.xfail\(")
# Skips that are not about a missing service, with the reason they may ignore the flag.
ALLOWED = {
    ("recipes/test_qlora_without_gpu.py", "skipif(torch.cuda.is_available()"): (
        "the test is about a machine WITHOUT a GPU; having one is not a missing service"
    ),
}


def test_no_skip_bypasses_the_require_services_helper() -> None:
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        rel = path.relative_to(TESTS).as_posix()
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not SKIP.search(line) or line.lstrip().startswith("#"):
                continue
            if rel == "conftest.py" and "pytest.skip(message)" in line:
                continue  # the helper itself
            if rel == Path(__file__).name:
                continue
            if any(rel == f and snippet in line for f, snippet in ALLOWED):
                continue
            offenders.append(f"tests/{rel}:{number}: {line.strip()}")
    assert offenders == [], "use tests.conftest.service_missing:\n" + "\n".join(offenders)
