"""The data section of the page: what went in and what was wrong with it."""

from __future__ import annotations

from components.report import svg
from components.report.blocks import Figures, Heading, Items, Para, Pre, Section, Table
from components.report.fmt import num, pass_fail, short_hash


def _splits(data: dict) -> list:
    key = data["splits"]["partition_key"]
    rows = []
    # In the ExampleGen's order (train first), which the statistics keep.
    for split, balance in data["class_balance"].items():
        counts = data["splits"]["splits"][split]
        rows.append([split, num(counts["examples"]), num(counts["partitions"]),
                     num(counts["positive_partitions"]), num(balance.get("positives")),
                     num(balance.get("positive_fraction"))])
    overlaps = data["splits"]["overlaps"]
    proof = ", ".join(f"{pair}: {n}" for pair, n in overlaps.items())
    blocks = [
        Table(["split", "examples", f"{key} values",
               f"{key} values with {data['label_key']} = 1", f"{data['label_key']} = 1",
               "share of 1"], rows, caption="Examples per split (SplitCheck, TFDV)"),
        Para(
            f"Zero-overlap proof: no {key} value is in two splits ({proof})."
            if data["splits"]["disjoint"] else
            f"LEAK: {key} values shared between splits ({proof}); the gate stopped the run.",
            tone="good" if data["splits"]["disjoint"] else "bad",
        ),
    ]
    for pair, shared in data["splits"]["overlapping_values"].items():
        blocks.append(Para(f"{pair} share: {', '.join(shared)}", tone="bad"))
    fills = (("label 1", svg.color("test")), ("label 0", svg.color("train")))
    blocks.append(Figures([svg.stacked_bars("Class balance per split", [
        (split, [(fills[0][0], b["positives"], fills[0][1]),
                 (fills[1][0], b["examples"] - b["positives"], fills[1][1])])
        for split, b in data["class_balance"].items()
    ])], caption=f"{data['label_key']} = 1 (malignant / IDC-positive) and 0 per split"))
    return blocks


def _ingestion(data: dict) -> list:
    if not data["ingestion"]:
        return [Para("This ExampleGen records no ingestion counts (the CSV is read as is).")]
    # Counts, and the names of what a count cannot say (the folders not read as patients).
    rows = [[k, ", ".join(v) or "none" if isinstance(v, list) else num(v)]
            for k, v in sorted(data["ingestion"].items())]
    return [Table(["count", "value"], rows,
                  caption="What the ExampleGen kept, skipped and ignored")]


def _anomalies(data: dict) -> list:
    rows = [
        [split, a["feature"], (a["severity"], "bad"), a["short_description"], a["description"],
         a["meaning"], a["consequence"]]
        for split, entries in data["anomalies"].items() for a in entries
    ]
    if not rows:
        return [Para("ExampleValidator found no anomaly in any split against the curated "
                     "schema.", tone="good")]
    return [Table(["split", "feature", "severity", "anomaly", "TFDV says", "meaning",
                   "consequence"], rows, caption="Anomalies against the curated schema")]


def _schema(schema: dict) -> list:
    blocks = [Para(
        f"Schema version {short_hash(schema['fingerprint'])} ({schema['fingerprint']}), "
        f"{len(schema['features'])} features, from {schema['source']}."
    )]
    if schema["last_run"] is None:
        blocks.append(Para("First report of this pipeline: no earlier schema to compare."))
    elif schema["diff"] is None or not schema["diff"]["lines"]:
        blocks.append(Para(f"Unchanged since the last run (span {schema['last_run']['span']}, "
                           f"version {short_hash(schema['last_run']['fingerprint'])}).",
                           tone="good"))
    else:
        diff = schema["diff"]
        blocks.append(Para(
            f"Changed since the last run (version {short_hash(schema['last_run']['fingerprint'])}"
            f"): added {diff['added'] or 'none'}, removed {diff['removed'] or 'none'}, "
            f"changed {diff['changed'] or 'none'}.", tone="warn"))
        blocks.append(Pre("\n".join(diff["lines"])))
    blocks.append(Table(
        ["feature", "type", "domain", "required", "environments"],
        [[f["name"], f["type"], f["domain"], "yes" if f["required"] else "no",
          ", ".join(f["environments"])] for f in schema["features"]],
        caption="The curated schema",
    ))
    return blocks


