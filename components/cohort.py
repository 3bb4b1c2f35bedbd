"""Whether a run's patients can carry it: both classes in the data and in every split, no
split empty, and in the blessing split the patients and positives of Profile.evidence.

The validation gate reads this off SplitCheck's proof, so that a cohort too small for the
run is refused before anything is trained, with what the run would need; until then an
empty eval split crashed the Trainer and a test split of one patient blessed a model.
"""

from __future__ import annotations

import dataclasses
import json

from components.split_assignment import patients_needed
from pipeline.config import Profile


def requirements(profile: Profile) -> str:
    """The gate's parameter: the splits in their proportions, and what blessing needs."""
    return json.dumps({
        "splits": [list(split) for split in profile.split_buckets],
        "blessing_split": profile.blessing_split,
        "evidence": dataclasses.asdict(profile.evidence),
    }, sort_keys=True)


def rests_on(proof: dict, split: str) -> dict:
    """How many patients and examples, and of them with label 1, stand behind `split`."""
    s = proof["splits"].get(split, {})
    return {"split": split, "patients": s.get("partitions", 0),
            "positive_patients": s.get("positive_partitions", 0),
            "examples": s.get("examples", 0), "positives": s.get("positives", 0)}


def describe_evidence(evidence: dict) -> str:
    """'4 patients (4 with label 1), 3,412 examples (1,020 with label 1)'."""
    return (f"{evidence['patients']:,} patients ({evidence['positive_patients']:,} with label "
            f"1), {evidence['examples']:,} examples ({evidence['positives']:,} with label 1)")


def _one_class(proof: dict) -> str | None:
    label = proof["label_key"]
    examples = sum(s["examples"] for s in proof["splits"].values())
    positives = sum(s["positives"] for s in proof["splits"].values())
    if examples and positives not in (0, examples):
        return None
    only = 1 if examples and positives == examples else 0
    return (f"the data hold one class only: all {examples:,} examples have {label} = {only}; "
            f"a model needs examples of both {label} = 0 and {label} = 1")


def problems(proof: dict, required: dict) -> list[dict]:
    """What stops the run, each with the split it concerns (None: the whole data)."""
    one_class = _one_class(proof)
    if one_class:
        return [{"split": None, "message": one_class}]
    label = proof["label_key"]
    weights = [tuple(split) for split in required["splits"]]
    blessing, least = required["blessing_split"], required["evidence"]
    have = sum(s["partitions"] for s in proof["splits"].values())
    need = patients_needed(weights, blessing, least["patients"])
    proportions = ",".join(str(w) for _, w in weights)
    cohort = (f"with --splits {proportions} ({','.join(n for n, _ in weights)}) the run needs "
              f"at least {need} patients, and it has {have}")
    found = []
    for name, _ in weights:
        s = rests_on(proof, name)
        if not s["patients"]:
            found.append({"split": name, "message": f"the {name} split holds no patient: {cohort}"})
            continue
        for value, count in ((1, s["positives"]), (0, s["examples"] - s["positives"])):
            if not count:
                found.append({"split": name, "message": (
                    f"the {name} split holds no example with {label} = {value} (its "
                    f"{s['patients']} patients): every split needs both classes")})
    s = rests_on(proof, blessing)
    if not s["patients"]:
        return found
    counts = [
        ("patients", s["patients"], "patient", ""),
        ("positive_patients", s["positive_patients"], "patient", f" with {label} = 1"),
        ("positive_examples", s["positives"], "example", f" with {label} = 1"),
        ("negative_examples", s["examples"] - s["positives"], "example", f" with {label} = 0"),
    ]
    for key, count, noun, which in counts:
        if count < least[key]:
            message = (f"the {blessing} split holds {count:,} {noun}{'' if count == 1 else 's'}"
                       f"{which}; a blessing rests on at least {least[key]:,} there")
            found.append({"split": blessing, "message": message + (
                f": {cohort}" if key == "patients" else "")})
    return found
