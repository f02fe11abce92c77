# scaler's controller image: `scaler` on a slim Python 3.11 base, non-root, fit for a
# read-only root filesystem. The build needs no network: the project and its runtime
# dependencies come as wheels from dist/wheels in the build context.
#
#   python3 -m pip wheel --wheel-dir dist/wheels .      # on a host with Python 3.11
#   buildah bud --build-arg BASE=... -t scaler:0.1.0 .  # or docker build
#
# tests/support/build_image.sh does both, with a Debian bookworm base made by debootstrap
# (docs/image.md).

# BASE: Python 3.11 with venv, git and ssh (the Git policy source runs them), e.g. the one
# build_image.sh makes, or a python:3.11-slim-bookworm with git and openssh-client added.
ARG BASE=localhost/scaler-base:bookworm
FROM ${BASE}

ARG WHEELS=dist/wheels

# Nothing writes under / at run time: no bytecode next to the sources, HOME and temporary
# files in /tmp (an emptyDir in the chart), Git's policy state in /var/lib/scaler (another).
ENV PATH=/opt/scaler/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    SCALER_STATE_DIR=/var/lib/scaler

# The wheels are bind-mounted, never copied: they stay out of every layer. pip and setuptools
# leave once scaler is in. Then what scaler never loads goes: kubernetes' asyncio client
# (scaler uses the synchronous one) and aiohttp with its dependencies, which only that client
# imports; numpy's tests; botocore's models of AWS services other than scaler's SERVICES and
# those the credential providers call (STS, SSO, sign-in). numpy keeps no bytecode: its
# import time is in its C extensions (measured the same with and without).
RUN --mount=type=bind,source=${WHEELS},target=/mnt/wheels \
    set -eu; \
    python3 -c 'import sys; sys.exit(None if sys.version_info[:2] == (3, 11) else "BASE must have Python 3.11: the wheels are built for cp311")'; \
    for tool in git ssh; do \
        command -v "$tool" >/dev/null || { echo "BASE has no $tool: scaler's Git policy source runs it" >&2; exit 1; }; \
    done; \
    python3 -m venv /opt/scaler; \
    /opt/scaler/bin/pip install --no-index --find-links /mnt/wheels --no-cache-dir \
        --disable-pip-version-check --quiet scaler; \
    /opt/scaler/bin/pip uninstall --yes --quiet aiohttp aiohappyeyeballs aiosignal attrs \
        frozenlist multidict propcache yarl; \
    /opt/scaler/bin/pip uninstall --yes --quiet pip setuptools; \
    site=$(/opt/scaler/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
    rm -rf "$site/kubernetes/aio"; \
    find "$site/numpy" -depth -type d -name tests -exec rm -rf {} +; \
    find "$site/numpy" -depth -type d -name __pycache__ -exec rm -rf {} +; \
    /opt/scaler/bin/python -c 'import os, shutil, sys; from scaler.adapters.aws.config import SERVICES; keep = set(SERVICES) | {"sts", "sso", "sso-oidc", "signin"}; data = os.path.join(sys.argv[1], "botocore", "data"); [shutil.rmtree(os.path.join(data, d)) for d in os.listdir(data) if d not in keep and os.path.isdir(os.path.join(data, d))]' "$site"; \
    scaler --help >/dev/null; \
    mkdir -p /var/lib/scaler /usr/share/scaler

# The bundled example: `scaler simulate /usr/share/scaler/examples --policies /usr/share/scaler/policies`.
COPY examples/ /usr/share/scaler/examples/
COPY policies/ /usr/share/scaler/policies/

# The chart's runAsUser, with a passwd entry (ssh refuses a user it cannot look up); owns
# only its state directory.
RUN groupadd --gid 65532 scaler \
    && useradd --no-log-init -K UID_MAX=65534 --uid 65532 --gid 65532 --home-dir /tmp --no-create-home \
        --shell /usr/sbin/nologin scaler \
    && chown 65532:65532 /var/lib/scaler
USER 65532:65532
WORKDIR /tmp
EXPOSE 8080
ENTRYPOINT ["scaler"]
CMD ["--help"]
