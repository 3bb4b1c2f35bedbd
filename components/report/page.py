"""The page: decision first, then data, model, model card and lineage."""

from __future__ import annotations

from components.cohort import describe_evidence
from components.report import page_data, page_model
from components.report.blocks import Heading, Items, Para, Section, Table
from components.report.decision import TONE
from components.report.fmt import METRIC_NAMES, interval, metric, num, pass_fail, short_hash


def title(report: dict) -> str:
    run = report["run"]
    return f"Review report: {run['pipeline']}, span {report['data']['span']}"


def _bound(t: dict) -> str:
    if t["kind"] == "value":
        parts = [f">= {t['lower']}" if t["lower"] is not None else "",
                 f"<= {t['upper']}" if t["upper"] is not None else ""]
        return " and ".join(p for p in parts if p)
    sign = ">=" if t["direction"] == "HIGHER_IS_BETTER" else "<="
    return f"change vs baseline {sign} {t['absolute']}"


def _evidence(gate: dict) -> list[list[str]]:
    """What the blessing split's figures rest on (reports from before it was recorded: none)."""
    evidence = gate.get("blessing_evidence")
    if not evidence:
        return []
    return [[f"figures on the {evidence['split']} split rest on", describe_evidence(evidence)]]


def _decision(report: dict) -> Section:
    decision, run, model = report["decision"], report["run"], report["model"]
    blocks = [
        Para(f"{decision['status'].upper()}: {decision['summary']}",
             tone=TONE[decision["status"]]),
        Items(decision["reasons"] or ["no reason recorded"]),
        Table(["item", "value"], [
            ["pipeline", run["pipeline"]], ["run", run["run_id"]],
            ["report generated", run["generated_at"]], ["span", str(report["data"]["span"])],
            *_evidence(report["data"]["gate"]),
            ["code version", report["lineage"]["code_version"]],
            ["pushed to", decision.get("destination") or "not pushed"],
        ], caption="This run"),
    ]
    if model["trained"] and model["tfma"]:
        blocks.append(Table(
            ["metric", "output", "threshold", f"value on {model['tfma']['split']}", "result"],
            [[t["metric"], t["output"], _bound(t), metric(t["value"], 4), pass_fail(t["passed"])]
             for t in model["tfma"]["thresholds"]],
            caption=f"Every threshold TFMA applied ({model['tfma']['split']} split)",
        ))
        if not model["baseline"]["served_version"]:
            blocks.append(Para("Nothing was served yet: the change threshold against the "
                               "served model was not applied."))
    return Section("decision", "Decision", blocks)


def _card(card: dict) -> Section:
    details, use, factors = card["model_details"], card["intended_use"], card["factors"]
    metrics = card["metrics"]
    return Section("model-card", "Model card", [
        Heading("Model details"),
        Table(["item", "value"], [[k.replace("_", " "), str(v)] for k, v in details.items()]),
        Heading("Intended use"),
        Items([f"Primary use: {u}" for u in use["primary_uses"]]
              + [f"Primary users: {u}" for u in use["primary_users"]]),
        Para("Out of scope:"), Items(use["out_of_scope"]),
        Heading("Factors"),
        Items(factors["relevant"] + factors["evaluation"]),
        Para(f"What the data cannot show: {factors['not_available']}", tone="warn"),
        Heading("Metrics"),
        Table(["metric (test split)", "value [interval]"],
              [[METRIC_NAMES[r["metric"]], interval(r)] for r in metrics["test"]],
              caption=f"Decision threshold {num(metrics['decision_threshold'], 4)}; "
                      f"variation: {metrics['variation']}"
                      + (f"; on {describe_evidence(metrics['rests_on'])}"
                         if metrics.get("rests_on") else ""))
        if metrics["test"] else Para("No model: no metrics."),
        Heading("Evaluation data"), Para(card["evaluation_data"]["description"]),
        Table(["split", "examples", "positives"],
              [[s, num(v["examples"]), num(v["positives"])]
               for s, v in card["evaluation_data"]["splits"].items()]),
        Heading("Training data"),
        Para(f"The train split of the same span: {num(card['training_data']['split']['examples'])}"
             f" examples, {num(card['training_data']['split']['positives'])} positives."),
        Heading("Quantitative analyses"),
        Items([f"{r['split']} {r['slice']}: {num(r['examples'])} examples, accuracy "
               f"{metric(r['accuracy'])}, sensitivity {metric(r['sensitivity'])}"
               for r in card["quantitative_analyses"]["worst_slices"]]
              or ["no model evaluated"]),
        Heading("Ethical considerations"), Items(card["ethical_considerations"]),
        Heading("Caveats and recommendations"), Items(card["caveats_and_recommendations"]),
    ])


def _lineage(lineage: dict) -> Section:
    return Section("lineage", "Lineage", [
        Para(f"Code version (git): {lineage['code_version']}"),
        Table(["what", "type", "metadata id", "URI", "content hash (sha256)"],
              [[a["what"], a["type"], str(a["artifact_id"]), a["uri"],
                short_hash(a["content_hash"])] for a in lineage["artifacts"]],
              caption="Artifacts of this run, from the metadata store; hashes over every "
                      "file's path and bytes"),
        Table(["package", "version"], [[k, v] for k, v in lineage["packages"].items()],
              caption="Packages the report ran with"),
    ])


def sections(report: dict, limit: int) -> list[Section]:
    return [
        _decision(report),
        page_data.section(report["data"], limit),
        page_model.section(report["model"], limit),
        _card(report["model_card"]),
        _lineage(report["lineage"]),
    ]

