"""The model section of the page: how good the candidate is, and for whom."""

from __future__ import annotations

from components.report import svg
from components.report.blocks import Figures, Heading, Para, Section, Table
from components.report.fmt import METRIC_NAMES, interval, metric, num, pass_fail, signed_interval
from components.report.metrics import METRICS
from pipeline.config import FIXED_THRESHOLD


def _exact(entry: dict) -> str:
    exact = entry.get("exact")
    if not exact:
        return ""
    if exact["low"] is None:
        return "0/0"
    return (f"{exact['successes']}/{exact['trials']} "
            f"[{num(exact['low'])}, {num(exact['high'])}]")


def _metrics_table(model: dict) -> Table:
    splits = list(model["splits"])
    rows = [[METRIC_NAMES[name], *(cell for s in splits for cell in (
                interval(model["splits"][s]["metrics"][name]),
                _exact(model["splits"][s]["metrics"][name])))]
            for name in METRICS]
    unit = model["bootstrap"]["unit"]
    counts = [[f"examples / positives / {unit} values / {unit} values with a positive",
               *(cell for s in splits for cell in (
                   f"{num(model['splits'][s]['examples'])} / "
                   f"{num(model['splits'][s]['positives'])} / "
                   f"{num(model['splits'][s]['partitions'])} / "
                   f"{num(model['splits'][s]['positive_partitions'])}", ""))]]
    confidence = round(model["bootstrap"]["confidence"] * 100)
    headers = [h for s in splits for h in (f"{s} [{confidence}% bootstrap]",
                                             f"{s} counts [exact binomial]")]
    return Table(
        ["metric", *headers], rows + counts,
        caption=(f"At the operating threshold {num(model['threshold'], 4)}. Bootstrap: "
                 f"{model['bootstrap']['resamples']} resamples of "
                 f"{model['bootstrap']['unit']} values ({model['bootstrap']['method']}). "
                 "Exact: Clopper-Pearson over examples; it keeps its width where the "
                 "bootstrap has none (no error among n cases)."),
    )


def _confusion(model: dict) -> list:
    tables = []
    for split, part in model["splits"].items():
        c = part["confusion"]
        tables.append(Table(
            ["", "predicted 1 (malignant)", "predicted 0 (benign)"],
            [["actual 1", (num(c["true_positives"]), "good"), (num(c["false_negatives"]), "bad")],
             ["actual 0", (num(c["false_positives"]), "warn"), (num(c["true_negatives"]), "good")]],
            caption=f"Confusion matrix, {split} split, threshold {num(model['threshold'], 4)}",
        ))
    return tables


def _curves(model: dict) -> Figures:
    splits = model["splits"]
    roc = svg.line_chart(
        "ROC", [(s, [(p[0], p[1]) for p in v["roc"]]) for s, v in splits.items()],
        x_label="false positive rate", y_label="sensitivity", diagonal=True,
        markers=[(s, v["operating_point"]["false_positive_rate"],
                  v["operating_point"]["sensitivity"]) for s, v in splits.items()],
    )
    pr = svg.line_chart(
        "Precision-recall", [(s, [(p[0], p[1]) for p in v["pr"]]) for s, v in splits.items()],
        x_label="recall (sensitivity)", y_label="precision (PPV)",
        markers=[(s, v["operating_point"]["sensitivity"], v["operating_point"]["ppv"])
                 for s, v in splits.items()],
    )
    calibration = svg.line_chart(
        "Calibration", [(s, [(b["mean_probability"], b["observed_rate"])
                             for b in v["calibration"] if b["examples"]])
                        for s, v in splits.items()],
        x_label="mean P(malignant) in bin", y_label="observed share malignant", diagonal=True,
    )
    return Figures([roc, pr, calibration],
                   caption="Dots: the operating point. Calibration: equal-width bins; "
                           "the dashed line is perfect calibration.")


