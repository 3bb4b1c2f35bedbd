import subprocess
import sys

HEAVY = ("tfx", "apache_beam", "tensorflow_transform", "tensorflow_model_analysis")


def test_reading_a_run_back_imports_none_of_tfx_or_beam():
    """`bcpipe report` and `bcpipe lineage` read files and the metadata store; TFX's
    components and Beam cost their start-up 10 s on 2 cores, for nothing they use."""
    code = (
        "import sys; from pipeline import review, lineage; "
        "from components.report import files; from components import model_files; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True)
    assert found.stdout.strip() == "[]", found.stdout
