"""versions.py: prints the runtime, framework and server versions of this target as one JSON object
(manifest [versions] command; read from the installed distributions, not hard-coded).

Usage: versions.py DISTRIBUTION...
"""

import importlib.metadata
import json
import platform
import ssl
import sys

out = {"python": platform.python_version(), "implementation": platform.python_implementation(),
       "openssl": ssl.OPENSSL_VERSION}
for name in sys.argv[1:]:
    try:
        out[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        sys.exit(f"error: {name} is not installed in {sys.prefix}: run the target's install first")
print(json.dumps(out))
