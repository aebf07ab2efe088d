# syntax=docker/dockerfile:1
# Image for our Temporal worker: `npm run worker` (tsx src/worker.ts).
# Used by the `worker` service in docker-compose.yml; see docs/compose.md.

ARG NODE_IMAGE=node:20-bookworm-slim

# --- dependencies: compilers live only in this stage -------------------------
FROM ${NODE_IMAGE} AS deps

# better-sqlite3 is a native module. When no prebuilt binary fits, npm builds it
# with node-gyp, which needs python3, make and g++ (absent from slim images).
# Versions are not pinned (DL3008): this stage is thrown away, and Debian
# replaces superseded versions in bookworm, which would break a pinned build.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Manifests first: this layer, and the slow install below, are rebuilt only
# when the dependencies change, not on every source edit.
COPY package.json package-lock.json ./

# Dev dependencies are kept on purpose: the worker runs TypeScript through tsx.
RUN npm ci --no-audit --no-fund \
    && npm cache clean --force

# --- runtime -----------------------------------------------------------------
FROM ${NODE_IMAGE}

ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    DB_PATH=/data/scheduling.db \
    PAYLOAD_KEY_FILE=/data/payload-keys.json \
    PATIENT_ID_KEY_FILE=/data/patient-id-key

WORKDIR /app

# Same base image as the deps stage, so the compiled better-sqlite3 binary matches.
COPY --from=deps /app/node_modules ./node_modules
# Sources, prompts and configs (.dockerignore keeps out node_modules, data, .git, ...).
COPY . .

# The SQLite database lives on a volume mounted at /data; a fresh named volume
# takes this directory's ownership, so the unprivileged user below can write it.
RUN mkdir -p /data && chown 1000:1000 /data

# The base image's unprivileged `node` user, by number so that runtimes that
# check for non-root (e.g. Kubernetes runAsNonRoot) can verify it.
USER 1000:1000

# Run under an init (compose sets `init: true`) so SIGTERM reaches the worker
# and it can shut down gracefully.
CMD ["npm", "run", "worker"]
