# syntax=docker/dockerfile:1
# Build: the static serving binary, no cgo. Only ./cmd/nexo-bot: it links no
# fake (the sandbox is cmd/nexo-sandbox, not in the image); see docs/install.md.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/nexo-bot ./cmd/nexo-bot

# Run: distroless static, non-root, git for the GitOps clone.
FROM debian:bookworm-slim AS git
RUN apt-get update && apt-get install -y --no-install-recommends git ca-certificates openssh-client && rm -rf /var/lib/apt/lists/*
RUN useradd --uid 65532 --home-dir /home/nexo --create-home nexo
USER 65532:65532
WORKDIR /home/nexo
COPY --from=build /out/nexo-bot /usr/local/bin/nexo-bot
ENV HOME=/home/nexo NEXO_CONFIG=/etc/nexo/nexo.yaml
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/nexo-bot"]
CMD ["serve"]
