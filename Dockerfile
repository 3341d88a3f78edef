# Classcast: one image for every role (ROLE=api | worker | broadcast | all).
#   docker build -t classcast .
#   docker run -e DATABASE_URL=... -e REDIS_URL=... -e ADMIN_EMAIL=... -e ADMIN_PASSWORD=... \
#     -e JWT_SECRET=... -v classcast-data:/data -p 3000:3000 classcast

FROM node:22-bookworm-slim AS build
WORKDIR /app
ENV SCARF_ANALYTICS=false
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:22-bookworm-slim
# ffmpeg/ffprobe for video and audio renditions, zstd for bundles, CA roots for S3 over TLS.
RUN apt-get update \
  && apt-get install -y --no-install-recommends ffmpeg zstd ca-certificates \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production DATA_DIR=/data
# The code stays root-owned and read-only for the process; only /data is writable.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 3000
# Liveness of the HTTP roles; worker and broadcast serve no HTTP, so there is nothing to ask.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "const r = process.env.ROLE; if (r === 'worker' || r === 'broadcast') process.exit(0); fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health', { signal: AbortSignal.timeout(4000) }).then((res) => process.exit(res.ok ? 0 : 1), () => process.exit(1));"]
CMD ["node", "dist/src/main.js"]
