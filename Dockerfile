# bin/benthos in a container: built by the Makefile's own target, run as a
# non-root user on distroless/static (no shell, no libc: the binary is static).
#
#   docker build -t salesforce_streaming .
#   docker run --rm -p 4195:4195 -e SF_CLIENT_ID=... -e REDIS_URL=redis://redis:6379 salesforce_streaming \
#     -r /resources/replay_ids_redis.yaml -c /config/platform_events_to_kafka.yaml
#
# The HTTP API (/ping, /ready, /metrics) listens on 0.0.0.0:4195 in the
# image, so that `-p 4195:4195`, probes and scrapes reach it: the entrypoint
# sets http.address. The bare binary keeps its loopback default. A later
# `--set http.address=...` on the command line overrides the image's. The file
# replay-id store writes under /data: mount a volume there to keep positions.

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
# The whole context, .git included, so that scripts/version.sh finds the tag.
COPY . .
RUN make bin/benthos
RUN mkdir -p /out/data/replay_ids

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/bin/benthos /benthos
COPY --from=build /src/config/ /config/
COPY --from=build /src/resources/ /resources/
COPY --from=build --chown=65532:65532 /out/data/ /data/
ENV SALESFORCE_STREAMING_DATA_DIR=/data
USER 65532:65532
EXPOSE 4195
ENTRYPOINT ["/benthos", "--set", "http.address=0.0.0.0:4195"]
