# The pipeline image: every step of a bcpipe run on Kubeflow Pipelines (and Dataflow's
# workers, through the base image's Beam boot entrypoint) runs this. Module code is baked in
# and referenced by dotted path, so compiling a pipeline uploads nothing.
#
#   docker build -t REGISTRY/bcpipe:TAG .
FROM tensorflow/tfx:1.16.0

# TFT, TFMA and the models need Keras 2; this must be set before Python starts.
ENV TF_USE_LEGACY_KERAS=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The lock was resolved for Python 3.10; fail here, not halfway through an install.
RUN python -c "import sys; assert sys.version_info[:2] == (3, 10), sys.version"

# Also every step's working directory: the compiled pipeline names files of the project
# (the curated schema) relative to its root.
WORKDIR /opt/bcpipe

# Dependencies first, from uv.lock, so that code changes do not reinstall them. Most
# packages already match the base image's versions and are kept as they are.
COPY pyproject.toml uv.lock ./
RUN python -m pip install --no-cache-dir "uv==0.13.9" \
    && uv export --frozen --no-dev --no-emit-project --no-hashes --output-file /tmp/requirements.txt \
    && uv pip install --no-cache --compile-bytecode --python "$(command -v python)" \
        --requirement /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Editable, so that pipeline/config.py finds schema/ and data/ beside the packages.
COPY . .
RUN python -m pip install --no-cache-dir --no-deps --editable . \
    && python -m compileall -q pipeline components serving \
    && python -c "import components, pipeline.config as c, serving; assert c.SCHEMA_DIR.is_dir()"

# An unprivileged user with a numeric UID, so that runAsNonRoot can be checked. The KFP v2
# launcher stages artifacts under /gcs, /minio, /s3 and /oci (by the URI scheme); they must be
# writable by the step's user.
RUN groupadd --gid 10001 bcpipe \
    && useradd --uid 10001 --gid 10001 --create-home --home-dir /home/bcpipe --shell /bin/bash bcpipe \
    && mkdir -p /gcs /minio /s3 /oci \
    && chown 10001:10001 /gcs /minio /s3 /oci

USER 10001:10001
ENV HOME=/home/bcpipe
