"""A namespace on the local stack: its own MySQL database, S3 bucket, SFTP folder and Redis key prefix.

The tests and the benchmark each run in one, so neither touches what ``make run`` made. The pipeline reaches a
namespace through a luigi override file named by LUIGI_CONFIG_PATH, the same mechanism production uses.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from devstack.services import STACK


@dataclass(frozen=True)
class NamespaceNames:
    """Where namespace ``name`` keeps its data: ``test-1a2b`` -> ``winepipe_test_1a2b``, ``winepipe-test-1a2b``..."""

    name: str
    database: str
    bucket: str
    remote_root: str
    sftp_dir: Path
    redis_prefix: str

    @classmethod
    def of(cls, name: str) -> NamespaceNames:
        if not re.fullmatch(r"[a-z0-9]+([-_][a-z0-9]+)*", name):
            raise ValueError(f"namespace {name!r}: lowercase letters and digits, separated by - or _")
        return cls(name=name, database="winepipe_" + name.replace("-", "_"), bucket="winepipe-" + name.replace("_", "-"),
                   remote_root=name, sftp_dir=STACK / "sftp" / name, redis_prefix=f"winepipe-{name}:")

    def places(self) -> dict[str, object]:
        """database, bucket, remote_root, sftp_dir and redis_prefix, as keyword arguments."""
        return {"database": self.database, "bucket": self.bucket, "remote_root": self.remote_root,
                "sftp_dir": self.sftp_dir, "redis_prefix": self.redis_prefix}

    def write_override(self, config_path: Path, work_dir: Path, extra: str = "") -> None:
        """The luigi override file that points the pipeline at this namespace (read after luigi.cfg)."""
        config_path.write_text(f"""\
# The {self.name} namespace on the local stack (devstack/namespace.py).
[mysql]
database = {self.database}

[wine]
bucket = {self.bucket}
remote_root = {self.remote_root}
work_dir = {work_dir}

[redis]
key_prefix = {self.redis_prefix}
{extra}""")
