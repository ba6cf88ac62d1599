# syntax=docker/dockerfile:1
#
# One static binary, /scriptsync, in an image holding nothing else but CA certificates:
# no shell, no package manager. Every subcommand runs from it (ingest, worker, sim, ...).
#
#   docker build -t scriptsync .
#   docker run --rm scriptsync --help

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so a change to the sources reuses the downloaded modules.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# CGO_ENABLED=0 gives a static binary that needs no libc in the final image.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" \
    -o /out/scriptsync ./cmd/scriptsync

FROM scratch
# Genesys Cloud, JWKS endpoints and TLS Redis are reached over HTTPS.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/scriptsync /scriptsync
# A numeric non-root user, so Kubernetes can verify runAsNonRoot without a passwd file.
USER 65532:65532
# 8080: the ingest's webhooks; 9090: the admin listener (/metrics, /healthz, /readyz);
# 8090: the simulator.
EXPOSE 8080 9090 8090
ENTRYPOINT ["/scriptsync"]
