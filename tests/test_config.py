"""Configuration: how luigi.cfg and an override file combine."""
from __future__ import annotations

import pytest

from tasks.config import mysql, sources
from tasks.s3 import WineS3Client, s3_options


def test_the_local_stack_s3_settings_reach_boto3_as_luigi_would_pass_them():
    assert s3_options() == {"endpoint_url": "http://127.0.0.1:5055", "region_name": "us-east-1",
                            "aws_access_key_id": "winepipe-dev", "aws_secret_access_key": "winepipe-dev-secret"}


def test_an_override_blanks_the_local_endpoint_and_keys_for_aws(config):
    config("[s3]\nendpoint_url =\naws_access_key_id =\naws_secret_access_key =\nregion_name = eu-west-1\n")
    assert s3_options() == {"region_name": "eu-west-1"}
    assert WineS3Client()._options == {"region_name": "eu-west-1"}


def test_environment_variables_are_expanded_in_an_override(config, monkeypatch):
    monkeypatch.setenv("WINEPIPE_TEST_DB_HOST", "db.internal.example")
    config("[mysql]\nhost = ${WINEPIPE_TEST_DB_HOST}\n")
    assert mysql().host == "db.internal.example"


def test_sources_come_from_configuration_highest_precedence_first(config):
    config('[wine]\nsources = [{"name": "b", "file": "b.json", "format": "json", "precedence": 1},\n'
           '    {"name": "a", "file": "a.csv", "format": "csv", "precedence": 5}]\n')
    assert [(s.name, s.file, s.format, s.precedence) for s in sources()] == [
        ("a", "a.csv", "csv", 5), ("b", "b.json", "json", 1)]


def test_an_unknown_source_format_is_a_clear_error(config):
    config('[wine]\nsources = [{"name": "x", "file": "x.xml", "format": "xml", "precedence": 1}]\n')
    with pytest.raises(ValueError, match=r"\[wine\] sources: x has format 'xml'; expected csv or json"):
        sources()
