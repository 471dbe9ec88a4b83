#!/usr/bin/env python3
"""What the Prometheus project's own parsers read in a /metrics answer.

Usage: metrics_facts.py FORMAT < EXPOSITION

FORMAT is `text` (Prometheus text format 0.0.4, read by
`prometheus_client.parser`) or `openmetrics` (OpenMetrics 1.0, read by
`prometheus_client.openmetrics.parser`, which refuses anything the
specification does not allow: a missing `# EOF`, a sample outside its
family, a counter without `_total`, histogram buckets out of order...).
Prints one JSON object, so that the end-to-end test's assertions rest on a
parser we did not write:

  {"families": {name: type, ...},
   "samples": [[sample name, {label: value}, value], ...]}

Non-finite values are printed as strings ("+Inf", "NaN").
Exit status: 0; 1 when the parser refuses the input; 3 when
prometheus_client is missing.
"""

import json
import math
import sys

try:
    from prometheus_client.openmetrics.parser import (
        text_string_to_metric_families as openmetrics_families,
    )
    from prometheus_client.parser import text_string_to_metric_families as text_families
except ImportError as e:  # pragma: no cover
    print(f"prometheus_client is missing ({e}): run scripts/install-test-tools.sh", file=sys.stderr)
    sys.exit(3)


def value(v):
    v = float(v)
    if math.isfinite(v):
        return v
    return "+Inf" if v > 0 else ("-Inf" if v < 0 else "NaN")


def main():
    fmt = sys.argv[1]
    text = sys.stdin.read()
    parse = {"text": text_families, "openmetrics": openmetrics_families}[fmt]
    families = {}
    samples = []
    try:
        for fam in parse(text):
            if fam.name in families:
                raise ValueError(f"family {fam.name} appears twice")
            families[fam.name] = fam.type
            for s in fam.samples:
                samples.append([s.name, dict(s.labels), value(s.value)])
    except Exception as e:  # the parsers raise ValueError and friends
        print(f"{fmt} parser refused the exposition: {e!r}", file=sys.stderr)
        sys.exit(1)
    json.dump({"families": families, "samples": samples}, sys.stdout)


if __name__ == "__main__":
    main()
