// E2E runs against the whole demo: server/main.ts starts the embedded databases, the
// engine, the workload and the console, so the specs see real live traffic.
import { defineConfig, devices } from "@playwright/test";

const PORT = 3100;
const BASE_URL = `http://localhost:${PORT}`;

export default defineConfig({
  testDir: "e2e",
  outputDir: "test-results",
  // One demo process is shared by every spec; parallel workers would only contend for it.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [["list"], ["html", { open: "never", outputFolder: "playwright-report" }]],
  use: {
    baseURL: BASE_URL,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    // `npx playwright install` cannot download browsers here; Debian's Chromium works.
    launchOptions: {
      executablePath: "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
      ],
    },
  },
  projects: [{ name: "chromium", use: { ...devices["Desktop Chrome"] } }],
  webServer: {
    command: "npx tsx server/main.ts",
    url: BASE_URL,
    // A fresh checkout runs `next build` and initialises PostgreSQL first.
    timeout: 180_000,
    reuseExistingServer: false,
    // The demo users admin, operator and viewer get this password (e2e/support/auth.ts).
    // RabbitMQ: the local broker's queue "cohort-e2e" is shown beside the streams (e2e/queues.spec.ts).
    env: {
      PORT: String(PORT),
      COHORT_DATA_DIR: ".cohort/e2e",
      COHORT_DEMO_PASSWORD: "e2e-demo-password",
      COHORT_RABBITMQ_URL: "amqp://guest:guest@127.0.0.1:5672",
      COHORT_RABBITMQ_QUEUES: "cohort-e2e",
      COHORT_RABBITMQ_MANAGEMENT_URL: "http://guest:guest@127.0.0.1:15672",
    },
    stdout: "pipe",
    stderr: "pipe",
    gracefulShutdown: { signal: "SIGTERM", timeout: 10_000 },
  },
});
