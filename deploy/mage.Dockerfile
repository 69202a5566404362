# The Mage image of qbo-ingest: the pinned upstream Mage release with the qbo_ingest package
# installed. The Mage project (./mage) is mounted at /home/src/mage by docker-compose.yml, so
# pipeline edits in the UI land in the repository. Build context: the repository root.
FROM mageai/mageai:0.9.80

# Only the package sources enter the image: never .env, mage_data or anything else in the tree
# (see also mage.Dockerfile.dockerignore).
COPY pyproject.toml README.md /home/src/qbo-ingest/
COPY src /home/src/qbo-ingest/src
COPY deploy/demo_seed.py /home/src/qbo-ingest/deploy/demo_seed.py

# Install qbo-ingest without moving any package Mage 0.9.80 pinned: everything already in the
# image is a constraint, new dependencies are added. The `emulator` extra is there for the demo
# profile's emulator service (lark, starlette, uvicorn; Faker comes with Mage); the `local` extra
# (the embedded PostgreSQL of the no-Docker demo and the tests) never enters the image.
RUN pip freeze --exclude-editable | grep -v ' @ ' > /tmp/mage-constraints.txt \
 && pip install --no-cache-dir -c /tmp/mage-constraints.txt "/home/src/qbo-ingest[emulator]" \
 && qbo-ingest --help > /dev/null \
 && rm /tmp/mage-constraints.txt

ENV PYTHONUNBUFFERED=1 \
    MAGE_DATA_DIR=/home/src/mage_data \
    MAGE_DATABASE_CONNECTION_URL=sqlite:////home/src/mage_data/mage-ai.db \
    USER_CODE_PATH=/home/src/mage
WORKDIR /home/src
EXPOSE 6789
# `mage start` directly (not /app/run_app.sh): nothing is pip-installed at container start, the
# image is what runs.
CMD ["mage", "start", "mage"]
