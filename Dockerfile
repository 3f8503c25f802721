# syntax=docker/dockerfile:1
#
# Tessera in a container: a static binary (CGO_ENABLED=0; the SQLite driver,
# modernc.org/sqlite, is pure Go) on distroless/static, running as the
# unprivileged user 65532 (nonroot), with the data folder on a volume.
#
#   docker build -t tessera \
#     --build-arg VERSION=v1.2.3 \
#     --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg DATE=$(git log -1 --format=%cI) .
#   docker run -d --name tessera -v tessera-data:/var/lib/tessera \
#     -p 8080:8080 -p 127.0.0.1:8081:8081 tessera
#   docker exec -i tessera tessera user add alice --password-stdin
#
# No HEALTHCHECK: the image has no shell and no HTTP client to run one
# with. Probe GET /healthz (alive) and GET /readyz (can commit) over HTTP
# from the orchestrator instead (docs/operations.md, Containers).
#
# Not built in Tessera's CI (no container engine there); the same build
# command is exercised by cmd/tessera's TestStaticBuild.

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The build information records no commit under -buildvcs=false (the
# source is a copy without .git): name the build with -X instead.
ARG VERSION=dev
ARG REVISION=
ARG DATE=
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w \
        -X github.com/tessera-auth/tessera/internal/buildinfo.version=${VERSION} \
        -X github.com/tessera-auth/tessera/internal/buildinfo.revision=${REVISION} \
        -X github.com/tessera-auth/tessera/internal/buildinfo.date=${DATE}" \
      -o /out/tessera ./cmd/tessera \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tessera /usr/local/bin/tessera
# The volume's mount point, owned by the user the server runs as; Tessera
# keeps it mode 0700.
COPY --from=build --chown=65532:65532 --chmod=0700 /out/data /var/lib/tessera
USER 65532:65532
# The admin API listens on all of the container's interfaces so that a
# published port reaches it (serve warns that it is beyond loopback):
# publish it on the host's loopback only (-p 127.0.0.1:8081:8081).
ENV TESSERA_DATA=/var/lib/tessera \
    TESSERA_LISTEN=0.0.0.0:8080 \
    TESSERA_ADMIN_LISTEN=0.0.0.0:8081
VOLUME ["/var/lib/tessera"]
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/tessera"]
CMD ["serve"]
