# The fakelens service on CPU: docker build -t fakelens . && docker run -p 8000:8000 fakelens
# Stateless: every request is scored by the detector loaded at start; run as many replicas as
# needed behind any load balancer (probe /readyz for readiness, /healthz for liveness).
FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
# The light runtime install: ONNX Runtime, no PyTorch and no OpenCV (the bundled detector ships its ONNX export).
# A run folder served with FAKELENS_RUN needs its model.onnx beside the weights ('fakelens export').
RUN pip install --no-cache-dir . && useradd --create-home fakelens

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
# FAKELENS_API_KEY=... makes every /v1 route require X-API-Key.

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"
CMD ["sh", "-c", "exec fakelens serve --host 0.0.0.0 --port 8000 --processes ${FAKELENS_PROCESSES} --backend ${FAKELENS_BACKEND} ${FAKELENS_RUN:+--run $FAKELENS_RUN}"]
