import io
import logging
import os
import signal
import sys
from pathlib import Path

import pytest
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from pipeline import cli, config, exits, local_runner, metadata
from pipeline.run_paths import RunPaths


@tfx.dsl.components.component
def Note(out: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.String],
         text: tfx.dsl.components.Parameter[str]) -> None:
    out.value = text


def _paths(tmp_path) -> RunPaths:
    return RunPaths(tmp_path / "work", "bcpipe-wdbc", tmp_path / "serving")


def test_a_run_reads_back_its_own_executions_by_the_id_it_was_given(tmp_path):
    paths = _paths(tmp_path)
    store_config = metadata.sqlite_config(paths.metadata_path)

    def run(text: str, run_id: str) -> None:
        pipeline = tfx.dsl.Pipeline(
            pipeline_name=paths.pipeline_name, pipeline_root=str(paths.pipeline_root),
            components=[Note(text=text)], metadata_connection_config=store_config,
        )
        local_runner._run_as(pipeline, run_id)

    run("first", "run-b")
    run("second", "run-a")  # later, but its id sorts first
    store = metadata.open_store(paths.metadata_path)
    assert metadata.run_ids(store, paths.pipeline_name) == ["run-b", "run-a"]
    for run_id, text in (("run-b", "first"), ("run-a", "second")):
        note = metadata.node_runs(store, run_id)["Note"]
        assert note.inputs == {} and note.state == "COMPLETE"
        assert Path(note.outputs["out"][0].uri).read_text() == text


def test_a_second_run_on_the_same_work_dir_is_refused(tmp_path, capsys):
    paths = _paths(tmp_path)
    with local_runner._exclusive(paths):
        with pytest.raises(exits.Refused, match=r"another run of bcpipe-wdbc \(pid \d+\)"):
            local_runner.run_pipeline(config.WDBC, data_root=config.DATA_DIR / "wdbc",
                                      paths=paths, stream=io.StringIO())
        code = cli.main(["run", "wdbc", "--work-dir", str(paths.work_dir),
                         "--serving-base", str(paths.serving_base)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == exits.EXIT_FAILURE
    assert len(err) == 1 and "give another --work-dir" in err[0]
    assert not paths.metadata_path.exists()
    # Released with the run: the next one may start.
    with local_runner._exclusive(paths):
        pass


@tfx.dsl.components.component
def Interrupted(out: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.String]) -> None:
    try:
        os.kill(os.getpid(), signal.SIGINT)
        signal.pause()  # until the handler raises
    except KeyboardInterrupt:
        raise RuntimeError("KeyboardInterrupt") from None  # as TF's ops report it


def test_an_interrupted_run_says_so_with_its_id_and_log_and_exits_130(tmp_path, capsys,
                                                                        monkeypatch):
    paths = _paths(tmp_path)

    def create_pipeline(**kwargs):
        return tfx.dsl.Pipeline(
            pipeline_name=kwargs["pipeline_name"], pipeline_root=kwargs["pipeline_root"],
            components=[Interrupted()],
            metadata_connection_config=kwargs["metadata_connection_config"],
        )

    monkeypatch.setattr(local_runner, "create_pipeline", create_pipeline)
    monkeypatch.setattr(sys, "stderr", sys.stderr)  # main sends what follows to the log
    code = cli.main(["run", "wdbc", "--work-dir", str(paths.work_dir),
                     "--serving-base", str(paths.serving_base)])
    out = capsys.readouterr().out
    assert code == exits.EXIT_INTERRUPTED == 130
    store = metadata.open_store(paths.metadata_path)
    (run_id,) = metadata.run_ids(store, paths.pipeline_name)
    assert f"run {run_id} of bcpipe-wdbc" in out
    assert "INTERRUPTED: the same command again resumes" in out
    (log,) = paths.logs.glob("*.log")
    assert f"log:       {log}" in out
    assert "Traceback" not in out
    # The handler in force before the run is back.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_component_the_gate_held_back_is_shown_skipped():
    stream = io.StringIO()
    progress = local_runner._Progress(stream)
    for node, skipped in (("ValidationGate", False), ("Transform", True)):
        for msg, args in (("Component %s is running.", (node,)),
                          ("Skipping execution for %s", (node,)) if skipped else (None, None),
                          ("Component %s is finished.", (node,))):
            if msg:
                progress.emit(logging.LogRecord("absl", logging.INFO, "", 0, msg, args, None))
    lines = [line.split() for line in stream.getvalue().splitlines()]
    assert lines[1][:3] == ["ValidationGate", "done", "in"]
    assert lines[3] == ["Transform", "skipped", "(stopped", "at", "the", "gate)"]


def test_the_summary_names_folders_not_read_as_patients():
    examples = metadata_store_pb2.Artifact()
    for key in local_runner._INGESTION_LABELS:
        examples.custom_properties[key].int_value = 1
    examples.custom_properties["stray_folders"].string_value = '["12 34", "\u00dcn"]'
    gen = metadata.NodeRun("IdcExampleGen", "COMPLETE", 1, outputs={"examples": [examples]})
    lines = local_runner._ingestion({"IdcExampleGen": gen})
    assert lines[1].endswith("named by its id's digits alone): '12 34', '\u00dcn'")
