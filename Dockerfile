# wolkvox_exporter container image.
#
#   docker build -t wolkvox_exporter \
#     --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg BRANCH=$(git rev-parse --abbrev-ref HEAD) \
#     --build-arg BUILD_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
#   docker run --rm -p 19655:19655 wolkvox_exporter --demo
#   docker run --rm -p 19655:19655 -v "$PWD/config.yml:/etc/wolkvox_exporter/config.yml:ro" \
#     -v wolkvox-state:/var/lib/wolkvox_exporter wolkvox_exporter

# ---- build ------------------------------------------------------------------------
# golang:1.26 follows the newest 1.26.x. The golang images set GOTOOLCHAIN=local, so
# the Go in the image must satisfy go.mod's `go` line: if a cached golang:1.26 is too
# old, build with --pull, or pin it: --build-arg GO_VERSION=1.26.8.
ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build

# The final image gets its zoneinfo from here (the binary also embeds time/tzdata).
RUN [ -d /usr/share/zoneinfo/America ] || { apt-get update \
      && apt-get install -y --no-install-recommends tzdata \
      && rm -rf /var/lib/apt/lists/*; }

WORKDIR /src

# Dependencies first: this layer stays cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

COPY . .

ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG REVISION=unknown
ARG BRANCH=unknown
ARG BUILD_USER=docker
ARG BUILD_DATE=unknown

RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -o /out/wolkvox_exporter \
      -ldflags "-s -w \
        -X 'github.com/prometheus/common/version.Version=${VERSION}' \
        -X 'github.com/prometheus/common/version.Revision=${REVISION}' \
        -X 'github.com/prometheus/common/version.Branch=${BRANCH}' \
        -X 'github.com/prometheus/common/version.BuildUser=${BUILD_USER}' \
        -X 'github.com/prometheus/common/version.BuildDate=${BUILD_DATE}'" \
      . \
 && mkdir -p /out/state

# ---- run --------------------------------------------------------------------------
# distroless static: no shell, no package manager; CA certificates included (the
# Wolkvox API is HTTPS); runs as the nonroot user 65532.
FROM gcr.io/distroless/static-debian12:nonroot

ARG VERSION=dev
ARG REVISION=unknown
ARG BUILD_DATE=unknown

LABEL org.opencontainers.image.title="wolkvox_exporter" \
      org.opencontainers.image.description="Prometheus exporter for the Wolkvox contact-center chat_1 report API" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${BUILD_DATE}" \
      org.opencontainers.image.base.name="gcr.io/distroless/static-debian12:nonroot"

COPY --from=build /usr/share/zoneinfo /usr/share/zoneinfo
COPY --from=build /out/wolkvox_exporter /bin/wolkvox_exporter
# State (counters, dedupe memory, query cursor) survives restarts on this volume.
COPY --from=build --chown=65532:65532 /out/state /var/lib/wolkvox_exporter
VOLUME ["/var/lib/wolkvox_exporter"]

USER 65532:65532
EXPOSE 19655

ENTRYPOINT ["/bin/wolkvox_exporter"]
# Mount the config file there, or override: `docker run IMAGE --demo`.
CMD ["--config.file=/etc/wolkvox_exporter/config.yml", "--storage.path=/var/lib/wolkvox_exporter"]
