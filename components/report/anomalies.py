"""TFDV's anomaly codes in words a clinical reviewer can act on."""

from __future__ import annotations

# Type code -> what it means for the data and for a model trained on it.
MEANINGS = {
    "FLOAT_TYPE_SMALL_FLOAT": "values below the smallest the schema allows: a measurement "
    "that cannot be real (e.g. a negative area) or a unit/transcription error",
    "FLOAT_TYPE_BIG_FLOAT": "values above the largest the schema allows: an implausible "
    "measurement or a unit change",
    "INT_TYPE_SMALL_INT": "integer values below the schema's minimum",
    "INT_TYPE_BIG_INT": "integer values above the schema's maximum",
    "FLOAT_TYPE_HAS_NAN": "NaN values where a number is required",
    "FEATURE_TYPE_LOW_FRACTION_PRESENT": "the feature is missing from more examples than "
    "the schema allows",
    "FEATURE_TYPE_LOW_NUMBER_PRESENT": "the feature is present in too few examples",
    "FEATURE_TYPE_NOT_PRESENT": "a required feature is absent from every example",
    "SCHEMA_MISSING_COLUMN": "a feature the schema requires is not in the data: the input "
    "layout changed",
    "SCHEMA_NEW_COLUMN": "a feature the schema does not know appeared: the input layout "
    "changed",
    "UNEXPECTED_DATA_TYPE": "values of a different type than the schema declares",
    "FLOAT_TYPE_STRING_NOT_FLOAT": "text where a number is expected",
    "INT_TYPE_NOT_INT_STRING": "text where an integer is expected",
    "ENUM_TYPE_UNEXPECTED_STRING_VALUES": "values outside the allowed set",
    "FEATURE_TYPE_LOW_NUMBER_VALUES": "examples carry fewer values of the feature than allowed",
    "FEATURE_TYPE_HIGH_NUMBER_VALUES": "examples carry more values of the feature than allowed",
    "DATASET_LOW_NUM_EXAMPLES": "the split holds fewer examples than the schema requires",
    "DATASET_HIGH_NUM_EXAMPLES": "the split holds more examples than the schema allows",
    "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH": "the feature's distribution moved more "
    "than the schema tolerates",
    "COMPARATOR_L_INFTY_HIGH": "the share of some category moved more than the schema "
    "tolerates",
    "COMPARATOR_NORMALIZED_ABSOLUTE_DIFFERENCE_HIGH": "category counts moved more than the "
    "schema tolerates",
}
GATED = "the validation gate stops the run: no model is trained or released on this data"


def explain(entry: dict, *, gated: bool) -> dict:
    """An anomaly from the gate's verdict, with its meaning and consequence."""
    meanings = [MEANINGS[t] for t in entry.get("types", []) if t in MEANINGS]
    return {
        **entry,
        "meaning": "; ".join(meanings) or entry["description"],
        "consequence": GATED if gated else "reported only",
    }


def from_verdict(verdict: dict) -> dict:
    """Per split, every anomaly the gate saw; all of them stop the run."""
    return {
        split: [explain(entry, gated=True) for entry in entries]
        for split, entries in verdict["anomalies"].items()
    }
