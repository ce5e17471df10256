# syntax=docker/dockerfile:1
# The docchat app image: CPU only. The same image runs the chat UI (default command) and one-shot jobs
# (`docchat ingest /corpus`, `docchat collections`, ...). See docs/deployment.md.
#
#   docker build -t docchat .
#   docker run --rm -p 127.0.0.1:8501:8501 -e DOCCHAT_CHROMA_URL=http://host:8000 docchat

# ---- build: a venv with docchat and its dependencies (llama-cpp-python compiles here) ----------------------
FROM python:3.11-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# torch first, from the CPU wheel index, so nothing later resolves a CUDA build (as the Makefile does).
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

# llama-cpp-python is built from source: portable CPU code, not tuned to the build machine's CPU
# (GGML_NATIVE would bake in -march=native and crash with "illegal instruction" elsewhere).
ENV CMAKE_ARGS="-DGGML_NATIVE=OFF"

COPY . /src
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install /src \
    && python -c "import torch, sys; sys.exit('CUDA torch was installed' if torch.version.cuda else 0)"

# ---- runtime ------------------------------------------------------------------------------------------------
FROM python:3.11-slim

# libgomp1: OpenMP runtime of the llama.cpp build.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

COPY --from=build /opt/venv /opt/venv

# A non-root user; /data (the ONNX embedding export, BM25 indexes, ingest locks; the embedded store when
# DOCCHAT_CHROMA_URL is unset) belongs to it, so a named volume mounted there starts out writable.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin docchat \
    && mkdir -p /data \
    && chown docchat:docchat /data

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DOCCHAT_DATA_DIR=/data \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
    STREAMLIT_SERVER_HEADLESS=true

USER docchat
WORKDIR /home/docchat
EXPOSE 8501

# python:3.11-slim has no curl: ask streamlit's health endpoint with the standard library.
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"]

CMD ["docchat", "ui", "--host", "0.0.0.0", "--port", "8501"]
