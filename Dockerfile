# One image for every ProspectFlow service; the command picks the service.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# Runtime dependencies only: no dev tools and no embedded PostgreSQL (production sets DATABASE_URL).
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY . .
USER node
CMD ["npm", "run", "start:gateway"]
