"""Zips the Lambda's bootstrap the same way every time: one entry named bootstrap, mode 0755,
the time of SOURCE_DATE_EPOCH (the commit's), deflated at a fixed level, no extra fields.

Usage: deterministic_zip.py BINARY OUT.zip
"""

import os
import sys
import time
import zipfile


def main() -> None:
    binary, out = sys.argv[1], sys.argv[2]
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "315532800"))
    # Zip times start in 1980 and have two-second resolution.
    stamp = time.gmtime(max(epoch, 315532800))[:6]
    entry = zipfile.ZipInfo("bootstrap", date_time=stamp)
    entry.create_system = 3  # Unix, so Lambda reads the mode
    entry.external_attr = (0o100755 & 0xFFFF) << 16
    entry.compress_type = zipfile.ZIP_DEFLATED
    with open(binary, "rb") as f:
        data = f.read()
    tmp = out + ".tmp"
    with zipfile.ZipFile(tmp, "w") as z:
        z.writestr(entry, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
