# syntax=docker/dockerfile:1
# Build: a static binary (pure-Go SQLite, no cgo).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X sentryhub/app.Version=${VERSION}" -o /out/sentryhub .
# The data directory, made here because the runtime image has no shell. A
# fresh named volume copies the ownership of the image's /data, so it must
# already belong to the non-root user (65532 in distroless) or serve cannot
# create its database there.
RUN mkdir -p /out/data && chmod 0700 /out/data

# Run: distroless static, non-root, state on the /data volume.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/sentryhub /usr/local/bin/sentryhub
COPY --from=build --chown=65532:65532 /out/data /data
ENV SENTRY_DATA_DIR=/data \
    SENTRY_ADDR=0.0.0.0:8080
VOLUME ["/data"]
EXPOSE 8080
USER nonroot:nonroot
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/sentryhub", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/sentryhub"]
CMD ["serve"]
