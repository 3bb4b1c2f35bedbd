"""Released or not, and why: what a reviewer reads first."""

from __future__ import annotations

REJECTED, FAILED, RELEASED, SERVED, NOT_PUSHED, NOT_BLESSED = (
    "rejected", "failed", "released", "already served", "blessed, not pushed", "not blessed"
)
TONE = {RELEASED: "good", SERVED: "good", NOT_PUSHED: "warn", NOT_BLESSED: "bad",
        REJECTED: "bad", FAILED: "bad"}


def _failed_thresholds(model_section: dict) -> list[str]:
    return [
        f"{t['output']}/{t['metric']} = {t['value']} misses its {t['kind']} threshold"
        for t in model_section["tfma"]["thresholds"] if not t["passed"]
    ]


def decide(data_part: dict, model_part: dict, *, blessing, pushed) -> dict:
    """Released or not, and why, in the words a reviewer reads first."""
    if not data_part["gate"]["passed"]:
        reasons = [
            f"[{split}] {a['feature']}: {a['short_description']} - {a['meaning']}"
            for split, entries in data_part["anomalies"].items() for a in entries
        ] + [f"{pair}: {len(ids)} shared {data_part['splits']['partition_key']} value(s)"
             for pair, ids in data_part["gate"]["leaks"].items()
        ] + [f"[{p['split'] or 'data'}] {p['message']}"
             for p in data_part["gate"].get("cohort", [])]
        return {"status": REJECTED, "blessed": None, "pushed": False, "reasons": reasons,
                "summary": "The validation gate rejected the data; no model was trained."}
    if blessing is None or not model_part.get("trained"):
        return {"status": FAILED, "blessed": None, "pushed": False,
                "reasons": ["the run stopped between the gate and the evaluation"],
                "summary": "No evaluated model: the run failed after the gate."}
    blessed = blessing.get_int_custom_property("blessed") == 1
    failed = _failed_thresholds(model_part)
    if not blessed:
        return {"status": NOT_BLESSED, "blessed": False, "pushed": False,
                "reasons": failed or ["TFMA did not bless the model"],
                "summary": "Not released: the candidate missed its thresholds on "
                           f"{model_part['tfma']['split']}."}
    if pushed is None or pushed.get_int_custom_property("pushed") != 1:
        return {"status": NOT_PUSHED, "blessed": True, "pushed": False, "reasons": [],
                "summary": "Blessed but not pushed."}
    version = pushed.get_string_custom_property("pushed_version")
    fresh = pushed.get_int_custom_property("newly_pushed") == 1
    passed = len(model_part["tfma"]["thresholds"])
    return {
        "status": RELEASED if fresh else SERVED,
        "blessed": True,
        "pushed": True,
        "version": version,
        "destination": pushed.get_string_custom_property("pushed_destination"),
        "reasons": [f"all {passed} thresholds passed on the {model_part['tfma']['split']} "
                    "split"],
        "summary": (f"Released as version {version}." if fresh else
                    f"Blessed; identical to the served version {version}, not pushed again."),
    }
