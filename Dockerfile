# The Herald image: the `herald` console script; the command picks the role
# (`api`, `worker`, `migrate`, `simulator`). docker-compose.yml runs each as a service.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY herald ./herald
RUN pip install . && rm -rf /src

RUN useradd --create-home --uid 10001 herald
USER herald
WORKDIR /home/herald

# The API; the simulator; the worker's Prometheus metrics.
EXPOSE 8000 8099 9464
ENTRYPOINT ["herald"]
CMD ["api"]
