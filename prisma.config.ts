// Prisma 6.19 runs offline only through the driver adapter (DESIGN.md §9): the CLI's
// native schema engine cannot be downloaded here, so migrate deploy/status go through pg.
import { defineConfig } from "prisma/config";
import { PrismaPg } from "@prisma/adapter-pg";
import { loadConfig } from "./server/config";

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  experimental: { adapter: true },
  engine: "js",
  adapter: async () => {
    const url = loadConfig().DATABASE_URL;
    if (!url)
      throw new Error("DATABASE_URL is not set: use `npm run db:migrate`, which starts the embedded database when it is missing");
    return new PrismaPg({ connectionString: url });
  },
});
