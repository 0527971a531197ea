// Flat config: typescript-eslint's recommended rules for all TypeScript, React hooks and
// Next.js rules for the console. Formatting is Prettier's job, not ESLint's.
import js from "@eslint/js";
import nextPlugin from "@next/eslint-plugin-next";
import reactHooks from "eslint-plugin-react-hooks";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", ".next/", ".cohort/", "test-results/", "playwright-report/", "next-env.d.ts"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.{ts,tsx}"],
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      // process.env is read in exactly one place (DESIGN.md §8).
      "no-restricted-properties": [
        "error",
        { object: "process", property: "env", message: "Read configuration through server/config.ts." },
      ],
    },
  },
  {
    files: [
      "server/config.ts",
      "server/infra/**",
      "server/console/**",
      "scripts/**",
      "bench/**",
      "e2e/**",
      "**/*.test.ts",
      "playwright.config.ts",
    ],
    // Child processes inherit the environment (spread into spawn options); nothing here parses it.
    rules: { "no-restricted-properties": "off" },
  },
  {
    files: ["app/**/*.{ts,tsx}", "components/**/*.{ts,tsx}"],
    plugins: { "@next/next": nextPlugin, "react-hooks": reactHooks },
    rules: { ...nextPlugin.configs.recommended.rules, ...reactHooks.configs.recommended.rules },
  },
);
