"""Makes the SBOM the same bytes for the same commit: cargo-cyclonedx stamps each run with the time
and a random serial number; the time becomes the commit's (SOURCE_DATE_EPOCH) and the serial a
UUID derived from the version and commit, and the release's version and commit are recorded.

Usage: pin_sbom.py sbom.cdx.json VERSION COMMIT
"""

import datetime
import json
import os
import sys
import uuid


def main() -> None:
    path, version, commit = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(path, encoding="utf-8") as f:
        bom = json.load(f)
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
