# scaler's controller image: `scaler` on a slim Python 3.11 base, non-root, fit for a
# read-only root filesystem. The build needs no network: the project and its runtime
# dependencies come as wheels from dist/wheels in the build context.
#
#   python3 -m pip wheel --wheel-dir dist/wheels . pip  # on a host with Python 3.11
#   buildah bud --build-arg BASE=... -t scaler:0.1.0 .  # or docker build
#
# tests/support/build_image.sh does both, with a Debian bookworm base made by debootstrap
# (docs/image.md).

# BASE: Python 3.11, git and ssh (the Git policy source runs them), e.g. the one
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

# The wheels are bind-mounted, never copied: they stay out of every layer, and so does pip,
# which runs from its own wheel among them (the venv is made without pip). What stays is what
# scaler runs (docs/image.md gives each cut with its saving):
# - no aiohttp and its dependencies, which only kubernetes' asyncio client imports (scaler uses
#   the synchronous one); no tests, type stubs or build-time tools (numpy's distutils, f2py,
#   C and Cython headers, static libraries, PyInstaller hook) in any package;
# - botocore's models only for scaler's SERVICES and the services its credential providers
#   call (STS, SSO, SSO OIDC, sign-in), newest API version only, without the documentation
#   examples; no boto3 resource models (scaler makes clients only);
# - bytecode compiled once, at the default optimisation level: third-party packages keep only
#   it (legacy .pyc beside where the source was); scaler and pricing keep source and
#   __pycache__; numpy keeps source only (its import time is in its C extensions).
RUN --mount=type=bind,source=${WHEELS},target=/mnt/wheels \
    set -eu; \
    python3 -c 'import sys; sys.exit(None if sys.version_info[:2] == (3, 11) else "BASE must have Python 3.11: the wheels are built for cp311")'; \
    for tool in git ssh; do \
        command -v "$tool" >/dev/null || { echo "BASE has no $tool: scaler's Git policy source runs it" >&2; exit 1; }; \
    done; \
    set -- /mnt/wheels/pip-*.whl; \
    [ "$#" = 1 ] && [ -f "$1" ] || { echo "${WHEELS} needs one pip wheel (pip wheel --wheel-dir ${WHEELS} . pip)" >&2; exit 1; }; \
    wheel=$1; \
    pip() { /opt/scaler/bin/python "$wheel/pip" "$@"; }; \
    python3 -m venv --without-pip /opt/scaler; \
    pip install --no-index --find-links /mnt/wheels --no-cache-dir --no-compile \
        --disable-pip-version-check --quiet scaler; \
    pip uninstall --yes --quiet aiohttp aiohappyeyeballs aiosignal attrs frozenlist multidict \
        propcache yarl; \
    cd "$(/opt/scaler/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"; \
    rm -rf kubernetes/aio boto3/data numpy/distutils numpy/f2py numpy/_pyinstaller \
        numpy/_core/include numpy/_core/lib numpy/random/lib numpy/random/_examples; \
    find . -path ./scaler -prune -o -type d \( -name tests -o -name test \) -prune \
        -exec rm -rf {} + -o -type f \( -name '*_test.py' -o -name 'test_*.py' \) -exec rm -f {} +; \
    find . \( -name '*.pyi' -o -name py.typed -o -name '*.pxd' \) -exec rm -f {} +; \
    /opt/scaler/bin/python -c 'import os, shutil, sys; from scaler.adapters.aws.config import SERVICES; keep = set(SERVICES) | {"sts", "sso", "sso-oidc", "signin"}; data = sys.argv[1]; services = [d for d in os.listdir(data) if os.path.isdir(os.path.join(data, d))]; [shutil.rmtree(os.path.join(data, d)) for d in services if d not in keep]; versions = {d: sorted(os.listdir(os.path.join(data, d))) for d in services if d in keep}; [shutil.rmtree(os.path.join(data, d, v)) for d, vs in versions.items() for v in vs[:-1]]; [os.remove(p) for d, vs in versions.items() for p in [os.path.join(data, d, vs[-1], "examples-1.json")] if os.path.exists(p)]' botocore/data; \
    /opt/scaler/bin/python -m compileall -q -b -x '^\./(scaler|pricing|numpy)/' .; \
    find . -path ./scaler -prune -o -path ./pricing -prune -o -path ./numpy -prune -o -name '*.py' \
        -exec sh -c 'for f; do if [ -e "${f}c" ]; then rm "$f"; fi; done' sh {} +; \
    /opt/scaler/bin/python -m compileall -q scaler pricing; \
    cd /; \
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
