"""The extract floor: OpenSSH's ``sftp`` client gets the batch's files to local disk, then boto3 uploads each.

``python -m bench.floors.extract_floor --date D --dest DIR --prefix floor``: the two plain steps the pipeline's
SFTP-to-S3 streaming copy (ExtractWineFile) has to beat. Connection settings come from ``[sftp]``/``[s3]``/
``[wine]`` (LUIGI_CONFIG_PATH); objects go to ``s3://<bucket>/<prefix>/<date>/<file>``. Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import ROOT


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.floors.extract_floor")
    ap.add_argument("--date", required=True)
    ap.add_argument("--dest", required=True, help="local directory for the downloaded files (emptied first)")
    ap.add_argument("--prefix", default="floor", help="S3 zone the files are uploaded under")
    args = ap.parse_args(argv)

    from tasks.config import sftp as sftp_config
    from tasks.config import sources, wine
    from tasks.s3 import s3_client

    cfg = sftp_config()
    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    files = [src.file for src in sources()]
    remote_dir = f"{wine().remote_root}/{args.date}"
    started = time.perf_counter()
    with tempfile.NamedTemporaryFile("w", suffix=".sftp", delete=False) as batch:
        for name in files:
            batch.write(f'get "{remote_dir}/{name}" "{dest / name}"\n')
    key = cfg.key_file if os.path.isabs(cfg.key_file) else str(ROOT / cfg.key_file)
    known = os.path.expanduser(cfg.known_hosts)
    known = known if os.path.isabs(known) else str(ROOT / known)
    cmd = ["sftp", "-q", "-b", batch.name, "-i", key, "-o", f"UserKnownHostsFile={known}",
           "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
           "-P", str(cfg.port), f"{cfg.user()}@{cfg.host}"]
    try:
        subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)
    finally:
        os.unlink(batch.name)
    downloaded = time.perf_counter()
    client = s3_client()
    total = 0
    for name in files:
        client.upload_file(str(dest / name), wine().bucket, f"{args.prefix}/{args.date}/{name}")
        total += (dest / name).stat().st_size
    done = time.perf_counter()
    print(json.dumps({"bytes": total, "sftp_seconds": round(downloaded - started, 3),
                      "upload_seconds": round(done - downloaded, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
