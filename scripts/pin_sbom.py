"""Makes the SBOM the same bytes for the same commit: cargo-cyclonedx stamps each run with the time
and a random serial number, and names the workspace's crates by the checkout's absolute path; the
time becomes the commit's (SOURCE_DATE_EPOCH), the serial a UUID derived from the version and
commit, the checkout `/cf-doctor` (as the binary's paths are remapped), and the release's commit
is recorded.

Usage: pin_sbom.py sbom.cdx.json VERSION COMMIT CHECKOUT_DIR
"""

import datetime
import json
import os
import sys
import uuid


def unrooted(value, checkout: str):
    """`value` with every `file://CHECKOUT` replaced by `file:///cf-doctor`, at any depth."""
    if isinstance(value, str):
        return value.replace("file://" + checkout, "file:///cf-doctor")
    if isinstance(value, list):
        return [unrooted(v, checkout) for v in value]
    if isinstance(value, dict):
        return {k: unrooted(v, checkout) for k, v in value.items()}
    return value


def main() -> None:
    path, version, commit, checkout = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    with open(path, encoding="utf-8") as f:
        bom = unrooted(json.load(f), os.path.abspath(checkout).rstrip("/"))
    epoch = int(os.environ["SOURCE_DATE_EPOCH"])
    stamp = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    bom["serialNumber"] = "urn:uuid:" + str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"cf-doctor/{version}/{commit}")
    )
    metadata = bom.setdefault("metadata", {})
    metadata["timestamp"] = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    properties = [p for p in metadata.get("properties", []) if p.get("name") != "cf-doctor:commit"]
    properties.append({"name": "cf-doctor:commit", "value": commit})
    metadata["properties"] = properties
    with open(path, "w", encoding="utf-8") as f:
        json.dump(bom, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
