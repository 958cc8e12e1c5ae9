# syntax=docker/dockerfile:1
# The sipbus image: every command in one image (sipbus, edge, tm, registrar,
# notifier, ctd, web under /usr/local/bin), static binaries on distroless, non-root.
#   make image                     # docker build -t ghcr.io/sipbus/sipbus:dev .
#   make image IMAGE=reg/sipbus:v1 DOCKER=podman
# The k8s/ manifests run /usr/local/bin/<service>; the test in k8s/ checks
# that every command they name is built here.

FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
# Module files first, so the download layer is cached across code changes.
COPY go.work go.work.sum ./
COPY pkg/go.mod pkg/go.sum pkg/
COPY schemas/go.mod schemas/go.sum* schemas/
COPY services/edge/go.mod services/edge/go.sum services/edge/
COPY services/tm/go.mod services/tm/go.sum services/tm/
COPY services/registrar/go.mod services/registrar/go.sum services/registrar/
COPY services/notifier/go.mod services/notifier/go.sum services/notifier/
COPY services/ctd/go.mod services/ctd/go.sum* services/ctd/
COPY services/web/go.mod services/web/go.sum* services/web/
COPY cmd/sipbus/go.mod cmd/sipbus/go.sum cmd/sipbus/
COPY k8s/go.mod k8s/go.sum k8s/
RUN --mount=type=cache,target=/go/pkg/mod go mod download -x all >/dev/null 2>&1 || true
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    mkdir -p /out && \
    go build -ldflags='-s -w' -o /out/sipbus ./cmd/sipbus && \
    go build -ldflags='-s -w' -o /out/edge ./services/edge/cmd/edge && \
    go build -ldflags='-s -w' -o /out/tm ./services/tm/cmd/tm && \
    go build -ldflags='-s -w' -o /out/registrar ./services/registrar/cmd/registrar && \
    go build -ldflags='-s -w' -o /out/notifier ./services/notifier/cmd/notifier && \
    go build -ldflags='-s -w' -o /out/ctd ./services/ctd/cmd/ctd && \
    go build -ldflags='-s -w' -o /out/web ./services/web/cmd/web

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
EXPOSE 5060/udp 5060/tcp 5061/tcp 8080/tcp
ENTRYPOINT ["/usr/local/bin/sipbus"]
