# syntax=docker/dockerfile:1
# The payment API image: a static arm64 binary on distroless, running as
# non-root. Built by the CDK CLI at deploy time (ContainerImage.fromAsset);
# .dockerignore admits only what cmd/api compiles from.

FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
ARG TARGETOS=linux
ARG TARGETARCH=arm64
WORKDIR /src
COPY go.mod go.sum ./
COPY payments/ payments/
COPY postgres/ postgres/
COPY http/ http/
COPY sqs/ sqs/
COPY emf/ emf/
COPY metrics/ metrics/
COPY gateway/ gateway/
COPY openapi/ openapi/
COPY audit/ audit/
COPY database/ database/
COPY cmd/api/ cmd/api/
# `go build` fetches only the modules cmd/api imports (go.mod also lists the
# CDK's, which the image never needs).
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false -ldflags="-s -w" -o /out/api ./cmd/api

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/api /api
# 65532 is distroless's nonroot user; the task definition pins it too.
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["/api"]
