"""The model card (Mitchell et al., 2019, "Model Cards for Model Reporting").

The prose is per data set and reviewed like code; every number comes from the report.
"""

from __future__ import annotations

NO_DEMOGRAPHICS = (
    "Neither data set records age, sex, ethnicity, menopausal status, breast density, "
    "referring site or the device that produced the image. Performance across those "
    "groups is therefore unknown: the report cannot show it, and absence of a gap in "
    "the slices below is not evidence that there is none."
)
_COMMON_OUT_OF_SCOPE = [
    "Deciding a diagnosis or a treatment without a pathologist or clinician.",
    "Screening populations (the data are diagnostic samples, with far more cancers than "
    "a screening population has).",
    "Any population, site, scanner or preparation protocol other than the data's.",
]
TEXT = {
    "wdbc": {
        # By the number of networks the model was trained with (its model_info).
        "model_type": {
            1: "A one-dimensional convolutional network over the 30 nuclear measurements "
            "(log-scaled and z-scored by the TFT graph inside the SavedModel); output "
            "P(malignant) and a 0/1 label at the operating threshold.",
            "more": "{members} one-dimensional convolutional networks over the 30 nuclear "
            "measurements (log-scaled and z-scored by the TFT graph inside the SavedModel), "
            "trained side by side from different initial weights; output P(malignant), the "
            "mean of theirs, and a 0/1 label at the operating threshold.",
        },
        "data": "Wisconsin Diagnostic Breast Cancer (UCI): 569 fine-needle aspirates of "
        "breast masses from one clinic (University of Wisconsin Hospitals, Madison), each "
        "described by the mean, standard error and worst value of 10 measurements of the "
        "cell nuclei in a digitised image; diagnosis malignant (1) or benign (0).",
        "primary_uses": [
            "Second reader on fine-needle aspirate measurements: flags masses the "
            "measurements suggest are malignant, for a cytopathologist to review.",
        ],
        "primary_users": ["Cytopathologists and the clinical teams they report to."],
        "out_of_scope": [
            "Inputs not computed with the original WDBC image-analysis protocol.",
            *_COMMON_OUT_OF_SCOPE,
        ],
        "relevant_factors": [
            "Tumour size (radius): small masses are where a miss is most likely; the "
            "report slices by it.",
            "Image-analysis protocol and operator, which the data do not record.",
        ],
        "ethical": [
            "A false negative delays the treatment of a cancer; the operating threshold is "
            "chosen for sensitivity at the cost of more false positives (more biopsies).",
            "569 cases from one clinic in the 1990s: the held-out splits hold a few dozen "
            "cases each, so every interval is wide.",
        ],
        "caveats": [
            "Recalibrate and re-validate on local data before any use elsewhere.",
            "Check the intervals, not only the point estimates: with 40-60 cases per split "
            "one more miss moves sensitivity by several points.",
        ],
    },
    "idc": {
        "model_type": {
            1: "A 2D convolutional network over 50x50 px RGB patches; output "
            "P(invasive ductal carcinoma) and a 0/1 label at the operating threshold.",
        },
        "data": "The public IDC histopathology archive: 50x50 px patches of whole-mount "
        "breast cancer slides scanned at 40x, one folder per patient, each patch "
        "labelled IDC-positive (1) or negative (0) from a pathologist's annotation of "
        "the slide. Splits are by patient.",
        "primary_uses": [
            "Highlighting regions of a slide likely to contain invasive ductal carcinoma, "
            "for a pathologist to review.",
        ],
        "primary_users": ["Pathologists."],
        "out_of_scope": [
            "Whole-slide diagnosis from patch scores without a pathologist.",
            "Other tumour types, other stains, magnifications or scanners.",
            *_COMMON_OUT_OF_SCOPE,
        ],
        "relevant_factors": [
            "Patient: patches of one patient are alike; the report slices by patient and "
            "resamples patients, not patches, for its intervals.",
            "Patch size: edge patches, smaller than 50x50 and padded white, are a slice "
            "of their own (patch_size = edge) next to full ones.",
            "Stain, scanner and slide preparation, which the data do not record.",
        ],
        "ethical": [
            "Patch labels come from region annotations: patches at region borders are "
            "noisy, so patch-level errors overstate and understate slide-level ones.",
            "A missed region may mean an under-staged cancer. The operating threshold is "
            "fixed at P = 0.5 on class-balanced training, where sensitivity and specificity "
            "trade evenly: on 19 real patients, each scored by a model that never saw it, "
            "it gave sensitivity 0.846 [0.771-0.920] and specificity 0.847 [0.790-0.904]; "
            "chosen on two eval patients for sensitivity 0.90 the threshold ranged 0.11-0.55 "
            "(bench/README.md, idc_quality).",
        ],
        "caveats": [
            "Patch metrics are not patient outcomes; validate at the slide level before "
            "clinical use.",
            "Recalibrate and re-validate on local slides before any use elsewhere.",
        ],
    },
}
HEADLINE = ("auc", "sensitivity", "specificity", "ppv", "npv", "brier_score", "ece")