def _cross_check(model: dict) -> list:
    if not model["cross_check"]:
        return [Para("No TFMA evaluation to check against.", tone="warn")]
    split = model["tfma"]["split"]
    rows = [[r["metric"], metric(r["report"], 6), metric(r["tfma"], 6), num(r["tolerance"], 6),
             ("n/a", "") if r["agree"] is None else pass_fail(r["agree"])]
            for r in model["cross_check"]]
    disagree = [r["metric"] for r in model["cross_check"] if r["agree"] is False]
    return [
        Para("The report scores the model itself (the served signature) for intervals, "
             f"every held-out split and slices; on the {split} split, which TFMA evaluated "
             "to bless it, its numbers must match TFMA's. "
             + (f"They do NOT for: {', '.join(disagree)}." if disagree else "They do."),
             tone="bad" if disagree else "good"),
        Table(["metric", "report", "TFMA", "tolerance", "agree"], rows,
              caption=f"{split.capitalize()} split, report vs TFMA ({model['tfma']['uri']})"),
    ]


def _slices(model: dict, limit: int) -> list:
    """One table per feature sliced on, so many patients cannot push the patch sizes out."""
    tables = []
    for feature in sorted({r["feature"] for r in model["slices"]["rows"]}):
        rows = [r for r in model["slices"]["rows"] if r["feature"] == feature]
        tables.append(Table(
            ["split", "slice", "examples", "positives", "accuracy", "sensitivity",
             "specificity", "AUC"],
            [[r["split"], r["slice"], num(r["examples"]), num(r["positives"]),
              *(interval(r["metrics"][m]) for m in ("accuracy", "sensitivity", "specificity",
                                                     "auc"))] for r in rows[:limit]],
            caption=f"By {feature}, worst (lowest accuracy) first; a split with no example "
            "in a slice has no row for it"
            + (f"; first {limit} of {len(rows)}" if len(rows) > limit else ""),
        ))
    return tables


def _baseline(model: dict) -> list:
    served = model["baseline"]["served_version"]
    if not served:
        return [Para("No model was served when this run started: there is no baseline, and "
                     "TFMA did not apply the change threshold.")]
    rows = []
    for split, part in model["splits"].items():
        for name in METRICS:
            m = part["metrics"][name]
            rows.append([split, METRIC_NAMES[name], metric(m["value"]),
                         metric(m["baseline"]["value"]), signed_interval(m["change"])])
    tfma = model["tfma"]["metrics"] if model["tfma"] else {}
    tfma_rows = [[k, metric(v, 4), metric(tfma.get("baseline", {}).get(k), 4),
                  metric(tfma.get("change", {}).get(k), 4)]
                 for k, v in sorted(tfma.get("candidate", {}).items())]
    return [
        Para(f"Baseline: version {served} as served when the run started "
             f"({model['baseline']['uri']})."),
        Table(["split", "metric", "candidate", "baseline", "change [paired interval]"], rows,
              caption="Candidate vs the served model, same examples and resamples"),
        Table(["TFMA metric", "candidate", "baseline", "change"], tfma_rows,
              caption=f"TFMA's comparison on the {model['tfma']['split']} split"
              if model["tfma"] else "TFMA's comparison"),
    ]


def _operating_point(model: dict) -> Para:
    point = model["info"].get("operating_point", {})
    if point.get("policy") == FIXED_THRESHOLD:
        how = (f"fixed in the configuration, not chosen on any split (on the eval split when "
               f"the model was trained it gave sensitivity "
               f"{metric(point.get('eval_sensitivity'))}, specificity "
               f"{metric(point.get('eval_specificity'))})")
    else:
        how = (f"chosen to reach a sensitivity of {num(point.get('target_sensitivity'))} on "
               f"the {point.get('chosen_on')} split when the model was trained (there: "
               f"sensitivity {metric(point.get('eval_sensitivity'))}, specificity "
               f"{metric(point.get('eval_specificity'))})")
    return Para(
        f"Operating threshold {num(model['threshold'], 4)}: {how}. P(malignant) at or above "
        f"it is reported as malignant."
    )


def section(model: dict, limit: int) -> Section:
    if not model["trained"]:
        return Section("model", "Model", [Para(
            "No model was trained in this run: see the decision and the data anomalies.",
            tone="bad")])
    empty = [Para(f"The {split} split is empty: it has no metrics.", tone="bad")
             for split in model["empty_splits"]]
    return Section("model", "Model", [
        _operating_point(model), *empty,
        Heading("Metrics on eval and test"), _metrics_table(model),
        Heading("Confusion matrices"), *_confusion(model),
        Heading("ROC, precision-recall and calibration"), _curves(model),
        Heading("Per-slice metrics"), *_slices(model, limit),
        Heading("Baseline comparison"), *_baseline(model),
        Heading("Cross-check with TFMA"), *_cross_check(model),
    ])
