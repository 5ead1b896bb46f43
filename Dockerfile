# syntax=docker/dockerfile:1
# The ledger: one process running the gateway and every worker (npm start), configured by environment.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY ledger ./ledger
COPY projections ./projections
COPY gateway ./gateway
COPY tsconfig.json ./

FROM node:20-bookworm-slim
ENV NODE_ENV=production LEDGER_DATA_DIR=/data PORT=4005
WORKDIR /app
COPY --from=build /app /app
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 4005
VOLUME ["/data"]
# node runs as PID 1's direct command (no npm or shell in between), so SIGTERM reaches the server and it shuts down gracefully.
CMD ["node", "--import", "tsx", "gateway/src/main.ts"]
