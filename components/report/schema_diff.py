"""The schema's version and what changed since the last run's."""

from __future__ import annotations

import difflib

from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

_DIFF_LINES = 200


def parse(text: str) -> schema_pb2.Schema:
    return text_format.Parse(text, schema_pb2.Schema())


def _features(schema: schema_pb2.Schema) -> dict[str, str]:
    return {f.name: text_format.MessageToString(f) for f in schema.feature}


def diff(previous: str, current: str) -> dict:
    """Features added, removed and changed, and the line diff of the schema files."""
    before, after = _features(parse(previous)), _features(parse(current))
    lines = list(difflib.unified_diff(
        previous.splitlines(), current.splitlines(), "last run", "this run", lineterm=""
    ))
    return {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": sorted(n for n in set(before) & set(after) if before[n] != after[n]),
        "lines": lines[:_DIFF_LINES],
        "truncated": len(lines) > _DIFF_LINES,
    }


def summary(schema: schema_pb2.Schema) -> dict:
    """What the curated schema says, feature by feature."""
    rows = []
    for feature in schema.feature:
        domain = feature.WhichOneof("domain_info")
        rows.append({
            "name": feature.name,
            "type": schema_pb2.FeatureType.Name(feature.type),
            "domain": text_format.MessageToString(
                getattr(feature, domain), as_one_line=True) if domain else "",
            "required": feature.presence.min_fraction == 1.0,
            "environments": list(feature.in_environment) or [
                e for e in schema.default_environment if e not in feature.not_in_environment
            ],
        })
    return {"features": rows, "environments": list(schema.default_environment)}
