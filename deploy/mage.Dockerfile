# The Mage image of qbo-ingest: the pinned upstream Mage release with the qbo_ingest package
# installed, and dbt (its own venv, /opt/dbt) with the dbt project analytics/ for the qb_analytics
# pipeline. The Mage project (./mage) is mounted at /home/src/mage by docker-compose.yml, so pipeline
# edits in the UI land in the repository. Build context: the repository root.
FROM mageai/mageai:0.9.80

# Only the package sources enter the image: never .env, mage_data or anything else in the tree
# (see also mage.Dockerfile.dockerignore).
COPY pyproject.toml README.md /home/src/qbo-ingest/
COPY src /home/src/qbo-ingest/src
COPY deploy/demo_seed.py deploy/extra_requirements.py /home/src/qbo-ingest/deploy/

# Install qbo-ingest without moving any package Mage 0.9.80 pinned: everything already in the
# image is a constraint, new dependencies are added. The `emulator` extra is there for the demo
# profile's emulator service (lark, starlette, uvicorn; Faker comes with Mage); the `local` extra
# (the embedded PostgreSQL of the no-Docker demo and the tests) never enters the image.
RUN pip freeze --exclude-editable | grep -v ' @ ' > /tmp/mage-constraints.txt \
 && pip install --no-cache-dir -c /tmp/mage-constraints.txt "/home/src/qbo-ingest[emulator]" \
 && qbo-ingest --help > /dev/null \
 && rm /tmp/mage-constraints.txt

# dbt in a venv of its own: dbt-core cannot share Mage's environment (dbt-core 1.11+ needs click >= 8.3,
# mage-ai 0.9.80 pins click < 8.2). It holds exactly pyproject.toml's `analytics` extra, read by
# deploy/extra_requirements.py (never a copied list); `qbo-ingest models build` finds it by QBO_DBT_BIN.
RUN python /home/src/qbo-ingest/deploy/extra_requirements.py analytics /home/src/qbo-ingest/pyproject.toml \
      > /tmp/dbt-requirements.txt \
 && python -m venv /opt/dbt \
 && /opt/dbt/bin/pip install --no-cache-dir -r /tmp/dbt-requirements.txt \
 && /opt/dbt/bin/dbt --version \
 && rm /tmp/dbt-requirements.txt

# The dbt project, for the qb_analytics pipeline's `dbt build` step (copied last: a model edit rebuilds
# only this layer). dbt writes its target/ and logs/ to a temporary directory, never here.
COPY analytics /home/src/qbo-ingest/analytics
ENV QBO_DBT_BIN=/opt/dbt/bin/dbt \
    QBO_DBT_PROJECT_DIR=/home/src/qbo-ingest/analytics \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false

ENV PYTHONUNBUFFERED=1 \
    MAGE_DATA_DIR=/home/src/mage_data \
    MAGE_DATABASE_CONNECTION_URL=sqlite:////home/src/mage_data/mage-ai.db \
    USER_CODE_PATH=/home/src/mage
WORKDIR /home/src
EXPOSE 6789
# `mage start` directly (not /app/run_app.sh): nothing is pip-installed at container start, the
# image is what runs.
CMD ["mage", "start", "mage"]
