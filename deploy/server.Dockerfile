# syntax=docker/dockerfile:1
#
# The lab server's image: the built site, the server run by Node from its TypeScript sources, as
# an unprivileged user. Build it from the repository's root:
#
#   docker build -f deploy/server.Dockerfile -t registry.ecole.example/atelier/server:0.1.0 .
#
# NOT BUILT HERE: no container engine runs on the machines this project is developed and tested
# on, so this file has never been built; it is kept correct by reading it against package.json,
# server/main.ts and server/cli/setup.ts. Build it once on a machine with Docker, Podman or
# Buildah before relying on it, and report what fails.
#
# The labs run in pods of their own (deploy/lab-image/), so this image needs neither bubblewrap,
# nor the labs' Python, nor code-server: only what the server itself runs, git for the forge
# (git http-backend) and openssl for the lab gateway's certificate.

# The project pins its Node (package.json's `node` devDependency): the same release here.
ARG NODE_IMAGE=node:22.23.3-bookworm-slim

FROM ${NODE_IMAGE} AS dependencies
# node-pty (terminals of the local driver, loaded by the server) builds from source where no
# prebuilt binary matches.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# What the server runs: `npm ci` from the lockfile, without the development tools.
RUN npm ci --omit=dev --no-audit --no-fund

FROM dependencies AS site
# The build needs the development dependencies too (markdown plugins), the sources, the
# tutorials and the labs (launch cards and checks are validated at build time).
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx astro build

FROM ${NODE_IMAGE}
# tini as PID 1 reaps what git leaves behind when a request's process group is killed; Node
# handles SIGTERM itself (server/main.ts stops what it holds, then exits).
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssl ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY server ./server
COPY i18n ./i18n
COPY labs ./labs
COPY --from=site /app/dist ./dist
# The data directory: a volume in the chart (deploy/chart/atelier), owned by the node user.
RUN mkdir -p /var/lib/atelier && chown node:node /var/lib/atelier
ENV NODE_ENV=production \
    ATELIER_DATA_DIR=/var/lib/atelier \
    PORT=4321
# The node image's unprivileged user (uid 1000), by number so that runAsNonRoot can check it.
USER 1000:1000
EXPOSE 4321
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--disable-warning=ExperimentalWarning", "server/main.ts"]