def _comparison_table(rows: list[dict], caption: str, limit: int) -> Table:
    return Table(
        ["feature", "measure", "value", "threshold", "result", "meaning"],
        [[r["feature"], r["measure"], num(r["value"], 4), num(r["threshold"], 4),
          pass_fail(not r["flagged"]), r["meaning"]] for r in rows[:limit]],
        caption=caption + (f" (first {limit} of {len(rows)})" if len(rows) > limit else ""),
    )


def _drift(section: dict, limit: int) -> list:
    blocks = []
    if not section["comparators_in_schema"]["drift"]:
        blocks.append(Para("The schema sets no drift comparator: drift is not measured.",
                           tone="warn"))
    elif section["previous_span"] is None:
        blocks.append(Para(f"Drift: {section['note']}."))
    else:
        flagged = sum(r["flagged"] for r in section["drift"])
        blocks.append(Para(
            f"Drift of this span's train split against span {section['previous_span']} "
            f"(the latest earlier span that passed the gate): {flagged} of "
            f"{len(section['drift'])} features beyond their threshold.",
            tone="warn" if flagged else "good"))
        blocks.append(_comparison_table(section["drift"], "Drift against the previous span",
                                        limit))
    for split, rows in section["skew"].items():
        flagged = sum(r["flagged"] for r in rows)
        blocks.append(Para(f"Skew of the {split} split against train: {flagged} of "
                           f"{len(rows)} features beyond their threshold.",
                           tone="warn" if flagged else "good"))
        if flagged:
            blocks.append(_comparison_table(rows, f"Skew, train vs {split}", limit))
    blocks.append(Para("Drift and skew are reported for review; they do not stop the run."))
    return blocks


def _summary_cell(summary: dict) -> str:
    if "mean" in summary:
        return (f"{num(summary['mean'])} ± {num(summary['std_dev'])} "
                f"(median {num(summary['median'])}, range {num(summary['min'])} to "
                f"{num(summary['max'])})")
    if "unique" in summary:
        return f"{num(summary['unique'])} distinct"
    return ""


def _features(data: dict, limit: int) -> list:
    splits = list(data["class_balance"])
    rows, plots = [], []
    for feature in data["features"]:
        cells = [_summary_cell(feature["splits"].get(s, {})) for s in splits]
        missing = sum(v.get("missing", 0) for v in feature["splits"].values())
        rows.append([feature["name"], feature["type"], *cells, num(missing)])
        histograms = {s: v["histogram"] for s, v in feature["splits"].items()
                      if v.get("histogram")}
        if histograms and len(plots) < limit:
            plots.append(svg.histogram(feature["name"], histograms, x_label=feature["name"]))
    return [
        Table(["feature", "type", *(f"{s}: mean ± sd" for s in splits), "missing"], rows,
              caption=f"Per-feature statistics (TFDV, {data['statistics_uri']})"),
        Figures([p for p in plots if p], caption="Distribution per split (TFDV histograms)"),
    ]


def section(data: dict, limit: int) -> Section:
    return Section("data", "Data", [
        Para(f"Span {data['span']} read from {data['examples_uri']} "
             f"(ExampleGen input fingerprint: {data['input_fingerprint']})."),
        Heading("Splits and patients"), *_splits(data),
        Heading("Ingestion"), *_ingestion(data),
        Heading("Anomalies"), *_anomalies(data),
        Heading("Schema"), *_schema(data["schema"]),
        Heading("Drift and skew"), *_drift(data["drift"], limit),
        Heading("Features"), *_features(data, limit),
        Items([f"Validation gate: {'passed' if data['gate']['passed'] else 'REJECTED'}"]),
    ])
