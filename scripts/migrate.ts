// npm run db:migrate: applies prisma/migrations to DATABASE_URL, else to the running demo's
// coordinator database, else to the embedded one, started for the purpose (npm start also
// migrates by itself).
import { loadConfig } from "../server/config";
import { bootstrapInfrastructure } from "../server/infra/bootstrap";
import { migrateCoordinatorDatabase } from "../server/infra/databases";
import { findEndpoints } from "../server/infra/runtimeFile";
import { parseCommandLine, runCli } from "./cli";

runCli("db:migrate", async () => {
  const { values } = parseCommandLine({ options: { help: { type: "boolean", short: "h", default: false } } });
  if (values.help) {
    console.log(
      "usage: npm run db:migrate   (applies prisma/migrations to DATABASE_URL, else to the running demo's database, else to the embedded one)",
    );
    return;
  }
  const config = loadConfig();
  const { databaseUrl, demo } = await findEndpoints(config);
  if (databaseUrl) {
    await migrateCoordinatorDatabase(databaseUrl);
    const where = new URL(databaseUrl);
    console.log(
      `migrations applied to ${where.host}${where.pathname}${demo && !config.DATABASE_URL ? " (the running demo's)" : ""}`,
    );
    return;
  }
  // bootstrapInfrastructure migrates as part of starting the embedded databases; Redis is not needed.
  const infra = await bootstrapInfrastructure({ ...config, REDIS_URL: config.REDIS_URL ?? "redis://127.0.0.1:0" }, console.log);
  await infra.stop();
  console.log("migrations applied to the embedded coordinator database");
});
