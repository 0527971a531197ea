// npm run db:migrate: applies prisma/migrations to DATABASE_URL, or to the demo's embedded
// coordinator database when DATABASE_URL is not set (npm start also does this by itself).
import { loadConfig } from "../server/config";
import { errorMessage } from "../server/errors";
import { bootstrapInfrastructure } from "../server/infra/bootstrap";
import { migrateCoordinatorDatabase } from "../server/infra/databases";

try {
  const config = loadConfig();
  if (config.DATABASE_URL) {
    await migrateCoordinatorDatabase(config.DATABASE_URL);
    console.log(`migrations applied to ${new URL(config.DATABASE_URL).host}${new URL(config.DATABASE_URL).pathname}`);
  } else {
    // bootstrapInfrastructure migrates as part of starting the embedded databases.
    const infra = await bootstrapInfrastructure({ ...config, REDIS_URL: config.REDIS_URL ?? "redis://127.0.0.1:0" }, console.log);
    console.log("migrations applied to the embedded coordinator database");
    await infra.stop();
  }
  process.exit(0);
} catch (err) {
  console.error(`db:migrate: ${errorMessage(err)}`);
  process.exit(1);
}
