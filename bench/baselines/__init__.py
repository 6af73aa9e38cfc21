"""Baselines that do the whole job (SFTP download, union, clean, de-duplicate, count per variety, load)."""
