# Redis for docker/test.sh: the CI machine has no registry to pull `redis:7-alpine` from, so the
# compose file's redis service runs Debian's redis-server (REDIS_IMAGE) on the debootstrapped base.
# Like the official image: redis-server and redis-cli on the PATH, /data owned by `redis`.
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o redis -g redis /data /usr/local/etc/redis
WORKDIR /data
USER redis
CMD ["redis-server"]