def _metric_rows(split: dict) -> list[dict]:
    return [{"metric": name, **{k: split["metrics"][name][k] for k in ("value", "low", "high")}}
            for name in HEADLINE]


def _model_type(text: dict, members: int) -> str:
    """The data set's description of a model of `members` networks (KeyError: none)."""
    return text["model_type"][1 if members == 1 else "more"].format(members=members)


def _weighting(info: dict) -> tuple[dict | None, list[str]]:
    """The class weights the candidate was trained with (its model_info, keys as JSON has
    them) and, where they differ, what they do to the probability it serves."""
    weights = info.get("class_weights")
    if not weights or weights["0"] == weights["1"]:
        return weights, []
    factor = weights["1"] / weights["0"]
    return weights, [
        f"Trained with class weights (malignant {weights['1']:.2f}, benign "
        f"{weights['0']:.2f}): the served probability states the odds of malignancy about "
        f"{factor:.1f} times as high as the training data's prevalence would. Read it as a "
        "score, the label at the operating threshold as the decision, and calibrate it "
        "before quoting it as a risk.",
    ]


def _threshold_policy(info: dict) -> dict:
    """How the served threshold was set and what it gave where it was set (model_info)."""
    point = info.get("operating_point", {})
    return {key: point.get(key) for key in (
        "policy", "chosen_on", "target_sensitivity", "eval_sensitivity", "eval_specificity",
        "eval_examples", "eval_positives")}


def build(report: dict, profile) -> dict:
    """The card for this run's candidate (or, when none was trained, why not)."""
    text = TEXT[profile.name]
    model = report["model"]
    data = report["data"]
    trained = model.get("trained", False)
    # What the candidate was trained with, which a run may have changed from the config.
    members = (
        model["info"]["training"]["ensemble_members"]
        if trained else profile.training.ensemble_members
    )
    test = model["splits"].get("test") if trained else None
    weights, weighting_caveats = _weighting(model["info"] if trained else {})
    return {
        "model_details": {
            "name": profile.model_name,
            "pipeline": report["run"]["pipeline"],
            "version": report["decision"].get("version"),
            "date": report["run"]["generated_at"],
            "type": _model_type(text, members),
            "code_version": report["lineage"]["code_version"],
            "operating_threshold": model.get("threshold"),
            "operating_threshold_policy": _threshold_policy(model["info"]) if trained else None,
            "label_meaning": "1 = malignant / IDC-positive, 0 = benign / negative",
        },
        "intended_use": {
            "primary_uses": text["primary_uses"],
            "primary_users": text["primary_users"],
            "out_of_scope": text["out_of_scope"],
        },
        "factors": {
            "relevant": text["relevant_factors"],
            "evaluation": [f"slices by {f}" for f in sorted(
                {r["feature"] for r in model["slices"]["rows"]})] if trained else [],
            "not_available": NO_DEMOGRAPHICS,
        },
        "metrics": {
            "measures": list(HEADLINE),
            "decision_threshold": model.get("threshold"),
            "variation": model.get("bootstrap", {}).get("method"),
            "test": _metric_rows(test) if test else [],
            # How many patients, and positives, the test figures stand on.
            "rests_on": data["gate"].get("blessing_evidence"),
        },
        "evaluation_data": {
            "description": text["data"],
            "splits": {s: v for s, v in data["class_balance"].items() if s != "train"},
        },
        "training_data": {
            "description": text["data"],
            "split": data["class_balance"].get("train"),
            "class_weights": weights,
        },
        "quantitative_analyses": {
            "worst_slices": [
                {"split": r["split"], "slice": r["slice"], "examples": r["examples"],
                 "accuracy": r["metrics"]["accuracy"]["value"],
                 "sensitivity": r["metrics"]["sensitivity"]["value"]}
                for r in model["slices"]["rows"][:5]
            ] if trained else [],
        },
        "ethical_considerations": [*text["ethical"], NO_DEMOGRAPHICS],
        "caveats_and_recommendations": [*text["caveats"], *weighting_caveats],
        "decision": report["decision"],
    }
