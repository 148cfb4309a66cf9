# The dashboard on a slim Python with CPU-only PyTorch, as a non-root user.
#   docker build -t cv-explainer .                          # models are fetched on first use
#   docker build --build-arg BAKE_WEIGHTS=1 -t cv-explainer .   # or baked into the image
#   docker run -p 8501:8501 cv-explainer
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    TORCH_HOME=/home/app/.cache/torch STREAMLIT_SERVER_HEADLESS=true

RUN useradd --create-home --uid 1000 app
WORKDIR /home/app/dashboard

# CPU wheels of the pinned torch and torchvision first (the default ones carry CUDA, gigabytes of it),
# then everything else from requirements.txt, which finds them already installed.
COPY requirements.txt .
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch==2.14.1" "torchvision==0.29.1" \
    && pip install -r requirements.txt

COPY --chown=app:app . .
USER app

ARG BAKE_WEIGHTS=0
RUN if [ "$BAKE_WEIGHTS" = "1" ]; then python -m models.train.fetch_weights; fi

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).read() != b'ok')"
CMD ["streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0"]
