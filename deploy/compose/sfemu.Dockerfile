# The emulator (bin/sfemu) as an image, for the compose rehearsal only: built
# by the Makefile's own target like bin/benthos in the repository's Dockerfile.
# /secrets, owned by the runtime user, is where it writes the jwt-bearer key
# pair's private key for the pipelines to read (a named volume mounted there
# starts with this ownership).
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN make bin/sfemu
RUN mkdir -p /out/secrets

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/bin/sfemu /sfemu
COPY --from=build --chown=65532:65532 /out/secrets/ /secrets/
USER 65532:65532
EXPOSE 7357
ENTRYPOINT ["/sfemu"]
