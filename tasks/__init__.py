"""winepipe's Luigi tasks: ``luigi --module tasks LoadWine --date YYYY-MM-DD``.

ExtractWineFile (SFTP -> S3 raw) -> TransformWine (PySpark -> S3 curated) -> LoadWine (MySQL).
"""
from tasks.extract import ExtractWineFile, RemoteWineFile
from tasks.load import LoadWine
from tasks.transform import TransformWine
from tasks import runmeta  # noqa: F401  registers the run-metadata event handlers

__all__ = ["ExtractWineFile", "LoadWine", "RemoteWineFile", "TransformWine"]
