# The fakelens service on CPU: docker build -t fakelens . && docker run -p 8000:8000 fakelens
# Stateless: every request is scored by the detector loaded at start; run as many replicas as
# needed behind any load balancer (probe /readyz for readiness, /healthz for liveness).
#
# Access: the server binds 0.0.0.0 here, and refuses to start with neither an API key nor trusted hosts. Give it
#   -e FAKELENS_API_KEY_FILE=/run/secrets/fakelens_key (a mounted secret; or FAKELENS_API_KEY) and
#   -e FAKELENS_TRUSTED_HOSTS=fakelens.example.org (the names clients use), or, on purpose, -e FAKELENS_INSECURE_OPEN=1.
#
# The base image is pinned by digest (the multi-arch index of python:3.11-slim, Debian trixie, as resolved on
# 2026-08-21), so a rebuild gets the same bytes. To update: docker buildx imagetools inspect python:3.11-slim
# (the "Digest:" line), or docker pull python:3.11-slim && docker inspect --format '{{index .RepoDigests 0}}' python:3.11-slim.
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY src ./src
# The light runtime install: ONNX Runtime, no PyTorch and no OpenCV (the bundled detector ships its ONNX export),
# at the exact versions CI tests (constraints.txt).
# A run folder served with FAKELENS_RUN needs its model.onnx beside the weights ('fakelens export').
RUN pip install --no-cache-dir -c constraints.txt . && useradd --create-home fakelens

USER fakelens
ENV FAKELENS_CACHE=/home/fakelens/.cache/fakelens
# Fail the build, not the first request, if the detector does not load without PyTorch.
RUN python -c "import sys, fakelens; fakelens.load(); assert 'torch' not in sys.modules and 'cv2' not in sys.modules"

# Limits (see README "The service" and "Scaling out"); override with docker run -e NAME=VALUE.
ENV FAKELENS_MAX_IMAGE_MB=15 \
    FAKELENS_MAX_VIDEO_MB=100 \
    FAKELENS_WORKERS=2 \
    FAKELENS_QUEUE=16 \
    FAKELENS_PROCESSES=2 \
    FAKELENS_BACKEND=auto
# FAKELENS_RUN=/models/run (a mounted run folder) serves that detector instead of the bundled one;
# FAKELENS_API_KEY_FILE makes every /v1 route, /openapi.json and /readyz require X-API-Key.

EXPOSE 8000
# Liveness (/healthz needs no key; /readyz does when a key is set: give a load balancer's probe the key).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"
CMD ["sh", "-c", "exec fakelens serve --host 0.0.0.0 --port 8000 --processes \"$FAKELENS_PROCESSES\" --backend \"$FAKELENS_BACKEND\" ${FAKELENS_RUN:+--run \"$FAKELENS_RUN\"}"]
