# syntax=docker/dockerfile:1

# Build stage: a static binary, so the runtime image needs no libc.
FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first, so editing code does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/twostep ./cmd/twostep

# Runtime stage: CA certificates for SMTP over TLS, no shell; the binary
# embeds the course, templates, migrations and the time zone database.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/twostep /twostep
# With SMTP_URL unset mail goes to ./outbox, which must be writable by the
# nonroot user.
WORKDIR /home/nonroot
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/twostep"]
CMD ["serve"]
