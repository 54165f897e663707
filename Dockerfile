# syntax=docker/dockerfile:1
# Build: a static binary (pure-Go SQLite, no cgo).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X sentryhub/app.Version=${VERSION}" -o /out/sentryhub .

# Run: distroless static, non-root, state on the /data volume.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/sentryhub /usr/local/bin/sentryhub
ENV SENTRY_DATA_DIR=/data \
    SENTRY_ADDR=0.0.0.0:8080
VOLUME ["/data"]
EXPOSE 8080
USER nonroot:nonroot
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/sentryhub", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/sentryhub"]
CMD ["serve"]
